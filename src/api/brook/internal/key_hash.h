#pragma once

#include <cstddef>
#include <functional>
#include <tuple>
#include <utility>

namespace brook::internal {

inline size_t combineHash(size_t seed, size_t h) {
  return seed ^ (h + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

/// The in-memory hash of keys in per-key tables: std::hash, extended to pairs and tuples.
/// (Routing to subtasks does not use it: that hashes the key's serialized bytes.)
template <typename K>
struct KeyHash {
  size_t operator()(const K& key) const { return std::hash<K>{}(key); }
};
template <typename A, typename B>
struct KeyHash<std::pair<A, B>> {
  size_t operator()(const std::pair<A, B>& key) const {
    return combineHash(KeyHash<A>{}(key.first), KeyHash<B>{}(key.second));
  }
};
template <typename... Ts>
struct KeyHash<std::tuple<Ts...>> {
  size_t operator()(const std::tuple<Ts...>& key) const {
    size_t seed = 0;
    std::apply(
        [&](const auto&... e) {
          ((seed = combineHash(seed, KeyHash<std::remove_cvref_t<decltype(e)>>{}(e))), ...);
        },
        key);
    return seed;
  }
};

}  // namespace brook::internal
