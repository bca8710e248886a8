// The cluster with real processes: a brook-jobmanager and brook-taskmanagers on loopback.

#include <filesystem>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "brook/brook.grpc.pb.h"
#include "common/sha256.h"
#include "e2e/cluster_fixture.h"
#include "jobmanager/blob_client.h"
#include "runtime/job_graph_proto.h"
#include "taskmanager/blob_cache.h"

namespace brook {
namespace {

using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)
using testing::ChildProcess;
using testing::eventually;
using ::testing::HasSubstr;

TEST_F(ClusterTest, TaskManagersRegisterTheirSlots) {
  std::string jm = startJobManager();
  startTaskManager("tm-a", jm, 2);
  startTaskManager("tm-b", jm, 2);
  ASSERT_TRUE(eventually([&] { return listTaskManagers().task_managers_size() == 2; }, 10s))
      << jobManager_->stderrText();
  auto list = listTaskManagers();
  int slots = 0;
  for (const auto& tm : list.task_managers()) {
    slots += tm.number_of_slots();
    EXPECT_EQ(tm.free_slots(), 2);
  }
  EXPECT_EQ(slots, 4);
}

TEST_F(ClusterTest, KilledTaskManagerIsDeclaredLostWithinTheHeartbeatTimeout) {
  std::string jm = startJobManager();
  ChildProcess& victim = startTaskManager("tm-victim", jm, 2);
  startTaskManager("tm-survivor", jm, 2);
  ASSERT_TRUE(eventually([&] { return listTaskManagers().task_managers_size() == 2; }, 10s));
  auto killedAt = std::chrono::steady_clock::now();
  victim.kill9();
  ASSERT_TRUE(eventually([&] { return listTaskManagers().lost_size() == 1; }, 5s))
      << jobManager_->stderrText();
  auto detectedAfter = std::chrono::steady_clock::now() - killedAt;
  // heartbeat.timeout is 1 s; the checker runs every 100 ms.
  EXPECT_LT(detectedAfter, 3s);
  auto list = listTaskManagers();
  EXPECT_EQ(list.lost(0).task_manager_id(), "tm-victim");
  EXPECT_THAT(list.lost(0).reason(), HasSubstr("no heartbeat"));
  ASSERT_EQ(list.task_managers_size(), 1);
  EXPECT_EQ(list.task_managers(0).task_manager_id(), "tm-survivor");
}

TEST_F(ClusterTest, TaskManagerStartedFirstRegistersWhenTheJobManagerAppears) {
  int port = testing::pickFreePort();
  std::string jmAddress = "127.0.0.1:" + std::to_string(port);
  ChildProcess& tm = startTaskManager("tm-early", jmAddress, 1);
  ASSERT_TRUE(eventually(
      [&] { return tm.stderrText().find("not reachable yet") != std::string::npos; }, 10s))
      << tm.stderrText();
  startJobManager(port);
  ASSERT_TRUE(eventually([&] { return listTaskManagers().task_managers_size() == 1; }, 10s))
      << tm.stderrText();
  EXPECT_EQ(listTaskManagers().task_managers(0).task_manager_id(), "tm-early");
}

TEST_F(ClusterTest, TaskManagerRegistersAgainWithARestartedJobManager) {
  int port = testing::pickFreePort();
  startJobManager(port);
  ChildProcess& tm = startTaskManager("tm-loyal", address_, 1);
  ASSERT_TRUE(eventually([&] { return listTaskManagers().task_managers_size() == 1; }, 10s));
  EXPECT_EQ(jobManager_->stop(SIGTERM, 5s), 0);
  startJobManager(port);
  ASSERT_TRUE(eventually([&] { return listTaskManagers().task_managers_size() == 1; }, 10s))
      << tm.stderrText();
  EXPECT_THAT(tm.stderrText(), HasSubstr("(registration 2)"));
}

TEST_F(ClusterTest, JobManagerServesJobArtifactsByHash) {
  std::string jm = startJobManager();
  auto channel = grpc::CreateChannel(jm, grpc::InsecureChannelCredentials());
  std::string artifact = BROOK_WORDCOUNT_JOB;
  auto sha = jobmanager::uploadArtifact(channel, artifact, 10s);
  ASSERT_TRUE(sha.ok()) << sha.status();
  auto expected = sha256OfFile(artifact);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(*sha, *expected);
  auto cache = taskmanager::BlobCache::create(logDir_ + "/cache", channel);
  ASSERT_TRUE(cache.ok()) << cache.status();
  auto path = (*cache)->fetch(*sha);
  ASSERT_TRUE(path.ok()) << path.status();
  auto fetched = sha256OfFile(*path);
  ASSERT_TRUE(fetched.ok());
  EXPECT_EQ(*fetched, *sha);
}

TEST_F(ClusterTest, AnotherProtocolVersionIsRefused) {
  startJobManager();
  grpc::Status status;
  listTaskManagers(99, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("protocol version 99"));
}

TEST_F(ClusterTest, BadOptionsAreUsageErrors) {
  ChildProcess badKey(logDir_, "bad-key",
                      {kJobManager, "--port", "0", "-D", "heartbeat.timout=1s"});
  EXPECT_EQ(badKey.stop(0, 10s), 2);
  EXPECT_THAT(badKey.stderrText(), HasSubstr("unknown configuration key 'heartbeat.timout'"));
  ChildProcess badTimeout(
      logDir_, "bad-timeout",
      {kJobManager, "--port", "0", "-D", "heartbeat.interval=2s", "-D", "heartbeat.timeout=1s"});
  EXPECT_EQ(badTimeout.stop(0, 10s), 2);
  EXPECT_THAT(badTimeout.stderrText(), HasSubstr("heartbeat.timeout"));
  ChildProcess badSlots(logDir_, "bad-slots", {kTaskManager, "--slots", "0"});
  EXPECT_EQ(badSlots.stop(0, 10s), 2);
}

}  // namespace
}  // namespace brook
