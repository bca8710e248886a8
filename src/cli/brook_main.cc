// The `brook` command line: runs jobs on the embedded mini-cluster or a JobManager, lists,
// cancels, savepoints and stops a JobManager's jobs, and shows a job's plan.

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
  auto* fromSavepoint = run->add_option(
      "-s,--fromSavepoint", runOptions.fromSavepoint,
      "Start the job from this savepoint or retained checkpoint directory "
      "(execution.savepoint.path)");
  run->add_flag("-n,--allow-non-restored-state,--allowNonRestoredState", runOptions.allowNonRestoredState,
                "Drop the state of operators the job no longer has instead of failing "
                "(execution.savepoint.ignore-unclaimed-state)")
      ->needs(fromSavepoint);

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

  brook::cli::SavepointOptions savepointOptions;
  auto* savepoint = app.add_subcommand(
      "savepoint", "Take a savepoint of a running job on the JobManager and print its path");
  savepoint->add_option("job-id", savepointOptions.jobId, "The job's id (32 hex digits)")
      ->required();
  savepoint->add_option("target-directory", savepointOptions.targetDirectory,
                        "Where the savepoint's folder goes (default: state.savepoints.dir)");
  savepoint->add_option("-m,--jobmanager", savepointOptions.jobManager, kJobManagerHelp);
  addConfigurationOptions(savepoint, savepointOptions.configuration);

  brook::cli::SavepointOptions stopOptions;
  stopOptions.stop = true;
  auto* stop = app.add_subcommand(
      "stop", "Take a savepoint of a running job, then end it; resume it with run -s PATH");
  stop->add_option("job-id", stopOptions.jobId, "The job's id (32 hex digits)")->required();
  stop->add_option("--savepoint,-p,--savepointPath", stopOptions.targetDirectory,
                   "Where the savepoint's folder goes (default: state.savepoints.dir)");
  stop->add_option("-m,--jobmanager", stopOptions.jobManager, kJobManagerHelp);
  addConfigurationOptions(stop, stopOptions.configuration);

  try {
    app.parse(ownArgc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? brook::cli::kExitSuccess : brook::cli::kExitUsage;
  }
  brook::setLogLevel(logLevel);

  for (CLI::App* command : {list, cancel, savepoint, stop}) {
    if (!jobArgs.empty() && command->parsed()) {
      std::fprintf(stderr, "error: brook %s takes no job arguments after '--'\n",
                   command->get_name().c_str());
      return brook::cli::kExitUsage;
    }
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
  if (savepoint->parsed())
    return brook::cli::savepointCommand(savepointOptions);
  if (stop->parsed())
    return brook::cli::savepointCommand(stopOptions);
  return brook::cli::cancelCommand(cancelOptions);
}
