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

}  // namespace
}  // namespace brook
