// Recovery on the mini-cluster: a job whose task fails restarts from its latest completed
// checkpoint (keyed state, timers and source positions restored) and ends with exactly the
// results of a run without failure; a job starts from a retained checkpoint at another
// parallelism and on the other state backend; state without a matching operator is refused
// unless allowed. Each with the heap backend, RocksDB, and RocksDB with incremental checkpoints.
// Results are compared with counts computed by a plain loop.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "checkpoint/checkpoint_storage.h"
#include "common/testing/files.h"
#include "runtime/local_executor.h"
#include "runtime/testing/count_and_sum.h"
#include "runtime/testing/scripted_source.h"

namespace brook::runtime {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int64_t kNumbers = 120'000;
constexpr int64_t kKeys = 61;
constexpr int64_t kEndTimer = int64_t{1} << 60;

// What the tasks of a job (in this process) and the test share.
struct Probe {
  std::atomic<int> completedCheckpoints{0};
  std::atomic<int> restoredPositions{0};
  // Attempts 0 .. failingAttempts - 1 fail once each, after `failAfterCheckpoints` more
  // checkpoint notifications than the attempt before.
  int failingAttempts = 0;
  int failAfterCheckpoints = 2;
  std::atomic<int> failures{0};
};
Probe* probe = nullptr;

// The numbers [0, kNumbers) in small, slow steps, so that checkpoints fall inside the stream.
class SlowSequenceReader final : public SourceReader<int64_t> {
 public:
  void open(const RuntimeContext& context) override { inner_.open(context); }
  InputStatus pollNext(SourceOutput<int64_t>& out) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(8));
    return inner_.pollNext(out);
  }
  std::string snapshotState(int64_t checkpointId) override {
    return inner_.snapshotState(checkpointId);
  }
  void restoreState(std::string_view state) override {
    ++probe->restoredPositions;
    inner_.restoreState(state);
  }
  void notifyCheckpointComplete(int64_t) override { ++probe->completedCheckpoints; }

 private:
  SequenceSourceReader inner_{0, kNumbers - 1};
};

// Per key: the count and sum of its numbers, emitted once, at the end of the input, by an
// event-time timer (so that only a run that reaches the end emits anything). Throws while the
// probe has failures to inject.
class CountAndSumAtEnd final : public KeyedProcessFunction<int64_t, int64_t, std::string> {
 public:
  void open(const RuntimeContext& ctx) override {
    count_ = &ctx.getState(ValueStateDescriptor<int64_t>("count"));
    sum_ = &ctx.getState(ValueStateDescriptor<int64_t>("sum"));
    attempt_ = ctx.attemptNumber;
  }
  void processElement(const int64_t& x, Context& ctx, Collector<std::string>&) override {
    if (attempt_ < probe->failingAttempts &&
        probe->completedCheckpoints.load() >= probe->failAfterCheckpoints * (attempt_ + 1)) {
      int failures = attempt_;
      if (probe->failures.compare_exchange_strong(failures, attempt_ + 1))
        throw std::runtime_error("injected failure");
    }
    std::optional<int64_t> count = count_->value();
    if (!count)
      ctx.timerService().registerEventTimeTimer(kEndTimer);
    count_->update(count.value_or(0) + 1);
    sum_->update(sum_->value().value_or(0) + x);
  }
  void onTimer(int64_t, OnTimerContext& ctx, Collector<std::string>& out) override {
    out.collect(std::to_string(ctx.getCurrentKey()) + "," + std::to_string(*count_->value()) +
                "," + std::to_string(*sum_->value()));
  }

 private:
  ValueState<int64_t>* count_ = nullptr;
  ValueState<int64_t>* sum_ = nullptr;
  int attempt_ = 0;
};

std::vector<std::string> expectedLines() {
  return testing::countAndSumLines(kNumbers, kKeys);
}

using testing::sorted;

struct Job {
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;

  explicit Job(const std::string& counterUid = "counter") {
    env.fromSource<int64_t>([] { return std::make_unique<SlowSequenceReader>(); }, "Numbers",
                            /*bounded=*/true, /*parallel=*/true)
        .uid("numbers")
        .keyBy([](const int64_t& x) { return x % kKeys; })
        .process(CountAndSumAtEnd{})
        .uid(counterUid)
        .sinkTo(sink.sink());
  }
};

// `backend`: heap, rocksdb, or rocksdb-incremental (rocksdb with incremental checkpoints).
Configuration checkpointed(const testing::TempDir& tmp, const std::string& backend,
                           int parallelism) {
  const bool incremental = backend == "rocksdb-incremental";
  Configuration c = testing::jobConfiguration(tmp, incremental ? "rocksdb" : backend, parallelism);
  c.set("state.backend.incremental", incremental ? "true" : "false");
  c.set("execution.checkpointing.interval", "10ms");
  c.set("state.checkpoints.dir", "file://" + (tmp.path() / "checkpoints").string());
  return c;
}

class RecoveryJobTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { probe = &probe_; }
  void TearDown() override { probe = nullptr; }
  // Where a retained checkpoint is restored: on the other backend, but an incremental
  // checkpoint (RocksDB's own files) restores only into RocksDB.
  std::string otherBackend() const { return GetParam() == "rocksdb" ? "heap" : "rocksdb"; }
  bool incremental() const { return GetParam() == "rocksdb-incremental"; }

  Probe probe_;
  testing::TempDir tmp_;
};

TEST_P(RecoveryJobTest, RestartsFromTheLatestCheckpointWithExactlyTheSameResults) {
  probe_.failingAttempts = 2;
  Job job;
  Configuration c = checkpointed(tmp_, GetParam(), 2);
  c.set("restart-strategy.type", "fixed-delay");
  c.set("restart-strategy.fixed-delay.attempts", "3");
  c.set("restart-strategy.fixed-delay.delay", "10ms");
  absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  EXPECT_EQ(result->restarts, 2);
  EXPECT_EQ(probe_.failures.load(), 2);
  // Both restarts resumed the sources from a checkpoint (one position per source subtask).
  EXPECT_EQ(probe_.restoredPositions.load(), 4);
  EXPECT_EQ(sorted(job.sink.values()), expectedLines());
}

TEST_P(RecoveryJobTest, WithoutARestartStrategyTheFailureFailsTheJob) {
  probe_.failingAttempts = 1;
  Job job;
  Configuration c = checkpointed(tmp_, GetParam(), 2);
  c.set("restart-strategy.type", "none");
  absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, JobStatus::kFailed);
  EXPECT_THAT(result->failure, HasSubstr("injected failure"));
  EXPECT_EQ(result->restarts, 0);
  EXPECT_TRUE(job.sink.values().empty());
}

TEST_P(RecoveryJobTest, ResumesFromARetainedCheckpointAtAnotherParallelismAndBackend) {
  // A first run fails for good after some checkpoints; its latest checkpoint stays behind.
  std::string checkpoint;
  {
    probe_.failingAttempts = 1;
    Job job;
    Configuration c = checkpointed(tmp_, GetParam(), 2);
    c.set("restart-strategy.type", "none");
    absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->status, JobStatus::kFailed);
    ASSERT_FALSE(result->latestCheckpoint.empty());
    checkpoint = result->latestCheckpoint;
  }
  absl::StatusOr<checkpoint::CheckpointMetadata> metadata = checkpoint::readMetadata(checkpoint);
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  // An incremental checkpoint holds the counter's RocksDB files, the SST files shared.
  EXPECT_EQ(!metadata->sharedFiles().empty(), incremental());
  if (incremental()) {
    Job job;
    Configuration c = testing::jobConfiguration(tmp_, "heap", 2);
    c.set("execution.savepoint.path", checkpoint);
    absl::StatusOr<JobExecutionResult> refused = executeLocally(job.env, c);
    ASSERT_TRUE(refused.ok()) << refused.status();
    EXPECT_EQ(refused->status, JobStatus::kFailed);
    EXPECT_THAT(refused->failure,
                HasSubstr("an incremental RocksDB checkpoint restores only into the rocksdb "
                          "state backend, not heap"));
  }
  for (int parallelism : {3, 1}) {
    SCOPED_TRACE("parallelism " + std::to_string(parallelism));
    probe_.restoredPositions = 0;
    Job job;
    Configuration c = testing::jobConfiguration(tmp_, otherBackend(), parallelism);
    c.set("execution.savepoint.path", checkpoint);
    absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
    EXPECT_EQ(probe_.restoredPositions.load(), 2);  // the two positions of the first run
    EXPECT_EQ(sorted(job.sink.values()), expectedLines());
  }
}

TEST_P(RecoveryJobTest, StateOfAnOperatorTheJobLacksIsRefusedUnlessAllowed) {
  std::string checkpoint;
  {
    probe_.failingAttempts = 1;
    // Two checkpoints completed at both sources (each notification counts once per source
    // subtask) before the failure, so that the one restored covers records: a first checkpoint
    // can come before the slow sources emitted anything, and then the counts after the restore
    // would cover every number whether or not the counter's state was dropped.
    probe_.failAfterCheckpoints = 4;
    Job job;
    Configuration c = checkpointed(tmp_, GetParam(), 2);
    c.set("restart-strategy.type", "none");
    absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_FALSE(result->latestCheckpoint.empty());
    checkpoint = result->latestCheckpoint;
  }
  Job renamed("renamed-counter");
  Configuration c = testing::jobConfiguration(tmp_, incremental() ? "rocksdb" : GetParam(), 2);
  c.set("execution.savepoint.path", checkpoint);
  absl::StatusOr<JobExecutionResult> refused = executeLocally(renamed.env, c);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->status, JobStatus::kFailed);
  EXPECT_THAT(refused->failure, HasSubstr("'counter'"));
  EXPECT_THAT(refused->failure, HasSubstr("--allow-non-restored-state"));

  c.set("execution.savepoint.ignore-unclaimed-state", "true");
  Job allowed("renamed-counter");
  probe_.restoredPositions = 0;
  absl::StatusOr<JobExecutionResult> result = executeLocally(allowed.env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, JobStatus::kFinished) << result->failure;
  EXPECT_EQ(probe_.restoredPositions.load(), 2);
  // The sources resumed; the counts start from nothing, so they cover only the rest.
  int64_t counted = 0;
  for (const std::string& line : allowed.sink.values())
    counted += std::stoll(line.substr(line.find(',') + 1));
  EXPECT_GT(counted, 0);
  EXPECT_LT(counted, kNumbers);
}

// The numbers [0, kNumbers) as in SlowSequenceReader; the first attempt fails after two
// completed checkpoints.
class FailingSequenceReader final : public SourceReader<int64_t> {
 public:
  void open(const RuntimeContext& context) override {
    attempt_ = context.attemptNumber;
    inner_.open(context);
  }
  InputStatus pollNext(SourceOutput<int64_t>& out) override {
    if (attempt_ == 0 && probe->completedCheckpoints.load() >= 4) {
      int none = 0;
      if (probe->failures.compare_exchange_strong(none, 1))
        throw std::runtime_error("injected failure");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(8));
    return inner_.pollNext(out);
  }
  std::string snapshotState(int64_t checkpointId) override {
    return inner_.snapshotState(checkpointId);
  }
  void restoreState(std::string_view state) override { inner_.restoreState(state); }
  void notifyCheckpointComplete(int64_t) override { ++probe->completedCheckpoints; }

 private:
  int attempt_ = 0;
  SequenceSourceReader inner_{0, kNumbers - 1};
};

// A rolling sum keeps its values in keyed state: after the restart, each key's sums go on from
// the checkpointed ones, so the last value emitted per key is the sum of all its numbers.
TEST_P(RecoveryJobTest, ARollingSumGoesOnFromItsCheckpointedValues) {
  StreamExecutionEnvironment env;
  CollectSink<std::pair<int64_t, int64_t>> sink;
  env.fromSource<int64_t>([] { return std::make_unique<FailingSequenceReader>(); }, "Numbers",
                          /*bounded=*/true, /*parallel=*/true)
      .uid("numbers")
      .map([](int64_t x) { return std::make_pair(x % kKeys, x); })
      .keyBy([](const std::pair<int64_t, int64_t>& p) { return p.first; })
      .sum([](std::pair<int64_t, int64_t>& p) -> int64_t& { return p.second; })
      .uid("sum")
      .sinkTo(sink.sink());
  Configuration c = checkpointed(tmp_, GetParam(), 2);
  c.set("restart-strategy.type", "fixed-delay");
  c.set("restart-strategy.fixed-delay.attempts", "1");
  c.set("restart-strategy.fixed-delay.delay", "10ms");
  absl::StatusOr<JobExecutionResult> result = executeLocally(env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  EXPECT_EQ(result->restarts, 1);
  std::map<int64_t, int64_t> expected;
  for (int64_t x = 0; x < kNumbers; ++x)
    expected[x % kKeys] += x;
  // Sums only grow, so the largest value seen per key is the last one emitted.
  std::map<int64_t, int64_t> last;
  for (const auto& [key, sum] : sink.values())
    last[key] = std::max(last[key], sum);
  EXPECT_EQ(last, expected);
}

TEST(RecoveryJobErrorsTest, AMissingSavepointIsAClearError) {
  testing::TempDir tmp;
  Job job;
  Configuration c = testing::jobConfiguration(tmp, "heap", 1);
  c.set("execution.savepoint.path", (tmp.path() / "no-such-savepoint").string());
  absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, JobStatus::kFailed);
  EXPECT_THAT(result->failure, HasSubstr("no-such-savepoint"));
}

INSTANTIATE_TEST_SUITE_P(Backends,
                         RecoveryJobTest,
                         ::testing::Values("heap", "rocksdb", "rocksdb-incremental"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::erase(name, '-');
                           return name;
                         });

}  // namespace
}  // namespace brook::runtime
