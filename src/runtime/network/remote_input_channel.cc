#include "runtime/network/remote_input_channel.h"

#include <algorithm>

#include "runtime/network/connection.h"

namespace brook::runtime::network {

FloatingBufferPool::FloatingBufferPool(int numberOfBuffers, int bufferSize)
    : pool_(numberOfBuffers, bufferSize) {
  pool_.setRecycleListener(this);
}

Buffer* FloatingBufferPool::request(RemoteInputChannel* channel) {
  std::lock_guard lock(mutex_);
  if (Buffer* buffer = pool_.tryRequest())
    return buffer;
  int& wanted = channel->floatingWanted_;
  if (wanted < pool_.numberOfBuffers() && wanted++ == 0)
    line_.push_back(channel);
  return nullptr;
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
      floatingBuffers_(std::move(floatingBuffers)) {
  pool_.setRecycleListener(this);
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

void RemoteInputChannel::deliver(Buffer* buffer) {
  // Read before the buffer is queued: the consumer may recycle it at once.
  const bool floating = buffer->pool != &pool_;
  buffersReceived_.fetch_add(1, std::memory_order_relaxed);
  queue_.add(buffer);
  if (floatingBuffers_ == nullptr)
    return;
  // The producer used a floating buffer, or all the credit it had: it sends faster than
  // credit comes back. Replace the floating buffer, or grow the window by one.
  bool exhausted;
  {
    std::lock_guard lock(mutex_);
    exhausted = reservedFloating_.empty();
  }
  exhausted = exhausted && pool_.availableBuffers() == 0;
  if (!floating && !exhausted)
    return;
  if (Buffer* lent = floatingBuffers_->request(this))
    onFloatingBuffer(lent);
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
  // Only the credit that finds none pending schedules an ADD_CREDIT; later ones ride along
  // with it, so a burst of recycles costs one frame.
  if (pendingCredit_.fetch_add(credit, std::memory_order_acq_rel) != 0)
    return;
  if (std::shared_ptr<Connection> connection = connection_.lock())
    connection->scheduleCredit(channelId_);
}

}  // namespace brook::runtime::network
