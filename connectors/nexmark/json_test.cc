// Nexmark events as JSON lines: the written format, round trips of generated events, escapes,
// and parse errors that name the field and the column.

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/nexmark/generator.h>
#include <brook/nexmark/json.h>

namespace brook::nexmark {
namespace {

using ::testing::HasSubstr;

std::string toJson(const Event& event) {
  std::string out;
  appendJson(event, out);
  return out;
}

// The error message of parsing `line`, or "ok".
std::string parseError(std::string_view line) {
  absl::StatusOr<Event> event = parseEventJson(line);
  if (event.ok())
    return "ok";
  EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(event.status().message());
}

TEST(JsonTest, WritesEventZeroAsTheReferenceLine) {
  // Event 0 as written by a Java program running Beam's generator (model field names).
  constexpr std::string_view kReference =
      R"({"type":"person","id":1000,"name":"Peter Jones","emailAddress":"nhd@xcat.com",)"
      R"("creditCard":"7241 7320 9143 4888","city":"Portland","state":"WY",)"
      R"("dateTime":1436918400000,"extra":"WN_HS_bnpkkiwhwana_L^`KZjdgsid`K]MLU[aaOH`ztxbulvl)"
      R"(xtkn_ZZ^T\\mqgdjzvlkymsmfrhkfVYSXK_OY[aVYVKa\\X^]RO]OYguwiduWJNQLLaMLHOTaHY_J[YKWaUOSJ)"
      R"(N_VHWXZ]`SgbnjqeVVQ\\[["})";
  EXPECT_EQ(toJson(generateEvent(GeneratorConfig{}, 0)), kReference);
}

TEST(JsonTest, WritesEachTypeWithItsFields) {
  Event bid;
  bid.value = Bid{1001, 1002, 2500, "Google", "https://x/y", 17, ""};
  EXPECT_EQ(toJson(bid),
            R"({"type":"bid","auction":1001,"bidder":1002,"price":2500,"channel":"Google",)"
            R"("url":"https://x/y","dateTime":17,"extra":""})");
  Event auction;
  auction.value = Auction{5, "item", "desc", 1, 2, 3, 4, 6, 10, "x"};
  EXPECT_EQ(toJson(auction),
            R"({"type":"auction","id":5,"itemName":"item","description":"desc","initialBid":1,)"
            R"("reserve":2,"dateTime":3,"expires":4,"seller":6,"category":10,"extra":"x"})");
  Event person;
  person.value = Person{-7, "n", "e", "c", "ci", "st", -9223372036854775807LL - 1, "z"};
  EXPECT_EQ(toJson(person),
            R"({"type":"person","id":-7,"name":"n","emailAddress":"e","creditCard":"c",)"
            R"("city":"ci","state":"st","dateTime":-9223372036854775808,"extra":"z"})");
}

TEST(JsonTest, GeneratedEventsRoundTrip) {
  GeneratorConfig config;
  config.tps = 1'000;
  config.outOfOrderGroupSize = 3;
  std::string line;
  Event event;
  for (int64_t n = 0; n < 20'000; ++n) {
    generateEvent(config, n, event);
    line.clear();
    appendJson(event, line);
    absl::StatusOr<Event> parsed = parseEventJson(line);
    ASSERT_TRUE(parsed.ok()) << parsed.status() << " in " << line;
    ASSERT_EQ(*parsed, event) << line;
  }
}

TEST(JsonTest, EscapesStringsAndRoundTrips) {
  Event event;
  event.value = Person{1,
                       "say \"hi\"\\",
                       "tab\there\nnew\rline",
                       std::string("nul\0x\x01\x1f", 7),
                       "Zürich €",
                       "\b\f/",
                       2,
                       "\x7f"};
  const std::string json = toJson(event);
  EXPECT_THAT(json, HasSubstr(R"("name":"say \"hi\"\\")"));
  EXPECT_THAT(json, HasSubstr(R"("emailAddress":"tab\there\nnew\rline")"));
  EXPECT_THAT(json, HasSubstr(R"("creditCard":"nul\u0000x\u0001\u001f")"));
  EXPECT_THAT(json, HasSubstr("\"city\":\"Zürich €\""));
  EXPECT_THAT(json, HasSubstr(R"("state":"\b\f/")"));
  absl::StatusOr<Event> parsed = parseEventJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, event);
}

TEST(JsonTest, ParsesFieldsInAnyOrderWithWhitespaceAndEscapes) {
  absl::StatusOr<Event> parsed = parseEventJson(
      " \t{ \"extra\" : \"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\/\" , \"dateTime\":5,"
      "\"url\":\"u\",\"channel\":\"c\",\"price\":-3,\"bidder\":0,\"auction\":9, "
      "\"type\":\"bid\"}\r\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Bid* bid = parsed->bid();
  ASSERT_NE(bid, nullptr);
  EXPECT_EQ(bid->auction, 9);
  EXPECT_EQ(bid->bidder, 0);
  EXPECT_EQ(bid->price, -3);
  EXPECT_EQ(bid->channel, "c");
  EXPECT_EQ(bid->url, "u");
  EXPECT_EQ(bid->dateTime, 5);
  EXPECT_EQ(bid->extra, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/");
}

TEST(JsonTest, ParseErrorsNameTheFieldAndColumn) {
  const std::string bid =
      R"({"type":"bid","auction":1,"bidder":2,"price":3,"channel":"c","url":"u","dateTime":4,)"
      R"("extra":""})";
  EXPECT_EQ(parseError(bid), "ok");

  EXPECT_EQ(parseError(R"({"type":"bid","colour":"red"})"), "unknown field 'colour' at column 15");
  EXPECT_EQ(parseError(R"({"type":"bid","auction":1,"auction":2})"),
            "duplicate field 'auction' at column 27");
  EXPECT_EQ(parseError(R"({"type":"bid","auction":"1"})"),
            "field 'auction' must be an integer at column 25");
  EXPECT_EQ(parseError(R"({"type":"bid","channel":7})"),
            "field 'channel' must be a string at column 25");
  EXPECT_EQ(parseError(R"({"type":"bid","price":2.5})"),
            "field 'price' must be an integer at column 24");
  EXPECT_EQ(parseError(R"({"type":"bid","price":1e3})"),
            "field 'price' must be an integer at column 24");
  EXPECT_THAT(parseError(R"({"type":"bid","price":99999999999999999999})"),
              HasSubstr("field 'price' is out of the range of a 64-bit integer"));
  EXPECT_THAT(parseError(R"({"type":"bid","price":007})"),
              HasSubstr("field 'price' has a leading zero"));
  EXPECT_THAT(parseError(R"({"type":"bid","price":null})"),
              HasSubstr("field 'price' must be an integer"));
  EXPECT_EQ(parseError(R"({"type":"car"})"),
            R"(field 'type' must be "person", "auction" or "bid", got "car" at column 2)");
  EXPECT_EQ(parseError(R"({"auction":1})"), "missing field 'type' at column 1");
  EXPECT_THAT(parseError(R"({"type":"bid","auction":1})"),
              HasSubstr("missing field 'dateTime' of a bid"));
  EXPECT_EQ(parseError(R"({"type":"bid","id":1})"),
            "field 'id' does not belong to a bid at column 15");
  EXPECT_THAT(parseError(R"({"type":"bid","url":"abc)"),
              HasSubstr("unterminated string in field 'url'"));
  EXPECT_EQ(parseError(R"({"type":"bid","url":"a\qb"})"),
            "invalid escape in field 'url' at column 23");
  EXPECT_EQ(parseError(R"({"type":"bid","url":"\u12G4"})"),
            "invalid \\u escape in field 'url' at column 22");
  EXPECT_EQ(parseError(R"({"type":"bid","url":"\ud800x"})"),
            "unpaired surrogate in field 'url' at column 22");
  EXPECT_EQ(parseError(R"({"type":"bid","url":"\udc00"})"),
            "unpaired surrogate in field 'url' at column 22");
  EXPECT_THAT(parseError("{\"type\":\"bid\",\"url\":\"a\tb\"}"),
              HasSubstr("control character in field 'url'"));
  EXPECT_EQ(parseError(R"({"type" "bid"})"), "expected ':' after field 'type' at column 9");
  EXPECT_EQ(parseError(R"({"type":"bid" "url":"u"})"),
            "expected ',' or '}' after field 'type' at column 15");
  EXPECT_EQ(parseError(R"({type:"bid"})"), "expected a field name in quotes at column 2");
  EXPECT_EQ(parseError(bid + " x"),
            "unexpected characters after the event at column " + std::to_string(bid.size() + 2));
  EXPECT_EQ(parseError(""), "expected '{' at the start of an event at column 1");
  EXPECT_EQ(parseError("[1]"), "expected '{' at the start of an event at column 1");
  EXPECT_EQ(parseError("{}"), "missing field 'type' at column 1");
  EXPECT_THAT(parseError(R"({"type":"bid",)"), HasSubstr("expected a field name in quotes"));
}

// Mutated and truncated lines: the parser never reads out of bounds or crashes, and whatever it
// accepts writes back to a line that parses to the same event.
TEST(JsonTest, SurvivesMutatedLines) {
  GeneratorConfig config;
  std::mt19937 engine(12345);
  const std::string alphabet = "{}[]:,\"\\ u0123456789abcdefABCDEF-.e\t\x01\xff";
  int accepted = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string line = toJson(generateEvent(config, i % 100));
    const int mutations = 1 + static_cast<int>(engine() % 3);
    for (int m = 0; m < mutations; ++m) {
      const size_t at = engine() % line.size();
      switch (engine() % 3) {
        case 0:
          line[at] = alphabet[engine() % alphabet.size()];
          break;
        case 1:
          line.erase(at, 1 + engine() % 4);
          break;
        default:
          line.resize(at);
      }
      if (line.empty())
        break;
    }
    absl::StatusOr<Event> parsed = parseEventJson(line);
    if (!parsed.ok()) {
      EXPECT_THAT(parsed.status().message(), HasSubstr("at column")) << line;
      continue;
    }
    ++accepted;
    absl::StatusOr<Event> again = parseEventJson(toJson(*parsed));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, *parsed);
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace brook::nexmark
