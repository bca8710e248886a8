// Keyed state and timers as StreamTask runs them: keyed state backends per keyed operator (heap
// and RocksDB), event-time and processing-time timers, failures in timer callbacks, and the
// local state directories of the RocksDB backend.

#include "runtime/stream_task.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "common/testing/files.h"
#include "runtime/job_graph.h"
#include "runtime/local_executor.h"
#include "runtime/mini_cluster.h"
#include "runtime/testing/scripted_source.h"

namespace brook::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using Event = std::pair<std::string, int64_t>;  // key, value

// How long a test's source waits for a condition before it gives up (and the test fails).
constexpr std::chrono::seconds kPatience{30};

Configuration config(const std::string& backend, int parallelism) {
  Configuration c;
  c.set("parallelism.default", std::to_string(parallelism));
  c.set("execution.runtime-mode", "STREAMING");
  c.set("state.backend.type", backend);
  return c;
}

// The test's folder as io.tmp.dirs, so that it holds every local state file.
Configuration configIn(const testing::TempDir& tmp, const std::string& backend, int parallelism) {
  return testing::jobConfiguration(tmp, backend, parallelism);
}

// Every path under `root`, relative to it.
std::vector<std::string> listTree(const std::filesystem::path& root) {
  std::vector<std::string> paths;
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(root, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    paths.push_back(std::filesystem::relative(it->path(), root).string());
  }
  return paths;
}

using Step = testing::ScriptStep<Event>;

// Per key: counts records (ValueState) and collects their values (ListState); an event-time
// timer at the end of each record's 100 ms bucket reports and clears the values, and one
// processing-time timer an hour after the key's first record reports the count (it fires at
// the end of the bounded input).
class BucketReporter final : public KeyedProcessFunction<std::string, Event, std::string> {
 public:
  void open(const RuntimeContext& ctx) override {
    count_ = &ctx.getState(ValueStateDescriptor<int64_t>("count"));
    values_ = &ctx.getListState(ListStateDescriptor<int64_t>("values"));
    hasProcessingTimer_ = &ctx.getState(ValueStateDescriptor<bool>("has-processing-timer", false));
  }

  void processElement(const Event& e, Context& ctx, Collector<std::string>&) override {
    count_->update(count_->value().value_or(0) + 1);
    values_->add(e.second);
    ctx.timerService().registerEventTimeTimer(ctx.timestamp() / 100 * 100 + 99);
    if (!*hasProcessingTimer_->value()) {
      hasProcessingTimer_->update(true);
      ctx.timerService().registerProcessingTimeTimer(ctx.timerService().currentProcessingTime() +
                                                     3'600'000);
    }
  }

  void onTimer(int64_t timestamp, OnTimerContext& ctx, Collector<std::string>& out) override {
    const std::string& key = ctx.getCurrentKey();
    int64_t count = count_->value().value_or(0);
    if (ctx.timeDomain() == TimeDomain::kProcessingTime) {
      out.collect(key + " processing count=" + std::to_string(count));
      return;
    }
    std::string values;
    for (int64_t v : values_->get())
      values += (values.empty() ? "" : ",") + std::to_string(v);
    values_->clear();
    out.collect(key + " event " + std::to_string(timestamp) + " count=" + std::to_string(count) +
                " values=" + values);
  }

 private:
  ValueState<int64_t>* count_ = nullptr;
  ListState<int64_t>* values_ = nullptr;
  ValueState<bool>* hasProcessingTimer_ = nullptr;
};

class KeyedStateAndTimersTest : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(KeyedStateAndTimersTest, ValueListStateAndBothTimersGiveExactResults) {
  auto [backend, parallelism] = GetParam();
  testing::TempDir tmp;
  std::vector<Step> steps = {
      {Event{"a", 1}, 5},   {Event{"b", 2}, 7},
      {Event{"a", 3}, 20},  {std::nullopt, 150},   // fires the 99 timers of a and b
      {Event{"a", 4}, 120}, {Event{"c", 5}, 130},  // the final watermark fires their 199 timers
  };
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  testing::scripted(env, "Scripted", steps)
      .keyBy([](const Event& e) { return e.first; })
      .process(BucketReporter{})
      .sinkTo(sink.sink());
  auto result = executeLocally(env, configIn(tmp, backend, parallelism));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;

  // Each key's results come from one subtask, in order.
  auto resultsOf = [&](const std::string& key) {
    std::vector<std::string> mine;
    for (const std::string& line : sink.values()) {
      if (line.starts_with(key + " "))
        mine.push_back(line);
    }
    return mine;
  };
  EXPECT_THAT(resultsOf("a"), ElementsAre("a event 99 count=2 values=1,3",
                                          "a event 199 count=3 values=4", "a processing count=3"));
  EXPECT_THAT(resultsOf("b"), ElementsAre("b event 99 count=1 values=2", "b processing count=1"));
  EXPECT_THAT(resultsOf("c"), ElementsAre("c event 199 count=1 values=5", "c processing count=1"));
  EXPECT_EQ(sink.values().size(), 7u);
  EXPECT_THAT(listTree(tmp.path()), IsEmpty()) << "local state outlived the job";
}

INSTANTIATE_TEST_SUITE_P(Backends,
                         KeyedStateAndTimersTest,
                         ::testing::Combine(::testing::Values("heap", "rocksdb"),
                                            ::testing::Values(1, 2)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_p" +
                                  std::to_string(std::get<1>(info.param));
                         });

// What a running job's parts tell the test.
struct Signals {
  std::atomic<bool> timerFired{false};
  // Set by the source when it ends because the timer fired (not because it gave up).
  std::atomic<bool> sourceSawTimer{false};
  std::mutex mutex;
  std::vector<std::string> localFilesWhileRunning;
};

// An unbounded source of one record that then waits, up to kPatience, for the timer to fire;
// then lists the local files under `tmp` and ends.
class WaitForTimerReader final : public SourceReader<Event> {
 public:
  WaitForTimerReader(std::shared_ptr<Signals> signals, std::filesystem::path tmp)
      : signals_(std::move(signals)), tmp_(std::move(tmp)) {}
  InputStatus pollNext(SourceOutput<Event>& out) override {
    if (!emitted_) {
      emitted_ = true;
      giveUpAt_ = std::chrono::steady_clock::now() + kPatience;
      out.collect(Event{"k", 1});
      return InputStatus::kMoreAvailable;
    }
    if (signals_->timerFired.load()) {
      std::lock_guard lock(signals_->mutex);
      signals_->localFilesWhileRunning = listTree(tmp_);
      signals_->sourceSawTimer = true;
      return InputStatus::kEndOfInput;
    }
    if (std::chrono::steady_clock::now() > giveUpAt_)
      return InputStatus::kEndOfInput;
    return InputStatus::kNothingAvailable;
  }

 private:
  std::shared_ptr<Signals> signals_;
  std::filesystem::path tmp_;
  bool emitted_ = false;
  std::chrono::steady_clock::time_point giveUpAt_;
};

// Registers a processing-time timer 20 ms after each record; the timer reports (or throws).
class ProcessingTimerFunction final : public KeyedProcessFunction<std::string, Event, std::string> {
 public:
  ProcessingTimerFunction(std::shared_ptr<Signals> signals, bool throwInTimer)
      : signals_(std::move(signals)), throwInTimer_(throwInTimer) {}

  void processElement(const Event&, Context& ctx, Collector<std::string>&) override {
    registeredFor_ = ctx.timerService().currentProcessingTime() + 20;
    ctx.timerService().registerProcessingTimeTimer(registeredFor_);
  }

  void onTimer(int64_t timestamp, OnTimerContext& ctx, Collector<std::string>& out) override {
    if (throwInTimer_)
      throw std::runtime_error("timer exploded");
    bool late = ctx.timerService().currentProcessingTime() >= timestamp;
    out.collect(ctx.getCurrentKey() + " fired at its time: " + (late ? "yes" : "no") +
                ", registered time: " + (timestamp == registeredFor_ ? "yes" : "no"));
    signals_->timerFired = true;
  }

 private:
  std::shared_ptr<Signals> signals_;
  bool throwInTimer_;
  int64_t registeredFor_ = 0;
};

class ProcessingTimeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void build(StreamExecutionEnvironment& env, CollectSink<std::string>& sink, bool throwInTimer) {
    auto signals = signals_;
    std::filesystem::path root = tmp_.path();
    env.fromSource<Event>(
           [signals, root] { return std::make_unique<WaitForTimerReader>(signals, root); },
           "Waiting", /*bounded=*/false, /*parallel=*/false)
        .keyBy([](const Event& e) { return e.first; })
        .process(ProcessingTimerFunction(signals_, throwInTimer))
        .sinkTo(sink.sink());
  }

  testing::TempDir tmp_;
  std::shared_ptr<Signals> signals_ = std::make_shared<Signals>();
};

TEST_P(ProcessingTimeTest, TimerFiresWhileTheJobRunsAndStateIsLocalToIt) {
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  build(env, sink, /*throwInTimer=*/false);
  auto result = executeLocally(env, configIn(tmp_, GetParam(), 1));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  EXPECT_TRUE(signals_->sourceSawTimer.load()) << "the timer fired only at the end of input";
  EXPECT_THAT(sink.values(), ElementsAre("k fired at its time: yes, registered time: yes"));

  std::vector<std::string> files;
  {
    std::lock_guard lock(signals_->mutex);
    files = signals_->localFilesWhileRunning;
  }
  if (GetParam() == "rocksdb") {
    // <tmp>/brook-minicluster-<job>/job_<job>_op_<operator>_<subtask>_attempt_<n>
    std::string execution = "brook-minicluster-" + result->jobId;
    std::string prefix = execution + "/job_" + result->jobId + "_op_";
    bool found = std::any_of(files.begin(), files.end(), [&](const std::string& f) {
      return f.starts_with(prefix) && f.ends_with("_0_attempt_0");
    });
    EXPECT_TRUE(found) << "no RocksDB directory " << prefix << "..._0_attempt_0 among "
                       << ::testing::PrintToString(files);
  } else {
    EXPECT_THAT(files, IsEmpty());
  }
  EXPECT_THAT(listTree(tmp_.path()), IsEmpty()) << "local state outlived the job";
}

TEST_P(ProcessingTimeTest, ThrowingOnTimerFailsTheJobWithTheOperatorName) {
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  build(env, sink, /*throwInTimer=*/true);
  auto result = executeLocally(env, configIn(tmp_, GetParam(), 1));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFailed);
  EXPECT_THAT(result->failure, HasSubstr("operator 'Keyed Process (1/1)' failed: timer exploded"));
  EXPECT_THAT(listTree(tmp_.path()), IsEmpty()) << "local state outlived the failed job";
}

INSTANTIATE_TEST_SUITE_P(Backends, ProcessingTimeTest, ::testing::Values("heap", "rocksdb"));

// A source that registers timers with the task's ProcessingTimeService when it opens and ends
// when they all fired (or, after kPatience, gives up).
class TimedReader final : public SourceReader<int64_t> {
 public:
  struct Log {
    std::mutex mutex;
    std::vector<std::string> fired;
  };

  TimedReader(std::shared_ptr<Log> log, bool throwInTimer)
      : log_(std::move(log)), throwInTimer_(throwInTimer) {}

  void open(const RuntimeContext& context) override {
    ProcessingTimeService* service = context.processingTimeService;
    int64_t now = service->currentProcessingTime();
    if (throwInTimer_) {
      service->registerTimer(now, [](int64_t) { throw std::runtime_error("source timer failed"); });
      expected_ = 1;
      return;
    }
    auto record = [this, now](std::string name) {
      return [this, now, name](int64_t time) {
        std::lock_guard lock(log_->mutex);
        log_->fired.push_back(name + "@" + std::to_string(time - now));
      };
    };
    service->registerTimer(now + 30, record("b"));
    service->registerTimer(now + 10, [this, service, now, record](int64_t time) {
      record("a")(time);
      // Registered later than b and c for the same time: fires after them.
      service->registerTimer(now + 30, record("d"));
    });
    service->registerTimer(now + 30, record("c"));
    service->registerTimer(now - 1000, record("past"));
    expected_ = 5;
  }

  InputStatus pollNext(SourceOutput<int64_t>&) override {
    if (giveUpAt_ == std::chrono::steady_clock::time_point{})
      giveUpAt_ = std::chrono::steady_clock::now() + kPatience;
    {
      std::lock_guard lock(log_->mutex);
      if (log_->fired.size() >= expected_)
        return InputStatus::kEndOfInput;
    }
    return std::chrono::steady_clock::now() > giveUpAt_ ? InputStatus::kEndOfInput
                                                        : InputStatus::kNothingAvailable;
  }

 private:
  std::shared_ptr<Log> log_;
  bool throwInTimer_;
  size_t expected_ = 0;
  std::chrono::steady_clock::time_point giveUpAt_{};
};

TEST(ProcessingTimeServiceTest, FiresTimersInTimeOrderAndTiesInRegistrationOrder) {
  auto log = std::make_shared<TimedReader::Log>();
  StreamExecutionEnvironment env;
  env.fromSource<int64_t>([log] { return std::make_unique<TimedReader>(log, false); }, "Timed",
                          /*bounded=*/false, /*parallel=*/false)
      .print();
  auto result = executeLocally(env, config("heap", 1));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  std::lock_guard lock(log->mutex);
  EXPECT_THAT(log->fired, ElementsAre("past@-1000", "a@10", "b@30", "c@30", "d@30"));
}

TEST(ProcessingTimeServiceTest, ThrowingCallbackFailsTheTaskNamingTheOperator) {
  auto log = std::make_shared<TimedReader::Log>();
  StreamExecutionEnvironment env;
  env.fromSource<int64_t>([log] { return std::make_unique<TimedReader>(log, true); }, "Timed",
                          /*bounded=*/false, /*parallel=*/false)
      .print();
  auto result = executeLocally(env, config("heap", 1));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFailed);
  EXPECT_THAT(result->failure,
              HasSubstr("operator 'Source: Timed (1/1)' failed: source timer failed"));
}

TEST(StateBackendConfigurationTest, UnknownTypeFailsPlanningNamingTheKey) {
  StreamExecutionEnvironment env;
  env.fromElements(Event{"a", 1})
      .keyBy([](const Event& e) { return e.first; })
      .process(BucketReporter{})
      .print();
  auto result = executeLocally(env, config("bogus", 1));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("state.backend.type"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("bogus"));
}

TEST(StateBackendConfigurationTest, BackendThatCannotBeCreatedFailsTheTaskWithThePath) {
  testing::TempDir tmp;
  // A file where the temporary folder should be: no folder can be made under it.
  std::filesystem::path notAFolder = tmp.path() / "not-a-folder";
  testing::writeFile(notAFolder, "x");
  Configuration c = config("rocksdb", 1);
  c.set("io.tmp.dirs", notAFolder.string());
  StreamExecutionEnvironment env;
  env.fromElements(Event{"a", 1})
      .keyBy([](const Event& e) { return e.first; })
      .process(BucketReporter{})
      .print();
  auto result = executeLocally(env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFailed);
  EXPECT_THAT(result->failure, HasSubstr("Keyed Process (1/1)"));
  EXPECT_THAT(result->failure, HasSubstr(notAFolder.string() + "/brook-minicluster-"));
}

}  // namespace
}  // namespace brook::runtime
