// The acceptance test of keyed state and timers: tests/jobs/keyed_state_job.cc (a count in
// ValueState, the last five values in ListState, a processing-time timer per key) run with the
// brook CLI on the mini-cluster with each backend and on two TaskManagers with RocksDB, its
// output compared line by line with a single loop that computes the same result.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/files.h"
#include "e2e/cluster_fixture.h"
#include "e2e/job_output.h"
#include "e2e/sanitizer.h"

namespace brook {
namespace {

using ::testing::HasSubstr;
using testing::kSanitized;
using testing::sameLines;
using testing::sortedLines;

const std::string kKeyedStateJob = BROOK_KEYED_STATE_JOB;

// The full acceptance size; a tenth of it under AddressSanitizer, which is several times slower.
constexpr int64_t kEvents = kSanitized ? 100'000 : 1'000'000;
constexpr int64_t kKeys = kSanitized ? 10'000 : 100'000;
constexpr auto kJobTimeout = std::chrono::seconds(240);

// The job's event definition, written out again: event i is (splitMix64(i) % keys, i).
uint64_t splitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// What the job must write, sorted: "key,count,v1 ... v5" for every key with events, the values
// being the key's last five in increasing i.
std::vector<std::string> expectedLines(int64_t events, int64_t keys) {
  std::vector<int64_t> counts(static_cast<size_t>(keys), 0);
  std::vector<std::deque<int64_t>> last(static_cast<size_t>(keys));
  for (int64_t i = 0; i < events; ++i) {
    auto key =
        static_cast<size_t>(splitMix64(static_cast<uint64_t>(i)) % static_cast<uint64_t>(keys));
    ++counts[key];
    last[key].push_back(i);
    if (last[key].size() > 5)
      last[key].pop_front();
  }
  std::vector<std::string> lines;
  for (size_t key = 0; key < counts.size(); ++key) {
    if (counts[key] == 0)
      continue;
    std::string line = std::to_string(key) + "," + std::to_string(counts[key]) + ",";
    for (size_t j = 0; j < last[key].size(); ++j) {
      if (j > 0)
        line += ' ';
      line += std::to_string(last[key][j]);
    }
    lines.push_back(std::move(line));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// The oracle's result for the test's size, computed once.
const std::vector<std::string>& expected() {
  static const std::vector<std::string> lines = expectedLines(kEvents, kKeys);
  return lines;
}

// The job and its arguments, the last words of a `brook run` command.
std::vector<std::string> jobArguments(const std::filesystem::path& output) {
  return {kKeyedStateJob, "--", "--events=" + std::to_string(kEvents),
          "--keys=" + std::to_string(kKeys), "--output=" + output.string()};
}

// The log line of a task that keeps its keyed state in RocksDB under `root`.
std::string rocksDbStoreLine(const std::filesystem::path& root) {
  return "keyed state in RocksDB at '" + root.string();
}

class KeyedStateJobTest : public ClusterTest {
 protected:
  // Runs the job with `brook run --local -p 2` on `backend` and returns its sorted output.
  std::vector<std::string> runOnMiniCluster(const std::string& backend) {
    testing::TempDir dir("brook-keyed-state");
    std::filesystem::create_directory(dir.path() / "tmp");
    std::vector<std::string> args{"run", "--local",
                                  "-p",  "2",
                                  "-D",  "state.backend.type=" + backend,
                                  "-D",  "io.tmp.dirs=" + (dir.path() / "tmp").string()};
    for (auto& a : jobArguments(dir.path() / "out"))
      args.push_back(std::move(a));
    // At log level info, the tasks say where their RocksDB stores are.
    std::vector<std::string> argv{BROOK_CLI_PATH, "--log-level", "info"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto cli = std::make_unique<ChildProcess>(logDir_, "local-" + backend, std::move(argv));
    int rc = cli->stop(0, kJobTimeout);
    EXPECT_EQ(rc, 0) << cli->stderrText();
    // The setting reaches the tasks: RocksDB keeps its stores in the local state folder.
    EXPECT_EQ(cli->stderrText().find(rocksDbStoreLine(dir.path() / "tmp")) != std::string::npos,
              backend == "rocksdb")
        << cli->stderrText();
    EXPECT_THAT(cli->stderrText(), HasSubstr("switched to FINISHED"));
    if (rc != 0)
      return {};
    // Two keyed subtasks, two part files.
    EXPECT_EQ(testing::fileCount(dir.path() / "out"), 2u);
    return sortedLines(dir.path() / "out");
  }
};

TEST_F(KeyedStateJobTest, OracleCoversFewAndManyValuesPerKey) {
  // The keys' counts vary, so the test sees lists shorter than five and lists trimmed to five.
  const auto& lines = expected();
  ASSERT_GT(lines.size(), static_cast<size_t>(kKeys) * 9 / 10);
  size_t shortLists = 0;
  for (const auto& line : lines) {
    if (std::count(line.begin(), line.end(), ' ') < 4)
      ++shortLists;
  }
  EXPECT_GT(shortLists, 0u);
  EXPECT_LT(shortLists, lines.size());
}

TEST_F(KeyedStateJobTest, MiniClusterWithHeapBackendMatchesTheOracle) {
  EXPECT_TRUE(sameLines(runOnMiniCluster("heap"), expected()));
}

TEST_F(KeyedStateJobTest, MiniClusterWithRocksDbBackendMatchesTheOracle) {
  EXPECT_TRUE(sameLines(runOnMiniCluster("rocksdb"), expected()));
}

TEST_F(KeyedStateJobTest, TwoTaskManagersWithRocksDbBackendMatchTheOracle) {
  std::string jm = startJobManager();
  startTaskManager("tm-a", jm, 2);
  startTaskManager("tm-b", jm, 2);
  ASSERT_TRUE(eventually([&] { return slots().second == 4; }, 10s)) << jobManager_->stderrText();

  testing::TempDir output("brook-keyed-state");
  std::vector<std::string> args{"run", "-p", "4", "-D", "state.backend.type=rocksdb"};
  for (auto& a : jobArguments(output.path() / "out"))
    args.push_back(std::move(a));
  auto cli = startCli("cluster-rocksdb", args);
  ASSERT_EQ(cli->stop(0, kJobTimeout), 0) << cli->stderrText();
  // The TaskManagers keep their local state under their io.tmp.dirs, the test's log folder.
  for (const auto& taskManager : taskManagers_) {
    EXPECT_THAT(taskManager->stderrText(), HasSubstr(rocksDbStoreLine(logDir_)));
  }
  EXPECT_THAT(cli->stderrText(), HasSubstr("switched to FINISHED"));
  EXPECT_EQ(testing::fileCount(output.path() / "out"), 4u);
  EXPECT_TRUE(sameLines(sortedLines(output.path() / "out"), expected()));

  // The keyed subtasks ran in both TaskManagers, so state lived in two processes.
  std::string text = cli->stderrText();
  auto at = text.find("JobID ");
  ASSERT_NE(at, std::string::npos) << text;
  v1::JobStatusResponse status = jobStatus(text.substr(at + 6, 32));
  std::set<std::string> hosts;
  for (const auto& t : status.tasks())
    hosts.insert(t.task_manager_id());
  EXPECT_EQ(hosts, (std::set<std::string>{"tm-a", "tm-b"}));
}

}  // namespace
}  // namespace brook
