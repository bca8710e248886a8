#include <chrono>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <brook/functions.h>
#include <brook/nexmark/generator.h>
#include <brook/nexmark/internal/java_random.h>

namespace brook::nexmark {
namespace {

using internal::JavaRandom;

// The constants of Beam's generator (GeneratorConfig, PersonGenerator, AuctionGenerator,
// BidGenerator) and of nexmark/nexmark's BidGenerator for channels and urls.
constexpr int64_t kFirstPersonId = 1000;
constexpr int64_t kFirstAuctionId = 1000;
constexpr int64_t kFirstCategoryId = 10;
constexpr int32_t kNumCategories = 5;
constexpr int64_t kPersonIdLead = 10;
constexpr int64_t kAuctionIdLead = 10;
// Hot sellers, auctions and bidders are the first (bidders: second) of their batch of 100.
constexpr int64_t kHotSellerBatch = 100;
constexpr int64_t kHotAuctionBatch = 100;
constexpr int64_t kHotBidderBatch = 100;
constexpr int32_t kHotChannelsRatio = 2;
constexpr int32_t kChannelsNumber = 10'000;
constexpr int32_t kMinStringLength = 3;
// Events are shuffled within a group by this multiplier of the event number.
constexpr int64_t kOutOfOrderMultiplier = 953;

constexpr std::array<std::string_view, 6> kUsStates = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr std::array<std::string_view, 10> kUsCities = {
    "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
    "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
constexpr std::array<std::string_view, 11> kFirstNames = {
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"};
constexpr std::array<std::string_view, 9> kLastNames = {
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"};
constexpr std::array<std::string_view, 4> kHotChannels = {"Google", "Facebook", "Baidu", "Apple"};

template <size_t N>
std::string_view pick(JavaRandom& random, const std::array<std::string_view, N>& values) {
  return values[static_cast<size_t>(random.nextInt(static_cast<int32_t>(N)))];
}

// Java's Math.round(double): the closest long, ties toward positive infinity. (floor(x + 0.5)
// differs from it for the double just below 0.5.)
int64_t javaRound(double x) {
  const double floor = std::floor(x);
  return static_cast<int64_t>(x - floor >= 0.5 ? floor + 1 : floor);
}

// Beam's LongGenerator.nextLong: a value in [0, n), n > 0, from nextInt when it fits.
int64_t nextLong(JavaRandom& random, int64_t n) {
  if (n < std::numeric_limits<int32_t>::max())
    return random.nextInt(static_cast<int32_t>(n));
  const int64_t r = random.nextLong() % n;
  return r < 0 ? -r : r;
}

// Appends a random string of 3 to maxLength - 1 characters: letters, with about one in 13
// `special`, then trimmed of spaces at both ends as Java's String.trim.
void appendNextString(JavaRandom& random, int32_t maxLength, char special, std::string& out) {
  const int32_t length = kMinStringLength + random.nextInt(maxLength - kMinStringLength);
  // Written into a buffer first: appending character by character costs a capacity check each.
  char stackBuffer[128];
  std::string heapBuffer;
  char* chars = stackBuffer;
  if (length > static_cast<int32_t>(sizeof stackBuffer)) {
    heapBuffer.resize(static_cast<size_t>(length));
    chars = heapBuffer.data();
  }
  for (int32_t i = 0; i < length; ++i)
    chars[i] = random.nextInt(13) == 0 ? special : static_cast<char>('a' + random.nextInt(26));
  // Trimmed of spaces at both ends, as Java's String.trim() of these strings.
  int32_t first = 0;
  int32_t end = length;
  while (end > 0 && chars[end - 1] == ' ')
    --end;
  while (first < end && chars[first] == ' ')
    ++first;
  out.append(chars + first, static_cast<size_t>(end - first));
}

// Appends exactly `length` characters, six per random int. As in Java, `rnd % 26` of a
// negative int is negative, so the characters range from 'H' to 'z'.
void appendNextExactString(JavaRandom& random, int32_t length, std::string& out) {
  const size_t start = out.size();
  out.resize(start + static_cast<size_t>(length));
  char* chars = out.data() + start;
  // Character i of a random int is (rnd / 26^i) % 26: Java divides by 26 after each, and
  // truncating divisions compose, so the six are computed independently of one another.
  // The divisors are literals, so that each division is a multiplication.
  auto character = [](int32_t rnd, int32_t power) {
    return static_cast<char>('a' + rnd / power % 26);
  };
  int32_t remaining = length;
  for (; remaining >= 6; remaining -= 6, chars += 6) {
    const int32_t rnd = random.nextInt();
    chars[0] = character(rnd, 1);
    chars[1] = character(rnd, 26);
    chars[2] = character(rnd, 676);
    chars[3] = character(rnd, 17'576);
    chars[4] = character(rnd, 456'976);
    chars[5] = character(rnd, 11'881'376);
  }
  if (remaining > 0) {
    int32_t rnd = random.nextInt();
    for (int32_t i = 0; i < remaining; ++i, rnd /= 26)
      chars[i] = character(rnd, 1);
  }
}

// Sets `out` to a padding such that `currentSize + out.size()` averages `desiredAverageSize`.
void nextExtra(JavaRandom& random,
               int32_t currentSize,
               int32_t desiredAverageSize,
               std::string& out) {
  out.clear();
  if (currentSize > desiredAverageSize)
    return;
  desiredAverageSize -= currentSize;
  const auto delta = static_cast<int32_t>(javaRound(desiredAverageSize * 0.2));
  const int32_t minSize = desiredAverageSize - delta;
  const int32_t size = minSize + (delta == 0 ? 0 : random.nextInt(2 * delta));
  out.reserve(static_cast<size_t>(size));
  appendNextExactString(random, size, out);
}

// Beam's PriceGenerator: cents, log-uniform between 1 and 10^6 dollars.
int64_t nextPrice(JavaRandom& random) {
  return javaRound(std::pow(10.0, random.nextDouble() * 6.0) * 100.0);
}

// The event number whose timestamp and id event number `eventNumber` takes: events are
// shuffled within groups of outOfOrderGroupSize.
int64_t adjustedEventNumber(const GeneratorConfig& config, int64_t eventNumber) {
  const int64_t n = config.outOfOrderGroupSize;
  return (eventNumber / n) * n + (eventNumber * kOutOfOrderMultiplier) % n;
}

int64_t timestampForEvent(const GeneratorConfig& config, int64_t eventNumber) {
  // As nexmark/nexmark (Beam keeps the delay in whole microseconds, which would be 0 at the
  // default rate): the offset in microseconds is truncated, then divided.
  return config.baseTime +
         static_cast<int64_t>(static_cast<double>(eventNumber) * config.interEventDelayMicros()) /
             1000;
}

// The last person id (base 0) generated at or before event id `eventId`.
int64_t lastBase0PersonId(const GeneratorConfig& config, int64_t eventId) {
  const int64_t epoch = eventId / config.totalProportion();
  int64_t offset = eventId % config.totalProportion();
  if (offset >= config.personProportion)
    offset = config.personProportion - 1;  // an auction or bid: the last person of this epoch
  return epoch * config.personProportion + offset;
}

// The last auction id (base 0) generated at or before event id `eventId`.
int64_t lastBase0AuctionId(const GeneratorConfig& config, int64_t eventId) {
  int64_t epoch = eventId / config.totalProportion();
  int64_t offset = eventId % config.totalProportion();
  if (offset < config.personProportion) {
    --epoch;  // a person: the last auction of the previous epoch
    offset = config.auctionProportion - 1;
  } else if (offset >= config.personProportion + config.auctionProportion) {
    offset = config.auctionProportion - 1;  // a bid: the last auction of this epoch
  } else {
    offset -= config.personProportion;  // an auction: this one
  }
  return epoch * config.auctionProportion + offset;
}

// A random person among the most recent numActivePeople, or a few not yet generated.
int64_t nextBase0PersonId(const GeneratorConfig& config, JavaRandom& random, int64_t eventId) {
  const int64_t numPeople = lastBase0PersonId(config, eventId) + 1;
  const int64_t activePeople = std::min(numPeople, config.numActivePeople);
  return numPeople - activePeople + nextLong(random, activePeople + kPersonIdLead);
}

// A random auction among those likely still in flight, or a few not yet generated.
int64_t nextBase0AuctionId(const GeneratorConfig& config, JavaRandom& random, int64_t eventId) {
  const int64_t maxAuction = lastBase0AuctionId(config, eventId);
  const int64_t minAuction = std::max<int64_t>(maxAuction - config.numInFlightAuctions, 0);
  return minAuction + nextLong(random, maxAuction - minAuction + 1 + kAuctionIdLead);
}

// A random auction length whose average is the time until numInFlightAuctions more auctions
// will have been generated.
int64_t nextAuctionLengthMs(const GeneratorConfig& config,
                            JavaRandom& random,
                            int64_t adjustedNumber,
                            int64_t timestamp) {
  const int64_t numEventsForAuctions =
      config.numInFlightAuctions * config.totalProportion() / config.auctionProportion;
  const int64_t futureAuction = timestampForEvent(config, adjustedNumber + numEventsForAuctions);
  const int64_t horizonMs = futureAuction - timestamp;
  return 1 + nextLong(random, std::max<int64_t>(horizonMs * 2, 1));
}

// "https://www.nexmark.com/<a>/<b>/<c>/item.htm?query=1" with random path parts.
std::string baseUrl(JavaRandom& random) {
  std::string url = "https://www.nexmark.com/";
  for (int i = 0; i < 3; ++i) {
    appendNextString(random, 5, '_', url);
    url += '/';
  }
  url += "item.htm?query=1";
  return url;
}

// Java's Math.abs(Integer.reverse(n)), with Java's overflow for the minimum int.
int64_t reversedChannelId(int32_t n) {
  uint32_t bits = static_cast<uint32_t>(n);
  uint32_t reversed = 0;
  for (int i = 0; i < 32; ++i, bits >>= 1)
    reversed = (reversed << 1) | (bits & 1);
  const auto value = static_cast<int32_t>(reversed);
  if (value == std::numeric_limits<int32_t>::min())
    return value;
  return value < 0 ? -value : value;
}

// The bid channels and their urls. nexmark/nexmark draws the urls from unseeded generators when
// a channel is first used; here each url comes from a java.util.Random seeded by its channel, so
// that the events stay a function of the configuration.
struct ChannelTable {
  std::array<std::string, kHotChannels.size()> hotUrls;
  std::vector<std::string> names;  // "channel-<n>"
  std::vector<std::string> urls;

  ChannelTable() {
    for (size_t i = 0; i < kHotChannels.size(); ++i) {
      JavaRandom random(-1 - static_cast<int64_t>(i));
      hotUrls[i] = baseUrl(random);
    }
    names.reserve(kChannelsNumber);
    urls.reserve(kChannelsNumber);
    for (int32_t n = 0; n < kChannelsNumber; ++n) {
      JavaRandom random(n);
      std::string url = baseUrl(random);
      // Nine in ten channels name themselves in the url.
      if (random.nextInt(10) > 0)
        url += "&channel_id=" + std::to_string(reversedChannelId(n));
      names.push_back("channel-" + std::to_string(n));
      urls.push_back(std::move(url));
    }
  }
};

const ChannelTable& channelTable() {
  static const ChannelTable kTable;
  return kTable;
}

// The `T` that `event` holds, made to hold one if it holds another type, so that its strings'
// buffers are reused when the type repeats.
template <typename T>
T& holding(Event& event) {
  if (T* held = std::get_if<T>(&event.value))
    return *held;
  return event.value.emplace<T>();
}

void nextPerson(const GeneratorConfig& config,
                JavaRandom& random,
                int64_t eventId,
                int64_t timestamp,
                Person& person) {
  person.id = lastBase0PersonId(config, eventId) + kFirstPersonId;
  person.name.assign(pick(random, kFirstNames));
  person.name += ' ';
  person.name += pick(random, kLastNames);
  person.emailAddress.clear();
  appendNextString(random, 7, ' ', person.emailAddress);
  person.emailAddress += '@';
  appendNextString(random, 5, ' ', person.emailAddress);
  person.emailAddress += ".com";
  person.creditCard.assign(19, ' ');
  for (size_t group = 0; group < 4; ++group) {
    int32_t digits = random.nextInt(10'000);
    for (size_t i = 4; i-- > 0; digits /= 10)
      person.creditCard[group * 5 + i] = static_cast<char>('0' + digits % 10);
  }
  person.city.assign(pick(random, kUsCities));
  person.state.assign(pick(random, kUsStates));
  person.dateTime = timestamp;
  const auto currentSize =
      static_cast<int32_t>(8 + person.name.size() + person.emailAddress.size() +
                           person.creditCard.size() + person.city.size() + person.state.size());
  nextExtra(random, currentSize, static_cast<int32_t>(config.avgPersonByteSize), person.extra);
}

void nextAuction(const GeneratorConfig& config,
                 JavaRandom& random,
                 int64_t eventId,
                 int64_t adjustedNumber,
                 int64_t timestamp,
                 Auction& auction) {
  auction.id = lastBase0AuctionId(config, eventId) + kFirstAuctionId;
  // One in hotSellersRatio auctions is by a random active person; the others by the first
  // person of the latest batch of 100.
  int64_t seller;
  if (random.nextInt(static_cast<int32_t>(config.hotSellersRatio)) > 0)
    seller = (lastBase0PersonId(config, eventId) / kHotSellerBatch) * kHotSellerBatch;
  else
    seller = nextBase0PersonId(config, random, eventId);
  auction.seller = seller + kFirstPersonId;
  auction.category = kFirstCategoryId + random.nextInt(kNumCategories);
  auction.initialBid = nextPrice(random);
  auction.dateTime = timestamp;
  auction.expires = timestamp + nextAuctionLengthMs(config, random, adjustedNumber, timestamp);
  auction.itemName.clear();
  appendNextString(random, 20, ' ', auction.itemName);
  auction.description.clear();
  appendNextString(random, 100, ' ', auction.description);
  auction.reserve = auction.initialBid + nextPrice(random);
  const auto currentSize =
      static_cast<int32_t>(8 + auction.itemName.size() + auction.description.size() + 40);
  nextExtra(random, currentSize, static_cast<int32_t>(config.avgAuctionByteSize), auction.extra);
}

void nextBid(const GeneratorConfig& config,
             JavaRandom& random,
             int64_t eventId,
             int64_t timestamp,
             Bid& bid) {
  // One in hotAuctionRatio bids is on a random auction in flight; the others on the first
  // auction of the latest batch of 100.
  int64_t auction;
  if (random.nextInt(static_cast<int32_t>(config.hotAuctionRatio)) > 0)
    auction = (lastBase0AuctionId(config, eventId) / kHotAuctionBatch) * kHotAuctionBatch;
  else
    auction = nextBase0AuctionId(config, random, eventId);
  bid.auction = auction + kFirstAuctionId;
  // Hot bidders are the second person of the latest batch, so that they are not hot sellers.
  int64_t bidder;
  if (random.nextInt(static_cast<int32_t>(config.hotBiddersRatio)) > 0)
    bidder = (lastBase0PersonId(config, eventId) / kHotBidderBatch) * kHotBidderBatch + 1;
  else
    bidder = nextBase0PersonId(config, random, eventId);
  bid.bidder = bidder + kFirstPersonId;
  bid.price = nextPrice(random);
  const ChannelTable& channels = channelTable();
  if (random.nextInt(kHotChannelsRatio) > 0) {
    const auto i = static_cast<size_t>(random.nextInt(static_cast<int32_t>(kHotChannels.size())));
    bid.channel.assign(kHotChannels[i]);
    bid.url.assign(channels.hotUrls[i]);
  } else {
    const auto n = static_cast<size_t>(random.nextInt(kChannelsNumber));
    bid.channel.assign(channels.names[n]);
    bid.url.assign(channels.urls[n]);
  }
  bid.dateTime = timestamp;
  nextExtra(random, 32, static_cast<int32_t>(config.avgBidByteSize), bid.extra);
}

// Reads integer argument `key` (default `fallback`), at least `min` and at most `max`.
int64_t intArg(const JobArgs& args,
               const std::string& key,
               int64_t fallback,
               int64_t min,
               int64_t max = std::numeric_limits<int64_t>::max()) {
  const int64_t value = args.getInt(key, fallback);  // throws naming the key if not a number
  if (value < min || value > max) {
    std::string range = max == std::numeric_limits<int64_t>::max()
                            ? "at least " + std::to_string(min)
                            : "between " + std::to_string(min) + " and " + std::to_string(max);
    throw std::invalid_argument("job argument --" + key + " must be " + range + ", got " +
                                std::to_string(value));
  }
  return value;
}

}  // namespace

GeneratorConfig GeneratorConfig::fromArgs(const JobArgs& args) {
  // The byte sizes and ratios feed Java int arithmetic in the generator: keep them in range.
  constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();
  constexpr int64_t kMaxByteSize = 1 << 24;
  GeneratorConfig c;
  c.eventsNum = intArg(args, "events.num", c.eventsNum, 0);
  c.tps = intArg(args, "tps", c.tps, 1);
  if (args.has("rate-limited")) {
    const std::string& value = args.get("rate-limited");
    if (value == "true")
      c.rateLimited = true;
    else if (value == "false")
      c.rateLimited = false;
    else
      throw std::invalid_argument("job argument --rate-limited is a flag (or true/false), got '" +
                                  value + "'");
  }
  if (args.has("base-time") && args.get("base-time") == "now") {
    c.baseTime = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    c.eventTimeIsWallClock = true;
  } else {
    c.baseTime = args.getInt("base-time", c.baseTime);
  }
  c.firstEventId = intArg(args, "first-event-id", c.firstEventId, 0);
  c.personProportion = intArg(args, "person.proportion", c.personProportion, 0, kMaxInt);
  c.auctionProportion = intArg(args, "auction.proportion", c.auctionProportion, 0, kMaxInt);
  c.bidProportion = intArg(args, "bid.proportion", c.bidProportion, 0, kMaxInt);
  if (c.totalProportion() == 0) {
    throw std::invalid_argument(
        "job arguments --person.proportion, --auction.proportion and --bid.proportion must not "
        "all be 0");
  }
  c.hotAuctionRatio = intArg(args, "hot-auction-ratio", c.hotAuctionRatio, 1, kMaxInt);
  c.hotSellersRatio = intArg(args, "hot-sellers-ratio", c.hotSellersRatio, 1, kMaxInt);
  c.hotBiddersRatio = intArg(args, "hot-bidders-ratio", c.hotBiddersRatio, 1, kMaxInt);
  c.numActivePeople = intArg(args, "num-active-people", c.numActivePeople, 1, kMaxInt);
  c.numInFlightAuctions = intArg(args, "num-in-flight-auctions", c.numInFlightAuctions, 1, kMaxInt);
  c.avgPersonByteSize = intArg(args, "avg-person-byte-size", c.avgPersonByteSize, 0, kMaxByteSize);
  c.avgAuctionByteSize =
      intArg(args, "avg-auction-byte-size", c.avgAuctionByteSize, 0, kMaxByteSize);
  c.avgBidByteSize = intArg(args, "avg-bid-byte-size", c.avgBidByteSize, 0, kMaxByteSize);
  c.outOfOrderGroupSize = intArg(args, "out-of-order-group-size", c.outOfOrderGroupSize, 1);
  return c;
}

Event generateEvent(const GeneratorConfig& config, int64_t eventNumber) {
  Event event;
  generateEvent(config, eventNumber, event);
  return event;
}

void generateEvent(const GeneratorConfig& config, int64_t eventNumber, Event& event) {
  const int64_t adjusted = adjustedEventNumber(config, eventNumber);
  const int64_t eventId = config.firstEventId + adjusted;
  const int64_t timestamp = timestampForEvent(config, adjusted);
  JavaRandom random(eventId);
  const int64_t rem = eventId % config.totalProportion();
  if (rem < config.personProportion)
    nextPerson(config, random, eventId, timestamp, holding<Person>(event));
  else if (rem < config.personProportion + config.auctionProportion)
    nextAuction(config, random, eventId, adjusted, timestamp, holding<Auction>(event));
  else
    nextBid(config, random, eventId, timestamp, holding<Bid>(event));
}

int64_t eventTimestamp(const GeneratorConfig& config, int64_t eventNumber) {
  return timestampForEvent(config, adjustedEventNumber(config, eventNumber));
}

}  // namespace brook::nexmark
