#pragma once

/// The typed state objects users get (ValueState<T>, ListState<T>, ...) over a heap or store
/// table, the TTL wrappers, and KeyedStateBackend's and RuntimeContext's typed getters.

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <brook/internal/heap_state_tables.h>
#include <brook/internal/keyed_state_backend.h>
#include <brook/internal/store_state_tables.h>
#include <brook/serializer.h>
#include <brook/state.h>

namespace brook::internal {

// ----------------------------------------------------------------------------------------------
// TTL


/// The TTL rules of one state: expiry test and access time stamping.
class TtlPolicy {
 public:
  TtlPolicy(const KeyedStateBackend* backend, const StateTtlConfig& config)
      : backend_(backend),
        ttlMillis_(config.ttl.count()),
        updateOnRead_(config.updateType == StateTtlConfig::UpdateType::kOnReadAndWrite) {}
  int64_t now() const { return backend_->currentTimeMillis(); }
  bool expired(int64_t lastAccess, int64_t now) const {
    return lastAccess <= now - ttlMillis_;  // ttl elapsed since the last access
  }
  bool updateOnRead() const { return updateOnRead_; }

 private:
  const KeyedStateBackend* backend_;
  int64_t ttlMillis_;
  bool updateOnRead_;
};

// ----------------------------------------------------------------------------------------------
// Facades

template <typename T, typename Table>
class ValueStateImpl final : public ValueState<T> {
 public:
  ValueStateImpl(Table* table, std::optional<T> defaultValue)
      : table_(table), default_(std::move(defaultValue)) {}
  std::optional<T> value() override {
    std::optional<T> v = table_->get();
    return v.has_value() ? std::move(v) : default_;
  }
  void update(T value) override { table_->put(std::move(value)); }
  void clear() override { table_->remove(); }

 private:
  Table* table_;
  std::optional<T> default_;
};

template <typename T, typename Table>
class TtlValueStateImpl final : public ValueState<T> {
 public:
  TtlValueStateImpl(Table* table, std::optional<T> defaultValue, TtlPolicy ttl)
      : table_(table), default_(std::move(defaultValue)), ttl_(ttl) {}
  std::optional<T> value() override {
    std::optional<TtlValue<T>> v = table_->get();
    if (!v.has_value())
      return default_;
    int64_t now = ttl_.now();
    if (ttl_.expired(v->lastAccessMillis, now)) {
      table_->remove();
      return default_;
    }
    if (ttl_.updateOnRead()) {
      v->lastAccessMillis = now;
      table_->put(*v);
    }
    return std::move(v->value);
  }
  void update(T value) override { table_->put(TtlValue<T>{std::move(value), ttl_.now()}); }
  void clear() override { table_->remove(); }

 private:
  Table* table_;
  std::optional<T> default_;
  TtlPolicy ttl_;
};

template <typename T, typename Table>
class ListStateImpl final : public ListState<T> {
 public:
  explicit ListStateImpl(Table* table) : table_(table) {}
  std::vector<T> get() override { return table_->get(); }
  void add(T value) override { table_->add(std::move(value)); }
  void addAll(std::vector<T> values) override { table_->addAll(std::move(values)); }
  void update(std::vector<T> values) override { table_->update(std::move(values)); }
  void clear() override { table_->remove(); }

 private:
  Table* table_;
};

/// List state with a time-to-live per element.
template <typename T, typename Table>
class TtlListStateImpl final : public ListState<T> {
 public:
  TtlListStateImpl(Table* table, TtlPolicy ttl) : table_(table), ttl_(ttl) {}
  std::vector<T> get() override {
    int64_t now = ttl_.now();
    std::vector<TtlValue<T>> stored = table_->get();
    size_t before = stored.size();
    std::erase_if(stored, [&](const TtlValue<T>& e) { return ttl_.expired(e.lastAccessMillis, now); });
    bool changed = stored.size() != before;
    if (ttl_.updateOnRead() && !stored.empty()) {
      for (auto& e : stored)
        e.lastAccessMillis = now;
      changed = true;
    }
    if (changed)
      table_->update(stored);
    std::vector<T> result;
    result.reserve(stored.size());
    for (auto& e : stored)
      result.push_back(std::move(e.value));
    return result;
  }
  void add(T value) override { table_->add(TtlValue<T>{std::move(value), ttl_.now()}); }
  void addAll(std::vector<T> values) override { table_->addAll(wrap(std::move(values))); }
  void update(std::vector<T> values) override { table_->update(wrap(std::move(values))); }
  void clear() override { table_->remove(); }

 private:
  std::vector<TtlValue<T>> wrap(std::vector<T> values) {
    int64_t now = ttl_.now();
    std::vector<TtlValue<T>> result;
    result.reserve(values.size());
    for (auto& v : values)
      result.push_back(TtlValue<T>{std::move(v), now});
    return result;
  }
  Table* table_;
  TtlPolicy ttl_;
};

template <typename K, typename V, typename Table>
class MapStateImpl final : public MapState<K, V> {
 public:
  explicit MapStateImpl(Table* table) : table_(table) {}
  std::optional<V> get(const K& key) override { return table_->get(key); }
  void put(K key, V value) override { table_->put(std::move(key), std::move(value)); }
  void remove(const K& key) override { table_->remove(key); }
  bool contains(const K& key) override { return table_->contains(key); }
  std::vector<std::pair<K, V>> entries() override { return table_->entries(); }
  bool isEmpty() override { return table_->isEmpty(); }
  void clear() override { table_->clear(); }

 private:
  Table* table_;
};

/// Map state with a time-to-live per user entry.
template <typename K, typename V, typename Table>
class TtlMapStateImpl final : public MapState<K, V> {
 public:
  TtlMapStateImpl(Table* table, TtlPolicy ttl) : table_(table), ttl_(ttl) {}
  std::optional<V> get(const K& key) override {
    std::optional<TtlValue<V>> v = table_->get(key);
    if (!v.has_value())
      return std::nullopt;
    int64_t now = ttl_.now();
    if (ttl_.expired(v->lastAccessMillis, now)) {
      table_->remove(key);
      return std::nullopt;
    }
    if (ttl_.updateOnRead()) {
      v->lastAccessMillis = now;
      table_->put(key, *v);
    }
    return std::move(v->value);
  }
  void put(K key, V value) override {
    table_->put(std::move(key), TtlValue<V>{std::move(value), ttl_.now()});
  }
  void remove(const K& key) override { table_->remove(key); }
  bool contains(const K& key) override { return get(key).has_value(); }
  std::vector<std::pair<K, V>> entries() override {
    int64_t now = ttl_.now();
    table_->removeIf([&](const TtlValue<V>& v) { return ttl_.expired(v.lastAccessMillis, now); });
    std::vector<std::pair<K, V>> result;
    for (auto& [k, v] : table_->entries()) {
      if (ttl_.updateOnRead())
        table_->put(k, TtlValue<V>{v.value, now});
      result.emplace_back(std::move(k), std::move(v.value));
    }
    return result;
  }
  bool isEmpty() override { return entries().empty(); }
  void clear() override { table_->clear(); }

 private:
  Table* table_;
  TtlPolicy ttl_;
};

/// Reducing state over a value table (of T, or TtlValue<T> with a TTL).
template <typename T, typename Table, bool kTtl>
class ReducingStateImpl final : public ReducingState<T> {
 public:
  ReducingStateImpl(Table* table,
                    typename ReducingStateDescriptor<T>::ReduceFunction reduce,
                    std::optional<TtlPolicy> ttl)
      : table_(table), reduce_(std::move(reduce)), ttl_(ttl) {}
  std::optional<T> get() override {
    if constexpr (kTtl) {
      auto v = liveValue();
      if (v.has_value() && ttl_->updateOnRead())
        table_->put(TtlValue<T>{*v, ttl_->now()});
      return v;
    } else {
      return table_->get();
    }
  }
  void add(T value) override {
    if constexpr (kTtl) {
      auto current = liveValue();
      T next = current.has_value() ? reduce_(*current, value) : std::move(value);
      table_->put(TtlValue<T>{std::move(next), ttl_->now()});
    } else {
      auto current = table_->get();
      table_->put(current.has_value() ? reduce_(*current, value) : std::move(value));
    }
  }
  void clear() override { table_->remove(); }

 private:
  std::optional<T> liveValue() {
    auto v = table_->get();
    if (!v.has_value())
      return std::nullopt;
    if (ttl_->expired(v->lastAccessMillis, ttl_->now())) {
      table_->remove();
      return std::nullopt;
    }
    return std::move(v->value);
  }
  Table* table_;
  typename ReducingStateDescriptor<T>::ReduceFunction reduce_;
  std::optional<TtlPolicy> ttl_;
};

/// Aggregating state over a value table of accumulators (or TtlValue<ACC> with a TTL).
template <typename IN, typename ACC, typename OUT, typename Table, bool kTtl>
class AggregatingStateImpl final : public AggregatingState<IN, OUT> {
 public:
  using Function = AggregateFunction<IN, ACC, OUT>;
  AggregatingStateImpl(Table* table,
                       std::shared_ptr<const Function> function,
                       std::optional<TtlPolicy> ttl)
      : table_(table), function_(std::move(function)), ttl_(ttl) {}
  std::optional<OUT> get() override {
    auto acc = liveAccumulator();
    if (!acc.has_value())
      return std::nullopt;
    if constexpr (kTtl) {
      if (ttl_->updateOnRead())
        table_->put(TtlValue<ACC>{*acc, ttl_->now()});
    }
    return function_->getResult(*acc);
  }
  void add(IN value) override {
    auto acc = liveAccumulator();
    ACC next = function_->add(value, acc.has_value() ? std::move(*acc)
                                                     : function_->createAccumulator());
    if constexpr (kTtl) {
      table_->put(TtlValue<ACC>{std::move(next), ttl_->now()});
    } else {
      table_->put(std::move(next));
    }
  }
  void clear() override { table_->remove(); }

 private:
  std::optional<ACC> liveAccumulator() {
    if constexpr (kTtl) {
      auto v = table_->get();
      if (!v.has_value())
        return std::nullopt;
      if (ttl_->expired(v->lastAccessMillis, ttl_->now())) {
        table_->remove();
        return std::nullopt;
      }
      return std::move(v->value);
    } else {
      return table_->get();
    }
  }
  Table* table_;
  std::shared_ptr<const Function> function_;
  std::optional<TtlPolicy> ttl_;
};

// ----------------------------------------------------------------------------------------------
// KeyedStateBackend's templates

template <typename Facade>
Facade* KeyedStateBackend::findFacade(const std::string& name) {
  auto it = byName_.find(name);
  if (it == byName_.end())
    return nullptr;
  if (*it->second->type != typeid(Facade))
    failTypeMismatch(name, *it->second->type, typeid(Facade));
  return static_cast<Facade*>(it->second->facade.get());
}

namespace detail {
/// Creates a facade over a heap or store table of `Stored` values, registers both, and
/// returns the facade.
template <template <typename...> class HeapT,
          template <typename...> class StoreT,
          typename... Stored>
struct TableFactory {
  template <typename MakeFacade>
  static auto make(KeyedStateBackend* backend, const std::string& name, MakeFacade makeFacade) {
    if (backend->store() == nullptr) {
      auto table = std::make_unique<HeapT<Stored...>>(backend, name);
      auto facade = makeFacade(table.get());
      return std::make_pair(std::unique_ptr<KeyedStateTable>(std::move(table)), std::move(facade));
    }
    auto table = std::make_unique<StoreT<Stored...>>(backend, name);
    auto facade = makeFacade(table.get());
    return std::make_pair(std::unique_ptr<KeyedStateTable>(std::move(table)), std::move(facade));
  }
};
}  // namespace detail

template <typename T>
ValueState<T>& KeyedStateBackend::getState(const ValueStateDescriptor<T>& d) {
  static_assert(requireSerializer<T>());
  if (auto* f = findFacade<ValueState<T>>(d.name()))
    return *f;
  std::unique_ptr<KeyedStateTable> table;
  std::unique_ptr<ValueState<T>> facade;
  if (d.ttlConfig().enabled()) {
    TtlPolicy ttl(this, d.ttlConfig());
    std::tie(table, facade) =
        detail::TableFactory<HeapValueTable, StoreValueTable, TtlValue<T>>::make(
            this, d.name(), [&](auto* t) -> std::unique_ptr<ValueState<T>> {
              return std::make_unique<TtlValueStateImpl<T, std::remove_pointer_t<decltype(t)>>>(
                  t, d.defaultValue(), ttl);
            });
  } else {
    std::tie(table, facade) = detail::TableFactory<HeapValueTable, StoreValueTable, T>::make(
        this, d.name(), [&](auto* t) -> std::unique_ptr<ValueState<T>> {
          return std::make_unique<ValueStateImpl<T, std::remove_pointer_t<decltype(t)>>>(
              t, d.defaultValue());
        });
  }
  table->setTimeToLive(d.ttlConfig().ttl.count());
  ValueState<T>& result = *facade;
  addState(d.name(), typeid(ValueState<T>), std::move(table), std::move(facade));
  return result;
}

template <typename T>
ListState<T>& KeyedStateBackend::getListState(const ListStateDescriptor<T>& d) {
  static_assert(requireSerializer<T>());
  if (auto* f = findFacade<ListState<T>>(d.name()))
    return *f;
  std::unique_ptr<KeyedStateTable> table;
  std::unique_ptr<ListState<T>> facade;
  if (d.ttlConfig().enabled()) {
    TtlPolicy ttl(this, d.ttlConfig());
    std::tie(table, facade) =
        detail::TableFactory<HeapListTable, StoreListTable, TtlValue<T>>::make(
            this, d.name(), [&](auto* t) -> std::unique_ptr<ListState<T>> {
              return std::make_unique<TtlListStateImpl<T, std::remove_pointer_t<decltype(t)>>>(
                  t, ttl);
            });
  } else {
    std::tie(table, facade) = detail::TableFactory<HeapListTable, StoreListTable, T>::make(
        this, d.name(), [&](auto* t) -> std::unique_ptr<ListState<T>> {
          return std::make_unique<ListStateImpl<T, std::remove_pointer_t<decltype(t)>>>(t);
        });
  }
  table->setTimeToLive(d.ttlConfig().ttl.count());
  ListState<T>& result = *facade;
  addState(d.name(), typeid(ListState<T>), std::move(table), std::move(facade));
  return result;
}

template <typename K, typename V>
MapState<K, V>& KeyedStateBackend::getMapState(const MapStateDescriptor<K, V>& d) {
  static_assert(requireSerializer<K>() && requireSerializer<V>());
  if (auto* f = findFacade<MapState<K, V>>(d.name()))
    return *f;
  std::unique_ptr<KeyedStateTable> table;
  std::unique_ptr<MapState<K, V>> facade;
  if (d.ttlConfig().enabled()) {
    TtlPolicy ttl(this, d.ttlConfig());
    std::tie(table, facade) =
        detail::TableFactory<HeapMapTable, StoreMapTable, K, TtlValue<V>>::make(
            this, d.name(), [&](auto* t) -> std::unique_ptr<MapState<K, V>> {
              return std::make_unique<TtlMapStateImpl<K, V, std::remove_pointer_t<decltype(t)>>>(
                  t, ttl);
            });
  } else {
    std::tie(table, facade) = detail::TableFactory<HeapMapTable, StoreMapTable, K, V>::make(
        this, d.name(), [&](auto* t) -> std::unique_ptr<MapState<K, V>> {
          return std::make_unique<MapStateImpl<K, V, std::remove_pointer_t<decltype(t)>>>(t);
        });
  }
  table->setTimeToLive(d.ttlConfig().ttl.count());
  MapState<K, V>& result = *facade;
  addState(d.name(), typeid(MapState<K, V>), std::move(table), std::move(facade));
  return result;
}

template <typename T>
ReducingState<T>& KeyedStateBackend::getReducingState(const ReducingStateDescriptor<T>& d) {
  static_assert(requireSerializer<T>());
  if (auto* f = findFacade<ReducingState<T>>(d.name()))
    return *f;
  if (!d.reduceFunction())
    throw StateException("reducing state '" + d.name() + "' of operator '" +
                         operatorDescription_ + "' has no reduce function");
  std::unique_ptr<KeyedStateTable> table;
  std::unique_ptr<ReducingState<T>> facade;
  if (d.ttlConfig().enabled()) {
    TtlPolicy ttl(this, d.ttlConfig());
    std::tie(table, facade) =
        detail::TableFactory<HeapValueTable, StoreValueTable, TtlValue<T>>::make(
            this, d.name(), [&](auto* t) -> std::unique_ptr<ReducingState<T>> {
              return std::make_unique<
                  ReducingStateImpl<T, std::remove_pointer_t<decltype(t)>, true>>(
                  t, d.reduceFunction(), ttl);
            });
  } else {
    std::tie(table, facade) = detail::TableFactory<HeapValueTable, StoreValueTable, T>::make(
        this, d.name(), [&](auto* t) -> std::unique_ptr<ReducingState<T>> {
          return std::make_unique<ReducingStateImpl<T, std::remove_pointer_t<decltype(t)>, false>>(
              t, d.reduceFunction(), std::nullopt);
        });
  }
  table->setTimeToLive(d.ttlConfig().ttl.count());
  ReducingState<T>& result = *facade;
  addState(d.name(), typeid(ReducingState<T>), std::move(table), std::move(facade));
  return result;
}

template <typename IN, typename ACC, typename OUT>
AggregatingState<IN, OUT>& KeyedStateBackend::getAggregatingState(
    const AggregatingStateDescriptor<IN, ACC, OUT>& d) {
  static_assert(requireSerializer<ACC>());
  using Facade = AggregatingState<IN, OUT>;
  if (auto* f = findFacade<Facade>(d.name()))
    return *f;
  std::unique_ptr<KeyedStateTable> table;
  std::unique_ptr<Facade> facade;
  if (d.ttlConfig().enabled()) {
    TtlPolicy ttl(this, d.ttlConfig());
    std::tie(table, facade) =
        detail::TableFactory<HeapValueTable, StoreValueTable, TtlValue<ACC>>::make(
            this, d.name(), [&](auto* t) -> std::unique_ptr<Facade> {
              return std::make_unique<
                  AggregatingStateImpl<IN, ACC, OUT, std::remove_pointer_t<decltype(t)>, true>>(
                  t, d.sharedFunction(), ttl);
            });
  } else {
    std::tie(table, facade) = detail::TableFactory<HeapValueTable, StoreValueTable, ACC>::make(
        this, d.name(), [&](auto* t) -> std::unique_ptr<Facade> {
          return std::make_unique<
              AggregatingStateImpl<IN, ACC, OUT, std::remove_pointer_t<decltype(t)>, false>>(
              t, d.sharedFunction(), std::nullopt);
        });
  }
  table->setTimeToLive(d.ttlConfig().ttl.count());
  Facade& result = *facade;
  addState(d.name(), typeid(Facade), std::move(table), std::move(facade));
  return result;
}

}  // namespace brook::internal

namespace brook {
/// TtlValue's serializer: the value, then the access time.
template <typename T>
struct TypeSerializer<internal::TtlValue<T>> {
  static void serialize(const internal::TtlValue<T>& v, DataOutput& out) {
    brook::serialize(v.value, out);
    out.writeRaw<int64_t>(v.lastAccessMillis);
  }
  static void deserialize(DataInput& in, internal::TtlValue<T>& v) {
    brook::deserialize(in, v.value);
    v.lastAccessMillis = in.readRaw<int64_t>();
  }
};

template <typename T>
ValueState<T>& RuntimeContext::getState(const ValueStateDescriptor<T>& descriptor) const {
  return keyedBackend("ValueState", descriptor.name()).getState(descriptor);
}
template <typename T>
ListState<T>& RuntimeContext::getListState(const ListStateDescriptor<T>& descriptor) const {
  return keyedBackend("ListState", descriptor.name()).getListState(descriptor);
}
template <typename K, typename V>
MapState<K, V>& RuntimeContext::getMapState(const MapStateDescriptor<K, V>& descriptor) const {
  return keyedBackend("MapState", descriptor.name()).getMapState(descriptor);
}
template <typename T>
ReducingState<T>& RuntimeContext::getReducingState(
    const ReducingStateDescriptor<T>& descriptor) const {
  return keyedBackend("ReducingState", descriptor.name()).getReducingState(descriptor);
}
template <typename IN, typename ACC, typename OUT>
AggregatingState<IN, OUT>& RuntimeContext::getAggregatingState(
    const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor) const {
  return keyedBackend("AggregatingState", descriptor.name()).getAggregatingState(descriptor);
}
}  // namespace brook
