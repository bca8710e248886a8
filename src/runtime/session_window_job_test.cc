// Session windows as jobs run them: keyed window operators with merging assigners, fed over
// network channels by scripted sources that emit timestamps and watermarks, with window contents
// and the merging window set in the heap and RocksDB backends. Every expected output is worked
// out by hand in the test's comments.
//
// How contents merge (as Flink's MergingWindowSet, made deterministic): a session keeps the
// contents in the state window of the earliest session it absorbed, and the contents of the
// other merged sessions are appended after it in start order; a new element comes last.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "common/testing/files.h"
#include "runtime/local_executor.h"
#include "runtime/mini_cluster.h"
#include "runtime/testing/scripted_source.h"

namespace brook::runtime {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using Event = std::pair<std::string, int64_t>;  // key, value

Configuration config(const testing::TempDir& tmp, const std::string& backend) {
  return testing::jobConfiguration(tmp, backend);
}

using Step = testing::ScriptStep<Event>;
Step at(std::string key, int64_t value, int64_t time) {
  return Step{Event{std::move(key), value}, time};
}
Step watermark(int64_t time) { return Step{std::nullopt, time}; }

auto keyed(StreamExecutionEnvironment& env, std::vector<Step> steps) {
  return testing::scripted(env, "Scripted", std::move(steps)).keyBy([](const Event& e) {
    return e.first;
  });
}

Event sum(const Event& a, const Event& b) { return Event{a.first, a.second + b.second}; }

std::string range(const TimeWindow& w) {
  return "[" + std::to_string(w.start) + "," + std::to_string(w.end) + ")";
}

// "key [start,end) v1,v2,...": the session and its elements (or its one pre-aggregated value).
class Describe final : public ProcessWindowFunction<Event, std::string, std::string, TimeWindow> {
 public:
  void process(const std::string& key, Context& ctx, const std::vector<Event>& elements,
               Collector<std::string>& out) override {
    std::string values;
    for (const Event& e : elements)
      values += (values.empty() ? "" : ",") + std::to_string(e.second);
    out.collect(key + " " + range(ctx.window()) + " " + values);
  }
};

// "key sum/count": merging sessions merges these accumulators.
struct SumAndCount
    : AggregateFunction<Event, std::tuple<std::string, int64_t, int64_t>, std::string> {
  using Acc = std::tuple<std::string, int64_t, int64_t>;
  Acc createAccumulator() const override { return {"", 0, 0}; }
  Acc add(const Event& e, Acc acc) const override {
    return {e.first, std::get<1>(acc) + e.second, std::get<2>(acc) + 1};
  }
  std::string getResult(const Acc& acc) const override {
    return std::get<0>(acc) + " " + std::to_string(std::get<1>(acc)) + "/" +
           std::to_string(std::get<2>(acc));
  }
  Acc merge(Acc a, const Acc& b) const override {
    return {std::get<0>(a).empty() ? std::get<0>(b) : std::get<0>(a),
            std::get<1>(a) + std::get<1>(b), std::get<2>(a) + std::get<2>(b)};
  }
};

// The lines of `key`, in the order its subtask emitted them.
std::vector<std::string> linesOf(const std::vector<std::string>& lines, const std::string& key) {
  std::vector<std::string> mine;
  for (const std::string& line : lines) {
    if (line.starts_with(key + " "))
      mine.push_back(line);
  }
  return mine;
}

void expectFinished(const absl::StatusOr<JobExecutionResult>& result) {
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
}

class SessionWindowJobTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SessionWindowJobTest, OutOfOrderRecordsBridgeTwoSessions) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> reduced;
  CollectSink<std::string> processed;
  CollectSink<std::string> aggregated;
  CollectSink<std::string> evicted;
  // Gap 10. Key a: 1 opens [1,11) and 20 opens [20,30); 8 extends the first to [1,18); 15
  // ([15,25)) overlaps both and bridges them into [1,30), whose end 29 the watermark 40 passes.
  // Contents of [1,30): those of [1,11) (1, 4), then of [20,30) (2), then 8; the sum is 15.
  // 50 opens [50,60), fired by the end of input. Key b: 3 opens [3,13), which watermark 12
  // fires (a's sessions end at 17 and 29 then, so nothing else fires); 30 opens [30,40).
  auto windows = keyed(env, {at("a", 1, 1), at("a", 2, 20), at("b", 100, 3), watermark(5),
                             at("a", 4, 8), watermark(12), at("a", 8, 15), at("b", 200, 30),
                             watermark(40), at("a", 16, 50)})
                     .window(EventTimeSessionWindows::withGap(milliseconds(10)));
  windows.reduce(sum, Describe{}).sinkTo(reduced.sink());
  windows.process(Describe{}).sinkTo(processed.sink());
  windows.aggregate(SumAndCount{}).sinkTo(aggregated.sink());
  // The last two elements of each session.
  windows.evictor(CountEvictor::of(2)).process(Describe{}).sinkTo(evicted.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(linesOf(reduced.values(), "a"), ElementsAre("a [1,30) 15", "a [50,60) 16"));
  EXPECT_THAT(linesOf(reduced.values(), "b"), ElementsAre("b [3,13) 100", "b [30,40) 200"));
  EXPECT_EQ(reduced.values().size(), 4u);
  EXPECT_THAT(linesOf(processed.values(), "a"),
              ElementsAre("a [1,30) 1,4,2,8", "a [50,60) 16"));
  EXPECT_THAT(linesOf(processed.values(), "b"), ElementsAre("b [3,13) 100", "b [30,40) 200"));
  EXPECT_THAT(linesOf(aggregated.values(), "a"), ElementsAre("a 15/4", "a 16/1"));
  EXPECT_THAT(linesOf(aggregated.values(), "b"), ElementsAre("b 100/1", "b 200/1"));
  EXPECT_THAT(linesOf(evicted.values(), "a"), ElementsAre("a [1,30) 2,8", "a [50,60) 16"));
  EXPECT_THAT(linesOf(evicted.values(), "b"), ElementsAre("b [3,13) 100", "b [30,40) 200"));
}

TEST_P(SessionWindowJobTest, DynamicGapPerElement) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  // The value is the gap in ms. 5 at 1: [1,6); 3 at 4: [4,7), merged into [1,7) (sum 8);
  // 10 at 20: [20,30); 2 at 8: [8,10), which does not reach [1,7) (8 > 7) nor [20,30).
  // The end of input fires them in end order.
  keyed(env, {at("a", 5, 1), at("a", 3, 4), at("a", 10, 20), at("a", 2, 8)})
      .window(EventTimeSessionWindows::withDynamicGap(
          [](const Event& e) { return milliseconds(e.second); }))
      .reduce(sum, Describe{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), ElementsAre("a [1,7) 8", "a [8,10) 2", "a [20,30) 10"));
}

TEST_P(SessionWindowJobTest, NonPositiveDynamicGapFailsTheJob) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<Event> sink;
  keyed(env, {at("a", 5, 1), at("a", 0, 2)})
      .window(EventTimeSessionWindows::withDynamicGap([](const Event& e) { return e.second; }))
      .reduce(sum)
      .sinkTo(sink.sink());
  auto result = executeLocally(env, config(tmp, GetParam()));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFailed);
  EXPECT_THAT(result->failure, HasSubstr("Window(DynamicEventTimeSessionWindows()"));
  EXPECT_THAT(result->failure,
              HasSubstr("the session gap extracted from an element must be positive, got 0 ms"));
  EXPECT_THAT(sink.values(), IsEmpty());
}

TEST_P(SessionWindowJobTest, AllowedLatenessFiresMergedSessionAgainThenSideOutput) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  CollectSink<Event> late;
  OutputTag<Event> lateTag("late");
  // Gap 10, lateness 5. 1 at 1 and 2 at 5 make [1,15), which watermark 14 fires (3); its
  // cleanup time is 14 + 5 = 19.
  // 4 at 3 is behind the watermark but its window [3,13) lies inside [1,15), which is not
  // past its cleanup time: it joins it and fires it again at once (7).
  // 8 at 12 opens [12,22), merging the session into [1,22), whose end 21 is ahead of the
  // watermark: it fires when watermark 30 passes 21 (15) and is cleaned up at 26.
  // 16 at 2 then opens [2,12), past its cleanup time 11 + 5 <= 30: side output, as is 64 of
  // key b at 1. 32 at 40 opens [40,50), fired by the end of input.
  auto result = keyed(env, {at("a", 1, 1), at("a", 2, 5), watermark(14), at("a", 4, 3),
                            at("a", 8, 12), watermark(30), at("a", 16, 2), at("b", 64, 1),
                            at("a", 32, 40)})
                    .window(EventTimeSessionWindows::withGap(milliseconds(10)))
                    .allowedLateness(milliseconds(5))
                    .sideOutputLateData(lateTag)
                    .reduce(sum, Describe{});
  result.sinkTo(sink.sink());
  result.getSideOutput(lateTag).sinkTo(late.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(),
              ElementsAre("a [1,15) 3", "a [1,15) 7", "a [1,22) 15", "a [40,50) 32"));
  EXPECT_THAT(late.values(), UnorderedElementsAre(Event{"a", 16}, Event{"b", 64}));
}

TEST_P(SessionWindowJobTest, CountTriggerAddsUpTheCountsOfMergedSessions) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  // Gap 10, fire at 4 elements. 1 at 1: [1,11), count 1. 20 at 20: [20,30), count 1; 21 at 21
  // extends it to [20,31), count 2. 10 at 10 opens [10,20), touching both: [1,31) with count
  // 1 + 2, plus 1 for the element: 4 fires. Contents: [1,11)'s (1), [20,31)'s (20, 21), then
  // 10. 5 at 5 joins [1,31) (count 1 again, no firing); time never fires a CountTrigger.
  keyed(env, {at("a", 1, 1), at("a", 20, 20), at("a", 21, 21), at("a", 10, 10), at("a", 5, 5)})
      .window(EventTimeSessionWindows::withGap(milliseconds(10)))
      .trigger(CountTrigger::of(4))
      .process(Describe{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), ElementsAre("a [1,31) 1,20,21,10"));
}

TEST_P(SessionWindowJobTest, PurgingContinuousTriggerOnSessions) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  // Gap 100; fires every 10 ms of event time, purging. 1 at 1 opens [1,101) (next firing
  // 0 + 10 = 10); 2 at 50 opens [50,150) and merges: [1,150), whose next firing stays 10.
  // Watermark 10 fires 1,2 and purges; the next firing is 20. 4 at 15 joins: watermark 20
  // fires 4. The end of input fires nothing more (the contents are empty).
  keyed(env, {at("a", 1, 1), at("a", 2, 50), watermark(10), at("a", 4, 15), watermark(20)})
      .window(EventTimeSessionWindows::withGap(milliseconds(100)))
      .trigger(PurgingTrigger<ContinuousEventTimeTrigger>::of(
          ContinuousEventTimeTrigger::of(milliseconds(10))))
      .process(Describe{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), ElementsAre("a [1,150) 1,2", "a [1,150) 4"));
}

TEST_P(SessionWindowJobTest, ProcessingTimeSessionsFireAtTheEndOfBoundedInput) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<Event> sums;
  CollectSink<Event> dynamic;
  // A gap of centuries: every key's records fall into one session, which fires when the
  // input ends.
  auto stream =
      env.fromCollection(std::vector<Event>{{"a", 1}, {"b", 2}, {"a", 3}, {"b", 4}, {"a", 5}})
          .keyBy([](const Event& e) { return e.first; });
  stream.window(ProcessingTimeSessionWindows::withGap(milliseconds(10'000'000'000'000)))
      .reduce(sum)
      .sinkTo(sums.sink());
  stream
      .window(ProcessingTimeSessionWindows::withDynamicGap(
          [](const Event&) { return std::chrono::hours(24 * 365 * 300); }))
      .reduce(sum)
      .sinkTo(dynamic.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sums.values(), UnorderedElementsAre(Event{"a", 9}, Event{"b", 6}));
  EXPECT_THAT(dynamic.values(), UnorderedElementsAre(Event{"a", 9}, Event{"b", 6}));
}

// Uses per-window state, which merging windows do not have.
class PerWindowCount final
    : public ProcessWindowFunction<Event, std::string, std::string, TimeWindow> {
 public:
  void process(const std::string& key, Context& ctx, const std::vector<Event>&,
               Collector<std::string>& out) override {
    ValueState<int64_t>& total =
        ctx.globalState().getState(ValueStateDescriptor<int64_t>("total", 0));
    total.update(*total.value() + 1);
    out.collect(key + " " + range(ctx.window()) + " total=" + std::to_string(*total.value()));
    ctx.windowState().getState(ValueStateDescriptor<int64_t>("firings", 0)).update(1);
  }
};

TEST_P(SessionWindowJobTest, PerWindowStateIsNotAllowedOnSessions) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  keyed(env, {at("a", 1, 1), at("a", 2, 5)})
      .window(EventTimeSessionWindows::withGap(milliseconds(10)))
      .process(PerWindowCount{})
      .sinkTo(sink.sink());
  auto result = executeLocally(env, config(tmp, GetParam()));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFailed);
  EXPECT_THAT(result->failure, HasSubstr("Window(EventTimeSessionWindows(10)"));
  EXPECT_THAT(result->failure,
              HasSubstr("Per-window state is not allowed when using merging windows"));
}

// Counts a session's elements in aggregating trigger state, which merges with the sessions;
// fires at the third element and at the session's end.
struct CountElements : AggregateFunction<Event, int64_t, int64_t> {
  int64_t createAccumulator() const override { return 0; }
  int64_t add(const Event&, int64_t acc) const override { return acc + 1; }
  int64_t getResult(const int64_t& acc) const override { return acc; }
  int64_t merge(int64_t a, const int64_t& b) const override { return a + b; }
};

class ThirdElementTrigger final : public Trigger<Event, TimeWindow> {
 public:
  TriggerResult onElement(const Event& e, int64_t, const TimeWindow& window,
                          TriggerContext& ctx) override {
    ctx.registerEventTimeTimer(window.maxTimestamp());
    AggregatingState<Event, int64_t>& seen = ctx.partitionedState().getAggregatingState(seen_);
    seen.add(e);
    return *seen.get() == 3 ? TriggerResult::kFire : TriggerResult::kContinue;
  }
  TriggerResult onEventTime(int64_t time, const TimeWindow& window, TriggerContext&) override {
    return time == window.maxTimestamp() ? TriggerResult::kFire : TriggerResult::kContinue;
  }
  void clear(const TimeWindow& window, TriggerContext& ctx) override {
    ctx.deleteEventTimeTimer(window.maxTimestamp());
    ctx.partitionedState().getAggregatingState(seen_).clear();
  }
  bool canMerge() const override { return true; }
  void onMerge(const TimeWindow& window, OnMergeContext& ctx) override {
    ctx.mergePartitionedState(seen_);
    ctx.registerEventTimeTimer(window.maxTimestamp());
  }
  std::string description() const override { return "ThirdElementTrigger"; }

 private:
  AggregatingStateDescriptor<Event, int64_t, int64_t> seen_{"seen", CountElements{}};
};

TEST_P(SessionWindowJobTest, UserTriggerMergesItsState) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  // Gap 10. 1 at 1: [1,11), seen 1. 20 at 20: [20,30), seen 1. 10 at 10: [10,20) touches
  // both: [1,30) with seen 1 + 1, plus 1 for the element: 3 fires early (1,20,10). The end of
  // input fires the session again at its end, 29.
  keyed(env, {at("a", 1, 1), at("a", 20, 20), at("a", 10, 10)})
      .window(EventTimeSessionWindows::withGap(milliseconds(10)))
      .trigger(ThirdElementTrigger{})
      .process(Describe{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), ElementsAre("a [1,30) 1,20,10", "a [1,30) 1,20,10"));
}

// "[start,end) k1v1,k2v2,...": a session of the whole stream.
class DescribeAll final : public ProcessAllWindowFunction<Event, std::string, TimeWindow> {
 public:
  void process(Context& ctx, const std::vector<Event>& elements,
               Collector<std::string>& out) override {
    std::string values;
    for (const Event& e : elements)
      values += (values.empty() ? "" : ",") + e.first + std::to_string(e.second);
    out.collect(range(ctx.window()) + " " + values);
  }
};

TEST_P(SessionWindowJobTest, WindowAllSessionsSpanKeys) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  // Gap 10 over the whole stream: a1 at 1 and b2 at 5 make [1,15); a4 at 30 opens [30,40).
  testing::scripted<Event>(env, "Scripted", {at("a", 1, 1), at("b", 2, 5), at("a", 4, 30)})
      .windowAll(EventTimeSessionWindows::withGap(milliseconds(10)))
      .process(DescribeAll{})
      .sinkTo(sink.sink())
      .setParallelism(1);
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), ElementsAre("[1,15) a1,b2", "[30,40) a4"));
}

INSTANTIATE_TEST_SUITE_P(Backends, SessionWindowJobTest, ::testing::Values("heap", "rocksdb"));

}  // namespace
}  // namespace brook::runtime
