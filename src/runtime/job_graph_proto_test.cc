#include "runtime/job_graph_proto.h"

#include <gtest/gtest.h>

#include <brook/brook.h>

namespace brook::runtime {
namespace {

struct Planned {
  std::unique_ptr<StreamExecutionEnvironment> env;
  JobGraph graph;
};

Planned plan(int parallelism) {
  Planned p;
  p.env = std::make_unique<StreamExecutionEnvironment>();
  p.env->fromSequence(1, 100)
      .map([](int64_t x) { return std::pair<int64_t, int64_t>(x % 7, x); })
      .keyBy([](const std::pair<int64_t, int64_t>& v) { return v.first; })
      .sum([](std::pair<int64_t, int64_t>& v) -> int64_t& { return v.second; })
      .uid("sums")
      .print();
  Configuration c;
  c.set("parallelism.default", std::to_string(parallelism));
  auto g = buildJobGraph(*p.env, c, "proto-test");
  EXPECT_TRUE(g.ok()) << g.status();
  p.graph = std::move(*g);
  return p;
}

TEST(JobGraphProtoTest, RoundTripsThroughBytesAndMatchesTheSamePlan) {
  Planned p = plan(2);
  Configuration config;
  config.set("parallelism.default", "2");
  auto args = JobArgs::parse({"--input", "x"});
  v1::JobGraph proto = toProto(p.graph, args, config);
  std::string bytes;
  ASSERT_TRUE(proto.SerializeToString(&bytes));
  auto parsed = parseJobGraphProto(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->job_name(), "proto-test");
  ASSERT_EQ(parsed->vertices_size(), 2);
  EXPECT_EQ(parsed->vertices(1).operators(0).operator_id(), "sums");
  EXPECT_EQ(parsed->edges(0).partitioner(), v1::PARTITIONER_KEY_GROUP);
  EXPECT_EQ(parsed->job_arguments_size(), 2);
  EXPECT_EQ(parsed->configuration().at("parallelism.default"), "2");
  Planned again = plan(2);
  EXPECT_TRUE(checkPlanMatches(*parsed, again.graph).ok());
}

TEST(JobGraphProtoTest, ADifferentPlanIsRefusedWithBothFingerprints) {
  Planned p = plan(2);
  v1::JobGraph proto = toProto(p.graph, JobArgs{}, Configuration{});
  Planned other = plan(3);
  auto s = checkPlanMatches(proto, other.graph);
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find(std::string(p.graph.fingerprint())), absl::string_view::npos);
  EXPECT_NE(s.message().find(std::string(other.graph.fingerprint())), absl::string_view::npos);
}

TEST(JobGraphProtoTest, AnotherProtocolVersionIsRefused) {
  Planned p = plan(1);
  v1::JobGraph proto = toProto(p.graph, JobArgs{}, Configuration{});
  proto.set_protocol_version(7);
  auto s = validateJobGraphProto(proto);
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("protocol version 7"), absl::string_view::npos);
}

TEST(JobGraphProtoTest, GarbageAndBrokenStructureAreRejected) {
  EXPECT_FALSE(parseJobGraphProto(std::string("\xff\xff\xff\xff garbage", 12)).ok());
  Planned p = plan(2);
  v1::JobGraph proto = toProto(p.graph, JobArgs{}, Configuration{});
  v1::JobGraph badEdge = proto;
  badEdge.mutable_edges(0)->set_target_vertex(99);
  auto s = validateJobGraphProto(badEdge);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("edge 0"), absl::string_view::npos) << s;
  v1::JobGraph badParallelism = proto;
  badParallelism.mutable_vertices(0)->set_parallelism(0);
  EXPECT_FALSE(validateJobGraphProto(badParallelism).ok());
  v1::JobGraph empty;
  empty.set_protocol_version(kProtocolVersion);
  EXPECT_FALSE(validateJobGraphProto(empty).ok());
}

}  // namespace
}  // namespace brook::runtime
