// Unaligned checkpoints on the mini-cluster, under backpressure from a slow keyed operator:
// barriers overtake the queued data, which the checkpoint stores as in-flight data; a job
// restored from such a checkpoint (retained, or after a task failure) ends with exactly the
// results of a run without failure; the in-flight data binds the checkpoint to its
// parallelism; and where aligned checkpoints time out behind the queues, unaligned ones
// complete. Results are compared with totals computed by a plain loop.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "checkpoint/channel_state.h"
#include "checkpoint/checkpoint_storage.h"
#include "common/testing/files.h"
#include "runtime/local_executor.h"
#include "runtime/testing/count_and_sum.h"
#include "runtime/testing/scripted_source.h"

namespace brook::runtime {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kKeys = 37;
constexpr int64_t kEndTimer = int64_t{1} << 60;

struct Probe {
  std::atomic<int> completedCheckpoints{0};
  std::atomic<int> restoredPositions{0};
  // Attempt 0 fails once after this many checkpoint notifications (0: never).
  int failAfterCheckpoints = 0;
  std::atomic<int> failures{0};
  // Time the keyed operator spends on each record: what makes the queues before it fill up.
  std::chrono::microseconds perRecord{20};
};
Probe* probe = nullptr;

// The numbers [0, n), as fast as the channels take them.
class CountingSequenceReader final : public SourceReader<int64_t> {
 public:
  explicit CountingSequenceReader(int64_t n) : inner_(0, n - 1) {}
  void open(const RuntimeContext& context) override { inner_.open(context); }
  InputStatus pollNext(SourceOutput<int64_t>& out) override { return inner_.pollNext(out); }
  std::string snapshotState(int64_t checkpointId) override {
    return inner_.snapshotState(checkpointId);
  }
  void restoreState(std::string_view state) override {
    ++probe->restoredPositions;
    inner_.restoreState(state);
  }
  void notifyCheckpointComplete(int64_t) override { ++probe->completedCheckpoints; }

 private:
  SequenceSourceReader inner_;
};

// "x|" and 0 to 290 bytes of padding, so that records of many sizes span network buffers.
std::string recordOf(int64_t x) {
  std::string s = std::to_string(x);
  s.push_back('|');
  s.append(static_cast<size_t>(x % 97) * 3, static_cast<char>('a' + x % 26));
  return s;
}

int64_t numberOf(const std::string& record) {
  const size_t bar = record.find('|');
  if (bar == std::string::npos ||
      record.size() != bar + 1 + static_cast<size_t>(std::stoll(record.substr(0, bar)) % 97) * 3) {
    throw std::runtime_error("damaged record '" + record.substr(0, 40) + "'");
  }
  return std::stoll(record.substr(0, bar));
}

// Per key: count and sum of its numbers, emitted once at the end of the input; slow per record.
class SlowCountAndSum final : public KeyedProcessFunction<int64_t, std::string, std::string> {
 public:
  void open(const RuntimeContext& ctx) override {
    count_ = &ctx.getState(ValueStateDescriptor<int64_t>("count"));
    sum_ = &ctx.getState(ValueStateDescriptor<int64_t>("sum"));
    attempt_ = ctx.attemptNumber;
  }
  void processElement(const std::string& record, Context& ctx, Collector<std::string>&) override {
    if (attempt_ == 0 && probe->failAfterCheckpoints > 0 &&
        probe->completedCheckpoints.load() >= probe->failAfterCheckpoints) {
      int none = 0;
      if (probe->failures.compare_exchange_strong(none, 1))
        throw std::runtime_error("injected failure");
    }
    std::this_thread::sleep_for(probe->perRecord);
    const int64_t x = numberOf(record);
    std::optional<int64_t> count = count_->value();
    if (!count)
      ctx.timerService().registerEventTimeTimer(kEndTimer);
    count_->update(count.value_or(0) + 1);
    sum_->update(sum_->value().value_or(0) + x);
  }
  void onTimer(int64_t, OnTimerContext& ctx, Collector<std::string>& out) override {
    out.collect(std::to_string(ctx.getCurrentKey()) + "," + std::to_string(*count_->value()) + "," +
                std::to_string(*sum_->value()));
  }

 private:
  ValueState<int64_t>* count_ = nullptr;
  ValueState<int64_t>* sum_ = nullptr;
  int attempt_ = 0;
};

std::vector<std::string> expectedLines(int64_t n) {
  return testing::countAndSumLines(n, kKeys);
}

using testing::sorted;

struct Job {
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;

  explicit Job(int64_t n) {
    env.fromSource<int64_t>([n] { return std::make_unique<CountingSequenceReader>(n); }, "Numbers",
                            /*bounded=*/true, /*parallel=*/true)
        .uid("numbers")
        .map([](int64_t x) { return recordOf(x); })
        .uid("records")
        .keyBy([](const std::string& r) { return numberOf(r) % kKeys; })
        .process(SlowCountAndSum{})
        .uid("counter")
        .sinkTo(sink.sink());
  }
};

Configuration unaligned(const testing::TempDir& tmp, const std::string& backend, int parallelism) {
  Configuration c = testing::jobConfiguration(tmp, backend, parallelism);
  c.set("execution.checkpointing.interval", "20ms");
  c.set("execution.checkpointing.unaligned.enabled", "true");
  c.set("state.checkpoints.dir", "file://" + (tmp.path() / "checkpoints").string());
  return c;
}

// The input and output channels with data in the checkpoint's channel state files.
struct InFlight {
  int inputs = 0;
  int outputs = 0;
};
InFlight inFlightData(const std::string& checkpoint) {
  absl::StatusOr<checkpoint::CheckpointMetadata> metadata = checkpoint::readMetadata(checkpoint);
  EXPECT_TRUE(metadata.ok()) << metadata.status();
  InFlight total;
  if (!metadata.ok())
    return total;
  for (const auto& op : metadata->operators) {
    for (const auto& subtask : op.subtasks) {
      for (const auto& file : subtask.channelState) {
        absl::StatusOr<std::string> bytes = checkpoint::readStateFile(checkpoint, file);
        EXPECT_TRUE(bytes.ok()) << bytes.status();
        if (!bytes.ok())
          continue;
        absl::StatusOr<checkpoint::ChannelStateSnapshot> channels =
            checkpoint::decodeChannelState(*bytes, file.path);
        EXPECT_TRUE(channels.ok()) << channels.status();
        if (!channels.ok())
          continue;
        total.inputs += static_cast<int>(channels->inputs.size());
        total.outputs += static_cast<int>(channels->outputs.size());
      }
    }
  }
  return total;
}

class UnalignedCheckpointJobTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { probe = &probe_; }
  void TearDown() override { probe = nullptr; }

  // Runs the job over `numbers` with `c` and no restarts until its failure, injected after
  // eight checkpoint notifications (four per source subtask); returns its latest retained
  // checkpoint, or an empty string (with a test failure).
  std::string checkpointOfAFailedRun(int64_t numbers, Configuration c) {
    probe_.failAfterCheckpoints = 8;
    Job job(numbers);
    c.set("restart-strategy.type", "none");
    absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
    probe_.failAfterCheckpoints = 0;
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok())
      return "";
    EXPECT_EQ(result->status, JobStatus::kFailed);
    EXPECT_THAT(result->failure, HasSubstr("injected failure"));
    EXPECT_FALSE(result->latestCheckpoint.empty());
    return result->status == JobStatus::kFailed ? result->latestCheckpoint : "";
  }

  // Runs the job over `numbers` from `checkpoint` at parallelism 2 to its end: both source
  // positions are restored and the totals are exact.
  void expectExactResultsFrom(const std::string& checkpoint, int64_t numbers) {
    probe_.restoredPositions = 0;
    Job job(numbers);
    Configuration c = testing::jobConfiguration(tmp_, GetParam(), 2);
    c.set("execution.savepoint.path", checkpoint);
    absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
    EXPECT_EQ(probe_.restoredPositions.load(), 2);
    EXPECT_EQ(sorted(job.sink.values()), expectedLines(numbers));
  }

  Probe probe_;
  testing::TempDir tmp_;
};

TEST_P(UnalignedCheckpointJobTest, ARetainedCheckpointWithInFlightDataRestoresExactResults) {
  constexpr int64_t kNumbers = 40'000;
  const std::string checkpoint = checkpointOfAFailedRun(kNumbers, unaligned(tmp_, GetParam(), 2));
  ASSERT_FALSE(checkpoint.empty());
  // The sources were held back by the slow counter all along: the barriers overtook queued
  // output, and the counter recorded what reached it before its second barrier.
  InFlight inFlight = inFlightData(checkpoint);
  EXPECT_GT(inFlight.outputs, 0);
  EXPECT_GT(inFlight.inputs, 0);
  expectExactResultsFrom(checkpoint, kNumbers);

  // In-flight data belongs to the channels of that parallelism.
  Job rescaled(kNumbers);
  Configuration r = testing::jobConfiguration(tmp_, GetParam(), 3);
  r.set("execution.savepoint.path", checkpoint);
  absl::StatusOr<JobExecutionResult> refused = executeLocally(rescaled.env, r);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->status, JobStatus::kFailed);
  EXPECT_THAT(refused->failure, HasSubstr("unaligned checkpoint"));
  EXPECT_THAT(refused->failure, HasSubstr("parallelism 2"));
}

// With an aligned-checkpoint-timeout, barriers start in line and those that wait longer in the
// queues turn into priority buffers: the checkpoints hold in-flight data and restore exactly.
TEST_P(UnalignedCheckpointJobTest, BarriersThatWaitLongerThanTheAlignedTimeoutTurnUnaligned) {
  constexpr int64_t kNumbers = 40'000;
  Configuration c = unaligned(tmp_, GetParam(), 2);
  c.set("execution.checkpointing.aligned-checkpoint-timeout", "30ms");
  const std::string checkpoint = checkpointOfAFailedRun(kNumbers, c);
  ASSERT_FALSE(checkpoint.empty());
  // The sources' barriers waited behind their full queues beyond 30 ms and overtook them.
  EXPECT_GT(inFlightData(checkpoint).outputs, 0);
  expectExactResultsFrom(checkpoint, kNumbers);
}

TEST_P(UnalignedCheckpointJobTest, RestartsAfterAFailureWithExactlyTheSameResults) {
  constexpr int64_t kNumbers = 30'000;
  probe_.failAfterCheckpoints = 6;
  Job job(kNumbers);
  Configuration c = unaligned(tmp_, GetParam(), 2);
  c.set("restart-strategy.type", "fixed-delay");
  c.set("restart-strategy.fixed-delay.attempts", "2");
  c.set("restart-strategy.fixed-delay.delay", "10ms");
  absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  EXPECT_EQ(result->restarts, 1);
  EXPECT_EQ(probe_.restoredPositions.load(), 2);
  EXPECT_EQ(sorted(job.sink.values()), expectedLines(kNumbers));
}

INSTANTIATE_TEST_SUITE_P(Backends,
                         UnalignedCheckpointJobTest,
                         ::testing::Values("heap", "rocksdb"));

// The same slow job with deep queues (32 buffers of small records per source subtask, about
// 1.6 s of the counter's work) and an 800 ms checkpoint timeout: an aligned barrier waits behind
// the queue and times out, an unaligned one overtakes it and completes in about the time of
// one buffer, and so does one that starts aligned with a 200 ms aligned-checkpoint-timeout.
TEST(UnalignedCheckpointBackpressureTest,
     UnderBackpressureUnalignedCheckpointsCompleteWhereAlignedOnesTimeOut) {
  auto run = [](bool unalignedCheckpoints, const char* alignedTimeout) {
    Probe p;
    p.perRecord = std::chrono::microseconds(200);
    probe = &p;
    testing::TempDir tmp;
    Job job(30'000);
    Configuration c = testing::jobConfiguration(tmp, "heap", 2);
    c.set("execution.checkpointing.interval", "100ms");
    c.set("execution.checkpointing.timeout", "800ms");
    c.set("execution.checkpointing.tolerable-failed-checkpoints", "1000");
    c.set("execution.checkpointing.unaligned.enabled", unalignedCheckpoints ? "true" : "false");
    c.set("execution.checkpointing.aligned-checkpoint-timeout", alignedTimeout);
    c.set("state.checkpoints.dir", "file://" + (tmp.path() / "checkpoints").string());
    c.set("taskmanager.network.memory.buffers-per-channel", "8");
    c.set("taskmanager.network.memory.floating-buffers-per-gate", "16");
    absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
    probe = nullptr;
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok())
      return int64_t{-1};
    EXPECT_EQ(result->status, JobStatus::kFinished) << result->failure;
    EXPECT_EQ(sorted(job.sink.values()), expectedLines(30'000));
    return result->completedCheckpoints;
  };
  const int64_t aligned = run(false, "0");
  const int64_t unalignedCompleted = run(true, "0");
  const int64_t switched = run(true, "200ms");
  RecordProperty("aligned_completed", std::to_string(aligned));
  RecordProperty("unaligned_completed", std::to_string(unalignedCompleted));
  RecordProperty("aligned_timeout_completed", std::to_string(switched));
  EXPECT_LE(aligned, 1);
  EXPECT_GE(unalignedCompleted, 3);
  EXPECT_GE(switched, 3);
}

}  // namespace
}  // namespace brook::runtime
