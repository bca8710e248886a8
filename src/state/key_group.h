#pragma once

/// Key groups: the unit in which keyed state is partitioned and rescaled.
///
/// A key's group is `hashKeyBytes(serialized key) % maxParallelism`, where hashKeyBytes is
/// MurmurHash3's x64 128-bit function (seed 0, first 64 bits) over the key's serialized bytes.
/// Subtask i of p owns the contiguous range of groups computed by `keyGroupRangeFor`, the
/// same rule as Flink's KeyGroupRangeAssignment. These functions are part of the wire and
/// checkpoint format: they must never change.

#include <cstdint>
#include <string_view>

#include <brook/internal/key_hash.h>

namespace brook::state {

/// The 64-bit hash of a key's serialized bytes.
inline uint64_t hashKeyBytes(std::string_view bytes) {
  return brook::internal::murmurKeyHash(bytes.data(), bytes.size());
}

inline int keyGroupForHash(uint64_t hash, int maxParallelism) {
  const auto m = static_cast<uint64_t>(maxParallelism);
  // A power of two (the default 128 among them): the same remainder without a division.
  if ((m & (m - 1)) == 0) [[likely]]
    return static_cast<int>(hash & (m - 1));
  return static_cast<int>(hash % m);
}

inline int keyGroupFor(std::string_view serializedKey, int maxParallelism) {
  return keyGroupForHash(hashKeyBytes(serializedKey), maxParallelism);
}

/// The subtask that owns `keyGroup` at `parallelism`.
inline int operatorIndexForKeyGroup(int maxParallelism, int parallelism, int keyGroup) {
  return static_cast<int>(static_cast<int64_t>(keyGroup) * parallelism / maxParallelism);
}

/// An inclusive range of key groups [start, end]; empty when end < start.
struct KeyGroupRange {
  int start = 0;
  int end = -1;
  int size() const { return end >= start ? end - start + 1 : 0; }
  bool contains(int keyGroup) const { return keyGroup >= start && keyGroup <= end; }
  bool operator==(const KeyGroupRange&) const = default;
};

/// The key groups subtask `index` of `parallelism` owns.
KeyGroupRange keyGroupRangeFor(int maxParallelism, int parallelism, int index);

}  // namespace brook::state
