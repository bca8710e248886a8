#pragma once

/// The key of a heap table's map: varint length + serialized key, then the namespace.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include <absl/strings/string_view.h>

namespace brook::internal {

/// Bytes held in the object itself up to 31 of them (a std::string holds 15), on the heap beyond:
/// a key with a window namespace (9 + 16 bytes for an int64_t key and a TimeWindow) stays in its
/// map slot, so comparing it reads no other cache line. The same size as a std::string.
class HeapKey {
 public:
  static constexpr size_t kInlineCapacity = 31;

  HeapKey() { bytes_[kTag] = 0; }
  explicit HeapKey(std::string_view bytes) { assign(bytes); }
  HeapKey(const HeapKey& other) { assign(other.view()); }
  HeapKey(HeapKey&& other) noexcept {
    std::memcpy(bytes_, other.bytes_, sizeof(bytes_));
    other.bytes_[kTag] = 0;
  }
  HeapKey& operator=(const HeapKey& other) {
    if (this != &other) {
      HeapKey copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  HeapKey& operator=(HeapKey&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(bytes_, other.bytes_, sizeof(bytes_));
      other.bytes_[kTag] = 0;
    }
    return *this;
  }
  ~HeapKey() { release(); }

  const char* data() const { return isInline() ? bytes_ : heapData(); }
  size_t size() const { return isInline() ? inlineSize() : heapSize(); }
  bool empty() const { return size() == 0; }
  std::string_view view() const { return {data(), size()}; }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  operator absl::string_view() const { return {data(), size()}; }  // NOLINT

  friend bool operator==(const HeapKey& a, const HeapKey& b) { return a.view() == b.view(); }
  friend bool operator==(const HeapKey& a, std::string_view b) { return a.view() == b; }
  friend auto operator<=>(const HeapKey& a, const HeapKey& b) { return a.view() <=> b.view(); }

 private:
  // Inline: the bytes, then their count in the last byte. On the heap: the pointer and the
  // size at the start, kHeap in the last byte.
  static constexpr size_t kTag = sizeof(void*) * 4 - 1;
  static constexpr unsigned char kHeap = 0xFF;

  bool isInline() const { return static_cast<unsigned char>(bytes_[kTag]) != kHeap; }
  size_t inlineSize() const { return static_cast<unsigned char>(bytes_[kTag]); }
  const char* heapData() const {
    const char* p;
    std::memcpy(&p, bytes_, sizeof(p));
    return p;
  }
  size_t heapSize() const {
    size_t n;
    std::memcpy(&n, bytes_ + sizeof(char*), sizeof(n));
    return n;
  }
  void assign(std::string_view bytes) {
    if (bytes.size() <= kInlineCapacity) {
      if (!bytes.empty())
        std::memcpy(bytes_, bytes.data(), bytes.size());
      bytes_[kTag] = static_cast<char>(bytes.size());
      return;
    }
    char* p = static_cast<char*>(::operator new(bytes.size()));
    std::memcpy(p, bytes.data(), bytes.size());
    const size_t n = bytes.size();
    std::memcpy(bytes_, &p, sizeof(p));
    std::memcpy(bytes_ + sizeof(p), &n, sizeof(n));
    bytes_[kTag] = static_cast<char>(kHeap);
  }
  void release() {
    if (!isInline())
      ::operator delete(const_cast<char*>(heapData()));
    bytes_[kTag] = 0;
  }

  alignas(sizeof(void*)) char bytes_[sizeof(void*) * 4];
};

static_assert(sizeof(HeapKey) == 32);

}  // namespace brook::internal
