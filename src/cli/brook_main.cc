// The `brook` command line: runs jobs on the embedded mini-cluster and shows their plans.

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include <brook/stream_execution_environment.h>

#include "common/configuration.h"
#include "common/logging.h"
#include "runtime/job_graph.h"
#include "runtime/job_library.h"
#include "runtime/mini_cluster.h"

namespace {

std::atomic<bool> gInterrupted{false};

void onSignal(int) {
  gInterrupted.store(true);
}

struct CommonOptions {
  std::string jobPath;
  std::vector<std::string> dynamicProperties;
  std::string confFile;
  int parallelism = 0;
};

// Builds the configuration: conf file, then -D options, then -p. Returns false after printing
// the error.
bool loadConfiguration(const CommonOptions& options, brook::Configuration& config) {
  auto loaded = brook::loadConfiguration(options.confFile, options.dynamicProperties);
  if (!loaded.ok()) {
    std::cerr << "error: " << loaded.status().message() << "\n";
    return false;
  }
  config = std::move(*loaded);
  if (options.parallelism > 0) {
    config.set(brook::config_keys::kParallelismDefault, std::to_string(options.parallelism));
  }
  return true;
}

struct PlannedJob {
  std::unique_ptr<brook::runtime::JobLibrary> library;
  std::unique_ptr<brook::StreamExecutionEnvironment> env;
  brook::JobArgs args;
  brook::runtime::JobGraph graph;
};

// Loads the job library and plans its graph; prints the error and returns false on failure.
bool planJob(const CommonOptions& options,
             const std::vector<std::string>& jobArgs,
             const brook::Configuration& config,
             PlannedJob& job) {
  auto library = brook::runtime::JobLibrary::load(options.jobPath);
  if (!library.ok()) {
    std::cerr << "error: " << library.status().message() << "\n";
    return false;
  }
  job.library = std::move(*library);
  try {
    job.args = brook::JobArgs::parse(jobArgs);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return false;
  }
  job.env = std::make_unique<brook::StreamExecutionEnvironment>(config.values());
  if (auto s = job.library->plan(*job.env, job.args); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return false;
  }
  auto graph = brook::runtime::buildJobGraph(*job.env, config, job.library->name());
  if (!graph.ok()) {
    std::cerr << "error: job '" << job.library->name() << "': " << graph.status().message() << "\n";
    return false;
  }
  job.graph = std::move(*graph);
  return true;
}

int runJob(const CommonOptions& options, const std::vector<std::string>& jobArgs) {
  brook::Configuration config;
  if (!loadConfiguration(options, config))
    return 2;
  PlannedJob job;
  if (!planJob(options, jobArgs, config, job))
    return 1;

  // Plan a second time and compare, as every TaskManager does before it runs its subtasks.
  PlannedJob again;
  if (!planJob(options, jobArgs, config, again))
    return 1;
  if (again.graph.fingerprint() != job.graph.fingerprint()) {
    std::cerr << "error: job '" << job.library->name()
              << "' plans a different graph each time it is planned (fingerprints "
              << job.graph.fingerprint() << " and " << again.graph.fingerprint()
              << "); the graph must not depend on clocks, randomness or the environment\n";
    return 1;
  }

  brook::runtime::MiniCluster cluster;
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      if (gInterrupted.load()) {
        cluster.cancel();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  auto result = cluster.execute(
      job.graph, job.args, [](const std::string& jobId, brook::runtime::JobStatus status) {
        if (status == brook::runtime::JobStatus::kCreated) {
          std::fprintf(stderr, "Job has been submitted with JobID %s\n", jobId.c_str());
        } else {
          std::fprintf(stderr, "Job %s switched to %s\n", jobId.c_str(),
                       brook::runtime::jobStatusName(status));
        }
      });
  done.store(true);
  watcher.join();
  std::fflush(stdout);
  switch (result.status) {
    case brook::runtime::JobStatus::kFinished:
      std::fprintf(stderr, "Job with JobID %s has finished.\nJob Runtime: %lld ms\n",
                   result.jobId.c_str(), static_cast<long long>(result.durationMillis));
      return 0;
    case brook::runtime::JobStatus::kCanceled:
      std::fprintf(stderr, "Job with JobID %s was canceled.\n", result.jobId.c_str());
      return 130;
    default:
      std::fprintf(stderr,
                   "The program finished with the following exception:\n\n"
                   "Job with JobID %s failed: %s\n",
                   result.jobId.c_str(), result.failure.c_str());
      return 1;
  }
}

int infoJob(const CommonOptions& options, const std::vector<std::string>& jobArgs) {
  brook::Configuration config;
  if (!loadConfiguration(options, config))
    return 2;
  PlannedJob job;
  if (!planJob(options, jobArgs, config, job))
    return 1;
  std::cout << job.graph.toJson();
  return 0;
}

void addCommonOptions(CLI::App* cmd, CommonOptions& options) {
  cmd->add_option("job", options.jobPath, "The job library (.so) built with BROOK_JOB")->required();
  cmd->add_option("-p,--parallelism", options.parallelism,
                  "Default parallelism of the job (parallelism.default)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-D", options.dynamicProperties,
                  "A configuration option key=value, e.g. -D execution.runtime-mode=BATCH")
      ->allow_extra_args(false);
  cmd->add_option("-c,--conf", options.confFile,
                  "Configuration file (default: $BROOK_CONF_DIR/brook.yaml if set)");
}

}  // namespace

int main(int argc, char** argv) {
  // Everything after "--" belongs to the job.
  std::vector<std::string> jobArgs;
  int ownArgc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      ownArgc = i;
      for (int j = i + 1; j < argc; ++j)
        jobArgs.emplace_back(argv[j]);
      break;
    }
  }

  CLI::App app{
      "brook: run Brook stream processing jobs.\n"
      "Job arguments follow '--', e.g.\n"
      "  brook run --local -p 2 wordcount.so -- --input in.txt --output out/"};
  app.require_subcommand(1);
  std::string logLevel = "warn";
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  CommonOptions runOptions;
  bool local = false;
  auto* run = app.add_subcommand("run", "Run a job and wait for it to end");
  run->add_flag("--local", local, "Run on an embedded mini-cluster in this process");
  addCommonOptions(run, runOptions);

  CommonOptions infoOptions;
  auto* info = app.add_subcommand("info", "Print a job's JobGraph as JSON");
  addCommonOptions(info, infoOptions);

  try {
    app.parse(ownArgc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  brook::setLogLevel(logLevel);

  if (run->parsed()) {
    if (!local) {
      std::cerr << "error: brook run needs --local: jobs run on the embedded mini-cluster\n";
      return 2;
    }
    return runJob(runOptions, jobArgs);
  }
  return infoJob(infoOptions, jobArgs);
}
