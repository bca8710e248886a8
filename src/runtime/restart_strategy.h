#pragma once

/// How a job reacts to failures, with Flink's restart strategies and configuration keys:
///
///   restart-strategy.type   none (also off, disable) | fixed-delay | exponential-delay |
///                           failure-rate; unset: exponential-delay when checkpointing is enabled,
///                           else none
///   restart-strategy.fixed-delay.attempts                           1
///   restart-strategy.fixed-delay.delay                              1 s
///   restart-strategy.exponential-delay.initial-backoff              1 s
///   restart-strategy.exponential-delay.max-backoff                  1 min
///   restart-strategy.exponential-delay.backoff-multiplier           1.5
///   restart-strategy.exponential-delay.reset-backoff-threshold      1 h
///   restart-strategy.exponential-delay.jitter-factor                0.1
///   restart-strategy.exponential-delay.attempts-before-reset-backoff unbounded
///   restart-strategy.failure-rate.max-failures-per-interval          1
///   restart-strategy.failure-rate.failure-rate-interval              1 min
///   restart-strategy.failure-rate.delay                              1 s

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <string>

#include <absl/status/statusor.h>

#include "common/configuration.h"

namespace brook::runtime {

enum class RestartStrategyKind { kNone, kFixedDelay, kExponentialDelay, kFailureRate };

/// Parses restart-strategy.type: Flink's names and aliases in any case (none / off / disable,
/// fixed-delay / fixeddelay, exponential-delay / exponentialdelay, failure-rate / failurerate).
/// InvalidArgument names the key and the value.
absl::StatusOr<RestartStrategyKind> parseRestartStrategyKind(const std::string& text);

/// "none", "fixed-delay", "exponential-delay" or "failure-rate".
const char* restartStrategyKindName(RestartStrategyKind kind);

/// The settings of a restart strategy, with Flink's defaults; only those of `kind` matter.
struct RestartStrategySettings {
  RestartStrategyKind kind = RestartStrategyKind::kNone;

  /// fixed-delay: restarts before the job fails, and the pause before each.
  int fixedDelayAttempts = 1;
  int64_t fixedDelayMillis = 1000;

  /// exponential-delay: the first backoff, multiplied after each restart up to the maximum.
  int64_t initialBackoffMillis = 1000;
  int64_t maxBackoffMillis = 60'000;
  double backoffMultiplier = 1.5;
  /// A failure this long after the last restart starts again from the initial backoff.
  int64_t resetBackoffThresholdMillis = 3'600'000;
  /// Each backoff moves by up to this fraction of itself, at random, in both directions.
  double jitterFactor = 0.1;
  /// Restarts allowed between two resets of the backoff; the next failure fails the job.
  int attemptsBeforeResetBackoff = std::numeric_limits<int>::max();

  /// failure-rate: the job fails once more than `maxFailuresPerInterval` failures happened
  /// within the last `failureRateIntervalMillis`; it pauses `failureRateDelayMillis` before
  /// each restart.
  int maxFailuresPerInterval = 1;
  int64_t failureRateIntervalMillis = 60'000;
  int64_t failureRateDelayMillis = 1000;
};

/// Decides, failure by failure, whether a job restarts and after which backoff: Flink's
/// RestartBackoffTimeStrategy. The owner calls notifyFailure() once per failed attempt, then
/// canRestart() and backoffMillis(). A value type without threads; not thread-safe, the owner
/// (the JobMaster's job thread, or the MiniCluster) serializes its calls. Time is passed in, so
/// tests control it; the jitter of exponential-delay comes from a random source that tests may
/// replace.
class RestartStrategy {
 public:
  /// Returns numbers uniform in [0, 1).
  using RandomSource = std::function<double()>;

  /// The none strategy: the first failure fails the job.
  RestartStrategy() : RestartStrategy(RestartStrategySettings{}) {}
  /// A fresh strategy (no failures yet) from settings that restartStrategyFrom() would accept.
  /// Without `random`, jitter uses a generator seeded from std::random_device.
  explicit RestartStrategy(RestartStrategySettings settings, RandomSource random = nullptr);

  /// Records a failure at `nowMillis` (milliseconds of any monotonic-enough clock; calls must not
  /// go back in time) and computes the backoff before the restart it asks for.
  void notifyFailure(int64_t nowMillis);
  /// Whether the job may restart after the failures notified so far.
  bool canRestart() const;
  /// The pause before the restart for the last notified failure; 0 before any failure.
  int64_t backoffMillis() const { return backoffMillis_; }
  /// The strategy and its state for logs, e.g. "fixed-delay (2 of 3 attempts, delay 1000 ms)",
  /// "exponential-delay (3 attempts since the last reset, backoff 2250 ms)", "failure-rate (2
  /// failures in the last 60000 ms, at most 3, delay 1000 ms)".
  std::string description() const;

  const RestartStrategySettings& settings() const { return settings_; }
  RestartStrategyKind kind() const { return settings_.kind; }
  /// Failures notified so far.
  int64_t failures() const { return failures_; }

 private:
  int64_t exponentialBackoffMillis();

  RestartStrategySettings settings_;
  RandomSource random_;
  int64_t failures_ = 0;
  int64_t backoffMillis_ = 0;
  /// exponential-delay: restarts since the last reset, and when the last restart was due.
  int64_t restartsSinceReset_ = 0;
  int64_t lastRestartMillis_ = 0;
  /// failure-rate: times of the failures at most the interval before the last one (no more
  /// than maxFailuresPerInterval + 1 of them).
  std::deque<int64_t> recentFailures_;
};

/// Reads the restart strategy from a job's (or the cluster's) configuration: restart-strategy.type
/// and the keys of that kind (keys of other kinds are ignored). Without restart-strategy.type, it
/// is exponential-delay when `checkpointingEnabled`, else none (as Flink 1.19). Every bad value
/// is InvalidArgument naming the key and the value: unknown type, non-numeric or negative
/// numbers, text that is not a duration, backoff-multiplier < 1, jitter-factor outside [0, 1],
/// max-backoff < initial-backoff, values beyond the ranges Configuration::validate() enforces.
absl::StatusOr<RestartStrategySettings> restartStrategySettingsFrom(const Configuration& config,
                                                                    bool checkpointingEnabled);

/// restartStrategySettingsFrom() as a fresh strategy, with the default random source.
absl::StatusOr<RestartStrategy> restartStrategyFrom(const Configuration& config,
                                                    bool checkpointingEnabled);

}  // namespace brook::runtime
