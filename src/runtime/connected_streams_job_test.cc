// Connected streams as jobs run them: two-input tasks fed by two upstream vertices over
// network channels, with keyed state and timers shared by both inputs (KeyedCoProcessFunction),
// broadcast state filled by a broadcast stream on every instance, on both state backends.

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/brook.h>

#include "common/testing/files.h"
#include "runtime/local_executor.h"
#include "runtime/mini_cluster.h"
#include "runtime/testing/scripted_source.h"

namespace brook::runtime {
namespace {

using ::testing::UnorderedElementsAreArray;

using Order = std::pair<std::string, int64_t>;    // customer, amount
using Payment = std::pair<std::string, int64_t>;  // customer, amount

Configuration config(const testing::TempDir& tmp, const std::string& backend, int parallelism) {
  return testing::jobConfiguration(tmp, backend, parallelism);
}

std::vector<Order> orders() {
  std::vector<Order> v;
  for (int i = 0; i < 300; ++i)
    v.emplace_back("c" + std::to_string(i % 7), i + 1);
  return v;
}
std::vector<Payment> payments() {
  std::vector<Payment> v;
  for (int i = 0; i < 200; ++i)
    v.emplace_back("c" + std::to_string(i % 5), 2 * i);
  return v;
}

/// Keeps each customer's balance (orders minus payments) and element counts in state shared by
/// both inputs; a processing-time timer (fired at the end of the bounded inputs) reports them.
class Balance : public KeyedCoProcessFunction<std::string, Order, Payment, std::string> {
 public:
  void open(const RuntimeContext& ctx) override {
    balance_ = &ctx.getState(ValueStateDescriptor<int64_t>("balance", 0));
    counts_ = &ctx.getMapState(MapStateDescriptor<int, int64_t>("counts"));
  }
  void processElement1(const Order& o, Context& ctx, Collector<std::string>&) override {
    apply(o.second, 1, ctx);
  }
  void processElement2(const Payment& p, Context& ctx, Collector<std::string>&) override {
    apply(-p.second, 2, ctx);
  }
  void onTimer(int64_t, OnTimerContext& ctx, Collector<std::string>& out) override {
    out.collect(ctx.getCurrentKey() + " balance=" + std::to_string(*balance_->value()) +
                " orders=" + std::to_string(counts_->get(1).value_or(0)) +
                " payments=" + std::to_string(counts_->get(2).value_or(0)));
  }

 private:
  void apply(int64_t delta, int input, Context& ctx) {
    balance_->update(*balance_->value() + delta);
    counts_->put(input, counts_->get(input).value_or(0) + 1);
    ctx.timerService().registerProcessingTimeTimer(INT64_MAX / 2);
  }
  ValueState<int64_t>* balance_ = nullptr;
  MapState<int, int64_t>* counts_ = nullptr;
};

class ConnectedStreamsJobTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ConnectedStreamsJobTest, KeyedCoProcessSharesStateAcrossInputs) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  env.fromCollection(orders())
      .connect(env.fromCollection(payments()))
      .keyBy([](const Order& o) { return o.first; }, [](const Payment& p) { return p.first; })
      .process(Balance{})
      .sinkTo(sink.sink());
  auto result = executeLocally(env, config(tmp, GetParam(), 2));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;

  // The expected lines, computed directly.
  std::map<std::string, std::array<int64_t, 3>> expected;  // balance, orders, payments
  for (const Order& o : orders()) {
    expected[o.first][0] += o.second;
    ++expected[o.first][1];
  }
  for (const Payment& p : payments()) {
    expected[p.first][0] -= p.second;
    ++expected[p.first][2];
  }
  std::vector<std::string> lines;
  for (const auto& [customer, v] : expected) {
    lines.push_back(customer + " balance=" + std::to_string(v[0]) +
                    " orders=" + std::to_string(v[1]) + " payments=" + std::to_string(v[2]));
  }
  EXPECT_THAT(sink.values(), UnorderedElementsAreArray(lines));
}

/// Tags keyed events with the rule for their key from broadcast state, when the end of input
/// fires the key's timer (by then every rule has arrived, whatever the interleaving).
class RuleTagger : public KeyedBroadcastProcessFunction<std::string, Order,
                                                       std::pair<std::string, std::string>,
                                                       std::string> {
 public:
  inline static const MapStateDescriptor<std::string, std::string> kRules{"rules"};
  void processElement(const Order&, ReadOnlyContext& ctx, Collector<std::string>&) override {
    ctx.timerService().registerProcessingTimeTimer(INT64_MAX / 2);
  }
  void processBroadcastElement(const std::pair<std::string, std::string>& rule, Context& ctx,
                               Collector<std::string>&) override {
    ctx.getBroadcastState(kRules).put(rule.first, rule.second);
  }
  void onTimer(int64_t, OnTimerContext& ctx, Collector<std::string>& out) override {
    const auto& rules = ctx.getBroadcastState(kRules);
    out.collect(ctx.getCurrentKey() + "=" + rules.get(ctx.getCurrentKey()).value_or("none") +
                " rules=" + std::to_string(rules.size()));
  }
};

TEST_P(ConnectedStreamsJobTest, BroadcastStateReachesEveryKeyedInstance) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  std::vector<std::pair<std::string, std::string>> rules = {
      {"c0", "gold"}, {"c1", "silver"}, {"c3", "bronze"}, {"c9", "unused"}};
  auto ruleStream = env.fromCollection(rules).broadcast(RuleTagger::kRules);
  env.fromCollection(orders())
      .keyBy([](const Order& o) { return o.first; })
      .connect(ruleStream)
      .process(RuleTagger{})
      .sinkTo(sink.sink());
  auto result = executeLocally(env, config(tmp, GetParam(), 3));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  EXPECT_THAT(sink.values(),
              UnorderedElementsAreArray(std::vector<std::string>{
                  "c0=gold rules=4", "c1=silver rules=4", "c2=none rules=4", "c3=bronze rules=4",
                  "c4=none rules=4", "c5=none rules=4", "c6=none rules=4"}));
}

INSTANTIATE_TEST_SUITE_P(Backends,
                         ConnectedStreamsJobTest,
                         ::testing::Values("heap", "rocksdb"),
                         [](const auto& info) { return info.param; });

/// Counts what each parallel instance receives on each input.
class InputCounter : public BroadcastProcessFunction<int64_t, std::string, std::string> {
 public:
  void processElement(const int64_t& v, ReadOnlyContext&, Collector<std::string>& out) override {
    out.collect("element " + std::to_string(v));
  }
  void processBroadcastElement(const std::string& s, Context&, Collector<std::string>& out)
      override {
    out.collect("broadcast " + s + " at " +
                std::to_string(getRuntimeContext().subtaskIndex));
  }
};

TEST(ConnectedStreamsJobTest, BroadcastElementsReachEveryInstanceAndOthersOneInstance) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  auto broadcastStream =
      env.fromElements(std::string("x"), std::string("y"))
          .broadcast(MapStateDescriptor<std::string, std::string>("unused"));
  env.fromSequence(1, 10).connect(broadcastStream).process(InputCounter{}).sinkTo(sink.sink());
  auto result = executeLocally(env, config(tmp, "heap", 3));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  std::vector<std::string> expected;
  for (int i = 1; i <= 10; ++i)
    expected.push_back("element " + std::to_string(i));
  for (const char* s : {"x", "y"}) {
    for (int subtask = 0; subtask < 3; ++subtask)
      expected.push_back(std::string("broadcast ") + s + " at " + std::to_string(subtask));
  }
  EXPECT_THAT(sink.values(), UnorderedElementsAreArray(expected));
}

/// Tags elements with their input.
class Tagger : public CoProcessFunction<int64_t, std::string, std::string> {
 public:
  void processElement1(const int64_t& v, Context&, Collector<std::string>& out) override {
    out.collect("1:" + std::to_string(v));
  }
  void processElement2(const std::string& s, Context&, Collector<std::string>& out) override {
    out.collect("2:" + s);
  }
};

TEST(ConnectedStreamsJobTest, CoProcessSeesBothInputs) {
  testing::TempDir tmp;
  StreamExecutionEnvironment env;
  CollectSink<std::string> sink;
  env.fromSequence(1, 5)
      .connect(env.fromElements(std::string("a"), std::string("b")))
      .process(Tagger{})
      .sinkTo(sink.sink());
  auto result = executeLocally(env, config(tmp, "heap", 2));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, JobStatus::kFinished) << result->failure;
  EXPECT_THAT(sink.values(), UnorderedElementsAreArray(std::vector<std::string>{
                                 "1:1", "1:2", "1:3", "1:4", "1:5", "2:a", "2:b"}));
}

}  // namespace
}  // namespace brook::runtime
