#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace brook::runtime {

class BufferPool;

/// Hears about every buffer that returns to a pool. The network stack uses it to turn a recycled
/// receive buffer into a credit for the sender. Called on the recycling thread, outside the
/// pool's lock; implementations must be cheap and must not block.
class BufferRecycleListener {
 public:
  virtual void onBufferRecycled() = 0;

 protected:
  ~BufferRecycleListener() = default;
};

/// A fixed-size memory segment that carries serialized stream elements. A buffer belongs to
/// one pool and returns to it when its consumer is done with it; an unpooled buffer (pool null)
/// is freed instead.
struct Buffer {
  char* data = nullptr;
  uint32_t capacity = 0;
  uint32_t size = 0;
  BufferPool* pool = nullptr;
  /// Holds one priority event (an unaligned checkpoint barrier) out of band: it overtook the
  /// data buffers queued before it, so its bytes do not continue the channel's element stream.
  bool priority = false;
  /// Holds one barrier that may turn unaligned: it waits in line, and overtakes the data queued
  /// before it (becoming a priority buffer) if it waits too long.
  bool timeoutable = false;

  uint32_t free() const { return capacity - size; }
};

/// A bounded set of buffers. Producers block in `request` when all are in flight; that block is
/// how backpressure reaches a producer whose consumers are slow. Thread-safe.
class BufferPool {
 public:
  BufferPool(int numberOfBuffers, int bufferSize);
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  /// Returns a free buffer, waiting as long as needed; returns null once `cancelled` is set
  /// (checked at least every 50 ms).
  Buffer* request(const std::atomic<bool>& cancelled);
  /// Returns a free buffer, or null at once when none is free.
  Buffer* tryRequest();
  /// Waits until a buffer is free or `timeout` passed; returns whether one is free.
  bool waitUntilAvailable(std::chrono::milliseconds timeout);
  /// Returns a buffer to the pool, wakes a waiting producer and tells the recycle listener.
  void recycle(Buffer* buffer);
  /// Sets the listener told of every recycle; call before the pool's buffers are in use.
  void setRecycleListener(BufferRecycleListener* listener) { listener_ = listener; }

  int numberOfBuffers() const { return static_cast<int>(buffers_.size()); }
  int availableBuffers() const;

 private:
  std::unique_ptr<char[]> memory_;
  std::vector<Buffer> buffers_;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::vector<Buffer*> free_;
  BufferRecycleListener* listener_ = nullptr;
};

/// A buffer of `capacity` bytes that belongs to no pool (events that must not wait for a free
/// buffer, data replayed from a checkpoint); recycleBuffer frees it.
Buffer* allocateUnpooledBuffer(uint32_t capacity);
void freeUnpooledBuffer(Buffer* buffer);

/// Returns a buffer to its pool, or frees an unpooled one.
inline void recycleBuffer(Buffer* buffer) {
  if (buffer->pool != nullptr) [[likely]] {
    buffer->pool->recycle(buffer);
  } else {
    freeUnpooledBuffer(buffer);
  }
}

}  // namespace brook::runtime
