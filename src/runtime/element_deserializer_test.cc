#include <atomic>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <brook/operator.h>

#include "runtime/input_gate.h"
#include "runtime/record_writer.h"
#include "runtime/result_partition.h"

namespace brook::runtime {
namespace {

struct Decoded {
  ElementKind kind;
  int64_t timestamp;
  std::string payload;
};

// Drains subpartition 0 of `partition` through one deserializer.
std::vector<Decoded> drain(ResultPartition& partition) {
  std::vector<Decoded> out;
  ElementDeserializer deserializer("test channel");
  bool more = true;
  while (more) {
    Buffer* b = partition.subpartition(0).poll(more);
    if (b == nullptr)
      break;
    deserializer.setBuffer(b);
    StreamElement e;
    while (deserializer.next(e)) {
      // A barrier carries no payload; its checkpoint id stands in for one.
      std::string payload =
          e.kind == ElementKind::kBarrier ? std::to_string(e.checkpointId) : std::string(e.payload);
      // A watermark status carries no timestamp; its idleness (1 or 0) stands in for one.
      int64_t timestamp = e.kind == ElementKind::kWatermarkStatus ? (e.idle ? 1 : 0) : e.timestamp;
      out.push_back({e.kind, timestamp, payload});
    }
  }
  EXPECT_TRUE(deserializer.isEmpty());
  return out;
}

class ElementDeserializerTest : public ::testing::TestWithParam<int> {};

TEST_P(ElementDeserializerTest, RoundTripsElementsAcrossBufferBoundaries) {
  const int bufferSize = GetParam();
  ResultPartition partition(1, 4096, bufferSize);
  std::atomic<bool> cancelled{false};
  ChannelRecordWriter::Options options;
  options.partitioner = PartitionerKind::kForward;
  ChannelRecordWriter writer(&partition, &cancelled, options);

  std::vector<Decoded> expected;
  for (int i = 0; i < 200; ++i) {
    std::string payload(static_cast<size_t>(i * 7 % 97), static_cast<char>('a' + i % 26));
    int64_t ts = i % 3 == 0 ? kNoTimestamp : 1000 + i;
    writer.emit(payload, ts);
    expected.push_back(
        {ts == kNoTimestamp ? ElementKind::kRecord : ElementKind::kTimedRecord, ts, payload});
    if (i % 50 == 49) {
      writer.broadcastWatermark(i);
      expected.push_back({ElementKind::kWatermark, i, ""});
    }
    if (i % 60 == 59) {
      bool idle = i % 120 == 59;
      writer.broadcastWatermarkStatus(idle);
      expected.push_back({ElementKind::kWatermarkStatus, idle ? 1 : 0, ""});
    }
    if (i % 70 == 69) {
      writer.broadcastBarrier(i / 70 + 1, 5000 + i);
      expected.push_back({ElementKind::kBarrier, 5000 + i, std::to_string(i / 70 + 1)});
    }
  }
  writer.endOfPartition();
  expected.push_back({ElementKind::kEndOfPartition, 0, ""});

  auto decoded = drain(partition);
  ASSERT_EQ(decoded.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(decoded[i].kind, expected[i].kind) << "element " << i;
    if (expected[i].kind == ElementKind::kWatermarkStatus) {
      EXPECT_EQ(decoded[i].timestamp, expected[i].timestamp) << "element " << i;
    } else if (expected[i].kind != ElementKind::kEndOfPartition) {
      EXPECT_EQ(decoded[i].timestamp, expected[i].timestamp) << "element " << i;
    }
    EXPECT_EQ(decoded[i].payload, expected[i].payload) << "element " << i;
  }
  EXPECT_EQ(partition.pool().availableBuffers(), partition.pool().numberOfBuffers());
}

INSTANTIATE_TEST_SUITE_P(BufferSizes,
                         ElementDeserializerTest,
                         ::testing::Values(7, 16, 64, 1000, 32 * 1024));

TEST(ElementDeserializerTest, RecordLargerThanManyBuffers) {
  ResultPartition partition(1, 64, 1024);
  std::atomic<bool> cancelled{false};
  ChannelRecordWriter::Options options;
  options.partitioner = PartitionerKind::kForward;
  ChannelRecordWriter writer(&partition, &cancelled, options);
  std::string big(40 * 1024, 'x');
  big[12345] = 'y';
  writer.emit(big, 42);
  writer.endOfPartition();
  auto decoded = drain(partition);
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_EQ(decoded[0].payload, big);
  EXPECT_EQ(decoded[0].timestamp, 42);
}

TEST(ElementDeserializerTest, CorruptKindNamesTheChannel) {
  BufferPool pool(1, 64);
  std::atomic<bool> cancelled{false};
  Buffer* b = pool.request(cancelled);
  b->data[0] = 9;
  b->size = 1;
  ElementDeserializer deserializer("channel 3 of Map (1/2)#0");
  deserializer.setBuffer(b);
  StreamElement e;
  try {
    deserializer.next(e);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& err) {
    EXPECT_NE(std::string(err.what()).find("channel 3 of Map (1/2)#0"), std::string::npos);
    EXPECT_NE(std::string(err.what()).find("unknown element kind 9"), std::string::npos);
  }
}

TEST(ElementDeserializerTest, CorruptLengthIsRejected) {
  BufferPool pool(1, 64);
  std::atomic<bool> cancelled{false};
  Buffer* b = pool.request(cancelled);
  b->data[0] = static_cast<char>(ElementKind::kRecord);
  uint32_t length = 0xfffffff0u;
  std::memcpy(b->data + 1, &length, 4);
  b->size = 5;
  ElementDeserializer deserializer("channel 0");
  deserializer.setBuffer(b);
  StreamElement e;
  EXPECT_THROW(deserializer.next(e), std::runtime_error);
}

TEST(BufferPoolTest, RequestReturnsNullOnceCancelled) {
  BufferPool pool(1, 64);
  std::atomic<bool> cancelled{false};
  Buffer* b = pool.request(cancelled);
  ASSERT_NE(b, nullptr);
  cancelled = true;
  EXPECT_EQ(pool.request(cancelled), nullptr);
  pool.recycle(b);
  EXPECT_EQ(pool.availableBuffers(), 1);
}

TEST(RecordWriterTest, KeyedRecordsGoToTheOwnerOfTheirKeyGroup) {
  ResultPartition partition(3, 64, 1024);
  std::atomic<bool> cancelled{false};
  ChannelRecordWriter::Options options;
  options.partitioner = PartitionerKind::kKeyGroup;
  options.maxParallelism = 128;
  ChannelRecordWriter writer(&partition, &cancelled, options);
  // Same key, same channel, every time.
  for (int i = 0; i < 10; ++i)
    writer.emitKeyed("key-a", "v", kNoTimestamp);
  writer.flushAll();
  int nonEmpty = 0;
  for (int c = 0; c < 3; ++c) {
    bool more = false;
    Buffer* b = partition.subpartition(c).poll(more);
    if (b != nullptr) {
      ++nonEmpty;
      EXPECT_EQ(b->size, 10u * 6u);
      recycleBuffer(b);
    }
  }
  EXPECT_EQ(nonEmpty, 1);
}

}  // namespace
}  // namespace brook::runtime
