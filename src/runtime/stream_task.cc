#include "runtime/stream_task.h"

#include <algorithm>
#include <map>

#include <absl/strings/str_cat.h>

#include "common/logging.h"

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
    : env_(std::move(environment)), onComplete_(std::move(onComplete)) {
  const JobVertex& v = env_.jobGraph->vertices[static_cast<size_t>(env_.vertexId)];
  description_ = absl::StrCat(v.name, " (", env_.subtaskIndex + 1, "/", v.parallelism, ")#",
                              env_.attemptNumber);
}

StreamTask::~StreamTask() = default;

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
    contexts_.push_back(std::move(ctx));
    operators_.push_back(n.factory());
    opOfNode[nodeId] = operators_.back().get();
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
        out = chained->second->input();
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
    if (head->input() == nullptr || se.recordType == nullptr) {
      throw std::logic_error("operator '" + sg.nodes[static_cast<size_t>(se.targetId)].name +
                             "' cannot consume records");
    }
    edgeDeserializers_.push_back(se.recordType->makeDeserializer(head->input()));
    for (size_t j = 0; j < env_.inputs[i].size(); ++j) {
      int ch = gate_.addChannel(env_.inputs[i][j], static_cast<int>(i));
      if (i < env_.remoteInputs.size() && env_.remoteInputs[i][j] != nullptr)
        remoteChannels_.emplace_back(ch, env_.remoteInputs[i][j]);
      channelDeserializers_.push_back(std::make_unique<ElementDeserializer>(
          absl::StrCat("channel ", ch, " of ", description_)));
      channelRecordDeserializer_.push_back(edgeDeserializers_.back().get());
    }
  }
  channelWatermark_.assign(static_cast<size_t>(gate_.numberOfChannels()), kNoTimestamp);
  channelEnded_.assign(static_cast<size_t>(gate_.numberOfChannels()), false);
  bufferTimeout_ = std::chrono::milliseconds(jg.bufferTimeoutMillis);
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
    if (env_.jobGraph->vertices[static_cast<size_t>(env_.vertexId)].isSource) {
      runSource();
    } else {
      runInputs();
    }
    if (cancelled_.load())
      throw TaskCancelledError{};
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
  // Release everything the task holds before reporting.
  writers_.clear();
  channelDeserializers_.clear();
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
    InputStatus status = source->emitNext();
    if (status == InputStatus::kEndOfInput)
      break;
    maybeFlush();
    if (status == InputStatus::kNothingAvailable) {
      mailbox_.waitUntil(
          std::min(nextFlush_, std::chrono::steady_clock::now() + std::chrono::milliseconds(5)));
    }
  }
  // A bounded source ends event time: every window and timer downstream fires.
  source->output()->emitWatermark(kMaxWatermark);
}

void StreamTask::runInputs() {
  Mailbox::Mail mail;
  const int channels = gate_.numberOfChannels();
  while (channelsEnded_ < channels) {
    while (mailbox_.tryTake(mail))
      mail();
    if (cancelled_.load(std::memory_order_relaxed))
      return;
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
    // Idle: wake for the next flush, and at least every 100 ms to check the remote channels.
    mailbox_.waitUntil(
        std::min(nextFlush_, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
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
  auto& deserializer = *channelDeserializers_[static_cast<size_t>(channel)];
  RecordDeserializer* records = channelRecordDeserializer_[static_cast<size_t>(channel)];
  deserializer.setBuffer(buffer);
  StreamElement e;
  while (deserializer.next(e)) {
    switch (e.kind) {
      case ElementKind::kRecord:
      case ElementKind::kTimedRecord:
        records->processRecord(e.payload, e.timestamp);
        break;
      case ElementKind::kWatermark: {
        auto& w = channelWatermark_[static_cast<size_t>(channel)];
        w = std::max(w, e.timestamp);
        int64_t min = kMaxWatermark;
        for (size_t c = 0; c < channelWatermark_.size(); ++c) {
          if (!channelEnded_[c])
            min = std::min(min, channelWatermark_[c]);
        }
        if (min > currentWatermark_) {
          currentWatermark_ = min;
          records->target()->emitWatermark(min);
        }
        break;
      }
      case ElementKind::kEndOfPartition:
        if (!channelEnded_[static_cast<size_t>(channel)]) {
          channelEnded_[static_cast<size_t>(channel)] = true;
          ++channelsEnded_;
        }
        break;
      case ElementKind::kBarrier:
        // Checkpoint barriers are consumed by checkpoint alignment, which this runtime does
        // not perform yet; without a coordinator none are sent.
        break;
    }
  }
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
