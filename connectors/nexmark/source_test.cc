// The Nexmark source: the reader's share of the sequence, its checkpointed position restored at
// another parallelism, the rate limit, and whole jobs on the mini-cluster (generator and JSON
// file sources) at parallelism 1 and 3, against the generator itself.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>
#include <brook/nexmark/generator.h>
#include <brook/nexmark/json.h>
#include <brook/nexmark/source.h>

#include "common/testing/files.h"
#include "runtime/local_executor.h"
#include "runtime/testing/scripted_source.h"

namespace brook::nexmark {
namespace {

using ::testing::HasSubstr;

// Keeps what a reader emits, with the timestamps it emits them with.
class CollectingOutput final : public Output<Event> {
 public:
  void push(Event&& record, int64_t timestamp) override {
    timestamps.push_back(timestamp);
    events.push_back(std::move(record));
  }
  void emitWatermark(int64_t) override {}

  std::vector<Event> events;
  std::vector<int64_t> timestamps;
};

RuntimeContext contextOf(int subtask, int parallelism, bool restored = false) {
  RuntimeContext context;
  context.subtaskIndex = subtask;
  context.parallelism = parallelism;
  context.restored = restored;
  return context;
}

// Polls `reader` until it ends (or `maxPolls` polls), returning the statuses' last.
InputStatus drain(NexmarkSourceReader& reader, CollectingOutput& out, int maxPolls = 1'000'000) {
  SourceOutput<Event> output(&out);
  InputStatus status = InputStatus::kMoreAvailable;
  for (int i = 0; i < maxPolls && status != InputStatus::kEndOfInput; ++i)
    status = reader.pollNext(output);
  return status;
}

std::vector<Event> expectedEvents(const GeneratorConfig& config,
                                  int64_t from,
                                  int64_t to,
                                  int64_t stride = 1) {
  std::vector<Event> events;
  for (int64_t n = from; n < to; n += stride)
    events.push_back(generateEvent(config, n));
  return events;
}

// Events in a canonical order, to compare what parallel subtasks emitted as multisets.
std::vector<std::string> sortedJson(const std::vector<Event>& events) {
  std::vector<std::string> lines;
  lines.reserve(events.size());
  for (const Event& e : events) {
    lines.emplace_back();
    appendJson(e, lines.back());
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

GeneratorConfig bounded(int64_t eventsNum) {
  GeneratorConfig config;
  config.eventsNum = eventsNum;
  config.tps = 1'000;  // distinct timestamps
  return config;
}

TEST(NexmarkSourceReaderTest, SubtaskEmitsEveryPthEventInOrderWithItsTimestamp) {
  const GeneratorConfig config = bounded(5'000);
  std::vector<Event> all;
  for (int subtask = 0; subtask < 3; ++subtask) {
    NexmarkSourceReader reader(config);
    reader.open(contextOf(subtask, 3));
    CollectingOutput out;
    SourceOutput<Event> output(&out);
    // Batches of 1024 events per poll.
    EXPECT_EQ(reader.pollNext(output), InputStatus::kMoreAvailable);
    EXPECT_EQ(out.events.size(), 1024u);
    EXPECT_EQ(drain(reader, out), InputStatus::kEndOfInput);
    EXPECT_TRUE(out.events == expectedEvents(config, subtask, 5'000, 3));
    for (size_t i = 0; i < out.events.size(); ++i)
      ASSERT_EQ(out.timestamps[i], out.events[i].dateTime());
    all.insert(all.end(), out.events.begin(), out.events.end());
  }
  EXPECT_EQ(sortedJson(all), sortedJson(expectedEvents(config, 0, 5'000)));
}

TEST(NexmarkSourceReaderTest, UnboundedReaderKeepsGoing) {
  GeneratorConfig config;
  NexmarkSourceReader reader(config);
  reader.open(contextOf(1, 2));
  CollectingOutput out;
  EXPECT_EQ(drain(reader, out, 10), InputStatus::kMoreAvailable);
  ASSERT_EQ(out.events.size(), 10'240u);
  EXPECT_EQ(out.events.back(), generateEvent(config, 1 + 2 * 10'239));
}

TEST(NexmarkSourceReaderTest, TwoReadersRestoredIntoOneEmitTheRestInOrder) {
  const GeneratorConfig config = bounded(10'000);
  std::vector<std::string> states;
  std::vector<Event> before;
  for (int subtask = 0; subtask < 2; ++subtask) {
    NexmarkSourceReader reader(config);
    reader.open(contextOf(subtask, 2));
    CollectingOutput out;
    SourceOutput<Event> output(&out);
    // Different progress: subtask 0 emits 1 batch, subtask 1 emits 3.
    for (int i = 0; i < 1 + 2 * subtask; ++i)
      reader.pollNext(output);
    states.push_back(reader.snapshotState(1));
    before.insert(before.end(), out.events.begin(), out.events.end());
  }
  // Subtask 0 is at event 2048, subtask 1 at 1 + 2 * 3072 = 6145.
  NexmarkSourceReader restored(config);
  restored.restoreState(states[0]);
  restored.restoreState(states[1]);
  restored.open(contextOf(0, 1, /*restored=*/true));
  CollectingOutput out;
  EXPECT_EQ(drain(restored, out), InputStatus::kEndOfInput);
  std::vector<Event> expected;
  for (int64_t n = 2048; n < 10'000; ++n) {
    if (n % 2 == 0 || n >= 6145)
      expected.push_back(generateEvent(config, n));
  }
  ASSERT_EQ(out.events.size(), expected.size());
  EXPECT_TRUE(out.events == expected);
  // Nothing lost, nothing twice.
  before.insert(before.end(), out.events.begin(), out.events.end());
  EXPECT_EQ(sortedJson(before), sortedJson(expectedEvents(config, 0, 10'000)));
}

TEST(NexmarkSourceReaderTest, RestoredReaderWithoutStateEmitsNothing) {
  NexmarkSourceReader reader(bounded(100));
  reader.open(contextOf(2, 3, /*restored=*/true));
  CollectingOutput out;
  EXPECT_EQ(drain(reader, out), InputStatus::kEndOfInput);
  EXPECT_TRUE(out.events.empty());
}

TEST(NexmarkSourceReaderTest, FinishedReaderSnapshotsNothingLeft) {
  const GeneratorConfig config = bounded(100);
  NexmarkSourceReader reader(config);
  reader.open(contextOf(0, 1));
  CollectingOutput out;
  drain(reader, out);
  NexmarkSourceReader restored(config);
  restored.restoreState(reader.snapshotState(7));
  restored.open(contextOf(0, 1, /*restored=*/true));
  CollectingOutput after;
  EXPECT_EQ(drain(restored, after), InputStatus::kEndOfInput);
  EXPECT_TRUE(after.events.empty());
}

TEST(NexmarkSourceReaderTest, RejectsStateItDidNotWrite) {
  NexmarkSourceReader reader(bounded(100));
  EXPECT_THROW(reader.restoreState("abc"), SerializationError);
  DataOutput wrongVersion;
  wrongVersion.writeRaw<int32_t>(99);
  wrongVersion.writeRaw<int32_t>(0);
  EXPECT_THROW(reader.restoreState(wrongVersion.view()), SerializationError);
  DataOutput truncated;
  truncated.writeRaw<int32_t>(1);
  truncated.writeRaw<int32_t>(2);
  truncated.writeRaw<int64_t>(0);
  truncated.writeRaw<int64_t>(1);
  EXPECT_THROW(reader.restoreState(truncated.view()), SerializationError);
  DataOutput zeroStride;
  zeroStride.writeRaw<int32_t>(1);
  zeroStride.writeRaw<int32_t>(1);
  zeroStride.writeRaw<int64_t>(0);
  zeroStride.writeRaw<int64_t>(0);
  EXPECT_THROW(reader.restoreState(zeroStride.view()), SerializationError);
}

TEST(NexmarkSourceReaderTest, RateLimitedReaderEmitsItsShareOfTpsPerSecond) {
  GeneratorConfig config = bounded(150);
  config.tps = 1'000;  // 500 per second for each of 2 subtasks
  config.rateLimited = true;
  NexmarkSourceReader reader(config);
  const auto start = std::chrono::steady_clock::now();
  reader.open(contextOf(0, 2));
  CollectingOutput out;
  SourceOutput<Event> output(&out);
  reader.pollNext(output);
  EXPECT_LT(out.events.size(), 10u);  // not a whole batch at once
  InputStatus status = InputStatus::kMoreAvailable;
  while (status != InputStatus::kEndOfInput) {
    status = reader.pollNext(output);
    // Pace the polls as a task would (it waits for mail or 5 ms).
    if (status == InputStatus::kNothingAvailable)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(out.events.size(), 75u);
  // 75 events at 500 per second: the first at once, the last after 74 / 500 s.
  EXPECT_GE(elapsed, std::chrono::milliseconds(140));
}

TEST(NexmarkSourceReaderTest, RateLimitedReaderWithMergedProgressionsTakesTheirShares) {
  GeneratorConfig config = bounded(10'000);
  config.rateLimited = true;
  config.tps = 1'000;
  std::vector<std::string> states;
  for (int subtask = 0; subtask < 2; ++subtask) {
    NexmarkSourceReader reader(config);
    reader.open(contextOf(subtask, 2));
    states.push_back(reader.snapshotState(1));
  }
  NexmarkSourceReader merged(config);
  merged.restoreState(states[0]);
  merged.restoreState(states[1]);
  merged.open(contextOf(0, 1, /*restored=*/true));
  // Two halves of the events: all of tps, about 100 events in 100 ms (50 at a half share).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CollectingOutput out;
  SourceOutput<Event> output(&out);
  EXPECT_EQ(merged.pollNext(output), InputStatus::kMoreAvailable);
  EXPECT_GT(out.events.size(), 80u);
  EXPECT_TRUE(out.events == expectedEvents(config, 0, static_cast<int64_t>(out.events.size())));
}

Configuration jobConfig(const testing::TempDir& tmp, int parallelism) {
  return testing::jobConfiguration(tmp, "heap", parallelism);
}

WatermarkStrategy<Event> watermarks() {
  return WatermarkStrategy<Event>::forBoundedOutOfOrderness(std::chrono::seconds(4))
      .withTimestampAssigner([](const Event& event, int64_t) { return event.dateTime(); });
}

class NexmarkSourceJobTest : public ::testing::TestWithParam<int> {};

TEST_P(NexmarkSourceJobTest, EmitsExactlyTheGeneratedEvents) {
  testing::TempDir tmp;
  GeneratorConfig config;
  config.eventsNum = 10'000;
  StreamExecutionEnvironment env;
  CollectSink<Event> sink;
  nexmarkSource(env, config, watermarks()).sinkTo(sink.sink());
  absl::StatusOr<runtime::JobExecutionResult> result =
      runtime::executeLocally(env, jobConfig(tmp, GetParam()));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, runtime::JobStatus::kFinished) << result->failure;
  EXPECT_EQ(sortedJson(sink.values()), sortedJson(expectedEvents(config, 0, 10'000)));
}

TEST_P(NexmarkSourceJobTest, JsonSourceReadsWhatTheGeneratorWrote) {
  testing::TempDir tmp;
  const GeneratorConfig config = bounded(3'000);
  std::string lines;
  for (const Event& e : expectedEvents(config, 0, 3'000)) {
    appendJson(e, lines);
    lines += '\n';
  }
  const std::filesystem::path file = tmp.path() / "events.jsonl";
  testing::writeFile(file, lines);
  StreamExecutionEnvironment env;
  CollectSink<Event> sink;
  nexmarkJsonSource(env, file.string(), watermarks()).sinkTo(sink.sink());
  absl::StatusOr<runtime::JobExecutionResult> result =
      runtime::executeLocally(env, jobConfig(tmp, GetParam()));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, runtime::JobStatus::kFinished) << result->failure;
  EXPECT_EQ(sortedJson(sink.values()), sortedJson(expectedEvents(config, 0, 3'000)));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, NexmarkSourceJobTest, ::testing::Values(1, 3));

TEST(NexmarkJsonSourceTest, BadLineFailsTheJobWithTheLineError) {
  testing::TempDir tmp;
  std::string lines;
  appendJson(generateEvent(GeneratorConfig{}, 0), lines);
  lines += "\n{\"type\":\"bid\",\"colour\":1}\n";
  const std::filesystem::path file = tmp.path() / "events.jsonl";
  testing::writeFile(file, lines);
  StreamExecutionEnvironment env;
  CollectSink<Event> sink;
  nexmarkJsonSource(env, file.string(), watermarks()).sinkTo(sink.sink());
  absl::StatusOr<runtime::JobExecutionResult> result =
      runtime::executeLocally(env, jobConfig(tmp, 1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, runtime::JobStatus::kFailed);
  EXPECT_THAT(result->failure, HasSubstr("unknown field 'colour' at column 15"));
}

// A job whose first run fails after some checkpoints, resumed from its latest checkpoint at
// parallelism 3 and 1: the sources' positions (two readers' progressions, dealt out or merged)
// and the keyed state give exactly the counts of a run without failure.
struct RecoveryProbe {
  std::atomic<int> completedCheckpoints{0};
  std::atomic<int> restoredPositions{0};
  std::atomic<bool> failed{false};
};
RecoveryProbe* recoveryProbe = nullptr;

// The Nexmark reader, counting checkpoints and restored positions for the test.
class ProbedNexmarkReader final : public SourceReader<Event> {
 public:
  explicit ProbedNexmarkReader(const GeneratorConfig& config) : inner_(config) {}
  void open(const RuntimeContext& context) override { inner_.open(context); }
  InputStatus pollNext(SourceOutput<Event>& output) override { return inner_.pollNext(output); }
  std::string snapshotState(int64_t checkpointId) override {
    return inner_.snapshotState(checkpointId);
  }
  void restoreState(std::string_view state) override {
    ++recoveryProbe->restoredPositions;
    inner_.restoreState(state);
  }
  void notifyCheckpointComplete(int64_t) override { ++recoveryProbe->completedCheckpoints; }

 private:
  NexmarkSourceReader inner_;
};

uint64_t fingerprint(const Event& event) {
  std::string json;
  appendJson(event, json);
  uint64_t hash = 14695981039346656037ULL;  // FNV-1a
  for (unsigned char c : json)
    hash = (hash ^ c) * 1099511628211ULL;
  return hash;
}

constexpr int64_t kEndTimer = int64_t{1} << 60;

// Per event type: the count and the sum of the events' fingerprints, emitted at the end of the
// input. Fails the job once, after two completed checkpoints, while the probe has not failed.
class CountPerType final : public KeyedProcessFunction<int64_t, Event, std::string> {
 public:
  void open(const RuntimeContext& ctx) override {
    count_ = &ctx.getState(ValueStateDescriptor<int64_t>("count"));
    sum_ = &ctx.getState(ValueStateDescriptor<int64_t>("sum"));
  }
  void processElement(const Event& event, Context& ctx, Collector<std::string>&) override {
    if (recoveryProbe->completedCheckpoints.load() >= 2 && !recoveryProbe->failed.exchange(true))
      throw std::runtime_error("injected failure");
    std::optional<int64_t> count = count_->value();
    if (!count)
      ctx.timerService().registerEventTimeTimer(kEndTimer);
    count_->update(count.value_or(0) + 1);
    sum_->update(static_cast<int64_t>(static_cast<uint64_t>(sum_->value().value_or(0)) +
                                      fingerprint(event)));
  }
  void onTimer(int64_t, OnTimerContext& ctx, Collector<std::string>& out) override {
    out.collect(std::to_string(ctx.getCurrentKey()) + "," + std::to_string(*count_->value()) + "," +
                std::to_string(*sum_->value()));
  }

 private:
  ValueState<int64_t>* count_ = nullptr;
  ValueState<int64_t>* sum_ = nullptr;
};

TEST(NexmarkSourceRecoveryTest, ResumesFromACheckpointAtAnotherParallelism) {
  RecoveryProbe probe;
  recoveryProbe = &probe;
  testing::TempDir tmp;
  GeneratorConfig config = bounded(20'000);
  config.tps = 40'000;  // half a second, so that checkpoints fall inside the stream
  config.rateLimited = true;

  std::map<int64_t, std::pair<int64_t, uint64_t>> totals;
  for (const Event& e : expectedEvents(config, 0, config.eventsNum)) {
    auto& [count, sum] = totals[static_cast<int64_t>(e.type())];
    ++count;
    sum += fingerprint(e);
  }
  std::vector<std::string> expected;
  for (const auto& [type, t] : totals)
    expected.push_back(std::to_string(type) + "," + std::to_string(t.first) + "," +
                       std::to_string(static_cast<int64_t>(t.second)));

  struct Job {
    StreamExecutionEnvironment env;
    CollectSink<std::string> sink;
    explicit Job(const GeneratorConfig& config) {
      env.fromSource<Event>(
             [config]() -> std::unique_ptr<SourceReader<Event>> {
               return std::make_unique<ProbedNexmarkReader>(config);
             },
             watermarks(), "Nexmark Source", /*bounded=*/true)
          .uid("nexmark-source")
          .keyBy([](const Event& e) { return static_cast<int64_t>(e.type()); })
          .process(CountPerType{})
          .uid("count")
          .sinkTo(sink.sink());
    }
  };

  std::string checkpoint;
  {
    Job job(config);
    Configuration c = jobConfig(tmp, 2);
    c.set("execution.checkpointing.interval", "10ms");
    c.set("state.checkpoints.dir", "file://" + (tmp.path() / "checkpoints").string());
    c.set("restart-strategy.type", "none");
    absl::StatusOr<runtime::JobExecutionResult> result = runtime::executeLocally(job.env, c);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->status, runtime::JobStatus::kFailed);
    EXPECT_THAT(result->failure, HasSubstr("injected failure"));
    ASSERT_FALSE(result->latestCheckpoint.empty());
    checkpoint = result->latestCheckpoint;
  }
  for (int parallelism : {3, 1}) {
    SCOPED_TRACE("parallelism " + std::to_string(parallelism));
    probe.restoredPositions = 0;
    Job job(config);
    Configuration c = jobConfig(tmp, parallelism);
    c.set("execution.savepoint.path", checkpoint);
    absl::StatusOr<runtime::JobExecutionResult> result = runtime::executeLocally(job.env, c);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->status, runtime::JobStatus::kFinished) << result->failure;
    EXPECT_EQ(probe.restoredPositions.load(), 2);  // the positions of the first run's readers
    std::vector<std::string> lines = job.sink.values();
    std::sort(lines.begin(), lines.end());
    EXPECT_EQ(lines, expected);
  }
  recoveryProbe = nullptr;
}

}  // namespace
}  // namespace brook::nexmark
