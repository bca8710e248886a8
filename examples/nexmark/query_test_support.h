#pragma once

// Runs a Nexmark query on a list of events on the in-process mini-cluster and returns its
// result lines, for the query tests.

#include <algorithm>
#include <cstdint>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <brook/brook.h>

#include "common/configuration.h"
#include "queries.h"
#include "runtime/local_executor.h"

namespace nexmark::testing {

/// Nexmark's watermarks (4 s behind the largest time seen), emitted after every event rather
/// than periodically: at parallelism 1 every run sees the same watermarks, so a test may rely
/// on an event being late or on a timer firing before the input ends.
inline brook::WatermarkStrategy<Event> watermarkAfterEachEvent() {
  class Generator final : public brook::WatermarkGenerator<Event> {
   public:
    void onEvent(const Event&, int64_t timestamp, brook::WatermarkOutput& output) override {
      maxTimestamp_ = std::max(maxTimestamp_, timestamp);
      output.emitWatermark(maxTimestamp_ - 4000 - 1);
    }
    void onPeriodicEmit(brook::WatermarkOutput&) override {}

   private:
    int64_t maxTimestamp_ = INT64_MIN + 4000 + 1;
  };
  return brook::WatermarkStrategy<Event>::forGenerator([] { return std::make_unique<Generator>(); })
      .withTimestampAssigner([](const Event& event, int64_t) { return event.dateTime(); });
}

/// The lines query `name` writes for `events` (sources emit them in this order, split among
/// `parallelism` subtasks in contiguous runs), in the order they were written per subtask.
/// Events get their timestamps and watermarks from `watermarks` (the job's by default); keyed
/// state lives in `stateBackend` ("heap" or "rocksdb"). Fails the test when the job does not
/// finish.
inline std::vector<std::string> runQuery(
    const std::string& name,
    const std::vector<Event>& events,
    int parallelism = 1,
    brook::WatermarkStrategy<Event> watermarks = nexmarkWatermarks(),
    const std::string& stateBackend = "heap") {
  brook::Configuration config;
  config.set("parallelism.default", std::to_string(parallelism));
  config.set("state.backend.type", stateBackend);
  brook::StreamExecutionEnvironment env(config.values());
  env.setRuntimeMode(brook::RuntimeMode::kStreaming);
  brook::CollectSink<std::string> sink;
  auto stream = env.fromCollection(events).assignTimestampsAndWatermarks(std::move(watermarks));
  buildQuery(name, stream, QueryOutput::collect(sink));
  auto result = brook::runtime::executeLocally(env, config);
  EXPECT_TRUE(result.ok()) << result.status();
  if (result.ok()) {
    EXPECT_EQ(result->status, brook::runtime::JobStatus::kFinished) << result->failure;
  }
  return sink.values();
}

/// A bid on `auction`, with fixed channel and url.
inline Event bid(int64_t auction,
                 int64_t bidder,
                 int64_t price,
                 int64_t dateTime,
                 std::string extra = "x") {
  Bid b;
  b.auction = auction;
  b.bidder = bidder;
  b.price = price;
  b.channel = "Google";
  b.url = "https://www.nexmark.com/item.htm?query=1";
  b.dateTime = dateTime;
  b.extra = std::move(extra);
  return Event{std::move(b)};
}

/// A person from Portland, OR.
inline Event person(int64_t id, int64_t dateTime) {
  Person p;
  p.id = id;
  p.name = "Peter Smith";
  p.emailAddress = "peter@example.com";
  p.creditCard = "1234 5678 9012 3456";
  p.city = "Portland";
  p.state = "OR";
  p.dateTime = dateTime;
  return Event{std::move(p)};
}

/// An auction of seller 1 in category 10, open for a second.
inline Event auction(int64_t id, int64_t dateTime) {
  Auction a;
  a.id = id;
  a.itemName = "item";
  a.seller = 1;
  a.category = 10;
  a.dateTime = dateTime;
  a.expires = dateTime + 1000;
  return Event{std::move(a)};
}

/// `lines`, sorted: for queries whose rows come in no fixed order across keys.
inline std::vector<std::string> sorted(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace nexmark::testing
