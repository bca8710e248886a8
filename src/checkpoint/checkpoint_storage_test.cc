// Checkpoint storage on disk: URIs, the framed metadata file and its damage detection, state
// files with their checksums, retention, and the fallback to an older checkpoint.

#include "checkpoint/checkpoint_storage.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/files.h"
#include "state/internal/crc32c.h"

namespace brook::checkpoint {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string readAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void writeAll(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

CheckpointMetadata sampleMetadata(int64_t id) {
  CheckpointMetadata m;
  m.jobId = "0123456789abcdef";
  m.checkpointId = id;
  m.timestampMillis = 1'700'000'000'000 + id;
  OperatorStateMetadata op{"counter", "Keyed Counter", 2, 128, {}};
  op.subtasks.push_back(SubtaskStateMetadata{0, 0, 63, {{"keyed-0", 10, 0xabcd}}, {}, {}, {}});
  op.subtasks.push_back(
      SubtaskStateMetadata{1, 64, 127, {{"keyed-1", 20, 0x1234}}, {{"op-1", 3, 7}}, {}, {}});
  m.operators.push_back(op);
  m.operators.push_back(OperatorStateMetadata{"source", "Source", 1, 128, {}});
  return m;
}

TEST(CheckpointUriTest, AcceptsFileUrisAndPaths) {
  EXPECT_EQ(*parseCheckpointDirectoryUri("file:///var/brook/checkpoints"),
            fs::path("/var/brook/checkpoints"));
  EXPECT_EQ(*parseCheckpointDirectoryUri("file:/var/brook/x/"), fs::path("/var/brook/x/"));
  EXPECT_EQ(*parseCheckpointDirectoryUri("/tmp/a/../b"), fs::path("/tmp/b"));
  EXPECT_EQ(*parseCheckpointDirectoryUri("relative/dir"), fs::path("relative/dir"));
}

TEST(CheckpointUriTest, RejectsOtherSchemesHostsAndEmpty) {
  EXPECT_THAT(parseCheckpointDirectoryUri("s3://bucket/x").status().message(),
              HasSubstr("'s3' is not supported"));
  EXPECT_THAT(parseCheckpointDirectoryUri("file://host/x").status().message(),
              HasSubstr("absolute path"));
  EXPECT_FALSE(parseCheckpointDirectoryUri("").ok());
  EXPECT_FALSE(parseCheckpointDirectoryUri("file:").ok());
}

TEST(CheckpointMetadataTest, RoundTripsThroughTheFramedFile) {
  testing::TempDir tmp;
  CheckpointMetadata m = sampleMetadata(7);
  ASSERT_TRUE(writeMetadata(tmp.path(), m).ok());
  absl::StatusOr<CheckpointMetadata> read = readMetadata(tmp.path());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, m);
  EXPECT_EQ(*readMetadata(tmp.path() / kMetadataFileName), m);
  EXPECT_THAT(m.files(), SizeIs(3));
  // Nothing but the metadata file is left behind.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    names.push_back(e.path().filename().string());
  EXPECT_THAT(names, ElementsAre(kMetadataFileName));
}

TEST(CheckpointMetadataTest, EveryDamagedByteAndEveryTruncationIsDataLoss) {
  const std::string bytes = encodeMetadata(sampleMetadata(3));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x20);
    absl::StatusOr<CheckpointMetadata> m = decodeMetadata(damaged, "f");
    EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss) << "byte " << i;
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<CheckpointMetadata> m = decodeMetadata(bytes.substr(0, n), "f");
    EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss) << "length " << n;
  }
  EXPECT_THAT(decodeMetadata(bytes + "x", "/c/_metadata").status().message(),
              HasSubstr("/c/_metadata"));
  EXPECT_THAT(decodeMetadata("not a checkpoint at all, really", "f").status().message(),
              HasSubstr("bad magic"));
}

TEST(CheckpointMetadataTest, StatePathsMayNotLeaveTheCheckpoint) {
  for (const char* path : {"../escape", "/etc/passwd", "a/../../b", ""}) {
    CheckpointMetadata m = sampleMetadata(1);
    m.operators[0].subtasks[0].keyedState[0].path = path;
    absl::StatusOr<CheckpointMetadata> read = decodeMetadata(encodeMetadata(m), "f");
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << path;
  }
  testing::TempDir tmp;
  EXPECT_FALSE(writeStateFile(tmp.path(), "../x", "bytes").ok());
}

TEST(CheckpointMetadataTest, NativeFilesRoundTripAndStayInTheirDirectories) {
  CheckpointMetadata m = sampleMetadata(4);
  m.operators[0].subtasks[0].nativeKeyedState = {
      {"000012.sst", true, {"chk-3-counter_0-000012.sst", 100, 1}},
      {"MANIFEST-000005", false, {"counter_0.native/MANIFEST-000005", 50, 2}}};
  absl::StatusOr<CheckpointMetadata> read = decodeMetadata(encodeMetadata(m), "f");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, m);
  // The private file is the checkpoint's; the shared one is the job's.
  EXPECT_THAT(m.files(), SizeIs(4));
  ASSERT_THAT(m.sharedFiles(), SizeIs(1));
  EXPECT_EQ(nativeStateFilePath("/cp/job/chk-4", *m.sharedFiles()[0]),
            fs::path("/cp/job/shared/chk-3-counter_0-000012.sst"));

  auto damaged = [&](auto change) {
    CheckpointMetadata bad = m;
    change(bad.operators[0].subtasks[0].nativeKeyedState);
    return decodeMetadata(encodeMetadata(bad), "f").status();
  };
  EXPECT_EQ(damaged([](auto& f) { f[0].file.path = "../../etc/passwd"; }).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_THAT(damaged([](auto& f) { f[0].file.path = ""; }).message(), HasSubstr("leaves"));
  EXPECT_THAT(damaged([](auto& f) { f[1].localName = "../CURRENT"; }).message(),
              HasSubstr("not a plain file name"));
  m.isSavepoint = true;
  EXPECT_THAT(decodeMetadata(encodeMetadata(m), "f").status().message(),
              HasSubstr("a savepoint names files of a job's shared directory"));
}

TEST(FileCheckpointStorageTest, SharedFilesGoWhenNoRetainedCheckpointReferencesThem) {
  testing::TempDir tmp;
  absl::StatusOr<FileCheckpointStorage> storage =
      FileCheckpointStorage::open(tmp.path().string(), "job");
  ASSERT_TRUE(storage.ok());
  const fs::path shared = storage->sharedDirectory();
  auto upload = [&](const std::string& name) {
    absl::StatusOr<StateFile> f = writeStateFile(shared, name, "sst " + name);
    EXPECT_TRUE(f.ok());
    return *f;
  };
  auto complete = [&](int64_t id, std::vector<NativeStateFile> files) {
    CheckpointMetadata m;
    m.checkpointId = id;
    OperatorStateMetadata op{"counter", "Counter", 1, 128, {}};
    op.subtasks.push_back(SubtaskStateMetadata{0, 0, 127, {}, {}, {}, std::move(files)});
    m.operators.push_back(op);
    absl::StatusOr<fs::path> dir = storage->initializeCheckpoint(id);
    ASSERT_TRUE(dir.ok());
    ASSERT_TRUE(writeMetadata(*dir, m).ok());
  };
  const StateFile a = upload("chk-1-counter_0-000010.sst");
  const StateFile b = upload("chk-1-counter_0-000011.sst");
  complete(1, {{"000010.sst", true, a}, {"000011.sst", true, b}});
  // Checkpoint 2 keeps 000010.sst and has a new file; 3 is in progress, 4 newer than any
  // completed one (its coordinator may not know it yet); "notes" is nobody's.
  const StateFile c = upload("chk-2-counter_0-000012.sst");
  complete(2, {{"000010.sst", true, a}, {"000012.sst", true, c}});
  upload("chk-3-counter_0-000013.sst");
  upload("chk-4-counter_0-000014.sst");
  writeAll(shared / "notes", "x");
  // Uploads that a crash cut short: checkpoint 1's is abandoned, 3's and 4's may be running.
  writeAll(shared / ".chk-1-counter_0-000015.sst.inprogress.4242", "half");
  writeAll(shared / ".chk-3-counter_0-000016.sst.inprogress.4242", "half");
  writeAll(shared / ".chk-4-counter_0-000017.sst.inprogress.4242", "half");

  ASSERT_TRUE(storage->retain(1, {3}).ok());
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(shared))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_THAT(names,
              ElementsAre(".chk-3-counter_0-000016.sst.inprogress.4242",
                          ".chk-4-counter_0-000017.sst.inprogress.4242",
                          "chk-1-counter_0-000010.sst", "chk-2-counter_0-000012.sst",
                          "chk-3-counter_0-000013.sst", "chk-4-counter_0-000014.sst", "notes"));
  EXPECT_EQ(storage->completedCheckpointIds(), std::vector<int64_t>{2});
  // The retained checkpoint is intact; a damaged shared file makes it unusable.
  std::vector<std::string> warnings;
  ASSERT_TRUE(storage->latestRestorable(&warnings).ok());
  writeAll(shared / "chk-2-counter_0-000012.sst", "sst chk-2-counter_0-000099.sst");
  absl::StatusOr<FileCheckpointStorage::Restorable> none = storage->latestRestorable(&warnings);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(none.status().message(), HasSubstr("chk-2-counter_0-000012.sst"));

  // Once checkpoint 3 is no longer in progress and 4 completed without them, both go.
  complete(4, {{"000010.sst", true, a}});
  ASSERT_TRUE(storage->retain(1, {}).ok());
  names.clear();
  for (const auto& e : fs::directory_iterator(shared))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_THAT(names, ElementsAre("chk-1-counter_0-000010.sst", "notes"));
}

TEST(CheckpointMetadataTest, MissingMetadataIsNotFoundNamingThePath) {
  testing::TempDir tmp;
  absl::StatusOr<CheckpointMetadata> m = readMetadata(tmp.path() / "nothing-here");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(m.status().message(), HasSubstr("nothing-here"));
}

TEST(StateFileTest, WrittenFilesReadBackAndDamageIsDetected) {
  testing::TempDir tmp;
  absl::StatusOr<StateFile> f = writeStateFile(tmp.path(), "op/keyed-0", "hello state");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->path, "op/keyed-0");
  EXPECT_EQ(f->size, 11);
  EXPECT_EQ(*readStateFile(tmp.path(), *f), "hello state");

  writeAll(tmp.path() / "op/keyed-0", "hello State");  // same size, one bit differs
  EXPECT_THAT(readStateFile(tmp.path(), *f).status().message(), HasSubstr("checksum"));
  writeAll(tmp.path() / "op/keyed-0", "hello");
  EXPECT_THAT(readStateFile(tmp.path(), *f).status().message(), HasSubstr("has 5 bytes"));
  fs::remove(tmp.path() / "op/keyed-0");
  EXPECT_THAT(readStateFile(tmp.path(), *f).status().message(), HasSubstr("missing"));
}

TEST(StateFileTest, AtomicWriteReplacesTheWholeFile) {
  testing::TempDir tmp;
  ASSERT_TRUE(writeFileAtomically(tmp.path() / "f", std::string(100000, 'a')).ok());
  ASSERT_TRUE(writeFileAtomically(tmp.path() / "f", "short").ok());
  EXPECT_EQ(readAll(tmp.path() / "f"), "short");
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);
  EXPECT_FALSE(writeFileAtomically(tmp.path() / "missing-dir" / "f", "x").ok());
}

TEST(StateFileStreamTest, StreamsAFileLargerThanItsBufferWithSizeAndChecksum) {
  testing::TempDir tmp;
  std::string content;
  for (int64_t i = 0; content.size() < 3'500'000; ++i)
    content += std::to_string(i * 7919) + ",";
  absl::StatusOr<std::unique_ptr<StateFileStream>> file =
      StateFileStream::create(tmp.path(), "op/keyed-0");
  ASSERT_TRUE(file.ok()) << file.status();
  // In pieces of uneven sizes, one byte at a time among them.
  size_t at = 0;
  for (size_t piece = 1; at < content.size(); piece = piece * 3 + 1) {
    const size_t n = std::min(piece % 700'000, content.size() - at);
    (*file)->stream().write(content.data() + at, static_cast<std::streamsize>(n));
    at += n;
    if (at < content.size())
      (*file)->stream().put(content[at++]);
  }
  // Nothing is visible under the final name before close.
  EXPECT_FALSE(fs::exists(tmp.path() / "op/keyed-0"));
  absl::StatusOr<StateFile> closed = (*file)->close();
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->path, "op/keyed-0");
  EXPECT_EQ(closed->size, static_cast<int64_t>(content.size()));
  EXPECT_EQ(closed->crc32c, state::internal::crc32c(content));
  EXPECT_EQ(*readStateFile(tmp.path(), *closed), content);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path() / "op"), fs::directory_iterator()), 1);
  EXPECT_EQ((*file)->close().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StateFileStreamTest, AStreamDroppedBeforeCloseLeavesNothing) {
  testing::TempDir tmp;
  {
    absl::StatusOr<std::unique_ptr<StateFileStream>> file =
        StateFileStream::create(tmp.path(), "state");
    ASSERT_TRUE(file.ok()) << file.status();
    (*file)->stream() << std::string(3'000'000, 'x');
  }
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(StateFileStreamTest, CancellingFailsTheNextWriteAndLeavesNothing) {
  testing::TempDir tmp;
  std::atomic<bool> cancelled{false};
  absl::StatusOr<std::unique_ptr<StateFileStream>> file =
      StateFileStream::create(tmp.path(), "state", &cancelled);
  ASSERT_TRUE(file.ok()) << file.status();
  (*file)->stream() << std::string(1'500'000, 'x');
  EXPECT_TRUE((*file)->stream().good());
  cancelled.store(true);
  (*file)->stream() << std::string(1'500'000, 'y');
  EXPECT_FALSE((*file)->stream().good());
  EXPECT_EQ((*file)->status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ((*file)->close().status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(StateFileStreamTest, ADiscardedCheckpointDirectoryIsNotCreatedAgain) {
  testing::TempDir tmp;
  const fs::path gone = tmp.path() / "chk-7";
  absl::StatusOr<std::unique_ptr<StateFileStream>> file = StateFileStream::create(gone, "state");
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(file.status().message(), HasSubstr(gone.string()));
  EXPECT_EQ(writeStateFile(gone, "state", "bytes").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(gone));
  EXPECT_EQ(StateFileStream::create(tmp.path(), "../state").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Completes checkpoint `id` of `storage` with one state file holding `content`.
void completeCheckpoint(const FileCheckpointStorage& storage, int64_t id,
                        const std::string& content) {
  absl::StatusOr<fs::path> dir = storage.initializeCheckpoint(id);
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<StateFile> f = writeStateFile(*dir, "state", content);
  ASSERT_TRUE(f.ok());
  CheckpointMetadata m;
  m.jobId = "job";
  m.checkpointId = id;
  m.operators.push_back(OperatorStateMetadata{
      "op", "op", 1, 128, {SubtaskStateMetadata{0, 0, 127, {*f}, {}, {}, {}}}});
  ASSERT_TRUE(writeMetadata(*dir, m).ok());
}

TEST(FileCheckpointStorageTest, LaysOutJobAndCheckpointFolders) {
  testing::TempDir tmp;
  absl::StatusOr<FileCheckpointStorage> storage =
      FileCheckpointStorage::open("file://" + tmp.path().string(), "job-1");
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_EQ(storage->jobDirectory(), tmp.path() / "job-1");
  EXPECT_EQ(storage->checkpointDirectory(12), tmp.path() / "job-1" / "chk-12");
  EXPECT_EQ(storage->sharedDirectory(), tmp.path() / "job-1" / "shared");
  EXPECT_TRUE(fs::is_directory(storage->sharedDirectory()));
  EXPECT_THAT(storage->completedCheckpointIds(), IsEmpty());
  completeCheckpoint(*storage, 2, "two");
  completeCheckpoint(*storage, 10, "ten");
  ASSERT_TRUE(storage->initializeCheckpoint(11).ok());  // in progress: not completed
  fs::create_directories(tmp.path() / "job-1" / "chk-x");
  EXPECT_THAT(storage->completedCheckpointIds(), ElementsAre(2, 10));
  EXPECT_EQ(storage->initializeCheckpoint(10).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(FileCheckpointStorage::open(tmp.path().string(), "../evil").ok());
  EXPECT_FALSE(FileCheckpointStorage::open("hdfs://nn/x", "job").ok());
}

TEST(FileCheckpointStorageTest, RetainKeepsTheNewestAndDropsAbandonedOnes) {
  testing::TempDir tmp;
  FileCheckpointStorage storage = *FileCheckpointStorage::open(tmp.path().string(), "job");
  completeCheckpoint(storage, 1, "a");
  ASSERT_TRUE(storage.initializeCheckpoint(2).ok());  // abandoned, older than the newest
  completeCheckpoint(storage, 3, "b");
  completeCheckpoint(storage, 4, "c");
  ASSERT_TRUE(storage.initializeCheckpoint(5).ok());  // still in progress
  ASSERT_TRUE(storage.retain(2).ok());
  EXPECT_THAT(storage.completedCheckpointIds(), ElementsAre(3, 4));
  EXPECT_FALSE(fs::exists(storage.checkpointDirectory(1)));
  EXPECT_FALSE(fs::exists(storage.checkpointDirectory(2)));
  EXPECT_TRUE(fs::exists(storage.checkpointDirectory(5)));
  ASSERT_TRUE(storage.retain(1).ok());
  EXPECT_THAT(storage.completedCheckpointIds(), ElementsAre(4));
}

TEST(FileCheckpointStorageTest, LatestRestorableFallsBackPastDamage) {
  testing::TempDir tmp;
  FileCheckpointStorage storage = *FileCheckpointStorage::open(tmp.path().string(), "job");
  EXPECT_EQ(storage.latestRestorable(nullptr).status().code(), absl::StatusCode::kNotFound);
  completeCheckpoint(storage, 1, "one");
  completeCheckpoint(storage, 2, "two");
  completeCheckpoint(storage, 3, "three");

  std::vector<std::string> warnings;
  absl::StatusOr<FileCheckpointStorage::Restorable> latest = storage.latestRestorable(&warnings);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->metadata.checkpointId, 3);
  EXPECT_EQ(latest->directory, storage.checkpointDirectory(3));
  EXPECT_THAT(warnings, IsEmpty());

  // Damaged metadata of 3 and a missing state file of 2: 1 is used, with a warning for each.
  fs::path meta3 = storage.checkpointDirectory(3) / kMetadataFileName;
  std::string bytes = readAll(meta3);
  bytes[bytes.size() - 2] ^= 1;
  writeAll(meta3, bytes);
  fs::remove(storage.checkpointDirectory(2) / "state");
  latest = storage.latestRestorable(&warnings);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->metadata.checkpointId, 1);
  ASSERT_THAT(warnings, SizeIs(2));
  EXPECT_THAT(warnings[0], HasSubstr("checkpoint 3 is not usable"));
  EXPECT_THAT(warnings[0], HasSubstr("checksum"));
  EXPECT_THAT(warnings[1], HasSubstr("checkpoint 2 is not usable"));

  // With 1 damaged too, nothing is usable: the error names all three.
  writeAll(storage.checkpointDirectory(1) / "state", "onf");
  absl::StatusOr<FileCheckpointStorage::Restorable> none = storage.latestRestorable(nullptr);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(none.status().message(), HasSubstr("checkpoint 1 is not usable"));
  EXPECT_THAT(none.status().message(), HasSubstr("checkpoint 3 is not usable"));
}

TEST(FileCheckpointStorageTest, MetadataInTheWrongFolderIsNotUsed) {
  testing::TempDir tmp;
  FileCheckpointStorage storage = *FileCheckpointStorage::open(tmp.path().string(), "job");
  completeCheckpoint(storage, 1, "one");
  fs::create_directories(storage.checkpointDirectory(5));
  fs::copy(storage.checkpointDirectory(1) / kMetadataFileName,
           storage.checkpointDirectory(5) / kMetadataFileName);
  std::vector<std::string> warnings;
  absl::StatusOr<FileCheckpointStorage::Restorable> latest = storage.latestRestorable(&warnings);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->metadata.checkpointId, 1);
  ASSERT_THAT(warnings, SizeIs(1));
  EXPECT_THAT(warnings[0], HasSubstr("holds the metadata of checkpoint 1"));
}

}  // namespace
}  // namespace brook::checkpoint
