#pragma once

/// Heap storage of keyed state: typed objects in one absl::flat_hash_map per owned key group,
/// keyed by the serialized key and namespace. A heap access is a hash lookup with no
/// serialization; snapshots serialize the objects.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>
#include <absl/strings/string_view.h>

#include <brook/internal/heap_key.h>
#include <brook/internal/key_hash.h>
#include <brook/internal/keyed_state_backend.h>
#include <brook/serializer.h>

namespace brook::internal {

/// Splits a heap table's map key (varint length + key, then namespace) into its parts.
inline std::pair<std::string_view, std::string_view> splitHeapKey(std::string_view composite) {
  DataInput in(composite);
  size_t n = in.readLength();
  std::string_view key = in.readView(n);
  return {key, composite.substr(composite.size() - in.remaining())};
}

/// The hash of one part of a heap table's map key: the length-prefixed serialized key, or the
/// namespace.
///
/// Parts of up to 16 bytes (an int64_t or a short string key in the default namespace) are read
/// one byte at a time. The current key was written moments before the lookup (serialized, then
/// copied behind its length by setKey), and a wide load that straddles those stores cannot take
/// its bytes from the store buffer: it waits until the stores retire, which is after the
/// previous record's lookups have come back from memory. Reading bytes keeps the lookup's
/// address computation free of that wait, so that the cache misses of consecutive records can
/// overlap (measured: absl::Hash of the same 9 bytes made a lookup loop 2-3 times slower).
/// Longer parts use absl::Hash.
inline size_t heapKeyPartHash(absl::string_view bytes) {
  const size_t n = bytes.size();
  if (n > 16)
    return absl::Hash<absl::string_view>{}(bytes);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  uint64_t low = 0;
  uint64_t high = 0;
  // Byte i goes to bit 8 * (i % 8) of low (i < 8) or high.
  // clang-format off
  switch (n) {
    case 16: high |= uint64_t{p[15]} << 56; [[fallthrough]];
    case 15: high |= uint64_t{p[14]} << 48; [[fallthrough]];
    case 14: high |= uint64_t{p[13]} << 40; [[fallthrough]];
    case 13: high |= uint64_t{p[12]} << 32; [[fallthrough]];
    case 12: high |= uint64_t{p[11]} << 24; [[fallthrough]];
    case 11: high |= uint64_t{p[10]} << 16; [[fallthrough]];
    case 10: high |= uint64_t{p[9]} << 8; [[fallthrough]];
    case 9: high |= uint64_t{p[8]}; [[fallthrough]];
    case 8: low |= uint64_t{p[7]} << 56; [[fallthrough]];
    case 7: low |= uint64_t{p[6]} << 48; [[fallthrough]];
    case 6: low |= uint64_t{p[5]} << 40; [[fallthrough]];
    case 5: low |= uint64_t{p[4]} << 32; [[fallthrough]];
    case 4: low |= uint64_t{p[3]} << 24; [[fallthrough]];
    case 3: low |= uint64_t{p[2]} << 16; [[fallthrough]];
    case 2: low |= uint64_t{p[1]} << 8; [[fallthrough]];
    case 1: low |= uint64_t{p[0]}; [[fallthrough]];
    default: break;
  }
  // clang-format on
  // Odd multipliers spread both words (and the length, which tells "a" from "a\0") before
  // absl::Hash mixes the result; a rare collision only costs a key comparison.
  return absl::Hash<uint64_t>{}(low * 0x9e3779b97f4a7c15ULL ^ (high + n) * 0xc2b2ae3d27d4eb4fULL);
}

/// The hash of a heap table's map key from the hashes of its parts.
inline size_t combineHeapKeyHashes(size_t keyHash, size_t namespaceHash) {
  return absl::Hash<std::pair<size_t, size_t>>{}({keyHash, namespaceHash});
}

/// A lookup key that is only a hash (HeapKeyHash) and equals every map key (HeapKeyEq): a
/// lookup with it finds the first slot whose hash bits match, without reading any slot.
struct PrehashedHeapKey {
  size_t hash;
};

/// The hash of heap tables' map keys (varint length + serialized key, then namespace): the
/// combination of the parts' hashes, so that a table hashes a namespace once per current
/// namespace (a window's elements of many keys share it) and takes the key's from the backend:
/// murmurKeyHash, which the key's group came from. (Its low bits are the key group's, alike for
/// all keys of one map: the combination mixes every bit into the map's hash.)
struct HeapKeyHash {
  using is_transparent = void;
  size_t operator()(PrehashedHeapKey key) const { return key.hash; }
  size_t operator()(absl::string_view composite) const {
    size_t length = 0;
    size_t i = 0;
    for (int shift = 0; i < composite.size() && shift < 64; shift += 7) {
      const auto byte = static_cast<unsigned char>(composite[i++]);
      length |= static_cast<size_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0)
        break;
    }
    const size_t keyEnd = length > composite.size() - i ? composite.size() : i + length;
    return combineHeapKeyHashes(murmurKeyHash(composite.data() + i, keyEnd - i),
                                heapKeyPartHash(composite.substr(keyEnd)));
  }
};

/// Equality of heap tables' map keys, with string_view lookups (goes with HeapKeyHash).
struct HeapKeyEq {
  using is_transparent = void;
  bool operator()(absl::string_view a, absl::string_view b) const { return a == b; }
  bool operator()(const HeapKey&, PrehashedHeapKey) const { return true; }
};

/// Prefetches the bytes a stored value keeps outside its map slot (a string's characters, a
/// vector's elements), so that serializing it does not wait for memory.
template <typename V>
inline void prefetchHeldBytes(const V& value) {
  if constexpr (kIsTtlValue<V>) {
    prefetchHeldBytes(value.value);
  } else if constexpr (requires {
                         value.data();
                         value.empty();
                       }) {
    if (!value.empty())
      __builtin_prefetch(value.data());
  }
}

/// Calls `visit(compositeKey, value)` for every entry of a heap table's map, prefetching the
/// out-of-slot bytes of the entries some places ahead: a snapshot reads every entry once, in
/// slot order, and a string value's bytes would otherwise cost a cache miss each.
template <typename Map, typename Visit>
void forEachEntryPrefetched(const Map& map, Visit&& visit) {
  constexpr int kDistance = 16;
  const auto prefetch = [](const typename Map::value_type& entry) {
    prefetchHeldBytes(entry.first);
    prefetchHeldBytes(entry.second);
  };
  auto ahead = map.begin();
  for (int i = 0; i < kDistance && ahead != map.end(); ++i, ++ahead)
    prefetch(*ahead);
  for (const auto& entry : map) {
    if (ahead != map.end()) {
      prefetch(*ahead);
      ++ahead;
    }
    visit(entry.first, entry.second);
  }
}

/// Heap storage shared by the heap tables: one map per owned key group from (key, namespace)
/// to a typed object.
///
/// Snapshots are copy-on-write per key group: a snapshot's synchronous phase only shares the
/// key groups' maps (no entry is copied or serialized); the table copies a shared map before it
/// next changes it, so the snapshot keeps seeing the map as it was, and serializes it in the
/// asynchronous phase. Reads never copy. A key group without entries may have no map at all.
///
/// The table remembers the slot of its last lookup, so that the usual read-modify-write of one
/// key (ValueState::value() then update(), a reducing state's add) hashes and probes once. The
/// slot is checked against the current key group's map and the composite key before it is used,
/// and forgotten whenever the map may move or drop it (inserts, erases, copies, restores).
template <typename V>
class HeapTable : public KeyedStateTable {
 public:
  using Map = absl::flat_hash_map<HeapKey, V, HeapKeyHash, HeapKeyEq>;

  HeapTable(KeyedStateBackend* backend, std::string name, StateShape shape)
      : KeyedStateTable(backend, std::move(name), shape),
        maps_(static_cast<size_t>(backend->numberOfKeyGroups())) {}

  bool heapHeld() const final { return true; }

  /// Finds the slot of the current key in `serializedNamespace` from the map's control bytes
  /// alone (the first slot whose hash bits match: the key's, but for a rare collision) and
  /// prefetches it. absl's own `prefetch` loads the first slot of the key's probe group, rarely
  /// the key's.
  void prefetchInNamespace(std::string_view serializedNamespace) const final {
    if (!backend_->hasCurrentKey())
      return;
    const Map* map = maps_[backend_->currentKeyGroupIndex()].get();
    if (map == nullptr)
      return;
    const size_t hash = combineHeapKeyHashes(backend_->currentKeyHash(),
                                             heapKeyPartHash(asAbsl(serializedNamespace)));
    auto it = map->find(PrehashedHeapKey{hash});
    if (it == map->end())
      return;
    const char* slot = reinterpret_cast<const char*>(&*it);
    __builtin_prefetch(slot, 1);
    __builtin_prefetch(slot + sizeof(*it) - 1, 1);
  }

  /// The current entry for reading, or null. The pointer is valid until the table changes.
  const V* find() {
    Map* map = currentMap().get();
    if (map == nullptr) {
      this->lastRead_ = LastRead::kAbsent;
      return nullptr;
    }
    return lookup(*map);
  }
  /// The current entry for changing it, or null.
  V* findWritable() {
    std::shared_ptr<Map>& slot = currentMap();
    if (slot == nullptr) {
      this->lastRead_ = LastRead::kAbsent;
      return nullptr;
    }
    return lookup(writable(slot));
  }
  /// The current entry for changing it, default-constructed when absent.
  V& findOrInsert() {
    Map& map = writable(currentMap());
    std::string_view key = compositeKey();
    if (V* cached = cachedSlot(map, key)) {
      this->lastRead_ = LastRead::kFound;
      return *cached;
    }
    auto it = map.find(asAbsl(key), compositeHash());
    this->lastRead_ = it == map.end() ? LastRead::kAbsent : LastRead::kFound;
    if (it == map.end())
      it = map.try_emplace(HeapKey(key)).first;  // may rehash: only `it` is valid now
    remember(map, *it);
    return it->second;
  }
  void erase() {
    this->lastRead_ = LastRead::kNone;
    std::shared_ptr<Map>& slot = currentMap();
    if (slot == nullptr)
      return;
    Map& map = writable(slot);
    auto it = map.find(asAbsl(compositeKey()), compositeHash());
    if (it != map.end()) {
      forget();
      map.erase(it);
    }
  }

 protected:
  /// Writes the entries of one key group's map that are not expired at `expiredAtOrBefore`.
  using WriteMap = void (*)(int keyGroup, const Map& map, int64_t expiredAtOrBefore,
                            KeyedStateSink& sink);

  /// The maps of the key groups in [first, last] that have entries, shared with the snapshot.
  class Snapshot final : public KeyedStateTableSnapshot {
   public:
    Snapshot(WriteMap writeMap, int64_t expiredAtOrBefore)
        : writeMap_(writeMap), expiredAtOrBefore_(expiredAtOrBefore) {}
    void add(int keyGroup, std::shared_ptr<const Map> map) {
      keyGroups_.push_back(keyGroup);
      maps_.push_back(std::move(map));
    }
    const std::vector<int>& keyGroups() const override { return keyGroups_; }
    void write(int keyGroup, KeyedStateSink& sink) const override {
      auto it = std::lower_bound(keyGroups_.begin(), keyGroups_.end(), keyGroup);
      if (it == keyGroups_.end() || *it != keyGroup)
        return;
      writeMap_(keyGroup, *maps_[static_cast<size_t>(it - keyGroups_.begin())],
                expiredAtOrBefore_, sink);
    }

   private:
    WriteMap writeMap_;
    int64_t expiredAtOrBefore_;
    std::vector<int> keyGroups_;
    std::vector<std::shared_ptr<const Map>> maps_;
  };

  std::unique_ptr<KeyedStateTableSnapshot> snapshotMaps(int firstKeyGroup, int lastKeyGroup,
                                                        WriteMap writeMap) {
    auto snapshot = std::make_unique<Snapshot>(writeMap, expiredAtOrBefore());
    for (size_t i = 0; i < maps_.size(); ++i) {
      const int keyGroup = keyGroupOf(i);
      if (keyGroup >= firstKeyGroup && keyGroup <= lastKeyGroup && maps_[i] != nullptr &&
          !maps_[i]->empty())
        snapshot->add(keyGroup, maps_[i]);
    }
    return snapshot;
  }

  std::shared_ptr<Map>& currentMap() {
    if (!backend_->hasCurrentKey()) [[unlikely]]
      failNoKey();
    return maps_[backend_->currentKeyGroupIndex()];
  }
  /// The map in `slot`, made this table's alone: created when absent, copied when a snapshot
  /// shares it.
  Map& writable(std::shared_ptr<Map>& slot) {
    if (slot == nullptr) {
      slot = std::make_shared<Map>();
    } else if (slot.use_count() > 1) {
      slot = std::make_shared<Map>(*slot);
      forget();
    } else {
      // Pairs with the release of the last snapshot that shared the map: what it read
      // happened before the changes that follow.
      std::atomic_thread_fence(std::memory_order_acquire);
    }
    return *slot;
  }
  /// The current key and namespace as the maps key them; built once per (key, namespace).
  std::string_view compositeKey() {
    if (namespace_.empty())
      return backend_->currentKeyPrefix();
    if (composedKeyVersion_ != backend_->keyVersion() ||
        composedNamespaceVersion_ != namespaceVersion_) {
      const std::string_view prefix = backend_->currentKeyPrefix();
      composite_.clear();
      composite_.writeBytes(prefix.data(), prefix.size());
      composite_.writeBytes(namespace_.data(), namespace_.size());
      composedKeyVersion_ = backend_->keyVersion();
      composedNamespaceVersion_ = namespaceVersion_;
    }
    return composite_.view();
  }
  /// HeapKeyHash of compositeKey(), from the hashes of the current key (the backend's) and
  /// namespace (computed once while it stays current).
  size_t compositeHash() {
    if (hashedNamespaceVersion_ != namespaceVersion_) {
      namespaceHash_ = heapKeyPartHash(asAbsl(namespace_));
      hashedNamespaceVersion_ = namespaceVersion_;
    }
    return combineHeapKeyHashes(backend_->currentKeyHash(), namespaceHash_);
  }
  /// The current (key, namespace)'s entry in `map`, or null; remembers its slot.
  V* lookup(Map& map) {
    std::string_view key = compositeKey();
    if (V* cached = cachedSlot(map, key)) {
      this->lastRead_ = LastRead::kFound;
      return cached;
    }
    auto it = map.find(asAbsl(key), compositeHash());
    if (it == map.end()) {
      this->lastRead_ = LastRead::kAbsent;
      return nullptr;
    }
    this->lastRead_ = LastRead::kFound;
    remember(map, *it);
    return &it->second;
  }
  /// The remembered slot's value if it is `key`'s (the current key and namespace's) in `map`,
  /// else null. Neither the key nor the namespace set again since the slot was remembered: it
  /// is theirs without comparing bytes.
  V* cachedSlot(const Map& map, std::string_view key) const {
    if (cachedMap_ != &map)
      return nullptr;
    if ((cachedKeyVersion_ != backend_->keyVersion() ||
         cachedNamespaceVersion_ != namespaceVersion_) &&
        cachedSlot_->first.view() != key)
      return nullptr;
    return &cachedSlot_->second;
  }
  void remember(const Map& map, typename Map::value_type& slot) {
    cachedMap_ = &map;
    cachedSlot_ = &slot;
    cachedKeyVersion_ = backend_->keyVersion();
    cachedNamespaceVersion_ = namespaceVersion_;
  }
  void forget() { cachedMap_ = nullptr; }
  /// The map of a restored entry's key group and its composite key.
  std::pair<Map*, HeapKey> restoredSlot(const RestoredEntry& entry) {
    int index = entry.keyGroup - backend_->firstKeyGroup();
    if (index < 0 || index >= backend_->numberOfKeyGroups())
      fail("restored entry of key group " + std::to_string(entry.keyGroup) +
           " is outside the operator's key groups");
    forget();  // the caller inserts
    DataOutput out;
    out.writeVarUint(entry.key.size());
    out.writeBytes(entry.key.data(), entry.key.size());
    out.writeBytes(entry.stateNamespace.data(), entry.stateNamespace.size());
    return {&writable(maps_[static_cast<size_t>(index)]), HeapKey(out.view())};
  }
  /// Entries last accessed at or before this time are expired (INT64_MIN without a TTL).
  int64_t expiredAtOrBefore() const {
    return ttlMillis_ > 0 ? backend_->currentTimeMillis() - ttlMillis_ : INT64_MIN;
  }
  int keyGroupOf(size_t index) const { return backend_->firstKeyGroup() + static_cast<int>(index); }
  [[noreturn]] void failNoKey() const {
    fail("accessed without a current key: keyed state is available while a keyed record or "
         "timer is processed");
  }

  std::vector<std::shared_ptr<Map>> maps_;
  // The composite key of the current key and namespace, and the versions it was built from.
  DataOutput composite_;
  uint64_t composedKeyVersion_ = UINT64_MAX;
  uint64_t composedNamespaceVersion_ = UINT64_MAX;
  // The hash of the current namespace, and the version it was computed from.
  size_t namespaceHash_ = 0;
  uint64_t hashedNamespaceVersion_ = UINT64_MAX;
  // The last looked-up slot and its map (null: none), and the versions of the key and
  // namespace it was looked up for; see the class comment.
  const Map* cachedMap_ = nullptr;
  typename Map::value_type* cachedSlot_ = nullptr;
  uint64_t cachedKeyVersion_ = UINT64_MAX;
  uint64_t cachedNamespaceVersion_ = UINT64_MAX;
};

/// Value state on the heap.
template <typename V>
class HeapValueTable final : public HeapTable<V> {
 public:
  HeapValueTable(KeyedStateBackend* backend, std::string name)
      : HeapTable<V>(backend, std::move(name), StateShape::kValue) {}

  std::optional<V> get() {
    const V* v = this->find();
    return v == nullptr ? std::nullopt : std::optional<V>(*v);
  }
  void put(V value) { this->findOrInsert() = std::move(value); }
  void remove() { this->erase(); }

  std::unique_ptr<KeyedStateTableSnapshot> snapshotTable(int firstKeyGroup,
                                                         int lastKeyGroup) override {
    return this->snapshotMaps(firstKeyGroup, lastKeyGroup,
                              [](int keyGroup, const typename HeapTable<V>::Map& map,
                                 int64_t expired, KeyedStateSink& sink) {
                                DataOutput out;
                                forEachEntryPrefetched(
                                    map, [&](std::string_view composite, const V& value) {
                                      if (isExpired(value, expired))
                                        return;
                                      auto [key, ns] = splitHeapKey(composite);
                                      out.clear();
                                      brook::serialize(value, out);
                                      sink.writeValue(keyGroup, key, ns, out.view());
                                    });
                              });
  }
  void restore(const RestoredEntry& entry) override {
    auto [map, composite] = this->restoredSlot(entry);
    V value{};
    decodeInto(entry.value, value);
    (*map)[std::move(composite)] = std::move(value);
  }
};

/// List state on the heap.
template <typename E>
class HeapListTable final : public HeapTable<std::vector<E>> {
 public:
  HeapListTable(KeyedStateBackend* backend, std::string name)
      : HeapTable<std::vector<E>>(backend, std::move(name), StateShape::kList) {}

  std::vector<E> get() {
    const auto* v = this->find();
    return v == nullptr ? std::vector<E>{} : *v;
  }
  void add(E element) { this->findOrInsert().push_back(std::move(element)); }
  void addAll(std::vector<E> elements) {
    if (elements.empty())
      return;
    auto& list = this->findOrInsert();
    for (auto& e : elements)
      list.push_back(std::move(e));
  }
  void update(std::vector<E> elements) {
    if (elements.empty()) {
      this->erase();
    } else {
      this->findOrInsert() = std::move(elements);
    }
  }
  /// Keeps the elements for which `keep` is true; removes the list when none is left.
  template <typename Pred>
  void retain(Pred keep) {
    auto* list = this->findWritable();
    if (list == nullptr)
      return;
    std::erase_if(*list, [&](const E& e) { return !keep(e); });
    if (list->empty())
      this->erase();
  }
  void remove() { this->erase(); }

  std::unique_ptr<KeyedStateTableSnapshot> snapshotTable(int firstKeyGroup,
                                                         int lastKeyGroup) override {
    return this->snapshotMaps(
        firstKeyGroup, lastKeyGroup,
        [](int keyGroup, const typename HeapTable<std::vector<E>>::Map& map, int64_t expired,
           KeyedStateSink& sink) {
          DataOutput out;
          std::vector<std::string> elements;
          forEachEntryPrefetched(map, [&](std::string_view composite, const std::vector<E>& list) {
            auto [key, ns] = splitHeapKey(composite);
            elements.clear();
            for (const E& e : list) {
              if (isExpired(e, expired))
                continue;
              out.clear();
              brook::serialize(e, out);
              elements.emplace_back(out.view());
            }
            if (!elements.empty())
              sink.writeList(keyGroup, key, ns, elements);
          });
        });
  }
  void restore(const RestoredEntry& entry) override {
    auto [map, composite] = this->restoredSlot(entry);
    std::vector<E>& list = (*map)[std::move(composite)];
    list.clear();
    list.reserve(entry.elements.size());
    for (std::string_view bytes : entry.elements) {
      E e{};
      decodeInto(bytes, e);
      list.push_back(std::move(e));
    }
  }
};

/// Map state on the heap: a hash map of user entries per (key, namespace).
template <typename UK, typename UV>
class HeapMapTable final : public HeapTable<KeyedTable<UK, UV>> {
 public:
  using UserMap = KeyedTable<UK, UV>;

  HeapMapTable(KeyedStateBackend* backend, std::string name)
      : HeapTable<UserMap>(backend, std::move(name), StateShape::kMap) {}

  std::optional<UV> get(const UK& userKey) {
    const UserMap* m = this->find();
    if (m == nullptr)
      return std::nullopt;
    auto it = m->find(userKey);
    return it == m->end() ? std::nullopt : std::optional<UV>(it->second);
  }
  void put(UK userKey, UV value) { this->findOrInsert()[std::move(userKey)] = std::move(value); }
  void remove(const UK& userKey) {
    UserMap* m = this->findWritable();
    if (m == nullptr)
      return;
    m->erase(userKey);
    if (m->empty())
      this->erase();
  }
  bool contains(const UK& userKey) {
    const UserMap* m = this->find();
    return m != nullptr && m->contains(userKey);
  }
  std::vector<std::pair<UK, UV>> entries() {
    const UserMap* m = this->find();
    if (m == nullptr)
      return {};
    return std::vector<std::pair<UK, UV>>(m->begin(), m->end());
  }
  bool isEmpty() {
    const UserMap* m = this->find();
    return m == nullptr || m->empty();
  }
  /// Removes the user entries for which `drop` is true.
  template <typename Pred>
  void removeIf(Pred drop) {
    UserMap* m = this->findWritable();
    if (m == nullptr)
      return;
    absl::erase_if(*m, [&](const auto& entry) { return drop(entry.second); });
    if (m->empty())
      this->erase();
  }
  void clear() { this->erase(); }

  std::unique_ptr<KeyedStateTableSnapshot> snapshotTable(int firstKeyGroup,
                                                         int lastKeyGroup) override {
    return this->snapshotMaps(
        firstKeyGroup, lastKeyGroup,
        [](int keyGroup, const typename HeapTable<UserMap>::Map& map, int64_t expired,
           KeyedStateSink& sink) {
          DataOutput userKey;
          DataOutput userValue;
          for (const auto& [composite, m] : map) {
            auto [key, ns] = splitHeapKey(composite);
            for (const auto& [k, v] : m) {
              if (isExpired(v, expired))
                continue;
              userKey.clear();
              userValue.clear();
              brook::serialize(k, userKey);
              brook::serialize(v, userValue);
              sink.writeMapEntry(keyGroup, key, ns, userKey.view(), userValue.view());
            }
          }
        });
  }
  void restore(const RestoredEntry& entry) override {
    auto [map, composite] = this->restoredSlot(entry);
    UK k{};
    UV v{};
    decodeInto(entry.userKey, k);
    decodeInto(entry.value, v);
    (*map)[std::move(composite)][std::move(k)] = std::move(v);
  }
};

}  // namespace brook::internal
