#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "taskmanager/task_executor.h"

namespace grpc {
class Channel;
}

namespace brook::taskmanager {

/// Sends task state changes to the JobMaster in the order they happened, from its own thread,
/// so that task threads never wait on the network. A change that cannot be delivered after a
/// few attempts is dropped with a logged error: the JobManager then learns of the task's end
/// through the TaskManager's heartbeats or its loss.
class TaskStateReporter {
 public:
  TaskStateReporter(std::string taskManagerId, std::string jobManagerAddress);
  /// Delivers what is queued (bounded by the RPC deadlines), then stops.
  ~TaskStateReporter();
  TaskStateReporter(const TaskStateReporter&) = delete;
  TaskStateReporter& operator=(const TaskStateReporter&) = delete;

  /// Queues `change`; never blocks.
  void report(TaskStateChange change);

 private:
  void run(std::stop_token stop);
  bool send(const TaskStateChange& change);

  const std::string taskManagerId_;
  const std::string jobManagerAddress_;
  std::shared_ptr<grpc::Channel> channel_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::deque<TaskStateChange> queue_;
  std::jthread thread_;
};

}  // namespace brook::taskmanager
