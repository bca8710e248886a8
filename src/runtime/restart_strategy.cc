#include "runtime/restart_strategy.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>

#include "common/status_macros.h"

namespace brook::runtime {

namespace {

// The ranges Configuration::validate() enforces for the same keys (src/common/configuration.cc).
constexpr int64_t kMaxDelayMillis = 86'400'000;        // 1 day
constexpr int64_t kMaxIntervalMillis = 2'592'000'000;  // 30 days
constexpr int64_t kMaxCount = std::numeric_limits<int32_t>::max();

RestartStrategy::RandomSource defaultRandomSource() {
  return [engine = std::mt19937_64(std::random_device{}())]() mutable {
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
  };
}

// The text of `key` as the user wrote it, or `fallback` when it is not set.
std::string valueText(const Configuration& config, const char* key, const std::string& fallback) {
  return config.contains(key) ? config.getString(key, "") : fallback;
}

absl::Status outOfRange(const Configuration& config, const char* key, int64_t min, int64_t max) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", config.getString(key, ""),
                                                 " is out of range [", min, ", ", max, "]"));
}

absl::StatusOr<int64_t> intIn(
    const Configuration& config, const char* key, int64_t fallback, int64_t min, int64_t max) {
  BROOK_ASSIGN_OR_RETURN(int64_t value, config.getInt(key, fallback));
  if (value < min || value > max)
    return outOfRange(config, key, min, max);
  return value;
}

absl::StatusOr<int64_t> durationIn(
    const Configuration& config, const char* key, int64_t fallback, int64_t min, int64_t max) {
  BROOK_ASSIGN_OR_RETURN(int64_t value, config.getDurationMillis(key, fallback));
  if (value < min || value > max)
    return outOfRange(config, key, min, max);
  return value;
}

absl::StatusOr<double> doubleIn(
    const Configuration& config, const char* key, double fallback, int64_t min, int64_t max) {
  BROOK_ASSIGN_OR_RETURN(double value, config.getDouble(key, fallback));
  if (value < static_cast<double>(min) || value > static_cast<double>(max))
    return outOfRange(config, key, min, max);
  return value;
}

}  // namespace

absl::StatusOr<RestartStrategyKind> parseRestartStrategyKind(const std::string& text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "none" || lower == "off" || lower == "disable")
    return RestartStrategyKind::kNone;
  if (lower == "fixed-delay" || lower == "fixeddelay")
    return RestartStrategyKind::kFixedDelay;
  if (lower == "exponential-delay" || lower == "exponentialdelay")
    return RestartStrategyKind::kExponentialDelay;
  if (lower == "failure-rate" || lower == "failurerate")
    return RestartStrategyKind::kFailureRate;
  return absl::InvalidArgumentError(absl::StrCat(
      config_keys::kRestartStrategy,
      ": expected none, fixed-delay, exponential-delay or failure-rate, got '", text, "'"));
}

const char* restartStrategyKindName(RestartStrategyKind kind) {
  switch (kind) {
    case RestartStrategyKind::kNone:
      return "none";
    case RestartStrategyKind::kFixedDelay:
      return "fixed-delay";
    case RestartStrategyKind::kExponentialDelay:
      return "exponential-delay";
    case RestartStrategyKind::kFailureRate:
      return "failure-rate";
  }
  return "none";
}

RestartStrategy::RestartStrategy(RestartStrategySettings settings, RandomSource random)
    : settings_(settings), random_(random ? std::move(random) : defaultRandomSource()) {}

void RestartStrategy::notifyFailure(int64_t nowMillis) {
  ++failures_;
  switch (settings_.kind) {
    case RestartStrategyKind::kNone:
      backoffMillis_ = 0;
      return;
    case RestartStrategyKind::kFixedDelay:
      backoffMillis_ = settings_.fixedDelayMillis;
      return;
    case RestartStrategyKind::kExponentialDelay:
      // A job that ran long enough since its last restart starts over from the initial backoff
      // (the first failure always does: there was no restart).
      if (restartsSinceReset_ == 0 ||
          nowMillis - lastRestartMillis_ >= settings_.resetBackoffThresholdMillis) {
        restartsSinceReset_ = 0;
      }
      backoffMillis_ = exponentialBackoffMillis();
      ++restartsSinceReset_;
      lastRestartMillis_ = nowMillis + backoffMillis_;
      return;
    case RestartStrategyKind::kFailureRate:
      recentFailures_.push_back(nowMillis);
      // Failures older than the interval no longer count; beyond max + 1 the answer is the same.
      while (!recentFailures_.empty() &&
             (nowMillis - recentFailures_.front() > settings_.failureRateIntervalMillis ||
              std::cmp_greater(recentFailures_.size(),
                               int64_t{settings_.maxFailuresPerInterval} + 1))) {
        recentFailures_.pop_front();
      }
      backoffMillis_ = settings_.failureRateDelayMillis;
      return;
  }
}

bool RestartStrategy::canRestart() const {
  switch (settings_.kind) {
    case RestartStrategyKind::kNone:
      return false;
    case RestartStrategyKind::kFixedDelay:
      return failures_ <= settings_.fixedDelayAttempts;
    case RestartStrategyKind::kExponentialDelay:
      return restartsSinceReset_ <= settings_.attemptsBeforeResetBackoff;
    case RestartStrategyKind::kFailureRate:
      return std::cmp_less_equal(recentFailures_.size(), settings_.maxFailuresPerInterval);
  }
  return false;
}

int64_t RestartStrategy::exponentialBackoffMillis() {
  const auto initial = static_cast<double>(settings_.initialBackoffMillis);
  const auto max = static_cast<double>(settings_.maxBackoffMillis);
  // Capped before the conversion: the power overflows to infinity after enough restarts.
  double exact =
      initial * std::pow(settings_.backoffMultiplier, static_cast<double>(restartsSinceReset_));
  auto backoff = static_cast<int64_t>(std::min(exact, max));
  int64_t jitter = 0;
  if (settings_.jitterFactor > 0) {
    // Uniform over the integers [-offset, offset], as Flink's jitter.
    auto offset = static_cast<int64_t>(static_cast<double>(backoff) * settings_.jitterFactor);
    double u = std::clamp(random_(), 0.0, 1.0);
    jitter = std::min(offset, -offset + static_cast<int64_t>(
                                            std::floor(u * static_cast<double>(2 * offset + 1))));
  }
  return std::clamp(backoff + jitter, settings_.initialBackoffMillis, settings_.maxBackoffMillis);
}

std::string RestartStrategy::description() const {
  const char* name = restartStrategyKindName(settings_.kind);
  switch (settings_.kind) {
    case RestartStrategyKind::kNone:
      return name;
    case RestartStrategyKind::kFixedDelay:
      if (failures_ == 0) {
        return absl::StrCat(name, " (", settings_.fixedDelayAttempts, " attempts, delay ",
                            settings_.fixedDelayMillis, " ms)");
      }
      if (!canRestart())
        return absl::StrCat(name, " (all ", settings_.fixedDelayAttempts, " attempts used)");
      return absl::StrCat(name, " (", failures_, " of ", settings_.fixedDelayAttempts,
                          " attempts, delay ", backoffMillis_, " ms)");
    case RestartStrategyKind::kExponentialDelay: {
      bool bounded = settings_.attemptsBeforeResetBackoff != std::numeric_limits<int>::max();
      std::string attempts =
          bounded ? absl::StrCat(" of ", settings_.attemptsBeforeResetBackoff) : std::string();
      if (failures_ == 0) {
        return absl::StrCat(name, " (initial backoff ", settings_.initialBackoffMillis, " ms, max ",
                            settings_.maxBackoffMillis, " ms, multiplier ",
                            settings_.backoffMultiplier, ")");
      }
      if (!canRestart()) {
        return absl::StrCat(name, " (all ", settings_.attemptsBeforeResetBackoff,
                            " attempts since the last reset used)");
      }
      return absl::StrCat(name, " (", restartsSinceReset_, attempts,
                          " attempts since the last reset, backoff ", backoffMillis_, " ms)");
    }
    case RestartStrategyKind::kFailureRate:
      return absl::StrCat(name, " (", recentFailures_.size(), " failures in the last ",
                          settings_.failureRateIntervalMillis, " ms, at most ",
                          settings_.maxFailuresPerInterval, ", delay ",
                          settings_.failureRateDelayMillis, " ms)");
  }
  return name;
}

absl::StatusOr<RestartStrategySettings> restartStrategySettingsFrom(const Configuration& config,
                                                                    bool checkpointingEnabled) {
  namespace keys = config_keys;
  RestartStrategySettings s;
  if (config.contains(keys::kRestartStrategy)) {
    BROOK_ASSIGN_OR_RETURN(s.kind,
                           parseRestartStrategyKind(config.getString(keys::kRestartStrategy, "")));
  } else {
    s.kind =
        checkpointingEnabled ? RestartStrategyKind::kExponentialDelay : RestartStrategyKind::kNone;
  }
  switch (s.kind) {
    case RestartStrategyKind::kNone:
      break;
    case RestartStrategyKind::kFixedDelay: {
      BROOK_ASSIGN_OR_RETURN(int64_t attempts, intIn(config, keys::kRestartAttempts,
                                                     s.fixedDelayAttempts, 0, kMaxCount));
      s.fixedDelayAttempts = static_cast<int>(attempts);
      BROOK_ASSIGN_OR_RETURN(
          s.fixedDelayMillis,
          durationIn(config, keys::kRestartDelay, s.fixedDelayMillis, 0, kMaxDelayMillis));
      break;
    }
    case RestartStrategyKind::kExponentialDelay: {
      BROOK_ASSIGN_OR_RETURN(s.initialBackoffMillis,
                             durationIn(config, keys::kRestartInitialBackoff,
                                        s.initialBackoffMillis, 1, kMaxDelayMillis));
      BROOK_ASSIGN_OR_RETURN(
          s.maxBackoffMillis,
          durationIn(config, keys::kRestartMaxBackoff, s.maxBackoffMillis, 1, kMaxDelayMillis));
      if (s.maxBackoffMillis < s.initialBackoffMillis) {
        return absl::InvalidArgumentError(absl::StrCat(
            keys::kRestartMaxBackoff, ": ",
            valueText(config, keys::kRestartMaxBackoff, absl::StrCat(s.maxBackoffMillis, " ms")),
            " is less than ", keys::kRestartInitialBackoff, " (",
            valueText(config, keys::kRestartInitialBackoff,
                      absl::StrCat(s.initialBackoffMillis, " ms")),
            ")"));
      }
      BROOK_ASSIGN_OR_RETURN(s.backoffMultiplier, doubleIn(config, keys::kRestartBackoffMultiplier,
                                                           s.backoffMultiplier, 1, kMaxCount));
      BROOK_ASSIGN_OR_RETURN(s.resetBackoffThresholdMillis,
                             durationIn(config, keys::kRestartResetBackoffThreshold,
                                        s.resetBackoffThresholdMillis, 1, kMaxIntervalMillis));
      BROOK_ASSIGN_OR_RETURN(s.jitterFactor,
                             doubleIn(config, keys::kRestartJitterFactor, s.jitterFactor, 0, 1));
      BROOK_ASSIGN_OR_RETURN(int64_t attempts,
                             intIn(config, keys::kRestartAttemptsBeforeResetBackoff,
                                   s.attemptsBeforeResetBackoff, 1, kMaxCount));
      s.attemptsBeforeResetBackoff = static_cast<int>(attempts);
      break;
    }
    case RestartStrategyKind::kFailureRate: {
      BROOK_ASSIGN_OR_RETURN(int64_t maxFailures,
                             intIn(config, keys::kRestartMaxFailuresPerInterval,
                                   s.maxFailuresPerInterval, 1, kMaxCount));
      s.maxFailuresPerInterval = static_cast<int>(maxFailures);
      BROOK_ASSIGN_OR_RETURN(s.failureRateIntervalMillis,
                             durationIn(config, keys::kRestartFailureRateInterval,
                                        s.failureRateIntervalMillis, 1, kMaxIntervalMillis));
      BROOK_ASSIGN_OR_RETURN(s.failureRateDelayMillis,
                             durationIn(config, keys::kRestartFailureRateDelay,
                                        s.failureRateDelayMillis, 0, kMaxDelayMillis));
      break;
    }
  }
  return s;
}

absl::StatusOr<RestartStrategy> restartStrategyFrom(const Configuration& config,
                                                    bool checkpointingEnabled) {
  BROOK_ASSIGN_OR_RETURN(RestartStrategySettings settings,
                         restartStrategySettingsFrom(config, checkpointingEnabled));
  return RestartStrategy(settings);
}

}  // namespace brook::runtime
