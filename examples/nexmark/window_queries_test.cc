// q5, q7, q11 and q12 on a few hand-written events, and q5, q7 and q11 on random bids against
// single-threaded oracles, at parallelism 1 and 2, with the job's periodic watermarks and with a
// watermark after every event (so that windows also fire amid the input). Watermarks trail the
// largest timestamp by 4 s, so bids up to 4 s out of order are on time; the end of the input
// fires every window.

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "queries.h"
#include "query_test_support.h"

namespace nexmark {
namespace {

using testing::runQuery;
using testing::auction;
using testing::bid;
using testing::person;
using testing::sorted;

/// runQuery with a watermark after every event.
std::vector<std::string> runQueryWithEagerWatermarks(const std::string& name,
                                                     const std::vector<Event>& events,
                                                     int parallelism) {
  return runQuery(name, events, parallelism, testing::watermarkAfterEachEvent());
}

// ---------------------------------------------------------------------------------------------
// q5

// Windows of 10 s sliding by 2 s; per window, the auctions with the most bids (auction,num).
std::vector<Event> q5Events() {
  return {
      bid(1, 100, 10, 1000),
      person(7, 1200),
      bid(2, 100, 10, 3000),
      bid(1, 101, 10, 1500),  // out of order
      auction(9, 4000),
      bid(2, 102, 10, 5000),
      bid(3, 103, 10, 11000),
      bid(2, 104, 10, 7500),  // 3.5 s behind the largest timestamp: on time
  };
}

// Per window: [-8,2) a1=2; [-6,4) a1=2 a2=1; [-4,6) a1=2 a2=2 (tie); [-2,8) a1=2 a2=3;
// [0,10) a1=2 a2=3; [2,12) a2=3 a3=1; [4,14) a2=2 a3=1; [6,16) a2=1 a3=1 (tie);
// [8,18) a3=1; [10,20) a3=1 (seconds).
const std::vector<std::string> kQ5Expected = {
    "1,2", "1,2", "1,2",  // [-8,2) [-6,4) [-4,6)
    "2,1",                // [6,16)
    "2,2", "2,2",         // [-4,6) [4,14)
    "2,3", "2,3", "2,3",  // [-2,8) [0,10) [2,12)
    "3,1", "3,1", "3,1",  // [6,16) [8,18) [10,20)
};

TEST(NexmarkQ5, HotItemsPerSlidingWindowWithTies) {
  EXPECT_EQ(sorted(runQuery("q5", q5Events(), 1)), kQ5Expected);
}

TEST(NexmarkQ5, SameRowsAtParallelismTwo) {
  EXPECT_EQ(sorted(runQuery("q5", q5Events(), 2)), kQ5Expected);
}

TEST(NexmarkQ5, SameRowsWithAWatermarkAfterEveryBid) {
  EXPECT_EQ(sorted(runQueryWithEagerWatermarks("q5", q5Events(), 1)), kQ5Expected);
  EXPECT_EQ(sorted(runQueryWithEagerWatermarks("q5", q5Events(), 2)), kQ5Expected);
}

TEST(NexmarkQ5, NoBidsNoRows) {
  EXPECT_TRUE(runQuery("q5", {person(1, 1000), auction(2, 2000)}, 1).empty());
}

// ---------------------------------------------------------------------------------------------
// q7

// Tumbling windows of 10 s; rows are auction,price,bidder,dateTime,extra.
std::vector<Event> q7Events() {
  return {
      bid(1, 10, 100, 1000, "a"),
      bid(2, 11, 300, 2000, "b"),
      bid(3, 12, 300, 9000, "c"),    // ties window 0's maximum
      bid(5, 14, 500, 13000, "e"),   // window 1's maximum
      bid(6, 15, 300, 9500, "f"),    // 3.5 s out of order, ties window 0's maximum
      bid(13, 22, 50, 14000, "m"),   // the watermark reaches 9999: window 0 may not fire yet
      bid(4, 13, 300, 10000, "d"),   // at window 0's end: matches its maximum (BETWEEN)
      bid(7, 16, 400, 20000, "g"),   // at window 1's end, below its maximum; window 2's maximum
      person(1, 21000),
      bid(8, 17, 200, 25000, "h"),
      bid(11, 20, 100, 30000, "k"),  // at window 2's end, below its maximum
      bid(9, 18, 700, 35000, "i"),   // window 3's maximum
      bid(10, 19, 700, 40000, "j"),  // at window 3's end with its maximum, and window 4's
      bid(12, 21, 600, 39000, "l"),  // on time, below window 3's maximum
  };
}

const std::vector<std::string> kQ7Expected = {
    "10,700,19,40000,j",  // window 4
    "10,700,19,40000,j",  // window 3, at its end
    "2,300,11,2000,b",    "3,300,12,9000,c", "4,300,13,10000,d", "5,500,14,13000,e",
    "6,300,15,9500,f",    "7,400,16,20000,g", "9,700,18,35000,i",
};

TEST(NexmarkQ7, HighestBidsPerTumblingWindowWithTiesAndWindowEnds) {
  EXPECT_EQ(sorted(runQuery("q7", q7Events(), 1)), kQ7Expected);
}

TEST(NexmarkQ7, SameRowsAtParallelismTwo) {
  EXPECT_EQ(sorted(runQuery("q7", q7Events(), 2)), kQ7Expected);
}

TEST(NexmarkQ7, SameRowsWithAWatermarkAfterEveryBid) {
  EXPECT_EQ(sorted(runQueryWithEagerWatermarks("q7", q7Events(), 1)), kQ7Expected);
  EXPECT_EQ(sorted(runQueryWithEagerWatermarks("q7", q7Events(), 2)), kQ7Expected);
}

TEST(NexmarkQ7, WindowWithOnlyABidAtItsStartHasItsOwnMaximum) {
  // The bid at 20000 belongs to window [20000, 30000) and is at the end of [10000, 20000),
  // which has no bids: it is written once, for its own window.
  EXPECT_EQ(runQuery("q7", {bid(1, 2, 50, 20000, "z")}, 1),
            std::vector<std::string>{"1,50,2,20000,z"});
}

TEST(NexmarkQ7, NegativeTimesUseTheSameWindows) {
  // Windows [-10000, 0) and [0, 10000): the bid at 0 is at the first one's end.
  EXPECT_EQ(sorted(runQuery("q7", {bid(1, 2, 50, -5000, "m"), bid(3, 4, 50, 0, "n")}, 1)),
            (std::vector<std::string>{"1,50,2,-5000,m", "3,50,4,0,n", "3,50,4,0,n"}));
}

// ---------------------------------------------------------------------------------------------
// q11

// Sessions with a gap of 10 s; rows are bidder,bid_count,starttime,endtime, the end being the
// last bid's time plus the gap.
std::vector<Event> q11Events() {
  return {
      bid(1, 1, 10, 1000),
      bid(1, 2, 10, 2000),
      bid(1, 1, 10, 5000),
      bid(1, 1, 10, 14000),  // 9 s after the previous one: same session
      bid(1, 2, 10, 11000),  // 3 s out of order: joins bidder 2's session [2000, 12000)
      bid(1, 3, 10, 20000),
      bid(1, 1, 10, 30000),  // 16 s after 14000: a second session of bidder 1
      bid(1, 3, 10, 33000),  // 13 s after 20000: a session of its own, for now
      bid(1, 1, 10, 32000),
      bid(1, 3, 10, 29000),  // 4 s out of order: bridges bidder 3's two sessions
      bid(1, 4, 10, 50000),
      bid(1, 4, 10, 60000),  // exactly the gap after the previous one: windows touch, merge
  };
}

const std::vector<std::string> kQ11Expected = {
    "1,2,30000,42000", "1,3,1000,24000", "2,2,2000,21000",
    "3,3,20000,43000", "4,2,50000,70000",
};

TEST(NexmarkQ11, BidsPerSession) {
  EXPECT_EQ(sorted(runQuery("q11", q11Events(), 1)), kQ11Expected);
}

TEST(NexmarkQ11, SameRowsAtParallelismTwo) {
  EXPECT_EQ(sorted(runQuery("q11", q11Events(), 2)), kQ11Expected);
}

TEST(NexmarkQ11, SameRowsWithAWatermarkAfterEveryBid) {
  EXPECT_EQ(sorted(runQueryWithEagerWatermarks("q11", q11Events(), 1)), kQ11Expected);
  EXPECT_EQ(sorted(runQueryWithEagerWatermarks("q11", q11Events(), 2)), kQ11Expected);
}

// ---------------------------------------------------------------------------------------------
// q12

struct Q12Row {
  int64_t bidder = 0;
  int64_t bidCount = 0;
  int64_t start = 0;
  int64_t end = 0;
};

Q12Row parseQ12(const std::string& line) {
  Q12Row row;
  char comma = 0;
  std::istringstream in(line);
  in >> row.bidder >> comma >> row.bidCount >> comma >> row.start >> comma >> row.end;
  EXPECT_FALSE(in.fail()) << line;
  return row;
}

std::vector<Event> q12Events() {
  return {
      bid(1, 1, 10, 1000), bid(1, 2, 10, 900000), person(5, 1000), bid(2, 1, 10, 5000),
      bid(3, 3, 10, 2000), bid(1, 1, 10, 100),    bid(2, 2, 10, 7000),
  };
}

// The windows are of processing time, so their bounds depend on the clock; a bounded input's end
// fires every window, so a bidder's counts add up to its bids.
void expectQ12Counts(const std::vector<std::string>& lines) {
  std::map<int64_t, int64_t> bidsPerBidder;
  std::map<std::pair<int64_t, int64_t>, int> rowsPerBidderAndWindow;
  for (const std::string& line : lines) {
    Q12Row row = parseQ12(line);
    EXPECT_EQ(row.end - row.start, 10000) << line;
    EXPECT_EQ(row.start % 10000, 0) << line;
    EXPECT_GT(row.bidCount, 0) << line;
    bidsPerBidder[row.bidder] += row.bidCount;
    const int rows = ++rowsPerBidderAndWindow[std::make_pair(row.bidder, row.start)];
    EXPECT_EQ(rows, 1) << line;
  }
  EXPECT_EQ(bidsPerBidder, (std::map<int64_t, int64_t>{{1, 3}, {2, 2}, {3, 1}}));
}

TEST(NexmarkQ12, EveryProcessingTimeWindowFiresAtTheEndOfInput) {
  expectQ12Counts(runQuery("q12", q12Events(), 1));
}

TEST(NexmarkQ12, SameCountsAtParallelismTwo) {
  expectQ12Counts(runQuery("q12", q12Events(), 2));
}

// ---------------------------------------------------------------------------------------------
// q5, q7 and q11 on many random bids, against single-threaded oracles

int64_t floorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

/// Bids over about two minutes of event time, up to 3.5 s out of order (on time for the 4 s
/// watermarks), with many ties of prices and counts, many bids at whole seconds (so at window
/// ends), bidders whose bids are sometimes more than 10 s apart, and a few other events.
std::vector<Event> randomEvents(uint64_t seed) {
  std::mt19937_64 random(seed);
  auto uniform = [&](int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(random);
  };
  std::vector<Event> events;
  int64_t base = 1'700'000'000'000;
  for (int i = 0; i < 3000; ++i) {
    base += uniform(0, 80);
    int64_t time = base;
    const int64_t shape = uniform(0, 99);
    if (shape < 10) {
      time = base - uniform(0, 3500);
    } else if (shape < 20) {
      time = floorDiv(base, 1000) * 1000;
    }
    if (uniform(0, 19) == 0) {
      events.push_back(person(i, time));
      continue;
    }
    // Bids at a window's end mostly have prices near the maximum, so that some match it.
    const int64_t price = time % 10000 == 0 ? uniform(38, 40) : uniform(1, 40);
    events.push_back(
        bid(uniform(1, 12), uniform(1, 200), price, time, "extra-" + std::to_string(i)));
  }
  return events;
}

std::vector<const Bid*> bidsOf(const std::vector<Event>& events) {
  std::vector<const Bid*> bids;
  for (const Event& event : events) {
    if (const Bid* b = event.bid())
      bids.push_back(b);
  }
  return bids;
}

std::vector<std::string> q5Oracle(const std::vector<Event>& events) {
  std::map<int64_t, std::map<int64_t, int64_t>> countsPerWindow;  // start -> auction -> count
  for (const Bid* b : bidsOf(events)) {
    for (int64_t start = floorDiv(b->dateTime, 2000) * 2000; start > b->dateTime - 10000;
         start -= 2000) {
      ++countsPerWindow[start][b->auction];
    }
  }
  std::vector<std::string> lines;
  for (const auto& [start, counts] : countsPerWindow) {
    int64_t max = 0;
    for (const auto& [auction, count] : counts)
      max = std::max(max, count);
    for (const auto& [auction, count] : counts) {
      if (count == max)
        lines.push_back(std::to_string(auction) + "," + std::to_string(count));
    }
  }
  return sorted(lines);
}

std::vector<std::string> q7Oracle(const std::vector<Event>& events) {
  std::map<int64_t, int64_t> maxPerWindow;  // window index -> highest price
  for (const Bid* b : bidsOf(events)) {
    int64_t& max = maxPerWindow.try_emplace(floorDiv(b->dateTime, 10000), INT64_MIN).first->second;
    max = std::max(max, b->price);
  }
  std::vector<std::string> lines;
  for (const Bid* b : bidsOf(events)) {
    const std::string line = std::to_string(b->auction) + "," + std::to_string(b->price) + "," +
                             std::to_string(b->bidder) + "," + std::to_string(b->dateTime) +
                             "," + b->extra;
    const int64_t window = floorDiv(b->dateTime, 10000);
    if (maxPerWindow.at(window) == b->price)
      lines.push_back(line);
    auto previous = maxPerWindow.find(window - 1);
    if (b->dateTime % 10000 == 0 && previous != maxPerWindow.end() && previous->second == b->price)
      lines.push_back(line);
  }
  return sorted(lines);
}

std::vector<std::string> q11Oracle(const std::vector<Event>& events) {
  std::map<int64_t, std::vector<int64_t>> timesPerBidder;
  for (const Bid* b : bidsOf(events))
    timesPerBidder[b->bidder].push_back(b->dateTime);
  std::vector<std::string> lines;
  for (auto& [bidder, times] : timesPerBidder) {
    std::sort(times.begin(), times.end());
    size_t first = 0;
    for (size_t i = 1; i <= times.size(); ++i) {
      // Windows [t, t + 10 s) that touch merge: a session ends at a gap of more than 10 s.
      if (i == times.size() || times[i] > times[i - 1] + 10000) {
        lines.push_back(std::to_string(bidder) + "," + std::to_string(i - first) + "," +
                        std::to_string(times[first]) + "," +
                        std::to_string(times[i - 1] + 10000));
        first = i;
      }
    }
  }
  return sorted(lines);
}

void expectOracleRows(const std::string& query,
                      std::vector<std::string> (*oracle)(const std::vector<Event>&)) {
  for (uint64_t seed : {1, 2}) {
    const std::vector<Event> events = randomEvents(seed);
    const std::vector<std::string> expected = oracle(events);
    ASSERT_FALSE(expected.empty());
    for (int parallelism : {1, 2}) {
      SCOPED_TRACE(query + ", seed " + std::to_string(seed) + ", parallelism " +
                   std::to_string(parallelism));
      EXPECT_EQ(sorted(runQuery(query, events, parallelism)), expected);
      EXPECT_EQ(sorted(runQueryWithEagerWatermarks(query, events, parallelism)), expected);
    }
  }
}

TEST(NexmarkQ5, RandomBidsMatchTheOracle) {
  expectOracleRows("q5", q5Oracle);
}

TEST(NexmarkQ7, RandomBidsMatchTheOracle) {
  expectOracleRows("q7", q7Oracle);
}

TEST(NexmarkQ7, RandomBidsHaveBidsAtWindowEndsThatMatch) {
  // The rows of q7Oracle include bids at a window's end with its maximum: more lines than bids
  // with the maximum of their own window.
  for (uint64_t seed : {1, 2}) {
    const std::vector<Event> events = randomEvents(seed);
    std::map<int64_t, int64_t> maxPerWindow;
    for (const Bid* b : bidsOf(events)) {
      int64_t& max =
          maxPerWindow.try_emplace(floorDiv(b->dateTime, 10000), INT64_MIN).first->second;
      max = std::max(max, b->price);
    }
    size_t ownWindowMaxima = 0;
    for (const Bid* b : bidsOf(events))
      ownWindowMaxima += maxPerWindow.at(floorDiv(b->dateTime, 10000)) == b->price ? 1 : 0;
    EXPECT_GT(q7Oracle(events).size(), ownWindowMaxima) << "seed " << seed;
  }
}

TEST(NexmarkQ11, RandomBidsMatchTheOracle) {
  expectOracleRows("q11", q11Oracle);
}

}  // namespace
}  // namespace nexmark
