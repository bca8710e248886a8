// The two-phase-commit sink base and the exactly-once text file sink on it, driven directly
// through a SinkOperator with an operator state store: checkpoints are simulated by calling
// snapshotState / notifyCheckpointComplete, a crash by dropping the operator without close, and
// a restore by restoring a fresh store from an earlier snapshot. Files are real, in a temporary
// folder. Jobs on the mini-cluster are in src/api/file_sink_job_test.cc.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "common/testing/files.h"

namespace brook {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

class FakeProcessingTime final : public ProcessingTimeService {
 public:
  int64_t currentProcessingTime() const override { return now; }
  void registerTimer(int64_t time, std::function<void(int64_t)> callback) override {
    timers.emplace_back(time, std::move(callback));
  }
  // Moves the clock to `time`, running every timer due on the way at its time, those that
  // timers register included, as the task would.
  void advanceTo(int64_t time) {
    for (;;) {
      auto due = std::min_element(timers.begin(), timers.end(),
                                  [](const auto& a, const auto& b) { return a.first < b.first; });
      if (due == timers.end() || due->first > time)
        break;
      auto [at, callback] = std::move(*due);
      timers.erase(due);
      now = at;
      callback(at);
    }
    now = time;
  }
  int64_t now = 1'000'000;
  std::vector<std::pair<int64_t, std::function<void(int64_t)>>> timers;
};

// One sink subtask: a SinkOperator over `writer`, its operator state store (restored from
// `restored` when given) and a fake clock.
class SinkHarness {
 public:
  SinkHarness(std::unique_ptr<SinkWriter<std::string>> writer,
              bool checkpointing,
              std::optional<internal::OperatorStateSnapshotData> restored = std::nullopt,
              int subtaskIndex = 0,
              int parallelism = 1)
      : op_(std::move(writer)) {
    context_.operatorName = "Sink: File Sink";
    context_.subtaskIndex = subtaskIndex;
    context_.parallelism = parallelism;
    context_.operatorStateStore = &store_;
    context_.processingTimeService = &time_;
    context_.checkpointingEnabled = checkpointing;
    if (restored)
      store_.restore(*std::move(restored));
  }

  void open() { op_.open(context_); }
  void push(std::vector<std::string> records) {
    for (std::string& r : records)
      op_.push(std::move(r), kNoTimestamp);
  }
  // Takes checkpoint `id` at this subtask: what the runtime would store for it.
  internal::OperatorStateSnapshotData checkpoint(int64_t id) {
    op_.snapshotState(id);
    return store_.snapshot();
  }
  void complete(int64_t id) { op_.notifyCheckpointComplete(id); }
  void aborted(int64_t id) { op_.notifyCheckpointAborted(id); }
  void finish() { op_.endInput(); }
  void close() { op_.close(); }
  FakeProcessingTime& time() { return time_; }

 private:
  RuntimeContext context_;
  OperatorStateStore store_{"Sink: File Sink (1/1)"};
  FakeProcessingTime time_;
  internal::SinkOperator<std::string> op_;
};

std::unique_ptr<SinkWriter<std::string>> fileSink(const fs::path& dir, RollingPolicy policy = {}) {
  return std::make_unique<TextFileSinkWriter<std::string>>(dir.string(), policy);
}

// The names of the files in `dir` that start with '.' (hidden) or not, sorted.
std::vector<std::string> names(const fs::path& dir, bool hidden) {
  std::vector<std::string> result;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if ((name[0] == '.') == hidden)
      result.push_back(name);
  }
  std::sort(result.begin(), result.end());
  return result;
}
std::vector<std::string> finalFiles(const fs::path& dir) {
  return names(dir, false);
}
std::vector<std::string> hiddenFiles(const fs::path& dir) {
  return names(dir, true);
}

// Every line of the final files of `dir`, file by file in name order.
std::vector<std::string> finalLines(const fs::path& dir) {
  std::vector<std::string> lines;
  for (const std::string& name : finalFiles(dir)) {
    std::ifstream in(dir / name);
    for (std::string line; std::getline(in, line);)
      lines.push_back(line);
  }
  return lines;
}

TEST(FileSinkTest, RecordsStayInvisibleUntilTheirCheckpointCompletes) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  SinkHarness sink(fileSink(out), /*checkpointing=*/true);
  sink.open();
  sink.push({"a", "b"});
  EXPECT_THAT(finalFiles(out), IsEmpty());
  EXPECT_THAT(hiddenFiles(out), ElementsAre(".part-0-0.inprogress"));
  sink.checkpoint(1);
  sink.push({"c"});
  EXPECT_THAT(finalFiles(out), IsEmpty());
  sink.complete(1);
  EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0"));
  EXPECT_THAT(finalLines(out), ElementsAre("a", "b"));
  sink.checkpoint(2);
  sink.push({"d"});
  sink.checkpoint(3);
  EXPECT_THAT(finalLines(out), ElementsAre("a", "b"));
  // Completing 3 commits the transactions of 2 and 3, in order.
  sink.complete(3);
  EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0", "part-0-1", "part-0-2"));
  EXPECT_THAT(finalLines(out), ElementsAre("a", "b", "c", "d"));
  EXPECT_THAT(hiddenFiles(out), IsEmpty());
  sink.close();
}

TEST(FileSinkTest, CheckpointsWithoutRecordsMakeNoFiles) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  SinkHarness sink(fileSink(out), /*checkpointing=*/true);
  sink.open();
  for (int64_t id = 1; id <= 3; ++id) {
    sink.checkpoint(id);
    sink.complete(id);
  }
  EXPECT_THAT(finalFiles(out), IsEmpty());
  EXPECT_THAT(hiddenFiles(out), IsEmpty());
  // A subtask without any record still leaves one (empty) part file at the end.
  sink.finish();
  sink.close();
  EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0"));
  EXPECT_EQ(fs::file_size(out / "part-0-0"), 0u);
  EXPECT_THAT(hiddenFiles(out), IsEmpty());
}

TEST(FileSinkTest, NoEmptyPartFileAtTheEndOnceOneWasWritten) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  SinkHarness sink(fileSink(out), /*checkpointing=*/true);
  sink.open();
  sink.push({"a"});
  sink.checkpoint(1);
  sink.complete(1);
  sink.finish();
  sink.close();
  EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0"));
}

TEST(FileSinkTest, CloseWithoutFinishAbortsTheOpenPartFile) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  SinkHarness sink(fileSink(out), /*checkpointing=*/false);
  sink.open();
  sink.push({"a", "b"});
  sink.close();  // a failure or a cancellation
  EXPECT_THAT(finalFiles(out), IsEmpty());
  EXPECT_THAT(hiddenFiles(out), IsEmpty());
}

TEST(FileSinkTest, AnAbortedCheckpointCommitsNothingUntilALaterOneCompletes) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  SinkHarness sink(fileSink(out), /*checkpointing=*/true);
  sink.open();
  sink.push({"a"});
  sink.checkpoint(1);
  sink.aborted(1);
  EXPECT_THAT(finalFiles(out), IsEmpty());
  sink.push({"b"});
  sink.checkpoint(2);
  sink.complete(2);
  EXPECT_THAT(finalLines(out), ElementsAre("a", "b"));
  sink.push({"c"});
  sink.close();
  // The open part file is gone; nothing of "c" is visible.
  EXPECT_THAT(finalLines(out), ElementsAre("a", "b"));
  EXPECT_THAT(hiddenFiles(out), IsEmpty());
}

TEST(FileSinkTest, RestoreCommitsExactlyTheTransactionsOfTheRestoredCheckpoint) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  internal::OperatorStateSnapshotData atTwo;
  {
    SinkHarness sink(fileSink(out), /*checkpointing=*/true);
    sink.open();
    sink.push({"a1", "a2"});
    sink.checkpoint(1);
    sink.push({"b1"});
    atTwo = sink.checkpoint(2);
    sink.push({"c1", "c2"});  // after checkpoint 2
    sink.checkpoint(3);
    sink.push({"d1"});
    // Crash: the notifications of 1, 2 and 3 never arrive, and close never runs.
  }
  EXPECT_THAT(finalFiles(out), IsEmpty());

  SinkHarness restored(fileSink(out), /*checkpointing=*/true, atTwo);
  restored.open();
  EXPECT_THAT(finalLines(out), ElementsAre("a1", "a2", "b1"));
  restored.push({"c1", "c2", "d1"});  // the sources replay what followed checkpoint 2
  restored.finish();
  restored.close();
  std::vector<std::string> lines = finalLines(out);
  std::sort(lines.begin(), lines.end());
  EXPECT_THAT(lines, ElementsAre("a1", "a2", "b1", "c1", "c2", "d1"));
  // The new part file continues the counter after the files of the failed attempt.
  EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0", "part-0-1", "part-0-4"));
  // The failed attempt's files after checkpoint 2 stay hidden.
  EXPECT_THAT(hiddenFiles(out), ElementsAre(".part-0-2.inprogress", ".part-0-3.inprogress"));
}

TEST(FileSinkTest, RestoringAnOlderCheckpointKeepsWhatWasCommittedAfterIt) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  internal::OperatorStateSnapshotData atOne;
  {
    SinkHarness sink(fileSink(out), /*checkpointing=*/true);
    sink.open();
    sink.push({"a"});
    atOne = sink.checkpoint(1);
    sink.push({"b"});
    sink.checkpoint(2);
    sink.complete(2);
  }
  EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0", "part-0-1"));
  // Restoring checkpoint 1 commits "a" again (already done) and never overwrites "b"'s file.
  SinkHarness restored(fileSink(out), /*checkpointing=*/true, atOne);
  restored.open();
  restored.push({"b again"});
  restored.finish();
  restored.close();
  EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0", "part-0-1", "part-0-2"));
  EXPECT_THAT(finalLines(out), ElementsAre("a", "b", "b again"));
}

TEST(FileSinkTest, RestoringTheSameCheckpointTwiceCommitsOnce) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  internal::OperatorStateSnapshotData atOne;
  {
    SinkHarness sink(fileSink(out), /*checkpointing=*/true);
    sink.open();
    sink.push({"a", "b"});
    atOne = sink.checkpoint(1);
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    SinkHarness restored(fileSink(out), /*checkpointing=*/true, atOne);
    restored.open();
    restored.close();
    EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0"));
    EXPECT_THAT(finalLines(out), ElementsAre("a", "b"));
  }
}

TEST(FileSinkTest, CommittingTwiceIsHarmless) {
  testing::TempDir tmp;
  internal::PartFileWriter files;
  files.open(tmp.path().string(), 3);
  PartFileTransaction txn;
  files.begin(txn);
  EXPECT_EQ(txn.name, "part-3-0");
  files.buffer() += "x\n";
  files.preCommit(txn);
  files.commit(txn);
  files.commit(txn);
  EXPECT_THAT(finalLines(tmp.path()), ElementsAre("x"));
  EXPECT_THAT(hiddenFiles(tmp.path()), IsEmpty());
}

TEST(FileSinkTest, AMissingPendingFileFailsTheRestoreNamingIt) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  internal::OperatorStateSnapshotData atOne;
  {
    SinkHarness sink(fileSink(out), /*checkpointing=*/true);
    sink.open();
    sink.push({"a"});
    atOne = sink.checkpoint(1);
  }
  fs::remove(out / ".part-0-0.inprogress");
  SinkHarness restored(fileSink(out), /*checkpointing=*/true, atOne);
  try {
    restored.open();
    FAIL() << "the restore should fail";
  } catch (const OperatorException& e) {
    EXPECT_THAT(e.what(), HasSubstr("Sink: File Sink (1/1)"));
    EXPECT_THAT(e.what(), HasSubstr((out / ".part-0-0.inprogress").string()));
    EXPECT_THAT(e.what(), HasSubstr("missing"));
  }
}

TEST(FileSinkTest, AnUnusableDirectoryFailsNamingIt) {
  testing::TempDir tmp;
  testing::writeFile(tmp.path() / "file", "not a directory");
  const fs::path out = tmp.path() / "file" / "out";
  SinkHarness sink(fileSink(out), /*checkpointing=*/false);
  try {
    sink.open();
    FAIL() << "open should fail";
  } catch (const OperatorException& e) {
    EXPECT_THAT(e.what(), HasSubstr(out.string()));
  }
}

TEST(FileSinkTest, WithoutCheckpointingTheOutputAppearsAtTheEnd) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  SinkHarness sink(fileSink(out), /*checkpointing=*/false);
  sink.open();
  sink.push({"a", "b"});
  EXPECT_THAT(finalFiles(out), IsEmpty());
  sink.finish();
  EXPECT_THAT(finalLines(out), ElementsAre("a", "b"));
  sink.close();
  EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0"));
  EXPECT_THAT(hiddenFiles(out), IsEmpty());
}

TEST(FileSinkTest, FinishCommitsThePendingAndTheLastPartFile) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  SinkHarness sink(fileSink(out), /*checkpointing=*/true);
  sink.open();
  sink.push({"a"});
  sink.checkpoint(1);
  sink.push({"b"});
  sink.finish();  // checkpoint 1 never completes: the task has ended
  sink.close();
  EXPECT_THAT(finalLines(out), ElementsAre("a", "b"));
  EXPECT_THAT(hiddenFiles(out), IsEmpty());
}

TEST(FileSinkTest, RollsBySize) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  RollingPolicy policy;
  policy.maxPartSizeBytes = 100;
  std::vector<std::string> records;
  for (int i = 0; i < 45; ++i)
    records.push_back("record-" + std::to_string(100 + i));  // 11 bytes a line
  SinkHarness sink(fileSink(out, policy), /*checkpointing=*/false);
  sink.open();
  sink.push(records);
  // Without checkpointing, rolled part files commit at once.
  EXPECT_THAT(finalFiles(out), SizeIs(4));
  sink.finish();
  sink.close();
  EXPECT_THAT(finalFiles(out), SizeIs(5));
  for (const std::string& name : finalFiles(out))
    EXPECT_LE(fs::file_size(out / name), 110u) << name;
  // part-0-10 sorts before part-0-2: compare as a set.
  std::vector<std::string> lines = finalLines(out);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, records);
}

TEST(FileSinkTest, RolledPartFilesWaitForTheNextCheckpoint) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  RollingPolicy policy;
  policy.maxPartSizeBytes = 4;
  SinkHarness sink(fileSink(out, policy), /*checkpointing=*/true);
  sink.open();
  sink.push({"aaa", "bbb", "c"});
  EXPECT_THAT(finalFiles(out), IsEmpty());
  EXPECT_THAT(hiddenFiles(out), SizeIs(3));
  sink.checkpoint(1);
  EXPECT_THAT(finalFiles(out), IsEmpty());
  sink.complete(1);
  EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0", "part-0-1", "part-0-2"));
  EXPECT_THAT(finalLines(out), ElementsAre("aaa", "bbb", "c"));
  sink.close();
}

TEST(FileSinkTest, RollsByAgeAndInactivity) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  RollingPolicy policy;
  policy.rolloverIntervalMillis = 1'000;
  policy.inactivityIntervalMillis = 300;
  policy.checkIntervalMillis = 100;
  SinkHarness sink(fileSink(out, policy), /*checkpointing=*/false);
  sink.open();
  FakeProcessingTime& time = sink.time();
  const int64_t start = time.now;
  // Written every 100 ms: never inactive, rolled by age after a second.
  for (int i = 0; i < 12; ++i) {
    sink.push({"busy-" + std::to_string(10 + i)});
    time.advanceTo(time.now + 100);
  }
  EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0"));
  EXPECT_GE(finalLines(out).size(), 9u);
  // Then quiet: rolled within the inactivity interval and a check.
  sink.push({"quiet"});
  time.advanceTo(time.now + 250);
  EXPECT_THAT(finalFiles(out), SizeIs(1));
  time.advanceTo(time.now + 300);
  EXPECT_THAT(finalFiles(out), SizeIs(2));
  EXPECT_THAT(finalLines(out), ::testing::Contains("quiet"));
  EXPECT_LT(time.now - start, 2'000);
  sink.close();
}

TEST(FileSinkTest, SubtasksWriteDistinctPartFiles) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "out";
  SinkHarness first(fileSink(out), false, std::nullopt, 0, 2);
  SinkHarness second(fileSink(out), false, std::nullopt, 1, 2);
  first.open();
  second.open();
  first.push({"a"});
  second.push({"b"});
  first.finish();
  second.finish();
  first.close();
  second.close();
  EXPECT_THAT(finalFiles(out), ElementsAre("part-0-0", "part-1-0"));
}

// A two-phase-commit writer over an in-memory "transaction log": transactions are numbers, and
// each step is recorded.
class RecordingWriter final : public TwoPhaseCommitSinkWriter<std::string, int64_t> {
 public:
  explicit RecordingWriter(std::vector<std::string>* log) : log_(log) {}

 protected:
  int64_t beginTransaction() override {
    log_->push_back("begin " + std::to_string(next_));
    return next_++;
  }
  void invoke(int64_t& txn, std::string&& record, int64_t) override {
    if (record == "fail")
      throw std::runtime_error("cannot write " + record);
    log_->push_back("write " + std::to_string(txn) + " " + record);
  }
  void preCommit(int64_t& txn) override { log_->push_back("preCommit " + std::to_string(txn)); }
  void commit(const int64_t& txn) override { log_->push_back("commit " + std::to_string(txn)); }
  void abort(const int64_t& txn) override { log_->push_back("abort " + std::to_string(txn)); }
  void recoverAndCommit(const int64_t& txn) override {
    log_->push_back("recoverAndCommit " + std::to_string(txn));
  }
  void recoverAndAbort(const int64_t& txn) override {
    log_->push_back("recoverAndAbort " + std::to_string(txn));
  }

 private:
  std::vector<std::string>* log_;
  int64_t next_ = 0;
};

TEST(TwoPhaseCommitSinkTest, FollowsTheProtocol) {
  std::vector<std::string> log;
  internal::OperatorStateSnapshotData atTwo;
  {
    SinkHarness sink(std::make_unique<RecordingWriter>(&log), /*checkpointing=*/true);
    sink.open();
    sink.push({"x"});
    sink.checkpoint(1);
    sink.push({"y"});
    atTwo = sink.checkpoint(2);
    sink.complete(1);
    sink.complete(2);
    sink.close();
  }
  EXPECT_THAT(log, ElementsAre("begin 0", "write 0 x", "preCommit 0", "begin 1", "write 1 y",
                               "preCommit 1", "begin 2", "commit 0", "commit 1", "abort 2"));
  // The writer restored from checkpoint 2 commits the transactions pending then (0 and 1:
  // checkpoint 1 had not completed yet) and aborts the one open then (2).
  log.clear();
  SinkHarness restored(std::make_unique<RecordingWriter>(&log), /*checkpointing=*/true, atTwo);
  restored.open();
  EXPECT_THAT(
      log, ElementsAre("recoverAndCommit 0", "recoverAndCommit 1", "recoverAndAbort 2", "begin 0"));
  restored.close();
}

TEST(TwoPhaseCommitSinkTest, WrapsUserExceptionsNamingTheOperator) {
  std::vector<std::string> log;
  SinkHarness sink(std::make_unique<RecordingWriter>(&log), /*checkpointing=*/false);
  sink.open();
  try {
    sink.push({"fail"});
    FAIL() << "push should throw";
  } catch (const OperatorException& e) {
    EXPECT_THAT(e.what(), HasSubstr("Sink: File Sink (1/1)"));
    EXPECT_THAT(e.what(), HasSubstr("cannot write fail"));
  }
  sink.close();
  EXPECT_THAT(log, ElementsAre("begin 0", "abort 0"));
}

}  // namespace
}  // namespace brook
