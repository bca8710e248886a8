#include "nexmark_baseline.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

namespace brook::benchmarks {

namespace {

using nexmark::Auction;
using nexmark::Bid;
using nexmark::Event;
using nexmark::Person;

constexpr int64_t kTumbleMillis = 10'000;   // q7, q8, q12
constexpr int64_t kHopSizeMillis = 10'000;  // q5
constexpr int64_t kHopSlideMillis = 2'000;  // q5
constexpr int64_t kPanesPerHop = kHopSizeMillis / kHopSlideMillis;
constexpr int64_t kSessionGapMillis = 10'000;  // q11
constexpr int64_t kQ2Modulus = 123;
constexpr int64_t kQ3Category = 10;
// q12 reads the wall clock once per this many events.
constexpr int64_t kClockStride = 1024;

// The start of the window of `size` milliseconds (aligned to the epoch) that holds `time`.
int64_t windowStart(int64_t time, int64_t size) {
  int64_t r = time % size;
  return time - (r < 0 ? r + size : r);
}

// ---------------------------------------------------------------------------------------------
// Rows: each knows its CSV line and a hash of its fields, so that a run can count and hash its
// rows without formatting them (as the engine's blackhole sink drops its rows unformatted).

// A hash of a sequence of integers and strings that is the same on every platform, unlike
// absl::Hash, whose seed differs between processes. Strings are read eight bytes at a time.
class RowHasher {
 public:
  void add(int64_t value) { mix(static_cast<uint64_t>(value)); }
  void add(std::string_view text) {
    size_t i = 0;
    for (; i + 8 <= text.size(); i += 8) {
      uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      mix(word);
    }
    uint64_t tail = 0;
    std::memcpy(&tail, text.data() + i, text.size() - i);
    mix(tail ^ (static_cast<uint64_t>(text.size()) << 56));
  }
  uint64_t value() const {
    // SplitMix64's finalizer, so that the sum over rows stays well spread.
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  void mix(uint64_t word) { state_ = (state_ ^ word) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL; }

  uint64_t state_ = 0xcbf29ce484222325ULL;
};

void appendInt(std::string& out, int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, end);
}

// Appends `thousandths` / 1000 with three decimals: 1234567 is "1234.567".
void appendThousandths(std::string& out, int64_t thousandths) {
  if (thousandths < 0) {
    out += '-';
    thousandths = -thousandths;
  }
  appendInt(out, thousandths / 1000);
  int64_t fraction = thousandths % 1000;
  out += '.';
  out += static_cast<char>('0' + fraction / 100);
  out += static_cast<char>('0' + fraction / 10 % 10);
  out += static_cast<char>('0' + fraction % 10);
}

// A row made of integer and string columns; `Column`s refer to values owned elsewhere, which
// must outlive the row (rows are handed to the sink at once).
struct Column {
  enum class Kind : uint8_t { kInt, kThousandths, kText };
  Kind kind;
  int64_t number = 0;
  std::string_view text;

  static Column integer(int64_t value) { return {Kind::kInt, value, {}}; }
  static Column thousandths(int64_t value) { return {Kind::kThousandths, value, {}}; }
  static Column string(std::string_view value) { return {Kind::kText, 0, value}; }
};

template <size_t N>
struct Row {
  Column columns[N];

  void appendCsv(std::string& out) const {
    for (size_t i = 0; i < N; ++i) {
      if (i > 0)
        out += ',';
      switch (columns[i].kind) {
        case Column::Kind::kInt:
          appendInt(out, columns[i].number);
          break;
        case Column::Kind::kThousandths:
          appendThousandths(out, columns[i].number);
          break;
        case Column::Kind::kText:
          out.append(columns[i].text);
          break;
      }
    }
  }
  uint64_t hash() const {
    RowHasher hasher;
    for (const Column& column : columns) {
      if (column.kind == Column::Kind::kText) {
        hasher.add(column.text);
      } else {
        hasher.add(column.number);
      }
    }
    return hasher.value();
  }
};

template <typename... C>
Row<sizeof...(C)> row(C... columns) {
  return Row<sizeof...(C)>{{columns...}};
}

Column integer(int64_t value) {
  return Column::integer(value);
}
Column text(std::string_view value) {
  return Column::string(value);
}

// Counts and hashes rows: the benchmark's sink.
struct ChecksumSink {
  int64_t rows = 0;
  uint64_t checksum = 0;

  template <size_t N>
  void operator()(const Row<N>& r) {
    ++rows;
    checksum += r.hash();
  }
};

// Formats rows as CSV lines: the tests' sink.
struct CsvSink {
  std::vector<std::string> lines;

  template <size_t N>
  void operator()(const Row<N>& r) {
    std::string line;
    r.appendCsv(line);
    lines.push_back(std::move(line));
  }
};

// ---------------------------------------------------------------------------------------------
// The queries. Each takes the events in order with onEvent and emits its remaining rows at the
// end of the input with finish; both hand rows to a sink.

// q0: every bid.
class Q0 {
 public:
  template <typename Sink>
  void onEvent(const Event& event, Sink& sink) {
    if (const Bid* b = event.bid()) {
      sink(row(integer(b->auction), integer(b->bidder), integer(b->price), integer(b->dateTime),
               text(b->extra)));
    }
  }
  template <typename Sink>
  void finish(Sink&) {}
};

// q1: every bid, its price in euros.
class Q1 {
 public:
  template <typename Sink>
  void onEvent(const Event& event, Sink& sink) {
    if (const Bid* b = event.bid()) {
      sink(row(integer(b->auction), integer(b->bidder), Column::thousandths(b->price * 908),
               integer(b->dateTime), text(b->extra)));
    }
  }
  template <typename Sink>
  void finish(Sink&) {}
};

// q2: the bids on every 123rd auction.
class Q2 {
 public:
  template <typename Sink>
  void onEvent(const Event& event, Sink& sink) {
    if (const Bid* b = event.bid(); b != nullptr && b->auction % kQ2Modulus == 0)
      sink(row(integer(b->auction), integer(b->price)));
  }
  template <typename Sink>
  void finish(Sink&) {}
};

// q3: an incremental inner join of the auctions in category 10 with the sellers in OR, ID or
// CA. Both sides are kept (as the SQL join keeps them), but an auction whose seller already
// joined needs no keeping, as person ids are unique.
class Q3 {
 public:
  template <typename Sink>
  void onEvent(const Event& event, Sink& sink) {
    if (const Auction* a = event.auction()) {
      if (a->category != kQ3Category)
        return;
      if (auto it = persons_.find(a->seller); it != persons_.end()) {
        emit(it->second, a->id, sink);
      } else {
        pendingAuctions_[a->seller].push_back(a->id);
      }
    } else if (const Person* p = event.person()) {
      if (p->state != "OR" && p->state != "ID" && p->state != "CA")
        return;
      auto [it, inserted] = persons_.try_emplace(p->id, Seller{p->name, p->city, p->state});
      if (auto pending = pendingAuctions_.find(p->id); pending != pendingAuctions_.end()) {
        for (int64_t auctionId : pending->second)
          emit(it->second, auctionId, sink);
        pendingAuctions_.erase(pending);
      }
    }
  }
  template <typename Sink>
  void finish(Sink&) {}

 private:
  struct Seller {
    std::string name;
    std::string city;
    std::string state;
  };
  template <typename Sink>
  static void emit(const Seller& seller, int64_t auctionId, Sink& sink) {
    sink(row(text(seller.name), text(seller.city), text(seller.state), integer(auctionId)));
  }

  absl::flat_hash_map<int64_t, Seller> persons_;
  absl::flat_hash_map<int64_t, std::vector<int64_t>> pendingAuctions_;  // by seller
};

// q4: the highest bid of each auction within its lifetime, averaged per category. Bids that
// come before their auction wait for it.
class Q4 {
 public:
  template <typename Sink>
  void onEvent(const Event& event, Sink&) {
    if (const Bid* b = event.bid()) {
      if (auto it = auctions_.find(b->auction); it != auctions_.end()) {
        it->second.offer(b->price, b->dateTime);
      } else {
        pendingBids_[b->auction].push_back({b->price, b->dateTime});
      }
    } else if (const Auction* a = event.auction()) {
      auto [it, inserted] = auctions_.try_emplace(a->id);
      AuctionState& state = it->second;
      if (inserted) {
        state.category = a->category;
        state.dateTime = a->dateTime;
        state.expires = a->expires;
      }
      if (auto pending = pendingBids_.find(a->id); pending != pendingBids_.end()) {
        for (const auto& [price, dateTime] : pending->second)
          state.offer(price, dateTime);
        pendingBids_.erase(pending);
      }
    }
  }
  template <typename Sink>
  void finish(Sink& sink) {
    std::map<int64_t, std::pair<int64_t, int64_t>> byCategory;  // category -> (sum, count)
    for (const auto& [id, state] : auctions_) {
      if (state.maxPrice < 0)
        continue;
      auto& [sum, count] = byCategory[state.category];
      sum += state.maxPrice;
      ++count;
    }
    for (const auto& [category, sumAndCount] : byCategory)
      sink(row(integer(category), integer(sumAndCount.first / sumAndCount.second)));
  }

 private:
  struct AuctionState {
    int64_t category = 0;
    int64_t dateTime = 0;
    int64_t expires = 0;
    int64_t maxPrice = -1;  // -1: no bid within the auction's lifetime yet

    void offer(int64_t price, int64_t bidTime) {
      if (bidTime >= dateTime && bidTime <= expires)
        maxPrice = std::max(maxPrice, price);
    }
  };

  absl::flat_hash_map<int64_t, AuctionState> auctions_;
  absl::flat_hash_map<int64_t, std::vector<std::pair<int64_t, int64_t>>> pendingBids_;
};

// q5: bids per auction per 2 s pane; a hopping window is the sum of its five panes, closed once
// a bid lies past its end (input is in order).
class Q5 {
 public:
  template <typename Sink>
  void onEvent(const Event& event, Sink& sink) {
    const Bid* b = event.bid();
    if (b == nullptr)
      return;
    const int64_t pane = windowStart(b->dateTime, kHopSlideMillis) / kHopSlideMillis;
    if (panes_.empty() && !started_) {
      nextWindow_ = pane - (kPanesPerHop - 1);
      started_ = true;
    }
    closeWindowsBefore(pane - (kPanesPerHop - 1), sink);
    ++panes_[pane][b->auction];
  }
  template <typename Sink>
  void finish(Sink& sink) {
    if (!panes_.empty())
      closeWindowsBefore(panes_.rbegin()->first + 1, sink);
  }

 private:
  // Closes the windows that start at panes before `firstOpen`, in order.
  template <typename Sink>
  void closeWindowsBefore(int64_t firstOpen, Sink& sink) {
    while (nextWindow_ < firstOpen && !panes_.empty()) {
      // Skip windows that hold no pane at all.
      nextWindow_ = std::max(nextWindow_, panes_.begin()->first - (kPanesPerHop - 1));
      if (nextWindow_ >= firstOpen)
        break;
      counts_.clear();
      for (auto it = panes_.lower_bound(nextWindow_);
           it != panes_.end() && it->first < nextWindow_ + kPanesPerHop; ++it) {
        for (const auto& [auction, count] : it->second)
          counts_[auction] += count;
      }
      int64_t most = 0;
      for (const auto& [auction, count] : counts_)
        most = std::max(most, count);
      hot_.clear();
      for (const auto& [auction, count] : counts_) {
        if (count == most)
          hot_.push_back(auction);
      }
      std::sort(hot_.begin(), hot_.end());
      for (int64_t auction : hot_)
        sink(row(integer(auction), integer(most)));
      // No later window holds the pane this window starts with.
      panes_.erase(nextWindow_);
      ++nextWindow_;
    }
  }

  std::map<int64_t, absl::flat_hash_map<int64_t, int64_t>> panes_;  // pane -> auction -> bids
  int64_t nextWindow_ = 0;  // the first pane of the earliest window not yet closed
  bool started_ = false;
  absl::flat_hash_map<int64_t, int64_t> counts_;
  std::vector<int64_t> hot_;
};

// q7: the highest bids of each 10 s tumbling window, and bids exactly at its end (the start of
// the next window) at that price.
class Q7 {
 public:
  template <typename Sink>
  void onEvent(const Event& event, Sink& sink) {
    const Bid* b = event.bid();
    if (b == nullptr)
      return;
    const int64_t window = windowStart(b->dateTime, kTumbleMillis);
    if (!started_ || window != window_) {
      if (started_)
        closeWindow(sink);
      started_ = true;
      window_ = window;
    }
    if (b->dateTime == previousEnd_ && b->price == previousMax_)
      emit(*b, sink);
    if (best_.empty() || b->price > best_.front().price) {
      best_.clear();
    } else if (b->price < best_.front().price) {
      return;
    }
    best_.push_back({b->auction, b->price, b->bidder, b->dateTime, b->extra});
  }
  template <typename Sink>
  void finish(Sink& sink) {
    if (started_)
      closeWindow(sink);
  }

 private:
  struct Candidate {
    int64_t auction;
    int64_t price;
    int64_t bidder;
    int64_t dateTime;
    std::string extra;
  };
  template <typename Sink>
  void closeWindow(Sink& sink) {
    for (const Candidate& c : best_) {
      sink(row(integer(c.auction), integer(c.price), integer(c.bidder), integer(c.dateTime),
               text(c.extra)));
    }
    previousEnd_ = window_ + kTumbleMillis;
    previousMax_ = best_.empty() ? -1 : best_.front().price;
    best_.clear();
  }
  template <typename Sink>
  static void emit(const Bid& b, Sink& sink) {
    sink(row(integer(b.auction), integer(b.price), integer(b.bidder), integer(b.dateTime),
             text(b.extra)));
  }

  bool started_ = false;
  int64_t window_ = 0;
  std::vector<Candidate> best_;  // the bids at the window's highest price so far
  int64_t previousEnd_ = -1;
  int64_t previousMax_ = -1;
};

// q8: the persons and the sellers of the current 10 s tumbling window; input in order, a window
// is complete when an event lies past it.
class Q8 {
 public:
  template <typename Sink>
  void onEvent(const Event& event, Sink& sink) {
    const int64_t window = windowStart(event.dateTime(), kTumbleMillis);
    if (!started_ || window != window_) {
      if (started_)
        closeWindow(sink);
      started_ = true;
      window_ = window;
    }
    if (const Person* p = event.person()) {
      persons_.try_emplace(p->id, p->name);
    } else if (const Auction* a = event.auction()) {
      sellers_.insert(a->seller);
    }
  }
  template <typename Sink>
  void finish(Sink& sink) {
    if (started_)
      closeWindow(sink);
  }

 private:
  template <typename Sink>
  void closeWindow(Sink& sink) {
    joined_.clear();
    for (const auto& [id, name] : persons_) {
      if (sellers_.contains(id))
        joined_.emplace_back(id, &name);
    }
    std::sort(joined_.begin(), joined_.end());
    for (const auto& [id, name] : joined_)
      sink(row(integer(id), text(*name), integer(window_)));
    persons_.clear();
    sellers_.clear();
  }

  bool started_ = false;
  int64_t window_ = 0;
  absl::flat_hash_map<int64_t, std::string> persons_;  // id -> name
  absl::flat_hash_set<int64_t> sellers_;
  std::vector<std::pair<int64_t, const std::string*>> joined_;
};

// q11: one open session per bidder; a bid within the gap of the session's last bid (inclusive,
// as Flink's TimeWindow.intersects merges) extends it, a later one closes it and opens the next.
class Q11 {
 public:
  template <typename Sink>
  void onEvent(const Event& event, Sink& sink) {
    const Bid* b = event.bid();
    if (b == nullptr)
      return;
    auto [it, inserted] = sessions_.try_emplace(b->bidder, Session{b->dateTime, b->dateTime, 0});
    Session& s = it->second;
    if (!inserted && b->dateTime - s.last > kSessionGapMillis) {
      emit(b->bidder, s, sink);
      s = Session{b->dateTime, b->dateTime, 0};
    }
    s.start = std::min(s.start, b->dateTime);
    s.last = std::max(s.last, b->dateTime);
    ++s.count;
  }
  template <typename Sink>
  void finish(Sink& sink) {
    std::vector<std::pair<int64_t, int64_t>> open;  // (start, bidder)
    open.reserve(sessions_.size());
    for (const auto& [bidder, s] : sessions_)
      open.emplace_back(s.start, bidder);
    std::sort(open.begin(), open.end());
    for (const auto& [start, bidder] : open)
      emit(bidder, sessions_.at(bidder), sink);
  }

 private:
  struct Session {
    int64_t start;
    int64_t last;
    int64_t count;
  };
  template <typename Sink>
  static void emit(int64_t bidder, const Session& s, Sink& sink) {
    sink(row(integer(bidder), integer(s.count), integer(s.start),
             integer(s.last + kSessionGapMillis)));
  }

  absl::flat_hash_map<int64_t, Session> sessions_;  // bidder -> open session
};

// q12: bids per bidder per 10 s tumbling window of wall-clock time.
class Q12 {
 public:
  template <typename Sink>
  void onEvent(const Event& event, Sink& sink) {
    if ((++events_ % kClockStride) == 1 || window_ < 0) {
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      const int64_t window = windowStart(now, kTumbleMillis);
      if (window != window_) {
        closeWindow(sink);
        window_ = window;
      }
    }
    if (const Bid* b = event.bid())
      ++counts_[b->bidder];
  }
  template <typename Sink>
  void finish(Sink& sink) {
    closeWindow(sink);
  }

 private:
  template <typename Sink>
  void closeWindow(Sink& sink) {
    for (const auto& [bidder, count] : counts_)
      sink(
          row(integer(bidder), integer(count), integer(window_), integer(window_ + kTumbleMillis)));
    counts_.clear();
  }

  int64_t events_ = 0;
  int64_t window_ = -1;
  absl::flat_hash_map<int64_t, int64_t> counts_;  // bidder -> bids in the current window
};

// Runs `Query` over the events that `forEachEvent` hands to its callback, into `sink`.
template <typename Query, typename Sink, typename ForEachEvent>
void drive(Sink& sink, ForEachEvent&& forEachEvent) {
  Query query;
  forEachEvent([&](const Event& event) { query.onEvent(event, sink); });
  query.finish(sink);
}

// Runs the baseline of the query named `name`; throws std::invalid_argument if there is none.
template <typename Sink, typename ForEachEvent>
void dispatch(const std::string& name, Sink& sink, ForEachEvent&& forEachEvent) {
  if (name == "q0") {
    drive<Q0>(sink, forEachEvent);
  } else if (name == "q1") {
    drive<Q1>(sink, forEachEvent);
  } else if (name == "q2") {
    drive<Q2>(sink, forEachEvent);
  } else if (name == "q3") {
    drive<Q3>(sink, forEachEvent);
  } else if (name == "q4") {
    drive<Q4>(sink, forEachEvent);
  } else if (name == "q5") {
    drive<Q5>(sink, forEachEvent);
  } else if (name == "q7") {
    drive<Q7>(sink, forEachEvent);
  } else if (name == "q8") {
    drive<Q8>(sink, forEachEvent);
  } else if (name == "q11") {
    drive<Q11>(sink, forEachEvent);
  } else if (name == "q12") {
    drive<Q12>(sink, forEachEvent);
  } else {
    throw std::invalid_argument("no Nexmark baseline for query '" + name + "'");
  }
}

void checkBounded(const nexmark::GeneratorConfig& config) {
  if (config.eventsNum <= 0)
    throw std::invalid_argument("a Nexmark baseline needs a bounded input (events.num > 0)");
}

}  // namespace

const std::vector<std::string>& baselineQueries() {
  static const std::vector<std::string> queries = {"q0", "q1", "q2", "q3",  "q4",
                                                   "q5", "q7", "q8", "q11", "q12"};
  return queries;
}

bool baselineIsDeterministic(const std::string& query) {
  return query != "q12" && std::find(baselineQueries().begin(), baselineQueries().end(), query) !=
                               baselineQueries().end();
}

BaselineResult runBaseline(const std::string& query, const nexmark::GeneratorConfig& config) {
  checkBounded(config);
  ChecksumSink sink;
  dispatch(query, sink, [&](auto&& onEvent) {
    Event event;
    for (int64_t n = 0; n < config.eventsNum; ++n) {
      nexmark::generateEvent(config, n, event);
      onEvent(event);
    }
  });
  return {config.eventsNum, sink.rows, sink.checksum};
}

BaselineResult runGeneratorOnly(const nexmark::GeneratorConfig& config) {
  checkBounded(config);
  // Touches every event so that the generation cannot be left out.
  uint64_t checksum = 0;
  Event event;
  for (int64_t n = 0; n < config.eventsNum; ++n) {
    nexmark::generateEvent(config, n, event);
    checksum += static_cast<uint64_t>(event.dateTime()) + static_cast<uint64_t>(event.type());
  }
  return {config.eventsNum, 0, checksum};
}

std::vector<std::string> baselineRows(const std::string& query,
                                      const std::vector<nexmark::Event>& events) {
  if (!baselineIsDeterministic(query)) {
    throw std::invalid_argument("no deterministic Nexmark baseline for query '" + query + "'");
  }
  std::vector<const Event*> ordered;
  ordered.reserve(events.size());
  for (const Event& event : events)
    ordered.push_back(&event);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const Event* a, const Event* b) { return a->dateTime() < b->dateTime(); });
  CsvSink sink;
  dispatch(query, sink, [&](auto&& onEvent) {
    for (const Event* event : ordered)
      onEvent(*event);
  });
  return std::move(sink.lines);
}

}  // namespace brook::benchmarks
