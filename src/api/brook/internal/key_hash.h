#pragma once

#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

namespace brook::internal {

inline size_t combineHash(size_t seed, size_t h) {
  return seed ^ (h + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

template <typename K>
inline constexpr bool kAbslHashable = std::is_invocable_v<absl::Hash<K>, const K&>;

/// The in-memory hash of keys in per-key tables: absl::Hash where the key type supports it
/// (arithmetic types, strings, pairs and tuples of them, types with AbslHashValue), else
/// std::hash, extended to pairs and tuples. (Routing to subtasks does not use it: that hashes
/// the key's serialized bytes.)
template <typename K>
struct KeyHash {
  size_t operator()(const K& key) const {
    if constexpr (kAbslHashable<K>) {
      return absl::Hash<K>{}(key);
    } else {
      return std::hash<K>{}(key);
    }
  }
};
template <typename A, typename B>
struct KeyHash<std::pair<A, B>> {
  size_t operator()(const std::pair<A, B>& key) const {
    if constexpr (kAbslHashable<std::pair<A, B>>) {
      return absl::Hash<std::pair<A, B>>{}(key);
    } else {
      return combineHash(KeyHash<A>{}(key.first), KeyHash<B>{}(key.second));
    }
  }
};
template <typename... Ts>
struct KeyHash<std::tuple<Ts...>> {
  size_t operator()(const std::tuple<Ts...>& key) const {
    if constexpr (kAbslHashable<std::tuple<Ts...>>) {
      return absl::Hash<std::tuple<Ts...>>{}(key);
    }
    size_t seed = 0;
    std::apply(
        [&](const auto&... e) {
          ((seed = combineHash(seed, KeyHash<std::remove_cvref_t<decltype(e)>>{}(e))), ...);
        },
        key);
    return seed;
  }
};

/// The table of one value per key that keyed operators keep: open addressing, values inline.
template <typename K, typename V>
using KeyedTable = absl::flat_hash_map<K, V, KeyHash<K>>;

}  // namespace brook::internal
