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

TEST_F(JobExecutionTest, CheckpointsOnAJobManagerAreRefusedClearly) {
  auto cli = startCli("checkpoints-cluster",
                      {"run", "-D", "execution.checkpointing.interval=1s", "-D",
                       "state.checkpoints.dir=" + logDir_ + "/checkpoints", kWordCount, "--",
                       "--input", kRivers, "--output", logDir_ + "/out"});
  EXPECT_EQ(cli->stop(0, 30s), 2) << cli->stderrText();
  EXPECT_THAT(cli->stderrText(), HasSubstr("execution.checkpointing.interval"));
  EXPECT_THAT(cli->stderrText(), HasSubstr("--local"));
}

}  // namespace
}  // namespace brook
