#pragma once

/// The thread on which a task writes the state of its checkpoints: the asynchronous phase of an
/// asynchronous barrier snapshot. The task thread takes the synchronous part of a snapshot
/// (a RocksDB snapshot, a frozen copy of heap-held state) and forwards the barrier; the files are
/// written and the checkpoint acknowledged here while the task thread processes records again.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace brook::runtime {

class AsyncCheckpointExecutor {
 public:
  /// One checkpoint's asynchronous part. `cancelled` is set when the task is cancelled or fails:
  /// the work should stop soon (a StateFileStream given the flag fails its next write).
  using Work = std::function<void(const std::atomic<bool>& cancelled)>;

  /// `threadName` names the thread (at most 15 characters are kept).
  explicit AsyncCheckpointExecutor(std::string threadName);
  /// Cancels what is queued or running and waits for it.
  ~AsyncCheckpointExecutor();
  AsyncCheckpointExecutor(const AsyncCheckpointExecutor&) = delete;
  AsyncCheckpointExecutor& operator=(const AsyncCheckpointExecutor&) = delete;

  /// Queues `work`; works run one at a time, in submission order, on one thread started by the
  /// first submission.
  void submit(Work work);

  /// Waits until every submitted work has run (the task finished: its last checkpoints still
  /// complete). After `timeout`, what is left is cancelled and waited for.
  void drain(std::chrono::milliseconds timeout);

  /// Cancels what is queued or running (queued works still run, with the flag set, so that
  /// they decline their checkpoints) and waits for it.
  void cancelAndDrain();

  /// Works submitted and not finished.
  size_t pending() const;

 private:
  void loop();
  void stop();

  const std::string threadName_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Work> queue_;      // guarded by mutex_
  size_t running_ = 0;          // guarded by mutex_
  bool stopping_ = false;       // guarded by mutex_
  std::thread thread_;
};

}  // namespace brook::runtime
