#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <brook/operator.h>

#include "runtime/input_gate.h"
#include "runtime/record_writer.h"
#include "runtime/result_partition.h"
#include "state/key_group.h"

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
      // A barrier carries no payload; its checkpoint id (and "s" for a savepoint's) stands in.
      std::string payload = e.kind == ElementKind::kBarrier
                                ? std::to_string(e.checkpointId) + (e.savepoint ? "s" : "")
                                : std::string(e.payload);
      // A watermark status carries no timestamp; its idleness (1 or 0) stands in for one.
      int64_t timestamp = e.kind == ElementKind::kWatermarkStatus ? (e.idle ? 1 : 0) : e.timestamp;
      out.push_back({e.kind, timestamp, payload});
    }
  }
  EXPECT_TRUE(deserializer.isEmpty());
  return out;
}

// Serializes a std::string payload as its bare bytes, in pieces of up to five bytes with a
// varint or a single byte now and then, so that a record in a buffer's free part runs out of room
// in the middle of any kind of write.
void writePayloadInPieces(const void* record, DataOutput& out) {
  const auto& payload = *static_cast<const std::string*>(record);
  size_t i = 0;
  while (i < payload.size()) {
    auto byte = static_cast<unsigned char>(payload[i]);
    if (i % 11 == 3 && byte < 0x80) {
      out.writeVarUint(byte);
      ++i;
    } else if (i % 7 == 1) {
      out.writeRaw(payload[i]);
      ++i;
    } else {
      size_t n = std::min<size_t>(5, payload.size() - i);
      out.writeBytes(payload.data() + i, n);
      i += n;
    }
  }
}

// A typed record that serializes as writePayloadInPieces does its payload, so that emitRecord()
// (inline, through the writer's lanes) sends what emitSerialized() sends.
struct PiecesRecord {
  std::string payload;
};
// A typed record whose serializer writes part of it and then throws.
struct ThrowingRecord {
  std::string payload;
};

}  // namespace
}  // namespace brook::runtime

template <>
struct brook::TypeSerializer<brook::runtime::PiecesRecord> {
  static void serialize(const brook::runtime::PiecesRecord& record, DataOutput& out) {
    brook::runtime::writePayloadInPieces(&record.payload, out);
  }
  static void deserialize(DataInput&, brook::runtime::PiecesRecord&) {}
};

template <>
struct brook::TypeSerializer<brook::runtime::ThrowingRecord> {
  static void serialize(const brook::runtime::ThrowingRecord& record, DataOutput& out) {
    brook::runtime::writePayloadInPieces(&record.payload, out);
    throw SerializationError("cannot serialize");
  }
  static void deserialize(DataInput&, brook::runtime::ThrowingRecord&) {}
};

namespace brook::runtime {
namespace {

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
    // A third of the records are serialized straight into the writer's buffer, a third into
    // its lane from the typed output.
    if (i % 3 == 0)
      writer.emit(payload, ts);
    else if (i % 3 == 1)
      writer.emitSerialized(&writePayloadInPieces, &payload, ts);
    else
      writer.emitRecord(PiecesRecord{payload}, ts);
    if (i % 45 == 44)
      writer.flushAll();  // the buffer timeout
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
      // Every other one a savepoint's.
      const int64_t id = i / 70 + 1;
      writer.broadcastBarrier(id, 5000 + i, id % 2 == 0);
      expected.push_back(
          {ElementKind::kBarrier, 5000 + i, std::to_string(id) + (id % 2 == 0 ? "s" : "")});
    }
  }
  EXPECT_EQ(writer.recordsOut(), 200);
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

// An unaligned barrier overtakes the queued buffers, whatever element the consumer is in the
// middle of: the consumer's unconsumed bytes, then the overtaken bytes (sent again by the
// restored producer), then what the producer writes after the restore, decode to the elements
// the consumer had not read, in order.
TEST_P(ElementDeserializerTest, AStreamSplitByAnUnalignedBarrierReassemblesAfterARestore) {
  const int bufferSize = GetParam();
  std::atomic<bool> cancelled{false};
  ChannelRecordWriter::Options options;
  options.partitioner = PartitionerKind::kForward;
  auto payloadOf = [](int i) {
    return std::string(static_cast<size_t>(i * 13 % 101), static_cast<char>('a' + i % 26));
  };
  for (int consumedBuffers : {0, 1, 3, 7}) {
    SCOPED_TRACE("consumed buffers " + std::to_string(consumedBuffers));
    ResultPartition before(1, 4096, bufferSize);
    ChannelRecordWriter writer(&before, &cancelled, options);
    for (int i = 0; i < 60; ++i) {
      if (i % 3 == 0)
        writer.emitRecord(PiecesRecord{payloadOf(i)}, i % 2 == 0 ? kNoTimestamp : 100 + i);
      else
        writer.emit(payloadOf(i), i % 2 == 0 ? kNoTimestamp : 100 + i);
    }
    writer.broadcastWatermark(5000);
    writer.flushAll();
    // Left in the writer's partly filled buffer, written there through its lane.
    writer.emitRecord(PiecesRecord{payloadOf(60)}, kNoTimestamp);

    std::vector<std::string> decoded;
    ElementDeserializer consumer("test channel");
    auto decodeAll = [&decoded](ElementDeserializer& d) {
      StreamElement e;
      while (d.next(e)) {
        decoded.push_back(e.kind == ElementKind::kWatermark ? "wm" + std::to_string(e.timestamp)
                                                            : std::string(e.payload));
      }
    };
    for (int b = 0; b < consumedBuffers; ++b) {
      bool more = false;
      Buffer* buffer = before.subpartition(0).poll(more);
      if (buffer == nullptr)
        break;  // large buffers: all of it was consumed
      consumer.setBuffer(buffer);
      decodeAll(consumer);
    }

    std::vector<std::string> overtaken = writer.broadcastPriorityBarrier(9, 1234);
    ASSERT_EQ(overtaken.size(), 1u);
    bool more = false;
    Buffer* barrier = before.subpartition(0).poll(more);
    ASSERT_NE(barrier, nullptr);
    EXPECT_TRUE(barrier->priority);
    ASSERT_EQ(barrier->size, kBarrierElementSize);
    EXPECT_EQ(barrier->data[0], static_cast<char>(ElementKind::kBarrier));
    int64_t id = 0;
    std::memcpy(&id, barrier->data + 1, 8);
    EXPECT_EQ(id, 9);
    recycleBuffer(barrier);
    const std::string unconsumed = consumer.unconsumedBytes();

    // The restore: the consumer's recovered input, then the producer's recovered output and
    // new elements.
    ResultPartition after(1, 4096, bufferSize);
    ChannelRecordWriter restored(&after, &cancelled, options);
    restored.writeRecoveredOutput(0, overtaken[0]);
    for (int i = 61; i < 70; ++i)
      restored.emit(payloadOf(i), kNoTimestamp);
    restored.flushAll();
    ElementDeserializer recovered("recovered channel");
    Buffer* input = allocateUnpooledBuffer(static_cast<uint32_t>(unconsumed.size()));
    std::memcpy(input->data, unconsumed.data(), unconsumed.size());
    input->size = static_cast<uint32_t>(unconsumed.size());
    recovered.setBuffer(input);
    decodeAll(recovered);
    while (Buffer* buffer = after.subpartition(0).poll(more)) {
      recovered.setBuffer(buffer);
      decodeAll(recovered);
    }
    EXPECT_TRUE(recovered.isEmpty());

    std::vector<std::string> expected;
    for (int i = 0; i < 60; ++i)
      expected.push_back(payloadOf(i));
    expected.push_back("wm5000");
    for (int i = 60; i < 70; ++i)
      expected.push_back(payloadOf(i));
    EXPECT_EQ(decoded, expected);
    before.releaseAll();
  }
}

TEST(ResultSubpartitionTest, PriorityBuffersGoAheadOfDataAndBehindEarlierPriorityBuffers) {
  BufferPool pool(8, 16);
  std::atomic<bool> cancelled{false};
  ResultSubpartition subpartition;
  auto data = [&](char c) {
    Buffer* b = pool.request(cancelled);
    b->data[0] = c;
    b->size = 1;
    return b;
  };
  auto priority = [&](char c) {
    Buffer* b = allocateUnpooledBuffer(1);
    b->data[0] = c;
    b->size = 1;
    b->priority = true;
    return b;
  };
  subpartition.add(data('a'));
  subpartition.add(data('b'));
  std::string overtaken;
  subpartition.addPriority(priority('X'), overtaken);
  EXPECT_EQ(overtaken, "ab");
  subpartition.add(data('c'));
  std::string second;
  subpartition.addPriority(priority('Y'), second);
  EXPECT_EQ(second, "abc");
  std::string order;
  bool more = true;
  while (Buffer* b = subpartition.poll(more)) {
    order.push_back(b->data[0]);
    recycleBuffer(b);
  }
  EXPECT_EQ(order, "XYabc");
  EXPECT_EQ(pool.availableBuffers(), 8);
}

TEST(ResultSubpartitionTest, ATimeoutableBarrierWaitsInLineUntilConvertedAheadOfTheDataBeforeIt) {
  ResultPartition partition(1, 16, 64);
  std::atomic<bool> cancelled{false};
  ChannelRecordWriter::Options options;
  options.partitioner = PartitionerKind::kForward;
  ChannelRecordWriter writer(&partition, &cancelled, options);
  writer.emit("before", kNoTimestamp);
  writer.broadcastTimeoutableBarrier(4, 99);
  writer.emit("after", kNoTimestamp);
  writer.flushAll();
  ResultSubpartition& queue = partition.subpartition(0);
  std::string overtaken;
  EXPECT_EQ(queue.timeoutableBarrier(4, false, overtaken),
            ResultSubpartition::BarrierState::kQueued);
  EXPECT_EQ(queue.timeoutableBarrier(3, true, overtaken),
            ResultSubpartition::BarrierState::kConsumed);
  EXPECT_TRUE(overtaken.empty());
  EXPECT_EQ(queue.timeoutableBarrier(4, true, overtaken),
            ResultSubpartition::BarrierState::kConverted);
  // Only "before" (its 5-byte header and 6 bytes) was overtaken; "after" stays behind.
  EXPECT_EQ(overtaken.size(), 11u);
  EXPECT_EQ(overtaken.substr(5), "before");
  bool more = false;
  Buffer* barrier = queue.poll(more);
  ASSERT_NE(barrier, nullptr);
  EXPECT_TRUE(barrier->priority);
  EXPECT_EQ(barrier->data[0], static_cast<char>(ElementKind::kBarrier));
  recycleBuffer(barrier);
  EXPECT_EQ(queue.timeoutableBarrier(4, true, overtaken),
            ResultSubpartition::BarrierState::kConsumed);

  // Unconverted, it is read in line as a barrier that may turn unaligned.
  writer.broadcastTimeoutableBarrier(5, 123);
  std::vector<StreamElement> elements;
  ElementDeserializer deserializer("test channel");
  while (Buffer* b = queue.poll(more)) {
    deserializer.setBuffer(b);
    StreamElement e;
    while (deserializer.next(e))
      elements.push_back(e);
  }
  ASSERT_EQ(elements.size(), 3u);  // before, after, the barrier
  EXPECT_EQ(elements[2].kind, ElementKind::kBarrier);
  EXPECT_TRUE(elements[2].timeoutable);
  EXPECT_EQ(elements[2].checkpointId, 5);
  EXPECT_EQ(elements[2].timestamp, 123);
}

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

// Records serialized into the writer's buffers reach the channels their partitioner picks: every
// channel for broadcast, the owner of the key group for keyed records, the one asked for with
// emitTo, and the channels in turn for rebalance; each arrives whole, with its timestamp.
TEST(RecordWriterTest, SerializedRecordsReachTheChannelsOfTheirPartitioner) {
  constexpr int kChannels = 3;
  auto channelContents = [](ResultPartition& partition, int channel) {
    std::vector<std::string> records;
    ElementDeserializer deserializer("test channel");
    bool more = true;
    while (more) {
      Buffer* b = partition.subpartition(channel).poll(more);
      if (b == nullptr)
        break;
      deserializer.setBuffer(b);
      StreamElement e;
      while (deserializer.next(e)) {
        if (e.kind == ElementKind::kEndOfPartition)
          continue;
        EXPECT_EQ(e.timestamp, e.kind == ElementKind::kTimedRecord ? 77 : kNoTimestamp);
        records.emplace_back(e.payload);
      }
    }
    return records;
  };
  std::atomic<bool> cancelled{false};
  const std::vector<std::string> payloads = {"", "one", std::string(40, 'x'), std::string(300, 'y'),
                                             "five"};

  // Typed: from a task's typed output, through the writer's lanes where it has them.
  const std::vector<std::pair<PartitionerKind, bool>> runs = {
      {PartitionerKind::kBroadcast, false}, {PartitionerKind::kRebalance, false},
      {PartitionerKind::kKeyGroup, false},  {PartitionerKind::kBroadcast, true},
      {PartitionerKind::kRebalance, true},  {PartitionerKind::kKeyGroup, true}};
  for (auto [kind, typed] : runs) {
    SCOPED_TRACE(std::to_string(static_cast<int>(kind)) + (typed ? " typed" : ""));
    ResultPartition partition(kChannels, 256, 64);
    ChannelRecordWriter::Options options;
    options.partitioner = kind;
    ChannelRecordWriter writer(&partition, &cancelled, options);
    for (size_t i = 0; i < payloads.size(); ++i) {
      int64_t ts = i % 2 == 0 ? kNoTimestamp : 77;
      if (kind == PartitionerKind::kKeyGroup && typed)
        writer.emitKeyedRecord("key-a", PiecesRecord{payloads[i]}, ts);
      else if (kind == PartitionerKind::kKeyGroup)
        writer.emitKeyedSerialized("key-a", &writePayloadInPieces, &payloads[i], ts);
      else if (typed)
        writer.emitRecord(PiecesRecord{payloads[i]}, ts);
      else
        writer.emitSerialized(&writePayloadInPieces, &payloads[i], ts);
    }
    if (typed)
      writer.emitRecordTo(2, PiecesRecord{payloads[1]}, kNoTimestamp);
    else
      writer.emitToSerialized(2, &writePayloadInPieces, &payloads[1], kNoTimestamp);
    writer.endOfPartition();

    std::vector<std::vector<std::string>> expected(kChannels);
    for (size_t i = 0; i < payloads.size(); ++i) {
      if (kind == PartitionerKind::kBroadcast) {
        for (auto& channel : expected)
          channel.push_back(payloads[i]);
      } else if (kind == PartitionerKind::kRebalance) {
        expected[i % kChannels].push_back(payloads[i]);
      } else {
        int keyGroup = state::keyGroupFor("key-a", options.maxParallelism);
        expected[static_cast<size_t>(
                     state::operatorIndexForKeyGroup(options.maxParallelism, kChannels, keyGroup))]
            .push_back(payloads[i]);
      }
    }
    expected[2].push_back(payloads[1]);
    for (int c = 0; c < kChannels; ++c) {
      EXPECT_EQ(channelContents(partition, c), expected[static_cast<size_t>(c)]) << "channel " << c;
    }
    EXPECT_EQ(writer.recordsOut(),
              static_cast<int64_t>(
                  (kind == PartitionerKind::kBroadcast ? kChannels : 1) * payloads.size() + 1));
    EXPECT_EQ(partition.pool().availableBuffers(), partition.pool().numberOfBuffers());
  }
}

// A record whose serializer throws leaves nothing behind: the records around it arrive intact.
TEST(RecordWriterTest, ASerializerThatThrowsLeavesNoPartialRecord) {
  ResultPartition partition(1, 64, 32);
  std::atomic<bool> cancelled{false};
  ChannelRecordWriter::Options options;
  options.partitioner = PartitionerKind::kForward;
  ChannelRecordWriter writer(&partition, &cancelled, options);
  auto throwing = [](const void* record, DataOutput& out) {
    writePayloadInPieces(record, out);
    throw SerializationError("cannot serialize");
  };
  const std::string before = "before", failed(50, 'f'), after = "after";
  writer.emitSerialized(&writePayloadInPieces, &before, kNoTimestamp);
  EXPECT_THROW(writer.emitSerialized(+throwing, &failed, kNoTimestamp), SerializationError);
  EXPECT_THROW(writer.emitSerialized(+throwing, &after, kNoTimestamp), SerializationError);
  writer.emitSerialized(&writePayloadInPieces, &after, 5);
  // The same from the typed output, whose records go into the writer's lane when they fit.
  writer.emitRecord(PiecesRecord{before}, kNoTimestamp);
  EXPECT_THROW(writer.emitRecord(ThrowingRecord{"x"}, kNoTimestamp), SerializationError);
  EXPECT_THROW(writer.emitRecord(ThrowingRecord{failed}, kNoTimestamp), SerializationError);
  writer.emitRecord(PiecesRecord{after}, 5);
  writer.endOfPartition();
  auto decoded = drain(partition);
  ASSERT_EQ(decoded.size(), 5u);
  for (size_t i : {0, 2}) {
    EXPECT_EQ(decoded[i].payload, before);
    EXPECT_EQ(decoded[i + 1].payload, after);
    EXPECT_EQ(decoded[i + 1].timestamp, 5);
  }
  EXPECT_EQ(decoded[4].kind, ElementKind::kEndOfPartition);
  EXPECT_EQ(writer.recordsOut(), 4);
}

}  // namespace
}  // namespace brook::runtime
