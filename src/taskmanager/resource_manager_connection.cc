#include "taskmanager/resource_manager_connection.h"

#include <absl/strings/str_cat.h>
#include <grpcpp/grpcpp.h>

#include "brook/brook.grpc.pb.h"
#include "common/logging.h"
#include "runtime/job_graph_proto.h"

namespace brook::taskmanager {

namespace {
std::chrono::system_clock::time_point deadlineIn(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}
}  // namespace

ResourceManagerConnection::ResourceManagerConnection(Options options,
                                                     Reporter reporter,
                                                     LossHandler onJobManagerLost)
    : options_(std::move(options)),
      reporter_(std::move(reporter)),
      onJobManagerLost_(std::move(onJobManagerLost)) {
  connect();
}

void ResourceManagerConnection::connect() {
  // A fresh channel per registration attempt connects at once, where a channel that failed
  // before would wait out its reconnection backoff.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  channel_ = grpc::CreateCustomChannel(options_.jobManagerAddress,
                                       grpc::InsecureChannelCredentials(), args);
}

ResourceManagerConnection::~ResourceManagerConnection() {
  stop();
}

void ResourceManagerConnection::start() {
  thread_ = std::jthread([this] { run(); });
}

void ResourceManagerConnection::stop() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  if (thread_.joinable())
    thread_.join();
}

bool ResourceManagerConnection::registered() const {
  absl::MutexLock lock(&mutex_);
  return registered_;
}

int ResourceManagerConnection::registrations() const {
  absl::MutexLock lock(&mutex_);
  return registrations_;
}

bool ResourceManagerConnection::waitFor(std::chrono::milliseconds d) {
  absl::MutexLock lock(&mutex_);
  mutex_.AwaitWithTimeout(absl::Condition(&stopping_),
                          absl::Milliseconds(static_cast<int64_t>(d.count())));
  return !stopping_;
}

bool ResourceManagerConnection::tryRegister() {
  auto stub = v1::ResourceManager::NewStub(channel_);
  v1::RegisterTaskManagerRequest request;
  request.set_protocol_version(runtime::kProtocolVersion);
  request.set_task_manager_id(options_.taskManagerId);
  request.set_rpc_address(options_.rpcAddress);
  request.set_data_address(options_.dataAddress);
  request.set_number_of_slots(options_.numberOfSlots);
  v1::RegisterTaskManagerResponse response;
  grpc::ClientContext context;
  context.set_deadline(deadlineIn(std::chrono::milliseconds(2000)));
  grpc::Status status = stub->RegisterTaskManager(&context, request, &response);
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
        status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      getLogger("taskmanager")
          ->error("TaskManager {}: the JobManager at {} refused the registration: {}",
                  options_.taskManagerId, options_.jobManagerAddress, status.error_message());
    }
    return false;
  }
  heartbeatInterval_ =
      std::chrono::milliseconds(std::max<int64_t>(10, response.heartbeat_interval_millis()));
  lastAcknowledged_ = std::chrono::steady_clock::now();
  int count;
  {
    absl::MutexLock lock(&mutex_);
    registered_ = true;
    count = ++registrations_;
  }
  getLogger("taskmanager")
      ->info("TaskManager {} registered at the JobManager {} with {} slots (registration {})",
             options_.taskManagerId, options_.jobManagerAddress, options_.numberOfSlots, count);
  return true;
}

bool ResourceManagerConnection::sendHeartbeat() {
  auto stub = v1::ResourceManager::NewStub(channel_);
  v1::HeartbeatRequest request;
  request.set_protocol_version(runtime::kProtocolVersion);
  request.set_task_manager_id(options_.taskManagerId);
  Report report;
  if (reporter_)
    report = reporter_();
  for (int i = 0; i < options_.numberOfSlots; ++i) {
    v1::SlotReport* slot = request.add_slots();
    slot->set_slot_index(i);
    if (static_cast<size_t>(i) < report.slotJobs.size())
      slot->set_job_id(report.slotJobs[static_cast<size_t>(i)]);
  }
  for (const auto& [task, ratio] : report.backpressure)
    (*request.mutable_backpressure())[task] = ratio;
  request.set_network_bytes_sent(report.networkBytesSent);
  request.set_network_bytes_received(report.networkBytesReceived);
  v1::HeartbeatResponse response;
  grpc::ClientContext context;
  context.set_deadline(deadlineIn(std::max(heartbeatInterval_, std::chrono::milliseconds(500))));
  grpc::Status status = stub->Heartbeat(&context, request, &response);
  auto now = std::chrono::steady_clock::now();
  if (status.ok() && response.known()) {
    lastAcknowledged_ = now;
    return true;
  }
  if (status.ok()) {
    getLogger("taskmanager")
        ->warn("TaskManager {}: the JobManager no longer knows it; registering again",
               options_.taskManagerId);
    if (onJobManagerLost_)
      onJobManagerLost_("the JobManager no longer knows this TaskManager");
    return false;
  }
  if (now - lastAcknowledged_ > options_.heartbeatTimeout) {
    getLogger("taskmanager")
        ->warn("TaskManager {}: no heartbeat answer from the JobManager {} for {} ms: {}",
               options_.taskManagerId, options_.jobManagerAddress,
               options_.heartbeatTimeout.count(), status.error_message());
    if (onJobManagerLost_) {
      onJobManagerLost_(absl::StrCat("no heartbeat answer from the JobManager ",
                                     options_.jobManagerAddress, " for ",
                                     options_.heartbeatTimeout.count(), " ms"));
    }
    return false;
  }
  return true;
}

void ResourceManagerConnection::run() {
  bool warnedUnreachable = false;
  for (;;) {
    if (!registered()) {
      if (tryRegister()) {
        warnedUnreachable = false;
        continue;
      }
      connect();
      if (!warnedUnreachable) {
        getLogger("taskmanager")
            ->warn("TaskManager {}: JobManager at {} is not reachable yet; retrying",
                   options_.taskManagerId, options_.jobManagerAddress);
        warnedUnreachable = true;
      }
      if (!waitFor(options_.registrationRetry))
        return;
      continue;
    }
    if (!waitFor(heartbeatInterval_))
      return;
    if (!sendHeartbeat()) {
      absl::MutexLock lock(&mutex_);
      registered_ = false;
    }
  }
}

}  // namespace brook::taskmanager
