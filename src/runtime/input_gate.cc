#include "runtime/input_gate.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <stdexcept>

#include <brook/operator.h>

namespace brook::runtime {

void ResultSubpartition::setConsumer(SubpartitionListener* listener, int channelIndex) {
  std::lock_guard lock(mutex_);
  listener_ = listener;
  channelIndex_ = channelIndex;
  // Buffers may have arrived before the consumer attached.
  if (listener != nullptr && !queue_.empty())
    listener->notifyDataAvailable(channelIndex);
}

void ResultSubpartition::add(Buffer* buffer) {
  // The listener is told under the lock, so that a consumer that detaches is never called
  // afterwards (a network reader is freed right after it detaches).
  std::lock_guard lock(mutex_);
  bool wasEmpty = queue_.empty();
  queue_.push_back(buffer);
  if (wasEmpty && listener_ != nullptr)
    listener_->notifyDataAvailable(channelIndex_);
}

void ResultSubpartition::insertAheadOfData(Buffer* buffer, size_t end, std::string& overtaken) {
  size_t first = 0;
  while (first < end && queue_[first]->priority)
    ++first;
  for (size_t i = first; i < end; ++i)
    overtaken.append(queue_[i]->data, queue_[i]->size);
  queue_.insert(queue_.begin() + static_cast<std::ptrdiff_t>(first), buffer);
}

void ResultSubpartition::addPriority(Buffer* buffer, std::string& overtaken) {
  std::lock_guard lock(mutex_);
  bool wasEmpty = queue_.empty();
  insertAheadOfData(buffer, queue_.size(), overtaken);
  if (wasEmpty && listener_ != nullptr)
    listener_->notifyDataAvailable(channelIndex_);
}

ResultSubpartition::BarrierState ResultSubpartition::timeoutableBarrier(int64_t checkpointId,
                                                                        bool convert,
                                                                        std::string& overtaken) {
  std::lock_guard lock(mutex_);
  auto isBarrier = [checkpointId](const Buffer* b) {
    if (!b->timeoutable || b->size != kBarrierElementSize)
      return false;
    int64_t id = 0;
    std::memcpy(&id, b->data + 1, 8);
    return id == checkpointId;
  };
  auto barrier = std::find_if(queue_.begin(), queue_.end(), isBarrier);
  if (barrier == queue_.end())
    return BarrierState::kConsumed;
  if (!convert)
    return BarrierState::kQueued;
  // It overtakes the data buffers queued before it.
  Buffer* buffer = *barrier;
  buffer->timeoutable = false;
  buffer->priority = true;
  buffer->data[0] = static_cast<char>(ElementKind::kBarrier);
  const auto at = static_cast<size_t>(barrier - queue_.begin());
  queue_.erase(barrier);
  insertAheadOfData(buffer, at, overtaken);
  return BarrierState::kConverted;
}

Buffer* ResultSubpartition::poll(bool& moreAvailable) {
  std::lock_guard lock(mutex_);
  if (queue_.empty()) {
    moreAvailable = false;
    return nullptr;
  }
  Buffer* b = queue_.front();
  queue_.pop_front();
  moreAvailable = !queue_.empty();
  return b;
}

size_t ResultSubpartition::poll(std::vector<Buffer*>& out, size_t max) {
  std::lock_guard lock(mutex_);
  size_t n = std::min(max, queue_.size());
  out.insert(out.end(), queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  return queue_.size();
}

void ResultSubpartition::releaseAll() {
  std::lock_guard lock(mutex_);
  for (Buffer* b : queue_)
    recycleBuffer(b);
  queue_.clear();
}

ElementDeserializer::~ElementDeserializer() {
  releaseBuffer();
}

void ElementDeserializer::releaseBuffer() {
  if (buffer_ != nullptr)
    recycleBuffer(buffer_);
  buffer_ = nullptr;
  pos_ = 0;
}

void ElementDeserializer::setBuffer(Buffer* buffer) {
  releaseBuffer();
  buffer_ = buffer;
  pos_ = 0;
}

std::string ElementDeserializer::unconsumedBytes() const {
  std::string bytes;
  if (stage_ != Stage::kKind) {
    // The element's header fields already decoded, re-encoded as they came, then the bytes of
    // the field being read.
    bytes.push_back(static_cast<char>(kind_));
    if (kind_ == ElementKind::kTimedRecord &&
        (stage_ == Stage::kLength || stage_ == Stage::kPayload))
      bytes.append(reinterpret_cast<const char*>(&timestamp_), 8);
    if (stage_ == Stage::kPayload)
      bytes.append(reinterpret_cast<const char*>(&length_), 4);
    bytes.append(spill_);
  }
  if (buffer_ != nullptr && pos_ < buffer_->size)
    bytes.append(buffer_->data + pos_, buffer_->size - pos_);
  return bytes;
}

bool ElementDeserializer::read(size_t n, const char*& out) {
  size_t avail = buffer_ == nullptr ? 0 : buffer_->size - pos_;
  if (spill_.empty() && avail >= n) {
    out = buffer_->data + pos_;
    pos_ += n;
    return true;
  }
  size_t take = std::min(n - spill_.size(), avail);
  if (take > 0)
    spill_.append(buffer_->data + pos_, take);
  pos_ += take;
  if (spill_.size() < n)
    return false;
  out = spill_.data();
  return true;
}

bool ElementDeserializer::nextElement(StreamElement& element) {
  // Bytes of a finished element that came from the spill area are dropped here, after the
  // caller has processed it.
  if (stage_ == Stage::kKind && !spill_.empty())
    spill_.clear();
  for (;;) {
    const char* p = nullptr;
    switch (stage_) {
      case Stage::kKind: {
        if (!read(1, p))
          break;
        auto kind = static_cast<uint8_t>(*p);
        spill_.clear();
        if (kind < 1 || kind > 8) {
          throw std::runtime_error("corrupt network data on " + channel_ +
                                   ": unknown element kind " + std::to_string(kind));
        }
        kind_ = static_cast<ElementKind>(kind);
        switch (kind_) {
          case ElementKind::kRecord:
            timestamp_ = kNoTimestamp;
            stage_ = Stage::kLength;
            continue;
          case ElementKind::kTimedRecord:
            stage_ = Stage::kTimestamp;
            continue;
          case ElementKind::kWatermark:
            stage_ = Stage::kWatermark;
            continue;
          case ElementKind::kBarrier:
          case ElementKind::kTimeoutableBarrier:
          case ElementKind::kSavepointBarrier:
            stage_ = Stage::kBarrier;
            continue;
          case ElementKind::kWatermarkStatus:
            stage_ = Stage::kWatermarkStatus;
            continue;
          case ElementKind::kEndOfPartition:
            element.kind = kind_;
            element.payload = {};
            return true;
        }
        continue;
      }
      case Stage::kTimestamp:
        if (!read(8, p))
          break;
        std::memcpy(&timestamp_, p, 8);
        spill_.clear();
        stage_ = Stage::kLength;
        continue;
      case Stage::kLength:
        if (!read(4, p))
          break;
        std::memcpy(&length_, p, 4);
        spill_.clear();
        if (length_ > kMaxRecordBytes) {
          throw std::runtime_error("corrupt network data on " + channel_ + ": record length " +
                                   std::to_string(length_));
        }
        stage_ = Stage::kPayload;
        continue;
      case Stage::kPayload:
        if (!read(length_, p))
          break;
        element.kind = kind_;
        element.timestamp = timestamp_;
        element.payload = std::string_view(p, length_);
        stage_ = Stage::kKind;
        return true;
      case Stage::kWatermark:
        if (!read(8, p))
          break;
        element.kind = ElementKind::kWatermark;
        std::memcpy(&element.timestamp, p, 8);
        element.payload = {};
        stage_ = Stage::kKind;
        return true;
      case Stage::kBarrier:
        if (!read(16, p))
          break;
        element.kind = ElementKind::kBarrier;
        element.timeoutable = kind_ == ElementKind::kTimeoutableBarrier;
        element.savepoint = kind_ == ElementKind::kSavepointBarrier;
        std::memcpy(&element.checkpointId, p, 8);
        std::memcpy(&element.timestamp, p + 8, 8);
        element.payload = {};
        stage_ = Stage::kKind;
        return true;
      case Stage::kWatermarkStatus:
        if (!read(1, p))
          break;
        if (static_cast<uint8_t>(*p) > 1) {
          throw std::runtime_error("corrupt network data on " + channel_ +
                                   ": watermark status " +
                                   std::to_string(static_cast<uint8_t>(*p)));
        }
        element.kind = ElementKind::kWatermarkStatus;
        element.idle = *p == 1;
        element.payload = {};
        stage_ = Stage::kKind;
        return true;
    }
    // The buffer is used up in the middle of an element or between elements.
    releaseBuffer();
    return false;
  }
}

int InputGate::addChannel(ResultSubpartition* subpartition, int inputEdge) {
  int index = static_cast<int>(channels_.size());
  channels_.push_back({subpartition, inputEdge});
  queued_.push_back(false);
  blocked_.push_back(false);
  channelTime_.push_back(kNoTimestamp);
  bypasses_.push_back(0);
  subpartition->setConsumer(this, index);
  return index;
}

void InputGate::notifyDataAvailable(int channel) {
  {
    std::lock_guard lock(mutex_);
    if (queued_[static_cast<size_t>(channel)])
      return;
    queued_[static_cast<size_t>(channel)] = true;
    available_.push_back(channel);
  }
  mailbox_->wake();
}

Buffer* InputGate::pollNext(int& channel) {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (available_.empty())
        return nullptr;
      auto next = available_.size() == 1 ? available_.begin() : selectChannel();
      channel = *next;
      available_.erase(next);
      bypasses_[static_cast<size_t>(channel)] = 0;
      if (blocked_[static_cast<size_t>(channel)]) {
        // It stays queued, so that producers do not report it again, until unblocked.
        parked_.push_back(channel);
        continue;
      }
      queued_[static_cast<size_t>(channel)] = false;
    }
    bool more = false;
    Buffer* b = channels_[static_cast<size_t>(channel)].subpartition->poll(more);
    if (more)
      notifyDataAvailable(channel);
    if (b != nullptr)
      return b;
  }
}

std::deque<int>::iterator InputGate::selectChannel() {
  const int limit = maxBypasses();
  auto chosen = available_.end();
  for (auto it = available_.begin(); it != available_.end(); ++it) {
    const auto c = static_cast<size_t>(*it);
    if (blocked_[c])
      continue;
    if (bypasses_[c] >= limit) {
      chosen = it;  // passed over too often: the earliest such channel goes now
      break;
    }
    if (chosen == available_.end() || channelTime_[c] < channelTime_[static_cast<size_t>(*chosen)])
      chosen = it;
  }
  if (chosen == available_.end())
    return available_.begin();  // all blocked: pollNext parks them
  for (int c : available_) {
    if (!blocked_[static_cast<size_t>(c)])
      ++bypasses_[static_cast<size_t>(c)];
  }
  return chosen;  // pollNext resets its count
}

void InputGate::block(int channel) {
  std::lock_guard lock(mutex_);
  blocked_[static_cast<size_t>(channel)] = true;
}

void InputGate::unblockAll() {
  std::lock_guard lock(mutex_);
  std::fill(blocked_.begin(), blocked_.end(), false);
  for (int channel : parked_)
    available_.push_back(channel);
  parked_.clear();
}

}  // namespace brook::runtime
