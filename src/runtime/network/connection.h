#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <absl/status/status.h>

#include "runtime/network/frame.h"
#include "runtime/network/socket.h"

namespace brook::runtime::network {

class NetworkEnvironment;
class RemoteInputChannel;
class SubpartitionReader;

/// Byte and buffer counters of one connection, for the JobManager's metrics.
struct ConnectionStats {
  std::string peer;
  uint64_t bytesSent = 0;
  uint64_t bytesReceived = 0;
  uint64_t buffersSent = 0;
  uint64_t buffersReceived = 0;
  bool open = false;
};

/// One TCP connection between two NetworkEnvironments, multiplexing every channel between
/// them in both directions: as producer it serves PARTITION_REQUESTs by reading registered
/// subpartitions and sending their buffers as credit allows; as consumer it feeds the
/// RemoteInputChannels it requested. A reader thread decodes incoming frames, reading ahead
/// so that most frames cost one read. A writer thread is the only one that writes to the
/// socket: each write carries what is ready, control frames and credits first, then the
/// buffers of ready subpartitions in turn, each as many as its credit allows (a batch of at
/// most 16). A malformed frame closes the connection with a logged error. Created and stopped
/// by its NetworkEnvironment; other methods are thread-safe.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  struct Options {
    uint32_t maxBufferBytes = 32 * 1024;
    std::chrono::milliseconds stallTimeout{30000};
  };

  Connection(NetworkEnvironment* environment, Socket socket, std::string peer, Options options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Starts the reader and writer threads; `hello` is sent first when not empty.
  void start(std::string hello);
  /// Sends CLOSE when `graceful`, closes the socket, joins both threads, detaches from every
  /// subpartition it read and fails its input channels. Not from the connection's own threads.
  void stop(bool graceful);
  /// True once the connection failed or was stopped; it never reopens.
  bool closed() const { return closed_.load(); }
  /// The peer's listening address once it said HELLO (or the address this side connected to).
  std::string peer() const;
  void setPeer(std::string peer);
  ConnectionStats stats() const;

  /// Consumer side: assigns `channel` an id on this connection and requests its subpartition
  /// with the channel's exclusive buffers as initial credit.
  absl::Status requestSubpartition(const std::shared_ptr<RemoteInputChannel>& channel);
  /// Consumer side: forgets the channel and tells the producer (CANCEL).
  void releaseInputChannel(uint32_t channelId);
  /// Consumer side: asks the writer to announce the channel's pending credit. Cheap; any thread.
  void scheduleCredit(uint32_t channelId);

  /// Producer side, called by SubpartitionReader under the subpartition's lock.
  void onReaderDataAvailable(SubpartitionReader* reader);

 private:
  void readLoop();
  void writeLoop();
  absl::Status receiveControl(const FrameHeader& header);
  absl::Status receiveBuffer(const FrameHeader& header);
  /// Reader thread: makes at least `n` (<= kStageBytes) bytes available in the stage, reading
  /// as many more as the socket has and the stage holds.
  absl::Status fillStage(size_t n, bool idleAllowed);
  /// Reader thread: moves the next `n` bytes of the stream to `data`: the staged ones, then one
  /// read that also refills the stage with the bytes behind them.
  absl::Status readBody(char* data, size_t n);
  absl::Status handlePartitionRequest(uint32_t channelId, std::string_view body);
  /// Marks the connection closed, logs `status` unless it is a normal end, and wakes both
  /// threads.
  void fail(const absl::Status& status);
  void enqueueControl(std::string frame);
  void releaseReader(const std::shared_ptr<SubpartitionReader>& reader);

  NetworkEnvironment* environment_;
  Socket socket_;
  const Options options_;
  std::atomic<bool> closed_{false};

  /// Held by the writer while it polls a subpartition, so that a reader can be detached
  /// safely.
  std::mutex pollMutex_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string peer_;
  std::deque<std::string> control_;
  std::deque<uint32_t> credits_;
  std::deque<std::shared_ptr<SubpartitionReader>> ready_;
  std::unordered_map<uint32_t, std::shared_ptr<SubpartitionReader>> readers_;
  uint32_t maxPeerChannelId_ = 0;
  std::unordered_map<uint32_t, std::shared_ptr<RemoteInputChannel>> inputChannels_;
  uint32_t nextChannelId_ = 1;

  /// Bytes read ahead of the frame being decoded, so that a frame header and a small body
  /// usually need no read of their own. Used by the reader thread only.
  static constexpr size_t kStageBytes = 4096;
  /// The most bytes a read takes beyond those needed: enough for the next header and a run
  /// of credits, little of a following buffer's body (which the stage costs a second copy).
  static constexpr size_t kReadAhead = 256;
  std::array<char, kStageBytes> stage_;
  size_t stageBegin_ = 0;  ///< the first staged byte not yet decoded
  size_t stageEnd_ = 0;    ///< the end of the staged bytes
  std::string scratch_;    ///< large control bodies and dropped buffers; reader thread only
  /// Grows whenever a channel leaves inputChannels_ (under mutex_).
  std::atomic<uint64_t> channelsVersion_{0};
  /// The reader thread's copy of the channel of the last BUFFER frame, valid while
  /// channelsVersion_ equals cachedChannelsVersion_.
  uint32_t cachedChannelId_ = 0;
  std::shared_ptr<RemoteInputChannel> cachedChannel_;
  uint64_t cachedChannelsVersion_ = 0;
  std::atomic<uint64_t> bytesSent_{0};
  std::atomic<uint64_t> bytesReceived_{0};
  std::atomic<uint64_t> buffersSent_{0};
  std::atomic<uint64_t> buffersReceived_{0};

  std::jthread reader_;
  std::jthread writer_;
};

}  // namespace brook::runtime::network
