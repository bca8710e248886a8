// The `brook` command line: runs jobs on the embedded mini-cluster or a JobManager, lists and
// cancels a JobManager's jobs, and shows a job's plan.

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "common/logging.h"

namespace {

using brook::cli::ConfigurationOptions;

constexpr char kJobManagerHelp[] =
    "JobManager address HOST:PORT (default: $BROOK_JOBMANAGER, else "
    "jobmanager.rpc.address:jobmanager.rpc.port from the configuration)";

// -c and -D, which every command takes.
void addConfigurationOptions(CLI::App* cmd, ConfigurationOptions& options) {
  cmd->add_option("-D", options.dynamicProperties,
                  "A configuration option key=value, e.g. -D execution.runtime-mode=BATCH")
      ->allow_extra_args(false);
  cmd->add_option("-c,--conf", options.confFile,
                  "Configuration file (default: $BROOK_CONF_DIR/brook.yaml if set)");
}

// The job library and -p, which run and info take.
void addJobOptions(CLI::App* cmd, std::string& jobPath, ConfigurationOptions& options) {
  cmd->add_option("job", jobPath, "The job library (.so) built with BROOK_JOB")->required();
  cmd->add_option("-p,--parallelism", options.parallelism,
                  "Default parallelism of the job (parallelism.default)")
      ->check(CLI::PositiveNumber);
  addConfigurationOptions(cmd, options);
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
      "brook: run Brook stream processing jobs, on a JobManager or an embedded mini-cluster.\n"
      "Job arguments follow '--', e.g.\n"
      "  brook run -m localhost:6123 -p 2 wordcount.so -- --input in.txt --output out/\n"
      "  brook run --local wordcount.so -- --input in.txt --output out/"};
  app.require_subcommand(1);
  std::string logLevel = "warn";
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  brook::cli::RunOptions runOptions;
  auto* run =
      app.add_subcommand("run", "Run a job on the JobManager, or with --local in this process");
  run->footer(
      "Status changes go to standard error. Exit codes: 0 FINISHED, 1 FAILED or an error, 2 bad "
      "command line or configuration, 130 CANCELED or interrupted. Ctrl-C cancels the job and "
      "waits for it to end. With -d the job id goes to standard output and the job runs on.");
  addJobOptions(run, runOptions.jobPath, runOptions.configuration);
  auto* localFlag =
      run->add_flag("--local", runOptions.local, "Run on an embedded mini-cluster in this process");
  run->add_flag("-d,--detached", runOptions.detached,
                "Submit the job, print its id and return without waiting for it")
      ->excludes(localFlag);
  run->add_option("-m,--jobmanager", runOptions.jobManager, kJobManagerHelp)->excludes(localFlag);

  brook::cli::InfoOptions infoOptions;
  auto* info = app.add_subcommand("info", "Print a job's JobGraph as JSON");
  addJobOptions(info, infoOptions.jobPath, infoOptions.configuration);

  brook::cli::ListOptions listOptions;
  auto* list = app.add_subcommand("list", "List the JobManager's running jobs");
  list->add_flag("-a,--all", listOptions.all, "Also list the jobs that have ended");
  list->add_option("-m,--jobmanager", listOptions.jobManager, kJobManagerHelp);
  addConfigurationOptions(list, listOptions.configuration);

  brook::cli::CancelOptions cancelOptions;
  auto* cancel =
      app.add_subcommand("cancel", "Cancel a job on the JobManager and wait until it has ended");
  cancel->add_option("job-id", cancelOptions.jobId, "The job's id (32 hex digits)")->required();
  cancel->add_option("-m,--jobmanager", cancelOptions.jobManager, kJobManagerHelp);
  addConfigurationOptions(cancel, cancelOptions.configuration);

  try {
    app.parse(ownArgc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? brook::cli::kExitSuccess : brook::cli::kExitUsage;
  }
  brook::setLogLevel(logLevel);

  if (!jobArgs.empty() && (list->parsed() || cancel->parsed())) {
    std::fprintf(stderr, "error: brook %s takes no job arguments after '--'\n",
                 list->parsed() ? "list" : "cancel");
    return brook::cli::kExitUsage;
  }
  if (run->parsed()) {
    runOptions.jobArgs = std::move(jobArgs);
    return brook::cli::runCommand(runOptions);
  }
  if (info->parsed()) {
    infoOptions.jobArgs = std::move(jobArgs);
    return brook::cli::infoCommand(infoOptions);
  }
  if (list->parsed())
    return brook::cli::listCommand(listOptions);
  return brook::cli::cancelCommand(cancelOptions);
}
