#pragma once

// The helpers beside the report that more than one benchmark program needs: errors, a portable
// random number generator, the page cache, and the child processes that the programs start to
// measure each run on its own.

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace brook::benchmarks {

/// Throws std::runtime_error with `what` and the current errno text: "fork: Cannot allocate
/// memory".
[[noreturn]] void throwErrno(const std::string& what);

/// A new folder under the temporary directory named `prefix`.XXXXXX, removed with everything in
/// it when destroyed unless `keep` was called (then its path is printed).
class WorkFolder {
 public:
  explicit WorkFolder(const std::string& prefix);
  WorkFolder(const WorkFolder&) = delete;
  WorkFolder& operator=(const WorkFolder&) = delete;
  ~WorkFolder();

  const std::filesystem::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

/// SplitMix64: a small generator whose output is the same on every platform and library, unlike
/// the distributions of <random>, so that generated inputs are the same everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// A number in [0, n); the modulo bias is negligible for the small n used here.
  uint64_t below(uint64_t n) { return next() % n; }
  /// A number in [0, 1) with 53 random bits.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

/// Reads the whole file once so that every run finds it in the page cache.
void warmPageCache(const std::string& path);

/// A child process that startWithResultPipe started: its pid, and the read end of the pipe on
/// which it writes its report (close-on-exec). The caller reads the pipe, closes it and reaps
/// the child.
struct ResultPipeChild {
  pid_t pid = -1;
  int resultFd = -1;
};

/// Starts the program `self` (this program, as /proc/self/exe names it) again with `args` and
/// "--result-fd 3", its fd 3 being the write end of a new pipe. Flushes stdout and stderr first,
/// so that the child does not print what the parent has buffered. Throws if the pipe or the
/// fork fails; a failed exec shows as exit code 127.
ResultPipeChild startWithResultPipe(const std::string& self, std::vector<std::string> args);

/// Waits for the child `pid` to end and reaps it, retrying when a signal interrupts the wait;
/// returns its wait status and fills `usage` with its resource usage. Throws if wait4 fails.
int reapChild(pid_t pid, struct rusage& usage);

/// How a process ended, from its wait status: "exit code 1" or "signal 9".
std::string exitStatusText(int status);

/// The user and system CPU seconds in `usage`.
double cpuSecondsOf(const struct rusage& usage);

}  // namespace brook::benchmarks
