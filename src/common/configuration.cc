#include "common/configuration.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <absl/strings/ascii.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>

namespace brook {

namespace {
std::string trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(absl::string_view(s)));
}

std::string unquote(std::string v) {
  if (v.size() >= 2 &&
      ((v.front() == '"' && v.back() == '"') || (v.front() == '\'' && v.back() == '\''))) {
    return v.substr(1, v.size() - 2);
  }
  return v;
}

// Splits "100 ms" into 100 and "ms".
absl::StatusOr<std::pair<int64_t, std::string>> splitNumberUnit(const std::string& text) {
  std::string t = trim(text);
  size_t i = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])))
    ++i;
  if (i == 0)
    return absl::InvalidArgumentError(absl::StrCat("'", t, "' is not a number"));
  int64_t n = 0;
  if (!absl::SimpleAtoi(absl::string_view(t.data(), i), &n)) {
    return absl::InvalidArgumentError(absl::StrCat("'", t, "' is out of range"));
  }
  return std::make_pair(n, absl::AsciiStrToLower(trim(t.substr(i))));
}
}  // namespace

absl::StatusOr<int64_t> parseDurationMillis(const std::string& text) {
  auto parsed = splitNumberUnit(text);
  if (!parsed.ok())
    return parsed.status();
  auto [n, unit] = *parsed;
  auto scaled = [&](int64_t factor) -> absl::StatusOr<int64_t> {
    if (n > INT64_MAX / factor) {
      return absl::InvalidArgumentError(absl::StrCat("duration '", text, "' is too large"));
    }
    return n * factor;
  };
  if (unit.empty() || unit == "ms" || unit == "milli" || unit == "millis" ||
      unit == "millisecond" || unit == "milliseconds") {
    return n;
  }
  if (unit == "s" || unit == "sec" || unit == "secs" || unit == "second" || unit == "seconds") {
    return scaled(1000);
  }
  if (unit == "min" || unit == "m" || unit == "minute" || unit == "minutes")
    return scaled(60'000);
  if (unit == "h" || unit == "hour" || unit == "hours")
    return scaled(3'600'000);
  if (unit == "d" || unit == "day" || unit == "days")
    return scaled(86'400'000);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown time unit '", unit, "' in '", text, "' (use ms, s, min, h or d)"));
}

absl::StatusOr<int64_t> parseBytes(const std::string& text) {
  auto parsed = splitNumberUnit(text);
  if (!parsed.ok())
    return parsed.status();
  auto [n, unit] = *parsed;
  auto shifted = [&](int bits) -> absl::StatusOr<int64_t> {
    if (n > (INT64_MAX >> bits)) {
      return absl::InvalidArgumentError(absl::StrCat("size '", text, "' is too large"));
    }
    return n << bits;
  };
  if (unit.empty() || unit == "b" || unit == "bytes")
    return n;
  if (unit == "k" || unit == "kb" || unit == "kib" || unit == "kibibytes")
    return shifted(10);
  if (unit == "m" || unit == "mb" || unit == "mib" || unit == "mebibytes")
    return shifted(20);
  if (unit == "g" || unit == "gb" || unit == "gib" || unit == "gibibytes")
    return shifted(30);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown size unit '", unit, "' in '", text, "' (use b, kb, mb or gb)"));
}

absl::StatusOr<Configuration> Configuration::loadYaml(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return absl::NotFoundError(absl::StrCat("cannot read configuration file '", path, "'"));
  Configuration config;
  std::string line;
  int lineNumber = 0;
  while (std::getline(in, line)) {
    ++lineNumber;
    auto hash = line.find('#');
    if (hash != std::string::npos)
      line.resize(hash);
    if (trim(line).empty())
      continue;
    if (std::isspace(static_cast<unsigned char>(line[0]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", lineNumber, ": nested keys are not supported; write 'a.b.c: value'"));
    }
    auto colon = line.find(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", lineNumber, ": expected 'key: value', got '", trim(line), "'"));
    }
    std::string key = trim(line.substr(0, colon));
    if (key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", lineNumber, ": empty key"));
    }
    config.values_[key] = unquote(trim(line.substr(colon + 1)));
  }
  return config;
}

absl::Status Configuration::setFromOption(const std::string& option) {
  auto eq = option.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat("-D expects key=value, got '", option, "'"));
  }
  values_[trim(option.substr(0, eq))] = trim(option.substr(eq + 1));
  return absl::OkStatus();
}

namespace {
enum class OptionType {
  kInt,
  kDouble,
  kDuration,
  kBytes,
  kRuntimeMode,
  kRestartStrategy,
  kStateBackendType,
  kCheckpointingMode,
  kBool,
  kString
};

struct OptionSpec {
  const char* key;
  OptionType type;
  int64_t min;
  int64_t max;
};

constexpr OptionSpec kOptions[] = {
    {config_keys::kParallelismDefault, OptionType::kInt, 1, 32768},
    {config_keys::kMaxParallelism, OptionType::kInt, 1, 32768},
    {config_keys::kRuntimeMode, OptionType::kRuntimeMode, 0, 0},
    {config_keys::kBufferTimeout, OptionType::kDuration, 0, INT64_MAX},
    {config_keys::kBufferTimeoutLegacy, OptionType::kDuration, 0, INT64_MAX},
    {config_keys::kAutoWatermarkInterval, OptionType::kDuration, 0, 86'400'000},
    {config_keys::kSegmentSize, OptionType::kBytes, 4 << 10, 64 << 20},
    {config_keys::kNetworkBufferSize, OptionType::kBytes, 4 << 10, 64 << 20},
    {config_keys::kBuffersPerChannel, OptionType::kInt, 1, 1024},
    {config_keys::kFloatingBuffers, OptionType::kInt, 0, 65536},
    {config_keys::kJobManagerAddress, OptionType::kString, 0, 0},
    {config_keys::kJobManagerPort, OptionType::kInt, 0, 65535},
    {config_keys::kNumberOfTaskSlots, OptionType::kInt, 1, 1024},
    {config_keys::kHeartbeatInterval, OptionType::kDuration, 10, 3'600'000},
    {config_keys::kHeartbeatTimeout, OptionType::kDuration, 20, 86'400'000},
    {config_keys::kBlobStorageDirectory, OptionType::kString, 0, 0},
    {config_keys::kTmpDirs, OptionType::kString, 0, 0},
    {config_keys::kTaskManagerHost, OptionType::kString, 0, 0},
    {config_keys::kTaskManagerBindHost, OptionType::kString, 0, 0},
    {config_keys::kTaskManagerRpcPort, OptionType::kInt, 0, 65535},
    {config_keys::kTaskManagerDataPort, OptionType::kInt, 0, 65535},
    {config_keys::kRestartStrategy, OptionType::kRestartStrategy, 0, 0},
    {config_keys::kRestartAttempts, OptionType::kInt, 0, INT32_MAX},
    {config_keys::kRestartDelay, OptionType::kDuration, 0, 86'400'000},
    {config_keys::kRestartInitialBackoff, OptionType::kDuration, 1, 86'400'000},
    {config_keys::kRestartMaxBackoff, OptionType::kDuration, 1, 86'400'000},
    {config_keys::kRestartBackoffMultiplier, OptionType::kDouble, 1, INT32_MAX},
    {config_keys::kRestartResetBackoffThreshold, OptionType::kDuration, 1, 2'592'000'000},
    {config_keys::kRestartJitterFactor, OptionType::kDouble, 0, 1},
    {config_keys::kRestartAttemptsBeforeResetBackoff, OptionType::kInt, 1, INT32_MAX},
    {config_keys::kRestartMaxFailuresPerInterval, OptionType::kInt, 1, INT32_MAX},
    {config_keys::kRestartFailureRateInterval, OptionType::kDuration, 1, 2'592'000'000},
    {config_keys::kRestartFailureRateDelay, OptionType::kDuration, 0, 86'400'000},
    {config_keys::kSlotRequestTimeout, OptionType::kDuration, 0, 86'400'000},
    {config_keys::kStateBackendType, OptionType::kStateBackendType, 0, 0},
    {config_keys::kRocksDbBlockCacheSize, OptionType::kBytes, 1 << 20, int64_t{1} << 40},
    {config_keys::kRocksDbWriteBufferSize, OptionType::kBytes, 1 << 20, int64_t{1} << 40},
    {config_keys::kRocksDbStateCacheSize, OptionType::kBytes, 0, int64_t{1} << 40},
    {config_keys::kRocksDbMaxBackgroundJobs, OptionType::kInt, 1, 256},
    {config_keys::kCheckpointingInterval, OptionType::kDuration, 0, 86'400'000},
    {config_keys::kCheckpointingMode, OptionType::kCheckpointingMode, 0, 0},
    {config_keys::kCheckpointingTimeout, OptionType::kDuration, 1, 86'400'000},
    {config_keys::kCheckpointingMinPause, OptionType::kDuration, 0, 86'400'000},
    {config_keys::kCheckpointingMaxConcurrent, OptionType::kInt, 1, 1000},
    {config_keys::kCheckpointingTolerableFailures, OptionType::kInt, 0, INT32_MAX},
    {config_keys::kCheckpointingUnaligned, OptionType::kBool, 0, 0},
    {config_keys::kAlignedCheckpointTimeout, OptionType::kDuration, 0, 86'400'000},
    {config_keys::kCheckpointsDirectory, OptionType::kString, 0, 0},
    {config_keys::kCheckpointsNumRetained, OptionType::kInt, 1, 1000},
    {config_keys::kStateBackendIncremental, OptionType::kBool, 0, 0},
    {config_keys::kSavepointsDirectory, OptionType::kString, 0, 0},
    {config_keys::kSavepointPath, OptionType::kString, 0, 0},
    {config_keys::kSavepointIgnoreUnclaimedState, OptionType::kBool, 0, 0},
};
}  // namespace

absl::Status Configuration::validate() const {
  for (const auto& [key, value] : values_) {
    const OptionSpec* spec = nullptr;
    for (const auto& o : kOptions) {
      if (key == o.key)
        spec = &o;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown configuration key '", key, "'"));
    }
    absl::StatusOr<int64_t> parsed = 0;
    switch (spec->type) {
      case OptionType::kInt:
        parsed = getInt(key, 0);
        break;
      case OptionType::kDuration:
        parsed = getDurationMillis(key, 0);
        break;
      case OptionType::kBytes:
        parsed = getBytes(key, 0);
        break;
      case OptionType::kDouble: {
        absl::StatusOr<double> number = getDouble(key, 0);
        if (!number.ok())
          return number.status();
        if (*number < static_cast<double>(spec->min) || *number > static_cast<double>(spec->max)) {
          return absl::InvalidArgumentError(absl::StrCat(key, ": ", value, " is out of range [",
                                                         spec->min, ", ", spec->max, "]"));
        }
        continue;
      }
      case OptionType::kString:
        if (value.empty())
          return absl::InvalidArgumentError(absl::StrCat(key, ": empty value"));
        continue;
      case OptionType::kRestartStrategy: {
        // The same names as runtime::parseRestartStrategyKind, which common cannot depend on.
        std::string lower = absl::AsciiStrToLower(value);
        if (lower != "none" && lower != "off" && lower != "disable" && lower != "fixed-delay" &&
            lower != "fixeddelay" && lower != "exponential-delay" && lower != "exponentialdelay" &&
            lower != "failure-rate" && lower != "failurerate") {
          return absl::InvalidArgumentError(absl::StrCat(
              key, ": expected none, fixed-delay, exponential-delay or failure-rate, got '", value,
              "'"));
        }
        continue;
      }
      case OptionType::kStateBackendType: {
        // The same rule as state::parseStateBackendType, which common cannot depend on.
        std::string lower = absl::AsciiStrToLower(value);
        if (lower != "heap" && lower != "hashmap" && lower != "rocksdb") {
          return absl::InvalidArgumentError(
              absl::StrCat(key, ": expected heap, hashmap or rocksdb, got '", value, "'"));
        }
        continue;
      }
      case OptionType::kCheckpointingMode: {
        std::string upper = absl::AsciiStrToUpper(value);
        if (upper != "EXACTLY_ONCE" && upper != "AT_LEAST_ONCE") {
          return absl::InvalidArgumentError(absl::StrCat(
              key, ": expected EXACTLY_ONCE or AT_LEAST_ONCE, got '", value, "'"));
        }
        continue;
      }
      case OptionType::kBool: {
        std::string lower = absl::AsciiStrToLower(value);
        if (lower != "true" && lower != "false") {
          return absl::InvalidArgumentError(
              absl::StrCat(key, ": expected true or false, got '", value, "'"));
        }
        continue;
      }
      case OptionType::kRuntimeMode: {
        std::string upper = absl::AsciiStrToUpper(value);
        if (upper != "STREAMING" && upper != "BATCH" && upper != "AUTOMATIC") {
          return absl::InvalidArgumentError(
              absl::StrCat(key, ": expected STREAMING, BATCH or AUTOMATIC, got '", value, "'"));
        }
        continue;
      }
    }
    if (!parsed.ok())
      return parsed.status();
    if (*parsed < spec->min || *parsed > spec->max) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": ", value, " is out of range [", spec->min, ", ", spec->max, "]"));
    }
  }
  return absl::OkStatus();
}

std::string temporaryDirectory(const Configuration& config) {
  std::string dirs = config.getString(config_keys::kTmpDirs, "");
  std::string first = dirs.substr(0, dirs.find(':'));
  if (!first.empty())
    return first;
  std::error_code error;
  std::filesystem::path system = std::filesystem::temp_directory_path(error);
  return error ? std::string("/tmp") : system.string();
}

const char* networkBufferSizeKey(const Configuration& config) {
  return config.contains(config_keys::kNetworkBufferSize) ? config_keys::kNetworkBufferSize
                                                          : config_keys::kSegmentSize;
}

absl::StatusOr<Configuration> loadConfiguration(const std::string& confFile,
                                                const std::vector<std::string>& options) {
  Configuration config;
  std::string path = confFile;
  if (path.empty()) {
    if (const char* dir = std::getenv("BROOK_CONF_DIR"); dir != nullptr && *dir != '\0') {
      path = std::string(dir) + "/brook.yaml";
    }
  }
  if (!path.empty()) {
    auto loaded = Configuration::loadYaml(path);
    if (!loaded.ok())
      return loaded.status();
    if (auto s = loaded->validate(); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
    }
    config = std::move(*loaded);
  }
  for (const auto& option : options) {
    if (auto s = config.setFromOption(option); !s.ok())
      return s;
  }
  if (auto s = config.validate(); !s.ok())
    return s;
  return config;
}

void Configuration::mergeFrom(const Configuration& other) {
  for (const auto& [k, v] : other.values_)
    values_[k] = v;
}

std::string Configuration::getString(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<int64_t> Configuration::getInt(const std::string& key, int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end())
    return fallback;
  int64_t v = 0;
  if (!absl::SimpleAtoi(absl::string_view(it->second), &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": expected an integer, got '", it->second, "'"));
  }
  return v;
}

absl::StatusOr<double> Configuration::getDouble(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  if (it == values_.end())
    return fallback;
  double v = 0;
  if (!absl::SimpleAtod(absl::string_view(it->second), &v) || !std::isfinite(v)) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": expected a number, got '", it->second, "'"));
  }
  return v;
}

absl::StatusOr<int64_t> Configuration::getDurationMillis(const std::string& key,
                                                         int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end())
    return fallback;
  auto v = parseDurationMillis(it->second);
  if (!v.ok())
    return absl::InvalidArgumentError(absl::StrCat(key, ": ", v.status().message()));
  return v;
}

absl::StatusOr<int64_t> Configuration::getBytes(const std::string& key, int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end())
    return fallback;
  auto v = parseBytes(it->second);
  if (!v.ok())
    return absl::InvalidArgumentError(absl::StrCat(key, ": ", v.status().message()));
  return v;
}

}  // namespace brook
