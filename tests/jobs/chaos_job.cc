// The stateful job of the chaos tests (tests/e2e/chaos_test.cc): keyed counts in tumbling
// event-time windows, from a throttled generated source whose position is checkpointed, written
// through the exactly-once file sink while TaskManagers are killed.
//
// Events. Event i (0 <= i < --events) has key splitMix64(i) % --keys, value i % 1000 and
// timestamp i * --step-ms. Source subtask s of p (--source-parallelism, 4 by default) emits the
// events i with i % p == s in increasing i, at most --rate per second each (0: unthrottled),
// so its timestamps increase and forMonotonousTimestamps makes no event of another subtask
// late. Its checkpointed position is the next i, so a restart from a checkpoint continues
// exactly where the checkpoint left it (the job restarts at the parallelism it ran with).
//
// Output. keyBy key, TumblingEventTimeWindows of --window-ms (1 s by default), a reduce that
// counts the key's events and sums their values; a ProcessWindowFunction writes each fired
// window as a line
//   key,windowStart,count,sum
// to the part files of --output. Windows fire while the input lasts, as the watermark passes
// them, so the committed part files grow checkpoint after checkpoint. Every window fires once;
// the result depends neither on the parallelism nor on the placement of the tasks nor on
// failures, and equals what a single loop over i computes.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <brook/brook.h>

// The record type lives in a named namespace (see examples/exactly_once_check: with it TU-local
// GCC warns of an infinite recursion in <brook/watermark_strategy.h> that cannot happen).
namespace chaos_job {

/// One event, or a window's aggregate of a key's events.
struct Event {
  int64_t key = 0;
  int64_t count = 0;  // 1 for an event
  int64_t sum = 0;
};

}  // namespace chaos_job

using chaos_job::Event;

BROOK_SERIALIZABLE(Event, &Event::key, &Event::count, &Event::sum);

namespace {

// SplitMix64's finalizer: a bijection of 64-bit integers that scatters neighbours.
uint64_t splitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Emits this subtask's events (i % p == subtask) in increasing i, with their timestamps, at most
// `rate` per second; checkpoints the next i.
class ThrottledEventReader final : public brook::SourceReader<Event> {
 public:
  ThrottledEventReader(int64_t events, int64_t keys, int64_t stepMillis, int64_t rate)
      : events_(events), keys_(keys), stepMillis_(stepMillis), rate_(rate) {}

  void restoreState(std::string_view state) override {
    brook::DataInput in(state);
    if (state.size() != sizeof(int64_t))
      throw std::runtime_error("the restored position of the chaos source is not one it wrote");
    restoredNext_ = in.readRaw<int64_t>();
  }

  void open(const brook::RuntimeContext& context) override {
    stride_ = context.parallelism;
    next_ = context.subtaskIndex;
    if (context.restored) {
      // Only the same parallelism keeps "i % p == subtask" true for the restored position.
      if (restoredNext_ < 0 || restoredNext_ % stride_ != context.subtaskIndex)
        throw std::runtime_error("the chaos source restores only at the parallelism it ran with");
      next_ = restoredNext_;
    }
    started_ = std::chrono::steady_clock::now();
  }

  brook::InputStatus pollNext(brook::SourceOutput<Event>& output) override {
    int64_t budget = kBatch;
    if (rate_ > 0) {
      const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - started_)
                               .count();
      const auto allowed =
          static_cast<int64_t>(static_cast<double>(rate_) * static_cast<double>(elapsed) / 1e6);
      budget = std::min(budget, allowed - emitted_);
      if (budget <= 0)
        return next_ < events_ ? brook::InputStatus::kNothingAvailable
                               : brook::InputStatus::kEndOfInput;
    }
    for (int64_t n = 0; n < budget && next_ < events_; ++n, next_ += stride_, ++emitted_) {
      auto key = static_cast<int64_t>(splitMix64(static_cast<uint64_t>(next_)) %
                                      static_cast<uint64_t>(keys_));
      output.collect(Event{key, 1, next_ % 1000}, next_ * stepMillis_);
    }
    return next_ < events_ ? brook::InputStatus::kMoreAvailable : brook::InputStatus::kEndOfInput;
  }

  std::string snapshotState(int64_t) override {
    brook::DataOutput out;
    out.writeRaw<int64_t>(next_);
    return std::string(out.view());
  }

 private:
  static constexpr int64_t kBatch = 1024;
  int64_t events_;
  int64_t keys_;
  int64_t stepMillis_;
  int64_t rate_;
  int64_t next_ = 0;
  int64_t stride_ = 1;
  int64_t restoredNext_ = -1;
  std::chrono::steady_clock::time_point started_;
  int64_t emitted_ = 0;  // since open, for the throttle
};

// Writes a window's aggregate as "key,windowStart,count,sum".
class FormatWindowCount final
    : public brook::ProcessWindowFunction<Event, std::string, int64_t, brook::TimeWindow> {
 public:
  void process(const int64_t& key,
               Context& ctx,
               const std::vector<Event>& aggregates,
               brook::Collector<std::string>& out) override {
    for (const Event& a : aggregates) {
      out.collect(std::to_string(key) + "," + std::to_string(ctx.window().start) + "," +
                  std::to_string(a.count) + "," + std::to_string(a.sum));
    }
  }
};

}  // namespace

BROOK_JOB(chaos_job) {
  auto& env = job.env();
  const auto& args = job.args();
  int64_t events = args.getInt("events", 1'000'000);
  int64_t keys = args.getInt("keys", 100);
  int64_t stepMillis = args.getInt("step-ms", 1);
  int64_t windowMillis = args.getInt("window-ms", 1'000);
  int64_t rate = args.getInt("rate", 0);
  int64_t sourceParallelism = args.getInt("source-parallelism", 4);
  if (events < 0 || keys < 1 || stepMillis < 1 || windowMillis < 1 || rate < 0 ||
      sourceParallelism < 1) {
    throw brook::JobDefinitionError(
        "--events and --rate must be >= 0; --keys, --step-ms, --window-ms and "
        "--source-parallelism >= 1");
  }
  std::string output = args.get("output");

  env.setRuntimeMode(brook::RuntimeMode::kStreaming);
  env.fromSource<Event>(
         [events, keys, stepMillis, rate] {
           return std::make_unique<ThrottledEventReader>(events, keys, stepMillis, rate);
         },
         brook::WatermarkStrategy<Event>::forMonotonousTimestamps(), "Throttled Events",
         /*bounded=*/true)
      .setParallelism(static_cast<int>(sourceParallelism))
      .uid("chaos-source")
      .keyBy([](const Event& e) { return e.key; })
      .window(brook::TumblingEventTimeWindows::of(std::chrono::milliseconds(windowMillis)))
      .reduce(
          [](const Event& a, const Event& b) {
            return Event{a.key, a.count + b.count, a.sum + b.sum};
          },
          FormatWindowCount())
      .name("Window Counts")
      .uid("window-counts")
      .writeAsText(output)
      .name("Window Files")
      .uid("window-files");
}
