// Event time in jobs: watermark strategies at sources and after operators, lateness as a keyed
// process function sees it, and idle source subtasks that stop holding back the watermark.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "runtime/job_graph.h"
#include "runtime/local_executor.h"

namespace brook::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

using Event = std::pair<std::string, int64_t>;  // key, event timestamp

// How long a test's source waits for a condition before it gives up (and the test fails).
constexpr std::chrono::seconds kPatience{30};

// What a running job's parts tell the test.
struct Signals {
  std::atomic<int64_t> firedTimer{kNoTimestamp};      // the largest event-time timer fired
  std::atomic<int64_t> watermarkAtTimer{kNoTimestamp};  // the watermark at the first timer
  // Set by the silent source subtask when it ends because the timer fired (it did not give up).
  std::atomic<bool> sourceSawTimer{false};
};

Configuration config(int parallelism, const std::string& interval) {
  Configuration c;
  c.set("parallelism.default", std::to_string(parallelism));
  c.set("execution.runtime-mode", "STREAMING");
  c.set("pipeline.auto-watermark-interval", interval);
  return c;
}

// Emits `first`, waits (up to kPatience) until an event-time timer at or after `waitFor` fired
// downstream, then emits `second` and ends.
class TwoPhaseReader final : public SourceReader<Event> {
 public:
  TwoPhaseReader(std::shared_ptr<Signals> signals,
                 std::vector<Event> first,
                 int64_t waitFor,
                 std::vector<Event> second)
      : signals_(std::move(signals)),
        first_(std::move(first)),
        waitFor_(waitFor),
        second_(std::move(second)) {}
  InputStatus pollNext(SourceOutput<Event>& out) override {
    if (!firstSent_) {
      for (const Event& e : first_)
        out.collect(e);
      firstSent_ = true;
      giveUpAt_ = std::chrono::steady_clock::now() + kPatience;
      return InputStatus::kMoreAvailable;
    }
    if (signals_->firedTimer.load() < waitFor_ && std::chrono::steady_clock::now() < giveUpAt_)
      return InputStatus::kNothingAvailable;
    for (const Event& e : second_)
      out.collect(e);
    return InputStatus::kEndOfInput;
  }

 private:
  std::shared_ptr<Signals> signals_;
  std::vector<Event> first_;
  int64_t waitFor_;
  std::vector<Event> second_;
  bool firstSent_ = false;
  std::chrono::steady_clock::time_point giveUpAt_;
};

// Reports each record as on time or late (its timestamp is not after the current watermark)
// and registers an event-time timer at the timestamp of each on-time record.
class LatenessReporter final : public KeyedProcessFunction<std::string, Event, std::string> {
 public:
  explicit LatenessReporter(std::shared_ptr<Signals> signals) : signals_(std::move(signals)) {}
  void processElement(const Event& e, Context& ctx, Collector<std::string>& out) override {
    bool late = ctx.timestamp() <= ctx.timerService().currentWatermark();
    out.collect(std::to_string(ctx.timestamp()) + (late ? " late" : " on time"));
    if (!late)
      ctx.timerService().registerEventTimeTimer(ctx.timestamp());
    (void)e;
  }
  void onTimer(int64_t timestamp, OnTimerContext& ctx, Collector<std::string>& out) override {
    int64_t watermark = ctx.timerService().currentWatermark();
    out.collect("timer " + std::to_string(timestamp) +
                (watermark == kMaxWatermark ? " at the end" : " before the end"));
    int64_t unset = kNoTimestamp;
    signals_->watermarkAtTimer.compare_exchange_strong(unset, watermark);
    int64_t previous = signals_->firedTimer.load();
    while (previous < timestamp && !signals_->firedTimer.compare_exchange_weak(previous, timestamp)) {
    }
  }

 private:
  std::shared_ptr<Signals> signals_;
};

// Where the strategy runs: in the source, or in an operator after it.
enum class Attach { kSource, kOperator };

class OutOfOrdernessTest : public ::testing::TestWithParam<std::tuple<Attach, int>> {};

TEST_P(OutOfOrdernessTest, RecordsBeyondTheBoundAreLate) {
  auto [attach, parallelism] = GetParam();
  auto signals = std::make_shared<Signals>();
  // Phase 1: the largest timestamp 200 and a 50 ms bound give the watermark 149, which fires the
  // timer at 100. Phase 2 comes behind it: 140 and 90 are late, 155 is not.
  std::vector<Event> first = {{"a", 100}, {"a", 200}, {"a", 160}};
  std::vector<Event> second = {{"a", 140}, {"a", 155}, {"a", 90}};
  std::function<std::unique_ptr<SourceReader<Event>>()> reader = [signals, first, second] {
    return std::make_unique<TwoPhaseReader>(signals, first, 100, second);
  };
  auto strategy = WatermarkStrategy<Event>::forBoundedOutOfOrderness(50ms).withTimestampAssigner(
      [](const Event& e, int64_t) { return e.second; });

  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  DataStream<Event> events =
      attach == Attach::kSource
          ? env.fromSource<Event>(reader, strategy, "Two phases", /*bounded=*/true,
                                  /*parallel=*/false)
          : env.fromSource<Event>(reader, "Two phases", /*bounded=*/true, /*parallel=*/false)
                .map([](Event e) { return e; })
                .setParallelism(1)  // chained to the source: one generator sees every record
                .assignTimestampsAndWatermarks(strategy)
                .setParallelism(1);
  events.keyBy([](const Event& e) { return e.first; })
      .process(LatenessReporter(signals))
      .sinkTo(sink.sink());
  auto result = executeLocally(env, config(parallelism, "5 ms"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  EXPECT_THAT(sink.values(),
              ElementsAre("100 on time", "200 on time", "160 on time", "timer 100 before the end",
                          "140 late", "155 on time", "90 late", "timer 155 at the end",
                          "timer 160 at the end", "timer 200 at the end"));
}

INSTANTIATE_TEST_SUITE_P(Watermarks,
                         OutOfOrdernessTest,
                         ::testing::Combine(::testing::Values(Attach::kSource, Attach::kOperator),
                                            ::testing::Values(1, 2)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == Attach::kSource
                                                  ? "AtSource"
                                                  : "AfterOperator") +
                                  "_p" + std::to_string(std::get<1>(info.param));
                         });

// Subtask 0 emits records at 100 and 200; subtask 1 emits nothing. Both then wait, up to
// `patience`, for the timer to fire downstream, and end.
class OneBusySubtaskReader final : public SourceReader<Event> {
 public:
  OneBusySubtaskReader(std::shared_ptr<Signals> signals, std::chrono::milliseconds patience)
      : signals_(std::move(signals)), patience_(patience) {}
  void open(const RuntimeContext& context) override {
    busy_ = context.subtaskIndex == 0;
    giveUpAt_ = std::chrono::steady_clock::now() + patience_;
  }
  InputStatus pollNext(SourceOutput<Event>& out) override {
    if (busy_ && !emitted_) {
      emitted_ = true;
      out.collect(Event{"a", 100});
      out.collect(Event{"a", 200});
      return InputStatus::kMoreAvailable;
    }
    if (signals_->firedTimer.load() != kNoTimestamp) {
      if (!busy_)
        signals_->sourceSawTimer = true;
      return InputStatus::kEndOfInput;
    }
    if (std::chrono::steady_clock::now() > giveUpAt_)
      return InputStatus::kEndOfInput;
    return InputStatus::kNothingAvailable;
  }

 private:
  std::shared_ptr<Signals> signals_;
  std::chrono::milliseconds patience_;
  bool busy_ = false;
  bool emitted_ = false;
  std::chrono::steady_clock::time_point giveUpAt_;
};

void buildIdlenessJob(StreamExecutionEnvironment& env,
                      CollectSink<std::string>& sink,
                      std::shared_ptr<Signals> signals,
                      WatermarkStrategy<Event> strategy,
                      std::chrono::milliseconds patience) {
  std::function<std::unique_ptr<SourceReader<Event>>()> reader = [signals, patience] {
    return std::make_unique<OneBusySubtaskReader>(signals, patience);
  };
  env.fromSource<Event>(reader, std::move(strategy), "One busy", /*bounded=*/true)
      .keyBy([](const Event& e) { return e.first; })
      .process(LatenessReporter(signals))
      .sinkTo(sink.sink());
}

TEST(IdlenessTest, IdleSourceSubtaskStopsHoldingBackTheWatermark) {
  auto signals = std::make_shared<Signals>();
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  buildIdlenessJob(env, sink, signals,
                   WatermarkStrategy<Event>::forMonotonousTimestamps()
                       .withTimestampAssigner([](const Event& e, int64_t) { return e.second; })
                       .withIdleness(50ms),
                   kPatience);
  auto result = executeLocally(env, config(2, "5 ms"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  EXPECT_TRUE(signals->sourceSawTimer.load()) << "the sources gave up waiting for the timer";
  // The busy subtask's watermark alone: the idle one held nothing back.
  EXPECT_EQ(signals->watermarkAtTimer.load(), 199);
  EXPECT_THAT(sink.values(), ElementsAre("100 on time", "200 on time", "timer 100 before the end",
                                         "timer 200 at the end"));
}

TEST(IdlenessTest, WithoutIdlenessASilentSubtaskHoldsBackTheWatermarkToTheEnd) {
  auto signals = std::make_shared<Signals>();
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  buildIdlenessJob(env, sink, signals,
                   WatermarkStrategy<Event>::forMonotonousTimestamps().withTimestampAssigner(
                       [](const Event& e, int64_t) { return e.second; }),
                   300ms);
  auto result = executeLocally(env, config(2, "5 ms"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  // The timer could fire only once the silent subtask had ended.
  EXPECT_FALSE(signals->sourceSawTimer.load());
  auto values = sink.values();
  ASSERT_EQ(values.size(), 4u);
  EXPECT_EQ(values[0], "100 on time");
  EXPECT_EQ(values[1], "200 on time");
  EXPECT_THAT(values[2], HasSubstr("timer 100"));
}

TEST(WatermarkConfigurationTest, IntervalComesFromTheConfiguration) {
  StreamExecutionEnvironment env;
  env.fromElements<int64_t>(1).print();
  auto planned = buildJobGraph(env, Configuration{}, "job");
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->autoWatermarkIntervalMillis, 200);
  Configuration c;
  c.set("pipeline.auto-watermark-interval", "1 s");
  planned = buildJobGraph(env, c, "job");
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->autoWatermarkIntervalMillis, 1000);
  c.set("pipeline.auto-watermark-interval", "soon");
  EXPECT_FALSE(c.validate().ok());
  EXPECT_THAT(std::string(c.validate().message()), HasSubstr("pipeline.auto-watermark-interval"));
}

}  // namespace
}  // namespace brook::runtime
