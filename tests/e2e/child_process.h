#pragma once

#include <sys/types.h>
#include <time.h>

#include <chrono>
#include <string>
#include <vector>

namespace brook::testing {

/// A real child process with its output in `logDir/name.out` (stdout) and `name.err`. The
/// destructor kills it (SIGKILL) and reaps it, so a failing test leaves nothing behind.
class ChildProcess {
 public:
  ChildProcess(const std::string& logDir, const std::string& name, std::vector<std::string> argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Sends `signal`; with SIGTERM/SIGINT, waits up to `timeout` for the exit and returns the
  /// exit code (or -1 when it did not exit in time).
  int stop(int signal, std::chrono::milliseconds timeout);
  void kill9();
  bool running();
  pid_t pid() const { return pid_; }

  std::string stdoutText() const;
  std::string stderrText() const;
  /// Waits until standard output contains `text`; false after `timeout`.
  bool waitForOutput(const std::string& text, std::chrono::milliseconds timeout) const;

 private:
  std::string outPath_;
  std::string errPath_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exitCode_ = -1;
};

/// A TCP port on 127.0.0.1 that was free a moment ago.
int pickFreePort();

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    struct timespec ts {
      0, 20'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return condition();
}

}  // namespace brook::testing
