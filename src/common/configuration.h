#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

namespace brook {

/// Flink-style configuration: flat `key: value` pairs from conf/brook.yaml, overridden by
/// `-D key=value`. Typed getters validate and name the key in their errors.
class Configuration {
 public:
  Configuration() = default;

  /// Reads a flat YAML file of `key: value` lines; '#' starts a comment. An error names the
  /// file and line.
  static absl::StatusOr<Configuration> loadYaml(const std::string& path);
  /// Parses "key=value" (a -D option).
  absl::Status setFromOption(const std::string& option);

  void set(const std::string& key, std::string value) { values_[key] = std::move(value); }
  bool contains(const std::string& key) const { return values_.count(key) != 0; }
  void mergeFrom(const Configuration& other);

  std::string getString(const std::string& key, const std::string& fallback) const;
  absl::StatusOr<int64_t> getInt(const std::string& key, int64_t fallback) const;
  /// Finite decimal numbers: "1.5", "2", "0.25".
  absl::StatusOr<double> getDouble(const std::string& key, double fallback) const;
  /// Durations: "100 ms", "100ms", "2s", "1 min", or a bare number of milliseconds.
  absl::StatusOr<int64_t> getDurationMillis(const std::string& key, int64_t fallback) const;
  /// Sizes: "32kb", "32 KiB", "1mb", or a bare number of bytes.
  absl::StatusOr<int64_t> getBytes(const std::string& key, int64_t fallback) const;

  const std::map<std::string, std::string>& values() const { return values_; }

  /// Checks that every key is one Brook knows and that its value parses and is in range; the
  /// error names the key.
  absl::Status validate() const;

 private:
  std::map<std::string, std::string> values_;
};

/// The configuration of a Brook process: `confFile` (or, when empty, $BROOK_CONF_DIR/brook.yaml
/// if that variable is set), then the `-D key=value` options, validated. Errors name the file
/// or option at fault.
absl::StatusOr<Configuration> loadConfiguration(const std::string& confFile,
                                                const std::vector<std::string>& options);

/// Parses a Flink duration ("100 ms", "2s", "1 min"); bare numbers are milliseconds.
absl::StatusOr<int64_t> parseDurationMillis(const std::string& text);
/// Parses a Flink memory size ("32kb", "64 mb"); bare numbers are bytes.
absl::StatusOr<int64_t> parseBytes(const std::string& text);

/// The folder for a process's temporary files: the first entry of io.tmp.dirs (entries are
/// separated by ':'), else the system's temporary folder ($TMPDIR or /tmp).
std::string temporaryDirectory(const Configuration& config);

/// The key that sets the network buffer size in `config`: taskmanager.network.buffer-size if
/// set, else taskmanager.memory.segment-size.
const char* networkBufferSizeKey(const Configuration& config);

/// The configuration keys Brook reads, with Flink's names.
namespace config_keys {
inline constexpr char kParallelismDefault[] = "parallelism.default";
inline constexpr char kMaxParallelism[] = "pipeline.max-parallelism";
inline constexpr char kRuntimeMode[] = "execution.runtime-mode";
inline constexpr char kBufferTimeout[] = "execution.buffer-timeout.interval";
inline constexpr char kBufferTimeoutLegacy[] = "execution.buffer-timeout";
/// How often watermark generators emit periodically (default 200 ms); 0 disables it.
inline constexpr char kAutoWatermarkInterval[] = "pipeline.auto-watermark-interval";
inline constexpr char kSegmentSize[] = "taskmanager.memory.segment-size";
/// Brook's name for the network buffer size; wins over kSegmentSize when both are set.
inline constexpr char kNetworkBufferSize[] = "taskmanager.network.buffer-size";
inline constexpr char kBuffersPerChannel[] = "taskmanager.network.memory.buffers-per-channel";
inline constexpr char kFloatingBuffers[] = "taskmanager.network.memory.floating-buffers-per-gate";
inline constexpr char kJobManagerAddress[] = "jobmanager.rpc.address";
inline constexpr char kJobManagerPort[] = "jobmanager.rpc.port";
inline constexpr char kNumberOfTaskSlots[] = "taskmanager.numberOfTaskSlots";
inline constexpr char kHeartbeatInterval[] = "heartbeat.interval";
inline constexpr char kHeartbeatTimeout[] = "heartbeat.timeout";
inline constexpr char kBlobStorageDirectory[] = "blob.storage.directory";
inline constexpr char kTmpDirs[] = "io.tmp.dirs";
inline constexpr char kTaskManagerHost[] = "taskmanager.host";
inline constexpr char kTaskManagerBindHost[] = "taskmanager.bind-host";
inline constexpr char kTaskManagerRpcPort[] = "taskmanager.rpc.port";
inline constexpr char kTaskManagerDataPort[] = "taskmanager.data.port";
/// Restart strategies (src/runtime/restart_strategy.h): none, fixed-delay, exponential-delay or
/// failure-rate, and the settings of each.
inline constexpr char kRestartStrategy[] = "restart-strategy.type";
inline constexpr char kRestartAttempts[] = "restart-strategy.fixed-delay.attempts";
inline constexpr char kRestartDelay[] = "restart-strategy.fixed-delay.delay";
inline constexpr char kRestartInitialBackoff[] =
    "restart-strategy.exponential-delay.initial-backoff";
inline constexpr char kRestartMaxBackoff[] = "restart-strategy.exponential-delay.max-backoff";
inline constexpr char kRestartBackoffMultiplier[] =
    "restart-strategy.exponential-delay.backoff-multiplier";
inline constexpr char kRestartResetBackoffThreshold[] =
    "restart-strategy.exponential-delay.reset-backoff-threshold";
inline constexpr char kRestartJitterFactor[] = "restart-strategy.exponential-delay.jitter-factor";
inline constexpr char kRestartAttemptsBeforeResetBackoff[] =
    "restart-strategy.exponential-delay.attempts-before-reset-backoff";
inline constexpr char kRestartMaxFailuresPerInterval[] =
    "restart-strategy.failure-rate.max-failures-per-interval";
inline constexpr char kRestartFailureRateInterval[] =
    "restart-strategy.failure-rate.failure-rate-interval";
inline constexpr char kRestartFailureRateDelay[] = "restart-strategy.failure-rate.delay";
inline constexpr char kSlotRequestTimeout[] = "slot.request.timeout";
/// Where keyed operators keep their state: `heap` (objects in memory; `hashmap`, Flink's name,
/// is the same) or `rocksdb` (serialized on local disk under io.tmp.dirs).
inline constexpr char kStateBackendType[] = "state.backend.type";
/// Capacity of the LRU block cache shared by all states of one RocksDB store.
inline constexpr char kRocksDbBlockCacheSize[] = "state.backend.rocksdb.block.cache-size";
/// Memory for the memtables of all states of one RocksDB store together (not per state, as in
/// Flink).
inline constexpr char kRocksDbWriteBufferSize[] = "state.backend.rocksdb.writebuffer.size";
/// Capacity of the state cache of one RocksDB store: its most recently used state entries,
/// serialized, in front of RocksDB (0 turns it off).
inline constexpr char kRocksDbStateCacheSize[] = "state.backend.rocksdb.state-cache.size";
/// Concurrent background flushes and compactions of one RocksDB store.
inline constexpr char kRocksDbMaxBackgroundJobs[] = "state.backend.rocksdb.thread.num";
/// Checkpoints (src/checkpoint/checkpointing_options.h).
inline constexpr char kCheckpointingInterval[] = "execution.checkpointing.interval";
inline constexpr char kCheckpointingMode[] = "execution.checkpointing.mode";
inline constexpr char kCheckpointingTimeout[] = "execution.checkpointing.timeout";
inline constexpr char kCheckpointingMinPause[] = "execution.checkpointing.min-pause";
inline constexpr char kCheckpointingMaxConcurrent[] =
    "execution.checkpointing.max-concurrent-checkpoints";
inline constexpr char kCheckpointingTolerableFailures[] =
    "execution.checkpointing.tolerable-failed-checkpoints";
inline constexpr char kCheckpointingUnaligned[] = "execution.checkpointing.unaligned.enabled";
inline constexpr char kAlignedCheckpointTimeout[] =
    "execution.checkpointing.aligned-checkpoint-timeout";
inline constexpr char kCheckpointsDirectory[] = "state.checkpoints.dir";
inline constexpr char kCheckpointsNumRetained[] = "state.checkpoints.num-retained";
inline constexpr char kStateBackendIncremental[] = "state.backend.incremental";
/// Where `brook savepoint` / `brook stop` put savepoints when no folder is given.
inline constexpr char kSavepointsDirectory[] = "state.savepoints.dir";
/// Starting a job from a savepoint or retained checkpoint (`brook run -s`).
inline constexpr char kSavepointPath[] = "execution.savepoint.path";
inline constexpr char kSavepointIgnoreUnclaimedState[] =
    "execution.savepoint.ignore-unclaimed-state";
}  // namespace config_keys

}  // namespace brook
