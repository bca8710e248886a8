#include "runtime/buffer_pool.h"

#include <chrono>

namespace brook::runtime {

BufferPool::BufferPool(int numberOfBuffers, int bufferSize)
    : memory_(new char[static_cast<size_t>(numberOfBuffers) * static_cast<size_t>(bufferSize)]),
      buffers_(static_cast<size_t>(numberOfBuffers)) {
  free_.reserve(buffers_.size());
  for (size_t i = 0; i < buffers_.size(); ++i) {
    buffers_[i].data = memory_.get() + i * static_cast<size_t>(bufferSize);
    buffers_[i].capacity = static_cast<uint32_t>(bufferSize);
    buffers_[i].pool = this;
    free_.push_back(&buffers_[i]);
  }
}

Buffer* BufferPool::request(const std::atomic<bool>& cancelled) {
  std::unique_lock lock(mutex_);
  while (free_.empty()) {
    if (cancelled.load(std::memory_order_relaxed))
      return nullptr;
    available_.wait_for(lock, std::chrono::milliseconds(50));
  }
  Buffer* b = free_.back();
  free_.pop_back();
  b->size = 0;
  b->priority = false;
  b->timeoutable = false;
  return b;
}

Buffer* BufferPool::tryRequest() {
  std::lock_guard lock(mutex_);
  if (free_.empty())
    return nullptr;
  Buffer* b = free_.back();
  free_.pop_back();
  b->size = 0;
  b->priority = false;
  b->timeoutable = false;
  return b;
}

bool BufferPool::waitUntilAvailable(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return available_.wait_for(lock, timeout, [this] { return !free_.empty(); });
}

void BufferPool::recycle(Buffer* buffer) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(buffer);
  }
  available_.notify_one();
  // The buffer is free before the listener hears of it, so a credit it grants is always backed.
  if (listener_ != nullptr)
    listener_->onBufferRecycled();
}

Buffer* allocateUnpooledBuffer(uint32_t capacity) {
  auto* buffer = new Buffer;
  buffer->data = new char[capacity];
  buffer->capacity = capacity;
  return buffer;
}

void freeUnpooledBuffer(Buffer* buffer) {
  delete[] buffer->data;
  delete buffer;
}

int BufferPool::availableBuffers() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(free_.size());
}

}  // namespace brook::runtime
