#include "runtime/stream_task.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>

#include <absl/strings/str_cat.h>

#include "checkpoint/channel_state.h"
#include "checkpoint/checkpoint_storage.h"
#include "checkpoint/incremental_snapshot.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "state/key_group.h"
#include "state/operator_state_snapshot.h"
#include "state/state_snapshot.h"

namespace brook::runtime {

const char* taskStateName(TaskState state) {
  switch (state) {
    case TaskState::kCreated:
      return "CREATED";
    case TaskState::kRunning:
      return "RUNNING";
    case TaskState::kFinished:
      return "FINISHED";
    case TaskState::kCanceled:
      return "CANCELED";
    case TaskState::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

StreamTask::StreamTask(Environment environment, CompletionCallback onComplete)
    : env_(std::move(environment)),
      onComplete_(std::move(onComplete)),
      asyncCheckpoints_(absl::StrCat("ckpt-", env_.vertexId, "-", env_.subtaskIndex)) {
  const JobVertex& v = env_.jobGraph->vertices[static_cast<size_t>(env_.vertexId)];
  description_ = absl::StrCat(v.name, " (", env_.subtaskIndex + 1, "/", v.parallelism, ")#",
                              env_.attemptNumber);
}

StreamTask::~StreamTask() = default;

namespace {

/// How long a finished task waits for the state files of its last checkpoints (Flink's default
/// checkpoint timeout): a checkpoint that takes longer has failed anyway.
constexpr std::chrono::milliseconds kFinishedTaskCheckpointWait = std::chrono::minutes(10);

// Orders the timer heap so that its front is the earliest timer, the first registered of ties.
struct LaterTimer {
  template <typename Timer>
  bool operator()(const Timer& a, const Timer& b) const {
    return a.time != b.time ? a.time > b.time : a.sequence > b.sequence;
  }
};

// An operator id as a file name: itself when it is made of safe characters, else the node id.
std::string operatorDirectoryName(const std::string& operatorId, int nodeId) {
  bool safe =
      !operatorId.empty() && operatorId.size() <= 64 && operatorId != "." && operatorId != "..";
  for (char c : operatorId) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      safe = false;
  }
  return safe ? operatorId : absl::StrCat("node", nodeId);
}

// What names an operator instance's files in a checkpoint: "<operator>_<subtask>".
std::string operatorFilePrefix(const std::string& operatorId, int nodeId, int subtaskIndex) {
  return absl::StrCat(operatorDirectoryName(operatorId, nodeId), "_", subtaskIndex);
}

}  // namespace

int64_t StreamTask::currentProcessingTime() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void StreamTask::registerTimer(int64_t time, std::function<void(int64_t)> callback) {
  addTimer(time, kNoOperator, std::move(callback));
}

void StreamTask::addTimer(int64_t time,
                          size_t operatorIndex,
                          std::function<void(int64_t)> callback) {
  if (timersStopped_)
    return;
  timers_.push_back(Timer{time, nextTimerSequence_++, operatorIndex, std::move(callback)});
  std::push_heap(timers_.begin(), timers_.end(), LaterTimer{});
}

void StreamTask::runDueTimers() {
  if (timers_.empty())
    return;
  const int64_t now = currentProcessingTime();
  // Timers that callbacks register now wait for the next turn, so a callback that registers
  // a due timer again cannot starve the task.
  const uint64_t registeredBefore = nextTimerSequence_;
  while (!timers_.empty() && !timersStopped_ && timers_.front().time <= now &&
         timers_.front().sequence < registeredBefore) {
    if (cancelled_.load(std::memory_order_relaxed))
      return;
    std::pop_heap(timers_.begin(), timers_.end(), LaterTimer{});
    Timer timer = std::move(timers_.back());
    timers_.pop_back();
    try {
      timer.callback(timer.time);
    } catch (const OperatorException&) {
      throw;
    } catch (const std::exception& e) {
      if (timer.operatorIndex == kNoOperator)
        throw;
      throw OperatorException(contexts_[timer.operatorIndex]->subtaskDescription(), e.what());
    }
  }
}

std::chrono::steady_clock::time_point StreamTask::nextWakeUp(
    std::chrono::steady_clock::time_point deadline) const {
  if (timers_.empty() || timersStopped_)
    return deadline;
  auto now = std::chrono::steady_clock::now();
  int64_t wait = timers_.front().time - currentProcessingTime();
  if (wait <= 0)
    return now;
  // Beyond the deadline the wait does not matter; capping it also avoids overflow.
  auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
  if (wait >= limit)
    return deadline;
  return now + std::chrono::milliseconds(wait);
}

void StreamTask::stopTimers() {
  timersStopped_ = true;
  timers_.clear();
}

void StreamTask::createKeyedStateBackend(size_t index, int nodeId) {
  const JobGraph& jg = *env_.jobGraph;
  const JobVertex& v = jg.vertices[static_cast<size_t>(env_.vertexId)];
  state::KeyedStateBackendOptions options;
  options.type = jg.stateBackend.type;
  options.operatorDescription = contexts_[index]->subtaskDescription();
  options.maxParallelism = v.maxParallelism;
  options.keyGroupRange =
      state::keyGroupRangeFor(v.maxParallelism, v.parallelism, env_.subtaskIndex);
  options.rocksDb = jg.stateBackend.rocksDb;
  if (options.type == state::StateBackendType::kRocksDb) {
    if (env_.localStateDirectory.empty()) {
      throw std::runtime_error(absl::StrCat("operator '", options.operatorDescription,
                                            "' needs a local state directory for the RocksDB "
                                            "state backend, and the task has none"));
    }
    options.rocksDbDirectory =
        (std::filesystem::path(env_.localStateDirectory) /
         absl::StrCat("job_", env_.jobId, "_op_",
                      operatorDirectoryName(jg.operatorIds[static_cast<size_t>(nodeId)], nodeId),
                      "_", env_.subtaskIndex, "_attempt_", env_.attemptNumber))
            .string();
  }
  std::string directory = options.rocksDbDirectory;
  absl::StatusOr<std::unique_ptr<state::RuntimeKeyedStateBackend>> backend =
      state::createKeyedStateBackend(std::move(options));
  if (!backend.ok()) {
    // The message names the directory when the store's own error does not.
    std::string message(backend.status().message());
    bool namesDirectory = directory.empty() || message.find(directory) != std::string::npos;
    throw std::runtime_error(
        absl::StrCat("cannot create the ", state::stateBackendTypeName(jg.stateBackend.type),
                     " state backend of operator '", contexts_[index]->subtaskDescription(), "'",
                     namesDirectory ? "" : absl::StrCat(" in '", directory, "'"), ": ", message));
  }
  if (!directory.empty()) {
    getLogger("runtime")->info("[{}] {}: keyed state in RocksDB at '{}'", env_.jobId,
                               contexts_[index]->subtaskDescription(), directory);
  }
  keyedStateBackends_[index] = std::move(*backend);
  contexts_[index]->keyedStateBackend = keyedStateBackends_[index].get();
}

void StreamTask::restoreState(size_t index, int nodeId) {
  const JobGraph& jg = *env_.jobGraph;
  const JobVertex& v = jg.vertices[static_cast<size_t>(env_.vertexId)];
  const std::string& uid = jg.operatorIds[static_cast<size_t>(nodeId)];
  const checkpoint::OperatorStateMetadata* state = env_.restore->find(uid);
  if (state == nullptr)
    return;
  contexts_[index]->restored = true;
  const std::string& description = contexts_[index]->subtaskDescription();
  auto fail = [&](const absl::Status& status) {
    throw std::runtime_error(absl::StrCat("cannot restore the state of operator '", description,
                                          "' from ", env_.restore->directory.string(), ": ",
                                          status.message()));
  };
  if (state::RuntimeKeyedStateBackend* backend = keyedStateBackends_[index].get()) {
    absl::StatusOr<const checkpoint::SubtaskStateMetadata*> adopted =
        checkpoint::restoreKeyedState(*env_.restore, *state, *backend);
    if (!adopted.ok())
      fail(adopted.status());
    if (*adopted != nullptr && env_.restoreContinuesCheckpoints &&
        (*adopted)->subtaskIndex == env_.subtaskIndex) {
      uploaders_[index] = std::make_shared<checkpoint::IncrementalSnapshotUploader>(
          operatorFilePrefix(uid, nodeId, env_.subtaskIndex));
      uploaders_[index]->continueFrom(env_.restore->metadata.checkpointId,
                                      (*adopted)->nativeKeyedState);
    }
  } else {
    for (const checkpoint::SubtaskStateMetadata& subtask : state->subtasks) {
      if (!subtask.keyedState.empty()) {
        fail(absl::FailedPreconditionError(absl::StrCat(
            "the snapshot holds keyed state for uid '", uid,
            "', but the operator does not run on a keyed stream")));
      }
    }
  }
  absl::StatusOr<internal::OperatorStateSnapshotData> operatorState =
      checkpoint::assignOperatorState(*env_.restore, *state, env_.subtaskIndex, v.parallelism);
  if (!operatorState.ok())
    fail(operatorState.status());
  operatorStateStores_[index]->restore(*std::move(operatorState));
}

void StreamTask::cancel() {
  cancelled_.store(true);
  mailbox_.wake();
}

void StreamTask::setUp() {
  const JobGraph& jg = *env_.jobGraph;
  const StreamGraph& sg = *jg.streamGraph;
  const JobVertex& v = jg.vertices[static_cast<size_t>(env_.vertexId)];

  // Writers, one per outgoing job edge.
  std::map<int, ChannelRecordWriter*> writerOfStreamEdge;
  for (size_t i = 0; i < v.outputs.size(); ++i) {
    const JobEdge& je = jg.edges[static_cast<size_t>(v.outputs[i])];
    ChannelRecordWriter::Options options;
    options.partitioner = je.partitioner;
    options.maxParallelism = jg.vertices[static_cast<size_t>(je.targetVertex)].maxParallelism;
    options.subtaskIndex = env_.subtaskIndex;
    options.producerParallelism = v.parallelism;
    options.flushAlways = jg.bufferTimeoutMillis == 0;
    options.mode = jg.mode;
    writers_.push_back(std::make_unique<ChannelRecordWriter>(env_.outputs[i], &cancelled_, options,
                                                             &backPressuredNanos_));
    writerOfStreamEdge[je.streamEdge] = writers_.back().get();
  }

  // Operators and their contexts.
  std::map<int, StreamOperator*> opOfNode;
  for (int nodeId : v.chainedNodes) {
    const StreamNode& n = sg.nodes[static_cast<size_t>(nodeId)];
    auto ctx = std::make_unique<RuntimeContext>();
    ctx->jobName = jg.jobName;
    ctx->taskName = v.name;
    ctx->operatorName = n.name;
    ctx->subtaskIndex = env_.subtaskIndex;
    ctx->parallelism = v.parallelism;
    ctx->maxParallelism = v.maxParallelism;
    ctx->attemptNumber = env_.attemptNumber;
    ctx->mode = jg.mode;
    ctx->args = env_.args;
    timeServices_.push_back(std::make_unique<OperatorTimeService>(this, contexts_.size()));
    ctx->processingTimeService = timeServices_.back().get();
    ctx->autoWatermarkIntervalMillis = jg.autoWatermarkIntervalMillis;
    ctx->checkpointingEnabled = env_.checkpointResponder != nullptr;
    operatorStateStores_.push_back(
        std::make_unique<OperatorStateStore>(ctx->subtaskDescription()));
    ctx->operatorStateStore = operatorStateStores_.back().get();
    contexts_.push_back(std::move(ctx));
    operators_.push_back(n.factory());
    opOfNode[nodeId] = operators_.back().get();
    keyedStateBackends_.emplace_back();
    uploaders_.emplace_back();
    if (operators_.back()->isKeyed())
      createKeyedStateBackend(operators_.size() - 1, nodeId);
    if (env_.restore != nullptr)
      restoreState(operators_.size() - 1, nodeId);
  }

  // Wire each operator's outputs: chained operators directly, others through writers.
  for (int nodeId : v.chainedNodes) {
    const StreamNode& n = sg.nodes[static_cast<size_t>(nodeId)];
    std::map<std::string, std::vector<OutputBase*>> byTag;
    std::map<std::string, const RecordType*> typeOfTag;
    for (int e : n.outEdges) {
      const StreamEdge& edge = sg.edges[static_cast<size_t>(e)];
      OutputBase* out;
      auto chained = opOfNode.find(edge.targetId);
      if (chained != opOfNode.end()) {
        out = chained->second->inputFor(edge.targetInput);
      } else {
        ownedOutputs_.push_back(edge.makeNetworkOutput(writerOfStreamEdge.at(e)));
        out = ownedOutputs_.back().get();
      }
      byTag[edge.sideOutputTag].push_back(out);
      typeOfTag[edge.sideOutputTag] = edge.recordType.get();
    }
    StreamOperator* op = opOfNode.at(nodeId);
    OutputBase* main = nullptr;
    for (auto& [tag, outs] : byTag) {
      OutputBase* combined = outs.front();
      if (outs.size() > 1) {
        ownedOutputs_.push_back(typeOfTag[tag]->makeFanOut(outs));
        combined = ownedOutputs_.back().get();
      }
      if (tag.empty()) {
        main = combined;
      } else {
        op->addSideOutput(tag, combined);
      }
    }
    if (main == nullptr && n.outputType) {
      ownedOutputs_.push_back(n.outputType->makeDiscarding());
      main = ownedOutputs_.back().get();
    }
    op->setOutput(main);
  }

  // Input channels.
  StreamOperator* head = operators_.front().get();
  for (size_t i = 0; i < v.inputs.size(); ++i) {
    const JobEdge& je = jg.edges[static_cast<size_t>(v.inputs[i])];
    const StreamEdge& se = sg.edges[static_cast<size_t>(je.streamEdge)];
    OutputBase* port = head->inputFor(se.targetInput);
    if (port == nullptr || se.recordType == nullptr) {
      throw std::logic_error("operator '" + sg.nodes[static_cast<size_t>(se.targetId)].name +
                             "' cannot consume records on input " +
                             std::to_string(se.targetInput));
    }
    edgeDeserializers_.push_back(se.recordType->makeDeserializer(port));
    for (size_t j = 0; j < env_.inputs[i].size(); ++j) {
      int ch = gate_.addChannel(env_.inputs[i][j], static_cast<int>(i));
      if (i < env_.remoteInputs.size() && env_.remoteInputs[i][j] != nullptr)
        remoteChannels_.emplace_back(ch, env_.remoteInputs[i][j]);
      channelDeserializers_.push_back(std::make_unique<ElementDeserializer>(
          absl::StrCat("channel ", ch, " of ", description_)));
      channelRecordDeserializer_.push_back(edgeDeserializers_.back().get());
      channelIndexInEdge_.push_back(static_cast<int>(j));
    }
  }
  if (env_.restore != nullptr)
    loadRecoveredChannelState();
  channelWatermark_.assign(static_cast<size_t>(gate_.numberOfChannels()), kNoTimestamp);
  channelEnded_.assign(static_cast<size_t>(gate_.numberOfChannels()), false);
  channelIdle_.assign(static_cast<size_t>(gate_.numberOfChannels()), false);
  bufferTimeout_ = std::chrono::milliseconds(jg.bufferTimeoutMillis);
  if (env_.checkpointResponder != nullptr && gate_.numberOfChannels() > 0) {
    aligner_ = std::make_unique<checkpoint::CheckpointBarrierAligner>(gate_.numberOfChannels(),
                                                                      env_.checkpointingMode);
  }
}

bool StreamTask::triggerCheckpoint(int64_t checkpointId,
                                   int64_t timestampMillis,
                                   bool isSavepoint) {
  std::lock_guard lock(checkpointMutex_);
  if (!acceptsCheckpoints_ || env_.checkpointResponder == nullptr)
    return false;
  const BarrierKind kind = barrierKindFor(isSavepoint);
  mailbox_.put([this, checkpointId, timestampMillis, kind, isSavepoint] {
    if (isSavepoint)
      savepoints_.insert(checkpointId);
    performCheckpoint(checkpointId, timestampMillis, kind);
  });
  return true;
}

StreamTask::BarrierKind StreamTask::barrierKindFor(bool isSavepoint) const {
  // Savepoints are always aligned: their state alone restores a job, at any parallelism.
  const checkpoint::CheckpointingOptions& o = env_.jobGraph->checkpointing;
  if (isSavepoint || !o.unaligned)
    return BarrierKind::kAligned;
  return o.alignedCheckpointTimeoutMillis > 0 ? BarrierKind::kTimeoutable : BarrierKind::kUnaligned;
}

void StreamTask::notifyCheckpointComplete(int64_t checkpointId) {
  mailbox_.put([this, checkpointId] {
    for (auto& uploader : uploaders_) {
      if (uploader != nullptr)
        uploader->notifyCheckpointComplete(checkpointId);
    }
    if (!opened_)
      return;
    for (auto& op : operators_)
      op->notifyCheckpointComplete(checkpointId);
  });
}

void StreamTask::notifyCheckpointAborted(int64_t checkpointId) {
  mailbox_.put([this, checkpointId] {
    for (auto& uploader : uploaders_) {
      if (uploader != nullptr)
        uploader->notifyCheckpointAborted(checkpointId);
    }
    if (!opened_)
      return;
    for (auto& op : operators_)
      op->notifyCheckpointAborted(checkpointId);
  });
}

/// A checkpoint between its synchronous phase and the writing of its files: per operator what
/// the synchronous phase pinned or copied, and the task's in-flight data (unaligned only; the
/// input channels are still being recorded while `recordingChannels` > 0).
struct StreamTask::PendingCheckpoint {
  struct OperatorSnapshot {
    std::string uid;
    std::string filePrefix;
    checkpoint::SubtaskStateMetadata state;
    std::unique_ptr<state::KeyedStateSnapshot> keyed;  // null: no keyed state
    // Uploads the native files of an incremental snapshot (`keyed->nativeFiles()`).
    std::shared_ptr<checkpoint::IncrementalSnapshotUploader> uploader;
    internal::OperatorStateSnapshotData operatorState;
  };

  int64_t id = 0;
  int64_t timestampMillis = 0;
  std::vector<OperatorSnapshot> operators;
  checkpoint::ChannelStateSnapshot channels;
  std::vector<std::string> inputs;  // per input channel
  std::vector<char> recording;      // per input channel
  int recordingChannels = 0;
  // Timeoutable barriers still queued, as (writer, channel), and when they turn unaligned.
  std::vector<std::pair<int, int>> pendingOutputs;
  int64_t outputDeadlineMillis = 0;

  /// Whether input channel `c` is being recorded.
  bool records(size_t c) const { return recordingChannels > 0 && recording[c]; }
};

namespace {

/// Writes `snapshot` to `directory`/`name` and returns its handle; the stream's own failure
/// (a write error naming the file, a cancellation) is preferred to the writer's.
absl::StatusOr<checkpoint::StateFile> writeKeyedStateFile(const std::filesystem::path& directory,
                                                          const std::string& name,
                                                          state::KeyedStateSnapshot& snapshot,
                                                          int maxParallelism,
                                                          const std::atomic<bool>& cancelled) {
  BROOK_ASSIGN_OR_RETURN(std::unique_ptr<checkpoint::StateFileStream> file,
                         checkpoint::StateFileStream::create(directory, name, &cancelled));
  absl::Status written = [&]() -> absl::Status {
    BROOK_ASSIGN_OR_RETURN(
        state::KeyedStateSnapshotWriter writer,
        state::KeyedStateSnapshotWriter::create(file->stream(), (directory / name).string(),
                                                maxParallelism, snapshot.keyGroupRange()));
    BROOK_RETURN_IF_ERROR(snapshot.write(writer));
    return writer.finish();
  }();
  if (!written.ok())
    return file->status().ok() ? written : file->status();
  return file->close();
}

}  // namespace

void StreamTask::performCheckpoint(int64_t checkpointId,
                                   int64_t timestampMillis,
                                   BarrierKind kind,
                                   const std::vector<ChannelAtSnapshot>* channels) {
  CheckpointResponder* responder = env_.checkpointResponder;
  const checkpoint::SubtaskId self{env_.vertexId, env_.subtaskIndex};
  if (!opened_ || inputEnded_) {
    responder->decline(checkpointId, self, checkpoint::DeclineReason::kTaskNotRunning,
                       absl::StrCat("task '", description_, "' is no longer running"));
    return;
  }
  if (collecting_ != nullptr) {
    abortCollectingCheckpoint(absl::StrCat("checkpoint ", checkpointId,
                                           " started while checkpoint ", collecting_->id,
                                           " was collecting its in-flight data"));
  }
  // A savepoint's barrier said so (or its trigger, at a source); older ids are of savepoints
  // that this task declined or never finished.
  const bool isSavepoint = savepoints_.erase(checkpointId) > 0;
  savepoints_.erase(savepoints_.begin(), savepoints_.lower_bound(checkpointId));
  const auto syncStart = std::chrono::steady_clock::now();
  auto pending = std::make_unique<PendingCheckpoint>();
  pending->id = checkpointId;
  pending->timestampMillis = timestampMillis;
  // Operators bring their operator state up to date (a source records its position); the
  // barrier then goes downstream, where alignment starts while this task snapshots its state.
  // An unaligned barrier overtakes the queued output, which becomes in-flight data.
  for (auto& op : operators_)
    op->snapshotState(checkpointId);
  for (size_t w = 0; w < writers_.size(); ++w) {
    if (kind == BarrierKind::kAligned) {
      writers_[w]->broadcastBarrier(checkpointId, timestampMillis, isSavepoint);
      continue;
    }
    if (kind == BarrierKind::kTimeoutable) {
      // In line for now; the output data a barrier overtakes if it turns unaligned is part of
      // this checkpoint, which completes once every barrier left its queue.
      writers_[w]->broadcastTimeoutableBarrier(checkpointId, timestampMillis);
      for (int c = 0; c < writers_[w]->numberOfChannels(); ++c)
        pending->pendingOutputs.emplace_back(static_cast<int>(w), c);
      pending->outputDeadlineMillis =
          timestampMillis + env_.jobGraph->checkpointing.alignedCheckpointTimeoutMillis;
      continue;
    }
    std::vector<std::string> overtaken =
        writers_[w]->broadcastPriorityBarrier(checkpointId, timestampMillis);
    for (size_t c = 0; c < overtaken.size(); ++c) {
      if (!overtaken[c].empty()) {
        pending->channels.outputs.push_back(
            {static_cast<int>(w), static_cast<int>(c), std::move(overtaken[c])});
      }
    }
  }

  // The synchronous phase: what later records must not change is pinned or copied here.
  const JobGraph& jg = *env_.jobGraph;
  const JobVertex& v = jg.vertices[static_cast<size_t>(env_.vertexId)];
  pending->operators.reserve(operators_.size());
  for (size_t i = 0; i < operators_.size(); ++i) {
    const int nodeId = v.chainedNodes[i];
    PendingCheckpoint::OperatorSnapshot& snapshot = pending->operators.emplace_back();
    snapshot.uid = jg.operatorIds[static_cast<size_t>(nodeId)];
    snapshot.filePrefix = operatorFilePrefix(snapshot.uid, nodeId, env_.subtaskIndex);
    snapshot.state.subtaskIndex = env_.subtaskIndex;
    if (state::RuntimeKeyedStateBackend* backend = keyedStateBackends_[i].get()) {
      const state::KeyGroupRange range = backend->keyGroupRange();
      snapshot.state.keyGroupStart = range.start;
      snapshot.state.keyGroupEnd = range.end;
      // Savepoints are full snapshots in the canonical format, whatever the backend.
      absl::StatusOr<std::unique_ptr<state::KeyedStateSnapshot>> keyed =
          jg.checkpointing.incremental && !isSavepoint ? backend->incrementalSnapshot(checkpointId)
                                                       : backend->snapshot(range);
      if (keyed.ok() && (*keyed)->nativeFiles() != nullptr) {
        if (uploaders_[i] == nullptr) {
          uploaders_[i] =
              std::make_shared<checkpoint::IncrementalSnapshotUploader>(snapshot.filePrefix);
        }
        snapshot.uploader = uploaders_[i];
      }
      if (!keyed.ok()) {
        getLogger("runtime")->warn("[{}] {} declines checkpoint {}: {}", env_.jobId,
                                   description_, checkpointId, keyed.status().message());
        responder->decline(checkpointId, self, checkpoint::DeclineReason::kFailure,
                           std::string(keyed.status().message()));
        return;
      }
      snapshot.keyed = *std::move(keyed);
    }
    snapshot.operatorState = operatorStateStores_[i]->snapshot();
  }
  getLogger("runtime")->debug(
      "[{}] {}: checkpoint {}: synchronous phase took {} ms", env_.jobId, description_,
      checkpointId,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - syncStart)
          .count());

  if (kind == BarrierKind::kUnaligned && gate_.numberOfChannels() > 0) {
    // Per input channel, what it delivered that the task has not processed; the channels whose
    // barrier is still to come are recorded until it comes.
    const auto count = static_cast<size_t>(gate_.numberOfChannels());
    pending->inputs.resize(count);
    pending->recording.assign(count, 0);
    for (size_t c = 0; c < count; ++c) {
      const ChannelAtSnapshot at =
          channels == nullptr ? ChannelAtSnapshot::kRecord : (*channels)[c];
      if (channelEnded_[c] || at == ChannelAtSnapshot::kBarrierInBand)
        continue;
      pending->inputs[c] = channelDeserializers_[c]->unconsumedBytes();
      if (at == ChannelAtSnapshot::kRecord) {
        pending->recording[c] = 1;
        ++pending->recordingChannels;
      }
    }
  }
  collecting_ = std::move(pending);
  if (collecting_->pendingOutputs.empty()) {
    maybeSubmitCollected();
  } else {
    checkCheckpointTimeouts();
  }
}

void StreamTask::maybeSubmitCollected() {
  if (collecting_ != nullptr && collecting_->recordingChannels == 0 &&
      collecting_->pendingOutputs.empty()) {
    submitCheckpoint(std::move(collecting_));
  }
}

void StreamTask::checkCheckpointTimeouts(bool convertNow) {
  if (aligner_ != nullptr && alignmentTimeoutable_ && aligner_->isAligning() &&
      currentProcessingTime() >=
          alignmentTimestampMillis_ + env_.jobGraph->checkpointing.alignedCheckpointTimeoutMillis) {
    switchAlignmentToUnaligned();
  }
  if (collecting_ == nullptr || collecting_->pendingOutputs.empty())
    return;
  PendingCheckpoint& pending = *collecting_;
  const bool convert = convertNow || currentProcessingTime() >= pending.outputDeadlineMillis;
  for (size_t i = 0; i < pending.pendingOutputs.size();) {
    const auto [w, c] = pending.pendingOutputs[i];
    std::string overtaken;
    const ResultSubpartition::BarrierState state =
        writers_[static_cast<size_t>(w)]->timeoutableBarrier(c, pending.id, convert, overtaken);
    if (state == ResultSubpartition::BarrierState::kQueued) {
      ++i;
      continue;
    }
    if (!overtaken.empty())
      pending.channels.outputs.push_back({w, c, std::move(overtaken)});
    pending.pendingOutputs[i] = pending.pendingOutputs.back();
    pending.pendingOutputs.pop_back();
  }
  maybeSubmitCollected();
}

void StreamTask::switchAlignmentToUnaligned(int outOfBandChannel) {
  const int64_t checkpointId = aligner_->aligningCheckpointId();
  const std::vector<char> delivered = aligner_->switchToUnaligned();
  alignmentTimeoutable_ = false;
  std::vector<ChannelAtSnapshot> channels(delivered.size(), ChannelAtSnapshot::kRecord);
  for (size_t c = 0; c < delivered.size(); ++c) {
    if (delivered[c])
      channels[c] = ChannelAtSnapshot::kBarrierInBand;
  }
  if (outOfBandChannel >= 0)
    channels[static_cast<size_t>(outOfBandChannel)] = ChannelAtSnapshot::kBarrierOutOfBand;
  getLogger("runtime")->debug("[{}] {}: checkpoint {} continues unaligned", env_.jobId,
                              description_, checkpointId);
  performCheckpoint(checkpointId, alignmentTimestampMillis_, BarrierKind::kUnaligned, &channels);
  // The channels that delivered the barrier flow again: what they hold follows the checkpoint.
  releaseBlockedChannels();
}

void StreamTask::releaseBlockedChannels() {
  gate_.unblockAll();
  std::vector<int> held;
  held.swap(heldChannels_);
  for (int channel : held) {
    if (!gate_.isBlocked(channel))
      drainChannel(channel);
    else
      heldChannels_.push_back(channel);
  }
}

void StreamTask::submitCheckpoint(std::unique_ptr<PendingCheckpoint> pending) {
  for (size_t c = 0; c < pending->inputs.size(); ++c) {
    if (pending->inputs[c].empty())
      continue;
    pending->channels.inputs.push_back({gate_.channel(static_cast<int>(c)).inputEdge,
                                        channelIndexInEdge_[c], std::move(pending->inputs[c])});
  }
  pending->inputs.clear();

  // The asynchronous phase: the files are written and the checkpoint acknowledged on the
  // checkpoint thread while this thread goes on with records.
  const JobVertex& v = env_.jobGraph->vertices[static_cast<size_t>(env_.vertexId)];
  const int64_t checkpointId = pending->id;
  const checkpoint::SubtaskId self{env_.vertexId, env_.subtaskIndex};
  CheckpointResponder* responder = env_.checkpointResponder;
  const std::filesystem::path directory =
      std::filesystem::path(env_.checkpointDirectory) / absl::StrCat("chk-", checkpointId);
  std::shared_ptr<PendingCheckpoint> shared = std::move(pending);
  asyncCheckpoints_.submit([shared, directory, checkpointId, self, responder, jobId = env_.jobId,
                            description = description_,
                            maxParallelism = v.maxParallelism](const std::atomic<bool>& cancelled) {
    checkpoint::TaskAcknowledgement ack{self, {}};
    absl::Status status = absl::OkStatus();
    for (size_t i = 0; i < shared->operators.size() && status.ok(); ++i) {
      PendingCheckpoint::OperatorSnapshot& snapshot = shared->operators[i];
      if (snapshot.keyed != nullptr && snapshot.keyed->nativeFiles() != nullptr) {
        absl::StatusOr<std::vector<checkpoint::NativeStateFile>> files = snapshot.uploader->upload(
            checkpointId, *snapshot.keyed->nativeFiles(), directory, cancelled);
        if (!files.ok()) {
          status = files.status();
          break;
        }
        snapshot.state.nativeKeyedState = *std::move(files);
      }
      if (snapshot.keyed != nullptr) {
        absl::StatusOr<checkpoint::StateFile> file =
            writeKeyedStateFile(directory, snapshot.filePrefix + ".keyed", *snapshot.keyed,
                                maxParallelism, cancelled);
        snapshot.keyed.reset();  // releases what the snapshot pinned (a RocksDB snapshot)
        if (!file.ok()) {
          status = file.status();
          break;
        }
        snapshot.state.keyedState.push_back(*std::move(file));
      }
      if (!snapshot.operatorState.states.empty()) {
        absl::StatusOr<checkpoint::StateFile> file = checkpoint::writeStateFile(
            directory, snapshot.filePrefix + ".operator",
            state::encodeOperatorStateSnapshot(snapshot.operatorState));
        if (!file.ok()) {
          status = file.status();
          break;
        }
        snapshot.state.operatorState.push_back(*std::move(file));
      }
      if (i == 0 && !shared->channels.empty()) {
        // The task's in-flight data goes with its head operator.
        absl::StatusOr<checkpoint::StateFile> file =
            checkpoint::writeStateFile(directory, snapshot.filePrefix + ".channel",
                                       checkpoint::encodeChannelState(shared->channels));
        if (!file.ok()) {
          status = file.status();
          break;
        }
        snapshot.state.channelState.push_back(*std::move(file));
      }
      ack.operators.emplace_back(snapshot.uid, std::move(snapshot.state));
    }
    shared->operators.clear();
    shared->channels = {};
    if (status.ok()) {
      responder->acknowledge(checkpointId, ack);
      return;
    }
    std::error_code error;
    if (cancelled.load()) {
      responder->decline(checkpointId, self, checkpoint::DeclineReason::kTaskNotRunning,
                         absl::StrCat("task '", description, "' was cancelled"));
    } else if (!std::filesystem::exists(directory, error)) {
      // The checkpoint was aborted (its folder discarded) while this task wrote its part.
      getLogger("runtime")->debug("[{}] {}: checkpoint {} was aborted while its state was written",
                                  jobId, description, checkpointId);
      responder->decline(checkpointId, self, checkpoint::DeclineReason::kSubsumed,
                         "the checkpoint was aborted");
    } else {
      getLogger("runtime")->warn("[{}] {} declines checkpoint {}: {}", jobId, description,
                                 checkpointId, status.message());
      responder->decline(checkpointId, self, checkpoint::DeclineReason::kFailure,
                         std::string(status.message()));
    }
  });
}

void StreamTask::processPriorityEvent(int channel, Buffer* buffer) {
  int64_t checkpointId = 0;
  int64_t timestampMillis = 0;
  const bool barrier = buffer->size == kBarrierElementSize &&
                       buffer->data[0] == static_cast<char>(ElementKind::kBarrier);
  if (barrier) {
    std::memcpy(&checkpointId, buffer->data + 1, 8);
    std::memcpy(&timestampMillis, buffer->data + 9, 8);
  }
  const uint32_t size = buffer->size;
  recycleBuffer(buffer);
  if (!barrier) {
    throw std::runtime_error(absl::StrCat("corrupt network data on channel ", channel, " of ",
                                          description_, ": a priority buffer of ", size,
                                          " bytes that is not a checkpoint barrier"));
  }
  if (aligner_ != nullptr)
    processUnalignedBarrier(channel, checkpointId, timestampMillis);
}

void StreamTask::processUnalignedBarrier(int channel,
                                         int64_t checkpointId,
                                         int64_t timestampMillis) {
  if (collecting_ != nullptr && collecting_->id == checkpointId) {
    if (collecting_->records(static_cast<size_t>(channel)))
      stopRecording(channel);
    return;
  }
  if (aligner_->isAligning() && aligner_->aligningCheckpointId() == checkpointId) {
    // An upstream task's barrier of the checkpoint being aligned turned unaligned: so does
    // this task's.
    switchAlignmentToUnaligned(channel);
    return;
  }
  if (checkpointId <= aligner_->latestCheckpointId())
    return;  // a barrier of a checkpoint already taken, aborted or overtaken
  // A newer checkpoint: it ends an alignment or a recording of an older one.
  if (collecting_ != nullptr) {
    abortCollectingCheckpoint(absl::StrCat("a barrier of checkpoint ", checkpointId,
                                           " arrived while checkpoint ", collecting_->id,
                                           " was recording its in-flight data"));
  }
  applyBarrierDecisions(aligner_->onUnalignedBarrier(checkpointId));
  std::vector<ChannelAtSnapshot> channels(static_cast<size_t>(gate_.numberOfChannels()),
                                          ChannelAtSnapshot::kRecord);
  channels[static_cast<size_t>(channel)] = ChannelAtSnapshot::kBarrierOutOfBand;
  performCheckpoint(checkpointId, timestampMillis, BarrierKind::kUnaligned, &channels);
}

void StreamTask::stopRecording(int channel) {
  PendingCheckpoint& pending = *collecting_;
  pending.recording[static_cast<size_t>(channel)] = 0;
  --pending.recordingChannels;
  maybeSubmitCollected();
}

void StreamTask::abortCollectingCheckpoint(const std::string& reason) {
  std::unique_ptr<PendingCheckpoint> pending = std::move(collecting_);
  env_.checkpointResponder->decline(pending->id, {env_.vertexId, env_.subtaskIndex},
                                    checkpoint::DeclineReason::kSubsumed, reason);
}

void StreamTask::loadRecoveredChannelState() {
  const JobGraph& jg = *env_.jobGraph;
  const JobVertex& v = jg.vertices[static_cast<size_t>(env_.vertexId)];
  const checkpoint::OperatorStateMetadata* state =
      env_.restore->find(jg.operatorIds[static_cast<size_t>(v.chainedNodes.front())]);
  if (state == nullptr)
    return;
  for (const checkpoint::SubtaskStateMetadata& subtask : state->subtasks) {
    if (subtask.channelState.empty())
      continue;
    auto fail = [&](const std::string& message) {
      throw std::runtime_error(absl::StrCat("cannot restore the in-flight data of task '",
                                            description_, "' from ",
                                            env_.restore->directory.string(), ": ", message));
    };
    if (subtask.subtaskIndex != env_.subtaskIndex)
      continue;
    if (state->parallelism != v.parallelism) {
      fail(absl::StrCat("it was taken at parallelism ", state->parallelism,
                        ", and in-flight data is restored only at the same parallelism"));
    }
    for (const checkpoint::StateFile& file : subtask.channelState) {
      absl::StatusOr<std::string> bytes = checkpoint::readStateFile(env_.restore->directory, file);
      if (!bytes.ok())
        fail(std::string(bytes.status().message()));
      absl::StatusOr<checkpoint::ChannelStateSnapshot> channels =
          checkpoint::decodeChannelState(*bytes, file.path);
      if (!channels.ok())
        fail(std::string(channels.status().message()));
      for (checkpoint::ChannelStateSnapshot::Channel& c : channels->inputs) {
        const auto gate = static_cast<size_t>(c.gate);
        if (gate >= env_.inputs.size() ||
            static_cast<size_t>(c.channel) >= env_.inputs[gate].size()) {
          fail(absl::StrCat("it holds data of input channel ", c.channel, " of input ", c.gate,
                            ", which the task does not have"));
        }
        int channel = 0;
        for (size_t g = 0; g < gate; ++g)
          channel += static_cast<int>(env_.inputs[g].size());
        recoveredInputs_.emplace_back(channel + c.channel, std::move(c.bytes));
      }
      for (checkpoint::ChannelStateSnapshot::Channel& c : channels->outputs) {
        const auto gate = static_cast<size_t>(c.gate);
        if (gate >= writers_.size() || c.channel >= writers_[gate]->numberOfChannels()) {
          fail(absl::StrCat("it holds data of output channel ", c.channel, " of output ", c.gate,
                            ", which the task does not have"));
        }
        recoveredOutputs_.push_back(std::move(c));
      }
    }
  }
}

void StreamTask::replayRecoveredChannelState() {
  // The output first: it was written before anything the recovered input produces.
  for (const checkpoint::ChannelStateSnapshot::Channel& c : recoveredOutputs_)
    writers_[static_cast<size_t>(c.gate)]->writeRecoveredOutput(c.channel, c.bytes);
  recoveredOutputs_.clear();
  replayingChannelState_ = true;
  for (auto& [channel, bytes] : recoveredInputs_) {
    Buffer* buffer = allocateUnpooledBuffer(static_cast<uint32_t>(bytes.size()));
    std::memcpy(buffer->data, bytes.data(), bytes.size());
    buffer->size = static_cast<uint32_t>(bytes.size());
    processBuffer(channel, buffer);
    std::string().swap(bytes);
  }
  replayingChannelState_ = false;
  recoveredInputs_.clear();
}

void StreamTask::run() {
  auto log = getLogger("runtime");
  state_ = TaskState::kRunning;
  std::string failure;
  TaskState finalState = TaskState::kFinished;
  try {
    setUp();
    log->debug("[{}] {} switched to RUNNING", env_.jobId, description_);
    // Open tail first, so that every operator's downstream is ready before it emits.
    for (size_t i = operators_.size(); i-- > 0;)
      operators_[i]->open(*contexts_[i]);
    opened_ = true;
    nextFlush_ = std::chrono::steady_clock::now() + bufferTimeout_;
    replayRecoveredChannelState();
    if (env_.jobGraph->vertices[static_cast<size_t>(env_.vertexId)].isSource) {
      runSource();
    } else {
      runInputs();
    }
    stopTimers();
    if (cancelled_.load())
      throw TaskCancelledError{};
    // From here on the task takes no checkpoints: its input is over. Its barriers still waiting
    // in line overtake what is queued now, so that the checkpoint they belong to completes
    // before what the task writes at its end.
    inputEnded_ = true;
    checkCheckpointTimeouts(/*convertNow=*/true);
    finishOperators();
    for (auto& w : writers_)
      w->endOfPartition();
    opened_ = false;
    for (auto& op : operators_)
      op->close();
  } catch (const TaskCancelledError&) {
    finalState = TaskState::kCanceled;
  } catch (const std::exception& e) {
    finalState = cancelled_.load() ? TaskState::kCanceled : TaskState::kFailed;
    failure = absl::StrCat("task '", description_, "' failed: ", e.what());
  } catch (...) {
    finalState = TaskState::kFailed;
    failure = absl::StrCat("task '", description_, "' failed with an unknown exception");
  }
  if (finalState != TaskState::kFinished)
    closeOperators();
  stopTimers();
  {
    // Checkpoint triggers still queued are declined (performCheckpoint sees the task ended);
    // later ones are refused.
    std::lock_guard lock(checkpointMutex_);
    acceptsCheckpoints_ = false;
  }
  inputEnded_ = true;
  Mailbox::Mail mail;
  while (mailbox_.tryTake(mail)) {
    try {
      mail();
    } catch (...) {
      // The task has ended; what is left is bookkeeping.
    }
  }
  // Checkpoints whose files are still being written: a finished task lets them complete (they
  // may be the ones that commit its last output), a cancelled or failed one abandons them.
  if (finalState == TaskState::kFinished) {
    asyncCheckpoints_.drain(kFinishedTaskCheckpointWait);
  } else {
    asyncCheckpoints_.cancelAndDrain();
  }
  // Release everything the task holds before reporting: the operators before the state they
  // used, whose destruction removes its local files.
  collecting_.reset();  // before the backends whose snapshots it may hold
  writers_.clear();
  channelDeserializers_.clear();
  operators_.clear();
  keyedStateBackends_.clear();
  operatorStateStores_.clear();
  if (finalState == TaskState::kFailed) {
    log->error("[{}] {}", env_.jobId, failure);
  } else {
    log->debug("[{}] {} switched to {}", env_.jobId, description_, taskStateName(finalState));
  }
  state_ = finalState;
  onComplete_(finalState, failure);
}

void StreamTask::closeOperators() noexcept {
  if (!opened_)
    return;
  opened_ = false;
  for (auto& op : operators_) {
    try {
      op->close();
    } catch (...) {
      // The task already failed or was cancelled; the first error is the one reported.
    }
  }
}

void StreamTask::maybeFlush() {
  auto now = std::chrono::steady_clock::now();
  if (now >= nextFlush_) {
    for (auto& w : writers_)
      w->flushAll();
    nextFlush_ = now + bufferTimeout_;
  }
}

void StreamTask::runSource() {
  auto* source = static_cast<SourceOperatorBase*>(operators_.front().get());
  Mailbox::Mail mail;
  for (;;) {
    while (mailbox_.tryTake(mail))
      mail();
    if (cancelled_.load(std::memory_order_relaxed))
      return;
    runDueTimers();
    maybeCheckCheckpointTimeouts();
    if (ChannelRecordWriter* full = unavailableOutput()) {
      // Backpressured: the source waits for a free buffer here, between two calls of its
      // reader, where it can take a checkpoint, rather than inside the next call. It looks at
      // its mail (a checkpoint trigger) every millisecond meanwhile.
      maybeFlush();
      const auto start = std::chrono::steady_clock::now();
      full->waitUntilAvailable(std::chrono::milliseconds(1));
      backPressuredNanos_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now() - start)
                                        .count(),
                                    std::memory_order_relaxed);
      continue;
    }
    InputStatus status = source->emitNext();
    if (status == InputStatus::kEndOfInput)
      break;
    maybeFlush();
    if (status == InputStatus::kNothingAvailable) {
      mailbox_.waitUntil(nextWakeUp(
          std::min(nextFlush_, std::chrono::steady_clock::now() + std::chrono::milliseconds(5))));
    }
  }
  // A bounded source ends event time: every window and timer downstream fires.
  source->output()->emitWatermark(kMaxWatermark);
}

bool StreamTask::awaitingCheckpointTimeouts() const {
  return (collecting_ != nullptr && !collecting_->pendingOutputs.empty()) ||
         (alignmentTimeoutable_ && aligner_ != nullptr && aligner_->isAligning());
}

void StreamTask::maybeCheckCheckpointTimeouts() {
  if (!awaitingCheckpointTimeouts())
    return;
  const auto now = std::chrono::steady_clock::now();
  if (now < nextTimeoutCheck_)
    return;
  nextTimeoutCheck_ = now + std::chrono::milliseconds(1);
  checkCheckpointTimeouts();
}

ChannelRecordWriter* StreamTask::unavailableOutput() const {
  for (const auto& w : writers_) {
    if (!w->isAvailable())
      return w.get();
  }
  return nullptr;
}

void StreamTask::runInputs() {
  Mailbox::Mail mail;
  const int channels = gate_.numberOfChannels();
  while (channelsEnded_ < channels) {
    while (mailbox_.tryTake(mail))
      mail();
    if (cancelled_.load(std::memory_order_relaxed))
      return;
    runDueTimers();
    maybeCheckCheckpointTimeouts();
    int channel = -1;
    Buffer* buffer = gate_.pollNext(channel);
    if (buffer != nullptr) {
      processBuffer(channel, buffer);
      maybeFlush();
      checkRemoteChannels();
      continue;
    }
    maybeFlush();
    checkRemoteChannels();
    // Idle: wake for the next flush or timer, and at least every 100 ms to check the remote
    // channels (every 2 ms while a checkpoint may time out into an unaligned one).
    const auto idleLimit = awaitingCheckpointTimeouts() ? std::chrono::milliseconds(2)
                                                        : std::chrono::milliseconds(100);
    mailbox_.waitUntil(
        nextWakeUp(std::min(nextFlush_, std::chrono::steady_clock::now() + idleLimit)));
  }
}

void StreamTask::checkRemoteChannels() {
  if (remoteChannels_.empty())
    return;
  auto now = std::chrono::steady_clock::now();
  if (now < nextChannelCheck_)
    return;
  nextChannelCheck_ = now + std::chrono::milliseconds(50);
  for (auto [channel, remote] : remoteChannels_) {
    if (channelEnded_[static_cast<size_t>(channel)])
      continue;
    absl::Status status = remote->status();
    if (!status.ok()) {
      throw std::runtime_error(absl::StrCat("remote input channel '", remote->subpartitionId(),
                                            "' failed: ", status.message()));
    }
  }
}

void StreamTask::processBuffer(int channel, Buffer* buffer) {
  if (buffer->priority) [[unlikely]] {
    processPriorityEvent(channel, buffer);
    return;
  }
  if (collecting_ != nullptr && collecting_->records(static_cast<size_t>(channel))) [[unlikely]] {
    // Data before the channel's barrier, after the snapshot: in-flight data of the checkpoint.
    collecting_->inputs[static_cast<size_t>(channel)].append(buffer->data, buffer->size);
  }
  channelDeserializers_[static_cast<size_t>(channel)]->setBuffer(buffer);
  drainChannel(channel);
}

void StreamTask::drainChannel(int channel) {
  auto& deserializer = *channelDeserializers_[static_cast<size_t>(channel)];
  RecordDeserializer* records = channelRecordDeserializer_[static_cast<size_t>(channel)];
  const auto c = static_cast<size_t>(channel);
  // A copy of channelIdle_[c], kept in step with it, so that records test a local flag.
  bool idleChannel = channelIdle_[c];
  // The latest record timestamp of what this call drains, for the gate's choice of channel.
  int64_t latestTime = kNoTimestamp;
  auto reportTime = [&] {
    if (latestTime != kNoTimestamp)
      gate_.setChannelTime(channel, latestTime);
  };
  StreamElement e;
  while (deserializer.next(e)) {
    switch (e.kind) {
      case ElementKind::kRecord:
      case ElementKind::kTimedRecord:
        if (idleChannel) [[unlikely]] {
          // Data on an idle channel makes it active again.
          setChannelIdle(channel, false, records->target());
          idleChannel = false;
        }
        latestTime = std::max(latestTime, e.timestamp);
        records->processRecord(e.payload, e.timestamp);
        break;
      case ElementKind::kWatermark: {
        if (idleChannel) {
          setChannelIdle(channel, false, records->target());
          idleChannel = false;
        }
        auto& w = channelWatermark_[c];
        w = std::max(w, e.timestamp);
        advanceWatermark(records->target());
        break;
      }
      case ElementKind::kWatermarkStatus:
        setChannelIdle(channel, e.idle, records->target());
        idleChannel = channelIdle_[c];
        break;
      case ElementKind::kEndOfPartition:
        if (!channelEnded_[c]) {
          channelEnded_[c] = true;
          ++channelsEnded_;
          if (channelsEnded_ < gate_.numberOfChannels()) {
            // The channel no longer holds back the watermark nor keeps the task active.
            advanceWatermark(records->target());
            updateWatermarkStatus(records->target());
          }
          if (aligner_ != nullptr && channelsEnded_ < gate_.numberOfChannels())
            applyBarrierDecisions(aligner_->onEndOfPartition(channel));
          if (collecting_ != nullptr && collecting_->records(c))
            stopRecording(channel);
        }
        break;
      case ElementKind::kBarrier:
      case ElementKind::kTimeoutableBarrier:  // decoded as kBarrier with `timeoutable`
      case ElementKind::kSavepointBarrier:    // decoded as kBarrier with `savepoint`
        if (aligner_ != nullptr && !replayingChannelState_) {
          if (e.savepoint && e.checkpointId > aligner_->latestCheckpointId())
            savepoints_.insert(e.checkpointId);
          processBarrier(channel, e.checkpointId, e.timestamp, e.timeoutable,
                         deserializer.remainingInBuffer());
          if (gate_.isBlocked(channel)) {
            // The rest of this buffer waits until the alignment ends.
            heldChannels_.push_back(channel);
            reportTime();
            return;
          }
        }
        break;
    }
  }
  reportTime();
}

void StreamTask::processBarrier(int channel,
                                int64_t checkpointId,
                                int64_t timestampMillis,
                                bool timeoutable,
                                size_t remainingInBuffer) {
  const auto c = static_cast<size_t>(channel);
  if (collecting_ != nullptr && collecting_->id == checkpointId) {
    // The checkpoint turned unaligned here before this channel's barrier came: what the channel
    // delivered up to the barrier is in-flight data, what follows it in the buffer is not.
    if (collecting_->records(c)) {
      std::string& recorded = collecting_->inputs[c];
      recorded.resize(recorded.size() -
                      std::min(recorded.size(), remainingInBuffer + kBarrierElementSize));
      stopRecording(channel);
    }
    return;
  }
  if (collecting_ != nullptr && checkpointId > collecting_->id) {
    abortCollectingCheckpoint(absl::StrCat("a barrier of checkpoint ", checkpointId,
                                           " arrived while checkpoint ", collecting_->id,
                                           " was recording its in-flight data"));
  }
  const int64_t timeout = env_.jobGraph->checkpointing.alignedCheckpointTimeoutMillis;
  if (timeoutable && !aligner_->isAligning() && checkpointId > aligner_->latestCheckpointId() &&
      currentProcessingTime() - timestampMillis >= timeout) {
    // The first barrier of a checkpoint already older than the timeout: unaligned at once.
    applyBarrierDecisions(aligner_->onUnalignedBarrier(checkpointId));
    std::vector<ChannelAtSnapshot> channels(static_cast<size_t>(gate_.numberOfChannels()),
                                            ChannelAtSnapshot::kRecord);
    channels[c] = ChannelAtSnapshot::kBarrierInBand;
    performCheckpoint(checkpointId, timestampMillis, BarrierKind::kUnaligned, &channels);
    return;
  }
  if (checkpointId > aligner_->latestCheckpointId()) {
    // A new checkpoint: its barriers tell how the task forwards it once aligned.
    alignmentTimeoutable_ = timeoutable;
    alignmentTimestampMillis_ = timestampMillis;
  }
  std::vector<checkpoint::CheckpointBarrierAligner::Decision> decisions =
      aligner_->onBarrier(channel, checkpointId, timestampMillis);
  if (aligner_->isBlocked(channel))
    gate_.block(channel);
  applyBarrierDecisions(decisions);
}

void StreamTask::applyBarrierDecisions(
    const std::vector<checkpoint::CheckpointBarrierAligner::Decision>& decisions) {
  using Action = checkpoint::CheckpointBarrierAligner::Decision::Action;
  for (const auto& d : decisions) {
    if (d.action == Action::kTriggerCheckpoint) {
      performCheckpoint(d.checkpointId, d.timestampMillis,
                        alignmentTimeoutable_ ? BarrierKind::kTimeoutable : BarrierKind::kAligned);
    } else if (d.action == Action::kAbortCheckpoint) {
      env_.checkpointResponder->decline(d.checkpointId, {env_.vertexId, env_.subtaskIndex},
                                        checkpoint::DeclineReason::kSubsumed, d.reason);
    }
  }
  if (aligner_->isAligning())
    return;
  // The alignment is over: blocked channels flow again, first what their buffers still hold.
  releaseBlockedChannels();
}

void StreamTask::setChannelIdle(int channel, bool idle, OutputBase* target) {
  const auto c = static_cast<size_t>(channel);
  if (channelIdle_[c] == idle || channelEnded_[c])
    return;
  channelIdle_[c] = idle;
  if (idle) {
    // Without this channel the minimum may move forward.
    advanceWatermark(target);
  }
  updateWatermarkStatus(target);
}

void StreamTask::advanceWatermark(OutputBase* target) {
  // The minimum over the active channels. A channel that became active again with a watermark
  // behind the task's is left out until it catches up (Flink's alignment), so that the task's
  // watermark never goes backwards.
  int64_t min = kMaxWatermark;
  bool any = false;
  for (size_t c = 0; c < channelWatermark_.size(); ++c) {
    if (channelEnded_[c] || channelIdle_[c] || channelWatermark_[c] < currentWatermark_)
      continue;
    min = std::min(min, channelWatermark_[c]);
    any = true;
  }
  if (any && min > currentWatermark_) {
    currentWatermark_ = min;
    target->emitWatermark(min);
  }
}

void StreamTask::updateWatermarkStatus(OutputBase* target) {
  bool allIdle = true;
  bool anyOpen = false;
  for (size_t c = 0; c < channelIdle_.size(); ++c) {
    if (channelEnded_[c])
      continue;
    anyOpen = true;
    allIdle = allIdle && channelIdle_[c];
  }
  bool idle = anyOpen && allIdle;
  if (idle == idle_)
    return;
  if (idle) {
    // As Flink's valve does: when every input is idle, the task's watermark catches up with the
    // most advanced one, so that no watermark stays stuck behind channels that all went quiet.
    int64_t max = kNoTimestamp;
    for (size_t c = 0; c < channelWatermark_.size(); ++c) {
      if (!channelEnded_[c])
        max = std::max(max, channelWatermark_[c]);
    }
    if (max > currentWatermark_) {
      currentWatermark_ = max;
      target->emitWatermark(max);
    }
  }
  idle_ = idle;
  target->emitWatermarkStatus(idle);
}

void StreamTask::finishOperators() {
  // Head to tail: an operator's final output reaches downstream operators before they finish.
  for (auto& op : operators_)
    op->endInput();
  for (auto& o : ownedOutputs_)
    o->finish();
  for (auto& w : writers_)
    w->flushAll();
}

}  // namespace brook::runtime
