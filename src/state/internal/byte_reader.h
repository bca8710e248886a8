#pragma once

/// Byte coding shared by the keyed state snapshot format and the RocksDB key layout:
/// little-endian fixed-width integers, LEB128 varints (at most 10 bytes for 64 bits) and
/// varint-length-prefixed byte strings. Appending never fails; ByteReader never reads past its
/// input and reports malformed or truncated input by returning false.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace brook::state::internal {

inline void appendFixed32(std::string* out, uint32_t v) {
  char bytes[4];
  for (int i = 0; i < 4; ++i) {
    bytes[i] = static_cast<char>(v >> (8 * i));
  }
  out->append(bytes, sizeof bytes);
}

inline void appendFixed64(std::string* out, uint64_t v) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<char>(v >> (8 * i));
  }
  out->append(bytes, sizeof bytes);
}

inline void appendVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline void appendLengthPrefixed(std::string* out, std::string_view bytes) {
  appendVarint64(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}

/// A bounds-checked cursor over a byte string it does not own. Every read either consumes what
/// it returns or, on malformed or truncated input, returns false with the cursor unspecified.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}

  bool empty() const { return pos_ == bytes_.size(); }
  size_t position() const { return pos_; }
  std::string_view remaining() const { return bytes_.substr(pos_); }

  bool readByte(uint8_t* v) {
    if (pos_ >= bytes_.size()) {
      return false;
    }
    *v = static_cast<uint8_t>(bytes_[pos_++]);
    return true;
  }

  bool readFixed32(uint32_t* v) {
    if (bytes_.size() - pos_ < 4) {
      return false;
    }
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) {
      r |= uint32_t{static_cast<uint8_t>(bytes_[pos_ + i])} << (8 * i);
    }
    pos_ += 4;
    *v = r;
    return true;
  }

  bool readFixed64(uint64_t* v) {
    if (bytes_.size() - pos_ < 8) {
      return false;
    }
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) {
      r |= uint64_t{static_cast<uint8_t>(bytes_[pos_ + i])} << (8 * i);
    }
    pos_ += 8;
    *v = r;
    return true;
  }

  /// Reads a LEB128 varint; rejects encodings longer than 10 bytes or overflowing 64 bits.
  bool readVarint64(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t byte;
      if (!readByte(&byte)) {
        return false;
      }
      if (shift == 63 && byte > 1) {
        return false;
      }
      r |= uint64_t{byte & 0x7Fu} << shift;
      if ((byte & 0x80) == 0) {
        *v = r;
        return true;
      }
    }
    return false;
  }

  bool readBytes(uint64_t n, std::string_view* v) {
    if (bytes_.size() - pos_ < n) {
      return false;
    }
    *v = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }

  bool readLengthPrefixed(std::string_view* v) {
    uint64_t n;
    return readVarint64(&n) && readBytes(n, v);
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace brook::state::internal
