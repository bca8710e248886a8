#pragma once

// A cluster of real processes for end-to-end tests: a brook-jobmanager and brook-taskmanagers
// on loopback ports chosen at run time, logs in a folder per test (kept when the test fails),
// and every process killed when the test ends.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "brook/brook.grpc.pb.h"
#include "e2e/child_process.h"
#include "runtime/job_graph_proto.h"

namespace brook {

using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)
using testing::ChildProcess;
using testing::eventually;

inline const std::string kJobManager = BROOK_JOBMANAGER_PATH;
inline const std::string kTaskManager = BROOK_TASKMANAGER_PATH;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // Suite and test name: tests of two suites may share a name, and ctest runs them at once.
    std::string name = std::string(info->test_suite_name()) + "." + info->name();
    std::replace(name.begin(), name.end(), '/', '_');
    logDir_ = ::testing::TempDir() + "/brook-e2e-" + name;
    std::filesystem::remove_all(logDir_);
    std::filesystem::create_directories(logDir_);
  }
  void TearDown() override {
    taskManagers_.clear();
    jobManager_.reset();
    if (!HasFailure())
      std::filesystem::remove_all(logDir_);
  }

  // Starts the JobManager on `port` (0: any) with fast heartbeats and `options` (-D values);
  // returns its address.
  std::string startJobManager(int port = 0, const std::vector<std::string>& options = {}) {
    std::vector<std::string> argv{kJobManager,
                                  "--host",
                                  "127.0.0.1",
                                  "--port",
                                  std::to_string(port),
                                  "-D",
                                  "heartbeat.interval=100ms",
                                  "-D",
                                  "heartbeat.timeout=1s",
                                  "-D",
                                  "io.tmp.dirs=" + logDir_};
    for (const auto& o : options) {
      argv.push_back("-D");
      argv.push_back(o);
    }
    jobManager_ = std::make_unique<ChildProcess>(logDir_, "jobmanager", std::move(argv));
    EXPECT_TRUE(jobManager_->waitForOutput("JobManager listening on", 10s))
        << jobManager_->stderrText();
    std::string out = jobManager_->stdoutText();
    auto colon = out.rfind(':');
    address_ = "127.0.0.1:" + std::to_string(std::stoi(out.substr(colon + 1)));
    return address_;
  }

  ChildProcess& startTaskManager(const std::string& id, const std::string& jobManager, int slots) {
    taskManagers_.push_back(std::make_unique<ChildProcess>(
        logDir_, id,
        std::vector<std::string>{kTaskManager, "-m", jobManager, "--slots", std::to_string(slots),
                                 "--id", id, "-D", "heartbeat.timeout=1s", "-D",
                                 "io.tmp.dirs=" + logDir_}));
    return *taskManagers_.back();
  }

  v1::ListTaskManagersResponse listTaskManagers(uint32_t version = runtime::kProtocolVersion,
                                                grpc::Status* status = nullptr) {
    auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    auto stub = v1::ResourceManager::NewStub(channel);
    v1::ListTaskManagersRequest request;
    request.set_protocol_version(version);
    v1::ListTaskManagersResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 2s);
    grpc::Status s = stub->ListTaskManagers(&context, request, &response);
    if (status != nullptr)
      *status = s;
    return response;
  }

  // The job's status from the Dispatcher; an empty response with `status` set on errors.
  v1::JobStatusResponse jobStatus(const std::string& jobId, grpc::Status* status = nullptr) {
    auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    auto stub = v1::Dispatcher::NewStub(channel);
    v1::JobIdRequest request;
    request.set_protocol_version(runtime::kProtocolVersion);
    request.set_job_id(jobId);
    v1::JobStatusResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 2s);
    grpc::Status s = stub->GetJobStatus(&context, request, &response);
    if (status != nullptr)
      *status = s;
    return response;
  }

  // Free and total slots as the ResourceManager sees them.
  std::pair<int, int> slots() {
    int free = 0;
    int total = 0;
    v1::ListTaskManagersResponse list = listTaskManagers();
    for (const auto& tm : list.task_managers()) {
      free += tm.free_slots();
      total += tm.number_of_slots();
    }
    return {free, total};
  }

  // Starts the `brook` CLI with `args`; "-m <JobManager>" is added after the command word.
  std::unique_ptr<ChildProcess> startCli(const std::string& name, std::vector<std::string> args) {
    std::vector<std::string> argv{BROOK_CLI_PATH};
    argv.push_back(args.front());
    if (args.front() != "run" || std::find(args.begin(), args.end(), "--local") == args.end()) {
      argv.push_back("-m");
      argv.push_back(address_);
    }
    argv.insert(argv.end(), args.begin() + 1, args.end());
    return std::make_unique<ChildProcess>(logDir_, name, std::move(argv));
  }

  // Submits `job` detached and returns its id (empty on failure).
  std::string submitDetached(const std::string& job, std::vector<std::string> options) {
    std::vector<std::string> args{"run", "-d"};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(job);
    auto cli = startCli("submit", args);
    int rc = cli->stop(0, 30s);
    EXPECT_EQ(rc, 0) << cli->stderrText();
    std::string out = cli->stdoutText();
    auto at = out.find("JobID ");
    if (at == std::string::npos)
      return "";
    return out.substr(at + 6, 32);
  }

  // True when every task of the job runs in the current attempt.
  bool allTasksRunning(const v1::JobStatusResponse& status) {
    if (status.status() != v1::JOB_STATUS_RUNNING || status.tasks_size() == 0)
      return false;
    for (const auto& t : status.tasks()) {
      if (t.state() != v1::EXECUTION_STATE_RUNNING)
        return false;
    }
    return true;
  }

  std::string logDir_;
  std::string address_;
  std::unique_ptr<ChildProcess> jobManager_;
  std::vector<std::unique_ptr<ChildProcess>> taskManagers_;
};

}  // namespace brook
