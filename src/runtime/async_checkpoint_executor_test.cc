#include "runtime/async_checkpoint_executor.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace brook::runtime {
namespace {

using ::testing::ElementsAre;
using namespace std::chrono_literals;

TEST(AsyncCheckpointExecutorTest, RunsWorksInOrderOnItsOwnThreadAndDrains) {
  AsyncCheckpointExecutor executor("ckpt-test");
  std::mutex mutex;
  std::vector<int> ran;
  std::vector<std::thread::id> threads;
  for (int i = 0; i < 5; ++i) {
    executor.submit([&, i](const std::atomic<bool>& cancelled) {
      EXPECT_FALSE(cancelled.load());
      std::this_thread::sleep_for(2ms);
      std::lock_guard lock(mutex);
      ran.push_back(i);
      threads.push_back(std::this_thread::get_id());
    });
  }
  executor.drain(10s);
  EXPECT_EQ(executor.pending(), 0u);
  EXPECT_THAT(ran, ElementsAre(0, 1, 2, 3, 4));
  for (std::thread::id id : threads) {
    EXPECT_EQ(id, threads.front());
    EXPECT_NE(id, std::this_thread::get_id());
  }
}

TEST(AsyncCheckpointExecutorTest, CancellingSetsTheFlagForTheRunningAndTheQueuedWorks) {
  AsyncCheckpointExecutor executor("ckpt-test");
  std::atomic<bool> started{false};
  std::atomic<int> sawCancelled{0};
  executor.submit([&](const std::atomic<bool>& cancelled) {
    started.store(true);
    // A long write that checks the flag, as a StateFileStream does at every buffer.
    for (int i = 0; i < 10'000 && !cancelled.load(); ++i)
      std::this_thread::sleep_for(1ms);
    if (cancelled.load())
      ++sawCancelled;
  });
  executor.submit([&](const std::atomic<bool>& cancelled) {
    if (cancelled.load())
      ++sawCancelled;
  });
  while (!started.load())
    std::this_thread::sleep_for(1ms);
  const auto before = std::chrono::steady_clock::now();
  executor.cancelAndDrain();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
  EXPECT_EQ(sawCancelled.load(), 2);
  EXPECT_EQ(executor.pending(), 0u);
}

TEST(AsyncCheckpointExecutorTest, ADrainThatTimesOutCancelsWhatIsLeft) {
  AsyncCheckpointExecutor executor("ckpt-test");
  std::atomic<bool> sawCancelled{false};
  executor.submit([&](const std::atomic<bool>& cancelled) {
    while (!cancelled.load())
      std::this_thread::sleep_for(1ms);
    sawCancelled.store(true);
  });
  executor.drain(50ms);
  EXPECT_TRUE(sawCancelled.load());
  EXPECT_EQ(executor.pending(), 0u);
}

TEST(AsyncCheckpointExecutorTest, AWorkThatThrowsDoesNotStopTheOthers) {
  AsyncCheckpointExecutor executor("ckpt-test");
  std::atomic<int> ran{0};
  executor.submit([](const std::atomic<bool>&) { throw std::runtime_error("disk on fire"); });
  executor.submit([&](const std::atomic<bool>&) { ++ran; });
  executor.drain(10s);
  EXPECT_EQ(ran.load(), 1);
}

TEST(AsyncCheckpointExecutorTest, DestroyingWithoutDrainingWaitsForTheWork) {
  std::atomic<bool> finished{false};
  {
    AsyncCheckpointExecutor executor("ckpt-test");
    executor.submit([&](const std::atomic<bool>&) {
      std::this_thread::sleep_for(20ms);
      finished.store(true);
    });
  }
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace brook::runtime
