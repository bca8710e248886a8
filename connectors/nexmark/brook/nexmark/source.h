#pragma once

/// The Nexmark source: a parallel source reader of generated events, and the job-side helpers
/// that read events from the generator or from a JSON-lines file.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <brook/brook.h>
#include <brook/nexmark/generator.h>
#include <brook/nexmark/model.h>

namespace brook::nexmark {

/// Generates events of `config`: subtask i of p generates event numbers i, i + p, i + 2p, ...
/// in order (so the subtasks advance through event time together), up to `eventsNum` or
/// without end. Its checkpointed position is what is left of its share, as arithmetic
/// progressions (next, stride) after a format version; a restore at another parallelism deals
/// these out and a reader that gets several merges them in event-number order, so every event
/// is emitted exactly once (a reader that gets none emits nothing). With `rateLimited` it emits
/// its share of `tps` events per second of wall-clock time. Emits up to 1024 events per
/// pollNext, each with its dateTime as timestamp. Runs on its task's thread.
class NexmarkSourceReader final : public SourceReader<Event> {
 public:
  explicit NexmarkSourceReader(const GeneratorConfig& config) : config_(config) {}
  void open(const RuntimeContext& context) override;
  InputStatus pollNext(SourceOutput<Event>& output) override;
  std::string snapshotState(int64_t checkpointId) override;
  /// Throws SerializationError when `state` is not a position this reader wrote.
  void restoreState(std::string_view state) override;

 private:
  struct Progression {
    int64_t next;    // the next event number
    int64_t stride;  // the distance to the one after
  };
  GeneratorConfig config_;
  std::vector<Progression> progressions_;
  int64_t emitted_ = 0;     // since open, for the rate limit
  int64_t startedNanos_ = 0;
  double shareRate_ = 0;    // events per second of this reader when rate limited
  Event event_;
};

/// A stream of the events `config` generates, from a parallel source named "Nexmark Source"
/// (uid "nexmark-source") whose subtasks run `watermarks`; bounded when `eventsNum` is set.
DataStream<Event> nexmarkSource(StreamExecutionEnvironment& env,
                                const GeneratorConfig& config,
                                WatermarkStrategy<Event> watermarks);

/// A stream of the events of a JSON-lines file (or directory of them) written by
/// `brook-nexmark generate`, with `watermarks`; a line that is not an event fails the job with
/// the file's line error.
DataStream<Event> nexmarkJsonSource(StreamExecutionEnvironment& env,
                                    const std::string& path,
                                    WatermarkStrategy<Event> watermarks);

}  // namespace brook::nexmark
