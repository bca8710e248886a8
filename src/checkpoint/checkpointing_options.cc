#include "checkpoint/checkpointing_options.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>

#include "common/status_macros.h"

namespace brook::checkpoint {
namespace {

absl::StatusOr<bool> getBool(const Configuration& config, const std::string& key, bool fallback) {
  if (!config.contains(key))
    return fallback;
  std::string value = absl::AsciiStrToLower(config.getString(key, ""));
  if (value == "true")
    return true;
  if (value == "false")
    return false;
  return absl::InvalidArgumentError(absl::StrCat(key, ": expected true or false, got '",
                                                 config.getString(key, ""), "'"));
}

absl::Status checkRange(const std::string& key, int64_t value, int64_t min, int64_t max) {
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", value, " is out of range [", min, ", ", max, "]"));
  }
  return absl::OkStatus();
}

constexpr int64_t kDay = 86'400'000;

}  // namespace

absl::StatusOr<SavepointRestoreSettings> savepointRestoreSettingsFrom(const Configuration& config) {
  SavepointRestoreSettings settings;
  settings.path = config.getString(config_keys::kSavepointPath, "");
  BROOK_ASSIGN_OR_RETURN(settings.allowNonRestoredState,
                         getBool(config, config_keys::kSavepointIgnoreUnclaimedState, false));
  return settings;
}

const char* modeName(CheckpointingMode mode) {
  return mode == CheckpointingMode::kExactlyOnce ? "EXACTLY_ONCE" : "AT_LEAST_ONCE";
}

absl::StatusOr<CheckpointingOptions> checkpointingOptionsFrom(const Configuration& config) {
  namespace keys = config_keys;
  CheckpointingOptions o;
  BROOK_ASSIGN_OR_RETURN(o.intervalMillis,
                         config.getDurationMillis(keys::kCheckpointingInterval, 0));
  BROOK_RETURN_IF_ERROR(checkRange(keys::kCheckpointingInterval, o.intervalMillis, 0, kDay));
  if (config.contains(keys::kCheckpointingMode)) {
    std::string mode = absl::AsciiStrToUpper(config.getString(keys::kCheckpointingMode, ""));
    if (mode == "EXACTLY_ONCE") {
      o.mode = CheckpointingMode::kExactlyOnce;
    } else if (mode == "AT_LEAST_ONCE") {
      o.mode = CheckpointingMode::kAtLeastOnce;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(keys::kCheckpointingMode, ": expected EXACTLY_ONCE or AT_LEAST_ONCE, got '",
                       config.getString(keys::kCheckpointingMode, ""), "'"));
    }
  }
  BROOK_ASSIGN_OR_RETURN(o.timeoutMillis,
                         config.getDurationMillis(keys::kCheckpointingTimeout, o.timeoutMillis));
  BROOK_RETURN_IF_ERROR(checkRange(keys::kCheckpointingTimeout, o.timeoutMillis, 1, kDay));
  BROOK_ASSIGN_OR_RETURN(o.minPauseMillis,
                         config.getDurationMillis(keys::kCheckpointingMinPause, 0));
  BROOK_RETURN_IF_ERROR(checkRange(keys::kCheckpointingMinPause, o.minPauseMillis, 0, kDay));
  BROOK_ASSIGN_OR_RETURN(int64_t maxConcurrent,
                         config.getInt(keys::kCheckpointingMaxConcurrent, 1));
  BROOK_RETURN_IF_ERROR(checkRange(keys::kCheckpointingMaxConcurrent, maxConcurrent, 1, 1000));
  o.maxConcurrentCheckpoints = static_cast<int>(maxConcurrent);
  BROOK_ASSIGN_OR_RETURN(int64_t tolerable,
                         config.getInt(keys::kCheckpointingTolerableFailures, 0));
  BROOK_RETURN_IF_ERROR(
      checkRange(keys::kCheckpointingTolerableFailures, tolerable, 0, INT32_MAX));
  o.tolerableFailedCheckpoints = static_cast<int>(tolerable);
  BROOK_ASSIGN_OR_RETURN(o.unaligned, getBool(config, keys::kCheckpointingUnaligned, false));
  BROOK_ASSIGN_OR_RETURN(o.alignedCheckpointTimeoutMillis,
                         config.getDurationMillis(keys::kAlignedCheckpointTimeout, 0));
  BROOK_RETURN_IF_ERROR(checkRange(keys::kAlignedCheckpointTimeout,
                                   o.alignedCheckpointTimeoutMillis, 0, kDay));
  o.directory = config.getString(keys::kCheckpointsDirectory, "");
  BROOK_ASSIGN_OR_RETURN(int64_t retained, config.getInt(keys::kCheckpointsNumRetained, 1));
  BROOK_RETURN_IF_ERROR(checkRange(keys::kCheckpointsNumRetained, retained, 1, 1000));
  o.numRetained = static_cast<int>(retained);
  BROOK_ASSIGN_OR_RETURN(o.incremental, getBool(config, keys::kStateBackendIncremental, false));
  if (o.mode == CheckpointingMode::kAtLeastOnce && o.unaligned) {
    return absl::InvalidArgumentError(
        absl::StrCat(keys::kCheckpointingUnaligned, ": unaligned checkpoints need ",
                     keys::kCheckpointingMode, " EXACTLY_ONCE"));
  }
  if (o.alignedCheckpointTimeoutMillis > 0 && !o.unaligned) {
    return absl::InvalidArgumentError(absl::StrCat(keys::kAlignedCheckpointTimeout,
                                                   ": switching to unaligned checkpoints needs ",
                                                   keys::kCheckpointingUnaligned, " true"));
  }
  if (o.enabled() && o.directory.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(keys::kCheckpointingInterval, " is set but ", keys::kCheckpointsDirectory,
                     " is not: checkpoints need a directory"));
  }
  return o;
}

}  // namespace brook::checkpoint
