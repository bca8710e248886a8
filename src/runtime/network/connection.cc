#include "runtime/network/connection.h"

#include <cstring>

#include <absl/strings/str_cat.h>

#include "common/logging.h"
#include "common/status_macros.h"
#include "runtime/network/frame.h"
#include "runtime/network/network_environment.h"
#include "runtime/network/remote_input_channel.h"

namespace brook::runtime::network {

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
  }
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
  if (inputChannels_.erase(channelId) == 0 || closed_.load())
    return;
  control_.push_back(encodeCancel(channelId));
  wake_.notify_all();
}

void Connection::scheduleCredit(uint32_t channelId) {
  std::lock_guard lock(mutex_);
  if (closed_.load())
    return;
  credits_.push_back(channelId);
  wake_.notify_all();
}

void Connection::onReaderDataAvailable(SubpartitionReader* reader) {
  std::lock_guard lock(mutex_);
  if (reader->released)
    return;
  reader->dataAvailable = true;
  if (reader->credit > 0 && !reader->queued) {
    reader->queued = true;
    ready_.push_back(reader->shared_from_this());
    wake_.notify_all();
  }
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

absl::Status Connection::writeFrame(const std::string& frame) {
  iovec iov{const_cast<char*>(frame.data()), frame.size()};
  absl::Status s = socket_.writeFully(&iov, 1, closed_, options_.stallTimeout);
  if (s.ok())
    bytesSent_.fetch_add(frame.size(), std::memory_order_relaxed);
  return s;
}

void Connection::writeLoop() {
  std::string frame;
  char header[kFrameHeaderSize];
  for (;;) {
    std::shared_ptr<SubpartitionReader> reader;
    uint32_t creditChannel = 0;
    uint32_t credit = 0;
    bool haveFrame = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, Socket::kPollStep, [this] {
        return closed_.load() || !control_.empty() || !credits_.empty() || !ready_.empty();
      });
      if (closed_.load())
        return;
      if (!control_.empty()) {
        frame = std::move(control_.front());
        control_.pop_front();
        haveFrame = true;
      } else if (!credits_.empty()) {
        creditChannel = credits_.front();
        credits_.pop_front();
        auto it = inputChannels_.find(creditChannel);
        if (it != inputChannels_.end())
          credit = it->second->takeCredit();
      } else if (!ready_.empty()) {
        reader = std::move(ready_.front());
        ready_.pop_front();
        reader->queued = false;
        if (reader->released || reader->credit == 0)
          reader.reset();
        else
          reader->dataAvailable = false;
      }
    }

    absl::Status status;
    if (haveFrame) {
      bool isClose = frame.size() >= kFrameHeaderSize &&
                     static_cast<uint8_t>(frame[5]) == static_cast<uint8_t>(FrameKind::kClose);
      status = writeFrame(frame);
      if (status.ok() && isClose)
        status = absl::CancelledError("closed by this side");
    } else if (credit > 0) {
      // Credits go out as a small frame built on the stack: no allocation per credit.
      char body[kFrameHeaderSize + 4];
      encodeFrameHeader(FrameHeader{FrameKind::kAddCredit, creditChannel, 4}, body);
      std::memcpy(body + kFrameHeaderSize, &credit, 4);
      iovec iov{body, sizeof(body)};
      status = socket_.writeFully(&iov, 1, closed_, options_.stallTimeout);
      if (status.ok())
        bytesSent_.fetch_add(sizeof(body), std::memory_order_relaxed);
    } else if (reader != nullptr) {
      Buffer* buffer = nullptr;
      bool more = false;
      {
        std::lock_guard pollLock(pollMutex_);
        bool released;
        {
          std::lock_guard lock(mutex_);
          released = reader->released;
        }
        if (!released)
          buffer = reader->subpartition->poll(more);
      }
      {
        std::lock_guard lock(mutex_);
        if (buffer != nullptr)
          --reader->credit;
        if (more)
          reader->dataAvailable = true;
        if (reader->dataAvailable && reader->credit > 0 && !reader->queued && !reader->released) {
          reader->queued = true;
          ready_.push_back(reader);
        }
      }
      if (buffer != nullptr) {
        encodeFrameHeader(FrameHeader{FrameKind::kBuffer, reader->channelId, buffer->size}, header);
        iovec iov[2] = {{header, kFrameHeaderSize}, {buffer->data, buffer->size}};
        uint32_t size = buffer->size;
        status = socket_.writeFully(iov, 2, closed_, options_.stallTimeout);
        // The bytes are in the kernel (or the connection failed): the producer may reuse it.
        recycleBuffer(buffer);
        if (status.ok()) {
          bytesSent_.fetch_add(kFrameHeaderSize + size, std::memory_order_relaxed);
          buffersSent_.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
    if (!status.ok()) {
      fail(status);
      return;
    }
  }
}

void Connection::readLoop() {
  char header[kFrameHeaderSize];
  for (;;) {
    absl::Status status =
        socket_.readFully(header, kFrameHeaderSize, true, closed_, options_.stallTimeout);
    if (status.ok()) {
      absl::StatusOr<FrameHeader> decoded =
          decodeFrameHeader(std::string_view(header, kFrameHeaderSize), options_.maxBufferBytes);
      if (!decoded.ok()) {
        status = absl::InvalidArgumentError(
            absl::StrCat("malformed frame: ", decoded.status().message()));
      } else {
        bytesReceived_.fetch_add(kFrameHeaderSize, std::memory_order_relaxed);
        status = decoded->kind == FrameKind::kBuffer
                     ? receiveBuffer(decoded->channelId, decoded->bodyLength)
                     : receiveControl(*decoded);
      }
    }
    if (!status.ok()) {
      fail(status);
      return;
    }
  }
}

absl::Status Connection::receiveBuffer(uint32_t channelId, uint32_t bodyLength) {
  std::shared_ptr<RemoteInputChannel> channel;
  bool released = false;
  {
    std::lock_guard lock(mutex_);
    auto it = inputChannels_.find(channelId);
    if (it != inputChannels_.end())
      channel = it->second;
    else
      released = channelId < nextChannelId_;
  }
  if (channel == nullptr) {
    if (!released)
      return absl::InvalidArgumentError(absl::StrCat("BUFFER for unknown channel ", channelId));
    // The consumer released the channel while buffers were in flight: drop them.
    scratch_.resize(bodyLength);
    BROOK_RETURN_IF_ERROR(
        socket_.readFully(scratch_.data(), bodyLength, false, closed_, options_.stallTimeout));
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
  absl::Status status =
      socket_.readFully(buffer->data, bodyLength, false, closed_, options_.stallTimeout);
  if (!status.ok()) {
    recycleBuffer(buffer);
    return status;
  }
  buffer->size = bodyLength;
  bytesReceived_.fetch_add(bodyLength, std::memory_order_relaxed);
  buffersReceived_.fetch_add(1, std::memory_order_relaxed);
  channel->deliver(buffer);
  return absl::OkStatus();
}

absl::Status Connection::receiveControl(const FrameHeader& header) {
  scratch_.resize(header.bodyLength);
  BROOK_RETURN_IF_ERROR(
      socket_.readFully(scratch_.data(), header.bodyLength, false, closed_, options_.stallTimeout));
  bytesReceived_.fetch_add(header.bodyLength, std::memory_order_relaxed);
  std::string_view body(scratch_.data(), header.bodyLength);
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
      if (reader.dataAvailable && !reader.queued) {
        reader.queued = true;
        ready_.push_back(it->second);
        wake_.notify_all();
      }
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
