#include "state/internal/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace brook::state::internal {

namespace {

constexpr uint32_t kPolynomial = 0x82F63B78;  // Castagnoli, bit-reflected.

// Slicing-by-8 tables: kTables[0] is the classic byte-at-a-time table; kTables[k][b] is the
// CRC of byte b followed by k zero bytes, so eight bytes can be folded in one step.
using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables makeTables() {
  Tables tables{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ ((crc & 1) ? kPolynomial : 0);
    }
    tables[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    for (size_t k = 1; k < 8; ++k) {
      uint32_t prev = tables[k - 1][b];
      tables[k][b] = (prev >> 8) ^ tables[0][prev & 0xFF];
    }
  }
  return tables;
}

constexpr Tables kTables = makeTables();

}  // namespace

uint32_t crc32cExtendPortable(uint32_t crc, std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size();
  uint32_t c = ~crc;
  // Byte order is explicit, so the result does not depend on the host's endianness.
  while (n >= 8) {
    uint32_t lo =
        c ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
    c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
        kTables[4][lo >> 24] ^ kTables[3][p[4]] ^ kTables[2][p[5]] ^ kTables[1][p[6]] ^
        kTables[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) {
    c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xFF];
  }
  return ~c;
}

#if defined(__x86_64__)

namespace {

// SSE 4.2's CRC32 instruction computes CRC-32C (same polynomial, reflected, no final xor).
__attribute__((target("sse4.2"))) uint32_t crc32cExtendSse42(uint32_t crc, std::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  uint64_t c = ~crc;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*p++));
    --n;
  }
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // little-endian, which is the byte order the instruction wants
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  while (n-- > 0)
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*p++));
  return ~static_cast<uint32_t>(c);
}

using ExtendFunction = uint32_t (*)(uint32_t, std::string_view);

ExtendFunction chooseExtend() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") ? &crc32cExtendSse42 : &crc32cExtendPortable;
}

}  // namespace

uint32_t crc32cExtend(uint32_t crc, std::string_view bytes) {
  static const ExtendFunction extend = chooseExtend();
  return extend(crc, bytes);
}

#else

uint32_t crc32cExtend(uint32_t crc, std::string_view bytes) {
  return crc32cExtendPortable(crc, bytes);
}

#endif

}  // namespace brook::state::internal
