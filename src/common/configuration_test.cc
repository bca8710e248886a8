#include "common/configuration.h"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace brook {
namespace {

// A YAML file in a per-test temporary directory, removed with the fixture.
class ConfigurationFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("brook-configuration-test-" + std::to_string(::getpid()) + "-" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& content) {
    std::string path = (dir_ / "brook.yaml").string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::filesystem::path dir_;
};

bool contains(const absl::Status& status, std::string_view needle) {
  return std::string(status.message()).find(needle) != std::string::npos;
}

TEST_F(ConfigurationFileTest, LoadsKeysValuesCommentsQuotesAndBlankLines) {
  std::string path = write(
      "# Brook configuration\n"
      "\n"
      "parallelism.default: 4\n"
      "   \n"
      "taskmanager.memory.segment-size: \"32kb\"   # quoted\n"
      "execution.runtime-mode: 'BATCH'\n"
      "pipeline.name: \"a b\"\n"
      "rest.address:   http://host:8081/path  \n"
      "key.with.spaces   :   value\n"
      "empty.value:\n"
      "windows.line: 7\r\n"
      "# trailing comment");
  auto config = Configuration::loadYaml(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->values().size(), 8u);
  EXPECT_EQ(config->getString("parallelism.default", ""), "4");
  EXPECT_EQ(config->getString("taskmanager.memory.segment-size", ""), "32kb");
  EXPECT_EQ(config->getString("execution.runtime-mode", ""), "BATCH");
  EXPECT_EQ(config->getString("pipeline.name", ""), "a b");
  EXPECT_EQ(config->getString("rest.address", ""), "http://host:8081/path");
  EXPECT_EQ(config->getString("key.with.spaces", ""), "value");
  EXPECT_TRUE(config->contains("empty.value"));
  EXPECT_EQ(config->getString("empty.value", "fallback"), "");
  EXPECT_EQ(config->getString("windows.line", ""), "7");
  EXPECT_EQ(*config->getInt("parallelism.default", 1), 4);
  EXPECT_EQ(*config->getBytes("taskmanager.memory.segment-size", 0), 32768);
}

TEST_F(ConfigurationFileTest, LoadsAnEmptyFile) {
  auto config = Configuration::loadYaml(write(""));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->values().empty());
}

TEST_F(ConfigurationFileTest, LineWithoutColonIsAnErrorNamingFileAndLine) {
  std::string path = write("a: 1\n# comment\nnot a key value pair\nb: 2\n");
  auto config = Configuration::loadYaml(path);
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(config.status())) << config.status();
  EXPECT_TRUE(contains(config.status(), path + ":3:")) << config.status();
  EXPECT_TRUE(contains(config.status(), "not a key value pair")) << config.status();
}

TEST_F(ConfigurationFileTest, IndentedLineIsAnErrorNamingFileAndLine) {
  std::string path = write("taskmanager:\n  numberOfTaskSlots: 2\n");
  auto config = Configuration::loadYaml(path);
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(config.status())) << config.status();
  EXPECT_TRUE(contains(config.status(), path + ":2:")) << config.status();

  auto tabbed = Configuration::loadYaml(write("a: 1\n\n\tb: 2\n"));
  ASSERT_FALSE(tabbed.ok());
  EXPECT_TRUE(contains(tabbed.status(), ":3:")) << tabbed.status();
}

TEST_F(ConfigurationFileTest, EmptyKeyIsAnErrorNamingFileAndLine) {
  std::string path = write(": value\n");
  auto config = Configuration::loadYaml(path);
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(contains(config.status(), path + ":1:")) << config.status();
}

TEST_F(ConfigurationFileTest, MissingFileIsNotFound) {
  std::string path = (dir_ / "absent.yaml").string();
  auto config = Configuration::loadYaml(path);
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(absl::IsNotFound(config.status())) << config.status();
  EXPECT_TRUE(contains(config.status(), path)) << config.status();
}

TEST(ConfigurationTest, SetFromOptionParsesKeyEqualsValue) {
  Configuration config;
  ASSERT_TRUE(config.setFromOption("parallelism.default=8").ok());
  ASSERT_TRUE(config.setFromOption(" execution.runtime-mode = BATCH ").ok());
  ASSERT_TRUE(config.setFromOption("pipeline.name=a=b").ok());
  ASSERT_TRUE(config.setFromOption("empty=").ok());
  EXPECT_EQ(config.getString("parallelism.default", ""), "8");
  EXPECT_EQ(config.getString("execution.runtime-mode", ""), "BATCH");
  EXPECT_EQ(config.getString("pipeline.name", ""), "a=b");
  EXPECT_TRUE(config.contains("empty"));
  EXPECT_EQ(config.getString("empty", "x"), "");
}

TEST(ConfigurationTest, SetFromOptionRejectsAnOptionWithoutEquals) {
  Configuration config;
  absl::Status status = config.setFromOption("parallelism.default");
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_TRUE(contains(status, "parallelism.default")) << status;
  EXPECT_TRUE(absl::IsInvalidArgument(config.setFromOption("=4")));
  EXPECT_TRUE(absl::IsInvalidArgument(config.setFromOption("")));
  EXPECT_TRUE(config.values().empty());
}

TEST(ConfigurationTest, MergeFromOverridesKeys) {
  Configuration base;
  base.set("a", "1");
  base.set("b", "2");
  Configuration overrides;
  overrides.set("b", "3");
  overrides.set("c", "4");
  base.mergeFrom(overrides);
  EXPECT_EQ(base.getString("a", ""), "1");
  EXPECT_EQ(base.getString("b", ""), "3");
  EXPECT_EQ(base.getString("c", ""), "4");
}

TEST(ConfigurationTest, GetIntParsesIntegersAndFallsBack) {
  Configuration config;
  config.set("n", "42");
  config.set("neg", "-7");
  EXPECT_EQ(*config.getInt("n", 0), 42);
  EXPECT_EQ(*config.getInt("neg", 0), -7);
  EXPECT_EQ(*config.getInt("absent", 13), 13);
}

TEST(ConfigurationTest, GetIntWithBadValueNamesTheKey) {
  Configuration config;
  config.set("parallelism.default", "four");
  config.set("taskmanager.numberOfTaskSlots", "2x");
  config.set("huge", "99999999999999999999");
  for (const char* key : {"parallelism.default", "taskmanager.numberOfTaskSlots", "huge"}) {
    auto v = config.getInt(key, 1);
    ASSERT_FALSE(v.ok()) << key;
    EXPECT_TRUE(absl::IsInvalidArgument(v.status())) << v.status();
    EXPECT_TRUE(contains(v.status(), key)) << v.status();
    EXPECT_TRUE(contains(v.status(), config.getString(key, ""))) << v.status();
  }
}

TEST(ConfigurationTest, GetDurationMillisAcceptsUnits) {
  Configuration config;
  config.set("a", "100 ms");
  config.set("b", "2s");
  config.set("c", "1 min");
  config.set("d", "250");
  config.set("e", "3 h");
  config.set("f", "1d");
  config.set("g", "5 Seconds");
  EXPECT_EQ(*config.getDurationMillis("a", 0), 100);
  EXPECT_EQ(*config.getDurationMillis("b", 0), 2000);
  EXPECT_EQ(*config.getDurationMillis("c", 0), 60000);
  EXPECT_EQ(*config.getDurationMillis("d", 0), 250);
  EXPECT_EQ(*config.getDurationMillis("e", 0), 10'800'000);
  EXPECT_EQ(*config.getDurationMillis("f", 0), 86'400'000);
  EXPECT_EQ(*config.getDurationMillis("g", 0), 5000);
  EXPECT_EQ(*config.getDurationMillis("absent", 77), 77);
}

TEST(ConfigurationTest, GetDurationMillisWithBadValueNamesTheKey) {
  Configuration config;
  config.set("execution.buffer-timeout.interval", "fast");
  config.set("unit", "10 parsecs");
  config.set("fraction", "1.5s");
  for (const char* key : {"execution.buffer-timeout.interval", "unit", "fraction"}) {
    auto v = config.getDurationMillis(key, 0);
    ASSERT_FALSE(v.ok()) << key;
    EXPECT_TRUE(absl::IsInvalidArgument(v.status())) << v.status();
    EXPECT_TRUE(contains(v.status(), key)) << v.status();
  }
  EXPECT_TRUE(contains(config.getDurationMillis("unit", 0).status(), "parsecs"));
}

TEST(ConfigurationTest, GetBytesAcceptsUnits) {
  Configuration config;
  config.set("a", "32kb");
  config.set("b", "1 mb");
  config.set("c", "32 KiB");
  config.set("d", "4096");
  config.set("e", "2g");
  config.set("f", "10 b");
  EXPECT_EQ(*config.getBytes("a", 0), 32768);
  EXPECT_EQ(*config.getBytes("b", 0), 1'048'576);
  EXPECT_EQ(*config.getBytes("c", 0), 32768);
  EXPECT_EQ(*config.getBytes("d", 0), 4096);
  EXPECT_EQ(*config.getBytes("e", 0), int64_t{2} << 30);
  EXPECT_EQ(*config.getBytes("f", 0), 10);
  EXPECT_EQ(*config.getBytes("absent", 5), 5);
}

TEST(ConfigurationTest, GetBytesWithBadValueNamesTheKey) {
  Configuration config;
  config.set("taskmanager.memory.segment-size", "big");
  config.set("unit", "5 tb");
  config.set("negative", "-1kb");
  for (const char* key : {"taskmanager.memory.segment-size", "unit", "negative"}) {
    auto v = config.getBytes(key, 0);
    ASSERT_FALSE(v.ok()) << key;
    EXPECT_TRUE(absl::IsInvalidArgument(v.status())) << v.status();
    EXPECT_TRUE(contains(v.status(), key)) << v.status();
  }
}

TEST(ParseDurationMillisTest, ParsesFlinkDurations) {
  EXPECT_EQ(*parseDurationMillis("100 ms"), 100);
  EXPECT_EQ(*parseDurationMillis("100ms"), 100);
  EXPECT_EQ(*parseDurationMillis("2s"), 2000);
  EXPECT_EQ(*parseDurationMillis("1 min"), 60000);
  EXPECT_EQ(*parseDurationMillis("2 m"), 120000);
  EXPECT_EQ(*parseDurationMillis("0"), 0);
  EXPECT_EQ(*parseDurationMillis("  7  "), 7);
  EXPECT_EQ(*parseDurationMillis("3 MS"), 3);
  EXPECT_EQ(*parseDurationMillis("1 milliseconds"), 1);
}

TEST(ParseDurationMillisTest, RejectsMalformedDurations) {
  for (const char* text : {"", "ms", "-5 ms", "1.5s", "10 weeks", "s10"}) {
    auto v = parseDurationMillis(text);
    EXPECT_FALSE(v.ok()) << "'" << text << "' gave " << (v.ok() ? *v : 0);
    if (!v.ok()) {
      EXPECT_TRUE(absl::IsInvalidArgument(v.status())) << v.status();
    }
  }
  EXPECT_FALSE(parseDurationMillis("99999999999999999999 ms").ok());
}

TEST(ParseDurationMillisTest, RejectsDurationsThatOverflow) {
  EXPECT_FALSE(parseDurationMillis("9223372036854776 s").ok());
  EXPECT_FALSE(parseDurationMillis("106751991168 d").ok());
}

TEST(ParseBytesTest, ParsesFlinkMemorySizes) {
  EXPECT_EQ(*parseBytes("32kb"), 32768);
  EXPECT_EQ(*parseBytes("1 mb"), 1'048'576);
  EXPECT_EQ(*parseBytes("64 mb"), 64 * 1'048'576);
  EXPECT_EQ(*parseBytes("1mb"), 1'048'576);
  EXPECT_EQ(*parseBytes("3 k"), 3072);
  EXPECT_EQ(*parseBytes("1 GiB"), int64_t{1} << 30);
  EXPECT_EQ(*parseBytes("123"), 123);
  EXPECT_EQ(*parseBytes("7 bytes"), 7);
}

TEST(ParseBytesTest, RejectsMalformedSizes) {
  for (const char* text : {"", "kb", "1.5 mb", "-1", "2 tb", "mb1"}) {
    auto v = parseBytes(text);
    EXPECT_FALSE(v.ok()) << "'" << text << "' gave " << (v.ok() ? *v : 0);
    if (!v.ok()) {
      EXPECT_TRUE(absl::IsInvalidArgument(v.status())) << v.status();
    }
  }
}

TEST(ParseBytesTest, RejectsSizesThatOverflow) {
  EXPECT_FALSE(parseBytes("8589934592 gb").ok());
  EXPECT_FALSE(parseBytes("9007199254740992 kb").ok());
}

}  // namespace
}  // namespace brook

namespace brook {
namespace {

TEST(ConfigurationValidateTest, AcceptsKnownKeysWithGoodValues) {
  Configuration c;
  c.set("parallelism.default", "4");
  c.set("execution.runtime-mode", "batch");
  c.set("execution.buffer-timeout.interval", "10 ms");
  c.set("taskmanager.memory.segment-size", "64kb");
  EXPECT_TRUE(c.validate().ok()) << c.validate().ToString();
}

TEST(ConfigurationValidateTest, AcceptsEveryStateBackendTypeInAnyCase) {
  for (const char* type : {"heap", "hashmap", "rocksdb", "RocksDB", "HEAP", "HashMap"}) {
    Configuration c;
    c.set("state.backend.type", type);
    EXPECT_TRUE(c.validate().ok()) << type << ": " << c.validate().ToString();
  }
}

TEST(ConfigurationValidateTest, RejectsAnUnknownStateBackendTypeNamingTheKey) {
  Configuration c;
  c.set("state.backend.type", "bogus");
  EXPECT_EQ(std::string(c.validate().message()),
            "state.backend.type: expected heap, hashmap or rocksdb, got 'bogus'");
}

TEST(ConfigurationTest, GetDoubleParsesFiniteNumbersAndNamesTheKey) {
  Configuration c;
  c.set("restart-strategy.exponential-delay.backoff-multiplier", "2.5");
  EXPECT_EQ(*c.getDouble("restart-strategy.exponential-delay.backoff-multiplier", 1), 2.5);
  EXPECT_EQ(*c.getDouble("restart-strategy.exponential-delay.jitter-factor", 0.1), 0.1);
  for (const char* bad : {"fast", "inf", "nan", ""}) {
    c.set("restart-strategy.exponential-delay.jitter-factor", bad);
    auto v = c.getDouble("restart-strategy.exponential-delay.jitter-factor", 0.1);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(std::string(v.status().message()),
              std::string("restart-strategy.exponential-delay.jitter-factor: expected a number, "
                          "got '") +
                  bad + "'");
  }
}

TEST(ConfigurationValidateTest, ChecksEveryRestartStrategyTypeAndItsRanges) {
  for (const char* type :
       {"none", "off", "disable", "fixed-delay", "FixedDelay", "exponential-delay",
        "exponentialdelay", "failure-rate", "FAILURERATE"}) {
    Configuration c;
    c.set("restart-strategy.type", type);
    EXPECT_TRUE(c.validate().ok()) << type << ": " << c.validate().ToString();
  }
  Configuration badType;
  badType.set("restart-strategy.type", "always");
  EXPECT_EQ(std::string(badType.validate().message()),
            "restart-strategy.type: expected none, fixed-delay, exponential-delay or "
            "failure-rate, got 'always'");
  Configuration jitter;
  jitter.set("restart-strategy.exponential-delay.jitter-factor", "1.5");
  EXPECT_EQ(std::string(jitter.validate().message()),
            "restart-strategy.exponential-delay.jitter-factor: 1.5 is out of range [0, 1]");
}

TEST(ConfigurationValidateTest, NamesUnknownKeysAndBadValues) {
  Configuration unknown;
  unknown.set("parallelism.defualt", "4");
  EXPECT_EQ(std::string(unknown.validate().message()),
            "unknown configuration key 'parallelism.defualt'");
  Configuration badMode;
  badMode.set("execution.runtime-mode", "sometimes");
  EXPECT_NE(std::string(badMode.validate().message()).find("execution.runtime-mode"),
            std::string::npos);
  Configuration zero;
  zero.set("parallelism.default", "0");
  EXPECT_NE(std::string(zero.validate().message()).find("parallelism.default: 0 is out of range"),
            std::string::npos);
  Configuration badDuration;
  badDuration.set("execution.buffer-timeout", "fast");
  EXPECT_NE(std::string(badDuration.validate().message()).find("execution.buffer-timeout"),
            std::string::npos);
}

}  // namespace
}  // namespace brook
