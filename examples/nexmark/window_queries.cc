// The windowed Nexmark queries: q5 (hot items, sliding windows), q7 (highest bid, tumbling
// windows), q11 (user sessions, session windows) and q12 (processing-time windows), with the
// semantics of the nexmark/nexmark suite's Flink SQL definitions.
//
// Every query first keeps the bids and maps each to the few fields it needs (in the operator
// chained to the source, so that no Event crosses the network), then counts incrementally per
// key and window: a count per auction and 2 s slice (q5), per bidder and session (q11) or per
// bidder and window (q12), and for q7 only the bids that may have their window's highest price.
// No query buffers bids.

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <brook/brook.h>

#include "queries.h"

namespace nexmark {
namespace {

constexpr std::chrono::seconds kWindowSize(10);
constexpr int64_t kSessionGapMillis = 10'000;
constexpr int64_t kWindowSizeMillis = 10'000;
constexpr int64_t kHopSlideMillis = 2'000;
constexpr int64_t kSlicesPerWindow = kWindowSizeMillis / kHopSlideMillis;

/// The number of bids on `auction` in the sliding window that ends at `windowEnd`.
struct AuctionCount {
  int64_t auction = 0;
  int64_t count = 0;
  int64_t windowEnd = 0;
};

/// q5's row: an auction with the most bids of its window.
struct Q5Row {
  int64_t auction = 0;
  int64_t num = 0;
  int64_t windowEnd = 0;  // not written
  int64_t latencyTime() const { return windowEnd; }
  void appendCsv(std::string& out) const {
    appendCsvField(out, auction);
    out += ',';
    appendCsvField(out, num);
  }
};

/// The fields of a bid that q7 outputs.
struct Q7Bid {
  int64_t auction = 0;
  int64_t price = 0;
  int64_t bidder = 0;
  int64_t dateTime = 0;
  std::string extra;
};

/// q7's row: a bid with the highest price of a 10 s tumbling window.
struct Q7Row {
  Q7Bid bid;
  void appendCsv(std::string& out) const {
    appendCsvField(out, bid.auction);
    out += ',';
    appendCsvField(out, bid.price);
    out += ',';
    appendCsvField(out, bid.bidder);
    out += ',';
    appendCsvField(out, bid.dateTime);
    out += ',';
    appendCsvField(out, bid.extra);
  }
};

/// A bid that may be joined with the maximum price of the window that ends at `windowEnd`:
/// a bid of that window (`countsForMax`), or a bid whose dateTime is `windowEnd` itself (the
/// SQL's BETWEEN includes the window's end, the next window's first millisecond), which matches
/// an equal maximum but does not take part in it.
struct Q7Candidate {
  int64_t windowEnd = 0;
  bool countsForMax = false;
  Q7Bid bid;
};

/// A session of bids of one bidder: from `start` to `last`, `count` bids; it ends (SESSION_END)
/// at last + gap.
struct Session {
  int64_t start = 0;
  int64_t last = 0;
  int64_t count = 0;
};

/// The open sessions of one bidder: nearly always one (`first`); more while out-of-order bids
/// keep an older session open beside a newer one.
struct OpenSessions {
  Session first;
  std::vector<Session> more;
};

/// q11's and q12's row: the number of bids of `bidder` in the window [starttime, endtime).
struct BidderWindowCount {
  int64_t bidder = 0;
  int64_t bidCount = 0;
  int64_t starttime = 0;
  int64_t endtime = 0;
  void appendCsv(std::string& out) const {
    appendCsvField(out, bidder);
    out += ',';
    appendCsvField(out, bidCount);
    out += ',';
    appendCsvField(out, starttime);
    out += ',';
    appendCsvField(out, endtime);
  }
};

}  // namespace
}  // namespace nexmark

// Fully qualified: inside namespace brook, `nexmark` names brook::nexmark.
BROOK_SERIALIZABLE(::nexmark::AuctionCount,
                   &::nexmark::AuctionCount::auction,
                   &::nexmark::AuctionCount::count,
                   &::nexmark::AuctionCount::windowEnd);
BROOK_SERIALIZABLE(::nexmark::Q5Row,
                   &::nexmark::Q5Row::auction,
                   &::nexmark::Q5Row::num,
                   &::nexmark::Q5Row::windowEnd);
BROOK_SERIALIZABLE(::nexmark::Q7Bid,
                   &::nexmark::Q7Bid::auction,
                   &::nexmark::Q7Bid::price,
                   &::nexmark::Q7Bid::bidder,
                   &::nexmark::Q7Bid::dateTime,
                   &::nexmark::Q7Bid::extra);
BROOK_SERIALIZABLE(::nexmark::Q7Row, &::nexmark::Q7Row::bid);
BROOK_SERIALIZABLE(::nexmark::Q7Candidate,
                   &::nexmark::Q7Candidate::windowEnd,
                   &::nexmark::Q7Candidate::countsForMax,
                   &::nexmark::Q7Candidate::bid);
BROOK_SERIALIZABLE(::nexmark::Session,
                   &::nexmark::Session::start,
                   &::nexmark::Session::last,
                   &::nexmark::Session::count);
BROOK_SERIALIZABLE(::nexmark::OpenSessions,
                   &::nexmark::OpenSessions::first,
                   &::nexmark::OpenSessions::more);
BROOK_SERIALIZABLE(::nexmark::BidderWindowCount,
                   &::nexmark::BidderWindowCount::bidder,
                   &::nexmark::BidderWindowCount::bidCount,
                   &::nexmark::BidderWindowCount::starttime,
                   &::nexmark::BidderWindowCount::endtime);

namespace nexmark {
namespace {

/// Counts the elements of a window.
template <typename T>
class CountElements final : public brook::AggregateFunction<T, int64_t, int64_t> {
 public:
  int64_t createAccumulator() const override { return 0; }
  int64_t add(const T&, int64_t count) const override { return count + 1; }
  int64_t getResult(const int64_t& count) const override { return count; }
  int64_t merge(int64_t a, const int64_t& b) const override { return a + b; }
};

// ---------------------------------------------------------------------------------------------
// q5: hot items

/// Counts each auction's bids per window of 10 s sliding by 2 s by slices, as Flink's sliced
/// window aggregation: a bid adds one to the count of its 2 s slice (one state update, where
/// adding it to each of its five windows would make five), and when the watermark passes a
/// window, the counts of its five slices add up to the window's. Keyed by auction; bids whose
/// windows have all fired are dropped, as the window operator drops them.
class SlicedBidCounts final : public brook::KeyedProcessFunction<int64_t, int64_t, AuctionCount> {
 public:
  void open(const brook::RuntimeContext& context) override {
    slices_ = &context.getMapState(brook::MapStateDescriptor<int64_t, int64_t>("slice-counts"));
  }

  void processElement(const int64_t&, Context& ctx, brook::Collector<AuctionCount>&) override {
    const int64_t sliceStart =
        brook::TimeWindow::windowStartWithOffset(ctx.timestamp(), 0, kHopSlideMillis);
    const int64_t slice = sliceStart / kHopSlideMillis;
    const int64_t lastWindowEnd = sliceStart + kWindowSizeMillis;
    brook::TimerService& timers = ctx.timerService();
    const int64_t watermark = timers.currentWatermark();
    if (lastWindowEnd - 1 <= watermark)
      return;
    std::optional<int64_t> count = slices_->get(slice);
    slices_->put(slice, count.value_or(0) + 1);
    if (count.has_value())
      return;
    // The slice's first bid: its first window that has not fired fires at its last timestamp;
    // each window that fires sets the timer of the next one while slices of it are left (one
    // timer per auction at a time, not one per window).
    for (int64_t end = sliceStart + kHopSlideMillis; end <= lastWindowEnd; end += kHopSlideMillis) {
      if (end - 1 > watermark) {
        timers.registerEventTimeTimer(end - 1);
        break;
      }
    }
  }

  /// Fires the window that ends at `timestamp` + 1 and every later one of the auction that the
  /// watermark has passed too (a watermark that jumps, as at the end of the input, passes
  /// several), from one read of their slices; then sets the timer of the next window that has
  /// slices left.
  void onTimer(int64_t timestamp, OnTimerContext& ctx,
               brook::Collector<AuctionCount>& out) override {
    brook::TimerService& timers = ctx.timerService();
    const int64_t watermark = timers.currentWatermark();
    int64_t windowEnd = timestamp + 1;
    int64_t firstSlice = (windowEnd - kWindowSizeMillis) / kHopSlideMillis;
    std::array<int64_t, kSlicesPerWindow> counts{};
    for (int64_t i = 0; i < kSlicesPerWindow; ++i)
      counts[static_cast<size_t>(i)] = slices_->get(firstSlice + i).value_or(0);
    for (;;) {
      int64_t count = 0;
      for (int64_t c : counts)
        count += c;
      if (count > 0)
        out.collect(AuctionCount{ctx.getCurrentKey(), count, windowEnd});
      // At the end of the input (the watermark at its maximum) every window fires in this one
      // call and nothing reads the slices again: freeing them would be work for nothing.
      if (counts[0] > 0 && watermark != brook::kMaxWatermark)
        slices_->remove(firstSlice);
      // Slices of the next window other than its newest, which set that window's timer when
      // it was made.
      bool slicesLeft = false;
      for (size_t i = 1; i < counts.size(); ++i)
        slicesLeft = slicesLeft || counts[i] > 0;
      if (!slicesLeft)
        return;
      windowEnd += kHopSlideMillis;
      ++firstSlice;
      if (windowEnd - 1 > watermark) {
        timers.registerEventTimeTimer(windowEnd - 1);
        return;
      }
      // The next window fires now: not again by a timer its newest slice may have set.
      timers.deleteEventTimeTimer(windowEnd - 1);
      std::copy(counts.begin() + 1, counts.end(), counts.begin());
      counts.back() = slices_->get(firstSlice + kSlicesPerWindow - 1).value_or(0);
    }
  }

 private:
  brook::MapState<int64_t, int64_t>* slices_ = nullptr;
};

/// Drops the counts that cannot be their window's largest: those below the largest this
/// subtask has already sent for the window. Chained to SlicedBidCounts, so that of the many
/// auctions of a window few cross the network to HottestAuctions. What it remembers only saves
/// work: it starts empty after a restart and forgets windows beyond the last few dozen, whose
/// counts then all pass.
class LocalWindowMaxFilter {
 public:
  bool filter(const AuctionCount& count) {
    WindowMax& slot = slots_[static_cast<uint64_t>(count.windowEnd / kHopSlideMillis) % kWindows];
    if (slot.windowEnd != count.windowEnd) {
      if (slot.windowEnd > count.windowEnd)
        return true;  // an older window than the slot's: not remembered
      slot = WindowMax{count.windowEnd, count.count};
      return true;
    }
    if (count.count < slot.maxCount)
      return false;
    slot.maxCount = count.count;
    return true;
  }

 private:
  struct WindowMax {
    int64_t windowEnd = INT64_MIN;
    int64_t maxCount = 0;
  };
  static constexpr size_t kWindows = 64;
  std::array<WindowMax, kWindows> slots_;
};

/// Keyed by window end: keeps the largest count of the window's auctions and the auctions that
/// have it (ties: all of them), and emits them when the watermark passes the window. Stage 1
/// sends a window's counts before the watermark that fired it, so a timer at the window's last
/// timestamp fires after the last of them.
class HottestAuctions final : public brook::KeyedProcessFunction<int64_t, AuctionCount, Q5Row> {
 public:
  void open(const brook::RuntimeContext& context) override {
    maxCount_ = &context.getState(brook::ValueStateDescriptor<int64_t>("max-count"));
    auctions_ = &context.getListState(brook::ListStateDescriptor<int64_t>("hottest-auctions"));
  }

  void processElement(const AuctionCount& value, Context& ctx,
                      brook::Collector<Q5Row>&) override {
    std::optional<int64_t> maxCount = maxCount_->value();
    if (!maxCount.has_value())
      ctx.timerService().registerEventTimeTimer(value.windowEnd - 1);
    if (!maxCount.has_value() || value.count > *maxCount) {
      maxCount_->update(value.count);
      auctions_->update({value.auction});
    } else if (value.count == *maxCount) {
      auctions_->add(value.auction);
    }
  }

  void onTimer(int64_t, OnTimerContext& ctx, brook::Collector<Q5Row>& out) override {
    if (std::optional<int64_t> maxCount = maxCount_->value()) {
      for (int64_t auction : auctions_->get())
        out.collect(Q5Row{auction, *maxCount, ctx.getCurrentKey()});
    }
    maxCount_->clear();
    auctions_->clear();
  }

 private:
  brook::ValueState<int64_t>* maxCount_ = nullptr;
  brook::ListState<int64_t>* auctions_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// q7: highest bid

/// Keeps the bids that may have their window's highest price, as Q7Candidates: drops a bid
/// whose price is below the highest this subtask has seen in its window (the window's maximum
/// is at least that). Runs chained to the source, so that few bids, and few of their extra
/// strings, cross the network. What it remembers only saves work: it starts empty after a
/// restart, and forgets windows older than the last few, whose bids then all pass.
class LocalMaxFilter {
 public:
  void flatMap(Event event, brook::Collector<Q7Candidate>& out) {
    Bid* bid = std::get_if<Bid>(&event.value);
    if (bid == nullptr)
      return;
    const int64_t start = brook::TimeWindow::windowStartWithOffset(bid->dateTime, 0,
                                                                   kWindowSizeMillis);
    const int64_t window = start / kWindowSizeMillis;
    const bool mayBeMax = raiseMax(window, bid->price);
    // A bid at a window's start is also at the previous window's (inclusive) end.
    const bool mayMatchPrevious = bid->dateTime == start && bid->price >= maxOf(window - 1);
    if (!mayBeMax && !mayMatchPrevious)
      return;
    Q7Bid fields{bid->auction, bid->price, bid->bidder, bid->dateTime, std::move(bid->extra)};
    if (mayBeMax && mayMatchPrevious)
      out.collect(Q7Candidate{start, false, fields});
    else if (mayMatchPrevious)
      out.collect(Q7Candidate{start, false, std::move(fields)});
    if (mayBeMax)
      out.collect(Q7Candidate{start + kWindowSizeMillis, true, std::move(fields)});
  }

 private:
  struct WindowMax {
    int64_t window = INT64_MIN;
    int64_t maxPrice = INT64_MIN;
  };
  static constexpr size_t kWindows = 4;

  /// The highest price seen in `window`, or INT64_MIN when it is not remembered.
  int64_t maxOf(int64_t window) const {
    const WindowMax& slot = slots_[static_cast<uint64_t>(window) % kWindows];
    return slot.window == window ? slot.maxPrice : INT64_MIN;
  }

  /// Records `price` in `window`; returns whether it is at least the highest seen there.
  bool raiseMax(int64_t window, int64_t price) {
    WindowMax& slot = slots_[static_cast<uint64_t>(window) % kWindows];
    if (slot.window != window) {
      if (slot.window > window)
        return true;  // an old window, no longer remembered
      slot = WindowMax{window, price};
      return true;
    }
    if (price < slot.maxPrice)
      return false;
    slot.maxPrice = price;
    return true;
  }

  WindowMax slots_[kWindows];
};

/// Keyed by window end: keeps the highest price of the window's bids and the candidates that
/// may have it, and emits those that have it once the watermark passes the window's end (a
/// timer at `windowEnd`, not at the window's last timestamp, so as to wait for the bids at the
/// end itself). Candidates behind the watermark are dropped, as the SQL's window aggregation
/// drops late bids.
class HighestBids final : public brook::KeyedProcessFunction<int64_t, Q7Candidate, Q7Row> {
 public:
  void open(const brook::RuntimeContext& context) override {
    maxPrice_ = &context.getState(brook::ValueStateDescriptor<int64_t>("max-price"));
    candidates_ =
        &context.getListState(brook::ListStateDescriptor<Q7Bid>("max-price-candidates"));
  }

  void processElement(const Q7Candidate& candidate, Context& ctx,
                      brook::Collector<Q7Row>&) override {
    if (ctx.timerService().currentWatermark() >= candidate.windowEnd)
      return;
    ctx.timerService().registerEventTimeTimer(candidate.windowEnd);
    const int64_t price = candidate.bid.price;
    std::optional<int64_t> maxPrice = maxPrice_->value();
    if (candidate.countsForMax && (!maxPrice.has_value() || price > *maxPrice)) {
      maxPrice_->update(price);
      maxPrice = price;
    }
    // Candidates below the current maximum can never match; those above it are pruned when
    // the window fires.
    if (!maxPrice.has_value() || price >= *maxPrice)
      candidates_->add(candidate.bid);
  }

  void onTimer(int64_t, OnTimerContext&, brook::Collector<Q7Row>& out) override {
    // A window with only bids at its end has no maximum: nothing joins.
    if (std::optional<int64_t> maxPrice = maxPrice_->value()) {
      for (Q7Bid& bid : candidates_->get()) {
        if (bid.price == *maxPrice)
          out.collect(Q7Row{std::move(bid)});
      }
    }
    maxPrice_->clear();
    candidates_->clear();
  }

 private:
  brook::ValueState<int64_t>* maxPrice_ = nullptr;
  brook::ListState<Q7Bid>* candidates_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// q11 and q12: bids per bidder and window

/// Counts each bidder's bids per session, as event-time session windows with a gap of 10 s do
/// (each bid opens [t, t + gap), and windows that overlap or touch merge), but with one state
/// read and write per bid: a bid that extends a session touches no timer. Each session keeps a
/// timer at or before its end's last timestamp; when one fires before the session's end (the
/// session grew since), it is set again at the end. A bid that merges with no open session and
/// whose own window the watermark has passed is dropped, as the window operator drops it.
/// Keyed by bidder.
class SessionBidCounts final
    : public brook::KeyedProcessFunction<int64_t, int64_t, BidderWindowCount> {
 public:
  void open(const brook::RuntimeContext& context) override {
    state_ = &context.getState(brook::ValueStateDescriptor<OpenSessions>("open-sessions"));
  }

  void processElement(const int64_t&, Context& ctx,
                      brook::Collector<BidderWindowCount>&) override {
    const int64_t time = ctx.timestamp();
    std::optional<OpenSessions> stored = state_->value();
    // The bid's own window, which takes in the open sessions it overlaps or touches. Sessions
    // never overlap or touch each other, so one pass finds all of them.
    Session merged{time, time, 1};
    bool mergedAny = false;
    sessions_.clear();
    if (stored.has_value()) {
      sessions_.push_back(stored->first);
      sessions_.insert(sessions_.end(), stored->more.begin(), stored->more.end());
    }
    size_t kept = 0;
    for (const Session& session : sessions_) {
      if (time <= session.last + kSessionGapMillis && time + kSessionGapMillis >= session.start) {
        merged.start = std::min(merged.start, session.start);
        merged.last = std::max(merged.last, session.last);
        merged.count += session.count;
        mergedAny = true;
      } else {
        sessions_[kept++] = session;
      }
    }
    if (!mergedAny) {
      const int64_t lastTimestamp = time + kSessionGapMillis - 1;
      if (lastTimestamp <= ctx.timerService().currentWatermark())
        return;
      ctx.timerService().registerEventTimeTimer(lastTimestamp);
    }
    sessions_.resize(kept);
    OpenSessions updated = stored.has_value() ? std::move(*stored) : OpenSessions{};
    updated.first = merged;
    updated.more.assign(sessions_.begin(), sessions_.end());
    state_->update(std::move(updated));
  }

  void onTimer(int64_t timestamp, OnTimerContext& ctx,
               brook::Collector<BidderWindowCount>& out) override {
    std::optional<OpenSessions> stored = state_->value();
    if (!stored.has_value())
      return;
    sessions_.clear();
    sessions_.push_back(stored->first);
    sessions_.insert(sessions_.end(), stored->more.begin(), stored->more.end());
    size_t kept = 0;
    for (const Session& session : sessions_) {
      const int64_t end = session.last + kSessionGapMillis;
      if (end - 1 <= timestamp) {
        out.collect(BidderWindowCount{ctx.getCurrentKey(), session.count, session.start, end});
      } else {
        // The session grew since the timer was set, or the timer was another session's: set
        // it (again) at the end (setting an existing timer does nothing).
        ctx.timerService().registerEventTimeTimer(end - 1);
        sessions_[kept++] = session;
      }
    }
    if (kept == 0) {
      state_->clear();
      return;
    }
    stored->first = sessions_.front();
    stored->more.assign(sessions_.begin() + 1, sessions_.begin() + static_cast<ptrdiff_t>(kept));
    state_->update(std::move(*stored));
  }

 private:
  brook::ValueState<OpenSessions>* state_ = nullptr;
  std::vector<Session> sessions_;  // scratch, reused across calls
};

/// Makes a bidder's count of a window a row with the window's bounds.
class LabelBidderCount final
    : public brook::ProcessWindowFunction<int64_t, BidderWindowCount, int64_t, brook::TimeWindow> {
 public:
  void process(const int64_t& bidder, Context& ctx, const std::vector<int64_t>& counts,
               brook::Collector<BidderWindowCount>& out) override {
    for (int64_t count : counts)
      out.collect(BidderWindowCount{bidder, count, ctx.window().start, ctx.window().end});
  }
};

/// The bidder of each bid: all that q11 and q12 need of it.
brook::DataStream<int64_t> bidders(const brook::DataStream<Event>& events, const char* name) {
  return events
      .flatMap<int64_t>([](const Event& event, brook::Collector<int64_t>& out) {
        if (const Bid* bid = event.bid())
          out.collect(int64_t{bid->bidder});
      })
      .name(name);
}

int64_t identity(int64_t value) {
  return value;
}

}  // namespace

// q5: per 10 s window sliding by 2 s, the auctions with the most bids (all of them on a tie),
// as the SQL's join of the per-auction counts with their maximum per window. Stage 1 counts the
// bids per auction and window (incrementally, by 2 s slices: SlicedBidCounts), passing on only
// the counts that reach the largest it has sent for their window (LocalWindowMaxFilter); stage 2,
// keyed by window end, keeps the maximum and the auctions that have it.
void q5(const brook::DataStream<Event>& events, const QueryOutput& output) {
  auto counts =
      events
          .flatMap<int64_t>([](const Event& event, brook::Collector<int64_t>& out) {
            if (const Bid* bid = event.bid())
              out.collect(int64_t{bid->auction});
          })
          .name("Q5 Bid Auctions")
          .keyBy(identity)
          .process(SlicedBidCounts{})
          .name("Q5 Bids per Auction")
          .uid("q5-auction-counts")
          .filter(LocalWindowMaxFilter{})
          .name("Q5 Local Max Filter");
  auto rows = counts.keyBy([](const AuctionCount& count) { return count.windowEnd; })
                  .process(HottestAuctions{})
                  .name("Q5 Hottest Auctions")
                  .uid("q5-hottest-auctions");
  output.write(rows);
}

// q7: per 10 s tumbling window, the bids whose price is the window's highest, joined as in the
// SQL: a bid matches the maximum of a window when its dateTime is in [start, end], both ends
// included. So a bid at exactly a window's end (the first millisecond of the next window)
// matches that window's maximum too, and is written twice when it also has the next window's
// maximum.
//
// Each source subtask keeps only the bids that reach the highest price it has seen in their
// window (LocalMaxFilter, chained); one keyed operator per window end then keeps the window's
// maximum and the bids that have it. Bids behind the watermark are dropped (the SQL's window
// aggregation drops them too, though its unbounded join would still match them).
void q7(const brook::DataStream<Event>& events, const QueryOutput& output) {
  auto rows = events.flatMap<Q7Candidate>(LocalMaxFilter{})
                  .name("Q7 Local Max Filter")
                  .keyBy([](const Q7Candidate& candidate) { return candidate.windowEnd; })
                  .process(HighestBids{})
                  .name("Q7 Highest Bids")
                  .uid("q7-highest-bids");
  output.write(rows);
}

// q11: the bids of each bidder per session: sessions end after 10 s without a bid, so a
// session's end is its last bid's time plus 10 s (SESSION_END); bids 10 s apart exactly are in
// one session, as in Flink.
void q11(const brook::DataStream<Event>& events, const QueryOutput& output) {
  auto rows = bidders(events, "Q11 Bidders")
                  .keyBy(identity)
                  .process(SessionBidCounts{})
                  .name("Q11 Bids per Session")
                  .uid("q11-session-counts");
  output.write(rows);
}

// q12: the bids of each bidder per 10 s tumbling window of processing time (the time the
// window operator sees the bid). Rows depend on the wall clock. When a bounded input ends,
// Brook takes processing time to have reached the end of time and fires every remaining
// processing-time timer, so every window fires: the counts of a bidder's rows add up to its
// bids. (Flink's streaming mode does not fire pending processing-time timers when a bounded
// input ends, so there its last windows write nothing; the Nexmark suite runs q12 on an
// unbounded stream only.)
void q12(const brook::DataStream<Event>& events, const QueryOutput& output) {
  auto rows = bidders(events, "Q12 Bidders")
                  .keyBy(identity)
                  .window(brook::TumblingProcessingTimeWindows::of(kWindowSize))
                  .aggregate(CountElements<int64_t>{}, LabelBidderCount{})
                  .name("Q12 Bids per Window")
                  .uid("q12-window-counts");
  output.write(rows);
}

}  // namespace nexmark
