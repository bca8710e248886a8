#include "runtime/network/remote_input_channel.h"

#include <algorithm>

#include "runtime/network/connection.h"

namespace brook::runtime::network {

FloatingBufferPool::FloatingBufferPool(int numberOfBuffers, int bufferSize)
    : pool_(numberOfBuffers, bufferSize) {
  pool_.setRecycleListener(this);
}

void FloatingBufferPool::request(RemoteInputChannel* channel, int count) {
  std::lock_guard lock(mutex_);
  count = std::min(count, pool_.numberOfBuffers());
  for (; count > 0; --count) {
    Buffer* buffer = pool_.tryRequest();
    if (buffer == nullptr)
      break;
    channel->onFloatingBuffer(buffer);
  }
  bool inLine = channel->floatingWanted_ > 0;
  channel->floatingWanted_ = count;
  if (count > 0 && !inLine)
    line_.push_back(channel);
  else if (count == 0 && inLine)
    line_.erase(std::remove(line_.begin(), line_.end(), channel), line_.end());
}

void FloatingBufferPool::leaveLine(RemoteInputChannel* channel) {
  std::lock_guard lock(mutex_);
  if (channel->floatingWanted_ == 0)
    return;
  channel->floatingWanted_ = 0;
  line_.erase(std::remove(line_.begin(), line_.end(), channel), line_.end());
}

void FloatingBufferPool::onBufferRecycled() {
  // Under the lock, so that a channel that left the line is not called afterwards.
  std::lock_guard lock(mutex_);
  while (!line_.empty()) {
    Buffer* buffer = pool_.tryRequest();
    if (buffer == nullptr)
      return;
    RemoteInputChannel* channel = line_.front();
    line_.pop_front();
    if (--channel->floatingWanted_ > 0)
      line_.push_back(channel);
    channel->onFloatingBuffer(buffer);
  }
}

RemoteInputChannel::RemoteInputChannel(std::string subpartitionId,
                                       int exclusiveBuffers,
                                       int bufferSize,
                                       std::shared_ptr<FloatingBufferPool> floatingBuffers)
    : subpartitionId_(std::move(subpartitionId)),
      pool_(exclusiveBuffers, bufferSize),
      floatingBuffers_(std::move(floatingBuffers)),
      // A window of two or three buffers announces every credit at once.
      announceThreshold_(std::max(
          2,
          (exclusiveBuffers + (floatingBuffers_ ? floatingBuffers_->numberOfBuffers() : 0)) / 2)),
      // The exclusive buffers are the initial credit of the partition request.
      outstandingCredit_(exclusiveBuffers) {
  pool_.setRecycleListener(this);
  if (floatingBuffers_ != nullptr)
    reservedFloating_.reserve(static_cast<size_t>(floatingBuffers_->numberOfBuffers()));
}

RemoteInputChannel::~RemoteInputChannel() {
  // Recycles from here on must not reach a connection: the channel is going away.
  pool_.setRecycleListener(nullptr);
  queue_.releaseAll();
  releaseFloatingBuffers();
}

absl::Status RemoteInputChannel::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

int RemoteInputChannel::reservedFloatingBuffers() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(reservedFloating_.size());
}

void RemoteInputChannel::attach(std::weak_ptr<Connection> connection, uint32_t channelId) {
  connection_ = std::move(connection);
  channelId_ = channelId;
}

Buffer* RemoteInputChannel::requestBuffer() {
  if (Buffer* buffer = pool_.tryRequest())
    return buffer;
  std::lock_guard lock(mutex_);
  if (reservedFloating_.empty())
    return nullptr;
  Buffer* buffer = reservedFloating_.back();
  reservedFloating_.pop_back();
  return buffer;
}

void RemoteInputChannel::deliver(Buffer* buffer, uint32_t backlog) {
  buffersReceived_.fetch_add(1, std::memory_order_relaxed);
  queue_.add(buffer);
  outstandingCredit_.fetch_sub(1);
  // A released channel borrows nothing more (a buffer may still arrive while it is released).
  if (floatingBuffers_ != nullptr && !released_.load()) {
    // The free buffers, each backing credit announced or pending, against the backlog and the
    // exclusive buffers' worth on top (Flink's numRequiredBuffers). The counters may be a step
    // apart while the connection takes credit; the estimate is good enough for lending.
    int64_t free = outstandingCredit_.load() + pendingCredit_.load();
    int64_t required = static_cast<int64_t>(backlog) + pool_.numberOfBuffers();
    floatingBuffers_->request(this, static_cast<int>(std::clamp<int64_t>(
                                        required - free, 0, floatingBuffers_->numberOfBuffers())));
  }
  maybeAnnounceCredit();
}

void RemoteInputChannel::onFloatingBuffer(Buffer* buffer) {
  // The buffer is reserved before its credit goes out, so that every credit is backed.
  {
    std::lock_guard lock(mutex_);
    reservedFloating_.push_back(buffer);
  }
  addCredit(1);
}

void RemoteInputChannel::fail(absl::Status status) {
  std::lock_guard lock(mutex_);
  if (status_.ok())
    status_ = std::move(status);
}

void RemoteInputChannel::releaseQueued() {
  released_.store(true);
  queue_.releaseAll();
  releaseFloatingBuffers();
}

void RemoteInputChannel::releaseFloatingBuffers() {
  if (floatingBuffers_ == nullptr)
    return;
  floatingBuffers_->leaveLine(this);
  std::vector<Buffer*> reserved;
  {
    std::lock_guard lock(mutex_);
    reserved.swap(reservedFloating_);
  }
  for (Buffer* buffer : reserved)
    recycleBuffer(buffer);
}

void RemoteInputChannel::onBufferRecycled() {
  addCredit(1);
}

void RemoteInputChannel::addCredit(uint32_t credit) {
  pendingCredit_.fetch_add(credit);
  maybeAnnounceCredit();
}

void RemoteInputChannel::maybeAnnounceCredit() {
  // Both addCredit and deliver change one counter and then read the other (sequentially
  // consistent), so when credit is pending and the producer runs short, at least one of them
  // sees both changes and schedules the announcement.
  if (pendingCredit_.load() == 0 || outstandingCredit_.load() >= announceThreshold_)
    return;
  // One scheduled announcement carries all credit pending when the connection takes it.
  if (creditScheduled_.exchange(true))
    return;
  if (std::shared_ptr<Connection> connection = connection_.lock())
    connection->scheduleCredit(channelId_);
}

uint32_t RemoteInputChannel::takeCredit() {
  // Cleared before the credit is taken: credit added from here on schedules anew.
  creditScheduled_.store(false);
  uint32_t credit = pendingCredit_.exchange(0);
  outstandingCredit_.fetch_add(credit);
  return credit;
}

}  // namespace brook::runtime::network
