#pragma once

#include <memory>
#include <string>

#include <absl/status/statusor.h>

#include <brook/functions.h>
#include <brook/stream_execution_environment.h>

namespace brook::runtime {

/// A loaded job artifact: a shared library written with BROOK_JOB. Loading checks that the
/// library is a Brook job of this ABI version; `plan` runs its entry point.
class JobLibrary {
 public:
  ~JobLibrary();
  JobLibrary(const JobLibrary&) = delete;
  JobLibrary& operator=(const JobLibrary&) = delete;

  /// Loads `path`. Errors: NotFound (no such file), InvalidArgument (not a shared library, not a
  /// Brook job, or another ABI version), each naming the path.
  static absl::StatusOr<std::unique_ptr<JobLibrary>> load(const std::string& path);

  /// Builds the job's graph into `env` with `args`. A throwing job body or a bad definition is
  /// InvalidArgument carrying its message.
  absl::Status plan(StreamExecutionEnvironment& env, const JobArgs& args) const;

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }

 private:
  JobLibrary() = default;
  void* handle_ = nullptr;
  std::string path_;
  std::string name_;
  void (*main_)(void*) = nullptr;
};

}  // namespace brook::runtime
