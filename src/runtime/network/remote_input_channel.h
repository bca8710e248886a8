#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <absl/status/status.h>

#include "runtime/buffer_pool.h"
#include "runtime/result_partition.h"

namespace brook::runtime::network {

class Connection;

/// The consumer end of one remote subpartition. Buffers arrive from the connection's reader
/// thread into this channel's exclusive buffers and are queued in a local ResultSubpartition,
/// which an InputGate reads like any local channel. Each recycled buffer becomes one credit
/// for the producer. Owned by the NetworkEnvironment that created it; thread-safe.
class RemoteInputChannel final : public BufferRecycleListener {
 public:
  RemoteInputChannel(std::string subpartitionId, int exclusiveBuffers, int bufferSize);
  ~RemoteInputChannel();
  RemoteInputChannel(const RemoteInputChannel&) = delete;
  RemoteInputChannel& operator=(const RemoteInputChannel&) = delete;

  /// The queue that an InputGate reads (InputGate::addChannel).
  ResultSubpartition* subpartition() { return &queue_; }
  const std::string& subpartitionId() const { return subpartitionId_; }
  /// OK while the channel works; the error that ended it otherwise (connection lost, the
  /// producer does not know the subpartition, ...).
  absl::Status status() const;
  int exclusiveBuffers() const { return pool_.numberOfBuffers(); }
  /// Buffers neither queued nor held by the consumer; all of them once the channel is idle.
  int availableBuffers() const { return pool_.availableBuffers(); }
  /// Buffers received so far.
  int64_t buffersReceived() const { return buffersReceived_.load(std::memory_order_relaxed); }

  // The connection's side.
  /// Binds the channel to its connection under `channelId`; before any buffer arrives.
  void attach(std::weak_ptr<Connection> connection, uint32_t channelId);
  uint32_t channelId() const { return channelId_; }
  /// The connection the channel reads from, or null once it is gone.
  std::shared_ptr<Connection> connection() const { return connection_.lock(); }
  /// A free exclusive buffer for the next BUFFER frame, or null (the sender broke credit).
  Buffer* requestBuffer() { return pool_.tryRequest(); }
  /// Queues a filled buffer for the InputGate.
  void deliver(Buffer* buffer);
  /// Ends the channel with `status`; the first failure wins.
  void fail(absl::Status status);
  /// Takes the credits that recycles granted since the last call.
  uint32_t takeCredit() { return pendingCredit_.exchange(0, std::memory_order_acq_rel); }
  /// Recycles queued buffers that nobody will read.
  void releaseQueued() { queue_.releaseAll(); }

  void onBufferRecycled() override;

 private:
  const std::string subpartitionId_;
  BufferPool pool_;
  ResultSubpartition queue_;
  std::weak_ptr<Connection> connection_;
  uint32_t channelId_ = 0;
  std::atomic<uint32_t> pendingCredit_{0};
  std::atomic<int64_t> buffersReceived_{0};
  mutable std::mutex mutex_;
  absl::Status status_;
};

}  // namespace brook::runtime::network
