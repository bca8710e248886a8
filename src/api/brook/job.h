#pragma once

/// A job is a shared library with one exported entry point, written by BROOK_JOB:
///
///   BROOK_JOB(word_count) {
///     auto& env = job.env();
///     env.readTextFile(job.args().get("input")) ... ;
///   }
///
/// Every process that runs the job (the CLI that plans it, each TaskManager) calls the entry
/// point with the same arguments, so the body must build the same graph each time: no
/// randomness, clocks or environment-dependent branching in the graph's shape.

#include <string>

#include <brook/functions.h>
#include <brook/stream_execution_environment.h>

/// Bumped whenever the layout of the API's types changes incompatibly; a job built against
/// another version is refused when loaded.
#define BROOK_ABI_VERSION 3

namespace brook {

/// What the entry point receives: the environment to build the graph in, and the arguments.
class JobContext {
 public:
  JobContext(StreamExecutionEnvironment* env, const JobArgs* args) : env_(env), args_(args) {}
  StreamExecutionEnvironment& env() { return *env_; }
  const JobArgs& args() const { return *args_; }

  /// Set by the entry point when the body threw; empty on success.
  std::string error;

 private:
  StreamExecutionEnvironment* env_;
  const JobArgs* args_;
};

}  // namespace brook

#define BROOK_JOB(jobName)                                                         \
  static void brookJobBody_##jobName(::brook::JobContext& job);                    \
  extern "C" __attribute__((visibility("default"))) int brook_job_abi_version() {  \
    return BROOK_ABI_VERSION;                                                      \
  }                                                                                \
  extern "C" __attribute__((visibility("default"))) const char* brook_job_name() { \
    return #jobName;                                                               \
  }                                                                                \
  extern "C" __attribute__((visibility("default"))) void brook_job_main(           \
      ::brook::JobContext* context) {                                              \
    try {                                                                          \
      brookJobBody_##jobName(*context);                                            \
    } catch (const std::exception& e) {                                            \
      context->error = e.what();                                                   \
    } catch (...) {                                                                \
      context->error = "unknown exception while building the job graph";           \
    }                                                                              \
  }                                                                                \
  static void brookJobBody_##jobName(::brook::JobContext& job)
