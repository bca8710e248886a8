#pragma once

/// Exactly-once sinks by two-phase commit, as Flink's TwoPhaseCommitSinkFunction.
///
/// A subclass of `TwoPhaseCommitSinkWriter<IN, TXN>` writes records into transactions of its
/// own (a hidden part file, a database transaction, ...) and says how to pre-commit, commit and
/// abort them; this base decides when. One transaction is open at a time:
///   - checkpoint n taken at the task (`snapshotState(n)`): the open transaction is
///     pre-committed (flushed and made durable: nothing more goes into it), recorded as pending
///     for checkpoint n in operator list state, and a new one begins;
///   - checkpoint n completed (`notifyCheckpointComplete(n)`): every pending transaction of a
///     checkpoint <= n is committed, oldest first. An aborted checkpoint commits nothing; its
///     transactions commit with the next checkpoint that completes;
///   - restore (`open` with restored operator state): the pending transactions of the restored
///     checkpoint are committed (`recoverAndCommit`; some may be committed already, so a commit
///     must be idempotent) and the transaction that was open when it was taken is aborted
///     (`recoverAndAbort`); its records are replayed by the sources;
///   - failure or cancellation (`close` without `finish`): the open transaction and those ended
///     since the last checkpoint are aborted; pending ones stay for a restore to commit;
///   - end of a bounded input (`finish`): the open transaction is pre-committed and, with every
///     pending one, committed at once, because a finished task takes no more checkpoints.
///     A failure of the job after that and a restore from an earlier checkpoint would write the
///     records after that checkpoint again.
/// Without checkpointing (`RuntimeContext::checkpointingEnabled` false) a transaction commits as
/// soon as it ends: at `finish`, or when the subclass ends it early (`endTransaction`, e.g. a
/// part file rolled by size), so that a job without checkpoints still produces its output.
///
/// Transactions are values of type `TXN` with a TypeSerializer (`BROOK_SERIALIZABLE`): they
/// are stored in checkpoints and may be handed to another subtask when a job is restored at
/// another parallelism. All methods run on the task's thread; the SinkOperator that drives the
/// writer turns exceptions into task failures naming the operator and subtask.

#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include <brook/functions.h>
#include <brook/operator_state_store.h>
#include <brook/serializer.h>
#include <brook/sinks.h>
#include <brook/state.h>

namespace brook {

/// Base of exactly-once sink writers: see the file comment for the protocol. A subclass
/// implements `beginTransaction`, `invoke`, `preCommit`, `commit` and `abort`; it may override
/// `initialize`, `endInput` and `dispose` for its own set-up, end and clean-up.
template <typename IN, typename TXN>
class TwoPhaseCommitSinkWriter : public SinkWriter<IN> {
  static_assert(internal::requireSerializer<TXN>());

 public:
  /// The operator state names under which the writer keeps its transactions.
  static constexpr const char* kPendingStateName = "two-phase-commit-pending";
  static constexpr const char* kOpenStateName = "two-phase-commit-open";

  /// Calls `initialize`, then recovers from restored state, then begins the first transaction.
  void open(const RuntimeContext& context) final {
    context_ = &context;
    checkpointing_ = context.checkpointingEnabled;
    initialize(context);
    if (context.operatorStateStore != nullptr) {
      OperatorStateStore& store = *context.operatorStateStore;
      pendingState_ =
          &store.getListState(ListStateDescriptor<std::pair<int64_t, TXN>>(kPendingStateName));
      openState_ = &store.getListState(ListStateDescriptor<TXN>(kOpenStateName));
      recover();
    }
    current_ = beginTransaction();
  }

  void write(IN&& record, int64_t timestamp) final {
    writing_ = true;
    invoke(*current_, std::move(record), timestamp);
    writing_ = false;
    if (endRequested_) {
      endRequested_ = false;
      endTransaction();
    }
  }

  void snapshotState(int64_t checkpointId) final {
    if (current_) {
      preCommit(*current_);
      for (TXN& txn : ended_)
        pending_.emplace_back(checkpointId, std::move(txn));
      ended_.clear();
      pending_.emplace_back(checkpointId, std::move(*current_));
      current_ = beginTransaction();
    }
    if (pendingState_ != nullptr) {
      pendingState_->update(pending_);
      std::vector<TXN> open;
      if (current_)
        open.push_back(*current_);
      openState_->update(std::move(open));
    }
  }

  void notifyCheckpointComplete(int64_t checkpointId) final {
    while (!pending_.empty() && pending_.front().first <= checkpointId) {
      commit(pending_.front().second);
      pending_.erase(pending_.begin());
    }
  }

  /// Keeps the checkpoint's transactions pending: the next completed checkpoint commits them.
  void notifyCheckpointAborted(int64_t checkpointId) final { (void)checkpointId; }

  void finish() final {
    if (!current_)
      return;
    endInput(*current_);
    preCommit(*current_);
    ended_.push_back(std::move(*current_));
    current_.reset();
    finished_ = true;
    commitPending();
    for (TXN& txn : ended_)
      commit(txn);
    ended_.clear();
  }

  void close() final {
    std::exception_ptr error;
    if (!finished_) {
      try {
        if (current_)
          abort(*current_);
        for (const TXN& txn : ended_)
          abort(txn);
      } catch (...) {
        error = std::current_exception();
      }
    }
    current_.reset();
    ended_.clear();
    dispose();
    if (error)
      std::rethrow_exception(error);
  }

 protected:
  /// Sets the writer up; runs first in `open`, before restored transactions are recovered.
  virtual void initialize(const RuntimeContext& context) { (void)context; }
  /// Releases the writer's resources; runs last in `close`, on success and failure alike.
  virtual void dispose() {}

  /// Begins a transaction that the next records go to.
  virtual TXN beginTransaction() = 0;
  /// Writes one record into `txn`, the open transaction.
  virtual void invoke(TXN& txn, IN&& record, int64_t timestamp) = 0;
  /// Makes `txn` durable: after it returns, a commit (maybe by another process after a restore)
  /// must succeed. No record goes into `txn` afterwards.
  virtual void preCommit(TXN& txn) = 0;
  /// Makes the records of a pre-committed `txn` visible. Must be idempotent: after a restore,
  /// `txn` may be committed already.
  virtual void commit(const TXN& txn) = 0;
  /// Discards `txn` (open or pre-committed, never committed).
  virtual void abort(const TXN& txn) = 0;
  /// The input has ended: `txn`, the open transaction, is pre-committed and committed next.
  virtual void endInput(TXN& txn) { (void)txn; }
  /// Commits a pending transaction found in restored state.
  virtual void recoverAndCommit(const TXN& txn) { commit(txn); }
  /// Discards the transaction that was open when the restored checkpoint was taken.
  virtual void recoverAndAbort(const TXN& txn) { abort(txn); }

  /// Ends the open transaction before the next checkpoint (e.g. a part file is large enough):
  /// pre-commits it and begins a new one. With checkpointing, the ended transaction becomes
  /// pending for the next checkpoint; without, it commits at once. Called from `invoke`, it
  /// takes effect once the record is written. Does nothing when no transaction is open.
  void endTransaction() {
    if (writing_) {
      endRequested_ = true;
      return;
    }
    if (!current_)
      return;
    preCommit(*current_);
    if (checkpointing_) {
      ended_.push_back(std::move(*current_));
    } else {
      commit(*current_);
    }
    current_ = beginTransaction();
  }

  /// Whether a transaction is open: from `open` until `finish` or `close`.
  bool hasOpenTransaction() const { return current_.has_value(); }
  const RuntimeContext& runtimeContext() const { return *context_; }

 private:
  void recover() {
    std::vector<std::pair<int64_t, TXN>> restored = pendingState_->get();
    std::stable_sort(restored.begin(), restored.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [checkpointId, txn] : restored)
      recoverAndCommit(txn);
    for (const TXN& txn : openState_->get())
      recoverAndAbort(txn);
    pendingState_->clear();
    openState_->clear();
  }

  void commitPending() {
    while (!pending_.empty()) {
      commit(pending_.front().second);
      pending_.erase(pending_.begin());
    }
  }

  const RuntimeContext* context_ = nullptr;
  bool checkpointing_ = false;
  bool writing_ = false;
  bool endRequested_ = false;
  bool finished_ = false;
  /// The open transaction.
  std::optional<TXN> current_;
  /// Pre-committed by `endTransaction` since the last checkpoint, oldest first.
  std::vector<TXN> ended_;
  /// Pre-committed and recorded in a checkpoint, not yet committed; by checkpoint id.
  std::vector<std::pair<int64_t, TXN>> pending_;
  ListState<std::pair<int64_t, TXN>>* pendingState_ = nullptr;
  ListState<TXN>* openState_ = nullptr;
};

}  // namespace brook
