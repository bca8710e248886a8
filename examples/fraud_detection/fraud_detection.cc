// Fraud detection: the keyed state and timer example of Flink's DataStream tutorial.
//
//   brook run --local fraud_detection.so -- --output DIR [--transactions N]
//
// A generator emits N card transactions (default 10,000) over five accounts. For each account a
// KeyedProcessFunction remembers, in ValueState, whether the last transaction was small (below
// 1.00); a large one (above 500.00) right after a small one raises an alert. The small-
// transaction flag expires after one minute of processing time, through a processing-time
// timer kept in state with it. The output holds one `alert,<account>,<transaction id>` line per
// alert.

#include <cstdint>
#include <string>

#include <brook/brook.h>

namespace {

struct Transaction {
  int64_t id = 0;
  int64_t accountId = 0;
  double amount = 0;
};

}  // namespace

BROOK_SERIALIZABLE(Transaction, &Transaction::id, &Transaction::accountId, &Transaction::amount);

namespace {

constexpr double kSmallAmount = 1.00;
constexpr double kLargeAmount = 500.00;
constexpr int64_t kOneMinuteMillis = 60 * 1000;

/// Transaction `id` of the generated stream: accounts take turns; amounts cycle through a
/// fixed pattern in which some small amounts are followed by large ones.
Transaction generateTransaction(int64_t id) {
  static constexpr double kAmounts[] = {188.23, 374.79, 112.15, 478.75, 208.85, 379.64, 351.44,
                                        320.75, 259.42, 273.44, 267.25, 397.15, 0.219, 231.94,
                                        384.73, 419.62, 412.91, 0.77,  22.10,  377.54, 375.44,
                                        230.18, 0.80,  350.89, 127.55, 483.91, 228.22, 871.15,
                                        64.19,  79.43, 56.12,  256.48, 148.16, 199.95, 252.37,
                                        274.73, 473.54, 119.92, 323.59, 353.16, 211.90, 280.93,
                                        347.89, 459.86, 82.31,  373.26, 479.83, 454.25, 83.64,
                                        292.44};
  constexpr int64_t kCount = sizeof(kAmounts) / sizeof(kAmounts[0]);
  return Transaction{id, id % 5 + 1, kAmounts[id % kCount]};
}

class FraudDetector : public brook::KeyedProcessFunction<int64_t, Transaction, std::string> {
 public:
  void open(const brook::RuntimeContext& ctx) override {
    flag_ = &ctx.getState(brook::ValueStateDescriptor<bool>("flag"));
    timer_ = &ctx.getState(brook::ValueStateDescriptor<int64_t>("timer-state"));
  }

  void processElement(const Transaction& t, Context& ctx,
                      brook::Collector<std::string>& out) override {
    if (flag_->value().has_value()) {
      if (t.amount > kLargeAmount) {
        out.collect("alert," + std::to_string(t.accountId) + "," + std::to_string(t.id));
      }
      cleanUp(ctx);
    }
    if (t.amount < kSmallAmount) {
      flag_->update(true);
      int64_t timer = ctx.timerService().currentProcessingTime() + kOneMinuteMillis;
      ctx.timerService().registerProcessingTimeTimer(timer);
      timer_->update(timer);
    }
  }

  void onTimer(int64_t, OnTimerContext&, brook::Collector<std::string>&) override {
    // A minute passed since the small transaction: forget it.
    timer_->clear();
    flag_->clear();
  }

 private:
  void cleanUp(Context& ctx) {
    if (auto timer = timer_->value())
      ctx.timerService().deleteProcessingTimeTimer(*timer);
    timer_->clear();
    flag_->clear();
  }

  brook::ValueState<bool>* flag_ = nullptr;
  brook::ValueState<int64_t>* timer_ = nullptr;
};

}  // namespace

BROOK_JOB(fraud_detection) {
  auto& env = job.env();
  int64_t n = job.args().getInt("transactions", 10000);
  env.fromSequence(0, n - 1)
      .setParallelism(1)  // one generator keeps each account's transactions in order
      .name("Source: Transactions")
      .map(generateTransaction)
      .name("Transactions")
      .keyBy([](const Transaction& t) { return t.accountId; })
      .process(FraudDetector{})
      .name("Fraud Detector")
      .writeAsText(job.args().get("output"))
      .name("Sink: Alerts");
}
