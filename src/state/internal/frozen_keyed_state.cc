#include "state/internal/frozen_keyed_state.h"

#include <algorithm>
#include <utility>

#include <absl/strings/str_cat.h>

#include "common/status_macros.h"
#include "state/internal/byte_reader.h"

namespace brook::state::internal {

// ---------------------------------------------------------------------------------------------
// FrozenState

void FrozenState::beginEntry(int keyGroup,
                             uint32_t source,
                             std::string_view key,
                             std::string_view ns) {
  entries_.push_back(Entry{keyGroup, source, bytes_.size()});
  appendLengthPrefixed(&bytes_, key);
  appendLengthPrefixed(&bytes_, ns);
}

void FrozenState::addValue(int keyGroup,
                           std::string_view key,
                           std::string_view stateNamespace,
                           std::string_view value,
                           uint32_t source) {
  beginEntry(keyGroup, source, key, stateNamespace);
  appendLengthPrefixed(&bytes_, value);
}

template <typename String>
void FrozenState::appendList(int keyGroup,
                             std::string_view key,
                             std::string_view stateNamespace,
                             std::span<const String> elements,
                             uint32_t source) {
  if (elements.empty()) {
    return;
  }
  beginEntry(keyGroup, source, key, stateNamespace);
  appendVarint64(&bytes_, elements.size());
  for (const String& element : elements) {
    appendLengthPrefixed(&bytes_, element);
  }
}

void FrozenState::addList(int keyGroup,
                          std::string_view key,
                          std::string_view stateNamespace,
                          std::span<const std::string> elements,
                          uint32_t source) {
  appendList(keyGroup, key, stateNamespace, elements, source);
}

void FrozenState::addList(int keyGroup,
                          std::string_view key,
                          std::string_view stateNamespace,
                          std::span<const std::string_view> elements,
                          uint32_t source) {
  appendList(keyGroup, key, stateNamespace, elements, source);
}

void FrozenState::addMapEntry(int keyGroup,
                              std::string_view key,
                              std::string_view stateNamespace,
                              std::string_view userKey,
                              std::string_view userValue,
                              uint32_t source) {
  beginEntry(keyGroup, source, key, stateNamespace);
  appendLengthPrefixed(&bytes_, userKey);
  appendLengthPrefixed(&bytes_, userValue);
}

void FrozenState::add(const KeyedStateEntry& entry, uint32_t source) {
  switch (kind_) {
    case StateKind::kValue:
      addValue(entry.keyGroup, entry.key, entry.stateNamespace, entry.value, source);
      break;
    case StateKind::kList:
      addList(entry.keyGroup, entry.key, entry.stateNamespace,
              std::span<const std::string_view>(entry.elements), source);
      break;
    case StateKind::kMap:
      addMapEntry(entry.keyGroup, entry.key, entry.stateNamespace, entry.userKey, entry.value,
                  source);
      break;
  }
}

void FrozenState::sortByKeyGroup() {
  const auto byKeyGroup = [](const Entry& a, const Entry& b) { return a.keyGroup < b.keyGroup; };
  // Heap tables freeze key group after key group: usually nothing to do.
  if (std::is_sorted(entries_.begin(), entries_.end(), byKeyGroup)) {
    return;
  }
  std::stable_sort(entries_.begin(), entries_.end(), byKeyGroup);
}

bool FrozenState::decode(const Entry& entry,
                         brook::internal::RestoredEntry* out,
                         std::vector<std::string_view>* elements) const {
  ByteReader r(std::string_view(bytes_).substr(entry.offset));
  *out = brook::internal::RestoredEntry{};
  out->keyGroup = entry.keyGroup;
  if (!r.readLengthPrefixed(&out->key) || !r.readLengthPrefixed(&out->stateNamespace)) {
    return false;
  }
  switch (kind_) {
    case StateKind::kValue:
      return r.readLengthPrefixed(&out->value);
    case StateKind::kList: {
      uint64_t n = 0;
      if (!r.readVarint64(&n) || n > bytes_.size()) {
        return false;
      }
      elements->resize(n);
      for (std::string_view& element : *elements) {
        if (!r.readLengthPrefixed(&element)) {
          return false;
        }
      }
      out->elements = *elements;
      return true;
    }
    case StateKind::kMap:
      return r.readLengthPrefixed(&out->userKey) && r.readLengthPrefixed(&out->value);
  }
  return false;
}

std::span<const FrozenState::Entry> FrozenState::entriesOf(int keyGroup) const {
  auto [first, last] =
      std::equal_range(entries_.begin(), entries_.end(), Entry{keyGroup, 0, 0},
                       [](const Entry& a, const Entry& b) { return a.keyGroup < b.keyGroup; });
  return std::span<const Entry>(first, last);
}

absl::Status FrozenState::write(int keyGroup, KeyedStateSnapshotWriter& writer) const {
  std::span<const Entry> entries = entriesOf(keyGroup);
  if (entries.empty()) {
    return absl::OkStatus();
  }
  BROOK_RETURN_IF_ERROR(writer.beginState(name_, kind_));
  brook::internal::RestoredEntry e;
  std::vector<std::string_view> elements;
  for (const Entry& entry : entries) {
    if (!decode(entry, &e, &elements)) {
      return absl::InternalError(absl::StrCat("the frozen entries of state '", name_,
                                              "' in key group ", keyGroup, " do not decode"));
    }
    switch (kind_) {
      case StateKind::kValue:
        BROOK_RETURN_IF_ERROR(writer.writeValue(e.key, e.stateNamespace, e.value));
        break;
      case StateKind::kList:
        BROOK_RETURN_IF_ERROR(
            writer.writeList(e.key, e.stateNamespace, std::span<const std::string_view>(elements)));
        break;
      case StateKind::kMap:
        BROOK_RETURN_IF_ERROR(writer.writeMapEntry(e.key, e.stateNamespace, e.userKey, e.value));
        break;
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// FrozenKeyedState

FrozenKeyedState::FrozenKeyedState(KeyGroupRange range,
                                   std::vector<std::shared_ptr<const FrozenState>> states,
                                   std::vector<TableSnapshot> tables)
    : range_(range), states_(std::move(states)), tables_(std::move(tables)) {
  for (const auto& state : states_) {
    int last = -1;
    for (const FrozenState::Entry& entry : state->entries()) {
      if (entry.keyGroup != last && range_.contains(entry.keyGroup)) {
        keyGroups_.push_back(entry.keyGroup);
      }
      last = entry.keyGroup;
    }
  }
  for (const TableSnapshot& table : tables_) {
    for (int keyGroup : table.snapshot->keyGroups()) {
      if (range_.contains(keyGroup)) {
        keyGroups_.push_back(keyGroup);
      }
    }
  }
  std::sort(keyGroups_.begin(), keyGroups_.end());
  keyGroups_.erase(std::unique(keyGroups_.begin(), keyGroups_.end()), keyGroups_.end());
}

namespace {

/// Passes a heap table's entries of one key group on to a snapshot writer, keeping the first
/// error.
class WriterSink final : public brook::internal::KeyedStateSink {
 public:
  explicit WriterSink(KeyedStateSnapshotWriter* writer) : writer_(writer) {}

  void writeValue(int, std::string_view key, std::string_view ns,
                  std::string_view value) override {
    if (status_.ok()) {
      status_ = writer_->writeValue(key, ns, value);
    }
  }
  void writeList(int, std::string_view key, std::string_view ns,
                 std::span<const std::string> elements) override {
    if (status_.ok()) {
      status_ = writer_->writeList(key, ns, elements);
    }
  }
  void writeMapEntry(int, std::string_view key, std::string_view ns, std::string_view userKey,
                     std::string_view userValue) override {
    if (status_.ok()) {
      status_ = writer_->writeMapEntry(key, ns, userKey, userValue);
    }
  }
  const absl::Status& status() const { return status_; }

 private:
  KeyedStateSnapshotWriter* writer_;
  absl::Status status_;
};

}  // namespace

absl::Status FrozenKeyedState::writeKeyGroup(int keyGroup, KeyedStateSnapshotWriter& writer) const {
  if (!range_.contains(keyGroup)) {
    return absl::OkStatus();
  }
  for (const auto& state : states_) {
    BROOK_RETURN_IF_ERROR(state->write(keyGroup, writer));
  }
  for (const TableSnapshot& table : tables_) {
    const std::vector<int>& groups = table.snapshot->keyGroups();
    if (!std::binary_search(groups.begin(), groups.end(), keyGroup)) {
      continue;
    }
    // A state whose entries in the key group all expired costs nothing: the writer writes the
    // state's record with its first entry.
    BROOK_RETURN_IF_ERROR(writer.beginState(table.name, table.kind));
    WriterSink sink(&writer);
    try {
      table.snapshot->write(keyGroup, sink);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("snapshot of state '", table.name,
                                              "' in key group ", keyGroup, ": ", e.what()));
    }
    BROOK_RETURN_IF_ERROR(sink.status());
  }
  return absl::OkStatus();
}

absl::Status FrozenKeyedStateSnapshot::write(KeyedStateSnapshotWriter& writer) {
  for (int keyGroup : state_->keyGroups()) {
    BROOK_RETURN_IF_ERROR(writer.beginKeyGroup(keyGroup));
    BROOK_RETURN_IF_ERROR(state_->writeKeyGroup(keyGroup, writer));
  }
  return absl::OkStatus();
}

}  // namespace brook::state::internal
