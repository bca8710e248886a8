// Jobs on a cluster of real processes: submission with the brook CLI, tasks spread over two
// TaskManagers, records over TCP, cancellation, TaskManager loss and restarts, missing slots.

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e/cluster_fixture.h"

namespace brook {
namespace {

using ::testing::HasSubstr;

const std::string kWordCount = BROOK_WORDCOUNT_JOB;
const std::string kUnbounded = BROOK_UNBOUNDED_JOB;
const std::string kFailing = BROOK_FAILING_JOB;
const std::string kRivers = std::string(BROOK_SOURCE_DIR) + "/examples/data/rivers.txt";

// Every line of every part file in `dir`, sorted.
std::vector<std::string> sortedLines(const std::string& dir) {
  std::vector<std::string> lines;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    // Hidden files are part files still in progress or pending (the file sink's).
    if (entry.path().filename().string().starts_with("."))
      continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);)
      lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

class JobExecutionTest : public ClusterTest {
 protected:
  // A JobManager with `options` and two TaskManagers with two slots each, all registered.
  void startCluster(const std::vector<std::string>& options = {}) {
    std::string jm = startJobManager(0, options);
    startTaskManager("tm-a", jm, 2);
    startTaskManager("tm-b", jm, 2);
    ASSERT_TRUE(eventually([&] { return slots().second == 4; }, 10s)) << jobManager_->stderrText();
  }

  std::string jobIdIn(const std::string& text) {
    auto at = text.find("JobID ");
    return at == std::string::npos ? "" : text.substr(at + 6, 32);
  }
};

TEST_F(JobExecutionTest, WordCountOnTwoTaskManagersMatchesTheMiniCluster) {
  startCluster();
  auto cluster = startCli("wordcount-cluster", {"run", "-p", "4", kWordCount, "--", "--input",
                                                kRivers, "--output", logDir_ + "/cluster"});
  ASSERT_EQ(cluster->stop(0, 60s), 0) << cluster->stderrText();
  EXPECT_THAT(cluster->stderrText(), HasSubstr("switched to FINISHED"));
  auto local = startCli("wordcount-local", {"run", "--local", "-p", "4", kWordCount, "--",
                                            "--input", kRivers, "--output", logDir_ + "/local"});
  ASSERT_EQ(local->stop(0, 60s), 0) << local->stderrText();

  std::vector<std::string> fromCluster = sortedLines(logDir_ + "/cluster");
  ASSERT_FALSE(fromCluster.empty());
  EXPECT_EQ(fromCluster, sortedLines(logDir_ + "/local"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(logDir_ + "/cluster"),
                          std::filesystem::directory_iterator()),
            4);

  // The subtasks ran in both TaskManagers, so the keyed exchange crossed TCP.
  v1::JobStatusResponse status = jobStatus(jobIdIn(cluster->stderrText()));
  EXPECT_EQ(status.status(), v1::JOB_STATUS_FINISHED);
  std::set<std::string> hosts;
  for (const auto& t : status.tasks())
    hosts.insert(t.task_manager_id());
  EXPECT_EQ(hosts, (std::set<std::string>{"tm-a", "tm-b"}));
  ASSERT_TRUE(eventually(
      [&] {
        auto list = listTaskManagers();
        if (list.task_managers_size() != 2)
          return false;
        for (const auto& tm : list.task_managers()) {
          if (tm.network_bytes_sent() == 0 || tm.network_bytes_received() == 0)
            return false;
        }
        return true;
      },
      5s))
      << listTaskManagers().DebugString();
  // Every slot is free again.
  EXPECT_TRUE(eventually([&] { return slots().first == 4; }, 2s));
}

TEST_F(JobExecutionTest, CancellingAnUnboundedJobFreesAllSlotsWithinTwoSeconds) {
  startCluster();
  std::string jobId = submitDetached(kUnbounded, {"-p", "4"});
  ASSERT_EQ(jobId.size(), 32u);
  ASSERT_TRUE(eventually([&] { return allTasksRunning(jobStatus(jobId)); }, 20s))
      << jobStatus(jobId).DebugString();
  EXPECT_EQ(slots().first, 0);
  auto list = startCli("list", {"list"});
  ASSERT_EQ(list->stop(0, 10s), 0) << list->stderrText();
  EXPECT_THAT(list->stdoutText(), HasSubstr(jobId + " : unbounded_job (RUNNING)"));

  auto cancelledAt = std::chrono::steady_clock::now();
  auto cancel = startCli("cancel", {"cancel", jobId});
  EXPECT_TRUE(eventually([&] { return slots().first == 4; }, 2s)) << slots().first;
  EXPECT_LT(std::chrono::steady_clock::now() - cancelledAt, 2s);
  ASSERT_EQ(cancel->stop(0, 10s), 0) << cancel->stderrText();
  EXPECT_THAT(cancel->stdoutText(), HasSubstr("Cancelled job " + jobId));
  EXPECT_EQ(jobStatus(jobId).status(), v1::JOB_STATUS_CANCELED);
}

TEST_F(JobExecutionTest, KilledTaskManagerRestartsTheJobOnTheRemainingSlots) {
  startCluster();
  // The restart strategy travels with the job.
  std::string jobId =
      submitDetached(kUnbounded, {"-p", "2", "-D", "restart-strategy.type=fixed-delay", "-D",
                                  "restart-strategy.fixed-delay.attempts=3", "-D",
                                  "restart-strategy.fixed-delay.delay=200ms"});
  ASSERT_EQ(jobId.size(), 32u);
  ASSERT_TRUE(eventually([&] { return allTasksRunning(jobStatus(jobId)); }, 20s));
  std::set<std::string> hosts;
  v1::JobStatusResponse running = jobStatus(jobId);
  for (const auto& t : running.tasks())
    hosts.insert(t.task_manager_id());
  ASSERT_EQ(hosts, (std::set<std::string>{"tm-a", "tm-b"})) << "slots are spread out";

  taskManagers_[1]->kill9();  // tm-b
  ASSERT_TRUE(eventually(
      [&] {
        auto s = jobStatus(jobId);
        return s.restarts() >= 1 && allTasksRunning(s);
      },
      15s))
      << jobStatus(jobId).DebugString() << jobManager_->stderrText();
  // The first failure is the one seen first: a consumer's broken connection to tm-b or tm-b's
  // missed heartbeats. Either way tm-b is declared lost.
  v1::JobStatusResponse status = jobStatus(jobId);
  EXPECT_FALSE(status.failure().empty());
  auto list = listTaskManagers();
  ASSERT_EQ(list.lost_size(), 1);
  EXPECT_EQ(list.lost(0).task_manager_id(), "tm-b");
  for (const auto& t : status.tasks())
    EXPECT_EQ(t.task_manager_id(), "tm-a");
  EXPECT_EQ(slots(), std::make_pair(0, 2));

  auto cancel = startCli("cancel", {"cancel", jobId});
  ASSERT_EQ(cancel->stop(0, 10s), 0) << cancel->stderrText();
  EXPECT_TRUE(eventually([&] { return slots().first == 2; }, 2s));
}

TEST_F(JobExecutionTest, BackpressureOfASlowSinkIsReportedToTheJobManager) {
  startCluster();
  std::vector<std::string> args{"run", "-d", "-p", "2", kUnbounded, "--", "--sink-sleep-micros",
                                "2000"};
  auto cli = startCli("submit", args);
  ASSERT_EQ(cli->stop(0, 30s), 0) << cli->stderrText();
  std::string jobId = jobIdIn(cli->stdoutText());
  ASSERT_EQ(jobId.size(), 32u);
  // The sources produce ~2000 records/s per subtask, the sinks take ~500: the sources spend
  // most of their time waiting for buffers, the sinks none.
  ASSERT_TRUE(eventually(
      [&] {
        auto status = jobStatus(jobId);
        if (!allTasksRunning(status))
          return false;
        for (const auto& t : status.tasks()) {
          if (t.vertex_id() == 0 && t.backpressure() < 0.5)
            return false;
        }
        return true;
      },
      20s))
      << jobStatus(jobId).DebugString();
  v1::JobStatusResponse status = jobStatus(jobId);
  for (const auto& t : status.tasks()) {
    if (t.vertex_id() == 1) {
      EXPECT_LT(t.backpressure(), 0.1) << t.DebugString();
    }
  }
  auto cancel = startCli("cancel", {"cancel", jobId});
  ASSERT_EQ(cancel->stop(0, 10s), 0) << cancel->stderrText();
}

TEST_F(JobExecutionTest, TaskManagerCancelsItsTasksWhenItLosesTheJobManager) {
  startCluster();
  std::string jobId = submitDetached(kUnbounded, {"-p", "4"});
  ASSERT_TRUE(eventually([&] { return allTasksRunning(jobStatus(jobId)); }, 20s));
  jobManager_->kill9();
  // heartbeat.timeout is 1 s for the TaskManagers.
  for (auto& tm : taskManagers_) {
    EXPECT_TRUE(eventually(
        [&] { return tm->stderrText().find("releasing 1 job(s)") != std::string::npos; }, 5s))
        << tm->stderrText();
    EXPECT_TRUE(eventually(
        [&] {
          return tm->stderrText().find("[" + jobId + "] TaskManager") != std::string::npos &&
                 tm->stderrText().find("released the job") != std::string::npos;
        },
        5s));
  }
}

TEST_F(JobExecutionTest, JobFailsWithAClearMessageWhenTooFewSlotsRemain) {
  startCluster();
  std::string jobId = submitDetached(
      kUnbounded, {"-p", "4", "-D", "restart-strategy.type=fixed-delay", "-D",
                   "restart-strategy.fixed-delay.delay=100ms", "-D", "slot.request.timeout=1s"});
  ASSERT_EQ(jobId.size(), 32u);
  ASSERT_TRUE(eventually([&] { return allTasksRunning(jobStatus(jobId)); }, 20s));
  taskManagers_[1]->kill9();
  ASSERT_TRUE(eventually([&] { return jobStatus(jobId).status() == v1::JOB_STATUS_FAILED; }, 15s))
      << jobStatus(jobId).DebugString();
  std::string failure = jobStatus(jobId).failure();
  EXPECT_THAT(failure, HasSubstr("needs 4 slots"));
  EXPECT_THAT(failure, HasSubstr("has 2 slots in 1 TaskManagers"));
  EXPECT_TRUE(eventually([&] { return slots().first == 2; }, 2s));
}

TEST_F(JobExecutionTest, JobAskingForMoreSlotsThanExistFailsAfterTheTimeout) {
  startCluster({"slot.request.timeout=1s"});
  auto start = std::chrono::steady_clock::now();
  auto cli = startCli("too-wide", {"run", "-p", "5", kWordCount, "--", "--input", kRivers,
                                   "--output", logDir_ + "/out"});
  EXPECT_EQ(cli->stop(0, 30s), 1) << cli->stderrText();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_THAT(cli->stderrText(), HasSubstr("needs 5 slots"));
  EXPECT_THAT(cli->stderrText(), HasSubstr("the cluster has 4 slots in 2 TaskManagers"));
  EXPECT_EQ(slots().first, 4);
}

TEST_F(JobExecutionTest, FailingTaskRestartsThenFailsTheJobWithItsMessage) {
  startCluster({"restart-strategy.type=fixed-delay", "restart-strategy.fixed-delay.attempts=2",
                "restart-strategy.fixed-delay.delay=50ms"});
  auto cli = startCli("failing", {"run", "-p", "2", kFailing});
  EXPECT_EQ(cli->stop(0, 60s), 1) << cli->stderrText();
  std::string err = cli->stderrText();
  // The CLI polls, so it may not see the short RESTARTING phases; the JobMaster counts them.
  EXPECT_THAT(err, HasSubstr("Curse Checker"));
  EXPECT_THAT(err, HasSubstr("record 777 is cursed"));
  EXPECT_EQ(jobStatus(jobIdIn(err)).restarts(), 2);
  EXPECT_TRUE(eventually([&] { return slots().first == 4; }, 2s));
}

TEST_F(JobExecutionTest, JobsChooseExponentialDelayOrFailureRateRestarts) {
  startCluster();
  // Restarts about 50, 100, 200, 200 ms apart (10% jitter); the fifth failure fails the job.
  auto exponential =
      startCli("failing-exponential",
               {"run", "-p", "2", "-D", "restart-strategy.type=exponential-delay", "-D",
                "restart-strategy.exponential-delay.initial-backoff=50ms", "-D",
                "restart-strategy.exponential-delay.max-backoff=200ms", "-D",
                "restart-strategy.exponential-delay.backoff-multiplier=2", "-D",
                "restart-strategy.exponential-delay.attempts-before-reset-backoff=4", kFailing});
  EXPECT_EQ(exponential->stop(0, 60s), 1) << exponential->stderrText();
  EXPECT_THAT(exponential->stderrText(), HasSubstr("record 777 is cursed"));
  EXPECT_EQ(jobStatus(jobIdIn(exponential->stderrText())).restarts(), 4);
  // The third failure within a minute is one more than the two allowed.
  auto rate =
      startCli("failing-rate", {"run", "-p", "2", "-D", "restart-strategy.type=failure-rate", "-D",
                                "restart-strategy.failure-rate.max-failures-per-interval=2", "-D",
                                "restart-strategy.failure-rate.delay=50ms", kFailing});
  EXPECT_EQ(rate->stop(0, 60s), 1) << rate->stderrText();
  EXPECT_EQ(jobStatus(jobIdIn(rate->stderrText())).restarts(), 2);
  // A bad value is refused at submission, naming the key and the value.
  auto bad = startCli("failing-bad-jitter",
                      {"run", "-p", "2", "-D", "restart-strategy.type=exponential-delay", "-D",
                       "restart-strategy.exponential-delay.jitter-factor=2", kFailing});
  EXPECT_NE(bad->stop(0, 60s), 0);
  EXPECT_THAT(bad->stderrText(),
              HasSubstr("restart-strategy.exponential-delay.jitter-factor: 2 is out of range"));
}

// Whether `root` holds a completed checkpoint of some job: <root>/<job id>/chk-<n>/_metadata.
bool holdsCompletedCheckpoint(const std::filesystem::path& root) {
  std::error_code error;
  for (const auto& job : std::filesystem::directory_iterator(root, error)) {
    for (const auto& chk : std::filesystem::directory_iterator(job.path(), error)) {
      if (chk.path().filename().string().starts_with("chk-") &&
          std::filesystem::exists(chk.path() / "_metadata", error))
        return true;
    }
  }
  return false;
}

TEST_F(JobExecutionTest, LocalRunTakesCheckpointsUntilCancelled) {
  const std::string checkpoints = logDir_ + "/checkpoints";
  auto cli = startCli("checkpoints-local",
                      {"run", "--local", "-p", "2", "-D", "execution.checkpointing.interval=50ms",
                       "-D", "state.checkpoints.dir=file://" + checkpoints, kUnbounded});
  ASSERT_TRUE(eventually([&] { return holdsCompletedCheckpoint(checkpoints); }, 30s))
      << cli->stderrText();
  EXPECT_EQ(cli->stop(SIGINT, 30s), 130) << cli->stderrText();
  EXPECT_THAT(cli->stderrText(), HasSubstr("Completed checkpoints: "));
  EXPECT_THAT(cli->stderrText(), HasSubstr("/checkpoints/"));
  EXPECT_THAT(cli->stderrText(), HasSubstr("/chk-"));
}

// The path after "Savepoint completed. Path: " in `text`, or empty.
std::string savepointPathIn(const std::string& text) {
  const std::string marker = "Savepoint completed. Path: ";
  auto at = text.find(marker);
  if (at == std::string::npos)
    return "";
  auto end = text.find('\n', at);
  return text.substr(at + marker.size(), end - at - marker.size());
}

// Whether `directory` holds a file or folder whose name contains `part`, at any depth.
bool holdsNameWith(const std::string& directory, const std::string& part) {
  std::error_code error;
  for (std::filesystem::recursive_directory_iterator it(directory, error), end; !error && it != end;
       it.increment(error)) {
    if (it->path().filename().string().find(part) != std::string::npos)
      return true;
  }
  return false;
}

// With incremental RocksDB checkpoints: the checkpoints share SST files, the savepoints are full
// ones that the heap backend restores.
TEST_F(JobExecutionTest, ClusterJobsCheckpointTakeSavepointsStopAndResume) {
  startCluster();
  const std::string checkpoints = logDir_ + "/checkpoints";
  const std::string savepoints = logDir_ + "/savepoints";
  std::string jobId = submitDetached(
      kUnbounded, {"-p", "2", "-D", "execution.checkpointing.interval=100ms", "-D",
                   "state.checkpoints.dir=file://" + checkpoints, "-D",
                   "state.backend.type=rocksdb", "-D", "state.backend.incremental=true"});
  ASSERT_EQ(jobId.size(), 32u);
  ASSERT_TRUE(eventually([&] { return holdsCompletedCheckpoint(checkpoints); }, 30s))
      << jobManager_->stderrText();
  // A checkpoint of state that is still empty has no SST file; later ones have.
  EXPECT_TRUE(eventually(
      [&] { return holdsNameWith(checkpoints + "/" + jobId + "/shared", ".sst"); }, 30s));

  auto savepoint = startCli("savepoint", {"savepoint", jobId, savepoints});
  ASSERT_EQ(savepoint->stop(0, 60s), 0) << savepoint->stderrText();
  const std::string first = savepointPathIn(savepoint->stdoutText());
  ASSERT_FALSE(first.empty()) << savepoint->stdoutText();
  EXPECT_TRUE(std::filesystem::exists(first + "/_metadata")) << first;
  EXPECT_EQ(jobStatus(jobId).status(), v1::JOB_STATUS_RUNNING);

  auto stop = startCli("stop", {"stop", "--savepoint", savepoints, jobId});
  ASSERT_EQ(stop->stop(0, 60s), 0) << stop->stderrText();
  const std::string last = savepointPathIn(stop->stdoutText());
  ASSERT_FALSE(last.empty()) << stop->stdoutText();
  EXPECT_NE(last, first);
  EXPECT_TRUE(std::filesystem::exists(last + "/_metadata")) << last;
  EXPECT_EQ(jobStatus(jobId).status(), v1::JOB_STATUS_CANCELED);
  for (const std::string& savepoint : {first, last})
    EXPECT_FALSE(holdsNameWith(savepoint, ".native")) << savepoint;

  // The job starts again from the savepoint, on the cluster, on the heap backend.
  std::string resumed =
      submitDetached(kUnbounded, {"-p", "2", "-s", last, "-D", "state.backend.type=heap"});
  ASSERT_EQ(resumed.size(), 32u);
  ASSERT_TRUE(eventually([&] { return allTasksRunning(jobStatus(resumed)); }, 20s))
      << jobStatus(resumed).DebugString() << jobManager_->stderrText();
  EXPECT_THAT(jobManager_->stderrText(), HasSubstr("starts from"));
  auto cancel = startCli("cancel", {"cancel", resumed});
  ASSERT_EQ(cancel->stop(0, 30s), 0) << cancel->stderrText();
}

TEST_F(JobExecutionTest, SavepointsOfJobsWithoutCheckpointsAreRefusedClearly) {
  startCluster();
  std::string jobId = submitDetached(kUnbounded, {"-p", "2"});
  ASSERT_EQ(jobId.size(), 32u);
  ASSERT_TRUE(eventually([&] { return allTasksRunning(jobStatus(jobId)); }, 20s));
  auto savepoint = startCli("savepoint", {"savepoint", jobId, logDir_ + "/savepoints"});
  EXPECT_EQ(savepoint->stop(0, 30s), 1) << savepoint->stderrText();
  EXPECT_THAT(savepoint->stderrText(), HasSubstr("execution.checkpointing.interval"));
  auto notAJob = startCli("savepoint-bad-id", {"savepoint", "not-a-job-id"});
  EXPECT_EQ(notAJob->stop(0, 30s), 2) << notAJob->stderrText();
  auto cancel = startCli("cancel", {"cancel", jobId});
  ASSERT_EQ(cancel->stop(0, 30s), 0) << cancel->stderrText();
}

}  // namespace
}  // namespace brook
