#pragma once

/// Sinks: where a stream's records leave the job. A `Sink<T>` names a sink and creates one
/// `SinkWriter<T>` per parallel subtask. Exactly-once sinks build on
/// `TwoPhaseCommitSinkWriter` (<brook/two_phase_commit_sink.h>); the text file sink
/// `FileSink::text`, behind `writeAsText`, is one (<brook/file_sink.h>).

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <brook/functions.h>
#include <brook/text_format.h>

namespace brook {

/// Writes one subtask's records, on the task's thread. `finish` runs when a bounded input
/// ends; `close` always, on success and failure alike. The checkpoint calls mirror
/// StreamOperator's: `snapshotState(n)` when checkpoint n is taken at the task (before the
/// operator state in `RuntimeContext::operatorStateStore` is written into it), then
/// `notifyCheckpointComplete(n)` or `notifyCheckpointAborted(n)`.
template <typename T>
class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual void open(const RuntimeContext& context) { (void)context; }
  virtual void write(T&& record, int64_t timestamp) = 0;
  virtual void finish() {}
  virtual void close() {}
  virtual void snapshotState(int64_t checkpointId) { (void)checkpointId; }
  virtual void notifyCheckpointComplete(int64_t checkpointId) { (void)checkpointId; }
  virtual void notifyCheckpointAborted(int64_t checkpointId) { (void)checkpointId; }
};

template <typename T>
struct Sink {
  std::string name;
  std::function<std::unique_ptr<SinkWriter<T>>()> createWriter;
};

namespace internal {
/// Writes whole lines to standard output under one process-wide lock, so that the lines of
/// parallel subtasks never interleave mid-line.
void writeStdoutLines(const std::string& lines);
}  // namespace internal

/// Prints each record as a line to standard output, prefixed "N> " with the subtask number
/// (from 1) when the sink runs with parallelism > 1, as Flink's print().
template <typename T>
class PrintSinkWriter final : public SinkWriter<T> {
 public:
  void open(const RuntimeContext& context) override {
    if (context.parallelism > 1)
      prefix_ = std::to_string(context.subtaskIndex + 1) + "> ";
  }
  void write(T&& record, int64_t) override {
    line_.clear();
    line_ += prefix_;
    appendText(line_, record);
    line_ += '\n';
    internal::writeStdoutLines(line_);
  }

 private:
  std::string prefix_;
  std::string line_;
};

template <typename T>
Sink<T> printSink() {
  return {"Print to Std. Out", [] {
            return std::make_unique<PrintSinkWriter<T>>();
          }};
}

/// Gathers a job's records in memory for the caller to read after the job ends. Works on the
/// embedded mini-cluster, where the job runs in the caller's process; tests use it to read
/// results back.
template <typename T>
class CollectSink {
 public:
  CollectSink() : shared_(std::make_shared<Shared>()) {}

  Sink<T> sink() const {
    auto shared = shared_;
    return {"Collect Sink", [shared] {
              return std::make_unique<Writer>(shared);
            }};
  }

  /// The records gathered so far, in arrival order per subtask.
  std::vector<T> values() const {
    std::lock_guard lock(shared_->mutex);
    return shared_->values;
  }
  void clear() {
    std::lock_guard lock(shared_->mutex);
    shared_->values.clear();
  }

 private:
  struct Shared {
    std::mutex mutex;
    std::vector<T> values;
  };
  class Writer final : public SinkWriter<T> {
   public:
    explicit Writer(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
    void write(T&& record, int64_t) override { local_.push_back(std::move(record)); }
    void finish() override { publish(); }
    void close() override { publish(); }

   private:
    void publish() {
      std::lock_guard lock(shared_->mutex);
      for (auto& v : local_)
        shared_->values.push_back(std::move(v));
      local_.clear();
    }
    std::shared_ptr<Shared> shared_;
    std::vector<T> local_;
  };

  std::shared_ptr<Shared> shared_;
};

}  // namespace brook
