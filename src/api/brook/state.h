#pragma once

/// Keyed state: what a function on a keyed stream remembers per key.
///
/// A state is declared by a descriptor (its name, value types, and options such as a
/// time-to-live) and obtained from the RuntimeContext in `open`:
///
///   class Count : public KeyedProcessFunction<std::string, Event, Out> {
///     void open(const RuntimeContext& ctx) override {
///       count_ = &ctx.getState(ValueStateDescriptor<int64_t>("count"));
///     }
///     void processElement(const Event& e, Context& ctx, Collector<Out>& out) override {
///       count_->update(count_->value().value_or(0) + 1);
///     }
///     ValueState<int64_t>* count_ = nullptr;
///   };
///
/// Every access reads or writes the value of the key of the record (or timer) being processed,
/// so the same state object serves every key. Values are held by the job's state backend
/// (`state.backend.type`: `heap` as typed objects in hash maps, or `rocksdb` serialized on
/// local disk); both snapshot the same way, so a job can switch backends between runs.
/// State objects are owned by the backend and used only on the task's thread.

#include <brook/functions.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace brook {

/// A state was used wrongly (no current key, a name reused with another type) or its stored
/// bytes did not decode. The message names the state and the operator.
class StateException : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Time-to-live of a state's entries, measured in processing time from the last write (or the
/// last read as well, with kOnReadAndWrite). An expired entry is never returned; it is removed
/// when it is next accessed and left out of snapshots.
struct StateTtlConfig {
  enum class UpdateType {
    kOnCreateAndWrite,  ///< writes restart the entry's time to live (Flink's default)
    kOnReadAndWrite,    ///< reads do too
  };

  std::chrono::milliseconds ttl{0};
  UpdateType updateType = UpdateType::kOnCreateAndWrite;

  static StateTtlConfig of(std::chrono::milliseconds ttl,
                           UpdateType updateType = UpdateType::kOnCreateAndWrite) {
    if (ttl.count() <= 0)
      throw std::invalid_argument("state time-to-live must be positive");
    return StateTtlConfig{ttl, updateType};
  }
  bool enabled() const { return ttl.count() > 0; }
};

/// What every descriptor has: the state's name (unique per operator) and its TTL.
class StateDescriptor {
 public:
  explicit StateDescriptor(std::string name) : name_(std::move(name)) {
    if (name_.empty())
      throw std::invalid_argument("a state descriptor needs a name");
    if (name_.front() == '_')
      throw std::invalid_argument("state name '" + name_ + "': names beginning with '_' are "
                                  "reserved for the engine");
  }
  const std::string& name() const { return name_; }
  void enableTimeToLive(StateTtlConfig ttl) { ttl_ = ttl; }
  const StateTtlConfig& ttlConfig() const { return ttl_; }

 private:
  std::string name_;
  StateTtlConfig ttl_;
};

template <typename T>
class ValueStateDescriptor : public StateDescriptor {
 public:
  using StateDescriptor::StateDescriptor;
  /// A state whose `value()` is `defaultValue` for keys without one.
  ValueStateDescriptor(std::string name, T defaultValue)
      : StateDescriptor(std::move(name)), defaultValue_(std::move(defaultValue)) {}
  const std::optional<T>& defaultValue() const { return defaultValue_; }

 private:
  std::optional<T> defaultValue_;
};

template <typename T>
class ListStateDescriptor : public StateDescriptor {
 public:
  using StateDescriptor::StateDescriptor;
};

template <typename K, typename V>
class MapStateDescriptor : public StateDescriptor {
 public:
  using StateDescriptor::StateDescriptor;
};

/// A state that folds each added value into one with `reduce(accumulated, added)`.
template <typename T>
class ReducingStateDescriptor : public StateDescriptor {
 public:
  using ReduceFunction = std::function<T(const T&, const T&)>;
  ReducingStateDescriptor(std::string name, ReduceFunction reduce)
      : StateDescriptor(std::move(name)), reduce_(std::move(reduce)) {}
  const ReduceFunction& reduceFunction() const { return reduce_; }

 private:
  ReduceFunction reduce_;
};

/// Incremental aggregation: values of type IN are added to an accumulator ACC, from which a
/// result OUT is read, as Flink's AggregateFunction.
template <typename IN, typename ACC, typename OUT>
class AggregateFunction {
 public:
  using InputType = IN;
  using AccumulatorType = ACC;
  using OutputType = OUT;
  virtual ~AggregateFunction() = default;
  virtual ACC createAccumulator() const = 0;
  virtual ACC add(const IN& value, ACC accumulator) const = 0;
  virtual OUT getResult(const ACC& accumulator) const = 0;
  virtual ACC merge(ACC a, const ACC& b) const = 0;
};

template <typename IN, typename ACC, typename OUT>
class AggregatingStateDescriptor : public StateDescriptor {
 public:
  template <typename F>
  requires std::is_base_of_v<AggregateFunction<IN, ACC, OUT>, F>
  AggregatingStateDescriptor(std::string name, F function)
      : StateDescriptor(std::move(name)), function_(std::make_shared<F>(std::move(function))) {}
  const AggregateFunction<IN, ACC, OUT>& aggregateFunction() const { return *function_; }
  /// Shared by the descriptor's copies; the function is immutable (its methods are const).
  const std::shared_ptr<const AggregateFunction<IN, ACC, OUT>>& sharedFunction() const {
    return function_;
  }

 private:
  std::shared_ptr<const AggregateFunction<IN, ACC, OUT>> function_;
};

/// The base of every state: `clear` removes the current key's entry.
class State {
 public:
  virtual ~State() = default;
  virtual void clear() = 0;
};

/// One value per key.
template <typename T>
class ValueState : public State {
 public:
  /// The current key's value, the descriptor's default value, or nothing.
  virtual std::optional<T> value() = 0;
  virtual void update(T value) = 0;
};

/// A list of values per key.
template <typename T>
class ListState : public State {
 public:
  /// The current key's elements in the order they were added (empty when there are none).
  virtual std::vector<T> get() = 0;
  virtual void add(T value) = 0;
  virtual void addAll(std::vector<T> values) = 0;
  /// Replaces the list; an empty vector clears it.
  virtual void update(std::vector<T> values) = 0;
};

/// A map per key. Iteration order is unspecified.
template <typename K, typename V>
class MapState : public State {
 public:
  virtual std::optional<V> get(const K& key) = 0;
  virtual void put(K key, V value) = 0;
  virtual void remove(const K& key) = 0;
  virtual bool contains(const K& key) = 0;
  virtual std::vector<std::pair<K, V>> entries() = 0;
  virtual bool isEmpty() = 0;

  void putAll(std::vector<std::pair<K, V>> entries) {
    for (auto& [k, v] : entries)
      put(std::move(k), std::move(v));
  }
  std::vector<K> keys() {
    std::vector<K> result;
    for (auto& [k, v] : entries())
      result.push_back(std::move(k));
    return result;
  }
  std::vector<V> values() {
    std::vector<V> result;
    for (auto& [k, v] : entries())
      result.push_back(std::move(v));
    return result;
  }
};

/// One value per key into which every added value is reduced.
template <typename T>
class ReducingState : public State {
 public:
  virtual std::optional<T> get() = 0;
  virtual void add(T value) = 0;
};

/// One accumulator per key into which every added value is aggregated.
template <typename IN, typename OUT>
class AggregatingState : public State {
 public:
  virtual std::optional<OUT> get() = 0;
  virtual void add(IN value) = 0;
};

/// Broadcast state as the broadcast side of a broadcast process function sees it: a map that
/// every parallel instance holds in full and that only broadcast elements may change (so that
/// all instances stay equal).
template <typename K, typename V>
class ReadOnlyBroadcastState {
 public:
  virtual ~ReadOnlyBroadcastState() = default;
  virtual std::optional<V> get(const K& key) const = 0;
  virtual bool contains(const K& key) const = 0;
  virtual std::vector<std::pair<K, V>> entries() const = 0;
  virtual size_t size() const = 0;
};

template <typename K, typename V>
class BroadcastState : public ReadOnlyBroadcastState<K, V> {
 public:
  virtual void put(K key, V value) = 0;
  virtual void remove(const K& key) = 0;
  virtual void clear() = 0;
};

}  // namespace brook

// The backend behind the interfaces above, and RuntimeContext's state getters.
#include <brook/internal/state_facades.h>  // IWYU pragma: export
