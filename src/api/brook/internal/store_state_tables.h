#pragma once

/// Keyed state in a KeyedBytesStore (the RocksDB backend): every access serializes the key's
/// entry into or out of the store.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <brook/internal/heap_state_tables.h>
#include <brook/internal/keyed_state_backend.h>
#include <brook/serializer.h>

namespace brook::internal {

/// Shared by the store tables: the state's id in the KeyedBytesStore and scratch buffers.
class StoreTableBase : public KeyedStateTable {
 public:
  StoreTableBase(KeyedStateBackend* backend, std::string name, StateShape shape)
      : KeyedStateTable(backend, std::move(name), shape),
        store_(backend->store()),
        id_(store_->registerState(name_, shape)) {}
  bool heapHeld() const final { return false; }
  void prefetchInNamespace(std::string_view serializedNamespace) const final {
    if (backend_->hasCurrentKey())
      store_->prefetch(id_, keyGroup(), key(), serializedNamespace);
  }
  /// Records the time-to-live and hands it to the store, which cleans up expired entries.
  void setTimeToLive(int64_t ttlMillis) final {
    KeyedStateTable::setTimeToLive(ttlMillis);
    store_->setTimeToLive(id_, ttlMillis);
  }

 protected:
  void requireKey() const {
    if (!backend_->hasCurrentKey()) [[unlikely]]
      fail("accessed without a current key: keyed state is available while a keyed record or "
           "timer is processed");
  }
  int keyGroup() const { return backend_->currentKeyGroup(); }
  std::string_view key() const { return backend_->currentKey(); }
  template <typename T>
  std::string_view encode(const T& value, DataOutput& out) {
    out.clear();
    brook::serialize(value, out);
    return out.view();
  }
  template <typename T>
  void decode(std::string_view bytes, T& value) const {
    try {
      decodeInto(bytes, value);
    } catch (const SerializationError& e) {
      fail(std::string("stored bytes do not decode: ") + e.what());
    }
  }

  KeyedBytesStore* store_;
  int id_;
  DataOutput out_;
  DataOutput out2_;
  std::string read_;
};

/// Value state in the KeyedBytesStore.
template <typename V>
class StoreValueTable final : public StoreTableBase {
 public:
  StoreValueTable(KeyedStateBackend* backend, std::string name)
      : StoreTableBase(backend, std::move(name), StateShape::kValue) {}

  std::optional<V> get() {
    requireKey();
    if (!store_->getValue(id_, keyGroup(), key(), namespace_, &read_)) {
      lastRead_ = LastRead::kAbsent;
      return std::nullopt;
    }
    lastRead_ = LastRead::kFound;
    std::optional<V> value(std::in_place);
    decode(read_, *value);
    return value;
  }
  void put(const V& value) {
    requireKey();
    store_->putValue(id_, keyGroup(), key(), namespace_, encode(value, out_));
  }
  void remove() {
    requireKey();
    lastRead_ = LastRead::kNone;
    store_->removeValue(id_, keyGroup(), key(), namespace_);
  }
};

/// List state in the KeyedBytesStore; adding never reads the list.
template <typename E>
class StoreListTable final : public StoreTableBase {
 public:
  StoreListTable(KeyedStateBackend* backend, std::string name)
      : StoreTableBase(backend, std::move(name), StateShape::kList) {}

  std::vector<E> get() {
    requireKey();
    std::vector<E> result;
    if (!store_->getList(id_, keyGroup(), key(), namespace_, &elements_))
      return result;
    result.resize(elements_.size());
    for (size_t i = 0; i < elements_.size(); ++i)
      decode(elements_[i], result[i]);
    return result;
  }
  void add(const E& element) {
    requireKey();
    store_->addToList(id_, keyGroup(), key(), namespace_, encode(element, out_));
  }
  void addAll(const std::vector<E>& elements) {
    requireKey();
    for (const E& e : elements)
      store_->addToList(id_, keyGroup(), key(), namespace_, encode(e, out_));
  }
  void update(const std::vector<E>& elements) {
    requireKey();
    elements_.clear();
    for (const E& e : elements)
      elements_.emplace_back(encode(e, out_));
    store_->updateList(id_, keyGroup(), key(), namespace_, elements_);
  }
  template <typename Pred>
  void retain(Pred keep) {
    std::vector<E> list = get();
    size_t before = list.size();
    std::erase_if(list, [&](const E& e) { return !keep(e); });
    if (list.size() != before)
      update(list);
  }
  void remove() {
    requireKey();
    store_->updateList(id_, keyGroup(), key(), namespace_, {});
  }

 private:
  std::vector<std::string> elements_;
};

/// Map state in the KeyedBytesStore: one store entry per user key.
template <typename UK, typename UV>
class StoreMapTable final : public StoreTableBase {
 public:
  StoreMapTable(KeyedStateBackend* backend, std::string name)
      : StoreTableBase(backend, std::move(name), StateShape::kMap) {}

  std::optional<UV> get(const UK& userKey) {
    requireKey();
    if (!store_->getMapValue(id_, keyGroup(), key(), namespace_, encode(userKey, out_), &read_))
      return std::nullopt;
    std::optional<UV> value(std::in_place);
    decode(read_, *value);
    return value;
  }
  void put(const UK& userKey, const UV& value) {
    requireKey();
    store_->putMapValue(id_, keyGroup(), key(), namespace_, encode(userKey, out_),
                        encode(value, out2_));
  }
  void remove(const UK& userKey) {
    requireKey();
    store_->removeMapValue(id_, keyGroup(), key(), namespace_, encode(userKey, out_));
  }
  bool contains(const UK& userKey) {
    requireKey();
    return store_->containsMapKey(id_, keyGroup(), key(), namespace_, encode(userKey, out_));
  }
  std::vector<std::pair<UK, UV>> entries() {
    requireKey();
    raw_.clear();
    store_->mapEntries(id_, keyGroup(), key(), namespace_, &raw_);
    std::vector<std::pair<UK, UV>> result(raw_.size());
    for (size_t i = 0; i < raw_.size(); ++i) {
      decode(raw_[i].first, result[i].first);
      decode(raw_[i].second, result[i].second);
    }
    return result;
  }
  bool isEmpty() {
    requireKey();
    raw_.clear();
    store_->mapEntries(id_, keyGroup(), key(), namespace_, &raw_);
    return raw_.empty();
  }
  template <typename Pred>
  void removeIf(Pred drop) {
    for (auto& [k, v] : entries()) {
      if (drop(v))
        remove(k);
    }
  }
  void clear() {
    requireKey();
    store_->clearMap(id_, keyGroup(), key(), namespace_);
  }

 private:
  std::vector<std::pair<std::string, std::string>> raw_;
};

}  // namespace brook::internal
