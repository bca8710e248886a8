#include "state/internal/rocksdb_keyed_bytes_store.h"

#include <absl/strings/str_cat.h>

#include <brook/state.h>

namespace brook::state::internal {

namespace {

StateId id(int state) {
  return StateId{state};
}

}  // namespace

void RocksDbKeyedBytesStore::fail(int state, const absl::Status& status) const {
  if (state >= 0 && static_cast<size_t>(state) < names_.size()) {
    fail(names_[static_cast<size_t>(state)], status);
  }
  fail(absl::StrCat("#", state), status);
}

void RocksDbKeyedBytesStore::fail(std::string_view stateName, const absl::Status& status) const {
  throw StateException(
      absl::StrCat("state '", absl::string_view(stateName.data(), stateName.size()),
                   "' of operator '", operatorDescription_, "': ", status.ToString()));
}

int RocksDbKeyedBytesStore::registerState(std::string_view name,
                                          brook::internal::StateShape shape) {
  absl::StatusOr<StateId> registered = store_->registerState(name, static_cast<StateKind>(shape));
  if (!registered.ok()) {
    fail(name, registered.status());
  }
  const auto index = static_cast<size_t>(registered->index);
  if (names_.size() <= index) {
    names_.resize(index + 1);
  }
  names_[index].assign(name);
  return registered->index;
}

bool RocksDbKeyedBytesStore::getValue(
    int state, int keyGroup, std::string_view key, std::string_view ns, std::string* value) {
  return check(state, store_->getValue(id(state), keyGroup, key, ns, value));
}

void RocksDbKeyedBytesStore::putValue(
    int state, int keyGroup, std::string_view key, std::string_view ns, std::string_view value) {
  check(state, store_->putValue(id(state), keyGroup, key, ns, value));
}

void RocksDbKeyedBytesStore::prefetch(int state,
                                      int keyGroup,
                                      std::string_view key,
                                      std::string_view ns) {
  store_->prefetchRow(id(state), keyGroup, key, ns);
}

void RocksDbKeyedBytesStore::removeValue(int state,
                                         int keyGroup,
                                         std::string_view key,
                                         std::string_view ns) {
  check(state, store_->removeValue(id(state), keyGroup, key, ns));
}

bool RocksDbKeyedBytesStore::getList(int state,
                                     int keyGroup,
                                     std::string_view key,
                                     std::string_view ns,
                                     std::vector<std::string>* elements) {
  return check(state, store_->getList(id(state), keyGroup, key, ns, elements));
}

void RocksDbKeyedBytesStore::addToList(
    int state, int keyGroup, std::string_view key, std::string_view ns, std::string_view element) {
  check(state, store_->addToList(id(state), keyGroup, key, ns, element));
}

void RocksDbKeyedBytesStore::updateList(int state,
                                        int keyGroup,
                                        std::string_view key,
                                        std::string_view ns,
                                        std::span<const std::string> elements) {
  check(state, store_->updateList(id(state), keyGroup, key, ns, elements));
}

bool RocksDbKeyedBytesStore::getMapValue(int state,
                                         int keyGroup,
                                         std::string_view key,
                                         std::string_view ns,
                                         std::string_view userKey,
                                         std::string* value) {
  return check(state, store_->getMapValue(id(state), keyGroup, key, ns, userKey, value));
}

void RocksDbKeyedBytesStore::putMapValue(int state,
                                         int keyGroup,
                                         std::string_view key,
                                         std::string_view ns,
                                         std::string_view userKey,
                                         std::string_view value) {
  check(state, store_->putMapValue(id(state), keyGroup, key, ns, userKey, value));
}

void RocksDbKeyedBytesStore::removeMapValue(
    int state, int keyGroup, std::string_view key, std::string_view ns, std::string_view userKey) {
  check(state, store_->removeMapValue(id(state), keyGroup, key, ns, userKey));
}

bool RocksDbKeyedBytesStore::containsMapKey(
    int state, int keyGroup, std::string_view key, std::string_view ns, std::string_view userKey) {
  return check(state, store_->containsMapKey(id(state), keyGroup, key, ns, userKey));
}

void RocksDbKeyedBytesStore::mapEntries(int state,
                                        int keyGroup,
                                        std::string_view key,
                                        std::string_view ns,
                                        std::vector<std::pair<std::string, std::string>>* entries) {
  absl::StatusOr<std::unique_ptr<RocksDbMapIterator>> it =
      store_->iterateMap(id(state), keyGroup, key, ns);
  if (!it.ok()) {
    fail(state, it.status());
  }
  RocksDbMapIterator& iterator = **it;
  for (; iterator.valid(); iterator.next()) {
    entries->emplace_back(iterator.userKey(), iterator.value());
  }
  check(state, iterator.status());
}

void RocksDbKeyedBytesStore::clearMap(int state,
                                      int keyGroup,
                                      std::string_view key,
                                      std::string_view ns) {
  check(state, store_->clearMap(id(state), keyGroup, key, ns));
}

void RocksDbKeyedBytesStore::setTimeToLive(int state, int64_t ttlMillis) {
  check(state, store_->setTimeToLive(id(state), ttlMillis));
}

}  // namespace brook::state::internal
