// Windows as jobs run them: keyed window operators fed over network channels by scripted sources
// that emit timestamps and watermarks, with window contents in the heap and RocksDB backends.
// Every expected output is worked out by hand in the test's comments.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
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

// "key [start,end) v1,v2,...": the window and its elements (or its one pre-aggregated value).
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

class WindowJobTest : public ::testing::TestWithParam<std::string> {};

TEST_P(WindowJobTest, TumblingEventTimeSumWithOutOfOrderRecords) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  keyed(env, {at("a", 1, 1), at("a", 2, 12), at("a", 3, 5), at("b", 4, 3),  // 5 is out of order
              watermark(9),                                               // fires [0,10)
              at("a", 5, 15), at("b", 6, 10), watermark(19),              // fires [10,20)
              at("a", 7, 25)})                                            // end fires [20,30)
      .window(TumblingEventTimeWindows::of(milliseconds(10)))
      .reduce(sum, Describe{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(linesOf(sink.values(), "a"),
              ElementsAre("a [0,10) 4", "a [10,20) 7", "a [20,30) 7"));
  EXPECT_THAT(linesOf(sink.values(), "b"), ElementsAre("b [0,10) 4", "b [10,20) 6"));
  EXPECT_EQ(sink.values().size(), 5u);
}

TEST_P(WindowJobTest, PlainReduceAndAggregateEmitTheirValues) {
  struct Average : AggregateFunction<Event, std::pair<int64_t, int64_t>, double> {
    std::pair<int64_t, int64_t> createAccumulator() const override { return {0, 0}; }
    std::pair<int64_t, int64_t> add(const Event& e,
                                    std::pair<int64_t, int64_t> acc) const override {
      return {acc.first + e.second, acc.second + 1};
    }
    double getResult(const std::pair<int64_t, int64_t>& acc) const override {
      return static_cast<double>(acc.first) / static_cast<double>(acc.second);
    }
    std::pair<int64_t, int64_t> merge(std::pair<int64_t, int64_t> a,
                                      const std::pair<int64_t, int64_t>& b) const override {
      return {a.first + b.first, a.second + b.second};
    }
  };
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<Event> sums;
  CollectSink<double> averages;
  auto windows = keyed(env, {at("a", 1, 1), at("a", 4, 2), at("a", 10, 11)})
                     .window(TumblingEventTimeWindows::of(milliseconds(10)));
  windows.reduce(sum).sinkTo(sums.sink());
  windows.aggregate(Average{}).sinkTo(averages.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sums.values(), ElementsAre(Event{"a", 5}, Event{"a", 10}));
  EXPECT_THAT(averages.values(), ElementsAre(2.5, 10.0));
}

TEST_P(WindowJobTest, SlidingWindowsGetEachRecordSizeOverSlideTimes) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  // Size 10, slide 5: 1 is in [-5,5) and [0,10); 7 in [0,10) and [5,15); 12 in [5,15) and
  // [10,20).
  keyed(env, {at("a", 1, 1), at("a", 7, 7), at("a", 12, 12)})
      .window(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(5)))
      .process(Describe{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), ElementsAre("a [-5,5) 1", "a [0,10) 1,7", "a [5,15) 7,12",
                                         "a [10,20) 12"));
}

TEST_P(WindowJobTest, CountWindowsTumbleAndSlide) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<Event> tumbling;
  CollectSink<Event> sliding;
  std::vector<Event> input;
  for (int64_t i = 1; i <= 7; ++i) {
    input.emplace_back("a", i);
    input.emplace_back("b", 10 * i);
  }
  auto stream = env.fromCollection(input).keyBy([](const Event& e) { return e.first; });
  // Every 3 records: 1+2+3, 4+5+6 (7 never fills a window).
  stream.countWindow(3).reduce(sum).sinkTo(tumbling.sink());
  // Every 2 records, the last 3: 1+2, 2+3+4, 4+5+6.
  stream.countWindow(3, 2).reduce(sum).sinkTo(sliding.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(tumbling.values(), UnorderedElementsAre(Event{"a", 6}, Event{"a", 15},
                                                      Event{"b", 60}, Event{"b", 150}));
  std::vector<Event> a;
  for (const Event& e : sliding.values()) {
    if (e.first == "a")
      a.push_back(e);
  }
  EXPECT_THAT(a, ElementsAre(Event{"a", 3}, Event{"a", 9}, Event{"a", 15}));
  EXPECT_EQ(sliding.values().size(), 6u);
}

TEST_P(WindowJobTest, AllowedLatenessFiresLateThenSendsToSideOutput) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  CollectSink<Event> late;
  OutputTag<Event> lateTag("late");
  // [0,10) fires at watermark 10 (3); 4 at 5 is late but within the 5 ms lateness, so it fires
  // the window again (7); watermark 14 reaches the cleanup time 9 + 5, so 8 at 3 goes to the
  // side output, as does 9 at 1 for a window that never had elements of key b.
  auto result = keyed(env, {at("a", 1, 2), at("a", 2, 8), watermark(10), at("a", 4, 5),
                            watermark(14), at("a", 8, 3), at("b", 9, 1), at("a", 16, 16)})
                    .window(TumblingEventTimeWindows::of(milliseconds(10)))
                    .allowedLateness(milliseconds(5))
                    .sideOutputLateData(lateTag)
                    .reduce(sum, Describe{});
  result.sinkTo(sink.sink());
  result.getSideOutput(lateTag).sinkTo(late.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), ElementsAre("a [0,10) 3", "a [0,10) 7", "a [10,20) 16"));
  EXPECT_THAT(late.values(), UnorderedElementsAre(Event{"a", 8}, Event{"b", 9}));
}

TEST_P(WindowJobTest, LateRecordsAreDroppedWithoutASideOutput) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  keyed(env, {at("a", 1, 2), watermark(10), at("a", 4, 5), at("a", 6, 12)})
      .window(TumblingEventTimeWindows::of(milliseconds(10)))
      .reduce(sum, Describe{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), ElementsAre("a [0,10) 1", "a [10,20) 6"));
}

// Fires early once a window has seen two elements (counted in the trigger's per-window state),
// and at the window's end.
class EarlyTrigger final : public Trigger<Event, TimeWindow> {
 public:
  TriggerResult onElement(const Event&, int64_t, const TimeWindow& window,
                          TriggerContext& ctx) override {
    ctx.registerEventTimeTimer(window.maxTimestamp());
    ValueState<int64_t>& seen = ctx.getState(ValueStateDescriptor<int64_t>("seen", 0));
    seen.update(*seen.value() + 1);
    return *seen.value() == 2 ? TriggerResult::kFire : TriggerResult::kContinue;
  }
  TriggerResult onEventTime(int64_t time, const TimeWindow& window, TriggerContext&) override {
    return time == window.maxTimestamp() ? TriggerResult::kFire : TriggerResult::kContinue;
  }
  void clear(const TimeWindow& window, TriggerContext& ctx) override {
    ctx.deleteEventTimeTimer(window.maxTimestamp());
    ctx.getState(ValueStateDescriptor<int64_t>("seen", 0)).clear();
  }
};

TEST_P(WindowJobTest, UserTriggerFiresEarlyWithPerWindowState) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  // [0,100): early firing at the second element (1+2), then at the end (1+2+4); [100,200) has
  // one element: only the end firing.
  keyed(env, {at("a", 1, 1), at("a", 2, 2), at("a", 4, 3), at("a", 8, 150)})
      .window(TumblingEventTimeWindows::of(milliseconds(100)))
      .trigger(EarlyTrigger{})
      .reduce(sum, Describe{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), ElementsAre("a [0,100) 3", "a [0,100) 7", "a [100,200) 8"));
}

TEST_P(WindowJobTest, PurgingCountTriggerInEventTimeWindows) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  // Every two elements of a window fire and purge it; 16 never completes a pair and is dropped
  // when the window is cleaned up at its end.
  keyed(env, {at("a", 1, 1), at("a", 2, 2), at("a", 4, 3), at("a", 8, 4), at("a", 16, 5)})
      .window(TumblingEventTimeWindows::of(milliseconds(100)))
      .trigger(PurgingTrigger<CountTrigger>::of(CountTrigger::of(2)))
      .process(Describe{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), ElementsAre("a [0,100) 1,2", "a [0,100) 4,8"));
}

TEST_P(WindowJobTest, EvictorsTrimWindowContents) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> counted;
  CollectSink<Event> timed;
  auto windows = keyed(env, {at("a", 1, 1), at("a", 2, 50), at("a", 3, 55)})
                     .window(TumblingEventTimeWindows::of(milliseconds(100)));
  // The last two elements.
  windows.evictor(CountEvictor::of(2)).process(Describe{}).sinkTo(counted.sink());
  // Those within 10 ms of the newest (55): 1 at 1 is evicted, 45 < 50 is not; reduce keeps the
  // contents as a list and sums what remains.
  windows.evictor(TimeEvictor::of(milliseconds(10))).reduce(sum).sinkTo(timed.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(counted.values(), ElementsAre("a [0,100) 2,3"));
  EXPECT_THAT(timed.values(), ElementsAre(Event{"a", 5}));
}

// Counts each window's firings in per-window state (cleared with the window) and every firing
// of the key in global state.
class Firings final : public ProcessWindowFunction<Event, std::string, std::string, TimeWindow> {
 public:
  void process(const std::string& key, Context& ctx, const std::vector<Event>& elements,
               Collector<std::string>& out) override {
    ValueState<int64_t>& firings =
        ctx.windowState().getState(ValueStateDescriptor<int64_t>("firings", 0));
    ValueState<int64_t>& total =
        ctx.globalState().getState(ValueStateDescriptor<int64_t>("total", 0));
    firings.update(*firings.value() + 1);
    total.update(*total.value() + 1);
    out.collect(key + " " + range(ctx.window()) + " sum=" + std::to_string(elements.at(0).second) +
                " firings=" + std::to_string(*firings.value()) +
                " total=" + std::to_string(*total.value()) +
                " watermark=" + std::to_string(ctx.currentWatermark()));
  }
  void clear(Context& ctx) override {
    ctx.windowState().getState(ValueStateDescriptor<int64_t>("firings", 0)).clear();
  }
};

TEST_P(WindowJobTest, ProcessWindowFunctionKeepsWindowAndGlobalState) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  keyed(env, {at("a", 1, 1), watermark(10), at("a", 2, 3), at("a", 5, 15)})
      .window(TumblingEventTimeWindows::of(milliseconds(10)))
      .allowedLateness(milliseconds(100))
      .reduce(sum, Firings{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(),
              ElementsAre("a [0,10) sum=1 firings=1 total=1 watermark=10",
                          "a [0,10) sum=3 firings=2 total=2 watermark=10",
                          "a [10,20) sum=5 firings=1 total=3 watermark=" +
                              std::to_string(kMaxWatermark)));
}

TEST_P(WindowJobTest, ProcessingTimeWindowsFireAtTheEndOfBoundedInput) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<Event> sink;
  // One window spanning centuries, so the run cannot straddle two; it fires when the input ends.
  env.fromCollection(std::vector<Event>{{"a", 1}, {"b", 2}, {"a", 3}, {"b", 4}, {"a", 5}})
      .keyBy([](const Event& e) { return e.first; })
      .window(TumblingProcessingTimeWindows::of(milliseconds(10'000'000'000'000)))
      .reduce(sum)
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), UnorderedElementsAre(Event{"a", 9}, Event{"b", 6}));
}

TEST_P(WindowJobTest, RecordWithoutTimestampFailsEventTimeWindow) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<Event> sink;
  env.fromCollection(std::vector<Event>{{"a", 1}})
      .keyBy([](const Event& e) { return e.first; })
      .window(TumblingEventTimeWindows::of(milliseconds(10)))
      .reduce(sum)
      .sinkTo(sink.sink());
  auto result = executeLocally(env, config(tmp, GetParam()));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFailed);
  EXPECT_THAT(result->failure, HasSubstr("Window(TumblingEventTimeWindows(10)"));
  EXPECT_THAT(result->failure, HasSubstr("without a timestamp"));
  EXPECT_THAT(sink.values(), IsEmpty());
}

// "[start,end) v1,v2,...": a window of the whole stream.
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

TEST_P(WindowJobTest, WindowAllSeesEveryKeyInOneOperator) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> described;
  CollectSink<Event> sums;
  auto windows =
      testing::scripted<Event>(env, "Scripted", {at("a", 1, 1), at("b", 2, 3), at("a", 4, 12)})
          .windowAll(TumblingEventTimeWindows::of(milliseconds(10)));
  // Sinks of parallelism 1 chain to the non-parallel window operators and keep their order.
  windows.process(DescribeAll{}).sinkTo(described.sink()).setParallelism(1);
  windows.reduce(sum).sinkTo(sums.sink()).setParallelism(1);
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(described.values(), ElementsAre("[0,10) a1,b2", "[10,20) a4"));
  EXPECT_THAT(sums.values(), ElementsAre(Event{"a", 3}, Event{"a", 4}));
}

INSTANTIATE_TEST_SUITE_P(Backends, WindowJobTest, ::testing::Values("heap", "rocksdb"));

}  // namespace
}  // namespace brook::runtime
