#include "checkpoint/checkpoint_coordinator.h"

#include <algorithm>
#include <system_error>
#include <tuple>
#include <utility>

#include <absl/strings/str_cat.h>

namespace brook::checkpoint {

namespace fs = std::filesystem;

namespace {
/// Moves a completed savepoint from the job's checkpoint folder to its target: a rename, or a
/// copy and removal across file systems.
absl::Status moveDirectory(const fs::path& from, const fs::path& to) {
  std::error_code error;
  fs::rename(from, to, error);
  if (!error)
    return absl::OkStatus();
  if (error != std::errc::cross_device_link) {
    return absl::InternalError(absl::StrCat("cannot move ", from.string(), " to ", to.string(),
                                            ": ", error.message()));
  }
  fs::copy(from, to, fs::copy_options::recursive, error);
  if (error) {
    fs::remove_all(to, error);
    return absl::InternalError(absl::StrCat("cannot copy ", from.string(), " to ", to.string(),
                                            ": ", error.message()));
  }
  fs::remove_all(from, error);
  return absl::OkStatus();
}
}  // namespace

CheckpointCoordinator::CheckpointCoordinator(std::string jobId, CheckpointingOptions options,
                                             FileCheckpointStorage storage,
                                             std::vector<OperatorDescription> operators,
                                             std::vector<SubtaskId> tasks, Callbacks callbacks,
                                             int64_t lastCheckpointId)
    : jobId_(std::move(jobId)),
      options_(std::move(options)),
      storage_(std::move(storage)),
      operators_(std::move(operators)),
      tasks_(std::move(tasks)),
      callbacks_(std::move(callbacks)),
      nextId_(lastCheckpointId + 1) {}

void CheckpointCoordinator::run(Actions& actions) {
  for (auto& action : actions)
    action();
  actions.clear();
}

void CheckpointCoordinator::start(int64_t nowMillis) {
  std::lock_guard lock(mutex_);
  periodic_ = options_.enabled();
  nextTriggerMillis_ = nowMillis + options_.intervalMillis;
}

void CheckpointCoordinator::stop() {
  std::lock_guard lock(mutex_);
  periodic_ = false;
}

void CheckpointCoordinator::onTick(int64_t nowMillis) {
  Actions actions;
  {
    std::lock_guard lock(mutex_);
    std::vector<int64_t> expired;
    for (const auto& [id, p] : pending_) {
      if (nowMillis - p.triggerMillis >= options_.timeoutMillis)
        expired.push_back(id);
    }
    for (int64_t id : expired) {
      const Pending& p = pending_.at(id);
      abortLocked(id,
                  absl::StrCat(p.isSavepoint ? "savepoint " : "checkpoint ", id,
                               " expired after ", options_.timeoutMillis, " ms with ",
                               p.waitingFor.size(), " of ", tasks_.size(),
                               " tasks not yet acknowledged"),
                  /*countsAsFailure=*/!p.isSavepoint, actions);
    }
    if (periodic_ && nowMillis >= nextTriggerMillis_) {
      const auto concurrent = std::count_if(pending_.begin(), pending_.end(),
                                            [](const auto& e) { return !e.second.isSavepoint; });
      const bool paused = lastCompletionMillis_ != INT64_MIN &&
                          nowMillis - lastCompletionMillis_ < options_.minPauseMillis;
      if (concurrent < options_.maxConcurrentCheckpoints && !paused) {
        nextTriggerMillis_ = nowMillis + options_.intervalMillis;
        (void)triggerLocked(nowMillis, /*isSavepoint=*/false, {}, {}, actions);
      }
    }
  }
  run(actions);
}

absl::StatusOr<int64_t> CheckpointCoordinator::triggerCheckpoint(int64_t nowMillis) {
  Actions actions;
  absl::StatusOr<int64_t> id;
  {
    std::lock_guard lock(mutex_);
    id = triggerLocked(nowMillis, /*isSavepoint=*/false, {}, {}, actions);
  }
  run(actions);
  return id;
}

absl::StatusOr<int64_t> CheckpointCoordinator::triggerSavepoint(int64_t nowMillis,
                                                                const std::string& targetDirectory,
                                                                SavepointCallback done) {
  absl::StatusOr<fs::path> root = parseCheckpointDirectoryUri(targetDirectory);
  if (!root.ok())
    return root.status();
  Actions actions;
  absl::StatusOr<int64_t> id;
  {
    std::lock_guard lock(mutex_);
    fs::path directory =
        *root / absl::StrCat("savepoint-", jobId_.substr(0, 8), "-", nextId_);
    id = triggerLocked(nowMillis, /*isSavepoint=*/true, std::move(directory), std::move(done),
                       actions);
  }
  run(actions);
  return id;
}

absl::StatusOr<int64_t> CheckpointCoordinator::triggerLocked(int64_t nowMillis, bool isSavepoint,
                                                             fs::path directory,
                                                             SavepointCallback done,
                                                             Actions& actions) {
  if (!isSavepoint) {
    const auto concurrent = std::count_if(pending_.begin(), pending_.end(),
                                          [](const auto& e) { return !e.second.isSavepoint; });
    if (concurrent >= options_.maxConcurrentCheckpoints) {
      return absl::FailedPreconditionError(
          absl::StrCat(concurrent, " checkpoints are in progress (",
                       config_keys::kCheckpointingMaxConcurrent, " is ",
                       options_.maxConcurrentCheckpoints, ")"));
    }
  }
  const int64_t id = nextId_++;
  fs::path target;
  if (isSavepoint) {
    target = std::move(directory);
    std::error_code error;
    if (fs::exists(target, error)) {
      return absl::AlreadyExistsError(
          absl::StrCat("the savepoint directory ", target.string(), " already exists"));
    }
    fs::create_directories(target.parent_path(), error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot create the savepoint directory ",
                                              target.parent_path().string(), ": ",
                                              error.message()));
    }
  }
  absl::StatusOr<fs::path> created = storage_.initializeCheckpoint(id);
  if (!created.ok()) {
    if (!isSavepoint) {
      ++counts_.failed;
      failureLocked(absl::StrCat("checkpoint ", id, ": ", created.status().message()), actions);
    }
    return created.status();
  }
  directory = *std::move(created);
  Pending p;
  p.id = id;
  p.triggerMillis = nowMillis;
  p.isSavepoint = isSavepoint;
  p.directory = directory;
  p.savepointTarget = std::move(target);
  p.waitingFor.insert(tasks_.begin(), tasks_.end());
  p.done = std::move(done);
  ++counts_.triggered;
  if (p.waitingFor.empty()) {
    completeLocked(std::move(p), nowMillis, actions);
    return id;
  }
  pending_.emplace(id, std::move(p));
  actions.push_back([this, id, nowMillis, isSavepoint, directory] {
    absl::Status status = callbacks_.triggerSources
                              ? callbacks_.triggerSources(id, nowMillis, isSavepoint, directory)
                              : absl::OkStatus();
    if (status.ok())
      return;
    const std::string reason = absl::StrCat(isSavepoint ? "savepoint " : "checkpoint ", id,
                                            ": the sources could not be triggered: ",
                                            status.message());
    Actions aborted;
    {
      std::lock_guard lock(mutex_);
      const bool counts =
          !isSavepoint && status.code() != absl::StatusCode::kFailedPrecondition;
      abortLocked(id, reason, counts, aborted);
    }
    run(aborted);
  });
  return id;
}

absl::Status CheckpointCoordinator::acknowledge(int64_t id, const TaskAcknowledgement& ack,
                                                int64_t nowMillis) {
  Actions actions;
  absl::Status status = absl::OkStatus();
  {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(id);
    if (it == pending_.end()) {
      return absl::NotFoundError(absl::StrCat(
          "checkpoint ", id, " is not in progress (completed, aborted or unknown)"));
    }
    Pending& p = it->second;
    const std::string task =
        absl::StrCat("subtask ", ack.task.subtaskIndex, " of vertex ", ack.task.vertexId);
    if (!p.waitingFor.contains(ack.task)) {
      const bool known = std::find(tasks_.begin(), tasks_.end(), ack.task) != tasks_.end();
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", id, ": ", task,
          known ? " acknowledged twice" : " is not a task of this job"));
    }
    for (const auto& [uid, state] : ack.operators) {
      auto op = std::find_if(operators_.begin(), operators_.end(),
                             [&](const OperatorDescription& d) { return d.uid == uid; });
      if (op == operators_.end() || op->vertexId != ack.task.vertexId ||
          state.subtaskIndex != ack.task.subtaskIndex) {
        return absl::InvalidArgumentError(absl::StrCat(
            "checkpoint ", id, ": ", task, " acknowledged state of operator '", uid,
            "' subtask ", state.subtaskIndex, ", which it does not run"));
      }
    }
    for (const auto& [uid, state] : ack.operators)
      p.states[uid].push_back(state);
    p.waitingFor.erase(ack.task);
    if (p.waitingFor.empty()) {
      Pending done = std::move(p);
      pending_.erase(it);
      completeLocked(std::move(done), nowMillis, actions);
    }
  }
  run(actions);
  return status;
}

void CheckpointCoordinator::completeLocked(Pending p, int64_t nowMillis, Actions& actions) {
  CheckpointMetadata metadata;
  metadata.jobId = jobId_;
  metadata.checkpointId = p.id;
  metadata.timestampMillis = p.triggerMillis;
  metadata.isSavepoint = p.isSavepoint;
  std::string problem;
  for (const OperatorDescription& d : operators_) {
    OperatorStateMetadata op{d.uid, d.name, d.parallelism, d.maxParallelism, {}};
    op.subtasks = std::move(p.states[d.uid]);
    std::sort(op.subtasks.begin(), op.subtasks.end(),
              [](const auto& a, const auto& b) { return a.subtaskIndex < b.subtaskIndex; });
    if (static_cast<int>(op.subtasks.size()) != d.parallelism && problem.empty()) {
      problem = absl::StrCat("operator '", d.uid, "' acknowledged state of ", op.subtasks.size(),
                             " of its ", d.parallelism, " subtasks");
    }
    metadata.operators.push_back(std::move(op));
  }
  if (problem.empty())
    problem = resolveSharedFilePlaceholders(metadata);
  absl::Status written = problem.empty() ? writeMetadata(p.directory, metadata)
                                         : absl::DataLossError(problem);
  if (written.ok() && p.isSavepoint)
    written = moveDirectory(p.directory, p.savepointTarget);
  const char* kind = p.isSavepoint ? "savepoint " : "checkpoint ";
  if (!written.ok()) {
    // Put it back so that the abort path discards its files and tells everyone.
    const int64_t id = p.id;
    pending_.emplace(id, std::move(p));
    abortLocked(id, absl::StrCat(kind, id, " could not be completed: ", written.message()),
                /*countsAsFailure=*/!pending_.at(id).isSavepoint, actions);
    return;
  }
  ++counts_.completed;
  lastCompletionMillis_ = nowMillis;
  const int64_t id = p.id;
  if (p.isSavepoint) {
    if (p.done)
      actions.push_back([done = std::move(p.done), dir = p.savepointTarget] { done(dir); });
  } else {
    consecutiveFailures_ = 0;
    latest_ = metadata;
    // Older checkpoints still in progress are subsumed by this one.
    std::vector<int64_t> subsumed;
    for (const auto& [other, q] : pending_) {
      if (other < id && !q.isSavepoint)
        subsumed.push_back(other);
    }
    for (int64_t other : subsumed) {
      abortLocked(other, absl::StrCat("checkpoint ", other, " was subsumed by checkpoint ", id),
                  /*countsAsFailure=*/false, actions);
    }
    std::vector<int64_t> inProgress;
    for (const auto& entry : pending_)
      inProgress.push_back(entry.first);
    absl::Status retained = storage_.retain(options_.numRetained, inProgress);
    (void)retained;  // a folder that could not be removed is retried at the next completion
  }
  if (callbacks_.notifyComplete)
    actions.push_back([this, id] { callbacks_.notifyComplete(id); });
}

std::string CheckpointCoordinator::resolveSharedFilePlaceholders(
    CheckpointMetadata& metadata) const {
  // (operator uid, subtask, RocksDB file name) -> the shared file of the latest checkpoint.
  std::map<std::tuple<std::string, int, std::string>, StateFile> latest;
  if (latest_) {
    for (const OperatorStateMetadata& op : latest_->operators) {
      for (const SubtaskStateMetadata& s : op.subtasks) {
        for (const NativeStateFile& f : s.nativeKeyedState) {
          if (f.shared)
            latest.emplace(std::make_tuple(op.operatorUid, s.subtaskIndex, f.localName), f.file);
        }
      }
    }
  }
  for (OperatorStateMetadata& op : metadata.operators) {
    for (SubtaskStateMetadata& s : op.subtasks) {
      for (NativeStateFile& f : s.nativeKeyedState) {
        if (!f.shared || !f.file.path.empty())
          continue;
        auto it = latest.find(std::make_tuple(op.operatorUid, s.subtaskIndex, f.localName));
        if (it == latest.end()) {
          return absl::StrCat("subtask ", s.subtaskIndex, " of operator '", op.operatorUid,
                              "' references its RocksDB file ", f.localName,
                              " of an earlier checkpoint, which the latest completed checkpoint ",
                              latest_ ? absl::StrCat(latest_->checkpointId) : "(none)",
                              " does not hold");
        }
        f.file = it->second;
      }
    }
  }
  return {};
}

void CheckpointCoordinator::decline(int64_t id, SubtaskId task, DeclineReason why,
                                    const std::string& reason, int64_t nowMillis) {
  (void)nowMillis;
  Actions actions;
  {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(id);
    if (it == pending_.end())
      return;
    const bool isSavepoint = it->second.isSavepoint;
    std::string who = task.vertexId < 0 ? std::string()
                                        : absl::StrCat(" by subtask ", task.subtaskIndex,
                                                       " of vertex ", task.vertexId);
    abortLocked(id,
                absl::StrCat(isSavepoint ? "savepoint " : "checkpoint ", id, " was declined",
                             who, ": ", reason),
                /*countsAsFailure=*/!isSavepoint && why == DeclineReason::kFailure, actions);
  }
  run(actions);
}

void CheckpointCoordinator::abortPending(const std::string& reason) {
  Actions actions;
  {
    std::lock_guard lock(mutex_);
    std::vector<int64_t> ids;
    for (const auto& entry : pending_)
      ids.push_back(entry.first);
    for (int64_t id : ids)
      abortLocked(id, absl::StrCat("checkpoint ", id, " was aborted: ", reason),
                  /*countsAsFailure=*/false, actions);
  }
  run(actions);
}

void CheckpointCoordinator::abortLocked(int64_t id, const std::string& reason,
                                        bool countsAsFailure, Actions& actions) {
  auto it = pending_.find(id);
  if (it == pending_.end())
    return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  (void)storage_.discardCheckpoint(id);
  if (countsAsFailure)
    ++counts_.failed;
  if (p.done) {
    actions.push_back([done = std::move(p.done), reason] {
      done(absl::AbortedError(reason));
    });
  }
  if (callbacks_.notifyAborted)
    actions.push_back([this, id, reason] { callbacks_.notifyAborted(id, reason); });
  if (countsAsFailure)
    failureLocked(reason, actions);
}

void CheckpointCoordinator::failureLocked(const std::string& reason, Actions& actions) {
  if (++consecutiveFailures_ <= options_.tolerableFailedCheckpoints)
    return;
  const std::string message = absl::StrCat(
      "the job had ", consecutiveFailures_, " failed checkpoints in a row (",
      config_keys::kCheckpointingTolerableFailures, " is ", options_.tolerableFailedCheckpoints,
      "); the last: ", reason);
  consecutiveFailures_ = 0;
  if (callbacks_.failJob)
    actions.push_back([this, message] { callbacks_.failJob(message); });
}

std::optional<CheckpointMetadata> CheckpointCoordinator::latestCompleted() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

void CheckpointCoordinator::continueFrom(CheckpointMetadata restored) {
  std::lock_guard lock(mutex_);
  latest_ = std::move(restored);
}

CheckpointCoordinator::Counts CheckpointCoordinator::counts() const {
  std::lock_guard lock(mutex_);
  Counts c = counts_;
  c.pending = static_cast<int>(pending_.size());
  return c;
}

}  // namespace brook::checkpoint
