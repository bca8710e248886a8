#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>

#include "brook/brook.grpc.pb.h"

namespace brook::jobmanager {

/// The registry of TaskManagers and their slots. TaskManagers register and then heartbeat;
/// one that misses heartbeats for `heartbeatTimeout` is declared lost, removed, and reported to
/// the loss listeners. Thread-safe; `start` runs the loss checker on its own thread and `stop`
/// returns once it has ended.
class ResourceManager {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::chrono::milliseconds heartbeatInterval{1000};
    std::chrono::milliseconds heartbeatTimeout{10000};
  };

  struct TaskManager {
    std::string id;
    std::string rpcAddress;
    std::string dataAddress;
    int numberOfSlots = 0;
    std::vector<std::string> slotJobs;  ///< per slot: the job it is allocated to, or empty
    Clock::time_point lastHeartbeat;
    int64_t networkBytesSent = 0;
    int64_t networkBytesReceived = 0;
    /// Per running task ("job/vertex/subtask"), as of the last heartbeat.
    std::map<std::string, double> backpressure;

    int freeSlots() const {
      return static_cast<int>(std::count(slotJobs.begin(), slotJobs.end(), std::string()));
    }
  };

  /// One slot allocated to a job.
  struct SlotAssignment {
    std::string taskManagerId;
    std::string rpcAddress;
    std::string dataAddress;
    int slotIndex = 0;
  };

  struct SlotSummary {
    int taskManagers = 0;
    int totalSlots = 0;
    int freeSlots = 0;
  };

  using LossListener =
      std::function<void(const std::string& taskManagerId, const std::string& reason)>;

  explicit ResourceManager(Options options);
  ~ResourceManager();
  ResourceManager(const ResourceManager&) = delete;
  ResourceManager& operator=(const ResourceManager&) = delete;

  void start();
  void stop();

  /// Registers (or re-registers, replacing the old entry) a TaskManager.
  absl::Status registerTaskManager(const v1::RegisterTaskManagerRequest& request);
  /// Records a heartbeat; false if the TaskManager is unknown (it must register again).
  absl::StatusOr<bool> heartbeat(const v1::HeartbeatRequest& request);
  /// Declares lost every TaskManager whose last heartbeat is older than the timeout.
  void checkHeartbeats();
  /// Declares a TaskManager lost at once, e.g. when it refuses connections.
  void declareLost(const std::string& taskManagerId, const std::string& reason);

  /// Allocates `count` free slots to `jobId`, spread evenly over the TaskManagers.
  /// ResourceExhausted, saying how many slots are free and registered, if too few are free;
  /// nothing is allocated then.
  absl::StatusOr<std::vector<SlotAssignment>> allocateSlots(const std::string& jobId, int count);
  /// Frees every slot allocated to `jobId`.
  void releaseSlots(const std::string& jobId);
  SlotSummary slotSummary() const;

  std::vector<TaskManager> taskManagers() const;
  std::vector<std::pair<std::string, std::string>> lostTaskManagers() const;
  void addLossListener(LossListener listener);
  const Options& options() const { return options_; }

 private:
  Options options_;
  mutable absl::Mutex mutex_;
  std::map<std::string, TaskManager> taskManagers_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::pair<std::string, std::string>> lost_ ABSL_GUARDED_BY(mutex_);
  std::vector<LossListener> listeners_ ABSL_GUARDED_BY(mutex_);
  void notifyLost(const std::vector<std::pair<std::string, std::string>>& lostNow);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::jthread checker_;
};

/// The gRPC face of the ResourceManager.
class ResourceManagerService final : public v1::ResourceManager::Service {
 public:
  explicit ResourceManagerService(ResourceManager* resourceManager)
      : resourceManager_(resourceManager) {}

  grpc::Status RegisterTaskManager(grpc::ServerContext* context,
                                   const v1::RegisterTaskManagerRequest* request,
                                   v1::RegisterTaskManagerResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context,
                         const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status ListTaskManagers(grpc::ServerContext* context,
                                const v1::ListTaskManagersRequest* request,
                                v1::ListTaskManagersResponse* response) override;

 private:
  ResourceManager* resourceManager_;
};

}  // namespace brook::jobmanager
