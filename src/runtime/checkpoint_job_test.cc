// Checkpoints of running jobs on the mini-cluster: sources record their positions, barriers are
// aligned at keyed tasks, and every completed checkpoint holds exactly the effect of the records
// before its barriers. Each retained checkpoint is read back from disk and checked against the
// source positions it recorded, on both state backends.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "checkpoint/checkpoint_storage.h"
#include "common/testing/files.h"
#include "runtime/local_executor.h"
#include "state/operator_state_snapshot.h"
#include "state/state_snapshot.h"

namespace brook::runtime {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int64_t kNumbers = 400'000;
constexpr int kParallelism = 2;
constexpr int64_t kKeys = 97;

// What the readers of one job share (they run in this process): how many have emitted their
// last number, and per reader the first checkpoint it took after all of them had. A
// checkpoint covers every record once it is at least each reader's: a reader may snapshot a
// checkpoint before its last number while another snapshots the same one after all ended.
struct ReadersProgress {
  std::atomic<int> ended{0};
  std::array<std::atomic<int64_t>, kParallelism> firstCheckpointAfterAll{-1, -1};

  bool covered(int64_t checkpointId) const {
    for (const auto& first : firstCheckpointAfterAll) {
      const int64_t f = first.load();
      if (f < 0 || checkpointId < f)
        return false;
    }
    return true;
  }
};
ReadersProgress* progress = nullptr;

// Emits its share of [0, kNumbers) in small steps; after its last number it emits nothing until
// a checkpoint taken after every reader's last number has completed, so that the job's last
// checkpoint covers every record. Gives up waiting after a minute (the test then fails).
class HoldingSequenceReader final : public SourceReader<int64_t> {
 public:
  void open(const RuntimeContext& context) override {
    inner_.open(context);
    subtask_ = context.subtaskIndex;
    deadline_ = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  }
  InputStatus pollNext(SourceOutput<int64_t>& out) override {
    if (!ended_) {
      if (inner_.pollNext(out) == InputStatus::kEndOfInput) {
        ended_ = true;
        ++progress->ended;
      }
      // Slow enough that checkpoints fall in the middle of the stream.
      std::this_thread::sleep_for(std::chrono::microseconds(300));
      return InputStatus::kMoreAvailable;
    }
    if (done_ || std::chrono::steady_clock::now() > deadline_)
      return InputStatus::kEndOfInput;
    return InputStatus::kNothingAvailable;
  }
  std::string snapshotState(int64_t checkpointId) override {
    int64_t none = -1;
    if (progress->ended.load() == kParallelism) {
      progress->firstCheckpointAfterAll[static_cast<size_t>(subtask_)].compare_exchange_strong(
          none, checkpointId);
    }
    return inner_.snapshotState(checkpointId);
  }
  void notifyCheckpointComplete(int64_t checkpointId) override {
    if (progress->covered(checkpointId))
      done_ = true;
  }

 private:
  SequenceSourceReader inner_{0, kNumbers - 1};
  int subtask_ = 0;
  bool ended_ = false;
  bool done_ = false;
  std::chrono::steady_clock::time_point deadline_;
};

// Per key: how many numbers and their sum.
class CountAndSum final : public KeyedProcessFunction<int64_t, int64_t, int64_t> {
 public:
  void open(const RuntimeContext& ctx) override {
    count_ = &ctx.getState(ValueStateDescriptor<int64_t>("count"));
    sum_ = &ctx.getState(ValueStateDescriptor<int64_t>("sum"));
  }
  void processElement(const int64_t& x, Context&, Collector<int64_t>&) override {
    count_->update(count_->value().value_or(0) + 1);
    sum_->update(sum_->value().value_or(0) + x);
  }

 private:
  ValueState<int64_t>* count_ = nullptr;
  ValueState<int64_t>* sum_ = nullptr;
};

struct Totals {
  int64_t count = 0;
  int64_t sum = 0;
  bool operator==(const Totals&) const = default;
};

// What the counter's keyed state in checkpoint `directory` adds up to.
Totals keyedTotals(const checkpoint::CheckpointMetadata& m, const fs::path& directory) {
  Totals t;
  for (const checkpoint::OperatorStateMetadata& op : m.operators) {
    if (op.operatorUid != "counter")
      continue;
    EXPECT_EQ(op.subtasks.size(), static_cast<size_t>(kParallelism));
    for (const checkpoint::SubtaskStateMetadata& s : op.subtasks) {
      EXPECT_EQ(s.keyedState.size(), 1u);
      for (const checkpoint::StateFile& f : s.keyedState) {
        absl::StatusOr<std::string> bytes = checkpoint::readStateFile(directory, f);
        EXPECT_TRUE(bytes.ok()) << bytes.status();
        std::istringstream in(*bytes);
        auto reader = state::KeyedStateSnapshotReader::open(in, f.path);
        EXPECT_TRUE(reader.ok()) << reader.status();
        EXPECT_EQ(reader->keyGroupRange().start, s.keyGroupStart);
        state::KeyedStateEntry entry;
        for (;;) {
          absl::StatusOr<bool> more = reader->next(&entry);
          EXPECT_TRUE(more.ok()) << more.status();
          if (!more.ok() || !*more)
            break;
          int64_t value = 0;
          DataInput valueIn(entry.value);
          brook::deserialize(valueIn, value);
          if (entry.stateName == "count")
            t.count += value;
          if (entry.stateName == "sum")
            t.sum += value;
        }
      }
    }
  }
  return t;
}

// What the sources had emitted when they took checkpoint `directory`: the count and sum of the
// numbers before their recorded positions.
Totals sourceTotals(const checkpoint::CheckpointMetadata& m, const fs::path& directory) {
  Totals t;
  int subtasks = 0;
  for (const checkpoint::OperatorStateMetadata& op : m.operators) {
    if (op.operatorUid != "numbers")
      continue;
    for (const checkpoint::SubtaskStateMetadata& s : op.subtasks) {
      ++subtasks;
      EXPECT_EQ(s.operatorState.size(), 1u);
      for (const checkpoint::StateFile& f : s.operatorState) {
        absl::StatusOr<std::string> bytes = checkpoint::readStateFile(directory, f);
        EXPECT_TRUE(bytes.ok()) << bytes.status();
        auto data = state::decodeOperatorStateSnapshot(*bytes, f.path);
        EXPECT_TRUE(data.ok()) << data.status();
        for (const internal::OperatorStateData& st : data->states) {
          EXPECT_EQ(st.name, "source-reader-state");
          // Subtask i of p owns [kNumbers * i / p, kNumbers * (i + 1) / p); a reader that has
          // emitted all of it records no position.
          const int64_t start = kNumbers * s.subtaskIndex / kParallelism;
          int64_t next = kNumbers * (s.subtaskIndex + 1) / kParallelism;
          EXPECT_LE(st.elements.size(), 1u);
          for (const std::string& element : st.elements) {
            std::string position;
            DataInput elementIn(element);
            brook::deserialize(elementIn, position);
            DataInput in(position);
            next = in.readRaw<int64_t>();
          }
          t.count += next - start;
          t.sum += (start + next - 1) * (next - start) / 2;
        }
      }
    }
  }
  EXPECT_EQ(subtasks, kParallelism);
  return t;
}

class CheckpointJobTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CheckpointJobTest, EveryCheckpointHoldsExactlyTheRecordsBeforeItsBarriers) {
  ReadersProgress readers;
  progress = &readers;
  testing::TempDir tmp;
  const fs::path checkpoints = tmp.path() / "checkpoints";
  StreamExecutionEnvironment env;
  CollectSink<int64_t> sink;
  env.fromSource<int64_t>([] { return std::make_unique<HoldingSequenceReader>(); }, "Numbers",
                          /*bounded=*/true, /*parallel=*/true)
      .uid("numbers")
      .keyBy([](const int64_t& x) { return x % kKeys; })
      .process(CountAndSum{})
      .uid("counter")
      .sinkTo(sink.sink());
  Configuration c;
  c.set("parallelism.default", std::to_string(kParallelism));
  c.set("execution.runtime-mode", "STREAMING");
  c.set("state.backend.type", GetParam());
  c.set("io.tmp.dirs", tmp.path().string());
  c.set("execution.checkpointing.interval", "5ms");
  c.set("state.checkpoints.dir", "file://" + checkpoints.string());
  c.set("state.checkpoints.num-retained", "1000");
  absl::StatusOr<JobExecutionResult> result = executeLocally(env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  ASSERT_GE(result->completedCheckpoints, 1);

  checkpoint::FileCheckpointStorage storage =
      *checkpoint::FileCheckpointStorage::open(checkpoints.string(), result->jobId);
  std::vector<int64_t> ids = storage.completedCheckpointIds();
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(static_cast<int64_t>(ids.size()), result->completedCheckpoints);
  EXPECT_EQ(result->latestCheckpoint, storage.checkpointDirectory(ids.back()).string());
  for (int64_t id : ids) {
    SCOPED_TRACE("checkpoint " + std::to_string(id));
    const fs::path dir = storage.checkpointDirectory(id);
    absl::StatusOr<checkpoint::CheckpointMetadata> m = checkpoint::readMetadata(dir);
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_TRUE(checkpoint::verifyStateFiles(*m, dir).ok());
    EXPECT_EQ(keyedTotals(*m, dir), sourceTotals(*m, dir));
  }
  // The last checkpoint was taken after the sources' last numbers.
  const fs::path last = storage.checkpointDirectory(ids.back());
  Totals all = keyedTotals(*checkpoint::readMetadata(last), last);
  EXPECT_EQ(all.count, kNumbers);
  EXPECT_EQ(all.sum, kNumbers * (kNumbers - 1) / 2);
}

TEST_P(CheckpointJobTest, CheckpointsNeedADirectory) {
  StreamExecutionEnvironment env;
  CollectSink<int64_t> sink;
  env.fromSequence(0, 10).sinkTo(sink.sink());
  Configuration c;
  c.set("state.backend.type", GetParam());
  c.set("execution.checkpointing.interval", "1s");
  absl::StatusOr<JobExecutionResult> result = executeLocally(env, c);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("state.checkpoints.dir"));
}

INSTANTIATE_TEST_SUITE_P(Backends, CheckpointJobTest, ::testing::Values("heap", "rocksdb"));

}  // namespace
}  // namespace brook::runtime
