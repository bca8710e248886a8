#include "state/operator_state_snapshot.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <brook/operator_state_store.h>

namespace brook::state {
namespace {

using brook::internal::OperatorStateSnapshotData;

/// The operator state of one subtask, made through the typed API.
OperatorStateSnapshotData subtaskState(std::vector<int64_t> offsets,
                                       std::vector<std::string> unionValues,
                                       std::vector<std::pair<std::string, int>> rules) {
  OperatorStateStore store("Source (1/1)");
  store.getListState(ListStateDescriptor<int64_t>("offsets")).update(std::move(offsets));
  store.getUnionListState(ListStateDescriptor<std::string>("seen")).update(std::move(unionValues));
  auto& broadcast = store.getBroadcastState(MapStateDescriptor<std::string, int>("rules"));
  for (auto& [k, v] : rules)
    broadcast.put(k, v);
  return store.snapshot();
}

std::vector<int64_t> offsetsOf(const OperatorStateSnapshotData& data) {
  OperatorStateStore store("Source (1/1)");
  store.restore(data);
  return store.getListState(ListStateDescriptor<int64_t>("offsets")).get();
}

TEST(OperatorStateSnapshotTest, EncodeDecodeRoundTrip) {
  OperatorStateSnapshotData data = subtaskState({1, 2, 3}, {"a"}, {{"x", 1}, {"y", 2}});
  std::string bytes = encodeOperatorStateSnapshot(data);
  auto decoded = decodeOperatorStateSnapshot(bytes, "op-state");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  OperatorStateStore store("Source (1/1)");
  store.restore(*decoded);
  EXPECT_EQ(store.getListState(ListStateDescriptor<int64_t>("offsets")).get(),
            (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(store.getUnionListState(ListStateDescriptor<std::string>("seen")).get(),
            std::vector<std::string>{"a"});
  auto& rules = store.getBroadcastState(MapStateDescriptor<std::string, int>("rules"));
  EXPECT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules.get("y"), 2);
}

TEST(OperatorStateSnapshotTest, EveryCorruptionIsDataLoss) {
  std::string bytes = encodeOperatorStateSnapshot(subtaskState({1, 2, 3}, {"a"}, {{"x", 1}}));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x40);
    auto decoded = decodeOperatorStateSnapshot(flipped, "op-state");
    ASSERT_FALSE(decoded.ok()) << "byte " << i;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(decoded.status().message().find("op-state"), std::string_view::npos);
  }
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(decodeOperatorStateSnapshot(bytes.substr(0, n), "op-state").ok()) << n;
}

TEST(OperatorStateSnapshotTest, SplitStateIsCutIntoContiguousRuns) {
  std::vector<OperatorStateSnapshotData> old = {subtaskState({1, 2, 3}, {"a"}, {{"x", 1}}),
                                                subtaskState({4, 5}, {"b"}, {{"x", 1}})};
  auto three = redistributeOperatorState(old, 3);
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(offsetsOf((*three)[0]), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(offsetsOf((*three)[1]), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(offsetsOf((*three)[2]), (std::vector<int64_t>{5}));
  auto one = redistributeOperatorState(old, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(offsetsOf((*one)[0]), (std::vector<int64_t>{1, 2, 3, 4, 5}));
}

TEST(OperatorStateSnapshotTest, UnionAndBroadcastStateGoToEverySubtask) {
  std::vector<OperatorStateSnapshotData> old = {subtaskState({}, {"a"}, {{"x", 7}}),
                                                subtaskState({}, {"b", "c"}, {{"x", 7}})};
  auto four = redistributeOperatorState(old, 4);
  ASSERT_TRUE(four.ok());
  for (const auto& data : *four) {
    OperatorStateStore store("Source (1/1)");
    store.restore(data);
    EXPECT_EQ(store.getUnionListState(ListStateDescriptor<std::string>("seen")).get(),
              (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(store.getBroadcastState(MapStateDescriptor<std::string, int>("rules")).get("x"), 7);
  }
}

TEST(OperatorStateSnapshotTest, ModeMismatchesAreErrors) {
  OperatorStateStore store("Source (2/4)");
  store.getListState(ListStateDescriptor<int64_t>("offsets"));
  try {
    store.getUnionListState(ListStateDescriptor<int64_t>("offsets"));
    FAIL() << "expected a StateException";
  } catch (const StateException& e) {
    EXPECT_NE(std::string(e.what()).find("'offsets' of operator 'Source (2/4)'"),
              std::string::npos)
        << e.what();
  }
  OperatorStateStore restored("Source (1/1)");
  restored.restore(subtaskState({1}, {}, {}));
  EXPECT_THROW(restored.getUnionListState(ListStateDescriptor<int64_t>("offsets")),
               StateException);
  auto bad = redistributeOperatorState({subtaskState({1}, {}, {})}, 0);
  EXPECT_FALSE(bad.ok());
}

TEST(OperatorStateSnapshotTest, UnregisteredRestoredStateIsKept) {
  OperatorStateStore store("Source (1/1)");
  store.restore(subtaskState({9}, {}, {}));
  OperatorStateSnapshotData again = store.snapshot();
  EXPECT_EQ(offsetsOf(again), std::vector<int64_t>{9});
}

}  // namespace
}  // namespace brook::state
