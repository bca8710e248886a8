// Nexmark benchmark: the queries of the nexmark example job on the embedded mini-cluster
// against hand-written single-threaded baselines of the same queries (nexmark_baseline.h), and
// beside Flink 1.13's published throughput per core.
//
//   nexmark_benchmark [--queries q0,q5,...] [--events N] [--tps R] [--parallelism 1,2]
//                     [--backends heap,rocksdb] [--timeout S] [--verify] [--quick]
//                     [--job PATH] [--brook PATH] [--markdown PATH] [--keep]
//
// For each query (all by default) every run is a process of its own, measured by wait4():
//
//   generator  this program again, generating the N events and dropping them (once, for all
//              queries): the share of every run that is the generator's;
//   baseline   this program again, generating the N events in order and computing the query's
//              result in a plain single-threaded loop (rows counted and hashed, not formatted);
//   engine     `brook run --local -p P -D state.backend.type=B
//               -D execution.checkpointing.interval=10s -D state.checkpoints.dir=file://TMP
//               nexmark.so -- --query q --events.num N`, results to the job's blackhole sink,
//              at every parallelism P and backend B.
//
// Wall time is from the fork to the reaping of the process (for the engine: the CLI's start,
// loading the job, planning, the mini-cluster and the job; the job's own "Job Runtime" is shown
// beside it); CPU time is user + system time from rusage; peak RSS is ru_maxrss. events/s is
// N / wall, events/s per core is N / CPU seconds. A run that exceeds --timeout is killed (its
// process group) and reported as such; the other runs go on.
//
// --verify runs each deterministic query once more per state backend (parallelism 2) with
// --output and compares its final rows with the baseline's (for q4, the last line per category; the
// others write final rows only), sorted. --quick is a smoke test: 200,000 events at tps 10,000 (20
// s of event time, so that windows close), heap only, --verify, and BENCHMARKS.md left alone unless
// --markdown is given.
//
// The results are printed and written to the "## Nexmark" section of BENCHMARKS.md.

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "benchmark_report.h"
#include "benchmark_support.h"
#include "nexmark_baseline.h"

namespace brook::benchmarks {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int64_t kDefaultEvents = 10'000'000;
constexpr int64_t kQuickEvents = 200'000;
constexpr int64_t kQuickTps = 10'000;
// How long a stopped process may take to exit after SIGTERM before SIGKILL.
constexpr auto kStopGrace = std::chrono::seconds(5);
constexpr auto kPollStep = std::chrono::milliseconds(100);

// Flink 1.13's throughput per core in the nexmark/nexmark suite's published results
// (events/s per core), and the target this engine is held to: a multiple of it.
struct Reference {
  const char* query;
  double flinkPerCore;
  double targetMultiple;
};
constexpr Reference kReferences[] = {
    {"q0", 155'000, 10}, {"q1", 158'000, 10}, {"q2", 175'000, 10}, {"q3", 152'000, 10},
    {"q4", 34'000, 5},   {"q5", 22'000, 5},   {"q7", 12'300, 5},   {"q8", 146'000, 10},
    {"q11", 39'700, 5},  {"q12", 75'700, 5},
};

const Reference* referenceOf(const std::string& query) {
  for (const Reference& r : kReferences) {
    if (query == r.query)
      return &r;
  }
  return nullptr;
}

// An event rate for the tables: "1.25 M", "155 K", "12.3 K".
std::string formatEvents(double perSecond) {
  if (perSecond >= 1e6)
    return formatFixed(perSecond / 1e6, 2) + " M";
  if (perSecond >= 1e5)
    return formatFixed(perSecond / 1e3, 0) + " K";
  return formatFixed(perSecond / 1e3, 1) + " K";
}

// SIGINT and SIGTERM received: the runs stop and the temporary folder is removed.
std::atomic<int> gInterrupts{0};

void onSignal(int) {
  gInterrupts.fetch_add(1);
}

void installSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The last lines of a file (up to about 2 KB), indented, for error messages.
std::string tailOf(const fs::path& path) {
  std::string text = readFile(path);
  if (text.size() > 2048)
    text = text.substr(text.size() - 2048);
  std::string out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    out += "\n    " + line;
  return out.empty() ? " (empty)" : out;
}

// Splits "a,b,c" into its non-empty parts.
std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (!part.empty())
      parts.push_back(part);
  }
  return parts;
}

// The output of a command (its first line), or "unknown".
std::string commandLine(const std::string& command) {
  std::string out;
  if (std::FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[256];
    if (std::fgets(buffer, sizeof(buffer), pipe) != nullptr)
      out = buffer;
    ::pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
    out.pop_back();
  return out.empty() ? "unknown" : out;
}

// ---------------------------------------------------------------------------------------------
// Processes.

// How a measured process ended.
struct ProcessResult {
  bool timedOut = false;
  int status = 0;
  double wallSeconds = 0;
  double cpuSeconds = 0;
  double peakRssMb = 0;

  bool succeeded() const { return !timedOut && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  std::string failure() const {
    return timedOut ? "timed out" : "failed (" + exitStatusText(status) + ")";
  }
};

// Runs `argv` in a process group of its own (killed by the kernel if this program dies), with
// stdout and stderr in files, and waits for it up to `timeout`; a process still running then,
// or when this program is interrupted, is stopped (SIGTERM to its group, SIGKILL after
// kStopGrace) and reaped. Throws if it cannot be started, or after stopping it on an interrupt.
ProcessResult runProcess(const std::vector<std::string>& argv,
                         const fs::path& stdoutPath,
                         const fs::path& stderrPath,
                         std::chrono::seconds timeout) {
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  std::fflush(stdout);
  std::fflush(stderr);
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0)
    throwErrno("fork");
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);
    int out = ::open(stdoutPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err = ::open(stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0)
      ::_exit(127);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  // The child's own setpgid may not have run yet; setting it here too closes the race.
  ::setpgid(pid, pid);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int error = errno;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    errno = error;
    throwErrno("pidfd_open");
  }
  // Waits up to `limit` for the process to exit.
  auto exited = [pidfd](std::chrono::milliseconds limit) {
    struct pollfd fd {
      pidfd, POLLIN, 0
    };
    return ::poll(&fd, 1, static_cast<int>(limit.count())) > 0;
  };
  ProcessResult result;
  const auto deadline = start + timeout;
  bool interrupted = false;
  while (!exited(kPollStep)) {
    interrupted = gInterrupts.load() > 0;
    if (interrupted || Clock::now() >= deadline) {
      result.timedOut = !interrupted;
      ::kill(-pid, SIGTERM);
      ::kill(pid, SIGTERM);
      if (!exited(std::chrono::duration_cast<std::chrono::milliseconds>(kStopGrace))) {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
      }
      break;
    }
  }
  struct rusage usage {};
  while (::wait4(pid, &result.status, 0, &usage) < 0) {
    if (errno != EINTR) {
      int error = errno;
      ::close(pidfd);
      errno = error;
      throwErrno("wait4");
    }
  }
  ::close(pidfd);
  // Anything the process left in its group (it starts no other processes, but be sure).
  ::kill(-pid, SIGKILL);
  result.wallSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.cpuSeconds = cpuSecondsOf(usage);
  result.peakRssMb = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB.
  if (interrupted)
    throw std::runtime_error("interrupted");
  return result;
}

// ---------------------------------------------------------------------------------------------
// The runs.

struct Options {
  std::string queries = "q0,q1,q2,q3,q4,q5,q7,q8,q11,q12";
  int64_t events = kDefaultEvents;
  int64_t tps = 0;  // 0: the generator's default
  std::string parallelism = "1,2";
  std::string backends = "heap,rocksdb";
  // Queries whose end-to-end latency is measured at half their measured maximum rate, and for
  // how many seconds of events.
  std::string latencyQueries = "q0,q5";
  int64_t latencySeconds = 20;
  int timeoutSeconds = 0;  // 0: 120 s + 1 s per 5,000 events
  bool verify = false;
  bool quick = false;
  bool keep = false;
  std::string jobPath = BROOK_NEXMARK_JOB;
  std::string brookPath = BROOK_CLI_BINARY;
  std::string markdownPath = BROOK_BENCHMARKS_MARKDOWN;
  bool markdownGiven = false;
  bool backendsGiven = false;
  // The hidden child mode: "baseline", "generator" or "verify".
  std::string child;
  std::string query;
  std::string rowsDirectory;
};

nexmark::GeneratorConfig generatorConfig(const Options& options) {
  nexmark::GeneratorConfig config;
  config.eventsNum = options.events;
  if (options.tps > 0)
    config.tps = options.tps;
  return config;
}

// The final rows in the part files of `directory`: every line, except for q4, whose lines
// update per category (first column): the last line of each category in its subtask's part
// files, read in the order they were written.
std::vector<std::string> finalRows(const std::string& query, const fs::path& directory) {
  // (subtask, counter, path) of the committed part files "part-<subtask>-<counter>".
  std::vector<std::tuple<long, long, fs::path>> parts;
  for (const auto& entry : fs::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    long subtask = 0;
    long counter = 0;
    if (entry.is_regular_file() &&
        std::sscanf(name.c_str(), "part-%ld-%ld", &subtask, &counter) == 2) {
      parts.emplace_back(subtask, counter, entry.path());
    }
  }
  std::sort(parts.begin(), parts.end());
  std::vector<std::string> rows;
  std::map<std::string, std::string> lastByKey;
  for (const auto& [subtask, counter, path] : parts) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (query == "q4") {
        lastByKey[line.substr(0, line.find(','))] = line;
      } else {
        rows.push_back(line);
      }
    }
  }
  for (auto& [key, line] : lastByKey)
    rows.push_back(std::move(line));
  return rows;
}

// Compares the final rows the engine wrote to `directory` with the baseline's for `query`;
// returns "matches (N rows)" or what differs. Holds all the events in memory: meant for small
// inputs, and run in a child process so that this program's own memory stays small (a forked
// child's peak RSS starts from its parent's).
std::string verifyRows(const std::string& query,
                       const nexmark::GeneratorConfig& config,
                       const fs::path& directory) {
  std::vector<std::string> actual = finalRows(query, directory);
  std::vector<std::string> expected;
  {
    std::vector<nexmark::Event> events(static_cast<size_t>(config.eventsNum));
    for (int64_t n = 0; n < config.eventsNum; ++n)
      nexmark::generateEvent(config, n, events[static_cast<size_t>(n)]);
    expected = baselineRows(query, events);
  }
  std::sort(actual.begin(), actual.end());
  std::sort(expected.begin(), expected.end());
  if (actual == expected)
    return "matches (" + withThousands(expected.size()) + " rows)";
  std::vector<std::string> missing;
  std::vector<std::string> unexpected;
  std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(),
                      std::back_inserter(missing));
  std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(),
                      std::back_inserter(unexpected));
  std::string message = "DIFFERS: " + withThousands(actual.size()) + " rows, the baseline " +
                        withThousands(expected.size()) + "; " + withThousands(missing.size()) +
                        " missing, " + withThousands(unexpected.size()) + " unexpected";
  for (size_t i = 0; i < missing.size() && i < 3; ++i)
    message += "; missing: " + missing[i];
  for (size_t i = 0; i < unexpected.size() && i < 3; ++i)
    message += "; unexpected: " + unexpected[i];
  return message;
}

// The child mode: runs the baseline (or the generator alone) and prints
// "RESULT <wall s> <events> <rows> <checksum>", or compares rows and prints "VERIFY <outcome>".
int runChildMode(const Options& options) {
  const nexmark::GeneratorConfig config = generatorConfig(options);
  if (options.child == "verify") {
    std::printf("VERIFY %s\n", verifyRows(options.query, config, options.rowsDirectory).c_str());
    return 0;
  }
  const auto start = Clock::now();
  BaselineResult result;
  if (options.child == "generator") {
    result = runGeneratorOnly(config);
  } else if (options.child == "baseline") {
    result = runBaseline(options.query, config);
  } else {
    throw std::runtime_error("unknown child mode '" + options.child + "'");
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("RESULT %.9f %lld %lld %llu\n", wall, static_cast<long long>(result.events),
              static_cast<long long>(result.rows),
              static_cast<unsigned long long>(result.checksum));
  return 0;
}

struct Run {
  std::string label;    // "baseline", "p1 heap", ...
  int parallelism = 0;  // 0: the baseline
  std::string backend;
  ProcessResult process;
  std::optional<double> jobRuntimeSeconds;  // the engine's "Job Runtime"
  int64_t rows = -1;                        // the baseline's
  uint64_t checksum = 0;
  std::string error;  // empty: succeeded

  bool ok() const { return error.empty(); }
};

struct QueryResult {
  std::string query;
  std::vector<Run> runs;     // the baseline first
  std::string verification;  // "" when not verified
  std::string latency;       // "" when not measured
};

class Benchmark {
 public:
  Benchmark(const Options& options, const fs::path& work)
      : options_(options),
        work_(work),
        self_(fs::read_symlink("/proc/self/exe").string()),
        timeout_(options.timeoutSeconds > 0 ? options.timeoutSeconds
                                            : 120 + options.events / 5'000) {}

  std::chrono::seconds timeout() const { return timeout_; }

  // The generator alone: its events/s, or a failed run.
  Run runGenerator() {
    Run run;
    run.label = "generator alone";
    runSelf(run, "generator", {"--child", "generator"});
    return run;
  }

  QueryResult runQuery(const std::string& query) {
    QueryResult result;
    result.query = query;
    Run baseline;
    baseline.label = "baseline (1 thread)";
    runSelf(baseline, "baseline-" + query, {"--child", "baseline", "--query", query});
    report(query, baseline);
    result.runs.push_back(baseline);
    for (const std::string& backend : splitList(options_.backends)) {
      for (const std::string& p : splitList(options_.parallelism)) {
        Run run;
        run.parallelism = std::stoi(p);
        run.backend = backend;
        run.label = "p" + p + " " + backend;
        runEngine(run, query, std::nullopt);
        report(query, run);
        result.runs.push_back(run);
      }
    }
    if (options_.verify && baselineIsDeterministic(query))
      result.verification = verify(query);
    const std::vector<std::string> latencyQueries = splitList(options_.latencyQueries);
    if (std::find(latencyQueries.begin(), latencyQueries.end(), query) != latencyQueries.end()) {
      result.latency = measureLatency(query, result);
      std::printf("  %-4s latency: %s\n", query.c_str(), result.latency.c_str());
    }
    return result;
  }

 private:
  std::vector<std::string> configArgs() const {
    std::vector<std::string> args = {"--events", std::to_string(options_.events)};
    if (options_.tps > 0)
      args.insert(args.end(), {"--tps", std::to_string(options_.tps)});
    return args;
  }

  // Runs this program in a child mode and reads its RESULT line.
  void runSelf(Run& run, const std::string& name, std::vector<std::string> args) {
    std::vector<std::string> argv = {self_};
    argv.insert(argv.end(), args.begin(), args.end());
    for (auto& a : configArgs())
      argv.push_back(a);
    const fs::path out = work_ / (name + ".out");
    const fs::path err = work_ / (name + ".err");
    run.process = runProcess(argv, out, err, timeout_);
    if (!run.process.succeeded()) {
      run.error = run.process.failure() + "; its stderr ends:" + tailOf(err);
      return;
    }
    double wall = 0;
    long long events = 0;
    long long rows = 0;
    unsigned long long checksum = 0;
    if (std::sscanf(readFile(out).c_str(), "RESULT %lf %lld %lld %llu", &wall, &events, &rows,
                    &checksum) != 4) {
      run.error = "reported no result";
      return;
    }
    run.rows = rows;
    run.checksum = checksum;
  }

  // Runs the nexmark job with `brook run --local`, into the blackhole sink or, with `output`,
  // into part files there.
  void runEngine(Run& run,
                 const std::string& query,
                 const std::optional<fs::path>& output,
                 const std::vector<std::string>& jobArgs = {}) {
    const std::string name =
        query + "-p" + std::to_string(run.parallelism) + "-" + run.backend + (output ? "-out" : "");
    const fs::path checkpoints = work_ / (name + "-checkpoints");
    fs::create_directories(checkpoints);
    std::vector<std::string> argv = {options_.brookPath,
                                     "--log-level",
                                     "warn",
                                     "run",
                                     "--local",
                                     "-p",
                                     std::to_string(run.parallelism),
                                     "-D",
                                     "state.backend.type=" + run.backend,
                                     "-D",
                                     "execution.checkpointing.interval=10s",
                                     "-D",
                                     "state.checkpoints.dir=file://" + checkpoints.string(),
                                     options_.jobPath,
                                     "--",
                                     "--query",
                                     query,
};
    if (!jobArgs.empty()) {
      argv.insert(argv.end(), jobArgs.begin(), jobArgs.end());
    } else {
      argv.insert(argv.end(), {"--events.num", std::to_string(options_.events)});
      if (options_.tps > 0)
        argv.insert(argv.end(), {"--tps", std::to_string(options_.tps)});
    }
    if (output)
      argv.insert(argv.end(), {"--output", output->string()});
    const fs::path out = work_ / (name + ".out");
    const fs::path err = work_ / (name + ".err");
    run.process = runProcess(argv, out, err, timeout_);
    // The checkpoints are not looked at; they would fill the disk over many runs.
    std::error_code ignored;
    fs::remove_all(checkpoints, ignored);
    if (!run.process.succeeded()) {
      run.error = run.process.failure() + "; its stderr ends:" + tailOf(err);
      return;
    }
    const std::string text = readFile(err);
    if (size_t at = text.rfind("Job Runtime: "); at != std::string::npos)
      run.jobRuntimeSeconds = std::strtod(text.c_str() + at + 13, nullptr) / 1000.0;
  }

  void report(const std::string& query, const Run& run) const {
    if (!run.ok()) {
      std::printf("  %-4s %-20s %s\n", query.c_str(), run.label.c_str(), run.error.c_str());
      return;
    }
    const double n = static_cast<double>(options_.events);
    std::printf("  %-4s %-20s %8.2f s wall  %8.2f s CPU  %10s ev/s  %10s ev/s/core  %6.0f MB",
                query.c_str(), run.label.c_str(), run.process.wallSeconds, run.process.cpuSeconds,
                formatEvents(n / run.process.wallSeconds).c_str(),
                formatEvents(n / run.process.cpuSeconds).c_str(), run.process.peakRssMb);
    if (run.rows >= 0)
      std::printf("  %s rows", withThousands(static_cast<uint64_t>(run.rows)).c_str());
    std::printf("\n");
  }

  // Runs `query` at parallelism 2 on the heap with --output and compares its final rows with
  // the baseline's in a child process; returns "matches (N rows)" or what differs.
  // Verifies the query's rows on each backend of the runs: "matches (N rows)" for one backend,
  // else "heap: ...; rocksdb: ...".
  std::string verify(const std::string& query) {
    const std::vector<std::string> backends = splitList(options_.backends);
    if (backends.size() == 1)
      return verify(query, backends.front());
    std::string text;
    for (const std::string& backend : backends)
      text += (text.empty() ? "" : "; ") + backend + ": " + verify(query, backend);
    return text;
  }

  std::string verify(const std::string& query, const std::string& backend) {
    Run run;
    run.parallelism = 2;
    run.backend = backend;
    const fs::path output = work_ / (query + "-" + backend + "-rows");
    runEngine(run, query, output);
    if (!run.ok())
      return "the run with --output " + run.error;
    std::vector<std::string> argv = {self_, "--child", "verify",       "--query",
                                     query, "--rows",  output.string()};
    for (auto& a : configArgs())
      argv.push_back(a);
    const fs::path out = work_ / ("verify-" + query + "-" + backend + ".out");
    const fs::path err = work_ / ("verify-" + query + "-" + backend + ".err");
    ProcessResult process = runProcess(argv, out, err, timeout_);
    std::error_code ignored;
    fs::remove_all(output, ignored);
    if (!process.succeeded())
      return "the comparison " + process.failure() + "; its stderr ends:" + tailOf(err);
    std::string text = readFile(out);
    while (!text.empty() && text.back() == '\n')
      text.pop_back();
    return text.rfind("VERIFY ", 0) == 0 ? text.substr(7) : "the comparison reported nothing";
  }

  // Runs `query` at parallelism 1 on the heap at half the events/s of its run there,
  // with event time on the wall clock (--rate-limited --base-time now) into the job's latency
  // sink, and returns the p50 and p99 of how long after their event time rows came out.
  std::string measureLatency(const std::string& query, const QueryResult& result) {
    // The latency run's setting (parallelism 1, heap) sets its maximum.
    double fastest = 0;
    for (const Run& run : result.runs) {
      if (run.parallelism == 1 && run.backend == "heap" && run.ok()) {
        const double seconds = run.jobRuntimeSeconds.value_or(run.process.wallSeconds);
        fastest = std::max(fastest, static_cast<double>(options_.events) / seconds);
      }
    }
    if (fastest <= 0)
      return "not measured: no run at parallelism 1 on the heap succeeded";
    const auto rate = std::max<int64_t>(1, static_cast<int64_t>(fastest / 2));
    const int64_t events = rate * options_.latencySeconds;
    Run run;
    run.parallelism = 1;
    run.backend = "heap";
    const fs::path histograms = work_ / (query + "-latency");
    fs::create_directories(histograms);
    runEngine(run, query, std::nullopt,
              {"--events.num", std::to_string(events), "--tps", std::to_string(rate),
               "--rate-limited", "--base-time", "now", "--latency-output", histograms.string()});
    if (!run.ok())
      return "the rate-limited run " + run.error;
    std::map<int64_t, int64_t> histogram;
    int64_t rows = 0;
    for (const auto& entry : fs::directory_iterator(histograms)) {
      std::istringstream in(readFile(entry.path()));
      int64_t millis = 0;
      int64_t count = 0;
      while (in >> millis >> count) {
        histogram[millis] += count;
        rows += count;
      }
    }
    std::error_code ignored;
    fs::remove_all(histograms, ignored);
    if (rows == 0)
      return "not measured: the rate-limited run wrote no rows";
    auto percentile = [&](double fraction) {
      const auto rank = static_cast<int64_t>(fraction * static_cast<double>(rows - 1));
      int64_t seen = 0;
      for (const auto& [millis, count] : histogram) {
        seen += count;
        if (seen > rank)
          return millis;
      }
      return histogram.rbegin()->first;
    };
    return "p50 " + std::to_string(percentile(0.50)) + " ms, p99 " +
           std::to_string(percentile(0.99)) + " ms at " + formatEvents(static_cast<double>(rate)) +
           " events/s (p1 heap, " + withThousands(static_cast<uint64_t>(events)) + " events, " +
           withThousands(static_cast<uint64_t>(rows)) + " rows)";
  }

  const Options& options_;
  fs::path work_;
  std::string self_;
  std::chrono::seconds timeout_;
};

// ---------------------------------------------------------------------------------------------
// The report.

std::string perSecond(double events, double seconds) {
  return seconds > 0 ? formatEvents(events / seconds) : "-";
}

std::string ratio(double value) {
  return formatFixed(value, 2) + "x";
}

// The successful engine run of `q` at `parallelism` on `backend`, if any.
const Run* engineRun(const QueryResult& q, int parallelism, const std::string& backend) {
  for (const Run& run : q.runs) {
    if (run.parallelism == parallelism && run.backend == backend && run.ok())
      return &run;
  }
  return nullptr;
}

std::string queryTable(const QueryResult& q, double events) {
  const Run& baseline = q.runs.front();
  const double baselineRate = baseline.ok() ? events / baseline.process.wallSeconds : 0;
  const double baselinePerCore = baseline.ok() ? events / baseline.process.cpuSeconds : 0;
  std::ostringstream out;
  out << "| run | wall s | job s | CPU s | events/s | events/s per core | peak RSS MB | "
         "vs baseline (events/s) | vs baseline (per core) |\n"
      << "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const Run& run : q.runs) {
    out << "| " << run.label << " | ";
    if (!run.ok()) {
      out << run.process.failure() << " after " << formatFixed(run.process.wallSeconds, 1)
          << " s | | | | | | | | |\n";
      continue;
    }
    const double rate = events / run.process.wallSeconds;
    const double perCore = events / run.process.cpuSeconds;
    out << formatFixed(run.process.wallSeconds, 2) << " | "
        << (run.jobRuntimeSeconds ? formatFixed(*run.jobRuntimeSeconds, 2) : "-") << " | "
        << formatFixed(run.process.cpuSeconds, 2) << " | " << formatEvents(rate) << " | "
        << formatEvents(perCore) << " | " << formatFixed(run.process.peakRssMb, 0) << " | ";
    if (run.parallelism == 0 || baselineRate == 0) {
      out << "- | - |\n";
    } else {
      out << ratio(rate / baselineRate) << " | " << ratio(perCore / baselinePerCore) << " |\n";
    }
  }
  return out.str();
}

// One line per query: the baseline, and per backend the engine's events/s per core at
// parallelism 1 against the baseline's per core and against Flink's, and its events/s at
// parallelism 2 against the baseline's. Backends that did not run are left out.
std::string summaryTable(const std::vector<QueryResult>& results,
                         const std::vector<std::string>& backends,
                         double events) {
  std::ostringstream out;
  out << "| query | baseline events/s (per core) | Flink 1.13 per core | target |";
  for (const std::string& b : backends) {
    out << " " << b << " p1 per core | vs baseline | vs Flink | met | " << b
        << " p2 events/s vs baseline |";
  }
  out << "\n|---|---:|---:|---:|";
  for (size_t i = 0; i < backends.size(); ++i)
    out << "---:|---:|---:|---|---:|";
  out << "\n";
  for (const QueryResult& q : results) {
    const Run& baseline = q.runs.front();
    const double baselineRate = baseline.ok() ? events / baseline.process.wallSeconds : 0;
    const double baselinePerCore = baseline.ok() ? events / baseline.process.cpuSeconds : 0;
    const Reference* reference = referenceOf(q.query);
    out << "| " << q.query << " | "
        << (baseline.ok() ? formatEvents(baselineRate) + " (" + formatEvents(baselinePerCore) + ")"
                          : "failed")
        << " | " << (reference != nullptr ? formatEvents(reference->flinkPerCore) : "-") << " | "
        << (reference != nullptr ? formatFixed(reference->targetMultiple, 0) + "x" : "-") << " |";
    for (const std::string& b : backends) {
      const Run* p1 = engineRun(q, 1, b);
      const Run* p2 = engineRun(q, 2, b);
      if (p1 == nullptr) {
        out << " - | - | - | - |";
      } else {
        const double perCore = events / p1->process.cpuSeconds;
        out << " " << formatEvents(perCore) << " | "
            << (baseline.ok() ? ratio(perCore / baselinePerCore) : "-") << " | ";
        if (reference != nullptr) {
          const double vsFlink = perCore / reference->flinkPerCore;
          out << ratio(vsFlink) << " | "
              << (vsFlink >= reference->targetMultiple ? "yes" : "**no**") << " |";
        } else {
          out << "- | - |";
        }
      }
      out << " "
          << (p2 != nullptr && baseline.ok()
                  ? ratio(events / p2->process.wallSeconds / baselineRate)
                  : "-")
          << " |";
    }
    out << "\n";
  }
  return out.str();
}

std::string markdownSection(const Options& options,
                            const std::vector<QueryResult>& results,
                            const Run& generator,
                            const std::string& loadBefore,
                            std::chrono::seconds timeout) {
  const double events = static_cast<double>(options.events);
  std::ostringstream s;
  s << "## Nexmark\n\n"
    << "`benchmarks/nexmark_benchmark.cc` runs the Nexmark queries of the `nexmark` example "
       "job with\n"
       "`brook run --local -p P -D state.backend.type=B -D execution.checkpointing.interval=10s`\n"
       "(results to the job's blackhole sink) and, for each query, a hand-written "
       "single-threaded\n"
       "baseline (`benchmarks/nexmark_baseline.cc`: the same generated events in order, plain "
       "loops and\n"
       "`absl::flat_hash_map`, rows counted and hashed but not formatted), each in its own "
       "process.\n"
       "Wall time is from fork to exit (for the engine: the CLI, loading the job, the "
       "mini-cluster and\n"
       "the job; \"job s\" is the job's own runtime), CPU is user + system time and peak RSS "
       "`ru_maxrss`\n"
       "from `wait4()`; events/s is N / wall, events/s per core N / CPU seconds. The baseline "
       "is one\n"
       "thread: its per-core figure differs from its events/s by the time it waited for a CPU "
       "on this\n"
       "shared machine. Per-core ratios set per core against per core, events/s ratios wall "
       "against wall.\n"
       "q12 counts bids per bidder per 10 s of wall clock: its baseline is a plain hash-map "
       "count whose\n"
       "rows depend on the clock.\n\n"
    << "- Machine: " << onlineCpus() << " CPUs (nproc), " << cpuModel() << "\n"
    << "- Date: " << todayUtc() << ", commit "
    << commandLine(std::string("git -C '") + BROOK_REPOSITORY_ROOT +
                   "' rev-parse --short HEAD 2>/dev/null")
    << "\n"
    << "- Events: " << withThousands(static_cast<uint64_t>(options.events))
    << " per run (generator defaults"
    << (options.tps > 0 ? ", tps " + withThousands(static_cast<uint64_t>(options.tps)) : "")
    << ")\n"
    << "- Generator alone: "
    << (generator.ok() ? perSecond(events, generator.process.wallSeconds) + " events/s (" +
                             perSecond(events, generator.process.cpuSeconds) + " per core)"
                       : "failed")
    << ": a share of every run, baseline and engine alike\n"
    << "- Load average (1 min) before the runs: " << loadBefore << "\n"
    << "- Timeout per run: " << timeout.count() << " s\n\n"
    << "Summary: per state backend, the engine's events/s per core at parallelism 1 against "
       "the\nbaseline's per core and against Flink 1.13's published per-core figure (the target "
       "is 10x Flink\non q0-q3 and q8, 5x on q4, q5, q7, q11 and q12), and its events/s at "
       "parallelism 2 against the\nbaseline's.\n\n"
    << summaryTable(results, splitList(options.backends), events) << "\n";
  for (const QueryResult& q : results) {
    s << "### " << q.query << "\n\n" << queryTable(q, events);
    const Run& baseline = q.runs.front();
    if (baseline.ok()) {
      s << "\nBaseline rows: " << withThousands(static_cast<uint64_t>(baseline.rows))
        << (q.query == "q12" ? " (depends on the wall clock)" : "") << ".";
    }
    if (!q.verification.empty())
      s << " Engine rows (p2 heap) against the baseline's: " << q.verification << ".";
    if (!q.latency.empty())
      s << " Latency (wall clock at the sink minus the row's event time): " << q.latency << ".";
    s << "\n\n";
  }
  s << "Reproduce: `ninja -C build nexmark_benchmark && build/benchmarks/nexmark_benchmark`\n"
    << "(`--queries q0,q5`, `--events N`, `--backends heap`, `--parallelism 1`; `--quick` for "
       "a smoke test).\n";
  return s.str();
}

int runBenchmark(Options options) {
  if (options.quick) {
    if (options.events == kDefaultEvents)
      options.events = kQuickEvents;
    // 20 s of event time for 200,000 events, so that the windowed queries close several windows.
    if (options.tps == 0)
      options.tps = kQuickTps;
    if (!options.backendsGiven)
      options.backends = "heap";
    options.verify = true;
    options.latencySeconds = std::min<int64_t>(options.latencySeconds, 5);
    if (!options.markdownGiven)
      options.markdownPath.clear();
  }
  if (options.jobPath.empty() || !fs::exists(options.jobPath))
    throw std::runtime_error("no nexmark job library at '" + options.jobPath + "' (--job)");
  if (!fs::exists(options.brookPath))
    throw std::runtime_error("no brook CLI at '" + options.brookPath + "' (--brook)");
  for (const std::string& backend : splitList(options.backends)) {
    if (backend != "heap" && backend != "rocksdb")
      throw std::runtime_error("unknown state backend '" + backend + "'");
  }
  for (const std::string& p : splitList(options.parallelism)) {
    if (p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) < 1)
      throw std::runtime_error("bad parallelism '" + p + "'");
  }
  const std::vector<std::string> queries = splitList(options.queries);
  for (const std::string& q : queries) {
    const auto& known = baselineQueries();
    if (std::find(known.begin(), known.end(), q) == known.end())
      throw std::runtime_error("no Nexmark query '" + q + "' with a baseline");
  }
  installSignalHandlers();
  WorkFolder work("brook-nexmark-bench");
  if (options.keep)
    work.keep();
  Benchmark benchmark(options, work.path());
  const std::string loadBefore = loadAverage();
  std::printf(
      "Nexmark: %s events per run, queries %s, parallelism %s, backends %s, timeout %lld s\n",
      withThousands(static_cast<uint64_t>(options.events)).c_str(), options.queries.c_str(),
      options.parallelism.c_str(), options.backends.c_str(),
      static_cast<long long>(benchmark.timeout().count()));

  Run generator = benchmark.runGenerator();
  if (generator.ok()) {
    std::printf(
        "  generator alone: %.2f s wall, %.2f s CPU, %s events/s\n", generator.process.wallSeconds,
        generator.process.cpuSeconds,
        formatEvents(static_cast<double>(options.events) / generator.process.wallSeconds).c_str());
  } else {
    std::printf("  generator alone: %s\n", generator.error.c_str());
  }
  std::vector<QueryResult> results;
  for (const std::string& q : queries) {
    results.push_back(benchmark.runQuery(q));
    if (!results.back().verification.empty())
      std::printf("  %-4s verify: %s\n", q.c_str(), results.back().verification.c_str());
  }

  std::printf("\n%s", summaryTable(results, splitList(options.backends),
                                   static_cast<double>(options.events))
                          .c_str());
  if (!options.markdownPath.empty()) {
    writeMarkdownSection(
        options.markdownPath, "## Nexmark",
        markdownSection(options, results, generator, loadBefore, benchmark.timeout()));
    std::printf("Wrote the Nexmark section of %s\n", options.markdownPath.c_str());
  }
  // A failed run or a wrong result fails the program, after the report.
  bool failed = !generator.ok();
  for (const QueryResult& q : results) {
    for (const Run& run : q.runs)
      failed = failed || !run.ok();
    failed = failed || (!q.verification.empty() && q.verification.rfind("matches", 0) != 0);
  }
  return failed ? 1 : 0;
}

}  // namespace

}  // namespace brook::benchmarks

int main(int argc, char** argv) {
  brook::benchmarks::Options options;
  CLI::App app{
      "Nexmark benchmark: the nexmark job's queries on the mini-cluster against "
      "single-threaded baselines and Flink 1.13."};
  app.add_option("--queries", options.queries, "Comma-separated queries")->capture_default_str();
  app.add_option("--events", options.events, "Events per run (events.num)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--tps", options.tps, "The generator's events per second of event time")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--parallelism", options.parallelism, "Comma-separated parallelisms")
      ->capture_default_str();
  auto* backends = app.add_option("--backends", options.backends, "Comma-separated state backends")
                       ->capture_default_str();
  app.add_option("--latency-queries", options.latencyQueries,
                 "Comma-separated queries whose latency is measured at half their maximum rate "
                 "(empty: none)")
      ->capture_default_str();
  app.add_option("--latency-seconds", options.latencySeconds,
                 "Seconds of events in each latency run")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3600}));
  app.add_option("--timeout", options.timeoutSeconds,
                 "Seconds a run may take (default: 120 + 1 per 5,000 events)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_flag(
      "--verify", options.verify,
      "Check the engine's rows against the baseline's (parallelism 2, each backend; small inputs)");
  app.add_flag("--quick", options.quick,
               "Smoke test: 200,000 events at tps 10,000, heap only (unless --backends), --verify, "
               "no BENCHMARKS.md (unless --markdown)");
  app.add_flag("--keep", options.keep, "Keep the logs and outputs of the runs");
  app.add_option("--job", options.jobPath, "The nexmark job library")->capture_default_str();
  app.add_option("--brook", options.brookPath, "The brook CLI")->capture_default_str();
  auto* markdown = app.add_option("--markdown", options.markdownPath,
                                  "Markdown file whose Nexmark section is written; empty: none")
                       ->capture_default_str();
  // The child mode, for the baseline runs that this program starts in processes of their own.
  app.add_option("--child", options.child)->group("");
  app.add_option("--query", options.query)->group("");
  app.add_option("--rows", options.rowsDirectory)->group("");
  CLI11_PARSE(app, argc, argv);
  options.markdownGiven = markdown->count() > 0;
  options.backendsGiven = backends->count() > 0;

  try {
    return options.child.empty() ? brook::benchmarks::runBenchmark(options)
                                 : brook::benchmarks::runChildMode(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
