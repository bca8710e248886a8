#include "runtime/job_graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

namespace brook::runtime {
namespace {

Configuration parallelism(int p) {
  Configuration c;
  c.set("parallelism.default", std::to_string(p));
  return c;
}

TEST(JobGraphTest, ChainsForwardEdgesOfEqualParallelism) {
  StreamExecutionEnvironment env;
  env.fromSequence(1, 10)
      .map([](int64_t x) { return x + 1; })
      .filter([](int64_t x) { return x % 2 == 0; })
      .keyBy([](int64_t x) { return x % 3; })
      .sum()
      .print();
  auto jg = buildJobGraph(env, parallelism(2), "chain");
  ASSERT_TRUE(jg.ok()) << jg.status();
  ASSERT_EQ(jg->vertices.size(), 2u);
  EXPECT_EQ(jg->vertices[0].name, "Source: Sequence Source -> Map -> Filter");
  EXPECT_EQ(jg->vertices[1].name, "Keyed Aggregation -> Sink: Print to Std. Out");
  ASSERT_EQ(jg->edges.size(), 1u);
  EXPECT_EQ(jg->edges[0].partitioner, PartitionerKind::kKeyGroup);
}

TEST(JobGraphTest, ParallelismChangeAndExplicitPartitioningBreakChains) {
  StreamExecutionEnvironment env;
  auto s = env.fromSequence(1, 10);
  s.map([](int64_t x) { return x; })
      .setParallelism(3)
      .rebalance()
      .map([](int64_t x) { return x; })
      .setParallelism(3)
      .print()
      .setParallelism(1);
  auto jg = buildJobGraph(env, parallelism(2), "breaks");
  ASSERT_TRUE(jg.ok()) << jg.status();
  ASSERT_EQ(jg->vertices.size(), 4u);
  EXPECT_EQ(jg->edges[0].partitioner, PartitionerKind::kRebalance);  // 2 -> 3, default
  EXPECT_EQ(jg->edges[1].partitioner, PartitionerKind::kRebalance);  // explicit
  EXPECT_EQ(jg->edges[2].partitioner, PartitionerKind::kRebalance);  // 3 -> 1, default
  EXPECT_EQ(jg->vertices[1].parallelism, 3);
  EXPECT_EQ(jg->vertices[3].parallelism, 1);
}

TEST(JobGraphTest, ForwardWithDifferentParallelismIsAnError) {
  StreamExecutionEnvironment env;
  env.fromSequence(1, 10)
      .forward()
      .map([](int64_t x) { return x; })
      .name("Doubler")
      .setParallelism(3);
  auto jg = buildJobGraph(env, parallelism(2), "bad");
  ASSERT_FALSE(jg.ok());
  EXPECT_NE(jg.status().message().find("forward partitioning"), std::string::npos);
  EXPECT_NE(jg.status().message().find("Doubler"), std::string::npos);
}

TEST(JobGraphTest, FingerprintIsStableAndReflectsTheShape) {
  auto plan = [](int p) {
    StreamExecutionEnvironment env;
    env.fromElements(std::string("a"), std::string("b"))
        .map([](std::string s) { return s + "!"; })
        .uid("exclaim")
        .print();
    auto jg = buildJobGraph(env, parallelism(p), "fp");
    EXPECT_TRUE(jg.ok());
    return jg->fingerprint();
  };
  EXPECT_EQ(plan(2), plan(2));
  EXPECT_NE(plan(2), plan(3));
}

TEST(JobGraphTest, AutomaticModeIsBatchOnlyWhenAllSourcesAreBounded) {
  Configuration c = parallelism(1);
  c.set("execution.runtime-mode", "automatic");
  {
    StreamExecutionEnvironment env;
    env.fromSequence(1, 3).print();
    auto jg = buildJobGraph(env, c, "bounded");
    ASSERT_TRUE(jg.ok());
    EXPECT_EQ(jg->mode, RuntimeMode::kBatch);
  }
  {
    StreamExecutionEnvironment env;
    env.socketTextStream("localhost", 9999).print();
    auto jg = buildJobGraph(env, c, "unbounded");
    ASSERT_TRUE(jg.ok());
    EXPECT_EQ(jg->mode, RuntimeMode::kStreaming);
  }
}

TEST(JobGraphTest, NetworkBufferSizeComesFromEitherKey) {
  StreamExecutionEnvironment env;
  env.fromSequence(1, 10).rebalance().print();
  Configuration c = parallelism(2);
  c.set("taskmanager.memory.segment-size", "64kb");
  auto segment = buildJobGraph(env, c, "segment");
  ASSERT_TRUE(segment.ok()) << segment.status();
  EXPECT_EQ(segment->bufferSize, 64 * 1024);
  c.set("taskmanager.network.buffer-size", "16kb");
  auto buffer = buildJobGraph(env, c, "buffer");
  ASSERT_TRUE(buffer.ok()) << buffer.status();
  EXPECT_EQ(buffer->bufferSize, 16 * 1024);
  c.set("taskmanager.network.buffer-size", "1kb");
  auto tooSmall = buildJobGraph(env, c, "small");
  ASSERT_FALSE(tooSmall.ok());
  EXPECT_THAT(std::string(tooSmall.status().message()),
              ::testing::HasSubstr("taskmanager.network.buffer-size"));
}

TEST(JobGraphTest, BatchModeRejectsUnboundedSources) {
  Configuration c = parallelism(1);
  c.set("execution.runtime-mode", "BATCH");
  StreamExecutionEnvironment env;
  env.socketTextStream("localhost", 9999).print();
  auto jg = buildJobGraph(env, c, "unbounded");
  ASSERT_FALSE(jg.ok());
  EXPECT_NE(jg.status().message().find("Socket Stream"), std::string::npos);
}

TEST(JobGraphTest, BadConfigurationValuesNameTheKey) {
  StreamExecutionEnvironment env;
  env.fromSequence(1, 3).print();
  Configuration c;
  c.set("execution.runtime-mode", "sometimes");
  auto jg = buildJobGraph(env, c, "bad");
  ASSERT_FALSE(jg.ok());
  EXPECT_NE(jg.status().message().find("execution.runtime-mode"), std::string::npos);
  Configuration d;
  d.set("execution.buffer-timeout.interval", "soon");
  jg = buildJobGraph(env, d, "bad");
  ASSERT_FALSE(jg.ok());
  EXPECT_NE(jg.status().message().find("execution.buffer-timeout.interval"), std::string::npos);
}

TEST(JobGraphTest, DuplicateUidsAreRejected) {
  StreamExecutionEnvironment env;
  auto s = env.fromSequence(1, 3);
  s.map([](int64_t x) { return x; }).uid("same").print();
  s.map([](int64_t x) { return x; }).uid("same").print();
  auto jg = buildJobGraph(env, parallelism(1), "dup");
  ASSERT_FALSE(jg.ok());
  EXPECT_NE(jg.status().message().find("'same'"), std::string::npos);
}

TEST(JobGraphTest, ApiRejectsBadParallelismAtTheCall) {
  StreamExecutionEnvironment env;
  EXPECT_THROW(env.setParallelism(0), JobDefinitionError);
  auto s = env.fromElements(1, 2, 3);
  EXPECT_THROW(s.setParallelism(2), JobDefinitionError);  // non-parallel source
  EXPECT_THROW(s.map([](int x) { return x; }).setParallelism(-1), JobDefinitionError);
  EXPECT_THROW(env.readTextFile("/nonexistent/brook/input"), JobDefinitionError);
}

TEST(JobGraphTest, JsonNamesVerticesEdgesAndPartitioning) {
  StreamExecutionEnvironment env;
  env.fromSequence(1, 3).rebalance().print();
  auto jg = buildJobGraph(env, parallelism(2), "json");
  ASSERT_TRUE(jg.ok());
  std::string json = jg->toJson();
  EXPECT_NE(json.find("\"name\": \"Source: Sequence Source\""), std::string::npos);
  EXPECT_NE(json.find("\"partitioning\": \"REBALANCE\""), std::string::npos);
  EXPECT_NE(json.find("\"parallelism\": 2"), std::string::npos);
}

TEST(JobGraphTest, ReadsTheStateBackendIntoThePlanAndItsFingerprint) {
  // A JobGraph refers to its environment's StreamGraph: the environment must outlive it.
  StreamExecutionEnvironment env;
  env.fromSequence(1, 3).keyBy([](int64_t x) { return x % 2; }).sum().print();
  auto plan = [&env](const char* type) {
    Configuration c = parallelism(2);
    if (type != nullptr)
      c.set("state.backend.type", type);
    c.set("state.backend.rocksdb.block.cache-size", "16mb");
    auto jg = buildJobGraph(env, c, "backend");
    EXPECT_TRUE(jg.ok()) << jg.status();
    return std::move(*jg);
  };
  JobGraph byDefault = plan(nullptr);
  JobGraph heap = plan("hashmap");
  JobGraph rocksDb = plan("RocksDB");
  EXPECT_EQ(byDefault.stateBackend.type, state::StateBackendType::kHeap);
  EXPECT_EQ(heap.stateBackend.type, state::StateBackendType::kHeap);
  EXPECT_EQ(rocksDb.stateBackend.type, state::StateBackendType::kRocksDb);
  EXPECT_EQ(rocksDb.stateBackend.rocksDb.blockCacheBytes, 16 << 20);
  EXPECT_NE(rocksDb.toJson().find("\"stateBackend\": \"rocksdb\""), std::string::npos)
      << rocksDb.toJson();
  EXPECT_EQ(byDefault.fingerprint(), heap.fingerprint());
  EXPECT_NE(heap.fingerprint(), rocksDb.fingerprint());
}

TEST(JobGraphTest, BadStateBackendSettingsFailPlanningNamingTheKey) {
  for (auto [key, value] : {std::pair{"state.backend.type", "bogus"},
                            std::pair{"state.backend.rocksdb.writebuffer.size", "lots"}}) {
    StreamExecutionEnvironment env;
    env.fromSequence(1, 3).print();
    Configuration c = parallelism(1);
    c.set(key, value);
    auto jg = buildJobGraph(env, c, "bad backend");
    ASSERT_FALSE(jg.ok()) << key;
    EXPECT_NE(jg.status().message().find(key), std::string::npos) << jg.status();
  }
}

}  // namespace
}  // namespace brook::runtime
