#pragma once

/// The exactly-once text file sink behind `FileSink::text` and `DataStream::writeAsText`.
///
/// Each subtask writes part files into the output directory, one record per line. A part file
/// is a transaction of `TwoPhaseCommitSinkWriter`:
///   - in progress: written as the hidden file `.part-<subtask>-<counter>.inprogress`;
///   - pending: rolled (closed and fsync'ed, still hidden) at every checkpoint, and when the
///     RollingPolicy says so (size, age, inactivity);
///   - committed: renamed to `part-<subtask>-<counter>` (then the directory is fsync'ed) when
///     the checkpoint that covers it completes, or at once when the job takes no checkpoints.
/// Readers must skip hidden files (names starting with '.'), as Flink's do; the final files
/// then hold every record exactly once. No part file is made for a transaction without
/// records, except that a subtask that wrote no part file by the end of its input commits an
/// empty one, so that a bounded job leaves a file per subtask, as Flink's writeAsText does.
///
/// Final names never collide: a subtask continues its counter after the largest one present in
/// the directory for its subtask index (final or in progress, from any earlier run or attempt),
/// and creates files exclusively. So restoring an older checkpoint never overwrites part files
/// committed after it, and the sink never deletes or overwrites a file it did not write.
/// Committing is idempotent: a pending file that is gone while its final name exists was
/// committed already. In-progress files of an attempt that failed after its last checkpoint are
/// left behind, hidden (a restore aborts only the one that was open at the restored
/// checkpoint).

#include <cstdint>
#include <string>
#include <utility>

#include <brook/functions.h>
#include <brook/operator.h>
#include <brook/serializer.h>
#include <brook/sinks.h>
#include <brook/text_format.h>
#include <brook/two_phase_commit_sink.h>

namespace brook {

/// When the file sink closes a part file and begins another, besides at every checkpoint; the
/// defaults are those of Flink's DefaultRollingPolicy. Zero disables a limit. The age and
/// inactivity limits are checked on the task's processing-time timers every
/// `checkIntervalMillis`.
struct RollingPolicy {
  /// A part file rolls once it holds at least this many bytes.
  int64_t maxPartSizeBytes = int64_t{128} << 20;
  /// A part file rolls once it has been open this long.
  int64_t rolloverIntervalMillis = 60'000;
  /// A part file rolls once nothing was written to it for this long.
  int64_t inactivityIntervalMillis = 60'000;
  int64_t checkIntervalMillis = 1'000;
};

/// One part file of the file sink: the transaction of its TwoPhaseCommitSinkWriter.
struct PartFileTransaction {
  /// The final file name in the sink's directory, e.g. "part-0-3"; empty until the first record
  /// is written (a transaction without records has no file).
  std::string name;
};

}  // namespace brook

BROOK_SERIALIZABLE(brook::PartFileTransaction, &brook::PartFileTransaction::name);

namespace brook {

namespace internal {

/// The part files of one file sink subtask: names, the open file and its buffer, and the
/// pre-commit, commit and abort of part files. Errors throw std::runtime_error naming the path.
/// Used on the task's thread.
class PartFileWriter {
 public:
  PartFileWriter() = default;
  PartFileWriter(const PartFileWriter&) = delete;
  PartFileWriter& operator=(const PartFileWriter&) = delete;
  /// Closes the open file, if any, without removing it.
  ~PartFileWriter();

  /// Creates `directory` if needed and finds the first free counter for `subtaskIndex`.
  void open(const std::string& directory, int subtaskIndex);
  /// Creates the hidden in-progress file of `txn` under a fresh name; it becomes the open file.
  void begin(PartFileTransaction& txn);
  /// The bytes not yet written to the open file; append lines, then call `maybeFlush`.
  std::string& buffer() { return buffer_; }
  void maybeFlush() {
    if (buffer_.size() >= kFlushBytes)
      flush();
  }
  /// The size of the open file, buffered bytes included.
  int64_t size() const { return written_ + static_cast<int64_t>(buffer_.size()); }

  /// Writes out, fsyncs and closes the file of `txn` (nothing for a transaction without one).
  void preCommit(const PartFileTransaction& txn);
  /// Renames the pending file of `txn` to its final name and fsyncs the directory. Nothing to
  /// do when it was committed already; throws when neither file exists.
  void commit(const PartFileTransaction& txn);
  /// Closes and removes the in-progress or pending file of `txn`, if any.
  void abort(const PartFileTransaction& txn);
  /// Closes the open file without removing it.
  void close();

  std::string finalPath(const std::string& name) const;
  std::string inProgressPath(const std::string& name) const;

 private:
  static constexpr size_t kFlushBytes = 64 * 1024;
  void flush();
  void closeFile();

  std::string directory_;
  std::string prefix_;  // "part-<subtask>-"
  int64_t nextCounter_ = 0;
  int fd_ = -1;
  std::string openName_;
  int64_t written_ = 0;
  std::string buffer_;
};

}  // namespace internal

/// Writes records as lines into part files exactly once: see the file comment.
template <typename T>
class TextFileSinkWriter final : public TwoPhaseCommitSinkWriter<T, PartFileTransaction> {
 public:
  explicit TextFileSinkWriter(std::string directory, RollingPolicy policy = {})
      : directory_(std::move(directory)), policy_(policy) {}

 protected:
  void initialize(const RuntimeContext& context) override {
    files_.open(directory_, context.subtaskIndex);
    time_ = context.processingTimeService;
    scheduleCheck();
  }
  PartFileTransaction beginTransaction() override { return {}; }
  void invoke(PartFileTransaction& txn, T&& record, int64_t) override {
    if (txn.name.empty())
      beginFile(txn);
    std::string& buffer = files_.buffer();
    appendText(buffer, record);
    buffer += '\n';
    files_.maybeFlush();
    if (policy_.maxPartSizeBytes > 0 && files_.size() >= policy_.maxPartSizeBytes)
      this->endTransaction();
  }
  void endInput(PartFileTransaction& txn) override {
    if (!wroteFile_)
      beginFile(txn);
  }
  void preCommit(PartFileTransaction& txn) override { files_.preCommit(txn); }
  void commit(const PartFileTransaction& txn) override { files_.commit(txn); }
  void abort(const PartFileTransaction& txn) override { files_.abort(txn); }
  void dispose() override { files_.close(); }

 private:
  void beginFile(PartFileTransaction& txn) {
    files_.begin(txn);
    wroteFile_ = true;
    openedAt_ = now();
    lastActivity_ = openedAt_;
    sizeAtLastCheck_ = 0;
  }
  int64_t now() const { return time_ != nullptr ? time_->currentProcessingTime() : 0; }

  // Age and inactivity are checked on timers, not per record.
  void scheduleCheck() {
    if (time_ == nullptr || policy_.checkIntervalMillis <= 0 ||
        (policy_.rolloverIntervalMillis <= 0 && policy_.inactivityIntervalMillis <= 0)) {
      return;
    }
    time_->registerTimer(time_->currentProcessingTime() + policy_.checkIntervalMillis,
                         [this](int64_t) { checkTime(); });
  }
  void checkTime() {
    if (!this->hasOpenTransaction())
      return;
    const int64_t size = files_.size();
    if (size > 0) {
      const int64_t time = now();
      if (size != sizeAtLastCheck_) {
        sizeAtLastCheck_ = size;
        lastActivity_ = time;
      }
      const bool old =
          policy_.rolloverIntervalMillis > 0 && time - openedAt_ >= policy_.rolloverIntervalMillis;
      const bool inactive = policy_.inactivityIntervalMillis > 0 &&
                            time - lastActivity_ >= policy_.inactivityIntervalMillis;
      if (old || inactive)
        this->endTransaction();
    }
    scheduleCheck();
  }

  std::string directory_;
  RollingPolicy policy_;
  internal::PartFileWriter files_;
  ProcessingTimeService* time_ = nullptr;
  int64_t openedAt_ = 0;
  int64_t lastActivity_ = 0;
  int64_t sizeAtLastCheck_ = 0;
  bool wroteFile_ = false;
};

/// Text sinks writing to files.
struct FileSink {
  /// A directory of part files `part-<subtask>-<counter>`, one record per line, written
  /// exactly once: with checkpointing, a part file appears when the checkpoint covering it
  /// completes; without, when it rolls or the input ends. See <brook/file_sink.h>.
  template <typename T = std::string>
  static Sink<T> text(std::string directory, RollingPolicy policy = {}) {
    return {"File Sink", [directory, policy] {
              return std::make_unique<TextFileSinkWriter<T>>(directory, policy);
            }};
  }
};

}  // namespace brook
