// Recovery when the latest checkpoint is damaged: a job keeps three checkpoints, and its source
// damages the newest of them (a flipped byte in a state file, or a truncated _metadata) right
// before it fails. The restart must skip the damaged checkpoint, restore the one before it, and
// end with exactly the results of a run without failure; when every retained checkpoint is
// damaged, the job fails with a message naming each of them and what is wrong.
//
// Deterministic: the source fails only when no checkpoint newer than the one it damages can
// complete any more (it took no snapshot after that checkpoint, and it never acknowledges
// another), and it paces its input by checkpoints instead of by time.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
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

constexpr int64_t kNumbers = 12'000;
constexpr int kParallelism = 2;
constexpr int64_t kBatch = 1'000;  // per source subtask; each is followed by a checkpoint
constexpr int64_t kFailAfterBatches = 3;
constexpr int64_t kKeys = 31;
constexpr int64_t kEndTimer = int64_t{1} << 60;

enum class Damage { kFlipStateFileByte, kTruncateMetadata, kEveryRetainedCheckpoint };

// What the readers of one job and the test share (the tasks run in this process).
struct Probe {
  fs::path checkpointDirectory;  // state.checkpoints.dir
  Damage damage = Damage::kFlipStateFileByte;
  std::mutex mutex;
  // The position each source subtask recorded in each checkpoint (first attempt).
  std::map<int64_t, std::map<int, std::string>> positions;
  // The positions the restarted readers got back.
  std::vector<std::string> restored;
  // Set by the failing reader: the checkpoints it damaged and the one a restart should use.
  std::vector<int64_t> damaged;
  int64_t previous = -1;
  std::vector<std::string> damagedFiles;
};
Probe* probe = nullptr;

// The folder of the only job under `checkpointDirectory`.
fs::path jobDirectory(const fs::path& checkpointDirectory) {
  for (const auto& e : fs::directory_iterator(checkpointDirectory)) {
    if (e.is_directory())
      return e.path();
  }
  throw std::runtime_error("no job folder in " + checkpointDirectory.string());
}

// The completed checkpoints of the job (those with _metadata), ascending by id.
std::vector<std::pair<int64_t, fs::path>> completedCheckpoints(const fs::path& jobDirectory) {
  std::vector<std::pair<int64_t, fs::path>> completed;
  for (const auto& e : fs::directory_iterator(jobDirectory)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("chk-") && fs::exists(e.path() / checkpoint::kMetadataFileName))
      completed.emplace_back(std::stoll(name.substr(4)), e.path());
  }
  std::sort(completed.begin(), completed.end());
  return completed;
}

// Flips one byte in the middle of the largest state file of a checkpoint (its size stays, so
// only the checksum tells); returns the file's name.
std::string flipStateFileByte(const fs::path& checkpoint) {
  fs::path largest;
  for (const auto& e : fs::directory_iterator(checkpoint)) {
    if (e.is_regular_file() && e.path().filename() != checkpoint::kMetadataFileName &&
        (largest.empty() || e.file_size() > fs::file_size(largest))) {
      largest = e.path();
    }
  }
  if (largest.empty())
    throw std::runtime_error("no state file in " + checkpoint.string());
  std::string bytes = testing::readFile(largest);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
  testing::writeFile(largest, bytes);
  return largest.filename().string();
}

// Cuts a checkpoint's _metadata file to half its length; returns the file's name.
std::string truncateMetadata(const fs::path& checkpoint) {
  const fs::path metadata = checkpoint / checkpoint::kMetadataFileName;
  fs::resize_file(metadata, fs::file_size(metadata) / 2);
  return metadata.filename().string();
}

// Emits its share of [0, kNumbers). On the first attempt it paces itself: after each batch of
// kBatch it waits until a checkpoint that it took after the batch has completed, and subtask 0
// fails once kFailAfterBatches batches are checkpointed, at a moment when it has taken no
// snapshot after the newest completed checkpoint: it damages what the probe says and throws.
// Later attempts emit the rest at once.
class PacedReader final : public SourceReader<int64_t> {
 public:
  void restoreState(std::string_view state) override {
    std::lock_guard lock(probe->mutex);
    probe->restored.emplace_back(state);
    DataInput in(state);
    next_ = in.readRaw<int64_t>();
    end_ = in.readRaw<int64_t>();
    restored_ = true;
  }
  void open(const RuntimeContext& context) override {
    subtask_ = context.subtaskIndex;
    attempt_ = context.attemptNumber;
    if (!restored_) {
      next_ = kNumbers * subtask_ / kParallelism;
      end_ = kNumbers * (subtask_ + 1) / kParallelism;
    }
    batches_ = (next_ - kNumbers * subtask_ / kParallelism) / kBatch;
  }
  InputStatus pollNext(SourceOutput<int64_t>& out) override {
    if (waiting_) {
      if (!checkpointed_)
        return InputStatus::kNothingAvailable;
      if (attempt_ == 0 && subtask_ == 0 && batches_ == kFailAfterBatches) {
        // A checkpoint newer than lastCompleted_ could still complete if this reader had
        // acknowledged it; then wait for its notification instead.
        if (lastSnapshot_ != lastCompleted_)
          return InputStatus::kNothingAvailable;
        damageAndFail();
      }
      waiting_ = false;
      checkpointed_ = false;
      snapshotWhileWaiting_ = -1;
    }
    // The first attempt never ends (it fails): a task that ended would decline every later
    // checkpoint, and the other reader would wait for one forever.
    if (next_ == end_)
      return attempt_ == 0 ? InputStatus::kNothingAvailable : InputStatus::kEndOfInput;
    const int64_t stop = std::min(end_, next_ + 100);
    for (; next_ < stop; ++next_)
      out.collect(int64_t{next_});
    if (attempt_ == 0 && (next_ - kNumbers * subtask_ / kParallelism) % kBatch == 0 &&
        next_ != end_) {
      ++batches_;
      waiting_ = true;
    }
    return InputStatus::kMoreAvailable;
  }
  std::string snapshotState(int64_t checkpointId) override {
    lastSnapshot_ = checkpointId;
    if (waiting_ && snapshotWhileWaiting_ < 0)
      snapshotWhileWaiting_ = checkpointId;
    DataOutput position;
    position.writeRaw(next_);
    position.writeRaw(end_);
    std::string bytes(position.view());
    if (attempt_ == 0) {
      std::lock_guard lock(probe->mutex);
      probe->positions[checkpointId][subtask_] = bytes;
    }
    return bytes;
  }
  void notifyCheckpointComplete(int64_t checkpointId) override {
    lastCompleted_ = checkpointId;
    if (waiting_ && snapshotWhileWaiting_ >= 0 && checkpointId >= snapshotWhileWaiting_)
      checkpointed_ = true;
  }

 private:
  [[noreturn]] void damageAndFail() {
    const auto completed = completedCheckpoints(jobDirectory(probe->checkpointDirectory));
    {
      std::lock_guard lock(probe->mutex);
      if (completed.empty() || completed.back().first != lastCompleted_)
        throw std::runtime_error("the newest checkpoint is not the last one notified");
      switch (probe->damage) {
        case Damage::kFlipStateFileByte:
          probe->damagedFiles.push_back(flipStateFileByte(completed.back().second));
          probe->damaged.push_back(completed.back().first);
          break;
        case Damage::kTruncateMetadata:
          probe->damagedFiles.push_back(truncateMetadata(completed.back().second));
          probe->damaged.push_back(completed.back().first);
          break;
        case Damage::kEveryRetainedCheckpoint:
          for (size_t i = 0; i < completed.size(); ++i) {
            probe->damagedFiles.push_back(i % 2 == 0 ? flipStateFileByte(completed[i].second)
                                                     : truncateMetadata(completed[i].second));
            probe->damaged.push_back(completed[i].first);
          }
          break;
      }
      if (completed.size() >= 2)
        probe->previous = completed[completed.size() - 2].first;
    }
    throw std::runtime_error("injected failure");
  }

  int subtask_ = 0;
  int attempt_ = 0;
  bool restored_ = false;
  int64_t next_ = 0;
  int64_t end_ = 0;
  int64_t batches_ = 0;  // batches emitted
  bool waiting_ = false;
  bool checkpointed_ = false;
  int64_t snapshotWhileWaiting_ = -1;
  int64_t lastSnapshot_ = -1;
  int64_t lastCompleted_ = -1;
};

// Per key: the count and sum of its numbers, emitted once at the end of the input by an
// event-time timer, so that only the attempt that reaches the end emits anything.
class CountAndSumAtEnd final : public KeyedProcessFunction<int64_t, int64_t, std::string> {
 public:
  void open(const RuntimeContext& ctx) override {
    count_ = &ctx.getState(ValueStateDescriptor<int64_t>("count"));
    sum_ = &ctx.getState(ValueStateDescriptor<int64_t>("sum"));
  }
  void processElement(const int64_t& x, Context& ctx, Collector<std::string>&) override {
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
};

std::vector<std::string> expectedLines() {
  return testing::countAndSumLines(kNumbers, kKeys);
}

using testing::sorted;

class CorruptedCheckpointRecoveryTest
    : public ::testing::TestWithParam<std::tuple<std::string, Damage>> {
 protected:
  void SetUp() override {
    probe_.checkpointDirectory = tmp_.path() / "checkpoints";
    probe = &probe_;
  }
  void TearDown() override { probe = nullptr; }

  absl::StatusOr<JobExecutionResult> run(const std::string& backend, Damage damage,
                                         CollectSink<std::string>& sink) {
    probe_.damage = damage;
    StreamExecutionEnvironment env;
    env.fromSource<int64_t>([] { return std::make_unique<PacedReader>(); }, "Numbers",
                            /*bounded=*/true, /*parallel=*/true)
        .uid("numbers")
        .keyBy([](const int64_t& x) { return x % kKeys; })
        .process(CountAndSumAtEnd{})
        .uid("counter")
        .sinkTo(sink.sink())
        .uid("sink");
    Configuration c = testing::jobConfiguration(tmp_, backend, kParallelism);
    c.set("execution.checkpointing.interval", "10ms");
    c.set("state.checkpoints.dir", "file://" + probe_.checkpointDirectory.string());
    c.set("state.checkpoints.num-retained", "3");
    c.set("restart-strategy.type", "fixed-delay");
    c.set("restart-strategy.fixed-delay.attempts", "1");
    c.set("restart-strategy.fixed-delay.delay", "10ms");
    return executeLocally(env, c);
  }

  Probe probe_;
  testing::TempDir tmp_;
};

TEST_P(CorruptedCheckpointRecoveryTest, RestartsFromThePreviousCheckpointWithExactResults) {
  const auto& [backend, damage] = GetParam();
  CollectSink<std::string> sink;
  absl::StatusOr<JobExecutionResult> result = run(backend, damage, sink);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  EXPECT_EQ(result->restarts, 1);
  ASSERT_EQ(probe_.damaged.size(), 1u);
  ASSERT_GE(probe_.previous, 0) << "fewer than two retained checkpoints at the failure";

  // The restarted readers got back the positions of the checkpoint before the damaged one.
  std::vector<std::string> expectedPositions;
  for (const auto& [subtask, position] : probe_.positions[probe_.previous])
    expectedPositions.push_back(position);
  EXPECT_EQ(sorted(probe_.restored), sorted(expectedPositions));
  EXPECT_EQ(sorted(sink.values()), expectedLines());
}

INSTANTIATE_TEST_SUITE_P(
    BackendsAndDamage, CorruptedCheckpointRecoveryTest,
    ::testing::Combine(::testing::Values("heap", "rocksdb"),
                       ::testing::Values(Damage::kFlipStateFileByte, Damage::kTruncateMetadata)),
    [](const auto& info) {
      return std::get<0>(info.param) + (std::get<1>(info.param) == Damage::kFlipStateFileByte
                                            ? "_FlippedStateFileByte"
                                            : "_TruncatedMetadata");
    });

class EveryCheckpointCorruptedTest : public CorruptedCheckpointRecoveryTest {};

TEST_P(EveryCheckpointCorruptedTest, FailsTheJobNamingEveryDamagedCheckpoint) {
  CollectSink<std::string> sink;
  absl::StatusOr<JobExecutionResult> result =
      run(std::get<0>(GetParam()), Damage::kEveryRetainedCheckpoint, sink);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFailed);
  ASSERT_EQ(probe_.damaged.size(), 3u);  // state.checkpoints.num-retained
  EXPECT_THAT(result->failure, HasSubstr("injected failure"));
  EXPECT_THAT(result->failure, HasSubstr("no usable checkpoint"));
  for (size_t i = 0; i < probe_.damaged.size(); ++i) {
    EXPECT_THAT(result->failure,
                HasSubstr("checkpoint " + std::to_string(probe_.damaged[i]) + " is not usable"));
    EXPECT_THAT(result->failure, HasSubstr(probe_.damagedFiles[i]));
  }
  EXPECT_TRUE(probe_.restored.empty());
  EXPECT_TRUE(sink.values().empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, EveryCheckpointCorruptedTest,
                         ::testing::Combine(::testing::Values("heap", "rocksdb"),
                                            ::testing::Values(Damage::kEveryRetainedCheckpoint)),
                         [](const auto& info) { return std::get<0>(info.param); });

}  // namespace
}  // namespace brook::runtime
