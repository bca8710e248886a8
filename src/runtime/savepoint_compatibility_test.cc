// Savepoint compatibility: a checkpoint that this version of Brook wrote is committed as a test
// fixture (tests/fixtures/savepoints/keyed-window-heap-p2, see the README.md there) and every
// later version must keep restoring it. The fixture's job reads 2,000 events with event-time
// timestamps and keeps keyed ValueState, ListState and MapState, an event-time timer per key,
// the source positions (operator list state) and the contents of tumbling event-time windows;
// it was cut after exactly 550 events per source subtask. The tests restore it at parallelism
// 2, 3 and 1, on the heap and the RocksDB backend, and compare the output with values computed
// by a plain loop over the same events. DISABLED_RegenerateFixture writes the fixture again.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "checkpoint/checkpoint_storage.h"
#include "common/testing/files.h"
#include "runtime/local_executor.h"
#include "runtime/testing/scripted_source.h"

namespace brook::runtime {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// The events are the numbers [0, kEvents), each with itself as its timestamp (milliseconds).
constexpr int64_t kEvents = 2'000;
// The fixture's job ran at this parallelism; each source subtask owns a contiguous half.
constexpr int kFixtureParallelism = 2;
// Each source subtask of the fixture's job emitted this many events before the cut.
constexpr int64_t kCutPerSubtask = 550;
// The summaries are keyed by x % kSummaryKeys, the windows by x % kWindowKeys.
constexpr int64_t kSummaryKeys = 5;
constexpr int64_t kWindowKeys = 3;
constexpr int64_t kWindowMillis = 100;
// Summaries keep every event divisible by kSampleEvery in a ListState, and count events per
// bucket of kBucketWidth in a MapState.
constexpr int64_t kSampleEvery = 37;
constexpr int64_t kBucketWidth = 250;
constexpr int64_t kEndTimer = int64_t{1} << 60;

constexpr char kFixtureName[] = "keyed-window-heap-p2";

fs::path fixtureDirectory() {
  return fs::path(BROOK_SOURCE_DIR) / "tests" / "fixtures" / "savepoints" / kFixtureName;
}

// Where the cut of the fixture's job stands: which checkpoints every source subtask took after
// its last event, and the first such checkpoint that completed. Shared by the readers of one
// job, which run in this process.
struct CutControl {
  std::mutex mutex;
  std::map<int64_t, int> subtasksAtCut;  // checkpoint id -> subtasks that snapshotted at the cut
  int64_t coveringCheckpoint = -1;
};

// Emits its share of the events in order, each followed by a watermark of its timestamp, so
// that what every downstream operator holds depends only on how far the readers got. The
// position (the ranges left, [next, end)) is restored at any parallelism; ranges are emitted in
// ascending order so that no event is behind the watermark. With a CutControl, a reader stops
// after kCutPerSubtask events, waits for a checkpoint that every reader took at its cut to
// complete, and then fails, so that the job's latest checkpoint holds exactly the state after
// those events.
class EventReader final : public SourceReader<int64_t> {
 public:
  explicit EventReader(CutControl* control) : control_(control) {}

  void restoreState(std::string_view state) override {
    DataInput in(state);
    while (in.remaining() != 0) {
      const auto next = in.readRaw<int64_t>();
      const auto end = in.readRaw<int64_t>();
      if (next < 0 || next > end || end > kEvents)
        throw std::runtime_error("restored an impossible position");
      ranges_.push_back({next, end});
    }
  }
  void open(const RuntimeContext& context) override {
    if (!context.restored) {
      const int64_t i = context.subtaskIndex;
      const int64_t p = context.parallelism;
      ranges_.push_back({kEvents * i / p, kEvents * (i + 1) / p});
    }
    std::sort(ranges_.begin(), ranges_.end());
  }
  InputStatus pollNext(SourceOutput<int64_t>& out) override {
    if (control_ != nullptr && emitted_ == kCutPerSubtask) {
      if (fail_)
        throw std::runtime_error("the fixture's job stops at its cut");
      return InputStatus::kNothingAvailable;
    }
    while (current_ < ranges_.size() && ranges_[current_].first == ranges_[current_].second)
      ++current_;
    if (current_ == ranges_.size())
      return InputStatus::kEndOfInput;
    auto& [next, end] = ranges_[current_];
    for (int i = 0; i < 16 && next < end; ++i) {
      if (control_ != nullptr && emitted_ == kCutPerSubtask)
        break;
      out.collect(int64_t{next}, next);
      out.emitWatermark(next);
      ++next;
      ++emitted_;
    }
    return InputStatus::kMoreAvailable;
  }
  std::string snapshotState(int64_t checkpointId) override {
    if (control_ != nullptr && emitted_ == kCutPerSubtask) {
      std::lock_guard lock(control_->mutex);
      ++control_->subtasksAtCut[checkpointId];
    }
    DataOutput out;
    for (size_t i = current_; i < ranges_.size(); ++i) {
      if (ranges_[i].first == ranges_[i].second)
        continue;
      out.writeRaw<int64_t>(ranges_[i].first);
      out.writeRaw<int64_t>(ranges_[i].second);
    }
    return std::string(out.view());
  }
  void notifyCheckpointComplete(int64_t checkpointId) override {
    if (control_ == nullptr)
      return;
    std::lock_guard lock(control_->mutex);
    if (control_->subtasksAtCut[checkpointId] == kFixtureParallelism) {
      if (control_->coveringCheckpoint < 0)
        control_->coveringCheckpoint = checkpointId;
      fail_ = true;
    }
  }

 private:
  CutControl* control_;
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  size_t current_ = 0;
  int64_t emitted_ = 0;
  bool fail_ = false;
};

std::string joined(const std::vector<int64_t>& values) {
  std::string s;
  for (int64_t v : values)
    s += (s.empty() ? "" : ";") + std::to_string(v);
  return s;
}

std::string summaryLine(int64_t key, int64_t count, int64_t sum, std::vector<int64_t> samples,
                        const std::map<int64_t, int64_t>& buckets) {
  std::sort(samples.begin(), samples.end());
  std::string bucketText;
  for (const auto& [bucket, n] : buckets)
    bucketText += (bucketText.empty() ? "" : ";") + std::to_string(bucket) + ":" + std::to_string(n);
  return "key " + std::to_string(key) + " count " + std::to_string(count) + " sum " +
         std::to_string(sum) + " samples " + joined(samples) + " buckets " + bucketText;
}

// Per key: the count and sum of its events (ValueState), its samples (ListState) and its
// events per bucket (MapState), emitted once by an event-time timer at the end of the input.
// Every piece is independent of the order in which the two sources' events interleave.
class Summarize final : public KeyedProcessFunction<int64_t, int64_t, std::string> {
 public:
  void open(const RuntimeContext& ctx) override {
    count_ = &ctx.getState(ValueStateDescriptor<int64_t>("count"));
    sum_ = &ctx.getState(ValueStateDescriptor<int64_t>("sum"));
    samples_ = &ctx.getListState(ListStateDescriptor<int64_t>("samples"));
    buckets_ = &ctx.getMapState(MapStateDescriptor<int64_t, int64_t>("buckets"));
  }
  void processElement(const int64_t& x, Context& ctx, Collector<std::string>&) override {
    std::optional<int64_t> count = count_->value();
    if (!count)
      ctx.timerService().registerEventTimeTimer(kEndTimer);
    count_->update(count.value_or(0) + 1);
    sum_->update(sum_->value().value_or(0) + x);
    if (x % kSampleEvery == 0)
      samples_->add(x);
    buckets_->put(x / kBucketWidth, buckets_->get(x / kBucketWidth).value_or(0) + 1);
  }
  void onTimer(int64_t, OnTimerContext& ctx, Collector<std::string>& out) override {
    std::map<int64_t, int64_t> buckets;
    for (const auto& [bucket, n] : buckets_->entries())
      buckets[bucket] = n;
    out.collect(summaryLine(ctx.getCurrentKey(), count_->value().value_or(0),
                            sum_->value().value_or(0), samples_->get(), buckets));
  }

 private:
  ValueState<int64_t>* count_ = nullptr;
  ValueState<int64_t>* sum_ = nullptr;
  ListState<int64_t>* samples_ = nullptr;
  MapState<int64_t, int64_t>* buckets_ = nullptr;
};

std::string windowLine(int64_t key, int64_t start, int64_t count, int64_t sum) {
  return "window " + std::to_string(key) + " [" + std::to_string(start) + "," +
         std::to_string(start + kWindowMillis) + ") count " + std::to_string(count) + " sum " +
         std::to_string(sum);
}

// The count and sum of a window's events (which the window operator keeps as a list).
class DescribeWindow final
    : public ProcessWindowFunction<int64_t, std::string, int64_t, TimeWindow> {
 public:
  void process(const int64_t& key, Context& ctx, const std::vector<int64_t>& elements,
               Collector<std::string>& out) override {
    int64_t sum = 0;
    for (int64_t x : elements)
      sum += x;
    out.collect(windowLine(key, ctx.window().start, static_cast<int64_t>(elements.size()), sum));
  }
};

// The fixture's job. Its uids are part of the fixture's format: keep them.
struct FixtureJob {
  StreamExecutionEnvironment env;
  CollectSink<std::string> summaries;
  CollectSink<std::string> windows;

  explicit FixtureJob(CutControl* control) {
    DataStream<int64_t> events =
        env.fromSource<int64_t>(
               [control] { return std::make_unique<EventReader>(control); }, "Events",
               /*bounded=*/true, /*parallel=*/true)
            .uid("events");
    events.keyBy([](const int64_t& x) { return x % kSummaryKeys; })
        .process(Summarize{})
        .uid("summaries")
        .sinkTo(summaries.sink())
        .uid("summary-sink");
    events.keyBy([](const int64_t& x) { return x % kWindowKeys; })
        .window(TumblingEventTimeWindows::of(std::chrono::milliseconds(kWindowMillis)))
        .process(DescribeWindow{})
        .uid("windows")
        .sinkTo(windows.sink())
        .uid("window-sink");
  }
};

std::vector<std::string> sorted(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  return lines;
}

// What a plain loop over all events gives: one summary per key.
std::vector<std::string> expectedSummaries() {
  struct Summary {
    int64_t count = 0;
    int64_t sum = 0;
    std::vector<int64_t> samples;
    std::map<int64_t, int64_t> buckets;
  };
  std::map<int64_t, Summary> summaries;
  for (int64_t x = 0; x < kEvents; ++x) {
    Summary& s = summaries[x % kSummaryKeys];
    ++s.count;
    s.sum += x;
    if (x % kSampleEvery == 0)
      s.samples.push_back(x);
    ++s.buckets[x / kBucketWidth];
  }
  std::vector<std::string> lines;
  for (const auto& [key, s] : summaries)
    lines.push_back(summaryLine(key, s.count, s.sum, s.samples, s.buckets));
  return sorted(lines);
}

// What a plain loop gives for the windows that end at or before `lastEnd` (fired = true) or
// after it (fired = false). At the cut the windows' watermark was kCutPerSubtask - 1 (the
// first source subtask's last timestamp), so the fixture's job had fired exactly the windows
// ending at or before kCutPerSubtask.
std::vector<std::string> expectedWindows(bool fired) {
  std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>> windows;
  for (int64_t x = 0; x < kEvents; ++x) {
    auto& [count, sum] = windows[{x % kWindowKeys, x / kWindowMillis * kWindowMillis}];
    ++count;
    sum += x;
  }
  std::vector<std::string> lines;
  for (const auto& [window, totals] : windows) {
    const auto& [key, start] = window;
    if ((start + kWindowMillis <= kCutPerSubtask) == fired)
      lines.push_back(windowLine(key, start, totals.first, totals.second));
  }
  return sorted(lines);
}

// Every regular file under `directory`, by relative path, with its content.
std::map<std::string, std::string> contents(const fs::path& directory) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(directory)) {
    if (e.is_regular_file())
      files[fs::relative(e.path(), directory).string()] = testing::readFile(e.path());
  }
  return files;
}

TEST(SavepointCompatibilityTest, TheFixtureHoldsEveryOperatorOfItsJob) {
  absl::StatusOr<checkpoint::CheckpointMetadata> metadata =
      checkpoint::readMetadata(fixtureDirectory());
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_TRUE(checkpoint::verifyStateFiles(*metadata, fixtureDirectory()).ok());
  std::map<std::string, int> parallelism;
  for (const checkpoint::OperatorStateMetadata& op : metadata->operators)
    parallelism[op.operatorUid] = op.parallelism;
  for (const char* uid : {"events", "summaries", "windows"}) {
    ASSERT_TRUE(parallelism.contains(uid)) << uid;
    EXPECT_EQ(parallelism[uid], kFixtureParallelism) << uid;
  }
  // Small enough to live in the repository.
  int64_t bytes = 0;
  for (const auto& [name, content] : contents(fixtureDirectory()))
    bytes += static_cast<int64_t>(content.size());
  EXPECT_LT(bytes, 100 << 10);
}

class SavepointCompatibilityTest
    : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(SavepointCompatibilityTest, RestoresTheCommittedFixtureWithExactlyTheExpectedOutput) {
  const auto& [backend, parallelism] = GetParam();
  testing::TempDir tmp;
  // A copy, so that the fixture cannot change even if a restore wrote into its folder.
  const fs::path savepoint = tmp.path() / kFixtureName;
  fs::copy(fixtureDirectory(), savepoint, fs::copy_options::recursive);
  const std::map<std::string, std::string> before = contents(savepoint);
  ASSERT_FALSE(before.empty()) << fixtureDirectory();

  FixtureJob job(/*control=*/nullptr);
  Configuration c = testing::jobConfiguration(tmp, backend, parallelism);
  c.set("execution.savepoint.path", savepoint.string());
  absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;

  // Every key's summary covers all events: those before the cut came from the restored
  // ValueState, ListState and MapState, and the restored timer emitted it.
  EXPECT_EQ(sorted(job.summaries.values()), expectedSummaries());
  // Exactly the windows the fixture's job had not fired, each with all its events.
  EXPECT_EQ(sorted(job.windows.values()), expectedWindows(/*fired=*/false));
  EXPECT_EQ(contents(savepoint), before);
}

INSTANTIATE_TEST_SUITE_P(
    BackendsAndParallelism, SavepointCompatibilityTest,
    ::testing::Combine(::testing::Values("heap", "rocksdb"), ::testing::Values(2, 3, 1)),
    [](const auto& info) {
      return std::get<0>(info.param) + "_p" + std::to_string(std::get<1>(info.param));
    });

// Writes the fixture again (run it on purpose, with --gtest_also_run_disabled_tests and a
// filter, then commit the folder): the fixture's job runs until its cut, and its latest
// checkpoint replaces tests/fixtures/savepoints/keyed-window-heap-p2.
TEST(SavepointFixtureGenerator, DISABLED_RegenerateFixture) {
  CutControl control;
  testing::TempDir tmp;
  FixtureJob job(&control);
  Configuration c = testing::jobConfiguration(tmp, "heap", kFixtureParallelism);
  c.set("execution.checkpointing.interval", "10ms");
  c.set("state.checkpoints.dir", "file://" + (tmp.path() / "checkpoints").string());
  c.set("restart-strategy.type", "none");
  absl::StatusOr<JobExecutionResult> result = executeLocally(job.env, c);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFailed);
  ASSERT_THAT(result->failure, HasSubstr("stops at its cut"));
  ASSERT_FALSE(result->latestCheckpoint.empty());
  // Before the cut, nothing reached the end timers and exactly the early windows fired.
  EXPECT_TRUE(job.summaries.values().empty());
  ASSERT_EQ(sorted(job.windows.values()), expectedWindows(/*fired=*/true));

  absl::StatusOr<checkpoint::CheckpointMetadata> metadata =
      checkpoint::readMetadata(result->latestCheckpoint);
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  ASSERT_GE(metadata->checkpointId, control.coveringCheckpoint);
  const fs::path target = fixtureDirectory();
  fs::remove_all(target);
  fs::create_directories(target.parent_path());
  fs::copy(result->latestCheckpoint, target, fs::copy_options::recursive);
  std::cout << "wrote checkpoint " << metadata->checkpointId << " to " << target << "\n";
}

}  // namespace
}  // namespace brook::runtime
