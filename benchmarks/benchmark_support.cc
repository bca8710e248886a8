#include "benchmark_support.h"

#include <fcntl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace brook::benchmarks {

namespace {

// The size of warmPageCache's reads.
constexpr size_t kIoBlockBytes = 4 << 20;

}  // namespace

WorkFolder::WorkFolder(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + ".XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throwErrno("mkdtemp");
  path_ = pattern;
}

WorkFolder::~WorkFolder() {
  if (keep_) {
    std::printf("Kept the work folder %s\n", path_.c_str());
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void throwErrno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void warmPageCache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throwErrno("cannot open '" + path + "'");
  std::vector<char> block(kIoBlockBytes);
  while (::read(fd, block.data(), block.size()) > 0) {
  }
  ::close(fd);
}

ResultPipeChild startWithResultPipe(const std::string& self, std::vector<std::string> args) {
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0)
    throwErrno("pipe");
  // The child inherits a duplicate of the write end without O_CLOEXEC.
  args.push_back("--result-fd");
  args.push_back("3");
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(self.c_str()));
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) {
    int error = errno;
    ::close(pipeFds[0]);
    ::close(pipeFds[1]);
    errno = error;
    throwErrno("fork");
  }
  if (pid == 0) {
    // dup2 clears FD_CLOEXEC on the copy; an end that already is fd 3 needs it cleared.
    if (pipeFds[1] == 3 ? ::fcntl(3, F_SETFD, 0) < 0 : ::dup2(pipeFds[1], 3) < 0)
      ::_exit(127);
    ::execv(self.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(pipeFds[1]);
  return {pid, pipeFds[0]};
}

int reapChild(pid_t pid, struct rusage& usage) {
  int status = 0;
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR)
      throwErrno("wait4");
  }
  return status;
}

std::string exitStatusText(int status) {
  return WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                           : "signal " + std::to_string(WTERMSIG(status));
}

double cpuSecondsOf(const struct rusage& usage) {
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace brook::benchmarks
