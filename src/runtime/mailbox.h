#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

namespace brook::runtime {

/// The task thread's queue of actions (mails) and its wake-up signal. Any thread may put mail
/// or wake the task (new input, cancellation); only the task thread takes mail and waits.
class Mailbox {
 public:
  using Mail = std::function<void()>;
  using Clock = std::chrono::steady_clock;

  void put(Mail mail);
  /// Takes the oldest mail if there is one.
  bool tryTake(Mail& mail);
  /// Makes the next (or a current) `waitUntil` return at once.
  void wake();
  /// Blocks until woken, mail arrives, or `deadline`; consumes the wake-up.
  void waitUntil(Clock::time_point deadline);

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Mail> mails_;
  bool woken_ = false;
};

}  // namespace brook::runtime
