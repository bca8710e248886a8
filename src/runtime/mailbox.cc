#include "runtime/mailbox.h"

namespace brook::runtime {

void Mailbox::put(Mail mail) {
  {
    std::lock_guard lock(mutex_);
    mails_.push_back(std::move(mail));
    woken_ = true;
  }
  cv_.notify_one();
}

bool Mailbox::tryTake(Mail& mail) {
  std::lock_guard lock(mutex_);
  if (mails_.empty())
    return false;
  mail = std::move(mails_.front());
  mails_.pop_front();
  return true;
}

void Mailbox::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_one();
}

void Mailbox::waitUntil(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [this] { return woken_ || !mails_.empty(); });
  woken_ = false;
}

}  // namespace brook::runtime
