#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <absl/synchronization/mutex.h>

namespace grpc {
class Channel;
}

namespace brook::taskmanager {

/// The TaskManager's side of its JobManager connection: registers its slots with the
/// ResourceManager, retrying until the JobManager is reachable, then heartbeats; registers again
/// when the JobManager no longer knows it or has been unreachable for the heartbeat timeout.
/// `start` runs this on its own thread; `stop` returns when that thread has ended.
class ResourceManagerConnection {
 public:
  struct Options {
    std::string taskManagerId;
    std::string jobManagerAddress;  ///< host:port
    std::string rpcAddress;         ///< host:port of this TaskManager's TaskExecutor service
    std::string dataAddress;        ///< host:port of this TaskManager's network channels
    int numberOfSlots = 1;
    std::chrono::milliseconds heartbeatTimeout{10000};
    std::chrono::milliseconds registrationRetry{500};
  };

  /// What every heartbeat reports.
  struct Report {
    std::vector<std::string> slotJobs;  ///< per slot: the job using it, or empty
    std::map<std::string, double> backpressure;
    int64_t networkBytesSent = 0;
    int64_t networkBytesReceived = 0;
  };
  /// Called on the connection's thread before every heartbeat.
  using Reporter = std::function<Report()>;
  /// Called on the connection's thread when the JobManager has not answered for the heartbeat
  /// timeout or no longer knows this TaskManager: its tasks must be cancelled.
  using LossHandler = std::function<void(const std::string& reason)>;

  explicit ResourceManagerConnection(Options options,
                                     Reporter reporter = {},
                                     LossHandler onJobManagerLost = {});
  ~ResourceManagerConnection();
  ResourceManagerConnection(const ResourceManagerConnection&) = delete;
  ResourceManagerConnection& operator=(const ResourceManagerConnection&) = delete;

  void start();
  void stop();

  bool registered() const;
  /// How many times this TaskManager has registered (1 after the first registration).
  int registrations() const;

 private:
  void run();
  void connect();
  bool tryRegister();
  bool sendHeartbeat();
  /// Waits up to `d` unless stopping; returns false when stopping.
  bool waitFor(std::chrono::milliseconds d);

  Options options_;
  Reporter reporter_;
  LossHandler onJobManagerLost_;
  std::shared_ptr<grpc::Channel> channel_;
  mutable absl::Mutex mutex_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  bool registered_ ABSL_GUARDED_BY(mutex_) = false;
  int registrations_ ABSL_GUARDED_BY(mutex_) = 0;
  std::chrono::milliseconds heartbeatInterval_{1000};
  std::chrono::steady_clock::time_point lastAcknowledged_;
  std::jthread thread_;
};

}  // namespace brook::taskmanager
