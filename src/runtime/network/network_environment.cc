#include "runtime/network/network_environment.h"

#include <algorithm>

#include <absl/strings/str_cat.h>

#include "common/logging.h"

namespace brook::runtime::network {

NetworkEnvironment::NetworkEnvironment(Options options) : options_(std::move(options)) {}

NetworkEnvironment::~NetworkEnvironment() {
  stop();
}

absl::Status NetworkEnvironment::start() {
  if (started_)
    return absl::FailedPreconditionError("the network environment was started before");
  absl::StatusOr<Socket> server = Socket::listen(options_.host, options_.port);
  if (!server.ok()) {
    return absl::Status(server.status().code(), absl::StrCat("starting the network environment: ",
                                                             server.status().message()));
  }
  server_ = std::move(*server);
  port_ = server_.localPort();
  address_ = absl::StrCat(options_.host, ":", port_);
  started_ = true;
  acceptor_ = std::jthread([this] { acceptLoop(); });
  getLogger("network")->info("network environment listening on {}", address_);
  return absl::OkStatus();
}

void NetworkEnvironment::stop() {
  if (stopping_.exchange(true))
    return;
  if (acceptor_.joinable())
    acceptor_.join();
  server_ = Socket();
  std::vector<std::shared_ptr<Connection>> connections;
  {
    std::lock_guard lock(connectionsMutex_);
    connections = connections_;
  }
  for (auto& c : connections)
    c->stop(true);
  std::lock_guard lock(connectionsMutex_);
  for (auto& c : connections_)
    closedStats_.push_back(c->stats());
  connections_.clear();
  for (auto& channel : channels_)
    channel->releaseQueued();
}

absl::Status NetworkEnvironment::registerSubpartition(std::string id,
                                                      ResultSubpartition* subpartition) {
  std::lock_guard lock(registryMutex_);
  auto [it, inserted] = registry_.try_emplace(std::move(id), Registration{subpartition, false});
  if (!inserted)
    return absl::AlreadyExistsError(absl::StrCat("subpartition '", it->first, "' is registered"));
  return absl::OkStatus();
}

absl::Status NetworkEnvironment::unregisterSubpartition(std::string_view id) {
  std::lock_guard lock(registryMutex_);
  auto it = registry_.find(std::string(id));
  if (it == registry_.end())
    return absl::NotFoundError(
        absl::StrCat("subpartition '", std::string(id), "' is not registered"));
  if (it->second.inUse)
    return absl::FailedPreconditionError(
        absl::StrCat("subpartition '", std::string(id), "' is being read"));
  registry_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<ResultSubpartition*> NetworkEnvironment::acquireSubpartition(std::string_view id) {
  std::lock_guard lock(registryMutex_);
  auto it = registry_.find(std::string(id));
  if (it == registry_.end()) {
    return absl::NotFoundError(
        absl::StrCat("subpartition '", std::string(id), "' is not registered at ", address_));
  }
  if (it->second.inUse) {
    return absl::FailedPreconditionError(
        absl::StrCat("subpartition '", std::string(id), "' is already read by another channel"));
  }
  it->second.inUse = true;
  return it->second.subpartition;
}

void NetworkEnvironment::releaseSubpartition(std::string_view id) {
  std::lock_guard lock(registryMutex_);
  auto it = registry_.find(std::string(id));
  if (it != registry_.end())
    it->second.inUse = false;
}

std::shared_ptr<FloatingBufferPool> NetworkEnvironment::createFloatingBufferPool() const {
  return std::make_shared<FloatingBufferPool>(options_.floatingBuffersPerGate, options_.bufferSize);
}

absl::StatusOr<RemoteInputChannel*> NetworkEnvironment::createInputChannel(
    const std::string& host,
    int port,
    std::string subpartitionId,
    std::shared_ptr<FloatingBufferPool> floatingBuffers) {
  if (!started_ || stopping_.load())
    return absl::FailedPreconditionError("the network environment is not running");
  if (subpartitionId.empty() || subpartitionId.size() > kMaxSubpartitionIdBytes)
    return absl::InvalidArgumentError(absl::StrCat("bad subpartition id '", subpartitionId, "'"));
  reapClosedConnections();
  std::string peer = absl::StrCat(host, ":", port);
  std::lock_guard lock(connectionsMutex_);
  std::shared_ptr<Connection> connection;
  for (auto& c : connections_) {
    if (!c->closed() && c->peer() == peer) {
      connection = c;
      break;
    }
  }
  if (connection == nullptr) {
    absl::StatusOr<Socket> socket = Socket::connect(host, port, options_.connectTimeout);
    if (!socket.ok()) {
      return absl::Status(socket.status().code(),
                          absl::StrCat("requesting subpartition '", subpartitionId,
                                       "': ", socket.status().message()));
    }
    Connection::Options connectionOptions;
    connectionOptions.maxBufferBytes = static_cast<uint32_t>(options_.bufferSize);
    connectionOptions.stallTimeout = options_.stallTimeout;
    connection = std::make_shared<Connection>(this, std::move(*socket), peer, connectionOptions);
    connection->start(encodeHello(address_));
    connections_.push_back(connection);
  }
  auto channel =
      std::make_shared<RemoteInputChannel>(std::move(subpartitionId), options_.buffersPerChannel,
                                           options_.bufferSize, std::move(floatingBuffers));
  absl::Status requested = connection->requestSubpartition(channel);
  if (!requested.ok())
    return requested;
  channels_.push_back(channel);
  return channel.get();
}

void NetworkEnvironment::releaseInputChannel(RemoteInputChannel* channel) {
  if (std::shared_ptr<Connection> connection = channel->connection())
    connection->releaseInputChannel(channel->channelId());
  channel->releaseQueued();
  // A connection's reader may still hold the channel while a buffer is in flight; the channel
  // lives until it lets go.
  std::lock_guard lock(connectionsMutex_);
  auto it = std::find_if(channels_.begin(), channels_.end(),
                         [channel](const auto& c) { return c.get() == channel; });
  if (it != channels_.end())
    channels_.erase(it);
}

std::vector<ConnectionStats> NetworkEnvironment::connectionStats() const {
  std::lock_guard lock(connectionsMutex_);
  std::vector<ConnectionStats> stats = closedStats_;
  for (auto& c : connections_)
    stats.push_back(c->stats());
  return stats;
}

int NetworkEnvironment::numberOfOpenConnections() const {
  std::lock_guard lock(connectionsMutex_);
  return static_cast<int>(std::count_if(connections_.begin(), connections_.end(),
                                        [](const auto& c) { return !c->closed(); }));
}

void NetworkEnvironment::reapClosedConnections() {
  std::vector<std::shared_ptr<Connection>> closed;
  {
    std::lock_guard lock(connectionsMutex_);
    auto it = std::partition(connections_.begin(), connections_.end(),
                             [](const auto& c) { return !c->closed(); });
    closed.assign(it, connections_.end());
    connections_.erase(it, connections_.end());
  }
  for (auto& c : closed) {
    c->stop(false);
    std::lock_guard lock(connectionsMutex_);
    closedStats_.push_back(c->stats());
  }
}

void NetworkEnvironment::acceptLoop() {
  auto log = getLogger("network");
  while (!stopping_.load()) {
    absl::StatusOr<std::optional<Socket>> accepted = server_.accept();
    if (!accepted.ok()) {
      log->warn("accepting a connection on {}: {}", address_, accepted.status());
      continue;
    }
    reapClosedConnections();
    if (!accepted->has_value())
      continue;
    Connection::Options connectionOptions;
    connectionOptions.maxBufferBytes = static_cast<uint32_t>(options_.bufferSize);
    connectionOptions.stallTimeout = options_.stallTimeout;
    auto connection = std::make_shared<Connection>(this, std::move(**accepted),
                                                   "an unidentified peer", connectionOptions);
    std::lock_guard lock(connectionsMutex_);
    if (stopping_.load())
      break;
    connection->start("");
    connections_.push_back(std::move(connection));
  }
}

}  // namespace brook::runtime::network
