#pragma once

/// A test-only oracle for keyed state at the byte level: plain ordered maps holding what a
/// backend should hold, which can write itself in the canonical snapshot format (standing in
/// for the heap backend) and flatten any snapshot into comparable entries.

#include <algorithm>
#include <compare>
#include <map>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "state/key_group.h"
#include "state/state_kind.h"
#include "state/state_snapshot.h"

namespace brook::state {

/// One entry with owned bytes, ordered by key group, then state, then key.
struct ModelEntry {
  int keyGroup = 0;
  std::string state;
  StateKind kind = StateKind::kValue;
  std::string key;
  std::string stateNamespace;
  std::string userKey;
  std::string value;
  std::vector<std::string> elements;

  auto operator<=>(const ModelEntry&) const = default;
};

/// Keyed state in ordered maps. Keys carry their key group explicitly.
class KeyedStateModel {
 public:
  // (state, key group, key, namespace)
  using Key = std::tuple<std::string, int, std::string, std::string>;
  // (state, key group, key, namespace, user key)
  using MapKey = std::tuple<std::string, int, std::string, std::string, std::string>;

  std::map<std::string, StateKind> kinds;
  std::map<Key, std::string> values;
  std::map<Key, std::vector<std::string>> lists;
  std::map<MapKey, std::string> maps;

  /// Every entry of the key groups in `range`, sorted; empty lists are absent.
  std::vector<ModelEntry> entries(KeyGroupRange range) const {
    std::vector<ModelEntry> out;
    for (const auto& [k, v] : values) {
      if (range.contains(std::get<1>(k))) {
        out.push_back(ModelEntry{std::get<1>(k),
                                 std::get<0>(k),
                                 StateKind::kValue,
                                 std::get<2>(k),
                                 std::get<3>(k),
                                 "",
                                 v,
                                 {}});
      }
    }
    for (const auto& [k, v] : lists) {
      if (range.contains(std::get<1>(k)) && !v.empty()) {
        out.push_back(ModelEntry{std::get<1>(k), std::get<0>(k), StateKind::kList, std::get<2>(k),
                                 std::get<3>(k), "", "", v});
      }
    }
    for (const auto& [k, v] : maps) {
      if (range.contains(std::get<1>(k))) {
        out.push_back(ModelEntry{std::get<1>(k),
                                 std::get<0>(k),
                                 StateKind::kMap,
                                 std::get<2>(k),
                                 std::get<3>(k),
                                 std::get<4>(k),
                                 v,
                                 {}});
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  /// Writes the key groups of `range` as a backend would, without finishing the writer.
  absl::Status write(KeyedStateSnapshotWriter& writer, KeyGroupRange range) const {
    int keyGroup = -1;
    std::string state;
    for (const ModelEntry& e : entries(range)) {
      if (e.keyGroup != keyGroup) {
        keyGroup = e.keyGroup;
        state.clear();
        if (absl::Status s = writer.beginKeyGroup(keyGroup); !s.ok()) {
          return s;
        }
      }
      if (e.state != state || state.empty()) {
        state = e.state;
        if (absl::Status s = writer.beginState(e.state, e.kind); !s.ok()) {
          return s;
        }
      }
      absl::Status s;
      switch (e.kind) {
        case StateKind::kValue:
          s = writer.writeValue(e.key, e.stateNamespace, e.value);
          break;
        case StateKind::kList:
          s = writer.writeList(e.key, e.stateNamespace, std::span<const std::string>(e.elements));
          break;
        case StateKind::kMap:
          s = writer.writeMapEntry(e.key, e.stateNamespace, e.userKey, e.value);
          break;
      }
      if (!s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  /// Reads every entry of `range` from `reader`, sorted.
  static absl::StatusOr<std::vector<ModelEntry>> read(KeyedStateSnapshotReader& reader,
                                                      KeyGroupRange range) {
    std::vector<ModelEntry> out;
    reader.seek(range);
    KeyedStateEntry e;
    while (true) {
      absl::StatusOr<bool> more = reader.next(&e);
      if (!more.ok()) {
        return more.status();
      }
      if (!*more) {
        break;
      }
      ModelEntry m{e.keyGroup,
                   std::string(e.stateName),
                   e.kind,
                   std::string(e.key),
                   std::string(e.stateNamespace),
                   std::string(e.userKey),
                   std::string(e.value),
                   {}};
      for (std::string_view element : e.elements) {
        m.elements.emplace_back(element);
      }
      out.push_back(std::move(m));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

/// Random bytes of a length in [minLength, maxLength], zero bytes and 0xFF included.
inline std::string randomBytes(std::mt19937_64& random, int minLength, int maxLength) {
  std::uniform_int_distribution<int> length(minLength, maxLength);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(static_cast<size_t>(length(random)), '\0');
  for (char& c : s) {
    c = static_cast<char>(byte(random));
  }
  return s;
}

}  // namespace brook::state
