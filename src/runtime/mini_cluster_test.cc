#include "runtime/mini_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "runtime/job_graph.h"
#include "runtime/local_executor.h"

namespace brook::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

Configuration config(int parallelism, const char* mode = "STREAMING") {
  Configuration c;
  c.set("parallelism.default", std::to_string(parallelism));
  c.set("execution.runtime-mode", mode);
  return c;
}

JobExecutionResult run(const StreamExecutionEnvironment& env, const Configuration& c) {
  auto result = executeLocally(env, c);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : JobExecutionResult{};
}

template <typename T>
std::vector<T> sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class ParallelismTest : public ::testing::TestWithParam<int> {};

TEST_P(ParallelismTest, MapFilterFlatMapOverASequence) {
  StreamExecutionEnvironment env;
  CollectSink<int64_t> sink;
  env.fromSequence(1, 10000)
      .filter([](int64_t x) { return x % 3 == 0; })
      .map([](int64_t x) { return x * 2; })
      .rebalance()
      .flatMap<int64_t>([](int64_t x, Collector<int64_t>& out) {
        out.collect(x);
        out.collect(-x);
      })
      .sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(GetParam())).status, JobStatus::kFinished);
  std::vector<int64_t> expected;
  for (int64_t x = 1; x <= 10000; ++x) {
    if (x % 3 == 0) {
      expected.push_back(2 * x);
      expected.push_back(-2 * x);
    }
  }
  EXPECT_EQ(sorted(sink.values()), sorted(expected));
}

TEST_P(ParallelismTest, KeyedSumEmitsEveryUpdateInStreamingMode) {
  StreamExecutionEnvironment env;
  CollectSink<std::pair<int, int64_t>> sink;
  std::vector<std::pair<int, int64_t>> input;
  for (int i = 0; i < 300; ++i)
    input.emplace_back(i % 3, i);
  env.fromCollection(input)
      .keyBy([](const std::pair<int, int64_t>& p) { return p.first; })
      .sum([](std::pair<int, int64_t>& p) -> int64_t& { return p.second; })
      .sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(GetParam(), "STREAMING")).status, JobStatus::kFinished);
  auto values = sink.values();
  ASSERT_EQ(values.size(), 300u);
  // The updates of a key arrive in order: its running sums.
  std::map<int, std::vector<int64_t>> perKey;
  for (auto& [k, v] : values)
    perKey[k].push_back(v);
  for (int k = 0; k < 3; ++k) {
    int64_t running = 0;
    std::vector<int64_t> expected;
    for (int i = k; i < 300; i += 3)
      expected.push_back(running += i);
    EXPECT_EQ(perKey[k], expected) << "key " << k;
  }
}

TEST_P(ParallelismTest, KeyedSumEmitsFinalValuesOnceInBatchMode) {
  StreamExecutionEnvironment env;
  CollectSink<std::pair<int, int64_t>> sink;
  std::vector<std::pair<int, int64_t>> input;
  for (int i = 0; i < 300; ++i)
    input.emplace_back(i % 3, i);
  env.fromCollection(input)
      .keyBy([](const std::pair<int, int64_t>& p) { return p.first; })
      .sum([](std::pair<int, int64_t>& p) -> int64_t& { return p.second; })
      .sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(GetParam(), "BATCH")).status, JobStatus::kFinished);
  // sum over i = k (mod 3), i < 300: 100 terms k, k+3, ...
  EXPECT_THAT(sink.values(), UnorderedElementsAre(std::pair<int, int64_t>(0, 14850),
                                                  std::pair<int, int64_t>(1, 14950),
                                                  std::pair<int, int64_t>(2, 15050)));
}

TEST_P(ParallelismTest, ReduceMinMaxMinByMaxBy) {
  using Rec = std::tuple<std::string, int, int>;  // key, a, b
  std::vector<Rec> input = {{"x", 5, 1}, {"y", 2, 9}, {"x", 3, 2}, {"x", 7, 3}, {"y", 1, 8}};
  auto key = [](const Rec& r) {
    return std::get<0>(r);
  };
  auto fieldA = [](Rec& r) -> int& {
    return std::get<1>(r);
  };
  StreamExecutionEnvironment env;
  auto keyed = env.fromCollection(input).keyBy(key);
  CollectSink<Rec> minSink, maxSink, minBySink, maxBySink, reduceSink;
  keyed.min(fieldA).sinkTo(minSink.sink());
  keyed.max(fieldA).sinkTo(maxSink.sink());
  keyed.minBy(fieldA).sinkTo(minBySink.sink());
  keyed.maxBy(fieldA).sinkTo(maxBySink.sink());
  keyed
      .reduce([](Rec a, Rec b) {
        return Rec{std::get<0>(a), std::get<1>(a) + std::get<1>(b),
                   std::get<2>(a) * std::get<2>(b)};
      })
      .sinkTo(reduceSink.sink());
  ASSERT_EQ(run(env, config(GetParam(), "BATCH")).status, JobStatus::kFinished);
  // min/max change only the field; minBy/maxBy keep the whole record.
  EXPECT_THAT(minSink.values(), UnorderedElementsAre(Rec{"x", 3, 1}, Rec{"y", 1, 9}));
  EXPECT_THAT(maxSink.values(), UnorderedElementsAre(Rec{"x", 7, 1}, Rec{"y", 2, 9}));
  EXPECT_THAT(minBySink.values(), UnorderedElementsAre(Rec{"x", 3, 2}, Rec{"y", 1, 8}));
  EXPECT_THAT(maxBySink.values(), UnorderedElementsAre(Rec{"x", 7, 3}, Rec{"y", 2, 9}));
  EXPECT_THAT(reduceSink.values(), UnorderedElementsAre(Rec{"x", 15, 6}, Rec{"y", 3, 72}));
}

TEST_P(ParallelismTest, UnionMergesStreams) {
  StreamExecutionEnvironment env;
  CollectSink<int64_t> sink;
  auto a = env.fromSequence(1, 100);
  auto b = env.fromSequence(1001, 1100);
  auto c = env.fromElements(int64_t{-1}, int64_t{-2});
  a.union_(b, c).map([](int64_t x) { return x; }).sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(GetParam())).status, JobStatus::kFinished);
  std::vector<int64_t> expected = {-2, -1};
  for (int64_t x = 1; x <= 100; ++x)
    expected.push_back(x);
  for (int64_t x = 1001; x <= 1100; ++x)
    expected.push_back(x);
  EXPECT_EQ(sorted(sink.values()), expected);
}

INSTANTIATE_TEST_SUITE_P(Parallelism, ParallelismTest, ::testing::Values(1, 2, 4));

// Tags each record with the subtask that saw it.
class SubtaskTagger : public RichMapFunction<int64_t, std::pair<int, int64_t>> {
 public:
  std::pair<int, int64_t> map(int64_t x) override { return {getRuntimeContext().subtaskIndex, x}; }
};

std::map<int, std::vector<int64_t>> bySubtask(const std::vector<std::pair<int, int64_t>>& v) {
  std::map<int, std::vector<int64_t>> out;
  for (auto& [s, x] : v)
    out[s].push_back(x);
  return out;
}

TEST(PartitioningTest, GlobalSendsEverythingToTheFirstSubtask) {
  StreamExecutionEnvironment env;
  CollectSink<std::pair<int, int64_t>> sink;
  env.fromSequence(1, 1000).global().map(SubtaskTagger()).setParallelism(3).sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(2)).status, JobStatus::kFinished);
  auto groups = bySubtask(sink.values());
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups.begin()->first, 0);
  EXPECT_EQ(groups[0].size(), 1000u);
}

TEST(PartitioningTest, BroadcastSendsEveryRecordToEverySubtask) {
  StreamExecutionEnvironment env;
  CollectSink<std::pair<int, int64_t>> sink;
  env.fromSequence(1, 100).broadcast().map(SubtaskTagger()).setParallelism(3).sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(2)).status, JobStatus::kFinished);
  auto groups = bySubtask(sink.values());
  ASSERT_EQ(groups.size(), 3u);
  for (auto& [s, values] : groups)
    EXPECT_EQ(values.size(), 100u) << "subtask " << s;
}

TEST(PartitioningTest, RebalanceSpreadsEvenly) {
  StreamExecutionEnvironment env;
  CollectSink<std::pair<int, int64_t>> sink;
  env.fromSequence(1, 900)
      .setParallelism(1)
      .rebalance()
      .map(SubtaskTagger())
      .setParallelism(3)
      .sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(1)).status, JobStatus::kFinished);
  auto groups = bySubtask(sink.values());
  ASSERT_EQ(groups.size(), 3u);
  for (auto& [s, values] : groups)
    EXPECT_EQ(values.size(), 300u) << "subtask " << s;
}

TEST(PartitioningTest, RescaleFeedsLocalGroups) {
  StreamExecutionEnvironment env;
  CollectSink<std::pair<int, int64_t>> sink;
  // Two producers, four consumers: producer 0 feeds subtasks 0-1, producer 1 feeds 2-3.
  env.fromSequence(1, 400)
      .setParallelism(2)
      .rescale()
      .map(SubtaskTagger())
      .setParallelism(4)
      .sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(1)).status, JobStatus::kFinished);
  auto groups = bySubtask(sink.values());
  ASSERT_EQ(groups.size(), 4u);
  for (int s = 0; s < 4; ++s) {
    for (int64_t x : groups[s]) {
      // The sequence source gives producer 0 the numbers 1..200.
      EXPECT_EQ(x <= 200, s < 2) << "value " << x << " at subtask " << s;
    }
  }
}

TEST(PartitioningTest, ShuffleLosesNothing) {
  StreamExecutionEnvironment env;
  CollectSink<std::pair<int, int64_t>> sink;
  env.fromSequence(1, 3000).shuffle().map(SubtaskTagger()).setParallelism(3).sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(2)).status, JobStatus::kFinished);
  auto values = sink.values();
  ASSERT_EQ(values.size(), 3000u);
  auto groups = bySubtask(values);
  EXPECT_EQ(groups.size(), 3u);
}

TEST(PartitioningTest, CustomPartitionerPicksTheChannel) {
  StreamExecutionEnvironment env;
  CollectSink<std::pair<int, int64_t>> sink;
  env.fromSequence(0, 299)
      .partitionCustom([](int64_t key, int n) { return static_cast<int>(key % n); },
                       [](int64_t x) { return x; })
      .map(SubtaskTagger())
      .setParallelism(3)
      .sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(2)).status, JobStatus::kFinished);
  auto values = sink.values();
  ASSERT_EQ(values.size(), 300u);
  for (auto& [s, x] : values)
    EXPECT_EQ(s, x % 3);
}

TEST(PartitioningTest, KeyByRoutesEqualKeysToOneSubtask) {
  StreamExecutionEnvironment env;
  CollectSink<std::pair<int, int64_t>> sink;
  env.fromSequence(0, 999)
      .keyBy([](int64_t x) { return x % 17; })
      .reduce([](int64_t a, int64_t b) { return a + b; })
      .map(SubtaskTagger())
      .sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(3)).status, JobStatus::kFinished);
  std::map<int64_t, std::set<int>> subtasksOfKey;
  for (auto& [s, x] : sink.values())
    subtasksOfKey[x % 17].insert(s);
  (void)subtasksOfKey;
  // Keyed reduce output is chained with the tagger, so each key's updates come from one subtask.
  std::map<int, int> count;
  for (auto& [s, x] : sink.values())
    ++count[s];
  int total = 0;
  for (auto& [s, n] : count)
    total += n;
  EXPECT_EQ(total, 1000);
}

// Emits odd numbers to a side output and counts the main records it saw.
class OddSplitter : public ProcessFunction<int64_t, int64_t> {
 public:
  explicit OddSplitter(OutputTag<std::string> tag) : tag_(std::move(tag)) {}
  void processElement(const int64_t& value, Context& ctx, Collector<int64_t>& out) override {
    if (value % 2 == 1) {
      ctx.output(tag_, "odd:" + std::to_string(value));
    } else {
      out.collect(value);
    }
  }

 private:
  OutputTag<std::string> tag_;
};

TEST(ProcessFunctionTest, SideOutputsReachTheirOwnStream) {
  StreamExecutionEnvironment env;
  OutputTag<std::string> odd("odd");
  CollectSink<int64_t> evens;
  CollectSink<std::string> odds;
  auto main = env.fromSequence(1, 10).process(OddSplitter(odd));
  main.sinkTo(evens.sink());
  main.getSideOutput(odd).rebalance().sinkTo(odds.sink());
  ASSERT_EQ(run(env, config(2)).status, JobStatus::kFinished);
  EXPECT_EQ(sorted(evens.values()), (std::vector<int64_t>{2, 4, 6, 8, 10}));
  EXPECT_EQ(sorted(odds.values()),
            (std::vector<std::string>{"odd:1", "odd:3", "odd:5", "odd:7", "odd:9"}));
}

// Records open/close calls and the runtime context it saw.
struct LifecycleLog {
  std::mutex mutex;
  std::vector<std::string> events;
};

class LifecycleMapper : public RichMapFunction<int64_t, int64_t> {
 public:
  explicit LifecycleMapper(std::shared_ptr<LifecycleLog> log) : log_(std::move(log)) {}
  void open(const RuntimeContext& ctx) override {
    std::lock_guard lock(log_->mutex);
    log_->events.push_back("open " + std::to_string(ctx.subtaskIndex) + "/" +
                           std::to_string(ctx.parallelism) + " " + ctx.operatorName + " " +
                           ctx.args->get("greeting"));
  }
  int64_t map(int64_t x) override { return x; }
  void close() override {
    std::lock_guard lock(log_->mutex);
    log_->events.push_back("close");
  }

 private:
  std::shared_ptr<LifecycleLog> log_;
};

TEST(RichFunctionTest, OpenAndCloseSeeTheRuntimeContext) {
  auto log = std::make_shared<LifecycleLog>();
  StreamExecutionEnvironment env;
  CollectSink<int64_t> sink;
  env.fromSequence(1, 10).map(LifecycleMapper(log)).name("Lifecycle").sinkTo(sink.sink());
  auto jg = buildJobGraph(env, config(2), "rich");
  ASSERT_TRUE(jg.ok());
  MiniCluster cluster;
  auto result = cluster.execute(*jg, JobArgs::parse({"--greeting", "hi"}));
  ASSERT_EQ(result.status, JobStatus::kFinished);
  EXPECT_THAT(log->events, UnorderedElementsAre("open 0/2 Lifecycle hi", "open 1/2 Lifecycle hi",
                                                "close", "close"));
}

TEST(FailureTest, ThrowingUserFunctionFailsTheJobWithTheOperatorName) {
  StreamExecutionEnvironment env;
  CollectSink<int64_t> sink;
  env.fromSequence(1, 100000)
      .map([](int64_t x) {
        if (x == 5000)
          throw std::runtime_error("cannot handle 5000");
        return x;
      })
      .name("Picky")
      .rebalance()
      .sinkTo(sink.sink());
  auto result = run(env, config(2));
  EXPECT_EQ(result.status, JobStatus::kFailed);
  EXPECT_THAT(result.failure, HasSubstr("cannot handle 5000"));
  EXPECT_THAT(result.failure, HasSubstr("Picky ("));
}

TEST(FailureTest, UnwritableOutputFailsWithThePath) {
  StreamExecutionEnvironment env;
  env.fromSequence(1, 10).writeAsText("/proc/brook-cannot-write-here/out");
  auto result = run(env, config(1));
  EXPECT_EQ(result.status, JobStatus::kFailed);
  EXPECT_THAT(result.failure, HasSubstr("/proc/brook-cannot-write-here/out"));
}

// A source that never ends and produces nothing.
class IdleSource : public SourceReader<int64_t> {
 public:
  InputStatus pollNext(SourceOutput<int64_t>&) override { return InputStatus::kNothingAvailable; }
};

TEST(CancelTest, CancellingAnUnboundedJobStopsEveryTask) {
  StreamExecutionEnvironment env;
  env.fromSource<int64_t>([] { return std::make_unique<IdleSource>(); }, "Idle", false)
      .keyBy([](int64_t x) { return x; })
      .sum()
      .print();
  auto jg = buildJobGraph(env, config(2), "cancel");
  ASSERT_TRUE(jg.ok());
  MiniCluster cluster;
  std::atomic<bool> running{false};
  std::thread canceller([&] {
    for (int i = 0; i < 500 && !running.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    cluster.cancel();
  });
  auto result = cluster.execute(*jg, JobArgs{}, [&](const std::string&, JobStatus s) {
    if (s == JobStatus::kRunning)
      running = true;
  });
  canceller.join();
  EXPECT_EQ(result.status, JobStatus::kCanceled);
}

// A sink that is slower than its producer, behind tiny buffers: backpressure, no loss.
TEST(BackpressureTest, SlowConsumerLosesNothing) {
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  env.fromSequence(1, 20000)
      .map([](int64_t x) { return std::to_string(x) + std::string(100, '.'); })
      .rebalance()
      .map([](std::string s) {
        if (s.size() % 7 == 0)
          std::this_thread::yield();
        return s;
      })
      .setParallelism(1)
      .sinkTo(sink.sink());
  Configuration c = config(2);
  c.set("taskmanager.memory.segment-size", "4kb");
  c.set("taskmanager.network.memory.buffers-per-channel", "1");
  c.set("taskmanager.network.memory.floating-buffers-per-gate", "0");
  ASSERT_EQ(run(env, c).status, JobStatus::kFinished);
  EXPECT_EQ(sink.values().size(), 20000u);
}

TEST(BufferTimeoutTest, ZeroTimeoutFlushesEveryRecordAndLargeRecordsSpanBuffers) {
  StreamExecutionEnvironment env;
  env.setBufferTimeout(0);
  CollectSink<std::string> sink;
  env.fromSequence(1, 50)
      .map([](int64_t x) { return std::string(static_cast<size_t>(x) * 3000, 'a' + x % 26); })
      .rebalance()
      .sinkTo(sink.sink());
  Configuration c = config(2);
  c.set("taskmanager.memory.segment-size", "4kb");
  ASSERT_EQ(run(env, c).status, JobStatus::kFinished);
  auto values = sink.values();
  ASSERT_EQ(values.size(), 50u);
  std::set<size_t> sizes;
  for (auto& v : values) {
    sizes.insert(v.size());
    EXPECT_EQ(v, std::string(v.size(), v[0]));
  }
  EXPECT_EQ(sizes.size(), 50u);
  EXPECT_EQ(*sizes.rbegin(), 150000u);
}

TEST(TextFileSourceTest, SplitsReadEveryLineExactlyOnce) {
  std::string dir = ::testing::TempDir() + "/brook-split-test";
  std::filesystem::create_directories(dir);
  std::vector<std::string> expected;
  {
    std::ofstream a(dir + "/a.txt");
    for (int i = 0; i < 2000; ++i) {
      std::string line =
          "line " + std::to_string(i) + std::string(static_cast<size_t>(i % 13), 'z');
      a << line << (i % 5 == 0 ? "\r\n" : "\n");
      expected.push_back(line);
    }
    std::ofstream b(dir + "/b.txt");
    b << "last line without newline";
    expected.push_back("last line without newline");
    std::ofstream hidden(dir + "/.hidden");
    hidden << "not read\n";
  }
  for (int64_t splitBytes : {1, 7, 100, 4096, 1 << 20}) {
    for (int p : {1, 3}) {
      StreamExecutionEnvironment env;
      CollectSink<std::string> sink;
      env.fromSource<std::string>(
             [dir, splitBytes] { return std::make_unique<TextFileSourceReader>(dir, splitBytes); },
             "Files", true)
          .sinkTo(sink.sink());
      ASSERT_EQ(run(env, config(p)).status, JobStatus::kFinished);
      EXPECT_EQ(sorted(sink.values()), sorted(expected))
          << "split " << splitBytes << " parallelism " << p;
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace brook::runtime

namespace brook::runtime {
namespace {

// A one-shot TCP server on 127.0.0.1 with an OS-chosen port that sends `text` to its first
// client and closes.
class OneShotServer {
 public:
  explicit OneShotServer(std::string text) : text_(std::move(text)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 30'000) != 1)
        return;
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0)
        return;
      // Send in small pieces so lines arrive split across reads.
      for (size_t i = 0; i < text_.size(); i += 5) {
        size_t n = std::min<size_t>(5, text_.size() - i);
        if (::send(client, text_.data() + i, n, MSG_NOSIGNAL) < 0)
          break;
      }
      ::close(client);
    });
  }
  ~OneShotServer() {
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  std::string text_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(SocketSourceTest, ReadsLinesUntilTheServerCloses) {
  OneShotServer server("alpha\nbeta gamma\r\n\ndelta");
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  env.socketTextStream("127.0.0.1", server.port()).sinkTo(sink.sink()).setParallelism(1);
  ASSERT_EQ(run(env, config(2)).status, JobStatus::kFinished);
  EXPECT_THAT(sink.values(), ElementsAre("alpha", "beta gamma", "", "delta"));
}

TEST(SocketSourceTest, RefusedConnectionFailsTheJobWithTheAddress) {
  // Bind a port and close it again, so nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  StreamExecutionEnvironment env;
  env.socketTextStream("127.0.0.1", port).print();
  auto result = run(env, config(1));
  EXPECT_EQ(result.status, JobStatus::kFailed);
  EXPECT_THAT(result.failure, HasSubstr("127.0.0.1:" + std::to_string(port)));
}

TEST(CollectionSourceTest, FromElementsKeepsOrderAtParallelismOne) {
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  env.fromElements(std::string("c"), std::string("a"), std::string("b"))
      .map([](std::string s) { return s + s; })
      .sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(1)).status, JobStatus::kFinished);
  EXPECT_THAT(sink.values(), ElementsAre("cc", "aa", "bb"));
}

}  // namespace
}  // namespace brook::runtime

namespace brook::runtime {
namespace {

// BATCH mode pre-aggregates before the shuffle; more distinct keys than the combiner holds
// force it to send partial sums early, which the keyed operator must merge.
TEST(CombinerTest, BatchSumsAreExactWithMoreKeysThanTheCombinerHolds) {
  StreamExecutionEnvironment env;
  CollectSink<std::pair<int64_t, int64_t>> sink;
  env.fromSequence(0, 299999)
      .map([](int64_t x) { return std::pair<int64_t, int64_t>(x % 100000, x); })
      .keyBy([](const std::pair<int64_t, int64_t>& p) { return p.first; })
      .sum([](std::pair<int64_t, int64_t>& p) -> int64_t& { return p.second; })
      .sinkTo(sink.sink());
  ASSERT_EQ(run(env, config(2, "BATCH")).status, JobStatus::kFinished);
  auto values = sink.values();
  ASSERT_EQ(values.size(), 100000u);
  for (auto& [k, v] : values) {
    // k + (k + 100000) + (k + 200000)
    ASSERT_EQ(v, 3 * k + 300000) << "key " << k;
  }
}

}  // namespace
}  // namespace brook::runtime
