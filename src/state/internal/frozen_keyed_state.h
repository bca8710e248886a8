#pragma once

/// Keyed state held as serialized entries in memory, in the runtime backends' own layout (what
/// a restore keeps of the states that are not registered yet), and the heap-held part of a
/// snapshot: those entries beside the heap tables' own snapshots.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>

#include <brook/internal/keyed_state_backend.h>
#include <brook/state.h>  // completes brook::State, which keyed_state_backend.h needs

#include "state/key_group.h"
#include "state/state_kind.h"
#include "state/state_snapshot.h"

namespace brook::state::internal {

/// The serialized entries of one state, appended in any key group order and sorted by key group
/// with `sortByKeyGroup` before they are read. Each entry is stored in one byte string (no
/// allocation per entry): the key, the namespace, then the value (value state), the user key
/// and user value (map state) or the number of elements and the elements (list state), each
/// varint-length-prefixed. Each entry also carries the index of the snapshot it was restored
/// from (for messages; 0 when it was not restored). Not thread-safe; immutable once shared.
class FrozenState {
 public:
  struct Entry {
    int keyGroup;
    uint32_t source;
    size_t offset;
  };

  FrozenState(std::string name, StateKind kind) : name_(std::move(name)), kind_(kind) {}

  const std::string& name() const { return name_; }
  StateKind kind() const { return kind_; }
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  const std::vector<Entry>& entries() const { return entries_; }

  void addValue(int keyGroup,
                std::string_view key,
                std::string_view stateNamespace,
                std::string_view value,
                uint32_t source = 0);
  /// Adds nothing when `elements` is empty (an empty list is absent).
  void addList(int keyGroup,
               std::string_view key,
               std::string_view stateNamespace,
               std::span<const std::string> elements,
               uint32_t source = 0);
  void addList(int keyGroup,
               std::string_view key,
               std::string_view stateNamespace,
               std::span<const std::string_view> elements,
               uint32_t source = 0);
  void addMapEntry(int keyGroup,
                   std::string_view key,
                   std::string_view stateNamespace,
                   std::string_view userKey,
                   std::string_view userValue,
                   uint32_t source = 0);
  /// Adds a restored entry of this state's kind.
  void add(const KeyedStateEntry& entry, uint32_t source);

  /// Orders the entries by key group, keeping the order of each key group's entries.
  void sortByKeyGroup();

  /// Decodes `entry` into `out`, whose views (and `elements`, which backs out->elements) stay
  /// valid while this object is unchanged. False only if the bytes were damaged (our bug).
  bool decode(const Entry& entry,
              brook::internal::RestoredEntry* out,
              std::vector<std::string_view>* elements) const;

  /// The entries of `keyGroup` (sorted state only).
  std::span<const Entry> entriesOf(int keyGroup) const;

  /// Begins this state in the writer's current key group and writes the entries of `keyGroup`
  /// (sorted state only); writes nothing when it has none.
  absl::Status write(int keyGroup, KeyedStateSnapshotWriter& writer) const;

 private:
  void beginEntry(int keyGroup, uint32_t source, std::string_view key, std::string_view ns);
  template <typename String>
  void appendList(int keyGroup,
                  std::string_view key,
                  std::string_view stateNamespace,
                  std::span<const String> elements,
                  uint32_t source);

  std::string name_;
  StateKind kind_;
  std::string bytes_;
  std::vector<Entry> entries_;
};

/// The heap-held state of a snapshot as snapshot content limited to `range`: frozen states
/// (sorted by key group; shared, immutable from then on) and heap tables' snapshots, which
/// serialize their entries only when written. Written from any one thread.
class FrozenKeyedState final : public KeyGroupedSnapshotContent {
 public:
  /// A heap table's snapshot and the state it is of.
  struct TableSnapshot {
    std::string name;
    StateKind kind;
    std::unique_ptr<const brook::internal::KeyedStateTableSnapshot> snapshot;
  };

  FrozenKeyedState(KeyGroupRange range,
                   std::vector<std::shared_ptr<const FrozenState>> states,
                   std::vector<TableSnapshot> tables = {});

  KeyGroupRange keyGroupRange() const { return range_; }
  std::span<const int> keyGroups() const override { return keyGroups_; }
  absl::Status writeKeyGroup(int keyGroup, KeyedStateSnapshotWriter& writer) const override;

 private:
  KeyGroupRange range_;
  std::vector<std::shared_ptr<const FrozenState>> states_;
  std::vector<TableSnapshot> tables_;
  std::vector<int> keyGroups_;
};

/// A whole snapshot of frozen states (the heap backend's). Independent of the backend that made
/// it, which may be destroyed first.
class FrozenKeyedStateSnapshot final : public KeyedStateSnapshot {
 public:
  explicit FrozenKeyedStateSnapshot(std::unique_ptr<const FrozenKeyedState> state)
      : state_(std::move(state)) {}

  KeyGroupRange keyGroupRange() const override { return state_->keyGroupRange(); }
  absl::Status write(KeyedStateSnapshotWriter& writer) override;

 private:
  std::unique_ptr<const FrozenKeyedState> state_;
};

}  // namespace brook::state::internal
