// Jobs on the in-process mini-cluster that write through the exactly-once file sink
// (writeAsText): with checkpoints, part files are committed as checkpoints complete and at the
// end; without, at the end. Either way the final files hold every record exactly once and no
// in-progress file is left. The sink's protocol and recovery are tested at the operator level
// in file_sink_test.cc.

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
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

namespace brook {
namespace {

namespace fs = std::filesystem;
using ::testing::IsEmpty;

constexpr int64_t kRecords = 2'000;
constexpr int64_t kBatch = 500;

// Emits 0..kRecords-1 in batches of kBatch and, after each batch, waits until a checkpoint
// completes, so that checkpoints fall between the batches. Stops waiting after a minute (the
// test then fails on too few checkpoints). With `failFirstAttempt`, the first attempt throws in
// the middle of the third batch. Restores its position from a checkpoint.
class PacedReader final : public SourceReader<int64_t> {
 public:
  explicit PacedReader(bool failFirstAttempt = false) : failFirstAttempt_(failFirstAttempt) {}
  void open(const RuntimeContext& context) override {
    deadline_ = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    fail_ = failFirstAttempt_ && context.attemptNumber == 0;
  }
  InputStatus pollNext(SourceOutput<int64_t>& out) override {
    if (next_ == kRecords)
      return InputStatus::kEndOfInput;
    if (fail_ && next_ == 2 * kBatch + kBatch / 2)
      throw std::runtime_error("injected failure");
    if (inBatch_ == kBatch) {
      if (!checkpointed_ && std::chrono::steady_clock::now() < deadline_)
        return InputStatus::kNothingAvailable;
      inBatch_ = 0;
      checkpointed_ = false;
    }
    for (int i = 0; i < 10 && inBatch_ < kBatch && next_ < kRecords; ++i, ++inBatch_)
      out.collect(next_++);
    return InputStatus::kMoreAvailable;
  }
  std::string snapshotState(int64_t) override {
    DataOutput position;
    position.writeRaw(next_);
    return std::string(position.view());
  }
  void restoreState(std::string_view state) override {
    DataInput in(state);
    next_ = in.readRaw<int64_t>();
    inBatch_ = next_ % kBatch;
  }
  void notifyCheckpointComplete(int64_t) override {
    if (inBatch_ == kBatch)
      checkpointed_ = true;
  }

 private:
  bool failFirstAttempt_;
  bool fail_ = false;
  int64_t next_ = 0;
  int64_t inBatch_ = 0;
  bool checkpointed_ = false;
  std::chrono::steady_clock::time_point deadline_;
};

struct JobOutput {
  std::vector<std::string> finalFiles;
  std::vector<std::string> hiddenFiles;
  std::vector<int64_t> records;  // sorted
};

JobOutput readOutput(const fs::path& dir) {
  JobOutput out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name[0] == '.') {
      out.hiddenFiles.push_back(name);
      continue;
    }
    out.finalFiles.push_back(name);
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);)
      out.records.push_back(std::stoll(line));
  }
  std::sort(out.finalFiles.begin(), out.finalFiles.end());
  std::sort(out.records.begin(), out.records.end());
  return out;
}

std::vector<int64_t> allRecords() {
  std::vector<int64_t> all;
  for (int64_t i = 0; i < kRecords; ++i)
    all.push_back(i);
  return all;
}

TEST(FileSinkJobTest, WithCheckpointsTheFinalFilesHoldEveryRecordOnce) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  StreamExecutionEnvironment env;
  env.fromSource<int64_t>([] { return std::make_unique<PacedReader>(); }, "Paced",
                          /*bounded=*/true, /*parallel=*/false)
      .writeAsText(out.string());
  Configuration c = testing::jobConfiguration(tmp, "heap", 2);
  c.set("execution.checkpointing.interval", "20ms");
  c.set("state.checkpoints.dir", "file://" + (tmp.path() / "checkpoints").string());
  absl::StatusOr<runtime::JobExecutionResult> result = runtime::executeLocally(env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, runtime::JobStatus::kFinished) << result->failure;
  EXPECT_GE(result->completedCheckpoints, kRecords / kBatch - 1);

  JobOutput output = readOutput(out);
  EXPECT_EQ(output.records, allRecords());
  EXPECT_THAT(output.hiddenFiles, IsEmpty());
  // Part files were rolled at the checkpoints between the batches, on both subtasks.
  EXPECT_GT(output.finalFiles.size(), 2u);
  EXPECT_TRUE(std::any_of(output.finalFiles.begin(), output.finalFiles.end(),
                          [](const std::string& n) { return n.rfind("part-1-", 0) == 0; }));
}

TEST(FileSinkJobTest, AfterARestartFromACheckpointTheFinalFilesHoldEveryRecordOnce) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  StreamExecutionEnvironment env;
  env.fromSource<int64_t>([] { return std::make_unique<PacedReader>(/*failFirstAttempt=*/true); },
                          "Paced", /*bounded=*/true, /*parallel=*/false)
      .uid("paced")
      .writeAsText(out.string())
      .uid("files");
  Configuration c = testing::jobConfiguration(tmp, "heap", 2);
  c.set("execution.checkpointing.interval", "20ms");
  c.set("state.checkpoints.dir", "file://" + (tmp.path() / "checkpoints").string());
  c.set("restart-strategy.type", "fixed-delay");
  c.set("restart-strategy.fixed-delay.attempts", "1");
  c.set("restart-strategy.fixed-delay.delay", "10ms");
  absl::StatusOr<runtime::JobExecutionResult> result = runtime::executeLocally(env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, runtime::JobStatus::kFinished) << result->failure;
  EXPECT_EQ(result->restarts, 1);

  // The first attempt's records after its last checkpoint were replayed, and are in the final
  // files once; what it had in progress stays hidden (or was removed when it failed).
  JobOutput output = readOutput(out);
  EXPECT_EQ(output.records, allRecords());
  for (const std::string& name : output.hiddenFiles)
    EXPECT_TRUE(name.ends_with(".inprogress")) << name;
}

// The content of every final file in `dir`, by name.
std::map<std::string, std::string> finalFileContents(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name[0] != '.')
      files[name] = testing::readFile(e.path());
  }
  return files;
}

TEST(FileSinkJobTest, RestoringAnOlderCheckpointKeepsEveryFileCommittedAfterIt) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  auto run = [&](const std::string& restorePath) {
    StreamExecutionEnvironment env;
    env.fromSource<int64_t>([] { return std::make_unique<PacedReader>(); }, "Paced",
                            /*bounded=*/true, /*parallel=*/false)
        .uid("paced")
        .writeAsText(out.string())
        .uid("files");
    Configuration c = testing::jobConfiguration(tmp, "heap", 2);
    c.set("execution.checkpointing.interval", "20ms");
    c.set("state.checkpoints.dir", "file://" + (tmp.path() / "checkpoints").string());
    c.set("state.checkpoints.num-retained", "1000");
    if (!restorePath.empty())
      c.set("execution.savepoint.path", restorePath);
    return runtime::executeLocally(env, c);
  };
  absl::StatusOr<runtime::JobExecutionResult> first = run("");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->status, runtime::JobStatus::kFinished) << first->failure;
  ASSERT_FALSE(first->latestCheckpoint.empty());
  const std::map<std::string, std::string> committed = finalFileContents(out);
  ASSERT_EQ(readOutput(out).records, allRecords());

  // The oldest retained checkpoint: its pending part files were committed long ago.
  fs::path oldest;
  int64_t oldestId = INT64_MAX;
  for (const auto& e : fs::directory_iterator(fs::path(first->latestCheckpoint).parent_path())) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("chk-") && std::stoll(name.substr(4)) < oldestId) {
      oldestId = std::stoll(name.substr(4));
      oldest = e.path();
    }
  }
  ASSERT_FALSE(oldest.empty());
  absl::StatusOr<runtime::JobExecutionResult> second = run(oldest.string());
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->status, runtime::JobStatus::kFinished) << second->failure;

  // Every file the first run committed is still there, unchanged; the second run's records
  // (those after the old checkpoint) are in new files.
  std::map<std::string, std::string> now = finalFileContents(out);
  for (const auto& [name, content] : committed) {
    ASSERT_TRUE(now.contains(name)) << name;
    EXPECT_EQ(now[name], content) << name;
  }
  EXPECT_GT(now.size(), committed.size());
  std::map<int64_t, int> copies;
  for (int64_t r : readOutput(out).records)
    ++copies[r];
  EXPECT_EQ(copies.size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(copies.rbegin()->second, 2);  // the last records were written by both runs
  for (const auto& [record, n] : copies)
    EXPECT_LE(n, 2) << record;
}

TEST(FileSinkJobTest, WithoutCheckpointsTheFinalFilesHoldEveryRecordOnce) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  StreamExecutionEnvironment env;
  env.fromSequence(0, kRecords - 1).writeAsText(out.string());
  absl::StatusOr<runtime::JobExecutionResult> result =
      runtime::executeLocally(env, testing::jobConfiguration(tmp, "heap", 2));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, runtime::JobStatus::kFinished) << result->failure;

  JobOutput output = readOutput(out);
  EXPECT_EQ(output.records, allRecords());
  EXPECT_THAT(output.hiddenFiles, IsEmpty());
  EXPECT_THAT(output.finalFiles, ::testing::ElementsAre("part-0-0", "part-1-0"));
}

}  // namespace
}  // namespace brook
