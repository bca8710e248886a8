#pragma once

/// The machinery behind <brook/state.h>: the keyed state backend interface that the runtime
/// implements (heap and RocksDB, in src/state), and the typed state objects that user code
/// instantiates over it.
///
/// Layers, bottom up:
///   - KeyedStateBackend: the current key (serialized, with its key group), the registry of
///     states by name, and, for the RocksDB backend, a KeyedBytesStore of serialized entries.
///   - Tables: the entries of one state for the current (key, namespace). Heap tables keep
///     typed objects in one absl::flat_hash_map per key group, keyed by the serialized key and
///     namespace; store tables serialize into the KeyedBytesStore. Both are templates over the
///     stored type, so a heap access is a hash lookup with no serialization.
///   - Facades: ValueState<T>, ListState<T>, ... over a table, with the TTL wrapper (stored
///     type TtlValue<T>) when the descriptor enables a time-to-live.
/// A user call is one virtual call into a facade; everything under it is inlined.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/strings/string_view.h>

#include <brook/functions.h>
#include <brook/internal/key_hash.h>
#include <brook/serializer.h>

namespace brook {
class State;
}  // namespace brook

namespace brook::internal {

/// The shape of a state's entries, as the snapshot format records it (values are the same as
/// brook::state::StateKind's).
enum class StateShape : uint8_t {
  kValue = 1,  ///< (key, namespace) -> value; also reducing and aggregating state
  kList = 2,   ///< (key, namespace) -> elements
  kMap = 3,    ///< (key, namespace, user key) -> user value
};

/// One entry of a restored snapshot, serialized; views valid for the duration of the call.
struct RestoredEntry {
  int keyGroup = 0;
  std::string_view key;
  std::string_view stateNamespace;
  std::string_view value;    ///< kValue: the value; kMap: the user value
  std::string_view userKey;  ///< kMap
  std::span<const std::string_view> elements;  ///< kList
};

/// Receives heap-held state in snapshot form. Entries of one state may come in any key group
/// order.
class KeyedStateSink {
 public:
  virtual ~KeyedStateSink() = default;
  virtual void writeValue(int keyGroup,
                          std::string_view key,
                          std::string_view stateNamespace,
                          std::string_view value) = 0;
  virtual void writeList(int keyGroup,
                         std::string_view key,
                         std::string_view stateNamespace,
                         std::span<const std::string> elements) = 0;
  virtual void writeMapEntry(int keyGroup,
                             std::string_view key,
                             std::string_view stateNamespace,
                             std::string_view userKey,
                             std::string_view userValue) = 0;
};

/// Serialized keyed state that lives outside the process heap (RocksDB). The key group, the
/// serialized key and the namespace are passed explicitly. Failures throw StateException
/// naming the state and operator. Used on the task's thread only.
class KeyedBytesStore {
 public:
  virtual ~KeyedBytesStore() = default;
  /// Registers (or finds) the state `name`; the returned id is passed to every other call.
  virtual int registerState(std::string_view name, StateShape shape) = 0;

  virtual bool getValue(int state,
                        int keyGroup,
                        std::string_view key,
                        std::string_view ns,
                        std::string* value) = 0;
  virtual void putValue(int state,
                        int keyGroup,
                        std::string_view key,
                        std::string_view ns,
                        std::string_view value) = 0;
  virtual void removeValue(int state, int keyGroup, std::string_view key, std::string_view ns) = 0;
  /// A hint that the entry of `key` in `ns` of `state` is accessed soon (see
  /// KeyedStateTable::prefetchInNamespace). Changes nothing and never fails.
  virtual void prefetch(int state, int keyGroup, std::string_view key, std::string_view ns) {
    (void)state;
    (void)keyGroup;
    (void)key;
    (void)ns;
  }

  virtual bool getList(int state,
                       int keyGroup,
                       std::string_view key,
                       std::string_view ns,
                       std::vector<std::string>* elements) = 0;
  virtual void addToList(int state,
                         int keyGroup,
                         std::string_view key,
                         std::string_view ns,
                         std::string_view element) = 0;
  /// Replaces the list; no elements clears it.
  virtual void updateList(int state,
                          int keyGroup,
                          std::string_view key,
                          std::string_view ns,
                          std::span<const std::string> elements) = 0;

  virtual bool getMapValue(int state,
                           int keyGroup,
                           std::string_view key,
                           std::string_view ns,
                           std::string_view userKey,
                           std::string* value) = 0;
  virtual void putMapValue(int state,
                           int keyGroup,
                           std::string_view key,
                           std::string_view ns,
                           std::string_view userKey,
                           std::string_view value) = 0;
  virtual void removeMapValue(int state,
                              int keyGroup,
                              std::string_view key,
                              std::string_view ns,
                              std::string_view userKey) = 0;
  virtual bool containsMapKey(int state,
                              int keyGroup,
                              std::string_view key,
                              std::string_view ns,
                              std::string_view userKey) = 0;
  /// Appends the map's (user key, user value) pairs to `entries`.
  virtual void mapEntries(int state,
                          int keyGroup,
                          std::string_view key,
                          std::string_view ns,
                          std::vector<std::pair<std::string, std::string>>* entries) = 0;
  virtual void clearMap(int state, int keyGroup, std::string_view key, std::string_view ns) = 0;

  /// Sets the time-to-live of `state`'s entries in milliseconds (0: none), whose stored values
  /// (each list element) are then TtlValue<...>: the store may leave out entries last accessed
  /// `ttlMillis` or more ago from snapshots and drop them from disk.
  virtual void setTimeToLive(int state, int64_t ttlMillis) = 0;
};

/// Abseil's string_view, for heterogeneous lookups in Abseil's string-keyed maps (Debian's
/// Abseil has its own string_view type).
inline absl::string_view asAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

/// Reads serialized bytes into a value, requiring that all of them are consumed.
template <typename T>
void decodeInto(std::string_view bytes, T& value) {
  DataInput in(bytes);
  brook::deserialize(in, value);
  if (in.remaining() != 0)
    throw SerializationError(std::to_string(in.remaining()) + " trailing bytes");
}

/// A value with the processing time of its last (TTL-relevant) access: what states with a
/// time-to-live store. Serialized as the value followed by the time (int64, little-endian), so
/// the time is the last 8 bytes of every stored entry, whatever the value type.
template <typename T>
struct TtlValue {
  T value{};
  int64_t lastAccessMillis = 0;
};

template <typename V>
inline constexpr bool kIsTtlValue = false;
template <typename T>
inline constexpr bool kIsTtlValue<TtlValue<T>> = true;

/// Whether a stored entry is expired: always false for values without a time-to-live.
template <typename V>
bool isExpired(const V& value, int64_t expiredAtOrBefore) {
  if constexpr (kIsTtlValue<V>) {
    return value.lastAccessMillis <= expiredAtOrBefore;
  } else {
    (void)value;
    (void)expiredAtOrBefore;
    return false;
  }
}

class KeyedStateBackend;

/// A heap-held table's snapshot after its synchronous phase: the entries as they were when it
/// was taken, kept without serializing them (shared key group maps that the table copies before
/// it next changes them, or a typed copy). `write` serializes them later, in the snapshot's
/// asynchronous phase on another thread, while the task goes on changing the table; it only
/// reads what the snapshot holds. User serializers run there too, so they must not share
/// mutable state between calls (none of brook's do).
class KeyedStateTableSnapshot {
 public:
  virtual ~KeyedStateTableSnapshot() = default;
  /// The key groups that may have entries, ascending.
  virtual const std::vector<int>& keyGroups() const = 0;
  /// Writes the entries of `keyGroup` (expired ones left out). Throws what the serializers
  /// throw.
  virtual void write(int keyGroup, KeyedStateSink& sink) const = 0;
};

/// The type-erased face of one registered state's storage. Heap-held states (typed heap tables,
/// and timers on either backend) write themselves into snapshots and take restored entries;
/// store-held states live in the KeyedBytesStore, which snapshots them.
class KeyedStateTable {
 public:
  KeyedStateTable(KeyedStateBackend* backend, std::string name, StateShape shape)
      : backend_(backend), name_(std::move(name)), shape_(shape) {}
  virtual ~KeyedStateTable() = default;
  KeyedStateTable(const KeyedStateTable&) = delete;
  KeyedStateTable& operator=(const KeyedStateTable&) = delete;

  const std::string& name() const { return name_; }
  StateShape shape() const { return shape_; }
  KeyedStateBackend& backend() const { return *backend_; }

  /// Whether this state lives on the heap (then the backend snapshots it through
  /// `snapshotTable` and restores it through `restore`).
  virtual bool heapHeld() const = 0;
  /// The synchronous phase of a snapshot of the key groups in [firstKeyGroup, lastKeyGroup]:
  /// cheap, on the task thread. Null for tables that are not heap-held.
  virtual std::unique_ptr<KeyedStateTableSnapshot> snapshotTable(int firstKeyGroup,
                                                                 int lastKeyGroup) {
    (void)firstKeyGroup;
    (void)lastKeyGroup;
    return nullptr;
  }
  /// Both phases at once: writes every entry of the table to `sink`.
  void snapshot(KeyedStateSink& sink) {
    std::unique_ptr<KeyedStateTableSnapshot> taken = snapshotTable(0, kAllKeyGroups);
    if (taken == nullptr)
      return;
    for (int keyGroup : taken->keyGroups())
      taken->write(keyGroup, sink);
  }
  /// Adds one restored entry; throws SerializationError when its bytes do not decode.
  virtual void restore(const RestoredEntry& entry) { (void)entry; }
  /// A hint that the current key's entry in namespace `serializedNamespace` is accessed soon:
  /// a heap table starts loading its slot into the processor's cache. Others ignore it.
  virtual void prefetchInNamespace(std::string_view serializedNamespace) const {
    (void)serializedNamespace;
  }

  /// The serialized namespace that accesses refer to (empty: the default namespace).
  void setCurrentNamespace(std::string_view serializedNamespace) {
    namespace_.assign(serializedNamespace.data(), serializedNamespace.size());
    ++namespaceVersion_;
  }
  const std::string& currentNamespace() const { return namespace_; }

  /// What the last read of the current (key, namespace)'s entry found: kNone after
  /// `forgetLastRead` or a removal, kFound or kAbsent after a value table's read (and a heap
  /// value table's write, which reads before it inserts). Lets the window operator tell a
  /// window's first element, which registers the window's timers, from the ones after it.
  enum class LastRead : uint8_t { kNone, kFound, kAbsent };
  LastRead lastRead() const { return lastRead_; }
  void forgetLastRead() { lastRead_ = LastRead::kNone; }

  /// The time-to-live of the state's entries in milliseconds (0: none). Entries of a state with
  /// one are TtlValue<...>: snapshots leave out those last accessed `ttl` or more ago. Store-held
  /// tables pass it on to their KeyedBytesStore.
  virtual void setTimeToLive(int64_t ttlMillis) { ttlMillis_ = ttlMillis; }
  int64_t timeToLiveMillis() const { return ttlMillis_; }

  [[noreturn]] void fail(const std::string& what) const;

 protected:
  static constexpr int kAllKeyGroups = 1 << 30;

  KeyedStateBackend* backend_;
  std::string name_;
  StateShape shape_;
  std::string namespace_;
  uint64_t namespaceVersion_ = 0;  ///< changes with every setCurrentNamespace
  int64_t ttlMillis_ = 0;
  LastRead lastRead_ = LastRead::kNone;
};

/// Keyed state of one operator instance: the current key, the states registered by name, and
/// where their entries live. Created by the runtime for each keyed operator of a task and used
/// only on its thread. Subclasses compute key groups and implement snapshots.
class KeyedStateBackend {
 public:
  KeyedStateBackend(std::string operatorDescription,
                    int maxParallelism,
                    int firstKeyGroup,
                    int lastKeyGroup,
                    KeyedBytesStore* store);
  virtual ~KeyedStateBackend();
  KeyedStateBackend(const KeyedStateBackend&) = delete;
  KeyedStateBackend& operator=(const KeyedStateBackend&) = delete;

  /// Makes `serializedKey` the key that state accesses refer to. Throws StateException when its
  /// key group is not one this backend owns (a record routed to the wrong subtask).
  virtual void setCurrentKey(std::string_view serializedKey) = 0;
  /// Processing time in epoch milliseconds: the clock of state TTL.
  virtual int64_t currentTimeMillis() const = 0;

  bool hasCurrentKey() const { return hasKey_; }
  /// Leaves no current key: state accesses fail until the next `setCurrentKey` (the broadcast
  /// side of a keyed broadcast function has no key).
  void clearCurrentKey() {
    hasKey_ = false;
    ++keyVersion_;
  }
  /// Changes with every setCurrentKey (also to an equal key): tables that derive something
  /// from the current key compare it to tell whether theirs is still current.
  uint64_t keyVersion() const { return keyVersion_; }
  /// The serialized current key.
  std::string_view currentKey() const {
    return {keyPrefix_.data() + keyPrefixSize_ - keySize_, keySize_};
  }
  int currentKeyGroup() const { return keyGroup_; }
  /// The current key group's index among the groups this backend owns.
  size_t currentKeyGroupIndex() const { return static_cast<size_t>(keyGroup_ - firstKeyGroup_); }
  /// The current key as heap tables key their maps: varint length + serialized key.
  std::string_view currentKeyPrefix() const { return {keyPrefix_.data(), keyPrefixSize_}; }
  /// murmurKeyHash of the serialized current key (the hash its key group comes from).
  uint64_t currentKeyHash() const { return keyHash_; }

  const std::string& operatorDescription() const { return operatorDescription_; }
  int maxParallelism() const { return maxParallelism_; }
  int firstKeyGroup() const { return firstKeyGroup_; }
  int numberOfKeyGroups() const { return numberOfKeyGroups_; }
  /// The RocksDB store, or null for the heap backend.
  KeyedBytesStore* store() const { return store_; }

  template <typename T>
  ValueState<T>& getState(const ValueStateDescriptor<T>& descriptor);
  template <typename T>
  ListState<T>& getListState(const ListStateDescriptor<T>& descriptor);
  template <typename K, typename V>
  MapState<K, V>& getMapState(const MapStateDescriptor<K, V>& descriptor);
  template <typename T>
  ReducingState<T>& getReducingState(const ReducingStateDescriptor<T>& descriptor);
  template <typename IN, typename ACC, typename OUT>
  AggregatingState<IN, OUT>& getAggregatingState(
      const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor);

  /// Registers an engine-managed heap table (timers); the backend owns it and feeds it the
  /// restored entries of its name.
  template <typename Table, typename... Args>
  Table& registerInternalTable(std::string name, Args&&... args) {
    auto table = std::make_unique<Table>(this, name, std::forward<Args>(args)...);
    Table& result = *table;
    addState(std::move(name), typeid(Table), std::move(table), nullptr);
    return result;
  }

  /// The registered state called `name`, or null.
  KeyedStateTable* findTable(std::string_view name) const;

 protected:
  /// Sets the current key, its hash (murmurKeyHash of `serializedKey`) and its key group
  /// (which the subclass computed from the hash and checked).
  void setKey(std::string_view serializedKey, int keyGroup, uint64_t keyHash) {
    const size_t size = serializedKey.size();
    if (size + 10 > keyPrefix_.size()) [[unlikely]]
      keyPrefix_.resize(std::max(size + 10, 2 * keyPrefix_.size()));
    char* out = keyPrefix_.data();
    uint64_t n = size;
    while (n >= 0x80) {
      *out++ = static_cast<char>((n & 0x7f) | 0x80);
      n >>= 7;
    }
    *out++ = static_cast<char>(n);
    std::memcpy(out, serializedKey.data(), size);
    keyPrefixSize_ = static_cast<size_t>(out - keyPrefix_.data()) + size;
    keySize_ = size;
    keyHash_ = keyHash;
    keyGroup_ = keyGroup;
    hasKey_ = true;
    ++keyVersion_;
  }
  void setKey(std::string_view serializedKey, int keyGroup) {
    setKey(serializedKey, keyGroup, murmurKeyHash(serializedKey.data(), serializedKey.size()));
  }

  /// Called when a state is registered; the subclass hands it restored entries it holds.
  virtual void onRegistered(KeyedStateTable& table) { (void)table; }

  struct Registration {
    const std::type_info* type;
    std::unique_ptr<KeyedStateTable> table;
    std::unique_ptr<State> facade;  // null for internal tables
  };
  const std::vector<std::unique_ptr<Registration>>& registrations() const {
    return registrations_;
  }

 private:
  template <typename Facade>
  Facade* findFacade(const std::string& name);
  void addState(std::string name,
                const std::type_info& type,
                std::unique_ptr<KeyedStateTable> table,
                std::unique_ptr<State> facade);
  [[noreturn]] void failTypeMismatch(const std::string& name,
                                     const std::type_info& registered,
                                     const std::type_info& requested) const;

  std::string operatorDescription_;
  int maxParallelism_;
  int firstKeyGroup_;
  int numberOfKeyGroups_;
  KeyedBytesStore* store_;

  bool hasKey_ = false;
  uint64_t keyVersion_ = 0;
  std::string keyPrefix_ = std::string(64, '\0');  ///< its first keyPrefixSize_ bytes
  size_t keyPrefixSize_ = 0;
  size_t keySize_ = 0;
  uint64_t keyHash_ = 0;
  int keyGroup_ = 0;

  std::vector<std::unique_ptr<Registration>> registrations_;
  absl::flat_hash_map<std::string, Registration*> byName_;
};

}  // namespace brook::internal
