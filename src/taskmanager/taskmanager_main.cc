// brook-taskmanager: a TaskManager process. Serves the TaskExecutor (task deployment) over gRPC
// and its network channels over TCP, registers its slots with the JobManager and heartbeats,
// until SIGTERM or SIGINT.

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <absl/strings/str_format.h>
#include <grpcpp/grpcpp.h>

#include "common/configuration.h"
#include "common/logging.h"
#include "runtime/network/network_environment.h"
#include "taskmanager/blob_cache.h"
#include "taskmanager/resource_manager_connection.h"
#include "taskmanager/task_executor.h"
#include "taskmanager/task_executor_service.h"
#include "taskmanager/task_state_reporter.h"

int main(int argc, char** argv) {
  CLI::App app{"brook-taskmanager: a TaskManager of a Brook cluster"};
  std::string confFile;
  std::vector<std::string> dynamicProperties;
  std::string jobManager;
  std::string id;
  int slots = 0;
  std::string logLevel = "info";
  app.add_option("-c,--conf", confFile,
                 "Configuration file (default: $BROOK_CONF_DIR/brook.yaml if set)");
  app.add_option("-D", dynamicProperties, "A configuration option key=value");
  app.add_option("-m,--jobmanager", jobManager,
                 "JobManager address HOST:PORT (default: $BROOK_JOBMANAGER, else "
                 "jobmanager.rpc.address:jobmanager.rpc.port)");
  app.add_option("--slots", slots,
                 "Task slots to offer (taskmanager.numberOfTaskSlots, "
                 "default: the number of CPU cores)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--id", id, "TaskManager id (default: host-pid-random)");
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  brook::setLogLevel(logLevel);

  auto config = brook::loadConfiguration(confFile, dynamicProperties);
  if (!config.ok()) {
    std::cerr << "error: " << config.status().message() << "\n";
    return 2;
  }
  if (jobManager.empty()) {
    if (const char* env = std::getenv("BROOK_JOBMANAGER"); env != nullptr && *env != '\0') {
      jobManager = env;
    } else {
      jobManager = config->getString(brook::config_keys::kJobManagerAddress, "localhost") + ":" +
                   std::to_string(*config->getInt(brook::config_keys::kJobManagerPort, 6123));
    }
  }
  if (slots == 0) {
    slots = static_cast<int>(
        *config->getInt(brook::config_keys::kNumberOfTaskSlots,
                        static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()))));
  }
  if (id.empty()) {
    char host[256] = "localhost";
    ::gethostname(host, sizeof(host) - 1);
    std::random_device rd;
    id = absl::StrFormat("%s-%d-%04x", host, ::getpid(), rd() & 0xffff);
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // The address others reach this TaskManager at, and the one it listens on.
  std::string advertisedHost = config->getString(brook::config_keys::kTaskManagerHost, "127.0.0.1");
  std::string bindHost = config->getString(
      brook::config_keys::kTaskManagerBindHost,
      config->contains(brook::config_keys::kTaskManagerHost) ? "0.0.0.0" : "127.0.0.1");
  auto fail = [](const std::string& what) {
    std::cerr << "error: " << what << "\n";
    return 1;
  };

  brook::runtime::network::NetworkEnvironment::Options networkOptions;
  networkOptions.host = bindHost;
  networkOptions.port =
      static_cast<int>(*config->getInt(brook::config_keys::kTaskManagerDataPort, 0));
  networkOptions.bufferSize =
      static_cast<int>(*config->getBytes(brook::networkBufferSizeKey(*config), 32 * 1024));
  networkOptions.buffersPerChannel =
      static_cast<int>(*config->getInt(brook::config_keys::kBuffersPerChannel, 2));
  networkOptions.floatingBuffersPerGate =
      static_cast<int>(*config->getInt(brook::config_keys::kFloatingBuffers, 16));
  brook::runtime::network::NetworkEnvironment network(networkOptions);
  if (auto s = network.start(); !s.ok())
    return fail(absl::StrFormat("taskmanager.data.port: %s", s.message()));
  std::string dataAddress = absl::StrFormat("%s:%d", advertisedHost, network.port());

  auto jobManagerChannel = grpc::CreateChannel(jobManager, grpc::InsecureChannelCredentials());
  // This process's working folder (the artifact cache and the tasks' local state), removed when
  // it shuts down.
  std::string workDirectory = (std::filesystem::path(brook::temporaryDirectory(*config)) /
                               absl::StrFormat("brook-taskmanager-%s-%d", id, ::getpid()))
                                  .string();
  std::string blobDirectory = workDirectory + "/blobs";
  auto blobCache = brook::taskmanager::BlobCache::create(blobDirectory, jobManagerChannel);
  if (!blobCache.ok())
    return fail(absl::StrFormat("blob cache: %s", blobCache.status().message()));

  auto heartbeatTimeout = std::chrono::milliseconds(
      *config->getDurationMillis(brook::config_keys::kHeartbeatTimeout, 10000));
  brook::taskmanager::TaskStateReporter stateReporter(id, jobManager, heartbeatTimeout);
  brook::taskmanager::TaskExecutor::Options executorOptions;
  executorOptions.taskManagerId = id;
  executorOptions.numberOfSlots = slots;
  executorOptions.networkBufferSize = networkOptions.bufferSize;
  executorOptions.localStateDirectory = workDirectory + "/state";
  brook::taskmanager::TaskExecutor executor(
      executorOptions, blobCache->get(), &network,
      [&stateReporter](brook::taskmanager::TaskStateChange change) {
        stateReporter.report(std::move(change));
      },
      [&stateReporter](brook::v1::AcknowledgeCheckpointRequest acknowledgement) {
        stateReporter.reportCheckpoint(std::move(acknowledgement));
      });
  brook::taskmanager::TaskExecutorService executorService(&executor);

  grpc::ServerBuilder builder;
  int rpcPort = 0;
  int wantedRpcPort = static_cast<int>(*config->getInt(brook::config_keys::kTaskManagerRpcPort, 0));
  builder.AddListeningPort(absl::StrFormat("%s:%d", bindHost, wantedRpcPort),
                           grpc::InsecureServerCredentials(), &rpcPort);
  builder.RegisterService(&executorService);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || rpcPort == 0) {
    return fail(
        absl::StrFormat("cannot listen on %s:%d (taskmanager.bind-host / "
                        "taskmanager.rpc.port): the port may be in use",
                        bindHost, wantedRpcPort));
  }

  brook::taskmanager::ResourceManagerConnection::Options options;
  options.taskManagerId = id;
  options.jobManagerAddress = jobManager;
  options.rpcAddress = absl::StrFormat("%s:%d", advertisedHost, rpcPort);
  options.dataAddress = dataAddress;
  options.numberOfSlots = slots;
  options.heartbeatTimeout = heartbeatTimeout;
  brook::taskmanager::ResourceManagerConnection connection(
      options,
      [&executor, &network] {
        brook::taskmanager::ResourceManagerConnection::Report report;
        executor.reapReleasedPartitions();
        report.slotJobs = executor.slotJobs();
        report.backpressure = executor.sampleBackpressure();
        for (const auto& stats : network.connectionStats()) {
          report.networkBytesSent += static_cast<int64_t>(stats.bytesSent);
          report.networkBytesReceived += static_cast<int64_t>(stats.bytesReceived);
        }
        return report;
      },
      [&executor](const std::string& reason) { executor.releaseAll(reason); });
  connection.start();
  brook::getLogger("taskmanager")
      ->info("TaskManager {} started with {} slots; JobManager at {}; tasks at {}, data at {}", id,
             slots, jobManager, options.rpcAddress, dataAddress);

  int signal = 0;
  sigwait(&signals, &signal);
  brook::getLogger("taskmanager")->info("TaskManager {} shutting down on signal {}", id, signal);
  connection.stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  executor.releaseAll("the TaskManager is shutting down");
  network.stop();
  std::error_code ignored;
  std::filesystem::remove_all(workDirectory, ignored);
  return 0;
}
