#include "runtime/network/network_environment.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include "common/logging.h"
#include "runtime/input_gate.h"
#include "runtime/mailbox.h"
#include "runtime/network/frame.h"
#include "runtime/record_writer.h"

namespace brook::runtime::network {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

NetworkEnvironment::Options testOptions() {
  NetworkEnvironment::Options options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.stallTimeout = 5000ms;
  return options;
}

// Waits for `condition` until `timeout`; true if it came true.
bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline)
      return false;
    std::this_thread::yield();
  }
  return true;
}

// Writes `count` 8-byte records numbered from 0 into `partition` with round-robin
// partitioning, then end-of-partition; stops quietly when `cancelled` is set.
void produce(ResultPartition* partition,
             int64_t count,
             const std::atomic<bool>* cancelled,
             PartitionerKind partitioner = PartitionerKind::kRebalance) {
  ChannelRecordWriter::Options options;
  options.partitioner = partitioner;
  ChannelRecordWriter writer(partition, cancelled, options);
  try {
    for (int64_t i = 0; i < count; ++i)
      writer.emit(std::string_view(reinterpret_cast<const char*>(&i), sizeof(i)), kNoTimestamp);
    writer.endOfPartition();
  } catch (const TaskCancelledError&) {
  }
}

// A consumer task's input side: one gate over one remote channel.
class Consumer {
 public:
  explicit Consumer(RemoteInputChannel* channel) : gate_(&mailbox_), deserializer_("test") {
    gate_.addChannel(channel->subpartition(), 0);
  }

  // Reads until end-of-partition, `stop`, or the deadline; calls `onRecord` with each value.
  // Returns true once end-of-partition was read.
  bool readAll(const std::function<void(int64_t)>& onRecord,
               std::chrono::milliseconds timeout,
               const std::atomic<bool>* stop = nullptr) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (stop != nullptr && stop->load())
        return false;
      int channel = -1;
      Buffer* buffer = gate_.pollNext(channel);
      if (buffer == nullptr) {
        mailbox_.waitUntil(std::min(deadline, Clock::now() + 50ms));
        continue;
      }
      deserializer_.setBuffer(buffer);
      StreamElement e;
      while (deserializer_.next(e)) {
        if (e.kind == ElementKind::kEndOfPartition) {
          deserializer_.setBuffer(nullptr);
          return true;
        }
        int64_t value;
        std::memcpy(&value, e.payload.data(), sizeof(value));
        onRecord(value);
      }
    }
    return false;
  }

  // Recycles the buffer the deserializer holds.
  void release() { deserializer_.setBuffer(nullptr); }

 private:
  Mailbox mailbox_;
  InputGate gate_;
  ElementDeserializer deserializer_;
};

class NetworkEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(producerEnv_.start().ok());
    ASSERT_TRUE(consumerEnv_.start().ok());
  }

  // Partitions outlive the environments that serve them.
  ResultPartition& newPartition(int subpartitions, int buffers) {
    partitions_.push_back(std::make_unique<ResultPartition>(subpartitions, buffers, 32 * 1024));
    return *partitions_.back();
  }

  std::vector<std::unique_ptr<ResultPartition>> partitions_;
  NetworkEnvironment producerEnv_{testOptions()};
  NetworkEnvironment consumerEnv_{testOptions()};
};

TEST_F(NetworkEnvironmentTest, TransfersMillionRecordsInOrderToTwoConsumers) {
  constexpr int64_t kRecords = 1'000'000;
  ResultPartition& partition = newPartition(2, 2 * 2 + 8);
  ASSERT_TRUE(producerEnv_.registerSubpartition("job/edge/0/0", &partition.subpartition(0)).ok());
  ASSERT_TRUE(producerEnv_.registerSubpartition("job/edge/0/1", &partition.subpartition(1)).ok());
  auto c0 = consumerEnv_.createInputChannel("127.0.0.1", producerEnv_.port(), "job/edge/0/0");
  auto c1 = consumerEnv_.createInputChannel("127.0.0.1", producerEnv_.port(), "job/edge/0/1");
  ASSERT_TRUE(c0.ok()) << c0.status();
  ASSERT_TRUE(c1.ok()) << c1.status();

  auto start = Clock::now();
  std::atomic<bool> cancelled{false};
  std::jthread producer([&] { produce(&partition, kRecords, &cancelled); });
  std::vector<int64_t> next = {0, 1};
  std::vector<int64_t> mismatches = {0, 0};
  std::vector<bool> ended = {false, false};
  std::vector<std::jthread> consumers;
  for (int c = 0; c < 2; ++c) {
    consumers.emplace_back([&, c] {
      Consumer consumer(c == 0 ? *c0 : *c1);
      ended[c] = consumer.readAll(
          [&](int64_t v) {
            if (v != next[c])
              ++mismatches[c];
            next[c] = v + 2;
          },
          60000ms);
    });
  }
  consumers.clear();
  producer.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  for (int c = 0; c < 2; ++c) {
    EXPECT_TRUE(ended[c]) << "consumer " << c;
    EXPECT_EQ(mismatches[c], 0) << "consumer " << c;
    EXPECT_EQ(next[c], kRecords + c) << "consumer " << c;
  }
  EXPECT_EQ(consumerEnv_.numberOfOpenConnections(), 1);
  EXPECT_EQ(producerEnv_.numberOfOpenConnections(), 1);
  std::vector<ConnectionStats> received = consumerEnv_.connectionStats();
  std::vector<ConnectionStats> sent = producerEnv_.connectionStats();
  ASSERT_EQ(received.size(), 1u);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(received[0].peer, producerEnv_.address());
  EXPECT_EQ(sent[0].peer, consumerEnv_.address());
  EXPECT_GT(received[0].bytesReceived, static_cast<uint64_t>(kRecords) * 13);
  EXPECT_EQ(received[0].buffersReceived, sent[0].buffersSent);
  EXPECT_GT(sent[0].bytesSent, static_cast<uint64_t>(kRecords) * 13);
  double megabytes = static_cast<double>(received[0].bytesReceived) / 1e6;
  std::printf("loopback transfer: %.0f MB/s, %.0f records/s (%.2f s)\n", megabytes / seconds,
              static_cast<double>(kRecords) / seconds, seconds);
}

TEST_F(NetworkEnvironmentTest, SlowConsumerStallsOnlyItsProducer) {
  constexpr int64_t kRecords = 200'000;
  ResultPartition& fastPartition = newPartition(1, 4);
  ResultPartition& slowPartition = newPartition(1, 4);
  ASSERT_TRUE(producerEnv_.registerSubpartition("fast", &fastPartition.subpartition(0)).ok());
  ASSERT_TRUE(producerEnv_.registerSubpartition("slow", &slowPartition.subpartition(0)).ok());
  auto fast = consumerEnv_.createInputChannel("127.0.0.1", producerEnv_.port(), "fast");
  auto slow = consumerEnv_.createInputChannel("127.0.0.1", producerEnv_.port(), "slow");
  ASSERT_TRUE(fast.ok() && slow.ok());

  std::atomic<bool> cancelled{false};
  std::atomic<bool> slowProducerDone{false};
  std::jthread slowProducer([&] {
    produce(&slowPartition, kRecords, &cancelled, PartitionerKind::kForward);
    slowProducerDone = true;
  });
  std::jthread fastProducer(
      [&] { produce(&fastPartition, kRecords, &cancelled, PartitionerKind::kForward); });

  // The slow consumer reads nothing yet; the fast one reads everything over the same connection.
  Consumer fastConsumer(*fast);
  int64_t fastCount = 0;
  EXPECT_TRUE(fastConsumer.readAll([&](int64_t) { ++fastCount; }, 30000ms));
  EXPECT_EQ(fastCount, kRecords);
  fastProducer.join();

  // The slow channel got exactly its credit's worth, and its producer is stuck on its pool.
  EXPECT_TRUE(waitFor([&] { return (*slow)->buffersReceived() == 2; }, 5000ms));
  EXPECT_FALSE(slowProducerDone.load());
  EXPECT_EQ((*slow)->availableBuffers(), 0);
  EXPECT_EQ(slowPartition.pool().availableBuffers(), 0);
  EXPECT_EQ(consumerEnv_.numberOfOpenConnections(), 1);

  Consumer slowConsumer(*slow);
  int64_t slowCount = 0;
  EXPECT_TRUE(slowConsumer.readAll([&](int64_t) { ++slowCount; }, 30000ms));
  EXPECT_EQ(slowCount, kRecords);
  slowProducer.join();
  EXPECT_TRUE(slowProducerDone.load());
}

TEST_F(NetworkEnvironmentTest, FloatingBuffersFollowTheProducersBacklog) {
  constexpr int64_t kRecords = 200'000;
  const int kFloating = NetworkEnvironment::Options().floatingBuffersPerGate;
  // Room for the producer to queue more than the consumer may take.
  ResultPartition& partition = newPartition(1, 2 * (2 + kFloating));
  ASSERT_TRUE(producerEnv_.registerSubpartition("busy", &partition.subpartition(0)).ok());
  std::shared_ptr<FloatingBufferPool> floating = consumerEnv_.createFloatingBufferPool();
  ASSERT_EQ(floating->numberOfBuffers(), kFloating);
  auto channel =
      consumerEnv_.createInputChannel("127.0.0.1", producerEnv_.port(), "busy", floating);
  ASSERT_TRUE(channel.ok()) << channel.status();

  std::atomic<bool> cancelled{false};
  std::jthread producer(
      [&] { produce(&partition, kRecords, &cancelled, PartitionerKind::kForward); });
  // Nobody reads: the producer's backlog makes the channel borrow the whole floating pool, and
  // it receives its exclusive and floating buffers' worth, no more.
  EXPECT_TRUE(waitFor([&] { return (*channel)->buffersReceived() == 2 + kFloating; }, 5000ms));
  EXPECT_EQ(floating->availableBuffers(), 0);
  EXPECT_EQ((*channel)->availableBuffers(), 0);

  Consumer consumer(*channel);
  int64_t next = 0;
  int64_t mismatches = 0;
  EXPECT_TRUE(consumer.readAll(
      [&](int64_t v) {
        if (v != next)
          ++mismatches;
        next = v + 1;
      },
      30000ms));
  producer.join();
  EXPECT_EQ(next, kRecords);
  EXPECT_EQ(mismatches, 0);
  // A buffer beyond the credit would have failed the connection, and so the channel.
  EXPECT_TRUE((*channel)->status().ok());

  // Released, the channel gives back what it borrowed for credit that was never used.
  consumer.release();
  consumerEnv_.releaseInputChannel(*channel);
  EXPECT_EQ((*channel)->reservedFloatingBuffers(), 0);
  EXPECT_EQ(floating->availableBuffers(), floating->numberOfBuffers());
}

// An unaligned checkpoint's barrier crosses the connection as a PRIORITY_BUFFER ahead of the
// data it overtook at the producer, and arrives marked as a priority buffer.
TEST_F(NetworkEnvironmentTest, APriorityBufferCrossesAheadOfTheDataItOvertook) {
  ResultPartition& partition = newPartition(1, 16);
  std::atomic<bool> cancelled{false};
  ChannelRecordWriter::Options options;
  options.partitioner = PartitionerKind::kForward;
  ChannelRecordWriter writer(&partition, &cancelled, options);
  for (int64_t i = 0; i < 10; ++i)
    writer.emit(std::string_view(reinterpret_cast<const char*>(&i), sizeof(i)), kNoTimestamp);
  std::vector<std::string> overtaken = writer.broadcastPriorityBarrier(5, 77);
  ASSERT_EQ(overtaken.size(), 1u);
  EXPECT_EQ(overtaken[0].size(), 10u * (5 + 8));
  writer.endOfPartition();
  ASSERT_TRUE(producerEnv_.registerSubpartition("priority", &partition.subpartition(0)).ok());
  auto channel = consumerEnv_.createInputChannel("127.0.0.1", producerEnv_.port(), "priority");
  ASSERT_TRUE(channel.ok()) << channel.status();

  Mailbox mailbox;
  InputGate gate(&mailbox);
  gate.addChannel((*channel)->subpartition(), 0);
  auto next = [&]() -> Buffer* {
    auto deadline = Clock::now() + 10000ms;
    while (Clock::now() < deadline) {
      int index = -1;
      if (Buffer* b = gate.pollNext(index))
        return b;
      mailbox.waitUntil(Clock::now() + 20ms);
    }
    return nullptr;
  };
  Buffer* first = next();
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(first->priority);
  ASSERT_EQ(first->size, kBarrierElementSize);
  int64_t id = 0;
  std::memcpy(&id, first->data + 1, 8);
  EXPECT_EQ(id, 5);
  recycleBuffer(first);

  ElementDeserializer deserializer("test");
  std::vector<int64_t> values;
  bool ended = false;
  while (!ended) {
    Buffer* b = next();
    ASSERT_NE(b, nullptr);
    EXPECT_FALSE(b->priority);
    deserializer.setBuffer(b);
    StreamElement e;
    while (deserializer.next(e)) {
      if (e.kind == ElementKind::kEndOfPartition) {
        ended = true;
        continue;
      }
      int64_t value;
      std::memcpy(&value, e.payload.data(), sizeof(value));
      values.push_back(value);
    }
  }
  deserializer.setBuffer(nullptr);
  EXPECT_EQ(values, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_F(NetworkEnvironmentTest, UnknownSubpartitionFailsOnlyThatChannel) {
  ResultPartition& partition = newPartition(1, 4);
  ASSERT_TRUE(producerEnv_.registerSubpartition("known", &partition.subpartition(0)).ok());
  auto unknown = consumerEnv_.createInputChannel("127.0.0.1", producerEnv_.port(), "unknown");
  auto known = consumerEnv_.createInputChannel("127.0.0.1", producerEnv_.port(), "known");
  ASSERT_TRUE(unknown.ok() && known.ok());
  EXPECT_TRUE(waitFor([&] { return !(*unknown)->status().ok(); }, 5000ms));
  EXPECT_NE((*unknown)->status().message().find("not registered"), std::string::npos);

  std::atomic<bool> cancelled{false};
  std::jthread producer([&] { produce(&partition, 1000, &cancelled, PartitionerKind::kForward); });
  Consumer consumer(*known);
  int64_t count = 0;
  EXPECT_TRUE(consumer.readAll([&](int64_t) { ++count; }, 10000ms));
  EXPECT_EQ(count, 1000);
  EXPECT_TRUE((*known)->status().ok());
}

// Captures what the "network" logger writes while it lives.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_)) {
    getLogger("network")->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = getLogger("network")->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::string text() {
    sink_->flush();
    return stream_.str();
  }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST(NetworkEnvironmentMalformedInputTest,
     ClosesConnectionsThatSendMalformedFramesAndKeepsServing) {
  LogCapture logs;
  ResultPartition partition(1, 4, 32 * 1024);
  NetworkEnvironment producerEnv(testOptions());
  NetworkEnvironment consumerEnv(testOptions());
  ASSERT_TRUE(producerEnv.start().ok());
  ASSERT_TRUE(consumerEnv.start().ok());

  std::string badVersion = encodeClose();
  badVersion[4] = 9;
  std::string hugeBuffer(kFrameHeaderSize, '\0');
  encodeFrameHeader(FrameHeader{FrameKind::kBuffer, 1, 0xFFFFFF00u}, hugeBuffer.data());
  std::string unknownKind = encodeClose();
  unknownKind[5] = 42;
  std::string unknownChannel(kFrameHeaderSize, '\0');
  encodeFrameHeader(FrameHeader{FrameKind::kBuffer, 77, 4}, unknownChannel.data());
  unknownChannel = encodeHello("127.0.0.1:1") + unknownChannel + "abcd";
  std::string unknownCredit = encodeAddCredit(5, 1);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "bad frame magic"},
      {badVersion, "unsupported protocol version 9"},
      {hugeBuffer, "exceeds"},
      {unknownKind, "unknown frame kind 42"},
      {unknownChannel, "BUFFER for unknown channel 77"},
      {unknownCredit, "ADD_CREDIT for unknown channel 5"},
  };
  for (const auto& [bytes, expected] : cases) {
    absl::StatusOr<Socket> socket = Socket::connect("127.0.0.1", producerEnv.port(), 5000ms);
    ASSERT_TRUE(socket.ok()) << socket.status();
    std::atomic<bool> stop{false};
    std::string copy = bytes;
    iovec iov{copy.data(), copy.size()};
    ASSERT_TRUE(socket->writeFully(&iov, 1, stop, 5000ms).ok());
    // The environment closes the connection: the next read sees the end of the stream.
    char byte;
    absl::Status read = socket->readFully(&byte, 1, false, stop, 5000ms);
    EXPECT_TRUE(absl::IsUnavailable(read)) << expected << ": " << read;
  }

  // The environment still serves well-behaved peers.
  ASSERT_TRUE(producerEnv.registerSubpartition("p", &partition.subpartition(0)).ok());
  auto channel = consumerEnv.createInputChannel("127.0.0.1", producerEnv.port(), "p");
  ASSERT_TRUE(channel.ok());
  std::atomic<bool> cancelled{false};
  std::jthread producer([&] { produce(&partition, 5000, &cancelled, PartitionerKind::kForward); });
  Consumer consumer(*channel);
  int64_t count = 0;
  EXPECT_TRUE(consumer.readAll([&](int64_t) { ++count; }, 10000ms));
  EXPECT_EQ(count, 5000);
  EXPECT_TRUE(waitFor([&] { return producerEnv.numberOfOpenConnections() == 1; }, 5000ms));

  consumerEnv.stop();
  producerEnv.stop();
  std::string text = logs.text();
  for (const auto& [bytes, expected] : cases)
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
}

TEST(NetworkEnvironmentStopTest, StopDuringTransfersReturnsPromptlyAndReleasesBuffers) {
  ResultPartition partition(2, 12, 32 * 1024);
  NetworkEnvironment producerEnv(testOptions());
  NetworkEnvironment consumerEnv(testOptions());
  ASSERT_TRUE(producerEnv.start().ok());
  ASSERT_TRUE(consumerEnv.start().ok());
  ASSERT_TRUE(producerEnv.registerSubpartition("a", &partition.subpartition(0)).ok());
  ASSERT_TRUE(producerEnv.registerSubpartition("b", &partition.subpartition(1)).ok());
  auto reading = consumerEnv.createInputChannel("127.0.0.1", producerEnv.port(), "a");
  auto idle = consumerEnv.createInputChannel("127.0.0.1", producerEnv.port(), "b");
  ASSERT_TRUE(reading.ok() && idle.ok());

  std::atomic<bool> cancelled{false};
  std::jthread producer(
      [&] { produce(&partition, std::numeric_limits<int64_t>::max(), &cancelled); });
  std::atomic<bool> stopConsumer{false};
  std::jthread consumer([&] {
    Consumer c(*reading);
    c.readAll([](int64_t) {}, 60000ms, &stopConsumer);
    c.release();
  });
  // Transfers are in flight: the idle channel holds its credit's worth, the producer waits for
  // buffers that the idle channel's backlog holds, and the other channel has flowed.
  ASSERT_TRUE(waitFor(
      [&] {
        return (*idle)->buffersReceived() == 2 && (*reading)->buffersReceived() > 2 &&
               partition.pool().availableBuffers() == 0;
      },
      10000ms));

  auto start = Clock::now();
  consumerEnv.stop();
  producerEnv.stop();
  auto elapsed = Clock::now() - start;
  EXPECT_LT(elapsed, 3s);
  EXPECT_EQ(consumerEnv.numberOfOpenConnections(), 0);

  stopConsumer = true;
  consumer.join();
  cancelled = true;
  producer.join();
  EXPECT_EQ((*reading)->availableBuffers(), (*reading)->exclusiveBuffers());
  EXPECT_EQ((*idle)->availableBuffers(), (*idle)->exclusiveBuffers());
  partition.releaseAll();
  EXPECT_EQ(partition.pool().availableBuffers(), partition.pool().numberOfBuffers());
}

}  // namespace
}  // namespace brook::runtime::network
