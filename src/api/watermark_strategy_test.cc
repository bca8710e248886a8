// Watermark strategies and the operator that runs them, driven directly with a fake
// processing-time service (src/runtime/watermark_job_test.cc runs them in jobs).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

namespace brook {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Everything an operator emits, in order, as text: "r<value>@<ts>", "w<watermark>", "idle",
// "active".
class RecordingOutput final : public Output<int64_t> {
 public:
  void push(int64_t&& record, int64_t timestamp) override {
    events.push_back("r" + std::to_string(record) + "@" + std::to_string(timestamp));
  }
  void emitWatermark(int64_t watermark) override {
    events.push_back(watermark == kMaxWatermark ? "wmax" : "w" + std::to_string(watermark));
  }
  void emitWatermarkStatus(bool idle) override { events.push_back(idle ? "idle" : "active"); }
  std::vector<std::string> events;
};

// Timers run only when the test advances the clock.
class FakeProcessingTime final : public ProcessingTimeService {
 public:
  int64_t currentProcessingTime() const override { return now; }
  void registerTimer(int64_t time, std::function<void(int64_t)> callback) override {
    timers.emplace_back(time, std::move(callback));
  }
  void advanceTo(int64_t time) {
    now = time;
    for (bool ran = true; ran;) {
      ran = false;
      for (size_t i = 0; i < timers.size(); ++i) {
        if (timers[i].first <= now) {
          auto timer = std::move(timers[i]);
          timers.erase(timers.begin() + static_cast<std::ptrdiff_t>(i));
          timer.second(timer.first);
          ran = true;
          break;
        }
      }
    }
  }
  int64_t now = 1000;
  std::vector<std::pair<int64_t, std::function<void(int64_t)>>> timers;
};

class RecordingWatermarkOutput final : public WatermarkOutput {
 public:
  void emitWatermark(int64_t watermark) override { events.push_back(std::to_string(watermark)); }
  void markIdle() override { events.push_back("idle"); }
  void markActive() override { events.push_back("active"); }
  std::vector<std::string> events;
};

// Runs a strategy in its operator with a 200 ms period.
struct Harness {
  explicit Harness(WatermarkStrategy<int64_t> strategy, int64_t interval = 200)
      : op(std::move(strategy)) {
    context.operatorName = "Timestamps/Watermarks";
    context.processingTimeService = &clock;
    context.autoWatermarkIntervalMillis = interval;
    op.setOutput(&out);
    op.open(context);
  }
  void push(int64_t value, int64_t timestamp = kNoTimestamp) {
    static_cast<Output<int64_t>*>(op.input())->push(int64_t{value}, timestamp);
  }
  FakeProcessingTime clock;
  RuntimeContext context;
  RecordingOutput out;
  internal::TimestampsAndWatermarksOperator<int64_t> op;
};

TEST(WatermarkStrategyTest, BoundedOutOfOrdernessTrailsTheLargestTimestampByTheBound) {
  BoundedOutOfOrdernessWatermarks<int> generator(5);
  RecordingWatermarkOutput out;
  generator.onEvent(0, 10, out);
  generator.onEvent(0, 30, out);
  generator.onEvent(0, 20, out);
  generator.onPeriodicEmit(out);
  EXPECT_THAT(out.events, ElementsAre("24"));
}

TEST(WatermarkStrategyTest, IdlenessMarksIdleAfterTheTimeoutWithoutEvents) {
  int64_t now = 0;
  auto strategy = WatermarkStrategy<int>::forMonotonousTimestamps().withIdleness(100ms);
  auto generator = strategy.createGenerator([&now] { return now; });
  RecordingWatermarkOutput out;
  generator->onEvent(0, 7, out);
  generator->onPeriodicEmit(out);  // events since the last check: active
  now = 50;
  generator->onPeriodicEmit(out);  // inactivity starts
  now = 120;
  generator->onPeriodicEmit(out);  // 70 ms without events: not yet
  now = 150;
  generator->onPeriodicEmit(out);  // 100 ms: idle
  generator->onEvent(0, 9, out);
  generator->onPeriodicEmit(out);
  EXPECT_THAT(out.events, ElementsAre("6", "6", "6", "idle", "8"));
}

TEST(WatermarkStrategyTest, OperatorAssignsTimestampsAndEmitsPeriodically) {
  Harness h(WatermarkStrategy<int64_t>::forBoundedOutOfOrderness(10ms).withTimestampAssigner(
      [](const int64_t& v, int64_t) { return v * 100; }));
  h.push(1);
  h.push(3);
  h.push(2);  // out of order, within the bound of the watermark
  h.clock.advanceTo(1200);
  h.push(5);
  h.clock.advanceTo(1400);
  h.clock.advanceTo(1600);  // no new events: the same watermark is not emitted again
  EXPECT_THAT(h.out.events, ElementsAre("r1@100", "r3@300", "r2@200", "w289", "r5@500", "w489"));
}

TEST(WatermarkStrategyTest, OperatorDropsUpstreamWatermarksButTheFinalOne) {
  Harness h(WatermarkStrategy<int64_t>::forMonotonousTimestamps());
  h.push(1, 50);
  h.op.emitWatermark(1000);  // upstream watermarks do not count
  h.clock.advanceTo(1200);
  h.op.emitWatermark(kMaxWatermark);
  h.clock.advanceTo(1400);  // nothing after the final watermark
  EXPECT_THAT(h.out.events, ElementsAre("r1@50", "w49", "wmax"));
}

// Emits a watermark on every event whose value is even, and 1000 on each period.
class EvenEventsGenerator final : public WatermarkGenerator<int64_t> {
 public:
  void onEvent(const int64_t& event, int64_t timestamp, WatermarkOutput& out) override {
    if (event % 2 == 0)
      out.emitWatermark(timestamp);
  }
  void onPeriodicEmit(WatermarkOutput& out) override { out.emitWatermark(1000); }
};

TEST(WatermarkStrategyTest, CustomGeneratorWatermarksFollowTheirRecordAndNeverGoBack) {
  Harness h(WatermarkStrategy<int64_t>::forGenerator(
      [] { return std::make_unique<EvenEventsGenerator>(); }));
  h.push(2, 20);
  h.push(4, 10);  // its watermark would go back: dropped
  h.push(6, 30);
  h.clock.advanceTo(1200);
  h.push(8, 40);  // behind the watermark: late, and its watermark is dropped
  EXPECT_THAT(h.out.events, ElementsAre("r2@20", "w20", "r4@10", "r6@30", "w30", "w1000", "r8@40"));
}

TEST(WatermarkStrategyTest, IdleStreamBecomesActiveWithItsNextRecord) {
  Harness h(WatermarkStrategy<int64_t>::forMonotonousTimestamps().withIdleness(300ms));
  h.push(1, 10);
  for (int64_t t = 1200; t <= 2000; t += 200)
    h.clock.advanceTo(t);
  h.push(2, 20);
  h.clock.advanceTo(2200);
  EXPECT_THAT(h.out.events, ElementsAre("r1@10", "w9", "idle", "active", "r2@20", "w19"));
}

TEST(WatermarkStrategyTest, ZeroIntervalDisablesPeriodicEmission) {
  Harness h(WatermarkStrategy<int64_t>::forMonotonousTimestamps(), /*interval=*/0);
  h.push(1, 10);
  h.clock.advanceTo(5000);
  EXPECT_TRUE(h.clock.timers.empty());
  EXPECT_THAT(h.out.events, ElementsAre("r1@10"));
}

TEST(WatermarkStrategyTest, IngestionTimeStampsRecordsWithProcessingTime) {
  Harness h(WatermarkStrategy<int64_t>::forIngestionTime());
  h.push(1, 5);
  h.clock.advanceTo(1200);
  EXPECT_THAT(h.out.events, ElementsAre("r1@1000", "w999"));
}

TEST(WatermarkStrategyTest, NegativeOutOfOrdernessIsAJobDefinitionErrorNamingTheOperator) {
  StreamExecutionEnvironment env;
  auto stream = env.fromElements<int64_t>(1, 2, 3);
  try {
    stream.assignTimestampsAndWatermarks(
        WatermarkStrategy<int64_t>::forBoundedOutOfOrderness(-5ms));
    FAIL() << "no error";
  } catch (const JobDefinitionError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'Timestamps/Watermarks'"));
    EXPECT_THAT(e.what(), HasSubstr("out-of-orderness must be >= 0 ms, got -5 ms"));
  }
}

TEST(WatermarkStrategyTest, NonPositiveIdlenessIsAJobDefinitionErrorNamingTheSource) {
  StreamExecutionEnvironment env;
  std::function<std::unique_ptr<SourceReader<int64_t>>()> reader = [] {
    return std::make_unique<SequenceSourceReader>(1, 10);
  };
  try {
    env.fromSource<int64_t>(
        reader, WatermarkStrategy<int64_t>::forMonotonousTimestamps().withIdleness(0ms), "Numbers",
        /*bounded=*/true);
    FAIL() << "no error";
  } catch (const JobDefinitionError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'Source: Numbers'"));
    EXPECT_THAT(e.what(), HasSubstr("idleness timeout must be > 0 ms, got 0 ms"));
  }
  EXPECT_THROW(env.fromElements<int64_t>(1).assignTimestampsAndWatermarks(
                   WatermarkStrategy<int64_t>::noWatermarks().withIdleness(-1ms)),
               JobDefinitionError);
}

}  // namespace
}  // namespace brook
