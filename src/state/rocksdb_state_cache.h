#pragma once

/// The state cache of a RocksDbKeyedStore: the entries its thread used last, in their serialized
/// form, in front of RocksDB. Reads of cached entries (also of entries known to be absent) skip
/// RocksDB, and writes stay in the cache until it evicts them or the store needs RocksDB to hold
/// everything (a snapshot, a map iteration, a restore): then the dirty entries go to RocksDB in
/// one write batch. A keyed operator's records mostly touch a small set of hot keys, so most of
/// their state accesses stop costing a RocksDB Get and Put.
///
/// Entries are grouped in rows, one per (state, key group, key, namespace) prefix: a value or a
/// list state's row holds its one value, a map state's row the cached entries of that map, so
/// that clearing or iterating a map finds its cached entries at once.
///
/// Eviction is by two generations, which approximates least-recently-used order without a list
/// per entry: rows are found or made in the young generation (a row found in the old one moves
/// to the young one); once both generations together hold more than the capacity, or the young
/// one alone three quarters of it, the old generation's dirty entries are written back, it is
/// dropped, and the young generation becomes the old one. So the rows used since the last
/// rotation stay cached while they fit in three quarters of the capacity (an operator's windows
/// in flight, say), and what is dropped is what was not used since. Each rotation follows at
/// least a quarter of the capacity of rows made or moved young, or drops that much, so its cost
/// is spread over the rows. The cache never holds much more than its capacity (plus one row),
/// as far as its estimate of each row's memory goes.
///
/// Used on the store's thread only. No RocksDB type appears here: the store writes entries back.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>
#include <absl/strings/string_view.h>

#include <brook/internal/heap_key.h>

namespace brook::state {

/// A cached value's bytes: up to 24 in place (a count, a sum, a small accumulator), so that
/// reading them costs no cache miss beyond the row's own; more on the heap. The bytes given to
/// assign, append and prepend must not lie in the object itself.
class CachedBytes {
 public:
  CachedBytes() = default;
  CachedBytes(const CachedBytes& other) { assign(other.view()); }
  CachedBytes(CachedBytes&& other) noexcept { take(other); }
  CachedBytes& operator=(const CachedBytes& other) {
    if (this != &other) {
      assign(other.view());
    }
    return *this;
  }
  CachedBytes& operator=(CachedBytes&& other) noexcept {
    if (this != &other) {
      release();
      take(other);
    }
    return *this;
  }
  CachedBytes& operator=(std::string_view bytes) {
    assign(bytes);
    return *this;
  }
  ~CachedBytes() { release(); }

  void assign(std::string_view bytes) {
    size_ = 0;
    append(bytes);
  }
  void append(std::string_view bytes) {
    char* target = room(size_ + bytes.size(), /*gap=*/0);
    if (!bytes.empty()) {
      std::memcpy(target + size_, bytes.data(), bytes.size());
    }
    size_ += static_cast<uint32_t>(bytes.size());
  }
  void prepend(std::string_view bytes) {
    char* target = room(size_ + bytes.size(), /*gap=*/bytes.size());
    if (!bytes.empty()) {
      std::memcpy(target, bytes.data(), bytes.size());
    }
    size_ += static_cast<uint32_t>(bytes.size());
  }
  void clear() { size_ = 0; }

  const char* data() const { return capacity_ == 0 ? inline_ : heap_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data(), size_}; }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  friend bool operator==(const CachedBytes& a, std::string_view b) { return a.view() == b; }

  /// The heap memory the bytes hold (none while they are in place).
  size_t heapBytes() const { return capacity_; }

 private:
  static constexpr size_t kInline = 24;

  /// Room for `total` bytes, the current ones kept after a gap of `gap` bytes at the front;
  /// returns where the bytes start.
  char* room(size_t total, size_t gap) {
    char* bytes = capacity_ == 0 ? inline_ : heap_;
    const size_t capacity = capacity_ == 0 ? kInline : capacity_;
    if (total <= capacity) {
      if (gap > 0 && size_ > 0) {
        std::memmove(bytes + gap, bytes, size_);
      }
      return bytes;
    }
    if (total > UINT32_MAX) {
      throw std::length_error("a cached state value of more than 4 GiB");
    }
    const size_t grown = std::min<size_t>(std::max(total, 2 * capacity), UINT32_MAX);
    char* fresh = static_cast<char*>(::operator new(grown));
    if (size_ > 0) {
      std::memcpy(fresh + gap, bytes, size_);
    }
    release();
    heap_ = fresh;
    capacity_ = static_cast<uint32_t>(grown);
    return fresh;
  }
  void take(CachedBytes& other) {
    std::memcpy(inline_, other.inline_, kInline);
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.size_ = 0;
    other.capacity_ = 0;
  }
  void release() {
    if (capacity_ != 0) {
      ::operator delete(heap_);
      capacity_ = 0;
    }
  }

  union {
    char inline_[kInline];
    char* heap_;
  };
  uint32_t size_ = 0;
  uint32_t capacity_ = 0;  // 0: in place
};

/// One RocksDB key's value as the store last read or wrote it.
struct CachedValue {
  /// The bytes as RocksDB holds them (list state: the length-prefixed elements).
  CachedBytes bytes;
  /// False: the key is absent (removed, or a read found nothing).
  bool present = false;
  /// Changed here and not yet written to RocksDB.
  bool dirty = false;
  /// List state: `bytes` are elements appended to whatever RocksDB holds for the key, which was
  /// not read; the write back merges them. Such a value is `present` and `dirty`.
  bool appended = false;
  /// RocksDB may hold a value for the key. False once the store read the key as absent or wrote
  /// its removal: removing the value again then needs no write back.
  bool stored = true;
  /// `stored` is a guess: the value was written without a read of what RocksDB holds.
  bool storedUnknown = false;
};

/// The cached entries of a map state's row.
struct CachedMapEntries {
  /// By serialized user key.
  absl::flat_hash_map<std::string, CachedValue> entries;
  /// `entries` hold the whole map (it was cleared since it was cached), so a user key they lack
  /// is absent without asking RocksDB.
  bool complete = false;
  /// The map's entries were read from RocksDB into `entries` once (all of them when `complete`,
  /// else the map was too large to cache whole).
  bool scanned = false;
};

/// The cached entries under one (state, key group, key, namespace) prefix.
struct CachedRow {
  /// The value of a value or list state's row.
  CachedValue value;
  /// A map state's row: its cached entries (null until the map is first read or written), apart
  /// so that the many value and list rows stay small.
  std::unique_ptr<CachedMapEntries> map;
  /// What the row counts against the cache's capacity, in bytes.
  int64_t bytes = 0;

  bool mapComplete() const { return map != nullptr && map->complete; }
  bool mapScanned() const { return map != nullptr && map->scanned; }
};

class RocksDbStateCache {
 public:
  /// A cache of `capacityBytes` (0: the cache is off, and the store goes to RocksDB directly).
  explicit RocksDbStateCache(int64_t capacityBytes);

  bool enabled() const { return capacityBytes_ > 0; }
  int64_t capacityBytes() const { return capacityBytes_; }
  /// The bytes of the rows cached now.
  int64_t bytes() const { return youngBytes_ + oldBytes_; }

  /// The row cached under `rowKey`, moved to the young generation, or null. Rows live inside
  /// the generations' tables: a row's address is valid until the next `find`, `insert`,
  /// `rotate` or `clear`.
  CachedRow* find(std::string_view rowKey);
  /// Starts loading the slot of the row under `rowKey` into the processor's cache, found from
  /// the tables' control bytes alone (a hint: a rare collision prefetches another row's slot).
  /// Changes nothing.
  void prefetch(std::string_view rowKey) const;
  /// Makes an empty row under `rowKey`, which must not be cached, in the young generation.
  CachedRow& insert(std::string_view rowKey);
  /// Drops the row under `rowKey` (dirty entries and all), if cached.
  void erase(std::string_view rowKey);
  /// What an empty row under `rowKey` counts (a key longer than a slot holds, its bytes too).
  static int64_t emptyRowBytes(std::string_view rowKey) {
    return (rowKey.size() > brook::internal::HeapKey::kInlineCapacity
                ? static_cast<int64_t>(rowKey.size())
                : 0) +
           kRowOverhead;
  }
  /// Counts `delta` more bytes for `row`, which `find` or `insert` returned since the last
  /// `rotate` or `clear`.
  void charge(CachedRow& row, int64_t delta);

  /// Whether the cache holds more than its capacity, or the young generation more than three
  /// quarters of it: time to write back the old generation's dirty entries and `rotate`.
  bool full() const {
    return youngBytes_ + oldBytes_ > capacityBytes_ || youngBytes_ > capacityBytes_ / 4 * 3;
  }
  /// Drops the old generation and makes the young generation the old one.
  void rotate();
  /// Drops every row.
  void clear();

  /// Calls `f(rowKey, userKey, value)` for each dirty entry, of the old generation only when
  /// `oldOnly` (the value or list entry of a row has an empty user key).
  template <typename F>
  void forEachDirty(bool oldOnly, F&& f) const {
    forEachDirtyIn(old_, f);
    if (!oldOnly) {
      forEachDirtyIn(young_, f);
    }
  }
  /// Marks every entry clean (after its write back). Rows of appended list elements are dropped:
  /// RocksDB holds the whole list now.
  void markClean();

  /// What a row and a map entry cost beyond their bytes: their slots in a hash table (a key
  /// string and the row or value), with the table's free slots (half again as many, on average).
  static constexpr int64_t kRowOverhead =
      static_cast<int64_t>(sizeof(brook::internal::HeapKey) + sizeof(CachedRow)) * 3 / 2;
  static constexpr int64_t kEntryOverhead =
      static_cast<int64_t>(sizeof(std::string) + sizeof(CachedValue)) * 3 / 2;
  static_assert(sizeof(CachedBytes) == 32);
  /// What a map row's entries cost beyond them (their table, empty).
  static constexpr int64_t kMapOverhead = static_cast<int64_t>(sizeof(CachedMapEntries));

 private:
  // Rows inline, and row keys of up to 31 bytes in the slot itself (a window's row: state,
  // key group, an 8-byte key and a 16-byte window): a lookup compares the key it probes
  // without a cache miss on a string of its own, and a row costs no allocation for its key.
  using RowKey = brook::internal::HeapKey;
  /// A lookup key that is only a hash and equals every row key: a lookup with it finds the
  /// first slot whose hash bits match without reading any slot (`prefetch`).
  struct PrehashedRowKey {
    size_t hash;
  };
  struct RowKeyHash {
    using is_transparent = void;
    size_t operator()(PrehashedRowKey key) const { return key.hash; }
    size_t operator()(absl::string_view key) const { return absl::Hash<absl::string_view>{}(key); }
    size_t operator()(const RowKey& key) const { return (*this)(absl::string_view(key)); }
  };
  struct RowKeyEq {
    using is_transparent = void;
    bool operator()(const RowKey& a, const RowKey& b) const { return a.view() == b.view(); }
    bool operator()(const RowKey& a, absl::string_view b) const {
      return a.view() == std::string_view(b.data(), b.size());
    }
    bool operator()(absl::string_view a, const RowKey& b) const { return (*this)(b, a); }
    bool operator()(const RowKey&, PrehashedRowKey) const { return true; }
  };
  using Rows = absl::flat_hash_map<RowKey, CachedRow, RowKeyHash, RowKeyEq>;
  /// The `bytes` of an old generation's row that moved to the young one: an empty slot kept.
  static constexpr int64_t kMovedYoung = -1;

  template <typename F>
  static void forEachDirtyIn(const Rows& rows, F& f) {
    for (const auto& [rowKey, row] : rows) {
      if (row.value.dirty) {
        f(rowKey.view(), std::string_view(), row.value);
      }
      if (row.map == nullptr) {
        continue;
      }
      for (const auto& [userKey, value] : row.map->entries) {
        if (value.dirty) {
          f(rowKey.view(), std::string_view(userKey), value);
        }
      }
    }
  }

  int64_t capacityBytes_;
  Rows young_;
  Rows old_;
  int64_t youngBytes_ = 0;
  int64_t oldBytes_ = 0;
};

}  // namespace brook::state
