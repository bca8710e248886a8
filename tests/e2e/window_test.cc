// The acceptance test of event-time windows: tests/jobs/window_job.cc (per-key sums in tumbling
// 10 s windows over a 4-subtask generated source with monotonous watermarks) run with the brook
// CLI on a JobManager and two TaskManagers, with the heap and the RocksDB backend, its output
// compared line by line with a single loop that computes the same sums.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <system_error>
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

const std::string kWindowJob = BROOK_WINDOW_JOB;

// The full acceptance size; a tenth of it under AddressSanitizer, which is several times slower.
constexpr int64_t kEvents = kSanitized ? 200'000 : 2'000'000;
constexpr int64_t kKeys = 1'000;
constexpr int64_t kStepMillis = 1;
constexpr int64_t kWindowMillis = 10'000;
constexpr auto kJobTimeout = std::chrono::seconds(240);

// The job's event definition, written out again: event i is (splitMix64(i) % keys, i % 1000)
// at time i * step.
uint64_t splitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// What the job must write, sorted: "key,windowStart,sum" for every key and tumbling window
// with events.
std::vector<std::string> expectedLines(int64_t events, int64_t keys) {
  const int64_t windows = events == 0 ? 0 : (events - 1) * kStepMillis / kWindowMillis + 1;
  std::vector<int64_t> sums(static_cast<size_t>(windows * keys), 0);
  std::vector<bool> seen(sums.size(), false);
  for (int64_t i = 0; i < events; ++i) {
    auto key = static_cast<int64_t>(splitMix64(static_cast<uint64_t>(i)) %
                                    static_cast<uint64_t>(keys));
    int64_t window = i * kStepMillis / kWindowMillis;
    auto slot = static_cast<size_t>(window * keys + key);
    sums[slot] += i % 1000;
    seen[slot] = true;
  }
  std::vector<std::string> lines;
  for (int64_t window = 0; window < windows; ++window) {
    for (int64_t key = 0; key < keys; ++key) {
      auto slot = static_cast<size_t>(window * keys + key);
      if (seen[slot]) {
        lines.push_back(std::to_string(key) + "," + std::to_string(window * kWindowMillis) + "," +
                        std::to_string(sums[slot]));
      }
    }
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// The oracle's result for the test's size, computed once.
const std::vector<std::string>& expected() {
  static const std::vector<std::string> lines = expectedLines(kEvents, kKeys);
  return lines;
}

class WindowJobTest : public ClusterTest {
 protected:
  // Runs the job with `brook run -p 4` on two TaskManagers of two slots each with `backend`,
  // checks that its tasks ran in both, and returns its sorted output.
  std::vector<std::string> runOnTwoTaskManagers(const std::string& backend,
                                                bool localAggregation = false) {
    std::string jm = startJobManager();
    startTaskManager("tm-a", jm, 2);
    startTaskManager("tm-b", jm, 2);
    EXPECT_TRUE(eventually([&] { return slots().second == 4; }, 10s))
        << jobManager_->stderrText();

    testing::TempDir output("brook-window");
    std::vector<std::string> args{"run",
                                  "-p",
                                  "4",
                                  "-D",
                                  "state.backend.type=" + backend,
                                  kWindowJob,
                                  "--",
                                  "--events=" + std::to_string(kEvents),
                                  "--keys=" + std::to_string(kKeys),
                                  "--step-ms=" + std::to_string(kStepMillis),
                                  "--window-ms=" + std::to_string(kWindowMillis),
                                  "--output=" + (output.path() / "out").string()};
    if (localAggregation)
      args.push_back("--local-aggregation");
    auto started = std::chrono::steady_clock::now();
    auto cli = startCli("cluster-" + backend, args);
    int rc = cli->stop(0, kJobTimeout);
    // The setting reaches the tasks: RocksDB keeps its stores under the TaskManagers'
    // io.tmp.dirs, the test's log folder, and the tasks say so.
    for (const auto& taskManager : taskManagers_) {
      EXPECT_EQ(taskManager->stderrText().find("keyed state in RocksDB at '" + logDir_) !=
                    std::string::npos,
                backend == "rocksdb")
          << taskManager->stderrText();
    }
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
    EXPECT_EQ(rc, 0) << cli->stderrText();
    if (rc != 0)
      return {};
    std::string text = cli->stderrText();
    EXPECT_THAT(text, HasSubstr("switched to FINISHED"));
    std::printf("window_job with %s on two TaskManagers: %.1f s\n", backend.c_str(),
                seconds.count());

    // The window subtasks ran in both TaskManagers, so windows lived in two processes.
    auto at = text.find("JobID ");
    EXPECT_NE(at, std::string::npos) << text;
    if (at != std::string::npos) {
      v1::JobStatusResponse status = jobStatus(text.substr(at + 6, 32));
      std::set<std::string> hosts;
      for (const auto& t : status.tasks())
        hosts.insert(t.task_manager_id());
      EXPECT_EQ(hosts, (std::set<std::string>{"tm-a", "tm-b"}));
    }
    // Four window subtasks, four part files.
    EXPECT_EQ(testing::fileCount(output.path() / "out"), 4u);
    return sortedLines(output.path() / "out");
  }
};

TEST_F(WindowJobTest, OracleSpansManyWindowsWithSeveralEventsPerKey) {
  const auto& lines = expected();
  const int64_t windows = (kEvents - 1) * kStepMillis / kWindowMillis + 1;
  EXPECT_GE(windows, 20);
  // Nearly every key has events in every window, about ten on average.
  EXPECT_GT(lines.size(), static_cast<size_t>(windows * kKeys) * 99 / 100);
  EXPECT_LE(lines.size(), static_cast<size_t>(windows * kKeys));
}

TEST_F(WindowJobTest, TwoTaskManagersWithHeapBackendMatchTheOracle) {
  EXPECT_TRUE(sameLines(runOnTwoTaskManagers("heap"), expected()));
}

TEST_F(WindowJobTest, TwoTaskManagersWithRocksDbBackendMatchTheOracle) {
  EXPECT_TRUE(sameLines(runOnTwoTaskManagers("rocksdb"), expected()));
}

// The partials folded in the source tasks cross TCP between the TaskManagers as records of
// their own.
TEST_F(WindowJobTest, TwoTaskManagersWithLocalAggregationOnHeapMatchTheOracle) {
  EXPECT_TRUE(sameLines(runOnTwoTaskManagers("heap", /*localAggregation=*/true), expected()));
}

TEST_F(WindowJobTest, TwoTaskManagersWithLocalAggregationOnRocksDbMatchTheOracle) {
  EXPECT_TRUE(sameLines(runOnTwoTaskManagers("rocksdb", /*localAggregation=*/true), expected()));
}

}  // namespace
}  // namespace brook
