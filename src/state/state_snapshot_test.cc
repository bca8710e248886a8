#include "state/state_snapshot.h"

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "state/internal/byte_reader.h"
#include "state/internal/crc32c.h"
#include "state/testing/keyed_state_model.h"

namespace brook::state {
namespace {

using ::testing::HasSubstr;

constexpr int kMaxParallelism = 128;
constexpr KeyGroupRange kAllKeyGroups{0, kMaxParallelism - 1};

/// Fills a model with `keys` keys over value, list and map states and a few namespaces,
/// binary bytes and empty strings included.
KeyedStateModel randomModel(uint64_t seed, int keys) {
  std::mt19937_64 random(seed);
  KeyedStateModel model;
  model.kinds = {{"count", StateKind::kValue},
                 {"events", StateKind::kList},
                 {"by-user", StateKind::kMap},
                 {std::string("\0bin", 4), StateKind::kValue}};
  const std::vector<std::string> namespaces = {"", "window-1", std::string("\0\xFF", 2)};
  for (int i = 0; i < keys; ++i) {
    std::string key = "key-" + std::to_string(i) + randomBytes(random, 0, 3);
    int keyGroup = keyGroupFor(key, kMaxParallelism);
    for (const std::string& ns : namespaces) {
      if (random() % 2 == 0) {
        model.values[{"count", keyGroup, key, ns}] = randomBytes(random, 0, 20);
      }
      if (random() % 3 == 0) {
        auto& list = model.lists[{"events", keyGroup, key, ns}];
        for (int n = 1 + static_cast<int>(random() % 4); n > 0; --n) {
          list.push_back(randomBytes(random, 0, 12));
        }
      }
      if (random() % 3 == 0) {
        for (int n = 1 + static_cast<int>(random() % 3); n > 0; --n) {
          model.maps[{"by-user", keyGroup, key, ns, randomBytes(random, 0, 6)}] =
              randomBytes(random, 0, 10);
        }
      }
      if (random() % 10 == 0) {
        model.values[{std::string("\0bin", 4), keyGroup, key, ns}] = "x";
      }
    }
  }
  return model;
}

std::string writeSnapshot(const KeyedStateModel& model, KeyGroupRange range) {
  std::ostringstream out;
  auto writer = KeyedStateSnapshotWriter::create(out, "test.snapshot", kMaxParallelism, range);
  EXPECT_TRUE(writer.ok()) << writer.status();
  EXPECT_TRUE(model.write(*writer, range).ok());
  EXPECT_TRUE(writer->finish().ok());
  EXPECT_EQ(writer->bytesWritten(), out.str().size());
  return out.str();
}

/// Opens `bytes` and reads `range`; returns the first error.
absl::StatusOr<std::vector<ModelEntry>> readSnapshot(const std::string& bytes,
                                                     KeyGroupRange range) {
  std::istringstream in(bytes);
  absl::StatusOr<KeyedStateSnapshotReader> reader =
      KeyedStateSnapshotReader::open(in, "test.snapshot");
  if (!reader.ok()) {
    return reader.status();
  }
  return KeyedStateModel::read(*reader, range);
}

/// A small snapshot with every record type, in two key groups.
std::string smallSnapshot() {
  KeyedStateModel model;
  model.values[{"v", 3, "k1", "ns"}] = "value";
  model.lists[{"l", 3, "k1", ""}] = {"a", "", "bc"};
  model.maps[{"m", 7, "k2", "n", "uk"}] = "uv";
  model.values[{"v", 7, "k2", ""}] = "";
  return writeSnapshot(model, KeyGroupRange{0, 9});
}

TEST(KeyedStateSnapshotTest, RoundTripsEveryEntryOfEveryKind) {
  KeyedStateModel model = randomModel(1, 1000);
  std::string bytes = writeSnapshot(model, kAllKeyGroups);
  auto read = readSnapshot(bytes, kAllKeyGroups);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, model.entries(kAllKeyGroups));
  EXPECT_GT(read->size(), 1000u);
}

TEST(KeyedStateSnapshotTest, ReadsOnlyTheKeyGroupsOfARange) {
  KeyedStateModel model = randomModel(2, 1000);
  std::string bytes = writeSnapshot(model, kAllKeyGroups);
  size_t total = 0;
  for (int index = 0; index < 3; ++index) {
    KeyGroupRange range = keyGroupRangeFor(kMaxParallelism, 3, index);
    auto read = readSnapshot(bytes, range);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, model.entries(range)) << "subtask " << index;
    total += read->size();
  }
  EXPECT_EQ(total, model.entries(kAllKeyGroups).size());
  // Ranges beyond the snapshot's, or empty ones, yield nothing.
  auto none = readSnapshot(bytes, KeyGroupRange{});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(KeyedStateSnapshotTest, ReaderSeeksRepeatedlyAndReportsHeader) {
  KeyedStateModel model = randomModel(3, 200);
  KeyGroupRange range{10, 90};
  std::string bytes = writeSnapshot(model, range);
  std::istringstream in(bytes);
  auto reader = KeyedStateSnapshotReader::open(in, "test.snapshot");
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(reader->maxParallelism(), kMaxParallelism);
  EXPECT_EQ(reader->keyGroupRange(), range);
  std::vector<int> expectedGroups;
  for (const ModelEntry& e : model.entries(range)) {
    if (expectedGroups.empty() || expectedGroups.back() != e.keyGroup) {
      expectedGroups.push_back(e.keyGroup);
    }
  }
  EXPECT_EQ(reader->keyGroupsWithEntries(), expectedGroups);
  for (KeyGroupRange r : {KeyGroupRange{50, 60}, KeyGroupRange{0, 127}, KeyGroupRange{50, 60}}) {
    auto read = KeyedStateModel::read(*reader, r);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, model.entries(KeyGroupRange{std::max(r.start, 10), std::min(r.end, 90)}));
  }
}

TEST(KeyedStateSnapshotTest, LargeEntriesSpanManyBlocks) {
  KeyedStateModel model;
  std::mt19937_64 random(4);
  for (int i = 0; i < 50; ++i) {
    model.values[{"big", 5, "k" + std::to_string(i), ""}] = randomBytes(random, 10000, 200000);
  }
  model.lists[{"list", 5, "k", ""}] = {std::string(300000, 'x'), "y"};
  std::string bytes = writeSnapshot(model, kAllKeyGroups);
  auto read = readSnapshot(bytes, KeyGroupRange{5, 5});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, model.entries(kAllKeyGroups));
}

TEST(KeyedStateSnapshotTest, EmptyKeyGroupsStatesAndListsWriteNothing) {
  std::ostringstream out;
  auto writer = KeyedStateSnapshotWriter::create(out, "empty", kMaxParallelism, kAllKeyGroups);
  ASSERT_TRUE(writer.ok());
  for (int g = 0; g < kMaxParallelism; ++g) {
    ASSERT_TRUE(writer->beginKeyGroup(g).ok());
    ASSERT_TRUE(writer->beginState("a", StateKind::kValue).ok());
    ASSERT_TRUE(writer->beginState("b", StateKind::kList).ok());
    ASSERT_TRUE(writer->writeList("k", "", std::span<const std::string>()).ok());
  }
  ASSERT_TRUE(writer->finish().ok());
  std::istringstream in(out.str());
  auto reader = KeyedStateSnapshotReader::open(in, "empty");
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE(reader->keyGroupsWithEntries().empty());
  KeyedStateEntry entry;
  auto more = reader->next(&entry);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  EXPECT_EQ(out.str().size(), 28u + 1u + 24u);
}

TEST(KeyedStateSnapshotTest, ReadsASnapshotThatStartsInsideAStream) {
  KeyedStateModel model = randomModel(5, 100);
  std::string bytes = "prefix" + writeSnapshot(model, kAllKeyGroups);
  std::istringstream in(bytes);
  in.seekg(6);
  auto reader = KeyedStateSnapshotReader::open(in, "embedded");
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto read = KeyedStateModel::read(*reader, kAllKeyGroups);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, model.entries(kAllKeyGroups));
}

TEST(KeyedStateSnapshotWriterTest, RejectsBadArguments) {
  std::ostringstream out;
  EXPECT_EQ(KeyedStateSnapshotWriter::create(out, "s", 0, KeyGroupRange{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      KeyedStateSnapshotWriter::create(out, "s", 1 << 16, KeyGroupRange{0, 1}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KeyedStateSnapshotWriter::create(out, "s", 128, KeyGroupRange{0, 128}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KeyedStateSnapshotWriter::create(out, "s", 128, KeyGroupRange{-1, 3}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KeyedStateSnapshotWriterTest, RejectsMisuseAndStaysFailed) {
  auto expectFailedPrecondition = [](auto&& call, std::string_view message) {
    std::ostringstream out;
    auto writer = KeyedStateSnapshotWriter::create(out, "misuse", 128, KeyGroupRange{10, 20});
    ASSERT_TRUE(writer.ok());
    absl::Status s = call(*writer);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(std::string(message)));
    EXPECT_THAT(std::string(s.message()), HasSubstr("misuse"));
    // Sticky: the writer never produces a snapshot after an error.
    EXPECT_EQ(writer->finish(), s);
  };
  expectFailedPrecondition([](KeyedStateSnapshotWriter& w) { return w.beginKeyGroup(9); },
                           "outside the range");
  expectFailedPrecondition(
      [](KeyedStateSnapshotWriter& w) {
        (void)w.beginKeyGroup(12);
        return w.beginKeyGroup(12);
      },
      "ascend");
  expectFailedPrecondition(
      [](KeyedStateSnapshotWriter& w) { return w.beginState("s", StateKind::kValue); },
      "before any key group");
  expectFailedPrecondition(
      [](KeyedStateSnapshotWriter& w) {
        (void)w.beginKeyGroup(12);
        return w.writeValue("k", "", "v");
      },
      "before beginState");
  expectFailedPrecondition(
      [](KeyedStateSnapshotWriter& w) {
        (void)w.beginKeyGroup(12);
        (void)w.beginState("s", StateKind::kList);
        return w.writeValue("k", "", "v");
      },
      "a value entry written to list state 's'");
  expectFailedPrecondition(
      [](KeyedStateSnapshotWriter& w) {
        (void)w.beginKeyGroup(12);
        (void)w.beginState("s", StateKind::kValue);
        (void)w.beginState("t", StateKind::kValue);
        return w.beginState("s", StateKind::kValue);
      },
      "begun twice");

  std::ostringstream out;
  auto writer = KeyedStateSnapshotWriter::create(out, "done", 128, KeyGroupRange{10, 20});
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->finish().ok());
  EXPECT_EQ(writer->beginKeyGroup(11).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(KeyedStateSnapshotWriterTest, AFailingStreamIsUnavailable) {
  std::ostringstream out;
  auto writer = KeyedStateSnapshotWriter::create(out, "broken", 128, KeyGroupRange{0, 127});
  ASSERT_TRUE(writer.ok());
  out.setstate(std::ios::badbit);
  ASSERT_TRUE(writer->beginKeyGroup(1).ok());
  ASSERT_TRUE(writer->beginState("s", StateKind::kValue).ok());
  ASSERT_TRUE(writer->writeValue("k", "", "v").ok());  // Buffered.
  absl::Status s = writer->finish();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("broken"));
}

TEST(KeyedStateSnapshotReaderTest, EveryTruncationIsDataLoss) {
  const std::string bytes = smallSnapshot();
  ASSERT_TRUE(readSnapshot(bytes, kAllKeyGroups).ok());
  for (size_t length = 0; length < bytes.size(); ++length) {
    auto read = readSnapshot(bytes.substr(0, length), kAllKeyGroups);
    ASSERT_FALSE(read.ok()) << "truncated to " << length << " bytes";
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
    EXPECT_THAT(std::string(read.status().message()), HasSubstr("test.snapshot"));
  }
}

TEST(KeyedStateSnapshotReaderTest, EveryFlippedByteIsDataLoss) {
  const std::string bytes = smallSnapshot();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int mask : {0x01, 0x80, 0xFF}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ mask);
      auto read = readSnapshot(corrupt, kAllKeyGroups);
      ASSERT_FALSE(read.ok()) << "byte " << i << " ^ " << mask;
      EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
    }
  }
}

TEST(KeyedStateSnapshotReaderTest, GarbageAndAppendedBytesAreDataLoss) {
  std::mt19937_64 random(6);
  for (int i = 0; i < 200; ++i) {
    auto read = readSnapshot(randomBytes(random, 0, 200), kAllKeyGroups);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  }
  auto read = readSnapshot(smallSnapshot() + "x", kAllKeyGroups);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
}

TEST(KeyedStateSnapshotReaderTest, CorruptionErrorsNameTheKeyGroupAndState) {
  // One key group, one value state, one entry: the section is a single block whose payload is
  // "section start, state start, value entry, state end (1), section end (1)".
  KeyedStateModel model;
  model.values[{"counts", 42, "k", "n"}] = "v";
  std::string bytes = writeSnapshot(model, kAllKeyGroups);
  const size_t block = 28;
  std::string payload = bytes.substr(block + 8, static_cast<uint8_t>(bytes[block]));
  const std::string stateEnd = std::string("\x06\x01", 2);
  size_t at = payload.find(stateEnd);
  ASSERT_NE(at, std::string::npos);
  payload[at + 1] = '\x02';  // The state now claims two entries.
  std::string header;
  internal::appendFixed32(&header, static_cast<uint32_t>(payload.size()));
  internal::appendFixed32(&header, internal::crc32cExtend(internal::crc32c(header), payload));
  bytes.replace(block, 8 + payload.size(), header + payload);

  auto read = readSnapshot(bytes, kAllKeyGroups);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(read.status().message()),
              HasSubstr("keyed state snapshot 'test.snapshot', key group 42, state 'counts': "
                        "the state ends after 1 entries but records 2"));

  // A flipped byte in the same block is a checksum error naming the key group.
  bytes[block + 12] ^= 0x20;
  read = readSnapshot(bytes, kAllKeyGroups);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("key group 42"));
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("checksum"));
}

}  // namespace
}  // namespace brook::state
