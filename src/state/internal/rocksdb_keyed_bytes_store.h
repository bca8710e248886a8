#pragma once

/// The typed state API's KeyedBytesStore over a RocksDbKeyedStore.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/status/status.h>

#include <brook/internal/keyed_state_backend.h>
#include <brook/state.h>  // completes brook::State, which keyed_state_backend.h needs

#include "state/rocksdb_keyed_store.h"

namespace brook::state::internal {

/// Serialized keyed state in RocksDB, as the store tables of the typed API use it: the API's
/// state ids are the store's StateId indexes, and every failing call throws
/// brook::StateException naming the state, the operator and RocksDB's message. Owns the store
/// (closing it and removing its directory when destroyed). Used on the task's thread.
class RocksDbKeyedBytesStore final : public brook::internal::KeyedBytesStore {
 public:
  RocksDbKeyedBytesStore(std::unique_ptr<RocksDbKeyedStore> store, std::string operatorDescription)
      : store_(std::move(store)), operatorDescription_(std::move(operatorDescription)) {}

  RocksDbKeyedStore& store() { return *store_; }
  const RocksDbKeyedStore& store() const { return *store_; }

  int registerState(std::string_view name, brook::internal::StateShape shape) override;

  bool getValue(int state,
                int keyGroup,
                std::string_view key,
                std::string_view ns,
                std::string* value) override;
  void putValue(int state,
                int keyGroup,
                std::string_view key,
                std::string_view ns,
                std::string_view value) override;
  void removeValue(int state, int keyGroup, std::string_view key, std::string_view ns) override;
  void prefetch(int state, int keyGroup, std::string_view key, std::string_view ns) override;

  bool getList(int state,
               int keyGroup,
               std::string_view key,
               std::string_view ns,
               std::vector<std::string>* elements) override;
  void addToList(int state,
                 int keyGroup,
                 std::string_view key,
                 std::string_view ns,
                 std::string_view element) override;
  void updateList(int state,
                  int keyGroup,
                  std::string_view key,
                  std::string_view ns,
                  std::span<const std::string> elements) override;

  bool getMapValue(int state,
                   int keyGroup,
                   std::string_view key,
                   std::string_view ns,
                   std::string_view userKey,
                   std::string* value) override;
  void putMapValue(int state,
                   int keyGroup,
                   std::string_view key,
                   std::string_view ns,
                   std::string_view userKey,
                   std::string_view value) override;
  void removeMapValue(int state,
                      int keyGroup,
                      std::string_view key,
                      std::string_view ns,
                      std::string_view userKey) override;
  bool containsMapKey(int state,
                      int keyGroup,
                      std::string_view key,
                      std::string_view ns,
                      std::string_view userKey) override;
  void mapEntries(int state,
                  int keyGroup,
                  std::string_view key,
                  std::string_view ns,
                  std::vector<std::pair<std::string, std::string>>* entries) override;
  void clearMap(int state, int keyGroup, std::string_view key, std::string_view ns) override;

  /// Passes the time-to-live on to the store (RocksDbKeyedStore::setTimeToLive).
  void setTimeToLive(int state, int64_t ttlMillis) override;

 private:
  /// Throws StateException for `status` of a call on `state`.
  [[noreturn]] void fail(int state, const absl::Status& status) const;
  [[noreturn]] void fail(std::string_view stateName, const absl::Status& status) const;
  void check(int state, const absl::Status& status) const {
    if (!status.ok()) [[unlikely]] {
      fail(state, status);
    }
  }
  bool check(int state, const absl::StatusOr<bool>& result) const {
    if (!result.ok()) [[unlikely]] {
      fail(state, result.status());
    }
    return *result;
  }

  std::unique_ptr<RocksDbKeyedStore> store_;
  std::string operatorDescription_;
  // By state id, the names of the states registered through registerState.
  std::vector<std::string> names_;
};

}  // namespace brook::state::internal
