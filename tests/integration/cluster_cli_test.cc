// The brook command's cluster side and the cluster scripts, as a user runs them: real
// processes, their exit codes, what they print, and the processes they leave behind.

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <absl/strings/str_cat.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_process.h"

extern char** environ;

namespace brook {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProcessResult;
using testing::runProcess;
using ::testing::StartsWith;
using testing::TempDir;

const std::string kBrook = BROOK_CLI_PATH;
const std::string kPrintJob = std::string(BROOK_JOBS_DIR) + "/print_job.so";
const std::string kStartCluster = std::string(BROOK_SOURCE_DIR) + "/bin/start-cluster";
const std::string kStopCluster = std::string(BROOK_SOURCE_DIR) + "/bin/stop-cluster";
// The scripts find the cluster binaries in this build, whatever the environment says.
const std::string kScriptEnv = std::string("env -u BROOK_CONF_DIR -u BROOK_LOG_DIR ") +
                               "BROOK_BUILD_DIR=" + BROOK_BINARY_DIR + " ";
const std::string kValidJobId = "0123456789abcdef0123456789abcdef";

// A socket bound to 127.0.0.1 on a port the OS chose; listening on it when asked.
class BoundSocket {
 public:
  explicit BoundSocket(bool listen) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t length = sizeof(address);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    if (listen) {
      EXPECT_EQ(::listen(fd_, 1), 0);
    }
  }
  ~BoundSocket() { ::close(fd_); }
  BoundSocket(const BoundSocket&) = delete;
  BoundSocket& operator=(const BoundSocket&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port on 127.0.0.1 on which nobody listens (it was free a moment ago).
int freePort() {
  return BoundSocket(/*listen=*/false).port();
}

ProcessResult timedRun(const std::string& command, std::chrono::milliseconds* elapsed) {
  auto start = std::chrono::steady_clock::now();
  ProcessResult r = runProcess(command);
  *elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return r;
}

size_t lineCount(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Tells whether a process runs: it exists and is not a zombie.
bool isRunning(int pid) {
  std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

int readPid(const std::string& path) {
  std::ifstream in(path);
  int pid = -1;
  in >> pid;
  return pid;
}

template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

// The one-line error and exit code 1, well within 5 s, of a command aimed at nobody.
void expectUnreachable(const std::string& command, const std::string& address) {
  std::chrono::milliseconds elapsed{};
  auto r = timedRun(command, &elapsed);
  EXPECT_EQ(r.exitCode, 1) << r.err;
  EXPECT_THAT(r.err, StartsWith("error: cannot reach the JobManager at " + address + " ("));
  EXPECT_EQ(lineCount(r.err), 1u) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(ClusterCliTest, RunWithUnreachableJobManagerFailsFastWithOneLine) {
  std::string address = "127.0.0.1:" + std::to_string(freePort());
  expectUnreachable(kBrook + " run -m " + address + " " + kPrintJob + " -- --count 3", address);
  expectUnreachable(kBrook + " run -d -m " + address + " " + kPrintJob, address);
}

TEST(ClusterCliTest, ListWithUnreachableJobManagerFailsFastWithOneLine) {
  std::string address = "127.0.0.1:" + std::to_string(freePort());
  expectUnreachable(kBrook + " list -a --jobmanager " + address, address);
}

TEST(ClusterCliTest, CancelWithUnreachableJobManagerFailsFastWithOneLine) {
  std::string address = "127.0.0.1:" + std::to_string(freePort());
  expectUnreachable(kBrook + " cancel -m " + address + " " + kValidJobId, address);
}

TEST(ClusterCliTest, AddressComesFromTheEnvironmentAndTheConfiguration) {
  int port = freePort();
  std::string address = "127.0.0.1:" + std::to_string(port);
  expectUnreachable("env BROOK_JOBMANAGER=" + address + " " + kBrook + " list", address);

  TempDir tmp;
  std::ofstream(tmp.path() + "/brook.yaml")
      << "jobmanager.rpc.address: 127.0.0.1\njobmanager.rpc.port: " << port << "\n";
  expectUnreachable("env -u BROOK_JOBMANAGER " + kBrook + " list -c " + tmp.path() + "/brook.yaml",
                    address);
  expectUnreachable("env -u BROOK_JOBMANAGER " + kBrook +
                        " list -D jobmanager.rpc.address=127.0.0.1 -D jobmanager.rpc.port=" +
                        std::to_string(port),
                    address);
}

TEST(ClusterCliTest, MinusMBeatsTheEnvironmentWhichBeatsTheConfiguration) {
  // Malformed addresses answer at once, and the error names the one that was used.
  auto m = runProcess("env BROOK_JOBMANAGER=from-env " + kBrook + " list -m from-option");
  EXPECT_EQ(m.exitCode, 2);
  EXPECT_THAT(m.err, HasSubstr("'from-option'"));
  EXPECT_THAT(m.err, HasSubstr("-m"));
  auto env =
      runProcess("env BROOK_JOBMANAGER=from-env " + kBrook + " list -D jobmanager.rpc.port=0");
  EXPECT_EQ(env.exitCode, 2);
  EXPECT_THAT(env.err, HasSubstr("'from-env'"));
  EXPECT_THAT(env.err, HasSubstr("BROOK_JOBMANAGER"));
  auto config = runProcess("env -u BROOK_JOBMANAGER " + kBrook + " list -D jobmanager.rpc.port=0");
  EXPECT_EQ(config.exitCode, 2);
  EXPECT_THAT(config.err, HasSubstr("'localhost:0'"));
  EXPECT_THAT(config.err, HasSubstr("jobmanager.rpc.port"));
}

TEST(ClusterCliTest, MalformedJobManagerAddressIsAUsageError) {
  for (std::string bad : {"nohost", "host:", ":6123", "host:99999", "host:12ab", "a:b:6123",
                          "[::1:6123", "bad/host:6123"}) {
    for (const std::string& command : std::vector<std::string>{
             " list -m '" + bad + "'", " cancel -m '" + bad + "' " + kValidJobId,
             " run -m '" + bad + "' " + kPrintJob}) {
      auto r = runProcess(kBrook + command);
      EXPECT_EQ(r.exitCode, 2) << command << ": " << r.err;
      EXPECT_THAT(r.err, HasSubstr("invalid JobManager address '" + bad + "'")) << command;
      EXPECT_EQ(lineCount(r.err), 1u) << r.err;
    }
  }
}

TEST(ClusterCliTest, CancelRefusesWhatIsNotAJobId) {
  for (const std::string& bad : std::vector<std::string>{"abc", "0123456789abcdef0123456789abcdeg",
                                                         kValidJobId + "0", "''"}) {
    auto r = runProcess(kBrook + " cancel -m 127.0.0.1:1 " + bad);
    EXPECT_EQ(r.exitCode, 2) << bad << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("is not a job id (expected 32 hex digits")) << bad;
  }
  auto missing = runProcess(kBrook + " cancel");
  EXPECT_EQ(missing.exitCode, 2);
  EXPECT_THAT(missing.err, HasSubstr("job-id"));
}

TEST(ClusterCliTest, UsageErrorsOfTheClusterCommands) {
  auto local = runProcess(kBrook + " run --local -d " + kPrintJob);
  EXPECT_EQ(local.exitCode, 2);
  EXPECT_THAT(local.err, HasSubstr("--local"));
  auto localWithAddress = runProcess(kBrook + " run --local -m 127.0.0.1:1 " + kPrintJob);
  EXPECT_EQ(localWithAddress.exitCode, 2);
  auto listArgs = runProcess(kBrook + " list -m 127.0.0.1:1 -- --input x");
  EXPECT_EQ(listArgs.exitCode, 2);
  EXPECT_THAT(listArgs.err, HasSubstr("no job arguments"));
  // -D is checked on every command before anything is contacted.
  auto badKey = runProcess(kBrook + " list -m 127.0.0.1:1 -D parallelism.defualt=2");
  EXPECT_EQ(badKey.exitCode, 2);
  EXPECT_THAT(badKey.err, HasSubstr("unknown configuration key 'parallelism.defualt'"));
  auto badValue =
      runProcess(kBrook + " run -m 127.0.0.1:1 -D execution.runtime-mode=SOMETIMES " + kPrintJob);
  EXPECT_EQ(badValue.exitCode, 2);
  EXPECT_THAT(badValue.err, HasSubstr("execution.runtime-mode"));
}

TEST(ClusterCliTest, JobErrorsAreReportedBeforeContactingTheJobManager) {
  auto r = runProcess(kBrook + " run -m 127.0.0.1:1 " + std::string(BROOK_JOBS_DIR) +
                      "/unstable_plan_job.so");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("plans a different graph each time"));
  EXPECT_THAT(r.err, Not(HasSubstr("cannot reach")));
}

TEST(ClusterCliTest, HelpDescribesTheClusterCommands) {
  auto r = runProcess(kBrook + " --help");
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_THAT(r.out, HasSubstr("list"));
  EXPECT_THAT(r.out, HasSubstr("cancel"));
  auto run = runProcess(kBrook + " run --help");
  EXPECT_EQ(run.exitCode, 0);
  EXPECT_THAT(run.out, HasSubstr("--jobmanager"));
  EXPECT_THAT(run.out, HasSubstr("--detached"));
  EXPECT_THAT(run.out, HasSubstr("--local"));
  auto list = runProcess(kBrook + " list --help");
  EXPECT_EQ(list.exitCode, 0);
  EXPECT_THAT(list.out, HasSubstr("--all"));
  EXPECT_THAT(list.out, HasSubstr("-D"));
  for (const auto& script : {kStartCluster, kStopCluster}) {
    auto help = runProcess(script + " --help");
    EXPECT_EQ(help.exitCode, 0) << script;
    EXPECT_THAT(help.out, HasSubstr("--log-dir")) << script;
  }
}

// Stops whatever a test's cluster left running, even when the test failed half-way.
class ClusterGuard {
 public:
  explicit ClusterGuard(std::string logDir) : logDir_(std::move(logDir)) {}
  ~ClusterGuard() { runProcess(kScriptEnv + kStopCluster + " --timeout 2 --log-dir " + logDir_); }
  ClusterGuard(const ClusterGuard&) = delete;
  ClusterGuard& operator=(const ClusterGuard&) = delete;

 private:
  std::string logDir_;
};

TEST(ClusterScriptsTest, StartClusterStartsAndStopClusterStopsExactlyThoseProcesses) {
  TempDir tmp;
  std::string logs = tmp.path() + "/log";
  int port = freePort();
  ClusterGuard guard(logs);
  // A pid file left by a cluster that is gone does not stop a new start.
  std::filesystem::create_directories(logs);
  std::ofstream(logs + "/brook-taskmanager-7.pid") << "999999999\n";
  auto started =
      runProcess(kScriptEnv + kStartCluster + " -n 2 --slots 1 -p " + std::to_string(port) +
                 " --log-dir " + logs + " -D heartbeat.interval=200ms");
  ASSERT_EQ(started.exitCode, 0) << started.out << started.err;
  EXPECT_THAT(started.out, HasSubstr("JobManager listening on"));
  EXPECT_THAT(started.out, HasSubstr(absl::StrCat(":", port, " (pid ")));
  EXPECT_THAT(started.out, HasSubstr(logs));

  std::vector<int> pids;
  for (std::string name : {"brook-jobmanager", "brook-taskmanager-1", "brook-taskmanager-2"}) {
    ASSERT_TRUE(std::filesystem::exists(logs + "/" + name + ".pid")) << name;
    EXPECT_TRUE(std::filesystem::exists(logs + "/" + name + ".log")) << name;
    EXPECT_TRUE(std::filesystem::exists(logs + "/" + name + ".out")) << name;
    int pid = readPid(logs + "/" + name + ".pid");
    EXPECT_TRUE(isRunning(pid)) << name << " (pid " << pid << ")";
    pids.push_back(pid);
  }
  EXPECT_TRUE(eventually(
      [&] { return occurrences(slurp(logs + "/brook-jobmanager.log"), " registered with") >= 2; },
      std::chrono::seconds(10)))
      << slurp(logs + "/brook-jobmanager.log");

  // A second cluster in the same folder is refused while the first runs.
  auto twice = runProcess(kScriptEnv + kStartCluster + " -n 1 -p 0 --log-dir " + logs);
  EXPECT_EQ(twice.exitCode, 1);
  EXPECT_THAT(twice.err, HasSubstr("still running"));

  auto stopped = runProcess(kScriptEnv + kStopCluster + " --log-dir " + logs);
  EXPECT_EQ(stopped.exitCode, 0) << stopped.out << stopped.err;
  for (int pid : pids)
    EXPECT_TRUE(eventually([&] { return !isRunning(pid); }, std::chrono::seconds(2))) << pid;
  for (const auto& entry : std::filesystem::directory_iterator(logs))
    EXPECT_NE(entry.path().extension(), ".pid") << entry.path();
  // SIGTERM let them shut down cleanly.
  EXPECT_THAT(slurp(logs + "/brook-jobmanager.log"), HasSubstr("shutting down"));

  auto again = runProcess(kScriptEnv + kStopCluster + " --log-dir " + logs);
  EXPECT_EQ(again.exitCode, 0);
  EXPECT_THAT(again.out, HasSubstr("No Brook cluster to stop"));
}

TEST(ClusterScriptsTest, StopClusterLeavesAProcessAloneThatIsNotTheOneItStarted) {
  TempDir tmp;
  // A pid file whose pid now belongs to someone else (this test's own process), and one whose
  // process is gone.
  std::ofstream(tmp.path() + "/brook-jobmanager.pid") << ::getpid() << "\n";
  std::ofstream(tmp.path() + "/brook-taskmanager-1.pid") << "999999999\n";
  auto stopped = runProcess(kScriptEnv + kStopCluster + " --log-dir " + tmp.path());
  EXPECT_EQ(stopped.exitCode, 0) << stopped.err;
  EXPECT_THAT(stopped.err, HasSubstr("leaving it alone"));
  EXPECT_THAT(stopped.out, HasSubstr("brook-taskmanager-1 (pid 999999999) is not running"));
  EXPECT_TRUE(isRunning(::getpid()));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/brook-jobmanager.pid"));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/brook-taskmanager-1.pid"));
}

TEST(ClusterScriptsTest, StartClusterReportsAJobManagerThatCannotListen) {
  TempDir tmp;
  BoundSocket taken(/*listen=*/true);
  auto r = runProcess(kScriptEnv + kStartCluster + " -n 1 -p " + std::to_string(taken.port()) +
                      " --log-dir " + tmp.path());
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_THAT(r.err, HasSubstr("brook-jobmanager exited with code"));
  EXPECT_THAT(r.err, HasSubstr("cannot listen"));  // the tail of its log
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path()))
    EXPECT_NE(entry.path().extension(), ".pid") << entry.path();
}

TEST(ClusterScriptsTest, StartClusterRefusesBadOptions) {
  TempDir tmp;
  for (std::string bad : {"-n x", "--slots 0", "-p 70000", "-D novalue", "--frobnicate"}) {
    auto r = runProcess(kScriptEnv + kStartCluster + " " + bad + " --log-dir " + tmp.path());
    EXPECT_EQ(r.exitCode, 2) << bad << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("start-cluster: error:")) << bad;
  }
}

// A `brook` process in the background, for tests that signal it while it runs; killed and
// reaped by the destructor.
class BackgroundCli {
 public:
  BackgroundCli(const std::string& dir, std::vector<std::string> args)
      : outPath_(dir + "/cli.out"), errPath_(dir + "/cli.err") {
    args.insert(args.begin(), kBrook);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, outPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, errPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~BackgroundCli() {
    if (exitCode_ < 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  BackgroundCli(const BackgroundCli&) = delete;
  BackgroundCli& operator=(const BackgroundCli&) = delete;

  void signal(int signal) { ::kill(pid_, signal); }
  // The exit code, or -1 if the process did not end within `timeout`.
  int wait(std::chrono::milliseconds timeout) {
    eventually(
        [&] {
          int status = 0;
          if (::waitpid(pid_, &status, WNOHANG) != pid_)
            return false;
          exitCode_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          return true;
        },
        timeout);
    return exitCode_;
  }
  // Waits until the job runs; false when it ended before or did not start within 20 s.
  bool waitUntilRunning() {
    eventually(
        [&] {
          std::string text = err();
          return text.find(" switched to RUNNING") != std::string::npos ||
                 text.find("Job with JobID ") != std::string::npos ||
                 text.find("error: ") != std::string::npos;
        },
        std::chrono::seconds(20));
    return err().find(" switched to RUNNING") != std::string::npos;
  }
  std::string out() const { return slurp(outPath_); }
  std::string err() const { return slurp(errPath_); }

 private:
  std::string outPath_;
  std::string errPath_;
  pid_t pid_ = -1;
  int exitCode_ = -1;
};

// A cluster of one JobManager and two TaskManagers with two slots each, started and stopped
// with the scripts, and the brook command aimed at it.
class ClusterSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logs_ = tmp_.path() + "/log";
    guard_ = std::make_unique<ClusterGuard>(logs_);
    auto started = runProcess(kScriptEnv + kStartCluster + " -n 2 --slots 2 -p 0 --log-dir " +
                              logs_ + " -D jobmanager.rpc.address=127.0.0.1");
    ASSERT_EQ(started.exitCode, 0) << started.out << started.err;
    std::string out = slurp(logs_ + "/brook-jobmanager.out");
    auto colon = out.rfind(':');
    ASSERT_NE(colon, std::string::npos) << out;
    address_ = "127.0.0.1:" + std::to_string(std::stoi(out.substr(colon + 1)));
  }

  ProcessResult brook(const std::string& command, const std::string& options = "") {
    return runProcess(kBrook + " " + command + " -m " + address_ + " " + options);
  }

  static std::string jobIdIn(const std::string& text) {
    auto at = text.find("JobID ");
    return at == std::string::npos ? "" : text.substr(at + 6, 32);
  }

  TempDir tmp_;
  std::string logs_;
  std::string address_;
  std::unique_ptr<ClusterGuard> guard_;
};

TEST_F(ClusterSessionTest, AttachedRunFollowsTheJobAndExitsWithItsOutcome) {
  std::ofstream(tmp_.path() + "/in.txt") << "b a b\nc b\n";
  // Job-level -D options travel with the job: BATCH emits final counts, parallelism 3 writes
  // three part files.
  auto r = brook("run", "-D execution.runtime-mode=BATCH -D parallelism.default=3 " +
                            std::string(BROOK_WORDCOUNT_JOB) + " -- --input " + tmp_.path() +
                            "/in.txt --output " + tmp_.path() + "/out");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::string jobId = jobIdIn(r.err);
  ASSERT_EQ(jobId.size(), 32u) << r.err;
  EXPECT_THAT(r.err, StartsWith("Job has been submitted with JobID " + jobId + "\n"));
  EXPECT_THAT(r.err, HasSubstr("Job " + jobId + " switched to FINISHED\n"));
  EXPECT_THAT(r.err, HasSubstr("Job with JobID " + jobId + " has finished.\nJob Runtime: "));
  auto lines = testing::readPartFiles(tmp_.path() + "/out");
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"a,1", "b,3", "c,1"}));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp_.path() + "/out"),
                          std::filesystem::directory_iterator{}),
            3);

  auto failed = brook("run", "-p 2 " + std::string(BROOK_JOBS_DIR) + "/failing_job.so");
  EXPECT_EQ(failed.exitCode, 1);
  EXPECT_THAT(failed.err, HasSubstr("switched to FAILED"));
  EXPECT_THAT(failed.err, HasSubstr("The program finished with the following exception:"));
  EXPECT_THAT(failed.err, HasSubstr("record 777 is cursed"));

  auto list = brook("list", "-a");
  ASSERT_EQ(list.exitCode, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("No running jobs.\n"));
  EXPECT_THAT(list.out,
              HasSubstr("---------------------- Terminated Jobs -----------------------\n"));
  EXPECT_THAT(list.out, HasSubstr(" : " + jobId + " : wordcount (FINISHED)\n"));
  EXPECT_THAT(list.out, HasSubstr(" : failing_job (FAILED)\n"));
  auto running = brook("list");
  ASSERT_EQ(running.exitCode, 0) << running.err;
  EXPECT_EQ(running.out, "No running jobs.\n");
}

TEST_F(ClusterSessionTest, InterruptingAnAttachedRunCancelsTheJob) {
  BackgroundCli cli(tmp_.path(), {"run", "-m", address_, "-p", "2",
                                  std::string(BROOK_JOBS_DIR) + "/unbounded_job.so"});
  ASSERT_TRUE(cli.waitUntilRunning()) << cli.err();
  cli.signal(SIGINT);
  EXPECT_EQ(cli.wait(std::chrono::seconds(30)), 130) << cli.err();
  std::string jobId = jobIdIn(cli.err());
  EXPECT_THAT(cli.err(), HasSubstr("Job " + jobId + " switched to CANCELED\n"));
  EXPECT_THAT(cli.err(), HasSubstr("Job with JobID " + jobId + " was canceled.\n"));
  auto list = brook("list", "--all");
  EXPECT_THAT(list.out, HasSubstr(jobId + " : unbounded_job (CANCELED)"));
}

TEST_F(ClusterSessionTest, DetachedRunThenListAndCancel) {
  auto submitted = brook("run", "-d -p 1 " + std::string(BROOK_JOBS_DIR) + "/unbounded_job.so");
  ASSERT_EQ(submitted.exitCode, 0) << submitted.err;
  std::string jobId = jobIdIn(submitted.out);
  ASSERT_EQ(submitted.out, "Job has been submitted with JobID " + jobId + "\n");
  ASSERT_TRUE(eventually(
      [&] {
        return brook("list").out.find(jobId + " : unbounded_job (RUNNING)") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << brook("list").out;
  auto list = brook("list");
  EXPECT_THAT(list.out,
              StartsWith("------------------ Running/Restarting Jobs -------------------\n"));
  EXPECT_THAT(list.out,
              HasSubstr("\n--------------------------------------------------------------\n"));

  auto cancel = brook("cancel " + jobId);
  EXPECT_EQ(cancel.exitCode, 0) << cancel.err;
  EXPECT_EQ(cancel.out, "Cancelling job " + jobId + ".\nCancelled job " + jobId + ".\n");
  EXPECT_THAT(brook("list", "-a").out, HasSubstr(jobId + " : unbounded_job (CANCELED)"));

  auto unknown = brook("cancel ffffffffffffffffffffffffffffffff");
  EXPECT_EQ(unknown.exitCode, 1);
  EXPECT_THAT(unknown.err, HasSubstr("ffffffffffffffffffffffffffffffff"));
}

TEST_F(ClusterSessionTest, AttachedRunEndsWithAnErrorWhenTheJobManagerDisappears) {
  BackgroundCli cli(tmp_.path(), {"run", "-m", address_, "-p", "1",
                                  std::string(BROOK_JOBS_DIR) + "/unbounded_job.so"});
  ASSERT_TRUE(cli.waitUntilRunning()) << cli.err();
  auto killedAt = std::chrono::steady_clock::now();
  ::kill(readPid(logs_ + "/brook-jobmanager.pid"), SIGKILL);
  EXPECT_EQ(cli.wait(std::chrono::seconds(15)), 1) << cli.err();
  auto waited = std::chrono::steady_clock::now() - killedAt;
  EXPECT_GE(waited, std::chrono::seconds(4));
  EXPECT_LT(waited, std::chrono::seconds(8));
  std::string err = cli.err();
  std::string last = err.substr(err.rfind('\n', err.size() - 2) + 1);
  EXPECT_THAT(last,
              StartsWith("error: lost the JobManager at " + address_ + " while following job "))
      << err;

  // stop-cluster still stops the TaskManagers of a cluster whose JobManager is gone.
  std::vector<int> taskManagers{readPid(logs_ + "/brook-taskmanager-1.pid"),
                                readPid(logs_ + "/brook-taskmanager-2.pid")};
  auto stopped = runProcess(kScriptEnv + kStopCluster + " --log-dir " + logs_);
  EXPECT_EQ(stopped.exitCode, 0) << stopped.out << stopped.err;
  EXPECT_THAT(stopped.out, HasSubstr("brook-jobmanager (pid "));
  for (int pid : taskManagers)
    EXPECT_FALSE(isRunning(pid)) << pid;
}

}  // namespace
}  // namespace brook
