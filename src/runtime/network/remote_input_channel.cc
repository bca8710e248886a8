#include "runtime/network/remote_input_channel.h"

#include "runtime/network/connection.h"

namespace brook::runtime::network {

RemoteInputChannel::RemoteInputChannel(std::string subpartitionId,
                                       int exclusiveBuffers,
                                       int bufferSize)
    : subpartitionId_(std::move(subpartitionId)), pool_(exclusiveBuffers, bufferSize) {
  pool_.setRecycleListener(this);
}

RemoteInputChannel::~RemoteInputChannel() {
  // Recycles from here on must not reach a connection: the channel is going away.
  pool_.setRecycleListener(nullptr);
  queue_.releaseAll();
}

absl::Status RemoteInputChannel::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void RemoteInputChannel::attach(std::weak_ptr<Connection> connection, uint32_t channelId) {
  connection_ = std::move(connection);
  channelId_ = channelId;
}

void RemoteInputChannel::deliver(Buffer* buffer) {
  buffersReceived_.fetch_add(1, std::memory_order_relaxed);
  queue_.add(buffer);
}

void RemoteInputChannel::fail(absl::Status status) {
  std::lock_guard lock(mutex_);
  if (status_.ok())
    status_ = std::move(status);
}

void RemoteInputChannel::onBufferRecycled() {
  // Only the recycle that finds no credit pending schedules an ADD_CREDIT; later ones ride
  // along with it, so a burst of recycles costs one frame.
  if (pendingCredit_.fetch_add(1, std::memory_order_acq_rel) != 0)
    return;
  if (std::shared_ptr<Connection> connection = connection_.lock())
    connection->scheduleCredit(channelId_);
}

}  // namespace brook::runtime::network
