#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <brook/functions.h>
#include <brook/operator.h>

#include "runtime/input_gate.h"
#include "runtime/job_graph.h"
#include "runtime/mailbox.h"
#include "runtime/network/remote_input_channel.h"
#include "runtime/record_writer.h"
#include "runtime/result_partition.h"

namespace brook::runtime {

enum class TaskState { kCreated, kRunning, kFinished, kCanceled, kFailed };
const char* taskStateName(TaskState state);

/// One parallel subtask of a JobVertex: its chain of operators, its input gate and its record
/// writers, driven by one thread. The owner calls `run` on a dedicated thread; `cancel` may be
/// called from any thread.
class StreamTask {
 public:
  struct Environment {
    std::string jobId;
    const JobGraph* jobGraph = nullptr;
    const JobArgs* args = nullptr;
    int vertexId = -1;
    int subtaskIndex = 0;
    int attemptNumber = 0;
    /// Per output JobEdge (in the vertex's order): this subtask's partition.
    std::vector<ResultPartition*> outputs;
    /// Per input JobEdge (in the vertex's order): the subpartitions this subtask reads.
    std::vector<std::vector<ResultSubpartition*>> inputs;
    /// Shaped like `inputs` (or empty when all are local): the remote channel behind each
    /// subpartition, null for local ones. The task fails when a remote channel fails before
    /// its end of partition.
    std::vector<std::vector<network::RemoteInputChannel*>> remoteInputs;
  };
  /// Called once, from the task thread, when the task reaches a terminal state.
  using CompletionCallback = std::function<void(TaskState, const std::string& failure)>;

  StreamTask(Environment environment, CompletionCallback onComplete);
  ~StreamTask();
  StreamTask(const StreamTask&) = delete;
  StreamTask& operator=(const StreamTask&) = delete;

  /// Runs the task to a terminal state. Never throws.
  void run();
  void cancel();

  /// "chain (i/n)#attempt", the name in every log line.
  const std::string& description() const { return description_; }
  TaskState state() const { return state_.load(); }
  /// Nanoseconds spent waiting for free output buffers since the task started: the measure of
  /// backpressure. Any thread.
  int64_t backPressuredNanos() const { return backPressuredNanos_.load(std::memory_order_relaxed); }

 private:
  void setUp();
  void runSource();
  void runInputs();
  void processBuffer(int channel, Buffer* buffer);
  void maybeFlush();
  /// Throws when a remote input channel failed (its producer or the connection is gone).
  void checkRemoteChannels();
  void finishOperators();
  void closeOperators() noexcept;

  Environment env_;
  CompletionCallback onComplete_;
  std::string description_;
  std::atomic<TaskState> state_{TaskState::kCreated};
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> backPressuredNanos_{0};
  std::chrono::steady_clock::time_point nextChannelCheck_;
  Mailbox mailbox_;
  InputGate gate_{&mailbox_};

  // Operators in chain order (head first), with their contexts.
  std::vector<std::unique_ptr<StreamOperator>> operators_;
  std::vector<std::unique_ptr<RuntimeContext>> contexts_;
  std::vector<std::unique_ptr<OutputBase>> ownedOutputs_;
  std::vector<std::unique_ptr<ChannelRecordWriter>> writers_;
  bool opened_ = false;

  // Input side: per channel, its deserializer and the typed record deserializer of its edge.
  std::vector<std::unique_ptr<RecordDeserializer>> edgeDeserializers_;
  std::vector<std::unique_ptr<ElementDeserializer>> channelDeserializers_;
  std::vector<RecordDeserializer*> channelRecordDeserializer_;
  std::vector<int64_t> channelWatermark_;
  std::vector<bool> channelEnded_;
  std::vector<std::pair<int, network::RemoteInputChannel*>> remoteChannels_;
  int channelsEnded_ = 0;
  int64_t currentWatermark_ = kNoTimestamp;

  std::chrono::steady_clock::time_point nextFlush_;
  std::chrono::milliseconds bufferTimeout_{100};
};

}  // namespace brook::runtime
