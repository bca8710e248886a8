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
  it->second.lastHeartbeat = Clock::now();
  for (const auto& slot : request.slots()) {
    if (slot.slot_index() >= 0 && slot.slot_index() < it->second.numberOfSlots) {
      it->second.slotJobs[static_cast<size_t>(slot.slot_index())] = slot.job_id();
    }
  }
  return true;
}

void ResourceManager::checkHeartbeats() {
  std::vector<std::pair<std::string, std::string>> lostNow;
  std::vector<LossListener> listeners;
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
    int free = 0;
    for (const auto& job : tm.slotJobs)
      free += job.empty() ? 1 : 0;
    d->set_free_slots(free);
    d->set_millis_since_heartbeat(
        std::chrono::duration_cast<std::chrono::milliseconds>(now - tm.lastHeartbeat).count());
  }
  for (const auto& [id, reason] : resourceManager_->lostTaskManagers()) {
    auto* l = response->add_lost();
    l->set_task_manager_id(id);
    l->set_reason(reason);
  }
  return grpc::Status::OK;
}

}  // namespace brook::jobmanager
