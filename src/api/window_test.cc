// Window assigners, evictors and the plan-time checks of WindowedStream.

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>
#include <brook/internal/local_window_aggregate.h>
#include <brook/internal/window_operator.h>
#include <brook/windowing.h>

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

// A window's later elements find its timers registered by its first: the window still fires
// at its end, fires again for each element within the allowed lateness, and is cleaned up.
TEST(WindowOperatorTest, LaterElementsOfAWindowKeepItsTimers) {
  SumHarness<EventTimeTrigger> h(EventTimeTrigger::create(), 10, 5);
  for (int64_t i = 0; i < 5; ++i)
    h.push("a", 1, i);
  h.push("b", 10, 2);
  h.push("b", 20, 8);
  // Contents of 2 windows, their end timers (9, 9) and cleanup timers (14, 14).
  EXPECT_EQ(h.stateEntries(kAllStates), 2u + 4u);
  h.op.processWatermark(9);
  EXPECT_THAT(h.emitted(), UnorderedElementsAre("a=5@9", "b=30@9"));
  EXPECT_EQ(h.stateEntries(kAllStates), 2u + 2u);  // the end timers fired
  h.push("a", 2, 7);  // late, within the allowed lateness: a late firing at once
  h.push("a", 3, 1);
  EXPECT_THAT(h.emitted(), UnorderedElementsAre("a=5@9", "b=30@9", "a=7@9", "a=10@9"));
  EXPECT_EQ(h.stateEntries(kAllStates), 2u + 2u);
  h.op.processWatermark(14);  // the cleanup timers
  EXPECT_EQ(h.stateEntries(kAllStates), 0u);
  h.push("a", 4, 3);  // later than the lateness: dropped
  EXPECT_EQ(h.emitted().size(), 4u);
  EXPECT_EQ(h.stateEntries(kAllStates), 0u);
  // A new window of the same key after all that registers its own timers again.
  h.push("a", 6, 21);
  h.push("a", 7, 22);
  EXPECT_EQ(h.stateEntries(kAllStates), 1u + 2u);
  h.op.processWatermark(kMaxWatermark);
  EXPECT_EQ(h.emitted().back(), "a=13@29");
  EXPECT_EQ(h.stateEntries(kAllStates), 0u);
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

// ----------------------------------------------------------------------------------------------
// Session windows

TEST(SessionWindowAssignerTest, EachElementOpensAWindowOfTheGap) {
  auto sessions = EventTimeSessionWindows::withGap(milliseconds(10));
  EXPECT_THAT(assign(sessions, 7), ElementsAre(TimeWindow{7, 17}));
  EXPECT_THAT(assign(sessions, -3), ElementsAre(TimeWindow{-3, 7}));
  EXPECT_THAT(assign(sessions, INT64_MAX - 2), ElementsAre(TimeWindow{INT64_MAX - 2, INT64_MAX}));
  EXPECT_THROW(assign(sessions, kNoTimestamp), std::runtime_error);
  auto processing = ProcessingTimeSessionWindows::withGap(milliseconds(100));
  EXPECT_THAT(assign(processing, kNoTimestamp, 1234), ElementsAre(TimeWindow{1234, 1334}));
  static_assert(MergingWindowAssigner<EventTimeSessionWindows>);
  static_assert(MergingWindowAssigner<ProcessingTimeSessionWindows>);
  static_assert(!MergingWindowAssigner<TumblingEventTimeWindows>);
  static_assert(!MergingWindowAssigner<GlobalWindows>);
}

TEST(SessionWindowAssignerTest, DynamicGapComesFromTheElement) {
  // A duration or a number of milliseconds.
  auto byDuration = EventTimeSessionWindows::withDynamicGap(
      [](const Event& e) { return std::chrono::seconds(e.second); });
  auto byMillis =
      EventTimeSessionWindows::withDynamicGap([](const Event& e) { return e.second; });
  static_assert(MergingWindowAssigner<decltype(byDuration)>);
  static_assert(WindowAssignerFor<decltype(byDuration), Event>);
  static_assert(!WindowAssignerFor<decltype(byDuration), std::string>);
  std::vector<TimeWindow> windows;
  byDuration.assignWindows(Event{"a", 2}, 100, WindowAssignerContext{}, windows);
  byMillis.assignWindows(Event{"a", 2}, 100, WindowAssignerContext{}, windows);
  auto processing =
      ProcessingTimeSessionWindows::withDynamicGap([](const Event& e) { return e.second; });
  processing.assignWindows(Event{"a", 5}, kNoTimestamp, WindowAssignerContext{50}, windows);
  EXPECT_THAT(windows, ElementsAre(TimeWindow{100, 2100}, TimeWindow{100, 102},
                                   TimeWindow{50, 55}));
  try {
    byMillis.assignWindows(Event{"a", 0}, 100, WindowAssignerContext{}, windows);
    ADD_FAILURE() << "a gap of 0 was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("DynamicEventTimeSessionWindows: the session gap extracted "
                                    "from an element must be positive, got 0 ms"));
  }
  EXPECT_THROW(processing.assignWindows(Event{"a", -4}, 0, WindowAssignerContext{}, windows),
               std::runtime_error);
}

TEST(SessionWindowAssignerTest, OverlappingAndTouchingWindowsMergeIntoTheirCover) {
  std::vector<TimeWindow> windows{{20, 30}, {1, 11}, {15, 25}, {40, 50}, {30, 35}};
  WindowMerges<TimeWindow> merges;
  internal::mergeTimeWindows(windows, merges);
  // Sorted: [1,11) alone; [15,25) [20,30) [30,35) chain (30 touches 30); [40,50) alone.
  ASSERT_EQ(merges.size(), 1u);
  EXPECT_EQ(merges.result(0), (TimeWindow{15, 35}));
  EXPECT_THAT(std::vector<TimeWindow>(merges.merged(0).begin(), merges.merged(0).end()),
              ElementsAre(TimeWindow{15, 25}, TimeWindow{20, 30}, TimeWindow{30, 35}));
  std::vector<TimeWindow> apart{{1, 11}, {12, 22}};
  internal::mergeTimeWindows(apart, merges);
  EXPECT_TRUE(merges.empty());
}

struct MergeCall {
  TimeWindow result;
  std::vector<TimeWindow> merged;
  TimeWindow stateWindow;
  std::vector<TimeWindow> mergedStateWindows;
  bool operator==(const MergeCall&) const = default;
};

TEST(MergingWindowSetTest, WindowsKeepTheStateWindowOfTheFirstMergedWindow) {
  auto sessions = EventTimeSessionWindows::withGap(milliseconds(10));
  internal::MergingWindowSet<TimeWindow, EventTimeSessionWindows> set(&sessions);
  std::vector<MergeCall> calls;
  auto add = [&](TimeWindow w) {
    return set.addWindow(w, [&](const TimeWindow& result, std::span<const TimeWindow> merged,
                                const TimeWindow& stateWindow,
                                std::span<const TimeWindow> mergedState) {
      calls.push_back(MergeCall{result, {merged.begin(), merged.end()}, stateWindow,
                                {mergedState.begin(), mergedState.end()}});
    });
  };
  EXPECT_EQ(add({1, 11}), (TimeWindow{1, 11}));
  EXPECT_EQ(add({20, 30}), (TimeWindow{20, 30}));
  EXPECT_TRUE(calls.empty());
  // [8,18) extends [1,11): the contents stay in [1,11), nothing moves.
  EXPECT_EQ(add({8, 18}), (TimeWindow{1, 18}));
  EXPECT_THAT(calls, ElementsAre(MergeCall{{1, 18}, {{1, 11}}, {1, 11}, {}}));
  // [15,25) bridges [1,18) and [20,30): the contents of [20,30) move into [1,11).
  EXPECT_EQ(add({15, 25}), (TimeWindow{1, 30}));
  EXPECT_EQ(calls.back(), (MergeCall{{1, 30}, {{1, 18}, {20, 30}}, {1, 11}, {{20, 30}}}));
  // Inside the session, or the session itself: no merge.
  EXPECT_EQ(add({3, 13}), (TimeWindow{1, 30}));
  EXPECT_EQ(add({1, 30}), (TimeWindow{1, 30}));
  EXPECT_EQ(calls.size(), 2u);
  EXPECT_THAT(set.mapping(), ElementsAre(std::pair{TimeWindow{1, 30}, TimeWindow{1, 11}}));
  set.retireWindow({1, 30});
  EXPECT_TRUE(set.mapping().empty());
  EXPECT_THROW(set.retireWindow({1, 30}), std::logic_error);
}

// Counts elements; not mergeable.
class CountingTrigger final : public Trigger<Event, TimeWindow> {
 public:
  TriggerResult onElement(const Event&, int64_t, const TimeWindow&, TriggerContext&) override {
    return TriggerResult::kContinue;
  }
  std::string description() const override { return "CountingTrigger"; }
};

// The same with merging support.
class MergingTrigger final : public Trigger<Event, TimeWindow> {
 public:
  TriggerResult onElement(const Event&, int64_t, const TimeWindow&, TriggerContext&) override {
    return TriggerResult::kContinue;
  }
  bool canMerge() const override { return true; }
  void onMerge(const TimeWindow&, OnMergeContext&) override {}
};

TEST(WindowedStreamTest, SessionSettingsFailAtPlanTimeNamingTheOperator) {
  using Keyed = KeyedStream<std::string, Event, std::function<std::string(const Event&)>>;
  EXPECT_THAT(planError([](Keyed k) {
                k.window(EventTimeSessionWindows::withGap(milliseconds(0))).reduce(sumReduce);
              }),
              HasSubstr("window operator 'Window(EventTimeSessionWindows(0), EventTimeTrigger, "
                        "Reduce)': session gap must be positive, got 0 ms"));
  EXPECT_THAT(planError([](Keyed k) {
                k.window(ProcessingTimeSessionWindows::withGap(milliseconds(-5)))
                    .aggregate(Sum{});
              }),
              HasSubstr("session gap must be positive, got -5 ms"));
  EXPECT_THAT(planError([](Keyed k) {
                k.window(EventTimeSessionWindows::withGap(milliseconds(10)))
                    .trigger(CountingTrigger{})
                    .reduce(sumReduce);
              }),
              HasSubstr("window operator 'Window(EventTimeSessionWindows(10), CountingTrigger, "
                        "Reduce)': A merging window assigner cannot be used with a trigger that "
                        "does not support merging"));
  EXPECT_THAT(planError([](Keyed k) {
                k.window(EventTimeSessionWindows::withGap(milliseconds(10)))
                    .trigger(PurgingTrigger<CountingTrigger>::of(CountingTrigger{}))
                    .reduce(sumReduce);
              }),
              HasSubstr("does not support merging"));
  EXPECT_THAT(planError([](Keyed k) {
                k.window(EventTimeSessionWindows::withGap(milliseconds(10)))
                    .trigger(MergingTrigger{})
                    .reduce(sumReduce);
                k.window(EventTimeSessionWindows::withGap(milliseconds(10)))
                    .trigger(PurgingTrigger<CountTrigger>::of(CountTrigger::of(2)))
                    .evictor(CountEvictor::of(2))
                    .aggregate(Sum{});
                k.window(EventTimeSessionWindows::withDynamicGap(
                             [](const Event& e) { return milliseconds(e.second); }))
                    .trigger(ContinuousEventTimeTrigger::of(milliseconds(5)))
                    .reduce(sumReduce);
                // Non-merging triggers are fine on non-merging windows.
                k.window(TumblingEventTimeWindows::of(milliseconds(10)))
                    .trigger(CountingTrigger{})
                    .reduce(sumReduce);
              }),
              HasSubstr("no error"));
}

/// An event-time session sum per key with `TR` as its trigger.
template <typename TR>
struct SessionHarness {
  using Operator =
      internal::WindowOperator<std::string, Event, TimeWindow, KeySelector,
                               EventTimeSessionWindows, internal::ReduceContents<Event>,
                               internal::PassThroughWindowFunction<Event, std::string, TimeWindow>>;
  SessionHarness(TR trigger, int64_t gap, int64_t lateness)
      : op([](const Event& e) { return e.first; }, EventTimeSessionWindows::withGap(milliseconds(gap)),
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

constexpr std::initializer_list<const char*> kSessionStates = {
    "window-contents", "count", "merging-window-set",
    internal::InternalTimerService::kEventTimeQueue};

TEST(SessionWindowOperatorTest, MergedSessionsMoveContentsAndTimers) {
  SessionHarness<EventTimeTrigger> h(EventTimeTrigger::create(), 10, 0);
  h.push("a", 1, 1);   // [1,11)
  h.push("a", 2, 20);  // [20,30)
  h.push("a", 4, 8);   // [1,18), still in state window [1,11)
  // Contents of 2 state windows, 2 in-flight windows, timers at 17 and 29 (end = cleanup).
  EXPECT_EQ(h.stateEntries(kSessionStates), 2u + 2u + 2u);
  h.push("a", 8, 15);  // [1,30): the contents of [20,30) move into [1,11)
  EXPECT_EQ(h.stateEntries(kSessionStates), 1u + 1u + 1u);
  h.op.processWatermark(28);
  EXPECT_TRUE(h.emitted().empty());
  h.op.processWatermark(29);
  EXPECT_THAT(h.emitted(), ElementsAre("a=15@29"));
  EXPECT_EQ(h.stateEntries(kSessionStates), 0u);
}

TEST(SessionWindowOperatorTest, CountTriggerAddsUpTheMergedCounts) {
  SessionHarness<CountTrigger> h(CountTrigger::of(4), 10, 0);
  h.push("a", 1, 1);    // [1,11): count 1
  h.push("a", 2, 20);   // [20,30): count 1
  h.push("a", 4, 21);   // [20,31): count 2
  EXPECT_TRUE(h.emitted().empty());
  h.push("a", 8, 10);   // [10,20) bridges both: [1,31) with count 1 + 2 + 1 = 4 fires
  EXPECT_THAT(h.emitted(), ElementsAre("a=15@30"));
  h.op.processWatermark(kMaxWatermark);  // cleanup without firing
  EXPECT_EQ(h.emitted().size(), 1u);
  EXPECT_EQ(h.stateEntries(kSessionStates), 0u);
}

// ----------------------------------------------------------------------------------------------
// Local-global aggregation (WindowedStream::localAggregation)

struct Describe final : ProcessWindowFunction<Event, std::string, std::string, TimeWindow> {
  void process(const std::string& key,
               Context&,
               const std::vector<Event>&,
               Collector<std::string>& out) override {
    out.collect(key);
  }
};
struct DescribeSum final : ProcessWindowFunction<int64_t, std::string, std::string, TimeWindow> {
  void process(const std::string& key,
               Context&,
               const std::vector<int64_t>& sums,
               Collector<std::string>& out) override {
    out.collect(key + "=" + std::to_string(sums.at(0)));
  }
};

TEST(WindowedStreamTest, LocalAggregationSettingsFailAtPlanTime) {
  using Keyed = KeyedStream<std::string, Event, std::function<std::string(const Event&)>>;
  const auto tumbling = TumblingEventTimeWindows::of(milliseconds(10));
  EXPECT_THAT(
      planError([&](Keyed k) { k.window(tumbling).localAggregation().process(Describe{}); }),
      HasSubstr("window operator 'Window(TumblingEventTimeWindows(10), EventTimeTrigger, "
                "Process)': localAggregation() needs reduce() or aggregate(), not "
                "process()"));
  EXPECT_THAT(
      planError([&](Keyed k) {
        k.window(tumbling).trigger(CountTrigger::of(2)).localAggregation().reduce(sumReduce);
      }),
      HasSubstr("needs the assigner's default trigger (EventTimeTrigger), not "
                "CountTrigger"));
  EXPECT_THAT(planError([&](Keyed k) {
                k.window(tumbling).evictor(CountEvictor::of(2)).localAggregation().aggregate(Sum{});
              }),
              HasSubstr("localAggregation() cannot be used with an evictor"));
  EXPECT_THAT(planError([&](Keyed k) {
                k.window(tumbling)
                    .sideOutputLateData(OutputTag<Event>("late"))
                    .localAggregation()
                    .reduce(sumReduce);
              }),
              HasSubstr("cannot send late elements to a side output"));
  EXPECT_THAT(planError([](Keyed k) {
                k.window(EventTimeSessionWindows::withGap(milliseconds(10)))
                    .localAggregation()
                    .aggregate(Sum{});
              }),
              HasSubstr("needs event-time tumbling or sliding windows "
                        "(TumblingEventTimeWindows, SlidingEventTimeWindows), not "
                        "EventTimeSessionWindows(10)"));
  EXPECT_THAT(planError([](Keyed k) {
                k.window(TumblingProcessingTimeWindows::of(milliseconds(10)))
                    .localAggregation()
                    .reduce(sumReduce);
              }),
              HasSubstr("needs event-time tumbling or sliding windows"));
  EXPECT_THAT(
      planError([&](Keyed k) {
        k.window(tumbling).allowedLateness(milliseconds(-1)).localAggregation().reduce(sumReduce);
      }),
      HasSubstr("allowed lateness must not be negative"));
  EXPECT_THAT(planError([&](Keyed k) {
                k.window(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(4)))
                    .allowedLateness(milliseconds(5))
                    .localAggregation()
                    .aggregate(Sum{}, DescribeSum{});
                k.window(tumbling).localAggregation().reduce(sumReduce);
              }),
              HasSubstr("no error"));
}

TEST(WindowedStreamTest, LocalAggregationRunsInTheProducerAndShufflesPartialsByKey) {
  StreamExecutionEnvironment env;
  env.fromCollection(std::vector<Event>{{"a", 1}})
      .map([](const Event& e) { return e; })
      .setParallelism(3)
      .keyBy([](const Event& e) { return e.first; })
      .window(TumblingEventTimeWindows::of(milliseconds(10)))
      .localAggregation()
      .aggregate(Sum{})
      .setParallelism(2);
  const StreamGraph& graph = env.streamGraph();
  ASSERT_EQ(graph.nodes.size(), 4u);
  const StreamNode& local = graph.nodes[2];
  const StreamNode& window = graph.nodes[3];
  EXPECT_EQ(local.operatorKind, "Local Window Aggregate");
  EXPECT_EQ(local.name, "LocalWindowAggregate(TumblingEventTimeWindows(10), Aggregate)");
  EXPECT_EQ(local.parallelism, 3);
  EXPECT_EQ(window.name, "Window(TumblingEventTimeWindows(10), EventTimeTrigger, Aggregate)");
  EXPECT_EQ(window.parallelism, 2);
  ASSERT_EQ(graph.edges.size(), 3u);
  EXPECT_EQ(graph.edges[1].partitioner, PartitionerKind::kDefault);
  EXPECT_EQ(graph.edges[1].targetId, local.id);
  EXPECT_EQ(graph.edges[2].partitioner, PartitionerKind::kKeyGroup);
  EXPECT_EQ(graph.edges[2].sourceId, local.id);
  EXPECT_EQ(graph.edges[2].targetId, window.id);
}

TEST(WindowSlicingTest, SlicesAreWindowsOrTheGcdOfSizeAndSlide) {
  auto tumbling =
      internal::WindowSlicing::of(TumblingEventTimeWindows::of(milliseconds(10), milliseconds(3)));
  EXPECT_EQ(tumbling.size, 10);
  EXPECT_EQ(tumbling.endOf(3), 13);
  EXPECT_EQ(tumbling.endOf(2), 3);
  auto sliding = internal::WindowSlicing::of(
      SlidingEventTimeWindows::of(milliseconds(10), milliseconds(4), milliseconds(1)));
  EXPECT_EQ(sliding.size, 2);
  EXPECT_EQ(sliding.endOf(1), 3);
  EXPECT_EQ(sliding.endOf(0), 1);
  EXPECT_EQ(sliding.endOf(-2), -1);
  // Every window of the assigner holds a slice whole or not at all.
  auto windows = SlidingEventTimeWindows::of(milliseconds(10), milliseconds(4), milliseconds(1));
  for (int64_t t = -20; t < 20; ++t) {
    const int64_t end = sliding.endOf(t);
    EXPECT_EQ(assign(windows, t), assign(windows, end - 1)) << t;
    EXPECT_EQ(assign(windows, t), assign(windows, end - sliding.size)) << t;
  }
}

/// One subtask of the local operator of a per-key sum over sliding windows of 10 ms sliding by
/// 4 ms (slices of 2 ms), with an operator state store.
struct LocalSumHarness {
  using Partial = internal::WindowPartial<std::string, int64_t>;
  using Operator =
      internal::LocalWindowAggregateOperator<std::string,
                                             Event,
                                             int64_t,
                                             KeySelector,
                                             internal::AggregateFolding<Event, int64_t, Sum>>;

  explicit LocalSumHarness(std::optional<internal::OperatorStateSnapshotData> restored = {})
      : op([](const Event& e) { return e.first; },
           internal::WindowSlicing::of(
               SlidingEventTimeWindows::of(milliseconds(10), milliseconds(4))),
           internal::AggregateFolding<Event, int64_t, Sum>{Sum{}}) {
    context.operatorName = "LocalWindowAggregate";
    context.operatorStateStore = &store;
    context.restored = restored.has_value();
    if (restored)
      store.restore(*std::move(restored));
    op.setOutput(&out);
    op.open(context);
  }
  void push(std::string key, int64_t value, int64_t timestamp) {
    op.push(Event{std::move(key), value}, timestamp);
  }
  /// "key:sliceEnd=sum@timestamp" of what was emitted since the last call, sorted.
  std::vector<std::string> take() {
    std::vector<std::string> lines;
    for (const auto& [p, ts] : out.records) {
      lines.push_back(p.key + ":" + std::to_string(p.sliceEnd) + "=" +
                      std::to_string(p.accumulator) + "@" + std::to_string(ts));
    }
    out.records.clear();
    std::sort(lines.begin(), lines.end());
    return lines;
  }

  RuntimeContext context;
  OperatorStateStore store{"LocalWindowAggregate (1/1)"};
  RecordingOutput<Partial> out;
  Operator op;
};

TEST(LocalWindowAggregateOperatorTest, SendsEachSliceOnceTheWatermarkPassesIt) {
  LocalSumHarness h;
  h.push("a", 1, 0);
  h.push("a", 2, 1);  // slice [0,2)
  h.push("b", 5, 1);
  h.push("a", 4, 3);  // slice [2,4)
  h.push("a", 8, 0);  // out of order, slice [0,2)
  EXPECT_THAT(h.take(), ::testing::IsEmpty());
  h.op.emitWatermark(1);  // passes [0,2) (max timestamp 1)
  EXPECT_THAT(h.take(), ElementsAre("a:2=11@1", "b:2=5@1"));
  EXPECT_THAT(h.out.watermarks, ElementsAre(1));
  // Late for the local operator: sent on at once, alone.
  h.push("a", 16, 1);
  EXPECT_THAT(h.take(), ElementsAre("a:2=16@1"));
  h.push("a", 32, 2);
  h.op.emitWatermark(100);
  EXPECT_THAT(h.take(), ElementsAre("a:4=36@3"));
  EXPECT_THAT(h.out.watermarks, ElementsAre(1, 100));
  EXPECT_THROW(h.push("a", 1, kNoTimestamp), std::exception);
}

TEST(LocalWindowAggregateOperatorTest, ACheckpointKeepsTheHeldPartials) {
  std::optional<internal::OperatorStateSnapshotData> snapshot;
  {
    LocalSumHarness h;
    h.push("a", 1, 0);
    h.push("a", 2, 5);
    h.push("b", 3, 5);
    h.op.snapshotState(1);
    snapshot = h.store.snapshot();
    h.push("a", 100, 5);  // after the checkpoint: not in it
  }
  LocalSumHarness restored(std::move(snapshot));
  restored.push("a", 10, 4);
  restored.op.endInput();
  EXPECT_THAT(restored.take(), ElementsAre("a:2=1@1", "a:6=12@5", "b:6=3@5"));
}

TEST(LocalWindowAggregateOperatorTest, SendsEverythingWhenItHoldsTooMuch) {
  LocalSumHarness h;
  const size_t max = LocalSumHarness::Operator::kMaxHeldPartials;
  for (size_t i = 0; i + 1 < max; ++i)
    h.push("k" + std::to_string(i), 1, static_cast<int64_t>(i % 4));
  EXPECT_TRUE(h.out.records.empty());
  h.push("last", 1, 0);
  EXPECT_EQ(h.out.records.size(), max);
  h.push("k0", 7, 0);  // held anew
  EXPECT_EQ(h.out.records.size(), max);
  h.op.endInput();
  EXPECT_EQ(h.out.records.size(), max + 1);
  EXPECT_EQ(h.out.records.back().first.accumulator, 7);
}

}  // namespace
}  // namespace brook
