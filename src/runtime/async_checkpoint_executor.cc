#include "runtime/async_checkpoint_executor.h"

#include <pthread.h>

#include <utility>

#include "common/logging.h"

namespace brook::runtime {

AsyncCheckpointExecutor::AsyncCheckpointExecutor(std::string threadName)
    : threadName_(std::move(threadName)) {}

AsyncCheckpointExecutor::~AsyncCheckpointExecutor() { cancelAndDrain(); }

void AsyncCheckpointExecutor::submit(Work work) {
  std::lock_guard lock(mutex_);
  queue_.push_back(std::move(work));
  if (!thread_.joinable()) {
    stopping_ = false;
    thread_ = std::thread([this] { loop(); });
  }
  changed_.notify_all();
}

void AsyncCheckpointExecutor::loop() {
  ::pthread_setname_np(::pthread_self(), threadName_.substr(0, 15).c_str());
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty())
      return;  // stopping, and nothing left
    Work work = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    try {
      work(cancelled_);
    } catch (const std::exception& e) {
      getLogger("runtime")->error("asynchronous checkpoint work failed: {}", e.what());
    } catch (...) {
      getLogger("runtime")->error("asynchronous checkpoint work failed with an unknown exception");
    }
    work = nullptr;  // its captures (snapshots that pin state) go before the next one runs
    lock.lock();
    --running_;
    changed_.notify_all();
  }
}

void AsyncCheckpointExecutor::drain(std::chrono::milliseconds timeout) {
  {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return queue_.empty() && running_ == 0; })) {
      getLogger("runtime")->warn(
          "'{}': asynchronous checkpoint writes did not finish within {} ms; cancelling them",
          threadName_, timeout.count());
      cancelled_.store(true);
    }
  }
  stop();
}

void AsyncCheckpointExecutor::cancelAndDrain() {
  cancelled_.store(true);
  stop();
}

void AsyncCheckpointExecutor::stop() {
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
    thread = std::move(thread_);
  }
  // The loop runs what is queued (cancelled, each returns at its next write) and then ends.
  if (thread.joinable())
    thread.join();
}

size_t AsyncCheckpointExecutor::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size() + running_;
}

}  // namespace brook::runtime
