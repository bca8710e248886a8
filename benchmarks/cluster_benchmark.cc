// Cluster benchmark: WordCount on a cluster of real processes against the same job on the
// mini-cluster, and the latency of a job submission until the job is RUNNING.
//
//   cluster_benchmark [--size-mb N] [--repetitions N] [--submissions N] [--data-dir DIR]
//                     [--markdown PATH] [--keep-logs]
//
// The program starts a cluster on 127.0.0.1: `brook-jobmanager --port 0` and two
// `brook-taskmanager --slots 1`, each process with its own log files and TMPDIR in a work folder
// that is removed at the end. It waits until the JobManager has logged both registrations, then
//
//   submission  submits WordCount (BATCH, parallelism 2) on a tiny input with `brook run -d`
//               --submissions times, one after the other, and takes from the JobManager's log the
//               moments the job was submitted and switched to RUNNING, and from the TaskManagers'
//               logs the moment its last task was deployed; then runs the attached `brook run` on
//               the same input as often, start to exit;
//   throughput  runs `brook run -m ADDR -p 2 -D execution.runtime-mode=BATCH wordcount.so` and
//               `brook run --local -p 2 ...` (the mini-cluster) on a generated text file
//               --repetitions times each, alternating which goes first, and takes the job runtime
//               the CLI prints ("Job Runtime: N ms", job creation to its end as the JobManager
//               or the mini-cluster measures it) and the CLI's wall time.
//
// Every throughput run's output (the sorted lines of its part files) must equal the first
// mini-cluster run's. The input is a deterministic text file (256 MiB by default) made of a
// 50,000-word vocabulary with a Zipf-like frequency distribution, mixed case and punctuation.
// The results are printed and written to the "## Cluster" section of BENCHMARKS.md.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "benchmark_report.h"
#include "benchmark_support.h"

extern char** environ;

namespace brook::benchmarks {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kDefaultSizeMb = 256;
constexpr int kParallelism = 2;
constexpr int kTaskManagers = 2;
constexpr uint64_t kTinyInputBytes = 16 << 10;
constexpr size_t kVocabularySize = 50000;
constexpr uint64_t kSeed = 0xc105'7e2b'e4c4'0001ULL;
constexpr size_t kMinLineChars = 60;
constexpr size_t kMaxLineChars = 100;
constexpr size_t kIoBlockBytes = 4 << 20;
// Zipf-Mandelbrot weights 1 / (rank + kZipfOffset): the most frequent word is about 4% of the
// text, as "the" is in English.
constexpr double kZipfOffset = 2.7;
// How long the cluster may take to come up, and a stopped process to exit before SIGKILL.
constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kStopGrace = std::chrono::seconds(5);
// How long a detached job on the tiny input may take to end.
constexpr auto kTinyJobTimeout = std::chrono::seconds(60);
constexpr auto kPollInterval = milliseconds(5);

// SIGINT and SIGTERM received: every wait checks it, so that an interrupted benchmark still
// stops the processes it started and removes its work folder.
std::atomic<int> gInterrupts{0};

void onSignal(int) {
  gInterrupts.fetch_add(1);
}

void installSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // poll() still returns EINTR, and the waits check
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void throwIfInterrupted() {
  if (gInterrupts.load() > 0)
    throw std::runtime_error("interrupted");
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// The last `count` lines of a file, indented, for error messages.
std::string tailOf(const fs::path& path, size_t count = 15) {
  std::vector<std::string> lines;
  std::istringstream in(readFile(path));
  for (std::string line; std::getline(in, line);)
    lines.push_back(std::move(line));
  std::string out;
  for (size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i)
    out += "\n    " + lines[i];
  return out.empty() ? "\n    (empty)" : out;
}

int64_t epochMillis() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The local time at the start of a Brook log line ("2026-11-26 01:09:49.613 info ...") in
// milliseconds since the epoch, or nullopt.
std::optional<int64_t> logLineMillis(const std::string& line) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(line.c_str(), "%d-%d-%d %d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  std::time_t seconds = std::mktime(&tm);
  if (seconds == -1)
    return std::nullopt;
  return static_cast<int64_t>(seconds) * 1000 + millis;
}

// The lines of a log file that contain every one of `needles`.
std::vector<std::string> logLinesWith(const fs::path& path,
                                      const std::vector<std::string>& needles) {
  std::vector<std::string> found;
  std::istringstream in(readFile(path));
  for (std::string line; std::getline(in, line);) {
    bool all = std::all_of(needles.begin(), needles.end(), [&line](const std::string& needle) {
      return line.find(needle) != std::string::npos;
    });
    if (all)
      found.push_back(line);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Input generation.

// Distinct lower-case words of one to four syllables, short ones at the frequent low ranks;
// about one in fifty ends in digits.
std::vector<std::string> makeVocabulary(Rng& rng) {
  static constexpr std::string_view kOnsets[] = {
      "b", "c", "d", "f",  "g",  "h",  "j",  "k",  "l",  "m",  "n",  "p",  "r", "s",
      "t", "v", "w", "st", "tr", "br", "ch", "sh", "th", "gr", "pl", "fl", ""};
  static constexpr std::string_view kVowels[] = {"a", "e", "i", "o", "u", "ea", "ou", "ai"};
  static constexpr std::string_view kCodas[] = {"",  "",  "",  "",   "n",  "r",
                                                "s", "t", "l", "nd", "st", "ck"};
  auto pick = [&rng](const auto& table) {
    return table[rng.below(std::size(table))];
  };
  std::unordered_set<std::string> seen;
  std::vector<std::string> words;
  words.reserve(kVocabularySize);
  while (words.size() < kVocabularySize) {
    uint64_t maxSyllables = 1 + static_cast<uint64_t>(std::bit_width(words.size() + 1)) / 5;
    uint64_t syllables = 1 + rng.below(maxSyllables);
    std::string word;
    for (uint64_t s = 0; s < syllables; ++s) {
      word += pick(kOnsets);
      word += pick(kVowels);
      word += pick(kCodas);
    }
    if (rng.below(50) == 0)
      word += std::to_string(rng.below(1000));
    if (seen.insert(word).second)
      words.push_back(std::move(word));
  }
  return words;
}

// Draws ranks with the Zipf-Mandelbrot weights by binary search over their running sums.
class ZipfSampler {
 public:
  explicit ZipfSampler(size_t n) : cumulative_(n) {
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      total += 1.0 / (static_cast<double>(i) + kZipfOffset);
      cumulative_[i] = total;
    }
  }

  size_t sample(Rng& rng) const {
    double x = rng.unit() * cumulative_.back();
    auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), x);
    return std::min(static_cast<size_t>(it - cumulative_.begin()), cumulative_.size() - 1);
  }

 private:
  std::vector<double> cumulative_;
};

// Appends a line of kMinLineChars to about kMaxLineChars characters and its newline: words in
// lower case, capitalized (at a sentence start and now and then) or upper case, separated by a
// space or a hyphen, some followed by punctuation.
void appendLine(std::string& out,
                const std::vector<std::string>& vocabulary,
                const ZipfSampler& sampler,
                Rng& rng) {
  size_t start = out.size();
  size_t target = kMinLineChars + rng.below(kMaxLineChars - kMinLineChars + 1);
  bool sentenceStart = true;
  while (out.size() - start < target) {
    if (out.size() > start)
      out += rng.below(100) == 0 ? '-' : ' ';
    size_t wordStart = out.size();
    out += vocabulary[sampler.sample(rng)];
    uint64_t casing = rng.below(1000);
    if (casing < 20) {
      for (size_t i = wordStart; i < out.size(); ++i) {
        if (out[i] >= 'a' && out[i] <= 'z')
          out[i] = static_cast<char>(out[i] - 'a' + 'A');
      }
    } else if ((sentenceStart || casing < 120) && out[wordStart] >= 'a' && out[wordStart] <= 'z') {
      out[wordStart] = static_cast<char>(out[wordStart] - 'a' + 'A');
    }
    uint64_t punctuation = rng.below(100);
    sentenceStart = punctuation < 5;
    if (punctuation < 4) {
      out += '.';
    } else if (punctuation < 5) {
      out += '?';
    } else if (punctuation < 11) {
      out += ',';
    } else if (punctuation < 12) {
      out += "'s";
    }
  }
  out += '\n';
}

// Writes whole lines of generated text, at least `bytes` of them, to `path`, through a
// temporary file so that an interrupted run leaves no partial input behind.
void generateText(const fs::path& path, uint64_t bytes) {
  Rng rng(kSeed);
  std::vector<std::string> vocabulary = makeVocabulary(rng);
  ZipfSampler sampler(vocabulary.size());
  fs::path tmpPath = path.string() + ".tmp." + std::to_string(::getpid());
  std::FILE* file = std::fopen(tmpPath.c_str(), "wb");
  if (file == nullptr)
    throwErrno("cannot create '" + tmpPath.string() + "'");
  std::string block;
  block.reserve(kIoBlockBytes + 4096);
  uint64_t written = 0;
  while (written < bytes) {
    throwIfInterrupted();
    block.clear();
    while (block.size() < kIoBlockBytes && written + block.size() < bytes)
      appendLine(block, vocabulary, sampler, rng);
    if (std::fwrite(block.data(), 1, block.size(), file) != block.size()) {
      std::fclose(file);
      throwErrno("cannot write '" + tmpPath.string() + "'");
    }
    written += block.size();
  }
  if (std::fclose(file) != 0)
    throwErrno("cannot close '" + tmpPath.string() + "'");
  fs::rename(tmpPath, path);
}

// The lines of every regular file in `dir` (a job's part files), sorted.
std::vector<std::string> sortedOutputLines(const fs::path& dir) {
  std::vector<std::string> lines;
  for (const auto& entry : fs::directory_iterator(dir)) {
    // Committed part files only: hidden ones are in progress (or left by an aborted attempt).
    if (!entry.is_regular_file() || entry.path().filename().string().starts_with('.'))
      continue;
    std::ifstream in(entry.path(), std::ios::binary);
    for (std::string line; std::getline(in, line);)
      lines.push_back(std::move(line));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// The job id after "submitted with JobID " in `text`, or nullopt.
std::optional<std::string> jobIdIn(const std::string& text) {
  const std::string prefix = "submitted with JobID ";
  const size_t at = text.find(prefix);
  if (at == std::string::npos || text.size() < at + prefix.size() + 32)
    return std::nullopt;
  return text.substr(at + prefix.size(), 32);
}

// The sum of the counts of `word,count` lines.
int64_t totalCount(const std::vector<std::string>& lines) {
  int64_t total = 0;
  for (const auto& line : lines) {
    size_t comma = line.rfind(',');
    int64_t count = 0;
    if (comma == std::string::npos ||
        std::from_chars(line.data() + comma + 1, line.data() + line.size(), count).ec !=
            std::errc()) {
      throw std::runtime_error("malformed output line '" + line + "'");
    }
    total += count;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Processes.

// A child process running a program with its stdout and stderr in files, in a process group of
// its own (so that a Ctrl-C reaches only this program, which then stops it) and killed by the
// kernel if this program dies. The destructor stops it if it still runs. Used by the main
// thread only.
class ChildProcess {
 public:
  ChildProcess(std::string name,
               const std::vector<std::string>& argv,
               const fs::path& stdoutPath,
               const fs::path& stderrPath,
               const std::vector<std::string>& environment)
      : name_(std::move(name)), stdoutPath_(stdoutPath), stderrPath_(stderrPath) {
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> env;
    for (const auto& e : environment)
      env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(nullptr);
    const pid_t parent = ::getpid();
    std::fflush(stdout);
    std::fflush(stderr);
    startedAt_ = Clock::now();
    startedAtEpochMillis_ = epochMillis();
    pid_ = ::fork();
    if (pid_ < 0)
      throwErrno("fork");
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent)
        ::_exit(127);
      // The originals close at exec; dup2 clears FD_CLOEXEC on the copies.
      int out = ::open(stdoutPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      int err = ::open(stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0)
        ::_exit(127);
      ::execve(args[0], args.data(), env.data());
      ::_exit(127);
    }
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0) {
      int error = errno;
      ::kill(pid_, SIGKILL);
      reap();
      errno = error;
      throwErrno("pidfd_open");
    }
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  ~ChildProcess() {
    stop();
    if (pidfd_ >= 0)
      ::close(pidfd_);
  }

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  const fs::path& stdoutPath() const { return stdoutPath_; }
  const fs::path& stderrPath() const { return stderrPath_; }
  int64_t startedAtEpochMillis() const { return startedAtEpochMillis_; }

  // Whether the process still runs; reaps it if it has ended.
  bool running() {
    if (reaped_)
      return false;
    return !waitFor(milliseconds(0));
  }

  // Waits until the process exits; throws if it takes longer than `timeout` (after killing it)
  // or if this program is interrupted (the destructor then stops it). Returns the seconds from
  // the fork to the exit.
  double wait(std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!waitFor(milliseconds(100))) {
      throwIfInterrupted();
      if (Clock::now() >= deadline) {
        stop();
        throw std::runtime_error(name_ + " did not end within " + std::to_string(timeout.count()) +
                                 " s");
      }
    }
    return std::chrono::duration<double>(endedAt_ - startedAt_).count();
  }

  // Throws unless the process exited with code 0, quoting the end of its stderr.
  void checkSuccess() const {
    if (!reaped_)
      throw std::runtime_error(name_ + " has not ended");
    if (WIFEXITED(status_) && WEXITSTATUS(status_) == 0)
      return;
    throw std::runtime_error(name_ + " failed (" + describeStatus() +
                             "); its stderr ends:" + tailOf(stderrPath_));
  }

  std::string describeStatus() const { return exitStatusText(status_); }

  // User and system CPU seconds of the ended process (all its threads).
  double cpuSeconds() const { return cpuSecondsOf(usage_); }

  // User and system CPU seconds the running process has used so far, from /proc.
  double cpuSecondsSoFar() const {
    std::string stat = readFile("/proc/" + std::to_string(pid_) + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos)
      return 0;
    std::istringstream in(stat.substr(paren + 1));
    std::string field;
    uint64_t utime = 0;
    uint64_t stime = 0;
    // After the command come state (field 3) ... utime (14) and stime (15).
    for (int i = 3; i <= 15 && in >> field; ++i) {
      if (i == 14)
        utime = std::stoull(field);
      if (i == 15)
        stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }

  // Sends SIGKILL (kill -9) and reaps the process.
  void kill9() {
    if (reaped_ || pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    if (!waitFor(std::chrono::duration_cast<milliseconds>(kStopGrace)))
      reap();
  }

  // Sends SIGTERM, waits up to kStopGrace, then kills and reaps the process.
  void stop() {
    if (reaped_ || pid_ <= 0)
      return;
    ::kill(pid_, SIGTERM);
    if (!waitFor(std::chrono::duration_cast<milliseconds>(kStopGrace))) {
      ::kill(pid_, SIGKILL);
      reap();
    }
  }

 private:
  // Waits up to `timeout` for the process to exit and reaps it; returns whether it has.
  bool waitFor(milliseconds timeout) {
    if (reaped_)
      return true;
    struct pollfd fd {
      pidfd_, POLLIN, 0
    };
    int ready = ::poll(&fd, 1, static_cast<int>(timeout.count()));
    if (ready <= 0)
      return false;  // timeout, or EINTR: the caller checks for interrupts
    endedAt_ = Clock::now();
    reap();
    return true;
  }

  void reap() {
    while (::wait4(pid_, &status_, 0, &usage_) < 0) {
      if (errno != EINTR)
        break;
    }
    reaped_ = true;
    if (endedAt_ == Clock::time_point{})
      endedAt_ = Clock::now();
  }

  std::string name_;
  fs::path stdoutPath_;
  fs::path stderrPath_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  struct rusage usage_ {};
  Clock::time_point startedAt_;
  Clock::time_point endedAt_;
  int64_t startedAtEpochMillis_ = 0;
};

// The programs the benchmark runs.
struct Binaries {
  std::string jobManager = BROOK_JOBMANAGER_BINARY;
  std::string taskManager = BROOK_TASKMANAGER_BINARY;
  std::string cli = BROOK_CLI_BINARY;
  std::string job = BROOK_WORDCOUNT_JOB;
  std::string exactlyOnceCheckJob = BROOK_EXACTLY_ONCE_CHECK_JOB;
};

// A JobManager and TaskManagers with one slot each on 127.0.0.1, their logs in `logs/` and their
// temporary files (blob storage and caches) in `tmp/` of the work folder. The destructor stops
// the TaskManagers, then the JobManager.
class LocalCluster {
 public:
  // `jobManagerOptions` are added to the JobManager's command line (-D key=value ...).
  LocalCluster(const Binaries& binaries,
               const fs::path& workFolder,
               int taskManagers,
               const std::vector<std::string>& jobManagerOptions = {})
      : logs_(workFolder / "logs"), taskManagerBinary_(binaries.taskManager) {
    fs::create_directories(logs_);
    fs::create_directories(workFolder / "tmp");
    environment_ = environmentWith("TMPDIR=" + (workFolder / "tmp").string());
    auto start = Clock::now();
    std::vector<std::string> jobManagerArgv{binaries.jobManager, "--host", "127.0.0.1", "--port",
                                            "0"};
    jobManagerArgv.insert(jobManagerArgv.end(), jobManagerOptions.begin(), jobManagerOptions.end());
    jobManager_ =
        std::make_unique<ChildProcess>("brook-jobmanager", jobManagerArgv, logs_ / "jobmanager.out",
                                       logs_ / "jobmanager.log", environment_);
    const std::string prefix = "JobManager listening on ";
    waitUntil("the JobManager to listen", [&] {
      std::string out = readFile(jobManager_->stdoutPath());
      size_t at = out.find(prefix);
      size_t end = at == std::string::npos ? at : out.find('\n', at);
      if (end == std::string::npos)
        return false;
      address_ = out.substr(at + prefix.size(), end - at - prefix.size());
      return true;
    });
    for (int i = 1; i <= taskManagers; ++i)
      launchTaskManager("tm-" + std::to_string(i));
    waitUntil("the TaskManagers to register", [&] {
      for (int i = 1; i <= taskManagers; ++i) {
        if (!registered("tm-" + std::to_string(i)))
          return false;
      }
      return true;
    });
    startSeconds_ = std::chrono::duration<double>(Clock::now() - start).count();
  }

  // Starts TaskManager `id` with one slot; does not wait for it to register.
  void launchTaskManager(const std::string& id) {
    taskManagers_.push_back(std::make_unique<ChildProcess>(
        "brook-taskmanager " + id,
        std::vector<std::string>{taskManagerBinary_, "-m", address_, "--slots", "1", "--id", id},
        logs_ / (id + ".out"), logs_ / (id + ".log"), environment_));
  }

  // Kills TaskManager `id` with SIGKILL; it leaves the cluster (its log stays).
  void killTaskManager(const std::string& id) {
    for (auto it = taskManagers_.begin(); it != taskManagers_.end(); ++it) {
      if ((*it)->name() == "brook-taskmanager " + id) {
        (*it)->kill9();
        killed_.push_back(std::move(*it));
        taskManagers_.erase(it);
        return;
      }
    }
    throw std::runtime_error("no running TaskManager " + id);
  }

  // Whether the JobManager logged the registration of TaskManager `id`.
  bool registered(const std::string& id) const {
    return !logLinesWith(jobManagerLog(), {"TaskManager " + id + " registered"}).empty();
  }

  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  ~LocalCluster() {
    for (auto& tm : taskManagers_)
      tm->stop();
    jobManager_->stop();
  }

  const std::string& address() const { return address_; }
  const std::vector<std::string>& environment() const { return environment_; }
  const fs::path& logs() const { return logs_; }
  fs::path jobManagerLog() const { return jobManager_->stderrPath(); }
  double startSeconds() const { return startSeconds_; }

  std::vector<fs::path> taskManagerLogs() const {
    std::vector<fs::path> paths;
    for (const auto& tm : taskManagers_)
      paths.push_back(tm->stderrPath());
    return paths;
  }

  // The ids of the running TaskManagers.
  std::vector<std::string> taskManagerIds() const {
    std::vector<std::string> ids;
    for (const auto& tm : taskManagers_)
      ids.push_back(tm->name().substr(std::string("brook-taskmanager ").size()));
    return ids;
  }

  // CPU seconds the JobManager and the TaskManagers have used so far.
  double cpuSeconds() const {
    double total = jobManager_->cpuSecondsSoFar();
    for (const auto& tm : taskManagers_)
      total += tm->cpuSecondsSoFar();
    return total;
  }

  // Throws if a process of the cluster has ended.
  void checkRunning() {
    for (ChildProcess* p : processes()) {
      if (!p->running()) {
        throw std::runtime_error(p->name() + " ended (" + p->describeStatus() +
                                 "); its log ends:" + tailOf(p->stderrPath()));
      }
    }
  }

  // Waits until `condition` holds, up to kStartTimeout; throws if a process ends.
  template <typename Condition>
  void waitUntil(const std::string& what, Condition condition) {
    auto deadline = Clock::now() + kStartTimeout;
    while (!condition()) {
      throwIfInterrupted();
      checkRunning();
      if (Clock::now() >= deadline) {
        throw std::runtime_error("timed out waiting for " + what +
                                 "; the JobManager's log ends:" + tailOf(jobManagerLog()));
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }

 private:
  static std::vector<std::string> environmentWith(const std::string& setting) {
    std::string key = setting.substr(0, setting.find('=') + 1);
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string_view(*e).rfind(key, 0) != 0)
        environment.emplace_back(*e);
    }
    environment.push_back(setting);
    return environment;
  }

  std::vector<ChildProcess*> processes() {
    std::vector<ChildProcess*> all = {jobManager_.get()};
    for (auto& tm : taskManagers_)
      all.push_back(tm.get());
    return all;
  }

  fs::path logs_;
  std::string taskManagerBinary_;
  std::vector<std::string> environment_;
  std::unique_ptr<ChildProcess> jobManager_;
  std::vector<std::unique_ptr<ChildProcess>> taskManagers_;
  std::vector<std::unique_ptr<ChildProcess>> killed_;
  std::string address_;
  double startSeconds_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The measurements.

struct Options {
  int sizeMb = kDefaultSizeMb;
  std::string dataDir = "/tmp/brook-bench";
  int repetitions = 5;
  int submissions = 10;
  int runTimeoutSeconds = 600;
  bool keepLogs = false;
  std::string markdownPath = BROOK_BENCHMARKS_MARKDOWN;
  bool recovery = false;
  int recoveryRepetitions = 3;
  Binaries binaries;
};

// The command line of a WordCount run: on the cluster at `jobManager`, or with --local on the
// mini-cluster when it is empty; `detached` adds -d.
std::vector<std::string> wordCountCommand(const Options& options,
                                          const std::string& jobManager,
                                          bool detached,
                                          const fs::path& input,
                                          const fs::path& output) {
  std::vector<std::string> argv = {options.binaries.cli, "run"};
  if (jobManager.empty()) {
    argv.push_back("--local");
  } else {
    argv.insert(argv.end(), {"-m", jobManager});
  }
  if (detached)
    argv.push_back("-d");
  argv.insert(argv.end(),
              {"-p", std::to_string(kParallelism), "-D", "execution.runtime-mode=BATCH",
               options.binaries.job, "--", "--input", input.string(), "--output", output.string()});
  return argv;
}

// One WordCount run on the large input.
struct JobRun {
  double wallSeconds = 0;     // the `brook run` process, fork to exit
  double runtimeSeconds = 0;  // "Job Runtime: N ms" as the CLI prints it
  double cpuSeconds = 0;      // the CLI, and for the cluster its processes during the run
  fs::path output;
};

// The job runtime that an ended, attached `brook run` printed ("Job Runtime: N ms"), in
// seconds.
double printedJobRuntimeSeconds(const ChildProcess& cli) {
  std::vector<std::string> lines = logLinesWith(cli.stderrPath(), {"Job Runtime: "});
  long long millis = -1;
  if (lines.empty() || std::sscanf(lines.back().c_str(), "Job Runtime: %lld ms", &millis) != 1) {
    throw std::runtime_error(
        cli.name() + " printed no job runtime; its stderr ends:" + tailOf(cli.stderrPath()));
  }
  return static_cast<double>(millis) / 1000.0;
}

JobRun runWordCount(const Options& options,
                    LocalCluster& cluster,
                    bool onCluster,
                    const std::string& what,
                    const fs::path& input,
                    const fs::path& output) {
  double clusterCpuBefore = onCluster ? cluster.cpuSeconds() : 0;
  ChildProcess cli(
      what, wordCountCommand(options, onCluster ? cluster.address() : "", false, input, output),
      cluster.logs() / (what + ".out"), cluster.logs() / (what + ".log"), cluster.environment());
  JobRun run;
  run.wallSeconds = cli.wait(std::chrono::seconds(options.runTimeoutSeconds));
  cli.checkSuccess();
  run.cpuSeconds = cli.cpuSeconds() + (onCluster ? cluster.cpuSeconds() - clusterCpuBefore : 0);
  run.output = output;
  run.runtimeSeconds = printedJobRuntimeSeconds(cli);
  return run;
}

// One detached submission of WordCount on the tiny input, in milliseconds.
struct Submission {
  double clientMillis = 0;              // `brook run -d`, fork to exit
  double submittedToRunningMillis = 0;  // JobManager log: "submitted" to "switched to RUNNING"
  double startToRunningMillis = 0;      // fork of `brook run -d` to the RUNNING log line
  double startToDeployedMillis = 0;     // fork to the last "deployed to slot" TaskManager line
};

// The time of the only line of `log` with all of `needles`; throws if there is none.
int64_t logLineTime(const fs::path& log, const std::vector<std::string>& needles) {
  std::vector<std::string> lines = logLinesWith(log, needles);
  std::optional<int64_t> millis = lines.empty() ? std::nullopt : logLineMillis(lines.front());
  if (!millis) {
    throw std::runtime_error("no line with '" + needles.back() + "' in " + log.string());
  }
  return *millis;
}

Submission submitDetached(const Options& options,
                          LocalCluster& cluster,
                          int index,
                          const fs::path& input,
                          const fs::path& outputRoot) {
  std::string what = "submit-" + std::to_string(index);
  ChildProcess cli(
      what, wordCountCommand(options, cluster.address(), true, input, outputRoot / what),
      cluster.logs() / (what + ".out"), cluster.logs() / (what + ".log"), cluster.environment());
  Submission s;
  s.clientMillis = cli.wait(std::chrono::seconds(options.runTimeoutSeconds)) * 1000.0;
  cli.checkSuccess();
  const std::string out = readFile(cli.stdoutPath());
  const std::optional<std::string> id = jobIdIn(out);
  if (!id)
    throw std::runtime_error(what + " printed no job id: " + out);
  const std::string jobId = *id;
  const std::string tag = "[" + jobId + "] ";

  // Wait for the job to end, so that every submission finds an idle cluster.
  auto deadline = Clock::now() + kTinyJobTimeout;
  for (;;) {
    throwIfInterrupted();
    cluster.checkRunning();
    std::vector<std::string> ends = logLinesWith(cluster.jobManagerLog(), {tag, "switched to "});
    bool finished = false;
    for (const auto& line : ends) {
      if (line.find("switched to FINISHED") != std::string::npos) {
        finished = true;
      } else if (line.find("switched to FAILED") != std::string::npos ||
                 line.find("switched to CANCELED") != std::string::npos) {
        throw std::runtime_error("job " + jobId + " of " + what + " did not finish: " + line);
      }
    }
    if (finished)
      break;
    if (Clock::now() >= deadline) {
      throw std::runtime_error("job " + jobId + " of " + what + " did not end within " +
                               std::to_string(kTinyJobTimeout.count()) + " s");
    }
    std::this_thread::sleep_for(kPollInterval);
  }

  int64_t submitted = logLineTime(cluster.jobManagerLog(), {tag, "' submitted"});
  int64_t running = logLineTime(cluster.jobManagerLog(), {tag, "switched to RUNNING"});
  std::optional<int64_t> deployed;
  for (const auto& log : cluster.taskManagerLogs()) {
    for (const auto& line : logLinesWith(log, {tag, " deployed to slot "})) {
      if (auto t = logLineMillis(line))
        deployed = std::max(deployed.value_or(*t), *t);
    }
  }
  if (!deployed)
    throw std::runtime_error("no TaskManager logged a task of job " + jobId);
  const double start = static_cast<double>(cli.startedAtEpochMillis());
  s.submittedToRunningMillis = static_cast<double>(running - submitted);
  s.startToRunningMillis = static_cast<double>(running) - start;
  s.startToDeployedMillis = static_cast<double>(*deployed) - start;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Reporting.

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double maximum(const std::vector<double>& values) {
  return *std::max_element(values.begin(), values.end());
}

std::string inputFileName(int sizeMb) {
  return "cluster-text-" + std::to_string(sizeMb) + "m.txt";
}

// The best (shortest runtime) of a kind of run, and its slowest.
struct RunSummary {
  JobRun best;
  double slowestRuntimeSeconds = 0;
};

RunSummary summarize(const std::vector<JobRun>& runs) {
  RunSummary s;
  s.best = *std::min_element(runs.begin(), runs.end(), [](const JobRun& a, const JobRun& b) {
    return a.runtimeSeconds < b.runtimeSeconds;
  });
  for (const auto& r : runs)
    s.slowestRuntimeSeconds = std::max(s.slowestRuntimeSeconds, r.runtimeSeconds);
  return s;
}

int runBenchmark(const Options& options) {
  for (const std::string& binary : {options.binaries.jobManager, options.binaries.taskManager,
                                    options.binaries.cli, options.binaries.job}) {
    if (binary.empty() || !fs::exists(binary))
      throw std::runtime_error("missing '" + binary + "': build the cluster and the examples");
  }
  installSignalHandlers();
  fs::create_directories(options.dataDir);
  const fs::path input = fs::path(options.dataDir) / inputFileName(options.sizeMb);
  if (!fs::exists(input)) {
    std::printf("Generating %s (%d MiB)...\n", input.c_str(), options.sizeMb);
    auto start = Clock::now();
    generateText(input, static_cast<uint64_t>(options.sizeMb) << 20);
    std::printf("Generated in %.1f s\n",
                std::chrono::duration<double>(Clock::now() - start).count());
  }
  const uint64_t inputBytes = fs::file_size(input);
  std::printf("Input: %s, %s bytes\n", input.c_str(), withThousands(inputBytes).c_str());
  warmPageCache(input);

  WorkFolder work("brook-cluster-bench");
  if (options.keepLogs)
    work.keep();
  const fs::path tinyInput = work.path() / "tiny.txt";
  generateText(tinyInput, kTinyInputBytes);
  const fs::path outputs = work.path() / "out";
  fs::create_directories(outputs);
  const std::string loadBefore = loadAverage();

  try {
    LocalCluster cluster(options.binaries, work.path(), kTaskManagers);
    std::printf("Cluster: JobManager at %s, %d TaskManagers with 1 slot, up in %.0f ms\n",
                cluster.address().c_str(), kTaskManagers, cluster.startSeconds() * 1000);

    // (3) Submission latency, on the fresh cluster: the first submission is the one whose
    // artifact the TaskManagers do not have yet.
    std::vector<Submission> submissions;
    for (int i = 1; i <= options.submissions; ++i) {
      Submission s = submitDetached(options, cluster, i, tinyInput, outputs);
      std::printf(
          "  submit #%-3d brook run -d %6.1f ms   submitted->RUNNING %4.0f ms   "
          "start->RUNNING %6.0f ms   start->deployed %6.0f ms\n",
          i, s.clientMillis, s.submittedToRunningMillis, s.startToRunningMillis,
          s.startToDeployedMillis);
      submissions.push_back(s);
    }
    std::vector<double> attachedMillis;
    for (int i = 1; i <= options.submissions; ++i) {
      std::string what = "attached-" + std::to_string(i);
      ChildProcess cli(
          what, wordCountCommand(options, cluster.address(), false, tinyInput, outputs / what),
          cluster.logs() / (what + ".out"), cluster.logs() / (what + ".log"),
          cluster.environment());
      attachedMillis.push_back(cli.wait(std::chrono::seconds(options.runTimeoutSeconds)) * 1000);
      cli.checkSuccess();
      std::printf("  attached #%-3d brook run (tiny input) %6.1f ms\n", i, attachedMillis.back());
    }

    // (2) Throughput on the large input, alternating which kind of run goes first.
    std::vector<JobRun> clusterRuns;
    std::vector<JobRun> localRuns;
    for (int rep = 1; rep <= options.repetitions; ++rep) {
      for (int k = 0; k < 2; ++k) {
        bool onCluster = (k == 0) == (rep % 2 == 1);
        std::string what =
            std::string(onCluster ? "cluster" : "mini-cluster") + "-" + std::to_string(rep);
        JobRun run = runWordCount(options, cluster, onCluster, what, input, outputs / what);
        std::printf("  %-16s job runtime %6.2f s   brook run wall %6.2f s   CPU %6.2f s\n",
                    what.c_str(), run.runtimeSeconds, run.wallSeconds, run.cpuSeconds);
        (onCluster ? clusterRuns : localRuns).push_back(run);
      }
    }

    // Every output must equal the first mini-cluster run's.
    const std::vector<std::string> expected = sortedOutputLines(localRuns.front().output);
    const int64_t words = totalCount(expected);
    if (expected.empty())
      throw std::runtime_error("the mini-cluster wrote no output");
    for (const auto& runs : {clusterRuns, localRuns}) {
      for (const auto& r : runs) {
        if (sortedOutputLines(r.output) != expected) {
          throw std::runtime_error("the output of " + r.output.filename().string() +
                                   " differs from that of " +
                                   localRuns.front().output.filename().string());
        }
      }
    }
    std::printf("Outputs: all %d runs wrote the same %s lines (%s words).\n",
                2 * options.repetitions, withThousands(expected.size()).c_str(),
                withThousands(static_cast<uint64_t>(words)).c_str());

    RunSummary local = summarize(localRuns);
    RunSummary remote = summarize(clusterRuns);
    const double ratio = local.best.runtimeSeconds / remote.best.runtimeSeconds;
    const double wallRatio =
        std::min_element(
            localRuns.begin(), localRuns.end(),
            [](const JobRun& a, const JobRun& b) { return a.wallSeconds < b.wallSeconds; })
            ->wallSeconds /
        std::min_element(
            clusterRuns.begin(), clusterRuns.end(),
            [](const JobRun& a, const JobRun& b) { return a.wallSeconds < b.wallSeconds; })
            ->wallSeconds;
    const bool met = ratio >= 0.8;
    const double mib = static_cast<double>(inputBytes) / (1 << 20);

    auto throughputRow = [&](const std::string& label, const RunSummary& s) {
      return "| " + label + " | " + formatFixed(s.best.runtimeSeconds, 2) + " | " +
             formatFixed(s.best.wallSeconds, 2) + " | " +
             formatFixed(mib / s.best.runtimeSeconds, 1) + " | " +
             formatFixed(s.best.cpuSeconds, 2) + " | " +
             formatFixed(local.best.runtimeSeconds / s.best.runtimeSeconds, 2) + "x |\n";
    };
    std::vector<double> clientMs, jmMs, runningMs, deployedMs;
    for (const auto& s : submissions) {
      clientMs.push_back(s.clientMillis);
      jmMs.push_back(s.submittedToRunningMillis);
      runningMs.push_back(s.startToRunningMillis);
      deployedMs.push_back(s.startToDeployedMillis);
    }
    auto latencyRow = [](const std::string& label, const std::vector<double>& ms) {
      return "| " + label + " | " + formatFixed(median(ms), 0) + " | " +
             formatFixed(maximum(ms), 0) + " | " + formatFixed(ms.front(), 0) + " |\n";
    };
    std::ostringstream tables;
    tables << "| run | job runtime s | `brook run` wall s | MiB/s | CPU s | vs mini-cluster |\n"
           << "|---|---:|---:|---:|---:|---:|\n"
           << throughputRow("mini-cluster (`brook run --local -p 2`)", local)
           << throughputRow("cluster, 2 TaskManagers x 1 slot (`-p 2`)", remote) << "\n"
           << "| submission of WordCount, tiny input (ms) | median | max | first |\n"
           << "|---|---:|---:|---:|\n"
           << latencyRow("`brook run -d`, start to exit (plan, upload, submit)", clientMs)
           << latencyRow("JobManager log: submitted to RUNNING", jmMs)
           << latencyRow("**`brook run -d` start to RUNNING**", runningMs)
           << latencyRow("`brook run -d` start to last task deployed", deployedMs)
           << latencyRow("attached `brook run`, start to exit (job FINISHED)", attachedMillis);
    std::printf("\n%s", tables.str().c_str());
    std::printf(
        "\nTarget: cluster >= 0.80x the mini-cluster's speed: %s (%.2fx by job runtime, %.2fx "
        "by `brook run` wall time)\n",
        met ? "met" : "NOT met", ratio, wallRatio);
    std::printf("Submission to RUNNING: median %.0f ms, max %.0f ms\n", median(runningMs),
                maximum(runningMs));

    if (!options.markdownPath.empty()) {
      std::ostringstream section;
      section
          << "## Cluster\n\n"
          << "`benchmarks/cluster_benchmark.cc` starts a cluster of real processes on 127.0.0.1\n"
             "(`brook-jobmanager` and two `brook-taskmanager --slots 1`) and runs the `wordcount`\n"
             "example job in BATCH mode at parallelism 2 on it (`brook run -m ADDR -p 2 -D\n"
             "execution.runtime-mode=BATCH`) and on the mini-cluster (`brook run --local ...`),\n"
             "alternating which goes first. *Job runtime* is the \"Job Runtime\" the CLI prints: "
             "job creation\nto its end as the JobManager (cluster) or the mini-cluster measures "
             "it. *`brook run` wall*\nadds starting the CLI, loading and planning the job twice, "
             "and on the cluster uploading the\nlibrary, submitting and the CLI's status polling "
             "(from every 5 ms, backing off to every 100 ms). *CPU* is the CLI's and, for\nthe "
             "cluster, the JobManager's and "
             "TaskManagers' CPU time during the run. Every output (the\nsorted lines of the part "
             "files) equals the first mini-cluster run's.\n\n"
          << "Submission latency: on the fresh cluster, before the throughput runs, WordCount "
             "(BATCH,\nparallelism 2, "
          << kTinyInputBytes / 1024 << " KiB input) is submitted with `brook run -d` "
          << options.submissions
          << " times, one job after the\nother. *Start to RUNNING* runs from the fork of "
             "`brook run -d` (which loads and plans the job\ntwice, uploads the library to the "
             "BlobServer and submits the JobGraph) to the JobManager's\nlog line \"job "
             "'wordcount' switched to RUNNING\" (written once the slots are allocated, before\n"
             "the tasks are deployed); *last task deployed* is the job's last TaskManager log "
             "line \"...\ndeployed to slot\". Log times have millisecond resolution. The first "
             "submission is the one\nwhose library the TaskManagers fetch and load. Then the "
             "attached `brook run` runs the same\njob as often, start to exit; it notices the end "
             "of the job at its next status poll.\n\n"
          << "- Machine: " << onlineCpus() << " CPUs (nproc), " << cpuModel() << "\n"
          << "- Date: " << todayUtc() << "\n"
          << "- Input: " << withThousands(inputBytes) << " bytes (" << formatFixed(mib, 0)
          << " MiB), " << withThousands(static_cast<uint64_t>(words)) << " words, "
          << withThousands(expected.size()) << " distinct\n"
          << "- Load average (1 min) before the runs: " << loadBefore << "\n"
          << "- Repetitions: " << options.repetitions << " of each run (best job runtime), "
          << options.submissions << " submissions\n"
          << "- Slowest job runtime: mini-cluster " << formatFixed(local.slowestRuntimeSeconds, 2)
          << " s, cluster " << formatFixed(remote.slowestRuntimeSeconds, 2) << " s\n\n"
          << tables.str() << "\n"
          << "Targets (from the issue): (2) WordCount at parallelism 2 on a two-TaskManager "
             "cluster >= 80%\nof the mini-cluster's speed: "
          << (met ? "**met**" : "**not met**") << ", " << formatFixed(ratio, 2)
          << "x by job runtime (" << formatFixed(wallRatio, 2)
          << "x by `brook run` wall time).\n(3) Submission to RUNNING: median "
          << formatFixed(median(runningMs), 0) << " ms, max " << formatFixed(maximum(runningMs), 0)
          << " ms.\n\n"
          << "Reproduce: `ninja -C build cluster_benchmark && "
             "build/benchmarks/cluster_benchmark`\n(`--size-mb N`, `--repetitions N`, "
             "`--submissions N`; `--keep-logs` keeps the processes' logs).\n";
      writeMarkdownSection(options.markdownPath, "## Cluster", section.str());
      std::printf("Wrote the Cluster section of %s\n", options.markdownPath.c_str());
    }
  } catch (...) {
    if (!options.keepLogs)
      std::fprintf(stderr, "The logs are removed; --keep-logs keeps them.\n");
    throw;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Recovery after a lost TaskManager.

constexpr int kRecoveryTaskManagers = 3;
constexpr int kRecoveryParallelism = 2;
constexpr int64_t kRecoveryKeys = 1000;
constexpr int64_t kRecoveryRate = 20'000;  // events per second and source subtask
constexpr int64_t kRecoveryEvents = 600'000;
constexpr int kHeartbeatTimeoutMillis = 2000;
constexpr int kHeartbeatIntervalMillis = 500;
constexpr int kRestartDelayMillis = 100;
constexpr auto kRecoveryStepTimeout = std::chrono::seconds(60);
constexpr auto kKillAfterCheckpoint = milliseconds(500);

// One run of the exactly-once check job with a TaskManager killed (or, for the baseline, not).
struct RecoveryRun {
  double detectedSeconds = 0;    // kill -9 -> the JobManager's "TaskManager ... is lost"
  double runningSeconds = 0;     // lost -> the job "switched to RUNNING" again
  double checkpointSeconds = 0;  // lost -> the first checkpoint completed after the restart
  double runtimeSeconds = 0;     // the job's runtime as the CLI prints it
};

// The id of the newest completed checkpoint (one with a _metadata file) in `folder`, or 0.
int64_t latestCompletedCheckpoint(const fs::path& folder) {
  int64_t latest = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("chk-", 0) != 0 || !fs::exists(entry.path() / "_metadata", error))
      continue;
    latest = std::max<int64_t>(latest, std::strtoll(name.c_str() + 4, nullptr, 10));
  }
  return latest;
}

// Polls `condition` every kPollInterval until it holds; throws after kRecoveryStepTimeout.
template <typename Condition>
void pollUntil(LocalCluster& cluster, const std::string& what, Condition condition) {
  auto deadline = Clock::now() + kRecoveryStepTimeout;
  while (!condition()) {
    throwIfInterrupted();
    if (Clock::now() >= deadline) {
      throw std::runtime_error("timed out waiting for " + what +
                               "; the JobManager's log ends:" + tailOf(cluster.jobManagerLog()));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

RecoveryRun runRecovery(const Options& options,
                        LocalCluster& cluster,
                        const std::string& backend,
                        const std::string& what,
                        const fs::path& work,
                        bool killOne,
                        int& nextTaskManager) {
  const fs::path checkpoints = work / (what + "-checkpoints");
  const fs::path output = work / (what + "-out");
  // clang-format off
  std::vector<std::string> argv = {
      options.binaries.cli, "run", "-m", cluster.address(),
      "-p", std::to_string(kRecoveryParallelism),
      "-D", "state.backend.type=" + backend,
      "-D", "execution.checkpointing.interval=1s",
      "-D", "state.checkpoints.dir=file://" + checkpoints.string(),
      "-D", "restart-strategy.type=fixed-delay",
      "-D", "restart-strategy.fixed-delay.attempts=10",
      "-D", "restart-strategy.fixed-delay.delay=" + std::to_string(kRestartDelayMillis) + "ms",
      options.binaries.exactlyOnceCheckJob, "--",
      "--keys=" + std::to_string(kRecoveryKeys), "--events=" + std::to_string(kRecoveryEvents),
      "--rate=" + std::to_string(kRecoveryRate), "--output=" + output.string()};
  // clang-format on
  ChildProcess cli(what, argv, cluster.logs() / (what + ".out"), cluster.logs() / (what + ".log"),
                   cluster.environment());
  RecoveryRun run;
  if (killOne) {
    std::string jobId;
    pollUntil(cluster, "the job id of " + what, [&] {
      jobId = jobIdIn(readFile(cli.stderrPath())).value_or("");
      return !jobId.empty();
    });
    const std::string tag = "[" + jobId + "] ";
    const fs::path jobCheckpoints = checkpoints / jobId;
    // The job has run a while: two checkpoints completed.
    pollUntil(cluster, "two checkpoints of " + what,
              [&] { return latestCompletedCheckpoint(jobCheckpoints) >= 2; });
    // A TaskManager that runs a task of the job.
    std::string victim;
    for (const std::string& id : cluster.taskManagerIds()) {
      if (!logLinesWith(cluster.logs() / (id + ".log"), {tag, " deployed to slot "}).empty()) {
        victim = id;
        break;
      }
    }
    if (victim.empty())
      throw std::runtime_error("no running TaskManager runs a task of " + what);
    // Half a checkpoint interval later: the restore then replays half an interval of input.
    const int64_t checkpointBefore = latestCompletedCheckpoint(jobCheckpoints);
    std::this_thread::sleep_for(kKillAfterCheckpoint);
    const int64_t killedAt = epochMillis();
    cluster.killTaskManager(victim);
    // Its replacement, as a container platform would start one.
    const std::string replacement = "tm-" + std::to_string(nextTaskManager++);
    cluster.launchTaskManager(replacement);
    int64_t lostAt = 0;
    pollUntil(cluster, "the loss of " + victim, [&] {
      std::vector<std::string> lines =
          logLinesWith(cluster.jobManagerLog(), {"TaskManager " + victim + " is lost"});
      std::optional<int64_t> t = lines.empty() ? std::nullopt : logLineMillis(lines.front());
      lostAt = t.value_or(0);
      return t.has_value();
    });
    int64_t runningAt = 0;
    pollUntil(cluster, what + " to run again", [&] {
      for (const std::string& line :
           logLinesWith(cluster.jobManagerLog(), {tag, "switched to RUNNING"})) {
        std::optional<int64_t> t = logLineMillis(line);
        if (t && *t >= lostAt) {
          runningAt = *t;
          return true;
        }
      }
      return false;
    });
    pollUntil(cluster, "a checkpoint of " + what + " after the restart",
              [&] { return latestCompletedCheckpoint(jobCheckpoints) > checkpointBefore; });
    const int64_t checkpointAt = epochMillis();
    run.detectedSeconds = static_cast<double>(lostAt - killedAt) / 1000.0;
    run.runningSeconds = static_cast<double>(runningAt - lostAt) / 1000.0;
    run.checkpointSeconds = static_cast<double>(checkpointAt - lostAt) / 1000.0;
    pollUntil(cluster, replacement + " to register",
              [&] { return cluster.registered(replacement); });
  }
  cli.wait(std::chrono::seconds(options.runTimeoutSeconds));
  cli.checkSuccess();
  run.runtimeSeconds = printedJobRuntimeSeconds(cli);
  // The job's own audit: every record exactly once.
  const std::vector<std::string> verdict = sortedOutputLines(output);
  const std::string ok = "exactly-once check: OK: " + std::to_string(kRecoveryKeys) + " keys, " +
                         std::to_string(kRecoveryEvents) + " records, 0 gaps";
  if (verdict.size() != 1 || verdict.front().rfind(ok, 0) != 0) {
    throw std::runtime_error(what + " did not pass its exactly-once check: " +
                             (verdict.empty() ? std::string("(no output)") : verdict.front()));
  }
  return run;
}

int runRecoveryBenchmark(const Options& options) {
  for (const std::string& binary : {options.binaries.jobManager, options.binaries.taskManager,
                                    options.binaries.cli, options.binaries.exactlyOnceCheckJob}) {
    if (binary.empty() || !fs::exists(binary))
      throw std::runtime_error("missing '" + binary + "': build the cluster and the examples");
  }
  installSignalHandlers();
  WorkFolder work("brook-recovery-bench");
  if (options.keepLogs)
    work.keep();
  const std::string loadBefore = loadAverage();
  std::ostringstream tables;
  tables << "| backend | run | loss detected after kill -9 | RUNNING again after detection "
            "| first checkpoint after detection | job runtime | delay vs. no kill |\n"
            "|---|---|---:|---:|---:|---:|---:|\n";
  std::vector<double> allRunning;
  for (const std::string& backend : {std::string("heap"), std::string("rocksdb")}) {
    const fs::path folder = work.path() / backend;
    LocalCluster cluster(options.binaries, folder, kRecoveryTaskManagers,
                         {"-D", "heartbeat.interval=" + std::to_string(kHeartbeatIntervalMillis),
                          "-D", "heartbeat.timeout=" + std::to_string(kHeartbeatTimeoutMillis)});
    int nextTaskManager = kRecoveryTaskManagers + 1;
    RecoveryRun baseline =
        runRecovery(options, cluster, backend, "baseline", folder, false, nextTaskManager);
    std::printf("%s: baseline runtime %.2f s\n", backend.c_str(), baseline.runtimeSeconds);
    tables << "| " << backend << " | no kill | | | | " << formatFixed(baseline.runtimeSeconds, 2)
           << " s | |\n";
    for (int r = 1; r <= options.recoveryRepetitions; ++r) {
      const std::string what = "kill-" + std::to_string(r);
      RecoveryRun run = runRecovery(options, cluster, backend, what, folder, true, nextTaskManager);
      const double delay = run.runtimeSeconds - baseline.runtimeSeconds;
      std::printf(
          "%s %s: lost after %.2f s, RUNNING %.2f s later, checkpoint %.2f s after the loss, "
          "runtime %.2f s (+%.2f s)\n",
          backend.c_str(), what.c_str(), run.detectedSeconds, run.runningSeconds,
          run.checkpointSeconds, run.runtimeSeconds, delay);
      allRunning.push_back(run.runningSeconds);
      tables << "| " << backend << " | kill " << r << " | " << formatFixed(run.detectedSeconds, 2)
             << " s | " << formatFixed(run.runningSeconds, 2) << " s | "
             << formatFixed(run.checkpointSeconds, 2) << " s | "
             << formatFixed(run.runtimeSeconds, 2) << " s | +" << formatFixed(delay, 2) << " s |\n";
    }
  }
  const double worst = maximum(allRunning);
  const bool met = worst < 3.0;
  std::printf("RUNNING again after the loss was detected: max %.2f s (target < 3 s: %s)\n", worst,
              met ? "met" : "NOT met");
  if (!options.markdownPath.empty()) {
    std::ostringstream section;
    section
        << "## Recovery after a lost TaskManager\n\n"
        << "`benchmarks/cluster_benchmark.cc --recovery` starts a JobManager (`heartbeat.timeout` "
        << kHeartbeatTimeoutMillis << " ms,\n`heartbeat.interval` " << kHeartbeatIntervalMillis
        << " ms) and " << kRecoveryTaskManagers
        << " TaskManagers with one slot each, real processes on 127.0.0.1, and runs\nthe "
           "`exactly_once_check` example job on it at parallelism "
        << kRecoveryParallelism << " (" << withThousands(kRecoveryEvents) << " records over "
        << kRecoveryKeys << " keys,\n"
        << withThousands(kRecoveryRate)
        << " records per second and source subtask, 1 s checkpoints, fixed-delay restarts after "
        << kRestartDelayMillis << " ms).\nOnce two checkpoints completed, and "
        << kKillAfterCheckpoint.count()
        << " ms after the second, it kills a TaskManager that runs a task of the\njob with `kill "
           "-9` and starts a new one in its place (as a container platform would). *Loss\n"
           "detected* is the JobManager's log line \"TaskManager ... is lost\": on one host the "
           "killed\nprocess's connections are refused at once, so the loss shows well before "
           "the heartbeat\ntimeout, which bounds it when a host vanishes silently. *RUNNING "
           "again* is the next \"job ...\nswitched to RUNNING\" (after the restart delay, slots "
           "allocated again, the tasks being\ndeployed and restored from the latest checkpoint); "
           "*first checkpoint* the first checkpoint\ncompleted after the restart, seen on disk "
           "(every task runs and its barriers flow: the job is\nprocessing again); *delay* the "
           "job's runtime beyond the same job's without a kill on the same\ncluster: the "
           "downtime and the replay of the input that followed the restored checkpoint (the\n"
           "rate-limited source replays it at its rate). Every run's own audit reports every "
           "record\nexactly once.\n\n"
        << "- Machine: " << onlineCpus() << " CPUs (nproc), " << cpuModel() << "\n"
        << "- Date: " << todayUtc() << "\n"
        << "- Load average (1 min) before the runs: " << loadBefore << "\n\n"
        << tables.str() << "\n"
        << "Target (from the issue): running again < 3 s after the loss is detected, with a "
           "heartbeat\ntimeout of 2 s: "
        << (met ? "**met**" : "**not met**") << " (slowest " << formatFixed(worst, 2) << " s).\n\n"
        << "Reproduce: `ninja -C build cluster_benchmark && build/benchmarks/cluster_benchmark "
           "--recovery`\n(`--recovery-repetitions N`; `--keep-logs` keeps the processes' "
           "logs).\n";
    writeMarkdownSection(options.markdownPath, "## Recovery after a lost TaskManager",
                         section.str());
    std::printf("Wrote the Recovery section of %s\n", options.markdownPath.c_str());
  }
  return 0;
}

}  // namespace

}  // namespace brook::benchmarks

int main(int argc, char** argv) {
  brook::benchmarks::Options options;
  CLI::App app{
      "Cluster benchmark: WordCount on a JobManager and two TaskManagers against the "
      "mini-cluster, and job submission latency; with --recovery, the recovery of a "
      "checkpointed job after kill -9 of a TaskManager."};
  app.add_option("--size-mb", options.sizeMb, "Size of the generated input in MiB")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--data-dir", options.dataDir, "Folder of the generated input (kept)")
      ->capture_default_str();
  app.add_option("--repetitions", options.repetitions,
                 "Runs of each kind on the large input; the best one counts")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--submissions", options.submissions,
                 "Submissions of the job on a tiny input for the latency")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--run-timeout", options.runTimeoutSeconds, "Seconds a `brook run` may take")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_flag("--keep-logs", options.keepLogs,
               "Keep the work folder with the processes' logs and the outputs");
  app.add_option("--markdown", options.markdownPath,
                 "Markdown file whose Cluster section is written; empty: none")
      ->capture_default_str();
  app.add_option("--jobmanager-binary", options.binaries.jobManager)->capture_default_str();
  app.add_option("--taskmanager-binary", options.binaries.taskManager)->capture_default_str();
  app.add_option("--brook-binary", options.binaries.cli)->capture_default_str();
  app.add_option("--job", options.binaries.job, "The wordcount job library")->capture_default_str();
  app.add_flag("--recovery", options.recovery,
               "Measure instead the recovery of a checkpointed job after kill -9 of a "
               "TaskManager (writes the Recovery section)");
  app.add_option("--recovery-repetitions", options.recoveryRepetitions,
                 "TaskManagers killed per state backend, one per job run")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--exactly-once-check-job", options.binaries.exactlyOnceCheckJob,
                 "The exactly_once_check job library (--recovery)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    if (options.recovery)
      return brook::benchmarks::runRecoveryBenchmark(options);
    return brook::benchmarks::runBenchmark(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
