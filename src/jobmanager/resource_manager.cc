#include "jobmanager/resource_manager.h"

#include <absl/strings/str_cat.h>

#include "common/logging.h"
#include "common/rpc_status.h"
#include "runtime/job_graph_proto.h"

namespace brook::jobmanager {

ResourceManager::ResourceManager(Options options) : options_(options) {}

ResourceManager::~ResourceManager() {
  stop();
}

void ResourceManager::start() {
  // Checks a few times per timeout, so a loss is declared at most a fraction late.
  auto period = std::max(std::chrono::milliseconds(10),
                         std::min(options_.heartbeatInterval, options_.heartbeatTimeout / 4));
  checker_ = std::jthread([this, period] {
    for (;;) {
      {
        absl::MutexLock lock(&mutex_);
        if (mutex_.AwaitWithTimeout(absl::Condition(&stopping_),
                                    absl::Milliseconds(static_cast<int64_t>(period.count())))) {
          return;
        }
      }
      checkHeartbeats();
    }
  });
}

void ResourceManager::stop() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  if (checker_.joinable())
    checker_.join();
}

absl::Status ResourceManager::registerTaskManager(const v1::RegisterTaskManagerRequest& request) {
  if (auto s = checkProtocolVersion(request.protocol_version(), runtime::kProtocolVersion);
      !s.ok()) {
    return s;
  }
  if (request.task_manager_id().empty()) {
    return absl::InvalidArgumentError("TaskManager registration without an id");
  }
  if (request.number_of_slots() < 1) {
    return absl::InvalidArgumentError(absl::StrCat("TaskManager ", request.task_manager_id(),
                                                   " offers ", request.number_of_slots(),
                                                   " slots"));
  }
  TaskManager tm;
  tm.id = request.task_manager_id();
  tm.rpcAddress = request.rpc_address();
  tm.dataAddress = request.data_address();
  tm.numberOfSlots = request.number_of_slots();
  tm.slotJobs.assign(static_cast<size_t>(tm.numberOfSlots), "");
  tm.lastHeartbeat = Clock::now();
  {
    absl::MutexLock lock(&mutex_);
    taskManagers_[tm.id] = tm;
  }
  getLogger("resourcemanager")
      ->info("TaskManager {} registered with {} slots (rpc {}, data {})", tm.id, tm.numberOfSlots,
             tm.rpcAddress, tm.dataAddress);
  return absl::OkStatus();
}

absl::StatusOr<bool> ResourceManager::heartbeat(const v1::HeartbeatRequest& request) {
  if (auto s = checkProtocolVersion(request.protocol_version(), runtime::kProtocolVersion);
      !s.ok()) {
    return s;
  }
  absl::MutexLock lock(&mutex_);
  auto it = taskManagers_.find(request.task_manager_id());
  if (it == taskManagers_.end())
    return false;
  // The slot table here is authoritative (a slot is allocated before its tasks arrive at the
  // TaskManager); the TaskManager's slot report is informational.
  TaskManager& tm = it->second;
  tm.lastHeartbeat = Clock::now();
  tm.networkBytesSent = request.network_bytes_sent();
  tm.networkBytesReceived = request.network_bytes_received();
  tm.backpressure.clear();
  for (const auto& [task, ratio] : request.backpressure())
    tm.backpressure[task] = ratio;
  return true;
}

absl::StatusOr<std::vector<ResourceManager::SlotAssignment>> ResourceManager::allocateSlots(
    const std::string& jobId, int count) {
  absl::MutexLock lock(&mutex_);
  int free = 0;
  int total = 0;
  for (const auto& [id, tm] : taskManagers_) {
    total += tm.numberOfSlots;
    free += tm.freeSlots();
  }
  if (free < count) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the job needs ", count, " slots but only ", free, " of ", total,
                     " slots are free (", taskManagers_.size(), " TaskManagers registered)"));
  }
  // Round-robin over the TaskManagers: one free slot of each in turn.
  std::vector<SlotAssignment> slots;
  while (static_cast<int>(slots.size()) < count) {
    for (auto& [id, tm] : taskManagers_) {
      if (static_cast<int>(slots.size()) == count)
        break;
      for (size_t i = 0; i < tm.slotJobs.size(); ++i) {
        if (tm.slotJobs[i].empty()) {
          tm.slotJobs[i] = jobId;
          slots.push_back(
              SlotAssignment{tm.id, tm.rpcAddress, tm.dataAddress, static_cast<int>(i)});
          break;
        }
      }
    }
  }
  return slots;
}

void ResourceManager::releaseSlots(const std::string& jobId) {
  absl::MutexLock lock(&mutex_);
  for (auto& [id, tm] : taskManagers_) {
    for (auto& job : tm.slotJobs) {
      if (job == jobId)
        job.clear();
    }
  }
}

ResourceManager::SlotSummary ResourceManager::slotSummary() const {
  absl::MutexLock lock(&mutex_);
  SlotSummary summary;
  for (const auto& [id, tm] : taskManagers_) {
    ++summary.taskManagers;
    summary.totalSlots += tm.numberOfSlots;
    summary.freeSlots += tm.freeSlots();
  }
  return summary;
}

void ResourceManager::checkHeartbeats() {
  std::vector<std::pair<std::string, std::string>> lostNow;
  {
    absl::MutexLock lock(&mutex_);
    auto now = Clock::now();
    for (auto it = taskManagers_.begin(); it != taskManagers_.end();) {
      auto silent =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second.lastHeartbeat);
      if (silent > options_.heartbeatTimeout) {
        std::string reason = absl::StrCat("no heartbeat for ", silent.count(), " ms (timeout ",
                                          options_.heartbeatTimeout.count(), " ms)");
        lostNow.emplace_back(it->first, reason);
        lost_.emplace_back(it->first, reason);
        it = taskManagers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  notifyLost(lostNow);
}

void ResourceManager::declareLost(const std::string& taskManagerId, const std::string& reason) {
  {
    absl::MutexLock lock(&mutex_);
    if (taskManagers_.erase(taskManagerId) == 0)
      return;
    lost_.emplace_back(taskManagerId, reason);
  }
  notifyLost({{taskManagerId, reason}});
}

void ResourceManager::notifyLost(const std::vector<std::pair<std::string, std::string>>& lostNow) {
  std::vector<LossListener> listeners;
  {
    absl::MutexLock lock(&mutex_);
    listeners = listeners_;
  }
  for (const auto& [id, reason] : lostNow) {
    getLogger("resourcemanager")->warn("TaskManager {} is lost: {}", id, reason);
    for (const auto& l : listeners)
      l(id, reason);
  }
}

std::vector<ResourceManager::TaskManager> ResourceManager::taskManagers() const {
  absl::MutexLock lock(&mutex_);
  std::vector<TaskManager> out;
  for (const auto& [id, tm] : taskManagers_)
    out.push_back(tm);
  return out;
}

std::vector<std::pair<std::string, std::string>> ResourceManager::lostTaskManagers() const {
  absl::MutexLock lock(&mutex_);
  return lost_;
}

void ResourceManager::addLossListener(LossListener listener) {
  absl::MutexLock lock(&mutex_);
  listeners_.push_back(std::move(listener));
}

grpc::Status ResourceManagerService::RegisterTaskManager(
    grpc::ServerContext*,
    const v1::RegisterTaskManagerRequest* request,
    v1::RegisterTaskManagerResponse* response) {
  if (auto s = resourceManager_->registerTaskManager(*request); !s.ok())
    return toGrpcStatus(s);
  response->set_heartbeat_interval_millis(resourceManager_->options().heartbeatInterval.count());
  return grpc::Status::OK;
}

grpc::Status ResourceManagerService::Heartbeat(grpc::ServerContext*,
                                               const v1::HeartbeatRequest* request,
                                               v1::HeartbeatResponse* response) {
  auto known = resourceManager_->heartbeat(*request);
  if (!known.ok())
    return toGrpcStatus(known.status());
  response->set_known(*known);
  return grpc::Status::OK;
}

grpc::Status ResourceManagerService::ListTaskManagers(grpc::ServerContext*,
                                                      const v1::ListTaskManagersRequest* request,
                                                      v1::ListTaskManagersResponse* response) {
  if (auto s = checkProtocolVersion(request->protocol_version(), runtime::kProtocolVersion);
      !s.ok()) {
    return toGrpcStatus(s);
  }
  auto now = ResourceManager::Clock::now();
  for (const auto& tm : resourceManager_->taskManagers()) {
    auto* d = response->add_task_managers();
    d->set_task_manager_id(tm.id);
    d->set_rpc_address(tm.rpcAddress);
    d->set_data_address(tm.dataAddress);
    d->set_number_of_slots(tm.numberOfSlots);
    d->set_free_slots(tm.freeSlots());
    d->set_millis_since_heartbeat(
        std::chrono::duration_cast<std::chrono::milliseconds>(now - tm.lastHeartbeat).count());
    d->set_network_bytes_sent(tm.networkBytesSent);
    d->set_network_bytes_received(tm.networkBytesReceived);
  }
  for (const auto& [id, reason] : resourceManager_->lostTaskManagers()) {
    auto* l = response->add_lost();
    l->set_task_manager_id(id);
    l->set_reason(reason);
  }
  return grpc::Status::OK;
}

}  // namespace brook::jobmanager
