#pragma once

// java.util.Random, bit for bit: the Nexmark generators of Apache Beam and nexmark/nexmark draw
// every field of an event from a java.util.Random seeded with the event's id, so generating the
// same events needs the same 48-bit linear congruential generator and the same derivations
// (nextInt with a bound, nextLong, nextDouble). Internal to the Nexmark connector.

#include <cstdint>

namespace brook::nexmark::internal {

/// A java.util.Random: the same seed gives the same sequence as in Java. Not thread-safe.
class JavaRandom {
 public:
  explicit JavaRandom(int64_t seed) { setSeed(seed); }

  /// Java's setSeed: scrambles the seed with the multiplier.
  void setSeed(int64_t seed) { seed_ = (static_cast<uint64_t>(seed) ^ kMultiplier) & kMask; }

  /// The next `bits` (1..32) random bits, as Java's protected next(bits): the high bits of the
  /// 48-bit state, as a (possibly negative) 32-bit int.
  int32_t next(int bits) {
    seed_ = (seed_ * kMultiplier + kAddend) & kMask;
    return static_cast<int32_t>(static_cast<uint32_t>(seed_ >> (48 - bits)));
  }

  int32_t nextInt() { return next(32); }

  /// A value in [0, bound); `bound` must be positive. Powers of two take the high bits; other
  /// bounds reject the values of the last incomplete range, as Java does.
  int32_t nextInt(int32_t bound) {
    int32_t r = next(31);
    const int32_t m = bound - 1;
    if ((bound & m) == 0)
      return static_cast<int32_t>((static_cast<int64_t>(bound) * r) >> 31);
    // Java's loop condition `u - r + m < 0` detects int overflow; compute it in 64 bits.
    for (int32_t u = r;; u = next(31)) {
      r = u % bound;
      if (static_cast<int64_t>(u) - r + m <= INT32_MAX)
        return r;
    }
  }

  int64_t nextLong() {
    const auto high = static_cast<uint64_t>(static_cast<int64_t>(next(32)));
    const auto low = static_cast<uint64_t>(static_cast<int64_t>(next(32)));
    return static_cast<int64_t>((high << 32) + low);
  }

  /// A value in [0, 1) with 53 random bits.
  double nextDouble() {
    const auto high = static_cast<int64_t>(next(26));
    const auto low = static_cast<int64_t>(next(27));
    return static_cast<double>((high << 27) + low) * 0x1.0p-53;
  }

 private:
  static constexpr uint64_t kMultiplier = 0x5DEECE66DULL;
  static constexpr uint64_t kAddend = 0xBULL;
  static constexpr uint64_t kMask = (uint64_t{1} << 48) - 1;

  uint64_t seed_ = 0;
};

}  // namespace brook::nexmark::internal
