#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

#include "taskmanager/task_executor.h"

namespace grpc {
class Channel;
}

namespace brook::taskmanager {

/// Sends task state changes and checkpoint acknowledgements to the JobMaster in the order they
/// happened, from its own thread, so that task threads never wait on the network. An undeliverable change is retried with
/// backoff for `retryFor` (the heartbeat timeout), then dropped with a logged error: by then
/// the TaskManager has declared the JobManager lost and released its jobs, or the JobManager
/// has declared the TaskManager lost and failed its tasks, so no job waits on it forever.
class TaskStateReporter {
 public:
  TaskStateReporter(std::string taskManagerId,
                    std::string jobManagerAddress,
                    std::chrono::milliseconds retryFor);
  /// Delivers what is queued (bounded by the RPC deadlines), then stops.
  ~TaskStateReporter();
  TaskStateReporter(const TaskStateReporter&) = delete;
  TaskStateReporter& operator=(const TaskStateReporter&) = delete;

  /// Queues `change`; never blocks.
  void report(TaskStateChange change);
  /// Queues a task's acknowledgement (or decline) of a checkpoint; never blocks.
  void reportCheckpoint(v1::AcknowledgeCheckpointRequest acknowledgement);

 private:
  using Message = std::variant<TaskStateChange, v1::AcknowledgeCheckpointRequest>;
  void run(std::stop_token stop);
  bool send(const TaskStateChange& change);
  bool send(const v1::AcknowledgeCheckpointRequest& acknowledgement);
  void logUndelivered(const Message& message) const;

  const std::string taskManagerId_;
  const std::string jobManagerAddress_;
  const std::chrono::milliseconds retryFor_;
  std::shared_ptr<grpc::Channel> channel_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::deque<Message> queue_;
  std::jthread thread_;
};

}  // namespace brook::taskmanager
