// q3, q4 and q8 on hand-written events, at parallelism 1 and 2.
//
// The events of each test lie within 4 s of each other, so none is ever behind the watermark
// (4 s behind the largest time seen) and every timer fires at the end of the input: the results
// do not depend on when periodic watermarks happen to be emitted. At parallelism 2 the events
// reach the queries' operators from two subtasks, so an event may overtake an earlier one.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "queries.h"
#include "query_test_support.h"

namespace nexmark {
namespace {

using testing::runQuery;
using testing::sorted;
using testing::watermarkAfterEachEvent;

/// The keyed state backends the stateful queries run on.
constexpr const char* kBackends[] = {"heap", "rocksdb"};

Event person(int64_t id, std::string name, std::string city, std::string state, int64_t dateTime) {
  Person p;
  p.id = id;
  p.name = std::move(name);
  p.emailAddress = "someone@example.com";
  p.creditCard = "1234 5678 9012 3456";
  p.city = std::move(city);
  p.state = std::move(state);
  p.dateTime = dateTime;
  p.extra = "extra";
  return Event{std::move(p)};
}

Event auction(int64_t id, int64_t seller, int64_t category, int64_t dateTime, int64_t expires) {
  Auction a;
  a.id = id;
  a.itemName = "item";
  a.description = "description";
  a.initialBid = 1;
  a.reserve = 2;
  a.dateTime = dateTime;
  a.expires = expires;
  a.seller = seller;
  a.category = category;
  a.extra = "extra";
  return Event{std::move(a)};
}

Event bid(int64_t auction, int64_t price, int64_t dateTime) {
  Bid b;
  b.auction = auction;
  b.bidder = 7;
  b.price = price;
  b.channel = "Google";
  b.url = "https://www.nexmark.com/item.htm?query=1";
  b.dateTime = dateTime;
  b.extra = "extra";
  return Event{std::move(b)};
}

/// The last line of each key (the text before the first comma) of an update stream.
std::map<std::string, std::string> lastLinePerKey(const std::vector<std::string>& lines) {
  std::map<std::string, std::string> last;
  for (const std::string& line : lines)
    last[line.substr(0, line.find(','))] = line;
  return last;
}

// ------------------------------------------------------------------------------------------

std::vector<Event> q3Events() {
  return {
      person(1, "Alice", "Portland", "OR", 1000),
      person(2, "Bob", "Boise", "ID", 1000),
      person(3, "Carol", "Austin", "TX", 1000),  // wrong state
      person(6, "Eve", "Salem", "or", 1000),     // states compare case-sensitively
      auction(101, 1, 10, 1100, 5000),
      auction(102, 1, 11, 1100, 5000),  // wrong category
      auction(103, 3, 10, 1100, 5000),  // seller in TX
      auction(104, 4, 10, 1200, 5000),  // before its seller
      person(4, "Dave", "San Jose", "CA", 1300),
      auction(105, 2, 10, 1400, 5000),
      auction(106, 5, 10, 1400, 5000),  // seller never joins
      auction(107, 4, 10, 1500, 5000),  // after its seller
      auction(108, 6, 10, 1500, 5000),
      person(7, "Frank", "Sacramento, North", "CA", 1600),  // a city with a comma: quoted
      auction(109, 7, 10, 1700, 5000),
      auction(109, 7, 10, 1700, 5000),  // the same auction again: joins again, as in SQL
  };
}

TEST(NexmarkQ3, JoinsSellersOfOregonIdahoAndCaliforniaWithTheirCategory10Auctions) {
  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    const std::vector<std::string> expected = {
        "Alice,Portland,OR,101",
        "Bob,Boise,ID,105",
        "Dave,San Jose,CA,104",
        "Dave,San Jose,CA,107",
        "Frank,\"Sacramento, North\",CA,109",
        "Frank,\"Sacramento, North\",CA,109",
    };
    EXPECT_EQ(sorted(runQuery("q3", q3Events(), 1, nexmarkWatermarks(), backend)), expected);
    EXPECT_EQ(sorted(runQuery("q3", q3Events(), 2, nexmarkWatermarks(), backend)), expected);
  }
}

TEST(NexmarkQ3, JoinsAPersonThatArrivesTwiceWithEveryAuctionAgain) {
  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    const std::vector<Event> events = {
        auction(201, 9, 10, 1000, 5000),
        person(9, "Grace", "Bend", "OR", 1100),
        auction(202, 9, 10, 1200, 5000),
        person(9, "Grace", "Bend", "OR", 1300),
    };
    const std::vector<std::string> expected = {
        "Grace,Bend,OR,201",
        "Grace,Bend,OR,202",
        "Grace,Bend,OR,201",
        "Grace,Bend,OR,202",
    };
    // One key: the order is that of the events.
    EXPECT_EQ(runQuery("q3", events, 1, nexmarkWatermarks(), backend), expected);
    EXPECT_EQ(sorted(runQuery("q3", events, 2, nexmarkWatermarks(), backend)), sorted(expected));
  }
}

// ------------------------------------------------------------------------------------------

std::vector<Event> q4Events() {
  return {
      auction(1, 1, 10, 1000, 3000),
      bid(1, 100, 1500),
      bid(1, 1000, 500),  // before the auction's dateTime
      bid(1, 300, 2000),
      bid(1, 900, 3500),  // after it expires
      bid(1, 200, 2500),  // not the highest
      bid(1, 350, 3000),  // at expires: BETWEEN includes it
      bid(2, 500, 1200),  // before its auction arrives: waits for it
      bid(2, 9999, 800),  // waits too, but is before the auction's dateTime
      auction(2, 1, 10, 1000, 4000),
      bid(2, 501, 1300),  // raises the maximum, but not the truncated average
      auction(3, 1, 11, 1000, 2000),
      bid(3, 101, 1500),
      auction(3, 1, 11, 1000, 2000),  // the same auction again
      bid(3, 102, 1600),
      auction(4, 1, 11, 1000, 2000),
      bid(4, 7, 1000),  // at the auction's dateTime: BETWEEN includes it
      auction(5, 1, 12, 2000, 3000),
      bid(5, 40, 3001),   // after it expires: category 12 has no closing price
      bid(99, 10, 1500),  // an auction that never comes
  };
}

TEST(NexmarkQ4, UpdatesTheAverageClosingPriceOfEachCategory) {
  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    // Category 10: 350 and 501, category 11: 102 and 7 (averages truncate).
    const std::vector<std::string> expected = {
        "10,100", "10,300", "10,350", "10,425", "11,101", "11,102", "11,54",
    };
    EXPECT_EQ(runQuery("q4", q4Events(), 1, nexmarkWatermarks(), backend), expected);

    // At parallelism 2 the updates of a category come in no fixed order, but its last line is
    // its final average.
    const std::vector<std::string> lines =
        runQuery("q4", q4Events(), 2, nexmarkWatermarks(), backend);
    const std::map<std::string, std::string> expectedLast = {{"10", "10,425"}, {"11", "11,54"}};
    EXPECT_EQ(lastLinePerKey(lines), expectedLast);
    for (const std::string& line : lines)
      EXPECT_TRUE(line.starts_with("10,") || line.starts_with("11,")) << line;
  }
}

TEST(NexmarkQ4, CountsAnAuctionOnceItHasAValidBid) {
  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    const std::vector<Event> events = {
        auction(1, 1, 10, 1000, 2000),
        auction(2, 1, 10, 1000, 2000),
        bid(1, 1000, 1500),
        bid(2, 1, 2500),  // after auction 2 expires: it stays out of the average
        bid(2, 11, 1600),
        bid(1, 999, 1700),
    };
    const std::vector<std::string> expected = {"10,1000", "10,505"};
    EXPECT_EQ(runQuery("q4", events, 1, nexmarkWatermarks(), backend), expected);
    const std::map<std::string, std::string> expectedLast = {{"10", "10,505"}};
    EXPECT_EQ(lastLinePerKey(runQuery("q4", events, 2, nexmarkWatermarks(), backend)),
              expectedLast);
  }
}

// With a watermark after each event (4 s behind), at parallelism 1, state is freed as the
// watermark passes: where Flink SQL (which keeps every auction and bid) would also write
// "10,200" (a late bid on an auction whose expiry the watermark passed) and "12,400" (a late
// auction whose waiting bid the watermark passed), q4 writes only what on-time events give.
TEST(NexmarkQ4, FreesAnAuctionAfterItExpiresAndWaitingBidsAfterTheirTime) {
  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    const std::vector<Event> events = {
        auction(1, 1, 10, 1000, 2000),
        bid(1, 100, 1500),
        bid(50, 1, 7000),   // watermark 2999: auction 1 expired, its state is freed
        bid(1, 200, 1800),  // late: dropped
        bid(2, 300, 6000),  // waits for its auction
        auction(2, 1, 11, 5500, 9000),
        bid(3, 400, 7500),               // waits for its auction...
        bid(60, 1, 12000),               // ...until the watermark (7999) passes it
        auction(3, 1, 12, 7000, 20000),  // late, but kept
        bid(3, 50, 12000),
    };
    const std::vector<std::string> expected = {"10,100", "11,300", "12,50"};
    EXPECT_EQ(runQuery("q4", events, 1, watermarkAfterEachEvent(), backend), expected);
  }
}

// Bids that wait for their auction, out of order: the watermark (4 s behind) frees those it
// passes, earliest first, and the auction joins the ones still waiting.
TEST(NexmarkQ4, FreesWaitingBidsAsTheWatermarkPassesThem) {
  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    const std::vector<Event> events = {
        bid(7, 100, 6000),               // waits (watermark 1999)
        bid(7, 300, 5000),               // waits, earlier than the first
        bid(7, 200, 9000),               // waits
        bid(7, 250, 8000),               // waits
        bid(60, 1, 12500),               // watermark 8499: frees the bids at 5000, 6000 and 8000
        auction(7, 1, 13, 4000, 20000),  // late, but kept: joins the bid at 9000 alone
        bid(7, 150, 12000),              // on time, lower
        bid(61, 1, 30000),               // watermark 25999: auction 7 expired
        bid(7, 999, 27000),              // waits for an auction that came and went
        auction(8, 1, 14, 26500, 40000),
        bid(8, 70, 27000),
    };
    const std::vector<std::string> expected = {"13,200", "14,70"};
    EXPECT_EQ(runQuery("q4", events, 1, watermarkAfterEachEvent(), backend), expected);
  }
}

// ------------------------------------------------------------------------------------------

std::vector<Event> q8Events() {
  // Windows [0, 10000) and [10000, 20000).
  return {
      person(1, "Alice", "Portland", "OR", 8000),
      auction(11, 1, 10, 9000, 20000),
      person(1, "Alice", "Portland", "OR", 8500),  // the same person again: one row
      auction(12, 1, 10, 9500, 20000),             // a second auction: still one row
      person(2, "Bob", "Boise", "ID", 9000),
      auction(21, 2, 10, 10500, 20000),  // the next window
      auction(31, 3, 10, 10200, 20000),  // before its seller
      person(3, "Carol", "Austin", "TX", 11000),
      person(4, "Dave", "San Jose", "CA", 9999),
      auction(41, 4, 10, 10000, 20000),  // the first millisecond of the next window
      person(5, "Eve", "Salem", "OR", 10000),
      auction(51, 5, 10, 11999, 20000),
      person(6, "Frank", "Bend", "OR", 9000),  // opens no auction
      auction(71, 7, 10, 9000, 20000),         // a seller that never joins
      person(8, "Hank", "Eugene", "OR", 8100),
      person(8, "Henry", "Eugene", "OR", 8200),  // another name: another row
      auction(81, 8, 10, 8300, 20000),
      person(9, "Ivy", "Medford", "OR", 12000),
      auction(91, 9, 10, 8000, 20000),  // the window before the person's
  };
}

TEST(NexmarkQ8, FindsPersonsWhoOpenedAnAuctionInTheWindowTheyJoined) {
  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    const std::vector<std::string> expected = {
        "1,Alice,0", "3,Carol,10000", "5,Eve,10000", "8,Hank,0", "8,Henry,0",
    };
    EXPECT_EQ(sorted(runQuery("q8", q8Events(), 1, nexmarkWatermarks(), backend)), expected);
    EXPECT_EQ(sorted(runQuery("q8", q8Events(), 2, nexmarkWatermarks(), backend)), expected);
  }
}

// With a watermark after each event (4 s behind), at parallelism 1: a window's rows come when
// the watermark passes its end, and persons and auctions of a window that has fired are late
// and dropped, as a window aggregation drops them.
TEST(NexmarkQ8, DropsPersonsAndAuctionsOfWindowsThatHaveFired) {
  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    const std::vector<Event> events = {
        person(1, "Alice", "Portland", "OR", 1000),
        auction(11, 1, 10, 2000, 20000),
        person(2, "Bob", "Boise", "ID", 14000),     // watermark 9999: window [0, 10000) fires
        person(4, "Dave", "San Jose", "CA", 5000),  // late
        auction(41, 4, 10, 5000, 20000),            // late
        auction(21, 2, 10, 15000, 30000),
    };
    const std::vector<std::string> expected = {"1,Alice,0", "2,Bob,10000"};
    EXPECT_EQ(runQuery("q8", events, 1, watermarkAfterEachEvent(), backend), expected);
  }
}

}  // namespace
}  // namespace nexmark
