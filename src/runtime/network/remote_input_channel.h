#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <absl/status/status.h>

#include "runtime/buffer_pool.h"
#include "runtime/result_partition.h"

namespace brook::runtime::network {

class Connection;
class RemoteInputChannel;

/// The floating buffers of one input gate (taskmanager.network.memory.floating-buffers-per-gate):
/// buffers that the gate's remote channels borrow on top of their exclusive ones while their
/// producers have a backlog. A channel that wants more than are free waits in line (once,
/// however many it wants); each recycled buffer goes to the channel at the head of the line,
/// which then goes to the back if it wants more, so that busy channels share the pool in turn.
/// Thread-safe; lock order: this pool, then a channel, then a connection.
class FloatingBufferPool final : public BufferRecycleListener {
 public:
  FloatingBufferPool(int numberOfBuffers, int bufferSize);
  FloatingBufferPool(const FloatingBufferPool&) = delete;
  FloatingBufferPool& operator=(const FloatingBufferPool&) = delete;

  int numberOfBuffers() const { return pool_.numberOfBuffers(); }
  int availableBuffers() const { return pool_.availableBuffers(); }

  /// Sets the number of buffers that `channel` wants now (at most numberOfBuffers(); 0: none)
  /// in place of what it wanted before. Free buffers go to it at once, the others as they are
  /// recycled, while it waits in line; all through RemoteInputChannel::onFloatingBuffer.
  void request(RemoteInputChannel* channel, int count);
  /// Takes `channel` out of the line; once this returns, the pool does not call it again.
  void leaveLine(RemoteInputChannel* channel);

  /// Hands a recycled buffer to the channel at the head of the line.
  void onBufferRecycled() override;

 private:
  BufferPool pool_;
  std::mutex mutex_;
  std::deque<RemoteInputChannel*> line_;
};

/// The consumer end of one remote subpartition. Buffers arrive from the connection's reader
/// thread and are queued in a local ResultSubpartition, which an InputGate reads like any
/// local channel. The producer may send one buffer per credit, and each credit stands for a
/// free buffer of this channel:
/// - its exclusive buffers (taskmanager.network.memory.buffers-per-channel): each one that the
///   consumer recycles is a credit;
/// - floating buffers of its gate's FloatingBufferPool, if it has one. Each BUFFER frame
///   carries the producer's backlog, and as in Flink the channel keeps as many free buffers
///   as the backlog and its exclusive buffers together, borrowing floating ones (at once or
///   as they are recycled) for the difference and granting a credit for each. A channel whose
///   producer has a backlog so keeps up to its exclusive and the gate's floating buffers in
///   flight, however long a credit takes to travel, while one that gets a buffer now and then
///   borrows one at most. Floating buffers return to the gate's pool when the
///   consumer recycles them; credit cannot be taken back, so those lent for credit that the
///   producer does not use return only when the channel is released.
/// Credit is announced at once while the producer holds less than half of the channel's
/// window (exclusive and the gate's floating buffers), and gathers while it holds more: each
/// arriving buffer checks again, so the producer never waits for credit that gathers here,
/// and a busy channel announces credit for several buffers with one frame (and one wake-up of
/// each thread on the way) instead of one per buffer.
/// Owned by the NetworkEnvironment that created it; thread-safe.
class RemoteInputChannel final : public BufferRecycleListener {
 public:
  /// `floatingBuffers` is the pool shared by the channels of the gate, or null for none.
  RemoteInputChannel(std::string subpartitionId,
                     int exclusiveBuffers,
                     int bufferSize,
                     std::shared_ptr<FloatingBufferPool> floatingBuffers = nullptr);
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
  /// Exclusive buffers neither queued nor held by the consumer; all of them once the channel
  /// is idle.
  int availableBuffers() const { return pool_.availableBuffers(); }
  /// Floating buffers lent to this channel and backing credit, not yet filled.
  int reservedFloatingBuffers() const;
  /// Buffers received so far.
  int64_t buffersReceived() const { return buffersReceived_.load(std::memory_order_relaxed); }

  // The connection's side.
  /// Binds the channel to its connection under `channelId`; before any buffer arrives.
  void attach(std::weak_ptr<Connection> connection, uint32_t channelId);
  uint32_t channelId() const { return channelId_; }
  /// The connection the channel reads from, or null once it is gone.
  std::shared_ptr<Connection> connection() const { return connection_.lock(); }
  /// A free buffer for the next BUFFER frame, exclusive or lent floating one, or null (the
  /// sender broke credit).
  Buffer* requestBuffer();
  /// Queues a filled buffer for the InputGate and borrows floating buffers for the producer's
  /// `backlog` as described above. Called by the connection's reader thread.
  void deliver(Buffer* buffer, uint32_t backlog);
  /// Ends the channel with `status`; the first failure wins.
  void fail(absl::Status status);
  /// Takes the credit granted since the last call, for the connection to announce.
  uint32_t takeCredit();
  /// Recycles queued buffers that nobody will read and gives the lent floating buffers back
  /// to the gate's pool: the producer sends nothing more.
  void releaseQueued();

  /// An exclusive buffer came back: one credit.
  void onBufferRecycled() override;

 private:
  friend class FloatingBufferPool;

  /// Called by the gate's pool with a buffer lent to this channel while it waited in line.
  void onFloatingBuffer(Buffer* buffer);
  /// Adds `credit` to the credit to announce.
  void addCredit(uint32_t credit);
  /// Asks the connection to announce the pending credit unless the producer holds enough or
  /// an announcement is already scheduled.
  void maybeAnnounceCredit();
  /// Leaves the gate's line and gives the lent floating buffers back.
  void releaseFloatingBuffers();

  const std::string subpartitionId_;
  BufferPool pool_;
  /// Shared with the other channels of the gate, which the environment frees in any order.
  const std::shared_ptr<FloatingBufferPool> floatingBuffers_;
  ResultSubpartition queue_;
  std::weak_ptr<Connection> connection_;
  uint32_t channelId_ = 0;
  /// Credit held back until the producer runs short (see the class comment).
  const int announceThreshold_;
  std::atomic<uint32_t> pendingCredit_{0};
  /// Credit announced (the initial credit included) minus buffers received: what the producer
  /// may still send, as far as this side knows.
  std::atomic<int64_t> outstandingCredit_;
  std::atomic<bool> creditScheduled_{false};
  std::atomic<bool> released_{false};  ///< set by releaseQueued
  std::atomic<int64_t> buffersReceived_{0};
  mutable std::mutex mutex_;
  absl::Status status_;                    ///< guarded by mutex_
  std::vector<Buffer*> reservedFloating_;  ///< lent, backing credit; guarded by mutex_
  int floatingWanted_ = 0;                 ///< guarded by the gate pool's mutex
};

}  // namespace brook::runtime::network
