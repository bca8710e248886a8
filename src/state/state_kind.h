#pragma once

#include <cstdint>
#include <string_view>

namespace brook::state {

/// The shape of one keyed state at the byte level. Reducing and aggregating state are values;
/// timers and TTL are built above this layer. The numbers are part of the snapshot format.
enum class StateKind : uint8_t {
  kValue = 1,  // (key, namespace) -> value
  kList = 2,   // (key, namespace) -> ordered list of elements
  kMap = 3,    // (key, namespace, user key) -> user value
};

/// "value", "list" or "map" (or "unknown"), for messages.
inline std::string_view stateKindName(StateKind kind) {
  switch (kind) {
    case StateKind::kValue:
      return "value";
    case StateKind::kList:
      return "list";
    case StateKind::kMap:
      return "map";
  }
  return "unknown";
}

}  // namespace brook::state
