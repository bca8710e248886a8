// The fraud detection example end to end: the real job library on the mini-cluster, on both
// state backends, against alerts computed by a plain loop over the same transactions.

#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "integration/test_process.h"
#include "runtime/job_graph.h"
#include "runtime/job_library.h"
#include "runtime/mini_cluster.h"

namespace brook {
namespace {

using ::testing::UnorderedElementsAreArray;

// The example's transaction amounts (its documented generator): transaction i belongs to
// account i % 5 + 1 and has amount kAmounts[i % 50].
constexpr double kAmounts[] = {
    188.23, 374.79, 112.15, 478.75, 208.85, 379.64, 351.44, 320.75, 259.42, 273.44,
    267.25, 397.15, 0.219,  231.94, 384.73, 419.62, 412.91, 0.77,   22.10,  377.54,
    375.44, 230.18, 0.80,   350.89, 127.55, 483.91, 228.22, 871.15, 64.19,  79.43,
    56.12,  256.48, 148.16, 199.95, 252.37, 274.73, 473.54, 119.92, 323.59, 353.16,
    211.90, 280.93, 347.89, 459.86, 82.31,  373.26, 479.83, 454.25, 83.64,  292.44};

// An alert for each transaction above 500 whose account's previous transaction was below 1
// (the run takes far less than the minute after which a small transaction is forgotten).
std::vector<std::string> expectedAlerts(int64_t transactions) {
  std::map<int64_t, double> previous;
  std::vector<std::string> alerts;
  for (int64_t id = 0; id < transactions; ++id) {
    int64_t account = id % 5 + 1;
    double amount = kAmounts[id % 50];
    auto it = previous.find(account);
    if (it != previous.end() && it->second < 1.0 && amount > 500.0)
      alerts.push_back("alert," + std::to_string(account) + "," + std::to_string(id));
    previous[account] = amount;
  }
  return alerts;
}

class FraudDetectionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FraudDetectionTest, AlertsMatchAPlainLoop) {
  testing::TempDir out;
  auto library = runtime::JobLibrary::load(BROOK_FRAUD_DETECTION_JOB);
  ASSERT_TRUE(library.ok()) << library.status();
  Configuration config;
  config.set("parallelism.default", "2");
  config.set("state.backend.type", GetParam());
  config.set("io.tmp.dirs", out.path());
  StreamExecutionEnvironment env(config.values());
  auto args = JobArgs::parse({"--output", out.path() + "/alerts", "--transactions", "20000"});
  ASSERT_TRUE((*library)->plan(env, args).ok());
  auto graph = runtime::buildJobGraph(env, config, "fraud-detection");
  ASSERT_TRUE(graph.ok()) << graph.status();
  runtime::MiniCluster cluster;
  auto result = cluster.execute(*graph, args);
  ASSERT_EQ(result.status, runtime::JobStatus::kFinished) << result.failure;
  std::vector<std::string> expected = expectedAlerts(20000);
  ASSERT_FALSE(expected.empty());
  EXPECT_THAT(testing::readPartFiles(out.path() + "/alerts"), UnorderedElementsAreArray(expected));
}

INSTANTIATE_TEST_SUITE_P(Backends,
                         FraudDetectionTest,
                         ::testing::Values("heap", "rocksdb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace brook
