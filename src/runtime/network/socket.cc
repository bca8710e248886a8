#include "runtime/network/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <absl/strings/str_cat.h>

namespace brook::runtime::network {
namespace {

using Clock = std::chrono::steady_clock;

absl::Status errnoStatus(std::string_view what, int error) {
  return absl::UnavailableError(absl::StrCat(std::string(what), ": ", std::strerror(error)));
}

// An IPv4 address, or a host name resolved to its first IPv4 address.
absl::StatusOr<sockaddr_in> parseAddress(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (port < 0 || port > 65535 || host.empty())
    return absl::InvalidArgumentError(absl::StrCat("bad address ", host, ":", port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1)
    return addr;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve host '", host, "': ", ::gai_strerror(rc)));
  }
  addr.sin_addr = reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr;
  ::freeaddrinfo(found);
  return addr;
}

void setNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Waits at most one poll step for `events`; returns the poll result (0 on timeout).
int pollOnce(int fd, short events, std::chrono::milliseconds step) {
  pollfd p{fd, events, 0};
  int r = ::poll(&p, 1, static_cast<int>(step.count()));
  if (r < 0 && errno == EINTR)
    return 0;
  return r;
}

}  // namespace

Socket::~Socket() {
  if (fd_ >= 0)
    ::close(fd_);
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

absl::StatusOr<Socket> Socket::listen(const std::string& host, int port) {
  absl::StatusOr<sockaddr_in> addr = parseAddress(host, port);
  if (!addr.ok())
    return addr.status();
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid())
    return errnoStatus("socket", errno);
  int one = 1;
  setsockopt(s.fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(s.fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return errnoStatus(absl::StrCat("bind ", host, ":", port), errno);
  if (::listen(s.fd_, 128) != 0)
    return errnoStatus("listen", errno);
  setNonBlocking(s.fd_);
  return s;
}

absl::StatusOr<Socket> Socket::connect(const std::string& host,
                                       int port,
                                       std::chrono::milliseconds timeout) {
  absl::StatusOr<sockaddr_in> addr = parseAddress(host, port);
  if (!addr.ok())
    return addr.status();
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid())
    return errnoStatus("socket", errno);
  setNonBlocking(s.fd_);
  std::string target = absl::StrCat(host, ":", port);
  if (::connect(s.fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    if (errno != EINPROGRESS)
      return errnoStatus(absl::StrCat("connect to ", target), errno);
    pollfd p{s.fd_, POLLOUT, 0};
    int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r == 0)
      return absl::DeadlineExceededError(absl::StrCat("connect to ", target, " timed out"));
    int error = 0;
    socklen_t len = sizeof(error);
    getsockopt(s.fd_, SOL_SOCKET, SO_ERROR, &error, &len);
    if (r < 0 || error != 0)
      return errnoStatus(absl::StrCat("connect to ", target), r < 0 ? errno : error);
  }
  setNoDelay(s.fd_);
  return s;
}

absl::StatusOr<std::optional<Socket>> Socket::accept() {
  if (pollOnce(fd_, POLLIN, kPollStep) <= 0)
    return std::optional<Socket>();
  int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
      return std::optional<Socket>();
    return errnoStatus("accept", errno);
  }
  setNoDelay(fd);
  return std::optional<Socket>(Socket(fd));
}

absl::Status Socket::readFully(char* data,
                               size_t n,
                               bool idleAllowed,
                               const std::atomic<bool>& stop,
                               std::chrono::milliseconds stallTimeout) {
  size_t done = 0;
  auto lastProgress = Clock::now();
  while (done < n) {
    if (stop.load(std::memory_order_relaxed))
      return absl::CancelledError("connection stopped");
    ssize_t r = ::recv(fd_, data + done, n - done, 0);
    if (r > 0) {
      done += static_cast<size_t>(r);
      lastProgress = Clock::now();
      continue;
    }
    if (r == 0)
      return absl::UnavailableError("connection closed by peer");
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return errnoStatus("recv", errno);
    if ((done > 0 || !idleAllowed) && Clock::now() - lastProgress > stallTimeout)
      return absl::DeadlineExceededError("read stalled");
    pollOnce(fd_, POLLIN, kPollStep);
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> Socket::readAtLeast(const iovec* iov,
                                           int count,
                                           size_t minBytes,
                                           bool idleAllowed,
                                           const std::atomic<bool>& stop,
                                           std::chrono::milliseconds stallTimeout) {
  // A local copy of the entries, advanced past the bytes read so far.
  constexpr int kMaxEntries = 4;
  if (count < 1 || count > kMaxEntries)
    return absl::InternalError(absl::StrCat("readAtLeast with ", count, " entries"));
  iovec rest[kMaxEntries];
  std::copy(iov, iov + count, rest);
  iovec* first = rest;
  size_t done = 0;
  auto lastProgress = Clock::now();
  while (done < minBytes) {
    if (stop.load(std::memory_order_relaxed))
      return absl::CancelledError("connection stopped");
    msghdr msg{};
    msg.msg_iov = first;
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t r = ::recvmsg(fd_, &msg, 0);
    if (r > 0) {
      auto left = static_cast<size_t>(r);
      done += left;
      while (left > 0) {
        size_t take = std::min(left, first->iov_len);
        first->iov_base = static_cast<char*>(first->iov_base) + take;
        first->iov_len -= take;
        left -= take;
        if (first->iov_len == 0 && count > 1) {
          ++first;
          --count;
        }
      }
      lastProgress = Clock::now();
      continue;
    }
    if (r == 0)
      return absl::UnavailableError("connection closed by peer");
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return errnoStatus("recv", errno);
    if ((done > 0 || !idleAllowed) && Clock::now() - lastProgress > stallTimeout)
      return absl::DeadlineExceededError("read stalled");
    pollOnce(fd_, POLLIN, kPollStep);
  }
  return done;
}

absl::Status Socket::writeFully(iovec* iov,
                                int count,
                                const std::atomic<bool>& stop,
                                std::chrono::milliseconds stallTimeout) {
  auto lastProgress = Clock::now();
  while (count > 0) {
    if (iov->iov_len == 0) {
      ++iov;
      --count;
      continue;
    }
    if (stop.load(std::memory_order_relaxed))
      return absl::CancelledError("connection stopped");
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t r = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (r >= 0) {
      auto left = static_cast<size_t>(r);
      while (left > 0) {
        size_t take = std::min(left, iov->iov_len);
        iov->iov_base = static_cast<char*>(iov->iov_base) + take;
        iov->iov_len -= take;
        left -= take;
        if (iov->iov_len == 0) {
          ++iov;
          --count;
        }
      }
      lastProgress = Clock::now();
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return errnoStatus("send", errno);
    if (Clock::now() - lastProgress > stallTimeout)
      return absl::DeadlineExceededError("write stalled");
    pollOnce(fd_, POLLOUT, kPollStep);
  }
  return absl::OkStatus();
}

void Socket::shutdown() {
  if (fd_ >= 0)
    ::shutdown(fd_, SHUT_RDWR);
}

int Socket::localPort() const {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return -1;
  return ntohs(addr.sin_port);
}

}  // namespace brook::runtime::network
