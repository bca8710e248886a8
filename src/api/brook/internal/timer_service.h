#pragma once

/// The timers of a keyed operator: per time domain, a priority queue of (timestamp, key,
/// namespace), at most one timer per key, namespace and timestamp. The queues are heap-held
/// keyed state (on either backend), so they are snapshotted and restored per key group with
/// the operator's other state.

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <absl/container/flat_hash_set.h>

#include <brook/internal/keyed_state_backend.h>
#include <brook/operator.h>
#include <brook/process_function.h>
#include <brook/state.h>

namespace brook::internal {

struct InternalTimer {
  int64_t timestamp = 0;
  int keyGroup = 0;
  std::string key;  ///< serialized
  std::string stateNamespace;

  bool operator<(const InternalTimer& o) const {
    return std::tie(timestamp, keyGroup, key, stateNamespace) <
           std::tie(o.timestamp, o.keyGroup, o.key, o.stateNamespace);
  }
};

/// The timers of one time domain, in firing order: a binary heap ordered by (timestamp, key
/// group, key, namespace), beside a hash index of the same timers, as Flink's
/// HeapPriorityQueueSet, so that registering a timer that exists already (every element of a
/// window registers its window's end) is one hash lookup without allocation, and deleting one
/// is a lookup and a heap repair. In snapshots each timer is a map entry of (key, namespace)
/// whose user key is the timestamp as 8 big-endian bytes with the sign bit flipped (so byte
/// order is time order) and whose value is empty.
class TimerQueue final : public KeyedStateTable {
 public:
  TimerQueue(KeyedStateBackend* backend, std::string name)
      : KeyedStateTable(backend, std::move(name), StateShape::kMap) {}

  bool heapHeld() const override { return true; }

  /// Adds a timer for the current key and `ns`; returns false when it exists already.
  bool add(int64_t timestamp, std::string_view ns) {
    requireKey();
    const TimerRef ref{timestamp, backend_->currentKeyGroup(), backend_->currentKey(), ns};
    if (index_.contains(ref))
      return false;
    insert(InternalTimer{timestamp, ref.keyGroup, std::string(ref.key), std::string(ns)});
    return true;
  }
  void remove(int64_t timestamp, std::string_view ns) {
    requireKey();
    auto it = index_.find(TimerRef{timestamp, backend_->currentKeyGroup(), backend_->currentKey(), ns});
    if (it == index_.end())
      return;
    const size_t position = (*it)->heapIndex;
    index_.erase(it);
    (void)removeAt(position);
  }
  std::optional<int64_t> nextTimestamp() const {
    if (heap_.empty())
      return std::nullopt;
    return heap_.front()->timer.timestamp;
  }
  /// Removes and returns the earliest timer if it is due at `time`.
  std::optional<InternalTimer> pollDue(int64_t time) {
    if (heap_.empty() || heap_.front()->timer.timestamp > time)
      return std::nullopt;
    index_.erase(heap_.front().get());
    std::unique_ptr<Node> node = removeAt(0);
    return std::move(node->timer);
  }
  size_t size() const { return heap_.size(); }

  /// A typed copy of the timers of the key groups in [firstKeyGroup, lastKeyGroup], grouped
  /// by key group.
  std::unique_ptr<KeyedStateTableSnapshot> snapshotTable(int firstKeyGroup,
                                                         int lastKeyGroup) override {
    auto snapshot = std::make_unique<Snapshot>();
    // A counting sort by key group: the key groups of the taken timers span at most the
    // operator's own.
    int low = INT_MAX;
    int high = INT_MIN;
    for (const auto& node : heap_) {
      const int keyGroup = node->timer.keyGroup;
      if (keyGroup >= firstKeyGroup && keyGroup <= lastKeyGroup) {
        low = std::min(low, keyGroup);
        high = std::max(high, keyGroup);
      }
    }
    if (low > high) {
      snapshot->starts.push_back(0);
      return snapshot;
    }
    std::vector<size_t> next(static_cast<size_t>(high - low) + 2, 0);
    for (const auto& node : heap_) {
      const int keyGroup = node->timer.keyGroup;
      if (keyGroup >= low && keyGroup <= high)
        ++next[static_cast<size_t>(keyGroup - low) + 1];
    }
    for (size_t g = 1; g < next.size(); ++g) {
      if (next[g] > 0) {
        snapshot->keyGroups_.push_back(low + static_cast<int>(g) - 1);
        snapshot->starts.push_back(next[g - 1]);
      }
      next[g] += next[g - 1];
    }
    snapshot->timers.resize(next.back());
    for (const auto& node : heap_) {
      const int keyGroup = node->timer.keyGroup;
      if (keyGroup >= low && keyGroup <= high)
        snapshot->timers[next[static_cast<size_t>(keyGroup - low)]++] = node->timer;
    }
    snapshot->starts.push_back(snapshot->timers.size());
    return snapshot;
  }
  void restore(const RestoredEntry& entry) override {
    if (entry.userKey.size() != 8)
      throw SerializationError("timer timestamp of " + std::to_string(entry.userKey.size()) +
                               " bytes, expected 8");
    const int64_t timestamp = decodeTimestamp(entry.userKey.data());
    if (index_.contains(TimerRef{timestamp, entry.keyGroup, entry.key, entry.stateNamespace}))
      return;
    insert(InternalTimer{timestamp, entry.keyGroup, std::string(entry.key),
                         std::string(entry.stateNamespace)});
  }

  static void encodeTimestamp(int64_t timestamp, char* out) {
    uint64_t v = static_cast<uint64_t>(timestamp) ^ (uint64_t{1} << 63);
    for (int i = 7; i >= 0; --i) {
      out[i] = static_cast<char>(v & 0xff);
      v >>= 8;
    }
  }
  static int64_t decodeTimestamp(const char* in) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v = (v << 8) | static_cast<uint8_t>(in[i]);
    return static_cast<int64_t>(v ^ (uint64_t{1} << 63));
  }

 private:
  struct Node {
    InternalTimer timer;
    size_t heapIndex = 0;
  };
  /// Timers in snapshot form: each as a map entry of (key, namespace) whose user key is the
  /// encoded timestamp and whose value is empty.
  struct Snapshot final : KeyedStateTableSnapshot {
    const std::vector<int>& keyGroups() const override { return keyGroups_; }
    void write(int keyGroup, KeyedStateSink& sink) const override {
      auto it = std::lower_bound(keyGroups_.begin(), keyGroups_.end(), keyGroup);
      if (it == keyGroups_.end() || *it != keyGroup)
        return;
      const size_t group = static_cast<size_t>(it - keyGroups_.begin());
      char bytes[8];
      for (size_t i = starts[group]; i < starts[group + 1]; ++i) {
        const InternalTimer& t = timers[i];
        encodeTimestamp(t.timestamp, bytes);
        sink.writeMapEntry(keyGroup, t.key, t.stateNamespace, std::string_view(bytes, 8), {});
      }
    }
    std::vector<int> keyGroups_;
    std::vector<size_t> starts;  // of each key group's timers, then the end
    std::vector<InternalTimer> timers;
  };
  /// A timer to look up, by views of its key and namespace.
  struct TimerRef {
    int64_t timestamp;
    int keyGroup;
    std::string_view key;
    std::string_view stateNamespace;
  };
  static TimerRef refOf(const Node* n) {
    return TimerRef{n->timer.timestamp, n->timer.keyGroup, n->timer.key, n->timer.stateNamespace};
  }
  struct RefHash {
    using is_transparent = void;
    size_t operator()(const TimerRef& r) const {
      size_t h = std::hash<std::string_view>{}(r.key);
      h = h * 0x9e3779b97f4a7c15ULL + std::hash<std::string_view>{}(r.stateNamespace);
      return h ^ (static_cast<size_t>(r.timestamp) * 0xc2b2ae3d27d4eb4fULL);
    }
    size_t operator()(const Node* n) const { return (*this)(refOf(n)); }
  };
  struct RefEq {
    using is_transparent = void;
    static bool same(const TimerRef& a, const TimerRef& b) {
      return a.timestamp == b.timestamp && a.keyGroup == b.keyGroup && a.key == b.key &&
             a.stateNamespace == b.stateNamespace;
    }
    bool operator()(const Node* a, const Node* b) const { return a == b || same(refOf(a), refOf(b)); }
    bool operator()(const Node* a, const TimerRef& b) const { return same(refOf(a), b); }
    bool operator()(const TimerRef& a, const Node* b) const { return same(a, refOf(b)); }
  };

  void requireKey() const {
    if (!backend_->hasCurrentKey()) [[unlikely]]
      fail("timer used without a current key: timers are available while a keyed record or "
           "timer is processed");
  }

  void insert(InternalTimer timer) {
    auto node = std::make_unique<Node>(Node{std::move(timer), heap_.size()});
    index_.insert(node.get());
    heap_.push_back(std::move(node));
    siftUp(heap_.size() - 1);
  }
  /// Takes the node at heap position `i` out of the heap (not out of the index).
  std::unique_ptr<Node> removeAt(size_t i) {
    std::unique_ptr<Node> removed = std::move(heap_[i]);
    const size_t last = heap_.size() - 1;
    if (i != last) {
      heap_[i] = std::move(heap_[last]);
      heap_[i]->heapIndex = i;
    }
    heap_.pop_back();
    if (i < heap_.size()) {
      siftDown(i);
      siftUp(i);
    }
    return removed;
  }
  static bool before(const Node& a, const Node& b) {
    if (a.timer.timestamp != b.timer.timestamp)
      return a.timer.timestamp < b.timer.timestamp;
    return a.timer < b.timer;
  }
  void siftUp(size_t i) {
    while (i > 0) {
      const size_t parent = (i - 1) / 2;
      if (!before(*heap_[i], *heap_[parent]))
        break;
      swapNodes(i, parent);
      i = parent;
    }
  }
  void siftDown(size_t i) {
    const size_t n = heap_.size();
    for (;;) {
      size_t smallest = i;
      const size_t left = 2 * i + 1;
      const size_t right = left + 1;
      if (left < n && before(*heap_[left], *heap_[smallest]))
        smallest = left;
      if (right < n && before(*heap_[right], *heap_[smallest]))
        smallest = right;
      if (smallest == i)
        return;
      swapNodes(i, smallest);
      i = smallest;
    }
  }
  void swapNodes(size_t a, size_t b) {
    std::swap(heap_[a], heap_[b]);
    heap_[a]->heapIndex = a;
    heap_[b]->heapIndex = b;
  }

  std::vector<std::unique_ptr<Node>> heap_;
  absl::flat_hash_set<Node*, RefHash, RefEq> index_;
};

/// The timer service of one keyed operator: event-time timers fire as the watermark passes
/// them, processing-time timers through the task's ProcessingTimeService. `onTimer` is called
/// for each due timer with the backend's current key already set to the timer's key.
class InternalTimerService final : public TimerService {
 public:
  using Callback = std::function<void(const InternalTimer&, TimeDomain)>;

  static constexpr char kEventTimeQueue[] = "_timer_service/event-time";
  static constexpr char kProcessingTimeQueue[] = "_timer_service/processing-time";

  InternalTimerService(KeyedStateBackend* backend,
                       ProcessingTimeService* processingTime,
                       Callback onTimer)
      : backend_(backend),
        processingTime_(processingTime),
        onTimer_(std::move(onTimer)),
        eventTimers_(backend->registerInternalTable<TimerQueue>(kEventTimeQueue)),
        processingTimers_(backend->registerInternalTable<TimerQueue>(kProcessingTimeQueue)) {
    scheduleProcessingTimer();  // restored processing-time timers
  }
  InternalTimerService(const InternalTimerService&) = delete;
  InternalTimerService& operator=(const InternalTimerService&) = delete;

  int64_t currentProcessingTime() const override {
    return processingTime_ != nullptr ? processingTime_->currentProcessingTime() : 0;
  }
  int64_t currentWatermark() const override { return watermark_; }
  void registerEventTimeTimer(int64_t time) override { eventTimers_.add(time, namespace_); }
  void deleteEventTimeTimer(int64_t time) override { eventTimers_.remove(time, namespace_); }
  void registerProcessingTimeTimer(int64_t time) override {
    if (processingTimers_.add(time, namespace_))
      scheduleProcessingTimer();
  }
  void deleteProcessingTimeTimer(int64_t time) override {
    processingTimers_.remove(time, namespace_);
  }

  /// The namespace that timer registrations refer to (windows set theirs; empty by default).
  void setCurrentNamespace(std::string_view ns) { namespace_.assign(ns.data(), ns.size()); }

  /// Fires the event-time timers at or before `watermark`, in time order.
  void advanceWatermark(int64_t watermark) {
    watermark_ = watermark;
    while (auto timer = eventTimers_.pollDue(watermark))
      fire(*timer, TimeDomain::kEventTime);
  }

  /// Fires every remaining processing-time timer, in time order: at the end of a bounded input
  /// processing time is taken to have reached the end of time, as in Flink's BATCH mode.
  void fireAllProcessingTimers() {
    while (auto timer = processingTimers_.pollDue(INT64_MAX))
      fire(*timer, TimeDomain::kProcessingTime);
  }

  size_t numberOfEventTimeTimers() const { return eventTimers_.size(); }
  size_t numberOfProcessingTimeTimers() const { return processingTimers_.size(); }

 private:
  void fire(const InternalTimer& timer, TimeDomain domain) {
    backend_->setCurrentKey(timer.key);
    onTimer_(timer, domain);
  }

  void onProcessingTime(int64_t time) {
    scheduledFor_.reset();
    while (auto timer = processingTimers_.pollDue(time))
      fire(*timer, TimeDomain::kProcessingTime);
    scheduleProcessingTimer();
  }

  /// Asks the task to call back at the earliest processing-time timer, unless a call at or
  /// before it is pending.
  void scheduleProcessingTimer() {
    std::optional<int64_t> next = processingTimers_.nextTimestamp();
    if (!next.has_value() || processingTime_ == nullptr)
      return;
    if (scheduledFor_.has_value() && *scheduledFor_ <= *next)
      return;
    scheduledFor_ = *next;
    processingTime_->registerTimer(*next, [this](int64_t time) {
      // A call superseded by an earlier one still fires what is due; both are harmless.
      onProcessingTime(std::max(time, currentProcessingTime()));
    });
  }

  KeyedStateBackend* backend_;
  ProcessingTimeService* processingTime_;
  Callback onTimer_;
  TimerQueue& eventTimers_;
  TimerQueue& processingTimers_;
  std::string namespace_;
  int64_t watermark_ = INT64_MIN;
  std::optional<int64_t> scheduledFor_;
};

}  // namespace brook::internal
