// The Nexmark queries that join persons, auctions and bids: q3 (local item suggestion, an
// incremental regular join), q4 (average closing price per category, a join and two levels of
// aggregation emitting updates) and q8 (new users, a join of two 10 s tumbling-window
// aggregations).
//
// Each keeps its state in the keyed state API (so it checkpoints and runs on the heap and the
// RocksDB backends) under int64 keys. The events pass one flatMap that keeps those the query
// wants and moves them into small rows, both sides of the join in one TaggedUnion stream:
// two flatMaps on the events would copy every event, strings and all, for the first of them.
// One keyed process function then sees both sides.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "queries.h"

namespace nexmark {
namespace {

// ------------------------------------------------------------------------------------------
// q3

/// A person of OR, ID or CA: the columns q3 selects.
struct Q3Person {
  int64_t id = 0;
  std::string name;
  std::string city;
  std::string state;
};

/// An auction of category 10, by `seller`.
struct Q3Auction {
  int64_t id = 0;
  int64_t seller = 0;
};

/// A row of q3: the seller's name, city and state, and the auction's id; `time` is that of
/// the person or auction whose arrival made the pair (not written).
struct Q3Row {
  std::string name;
  std::string city;
  std::string state;
  int64_t id = 0;
  int64_t time = 0;

  int64_t latencyTime() const { return time; }

  void appendCsv(std::string& out) const {
    appendCsvField(out, name);
    out.push_back(',');
    appendCsvField(out, city);
    out.push_back(',');
    appendCsvField(out, state);
    out.push_back(',');
    appendCsvField(out, id);
  }
};

// ------------------------------------------------------------------------------------------
// q4

/// An auction as q4 needs it.
struct Q4Auction {
  int64_t id = 0;
  int64_t category = 0;
  int64_t dateTime = 0;
  int64_t expires = 0;
};

/// A bid as q4 needs it.
struct Q4Bid {
  int64_t auction = 0;
  int64_t price = 0;
  int64_t dateTime = 0;
};

/// The state of an auction id. Once the auction arrived: its columns and its highest bid so far
/// among the bids within [dateTime, expires] (`hasBid` false: none yet). Before that, while bids
/// wait for it (`arrived` false): the time of the one event-time timer that frees the waiting
/// bids the watermark passed, at the earliest of their times; the bids are in a list state apart,
/// which an auction without waiting bids never reads.
struct Q4AuctionState {
  int64_t category = 0;
  int64_t dateTime = 0;
  int64_t expires = 0;
  int64_t maxPrice = 0;
  bool hasBid = false;
  bool arrived = true;
  int64_t pendingTimer = 0;
};

/// A bid that arrived before its auction.
struct Q4PendingBid {
  int64_t price = 0;
  int64_t dateTime = 0;
};

/// An auction's closing price rose to `price` from `previous` (or it has its first valid bid
/// when `hasPrevious` is false): a retraction and an insertion of the inner query's row.
struct Q4MaxUpdate {
  int64_t category = 0;
  int64_t previous = 0;
  int64_t price = 0;
  bool hasPrevious = false;
};

/// A category's aggregate: the sum and number of its auctions' closing prices, and the average
/// last written.
struct Q4CategoryState {
  int64_t sum = 0;
  int64_t count = 0;
  int64_t average = 0;
};

/// A row of q4: a category and the average closing price of its auctions (truncated to an
/// integer, as AVG over BIGINT is in Flink SQL); `time` is that of the bid or auction whose
/// arrival changed it (not written).
struct Q4Row {
  int64_t category = 0;
  int64_t average = 0;
  int64_t time = 0;

  int64_t latencyTime() const { return time; }

  void appendCsv(std::string& out) const {
    appendCsvField(out, category);
    out.push_back(',');
    appendCsvField(out, average);
  }
};

// ------------------------------------------------------------------------------------------
// q8

/// A person as q8 needs it.
struct Q8Person {
  int64_t id = 0;
  std::string name;
  int64_t dateTime = 0;
};

/// The seller and time of an auction.
struct Q8Auction {
  int64_t seller = 0;
  int64_t dateTime = 0;
};

/// A row of q8: a person who opened an auction in the window in which they joined.
struct Q8Row {
  int64_t id = 0;
  std::string name;
  int64_t starttime = 0;

  /// The end of the window, whose passing made the row.
  int64_t latencyTime() const;

  void appendCsv(std::string& out) const {
    appendCsvField(out, id);
    out.push_back(',');
    appendCsvField(out, name);
    out.push_back(',');
    appendCsvField(out, starttime);
  }
};

}  // namespace
}  // namespace nexmark

BROOK_SERIALIZABLE(::nexmark::Q3Person,
                   &::nexmark::Q3Person::id,
                   &::nexmark::Q3Person::name,
                   &::nexmark::Q3Person::city,
                   &::nexmark::Q3Person::state);
BROOK_SERIALIZABLE(::nexmark::Q3Auction, &::nexmark::Q3Auction::id, &::nexmark::Q3Auction::seller);
BROOK_SERIALIZABLE(::nexmark::Q3Row,
                   &::nexmark::Q3Row::name,
                   &::nexmark::Q3Row::city,
                   &::nexmark::Q3Row::state,
                   &::nexmark::Q3Row::id,
                   &::nexmark::Q3Row::time);
BROOK_SERIALIZABLE(::nexmark::Q4Auction,
                   &::nexmark::Q4Auction::id,
                   &::nexmark::Q4Auction::category,
                   &::nexmark::Q4Auction::dateTime,
                   &::nexmark::Q4Auction::expires);
BROOK_SERIALIZABLE(::nexmark::Q4Bid,
                   &::nexmark::Q4Bid::auction,
                   &::nexmark::Q4Bid::price,
                   &::nexmark::Q4Bid::dateTime);
BROOK_SERIALIZABLE(::nexmark::Q4AuctionState,
                   &::nexmark::Q4AuctionState::category,
                   &::nexmark::Q4AuctionState::dateTime,
                   &::nexmark::Q4AuctionState::expires,
                   &::nexmark::Q4AuctionState::maxPrice,
                   &::nexmark::Q4AuctionState::hasBid,
                   &::nexmark::Q4AuctionState::arrived,
                   &::nexmark::Q4AuctionState::pendingTimer);
BROOK_SERIALIZABLE(::nexmark::Q4PendingBid,
                   &::nexmark::Q4PendingBid::price,
                   &::nexmark::Q4PendingBid::dateTime);
BROOK_SERIALIZABLE(::nexmark::Q4MaxUpdate,
                   &::nexmark::Q4MaxUpdate::category,
                   &::nexmark::Q4MaxUpdate::previous,
                   &::nexmark::Q4MaxUpdate::price,
                   &::nexmark::Q4MaxUpdate::hasPrevious);
BROOK_SERIALIZABLE(::nexmark::Q4CategoryState,
                   &::nexmark::Q4CategoryState::sum,
                   &::nexmark::Q4CategoryState::count,
                   &::nexmark::Q4CategoryState::average);
BROOK_SERIALIZABLE(::nexmark::Q4Row,
                   &::nexmark::Q4Row::category,
                   &::nexmark::Q4Row::average,
                   &::nexmark::Q4Row::time);
BROOK_SERIALIZABLE(::nexmark::Q8Person,
                   &::nexmark::Q8Person::id,
                   &::nexmark::Q8Person::name,
                   &::nexmark::Q8Person::dateTime);
BROOK_SERIALIZABLE(::nexmark::Q8Auction,
                   &::nexmark::Q8Auction::seller,
                   &::nexmark::Q8Auction::dateTime);
BROOK_SERIALIZABLE(::nexmark::Q8Row,
                   &::nexmark::Q8Row::id,
                   &::nexmark::Q8Row::name,
                   &::nexmark::Q8Row::starttime);

namespace nexmark {
namespace {

// Each join's input: both of its sides, keyed alike.
using Q3Input = brook::TaggedUnion<Q3Person, Q3Auction>;
using Q4Input = brook::TaggedUnion<Q4Auction, Q4Bid>;
using Q8Input = brook::TaggedUnion<Q8Person, Q8Auction>;

/// q3's join, keyed by person id (= the auction's seller): an inner join of the filtered
/// persons and auctions that emits each pair once, when its second side arrives. Both sides
/// are kept for good, as in Flink SQL's regular join without state TTL, so that a person
/// arriving again (the same id) still meets every auction of its id; what is kept is small:
/// the sellers' three text columns and the auctions' ids.
class Q3Join final : public brook::KeyedProcessFunction<int64_t, Q3Input, Q3Row> {
 public:
  void open(const brook::RuntimeContext& context) override {
    persons_ = &context.getListState(brook::ListStateDescriptor<Q3Person>("persons"));
    auctions_ = &context.getListState(brook::ListStateDescriptor<int64_t>("auction-ids"));
  }

  void processElement(const Q3Input& input, Context& ctx, brook::Collector<Q3Row>& out) override {
    if (input.isOne())
      onPerson(input.getOne(), ctx.timestamp(), out);
    else
      onAuction(input.getTwo(), ctx.timestamp(), out);
  }

 private:
  void onPerson(const Q3Person& person, int64_t time, brook::Collector<Q3Row>& out) {
    for (int64_t auction : auctions_->get())
      out.collect(Q3Row{person.name, person.city, person.state, auction, time});
    persons_->add(person);
  }

  void onAuction(const Q3Auction& auction, int64_t time, brook::Collector<Q3Row>& out) {
    for (Q3Person& person : persons_->get()) {
      out.collect(Q3Row{std::move(person.name), std::move(person.city), std::move(person.state),
                        auction.id, time});
    }
    auctions_->add(auction.id);
  }

  brook::ListState<Q3Person>* persons_ = nullptr;
  brook::ListState<int64_t>* auctions_ = nullptr;
};

/// The inner query of q4, keyed by auction id: the highest price among the auction's bids
/// with B.dateTime BETWEEN A.dateTime AND A.expires, emitted as an update each time it rises.
///
/// Bids that arrive before their auction (other subtasks' records overtake each other) wait
/// in `pending`; the auction applies the BETWEEN condition to them when it arrives. State is
/// freed once it can no longer change: an auction's at an event-time timer at its `expires`
/// (when the watermark has passed it, a bid that could still match would be late), and a
/// pending bid's once the watermark passes its dateTime (an auction arriving after that, with a
/// dateTime at or before the bid's, would be late), at one timer per auction id at the earliest
/// waiting bid's time, which the auction deletes when it takes the bids. The two kinds of timer
/// are told apart by their time, without reading state: an expiry fires at an odd time (expires,
/// or a millisecond after it), the waiting bids' timer at an even one (the bid's time, or a
/// millisecond after it); a timer a millisecond late frees the same state. Flink SQL's join keeps
/// all of it forever
/// instead, so the two differ only on late events: a bid that arrives after the watermark
/// passed its auction's expires, or an auction after the watermark passed its bids.
class Q4AuctionMax final : public brook::KeyedProcessFunction<int64_t, Q4Input, Q4MaxUpdate> {
 public:
  void open(const brook::RuntimeContext& context) override {
    auction_ = &context.getState(brook::ValueStateDescriptor<Q4AuctionState>("auction"));
    pending_ = &context.getListState(brook::ListStateDescriptor<Q4PendingBid>("pending-bids"));
  }

  void processElement(const Q4Input& input,
                      Context& ctx,
                      brook::Collector<Q4MaxUpdate>& out) override {
    if (input.isOne())
      onAuction(input.getOne(), ctx, out);
    else
      onBid(input.getTwo(), ctx, out);
  }

  void onTimer(int64_t timestamp, OnTimerContext& ctx, brook::Collector<Q4MaxUpdate>&) override {
    // The watermark at its maximum: the input ended, every timer fires, and no event can reach
    // this state again, so freeing it would be work for nothing (Flink SQL's join never frees it).
    const int64_t watermark = ctx.timerService().currentWatermark();
    if (watermark == brook::kMaxWatermark)
      return;
    // An auction that arrived has one timer, at its expiry: its state is freed unread (the
    // auction took the bids that waited for it).
    if (isExpiryTimer(timestamp)) {
      auction_->clear();
      return;
    }
    // Bids that wait for their auction have one, at the earliest of their times.
    std::vector<Q4PendingBid> pending = pending_->get();
    if (pending.empty()) {
      auction_->clear();
      return;
    }
    // Bids wait: those the watermark passed can no longer meet an on-time auction.
    std::erase_if(pending, [watermark](const Q4PendingBid& b) { return b.dateTime <= watermark; });
    if (pending.empty()) {
      pending_->clear();
      auction_->clear();
      return;
    }
    Q4AuctionState waiting;
    waiting.arrived = false;
    waiting.pendingTimer =
        waitingBidsTimer(std::ranges::min_element(pending, {}, &Q4PendingBid::dateTime)->dateTime);
    ctx.timerService().registerEventTimeTimer(waiting.pendingTimer);
    pending_->update(std::move(pending));
    auction_->update(waiting);
  }

 private:
  /// The time of an auction's expiry timer: odd, at or a millisecond after `expires`.
  static int64_t expiryTimer(int64_t expires) { return expires | 1; }
  /// The time of the timer of bids that wait, the earliest at `dateTime`: even, at or a
  /// millisecond after it.
  static int64_t waitingBidsTimer(int64_t dateTime) {
    return dateTime == INT64_MAX ? INT64_MAX - 1 : dateTime + (dateTime & 1);
  }
  static bool isExpiryTimer(int64_t timestamp) { return (timestamp & 1) != 0; }

  void onAuction(const Q4Auction& auction, Context& ctx, brook::Collector<Q4MaxUpdate>& out) {
    const std::optional<Q4AuctionState> stored = auction_->value();
    if (stored.has_value() && stored->arrived)
      return;  // the same auction again: it joins the same bids to the same maximum
    Q4AuctionState state{auction.category, auction.dateTime, auction.expires, 0, false, true, 0};
    if (stored.has_value()) {
      // Bids wait for the auction: they no longer need their timer.
      ctx.timerService().deleteEventTimeTimer(stored->pendingTimer);
      for (const Q4PendingBid& bid : pending_->get()) {
        if (bid.dateTime >= state.dateTime && bid.dateTime <= state.expires &&
            (!state.hasBid || bid.price > state.maxPrice)) {
          state.maxPrice = bid.price;
          state.hasBid = true;
        }
      }
      pending_->clear();
      if (state.hasBid)
        out.collect(Q4MaxUpdate{state.category, 0, state.maxPrice, false});
    }
    auction_->update(state);
    ctx.timerService().registerEventTimeTimer(expiryTimer(auction.expires));
  }

  void onBid(const Q4Bid& bid, Context& ctx, brook::Collector<Q4MaxUpdate>& out) {
    std::optional<Q4AuctionState> state = auction_->value();
    if (state.has_value() && state->arrived) {
      if (bid.dateTime < state->dateTime || bid.dateTime > state->expires ||
          (state->hasBid && bid.price <= state->maxPrice)) {
        return;
      }
      out.collect(Q4MaxUpdate{state->category, state->maxPrice, bid.price, state->hasBid});
      state->maxPrice = bid.price;
      state->hasBid = true;
      auction_->update(*state);
      return;
    }
    // No auction yet (or no more: its state was freed). An auction that could match this bid
    // has a dateTime at or before the bid's; once the watermark passed that, it would be late.
    if (bid.dateTime <= ctx.timerService().currentWatermark())
      return;
    if (!state.has_value()) {
      // The first bid to wait: the list is empty, and writing it whole (rather than appending
      // to what the state backend may hold) spares the auction a read of the backend's copy.
      pending_->update({Q4PendingBid{bid.price, bid.dateTime}});
    } else {
      pending_->add(Q4PendingBid{bid.price, bid.dateTime});
      if (state->pendingTimer <= waitingBidsTimer(bid.dateTime))
        return;  // the timer of an earlier waiting bid fires first
      ctx.timerService().deleteEventTimeTimer(state->pendingTimer);
    }
    Q4AuctionState waiting;
    waiting.arrived = false;
    waiting.pendingTimer = waitingBidsTimer(bid.dateTime);
    auction_->update(waiting);
    ctx.timerService().registerEventTimeTimer(waiting.pendingTimer);
  }

  brook::ValueState<Q4AuctionState>* auction_ = nullptr;
  brook::ListState<Q4PendingBid>* pending_ = nullptr;
};

/// The outer query of q4, keyed by category: the average of the closing prices of the
/// category's auctions, kept as a sum and a count that each update retracts the old price
/// from and adds the new one to. Emits a row when the (truncated) average changes, so a
/// category's last row is its current average.
class Q4CategoryAverage final : public brook::KeyedProcessFunction<int64_t, Q4MaxUpdate, Q4Row> {
 public:
  void open(const brook::RuntimeContext& context) override {
    state_ = &context.getState(brook::ValueStateDescriptor<Q4CategoryState>("category-average"));
  }

  void processElement(const Q4MaxUpdate& update,
                      Context& ctx,
                      brook::Collector<Q4Row>& out) override {
    std::optional<Q4CategoryState> stored = state_->value();
    const bool first = !stored.has_value();
    Q4CategoryState state = stored.value_or(Q4CategoryState{});
    if (update.hasPrevious) {
      state.sum += update.price - update.previous;
    } else {
      state.sum += update.price;
      ++state.count;
    }
    if (state.count == 0)
      return;  // a rise of an auction whose first price never came: cannot happen in order
    const int64_t average = state.sum / state.count;
    if (first || average != state.average) {
      state.average = average;
      out.collect(Q4Row{update.category, average, ctx.timestamp()});
    }
    state_->update(state);
  }

 private:
  brook::ValueState<Q4CategoryState>* state_ = nullptr;
};

/// The size of q8's tumbling windows.
constexpr int64_t kQ8WindowMillis = 10'000;

int64_t Q8Row::latencyTime() const {
  return starttime + kQ8WindowMillis;
}

/// The start of the 10 s window holding `timestamp`, as Flink's TimeWindow computes it.
int64_t q8WindowStart(int64_t timestamp) {
  return timestamp - (timestamp + kQ8WindowMillis) % kQ8WindowMillis;
}

/// q8, keyed by person id (= the auction's seller): per 10 s window (by its start) the
/// distinct names the id joined with, and whether it opened an auction, as the SQL's two window
/// aggregations group them; when the watermark passes the window's end, an event-time timer
/// writes a row per name if the id opened an auction, and frees the window. The two sides are
/// kept apart so that an auction never reads the names. Late elements (whose window has fired)
/// are dropped, as a window operator drops them.
class Q8Join final : public brook::KeyedProcessFunction<int64_t, Q8Input, Q8Row> {
 public:
  void open(const brook::RuntimeContext& context) override {
    names_ = &context.getMapState(
        brook::MapStateDescriptor<int64_t, std::vector<std::string>>("names-per-window"));
    opened_ = &context.getMapState(brook::MapStateDescriptor<int64_t, bool>("opened-per-window"));
  }

  void processElement(const Q8Input& input, Context& ctx, brook::Collector<Q8Row>&) override {
    if (input.isOne())
      onPerson(input.getOne(), ctx);
    else
      onAuction(input.getTwo(), ctx);
  }

  void onTimer(int64_t timestamp, OnTimerContext& ctx, brook::Collector<Q8Row>& out) override {
    const int64_t start = timestamp - (kQ8WindowMillis - 1);
    if (opened_->contains(start)) {
      opened_->remove(start);
      if (std::optional<std::vector<std::string>> names = names_->get(start)) {
        for (std::string& name : *names)
          out.collect(Q8Row{ctx.getCurrentKey(), std::move(name), start});
        names_->remove(start);
      }
    } else {
      names_->remove(start);
    }
  }

 private:
  void onPerson(const Q8Person& person, Context& ctx) {
    const int64_t start = q8WindowStart(person.dateTime);
    if (isLate(start, ctx))
      return;
    std::vector<std::string> names = names_->get(start).value_or(std::vector<std::string>{});
    if (std::find(names.begin(), names.end(), person.name) != names.end())
      return;
    names.push_back(person.name);
    names_->put(start, std::move(names));
    // Registering the window's timer again (for its auction side) does nothing.
    ctx.timerService().registerEventTimeTimer(start + kQ8WindowMillis - 1);
  }

  void onAuction(const Q8Auction& auction, Context& ctx) {
    const int64_t start = q8WindowStart(auction.dateTime);
    if (isLate(start, ctx) || opened_->contains(start))
      return;
    opened_->put(start, true);
    ctx.timerService().registerEventTimeTimer(start + kQ8WindowMillis - 1);
  }

  /// Whether the window starting at `start` has fired: its last millisecond is behind the
  /// watermark.
  static bool isLate(int64_t start, Context& ctx) {
    return start + kQ8WindowMillis - 1 <= ctx.timerService().currentWatermark();
  }

  brook::MapState<int64_t, std::vector<std::string>>* names_ = nullptr;
  brook::MapState<int64_t, bool>* opened_ = nullptr;
};

}  // namespace

void q3(const brook::DataStream<Event>& events, const QueryOutput& output) {
  auto input = events
                   .flatMap([](Event&& event, brook::Collector<Q3Input>& out) {
                     if (Person* p = std::get_if<Person>(&event.value)) {
                       if (p->state == "OR" || p->state == "ID" || p->state == "CA") {
                         out.collect(Q3Input::one(Q3Person{
                             p->id, std::move(p->name), std::move(p->city), std::move(p->state)}));
                       }
                     } else if (const Auction* a = event.auction(); a != nullptr) {
                       if (a->category == 10)
                         out.collect(Q3Input::two(Q3Auction{a->id, a->seller}));
                     }
                   })
                   .name("Q3 Persons in OR, ID, CA and Auctions of Category 10");
  output.write(
      input
          .keyBy([](const Q3Input& in) { return in.isOne() ? in.getOne().id : in.getTwo().seller; })
          .process(Q3Join{})
          .name("Q3 Join")
          .uid("q3-join"));
}

void q4(const brook::DataStream<Event>& events, const QueryOutput& output) {
  auto input =
      events
          .flatMap([](Event&& event, brook::Collector<Q4Input>& out) {
            if (const Bid* b = event.bid()) {
              out.collect(Q4Input::two(Q4Bid{b->auction, b->price, b->dateTime}));
            } else if (const Auction* a = event.auction()) {
              out.collect(Q4Input::one(Q4Auction{a->id, a->category, a->dateTime, a->expires}));
            }
          })
          .name("Q4 Auctions and Bids");
  auto closingPrices = input
                           .keyBy([](const Q4Input& in) {
                             return in.isOne() ? in.getOne().id : in.getTwo().auction;
                           })
                           .process(Q4AuctionMax{})
                           .name("Q4 Closing Price per Auction")
                           .uid("q4-auction-max");
  output.write(closingPrices.keyBy([](const Q4MaxUpdate& u) { return u.category; })
                   .process(Q4CategoryAverage{})
                   .name("Q4 Average per Category")
                   .uid("q4-category-average"));
}

void q8(const brook::DataStream<Event>& events, const QueryOutput& output) {
  auto input = events
                   .flatMap([](Event&& event, brook::Collector<Q8Input>& out) {
                     if (Person* p = std::get_if<Person>(&event.value)) {
                       out.collect(Q8Input::one(Q8Person{p->id, std::move(p->name), p->dateTime}));
                     } else if (const Auction* a = event.auction()) {
                       out.collect(Q8Input::two(Q8Auction{a->seller, a->dateTime}));
                     }
                   })
                   .name("Q8 Persons and Auctions");
  output.write(
      input
          .keyBy([](const Q8Input& in) { return in.isOne() ? in.getOne().id : in.getTwo().seller; })
          .process(Q8Join{})
          .name("Q8 Join")
          .uid("q8-join"));
}

}  // namespace nexmark
