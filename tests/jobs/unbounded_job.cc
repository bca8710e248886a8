// An unbounded job for cluster tests: a throttled counting source, a keyed sum behind an
// all-to-all exchange (so records cross TaskManagers), and a sink that discards, after
// sleeping `--sink-sleep-micros` per record (default 0) to make the job backpressured.

#include <chrono>
#include <thread>

#include <brook/brook.h>

namespace {

// Emits 0, 1, 2, ... forever, `batch` records per poll, then pauses one poll.
class CountingReader final : public brook::SourceReader<int64_t> {
 public:
  brook::InputStatus pollNext(brook::SourceOutput<int64_t>& output) override {
    for (int i = 0; i < 10; ++i)
      output.collect(next_++);
    return brook::InputStatus::kNothingAvailable;
  }

 private:
  int64_t next_ = 0;
};

class DiscardingWriter final : public brook::SinkWriter<std::pair<int64_t, int64_t>> {
 public:
  explicit DiscardingWriter(int64_t sleepMicros) : sleepMicros_(sleepMicros) {}
  void write(std::pair<int64_t, int64_t>&& /*record*/, int64_t /*timestamp*/) override {
    if (sleepMicros_ > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(sleepMicros_));
  }

 private:
  int64_t sleepMicros_;
};

}  // namespace

BROOK_JOB(unbounded_job) {
  auto& env = job.env();
  int64_t sleepMicros = job.args().getInt("sink-sleep-micros", 0);
  env.fromSource<int64_t>([] { return std::make_unique<CountingReader>(); }, "Counting Source",
                          /*bounded=*/false)
      .map([](int64_t x) { return std::make_pair(x % 16, int64_t{1}); })
      .keyBy([](const std::pair<int64_t, int64_t>& p) { return p.first; })
      .sum([](std::pair<int64_t, int64_t>& r) -> int64_t& { return r.second; })
      .name("Counter")
      .sinkTo(brook::Sink<std::pair<int64_t, int64_t>>{"Discard", [sleepMicros] {
                                                         return std::make_unique<DiscardingWriter>(
                                                             sleepMicros);
                                                       }});
}
