// The Nexmark generator against the published rules of Apache Beam's generator: java.util.Random
// bit for bit, the first events and their id ranges, the 1/3/46 proportions, timestamps from tps,
// determinism, and the job arguments. Golden field values come from running Beam's generator
// code (seeded with the event id, at the default configuration).

#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/functions.h>
#include <brook/nexmark/generator.h>
#include <brook/nexmark/internal/java_random.h>

namespace brook::nexmark {
namespace {

using internal::JavaRandom;
using ::testing::HasSubstr;

constexpr int64_t kBaseTime = 1'436'918'400'000;

// Values printed by java.util.Random of OpenJDK.
TEST(JavaRandomTest, MatchesJavaUtilRandom) {
  JavaRandom a(42);
  EXPECT_EQ(a.nextInt(), -1170105035);

  JavaRandom b(42);
  std::vector<int32_t> tens;
  for (int i = 0; i < 10; ++i)
    tens.push_back(b.nextInt(10));
  EXPECT_EQ(tens, (std::vector<int32_t>{0, 3, 8, 4, 0, 5, 5, 8, 9, 3}));

  JavaRandom c(42);
  EXPECT_EQ(c.nextLong(), -5025562857975149833LL);
  EXPECT_EQ(c.nextDouble(), 0.6832234717598454);
  EXPECT_EQ(c.nextInt(16), 4);  // a power of two takes the high bits
  EXPECT_EQ(c.nextInt(1'000'000'007), 595021505);

  JavaRandom d(0);
  EXPECT_EQ(d.nextInt(100), 60);
  EXPECT_EQ(d.nextInt(), -723955400);
  EXPECT_EQ(d.nextLong(), 4437113781045784766LL);

  JavaRandom e(-7);  // negative seeds scramble like any other
  EXPECT_EQ(e.nextInt(3), 1);
  EXPECT_EQ(e.nextInt(std::numeric_limits<int32_t>::max()), 1935951297);
  EXPECT_EQ(e.nextInt((1 << 30) + 1), 314447087);  // rejection of the last partial range
}

TEST(JavaRandomTest, BoundedValuesStayInRange) {
  JavaRandom random(7);
  for (int32_t bound : {1, 2, 3, 5, 13, 26, 100, 10'000, (1 << 30) + 7}) {
    for (int i = 0; i < 1000; ++i) {
      const int32_t v = random.nextInt(bound);
      ASSERT_GE(v, 0);
      ASSERT_LT(v, bound);
    }
  }
  for (int i = 0; i < 1000; ++i) {
    const double v = random.nextDouble();
    ASSERT_GE(v, 0.0);
    ASSERT_LT(v, 1.0);
  }
}

TEST(GeneratorTest, EventZeroIsThePersonOfBeamsGenerator) {
  const Event event = generateEvent(GeneratorConfig{}, 0);
  const Person* person = event.person();
  ASSERT_NE(person, nullptr);
  EXPECT_EQ(person->id, 1000);  // FIRST_PERSON_ID
  EXPECT_EQ(person->name, "Peter Jones");
  EXPECT_EQ(person->emailAddress, "nhd@xcat.com");
  EXPECT_EQ(person->creditCard, "7241 7320 9143 4888");
  EXPECT_EQ(person->city, "Portland");
  EXPECT_EQ(person->state, "WY");
  EXPECT_EQ(person->dateTime, kBaseTime);
  // Padded to about 200 bytes with the 8 + field lengths counted as Beam does.
  const size_t size = 8 + person->name.size() + person->emailAddress.size() +
                      person->creditCard.size() + person->city.size() + person->state.size() +
                      person->extra.size();
  EXPECT_GE(size, 160u);
  EXPECT_LE(size, 240u);
  EXPECT_TRUE(person->extra.starts_with("WN_HS_bnpkkiwhwana_L^`KZjdgsid`K]MLU[aaOH`"))
      << person->extra;
}

TEST(GeneratorTest, GoldenAuctionAndBidOfBeamsGenerator) {
  const GeneratorConfig config;
  const Event auction = generateEvent(config, 51);
  ASSERT_NE(auction.auction(), nullptr);
  EXPECT_EQ(auction.auction()->id, 1003);
  EXPECT_EQ(auction.auction()->itemName, "ap yurxvft");
  EXPECT_EQ(auction.auction()->description, "vrnwqqis djcnffvmce soukxctnrr scxvzjf");
  EXPECT_EQ(auction.auction()->initialBid, 5037490);
  EXPECT_EQ(auction.auction()->reserve, 5980861);
  EXPECT_EQ(auction.auction()->expires, kBaseTime + 1);
  EXPECT_EQ(auction.auction()->seller, 1000);
  EXPECT_EQ(auction.auction()->category, 11);

  const Event bid = generateEvent(config, 4);
  ASSERT_NE(bid.bid(), nullptr);
  EXPECT_EQ(bid.bid()->auction, 1000);
  EXPECT_EQ(bid.bid()->bidder, 1001);
  EXPECT_EQ(bid.bid()->price, 32530001);
  EXPECT_EQ(bid.bid()->channel, "Google");
  EXPECT_EQ(bid.bid()->url, "https://www.nexmark.com/jol/liu/fmf/item.htm?query=1");
  EXPECT_EQ(bid.bid()->dateTime, kBaseTime);

  const Event other = generateEvent(config, 999);
  ASSERT_NE(other.bid(), nullptr);
  EXPECT_EQ(other.bid()->price, 2305081);
  EXPECT_EQ(other.bid()->channel, "channel-1445");
  EXPECT_EQ(other.bid()->url,
            "https://www.nexmark.com/eimy/_zxd/sdd/item.htm?query=1&channel_id=1516240896");
}

// Events 1..3 are the first three auctions, by one of the people who exist by then (person 0
// plus the 10 "lead" ids), in one of the 5 categories from 10; the rest of the first 50 are
// bids on auctions 0..2 (plus 10 leads) by people 0..10 or the hot bidder 1001.
TEST(GeneratorTest, FirstEventsFollowTheRules) {
  const GeneratorConfig config;
  for (int64_t n = 1; n <= 3; ++n) {
    const Event event = generateEvent(config, n);
    const Auction* a = event.auction();
    ASSERT_NE(a, nullptr) << n;
    EXPECT_EQ(a->id, 1000 + n - 1);
    EXPECT_GE(a->seller, 1000);
    EXPECT_LT(a->seller, 1000 + 1 + 10);
    EXPECT_GE(a->category, 10);
    EXPECT_LT(a->category, 15);
    EXPECT_GT(a->initialBid, 0);
    EXPECT_GT(a->reserve, a->initialBid);
    EXPECT_GT(a->expires, a->dateTime);
    EXPECT_FALSE(a->itemName.empty());
    EXPECT_LT(a->itemName.size(), 20u);
    EXPECT_LT(a->description.size(), 100u);
  }
  for (int64_t n = 4; n < 50; ++n) {
    const Event event = generateEvent(config, n);
    const Bid* b = event.bid();
    ASSERT_NE(b, nullptr) << n;
    EXPECT_GE(b->auction, 1000);
    EXPECT_LT(b->auction, 1000 + 3 + 10);
    EXPECT_GE(b->bidder, 1000);
    EXPECT_LT(b->bidder, 1000 + 1 + 10);
    EXPECT_GT(b->price, 0);
    EXPECT_LE(b->price, 100'000'000);  // 10^6 dollars in cents
    EXPECT_EQ(b->dateTime, kBaseTime);
    EXPECT_THAT(b->url, ::testing::StartsWith("https://www.nexmark.com/"));
  }
}

TEST(GeneratorTest, ProportionsAreExactlyOneThreeAndFortySixPerFifty) {
  const GeneratorConfig config;
  std::map<Event::Type, int64_t> counts;
  int64_t nextPerson = 1000;
  int64_t nextAuction = 1000;
  Event event;
  for (int64_t n = 0; n < 50'000; ++n) {
    generateEvent(config, n, event);
    ++counts[event.type()];
    const int64_t position = n % 50;
    if (position == 0) {
      ASSERT_EQ(event.type(), Event::Type::kPerson) << n;
      EXPECT_EQ(event.person()->id, nextPerson++);
    } else if (position <= 3) {
      ASSERT_EQ(event.type(), Event::Type::kAuction) << n;
      EXPECT_EQ(event.auction()->id, nextAuction++);
      // Sellers exist already or are among the next 10 people.
      EXPECT_LT(event.auction()->seller, nextPerson + 10);
    } else {
      ASSERT_EQ(event.type(), Event::Type::kBid) << n;
      // Bids go to an auction in flight (the last 100) or one of the next 10.
      EXPECT_LT(event.bid()->auction, nextAuction + 10);
      EXPECT_GE(event.bid()->auction, std::max<int64_t>(1000, nextAuction - 1 - 100));
      EXPECT_LT(event.bid()->bidder, nextPerson + 10);
      EXPECT_GE(event.bid()->bidder, std::max<int64_t>(1000, nextPerson - 1000));
    }
  }
  EXPECT_EQ(counts[Event::Type::kPerson], 1'000);
  EXPECT_EQ(counts[Event::Type::kAuction], 3'000);
  EXPECT_EQ(counts[Event::Type::kBid], 46'000);
}

TEST(GeneratorTest, ConfiguredProportions) {
  GeneratorConfig config;
  config.personProportion = 2;
  config.auctionProportion = 2;
  config.bidProportion = 6;
  std::map<Event::Type, int64_t> counts;
  for (int64_t n = 0; n < 1'000; ++n) {
    const Event event = generateEvent(config, n);
    ++counts[event.type()];
    if (n < 4) {
      EXPECT_EQ(event.type(), n < 2 ? Event::Type::kPerson : Event::Type::kAuction) << n;
    }
  }
  EXPECT_EQ(counts[Event::Type::kPerson], 200);
  EXPECT_EQ(counts[Event::Type::kAuction], 200);
  EXPECT_EQ(counts[Event::Type::kBid], 600);
  // Two persons and two auctions per 10 events: event 11 is the fourth person.
  EXPECT_EQ(generateEvent(config, 11).person()->id, 1003);
  EXPECT_EQ(generateEvent(config, 13).auction()->id, 1003);
}

TEST(GeneratorTest, TimestampsAreSpacedByTps) {
  GeneratorConfig config;
  config.tps = 1'000;  // one event per millisecond
  for (int64_t n : {0, 1, 2, 49, 50, 12'345}) {
    EXPECT_EQ(eventTimestamp(config, n), kBaseTime + n);
    EXPECT_EQ(generateEvent(config, n).dateTime(), kBaseTime + n);
  }
  config.tps = 4'000;
  EXPECT_EQ(eventTimestamp(config, 7), kBaseTime + 1);
  EXPECT_EQ(eventTimestamp(config, 8), kBaseTime + 2);
  config.tps = 10'000'000;  // the default: 10,000 events per millisecond
  EXPECT_EQ(eventTimestamp(config, 9'999), kBaseTime);
  EXPECT_EQ(eventTimestamp(config, 10'000), kBaseTime + 1);
  config.baseTime = 5;
  config.tps = 1;
  EXPECT_EQ(eventTimestamp(config, 3), 3'005);

  // An auction's expiry averages the time until numInFlightAuctions more auctions exist:
  // 100 auctions take 100 * 50 / 3 = 1666 events, 1666 ms at 1000 tps.
  config = GeneratorConfig{};
  config.tps = 1'000;
  int64_t total = 0;
  int64_t auctions = 0;
  for (int64_t n = 1; n < 20'000; n += 50) {
    const Event event = generateEvent(config, n);
    const Auction* a = event.auction();
    ASSERT_NE(a, nullptr);
    EXPECT_GE(a->expires - a->dateTime, 1);
    EXPECT_LE(a->expires - a->dateTime, 2 * 1666);
    total += a->expires - a->dateTime;
    ++auctions;
  }
  EXPECT_NEAR(static_cast<double>(total) / static_cast<double>(auctions), 1666.0, 200.0);
}

TEST(GeneratorTest, OutOfOrderGroupsPermuteTimestampsWithinTheGroup) {
  GeneratorConfig config;
  config.tps = 1'000;
  config.outOfOrderGroupSize = 10;
  bool outOfOrder = false;
  for (int64_t group = 0; group < 20; ++group) {
    std::set<int64_t> times;
    for (int64_t n = group * 10; n < group * 10 + 10; ++n) {
      const int64_t t = generateEvent(config, n).dateTime();
      EXPECT_EQ(t, eventTimestamp(config, n));
      outOfOrder |= t != kBaseTime + n;
      times.insert(t);
    }
    std::set<int64_t> expected;
    for (int64_t n = group * 10; n < group * 10 + 10; ++n)
      expected.insert(kBaseTime + n);
    EXPECT_EQ(times, expected) << group;
  }
  EXPECT_TRUE(outOfOrder);
  // Event 1 takes the place (id, seed and time) of event 953 % 10 = 3.
  GeneratorConfig inOrder;
  inOrder.tps = 1'000;
  EXPECT_EQ(generateEvent(config, 1), generateEvent(inOrder, 3));
}

TEST(GeneratorTest, SameConfigurationGivesTheSameEvents) {
  GeneratorConfig config;
  config.tps = 12'345;
  config.firstEventId = 77;
  Event reused;  // switches between persons, auctions and bids
  for (int64_t n = 0; n < 2'000; ++n) {
    const Event fresh = generateEvent(config, n);
    generateEvent(config, n, reused);
    ASSERT_EQ(fresh, reused) << n;
    ASSERT_EQ(fresh, generateEvent(config, n)) << n;
  }
  // The first event id shifts the sequence: event n is event n + 77 of the default ids.
  GeneratorConfig shifted;
  shifted.tps = config.tps;
  Event a = generateEvent(config, 3);
  EXPECT_EQ(a.type(), generateEvent(shifted, 80).type());
}

TEST(GeneratorTest, ExtraPadsEventsToTheirAverageSize) {
  GeneratorConfig config;
  config.avgBidByteSize = 300;
  int64_t bids = 0;
  int64_t bytes = 0;
  for (int64_t n = 0; n < 5'000; ++n) {
    const Event event = generateEvent(config, n);
    if (const Bid* b = event.bid()) {
      ++bids;
      bytes += 32 + static_cast<int64_t>(b->extra.size());
      ASSERT_GE(b->extra.size(), 214u);  // (300 - 32) * 0.8
      ASSERT_LT(b->extra.size(), 322u);  // (300 - 32) * 1.2
    }
  }
  EXPECT_NEAR(static_cast<double>(bytes) / static_cast<double>(bids), 300.0, 5.0);
  config.avgBidByteSize = 0;
  EXPECT_TRUE(generateEvent(config, 4).bid()->extra.empty());
}

TEST(GeneratorTest, BidChannelsAreHotOrNumbered) {
  const GeneratorConfig config;
  const std::set<std::string> hot = {"Google", "Facebook", "Baidu", "Apple"};
  int64_t hotCount = 0;
  int64_t numbered = 0;
  std::map<std::string, std::string> urlOf;
  for (int64_t n = 0; n < 10'000; ++n) {
    const Event event = generateEvent(config, n);
    const Bid* b = event.bid();
    if (b == nullptr)
      continue;
    if (hot.count(b->channel) != 0) {
      ++hotCount;
      EXPECT_THAT(b->url, ::testing::EndsWith("/item.htm?query=1"));
    } else {
      ++numbered;
      EXPECT_THAT(b->channel, ::testing::StartsWith("channel-"));
    }
    // A channel always has the same url.
    auto [it, inserted] = urlOf.emplace(b->channel, b->url);
    EXPECT_EQ(it->second, b->url) << b->channel;
  }
  EXPECT_NEAR(static_cast<double>(hotCount) / static_cast<double>(hotCount + numbered), 0.5, 0.03);
}

TEST(GeneratorConfigTest, ReadsJobArguments) {
  const GeneratorConfig c = GeneratorConfig::fromArgs(JobArgs::parse({"--events.num",
                                                                      "1000",
                                                                      "--tps",
                                                                      "500",
                                                                      "--rate-limited",
                                                                      "--base-time",
                                                                      "0",
                                                                      "--first-event-id",
                                                                      "3",
                                                                      "--person.proportion",
                                                                      "2",
                                                                      "--auction.proportion",
                                                                      "4",
                                                                      "--bid.proportion",
                                                                      "44",
                                                                      "--hot-auction-ratio",
                                                                      "3",
                                                                      "--hot-sellers-ratio",
                                                                      "5",
                                                                      "--hot-bidders-ratio",
                                                                      "6",
                                                                      "--num-active-people",
                                                                      "70",
                                                                      "--num-in-flight-auctions",
                                                                      "80",
                                                                      "--avg-person-byte-size",
                                                                      "90",
                                                                      "--avg-auction-byte-size",
                                                                      "91",
                                                                      "--avg-bid-byte-size",
                                                                      "92",
                                                                      "--out-of-order-group-size",
                                                                      "4"}));
  EXPECT_EQ(c.eventsNum, 1000);
  EXPECT_EQ(c.tps, 500);
  EXPECT_TRUE(c.rateLimited);
  EXPECT_EQ(c.baseTime, 0);
  EXPECT_EQ(c.firstEventId, 3);
  EXPECT_EQ(c.personProportion, 2);
  EXPECT_EQ(c.auctionProportion, 4);
  EXPECT_EQ(c.bidProportion, 44);
  EXPECT_EQ(c.hotAuctionRatio, 3);
  EXPECT_EQ(c.hotSellersRatio, 5);
  EXPECT_EQ(c.hotBiddersRatio, 6);
  EXPECT_EQ(c.numActivePeople, 70);
  EXPECT_EQ(c.numInFlightAuctions, 80);
  EXPECT_EQ(c.avgPersonByteSize, 90);
  EXPECT_EQ(c.avgAuctionByteSize, 91);
  EXPECT_EQ(c.avgBidByteSize, 92);
  EXPECT_EQ(c.outOfOrderGroupSize, 4);

  const GeneratorConfig defaults = GeneratorConfig::fromArgs(JobArgs::parse({"--query", "q1"}));
  EXPECT_EQ(defaults.eventsNum, 0);
  EXPECT_EQ(defaults.tps, 10'000'000);
  EXPECT_FALSE(defaults.rateLimited);
  EXPECT_EQ(defaults.totalProportion(), 50);
  EXPECT_FALSE(GeneratorConfig::fromArgs(JobArgs::parse({"--rate-limited=false"})).rateLimited);
}

// The message of the std::invalid_argument that fromArgs throws for `argv`.
std::string argumentError(const std::vector<std::string>& argv) {
  try {
    GeneratorConfig::fromArgs(JobArgs::parse(argv));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

TEST(GeneratorConfigTest, RejectsBadArgumentsNamingThem) {
  EXPECT_THAT(argumentError({"--tps", "fast"}), HasSubstr("--tps"));
  EXPECT_THAT(argumentError({"--tps", "0"}), HasSubstr("--tps must be at least 1"));
  EXPECT_THAT(argumentError({"--events.num", "-1"}), HasSubstr("--events.num"));
  EXPECT_THAT(argumentError({"--events.num", "12x"}), HasSubstr("--events.num"));
  EXPECT_THAT(argumentError({"--bid.proportion", "-3"}), HasSubstr("--bid.proportion"));
  EXPECT_THAT(argumentError({"--person.proportion", "0", "--auction.proportion", "0",
                             "--bid.proportion", "0"}),
              HasSubstr("proportion"));
  EXPECT_THAT(argumentError({"--hot-auction-ratio", "0"}), HasSubstr("--hot-auction-ratio"));
  EXPECT_THAT(argumentError({"--out-of-order-group-size", "0"}),
              HasSubstr("--out-of-order-group-size"));
  EXPECT_THAT(argumentError({"--avg-bid-byte-size", "-1"}), HasSubstr("--avg-bid-byte-size"));
  EXPECT_THAT(argumentError({"--rate-limited", "maybe"}), HasSubstr("--rate-limited"));
  EXPECT_THAT(argumentError({"--base-time", "noon"}), HasSubstr("--base-time"));
  EXPECT_THAT(argumentError({"--first-event-id", "-5"}), HasSubstr("--first-event-id"));
}

}  // namespace
}  // namespace brook::nexmark
