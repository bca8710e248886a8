// brook-jobmanager: the JobManager process. Serves the Dispatcher (job submission and
// control), the JobMasters (task state updates), the ResourceManager (TaskManager registration
// and heartbeats) and the BlobServer (job artifacts) over gRPC until SIGTERM or SIGINT.

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include "common/configuration.h"
#include "common/logging.h"
#include "jobmanager/blob_server.h"
#include "jobmanager/dispatcher.h"
#include "jobmanager/resource_manager.h"

int main(int argc, char** argv) {
  CLI::App app{"brook-jobmanager: the JobManager of a Brook cluster"};
  std::string confFile;
  std::vector<std::string> dynamicProperties;
  std::string host;
  int port = -1;
  std::string logLevel = "info";
  app.add_option("-c,--conf", confFile,
                 "Configuration file (default: $BROOK_CONF_DIR/brook.yaml if set)");
  app.add_option("-D", dynamicProperties, "A configuration option key=value");
  app.add_option("--host", host, "Address to listen on (jobmanager.rpc.address, default 0.0.0.0)");
  app.add_option("--port", port,
                 "Port to listen on, 0 for any free one (jobmanager.rpc.port, "
                 "default 6123)")
      ->check(CLI::Range(0, 65535));
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
  if (host.empty())
    host = config->getString(brook::config_keys::kJobManagerAddress, "0.0.0.0");
  if (port < 0)
    port = static_cast<int>(*config->getInt(brook::config_keys::kJobManagerPort, 6123));
  brook::jobmanager::ResourceManager::Options rmOptions;
  rmOptions.heartbeatInterval = std::chrono::milliseconds(
      *config->getDurationMillis(brook::config_keys::kHeartbeatInterval, 1000));
  rmOptions.heartbeatTimeout = std::chrono::milliseconds(
      *config->getDurationMillis(brook::config_keys::kHeartbeatTimeout, 10000));
  if (rmOptions.heartbeatTimeout <= rmOptions.heartbeatInterval) {
    std::cerr << "error: heartbeat.timeout (" << rmOptions.heartbeatTimeout.count()
              << " ms) must be longer than heartbeat.interval ("
              << rmOptions.heartbeatInterval.count() << " ms)\n";
    return 2;
  }

  // Signals are taken by sigwait below, not by handlers.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Without blob.storage.directory, artifacts live in a folder of this process that is removed
  // when it shuts down.
  bool ownBlobDirectory = !config->contains(brook::config_keys::kBlobStorageDirectory);
  std::string blobDirectory =
      config->getString(brook::config_keys::kBlobStorageDirectory,
                        (std::filesystem::path(brook::temporaryDirectory(*config)) /
                         ("brook-blobs-" + std::to_string(::getpid())))
                            .string());
  auto blobStore = brook::jobmanager::BlobStore::open(blobDirectory);
  if (!blobStore.ok()) {
    std::cerr << "error: blob.storage.directory: " << blobStore.status().message() << "\n";
    return 1;
  }
  brook::jobmanager::BlobService blobService(*blobStore);

  brook::jobmanager::ResourceManager resourceManager(rmOptions);
  brook::jobmanager::ResourceManagerService rmService(&resourceManager);
  if (auto strategy = brook::jobmanager::restartStrategyForJob(*config); !strategy.ok()) {
    std::cerr << "error: " << strategy.status().message() << "\n";
    return 2;
  }
  brook::jobmanager::Dispatcher::Options dispatcherOptions;
  dispatcherOptions.configuration = config->values();
  brook::jobmanager::Dispatcher dispatcher(dispatcherOptions, &resourceManager, &*blobStore);
  brook::jobmanager::DispatcherService dispatcherService(&dispatcher);
  brook::jobmanager::JobMasterService jobMasterService(&dispatcher);
  grpc::ServerBuilder builder;
  int boundPort = 0;
  builder.AddListeningPort(host + ":" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &boundPort);
  builder.RegisterService(&rmService);
  builder.RegisterService(&blobService);
  builder.RegisterService(&dispatcherService);
  builder.RegisterService(&jobMasterService);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || boundPort == 0) {
    std::cerr << "error: cannot listen on " << host << ":" << port
              << " (jobmanager.rpc.address / jobmanager.rpc.port): the port may be in use\n";
    return 1;
  }
  resourceManager.start();
  std::printf("JobManager listening on %s:%d\n", host.c_str(), boundPort);
  std::fflush(stdout);
  brook::getLogger("jobmanager")->info("JobManager listening on {}:{}", host, boundPort);

  int signal = 0;
  sigwait(&signals, &signal);
  brook::getLogger("jobmanager")->info("JobManager shutting down on signal {}", signal);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  resourceManager.stop();
  if (ownBlobDirectory) {
    std::error_code ignored;
    std::filesystem::remove_all(blobDirectory, ignored);
  }
  return 0;
}
