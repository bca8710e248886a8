// brook-taskmanager: a TaskManager process. Registers its slots with the JobManager and keeps
// heartbeating until SIGTERM or SIGINT.

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <absl/strings/str_format.h>

#include "common/configuration.h"
#include "common/logging.h"
#include "taskmanager/task_executor.h"

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

  brook::taskmanager::TaskExecutor::Options options;
  options.taskManagerId = id;
  options.jobManagerAddress = jobManager;
  options.numberOfSlots = slots;
  options.heartbeatTimeout = std::chrono::milliseconds(
      *config->getDurationMillis(brook::config_keys::kHeartbeatTimeout, 10000));
  brook::taskmanager::TaskExecutor executor(options);
  executor.start();
  brook::getLogger("taskmanager")
      ->info("TaskManager {} started with {} slots; JobManager at {}", id, slots, jobManager);

  int signal = 0;
  sigwait(&signals, &signal);
  brook::getLogger("taskmanager")->info("TaskManager {} shutting down on signal {}", id, signal);
  executor.stop();
  return 0;
}
