#pragma once

#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace brook::runtime::network {

/// An owned TCP socket (IPv4) with timed reads and writes. Every wait polls in steps of at most
/// kPollStep and gives up when the caller's stop flag is set; a transfer that makes no
/// progress for the stall timeout fails. One reader thread and one writer thread may use a
/// socket at the same time; `shutdown` may be called from any thread.
class Socket {
 public:
  static constexpr std::chrono::milliseconds kPollStep{100};

  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket();
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  /// Binds `host` (an IPv4 address) at `port` (0: chosen by the OS) and listens.
  static absl::StatusOr<Socket> listen(const std::string& host, int port);
  /// Connects to `host`:`port` within `timeout`; Unavailable or DeadlineExceeded otherwise.
  static absl::StatusOr<Socket> connect(const std::string& host,
                                        int port,
                                        std::chrono::milliseconds timeout);

  /// Waits at most kPollStep for a connection on a listening socket; nullopt if none came.
  absl::StatusOr<std::optional<Socket>> accept();

  /// Reads exactly `n` bytes. With `idleAllowed`, waiting for the first byte has no stall
  /// limit (an idle connection is normal). Returns Cancelled when `stop` is set, Unavailable
  /// when the peer closed or the socket failed, DeadlineExceeded when stalled.
  absl::Status readFully(char* data,
                         size_t n,
                         bool idleAllowed,
                         const std::atomic<bool>& stop,
                         std::chrono::milliseconds stallTimeout);
  /// Reads at least `minBytes` and at most as many as `iov` has room for, filling its
  /// entries in order, and returns the number read: one call can take a frame's body and the
  /// bytes that follow it. `minBytes` must not exceed the room of `iov`. Waits and fails as
  /// readFully.
  absl::StatusOr<size_t> readAtLeast(const iovec* iov,
                                     int count,
                                     size_t minBytes,
                                     bool idleAllowed,
                                     const std::atomic<bool>& stop,
                                     std::chrono::milliseconds stallTimeout);
  /// Writes all bytes of `iov` (modified in place); the same errors as readFully.
  absl::Status writeFully(iovec* iov,
                          int count,
                          const std::atomic<bool>& stop,
                          std::chrono::milliseconds stallTimeout);

  /// Stops both directions, so that blocked reads and writes of other threads end.
  void shutdown();
  int localPort() const;
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace brook::runtime::network
