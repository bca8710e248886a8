#include "checkpoint/incremental_snapshot.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "checkpoint/checkpoint_storage.h"
#include "checkpoint/state_assignment.h"
#include "state/internal/rocksdb_keyed_state_backend.h"
#include "state/keyed_state_backend_factory.h"

namespace brook::checkpoint {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int kMaxParallelism = 128;

class IncrementalSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::path(::testing::TempDir()) /
            ("brook-incremental-" + std::to_string(getpid()) + "-" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "job" / "shared");
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<state::RuntimeKeyedStateBackend> backend(const std::string& name,
                                                           state::KeyGroupRange range) {
    state::KeyedStateBackendOptions options;
    options.type = state::StateBackendType::kRocksDb;
    options.operatorDescription = name;
    options.maxParallelism = kMaxParallelism;
    options.keyGroupRange = range;
    options.rocksDbDirectory = (root_ / "local" / name).string();
    auto created = state::createKeyedStateBackend(options);
    EXPECT_TRUE(created.ok()) << created.status();
    return std::move(*created);
  }

  static state::RocksDbKeyedStore& store(state::RuntimeKeyedStateBackend& backend) {
    return dynamic_cast<state::internal::RocksDbKeyedStateBackend&>(backend).rocksDbStore();
  }

  /// Puts `count` values of state "v" for keys "<prefix><i>" that the backend owns (in its
  /// memtable: the next native snapshot flushes them into an SST file of their own).
  static void put(state::RuntimeKeyedStateBackend& backend, const std::string& prefix, int count) {
    state::RocksDbKeyedStore& s = store(backend);
    auto id = s.registerState("v", state::StateKind::kValue);
    ASSERT_TRUE(id.ok());
    for (int i = 0; i < count; ++i) {
      const std::string key = prefix + std::to_string(i);
      const int group = state::keyGroupFor(key, kMaxParallelism);
      if (!backend.keyGroupRange().contains(group))
        continue;
      ASSERT_TRUE(s.putValue(*id, group, key, "", "value of " + key).ok());
    }
  }

  /// Takes an incremental snapshot of `backend` for checkpoint `id` and uploads it.
  std::vector<NativeStateFile> checkpoint(state::RuntimeKeyedStateBackend& backend,
                                          IncrementalSnapshotUploader& uploader,
                                          int64_t id) {
    auto snapshot = backend.incrementalSnapshot(id);
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    const fs::path directory = root_ / "job" / ("chk-" + std::to_string(id));
    fs::create_directories(directory);
    std::atomic<bool> cancelled{false};
    auto files = uploader.upload(id, *(*snapshot)->nativeFiles(), directory, cancelled);
    EXPECT_TRUE(files.ok()) << files.status();
    return files.ok() ? *files : std::vector<NativeStateFile>{};
  }

  static std::map<std::string, NativeStateFile> byName(const std::vector<NativeStateFile>& files) {
    std::map<std::string, NativeStateFile> out;
    for (const NativeStateFile& f : files)
      out[f.localName] = f;
    return out;
  }

  fs::path root_;
};

TEST_F(IncrementalSnapshotTest, UploadsEachSstFileOnceAndReferencesThoseOfTheConfirmedCheckpoint) {
  const state::KeyGroupRange all{0, kMaxParallelism - 1};
  auto source = backend("source", all);
  IncrementalSnapshotUploader uploader("op_0");
  put(*source, "a", 2000);

  auto first = byName(checkpoint(*source, uploader, 1));
  int sst = 0;
  for (const auto& [name, f] : first) {
    if (name.ends_with(".sst")) {
      ++sst;
      EXPECT_TRUE(f.shared);
      EXPECT_EQ(f.file.path, "chk-1-op_0-" + name);
      EXPECT_TRUE(fs::exists(root_ / "job" / "shared" / f.file.path));
    } else {
      EXPECT_FALSE(f.shared) << name;
      EXPECT_EQ(f.file.path, "op_0.native/" + name);
      EXPECT_TRUE(fs::exists(root_ / "job" / "chk-1" / f.file.path));
    }
  }
  EXPECT_GE(sst, 1);
  EXPECT_TRUE(first.count("CURRENT"));

  // Checkpoint 1 is not confirmed yet: checkpoint 2 uploads its files again.
  auto second = byName(checkpoint(*source, uploader, 2));
  for (const auto& [name, f] : second) {
    if (f.shared) {
      EXPECT_EQ(f.file.path, "chk-2-op_0-" + name);
    }
  }
  uploader.notifyCheckpointComplete(2);

  // Checkpoint 3 references the files of checkpoint 2 and uploads only the new one.
  put(*source, "b", 10);
  auto third = byName(checkpoint(*source, uploader, 3));
  int placeholders = 0;
  int uploaded = 0;
  for (const auto& [name, f] : third) {
    if (!f.shared)
      continue;
    if (second.count(name)) {
      EXPECT_EQ(f.file.path, "") << name;
      ++placeholders;
    } else {
      EXPECT_EQ(f.file.path, "chk-3-op_0-" + name);
      ++uploaded;
    }
  }
  EXPECT_GE(placeholders, 1);
  EXPECT_GE(uploaded, 1);
  EXPECT_EQ(placeholders + uploaded,
            static_cast<int>(std::count_if(third.begin(), third.end(),
                                           [](const auto& e) { return e.second.shared; })));

  // An aborted checkpoint is never the base of a later one.
  uploader.notifyCheckpointAborted(3);
  uploader.notifyCheckpointComplete(3);
  auto fourth = byName(checkpoint(*source, uploader, 4));
  for (const auto& [name, f] : fourth) {
    if (f.shared && !second.count(name)) {
      EXPECT_EQ(f.file.path, "chk-4-op_0-" + name) << name;
    }
  }
}

TEST_F(IncrementalSnapshotTest, RestoresFromTheUploadedFilesAtTheSameAndAnotherParallelism) {
  const state::KeyGroupRange all{0, kMaxParallelism - 1};
  auto source = backend("source", all);
  IncrementalSnapshotUploader uploader("op_0");
  put(*source, "a", 500);
  std::vector<NativeStateFile> files = checkpoint(*source, uploader, 1);
  SubtaskStateMetadata subtask;
  subtask.keyGroupStart = all.start;
  subtask.keyGroupEnd = all.end;
  subtask.nativeKeyedState = files;
  const fs::path directory = root_ / "job" / "chk-1";

  auto expectValues = [&](state::RuntimeKeyedStateBackend& target) {
    state::RocksDbKeyedStore& s = store(target);
    auto id = s.findState("v");
    ASSERT_TRUE(id.ok()) << id.status();
    int found = 0;
    for (int i = 0; i < 500; ++i) {
      const std::string key = "a" + std::to_string(i);
      const int group = state::keyGroupFor(key, kMaxParallelism);
      std::string value;
      auto present = s.getValue(*id, group, key, "", &value);
      ASSERT_TRUE(present.ok());
      EXPECT_EQ(*present, target.keyGroupRange().contains(group)) << key;
      if (*present) {
        EXPECT_EQ(value, "value of " + key);
        ++found;
      }
    }
    EXPECT_GT(found, 0);
  };
  auto same = backend("same", all);
  ASSERT_TRUE(restoreNativeKeyedState(directory, subtask, *same).ok());
  expectValues(*same);
  auto half = backend("half", state::keyGroupRangeFor(kMaxParallelism, 2, 1));
  ASSERT_TRUE(restoreNativeKeyedState(directory, subtask, *half).ok());
  expectValues(*half);
  EXPECT_FALSE(fs::exists(half->localDirectory() + ".restore-0"));

  // A damaged shared file fails the restore, naming it.
  const NativeStateFile* sst = nullptr;
  for (const NativeStateFile& f : files) {
    if (f.shared)
      sst = &f;
  }
  ASSERT_NE(sst, nullptr);
  {
    std::fstream damage(nativeStateFilePath(directory, *sst),
                        std::ios::in | std::ios::out | std::ios::binary);
    damage.seekp(10);
    damage.put('\x7f');
  }
  auto other = backend("other", all);
  absl::Status status = restoreNativeKeyedState(directory, subtask, *other).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(status.message(), HasSubstr(sst->file.path));
}

// After a failover the store takes over the files of the checkpoint it restores; the next
// checkpoint references them instead of uploading them again. A store that copied key groups
// out of them (another parallelism) has files of its own.
TEST_F(IncrementalSnapshotTest, AStoreThatTookOverACheckpointsFilesUploadsOnlyNewOnes) {
  const state::KeyGroupRange all{0, kMaxParallelism - 1};
  auto source = backend("source", all);
  IncrementalSnapshotUploader sourceUploader("op_0");
  put(*source, "a", 500);
  RestoreSource restore;
  restore.directory = root_ / "job" / "chk-1";
  restore.metadata.checkpointId = 1;
  OperatorStateMetadata& op = restore.metadata.operators.emplace_back();
  op.operatorUid = "op";
  op.maxParallelism = kMaxParallelism;
  SubtaskStateMetadata& subtask = op.subtasks.emplace_back();
  subtask.keyGroupStart = all.start;
  subtask.keyGroupEnd = all.end;
  subtask.nativeKeyedState = checkpoint(*source, sourceUploader, 1);
  std::set<std::string> restoredSst;
  for (const NativeStateFile& f : subtask.nativeKeyedState) {
    if (f.shared)
      restoredSst.insert(f.localName);
  }
  ASSERT_FALSE(restoredSst.empty());

  auto half = backend("half", state::keyGroupRangeFor(kMaxParallelism, 2, 0));
  absl::StatusOr<const SubtaskStateMetadata*> copied = restoreKeyedState(restore, op, *half);
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(*copied, nullptr);

  auto same = backend("same", all);
  absl::StatusOr<const SubtaskStateMetadata*> adopted = restoreKeyedState(restore, op, *same);
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  ASSERT_EQ(*adopted, &op.subtasks[0]);
  IncrementalSnapshotUploader uploader("op_0");
  uploader.continueFrom(1, (*adopted)->nativeKeyedState);
  put(*same, "b", 10);
  int uploaded = 0;
  for (const auto& [name, f] : byName(checkpoint(*same, uploader, 2))) {
    if (!f.shared)
      continue;
    if (restoredSst.erase(name) == 1) {
      EXPECT_EQ(f.file.path, "") << name;  // a placeholder for checkpoint 1's file
    } else {
      EXPECT_EQ(f.file.path, "chk-2-op_0-" + name);
      EXPECT_TRUE(fs::exists(root_ / "job" / "shared" / f.file.path)) << name;
      ++uploaded;
    }
  }
  EXPECT_THAT(restoredSst, ::testing::IsEmpty());  // every file of checkpoint 1 is still held
  EXPECT_GE(uploaded, 1);
}

TEST_F(IncrementalSnapshotTest, TheHeapBackendRefusesNativeFiles) {
  state::KeyedStateBackendOptions options;
  options.operatorDescription = "heap";
  options.keyGroupRange = {0, kMaxParallelism - 1};
  auto heap = state::createKeyedStateBackend(options);
  ASSERT_TRUE(heap.ok());
  SubtaskStateMetadata subtask;
  subtask.keyGroupEnd = kMaxParallelism - 1;
  subtask.nativeKeyedState.push_back({"CURRENT", false, {"op_0.native/CURRENT", 16, 0}});
  absl::Status status = restoreNativeKeyedState(root_, subtask, **heap).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("take a savepoint to change the backend"));
}

}  // namespace
}  // namespace brook::checkpoint
