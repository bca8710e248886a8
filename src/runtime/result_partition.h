#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/buffer_pool.h"

namespace brook::runtime {

/// The consumer of a ResultSubpartition: an InputGate in the same process, or the network
/// reader that sends the subpartition's buffers to a remote InputGate.
class SubpartitionListener {
 public:
  /// Tells the consumer that the subpartition's queue turned non-empty. Called on the
  /// producer's thread while the subpartition's lock is held: must not block or call back into
  /// the subpartition.
  virtual void notifyDataAvailable(int channelIndex) = 0;

 protected:
  ~SubpartitionListener() = default;
};

/// The queue of finished buffers from one producer subtask to one consumer channel.
/// The producer adds, the consumer polls; thread-safe.
class ResultSubpartition {
 public:
  /// Attaches the consumer: `listener` is told when the queue turns non-empty. A null listener
  /// detaches the current one; once this returns, the old listener is never called again.
  void setConsumer(SubpartitionListener* listener, int channelIndex);
  void add(Buffer* buffer);
  /// Queues a priority buffer ahead of every data buffer (behind earlier priority buffers) and
  /// appends the bytes of the data buffers it overtook to `overtaken`: the in-flight data of an
  /// unaligned checkpoint, which the consumer now reads after the barrier.
  void addPriority(Buffer* buffer, std::string& overtaken);
  /// Where the timeoutable barrier of a checkpoint is (see timeoutableBarrier).
  enum class BarrierState { kConsumed, kQueued, kConverted };
  /// Looks for the timeoutable barrier buffer of checkpoint `checkpointId`: kConsumed when it is
  /// no longer queued, kQueued when it still is, kConverted when `convert` moved it ahead of the
  /// data buffers queued before it as a priority buffer, their bytes appended to `overtaken`.
  BarrierState timeoutableBarrier(int64_t checkpointId, bool convert, std::string& overtaken);
  /// Returns the next buffer or null; `moreAvailable` says whether others remain.
  Buffer* poll(bool& moreAvailable);
  /// Appends up to `max` buffers to `out`, oldest first, under one lock, and returns the
  /// number that remain queued (the backlog).
  size_t poll(std::vector<Buffer*>& out, size_t max);
  /// Recycles buffers nobody will read (the job ended or failed).
  void releaseAll();

 private:
  /// Inserts `buffer` ahead of the data buffers among the first `end` queued (behind the
  /// priority buffers at the front) and appends their bytes to `overtaken`. Lock held.
  void insertAheadOfData(Buffer* buffer, size_t end, std::string& overtaken);

  std::mutex mutex_;
  std::deque<Buffer*> queue_;
  SubpartitionListener* listener_ = nullptr;
  int channelIndex_ = -1;
};

/// One producer subtask's output on one job edge: a subpartition per consumer channel and a
/// bounded buffer pool shared by them.
class ResultPartition {
 public:
  ResultPartition(int numberOfSubpartitions, int numberOfBuffers, int bufferSize)
      : subpartitions_(static_cast<size_t>(numberOfSubpartitions)),
        pool_(numberOfBuffers, bufferSize) {}

  int numberOfSubpartitions() const { return static_cast<int>(subpartitions_.size()); }
  ResultSubpartition& subpartition(int i) { return subpartitions_[static_cast<size_t>(i)]; }
  BufferPool& pool() { return pool_; }
  void releaseAll() {
    for (auto& s : subpartitions_)
      s.releaseAll();
  }

 private:
  std::vector<ResultSubpartition> subpartitions_;
  BufferPool pool_;
};

}  // namespace brook::runtime
