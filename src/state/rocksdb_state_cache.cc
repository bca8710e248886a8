#include "state/rocksdb_state_cache.h"

#include <utility>

namespace brook::state {

namespace {

// Abseil's string_view is its own type on this platform.
absl::string_view toAbsl(std::string_view s) {
  return {s.data(), s.size()};
}

}  // namespace

RocksDbStateCache::RocksDbStateCache(int64_t capacityBytes)
    : capacityBytes_(capacityBytes > 0 ? capacityBytes : 0) {}

CachedRow* RocksDbStateCache::find(std::string_view rowKey) {
  const absl::string_view key = toAbsl(rowKey);
  const size_t hash = young_.hash_function()(key);
  if (auto it = young_.find(key, hash); it != young_.end()) {
    return &it->second;
  }
  auto it = old_.find(key, hash);
  if (it == old_.end() || it->second.bytes == kMovedYoung) {
    return nullptr;
  }
  // The row moves; its slot in the old generation stays, emptied and marked. Erasing it would
  // leave a tombstone in a table that never grows again, and once most of its rows have moved
  // a lookup of a key it lacks would probe through tombstones for most of the table.
  const int64_t bytes = it->second.bytes;
  oldBytes_ -= bytes;
  youngBytes_ += bytes;
  CachedRow& row = young_.try_emplace(it->first).first->second;
  row = std::move(it->second);
  it->second = CachedRow();
  it->second.bytes = kMovedYoung;
  return &row;
}

void RocksDbStateCache::prefetch(std::string_view rowKey) const {
  const PrehashedRowKey key{young_.hash_function()(toAbsl(rowKey))};
  auto it = young_.find(key);
  if (it == young_.end()) {
    it = old_.find(key);
    if (it == old_.end()) {
      return;
    }
  }
  // The row's key and the start of its value, and the slot's last byte.
  const char* slot = reinterpret_cast<const char*>(&*it);
  __builtin_prefetch(slot, 1);
  __builtin_prefetch(slot + sizeof(*it) - 1, 1);
}

CachedRow& RocksDbStateCache::insert(std::string_view rowKey) {
  CachedRow& row = young_.try_emplace(RowKey(rowKey)).first->second;
  row.bytes = emptyRowBytes(rowKey);
  youngBytes_ += row.bytes;
  return row;
}

void RocksDbStateCache::erase(std::string_view rowKey) {
  if (auto it = young_.find(toAbsl(rowKey)); it != young_.end()) {
    youngBytes_ -= it->second.bytes;
    young_.erase(it);
  } else if (auto old = old_.find(toAbsl(rowKey));
             old != old_.end() && old->second.bytes != kMovedYoung) {
    oldBytes_ -= old->second.bytes;
    old_.erase(old);
  }
}

void RocksDbStateCache::charge(CachedRow& row, int64_t delta) {
  row.bytes += delta;
  youngBytes_ += delta;
}

void RocksDbStateCache::rotate() {
  old_ = std::move(young_);
  young_ = Rows();
  // The young generation fills to about what the old one holds before the next rotation: a
  // table sized for that at once does not grow (moving every row, allocating ever larger
  // arrays) a dozen times on the way.
  young_.reserve(old_.size());
  oldBytes_ = youngBytes_;
  youngBytes_ = 0;
}

void RocksDbStateCache::clear() {
  young_.clear();
  old_.clear();
  youngBytes_ = 0;
  oldBytes_ = 0;
}

void RocksDbStateCache::markClean() {
  for (auto [rows, bytes] : {std::pair{&young_, &youngBytes_}, std::pair{&old_, &oldBytes_}}) {
    for (auto it = rows->begin(); it != rows->end();) {
      CachedRow& row = it->second;
      if (row.value.appended) {
        *bytes -= row.bytes;
        rows->erase(it++);
        continue;
      }
      if (row.value.dirty) {
        row.value.stored = row.value.present;
        row.value.storedUnknown = false;
        row.value.dirty = false;
      }
      if (row.map != nullptr) {
        for (auto& [userKey, value] : row.map->entries) {
          value.dirty = false;
        }
      }
      ++it;
    }
  }
}

}  // namespace brook::state
