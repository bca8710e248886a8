#include "runtime/network/connection.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <absl/strings/str_cat.h>

#include "common/logging.h"
#include "common/status_macros.h"
#include "runtime/network/frame.h"
#include "runtime/network/network_environment.h"
#include "runtime/network/remote_input_channel.h"

namespace brook::runtime::network {
namespace {

/// The most buffers that one write to the socket carries (Connection::writeLoop).
constexpr size_t kMaxBatchBuffers = 16;
/// The most control frames that one write carries.
constexpr size_t kMaxBatchControlFrames = 64;

}  // namespace

/// The producer end of one remote channel: attached as the consumer of a registered
/// subpartition, it reports new data to its connection's writer. Its mutable fields are
/// guarded by the connection's mutex.
class SubpartitionReader final : public SubpartitionListener,
                                 public std::enable_shared_from_this<SubpartitionReader> {
 public:
  SubpartitionReader(Connection* connection,
                     uint32_t channelId,
                     ResultSubpartition* subpartition,
                     std::string subpartitionId,
                     uint32_t credit)
      : connection(connection),
        channelId(channelId),
        subpartition(subpartition),
        subpartitionId(std::move(subpartitionId)),
        credit(credit) {}

  void notifyDataAvailable(int /*channelIndex*/) override {
    connection->onReaderDataAvailable(this);
  }

  Connection* const connection;
  const uint32_t channelId;
  ResultSubpartition* const subpartition;
  const std::string subpartitionId;
  uint64_t credit;
  bool dataAvailable = false;
  bool queued = false;
  bool released = false;
};

Connection::Connection(NetworkEnvironment* environment,
                       Socket socket,
                       std::string peer,
                       Options options)
    : environment_(environment),
      socket_(std::move(socket)),
      options_(options),
      peer_(std::move(peer)) {}

Connection::~Connection() {
  stop(false);
}

void Connection::start(std::string hello) {
  if (!hello.empty())
    control_.push_back(std::move(hello));
  reader_ = std::jthread([this] { readLoop(); });
  writer_ = std::jthread([this] { writeLoop(); });
}

std::string Connection::peer() const {
  std::lock_guard lock(mutex_);
  return peer_;
}

void Connection::setPeer(std::string peer) {
  std::lock_guard lock(mutex_);
  peer_ = std::move(peer);
}

ConnectionStats Connection::stats() const {
  ConnectionStats s;
  {
    std::lock_guard lock(mutex_);
    s.peer = peer_;
  }
  s.bytesSent = bytesSent_.load();
  s.bytesReceived = bytesReceived_.load();
  s.buffersSent = buffersSent_.load();
  s.buffersReceived = buffersReceived_.load();
  s.open = !closed_.load();
  return s;
}

void Connection::stop(bool graceful) {
  if (graceful && !closed_.load()) {
    // A bounded wait for the writer to send CLOSE, so that the peer ends without an error.
    std::unique_lock lock(mutex_);
    control_.push_back(encodeClose());
    wake_.notify_all();
    wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return closed_.load(); });
  }
  fail(absl::CancelledError("connection stopped"));
  if (reader_.joinable())
    reader_.join();
  if (writer_.joinable())
    writer_.join();

  std::unordered_map<uint32_t, std::shared_ptr<SubpartitionReader>> readers;
  {
    std::lock_guard lock(mutex_);
    readers.swap(readers_);
    ready_.clear();
    control_.clear();
    credits_.clear();
    inputChannels_.clear();
    channelsVersion_.fetch_add(1);
  }
  cachedChannel_.reset();  // the reader thread has ended
  for (auto& [id, reader] : readers)
    releaseReader(reader);
}

void Connection::fail(const absl::Status& status) {
  if (closed_.exchange(true))
    return;
  std::string peer;
  std::vector<std::shared_ptr<RemoteInputChannel>> channels;
  {
    std::lock_guard lock(mutex_);
    peer = peer_;
    if (!absl::IsCancelled(status)) {
      for (auto& [id, channel] : inputChannels_)
        channels.push_back(channel);
    }
  }
  auto log = getLogger("network");
  if (absl::IsCancelled(status)) {
    log->debug("connection to {} closed: {}", peer, status);
  } else if (absl::IsUnavailable(status)) {
    log->info("connection to {} lost: {}", peer, status);
  } else {
    log->error("closing connection to {}: {}", peer, status);
  }
  absl::Status channelStatus(status.code(),
                             absl::StrCat("connection to ", peer, " failed: ", status.message()));
  for (auto& channel : channels)
    channel->fail(channelStatus);
  socket_.shutdown();
  std::lock_guard lock(mutex_);
  wake_.notify_all();
}

absl::Status Connection::requestSubpartition(const std::shared_ptr<RemoteInputChannel>& channel) {
  std::lock_guard lock(mutex_);
  if (closed_.load())
    return absl::UnavailableError(absl::StrCat("connection to ", peer_, " is closed"));
  uint32_t id = nextChannelId_++;
  channel->attach(weak_from_this(), id);
  inputChannels_.emplace(id, channel);
  control_.push_back(encodePartitionRequest(id, channel->subpartitionId(),
                                            static_cast<uint32_t>(channel->exclusiveBuffers())));
  wake_.notify_all();
  return absl::OkStatus();
}

void Connection::releaseInputChannel(uint32_t channelId) {
  std::lock_guard lock(mutex_);
  if (inputChannels_.erase(channelId) == 0)
    return;
  channelsVersion_.fetch_add(1);
  if (closed_.load())
    return;
  control_.push_back(encodeCancel(channelId));
  wake_.notify_all();
}

void Connection::scheduleCredit(uint32_t channelId) {
  {
    std::lock_guard lock(mutex_);
    if (closed_.load())
      return;
    credits_.push_back(channelId);
  }
  // Notified after the lock is released, so that the writer does not wake up only to wait for
  // it (the same in the other hot paths below).
  wake_.notify_all();
}

void Connection::onReaderDataAvailable(SubpartitionReader* reader) {
  {
    std::lock_guard lock(mutex_);
    if (reader->released)
      return;
    reader->dataAvailable = true;
    if (reader->credit == 0 || reader->queued)
      return;
    reader->queued = true;
    ready_.push_back(reader->shared_from_this());
  }
  wake_.notify_all();
}

void Connection::releaseReader(const std::shared_ptr<SubpartitionReader>& reader) {
  {
    std::lock_guard lock(mutex_);
    reader->released = true;
  }
  // The writer polls a reader's subpartition only under pollMutex_ and after checking
  // `released`, so once this lock is taken no poll of it is in progress or will start.
  { std::lock_guard pollLock(pollMutex_); }
  reader->subpartition->setConsumer(nullptr, -1);
  environment_->releaseSubpartition(reader->subpartitionId);
}

void Connection::enqueueControl(std::string frame) {
  std::lock_guard lock(mutex_);
  control_.push_back(std::move(frame));
  wake_.notify_all();
}

void Connection::writeLoop() {
  // One pass takes what is ready and sends it with a single write: control frames first, then
  // credit announcements, then up to kMaxBatchBuffers buffers of ready subpartitions (a reader
  // gives as many as its credit allows, so that a busy channel's buffers leave in batches).
  // The containers keep their capacity from pass to pass: a pass allocates nothing.
  struct TakenReader {
    std::shared_ptr<SubpartitionReader> reader;
    size_t limit = 0;  ///< buffers it may send in this pass: its credit, within the batch
  };
  std::vector<std::string> control;
  std::vector<char> credits;  // encoded ADD_CREDIT frames, back to back
  std::vector<TakenReader> taken;
  struct BufferFrame {
    uint32_t channelId;
    uint16_t backlog;
  };
  std::vector<Buffer*> buffers;
  std::vector<BufferFrame> bufferFrames;  // one per buffer
  std::array<char, kMaxBatchBuffers * kFrameHeaderSize> headers;
  std::vector<iovec> iov;
  for (;;) {
    bool closing = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, Socket::kPollStep, [this] {
        return closed_.load() || !control_.empty() || !credits_.empty() || !ready_.empty();
      });
      if (closed_.load())
        return;
      while (!control_.empty() && control.size() < kMaxBatchControlFrames && !closing) {
        const std::string& frame = control_.front();
        // Nothing follows a CLOSE.
        closing = frame.size() >= kFrameHeaderSize &&
                  static_cast<uint8_t>(frame[5]) == static_cast<uint8_t>(FrameKind::kClose);
        control.push_back(std::move(control_.front()));
        control_.pop_front();
      }
      while (!closing && !credits_.empty()) {
        uint32_t channelId = credits_.front();
        credits_.pop_front();
        auto it = inputChannels_.find(channelId);
        uint32_t credit = it == inputChannels_.end() ? 0 : it->second->takeCredit();
        if (credit == 0)
          continue;
        // Credits go out as small frames packed into one area: no allocation per credit.
        size_t offset = credits.size();
        credits.resize(offset + kFrameHeaderSize + 4);
        encodeFrameHeader(FrameHeader{FrameKind::kAddCredit, channelId, 4}, &credits[offset]);
        std::memcpy(&credits[offset + kFrameHeaderSize], &credit, 4);
      }
      size_t room = kMaxBatchBuffers;
      while (!closing && room > 0 && !ready_.empty()) {
        std::shared_ptr<SubpartitionReader> reader = std::move(ready_.front());
        ready_.pop_front();
        reader->queued = false;
        if (reader->released || reader->credit == 0)
          continue;
        reader->dataAvailable = false;
        size_t limit = static_cast<size_t>(std::min<uint64_t>(room, reader->credit));
        room -= limit;
        taken.push_back({std::move(reader), limit});
      }
    }

    for (TakenReader& t : taken) {
      SubpartitionReader& reader = *t.reader;
      size_t first = buffers.size();
      size_t backlog = 0;
      {
        std::lock_guard pollLock(pollMutex_);
        bool released;
        {
          std::lock_guard lock(mutex_);
          released = reader.released;
        }
        if (!released)
          backlog = reader.subpartition->poll(buffers, t.limit);
      }
      size_t polled = buffers.size() - first;
      // Each buffer carries the number queued behind it: the ones after it in this batch and
      // those left in the subpartition.
      for (size_t i = first; i < buffers.size(); ++i) {
        size_t behind = backlog + (buffers.size() - 1 - i);
        bufferFrames.push_back(
            {reader.channelId, static_cast<uint16_t>(std::min<size_t>(behind, kMaxFrameBacklog))});
      }
      std::lock_guard lock(mutex_);
      reader.credit -= polled;
      if (backlog > 0)
        reader.dataAvailable = true;
      if (reader.dataAvailable && reader.credit > 0 && !reader.queued && !reader.released) {
        reader.queued = true;
        ready_.push_back(t.reader);
      }
    }

    iov.clear();
    size_t bytes = 0;
    for (std::string& frame : control)
      iov.push_back({frame.data(), frame.size()});
    if (!credits.empty())
      iov.push_back({credits.data(), credits.size()});
    for (size_t i = 0; i < buffers.size(); ++i) {
      char* header = &headers[i * kFrameHeaderSize];
      encodeFrameHeader(
          FrameHeader{buffers[i]->priority ? FrameKind::kPriorityBuffer : FrameKind::kBuffer,
                      bufferFrames[i].channelId, buffers[i]->size, bufferFrames[i].backlog},
          header);
      iov.push_back({header, kFrameHeaderSize});
      iov.push_back({buffers[i]->data, buffers[i]->size});
    }
    for (const iovec& entry : iov)
      bytes += entry.iov_len;
    // The counters grow before the write: the peer may read the bytes, and look at both
    // sides' counters, before this thread returns from the write. A failed write takes its
    // bytes back (the connection closes anyway).
    bytesSent_.fetch_add(bytes, std::memory_order_relaxed);
    buffersSent_.fetch_add(buffers.size(), std::memory_order_relaxed);
    absl::Status status;
    if (!iov.empty()) {
      status = socket_.writeFully(iov.data(), static_cast<int>(iov.size()), closed_,
                                  options_.stallTimeout);
    }
    if (!status.ok()) {
      bytesSent_.fetch_sub(bytes, std::memory_order_relaxed);
      buffersSent_.fetch_sub(buffers.size(), std::memory_order_relaxed);
    } else if (closing) {
      status = absl::CancelledError("closed by this side");
    }
    // The bytes are in the kernel (or the connection failed): the producers may reuse them.
    for (Buffer* buffer : buffers)
      recycleBuffer(buffer);
    control.clear();
    credits.clear();
    taken.clear();
    buffers.clear();
    bufferFrames.clear();
    if (!status.ok()) {
      fail(status);
      return;
    }
  }
}

void Connection::readLoop() {
  for (;;) {
    // Waiting for the next frame's first byte has no stall limit: the connection may be idle.
    absl::Status status = fillStage(kFrameHeaderSize, true);
    if (status.ok()) {
      absl::StatusOr<FrameHeader> decoded = decodeFrameHeader(
          std::string_view(stage_.data() + stageBegin_, kFrameHeaderSize), options_.maxBufferBytes);
      if (!decoded.ok()) {
        status = absl::InvalidArgumentError(
            absl::StrCat("malformed frame: ", decoded.status().message()));
      } else {
        stageBegin_ += kFrameHeaderSize;
        bytesReceived_.fetch_add(kFrameHeaderSize, std::memory_order_relaxed);
        status = isBufferFrame(decoded->kind) ? receiveBuffer(*decoded) : receiveControl(*decoded);
      }
    }
    if (!status.ok()) {
      fail(status);
      return;
    }
  }
}

absl::Status Connection::fillStage(size_t n, bool idleAllowed) {
  size_t staged = stageEnd_ - stageBegin_;
  if (staged >= n)
    return absl::OkStatus();
  if (stageBegin_ > 0) {
    std::memmove(stage_.data(), stage_.data() + stageBegin_, staged);
    stageBegin_ = 0;
    stageEnd_ = staged;
  }
  iovec iov{stage_.data() + stageEnd_, std::min(kStageBytes - stageEnd_, n - staged + kReadAhead)};
  absl::StatusOr<size_t> read = socket_.readAtLeast(&iov, 1, n - staged, idleAllowed && staged == 0,
                                                    closed_, options_.stallTimeout);
  if (!read.ok())
    return read.status();
  stageEnd_ += *read;
  return absl::OkStatus();
}

absl::Status Connection::readBody(char* data, size_t n) {
  // First the bytes that the last read took past the header, then one read for the rest that
  // also takes whatever follows (the next frame's header, at least in part) into the stage.
  size_t take = std::min(n, stageEnd_ - stageBegin_);
  std::memcpy(data, stage_.data() + stageBegin_, take);
  stageBegin_ += take;
  if (take == n)
    return absl::OkStatus();
  stageBegin_ = 0;
  stageEnd_ = 0;
  iovec iov[2] = {{data + take, n - take}, {stage_.data(), kReadAhead}};
  absl::StatusOr<size_t> read =
      socket_.readAtLeast(iov, 2, n - take, false, closed_, options_.stallTimeout);
  if (!read.ok())
    return read.status();
  stageEnd_ = *read - (n - take);
  return absl::OkStatus();
}

absl::Status Connection::receiveBuffer(const FrameHeader& header) {
  const uint32_t channelId = header.channelId;
  const uint32_t bodyLength = header.bodyLength;
  // Consecutive buffers are mostly for one channel: the last one found is kept, valid until a
  // channel leaves inputChannels_, so that most buffers do without the connection's lock.
  std::shared_ptr<RemoteInputChannel> channel;
  bool released = false;
  if (channelId == cachedChannelId_ && cachedChannel_ != nullptr &&
      channelsVersion_.load() == cachedChannelsVersion_) {
    channel = cachedChannel_;
  } else {
    std::lock_guard lock(mutex_);
    auto it = inputChannels_.find(channelId);
    if (it != inputChannels_.end())
      channel = it->second;
    else
      released = channelId < nextChannelId_;
    cachedChannelId_ = channelId;
    cachedChannel_ = channel;
    cachedChannelsVersion_ = channelsVersion_.load();
  }
  if (channel == nullptr) {
    if (!released)
      return absl::InvalidArgumentError(absl::StrCat("BUFFER for unknown channel ", channelId));
    // The consumer released the channel while buffers were in flight: drop them.
    scratch_.resize(bodyLength);
    BROOK_RETURN_IF_ERROR(readBody(scratch_.data(), bodyLength));
    bytesReceived_.fetch_add(bodyLength, std::memory_order_relaxed);
    return absl::OkStatus();
  }
  Buffer* buffer = channel->requestBuffer();
  if (buffer == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("BUFFER on channel ", channelId, " without credit"));
  }
  if (bodyLength > buffer->capacity) {
    recycleBuffer(buffer);
    return absl::InvalidArgumentError(absl::StrCat(
        "BUFFER of ", bodyLength, " bytes exceeds the buffer size ", buffer->capacity));
  }
  absl::Status status = readBody(buffer->data, bodyLength);
  if (!status.ok()) {
    recycleBuffer(buffer);
    return status;
  }
  buffer->size = bodyLength;
  buffer->priority = header.kind == FrameKind::kPriorityBuffer;
  buffer->timeoutable = false;
  bytesReceived_.fetch_add(bodyLength, std::memory_order_relaxed);
  buffersReceived_.fetch_add(1, std::memory_order_relaxed);
  channel->deliver(buffer, header.backlog);
  return absl::OkStatus();
}

absl::Status Connection::receiveControl(const FrameHeader& header) {
  // Small bodies (credits, requests) are read in place in the stage; the body is used up before
  // the stage is read into again.
  std::string_view body;
  if (header.bodyLength <= kStageBytes) {
    BROOK_RETURN_IF_ERROR(fillStage(header.bodyLength, false));
    body = std::string_view(stage_.data() + stageBegin_, header.bodyLength);
    stageBegin_ += header.bodyLength;
  } else {
    scratch_.resize(header.bodyLength);
    BROOK_RETURN_IF_ERROR(readBody(scratch_.data(), header.bodyLength));
    body = std::string_view(scratch_.data(), header.bodyLength);
  }
  bytesReceived_.fetch_add(header.bodyLength, std::memory_order_relaxed);
  absl::Status valid = validateFrameBody(header.kind, body);
  if (!valid.ok())
    return absl::InvalidArgumentError(absl::StrCat("malformed frame: ", valid.message()));

  switch (header.kind) {
    case FrameKind::kHello:
      setPeer(std::string(body));
      return absl::OkStatus();
    case FrameKind::kPartitionRequest:
      return handlePartitionRequest(header.channelId, body);
    case FrameKind::kAddCredit: {
      uint32_t credit = parseAddCredit(body);
      {
        std::lock_guard lock(mutex_);
        auto it = readers_.find(header.channelId);
        if (it == readers_.end()) {
          if (header.channelId <= maxPeerChannelId_)
            return absl::OkStatus();  // a credit that crossed the channel's CANCEL
          return absl::InvalidArgumentError(
              absl::StrCat("ADD_CREDIT for unknown channel ", header.channelId));
        }
        SubpartitionReader& reader = *it->second;
        reader.credit += credit;
        if (!reader.dataAvailable || reader.queued)
          return absl::OkStatus();
        reader.queued = true;
        ready_.push_back(it->second);
      }
      wake_.notify_all();
      return absl::OkStatus();
    }
    case FrameKind::kCancel: {
      std::shared_ptr<SubpartitionReader> reader;
      {
        std::lock_guard lock(mutex_);
        auto it = readers_.find(header.channelId);
        if (it == readers_.end()) {
          if (header.channelId <= maxPeerChannelId_)
            return absl::OkStatus();
          return absl::InvalidArgumentError(
              absl::StrCat("CANCEL for unknown channel ", header.channelId));
        }
        reader = std::move(it->second);
        readers_.erase(it);
      }
      releaseReader(reader);
      return absl::OkStatus();
    }
    case FrameKind::kClose:
      return absl::CancelledError("closed by the peer");
    case FrameKind::kError: {
      if (header.channelId == 0) {
        return absl::InternalError(absl::StrCat("the peer reported: ", std::string(body)));
      }
      std::shared_ptr<RemoteInputChannel> channel;
      {
        std::lock_guard lock(mutex_);
        auto it = inputChannels_.find(header.channelId);
        if (it != inputChannels_.end())
          channel = it->second;
      }
      if (channel != nullptr) {
        getLogger("network")->warn("channel {} for '{}' failed: {}", header.channelId,
                                   channel->subpartitionId(), body);
        channel->fail(absl::FailedPreconditionError(std::string(body)));
      }
      return absl::OkStatus();
    }
    case FrameKind::kBuffer:
    case FrameKind::kPriorityBuffer:
      break;
  }
  return absl::InternalError("unexpected frame kind");
}

absl::Status Connection::handlePartitionRequest(uint32_t channelId, std::string_view body) {
  PartitionRequest request = parsePartitionRequest(body);
  {
    std::lock_guard lock(mutex_);
    if (channelId <= maxPeerChannelId_) {
      return absl::InvalidArgumentError(
          absl::StrCat("PARTITION_REQUEST reuses channel id ", channelId));
    }
    maxPeerChannelId_ = channelId;
  }
  absl::StatusOr<ResultSubpartition*> subpartition =
      environment_->acquireSubpartition(request.subpartitionId);
  if (!subpartition.ok()) {
    // The consumer's channel fails; the connection and its other channels go on.
    enqueueControl(encodeError(channelId, subpartition.status().ToString()));
    return absl::OkStatus();
  }
  auto reader = std::make_shared<SubpartitionReader>(
      this, channelId, *subpartition, std::string(request.subpartitionId), request.initialCredit);
  {
    std::lock_guard lock(mutex_);
    readers_.emplace(channelId, reader);
  }
  // Attaching reports buffers that are already queued.
  (*subpartition)->setConsumer(reader.get(), 0);
  return absl::OkStatus();
}

}  // namespace brook::runtime::network
