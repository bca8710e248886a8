#include "runtime/restart_strategy.h"

#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace brook::runtime {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

Configuration configOf(const std::vector<std::pair<std::string, std::string>>& entries) {
  Configuration config;
  for (const auto& [key, value] : entries)
    config.set(key, value);
  return config;
}

RestartStrategySettings settingsOf(const Configuration& config, bool checkpointing = false) {
  auto settings = restartStrategySettingsFrom(config, checkpointing);
  EXPECT_TRUE(settings.ok()) << settings.status();
  return settings.ok() ? *settings : RestartStrategySettings{};
}

// A random source that always returns `value`.
RestartStrategy::RandomSource constant(double value) {
  return [value] {
    return value;
  };
}

// ---- Kinds and defaults ----

TEST(RestartStrategyFromTest, IsNoneWithoutTypeOrCheckpointing) {
  auto strategy = restartStrategyFrom(Configuration(), /*checkpointingEnabled=*/false);
  ASSERT_TRUE(strategy.ok()) << strategy.status();
  EXPECT_EQ(strategy->kind(), RestartStrategyKind::kNone);
  strategy->notifyFailure(0);
  EXPECT_FALSE(strategy->canRestart());
  EXPECT_EQ(strategy->description(), "none");
}

TEST(RestartStrategyFromTest, IsExponentialDelayWithFlinkDefaultsWhenCheckpointing) {
  RestartStrategySettings s = settingsOf(Configuration(), /*checkpointing=*/true);
  EXPECT_EQ(s.kind, RestartStrategyKind::kExponentialDelay);
  EXPECT_EQ(s.initialBackoffMillis, 1000);
  EXPECT_EQ(s.maxBackoffMillis, 60'000);
  EXPECT_EQ(s.backoffMultiplier, 1.5);
  EXPECT_EQ(s.resetBackoffThresholdMillis, 3'600'000);
  EXPECT_EQ(s.jitterFactor, 0.1);
  EXPECT_EQ(s.attemptsBeforeResetBackoff, std::numeric_limits<int>::max());
}

TEST(RestartStrategyFromTest, AnExplicitTypeWinsOverTheCheckpointingDefault) {
  auto config = configOf({{config_keys::kRestartStrategy, "none"}});
  EXPECT_EQ(settingsOf(config, /*checkpointing=*/true).kind, RestartStrategyKind::kNone);
}

TEST(RestartStrategyFromTest, HasFlinkDefaultsForFixedDelayAndFailureRate) {
  RestartStrategySettings fixed = settingsOf(configOf({{"restart-strategy.type", "fixed-delay"}}));
  EXPECT_EQ(fixed.kind, RestartStrategyKind::kFixedDelay);
  EXPECT_EQ(fixed.fixedDelayAttempts, 1);
  EXPECT_EQ(fixed.fixedDelayMillis, 1000);
  RestartStrategySettings rate = settingsOf(configOf({{"restart-strategy.type", "failure-rate"}}));
  EXPECT_EQ(rate.kind, RestartStrategyKind::kFailureRate);
  EXPECT_EQ(rate.maxFailuresPerInterval, 1);
  EXPECT_EQ(rate.failureRateIntervalMillis, 60'000);
  EXPECT_EQ(rate.failureRateDelayMillis, 1000);
}

TEST(RestartStrategyFromTest, ReadsEveryKeyOfItsKind) {
  RestartStrategySettings exp = settingsOf(
      configOf({{"restart-strategy.type", "exponential-delay"},
                {"restart-strategy.exponential-delay.initial-backoff", "200 ms"},
                {"restart-strategy.exponential-delay.max-backoff", "5 s"},
                {"restart-strategy.exponential-delay.backoff-multiplier", "2"},
                {"restart-strategy.exponential-delay.reset-backoff-threshold", "10 min"},
                {"restart-strategy.exponential-delay.jitter-factor", "0.25"},
                {"restart-strategy.exponential-delay.attempts-before-reset-backoff", "7"}}));
  EXPECT_EQ(exp.initialBackoffMillis, 200);
  EXPECT_EQ(exp.maxBackoffMillis, 5000);
  EXPECT_EQ(exp.backoffMultiplier, 2.0);
  EXPECT_EQ(exp.resetBackoffThresholdMillis, 600'000);
  EXPECT_EQ(exp.jitterFactor, 0.25);
  EXPECT_EQ(exp.attemptsBeforeResetBackoff, 7);

  RestartStrategySettings rate =
      settingsOf(configOf({{"restart-strategy.type", "failure-rate"},
                           {"restart-strategy.failure-rate.max-failures-per-interval", "3"},
                           {"restart-strategy.failure-rate.failure-rate-interval", "5 min"},
                           {"restart-strategy.failure-rate.delay", "10 s"}}));
  EXPECT_EQ(rate.maxFailuresPerInterval, 3);
  EXPECT_EQ(rate.failureRateIntervalMillis, 300'000);
  EXPECT_EQ(rate.failureRateDelayMillis, 10'000);

  RestartStrategySettings fixed =
      settingsOf(configOf({{"restart-strategy.type", "fixed-delay"},
                           {"restart-strategy.fixed-delay.attempts", "4"},
                           {"restart-strategy.fixed-delay.delay", "250ms"}}));
  EXPECT_EQ(fixed.fixedDelayAttempts, 4);
  EXPECT_EQ(fixed.fixedDelayMillis, 250);
}

TEST(RestartStrategyFromTest, IgnoresTheKeysOfOtherKinds) {
  // Configuration::validate() checks them; the factory reads only the chosen kind's keys.
  auto config = configOf({{"restart-strategy.type", "fixed-delay"},
                          {"restart-strategy.exponential-delay.jitter-factor", "7"}});
  EXPECT_TRUE(restartStrategyFrom(config, false).ok());
}

struct KindCase {
  const char* text;
  RestartStrategyKind kind;
};

class RestartStrategyKindTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(RestartStrategyKindTest, AcceptsFlinkNamesAndAliasesInAnyCase) {
  auto kind = parseRestartStrategyKind(GetParam().text);
  ASSERT_TRUE(kind.ok()) << kind.status();
  EXPECT_EQ(*kind, GetParam().kind);
  auto config = configOf({{config_keys::kRestartStrategy, GetParam().text}});
  EXPECT_EQ(settingsOf(config).kind, GetParam().kind);
  EXPECT_TRUE(config.validate().ok()) << config.validate();
}

INSTANTIATE_TEST_SUITE_P(
    Aliases,
    RestartStrategyKindTest,
    ::testing::Values(KindCase{"none", RestartStrategyKind::kNone},
                      KindCase{"off", RestartStrategyKind::kNone},
                      KindCase{"DISABLE", RestartStrategyKind::kNone},
                      KindCase{"fixed-delay", RestartStrategyKind::kFixedDelay},
                      KindCase{"FixedDelay", RestartStrategyKind::kFixedDelay},
                      KindCase{"exponential-delay", RestartStrategyKind::kExponentialDelay},
                      KindCase{"ExponentialDelay", RestartStrategyKind::kExponentialDelay},
                      KindCase{"FAILURE-RATE", RestartStrategyKind::kFailureRate},
                      KindCase{"failurerate", RestartStrategyKind::kFailureRate}));

TEST(RestartStrategyKindNameTest, NamesEveryKind) {
  EXPECT_STREQ(restartStrategyKindName(RestartStrategyKind::kNone), "none");
  EXPECT_STREQ(restartStrategyKindName(RestartStrategyKind::kFixedDelay), "fixed-delay");
  EXPECT_STREQ(restartStrategyKindName(RestartStrategyKind::kExponentialDelay),
               "exponential-delay");
  EXPECT_STREQ(restartStrategyKindName(RestartStrategyKind::kFailureRate), "failure-rate");
}

// ---- none and fixed-delay ----

TEST(NoRestartStrategyTest, NeverRestarts) {
  RestartStrategy strategy;
  EXPECT_EQ(strategy.kind(), RestartStrategyKind::kNone);
  strategy.notifyFailure(5);
  EXPECT_FALSE(strategy.canRestart());
  EXPECT_EQ(strategy.backoffMillis(), 0);
  EXPECT_EQ(strategy.failures(), 1);
}

TEST(FixedDelayRestartStrategyTest, RestartsAttemptsTimesWithTheSameDelay) {
  RestartStrategySettings s;
  s.kind = RestartStrategyKind::kFixedDelay;
  s.fixedDelayAttempts = 3;
  s.fixedDelayMillis = 2000;
  RestartStrategy strategy(s);
  EXPECT_EQ(strategy.description(), "fixed-delay (3 attempts, delay 2000 ms)");
  for (int failure = 1; failure <= 3; ++failure) {
    strategy.notifyFailure(failure * 10'000);
    EXPECT_TRUE(strategy.canRestart()) << "failure " << failure;
    EXPECT_EQ(strategy.backoffMillis(), 2000);
    if (failure == 2) {
      EXPECT_EQ(strategy.description(), "fixed-delay (2 of 3 attempts, delay 2000 ms)");
    }
  }
  strategy.notifyFailure(40'000);
  EXPECT_FALSE(strategy.canRestart());
  EXPECT_EQ(strategy.description(), "fixed-delay (all 3 attempts used)");
}

TEST(FixedDelayRestartStrategyTest, ZeroAttemptsFailsOnTheFirstFailure) {
  RestartStrategy strategy(settingsOf(configOf(
      {{"restart-strategy.type", "fixed-delay"}, {"restart-strategy.fixed-delay.attempts", "0"}})));
  strategy.notifyFailure(0);
  EXPECT_FALSE(strategy.canRestart());
}

// ---- exponential-delay ----

RestartStrategySettings exponential(int64_t initial, int64_t max, double multiplier) {
  RestartStrategySettings s;
  s.kind = RestartStrategyKind::kExponentialDelay;
  s.initialBackoffMillis = initial;
  s.maxBackoffMillis = max;
  s.backoffMultiplier = multiplier;
  s.jitterFactor = 0;
  return s;
}

// Fails `strategy` once per backoff, each time `runMillis` after the previous restart, and
// returns the backoffs.
std::vector<int64_t> backoffs(RestartStrategy& strategy, int failures, int64_t runMillis) {
  std::vector<int64_t> out;
  int64_t now = 0;
  for (int i = 0; i < failures; ++i) {
    strategy.notifyFailure(now);
    EXPECT_TRUE(strategy.canRestart()) << "failure " << i + 1;
    out.push_back(strategy.backoffMillis());
    now += strategy.backoffMillis() + runMillis;
  }
  return out;
}

TEST(ExponentialDelayRestartStrategyTest, MultipliesTheBackoffUpToTheMaximum) {
  RestartStrategy strategy(exponential(1000, 10'000, 1.5));
  // 1000 * 1.5^k, truncated to milliseconds: 1000, 1500, 2250, 3375, 5062.5, 7593.75, 11390.6...
  EXPECT_THAT(backoffs(strategy, 8, 10),
              ::testing::ElementsAre(1000, 1500, 2250, 3375, 5062, 7593, 10'000, 10'000));
  EXPECT_EQ(strategy.description(),
            "exponential-delay (8 attempts since the last reset, backoff 10000 ms)");
}

TEST(ExponentialDelayRestartStrategyTest, StaysAtTheMaximumAfterVeryManyRestarts) {
  RestartStrategy strategy(exponential(1000, 60'000, 1.5));
  std::vector<int64_t> all = backoffs(strategy, 5000, 0);
  EXPECT_EQ(all.back(), 60'000);
}

TEST(ExponentialDelayRestartStrategyTest, AMultiplierOfOneKeepsTheInitialBackoff) {
  RestartStrategy strategy(exponential(700, 10'000, 1.0));
  EXPECT_THAT(backoffs(strategy, 3, 0), ::testing::ElementsAre(700, 700, 700));
}

TEST(ExponentialDelayRestartStrategyTest, ResetsTheBackoffAfterTheThresholdWithoutFailures) {
  RestartStrategySettings s = exponential(1000, 60'000, 1.5);
  s.resetBackoffThresholdMillis = 10'000;
  RestartStrategy strategy(s);
  strategy.notifyFailure(0);  // restarts at 1000
  EXPECT_EQ(strategy.backoffMillis(), 1000);
  strategy.notifyFailure(2000);  // restarts at 3500
  EXPECT_EQ(strategy.backoffMillis(), 1500);
  strategy.notifyFailure(3500 + 9999);  // one millisecond short of the threshold
  EXPECT_EQ(strategy.backoffMillis(), 2250);
  // It restarted at 13499 + 2250 = 15749, and runs exactly the threshold: the backoff resets.
  strategy.notifyFailure(15'749 + 10'000);
  EXPECT_EQ(strategy.backoffMillis(), 1000);
  EXPECT_TRUE(strategy.canRestart());
  strategy.notifyFailure(26'749 + 1);
  EXPECT_EQ(strategy.backoffMillis(), 1500);
  EXPECT_EQ(strategy.failures(), 5);
}

TEST(ExponentialDelayRestartStrategyTest, AttemptsBeforeResetBackoffBoundRestartsUntilAReset) {
  RestartStrategySettings s = exponential(1000, 60'000, 2);
  s.resetBackoffThresholdMillis = 10'000;
  s.attemptsBeforeResetBackoff = 2;
  RestartStrategy strategy(s);
  strategy.notifyFailure(0);
  EXPECT_TRUE(strategy.canRestart());
  EXPECT_EQ(strategy.description(),
            "exponential-delay (1 of 2 attempts since the last reset, backoff 1000 ms)");
  strategy.notifyFailure(1000);
  EXPECT_TRUE(strategy.canRestart());
  EXPECT_EQ(strategy.backoffMillis(), 2000);
  // Running the threshold after the restart at 3000 starts the count over.
  strategy.notifyFailure(13'000);
  EXPECT_TRUE(strategy.canRestart());
  EXPECT_EQ(strategy.backoffMillis(), 1000);
  strategy.notifyFailure(14'000);
  EXPECT_TRUE(strategy.canRestart());
  strategy.notifyFailure(16'000);
  EXPECT_FALSE(strategy.canRestart());
  EXPECT_EQ(strategy.description(), "exponential-delay (all 2 attempts since the last reset used)");
}

TEST(ExponentialDelayRestartStrategyTest, JitterSpansPlusMinusTheFactorWithinInitialAndMax) {
  RestartStrategySettings s = exponential(1000, 4000, 2);
  s.jitterFactor = 0.1;
  // The lowest draw: -10%, but never below the initial backoff.
  RestartStrategy low(s, constant(0.0));
  EXPECT_THAT(backoffs(low, 4, 0), ::testing::ElementsAre(1000, 1800, 3600, 3600));
  // The highest draw: +10%, but never above the maximum.
  RestartStrategy high(s, constant(0.999999));
  EXPECT_THAT(backoffs(high, 4, 0), ::testing::ElementsAre(1100, 2200, 4000, 4000));
  // The middle draw: no jitter. [-100, 100] has 201 values and 0.5 * 201 = 100.5 -> +0.
  RestartStrategy middle(s, constant(0.5));
  EXPECT_THAT(backoffs(middle, 4, 0), ::testing::ElementsAre(1000, 2000, 4000, 4000));
  // Draws outside [0, 1) from a faulty source are clamped.
  RestartStrategy out(s, constant(7.0));
  EXPECT_THAT(backoffs(out, 2, 0), ::testing::ElementsAre(1100, 2200));
}

TEST(ExponentialDelayRestartStrategyTest, DefaultJitterStaysWithinItsBounds) {
  RestartStrategySettings s = exponential(1000, 60'000, 1.5);
  s.jitterFactor = 0.1;
  bool sawDifferent = false;
  for (int i = 0; i < 200; ++i) {
    RestartStrategy strategy(s);
    std::vector<int64_t> b = backoffs(strategy, 2, 0);
    EXPECT_GE(b[0], 1000);
    EXPECT_LE(b[0], 1100);
    EXPECT_GE(b[1], 1350);
    EXPECT_LE(b[1], 1650);
    sawDifferent = sawDifferent || b[1] != 1500;
  }
  EXPECT_TRUE(sawDifferent);
}

// ---- failure-rate ----

RestartStrategySettings failureRate(int maxFailures, int64_t interval, int64_t delay) {
  RestartStrategySettings s;
  s.kind = RestartStrategyKind::kFailureRate;
  s.maxFailuresPerInterval = maxFailures;
  s.failureRateIntervalMillis = interval;
  s.failureRateDelayMillis = delay;
  return s;
}

TEST(FailureRateRestartStrategyTest, FailsOnceMoreThanMaxFailuresFallInTheInterval) {
  RestartStrategy strategy(failureRate(2, 10'000, 500));
  strategy.notifyFailure(0);
  EXPECT_TRUE(strategy.canRestart());
  EXPECT_EQ(strategy.backoffMillis(), 500);
  strategy.notifyFailure(1000);
  EXPECT_TRUE(strategy.canRestart());
  EXPECT_EQ(strategy.description(),
            "failure-rate (2 failures in the last 10000 ms, at most 2, delay 500 ms)");
  strategy.notifyFailure(5000);
  EXPECT_FALSE(strategy.canRestart());
}

TEST(FailureRateRestartStrategyTest, TheWindowSlidesAndIncludesItsStart) {
  RestartStrategy strategy(failureRate(2, 10'000, 0));
  strategy.notifyFailure(0);
  EXPECT_TRUE(strategy.canRestart());
  strategy.notifyFailure(6000);
  EXPECT_TRUE(strategy.canRestart());
  // 10001 - 0 > 10000: the failure at 0 left the window; 6000 and 10001 remain.
  strategy.notifyFailure(10'001);
  EXPECT_TRUE(strategy.canRestart());
  // 16001 - 6000 > 10000: 6000 left; 10001 and 16001 remain.
  strategy.notifyFailure(16'001);
  EXPECT_TRUE(strategy.canRestart());
  // 20001 - 10001 == 10000: the failure at 10001 still counts, with 16001 and 20001.
  strategy.notifyFailure(20'001);
  EXPECT_FALSE(strategy.canRestart());
}

TEST(FailureRateRestartStrategyTest, TheDefaultToleratesOneFailurePerMinute) {
  RestartStrategy strategy(settingsOf(configOf({{"restart-strategy.type", "failure-rate"}})));
  strategy.notifyFailure(0);
  EXPECT_TRUE(strategy.canRestart());
  EXPECT_EQ(strategy.backoffMillis(), 1000);
  strategy.notifyFailure(60'001);
  EXPECT_TRUE(strategy.canRestart());
  strategy.notifyFailure(120'001);  // exactly one minute later
  EXPECT_FALSE(strategy.canRestart());
}

// ---- Parse errors ----

struct BadValue {
  const char* type;
  const char* key;
  const char* value;
};

class RestartStrategyBadValueTest : public ::testing::TestWithParam<BadValue> {};

TEST_P(RestartStrategyBadValueTest, IsInvalidArgumentNamingTheKeyAndTheValue) {
  const BadValue& bad = GetParam();
  Configuration config =
      configOf({{config_keys::kRestartStrategy, bad.type}, {bad.key, bad.value}});
  for (bool checkpointing : {false, true}) {
    auto strategy = restartStrategyFrom(config, checkpointing);
    ASSERT_FALSE(strategy.ok());
    EXPECT_EQ(strategy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(strategy.status().message()),
                AllOf(HasSubstr(bad.key), HasSubstr(bad.value)));
  }
  // The configuration check of a process or a submitted job rejects it too, naming the key.
  absl::Status validated = config.validate();
  EXPECT_EQ(validated.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(validated.message()), HasSubstr(bad.key));
}

INSTANTIATE_TEST_SUITE_P(
    EveryKey,
    RestartStrategyBadValueTest,
    ::testing::Values(
        BadValue{"restart-forever", "restart-strategy.type", "restart-forever"},
        BadValue{"", "restart-strategy.type", ""},
        BadValue{"fixed-delay", "restart-strategy.fixed-delay.attempts", "-1"},
        BadValue{"fixed-delay", "restart-strategy.fixed-delay.attempts", "three"},
        BadValue{"fixed-delay", "restart-strategy.fixed-delay.attempts", "3000000000"},
        BadValue{"fixed-delay", "restart-strategy.fixed-delay.delay", "-5 s"},
        BadValue{"fixed-delay", "restart-strategy.fixed-delay.delay", "soon"},
        BadValue{"fixed-delay", "restart-strategy.fixed-delay.delay", "1 fortnight"},
        BadValue{"fixed-delay", "restart-strategy.fixed-delay.delay", "2 d"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.initial-backoff", "0"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.initial-backoff", "x"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.max-backoff", "0 ms"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.max-backoff", "later"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.backoff-multiplier",
                 "0.5"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.backoff-multiplier",
                 "-2"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.backoff-multiplier",
                 "double"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.backoff-multiplier",
                 "inf"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.backoff-multiplier",
                 "nan"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.reset-backoff-threshold",
                 "0 s"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.reset-backoff-threshold",
                 "an hour"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.jitter-factor", "1.5"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.jitter-factor", "-0.1"},
        BadValue{"exponential-delay", "restart-strategy.exponential-delay.jitter-factor", "10%"},
        BadValue{"exponential-delay",
                 "restart-strategy.exponential-delay.attempts-before-reset-backoff", "0"},
        BadValue{"exponential-delay",
                 "restart-strategy.exponential-delay.attempts-before-reset-backoff", "-3"},
        BadValue{"failure-rate", "restart-strategy.failure-rate.max-failures-per-interval", "0"},
        BadValue{"failure-rate", "restart-strategy.failure-rate.max-failures-per-interval", "many"},
        BadValue{"failure-rate", "restart-strategy.failure-rate.failure-rate-interval", "0 s"},
        BadValue{"failure-rate", "restart-strategy.failure-rate.failure-rate-interval", "1 eon"},
        BadValue{"failure-rate", "restart-strategy.failure-rate.delay", "-1"},
        BadValue{"failure-rate", "restart-strategy.failure-rate.delay", "1.5 s"}));

TEST(RestartStrategyFromTest, RejectsAMaxBackoffBelowTheInitialBackoff) {
  auto config = configOf({{"restart-strategy.type", "exponential-delay"},
                          {"restart-strategy.exponential-delay.initial-backoff", "2 s"},
                          {"restart-strategy.exponential-delay.max-backoff", "500 ms"}});
  auto strategy = restartStrategyFrom(config, false);
  ASSERT_FALSE(strategy.ok());
  EXPECT_EQ(strategy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(strategy.status().message(),
            "restart-strategy.exponential-delay.max-backoff: 500 ms is less than "
            "restart-strategy.exponential-delay.initial-backoff (2 s)");
  // Against a default: the initial backoff of 2 min is above the default maximum of 1 min.
  auto againstDefault = restartStrategyFrom(
      configOf({{"restart-strategy.exponential-delay.initial-backoff", "2 min"}}), true);
  ASSERT_FALSE(againstDefault.ok());
  EXPECT_EQ(againstDefault.status().message(),
            "restart-strategy.exponential-delay.max-backoff: 60000 ms is less than "
            "restart-strategy.exponential-delay.initial-backoff (2 min)");
}

TEST(RestartStrategyFromTest, ValidateAcceptsEveryKeyWithAGoodValue) {
  auto config =
      configOf({{"restart-strategy.type", "exponential-delay"},
                {"restart-strategy.fixed-delay.attempts", "3"},
                {"restart-strategy.fixed-delay.delay", "10 s"},
                {"restart-strategy.exponential-delay.initial-backoff", "1 s"},
                {"restart-strategy.exponential-delay.max-backoff", "1 min"},
                {"restart-strategy.exponential-delay.backoff-multiplier", "1.5"},
                {"restart-strategy.exponential-delay.reset-backoff-threshold", "1 h"},
                {"restart-strategy.exponential-delay.jitter-factor", "0.1"},
                {"restart-strategy.exponential-delay.attempts-before-reset-backoff", "2147483647"},
                {"restart-strategy.failure-rate.max-failures-per-interval", "1"},
                {"restart-strategy.failure-rate.failure-rate-interval", "1 min"},
                {"restart-strategy.failure-rate.delay", "1 s"}});
  EXPECT_TRUE(config.validate().ok()) << config.validate();
  EXPECT_TRUE(restartStrategyFrom(config, false).ok());
}

}  // namespace
}  // namespace brook::runtime
