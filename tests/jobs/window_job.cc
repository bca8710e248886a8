// The acceptance job of event-time windows: per key, the sum of its values in tumbling 10 s
// event-time windows, from a parallel generated source with timestamps and watermarks.
//
// Events. Event i (0 <= i < --events) has key splitMix64(i) % --keys, value i % 1000 and
// timestamp i * --step-ms. The source runs with --source-parallelism subtasks (4 by default);
// subtask s of p emits the events i with i % p == s, in increasing i, so each subtask's
// timestamps increase, and its WatermarkStrategy::forMonotonousTimestamps never makes an event
// of another subtask late: the window operators' watermark is the smallest of the subtasks'.
//
// Output. keyBy key, TumblingEventTimeWindows of --window-ms (10 s), the values summed by a
// reduce; a ProcessWindowFunction writes each fired window as a line
//   key,windowStart,sum
// to the part files of --output. With --local-aggregation the sums are pre-aggregated in the
// source tasks (WindowedStream::localAggregation). Every window fires once: the watermark
// passes it while the input lasts or at its end. The result depends neither on the parallelism nor
// on the placement of the tasks, and equals what a single loop over i computes.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <brook/brook.h>

namespace {

using Event = std::pair<int64_t, int64_t>;  // (key, value)

// SplitMix64's finalizer: a bijection of 64-bit integers that scatters neighbours.
uint64_t splitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Emits this subtask's events (i % p == subtask) in increasing i, with their timestamps.
class TimedEventReader final : public brook::SourceReader<Event> {
 public:
  TimedEventReader(int64_t events, int64_t keys, int64_t stepMillis)
      : events_(events), keys_(keys), stepMillis_(stepMillis) {}

  void open(const brook::RuntimeContext& context) override {
    next_ = context.subtaskIndex;
    stride_ = context.parallelism;
  }

  brook::InputStatus pollNext(brook::SourceOutput<Event>& output) override {
    for (int n = 0; n < kBatch && next_ < events_; ++n, next_ += stride_) {
      auto key = static_cast<int64_t>(splitMix64(static_cast<uint64_t>(next_)) %
                                      static_cast<uint64_t>(keys_));
      output.collect(Event{key, next_ % 1000}, next_ * stepMillis_);
    }
    return next_ < events_ ? brook::InputStatus::kMoreAvailable : brook::InputStatus::kEndOfInput;
  }

 private:
  static constexpr int kBatch = 4096;
  int64_t events_;
  int64_t keys_;
  int64_t stepMillis_;
  int64_t next_ = 0;
  int64_t stride_ = 1;
};

// Writes a window's reduced event as "key,windowStart,sum".
class FormatWindowSum final
    : public brook::ProcessWindowFunction<Event, std::string, int64_t, brook::TimeWindow> {
 public:
  void process(const int64_t& key, Context& ctx, const std::vector<Event>& sums,
               brook::Collector<std::string>& out) override {
    for (const Event& sum : sums) {
      out.collect(std::to_string(key) + "," + std::to_string(ctx.window().start) + "," +
                  std::to_string(sum.second));
    }
  }
};

}  // namespace

BROOK_JOB(window_job) {
  auto& env = job.env();
  const auto& args = job.args();
  int64_t events = args.getInt("events", 2'000'000);
  int64_t keys = args.getInt("keys", 1'000);
  int64_t stepMillis = args.getInt("step-ms", 1);
  int64_t windowMillis = args.getInt("window-ms", 10'000);
  int64_t sourceParallelism = args.getInt("source-parallelism", 4);
  if (events < 0 || keys < 1 || stepMillis < 1 || windowMillis < 1 || sourceParallelism < 1) {
    throw brook::JobDefinitionError(
        "--events must be >= 0; --keys, --step-ms, --window-ms and --source-parallelism >= 1");
  }
  std::string output = args.get("output");
  const bool localAggregation = args.has("local-aggregation");

  env.setRuntimeMode(brook::RuntimeMode::kStreaming);
  auto windows =
      env.fromSource<Event>(
             [events, keys, stepMillis] {
               return std::make_unique<TimedEventReader>(events, keys, stepMillis);
             },
             brook::WatermarkStrategy<Event>::forMonotonousTimestamps(), "Timed Events",
             /*bounded=*/true)
          .setParallelism(static_cast<int>(sourceParallelism))
          .keyBy([](const Event& e) { return e.first; })
          .window(brook::TumblingEventTimeWindows::of(std::chrono::milliseconds(windowMillis)));
  (localAggregation ? windows.localAggregation() : windows)
      .reduce(
          [](const Event& a, const Event& b) {
            return Event{a.first, a.second + b.second};
          },
          FormatWindowSum())
      .name("Window Sums")
      .writeAsText(output);
}
