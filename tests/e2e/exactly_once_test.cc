// The exactly-once audit job (examples/exactly_once_check) run with the brook CLI as a real
// process: a plain bounded run with checkpoints passes the check; a run interrupted with
// SIGINT after a checkpoint and resumed from it at another parallelism on the other backend
// passes it over the whole sequence; and resuming the source without the verifier's state
// fails it, which shows that the check can fail.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <system_error>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e/cluster_fixture.h"
#include "e2e/job_output.h"

namespace brook {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::string kExactlyOnceCheckJob = BROOK_EXACTLY_ONCE_CHECK_JOB;
constexpr auto kJobTimeout = std::chrono::seconds(60);

// The interrupted runs: 40,000 records over 100 keys from two source subtasks at 4,000 records
// per second each, so about five seconds of input, of which checkpoints every 50 ms cover some.
constexpr int64_t kEvents = 40'000;
constexpr int64_t kKeys = 100;
constexpr int64_t kRatePerSubtask = 4'000;

std::string okVerdict(int64_t keys, int64_t records) {
  return "exactly-once check: OK: " + std::to_string(keys) + " keys, " + std::to_string(records) +
         " records, 0 gaps, 0 duplicates, 0 out of order";
}

// The number of the newest completed checkpoint under `root` (a chk-<n>/_metadata file), 0 when
// there is none. Folders appear and vanish while the job runs, so errors only end the search.
int64_t latestCompletedCheckpoint(const fs::path& root) {
  int64_t latest = 0;
  std::error_code error;
  fs::recursive_directory_iterator it(root, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const std::string folder = it->path().parent_path().filename().string();
    if (it->path().filename() == "_metadata" && folder.starts_with("chk-"))
      latest = std::max<int64_t>(latest, std::stoll(folder.substr(4)));
  }
  return latest;
}

class ExactlyOnceCheckTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    tmp_ = fs::path(logDir_) / "tmp";
    fs::create_directories(tmp_);
  }

  // `brook run --local` with `options` (before the job) and the job's `jobArgs` (after `--`).
  std::unique_ptr<ChildProcess> runJob(const std::string& name,
                                       const std::vector<std::string>& options,
                                       const std::vector<std::string>& jobArgs) {
    std::vector<std::string> args{"run", "--local", "-D", "io.tmp.dirs=" + tmp_.string()};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(kExactlyOnceCheckJob);
    args.push_back("--");
    args.insert(args.end(), jobArgs.begin(), jobArgs.end());
    return startCli(name, args);
  }

  // The lines of the verdict files in `output` (one expected).
  static std::vector<std::string> verdicts(const fs::path& output) {
    if (!fs::exists(output))
      return {};
    return testing::sortedLines(output);
  }

  // Runs the job at parallelism 2 on the heap backend with checkpoints every 50 ms into
  // `checkpoints`, throttled, and interrupts it with SIGINT once its third checkpoint has
  // completed (so that every key has records before the checkpoint).
  // Returns the latest checkpoint the CLI names, or "" (with a test failure).
  std::string interruptedRun(const fs::path& checkpoints) {
    auto cli = runJob(
        "interrupted",
        {"-p", "2", "-D", "state.backend.type=heap", "-D", "execution.checkpointing.interval=50ms",
         "-D", "state.checkpoints.dir=file://" + checkpoints.string()},
        {"--keys=" + std::to_string(kKeys), "--events=" + std::to_string(kEvents),
         "--rate=" + std::to_string(kRatePerSubtask),
         "--output=" + (fs::path(logDir_) / "out-interrupted").string()});
    EXPECT_TRUE(
        eventually([&] { return latestCompletedCheckpoint(checkpoints) >= 3 || !cli->running(); },
                   kJobTimeout))
        << cli->stderrText();
    EXPECT_TRUE(cli->running()) << "the job ended before its third checkpoint completed:\n"
                                << cli->stderrText();
    cli->stop(SIGINT, kJobTimeout);
    std::string err = cli->stderrText();
    // The interrupt landed mid-stream: the job was cancelled and reached no verdict.
    EXPECT_THAT(err, HasSubstr("was canceled")) << err;
    EXPECT_THAT(cli->stdoutText(), Not(HasSubstr("exactly-once check")));
    EXPECT_TRUE(verdicts(fs::path(logDir_) / "out-interrupted").empty());
    std::smatch match;
    if (!std::regex_search(err, match,
                           std::regex("Completed checkpoints: \\d+; the latest is (\\S+)"))) {
      ADD_FAILURE() << "no completed checkpoint named:\n" << err;
      return "";
    }
    return match[1].str();
  }

  fs::path tmp_;
};

TEST_F(ExactlyOnceCheckTest, BoundedRunWithCheckpointsIsOk) {
  const fs::path output = fs::path(logDir_) / "out";
  auto cli =
      runJob("bounded",
             {"-p", "2", "-D", "execution.checkpointing.interval=50ms", "-D",
              "state.checkpoints.dir=file://" + (fs::path(logDir_) / "chk").string()},
             {"--keys=1000", "--events=300000", "--rate=200000", "--output=" + output.string()});
  ASSERT_EQ(cli->stop(0, kJobTimeout), 0) << cli->stderrText();
  // The throttle (3/4 s of input) lets checkpoints complete while records flow.
  EXPECT_THAT(cli->stderrText(), HasSubstr("Completed checkpoints: "));
  const std::string verdict = okVerdict(1000, 300'000);
  EXPECT_EQ(verdicts(output), std::vector<std::string>{verdict});
  // The print sink shows the same single line.
  EXPECT_EQ(cli->stdoutText(), verdict + "\n");
}

TEST_F(ExactlyOnceCheckTest, FewerRecordsThanKeysIsOk) {
  // Keys 0..6 get one record each, the others none: those are not missing.
  const fs::path output = fs::path(logDir_) / "out";
  auto cli = runJob("few", {"-p", "3"}, {"--keys=10", "--events=7", "--output=" + output.string()});
  ASSERT_EQ(cli->stop(0, kJobTimeout), 0) << cli->stderrText();
  EXPECT_EQ(verdicts(output), std::vector<std::string>{okVerdict(7, 7)});
}

TEST_F(ExactlyOnceCheckTest, InjectedAnomaliesFailTheCheck) {
  // The source loses record 1 of key 0, sends record 1 of key 1 twice, and swaps records 1
  // and 2 of key 2.
  const fs::path output = fs::path(logDir_) / "out";
  auto cli =
      runJob("injected", {"-p", "2"},
             {"--keys=10", "--events=1000", "--inject-anomalies", "--output=" + output.string()});
  ASSERT_EQ(cli->stop(0, kJobTimeout), 0) << cli->stderrText();
  EXPECT_EQ(verdicts(output),
            std::vector<std::string>{"exactly-once check: FAILED: 10 keys, 1000 records, 1 gaps, "
                                     "1 duplicates, 1 out of order; first offending keys: 0, 1, "
                                     "2"});
}

TEST_F(ExactlyOnceCheckTest, ResumedFromACheckpointAtAnotherParallelismAndBackendIsOk) {
  const std::string checkpoint = interruptedRun(fs::path(logDir_) / "chk");
  ASSERT_FALSE(checkpoint.empty());

  const fs::path output = fs::path(logDir_) / "out-resumed";
  auto cli = runJob("resumed", {"-p", "3", "-D", "state.backend.type=rocksdb", "-s", checkpoint},
                    {"--keys=" + std::to_string(kKeys), "--events=" + std::to_string(kEvents),
                     "--output=" + output.string()});
  ASSERT_EQ(cli->stop(0, kJobTimeout), 0) << cli->stderrText();
  // Every record of the whole sequence is counted once: those before the checkpoint through
  // the verifier's restored state, the rest as the restored source emitted them.
  EXPECT_EQ(verdicts(output), std::vector<std::string>{okVerdict(kKeys, kEvents)});
}

TEST_F(ExactlyOnceCheckTest, ResumedSourceWithoutTheVerifiersStateFails) {
  const std::string checkpoint = interruptedRun(fs::path(logDir_) / "chk");
  ASSERT_FALSE(checkpoint.empty());

  // The verifier under another uid starts from nothing while the source resumes: every record
  // before the checkpoint is missing.
  const fs::path output = fs::path(logDir_) / "out-fresh-verifier";
  auto cli = runJob("fresh-verifier", {"-p", "1", "-s", checkpoint, "--allow-non-restored-state"},
                    {"--keys=" + std::to_string(kKeys), "--events=" + std::to_string(kEvents),
                     "--verifier-uid=fresh-verifier", "--output=" + output.string()});
  ASSERT_EQ(cli->stop(0, kJobTimeout), 0) << cli->stderrText();
  std::vector<std::string> lines = verdicts(output);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], StartsWith("exactly-once check: FAILED: "));
  std::smatch match;
  ASSERT_TRUE(std::regex_search(lines[0], match,
                                std::regex("(\\d+) records of (\\d+), (\\d+) gaps, 0 duplicates")))
      << lines[0];
  const int64_t records = std::stoll(match[1].str());
  const int64_t gaps = std::stoll(match[3].str());
  EXPECT_EQ(std::stoll(match[2].str()), kEvents);
  EXPECT_GT(gaps, 0);
  EXPECT_EQ(records + gaps, kEvents);
  EXPECT_THAT(lines[0], HasSubstr("first offending keys: 0, 1, 2, 3, 4"));
}

TEST_F(ExactlyOnceCheckTest, RestartedSourceWithTheVerifiersStateFails) {
  const std::string checkpoint = interruptedRun(fs::path(logDir_) / "chk");
  ASSERT_FALSE(checkpoint.empty());

  // The source under another uid starts over while the verifier resumes: every record before
  // the checkpoint arrives a second time.
  const fs::path output = fs::path(logDir_) / "out-fresh-source";
  auto cli = runJob("fresh-source", {"-p", "2", "-s", checkpoint, "--allow-non-restored-state"},
                    {"--keys=" + std::to_string(kKeys), "--events=" + std::to_string(kEvents),
                     "--source-uid=fresh-source", "--output=" + output.string()});
  ASSERT_EQ(cli->stop(0, kJobTimeout), 0) << cli->stderrText();
  std::vector<std::string> lines = verdicts(output);
  ASSERT_EQ(lines.size(), 1u);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(
      lines[0], match,
      std::regex("^exactly-once check: FAILED: " + std::to_string(kKeys) +
                 " keys, (\\d+) records of (\\d+), 0 gaps, (\\d+) duplicates, 0 out of order")))
      << lines[0];
  const int64_t records = std::stoll(match[1].str());
  const int64_t duplicates = std::stoll(match[3].str());
  EXPECT_EQ(std::stoll(match[2].str()), kEvents);
  EXPECT_GT(duplicates, 0);
  EXPECT_EQ(records - duplicates, kEvents);
}

}  // namespace
}  // namespace brook
