// Windows with local-global aggregation (WindowedStream::localAggregation) as jobs run them:
// partials folded in the source tasks cross the network to the window operators, with window
// contents in the heap and RocksDB backends. The results are checked against windows worked
// out by hand or summed by a plain loop over the same events, and against the same job without
// local aggregation.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "common/testing/files.h"
#include "runtime/local_executor.h"
#include "runtime/testing/scripted_source.h"

namespace brook::runtime {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;

using Event = std::pair<std::string, int64_t>;  // key, value
using Step = testing::ScriptStep<Event>;

Step at(std::string key, int64_t value, int64_t time) {
  return Step{Event{std::move(key), value}, time};
}
Step watermark(int64_t time) {
  return Step{std::nullopt, time};
}

Event sum(const Event& a, const Event& b) {
  return Event{a.first, a.second + b.second};
}

// "key [start,end) value" of each fired window.
class Describe final : public ProcessWindowFunction<Event, std::string, std::string, TimeWindow> {
 public:
  void process(const std::string& key,
               Context& ctx,
               const std::vector<Event>& values,
               Collector<std::string>& out) override {
    out.collect(key + " [" + std::to_string(ctx.window().start) + "," +
                std::to_string(ctx.window().end) + ") " + std::to_string(values.at(0).second));
  }
};

// Count and sum of the values; the result is "count/sum".
struct CountAndSum : AggregateFunction<Event, std::pair<int64_t, int64_t>, std::string> {
  std::pair<int64_t, int64_t> createAccumulator() const override { return {0, 0}; }
  std::pair<int64_t, int64_t> add(const Event& e, std::pair<int64_t, int64_t> acc) const override {
    return {acc.first + 1, acc.second + e.second};
  }
  std::string getResult(const std::pair<int64_t, int64_t>& acc) const override {
    return std::to_string(acc.first) + "/" + std::to_string(acc.second);
  }
  std::pair<int64_t, int64_t> merge(std::pair<int64_t, int64_t> a,
                                    const std::pair<int64_t, int64_t>& b) const override {
    return {a.first + b.first, a.second + b.second};
  }
};

// "key start result" of each fired window.
class DescribeResult final
    : public ProcessWindowFunction<std::string, std::string, std::string, TimeWindow> {
 public:
  void process(const std::string& key,
               Context& ctx,
               const std::vector<std::string>& results,
               Collector<std::string>& out) override {
    out.collect(key + " " + std::to_string(ctx.window().start) + " " + results.at(0));
  }
};

std::vector<std::string> sorted(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  return lines;
}

void expectFinished(const absl::StatusOr<JobExecutionResult>& result) {
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
}

// Event i of n: key "k" + (i * 7919 % 7), value i % 100, event time i plus up to 4 ms of
// disorder. Source subtask s of p emits the events i with i % p == s and, every 50 of its
// events, the watermark 5 ms behind the largest timestamp it emitted (so no event is late).
Event eventAt(int64_t i) {
  return Event{"k" + std::to_string(i * 7919 % 7), i % 100};
}
int64_t timeOf(int64_t i) {
  return i + (i * 31 % 5);
}

class GeneratedReader final : public SourceReader<Event> {
 public:
  explicit GeneratedReader(int64_t n) : n_(n) {}
  void open(const RuntimeContext& context) override {
    next_ = context.subtaskIndex;
    step_ = context.parallelism;
  }
  InputStatus pollNext(SourceOutput<Event>& out) override {
    for (int batch = 0; batch < 100 && next_ < n_; ++batch, next_ += step_) {
      maxTime_ = std::max(maxTime_, timeOf(next_));
      out.collect(eventAt(next_), timeOf(next_));
      if (++emitted_ % 50 == 0)
        out.emitWatermark(maxTime_ - 5);
    }
    return next_ < n_ ? InputStatus::kMoreAvailable : InputStatus::kEndOfInput;
  }

 private:
  int64_t n_;
  int64_t next_ = 0;
  int64_t step_ = 1;
  int64_t emitted_ = 0;
  int64_t maxTime_ = 0;
};

// The windows of `size` sliding by `slide` over the events [0, n) that hold any, as
// "key start count/sum", by brute force.
std::vector<std::string> expectedWindows(int64_t n, int64_t size, int64_t slide) {
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> windows;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = timeOf(i);
    for (int64_t start = t - t % slide; start > t - size; start -= slide) {
      auto& [count, total] = windows[{eventAt(i).first, start}];
      ++count;
      total += eventAt(i).second;
    }
  }
  std::vector<std::string> lines;
  for (const auto& [window, result] : windows) {
    lines.push_back(window.first + " " + std::to_string(window.second) + " " +
                    std::to_string(result.first) + "/" + std::to_string(result.second));
  }
  return sorted(std::move(lines));
}

constexpr int64_t kSlidingEvents = 20'000;
constexpr int64_t kSlowEvents = 12'000;

class LocalWindowAggregationJobTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LocalWindowAggregationJobTest, TumblingReduceWithOutOfOrderRecords) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  testing::scripted(
      env, "Scripted",
      std::vector<Step>{at("a", 1, 1), at("a", 2, 12), at("a", 3, 5), at("b", 4, 3),  // 5: disorder
                        watermark(9),                                                 // [0,10)
                        at("a", 5, 15), at("b", 6, 10), watermark(19),                // [10,20)
                        at("a", 7, 25)})  // end: [20,30)
      .keyBy([](const Event& e) { return e.first; })
      .window(TumblingEventTimeWindows::of(milliseconds(10)))
      .localAggregation()
      .reduce(sum, Describe{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, testing::jobConfiguration(tmp, GetParam())));
  EXPECT_EQ(sorted(sink.values()),
            sorted({"a [0,10) 4", "a [10,20) 7", "a [20,30) 7", "b [0,10) 4", "b [10,20) 6"}));
}

TEST_P(LocalWindowAggregationJobTest, LateElementsFireWithinTheLatenessAndAreDroppedAfterIt) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  // [0,10) fires at watermark 10 (3); 4 at 5 is late for the local operator too, which sends it
  // on alone, and within the 5 ms lateness the window fires again (7); watermark 14 reaches the
  // cleanup time 9 + 5, so 8 at 3 is dropped.
  testing::scripted(env, "Scripted",
                    std::vector<Step>{at("a", 1, 2), at("a", 2, 8), watermark(10), at("a", 4, 5),
                                      watermark(14), at("a", 8, 3), at("a", 16, 16)})
      .keyBy([](const Event& e) { return e.first; })
      .window(TumblingEventTimeWindows::of(milliseconds(10)))
      .allowedLateness(milliseconds(5))
      .localAggregation()
      .reduce(sum, Describe{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, testing::jobConfiguration(tmp, GetParam())));
  EXPECT_THAT(sink.values(), ElementsAre("a [0,10) 3", "a [0,10) 7", "a [10,20) 16"));
}

TEST_P(LocalWindowAggregationJobTest, SlidingAggregateAtParallelismTwoMatchesALoop) {
  const std::vector<std::string> expected = expectedWindows(kSlidingEvents, 100, 40);
  for (bool local : {true, false}) {
    SCOPED_TRACE(local ? "with local aggregation" : "without");
    testing::TempDir tmp;
    StreamExecutionEnvironment env;
    CollectSink<std::string> sink;
    auto windows =
        env.fromSource<Event>([] { return std::make_unique<GeneratedReader>(kSlidingEvents); },
                              "Generated", /*bounded=*/true)
            .keyBy([](const Event& e) { return e.first; })
            .window(SlidingEventTimeWindows::of(milliseconds(100), milliseconds(40)));
    (local ? windows.localAggregation() : windows)
        .aggregate(CountAndSum{}, DescribeResult{})
        .sinkTo(sink.sink());
    expectFinished(executeLocally(env, testing::jobConfiguration(tmp, GetParam(), 2)));
    EXPECT_EQ(sorted(sink.values()), expected);
  }
}

TEST_P(LocalWindowAggregationJobTest, WindowAllFoldsInParallelBeforeItsOneWindowOperator) {
  // Per window, the count and sum over all keys, by brute force.
  std::map<int64_t, std::pair<int64_t, int64_t>> totals;
  for (int64_t i = 0; i < kSlidingEvents; ++i) {
    auto& [count, total] = totals[timeOf(i) - timeOf(i) % 100];
    ++count;
    total += eventAt(i).second;
  }
  std::vector<std::string> expected;
  for (const auto& [start, result] : totals) {
    expected.push_back(std::to_string(start) + " " + std::to_string(result.first) + "/" +
                       std::to_string(result.second));
  }
  struct DescribeAll final : ProcessAllWindowFunction<std::string, std::string, TimeWindow> {
    void process(Context& ctx,
                 const std::vector<std::string>& results,
                 Collector<std::string>& out) override {
      out.collect(std::to_string(ctx.window().start) + " " + results.at(0));
    }
  };
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  env.fromSource<Event>([] { return std::make_unique<GeneratedReader>(kSlidingEvents); },
                        "Generated", /*bounded=*/true)
      .windowAll(TumblingEventTimeWindows::of(milliseconds(100)))
      .localAggregation()
      .aggregate(CountAndSum{}, DescribeAll{})
      .sinkTo(sink.sink())
      .setParallelism(1);
  const StreamGraph& graph = env.streamGraph();
  ASSERT_EQ(graph.nodes.size(), 4u);
  EXPECT_EQ(graph.nodes[1].operatorKind, "Local Window Aggregate");
  EXPECT_EQ(graph.nodes[1].parallelism, -1);  // the source's: the job's default, 2
  EXPECT_EQ(graph.nodes[2].parallelism, 1);
  expectFinished(executeLocally(env, testing::jobConfiguration(tmp, GetParam(), 2)));
  EXPECT_EQ(sorted(sink.values()), sorted(expected));
}

INSTANTIATE_TEST_SUITE_P(Backends,
                         LocalWindowAggregationJobTest,
                         ::testing::Values("heap", "rocksdb"));

// ----------------------------------------------------------------------------------------------
// Recovery: partials held by the local operators at a checkpoint are in it.

std::atomic<int> completedCheckpoints{0};
std::atomic<bool> failed{false};

// The events [0, n) of GeneratedReader in small, slow steps, so that checkpoints fall inside
// the stream, with its position in checkpoints.
class SlowReader final : public SourceReader<Event> {
 public:
  explicit SlowReader(int64_t n) : n_(n) {}
  void open(const RuntimeContext& context) override {
    if (!restored_)
      next_ = context.subtaskIndex;
    step_ = context.parallelism;
  }
  InputStatus pollNext(SourceOutput<Event>& out) override {
    std::this_thread::sleep_for(milliseconds(2));
    for (int batch = 0; batch < 20 && next_ < n_; ++batch, next_ += step_) {
      out.collect(eventAt(next_), timeOf(next_));
      if (next_ % 200 < step_)
        out.emitWatermark(timeOf(next_) - 5);
    }
    return next_ < n_ ? InputStatus::kMoreAvailable : InputStatus::kEndOfInput;
  }
  std::string snapshotState(int64_t) override { return std::to_string(next_); }
  void restoreState(std::string_view state) override {
    next_ = std::stoll(std::string(state));
    restored_ = true;
  }
  void notifyCheckpointComplete(int64_t) override { ++completedCheckpoints; }

 private:
  int64_t n_;
  int64_t next_ = 0;
  int64_t step_ = 1;
  bool restored_ = false;
};

// Passes events on; throws once, in the first attempt, after three completed checkpoints.
class FailOnce final : public RichFunction {
 public:
  void open(const RuntimeContext& context) override { attempt_ = context.attemptNumber; }
  Event operator()(const Event& e) const {
    bool expected = false;
    if (attempt_ == 0 && completedCheckpoints.load() >= 3 &&
        failed.compare_exchange_strong(expected, true)) {
      throw std::runtime_error("injected failure");
    }
    return e;
  }

 private:
  int attempt_ = 0;
};

TEST_P(LocalWindowAggregationJobTest, RestartsFromACheckpointWithTheHeldPartials) {
  completedCheckpoints = 0;
  failed = false;
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  env.fromSource<Event>([] { return std::make_unique<SlowReader>(kSlowEvents); }, "Slow",
                        /*bounded=*/true)
      .map(FailOnce{})
      .keyBy([](const Event& e) { return e.first; })
      .window(TumblingEventTimeWindows::of(milliseconds(1000)))
      .localAggregation()
      .aggregate(CountAndSum{}, DescribeResult{})
      .sinkTo(sink.sink());
  Configuration c = testing::jobConfiguration(tmp, GetParam(), 2);
  c.set("execution.checkpointing.interval", "20ms");
  c.set("state.checkpoints.dir", "file://" + (tmp.path() / "checkpoints").string());
  c.set("restart-strategy.type", "fixed-delay");
  c.set("restart-strategy.fixed-delay.attempts", "1");
  c.set("restart-strategy.fixed-delay.delay", "10ms");
  absl::StatusOr<JobExecutionResult> result = executeLocally(env, c);
  expectFinished(result);
  EXPECT_EQ(result->restarts, 1);
  EXPECT_TRUE(failed.load());
  // Windows fired before the failure and after the checkpoint fire again after the restart,
  // with the same results: the sink is not transactional. Any lost or doubled partial would
  // show as a line with another result.
  const std::vector<std::string> lines = sink.values();
  const std::set<std::string> distinct(lines.begin(), lines.end());
  EXPECT_EQ(std::vector<std::string>(distinct.begin(), distinct.end()),
            expectedWindows(kSlowEvents, 1000, 1000));
}

}  // namespace
}  // namespace brook::runtime
