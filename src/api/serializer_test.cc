#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/functions.h>
#include <brook/serializer.h>
#include <brook/text_format.h>

// User record types, declared serializable at global scope as jobs do.
struct Point {
  int32_t x = 0;
  double y = 0;
  std::string label;
  bool operator==(const Point&) const = default;
};
BROOK_SERIALIZABLE(Point, &Point::x, &Point::y, &Point::label);

struct Polygon {
  std::string name;
  std::vector<Point> points;
  bool operator==(const Polygon&) const = default;
};
BROOK_SERIALIZABLE(Polygon, &Polygon::name, &Polygon::points);

struct Unserializable {
  int x = 0;
};

struct Celsius {
  double degrees = 0;
};
std::ostream& operator<<(std::ostream& os, const Celsius& c) {
  return os << c.degrees << " C";
}

namespace brook {
namespace {

using ::testing::HasSubstr;

enum class Color : uint8_t { kRed = 1, kGreen = 7, kBlue = 200 };
enum Level : int32_t { kLow = -3, kHigh = 1 << 20 };

static_assert(HasSerializer<int32_t>);
static_assert(HasSerializer<Point>);
static_assert(HasSerializer<Polygon>);
static_assert(HasSerializer<std::map<std::string, std::vector<Point>>>);
static_assert(!HasSerializer<Unserializable>);

template <typename T>
std::string bytesOf(const T& value) {
  DataOutput out;
  serialize(value, out);
  return std::string(out.view());
}

// Deserializes `bytes` into a fresh T and checks that every byte was consumed.
template <typename T>
T decode(std::string_view bytes) {
  DataInput in(bytes);
  T value{};
  deserialize(in, value);
  EXPECT_EQ(in.remaining(), 0u) << "bytes left over after deserializing";
  return value;
}

template <typename T>
T roundTrip(const T& value) {
  return decode<T>(bytesOf(value));
}

// Every strict prefix of a valid encoding is truncated input.
template <typename T>
void expectEveryPrefixThrows(const T& value) {
  std::string bytes = bytesOf(value);
  ASSERT_FALSE(bytes.empty());
  for (size_t n = 0; n < bytes.size(); ++n) {
    DataInput in(bytes.data(), n);
    T out{};
    EXPECT_THROW(deserialize(in, out), SerializationError) << "prefix of " << n << " bytes";
  }
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) {
    if (!s.empty())
      s += ' ';
    s += kDigits[c >> 4];
    s += kDigits[c & 15];
  }
  return s;
}

TEST(SerializerTest, RoundTripsIntegers) {
  EXPECT_EQ(roundTrip<int8_t>(-128), -128);
  EXPECT_EQ(roundTrip<uint8_t>(255), 255);
  EXPECT_EQ(roundTrip<int16_t>(-12345), -12345);
  EXPECT_EQ(roundTrip<uint16_t>(65535), 65535);
  EXPECT_EQ(roundTrip<int32_t>(std::numeric_limits<int32_t>::min()),
            std::numeric_limits<int32_t>::min());
  EXPECT_EQ(roundTrip<uint32_t>(4'000'000'000u), 4'000'000'000u);
  EXPECT_EQ(roundTrip<int64_t>(std::numeric_limits<int64_t>::min()),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(roundTrip<int64_t>(std::numeric_limits<int64_t>::max()),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(roundTrip<uint64_t>(std::numeric_limits<uint64_t>::max()),
            std::numeric_limits<uint64_t>::max());
}

TEST(SerializerTest, RoundTripsBoolCharAndEnums) {
  EXPECT_TRUE(roundTrip(true));
  EXPECT_FALSE(roundTrip(false));
  EXPECT_EQ(roundTrip('z'), 'z');
  EXPECT_EQ(roundTrip('\0'), '\0');
  EXPECT_EQ(roundTrip(Color::kBlue), Color::kBlue);
  EXPECT_EQ(roundTrip(Color::kGreen), Color::kGreen);
  EXPECT_EQ(roundTrip(kLow), kLow);
  EXPECT_EQ(roundTrip(kHigh), kHigh);
  EXPECT_EQ(bytesOf(Color::kBlue), std::string("\xc8", 1));
  EXPECT_EQ(bytesOf(kLow), std::string("\xfd\xff\xff\xff", 4));
  EXPECT_EQ(bytesOf(true), std::string("\x01", 1));
}

TEST(SerializerTest, RoundTripsFloatingPointBitForBit) {
  EXPECT_EQ(roundTrip(3.25), 3.25);
  EXPECT_EQ(roundTrip(-1.5f), -1.5f);
  EXPECT_EQ(roundTrip(std::numeric_limits<double>::denorm_min()),
            std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(roundTrip(std::numeric_limits<double>::infinity()),
            std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::signbit(roundTrip(-0.0)));
  EXPECT_TRUE(std::isnan(roundTrip(std::numeric_limits<double>::quiet_NaN())));
  // IEEE 754 binary64 of 1.0 is 0x3ff0000000000000, written little-endian.
  EXPECT_EQ(bytesOf(1.0), std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f", 8));
}

TEST(SerializerTest, WritesInt32LittleEndian) {
  EXPECT_EQ(bytesOf<int32_t>(0x01020304), std::string("\x04\x03\x02\x01", 4));
  EXPECT_EQ(bytesOf<int32_t>(-2), std::string("\xfe\xff\xff\xff", 4));
  EXPECT_EQ(bytesOf<int64_t>(0x0102030405060708),
            std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
}

TEST(SerializerTest, RoundTripsStrings) {
  EXPECT_EQ(roundTrip(std::string()), "");
  EXPECT_EQ(roundTrip(std::string("hello")), "hello");
  std::string binary("a\0b\xff", 4);
  EXPECT_EQ(roundTrip(binary), binary);
}

TEST(SerializerTest, RoundTripsOneMegabyteString) {
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>(i * 131 + (i >> 9));
  std::string bytes = bytesOf(big);
  // 2^20 as a varint: 0x80 0x80 0x40.
  ASSERT_EQ(bytes.size(), 3u + big.size());
  EXPECT_EQ(hex(bytes.substr(0, 3)), "80 80 40");
  EXPECT_TRUE(decode<std::string>(bytes) == big);
}

TEST(SerializerTest, WritesStringAsVarintLengthThenBytes) {
  EXPECT_EQ(bytesOf(std::string()), std::string("\x00", 1));
  EXPECT_EQ(bytesOf(std::string("abc")), std::string("\x03"
                                                     "abc"));
  std::string s300(300, 'x');
  // 300 = 0b10'0101100: low 7 bits 0x2c with the continuation bit, then 0x02.
  EXPECT_EQ(bytesOf(s300), std::string("\xac\x02") + s300);
}

TEST(SerializerTest, RoundTripsPairs) {
  std::pair<int32_t, std::string> p(-7, "seven");
  EXPECT_EQ(roundTrip(p), p);
  EXPECT_EQ(bytesOf(std::pair<int8_t, std::string>(5, "ab")), std::string("\x05\x02"
                                                                          "ab"));
  std::pair<std::string, std::pair<bool, double>> nested("n", {true, 0.5});
  EXPECT_EQ(roundTrip(nested), nested);
}

TEST(SerializerTest, RoundTripsTuples) {
  std::tuple<int64_t, std::string, double, char> t(1LL << 40, "x", 2.5, 'q');
  EXPECT_EQ(roundTrip(t), t);
  EXPECT_EQ(bytesOf(std::tuple<uint8_t, uint16_t>(1, 0x0203)), std::string("\x01\x03\x02", 3));
  EXPECT_EQ(bytesOf(std::tuple<>()), "");
}

TEST(SerializerTest, RoundTripsVectors) {
  EXPECT_EQ(roundTrip(std::vector<int32_t>()), std::vector<int32_t>());
  std::vector<int32_t> v{1, -2, 3};
  EXPECT_EQ(roundTrip(v), v);
  std::vector<std::string> words{"a", "", "ccc"};
  EXPECT_EQ(roundTrip(words), words);
  EXPECT_EQ(bytesOf(std::vector<int16_t>{1, 2}), std::string("\x02\x01\x00\x02\x00", 5));
  EXPECT_EQ(bytesOf(std::vector<int16_t>{}), std::string("\x00", 1));
}

TEST(SerializerTest, RoundTripsNestedVectors) {
  std::vector<std::vector<int64_t>> v{{}, {1}, {2, 3, 4}};
  EXPECT_EQ(roundTrip(v), v);
  std::vector<std::vector<std::string>> s{{"a", "b"}, {}, {""}};
  EXPECT_EQ(roundTrip(s), s);
  EXPECT_EQ(bytesOf(std::vector<std::vector<uint8_t>>{{9}, {}}),
            std::string("\x02\x01\x09\x00", 4));
}

TEST(SerializerTest, RoundTripsOptionalsInBothStates) {
  EXPECT_EQ(roundTrip(std::optional<int32_t>()), std::nullopt);
  EXPECT_EQ(roundTrip(std::optional<int32_t>(42)), 42);
  EXPECT_EQ(roundTrip(std::optional<std::string>("")), std::optional<std::string>(""));
  EXPECT_EQ(bytesOf(std::optional<int32_t>()), std::string("\x00", 1));
  EXPECT_EQ(bytesOf(std::optional<int32_t>(5)), std::string("\x01\x05\x00\x00\x00", 5));
}

TEST(SerializerTest, DeserializingOverwritesExistingValues) {
  std::optional<std::string> opt("stale");
  std::string empty = bytesOf(std::optional<std::string>());
  DataInput in1(empty);
  deserialize(in1, opt);
  EXPECT_EQ(opt, std::nullopt);

  std::vector<int32_t> v{9, 9, 9, 9};
  std::string two = bytesOf(std::vector<int32_t>{1, 2});
  DataInput in2(two);
  deserialize(in2, v);
  EXPECT_EQ(v, (std::vector<int32_t>{1, 2}));

  std::map<int32_t, int32_t> m{{5, 5}, {6, 6}};
  std::string one = bytesOf(std::map<int32_t, int32_t>{{1, 10}});
  DataInput in3(one);
  deserialize(in3, m);
  EXPECT_EQ(m, (std::map<int32_t, int32_t>{{1, 10}}));
}

TEST(SerializerTest, RoundTripsMaps) {
  std::map<std::string, int64_t> m{{"b", 2}, {"a", 1}, {"", 0}};
  EXPECT_EQ(roundTrip(m), m);
  EXPECT_EQ(roundTrip(std::map<int32_t, std::string>()), (std::map<int32_t, std::string>()));
  // Entries in key order, each key then value, after the varint count.
  EXPECT_EQ(bytesOf(std::map<int8_t, int8_t>{{2, 20}, {1, 10}}),
            std::string("\x02\x01\x0a\x02\x14", 5));
}

TEST(SerializerTest, RoundTripsUnorderedMaps) {
  std::unordered_map<int64_t, std::vector<std::string>> m;
  for (int64_t i = 0; i < 100; ++i)
    m[i * 7919] = std::vector<std::string>(i % 3, "v");
  EXPECT_EQ(roundTrip(m), m);
  std::unordered_map<std::string, double> empty;
  EXPECT_EQ(roundTrip(empty), empty);
}

TEST(SerializerTest, RoundTripsDeclaredStructs) {
  Point p{-3, 1.25, "origin"};
  EXPECT_EQ(roundTrip(p), p);
  // Fields in declaration order of the BROOK_SERIALIZABLE list: int32, double, string.
  std::string expected("\xfd\xff\xff\xff", 4);
  expected += std::string("\x00\x00\x00\x00\x00\x00\xf4\x3f", 8);  // 1.25
  expected += "\x06origin";
  EXPECT_EQ(bytesOf(p), expected);
}

TEST(SerializerTest, RoundTripsStructsHoldingVectorsOfStructs) {
  Polygon triangle{"tri", {{0, 0, "a"}, {1, 0.5, "b"}, {2, -1e300, ""}}};
  EXPECT_EQ(roundTrip(triangle), triangle);
  Polygon empty{"", {}};
  EXPECT_EQ(roundTrip(empty), empty);
  std::vector<Polygon> shapes{triangle, empty};
  EXPECT_EQ(roundTrip(shapes), shapes);
}

TEST(SerializerTest, TruncatedInputThrows) {
  expectEveryPrefixThrows<int32_t>(7);
  expectEveryPrefixThrows<double>(1.5);
  expectEveryPrefixThrows(std::string("hello"));
  expectEveryPrefixThrows(std::string(300, 'x'));
  expectEveryPrefixThrows(std::pair<int32_t, std::string>(1, "ab"));
  expectEveryPrefixThrows(std::tuple<int8_t, std::string, int64_t>(1, "x", 2));
  expectEveryPrefixThrows(std::vector<int32_t>{1, 2, 3});
  expectEveryPrefixThrows(std::vector<std::vector<int8_t>>{{1}, {2, 3}});
  expectEveryPrefixThrows(std::optional<int32_t>(4));
  expectEveryPrefixThrows(std::map<std::string, int32_t>{{"k", 1}, {"l", 2}});
  expectEveryPrefixThrows(std::unordered_map<int32_t, int32_t>{{1, 2}});
  expectEveryPrefixThrows(Polygon{"p", {{1, 2, "q"}}});
}

TEST(SerializerTest, CorruptOptionalFlagThrows) {
  for (int flag : {2, 0x80, 0xff}) {
    std::string bytes(1, static_cast<char>(flag));
    bytes += std::string("\x05\x00\x00\x00", 4);
    DataInput in(bytes);
    std::optional<int32_t> out;
    EXPECT_THROW(deserialize(in, out), SerializationError) << "flag " << flag;
  }
}

TEST(SerializerTest, HugeLengthThrows) {
  DataOutput out;
  out.writeVarUint(uint64_t{1} << 40);
  out.writeBytes("abc", 3);
  std::string bytes(out.view());

  DataInput s(bytes);
  std::string str;
  EXPECT_THROW(deserialize(s, str), SerializationError);

  DataInput v(bytes);
  std::vector<int64_t> vec;
  EXPECT_THROW(deserialize(v, vec), SerializationError);

  DataInput m(bytes);
  std::map<int32_t, int32_t> map;
  EXPECT_THROW(deserialize(m, map), SerializationError);

  // A smaller length is still more than the bytes that follow it.
  DataOutput out2;
  out2.writeVarUint(1000);
  out2.writeBytes("abc", 3);
  DataInput s2(out2.view());
  EXPECT_THROW(deserialize(s2, str), SerializationError);
}

TEST(SerializerTest, ImplausibleVectorLengthThrowsBeforeAllocating) {
  DataOutput out;
  out.writeVarUint(0xffffffffu);
  DataInput in(out.view());
  std::vector<int64_t> vec;
  EXPECT_THROW(deserialize(in, vec), SerializationError);
}

TEST(SerializerTest, OverlongVarintThrows) {
  std::string bytes(11, '\xff');
  DataInput in(bytes);
  EXPECT_THROW(in.readVarUint(), SerializationError);
}

TEST(DataOutputTest, WritesVarints) {
  auto varint = [](uint64_t v) {
    DataOutput out;
    out.writeVarUint(v);
    return hex(out.view());
  };
  EXPECT_EQ(varint(0), "00");
  EXPECT_EQ(varint(1), "01");
  EXPECT_EQ(varint(127), "7f");
  EXPECT_EQ(varint(128), "80 01");
  EXPECT_EQ(varint(300), "ac 02");
  EXPECT_EQ(varint(16383), "ff 7f");
  EXPECT_EQ(varint(16384), "80 80 01");
  // 2^63: nine empty 7-bit groups, then bit 63 as the low bit of the tenth byte.
  EXPECT_EQ(varint(uint64_t{1} << 63), "80 80 80 80 80 80 80 80 80 01");
  EXPECT_EQ(varint(std::numeric_limits<uint64_t>::max()), "ff ff ff ff ff ff ff ff ff 01");
}

TEST(DataInputTest, ReadsVarints) {
  for (uint64_t v : {uint64_t{0}, uint64_t{127}, uint64_t{128}, uint64_t{300}, uint64_t{1} << 63,
                     std::numeric_limits<uint64_t>::max()}) {
    DataOutput out;
    out.writeVarUint(v);
    out.writeRaw<uint8_t>(0x5a);
    DataInput in(out.view());
    EXPECT_EQ(in.readVarUint(), v);
    EXPECT_EQ(in.remaining(), 1u);
    EXPECT_EQ(in.readRaw<uint8_t>(), 0x5a);
  }
  DataInput in(std::string_view("\x80\x01", 2));
  EXPECT_EQ(in.readVarUint(), 128u);
}

TEST(DataInputTest, TruncatedVarintThrows) {
  DataInput in(std::string_view("\x80\x80", 2));
  EXPECT_THROW(in.readVarUint(), SerializationError);
  DataInput empty(std::string_view{});
  EXPECT_THROW(empty.readVarUint(), SerializationError);
}

TEST(DataInputTest, ReadsRawValuesViewsAndBytes) {
  DataOutput out;
  out.writeRaw<int32_t>(-5);
  out.writeRaw<double>(0.25);
  out.writeBytes("xyz", 3);
  DataInput in(out.view());
  EXPECT_EQ(in.remaining(), 15u);
  EXPECT_EQ(in.readRaw<int32_t>(), -5);
  EXPECT_EQ(in.readRaw<double>(), 0.25);
  EXPECT_EQ(in.readView(2), "xy");
  char c = 0;
  in.readBytes(&c, 1);
  EXPECT_EQ(c, 'z');
  EXPECT_EQ(in.remaining(), 0u);
  EXPECT_EQ(in.readView(0), "");
  EXPECT_THROW(in.readRaw<uint8_t>(), SerializationError);
}

TEST(DataInputTest, TruncationErrorSaysWhatIsMissing) {
  std::string bytes = "ab";
  DataInput in(bytes);
  try {
    in.readRaw<int32_t>();
    FAIL() << "expected SerializationError";
  } catch (const SerializationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("needed 4 more bytes, 2 left"));
  }
}

TEST(DataOutputTest, GrowsAndIsReusableAfterClear) {
  DataOutput out;
  std::string big(100'000, 'q');
  out.writeBytes(big.data(), big.size());
  EXPECT_EQ(out.size(), big.size());
  EXPECT_EQ(out.view(), big);
  out.clear();
  EXPECT_EQ(out.size(), 0u);
  EXPECT_EQ(out.view(), "");
  serialize(std::string("after"), out);
  EXPECT_EQ(out.view(), std::string("\x05"
                                    "after"));
  EXPECT_EQ(std::string(out.data(), out.size()), std::string("\x05"
                                                             "after"));
}

TEST(DataOutputTest, SerializesSeveralRecordsBackToBack) {
  DataOutput out;
  serialize(std::string("a"), out);
  serialize<int16_t>(7, out);
  serialize(Point{1, 2, "p"}, out);
  DataInput in(out.view());
  std::string s;
  int16_t i = 0;
  Point p;
  deserialize(in, s);
  deserialize(in, i);
  deserialize(in, p);
  EXPECT_EQ(s, "a");
  EXPECT_EQ(i, 7);
  EXPECT_EQ(p, (Point{1, 2, "p"}));
  EXPECT_EQ(in.remaining(), 0u);
}

// Writing into foreign memory: what fits stays there; the write that would pass its end moves
// everything written so far to the output's own storage, and nothing past the memory's end is
// touched.
TEST(DataOutputTest, WritesIntoForeignMemoryUntilItIsFull) {
  const Point point{-3, 2.5, "a label of some length"};
  DataOutput expected;
  serialize(point, expected);

  for (size_t capacity : {size_t{0}, size_t{1}, size_t{4}, size_t{12}, expected.size() - 1,
                          expected.size(), expected.size() + 10}) {
    SCOPED_TRACE("capacity " + std::to_string(capacity));
    std::string memory(capacity + 8, '#');
    DataOutput out;
    out.writeInto(memory.data(), capacity);
    serialize(point, out);
    EXPECT_EQ(out.view(), expected.view());
    EXPECT_EQ(out.writesInto(memory.data()), capacity >= expected.size());
    EXPECT_EQ(memory.substr(capacity), std::string(8, '#'));
    // Back to its own storage, and a copy owns its bytes.
    DataOutput copy(out);
    out.writeOwned();
    EXPECT_EQ(out.size(), 0u);
    serialize(std::string("own"), out);
    EXPECT_EQ(out.view(), std::string("\x03own"));
    EXPECT_FALSE(copy.writesInto(memory.data()));
    EXPECT_EQ(copy.view(), expected.view());
  }
}

TEST(JobArgsTest, ParsesKeyValuePairsEqualsAndFlags) {
  JobArgs args =
      JobArgs::parse({"--input", "a.txt", "--output=out/", "--verbose", "-p", "4", "--last"});
  EXPECT_EQ(args.get("input"), "a.txt");
  EXPECT_EQ(args.get("output"), "out/");
  EXPECT_EQ(args.get("verbose"), "true");
  EXPECT_EQ(args.get("p"), "4");
  EXPECT_EQ(args.get("last"), "true");
  EXPECT_TRUE(args.has("verbose"));
  EXPECT_FALSE(args.has("missing"));
  EXPECT_EQ(args.values().size(), 5u);
  EXPECT_EQ(args.raw(), (std::vector<std::string>{"--input", "a.txt", "--output=out/", "--verbose",
                                                  "-p", "4", "--last"}));
}

TEST(JobArgsTest, ParsesEdgeCasesOfValues) {
  JobArgs args = JobArgs::parse(
      {"--expr=a=b", "--empty=", "--blank", "", "--stdin", "-", "--flag", "--next", "v"});
  EXPECT_EQ(args.get("expr"), "a=b");
  EXPECT_EQ(args.get("empty"), "");
  EXPECT_EQ(args.get("blank"), "");
  EXPECT_EQ(args.get("stdin"), "-");
  EXPECT_EQ(args.get("flag"), "true");
  EXPECT_EQ(args.get("next"), "v");
  EXPECT_EQ(JobArgs::parse({}).values().size(), 0u);
}

TEST(JobArgsTest, LaterValuesOverrideEarlierOnes) {
  JobArgs args = JobArgs::parse({"--k", "1", "--k=2"});
  EXPECT_EQ(args.get("k"), "2");
}

TEST(JobArgsTest, RejectsArgumentsThatAreNotKeys) {
  EXPECT_THROW(JobArgs::parse({"input"}), JobDefinitionError);
  EXPECT_THROW(JobArgs::parse({"--a", "b", "c"}), JobDefinitionError);
  EXPECT_THROW(JobArgs::parse({"--"}), JobDefinitionError);
  EXPECT_THROW(JobArgs::parse({"-"}), JobDefinitionError);
  EXPECT_THROW(JobArgs::parse({""}), JobDefinitionError);
}

TEST(JobArgsTest, RejectsAnEmptyKeyBeforeEquals) {
  EXPECT_THROW(JobArgs::parse({"--=v"}), JobDefinitionError);
}

TEST(JobArgsTest, TakesANegativeNumberAsAValueAsFlinkDoes) {
  JobArgs args = JobArgs::parse({"--offset", "-5"});
  EXPECT_EQ(args.get("offset"), "-5");
  EXPECT_EQ(args.getInt("offset", 0), -5);
}

TEST(JobArgsTest, MissingRequiredKeyNamesTheKey) {
  JobArgs args = JobArgs::parse({"--input", "a.txt"});
  try {
    args.get("output");
    FAIL() << "expected JobDefinitionError";
  } catch (const JobDefinitionError& e) {
    EXPECT_THAT(e.what(), HasSubstr("--output"));
  }
  EXPECT_EQ(args.get("output", "fallback"), "fallback");
  EXPECT_EQ(args.get("input", "fallback"), "a.txt");
}

TEST(JobArgsTest, GetIntParsesIntegers) {
  JobArgs args = JobArgs::parse({"--n", "42", "--neg=-7", "--big", "9223372036854775807"});
  EXPECT_EQ(args.getInt("n", 0), 42);
  EXPECT_EQ(args.getInt("neg", 0), -7);
  EXPECT_EQ(args.getInt("big", 0), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(args.getInt("absent", 17), 17);
}

TEST(JobArgsTest, GetIntWithBadValueNamesKeyAndValue) {
  JobArgs args = JobArgs::parse(
      {"--n", "12abc", "--word", "many", "--huge", "99999999999999999999", "--flag", "--e="});
  for (const char* key : {"n", "word", "huge", "flag", "e"}) {
    try {
      args.getInt(key, 0);
      ADD_FAILURE() << "expected JobDefinitionError for --" << key;
    } catch (const JobDefinitionError& e) {
      EXPECT_THAT(e.what(), HasSubstr(std::string("--") + key));
      EXPECT_THAT(e.what(), HasSubstr("'" + args.get(key) + "'"));
    }
  }
}

TEST(TextFormatTest, FormatsScalars) {
  EXPECT_EQ(toText(42), "42");
  EXPECT_EQ(toText(int64_t{-9'223'372'036'854'775'807} - 1), "-9223372036854775808");
  EXPECT_EQ(toText(uint8_t{200}), "200");
  EXPECT_EQ(toText(true), "true");
  EXPECT_EQ(toText(false), "false");
  EXPECT_EQ(toText('x'), "x");
  EXPECT_EQ(toText(std::string("text")), "text");
  EXPECT_EQ(toText("literal"), "literal");
}

TEST(TextFormatTest, FormatsDoublesInShortestForm) {
  EXPECT_EQ(toText(2.5), "2.5");
  EXPECT_EQ(toText(0.1), "0.1");
  EXPECT_EQ(toText(3.0), "3");
  EXPECT_EQ(toText(-0.75), "-0.75");
  EXPECT_EQ(toText(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(toText(1.5f), "1.5");
}

TEST(TextFormatTest, FormatsPairsAndTuplesLikeFlinkTuples) {
  EXPECT_EQ(toText(std::pair<std::string, int>("a", 1)), "(a,1)");
  EXPECT_EQ(toText(std::pair<std::string, std::string>("a", "b")), "(a,b)");
  EXPECT_EQ(toText(std::tuple<int, std::string, double>(1, "x", 2.5)), "(1,x,2.5)");
  EXPECT_EQ(toText(std::tuple<int>(7)), "(7)");
  EXPECT_EQ(toText(std::tuple<>()), "()");
  EXPECT_EQ(toText(std::pair<int, std::pair<int, int>>(1, {2, 3})), "(1,(2,3))");
}

TEST(TextFormatTest, FormatsVectorsAndOptionals) {
  EXPECT_EQ(toText(std::vector<int>{1, 2}), "[1, 2]");
  EXPECT_EQ(toText(std::vector<int>{}), "[]");
  EXPECT_EQ(toText(std::vector<std::vector<int>>{{1}, {}, {2, 3}}), "[[1], [], [2, 3]]");
  EXPECT_EQ(toText(std::vector<std::pair<std::string, int64_t>>{{"a", 1}, {"b", 2}}),
            "[(a,1), (b,2)]");
  EXPECT_EQ(toText(std::optional<int>()), "null");
  EXPECT_EQ(toText(std::optional<int>(5)), "5");
  EXPECT_EQ(toText(std::vector<std::optional<std::string>>{"s", std::nullopt}), "[s, null]");
}

TEST(TextFormatTest, FormatsOtherTypesThroughStreamOperator) {
  EXPECT_EQ(toText(Celsius{21.5}), "21.5 C");
}

TEST(TextFormatTest, AppendTextAppends) {
  std::string line = "3> ";
  appendText(line, std::pair<int, double>(1, 0.5));
  appendText(line, ' ');
  appendText(line, std::vector<bool>{true, false});
  EXPECT_EQ(line, "3> (1,0.5) [true, false]");
}

}  // namespace
}  // namespace brook
