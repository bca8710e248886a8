#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace brook::runtime {

class BufferPool;

/// A fixed-size memory segment that carries serialized stream elements. A buffer belongs to
/// one pool and returns to it when its consumer is done with it.
struct Buffer {
  char* data = nullptr;
  uint32_t capacity = 0;
  uint32_t size = 0;
  BufferPool* pool = nullptr;

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
  /// Returns a buffer to the pool and wakes a waiting producer.
  void recycle(Buffer* buffer);

  int numberOfBuffers() const { return static_cast<int>(buffers_.size()); }
  int availableBuffers() const;

 private:
  std::unique_ptr<char[]> memory_;
  std::vector<Buffer> buffers_;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::vector<Buffer*> free_;
};

/// Returns a buffer to its pool.
inline void recycleBuffer(Buffer* buffer) {
  buffer->pool->recycle(buffer);
}

}  // namespace brook::runtime
