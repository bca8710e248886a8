#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

namespace brook::internal {

namespace murmur_detail {
inline uint64_t rotl64(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}
inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}
inline uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
// The little-endian value of the `n` (< 8) bytes at `p`, without reading past them.
inline uint64_t loadPartial(const char* p, size_t n) {
  if (n >= 4)
    return load32(p) | (load32(p + n - 4) << (8 * (n - 4)));
  uint64_t v = 0;
  if (n > 0) {
    v = static_cast<unsigned char>(p[0]);
    v |= uint64_t{static_cast<unsigned char>(p[n / 2])} << (8 * (n / 2));
    v |= uint64_t{static_cast<unsigned char>(p[n - 1])} << (8 * (n - 1));
  }
  return v;
}
}  // namespace murmur_detail

/// MurmurHash3's x64 128-bit function (public domain, Austin Appleby) with seed 0: the first 64
/// bits. The hash of a key's serialized bytes that key groups are computed from (part of the
/// wire and checkpoint format: it must never change), and that heap state tables hash keys with.
/// The tail is read with word loads; bytes are little-endian, as the reference composes them.
inline uint64_t murmurKeyHash(const char* data, size_t len) {
  using namespace murmur_detail;
  constexpr uint64_t c1 = 0x87c37b91114253d5ULL;
  constexpr uint64_t c2 = 0x4cf5ad432745937fULL;
  uint64_t h1 = 0;
  uint64_t h2 = 0;
  const size_t nblocks = len / 16;
  for (size_t i = 0; i < nblocks; ++i) {
    uint64_t k1 = load64(data + i * 16);
    uint64_t k2 = load64(data + i * 16 + 8);
    k1 *= c1;
    k1 = rotl64(k1, 31);
    k1 *= c2;
    h1 ^= k1;
    h1 = rotl64(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;
    k2 *= c2;
    k2 = rotl64(k2, 33);
    k2 *= c1;
    h2 ^= k2;
    h2 = rotl64(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }
  const char* tail = data + nblocks * 16;
  const size_t rest = len & 15;
  if (rest > 8) {
    // Bytes 8.. of the tail: the last 8 bytes shifted down past those that belong to k1.
    uint64_t k2 = load64(tail + rest - 8) >> (8 * (16 - rest));
    k2 *= c2;
    k2 = rotl64(k2, 33);
    k2 *= c1;
    h2 ^= k2;
  }
  if (rest > 0) {
    uint64_t k1 = rest >= 8 ? load64(tail) : loadPartial(tail, rest);
    k1 *= c1;
    k1 = rotl64(k1, 31);
    k1 *= c2;
    h1 ^= k1;
  }
  h1 ^= len;
  h2 ^= len;
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  return h1;
}

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
