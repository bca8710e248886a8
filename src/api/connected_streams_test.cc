// Connected streams and the two-input operators behind them, driven directly through their
// ports with a minimal keyed state backend (the runtime runs them in jobs: see src/runtime).

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <brook/brook.h>

namespace brook {
namespace {

class TestBackend final : public internal::KeyedStateBackend {
 public:
  TestBackend() : KeyedStateBackend("Co (1/1)", 16, 0, 15, nullptr) {}
  void setCurrentKey(std::string_view key) override {
    setKey(key, static_cast<int>(std::hash<std::string_view>{}(key) % 16));
  }
  int64_t currentTimeMillis() const override { return 0; }
};

template <typename T>
class CollectingOutput final : public Output<T> {
 public:
  void push(T&& record, int64_t timestamp) override {
    records.push_back(std::move(record));
    timestamps.push_back(timestamp);
  }
  void emitWatermark(int64_t watermark) override { watermarks.push_back(watermark); }
  std::vector<T> records;
  std::vector<int64_t> timestamps;
  std::vector<int64_t> watermarks;
};

class FakeProcessingTime final : public ProcessingTimeService {
 public:
  int64_t currentProcessingTime() const override { return now; }
  void registerTimer(int64_t time, std::function<void(int64_t)> callback) override {
    timers.emplace_back(time, std::move(callback));
  }
  int64_t now = 0;
  std::vector<std::pair<int64_t, std::function<void(int64_t)>>> timers;
};

using Order = std::pair<std::string, int64_t>;  // (customer, amount)
using Payment = std::pair<std::string, int64_t>;

/// Matches orders with payments per customer: emits "customer:balance" after each element and
/// "customer:settled" from an event-time timer when the balance is zero.
class Matcher : public KeyedCoProcessFunction<std::string, Order, Payment, std::string> {
 public:
  void open(const RuntimeContext& ctx) override {
    balance_ = &ctx.getState(ValueStateDescriptor<int64_t>("balance", 0));
  }
  void processElement1(const Order& o, Context& ctx, Collector<std::string>& out) override {
    apply(o.second, ctx, out);
  }
  void processElement2(const Payment& p, Context& ctx, Collector<std::string>& out) override {
    apply(-p.second, ctx, out);
  }
  void onTimer(int64_t, OnTimerContext& ctx, Collector<std::string>& out) override {
    if (*balance_->value() == 0)
      out.collect(ctx.getCurrentKey() + ":settled");
  }

 private:
  void apply(int64_t delta, Context& ctx, Collector<std::string>& out) {
    int64_t b = *balance_->value() + delta;
    balance_->update(b);
    out.collect(ctx.getCurrentKey() + ":" + std::to_string(b));
    ctx.timerService().registerEventTimeTimer(100);
  }
  ValueState<int64_t>* balance_ = nullptr;
};

TEST(ConnectedStreamsTest, GraphHasTwoInputs) {
  StreamExecutionEnvironment env;
  auto orders = env.fromElements(Order{"a", 5});
  auto payments = env.fromElements(Payment{"a", 5});
  auto matched = orders.connect(payments)
                     .keyBy([](const Order& o) { return o.first; },
                            [](const Payment& p) { return p.first; })
                     .process(Matcher{});
  const StreamGraph& g = env.streamGraph();
  const StreamNode& node = g.nodes.at(static_cast<size_t>(matched.id()));
  ASSERT_EQ(node.inEdges.size(), 2u);
  EXPECT_EQ(g.edges.at(static_cast<size_t>(node.inEdges[0])).targetInput, 1);
  EXPECT_EQ(g.edges.at(static_cast<size_t>(node.inEdges[1])).targetInput, 2);
  EXPECT_EQ(g.edges.at(static_cast<size_t>(node.inEdges[0])).partitioner,
            PartitionerKind::kKeyGroup);
}

TEST(ConnectedStreamsTest, KeyedCoProcessSharesStatePerKeyAcrossInputs) {
  auto key1 = [](const Order& o) { return o.first; };
  auto key2 = [](const Payment& p) { return p.first; };
  internal::KeyedCoProcessOperator<std::string, Order, Payment, std::string, decltype(key1),
                                   decltype(key2), Matcher>
      op(key1, key2, Matcher{});
  TestBackend backend;
  FakeProcessingTime time;
  RuntimeContext ctx;
  ctx.operatorName = "Co";
  ctx.keyedStateBackend = &backend;
  ctx.processingTimeService = &time;
  CollectingOutput<std::string> out;
  op.setOutput(&out);
  op.open(ctx);
  auto* in1 = static_cast<Output<Order>*>(op.input());
  auto* in2 = static_cast<Output<Payment>*>(op.input2());
  in1->push(Order{"a", 10}, 1);
  in1->push(Order{"b", 3}, 2);
  in2->push(Payment{"a", 4}, 3);
  in2->push(Payment{"a", 6}, 4);
  in1->emitWatermark(200);
  in2->emitWatermark(200);  // not newer: ignored
  EXPECT_EQ(out.records, (std::vector<std::string>{"a:10", "b:3", "a:6", "a:0", "a:settled"}));
  EXPECT_EQ(out.watermarks, std::vector<int64_t>{200});
  op.close();
}

/// Tags each element with the broadcast rule for its key; rules arrive on the broadcast input.
class Tagger : public KeyedBroadcastProcessFunction<std::string, std::string,
                                                   std::pair<std::string, std::string>,
                                                   std::string> {
 public:
  inline static const MapStateDescriptor<std::string, std::string> kRules{"rules"};
  void processElement(const std::string& v, ReadOnlyContext& ctx,
                      Collector<std::string>& out) override {
    auto rule = ctx.getBroadcastState(kRules).get(ctx.getCurrentKey());
    out.collect(v + "=" + rule.value_or("?"));
  }
  void processBroadcastElement(const std::pair<std::string, std::string>& rule, Context& ctx,
                               Collector<std::string>&) override {
    ctx.getBroadcastState(kRules).put(rule.first, rule.second);
  }
};

TEST(ConnectedStreamsTest, KeyedBroadcastReadsWhatBroadcastElementsWrote) {
  auto key = [](const std::string& s) { return s; };
  internal::KeyedBroadcastProcessOperator<std::string, std::string,
                                          std::pair<std::string, std::string>, std::string,
                                          decltype(key), Tagger>
      op(key, Tagger{});
  TestBackend backend;
  OperatorStateStore operatorState("Tag (1/1)");
  RuntimeContext ctx;
  ctx.keyedStateBackend = &backend;
  ctx.operatorStateStore = &operatorState;
  CollectingOutput<std::string> out;
  op.setOutput(&out);
  op.open(ctx);
  auto* in1 = static_cast<Output<std::string>*>(op.input());
  auto* in2 = static_cast<Output<std::pair<std::string, std::string>>*>(op.input2());
  in1->push("x", 1);
  in2->push({"x", "red"}, 2);
  EXPECT_FALSE(backend.hasCurrentKey());
  in1->push("x", 3);
  in1->push("y", 4);
  EXPECT_EQ(out.records, (std::vector<std::string>{"x=?", "x=red", "y=?"}));
  // The broadcast state is operator state: it is in the store's snapshot.
  auto snapshot = operatorState.snapshot();
  ASSERT_EQ(snapshot.states.size(), 1u);
  EXPECT_EQ(snapshot.states[0].mode, OperatorStateMode::kBroadcast);
  EXPECT_EQ(snapshot.states[0].entries.size(), 1u);
}

TEST(ConnectedStreamsTest, KeyedProcessTimersFireByWatermarkAndProcessingTime) {
  struct Fn : KeyedProcessFunction<std::string, std::string, std::string> {
    void processElement(const std::string& v, Context& ctx, Collector<std::string>&) override {
      ctx.timerService().registerEventTimeTimer(10);
      ctx.timerService().registerProcessingTimeTimer(ctx.timerService().currentProcessingTime() +
                                                     5);
      (void)v;
    }
    void onTimer(int64_t t, OnTimerContext& ctx, Collector<std::string>& out) override {
      out.collect(ctx.getCurrentKey() +
                  (ctx.timeDomain() == TimeDomain::kEventTime ? "@event" : "@proc") +
                  std::to_string(t));
    }
  };
  auto key = [](const std::string& s) { return s; };
  internal::KeyedProcessOperator<std::string, std::string, std::string, decltype(key), Fn> op(
      key, Fn{});
  TestBackend backend;
  FakeProcessingTime time;
  RuntimeContext ctx;
  ctx.keyedStateBackend = &backend;
  ctx.processingTimeService = &time;
  CollectingOutput<std::string> out;
  op.setOutput(&out);
  op.open(ctx);
  auto* in = static_cast<Output<std::string>*>(op.input());
  in->push("a", 1);
  in->push("a", 2);  // the same timers again: no duplicates
  time.now = 3;
  in->push("b", 3);
  ASSERT_EQ(time.timers.size(), 1u);  // one task timer for the earliest processing-time timer
  EXPECT_EQ(time.timers[0].first, 5);
  time.now = 6;
  time.timers[0].second(6);
  EXPECT_EQ(out.records, std::vector<std::string>{"a@proc5"});
  ASSERT_EQ(time.timers.size(), 2u);  // rescheduled for b's timer at 8
  EXPECT_EQ(time.timers[1].first, 8);
  in->emitWatermark(10);
  op.endInput();
  // Timers of equal time fire in no particular order of their keys.
  ASSERT_EQ(out.records.size(), 4u);
  std::sort(out.records.begin() + 1, out.records.begin() + 3);
  EXPECT_EQ(out.records,
            (std::vector<std::string>{"a@proc5", "a@event10", "b@event10", "b@proc8"}));
}

}  // namespace
}  // namespace brook
