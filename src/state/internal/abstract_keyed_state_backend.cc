#include "state/internal/abstract_keyed_state_backend.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include <absl/strings/str_cat.h>

#include <brook/serializer.h>
#include <brook/state.h>

namespace brook::state::internal {

namespace {

using brook::internal::KeyedStateTable;
using brook::internal::KeyedStateTableSnapshot;
using brook::internal::RestoredEntry;

absl::string_view toAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

StateKind kindOf(const KeyedStateTable& table) {
  return static_cast<StateKind>(table.shape());
}

}  // namespace

AbstractKeyedStateBackend::AbstractKeyedStateBackend(const KeyedStateBackendOptions& options,
                                                     brook::internal::KeyedBytesStore* store)
    : RuntimeKeyedStateBackend(options.operatorDescription,
                               options.maxParallelism,
                               options.keyGroupRange.start,
                               options.keyGroupRange.end,
                               store),
      range_(options.keyGroupRange),
      clock_(options.clock) {}

void AbstractKeyedStateBackend::setCurrentKey(std::string_view serializedKey) {
  const uint64_t hash = hashKeyBytes(serializedKey);
  const int keyGroup = keyGroupForHash(hash, maxParallelism());
  if (!range_.contains(keyGroup)) [[unlikely]] {
    failKeyGroup(keyGroup);
  }
  setKey(serializedKey, keyGroup, hash);
}

void AbstractKeyedStateBackend::failKeyGroup(int keyGroup) const {
  throw StateException(absl::StrCat(
      "operator '", operatorDescription(), "' received a key of key group ", keyGroup,
      ", outside its key groups [", range_.start, ", ", range_.end,
      "]: the record was routed to the wrong subtask (is the key's serializer deterministic?)"));
}

int64_t AbstractKeyedStateBackend::currentTimeMillis() const {
  if (clock_) {
    return clock_();
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> AbstractKeyedStateBackend::pendingStateNames() const {
  std::vector<std::string> names;
  for (const auto& [name, state] : pending_) {
    names.push_back(name);
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// Snapshots

absl::Status AbstractKeyedStateBackend::checkSnapshotRange(KeyGroupRange range) const {
  if (range.size() > 0 && (range.start < 0 || range.end >= maxParallelism())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "snapshot of operator '", operatorDescription(), "': key groups [", range.start, ", ",
        range.end, "] are outside [0, ", maxParallelism() - 1, "]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FrozenKeyedState>> AbstractKeyedStateBackend::freezeHeapHeldState(
    KeyGroupRange range) {
  std::vector<std::shared_ptr<const FrozenState>> states;
  std::vector<FrozenKeyedState::TableSnapshot> tables;
  for (const auto& registration : registrations()) {
    KeyedStateTable& table = *registration->table;
    // A table whose name is still pending did not accept its restored entries (the operator
    // failed on them); the snapshot keeps those rather than the table's.
    if (!table.heapHeld() || pending_.contains(table.name()) || range.size() == 0) {
      continue;
    }
    try {
      std::unique_ptr<KeyedStateTableSnapshot> snapshot =
          table.snapshotTable(range.start, range.end);
      if (snapshot != nullptr && !snapshot->keyGroups().empty()) {
        tables.push_back({table.name(), kindOf(table), std::move(snapshot)});
      }
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("snapshot of state '", table.name(),
                                              "' of operator '", operatorDescription(),
                                              "': ", e.what()));
    }
  }
  for (const auto& [name, state] : pending_) {
    states.push_back(state);
  }
  return std::make_unique<FrozenKeyedState>(range, std::move(states), std::move(tables));
}

// ---------------------------------------------------------------------------------------------
// Restore

absl::StatusOr<uint32_t> AbstractKeyedStateBackend::beginRestore(
    const KeyedStateSnapshotReader& reader) {
  if (reader.maxParallelism() != maxParallelism()) {
    return absl::FailedPreconditionError(
        absl::StrCat("keyed state snapshot '", reader.sourceName(), "' has max parallelism ",
                     reader.maxParallelism(), ", but operator '", operatorDescription(), "' has ",
                     maxParallelism(), ": the max parallelism of a keyed operator cannot change"));
  }
  lastRestoredState_.clear();
  lastTable_ = nullptr;
  lastPending_ = nullptr;
  lastStoreState_ = -1;
  restoreSources_.push_back(reader.sourceName());
  return static_cast<uint32_t>(restoreSources_.size() - 1);
}

void AbstractKeyedStateBackend::endRestore() {
  lastRestoredState_.clear();
  lastTable_ = nullptr;
  lastPending_ = nullptr;
  // Restores append in key group order per snapshot; several snapshots interleave.
  for (auto& [name, state] : pending_) {
    if (state.use_count() == 1) {
      state->sortByKeyGroup();
    }
  }
}

absl::Status AbstractKeyedStateBackend::restoreAllEntries(KeyedStateSnapshotReader& reader) {
  absl::StatusOr<uint32_t> source = beginRestore(reader);
  if (!source.ok()) {
    return source.status();
  }
  reader.seek(range_);
  KeyedStateEntry entry;
  absl::Status status;
  while (status.ok()) {
    absl::StatusOr<bool> more = reader.next(&entry);
    if (!more.ok()) {
      status = more.status();
    } else if (!*more) {
      break;
    } else {
      status = restoreEntry(entry, *source);
    }
  }
  endRestore();
  return status;
}

absl::Status AbstractKeyedStateBackend::restoreEntry(const KeyedStateEntry& entry,
                                                     uint32_t source) {
  if (lastRestoredState_.empty() || entry.stateName != lastRestoredState_) {
    lastRestoredState_.assign(entry.stateName);
    lastTable_ = findTable(entry.stateName);
    lastPending_ = nullptr;
    lastStoreState_ = -1;
    if (lastTable_ == nullptr) {
      auto it = pending_.find(entry.stateName);
      if (it == pending_.end()) {
        it = pending_
                 .emplace(std::string(entry.stateName),
                          std::make_shared<FrozenState>(std::string(entry.stateName), entry.kind))
                 .first;
      } else if (it->second.use_count() > 1) {
        it->second = std::make_shared<FrozenState>(*it->second);
      }
      lastPending_ = it->second.get();
    }
  }
  StateKind kind = lastTable_ != nullptr ? kindOf(*lastTable_) : lastPending_->kind();
  if (entry.kind != kind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keyed state snapshot '", sourceName(source), "' holds state '", toAbsl(entry.stateName),
        "' as ", toAbsl(stateKindName(entry.kind)), " state, but operator '", operatorDescription(),
        "' ", lastTable_ != nullptr ? "registered" : "restored", " it as ",
        toAbsl(stateKindName(kind)), " state"));
  }
  if (lastPending_ != nullptr) {
    lastPending_->add(entry, source);
    return absl::OkStatus();
  }

  RestoredEntry restored{entry.keyGroup, entry.key,     entry.stateNamespace,
                         entry.value,    entry.userKey, entry.elements};
  try {
    if (lastTable_->heapHeld()) {
      lastTable_->restore(restored);
    } else {
      if (lastStoreState_ < 0) {
        lastStoreState_ = store()->registerState(lastTable_->name(), lastTable_->shape());
      }
      writeToStore(lastStoreState_, kind, restored);
    }
  } catch (const SerializationError& e) {
    return absl::DataLossError(absl::StrCat(
        "keyed state snapshot '", sourceName(source), "': an entry of state '", lastTable_->name(),
        "' in key group ", entry.keyGroup, " does not decode: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("restoring state '", lastTable_->name(),
                                            "' from keyed state snapshot '", sourceName(source),
                                            "': ", e.what()));
  }
  return absl::OkStatus();
}

void AbstractKeyedStateBackend::writeToStore(int state,
                                             StateKind kind,
                                             const RestoredEntry& entry) {
  brook::internal::KeyedBytesStore& bytes = *store();
  switch (kind) {
    case StateKind::kValue:
      bytes.putValue(state, entry.keyGroup, entry.key, entry.stateNamespace, entry.value);
      break;
    case StateKind::kList: {
      std::vector<std::string> elements(entry.elements.begin(), entry.elements.end());
      bytes.updateList(state, entry.keyGroup, entry.key, entry.stateNamespace, elements);
      break;
    }
    case StateKind::kMap:
      bytes.putMapValue(state, entry.keyGroup, entry.key, entry.stateNamespace, entry.userKey,
                        entry.value);
      break;
  }
}

void AbstractKeyedStateBackend::onRegistered(KeyedStateTable& table) {
  lastRestoredState_.clear();
  auto it = pending_.find(table.name());
  if (it == pending_.end()) {
    return;
  }
  const FrozenState& pending = *it->second;
  if (kindOf(table) != pending.kind()) {
    throw StateException(absl::StrCat(
        "state '", table.name(), "' of operator '", operatorDescription(), "' is registered as ",
        toAbsl(stateKindName(kindOf(table))), " state, but keyed state snapshot '",
        sourceName(pending.empty() ? 0 : pending.entries().front().source), "' holds it as ",
        toAbsl(stateKindName(pending.kind())), " state"));
  }
  RestoredEntry restored;
  std::vector<std::string_view> elements;
  const int storeState =
      table.heapHeld() ? -1 : store()->registerState(table.name(), table.shape());
  for (const FrozenState::Entry& entry : pending.entries()) {
    if (!pending.decode(entry, &restored, &elements)) {
      throw StateException(absl::StrCat("state '", table.name(), "' of operator '",
                                        operatorDescription(),
                                        "': its restored entries are damaged"));
    }
    try {
      if (storeState < 0) {
        table.restore(restored);
      } else {
        writeToStore(storeState, pending.kind(), restored);
      }
    } catch (const SerializationError& e) {
      throw StateException(absl::StrCat(
          "state '", table.name(), "' of operator '", operatorDescription(),
          "' cannot be restored from keyed state snapshot '", sourceName(entry.source),
          "': an entry in key group ", entry.keyGroup, " does not decode: ", e.what()));
    }
  }
  pending_.erase(it);
}

const std::string& AbstractKeyedStateBackend::sourceName(uint32_t source) const {
  static const std::string kUnknown = "(unknown)";
  return source < restoreSources_.size() ? restoreSources_[source] : kUnknown;
}

}  // namespace brook::state::internal
