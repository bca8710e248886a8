#include "state/keyed_state_backend_factory.h"

#include <utility>

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>

#include "common/status_macros.h"
#include "state/internal/heap_keyed_state_backend.h"
#include "state/internal/rocksdb_keyed_state_backend.h"

namespace brook::state {

absl::StatusOr<StateBackendType> parseStateBackendType(std::string_view text) {
  const std::string lower = absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
  if (lower == "heap" || lower == "hashmap") {
    return StateBackendType::kHeap;
  }
  if (lower == "rocksdb") {
    return StateBackendType::kRocksDb;
  }
  return absl::InvalidArgumentError(absl::StrCat(brook::config_keys::kStateBackendType,
                                                 ": expected heap, hashmap or rocksdb, got '",
                                                 absl::string_view(text.data(), text.size()), "'"));
}

const char* stateBackendTypeName(StateBackendType type) {
  switch (type) {
    case StateBackendType::kHeap:
      return "heap";
    case StateBackendType::kRocksDb:
      return "rocksdb";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<RuntimeKeyedStateBackend>> createKeyedStateBackend(
    KeyedStateBackendOptions options) {
  if (options.maxParallelism < 1 || options.maxParallelism > kUpperBoundMaxParallelism) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keyed state backend of operator '", options.operatorDescription, "': max parallelism ",
        options.maxParallelism, " is outside [1, ", kUpperBoundMaxParallelism, "]"));
  }
  const KeyGroupRange range = options.keyGroupRange;
  if (range.size() > 0 && (range.start < 0 || range.end >= options.maxParallelism)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keyed state backend of operator '", options.operatorDescription, "': key groups [",
        range.start, ", ", range.end, "] are outside [0, ", options.maxParallelism - 1, "]"));
  }
  switch (options.type) {
    case StateBackendType::kHeap:
      return std::unique_ptr<RuntimeKeyedStateBackend>(
          std::make_unique<internal::HeapKeyedStateBackend>(options));
    case StateBackendType::kRocksDb: {
      if (options.rocksDbDirectory.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("RocksDB keyed state backend of operator '",
                                                       options.operatorDescription,
                                                       "' needs a local directory"));
      }
      BROOK_ASSIGN_OR_RETURN(std::unique_ptr<internal::RocksDbKeyedStateBackend> backend,
                             internal::RocksDbKeyedStateBackend::create(options));
      return std::unique_ptr<RuntimeKeyedStateBackend>(std::move(backend));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown state backend type ", static_cast<int>(options.type)));
}

}  // namespace brook::state
