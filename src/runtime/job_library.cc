#include "runtime/job_library.h"

#include <dlfcn.h>

#include <filesystem>

#include <absl/strings/str_cat.h>

#include <brook/job.h>

namespace brook::runtime {

JobLibrary::~JobLibrary() {
  // The library stays loaded: objects it created (operators, type information) may outlive
  // this handle until the process ends.
}

absl::StatusOr<std::unique_ptr<JobLibrary>> JobLibrary::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("job library '", path, "' does not exist"));
  }
  std::string absolute = std::filesystem::absolute(path, ec).string();
  void* handle = ::dlopen(absolute.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = ::dlerror();
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' is not a loadable job library: ", err != nullptr ? err : "unknown error"));
  }
  auto abi = reinterpret_cast<int (*)()>(::dlsym(handle, "brook_job_abi_version"));
  auto name = reinterpret_cast<const char* (*)()>(::dlsym(handle, "brook_job_name"));
  auto main = reinterpret_cast<void (*)(void*)>(::dlsym(handle, "brook_job_main"));
  if (abi == nullptr || name == nullptr || main == nullptr) {
    ::dlclose(handle);
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' is not a Brook job: it has no BROOK_JOB entry point (brook_job_main)"));
  }
  if (abi() != BROOK_ABI_VERSION) {
    int version = abi();
    ::dlclose(handle);
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' was built for Brook ABI version ",
                                                   version, ", but this Brook has version ",
                                                   BROOK_ABI_VERSION, "; rebuild the job"));
  }
  std::unique_ptr<JobLibrary> lib(new JobLibrary());
  lib->handle_ = handle;
  lib->path_ = path;
  lib->name_ = name();
  lib->main_ = main;
  return lib;
}

absl::Status JobLibrary::plan(StreamExecutionEnvironment& env, const JobArgs& args) const {
  JobContext context(&env, &args);
  main_(&context);
  if (!context.error.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("job '", name_, "' could not be planned: ", context.error));
  }
  return absl::OkStatus();
}

}  // namespace brook::runtime
