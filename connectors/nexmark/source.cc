#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <brook/nexmark/json.h>
#include <brook/nexmark/source.h>

namespace brook::nexmark {
namespace {

// The checkpointed position: kStateVersion, the number of progressions, then each one's next
// event number and stride, all as raw int64 (version and count as int32).
constexpr int32_t kStateVersion = 1;
constexpr int kBatchSize = 1024;

int64_t steadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void NexmarkSourceReader::open(const RuntimeContext& context) {
  // A restored reader continues what its restored positions left, possibly nothing.
  if (!context.restored)
    progressions_.push_back({context.subtaskIndex, context.parallelism});
  emitted_ = 0;
  startedNanos_ = steadyNanos();
  // Its share of tps is its share of the events: 1 / stride of them per progression.
  shareRate_ = 0;
  for (const Progression& p : progressions_)
    shareRate_ += static_cast<double>(config_.tps) / static_cast<double>(p.stride);
}

InputStatus NexmarkSourceReader::pollNext(SourceOutput<Event>& output) {
  int64_t budget = kBatchSize;
  // With event time on the wall clock, the events whose time has come.
  const int64_t nowMillis =
      config_.rateLimited && config_.eventTimeIsWallClock
          ? std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count()
          : std::numeric_limits<int64_t>::max();
  if (config_.rateLimited && !config_.eventTimeIsWallClock) {
    // Emit no more than this reader's share of tps for the wall-clock time since open.
    const double elapsedSeconds = static_cast<double>(steadyNanos() - startedNanos_) * 1e-9;
    const auto allowed = static_cast<int64_t>(elapsedSeconds * shareRate_) + 1;
    budget = std::min<int64_t>(budget, allowed - emitted_);
  }
  for (int64_t i = 0; i < budget; ++i) {
    // The progression with the lowest next event number, so that several merge in order.
    Progression* lowest = nullptr;
    for (Progression& p : progressions_) {
      if (lowest == nullptr || p.next < lowest->next)
        lowest = &p;
    }
    if (lowest == nullptr || (config_.eventsNum > 0 && lowest->next >= config_.eventsNum)) {
      // Nothing left: no progressions, or the lowest (so every one) is past eventsNum.
      progressions_.clear();
      return InputStatus::kEndOfInput;
    }
    if (eventTimestamp(config_, lowest->next) > nowMillis)
      return InputStatus::kNothingAvailable;
    generateEvent(config_, lowest->next, event_);
    lowest->next += lowest->stride;
    ++emitted_;
    const int64_t timestamp = event_.dateTime();
    // SourceOutput takes the record by value: the moved-from event_ is refilled next time.
    output.collect(std::move(event_), timestamp);
  }
  return budget > 0 ? InputStatus::kMoreAvailable : InputStatus::kNothingAvailable;
}

std::string NexmarkSourceReader::snapshotState(int64_t) {
  DataOutput out;
  out.writeRaw<int32_t>(kStateVersion);
  int32_t live = 0;
  for (const Progression& p : progressions_)
    live += config_.eventsNum == 0 || p.next < config_.eventsNum ? 1 : 0;
  out.writeRaw<int32_t>(live);
  for (const Progression& p : progressions_) {
    if (config_.eventsNum != 0 && p.next >= config_.eventsNum)
      continue;
    out.writeRaw<int64_t>(p.next);
    out.writeRaw<int64_t>(p.stride);
  }
  return std::string(out.view());
}

void NexmarkSourceReader::restoreState(std::string_view state) {
  constexpr size_t kHeader = 2 * sizeof(int32_t);
  constexpr size_t kEntry = 2 * sizeof(int64_t);
  if (state.size() < kHeader) {
    throw SerializationError("the restored position of the Nexmark source is " +
                             std::to_string(state.size()) + " bytes long, too short");
  }
  DataInput in(state);
  const auto version = in.readRaw<int32_t>();
  if (version != kStateVersion) {
    throw SerializationError("the restored position of the Nexmark source has format version " +
                             std::to_string(version) + "; this reader reads version " +
                             std::to_string(kStateVersion));
  }
  const auto count = in.readRaw<int32_t>();
  if (count < 0 || in.remaining() != static_cast<size_t>(count) * kEntry) {
    throw SerializationError("the restored position of the Nexmark source holds " +
                             std::to_string(in.remaining()) + " bytes for " +
                             std::to_string(count) + " progressions");
  }
  for (int32_t i = 0; i < count; ++i) {
    const auto next = in.readRaw<int64_t>();
    const auto stride = in.readRaw<int64_t>();
    if (next < 0 || stride < 1) {
      throw SerializationError("the restored position (next " + std::to_string(next) + ", stride " +
                               std::to_string(stride) + ") of the Nexmark source is not valid");
    }
    progressions_.push_back({next, stride});
  }
}

DataStream<Event> nexmarkSource(StreamExecutionEnvironment& env,
                                const GeneratorConfig& config,
                                WatermarkStrategy<Event> watermarks) {
  return env
      .fromSource<Event>(
          [config]() -> std::unique_ptr<SourceReader<Event>> {
            return std::make_unique<NexmarkSourceReader>(config);
          },
          std::move(watermarks), "Nexmark Source", /*bounded=*/config.eventsNum > 0)
      .uid("nexmark-source");
}

DataStream<Event> nexmarkJsonSource(StreamExecutionEnvironment& env,
                                    const std::string& path,
                                    WatermarkStrategy<Event> watermarks) {
  return env.readTextFile(path)
      .map([path](const std::string& line) {
        absl::StatusOr<Event> event = parseEventJson(line);
        if (!event.ok()) {
          constexpr size_t kShown = 80;
          const std::string shown = line.size() > kShown ? line.substr(0, kShown) + "..." : line;
          throw std::runtime_error("Nexmark events file '" + path +
                                   "': " + std::string(event.status().message()) + " in line '" +
                                   shown + "'");
        }
        return *std::move(event);
      })
      .name("Parse Nexmark JSON")
      .assignTimestampsAndWatermarks(std::move(watermarks));
}

}  // namespace brook::nexmark
