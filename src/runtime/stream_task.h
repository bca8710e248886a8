#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <brook/functions.h>
#include <brook/operator.h>
#include <brook/operator_state_store.h>

#include "checkpoint/channel_state.h"
#include "checkpoint/checkpoint_barrier_aligner.h"
#include "checkpoint/state_assignment.h"
#include "runtime/async_checkpoint_executor.h"
#include "runtime/checkpoint_responder.h"
#include "runtime/input_gate.h"
#include "runtime/job_graph.h"
#include "runtime/mailbox.h"
#include "runtime/network/remote_input_channel.h"
#include "runtime/record_writer.h"
#include "runtime/result_partition.h"
#include "state/keyed_state_backend_factory.h"

namespace brook::checkpoint {
class IncrementalSnapshotUploader;
}

namespace brook::runtime {

enum class TaskState { kCreated, kRunning, kFinished, kCanceled, kFailed };
const char* taskStateName(TaskState state);

/// One parallel subtask of a JobVertex: its chain of operators, its input gate and its record
/// writers, driven by one thread. The owner calls `run` on a dedicated thread; `cancel` may be
/// called from any thread.
///
/// The task is its operators' ProcessingTimeService: timers wait in a heap owned by the task
/// thread, which runs the due ones between records, buffers and mails, and wakes from idle waits
/// when the next one is due. Timers stop once the input ended (before `endInput`) or the task
/// was cancelled; registrations after that are dropped. Each keyed operator (`isKeyed`) gets its
/// own keyed state backend for the subtask's key groups before `open`; it is destroyed, with its
/// local files, when the task ends, after the operators were closed.
///
/// A checkpoint's synchronous part runs on the task thread (operator state, the barrier, the
/// keyed backends' `snapshot()`); its files are written and the checkpoint acknowledged on the
/// task's checkpoint thread, which the task drains (finished) or cancels (cancelled, failed)
/// before it destroys its state backends.
///
/// Unaligned checkpoints: the sources send their barrier as a priority buffer ahead of their
/// queued output, and every task takes its snapshot at the first barrier it reads, sending its
/// own barrier ahead of its queued output too. What the barriers overtook is the checkpoint's
/// in-flight data (channel state): the output bytes each barrier overtook, and per input
/// channel the bytes that reached the task before that channel's barrier and after the
/// snapshot (they are processed as usual, and also recorded). A task restored from such a
/// checkpoint first sends its recovered output and processes its recovered input.
class StreamTask final : public ProcessingTimeService {
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
    /// Where keyed operators keep local state files (RocksDB): each operator instance and
    /// attempt gets a fresh folder `job_<job>_op_<operator>_<subtask>_attempt_<n>` under it,
    /// removed when the task ends. Created when first needed; the owner removes it. Needed only
    /// by jobs on the RocksDB backend (their tasks fail without it).
    std::string localStateDirectory;
    /// Checkpoints: the job's checkpoint folder (`<state.checkpoints.dir>/<job id>`); the task
    /// writes its state for checkpoint n into its `chk-<n>` folder and reports to `responder`.
    /// Without a responder the task takes no checkpoints (barriers pass through unaligned).
    std::string checkpointDirectory;
    checkpoint::CheckpointingMode checkpointingMode = checkpoint::CheckpointingMode::kExactlyOnce;
    CheckpointResponder* checkpointResponder = nullptr;
    /// The checkpoint or savepoint the task starts from, or null. Each operator restores the
    /// state recorded under its uid before it opens: keyed state of its key groups, operator
    /// state redistributed for its subtask.
    const checkpoint::RestoreSource* restore = nullptr;
    /// `restore` is the job's own completed checkpoint, which its checkpoint coordinator
    /// continues from (a failover): the RocksDB files an operator takes over from it whole are
    /// referenced by the next incremental checkpoint instead of uploaded again.
    bool restoreContinuesCheckpoints = false;
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

  /// Source tasks: takes checkpoint `checkpointId` as soon as the task thread gets to it, then
  /// sends its barrier downstream: aligned for savepoints; else as the job's checkpointing
  /// options say (unaligned: a priority buffer ahead of the queued output; with an
  /// aligned-checkpoint-timeout: aligned until the checkpoint is that old). False when the task
  /// is not running (it has not started or has ended), so that the checkpoint cannot complete.
  /// Any thread.
  bool triggerCheckpoint(int64_t checkpointId, int64_t timestampMillis, bool isSavepoint = false);
  /// Tells the operators that checkpoint `checkpointId` completed / was aborted. Any thread.
  void notifyCheckpointComplete(int64_t checkpointId);
  void notifyCheckpointAborted(int64_t checkpointId);

  /// "chain (i/n)#attempt", the name in every log line.
  const std::string& description() const { return description_; }
  TaskState state() const { return state_.load(); }
  int vertexId() const { return env_.vertexId; }
  /// Nanoseconds spent waiting for free output buffers since the task started: the measure of
  /// backpressure. Any thread.
  int64_t backPressuredNanos() const { return backPressuredNanos_.load(std::memory_order_relaxed); }

  /// Epoch milliseconds of the system clock. Any thread.
  int64_t currentProcessingTime() const override;
  /// Runs `callback(time)` on the task thread once the processing time reaches `time`, in time
  /// order, ties in registration order. Task thread only (operators call it).
  void registerTimer(int64_t time, std::function<void(int64_t)> callback) override;

 private:
  void setUp();
  void runSource();
  void runInputs();
  void processBuffer(int channel, Buffer* buffer);
  /// Processes the elements of `channel`'s current buffer until it is used up or the channel
  /// is blocked by barrier alignment.
  void drainChannel(int channel);
  /// An in-line barrier; `remainingInBuffer` bytes of its buffer follow it.
  void processBarrier(int channel,
                      int64_t checkpointId,
                      int64_t timestampMillis,
                      bool timeoutable,
                      size_t remainingInBuffer);
  /// A priority buffer arrived on `channel`: an unaligned checkpoint's barrier.
  void processPriorityEvent(int channel, Buffer* buffer);
  /// The barrier of unaligned checkpoint `checkpointId` arrived on `channel`.
  void processUnalignedBarrier(int channel, int64_t checkpointId, int64_t timestampMillis);
  /// `channel` delivered what the unaligned checkpoint in progress waited for from it (its
  /// barrier, or its end); the checkpoint is written once nothing more is awaited.
  void stopRecording(int channel);
  /// Gives up the checkpoint being collected, declining it with `reason`.
  void abortCollectingCheckpoint(const std::string& reason);
  /// Reads the channel state of the checkpoint the task restores from (head operator's share).
  void loadRecoveredChannelState();
  /// Sends the recovered output and processes the recovered input, before anything else.
  void replayRecoveredChannelState();
  /// Unblocks every channel and processes what the held ones still have in their buffers.
  void releaseBlockedChannels();
  /// Acts on the aligner's decisions; releases blocked channels when an alignment ends.
  void applyBarrierDecisions(
      const std::vector<checkpoint::CheckpointBarrierAligner::Decision>& decisions);
  /// How a task sends the barrier of a checkpoint downstream.
  enum class BarrierKind {
    kAligned,      ///< in line with the records
    kTimeoutable,  ///< in line, turning into a priority buffer once the checkpoint is too old
    kUnaligned,    ///< as a priority buffer ahead of the queued output
  };
  /// What an unaligned checkpoint does with an input channel when it takes its snapshot.
  enum class ChannelAtSnapshot {
    kRecord,            ///< its barrier is still to come: record it until then
    kBarrierOutOfBand,  ///< its barrier came as a priority buffer: keep its half-read element
    kBarrierInBand,     ///< its barrier came in line: what follows is after the checkpoint
  };
  /// Snapshots every operator's state into the checkpoint's folder, forwards the barrier and
  /// acknowledges (or declines, when the snapshot fails). kUnaligned: `channels` (null: record
  /// them all) says which input channels are recorded until their barriers arrive.
  void performCheckpoint(int64_t checkpointId,
                         int64_t timestampMillis,
                         BarrierKind kind = BarrierKind::kAligned,
                         const std::vector<ChannelAtSnapshot>* channels = nullptr);
  /// The barrier kind of a checkpoint (or savepoint) that this source task starts.
  BarrierKind barrierKindFor(bool isSavepoint) const;
  /// Turns the checkpoint being aligned into an unaligned one (its alignment timed out, or an
  /// unaligned barrier of it arrived on `outOfBandChannel`).
  void switchAlignmentToUnaligned(int outOfBandChannel = -1);
  /// Converts this task's timeoutable barriers that waited too long (all of them with
  /// `convertNow`), and writes the collected checkpoint once all its barriers left; turns a
  /// too-long alignment unaligned.
  void checkCheckpointTimeouts(bool convertNow = false);
  /// Writes the checkpoint being collected once nothing more is awaited.
  void maybeSubmitCollected();
  /// Whether a timeoutable barrier waits in an output queue or a timeoutable alignment runs.
  bool awaitingCheckpointTimeouts() const;
  /// checkCheckpointTimeouts, at most every millisecond, when something may time out.
  void maybeCheckCheckpointTimeouts();
  struct PendingCheckpoint;
  /// Writes a checkpoint's files on the checkpoint thread, then acknowledges or declines.
  void submitCheckpoint(std::unique_ptr<PendingCheckpoint> pending);
  /// Marks an input channel idle or active; an idle channel does not hold back the watermark.
  /// `target` is the operator port that receives the resulting watermark and status.
  void setChannelIdle(int channel, bool idle, OutputBase* target);
  /// Emits the minimum watermark over the active, aligned channels if it moved forward.
  void advanceWatermark(OutputBase* target);
  /// Emits the task's watermark status if it changed: idle when all open channels are idle.
  void updateWatermarkStatus(OutputBase* target);
  void maybeFlush();
  /// An output without a free buffer, or null when every output has one.
  ChannelRecordWriter* unavailableOutput() const;
  /// Throws when a remote input channel failed (its producer or the connection is gone).
  void checkRemoteChannels();
  void finishOperators();
  void closeOperators() noexcept;
  /// Creates the keyed state backend of the operator at `index` of the chain.
  void createKeyedStateBackend(size_t index, int nodeId);
  /// Restores the state of the operator at `index` from the environment's restore source.
  void restoreState(size_t index, int nodeId);
  /// Runs the timers due now that were registered before this call; a callback's exception
  /// fails the task (an OperatorException names the operator that registered it).
  void runDueTimers();
  /// `deadline`, or earlier if a timer is due before it.
  std::chrono::steady_clock::time_point nextWakeUp(
      std::chrono::steady_clock::time_point deadline) const;
  /// Drops every pending timer and refuses new ones.
  void stopTimers();

  struct Timer {
    int64_t time = 0;
    uint64_t sequence = 0;  // registration order, for ties
    size_t operatorIndex = 0;
    std::function<void(int64_t)> callback;
  };
  /// The ProcessingTimeService an operator sees: the task's, remembering which operator
  /// registered each timer so that a failing callback names it.
  class OperatorTimeService final : public ProcessingTimeService {
   public:
    OperatorTimeService(StreamTask* task, size_t operatorIndex)
        : task_(task), operatorIndex_(operatorIndex) {}
    int64_t currentProcessingTime() const override { return task_->currentProcessingTime(); }
    void registerTimer(int64_t time, std::function<void(int64_t)> callback) override {
      task_->addTimer(time, operatorIndex_, std::move(callback));
    }

   private:
    StreamTask* task_;
    size_t operatorIndex_;
  };
  /// `operatorIndex` is kNoOperator for timers registered on the task itself.
  void addTimer(int64_t time, size_t operatorIndex, std::function<void(int64_t)> callback);
  static constexpr size_t kNoOperator = SIZE_MAX;

  Environment env_;
  CompletionCallback onComplete_;
  std::string description_;
  std::atomic<TaskState> state_{TaskState::kCreated};
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> backPressuredNanos_{0};
  std::chrono::steady_clock::time_point nextChannelCheck_;
  Mailbox mailbox_;
  InputGate gate_{&mailbox_};

  // Per operator: its keyed state backend, or null. Declared before the operators so that it
  // outlives them; `run` also destroys it after them.
  std::vector<std::unique_ptr<state::RuntimeKeyedStateBackend>> keyedStateBackends_;
  // By operator: the uploads of its incremental snapshots (null until its first one).
  std::vector<std::shared_ptr<checkpoint::IncrementalSnapshotUploader>> uploaders_;
  // Savepoints whose barrier or trigger came and whose snapshot is still to be taken.
  std::set<int64_t> savepoints_;
  // Per operator: its operator state (list, union and broadcast state).
  std::vector<std::unique_ptr<OperatorStateStore>> operatorStateStores_;
  // Operators in chain order (head first), with their contexts.
  std::vector<std::unique_ptr<StreamOperator>> operators_;
  std::vector<std::unique_ptr<RuntimeContext>> contexts_;
  std::vector<std::unique_ptr<OutputBase>> ownedOutputs_;
  std::vector<std::unique_ptr<ChannelRecordWriter>> writers_;
  std::vector<std::unique_ptr<OperatorTimeService>> timeServices_;
  bool opened_ = false;

  // Processing-time timers: a min-heap by (time, sequence), task thread only.
  std::vector<Timer> timers_;
  uint64_t nextTimerSequence_ = 0;
  bool timersStopped_ = false;

  // Input side: per channel, its deserializer and the typed record deserializer of its edge.
  std::vector<std::unique_ptr<RecordDeserializer>> edgeDeserializers_;
  std::vector<std::unique_ptr<ElementDeserializer>> channelDeserializers_;
  std::vector<RecordDeserializer*> channelRecordDeserializer_;
  std::vector<int64_t> channelWatermark_;
  std::vector<bool> channelEnded_;
  std::vector<bool> channelIdle_;
  std::vector<std::pair<int, network::RemoteInputChannel*>> remoteChannels_;
  int channelsEnded_ = 0;
  std::unique_ptr<checkpoint::CheckpointBarrierAligner> aligner_;
  // Whether the input is over (or the task ended): no more checkpoints.
  bool inputEnded_ = false;
  std::mutex checkpointMutex_;
  /// Writes checkpoint state files and acknowledges; drained before the state backends go.
  AsyncCheckpointExecutor asyncCheckpoints_;
  bool acceptsCheckpoints_ = true;  // guarded by checkpointMutex_
  // Channels blocked with elements left in their deserializer's buffer.
  std::vector<int> heldChannels_;
  // Per input channel: its index within its job edge (the upstream subtask).
  std::vector<int> channelIndexInEdge_;
  // The checkpoint still collecting in-flight data (input channels being recorded, timeoutable
  // barriers waiting in the output queues), or null.
  std::unique_ptr<PendingCheckpoint> collecting_;
  // The checkpoint being aligned: whether its barriers are timeoutable, and its timestamp.
  bool alignmentTimeoutable_ = false;
  int64_t alignmentTimestampMillis_ = 0;
  std::chrono::steady_clock::time_point nextTimeoutCheck_;
  // Recovered channel state, until replayed: per channel / per (writer, channel).
  std::vector<std::pair<int, std::string>> recoveredInputs_;
  std::vector<checkpoint::ChannelStateSnapshot::Channel> recoveredOutputs_;
  // Recovered input is being processed: barriers in it are stale and skipped.
  bool replayingChannelState_ = false;
  int64_t currentWatermark_ = kNoTimestamp;
  bool idle_ = false;  // the watermark status sent downstream

  std::chrono::steady_clock::time_point nextFlush_;
  std::chrono::milliseconds bufferTimeout_{100};
};

}  // namespace brook::runtime
