// The checkpoint coordinator driven by hand: a fake clock through onTick, acknowledgements with
// state files really written to a temporary checkpoint directory, and recording callbacks.

#include "checkpoint/checkpoint_coordinator.h"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/files.h"

namespace brook::checkpoint {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A job of a source (vertex 0, parallelism 1) and a keyed counter (vertex 1, parallelism 2).
const std::vector<OperatorDescription> kOperators = {{"source", "Source", 0, 1, 128},
                                                     {"counter", "Counter", 1, 2, 128}};
const std::vector<SubtaskId> kTasks = {{0, 0}, {1, 0}, {1, 1}};

struct Recorder {
  std::vector<std::pair<int64_t, fs::path>> triggered;
  std::vector<int64_t> completed;
  std::vector<std::pair<int64_t, std::string>> aborted;
  std::vector<std::string> jobFailures;
  absl::Status triggerResult = absl::OkStatus();
};

class CoordinatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<CheckpointCoordinator> make(CheckpointingOptions options,
                                              int64_t lastCheckpointId = 0) {
    options.directory = tmp_.path().string();
    absl::StatusOr<FileCheckpointStorage> storage =
        FileCheckpointStorage::open(options.directory, "job-a");
    EXPECT_TRUE(storage.ok());
    CheckpointCoordinator::Callbacks callbacks;
    callbacks.triggerSources = [this](int64_t id, int64_t, bool, const fs::path& dir) {
      rec_.triggered.emplace_back(id, dir);
      return rec_.triggerResult;
    };
    callbacks.notifyComplete = [this](int64_t id) { rec_.completed.push_back(id); };
    callbacks.notifyAborted = [this](int64_t id, const std::string& reason) {
      rec_.aborted.emplace_back(id, reason);
    };
    callbacks.failJob = [this](const std::string& reason) { rec_.jobFailures.push_back(reason); };
    return std::make_unique<CheckpointCoordinator>("job-a", options, *std::move(storage),
                                                   kOperators, kTasks, callbacks,
                                                   lastCheckpointId);
  }

  // Acknowledges checkpoint `id` from `task` with one keyed state file per operator it runs.
  absl::Status ack(CheckpointCoordinator& c, int64_t id, SubtaskId task, int64_t now = 0) {
    fs::path dir = directoryOf(id);
    TaskAcknowledgement a{task, {}};
    for (const OperatorDescription& d : kOperators) {
      if (d.vertexId != task.vertexId)
        continue;
      std::string name = d.uid + "-" + std::to_string(task.subtaskIndex);
      absl::StatusOr<StateFile> f = writeStateFile(dir, name, "state of " + name);
      if (!f.ok())
        return f.status();
      a.operators.emplace_back(d.uid,
                               SubtaskStateMetadata{task.subtaskIndex, 0, 127, {*f}, {}, {}, {}});
    }
    return c.acknowledge(id, a, now);
  }
  void ackAll(CheckpointCoordinator& c, int64_t id, int64_t now = 0) {
    for (SubtaskId t : kTasks)
      ASSERT_TRUE(ack(c, id, t, now).ok());
  }
  fs::path directoryOf(int64_t id) {
    for (const auto& [triggered, dir] : rec_.triggered) {
      if (triggered == id)
        return dir;
    }
    return tmp_.path() / "job-a" / ("chk-" + std::to_string(id));
  }
  fs::path checkpointDir(int64_t id) { return tmp_.path() / "job-a" / ("chk-" + std::to_string(id)); }

  // Writes the shared file `name` as an incremental snapshot uploads it.
  StateFile uploadShared(const std::string& name) {
    absl::StatusOr<StateFile> f =
        writeStateFile(tmp_.path() / "job-a" / "shared", name, "sst " + name);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *f : StateFile{};
  }
  // Acknowledges checkpoint `id` from subtask `subtask` of the counter with its RocksDB files.
  static absl::Status ackNative(CheckpointCoordinator& c,
                                int64_t id,
                                int subtask,
                                std::vector<NativeStateFile> files) {
    TaskAcknowledgement a{{1, subtask}, {}};
    a.operators.emplace_back("counter",
                             SubtaskStateMetadata{subtask, 0, 127, {}, {}, {}, std::move(files)});
    return c.acknowledge(id, a, 0);
  }

  static CheckpointingOptions every(int64_t interval) {
    CheckpointingOptions o;
    o.intervalMillis = interval;
    return o;
  }

  testing::TempDir tmp_;
  Recorder rec_;
};

TEST_F(CoordinatorTest, PeriodicCheckpointCompletesWhenEveryTaskAcknowledged) {
  auto c = make(every(100));
  c->start(0);
  c->onTick(99);
  EXPECT_THAT(rec_.triggered, IsEmpty());
  c->onTick(100);
  ASSERT_THAT(rec_.triggered, SizeIs(1));
  EXPECT_EQ(rec_.triggered[0].first, 1);
  EXPECT_EQ(rec_.triggered[0].second, checkpointDir(1));
  ASSERT_TRUE(ack(*c, 1, {1, 1}).ok());
  ASSERT_TRUE(ack(*c, 1, {0, 0}).ok());
  EXPECT_THAT(rec_.completed, IsEmpty());
  EXPECT_FALSE(fs::exists(checkpointDir(1) / kMetadataFileName));
  ASSERT_TRUE(ack(*c, 1, {1, 0}).ok());
  EXPECT_THAT(rec_.completed, ElementsAre(1));

  // The metadata on disk names every operator's subtasks in order, and their files verify.
  absl::StatusOr<CheckpointMetadata> m = readMetadata(checkpointDir(1));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->jobId, "job-a");
  EXPECT_EQ(m->checkpointId, 1);
  EXPECT_EQ(m->timestampMillis, 100);
  EXPECT_FALSE(m->isSavepoint);
  ASSERT_THAT(m->operators, SizeIs(2));
  EXPECT_EQ(m->operators[1].operatorUid, "counter");
  ASSERT_THAT(m->operators[1].subtasks, SizeIs(2));
  EXPECT_EQ(m->operators[1].subtasks[0].subtaskIndex, 0);
  EXPECT_EQ(m->operators[1].subtasks[1].keyedState[0].path, "counter-1");
  EXPECT_TRUE(verifyStateFiles(*m, checkpointDir(1)).ok());
  EXPECT_EQ(c->latestCompleted(), m.value());
  EXPECT_EQ(c->counts().completed, 1);
  EXPECT_EQ(c->counts().pending, 0);
}

TEST_F(CoordinatorTest, AtMostMaxConcurrentAndMinPauseAfterCompletion) {
  CheckpointingOptions o = every(100);
  o.minPauseMillis = 150;
  auto c = make(o);
  c->start(0);
  c->onTick(100);  // checkpoint 1
  c->onTick(200);  // 1 is still pending: nothing
  c->onTick(300);
  ASSERT_THAT(rec_.triggered, SizeIs(1));
  EXPECT_EQ(c->triggerCheckpoint(300).status().code(), absl::StatusCode::kFailedPrecondition);
  ackAll(*c, 1, 320);
  c->onTick(400);  // only 80 ms since the completion
  EXPECT_THAT(rec_.triggered, SizeIs(1));
  c->onTick(470);  // 150 ms since the completion
  ASSERT_THAT(rec_.triggered, SizeIs(2));
  EXPECT_EQ(rec_.triggered[1].first, 2);
}

TEST_F(CoordinatorTest, StopEndsPeriodicTriggering) {
  auto c = make(every(100));
  c->start(0);
  c->stop();
  c->onTick(1000);
  EXPECT_THAT(rec_.triggered, IsEmpty());
  CheckpointingOptions off;  // interval 0: start does not make it periodic
  auto d = make(off);
  d->start(0);
  d->onTick(1'000'000);
  EXPECT_THAT(rec_.triggered, IsEmpty());
}

TEST_F(CoordinatorTest, ExpiredCheckpointIsAbortedDiscardedAndFailsTheJobBeyondTolerance) {
  CheckpointingOptions o = every(100);
  o.timeoutMillis = 50;
  o.tolerableFailedCheckpoints = 1;
  auto c = make(o);
  c->start(0);
  c->onTick(100);
  ASSERT_TRUE(ack(*c, 1, {0, 0}).ok());
  c->onTick(149);
  EXPECT_THAT(rec_.aborted, IsEmpty());
  c->onTick(150);
  ASSERT_THAT(rec_.aborted, SizeIs(1));
  EXPECT_EQ(rec_.aborted[0].first, 1);
  EXPECT_THAT(rec_.aborted[0].second, HasSubstr("expired after 50 ms with 2 of 3 tasks"));
  EXPECT_FALSE(fs::exists(checkpointDir(1)));
  EXPECT_THAT(rec_.jobFailures, IsEmpty());  // one failure is tolerated
  // A late acknowledgement of the aborted checkpoint is refused.
  EXPECT_EQ(ack(*c, 1, {1, 0}).code(), absl::StatusCode::kNotFound);

  c->onTick(250);  // checkpoint 2
  c->onTick(300);  // expires: the second failure in a row
  ASSERT_THAT(rec_.jobFailures, SizeIs(1));
  EXPECT_THAT(rec_.jobFailures[0], HasSubstr("2 failed checkpoints in a row"));
  EXPECT_THAT(rec_.jobFailures[0], HasSubstr("tolerable-failed-checkpoints is 1"));
  EXPECT_EQ(c->counts().failed, 2);
}

TEST_F(CoordinatorTest, CompletionResetsTheFailureCount) {
  CheckpointingOptions o = every(100);
  o.tolerableFailedCheckpoints = 1;
  auto c = make(o);
  ASSERT_EQ(*c->triggerCheckpoint(0), 1);
  c->decline(1, {1, 0}, DeclineReason::kFailure, "disk full", 0);
  ASSERT_THAT(rec_.aborted, SizeIs(1));
  EXPECT_THAT(rec_.aborted[0].second,
              HasSubstr("checkpoint 1 was declined by subtask 0 of vertex 1: disk full"));
  ASSERT_EQ(*c->triggerCheckpoint(10), 2);
  ackAll(*c, 2);
  ASSERT_EQ(*c->triggerCheckpoint(20), 3);
  c->decline(3, {0, 0}, DeclineReason::kFailure, "again", 20);
  EXPECT_THAT(rec_.jobFailures, IsEmpty());
  ASSERT_EQ(*c->triggerCheckpoint(30), 4);
  c->decline(4, {0, 0}, DeclineReason::kFailure, "and again", 30);
  EXPECT_THAT(rec_.jobFailures, SizeIs(1));
}

TEST_F(CoordinatorTest, BadAcknowledgementsAreRefused) {
  auto c = make(every(100));
  ASSERT_EQ(*c->triggerCheckpoint(0), 1);
  ASSERT_TRUE(ack(*c, 1, {1, 0}).ok());
  absl::Status twice = ack(*c, 1, {1, 0});
  EXPECT_EQ(twice.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(twice.message(), HasSubstr("acknowledged twice"));
  EXPECT_THAT(ack(*c, 1, {7, 0}).message(), HasSubstr("not a task of this job"));
  TaskAcknowledgement wrongOperator{{1, 1},
                                    {{"source", SubtaskStateMetadata{1, 0, 0, {}, {}, {}, {}}}}};
  EXPECT_THAT(c->acknowledge(1, wrongOperator, 0).message(),
              HasSubstr("state of operator 'source' subtask 1, which it does not run"));
  EXPECT_EQ(ack(*c, 9, {0, 0}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c->counts().pending, 1);
}

TEST_F(CoordinatorTest, MissingOperatorStateAbortsInsteadOfWritingPartialMetadata) {
  auto c = make(every(100));
  ASSERT_EQ(*c->triggerCheckpoint(0), 1);
  ASSERT_TRUE(ack(*c, 1, {0, 0}).ok());
  ASSERT_TRUE(ack(*c, 1, {1, 0}).ok());
  // Subtask 1 of the counter acknowledges without its operator's state.
  ASSERT_TRUE(c->acknowledge(1, TaskAcknowledgement{{1, 1}, {}}, 0).ok());
  EXPECT_THAT(rec_.completed, IsEmpty());
  ASSERT_THAT(rec_.aborted, SizeIs(1));
  EXPECT_THAT(rec_.aborted[0].second, HasSubstr("operator 'counter' acknowledged state of 1 of its 2"));
  EXPECT_FALSE(fs::exists(checkpointDir(1)));
}

TEST_F(CoordinatorTest, RetainsTheNewestCheckpoints) {
  CheckpointingOptions o = every(100);
  o.numRetained = 2;
  auto c = make(o);
  for (int64_t id = 1; id <= 3; ++id) {
    ASSERT_EQ(*c->triggerCheckpoint(id * 10), id);
    ackAll(*c, id);
  }
  EXPECT_FALSE(fs::exists(checkpointDir(1)));
  EXPECT_TRUE(fs::exists(checkpointDir(2) / kMetadataFileName));
  EXPECT_TRUE(fs::exists(checkpointDir(3) / kMetadataFileName));
  EXPECT_EQ(c->latestCompleted()->checkpointId, 3);
}

TEST_F(CoordinatorTest, ANewerCompletedCheckpointSubsumesOlderPendingOnes) {
  CheckpointingOptions o = every(100);
  o.maxConcurrentCheckpoints = 2;
  auto c = make(o);
  ASSERT_EQ(*c->triggerCheckpoint(0), 1);
  ASSERT_EQ(*c->triggerCheckpoint(5), 2);
  ackAll(*c, 2);
  EXPECT_THAT(rec_.completed, ElementsAre(2));
  ASSERT_THAT(rec_.aborted, SizeIs(1));
  EXPECT_EQ(rec_.aborted[0].first, 1);
  EXPECT_THAT(rec_.aborted[0].second, HasSubstr("subsumed by checkpoint 2"));
  EXPECT_EQ(c->counts().failed, 0);
  EXPECT_FALSE(fs::exists(checkpointDir(1)));
}

TEST_F(CoordinatorTest, SavepointIsSelfContainedAndNotALatestCheckpoint) {
  auto c = make(every(100), /*lastCheckpointId=*/41);
  testing::TempDir savepoints;
  std::optional<absl::StatusOr<fs::path>> result;
  ASSERT_EQ(*c->triggerCheckpoint(0), 42);  // a checkpoint in progress does not block it
  absl::StatusOr<int64_t> id = c->triggerSavepoint(
      10, "file://" + savepoints.path().string(), [&](absl::StatusOr<fs::path> p) { result = p; });
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 43);
  ackAll(*c, 43);
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ((*result)->parent_path(), savepoints.path());
  EXPECT_THAT((*result)->filename().string(), HasSubstr("savepoint-job-a-43"));
  EXPECT_FALSE(fs::exists(checkpointDir(43)));  // moved, not copied
  absl::StatusOr<CheckpointMetadata> m = readMetadata(**result);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->isSavepoint);
  EXPECT_TRUE(verifyStateFiles(*m, **result).ok());
  EXPECT_FALSE(c->latestCompleted().has_value());
  EXPECT_THAT(rec_.completed, ElementsAre(43));
  EXPECT_EQ(c->counts().pending, 1);  // checkpoint 42 goes on
}

TEST_F(CoordinatorTest, FailedSavepointReportsTheReasonAndLeavesNoFolder) {
  auto c = make(every(100));
  testing::TempDir savepoints;
  std::optional<absl::StatusOr<fs::path>> result;
  ASSERT_TRUE(c->triggerSavepoint(0, savepoints.path().string(),
                                  [&](absl::StatusOr<fs::path> p) { result = p; })
                  .ok());
  c->decline(1, {0, 0}, DeclineReason::kFailure, "source is finished", 5);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(result->status().message(), HasSubstr("source is finished"));
  EXPECT_EQ(std::distance(fs::directory_iterator(savepoints.path()), fs::directory_iterator()), 0);
  EXPECT_THAT(rec_.jobFailures, IsEmpty());  // savepoint failures do not count
  EXPECT_FALSE(c->triggerSavepoint(0, "s3://bucket", {}).ok());
}

TEST_F(CoordinatorTest, SourcesThatCannotBeTriggeredAbortTheCheckpoint) {
  rec_.triggerResult = absl::UnavailableError("task manager gone");
  CheckpointingOptions o = every(100);
  o.tolerableFailedCheckpoints = 5;
  auto c = make(o);
  ASSERT_EQ(*c->triggerCheckpoint(0), 1);
  ASSERT_THAT(rec_.aborted, SizeIs(1));
  EXPECT_THAT(rec_.aborted[0].second, HasSubstr("could not be triggered: task manager gone"));
  EXPECT_EQ(c->counts().pending, 0);
  EXPECT_EQ(c->counts().failed, 1);
}

TEST_F(CoordinatorTest, TasksNotAllRunningAbortWithoutCountingAFailure) {
  rec_.triggerResult = absl::FailedPreconditionError("2 of 3 tasks are running");
  auto c = make(every(100));
  ASSERT_EQ(*c->triggerCheckpoint(0), 1);
  ASSERT_THAT(rec_.aborted, SizeIs(1));
  EXPECT_EQ(c->counts().failed, 0);
  EXPECT_THAT(rec_.jobFailures, IsEmpty());
}

TEST_F(CoordinatorTest, ACheckpointCompletingFirstKeepsASavepointInProgress) {
  CheckpointingOptions o = every(100);
  auto c = make(o);
  testing::TempDir savepoints;
  std::optional<absl::StatusOr<fs::path>> result;
  ASSERT_EQ(*c->triggerSavepoint(0, savepoints.path().string(),
                                 [&](absl::StatusOr<fs::path> p) { result = p; }),
            1);
  ASSERT_EQ(*c->triggerCheckpoint(1), 2);
  ackAll(*c, 2);  // retention must not take the savepoint's folder
  ackAll(*c, 1);
  ASSERT_TRUE(result.has_value() && result->ok());
  EXPECT_TRUE(verifyStateFiles(*readMetadata(**result), **result).ok());
}

TEST_F(CoordinatorTest, DeclinesOfFinishedTasksAndSubsumedCheckpointsAreNoFailures) {
  auto c = make(every(100));
  ASSERT_EQ(*c->triggerCheckpoint(0), 1);
  c->decline(1, {0, 0}, DeclineReason::kTaskNotRunning, "the source has finished", 0);
  ASSERT_EQ(*c->triggerCheckpoint(1), 2);
  c->decline(2, {1, 0}, DeclineReason::kSubsumed, "overtaken by checkpoint 3", 1);
  EXPECT_EQ(c->counts().failed, 0);
  EXPECT_THAT(rec_.aborted, SizeIs(2));
  EXPECT_THAT(rec_.jobFailures, IsEmpty());
}

TEST_F(CoordinatorTest, AbortPendingDoesNotCountAsFailure) {
  auto c = make(every(100));
  ASSERT_EQ(*c->triggerCheckpoint(0), 1);
  c->abortPending("the job is failing over");
  ASSERT_THAT(rec_.aborted, SizeIs(1));
  EXPECT_THAT(rec_.aborted[0].second, HasSubstr("failing over"));
  EXPECT_EQ(c->counts().failed, 0);
  EXPECT_THAT(rec_.jobFailures, IsEmpty());
}

// Incremental checkpoints: the counter's subtasks acknowledge RocksDB files, shared ones by
// placeholder when the latest completed checkpoint holds them.
TEST_F(CoordinatorTest, SharedFilePlaceholdersResolveFromTheLatestCompletedCheckpoint) {
  auto c = make(every(100));
  const fs::path shared = tmp_.path() / "job-a" / "shared";
  ASSERT_TRUE(c->triggerCheckpoint(0).ok());
  ASSERT_TRUE(ack(*c, 1, {0, 0}).ok());
  const StateFile first0 = uploadShared("chk-1-counter_0-000010.sst");
  const StateFile first1 = uploadShared("chk-1-counter_1-000010.sst");
  ASSERT_TRUE(ackNative(*c, 1, 0, {{"000010.sst", true, first0}}).ok());
  ASSERT_TRUE(ackNative(*c, 1, 1, {{"000010.sst", true, first1}}).ok());
  ASSERT_THAT(rec_.completed, ElementsAre(1));

  // Subtask 0 still has 000010.sst; subtask 1 compacted its file away.
  ASSERT_TRUE(c->triggerCheckpoint(0).ok());
  ASSERT_TRUE(ack(*c, 2, {0, 0}).ok());
  const StateFile second0 = uploadShared("chk-2-counter_0-000011.sst");
  const StateFile second1 = uploadShared("chk-2-counter_1-000012.sst");
  ASSERT_TRUE(ackNative(*c, 2, 0, {{"000010.sst", true, {}}, {"000011.sst", true, second0}}).ok());
  ASSERT_TRUE(ackNative(*c, 2, 1, {{"000012.sst", true, second1}}).ok());
  ASSERT_THAT(rec_.completed, ElementsAre(1, 2));
  absl::StatusOr<CheckpointMetadata> m = readMetadata(checkpointDir(2));
  ASSERT_TRUE(m.ok()) << m.status();
  const std::vector<NativeStateFile>& files = m->operators[1].subtasks[0].nativeKeyedState;
  ASSERT_THAT(files, SizeIs(2));
  EXPECT_EQ(files[0].file, first0);
  EXPECT_EQ(files[1].file, second0);
  // Checkpoint 1 is gone, and with it the file only it referenced.
  EXPECT_FALSE(fs::exists(checkpointDir(1)));
  EXPECT_TRUE(fs::exists(shared / first0.path));
  EXPECT_FALSE(fs::exists(shared / first1.path));
  EXPECT_TRUE(verifyStateFiles(*m, checkpointDir(2)).ok());

  // A placeholder for a file the latest checkpoint does not hold aborts the checkpoint.
  ASSERT_TRUE(c->triggerCheckpoint(0).ok());
  ASSERT_TRUE(ack(*c, 3, {0, 0}).ok());
  ASSERT_TRUE(ackNative(*c, 3, 0, {{"000010.sst", true, {}}}).ok());
  ASSERT_TRUE(ackNative(*c, 3, 1, {{"000010.sst", true, {}}}).ok());
  EXPECT_THAT(rec_.completed, ElementsAre(1, 2));
  ASSERT_THAT(rec_.aborted, SizeIs(1));
  EXPECT_THAT(rec_.aborted[0].second,
              HasSubstr("subtask 1 of operator 'counter' references its RocksDB file 000010.sst "
                        "of an earlier checkpoint, which the latest completed checkpoint 2 "
                        "does not hold"));
}

// A failover restores an older checkpoint when the newest is damaged: the tasks that took over
// its RocksDB files reference them by placeholder, and later checkpoints resolve them from it.
TEST_F(CoordinatorTest, PlaceholdersResolveFromTheCheckpointTheJobContinuesFrom) {
  CheckpointingOptions options = every(100);
  options.numRetained = 2;
  auto c = make(options);
  const StateFile first = uploadShared("chk-1-counter_0-000010.sst");
  ASSERT_TRUE(c->triggerCheckpoint(0).ok());
  ASSERT_TRUE(ack(*c, 1, {0, 0}).ok());
  ASSERT_TRUE(ackNative(*c, 1, 0, {{"000010.sst", true, first}}).ok());
  ASSERT_TRUE(ackNative(*c, 1, 1, {}).ok());
  // Checkpoint 2 no longer holds 000010.sst (compacted into 000011.sst).
  ASSERT_TRUE(c->triggerCheckpoint(0).ok());
  ASSERT_TRUE(ack(*c, 2, {0, 0}).ok());
  ASSERT_TRUE(
      ackNative(*c, 2, 0, {{"000011.sst", true, uploadShared("chk-2-counter_0-000011.sst")}}).ok());
  ASSERT_TRUE(ackNative(*c, 2, 1, {}).ok());
  ASSERT_THAT(rec_.completed, ElementsAre(1, 2));

  absl::StatusOr<CheckpointMetadata> restored = readMetadata(checkpointDir(1));
  ASSERT_TRUE(restored.ok()) << restored.status();
  c->continueFrom(*restored);
  EXPECT_EQ(c->latestCompleted()->checkpointId, 1);
  ASSERT_TRUE(c->triggerCheckpoint(0).ok());
  ASSERT_TRUE(ack(*c, 3, {0, 0}).ok());
  const StateFile added = uploadShared("chk-3-counter_0-000012.sst");
  ASSERT_TRUE(ackNative(*c, 3, 0, {{"000010.sst", true, {}}, {"000012.sst", true, added}}).ok());
  ASSERT_TRUE(ackNative(*c, 3, 1, {}).ok());
  ASSERT_THAT(rec_.completed, ElementsAre(1, 2, 3));
  EXPECT_THAT(rec_.aborted, IsEmpty());
  absl::StatusOr<CheckpointMetadata> m = readMetadata(checkpointDir(3));
  ASSERT_TRUE(m.ok()) << m.status();
  const std::vector<NativeStateFile>& files = m->operators[1].subtasks[0].nativeKeyedState;
  ASSERT_THAT(files, SizeIs(2));
  EXPECT_EQ(files[0].file, first);
  EXPECT_EQ(files[1].file, added);
  EXPECT_TRUE(verifyStateFiles(*m, checkpointDir(3)).ok());
}

}  // namespace
}  // namespace brook::checkpoint
