#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "runtime/network/connection.h"
#include "runtime/network/remote_input_channel.h"
#include "runtime/result_partition.h"

namespace brook::runtime::network {

/// The data plane of one TaskManager: a TCP server for the subpartitions its tasks produce and
/// one connection per peer environment, shared by every channel between the two in both
/// directions. Producers register subpartitions under ids; consumers create
/// RemoteInputChannels that request a peer's subpartition by id. Flow control is credit
/// based: a producer sends a buffer only against a credit that stands for a free buffer on
/// the consumer side, so a slow consumer stalls only the producers that feed it.
/// Thread-safe; `stop` returns once every thread of the environment has ended.
class NetworkEnvironment {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;  ///< 0: chosen by the OS
    /// taskmanager.memory.segment-size: the size of a receive buffer, and so the largest
    /// buffer a producer may send.
    int bufferSize = 32 * 1024;
    /// taskmanager.network.memory.buffers-per-channel: exclusive buffers, and so initial
    /// credit, of every RemoteInputChannel.
    int buffersPerChannel = 2;
    /// taskmanager.network.memory.floating-buffers-per-gate: the buffers that the remote
    /// channels of one input gate share on top of their exclusive ones
    /// (createFloatingBufferPool). 16, twice Flink's 8: on a fast link 8 buffers of 32 KiB
    /// drain within a thread's scheduling delay (BENCHMARKS.md, "Network channels").
    int floatingBuffersPerGate = 16;
    std::chrono::milliseconds connectTimeout{10000};
    /// How long a started frame may make no progress before the connection is closed.
    std::chrono::milliseconds stallTimeout{30000};
  };

  explicit NetworkEnvironment(Options options);
  /// Stops the environment if it still runs.
  ~NetworkEnvironment();
  NetworkEnvironment(const NetworkEnvironment&) = delete;
  NetworkEnvironment& operator=(const NetworkEnvironment&) = delete;

  /// Binds the server socket and starts accepting connections.
  absl::Status start();
  /// Closes every connection, joins every thread and recycles every buffer that the network
  /// holds (queued in input channels or about to be sent). Buffers that a consumer still
  /// holds return to their channel when it recycles them. Idempotent.
  void stop();

  int port() const { return port_; }
  /// The listening address "host:port" that peers use to reach this environment.
  const std::string& address() const { return address_; }

  /// Makes `subpartition` available to peers under `id`. The subpartition must outlive its
  /// registration. AlreadyExists if the id is taken.
  absl::Status registerSubpartition(std::string id, ResultSubpartition* subpartition);
  /// Withdraws a registration; FailedPrecondition while a peer reads the subpartition.
  absl::Status unregisterSubpartition(std::string_view id);

  /// Creates the pool of floating buffers for the remote channels of one input gate:
  /// floatingBuffersPerGate buffers of bufferSize bytes. Pass it to createInputChannel for each
  /// of the gate's channels.
  std::shared_ptr<FloatingBufferPool> createFloatingBufferPool() const;

  /// Creates a channel that reads the subpartition that the environment at `host`:`port`
  /// registered under `subpartitionId`, connecting to it unless a connection exists. The
  /// channel uses its exclusive buffers and, when given, the floating buffers of its gate
  /// (see RemoteInputChannel). The channel stays valid until this environment is destroyed.
  absl::StatusOr<RemoteInputChannel*> createInputChannel(
      const std::string& host,
      int port,
      std::string subpartitionId,
      std::shared_ptr<FloatingBufferPool> floatingBuffers = nullptr);
  /// Releases a channel that its consumer no longer reads: the producer stops sending, and
  /// the channel is destroyed once the connection no longer uses it. The consumer must not
  /// touch the channel or hold its buffers afterwards.
  void releaseInputChannel(RemoteInputChannel* channel);

  /// The counters of every connection opened so far, including closed ones.
  std::vector<ConnectionStats> connectionStats() const;
  /// The number of open connections.
  int numberOfOpenConnections() const;

  // Called by connections.
  /// Marks the subpartition registered under `id` as read by one consumer and returns it;
  /// NotFound or FailedPrecondition (already read) otherwise.
  absl::StatusOr<ResultSubpartition*> acquireSubpartition(std::string_view id);
  /// Ends the read of a subpartition acquired before.
  void releaseSubpartition(std::string_view id);

 private:
  struct Registration {
    ResultSubpartition* subpartition = nullptr;
    bool inUse = false;
  };

  void acceptLoop();
  /// Stops and forgets closed connections, keeping their counters.
  void reapClosedConnections();

  const Options options_;
  int port_ = 0;
  std::string address_;
  Socket server_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  mutable std::mutex registryMutex_;
  std::unordered_map<std::string, Registration> registry_;

  mutable std::mutex connectionsMutex_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<ConnectionStats> closedStats_;
  std::vector<std::shared_ptr<RemoteInputChannel>> channels_;

  std::jthread acceptor_;
};

}  // namespace brook::runtime::network
