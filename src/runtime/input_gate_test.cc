// The order in which an InputGate hands out its channels' buffers.

#include "runtime/input_gate.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/buffer_pool.h"
#include "runtime/result_partition.h"

namespace brook::runtime {
namespace {

// A gate over `channels` subpartitions of one partition, whose buffers each carry the index of
// the channel and their sequence number on it.
class InputGateOrderTest : public ::testing::Test {
 protected:
  void connect(int channels) {
    partition_ = std::make_unique<ResultPartition>(channels, 256, 16);
    for (int c = 0; c < channels; ++c)
      gate_.addChannel(&partition_->subpartition(c), 0);
    sent_.assign(static_cast<size_t>(channels), 0);
  }

  void send(int channel, int buffers) {
    for (int i = 0; i < buffers; ++i) {
      Buffer* b = partition_->pool().tryRequest();
      ASSERT_NE(b, nullptr);
      const std::string label =
          std::to_string(channel) + ":" + std::to_string(sent_[static_cast<size_t>(channel)]++);
      std::memcpy(b->data, label.data(), label.size());
      b->size = static_cast<uint32_t>(label.size());
      partition_->subpartition(channel).add(b);
    }
  }

  // Polls until nothing is ready, reporting `times[channel]` after each buffer of the channel
  // (as the task does once it drained a buffer); returns the labels in poll order.
  std::vector<std::string> drain(const std::vector<int64_t>& times) {
    std::vector<std::string> order;
    int channel = -1;
    while (Buffer* b = gate_.pollNext(channel)) {
      order.emplace_back(b->data, b->size);
      recycleBuffer(b);
      gate_.setChannelTime(channel, times[static_cast<size_t>(channel)]);
    }
    return order;
  }

  Mailbox mailbox_;
  InputGate gate_{&mailbox_};
  std::unique_ptr<ResultPartition> partition_;
  std::vector<int> sent_;
};

TEST_F(InputGateOrderTest, PollsChannelsOfEqualTimesInTurn) {
  connect(3);
  send(0, 2);
  send(1, 2);
  send(2, 2);
  EXPECT_EQ(drain({7, 7, 7}), (std::vector<std::string>{"0:0", "1:0", "2:0", "0:1", "1:1", "2:1"}));
}

TEST_F(InputGateOrderTest, PollsTheChannelFurthestBehindFirst) {
  connect(3);
  send(0, 2);
  send(1, 2);
  send(2, 2);
  // Channel 2 has reached time 100, channel 1 time 200, channel 0 time 300.
  gate_.setChannelTime(0, 300);
  gate_.setChannelTime(1, 200);
  gate_.setChannelTime(2, 100);
  // Each channel stays at its time: the one behind goes first while it has data.
  EXPECT_EQ(drain({300, 200, 100}),
            (std::vector<std::string>{"2:0", "2:1", "1:0", "1:1", "0:0", "0:1"}));
}

TEST_F(InputGateOrderTest, ALaggingChannelCatchesUpThenTheyAlternate) {
  connect(2);
  send(0, 3);
  send(1, 6);
  gate_.setChannelTime(0, 5000);  // channel 0 ran ahead
  gate_.setChannelTime(1, 1000);
  // Every buffer advances its channel by 1000: channel 1 goes alone until it reaches 5000;
  // from there the two take turns (arrival order among equal times).
  std::vector<std::string> order;
  std::vector<int64_t> time = {5000, 1000};
  int channel = -1;
  while (Buffer* b = gate_.pollNext(channel)) {
    order.emplace_back(b->data, b->size);
    recycleBuffer(b);
    time[static_cast<size_t>(channel)] += 1000;
    gate_.setChannelTime(channel, time[static_cast<size_t>(channel)]);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"1:0", "1:1", "1:2", "1:3", "0:0", "1:4", "0:1", "1:5",
                                             "0:2"}));
}

TEST_F(InputGateOrderTest, NoChannelIsPassedOverMoreThanItsLimit) {
  connect(2);
  const int limit = gate_.maxBypasses();
  send(0, 3);
  send(1, limit + 5);
  gate_.setChannelTime(0, 1000);
  gate_.setChannelTime(1, 0);
  // Channel 1 stays behind for good; channel 0 still gets a turn after `limit` of its buffers.
  std::vector<std::string> order = drain({1000, 0});
  ASSERT_EQ(order.size(), static_cast<size_t>(limit + 8));
  std::vector<std::string> expected;
  for (int i = 0; i < limit; ++i)
    expected.push_back("1:" + std::to_string(i));
  expected.push_back("0:0");
  for (int i = limit; i < limit + 5; ++i)
    expected.push_back("1:" + std::to_string(i));
  expected.insert(expected.end(), {"0:1", "0:2"});
  EXPECT_EQ(order, expected);
}

TEST_F(InputGateOrderTest, SkipsABlockedChannelThatIsBehind) {
  connect(2);
  send(0, 2);
  send(1, 2);
  gate_.setChannelTime(0, 900);
  gate_.setChannelTime(1, 100);
  gate_.block(1);
  EXPECT_EQ(drain({900, 100}), (std::vector<std::string>{"0:0", "0:1"}));
  gate_.unblockAll();
  EXPECT_EQ(drain({900, 100}), (std::vector<std::string>{"1:0", "1:1"}));
}

}  // namespace
}  // namespace brook::runtime
