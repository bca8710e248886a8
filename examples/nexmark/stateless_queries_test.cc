// q0, q1 and q2 on a few hand-written events, at parallelism 1 and 2.

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

/// Bids among persons and auctions (which no stateless query selects); an extra with a comma
/// (written quoted), bids on multiples of 123 (q2) and prices whose conversion needs every
/// decimal (q1).
std::vector<Event> events() {
  return {
      person(1, 1000),
      bid(1000, 1, 2500, 1000, "x"),
      auction(1000, 1050),
      bid(123, 2, 100, 1100, ""),
      bid(246, 3, 1, 1200, "a,b"),
      bid(124, 4, 1234567, 1300, "y"),
      bid(0, 5, 7, 1400, "z"),
      bid(-123, 6, 10, 1500, "n"),
  };
}

TEST(NexmarkQ0, WritesEveryBidAndNothingElse) {
  const std::vector<std::string> expected = {
      "1000,1,2500,1000,x",   "123,2,100,1100,", "246,3,1,1200,\"a,b\"",
      "124,4,1234567,1300,y", "0,5,7,1400,z",    "-123,6,10,1500,n",
  };
  EXPECT_EQ(runQuery("q0", events(), 1), expected);
  EXPECT_EQ(sorted(runQuery("q0", events(), 2)), sorted(expected));
}

TEST(NexmarkQ1, ConvertsPricesExactlyWithThreeDecimals) {
  const std::vector<std::string> expected = {
      "1000,1,2270.000,1000,x",   "123,2,90.800,1100,", "246,3,0.908,1200,\"a,b\"",
      "124,4,1120986.836,1300,y", "0,5,6.356,1400,z",   "-123,6,9.080,1500,n",
  };
  EXPECT_EQ(runQuery("q1", events(), 1), expected);
  EXPECT_EQ(sorted(runQuery("q1", events(), 2)), sorted(expected));
}

TEST(NexmarkQ2, SelectsBidsOnAuctionsThatAreMultiplesOf123) {
  const std::vector<std::string> expected = {"123,100", "246,1", "0,7", "-123,10"};
  EXPECT_EQ(runQuery("q2", events(), 1), expected);
  EXPECT_EQ(sorted(runQuery("q2", events(), 2)), sorted(expected));
}

}  // namespace
}  // namespace nexmark
