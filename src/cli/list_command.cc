// `brook list`: the JobManager's jobs, printed as Flink's `flink list` prints them.

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/cluster_client.h"
#include "cli/commands.h"

namespace brook::cli {

namespace {

constexpr char kRunningHeader[] = "------------------ Running/Restarting Jobs -------------------";
constexpr char kTerminatedHeader[] =
    "---------------------- Terminated Jobs -----------------------";
constexpr char kFooter[] = "--------------------------------------------------------------";

// "dd.MM.yyyy HH:mm:ss" in local time, as Flink prints a job's start time.
std::string formatStartTime(int64_t millisSinceEpoch) {
  if (millisSinceEpoch <= 0)
    return "--.--.---- --:--:--";
  time_t seconds = static_cast<time_t>(millisSinceEpoch / 1000);
  struct tm local {};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof(text), "%d.%m.%Y %H:%M:%S", &local);
  return text;
}

void printSection(const char* header,
                  const char* none,
                  std::vector<const v1::JobStatusResponse*> jobs) {
  if (jobs.empty()) {
    std::printf("%s\n", none);
    return;
  }
  std::stable_sort(jobs.begin(), jobs.end(), [](const auto* a, const auto* b) {
    return a->start_time_millis() < b->start_time_millis();
  });
  std::printf("%s\n", header);
  for (const auto* job : jobs) {
    std::printf("%s : %s : %s (%s)\n", formatStartTime(job->start_time_millis()).c_str(),
                job->job_id().c_str(), job->job_name().c_str(), jobStatusName(job->status()));
  }
  std::printf("%s\n", kFooter);
}

}  // namespace

int listCommand(const ListOptions& options) {
  auto config = loadCommandConfiguration(options.configuration);
  if (!config.ok()) {
    std::cerr << "error: " << config.status().message() << "\n";
    return kExitUsage;
  }
  auto client = connectToJobManager(options.jobManager, *config);
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    return absl::IsInvalidArgument(client.status()) ? kExitUsage : kExitFailure;
  }
  auto jobs = (*client)->listJobs(options.all);
  if (!jobs.ok()) {
    std::cerr << "error: " << jobs.status().message() << "\n";
    return kExitFailure;
  }
  std::vector<const v1::JobStatusResponse*> running;
  std::vector<const v1::JobStatusResponse*> terminated;
  for (const auto& job : *jobs)
    (isTerminal(job.status()) ? terminated : running).push_back(&job);
  printSection(kRunningHeader, "No running jobs.", running);
  if (options.all)
    printSection(kTerminatedHeader, "No terminated jobs.", terminated);
  return kExitSuccess;
}

}  // namespace brook::cli
