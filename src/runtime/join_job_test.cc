// Window joins, coGroup and interval joins as jobs run them: two scripted sources that emit
// timestamps and watermarks, joined over network channels with the join's state in the heap and
// RocksDB backends; and the interval join operator driven directly over both backends, for late
// elements and the cleanup of its buffers. Every expected output is worked out by hand in the
// test's comments.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>
#include <brook/internal/interval_join_operator.h>
#include <brook/internal/timer_service.h>

#include "common/testing/files.h"
#include "runtime/local_executor.h"
#include "runtime/mini_cluster.h"
#include "runtime/testing/scripted_source.h"
#include "state/keyed_state_backend_factory.h"

namespace brook::runtime {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using Event = std::pair<std::string, int64_t>;      // key, value: the left input
using Label = std::pair<std::string, std::string>;  // key, label: the right input

Configuration config(const testing::TempDir& tmp, const std::string& backend) {
  return testing::jobConfiguration(tmp, backend);
}

template <typename T>
using Step = testing::ScriptStep<T>;
Step<Event> at(std::string key, int64_t value, int64_t time) {
  return Step<Event>{Event{std::move(key), value}, time};
}
Step<Label> at(std::string key, std::string label, int64_t time) {
  return Step<Label>{Label{std::move(key), std::move(label)}, time};
}
template <typename T>
Step<T> watermark(int64_t time) {
  return Step<T>{std::nullopt, time};
}

// Each script emits its records in timestamp order or behind its own watermarks, so no record
// is ever late: the join's watermark is the smaller of the two sources' watermarks, whatever
// order the two inputs arrive in.
using testing::scripted;

std::string keyOf(const Event& e) { return e.first; }
std::string keyOfLabel(const Label& l) { return l.first; }

// Appends "@<timestamp>" to each record: the timestamp the join emitted it with.
class Stamp final : public ProcessFunction<std::string, std::string> {
 public:
  void processElement(const std::string& value, Context& ctx,
                      Collector<std::string>& out) override {
    out.collect(value + "@" + std::to_string(ctx.timestamp()));
  }
};

void expectFinished(const absl::StatusOr<JobExecutionResult>& result) {
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
}

// "a 1x": the key, the left value and the right label of a joined pair ("a 1x?" before `open`).
class PairJoin final : public JoinFunction<Event, Label, std::string> {
 public:
  void open(const RuntimeContext&) override { opened_ = true; }
  std::string join(const Event& e, const Label& l) override {
    return e.first + " " + std::to_string(e.second) + l.second + (opened_ ? "" : "?");
  }

 private:
  bool opened_ = false;
};

class JoinJobTest : public ::testing::TestWithParam<std::string> {};

TEST_P(JoinJobTest, TumblingWindowJoinEmitsTheCrossProductPerKeyAndWindow) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> lambdaSink;
  CollectSink<std::string> classSink;
  auto left = scripted<Event>(env, "Left",
                              {at("a", 1, 1), at("a", 2, 3), at("b", 3, 4), watermark<Event>(4),
                               at("c", 4, 12), at("a", 5, 15)});
  auto right = scripted<Label>(env, "Right",
                               {at("a", "x", 2), at("d", "z", 5), at("a", "y", 8),
                                watermark<Label>(9), at("a", "v", 11), at("c", "w", 14)});
  // [0,10): a has 1, 2 and x, y: four pairs; b (left only) and d (right only) join nothing.
  // [10,20): c has 4 and w, a has 5 and v. Results carry the window's max timestamp.
  auto joined = left.join(right)
                    .where(keyOf)
                    .equalTo(keyOfLabel)
                    .window(TumblingEventTimeWindows::of(milliseconds(10)));
  joined
      .apply([](const Event& e, const Label& l) {
        return e.first + " " + std::to_string(e.second) + l.second;
      })
      .process(Stamp{})
      .sinkTo(lambdaSink.sink());
  joined.apply(PairJoin{}).process(Stamp{}).sinkTo(classSink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(lambdaSink.values(), UnorderedElementsAre("a 1x@9", "a 1y@9", "a 2x@9", "a 2y@9",
                                                        "c 4w@19", "a 5v@19"));
  EXPECT_THAT(classSink.values(), UnorderedElementsAre("a 1x@9", "a 1y@9", "a 2x@9", "a 2y@9",
                                                       "c 4w@19", "a 5v@19"));
}

// "key left-values|right-labels": both sides of one key and window, each sorted (records of one
// side reach the window through parallel tagging maps, so their arrival order is not fixed).
class DescribeGroup final : public CoGroupFunction<Event, Label, std::string> {
 public:
  void coGroup(const std::vector<Event>& first, const std::vector<Label>& second,
               Collector<std::string>& out) override {
    std::string key = first.empty() ? second.front().first : first.front().first;
    std::vector<Event> sortedFirst = first;
    std::sort(sortedFirst.begin(), sortedFirst.end());
    std::vector<Label> sortedSecond = second;
    std::sort(sortedSecond.begin(), sortedSecond.end());
    std::string values;
    for (const Event& e : sortedFirst)
      values += (values.empty() ? "" : ",") + std::to_string(e.second);
    std::string labels;
    for (const Label& l : sortedSecond)
      labels += (labels.empty() ? "" : ",") + l.second;
    out.collect(key + " " + values + "|" + labels);
  }
};

TEST_P(JoinJobTest, CoGroupSeesKeysPresentOnOneSideOnly) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  CollectSink<std::string> counts;
  auto left = scripted<Event>(env, "Left", {at("a", 1, 1), at("a", 2, 2), at("b", 3, 3)});
  auto right = scripted<Label>(env, "Right", {at("a", "x", 4), at("c", "y", 5), at("a", "z", 12)});
  // [0,10): a has 1,2 and x; b has 3 only; c has y only. [10,20): a has z only.
  auto grouped = left.coGroup(right)
                     .where(keyOf)
                     .equalTo(keyOfLabel)
                     .window(TumblingEventTimeWindows::of(milliseconds(10)));
  grouped.apply(DescribeGroup{}).process(Stamp{}).sinkTo(sink.sink());
  // The callable form, with the output type from its Collector.
  grouped
      .apply([](const std::vector<Event>& first, const std::vector<Label>& second,
                Collector<std::string>& out) {
        out.collect(std::to_string(first.size()) + "+" + std::to_string(second.size()));
      })
      .sinkTo(counts.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(),
              UnorderedElementsAre("a 1,2|x@9", "b 3|@9", "c |y@9", "a |z@19"));
  EXPECT_THAT(counts.values(), UnorderedElementsAre("2+1", "1+0", "0+1", "0+1"));
}

// Emits "<value><label>" and, for even values, a second record "<value><label>!".
class TwiceForEven final : public FlatJoinFunction<Event, Label, std::string> {
 public:
  void join(const Event& e, const Label& l, Collector<std::string>& out) override {
    out.collect(std::to_string(e.second) + l.second);
    if (e.second % 2 == 0)
      out.collect(std::to_string(e.second) + l.second + "!");
  }
};

TEST_P(JoinJobTest, SlidingWindowJoinJoinsPairsInEveryWindowTheyShare) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  auto left = scripted<Event>(env, "Left", {at("a", 1, 1), at("a", 2, 7)});
  auto right = scripted<Label>(env, "Right", {at("a", "x", 4), at("a", "y", 12)});
  // Size 10, slide 5: 1@1 is in [-5,5) and [0,10); 2@7 in [0,10) and [5,15); x@4 in [-5,5) and
  // [0,10); y@12 in [5,15) and [10,20).
  //   [-5,5): 1x            (max timestamp 4)
  //   [0,10): 1x, 2x, 2x!   (9)
  //   [5,15): 2y, 2y!       (14)
  //   [10,20): y alone, nothing.
  left.join(right)
      .where(keyOf)
      .equalTo(keyOfLabel)
      .window(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(5)))
      .apply(TwiceForEven{})
      .process(Stamp{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), UnorderedElementsAre("1x@4", "1x@9", "2x@9", "2x!@9", "2y@14",
                                                  "2y!@14"));
}

TEST_P(JoinJobTest, CoGroupWithCountTriggerFiresOnEveryTwoElementsOfEitherSide) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  auto left = scripted<Event>(env, "Left", {at("a", 1, 1), at("a", 2, 2)});
  auto right = scripted<Label>(env, "Right", {at("a", "x", 3), at("a", "y", 4)});
  // A purging count trigger of 2 over [0,100): the four elements fire twice, in pairs whose
  // make-up depends on the order the inputs arrive in; all four are seen exactly once.
  left.coGroup(right)
      .where(keyOf)
      .equalTo(keyOfLabel)
      .window(TumblingEventTimeWindows::of(milliseconds(100)))
      .trigger(PurgingTrigger<CountTrigger>::of(CountTrigger::of(2)))
      .apply([](const std::vector<Event>& first, const std::vector<Label>& second,
                Collector<std::string>& out) {
        for (const Event& e : first)
          out.collect(std::to_string(e.second));
        for (const Label& l : second)
          out.collect(l.second);
        out.collect("fired");
      })
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(), UnorderedElementsAre("1", "2", "x", "y", "fired", "fired"));
}

// "a 1@10 w@8": the key, the left value and timestamp, the right label and timestamp.
class DescribePair final : public ProcessJoinFunction<Event, Label, std::string> {
 public:
  void processElement(const Event& left, const Label& right, Context& ctx,
                      Collector<std::string>& out) override {
    out.collect(left.first + " " + std::to_string(left.second) + "@" +
                std::to_string(ctx.leftTimestamp()) + " " + right.second + "@" +
                std::to_string(ctx.rightTimestamp()));
  }
};

// Left: a1@10, a2@20, b3@10, then a4@5 out of order (the left watermark is still below it), a
// watermark at 5 and a5@30. Right: w@8, t@9, x@12, y@13, b's z@7, a watermark at 7, v@23, u@27.
std::vector<Step<Event>> intervalLeft() {
  return {at("a", 1, 10), at("a", 2, 20), at("b", 3, 10), at("a", 4, 5), watermark<Event>(5),
          at("a", 5, 30)};
}
std::vector<Step<Label>> intervalRight() {
  return {at("a", "w", 8),  at("a", "t", 9),  at("a", "x", 12), at("a", "y", 13),
          at("b", "z", 7),  watermark<Label>(7), at("a", "v", 23), at("a", "u", 27)};
}

TEST_P(JoinJobTest, IntervalJoinWithInclusiveBoundsAndNegativeLowerBound) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  auto left = scripted<Event>(env, "Left", intervalLeft()).keyBy(keyOf);
  auto right = scripted<Label>(env, "Right", intervalRight()).keyBy(keyOfLabel);
  // t2 in [t1 - 2, t1 + 3]:
  //   a1@10: [8,13]  -> w@8, t@9, x@12, y@13 (results at 10, 10, 12, 13)
  //   a2@20: [18,23] -> v@23 (23)
  //   b3@10: [8,13]  -> z@7 is outside: nothing
  //   a4@5:  [3,8]   -> w@8 (8)
  //   a5@30: [28,33] -> u@27 is outside: nothing
  left.intervalJoin(right)
      .between(milliseconds(-2), milliseconds(3))
      .process(DescribePair{})
      .process(Stamp{})
      .sinkTo(sink.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(sink.values(),
              UnorderedElementsAre("a 1@10 w@8@10", "a 1@10 t@9@10", "a 1@10 x@12@12",
                                   "a 1@10 y@13@13", "a 2@20 v@23@23", "a 4@5 w@8@8"));
}

TEST_P(JoinJobTest, IntervalJoinWithExclusiveBounds) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> exclusive;
  CollectSink<std::string> negative;
  auto left = scripted<Event>(env, "Left", intervalLeft()).keyBy(keyOf);
  auto right = scripted<Label>(env, "Right", intervalRight()).keyBy(keyOfLabel);
  // t2 in (t1 - 2, t1 + 3), that is [t1 - 1, t1 + 2]:
  //   a1@10: [9,12] -> t@9, x@12; a2@20: [19,22], a4@5: [4,7], a5@30: [29,32], b3@10: [9,12]:
  //   nothing.
  left.intervalJoin(right)
      .between(milliseconds(-2), milliseconds(3))
      .lowerBoundExclusive()
      .upperBoundExclusive()
      .process(DescribePair{})
      .process(Stamp{})
      .sinkTo(exclusive.sink());
  // Both bounds negative, the upper one exclusive: t2 in [t1 - 5, t1 - 1), that is
  // [t1 - 5, t1 - 2], through the callable form:
  //   a1@10: [5,8] -> w@8; a2@20: [15,18], a4@5: [0,3]: nothing; a5@30: [25,28] -> u@27;
  //   b3@10: [5,8] -> z@7.
  left.intervalJoin(right)
      .between(milliseconds(-5), milliseconds(-1))
      .upperBoundExclusive()
      .process([](const Event& e, const Label& l) {
        return e.first + " " + std::to_string(e.second) + l.second;
      })
      .process(Stamp{})
      .sinkTo(negative.sink());
  expectFinished(executeLocally(env, config(tmp, GetParam())));
  EXPECT_THAT(exclusive.values(), UnorderedElementsAre("a 1@10 t@9@10", "a 1@10 x@12@12"));
  EXPECT_THAT(negative.values(), UnorderedElementsAre("a 1w@10", "a 5u@30", "b 3z@10"));
}

TEST_P(JoinJobTest, RecordWithoutTimestampFailsIntervalJoin) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  env.fromCollection(std::vector<Event>{{"a", 1}})
      .keyBy(keyOf)
      .intervalJoin(env.fromCollection(std::vector<Label>{{"a", "x"}}).keyBy(keyOfLabel))
      .between(milliseconds(0), milliseconds(1))
      .process(DescribePair{})
      .sinkTo(sink.sink());
  auto result = executeLocally(env, config(tmp, GetParam()));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFailed);
  EXPECT_THAT(result->failure, HasSubstr("Interval Join"));
  EXPECT_THAT(result->failure, HasSubstr("without a timestamp"));
  EXPECT_THAT(sink.values(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Backends, JoinJobTest, ::testing::Values("heap", "rocksdb"));

// ----------------------------------------------------------------------------------------------
// The interval join operator driven directly, over a runtime backend of each type.

template <typename T>
class RecordingOutput final : public Output<T> {
 public:
  void push(T&& record, int64_t timestamp) override {
    records.push_back(describe(record) + "@" + std::to_string(timestamp));
  }
  void emitWatermark(int64_t watermark) override { watermarks.push_back(watermark); }
  static std::string describe(const std::string& s) { return s; }
  static std::string describe(const Event& e) { return e.first + std::to_string(e.second); }
  static std::string describe(const Label& l) { return l.first + l.second; }
  std::vector<std::string> records;
  std::vector<int64_t> watermarks;
};

class IntervalJoinOperatorTest : public ::testing::TestWithParam<std::string> {
 protected:
  using Operator =
      internal::IntervalJoinOperator<std::string, Event, Label, std::string,
                                     std::function<std::string(const Event&)>,
                                     std::function<std::string(const Label&)>, DescribePair>;

  void SetUp() override {
    state::KeyedStateBackendOptions options;
    options.type = *state::parseStateBackendType(GetParam());
    options.operatorDescription = "Interval Join (1/1)";
    options.maxParallelism = 128;
    options.keyGroupRange = state::KeyGroupRange{0, 127};
    options.rocksDbDirectory = (tmp_.path() / "rocksdb").string();
    auto backend = state::createKeyedStateBackend(std::move(options));
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
    context_.operatorName = "Interval Join";
    context_.keyedStateBackend = backend_.get();
  }

  /// Opens an operator for t2 in [t1 + lower, t1 + upper] with late data side outputs.
  void open(int64_t lower, int64_t upper) {
    internal::IntervalJoinSettings settings{lower, upper, "late-left", "late-right"};
    op_.emplace(keyOf, keyOfLabel, settings, DescribePair{});
    op_->setOutput(&out_);
    op_->addSideOutput("late-left", &lateLeft_);
    op_->addSideOutput("late-right", &lateRight_);
    op_->open(context_);
  }
  void left(std::string key, int64_t value, int64_t timestamp) {
    static_cast<Output<Event>*>(op_->input())->push(Event{std::move(key), value}, timestamp);
  }
  void right(std::string key, std::string label, int64_t timestamp) {
    static_cast<Output<Label>*>(op_->input2())
        ->push(Label{std::move(key), std::move(label)}, timestamp);
  }
  void watermark(int64_t time) {
    op_->input()->emitWatermark(time);
    op_->input2()->emitWatermark(time);
  }

  /// The timestamps buffered for `key` in `state` (LEFT_BUFFER or RIGHT_BUFFER), ascending.
  template <typename T>
  std::vector<int64_t> buffered(const std::string& key, const char* state) {
    DataOutput bytes;
    brook::serialize(key, bytes);
    backend_->setCurrentKey(bytes.view());
    std::vector<int64_t> timestamps =
        backend_->getMapState(MapStateDescriptor<int64_t, std::vector<T>>(state)).keys();
    std::sort(timestamps.begin(), timestamps.end());
    return timestamps;
  }
  size_t eventTimers() {
    auto* timers = static_cast<internal::TimerQueue*>(
        backend_->findTable(internal::InternalTimerService::kEventTimeQueue));
    return timers == nullptr ? 0 : timers->size();
  }

  testing::TempDir tmp_;
  std::unique_ptr<state::RuntimeKeyedStateBackend> backend_;
  RuntimeContext context_;
  RecordingOutput<std::string> out_;
  RecordingOutput<Event> lateLeft_;
  RecordingOutput<Label> lateRight_;
  std::optional<Operator> op_;
};

TEST_P(IntervalJoinOperatorTest, BuffersAreCleanedOnceTheWatermarkMakesThemUnjoinable) {
  open(-1, 2);  // t2 in [t1 - 1, t1 + 2]
  left("a", 1, 10);       // buffered; removed once the watermark passes 10 + 2
  right("a", "x", 11);    // joins a1 (11 in [9,12]); removed once the watermark passes 11 + 1
  right("b", "q", 11);    // another key: joins nothing
  EXPECT_THAT(out_.records, ElementsAre("a 1@10 x@11@11"));
  EXPECT_THAT(buffered<Event>("a", "LEFT_BUFFER"), ElementsAre(10));
  EXPECT_THAT(buffered<Label>("a", "RIGHT_BUFFER"), ElementsAre(11));
  EXPECT_EQ(eventTimers(), 3u);  // a1 at 13, x at 13, q at 13

  watermark(12);
  right("a", "y", 12);  // not late (12 >= 12): joins a1; removed once the watermark passes 13
  EXPECT_THAT(out_.records, ElementsAre("a 1@10 x@11@11", "a 1@10 y@12@12"));
  EXPECT_THAT(buffered<Event>("a", "LEFT_BUFFER"), ElementsAre(10));
  EXPECT_THAT(buffered<Label>("a", "RIGHT_BUFFER"), ElementsAre(11, 12));

  watermark(13);  // a1, x and q are gone: no element that is not late can join them
  EXPECT_THAT(buffered<Event>("a", "LEFT_BUFFER"), IsEmpty());
  EXPECT_THAT(buffered<Label>("a", "RIGHT_BUFFER"), ElementsAre(12));
  EXPECT_THAT(buffered<Label>("b", "RIGHT_BUFFER"), IsEmpty());
  EXPECT_EQ(eventTimers(), 1u);

  right("a", "z", 12);  // late (12 < 13): to the side output, joins nothing
  left("a", 2, 9);      // late: to the side output, although y@12 is still buffered
  left("a", 3, 13);     // joins y (12 in [12,15])
  EXPECT_THAT(out_.records, ElementsAre("a 1@10 x@11@11", "a 1@10 y@12@12", "a 3@13 y@12@13"));
  EXPECT_THAT(lateRight_.records, ElementsAre("az@12"));
  EXPECT_THAT(lateLeft_.records, ElementsAre("a2@9"));

  watermark(kMaxWatermark);
  EXPECT_THAT(buffered<Event>("a", "LEFT_BUFFER"), IsEmpty());
  EXPECT_THAT(buffered<Label>("a", "RIGHT_BUFFER"), IsEmpty());
  EXPECT_EQ(eventTimers(), 0u);
  EXPECT_THAT(out_.watermarks, ElementsAre(12, 13, kMaxWatermark));
  op_->close();
}

TEST_P(IntervalJoinOperatorTest, ElementsOfOneTimestampShareABufferEntry) {
  open(0, 0);  // equal timestamps only
  left("a", 1, 5);
  left("a", 2, 5);
  right("a", "x", 5);  // joins both, in arrival order
  right("a", "y", 6);
  left("a", 3, 6);
  EXPECT_THAT(out_.records, ElementsAre("a 1@5 x@5@5", "a 2@5 x@5@5", "a 3@6 y@6@6"));
  EXPECT_THAT(buffered<Event>("a", "LEFT_BUFFER"), ElementsAre(5, 6));
  watermark(6);  // removes timestamp 5 of both sides (unjoinable once the watermark passes 5)
  EXPECT_THAT(buffered<Event>("a", "LEFT_BUFFER"), ElementsAre(6));
  EXPECT_THAT(buffered<Label>("a", "RIGHT_BUFFER"), ElementsAre(6));
  op_->close();
}

INSTANTIATE_TEST_SUITE_P(Backends, IntervalJoinOperatorTest, ::testing::Values("heap", "rocksdb"));

// ----------------------------------------------------------------------------------------------
// Plan-time checks.

std::string planError(const std::function<void(StreamExecutionEnvironment&)>& build) {
  StreamExecutionEnvironment env;
  try {
    build(env);
  } catch (const JobDefinitionError& e) {
    return e.what();
  }
  return "no error";
}

TEST(JoinPlanTest, IntervalJoinBoundsAreCheckedWhenTheJobIsDefined) {
  auto keyedLeft = [](StreamExecutionEnvironment& env) {
    return env.fromCollection(std::vector<Event>{{"a", 1}}).keyBy(keyOf);
  };
  auto keyedRight = [](StreamExecutionEnvironment& env) {
    return env.fromCollection(std::vector<Label>{{"a", "x"}}).keyBy(keyOfLabel);
  };
  EXPECT_THAT(planError([&](StreamExecutionEnvironment& env) {
                keyedLeft(env).intervalJoin(keyedRight(env)).between(milliseconds(5),
                                                                     milliseconds(3));
              }),
              HasSubstr("interval join 'Interval Join': the lower bound (5 ms) must not exceed "
                        "the upper bound (3 ms)"));
  EXPECT_THAT(planError([&](StreamExecutionEnvironment& env) {
                keyedLeft(env)
                    .intervalJoin(keyedRight(env))
                    .between(milliseconds(0), milliseconds(0))
                    .lowerBoundExclusive()
                    .process(DescribePair{});
              }),
              HasSubstr("interval join 'Interval Join': the interval (0, 0] ms holds no time "
                        "difference"));
  EXPECT_THAT(planError([&](StreamExecutionEnvironment& env) {
                keyedLeft(env)
                    .intervalJoin(keyedRight(env))
                    .between(milliseconds(3), milliseconds(3))
                    .process(DescribePair{});
              }),
              HasSubstr("no error"));
}

TEST(JoinPlanTest, WindowJoinSettingsAreCheckedNamingTheOperator) {
  auto left = [](StreamExecutionEnvironment& env) {
    return env.fromCollection(std::vector<Event>{{"a", 1}});
  };
  auto right = [](StreamExecutionEnvironment& env) {
    return env.fromCollection(std::vector<Label>{{"a", "x"}});
  };
  EXPECT_THAT(planError([&](StreamExecutionEnvironment& env) {
                left(env)
                    .join(right(env))
                    .where(keyOf)
                    .equalTo(keyOfLabel)
                    .window(TumblingEventTimeWindows::of(milliseconds(0)))
                    .apply(PairJoin{});
              }),
              HasSubstr("window operator 'Window(TumblingEventTimeWindows(0), "
                        "EventTimeTrigger, Join)': window size must be positive"));
  EXPECT_THAT(planError([&](StreamExecutionEnvironment& env) {
                left(env)
                    .coGroup(right(env))
                    .where(keyOf)
                    .equalTo(keyOfLabel)
                    .window(TumblingEventTimeWindows::of(milliseconds(10)))
                    .allowedLateness(milliseconds(-1))
                    .apply(DescribeGroup{});
              }),
              HasSubstr("window operator 'Window(TumblingEventTimeWindows(10), "
                        "EventTimeTrigger, CoGroup)': allowed lateness must not be negative"));
  // A valid join is named after its window and function.
  StreamExecutionEnvironment env;
  auto joined = left(env)
                    .join(right(env))
                    .where(keyOf)
                    .equalTo(keyOfLabel)
                    .window(TumblingEventTimeWindows::of(milliseconds(10)))
                    .apply(PairJoin{});
  EXPECT_EQ(env.streamGraph().nodes.at(joined.id()).name,
            "Window(TumblingEventTimeWindows(10), EventTimeTrigger, Join)");
}

TEST(JoinTaggedUnionTest, EitherSideRoundTripsThroughItsSerializer) {
  using Tagged = TaggedUnion<Event, Label>;
  DataOutput bytes;
  brook::serialize(Tagged::one(Event{"a", 7}), bytes);
  brook::serialize(Tagged::two(Label{"b", "x"}), bytes);
  DataInput in(bytes.view());
  Tagged value;
  brook::deserialize(in, value);
  ASSERT_TRUE(value.isOne());
  EXPECT_EQ(value.getOne(), (Event{"a", 7}));
  brook::deserialize(in, value);  // reuses the value, now holding the other side
  ASSERT_TRUE(value.isTwo());
  EXPECT_EQ(value.getTwo(), (Label{"b", "x"}));
  EXPECT_EQ(in.remaining(), 0u);
  const char corrupt[] = {3};
  DataInput bad(corrupt, 1);
  EXPECT_THROW(brook::deserialize(bad, value), SerializationError);
}

}  // namespace
}  // namespace brook::runtime
