// Window assigners, evictors and the plan-time checks of WindowedStream.

#include <brook/windowing.h>

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>
#include <brook/internal/window_operator.h>

namespace brook {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::vector<TimeWindow> assign(const auto& assigner, int64_t timestamp, int64_t now = 0) {
  std::vector<TimeWindow> windows;
  assigner.assignWindows(timestamp, WindowAssignerContext{now}, windows);
  return windows;
}

TEST(WindowAssignerTest, TumblingWindowStartsWithOffsetAndNegativeTimestamps) {
  auto tumbling = TumblingEventTimeWindows::of(milliseconds(10));
  EXPECT_THAT(assign(tumbling, 0), ElementsAre(TimeWindow{0, 10}));
  EXPECT_THAT(assign(tumbling, 9), ElementsAre(TimeWindow{0, 10}));
  EXPECT_THAT(assign(tumbling, 10), ElementsAre(TimeWindow{10, 20}));
  EXPECT_THAT(assign(tumbling, -1), ElementsAre(TimeWindow{-10, 0}));
  auto shifted = TumblingEventTimeWindows::of(milliseconds(10), milliseconds(3));
  EXPECT_THAT(assign(shifted, 2), ElementsAre(TimeWindow{-7, 3}));
  EXPECT_THAT(assign(shifted, 3), ElementsAre(TimeWindow{3, 13}));
  EXPECT_EQ(TimeWindow(TimeWindow{3, 13}).maxTimestamp(), 12);
  EXPECT_THROW(assign(tumbling, kNoTimestamp), std::runtime_error);
}

TEST(WindowAssignerTest, ProcessingTimeWindowsUseTheClock) {
  auto tumbling = TumblingProcessingTimeWindows::of(milliseconds(100));
  EXPECT_THAT(assign(tumbling, kNoTimestamp, 1234), ElementsAre(TimeWindow{1200, 1300}));
  auto sliding = SlidingProcessingTimeWindows::of(milliseconds(100), milliseconds(50));
  EXPECT_THAT(assign(sliding, kNoTimestamp, 1234),
              ElementsAre(TimeWindow{1200, 1300}, TimeWindow{1150, 1250}));
}

TEST(WindowAssignerTest, SlidingWindowsHoldEachElementSizeOverSlideTimes) {
  auto sliding = SlidingEventTimeWindows::of(milliseconds(10), milliseconds(5));
  EXPECT_THAT(assign(sliding, 7), ElementsAre(TimeWindow{5, 15}, TimeWindow{0, 10}));
  EXPECT_THAT(assign(sliding, 5), ElementsAre(TimeWindow{5, 15}, TimeWindow{0, 10}));
  EXPECT_THAT(assign(sliding, 4), ElementsAre(TimeWindow{0, 10}, TimeWindow{-5, 5}));
  auto thirds = SlidingEventTimeWindows::of(milliseconds(9), milliseconds(3));
  EXPECT_EQ(assign(thirds, 100).size(), 3u);
}

TEST(WindowAssignerTest, ValidationNamesTheProblem) {
  EXPECT_THAT(TumblingEventTimeWindows::of(milliseconds(0)).validate(), HasSubstr("size"));
  EXPECT_THAT(TumblingEventTimeWindows::of(milliseconds(5), milliseconds(5)).validate(),
              HasSubstr("offset"));
  EXPECT_THAT(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(0)).validate(),
              HasSubstr("slide"));
  EXPECT_THAT(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(20)).validate(),
              HasSubstr("must not exceed"));
  EXPECT_TRUE(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(10)).validate().empty());
}

TEST(WindowSerializationTest, WindowsRoundTrip) {
  DataOutput out;
  brook::serialize(TimeWindow{-5, 17}, out);
  TimeWindow w;
  DataInput in(out.view());
  brook::deserialize(in, w);
  EXPECT_EQ(w, (TimeWindow{-5, 17}));
  DataOutput global;
  brook::serialize(GlobalWindow{}, global);
  EXPECT_EQ(global.view().size(), 1u);
}

std::vector<TimestampedValue<int>> elements(std::vector<std::pair<int, int64_t>> values) {
  std::vector<TimestampedValue<int>> result;
  for (auto [v, ts] : values)
    result.push_back(TimestampedValue<int>{v, ts});
  return result;
}
std::vector<int> valuesOf(const std::vector<TimestampedValue<int>>& elements) {
  std::vector<int> result;
  for (const auto& e : elements)
    result.push_back(e.value);
  return result;
}

TEST(EvictorTest, CountAndTimeEvictorsKeepTheNewest) {
  auto list = elements({{1, 10}, {2, 20}, {3, 30}, {4, 40}});
  CountEvictor::of(3).evictBefore(list, GlobalWindow{}, EvictorContext{});
  EXPECT_THAT(valuesOf(list), ElementsAre(2, 3, 4));
  CountEvictor::of(1, /*doEvictAfter=*/true).evictBefore(list, GlobalWindow{}, EvictorContext{});
  EXPECT_THAT(valuesOf(list), ElementsAre(2, 3, 4));
  CountEvictor::of(1, /*doEvictAfter=*/true).evictAfter(list, GlobalWindow{}, EvictorContext{});
  EXPECT_THAT(valuesOf(list), ElementsAre(4));

  auto timed = elements({{1, 10}, {2, 25}, {3, 30}, {4, 40}});
  TimeEvictor::of(milliseconds(15)).evictBefore(timed, TimeWindow{0, 100}, EvictorContext{});
  EXPECT_THAT(valuesOf(timed), ElementsAre(3, 4));  // 25 <= 40 - 15 is evicted
}

using Event = std::pair<std::string, int64_t>;

struct Sum : AggregateFunction<Event, int64_t, int64_t> {
  int64_t createAccumulator() const override { return 0; }
  int64_t add(const Event& e, int64_t acc) const override { return acc + e.second; }
  int64_t getResult(const int64_t& acc) const override { return acc; }
  int64_t merge(int64_t a, const int64_t& b) const override { return a + b; }
};

auto sumReduce = [](const Event& a, const Event& b) { return Event{a.first, a.second + b.second}; };

std::string planError(const std::function<void(KeyedStream<std::string, Event,
                                                           std::function<std::string(const Event&)>>)>&
                          build) {
  StreamExecutionEnvironment env;
  auto keyed = env.fromCollection(std::vector<Event>{{"a", 1}})
                   .keyBy(std::function<std::string(const Event&)>(
                       [](const Event& e) { return e.first; }));
  try {
    build(keyed);
  } catch (const JobDefinitionError& e) {
    return e.what();
  }
  return "no error";
}

TEST(WindowedStreamTest, BadSettingsFailAtPlanTimeNamingTheOperator) {
  using Keyed = KeyedStream<std::string, Event, std::function<std::string(const Event&)>>;
  EXPECT_THAT(planError([](Keyed k) {
                k.window(TumblingEventTimeWindows::of(milliseconds(0))).reduce(sumReduce);
              }),
              HasSubstr("window operator 'Window(TumblingEventTimeWindows(0), EventTimeTrigger, "
                        "Reduce)': window size must be positive"));
  EXPECT_THAT(planError([](Keyed k) {
                k.window(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(-1)))
                    .aggregate(Sum{});
              }),
              HasSubstr("slide must be positive"));
  EXPECT_THAT(planError([](Keyed k) {
                k.window(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(20)))
                    .reduce(sumReduce);
              }),
              HasSubstr("must not exceed the size"));
  EXPECT_THAT(planError([](Keyed k) {
                k.window(TumblingEventTimeWindows::of(milliseconds(10)))
                    .allowedLateness(milliseconds(-1))
                    .reduce(sumReduce);
              }),
              HasSubstr("allowed lateness must not be negative"));
  EXPECT_THAT(planError([](Keyed k) { k.countWindow(0).reduce(sumReduce); }),
              HasSubstr("trigger count must be positive"));
  EXPECT_THAT(planError([](Keyed k) { k.countWindow(3, 1).aggregate(Sum{}); }),
              HasSubstr("no error"));
}


// ----------------------------------------------------------------------------------------------
// The operator driven directly, over a heap backend whose key groups come from std::hash.

class TestBackend final : public internal::KeyedStateBackend {
 public:
  TestBackend() : KeyedStateBackend("Window (1/1)", 16, 0, 15, nullptr) {}
  void setCurrentKey(std::string_view key) override {
    setKey(key, static_cast<int>(std::hash<std::string_view>{}(key) % 16));
  }
  int64_t currentTimeMillis() const override { return 0; }
};

/// Counts what heap tables write into a snapshot.
class CountingSink final : public internal::KeyedStateSink {
 public:
  void writeValue(int, std::string_view, std::string_view, std::string_view) override {
    ++entries;
  }
  void writeList(int, std::string_view, std::string_view,
                 std::span<const std::string> elements) override {
    entries += elements.size();
  }
  void writeMapEntry(int, std::string_view, std::string_view, std::string_view,
                     std::string_view) override {
    ++entries;
  }
  size_t entries = 0;
};

template <typename T>
class RecordingOutput final : public Output<T> {
 public:
  void push(T&& record, int64_t timestamp) override {
    records.emplace_back(std::move(record), timestamp);
  }
  void emitWatermark(int64_t watermark) override { watermarks.push_back(watermark); }
  std::vector<std::pair<T, int64_t>> records;
  std::vector<int64_t> watermarks;
};

using KeySelector = std::function<std::string(const Event&)>;

/// A tumbling event-time sum per key with `TR` as its trigger.
template <typename TR>
struct SumHarness {
  using Operator = internal::WindowOperator<std::string, Event, TimeWindow, KeySelector,
                                            TumblingEventTimeWindows, internal::ReduceContents<Event>,
                                            internal::PassThroughWindowFunction<Event, std::string,
                                                                                TimeWindow>>;
  SumHarness(TR trigger, int64_t size, int64_t lateness)
      : op([](const Event& e) { return e.first; }, TumblingEventTimeWindows::of(milliseconds(size)),
           internal::WindowSettings<Event, TimeWindow>{
               [trigger]() -> std::unique_ptr<internal::ErasedTrigger<Event, TimeWindow>> {
                 return std::make_unique<internal::TriggerHolder<Event, TimeWindow, TR>>(trigger);
               },
               lateness, ""},
           internal::ReduceContents<Event>(sumReduce), {}) {
    context.operatorName = "Window";
    context.keyedStateBackend = &backend;
    op.setOutput(&out);
    op.open(context);
  }
  void push(std::string key, int64_t value, int64_t timestamp) {
    op.push(Event{std::move(key), value}, timestamp);
  }
  std::vector<std::string> emitted() const {
    std::vector<std::string> lines;
    for (const auto& [e, ts] : out.records)
      lines.push_back(e.first + "=" + std::to_string(e.second) + "@" + std::to_string(ts));
    return lines;
  }
  /// Entries (of every named state and timer queue) that a snapshot would hold.
  size_t stateEntries(std::initializer_list<const char*> names) {
    CountingSink sink;
    for (const char* name : names) {
      if (auto* table = backend.findTable(name))
        table->snapshot(sink);
    }
    return sink.entries;
  }

  TestBackend backend;
  RuntimeContext context;
  RecordingOutput<Event> out;
  Operator op;
};

constexpr std::initializer_list<const char*> kAllStates = {
    "window-contents", "count", "fire-time", internal::InternalTimerService::kEventTimeQueue,
    internal::InternalTimerService::kProcessingTimeQueue};

TEST(WindowOperatorTest, CleanupRemovesContentsTriggerStateAndTimers) {
  SumHarness<EventTimeTrigger> h(EventTimeTrigger::create(), 10, 5);
  h.push("a", 1, 1);
  h.push("b", 2, 3);
  h.push("a", 4, 12);
  // Contents of 3 windows, their end timers (9, 9, 19) and cleanup timers (14, 14, 24).
  EXPECT_EQ(h.stateEntries(kAllStates), 3u + 6u);
  h.op.processWatermark(10);
  // Timers of equal time fire in key group order.
  EXPECT_THAT(h.emitted(), UnorderedElementsAre("a=1@9", "b=2@9"));
  h.op.processWatermark(14);  // cleans up [0,10) of a and b
  EXPECT_EQ(h.stateEntries(kAllStates), 1u + 2u);
  h.op.processWatermark(kMaxWatermark);
  EXPECT_THAT(h.emitted(), UnorderedElementsAre("a=1@9", "b=2@9", "a=4@19"));
  EXPECT_EQ(h.emitted().back(), "a=4@19");
  EXPECT_EQ(h.stateEntries(kAllStates), 0u);
  EXPECT_THAT(h.out.watermarks, ElementsAre(10, 14, kMaxWatermark));
}

TEST(WindowOperatorTest, ContinuousEventTimeTriggerFiresEveryInterval) {
  SumHarness<ContinuousEventTimeTrigger> h(ContinuousEventTimeTrigger::of(milliseconds(10)),
                                           100, 0);
  h.push("a", 1, 3);   // first firing time: 0 + 10
  h.push("a", 2, 15);
  h.op.processWatermark(10);
  EXPECT_THAT(h.emitted(), ElementsAre("a=3@99"));
  h.push("a", 4, 21);
  h.op.processWatermark(25);
  EXPECT_THAT(h.emitted(), ElementsAre("a=3@99", "a=7@99"));
  // 30, 40, ..., 90 and the end at 99: eight more firings, then everything is cleaned up.
  h.op.processWatermark(kMaxWatermark);
  EXPECT_EQ(h.emitted().size(), 10u);
  EXPECT_EQ(h.emitted().back(), "a=7@99");
  EXPECT_EQ(h.stateEntries(kAllStates), 0u);
}

TEST(WindowOperatorTest, CountTriggerStateIsPerWindow) {
  SumHarness<CountTrigger> h(CountTrigger::of(2), 10, 0);
  h.push("a", 1, 1);
  h.push("a", 2, 11);  // another window: its own count
  h.push("a", 4, 2);   // second element of [0,10): fires 1+4 (the contents are kept)
  EXPECT_THAT(h.emitted(), ElementsAre("a=5@9"));
  h.push("a", 8, 3);
  EXPECT_THAT(h.emitted(), ElementsAre("a=5@9"));
  h.push("a", 16, 4);  // the count restarted after the firing: fires 1+4+8+16
  EXPECT_THAT(h.emitted(), ElementsAre("a=5@9", "a=29@9"));
  h.op.processWatermark(kMaxWatermark);  // cleanup without firing
  EXPECT_EQ(h.emitted().size(), 2u);
  EXPECT_EQ(h.stateEntries(kAllStates), 0u);
}

}  // namespace
}  // namespace brook
