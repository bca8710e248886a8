// The acceptance job of keyed state and timers: per key, a count in ValueState, the last five
// values in ListState, and a processing-time timer that reports both.
//
// Events. Event i (0 <= i < --events) is (key, value) = (splitMix64(i) % --keys, i): keys are
// scattered over [0, keys), each with a different number of events (some with fewer than five,
// a few with none, which then print nothing).
//
// Determinism. "The last five values" depends on the order in which a key's events arrive.
// Each source subtask s of p walks i = 0, 1, 2, ... and emits only the events whose key % p == s,
// so all events of a key come from one source subtask, in increasing i. A network channel
// keeps order, so the keyed subtask owning the key receives them in increasing i whatever the
// interleaving of the source subtasks, the parallelism or the placement of the tasks: the
// result is the same for every run, equal to what a single loop over i computes.
//
// Output. The first event of a key registers a processing-time timer one hour ahead. The job
// runs in STREAMING mode, so no timer fires while the input lasts; when the bounded input ends
// every remaining processing-time timer fires, and onTimer writes one line per key
//   key,count,v1 v2 v3 v4 v5
// (the last up to five values in arrival order) to the part files of --output.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <brook/brook.h>

namespace {

using Event = std::pair<int64_t, int64_t>;  // (key, value)

constexpr size_t kLastValues = 5;

// SplitMix64's finalizer: a bijection of 64-bit integers that scatters neighbours.
uint64_t splitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int64_t keyOf(int64_t i, int64_t keys) {
  return static_cast<int64_t>(splitMix64(static_cast<uint64_t>(i)) % static_cast<uint64_t>(keys));
}

// Emits, in increasing i, the events whose key belongs to this subtask (key % p == subtask).
class KeyedEventReader final : public brook::SourceReader<Event> {
 public:
  KeyedEventReader(int64_t events, int64_t keys) : events_(events), keys_(keys) {}

  void open(const brook::RuntimeContext& context) override {
    subtask_ = context.subtaskIndex;
    parallelism_ = context.parallelism;
  }

  brook::InputStatus pollNext(brook::SourceOutput<Event>& output) override {
    int64_t stop = std::min(events_, next_ + kBatch);
    for (; next_ < stop; ++next_) {
      int64_t key = keyOf(next_, keys_);
      if (key % parallelism_ == subtask_)
        output.collect(Event{key, next_});
    }
    return next_ < events_ ? brook::InputStatus::kMoreAvailable : brook::InputStatus::kEndOfInput;
  }

 private:
  static constexpr int64_t kBatch = 4096;
  int64_t events_;
  int64_t keys_;
  int64_t subtask_ = 0;
  int64_t parallelism_ = 1;
  int64_t next_ = 0;
};

// Counts each key's events, keeps its last five values, and reports both when its
// processing-time timer fires.
class CountAndLastValues final : public brook::KeyedProcessFunction<int64_t, Event, std::string> {
 public:
  void open(const brook::RuntimeContext& context) override {
    count_ = &context.getState(brook::ValueStateDescriptor<int64_t>("count"));
    last_ = &context.getListState(brook::ListStateDescriptor<int64_t>("last-values"));
  }

  void processElement(const Event& event, Context& ctx, brook::Collector<std::string>&) override {
    std::optional<int64_t> count = count_->value();
    if (!count.has_value()) {
      // One timer per key, far enough ahead that only the end of the input fires it.
      auto& timers = ctx.timerService();
      timers.registerProcessingTimeTimer(timers.currentProcessingTime() + kTimerDelayMillis);
    }
    count_->update(count.value_or(0) + 1);
    std::vector<int64_t> values = last_->get();
    values.push_back(event.second);
    if (values.size() > kLastValues)
      values.erase(values.begin(), values.end() - kLastValues);
    last_->update(std::move(values));
  }

  void onTimer(int64_t, OnTimerContext& ctx, brook::Collector<std::string>& out) override {
    if (ctx.timeDomain() != brook::TimeDomain::kProcessingTime)
      throw std::logic_error("an event-time timer fired, but only processing-time ones were set");
    std::string line = std::to_string(ctx.getCurrentKey()) + "," +
                       std::to_string(count_->value().value_or(0)) + ",";
    std::vector<int64_t> values = last_->get();
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0)
        line += ' ';
      line += std::to_string(values[i]);
    }
    out.collect(std::move(line));
  }

 private:
  static constexpr int64_t kTimerDelayMillis = 60 * 60 * 1000;
  brook::ValueState<int64_t>* count_ = nullptr;
  brook::ListState<int64_t>* last_ = nullptr;
};

}  // namespace

BROOK_JOB(keyed_state_job) {
  auto& env = job.env();
  const auto& args = job.args();
  int64_t events = args.getInt("events", 1'000'000);
  int64_t keys = args.getInt("keys", 100'000);
  if (events < 0 || keys < 1)
    throw brook::JobDefinitionError("--events must be >= 0 and --keys >= 1");
  std::string output = args.get("output");

  env.setRuntimeMode(brook::RuntimeMode::kStreaming);
  env.fromSource<Event>([events, keys] { return std::make_unique<KeyedEventReader>(events, keys); },
                        "Keyed Events", /*bounded=*/true)
      .keyBy([](const Event& e) { return e.first; })
      .process(CountAndLastValues())
      .name("Count And Last Values")
      .writeAsText(output);
}
