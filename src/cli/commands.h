#pragma once

// The subcommands of `brook`: each takes its parsed options, prints what the user sees and
// returns the process's exit code. Every command reads the configuration (-c, -D); the
// cluster commands find the JobManager with -m, $BROOK_JOBMANAGER or the configuration.

#include <memory>
#include <string>
#include <vector>

#include "cli/job_planner.h"

namespace brook::cli {

class ClusterClient;

// The exit codes of `brook`.
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;        // the job failed, or a runtime error
inline constexpr int kExitUsage = 2;          // bad command line or configuration
inline constexpr int kExitInterrupted = 130;  // the job was cancelled, or Ctrl-C

// The options of `brook run`; `jobArgs` are the words after "--".
struct RunOptions {
  ConfigurationOptions configuration;
  std::string jobPath;
  std::vector<std::string> jobArgs;
  bool local = false;
  bool detached = false;
  std::string jobManager;  // -m; empty: $BROOK_JOBMANAGER or the configuration
  std::string fromSavepoint;  // -s: execution.savepoint.path
  bool allowNonRestoredState = false;  // execution.savepoint.ignore-unclaimed-state
};

// The options of `brook info`.
struct InfoOptions {
  ConfigurationOptions configuration;
  std::string jobPath;
  std::vector<std::string> jobArgs;
};

// The options of `brook list`.
struct ListOptions {
  ConfigurationOptions configuration;
  std::string jobManager;
  bool all = false;
};

// The options of `brook cancel`.
struct CancelOptions {
  ConfigurationOptions configuration;
  std::string jobManager;
  std::string jobId;
};

// The options of `brook savepoint` and `brook stop`.
struct SavepointOptions {
  ConfigurationOptions configuration;
  std::string jobManager;
  std::string jobId;
  std::string targetDirectory;  // empty: the job's state.savepoints.dir
  bool stop = false;            // `brook stop`: end the job after the savepoint
};

// The start of a command on one job of the JobManager (cancel, savepoint, stop): checks that
// `jobId` is a job id, loads the configuration and connects. Returns the lower-case job id and
// the client, or prints the error and returns null with `*exitCode` set (usage or failure).
std::unique_ptr<ClusterClient> connectForJobCommand(const std::string& jobId,
                                                    const ConfigurationOptions& configuration,
                                                    const std::string& jobManager,
                                                    std::string* normalizedJobId, int* exitCode);

// `brook savepoint JOB_ID [DIR]` and `brook stop --savepoint DIR JOB_ID`: prints the savepoint's
// path; `stop` then waits for the job to end. Exit codes: 0 done, 1 failed, 2 usage.
int savepointCommand(const SavepointOptions& options);

// `brook run`: with `local`, runs the job on an embedded mini-cluster; else submits it to the
// JobManager and, unless `detached`, follows it until it ends. Exit codes: 0 FINISHED,
// 1 FAILED (or an error), 2 usage, 130 CANCELED or interrupted.
int runCommand(const RunOptions& options);

// `brook info`: prints the job's JobGraph as JSON.
int infoCommand(const InfoOptions& options);

// `brook list`: prints the JobManager's running jobs, and with `all` the ended ones.
int listCommand(const ListOptions& options);

// `brook cancel`: cancels a job and waits until it has ended.
int cancelCommand(const CancelOptions& options);

}  // namespace brook::cli
