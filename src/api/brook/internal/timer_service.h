#pragma once

/// The timers of a keyed operator: per time domain, a priority queue of (timestamp, key,
/// namespace), at most one timer per key, namespace and timestamp. The queues are heap-held
/// keyed state (on either backend), so they are snapshotted and restored per key group with
/// the operator's other state.

#include <algorithm>
#include <atomic>
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

#include <brook/internal/heap_key.h>
#include <brook/internal/keyed_state_backend.h>
#include <brook/operator.h>
#include <brook/process_function.h>
#include <brook/state.h>

namespace brook::internal {

struct InternalTimer {
  int64_t timestamp = 0;
  int keyGroup = 0;
  std::string key;  ///< serialized
  /// In the timer itself up to 31 bytes (a window's 16): the index compares it on every
  /// registration.
  HeapKey stateNamespace;

  bool operator<(const InternalTimer& o) const {
    return std::tie(timestamp, keyGroup, key, stateNamespace) <
           std::tie(o.timestamp, o.keyGroup, o.key, o.stateNamespace);
  }
};

/// The timers of one time domain, in firing order: a binary heap ordered by (timestamp, key
/// group, key, namespace), beside a hash index of the same timers, as Flink's
/// HeapPriorityQueueSet, so that registering a timer that exists already (every element of a
/// window registers its window's end) is one hash lookup without allocation. In snapshots each
/// timer is a map entry of (key, namespace) whose user key is the timestamp as 8 big-endian
/// bytes with the sign bit flipped (so byte order is time order) and whose value is empty.
///
/// The heap's slots hold the timestamp and an order-preserving prefix of (key group, key) beside
/// the pointer to the timer, so that sifting compares without touching the timers themselves
/// (many timers share a timestamp: every key's window ends at the same time); only slots equal
/// in both fall back to comparing the keys and namespaces. A deleted timer stays in the heap,
/// marked, until it reaches the front or until deleted ones are half of the heap, which is then
/// rebuilt without them.
///
/// A snapshot shares the timers with the queue: its synchronous phase copies the heap's slots
/// (pointers to the timers, grouped by key group), not the timers, and its asynchronous phase
/// reads them. A timer never changes once added; one that leaves the queue while a snapshot is
/// alive is kept (in the queue's retired list, which every snapshot taken since holds) until
/// no snapshot can read it, and a deletion is stamped with the number of snapshots taken before
/// it, so that older snapshots still see the timer.
class TimerQueue final : public KeyedStateTable {
 public:
  TimerQueue(KeyedStateBackend* backend, std::string name)
      : KeyedStateTable(backend, std::move(name), StateShape::kMap) {}
  ~TimerQueue() override {
    // Snapshots still being written read these timers.
    for (Slot& slot : heap_)
      retire(std::move(slot.node));
  }

  bool heapHeld() const override { return true; }

  /// Adds a timer for the current key and `ns`; returns false when it exists already.
  bool add(int64_t timestamp, std::string_view ns) {
    requireKey();
    const TimerRef ref{timestamp, backend_->currentKeyGroup(), backend_->currentKey(), ns};
    if (index_.contains(ref))
      return false;
    insert(InternalTimer{timestamp, ref.keyGroup, std::string(ref.key), HeapKey(ns)});
    return true;
  }
  void remove(int64_t timestamp, std::string_view ns) {
    requireKey();
    auto it =
        index_.find(TimerRef{timestamp, backend_->currentKeyGroup(), backend_->currentKey(), ns});
    if (it == index_.end())
      return;
    (*it)->deletedAfter.store(snapshotsTaken_, std::memory_order_relaxed);
    index_.erase(it);
    ++deleted_;
    if (deleted_ > 64 && 2 * deleted_ > heap_.size()) {
      rebuildWithoutDeleted();
    } else {
      dropDeletedFront();
    }
  }
  std::optional<int64_t> nextTimestamp() const {
    if (heap_.empty())
      return std::nullopt;
    return heap_.front().timestamp;
  }
  /// Removes and returns the earliest timer if it is due at `time`.
  std::optional<InternalTimer> pollDue(int64_t time) {
    if (heap_.empty() || heap_.front().timestamp > time)
      return std::nullopt;
    std::unique_ptr<Node> node = popFront();
    index_.erase(node.get());
    dropDeletedFront();
    if (!snapshotsAlive())
      return std::move(node->timer);
    InternalTimer timer = node->timer;
    retire(std::move(node));
    return timer;
  }
  size_t size() const { return heap_.size() - deleted_; }

  /// The timers of the key groups in [firstKeyGroup, lastKeyGroup], grouped by key group:
  /// pointers to them, which stay valid while the snapshot lives.
  std::unique_ptr<KeyedStateTableSnapshot> snapshotTable(int firstKeyGroup,
                                                         int lastKeyGroup) override {
    auto snapshot = std::make_unique<Snapshot>();
    snapshot->takenAfter = snapshotsTaken_++;
    if (retired_ == nullptr || !snapshotsAlive()) {
      retired_ = std::make_shared<Retired>();  // drops what no snapshot reads any more
    } else {
      auto newer = std::make_shared<Retired>();
      retired_->newer = newer;
      retired_ = std::move(newer);
    }
    snapshot->retired = retired_;
    const auto taken = [&](const Slot& slot) {
      const int keyGroup = keyGroupOf(slot);
      return keyGroup >= firstKeyGroup && keyGroup <= lastKeyGroup;
    };
    // A counting sort by key group: the key groups of the taken timers span at most the
    // operator's own. Only the slots are read (a deleted timer is left out when written).
    int low = INT_MAX;
    int high = INT_MIN;
    for (const Slot& slot : heap_) {
      if (taken(slot)) {
        low = std::min(low, keyGroupOf(slot));
        high = std::max(high, keyGroupOf(slot));
      }
    }
    if (low > high) {
      snapshot->starts.push_back(0);
      return snapshot;
    }
    std::vector<size_t> next(static_cast<size_t>(high - low) + 2, 0);
    for (const Slot& slot : heap_) {
      if (taken(slot))
        ++next[static_cast<size_t>(keyGroupOf(slot) - low) + 1];
    }
    for (size_t g = 1; g < next.size(); ++g) {
      if (next[g] > 0) {
        snapshot->keyGroups_.push_back(low + static_cast<int>(g) - 1);
        snapshot->starts.push_back(next[g - 1]);
      }
      next[g] += next[g - 1];
    }
    snapshot->timers.resize(next.back());
    for (const Slot& slot : heap_) {
      if (taken(slot))
        snapshot->timers[next[static_cast<size_t>(keyGroupOf(slot) - low)]++] = slot.node.get();
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
                         HeapKey(entry.stateNamespace)});
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
  static constexpr uint64_t kNotDeleted = UINT64_MAX;
  struct Node {
    explicit Node(InternalTimer t) : timer(std::move(t)) {}
    InternalTimer timer;  ///< never changed while a snapshot may read it
    /// kNotDeleted, or the number of snapshots taken before the timer was deleted: written on
    /// the task thread, read by snapshots on others.
    std::atomic<uint64_t> deletedAfter{kNotDeleted};
    bool deleted() const { return deletedAfter.load(std::memory_order_relaxed) != kNotDeleted; }
  };
  /// Timers that left the queue while snapshots that may read them were alive. Each snapshot
  /// holds the list that was current when it was taken, which holds every newer list, so a
  /// timer is freed once the snapshots taken before it left are gone.
  struct Retired {
    std::vector<std::unique_ptr<Node>> nodes;
    std::shared_ptr<Retired> newer;
  };
  /// A heap slot: the timer's timestamp and (key group, key) prefix, and the timer.
  struct Slot {
    int64_t timestamp;
    /// The key group in the top 16 bits, then the key's first 6 bytes (zero-padded), so that
    /// unequal prefixes order as (key group, key) do.
    uint64_t keyPrefix;
    std::unique_ptr<Node> node;
  };
  /// Timers in snapshot form: each as a map entry of (key, namespace) whose user key is the
  /// encoded timestamp and whose value is empty.
  struct Snapshot final : KeyedStateTableSnapshot {
    ~Snapshot() override {
      // Frees the chain of retired lists iteratively, newest last, where no other snapshot
      // holds it.
      std::shared_ptr<Retired> list = std::move(retired);
      while (list != nullptr && list.use_count() == 1) {
        // Pairs with the release of the queue's reference: its writes to the list (the
        // retired timers, `newer`) happened before.
        std::atomic_thread_fence(std::memory_order_acquire);
        list = std::move(list->newer);
      }
    }
    const std::vector<int>& keyGroups() const override { return keyGroups_; }
    void write(int keyGroup, KeyedStateSink& sink) const override {
      auto it = std::lower_bound(keyGroups_.begin(), keyGroups_.end(), keyGroup);
      if (it == keyGroups_.end() || *it != keyGroup)
        return;
      const size_t group = static_cast<size_t>(it - keyGroups_.begin());
      const size_t end = starts[group + 1];
      // The timers lie scattered in memory, each over two or three cache lines.
      constexpr size_t kPrefetchDistance = 24;
      const auto prefetch = [](const Node* node) {
        const char* bytes = reinterpret_cast<const char*>(node);
        __builtin_prefetch(bytes);
        __builtin_prefetch(bytes + 64);
        __builtin_prefetch(bytes + sizeof(Node) - 1);
      };
      for (size_t i = starts[group]; i < std::min(end, starts[group] + kPrefetchDistance); ++i)
        prefetch(timers[i]);
      char bytes[8];
      for (size_t i = starts[group]; i < end; ++i) {
        if (i + kPrefetchDistance < end)
          prefetch(timers[i + kPrefetchDistance]);
        const Node& node = *timers[i];
        if (node.deletedAfter.load(std::memory_order_relaxed) < takenAfter + 1)
          continue;  // deleted before the snapshot
        const InternalTimer& t = node.timer;
        encodeTimestamp(t.timestamp, bytes);
        sink.writeMapEntry(keyGroup, t.key, t.stateNamespace, std::string_view(bytes, 8), {});
      }
    }
    std::vector<int> keyGroups_;
    std::vector<size_t> starts;  // of each key group's timers, then the end
    std::vector<const Node*> timers;
    uint64_t takenAfter = 0;  // snapshots taken before this one
    std::shared_ptr<Retired> retired;
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

  static uint64_t keyPrefixOf(int keyGroup, std::string_view key) {
    uint64_t prefix = static_cast<uint64_t>(static_cast<uint16_t>(keyGroup)) << 48;
    const size_t n = std::min<size_t>(key.size(), 6);
    for (size_t i = 0; i < n; ++i)
      prefix |= uint64_t{static_cast<unsigned char>(key[i])} << (40 - 8 * i);
    return prefix;
  }
  static int keyGroupOf(const Slot& slot) { return static_cast<int>(slot.keyPrefix >> 48); }

  void requireKey() const {
    if (!backend_->hasCurrentKey()) [[unlikely]]
      fail("timer used without a current key: timers are available while a keyed record or "
           "timer is processed");
  }

  void insert(InternalTimer timer) {
    const int64_t timestamp = timer.timestamp;
    const uint64_t prefix = keyPrefixOf(timer.keyGroup, timer.key);
    auto node = std::make_unique<Node>(std::move(timer));
    index_.insert(node.get());
    heap_.push_back(Slot{timestamp, prefix, std::move(node)});
    siftUp(heap_.size() - 1);
  }
  /// Takes the front slot's timer out of the heap (not out of the index).
  std::unique_ptr<Node> popFront() {
    std::unique_ptr<Node> removed = std::move(heap_.front().node);
    if (heap_.size() > 1)
      heap_.front() = std::move(heap_.back());
    heap_.pop_back();
    if (!heap_.empty())
      siftDown(0);
    return removed;
  }
  /// Keeps the front a timer that is not deleted.
  void dropDeletedFront() {
    while (!heap_.empty() && heap_.front().node->deleted()) {
      retire(popFront());
      --deleted_;
    }
  }
  void rebuildWithoutDeleted() {
    for (Slot& slot : heap_) {
      if (slot.node->deleted())
        retire(std::move(slot.node));
    }
    std::erase_if(heap_, [](const Slot& slot) { return slot.node == nullptr; });
    deleted_ = 0;
    for (size_t i = heap_.size() / 2; i-- > 0;)
      siftDown(i);
  }
  static bool before(const Slot& a, const Slot& b) {
    if (a.timestamp != b.timestamp)
      return a.timestamp < b.timestamp;
    if (a.keyPrefix != b.keyPrefix)
      return a.keyPrefix < b.keyPrefix;
    return a.node->timer < b.node->timer;
  }
  void siftUp(size_t i) {
    Slot moving = std::move(heap_[i]);
    while (i > 0) {
      const size_t parent = (i - 1) / 2;
      if (!before(moving, heap_[parent]))
        break;
      heap_[i] = std::move(heap_[parent]);
      i = parent;
    }
    heap_[i] = std::move(moving);
  }
  void siftDown(size_t i) {
    const size_t n = heap_.size();
    Slot moving = std::move(heap_[i]);
    for (;;) {
      const size_t left = 2 * i + 1;
      if (left >= n)
        break;
      const size_t right = left + 1;
      const size_t child = right < n && before(heap_[right], heap_[left]) ? right : left;
      if (!before(heap_[child], moving))
        break;
      heap_[i] = std::move(heap_[child]);
      i = child;
    }
    heap_[i] = std::move(moving);
  }

  /// Whether a snapshot may still read the timers: one holds the current retired list, or an
  /// older list that holds it. Snapshots only ever let go of lists, so a false answer stays
  /// true until the next snapshot.
  bool snapshotsAlive() const {
    if (retired_ != nullptr && retired_.use_count() > 1)
      return true;
    // Pairs with the release of the last snapshot's reference: its reads of the timers
    // happened before the queue frees any.
    std::atomic_thread_fence(std::memory_order_acquire);
    return false;
  }
  /// Frees a timer that left the queue, or keeps it for the snapshots that may read it.
  void retire(std::unique_ptr<Node> node) {
    if (node != nullptr && snapshotsAlive())
      retired_->nodes.push_back(std::move(node));
  }

  std::vector<Slot> heap_;
  absl::flat_hash_set<Node*, RefHash, RefEq> index_;
  size_t deleted_ = 0;  // marked timers still in heap_
  uint64_t snapshotsTaken_ = 0;
  std::shared_ptr<Retired> retired_;  // the list that timers leaving now join
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
