// Restoring the same checkpoint twice gives identical committed output. A first run writes
// numbers through the exactly-once file sink (writeAsText) with checkpoints and stops for good
// right after a checkpoint completes, so that checkpoint is its latest. Its output folder, as
// the first run left it, is copied into two fresh folders, and two separate jobs restore the
// checkpoint, each into its own copy: their final files must be the same, file by file, and
// the records they add to what the first run had committed must complete it to every number
// exactly once.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "common/testing/files.h"
#include "runtime/local_executor.h"
#include "runtime/testing/scripted_source.h"

namespace brook::runtime {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int64_t kRecords = 4'000;
constexpr int kParallelism = 2;
constexpr int64_t kBatch = 500;  // per source subtask; each is followed by a checkpoint
constexpr int64_t kStopAfterBatches = 2;

// The positions the readers recorded per checkpoint (the first run's), shared with the test.
struct Positions {
  std::mutex mutex;
  std::map<int64_t, std::map<int, int64_t>> next;  // checkpoint id -> subtask -> next number
};
Positions* positions = nullptr;

int64_t shareStart(int subtask) { return kRecords * subtask / kParallelism; }
int64_t shareEnd(int subtask) { return kRecords * (subtask + 1) / kParallelism; }

// Emits its share of [0, kRecords). With `stop` (the first run) it paces itself: after each
// batch of kBatch it waits until a checkpoint that it took after the batch has completed, and
// subtask 0 fails for good once kStopAfterBatches batches are checkpointed and it has taken no
// snapshot after the newest completed checkpoint, so that no later checkpoint can complete.
// Without, it emits the rest at once.
class PacedReader final : public SourceReader<int64_t> {
 public:
  explicit PacedReader(bool stop) : stop_(stop) {}
  void restoreState(std::string_view state) override {
    DataInput in(state);
    next_ = in.readRaw<int64_t>();
    restored_ = true;
  }
  void open(const RuntimeContext& context) override {
    subtask_ = context.subtaskIndex;
    if (context.parallelism != kParallelism)
      throw std::runtime_error("this reader runs at parallelism 2 only");
    if (!restored_)
      next_ = shareStart(subtask_);
    batches_ = (next_ - shareStart(subtask_)) / kBatch;
  }
  InputStatus pollNext(SourceOutput<int64_t>& out) override {
    if (waiting_) {
      if (!checkpointed_)
        return InputStatus::kNothingAvailable;
      if (stop_ && subtask_ == 0 && batches_ == kStopAfterBatches) {
        if (lastSnapshot_ != lastCompleted_)
          return InputStatus::kNothingAvailable;
        throw std::runtime_error("the first run stops after checkpoint " +
                                 std::to_string(lastCompleted_));
      }
      waiting_ = false;
      checkpointed_ = false;
      snapshotWhileWaiting_ = -1;
    }
    const int64_t end = shareEnd(subtask_);
    // The first run never ends (it fails): a task that ended would decline every later
    // checkpoint, and the other reader would wait for one forever.
    if (next_ == end)
      return stop_ ? InputStatus::kNothingAvailable : InputStatus::kEndOfInput;
    const int64_t stop = std::min(end, next_ + 50);
    for (; next_ < stop; ++next_)
      out.collect(int64_t{next_});
    if (stop_ && (next_ - shareStart(subtask_)) % kBatch == 0 && next_ != end) {
      ++batches_;
      waiting_ = true;
    }
    return InputStatus::kMoreAvailable;
  }
  std::string snapshotState(int64_t checkpointId) override {
    lastSnapshot_ = checkpointId;
    if (waiting_ && snapshotWhileWaiting_ < 0)
      snapshotWhileWaiting_ = checkpointId;
    if (stop_) {
      std::lock_guard lock(positions->mutex);
      positions->next[checkpointId][subtask_] = next_;
    }
    DataOutput position;
    position.writeRaw(next_);
    return std::string(position.view());
  }
  void notifyCheckpointComplete(int64_t checkpointId) override {
    lastCompleted_ = checkpointId;
    if (waiting_ && snapshotWhileWaiting_ >= 0 && checkpointId >= snapshotWhileWaiting_)
      checkpointed_ = true;
  }

 private:
  bool stop_;
  int subtask_ = 0;
  bool restored_ = false;
  int64_t next_ = 0;
  int64_t batches_ = 0;
  bool waiting_ = false;
  bool checkpointed_ = false;
  int64_t snapshotWhileWaiting_ = -1;
  int64_t lastSnapshot_ = -1;
  int64_t lastCompleted_ = -1;
};

// The content of every final (non-hidden) file in `dir`, by name.
std::map<std::string, std::string> finalFiles(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name[0] != '.')
      files[name] = testing::readFile(e.path());
  }
  return files;
}

// The records of `files`, sorted.
std::vector<int64_t> records(const std::map<std::string, std::string>& files) {
  std::vector<int64_t> all;
  for (const auto& [name, content] : files) {
    size_t start = 0;
    for (size_t end; (end = content.find('\n', start)) != std::string::npos; start = end + 1)
      all.push_back(std::stoll(content.substr(start, end - start)));
  }
  std::sort(all.begin(), all.end());
  return all;
}

// The final files of `after` that are not final files of `before`.
std::map<std::string, std::string> added(const std::map<std::string, std::string>& before,
                                         const std::map<std::string, std::string>& after) {
  std::map<std::string, std::string> files;
  for (const auto& [name, content] : after) {
    if (!before.contains(name))
      files[name] = content;
  }
  return files;
}

absl::StatusOr<JobExecutionResult> runJob(const testing::TempDir& tmp, const fs::path& out,
                                          bool stop, const std::string& restorePath) {
  StreamExecutionEnvironment env;
  env.fromSource<int64_t>([stop] { return std::make_unique<PacedReader>(stop); }, "Paced",
                          /*bounded=*/true, /*parallel=*/true)
      .uid("paced")
      .writeAsText(out.string())
      .uid("files");
  Configuration c = testing::jobConfiguration(tmp, "heap", kParallelism);
  if (restorePath.empty()) {
    c.set("execution.checkpointing.interval", "10ms");
    c.set("state.checkpoints.dir", "file://" + (tmp.path() / "checkpoints").string());
    c.set("restart-strategy.type", "none");
  } else {
    // Without checkpoints each subtask commits one part file at the end, so the two restores'
    // files can be compared name by name.
    c.set("execution.savepoint.path", restorePath);
  }
  return executeLocally(env, c);
}

TEST(RepeatedRestoreTest, RestoringTheSameCheckpointTwiceCommitsIdenticalOutput) {
  Positions recorded;
  positions = &recorded;
  testing::TempDir tmp;
  const fs::path firstOut = tmp.path() / "first";
  absl::StatusOr<JobExecutionResult> first = runJob(tmp, firstOut, /*stop=*/true, "");
  positions = nullptr;
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->status, JobStatus::kFailed);
  ASSERT_THAT(first->failure, HasSubstr("the first run stops after checkpoint"));
  ASSERT_FALSE(first->latestCheckpoint.empty());
  const int64_t checkpointId =
      std::stoll(fs::path(first->latestCheckpoint).filename().string().substr(4));
  ASSERT_THAT(first->failure, HasSubstr("checkpoint " + std::to_string(checkpointId)));
  ASSERT_EQ(recorded.next[checkpointId].size(), static_cast<size_t>(kParallelism));

  // What the first run committed holds only records before the checkpoint's positions.
  const std::map<std::string, std::string> committed = finalFiles(firstOut);
  for (int64_t r : records(committed)) {
    const int subtask = r < shareEnd(0) ? 0 : 1;
    EXPECT_LT(r, recorded.next[checkpointId][subtask]) << r;
  }

  std::vector<std::map<std::string, std::string>> outputs;
  for (const char* name : {"restore-a", "restore-b"}) {
    SCOPED_TRACE(name);
    const fs::path out = tmp.path() / name;
    fs::copy(firstOut, out, fs::copy_options::recursive);
    absl::StatusOr<JobExecutionResult> restored =
        runJob(tmp, out, /*stop=*/false, first->latestCheckpoint);
    ASSERT_TRUE(restored.ok()) << restored.status();
    ASSERT_EQ(restored->status, JobStatus::kFinished) << restored->failure;
    outputs.push_back(finalFiles(out));
  }

  // The same final files, with the same lines, from both restores.
  EXPECT_EQ(outputs[0], outputs[1]);
  const std::map<std::string, std::string> addedA = added(committed, outputs[0]);
  const std::map<std::string, std::string> addedB = added(committed, outputs[1]);
  EXPECT_FALSE(addedA.empty());
  EXPECT_EQ(records(addedA), records(addedB));
  // With what the first run committed, every number exactly once.
  std::vector<int64_t> all = records(committed);
  for (int64_t r : records(addedA))
    all.push_back(r);
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected;
  for (int64_t i = 0; i < kRecords; ++i)
    expected.push_back(i);
  EXPECT_EQ(all, expected);
}

}  // namespace
}  // namespace brook::runtime
