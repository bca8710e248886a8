#pragma once

#include <cstdint>
#include <string_view>

namespace brook::state::internal {

/// Extends `crc` (the CRC-32C of some bytes A) with `bytes`, returning the CRC-32C of A + bytes.
/// CRC-32C is the Castagnoli polynomial (0x1EDC6F41, reflected 0x82F63B78) with the usual
/// initial value and final xor of 0xFFFFFFFF, as in iSCSI, ext4 and LevelDB; the CRC-32C of no
/// bytes is 0. It is part of the keyed state snapshot format: it must never change.
/// Uses the processor's CRC32 instruction where it has one (x86-64 with SSE 4.2).
uint32_t crc32cExtend(uint32_t crc, std::string_view bytes);

/// The table-driven computation (slicing by 8) that crc32cExtend falls back to; the same
/// results on every processor.
uint32_t crc32cExtendPortable(uint32_t crc, std::string_view bytes);

/// The CRC-32C of `bytes`; crc32c("123456789") == 0xE3069283.
inline uint32_t crc32c(std::string_view bytes) {
  return crc32cExtend(0, bytes);
}

}  // namespace brook::state::internal
