#pragma once

/// Operator state: state of one parallel operator instance, not scoped to a key, as Flink's
/// OperatorStateStore. Kinds, by how a restore at another parallelism hands them out:
///   - list state (`getListState`): the elements of all instances are concatenated and split
///     evenly, in contiguous runs, among the new instances;
///   - union list state (`getUnionListState`): every new instance gets all elements;
///   - broadcast state (`getBroadcastState`): a map that every instance holds in full.
/// Operator state lives on the heap whatever the keyed state backend; it is meant to be small
/// (source positions, buffered transactions, rules). Used on the task's thread only.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include <brook/internal/key_hash.h>
#include <brook/internal/keyed_state_backend.h>
#include <brook/serializer.h>
#include <brook/state.h>

namespace brook {

/// How operator state is redistributed on restore. The numbers are part of the snapshot format.
enum class OperatorStateMode : uint8_t { kSplit = 1, kUnion = 2, kBroadcast = 3 };

namespace internal {

/// One operator state in serialized form: list elements (split, union) or map entries
/// (broadcast).
struct OperatorStateData {
  std::string name;
  OperatorStateMode mode = OperatorStateMode::kSplit;
  std::vector<std::string> elements;
  std::vector<std::pair<std::string, std::string>> entries;
};

/// Every operator state of one operator instance, serialized.
struct OperatorStateSnapshotData {
  std::vector<OperatorStateData> states;
};

/// The type-erased face of one registered operator state.
class OperatorStateTable {
 public:
  OperatorStateTable(std::string name, OperatorStateMode mode)
      : name_(std::move(name)), mode_(mode) {}
  virtual ~OperatorStateTable() = default;
  const std::string& name() const { return name_; }
  OperatorStateMode mode() const { return mode_; }
  virtual void snapshot(OperatorStateData& out) const = 0;
  /// Adds restored data; throws SerializationError when it does not decode.
  virtual void restore(const OperatorStateData& data) = 0;

 private:
  std::string name_;
  OperatorStateMode mode_;
};

template <typename T>
class OperatorListState final : public ListState<T>, public OperatorStateTable {
 public:
  using OperatorStateTable::OperatorStateTable;
  std::vector<T> get() override { return elements_; }
  void add(T value) override { elements_.push_back(std::move(value)); }
  void addAll(std::vector<T> values) override {
    for (auto& v : values)
      elements_.push_back(std::move(v));
  }
  void update(std::vector<T> values) override { elements_ = std::move(values); }
  void clear() override { elements_.clear(); }

  void snapshot(OperatorStateData& out) const override {
    DataOutput buffer;
    for (const T& e : elements_) {
      buffer.clear();
      brook::serialize(e, buffer);
      out.elements.emplace_back(buffer.view());
    }
  }
  void restore(const OperatorStateData& data) override {
    for (const std::string& bytes : data.elements) {
      T e{};
      decodeInto(bytes, e);
      elements_.push_back(std::move(e));
    }
  }

 private:
  std::vector<T> elements_;
};

template <typename K, typename V>
class OperatorBroadcastState final : public BroadcastState<K, V>, public OperatorStateTable {
 public:
  explicit OperatorBroadcastState(std::string name)
      : OperatorStateTable(std::move(name), OperatorStateMode::kBroadcast) {}
  std::optional<V> get(const K& key) const override {
    auto it = map_.find(key);
    return it == map_.end() ? std::nullopt : std::optional<V>(it->second);
  }
  bool contains(const K& key) const override { return map_.contains(key); }
  std::vector<std::pair<K, V>> entries() const override {
    return std::vector<std::pair<K, V>>(map_.begin(), map_.end());
  }
  size_t size() const override { return map_.size(); }
  void put(K key, V value) override { map_[std::move(key)] = std::move(value); }
  void remove(const K& key) override { map_.erase(key); }
  void clear() override { map_.clear(); }

  void snapshot(OperatorStateData& out) const override {
    DataOutput k;
    DataOutput v;
    for (const auto& [key, value] : map_) {
      k.clear();
      v.clear();
      brook::serialize(key, k);
      brook::serialize(value, v);
      out.entries.emplace_back(std::string(k.view()), std::string(v.view()));
    }
  }
  /// Broadcast state is the same on every instance: a restore replaces it.
  void restore(const OperatorStateData& data) override {
    map_.clear();
    for (const auto& [kb, vb] : data.entries) {
      K key{};
      V value{};
      decodeInto(kb, key);
      decodeInto(vb, value);
      map_[std::move(key)] = std::move(value);
    }
  }

 private:
  KeyedTable<K, V> map_;
};

}  // namespace internal

/// The operator states of one operator instance. Created by the runtime for every operator;
/// reached through RuntimeContext::getOperatorStateStore().
class OperatorStateStore {
 public:
  explicit OperatorStateStore(std::string operatorDescription)
      : operatorDescription_(std::move(operatorDescription)) {}
  OperatorStateStore(const OperatorStateStore&) = delete;
  OperatorStateStore& operator=(const OperatorStateStore&) = delete;

  /// List state redistributed evenly on rescaling.
  template <typename T>
  ListState<T>& getListState(const ListStateDescriptor<T>& descriptor) {
    return getList(descriptor, OperatorStateMode::kSplit);
  }
  /// List state of which every instance gets all elements on restore.
  template <typename T>
  ListState<T>& getUnionListState(const ListStateDescriptor<T>& descriptor) {
    return getList(descriptor, OperatorStateMode::kUnion);
  }
  /// A map held in full by every instance.
  template <typename K, typename V>
  BroadcastState<K, V>& getBroadcastState(const MapStateDescriptor<K, V>& descriptor) {
    static_assert(internal::requireSerializer<K>() && internal::requireSerializer<V>());
    using Table = internal::OperatorBroadcastState<K, V>;
    if (auto* existing = find(descriptor.name(), typeid(Table), OperatorStateMode::kBroadcast))
      return *static_cast<Table*>(existing);
    auto table = std::make_unique<Table>(descriptor.name());
    Table& result = *table;
    add(std::move(table));
    return result;
  }

  /// The serialized state of every registered state, plus restored state never registered.
  internal::OperatorStateSnapshotData snapshot() const;
  /// Loads restored state (already redistributed for this instance); states registered later
  /// receive theirs then. Call before the operator registers its states.
  void restore(internal::OperatorStateSnapshotData data);

  const std::string& operatorDescription() const { return operatorDescription_; }

 private:
  template <typename T>
  ListState<T>& getList(const ListStateDescriptor<T>& descriptor, OperatorStateMode mode) {
    static_assert(internal::requireSerializer<T>());
    using Table = internal::OperatorListState<T>;
    if (auto* existing = find(descriptor.name(), typeid(Table), mode))
      return *static_cast<Table*>(existing);
    auto table = std::make_unique<Table>(descriptor.name(), mode);
    Table& result = *table;
    add(std::move(table));
    return result;
  }

  /// The registered state `name` if its type and mode match; throws StateException if they
  /// differ; null if absent.
  internal::OperatorStateTable* find(const std::string& name,
                                     const std::type_info& type,
                                     OperatorStateMode mode) const;
  /// Registers `table` and hands it its pending restored data.
  void add(std::unique_ptr<internal::OperatorStateTable> table);

  struct Registration {
    const std::type_info* type;
    std::unique_ptr<internal::OperatorStateTable> table;
  };
  std::string operatorDescription_;
  std::vector<Registration> states_;
  std::vector<internal::OperatorStateData> pending_;
};

}  // namespace brook
