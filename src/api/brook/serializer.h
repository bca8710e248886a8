#pragma once

/// Binary serialization of record types.
///
/// Every record that crosses a non-chained edge is written with `TypeSerializer<T>`. Brook ships
/// serializers for arithmetic types, `std::string`, `std::pair`, `std::tuple`, `std::vector`,
/// `std::optional`, `std::map`/`std::unordered_map`, and user structs declared with
/// `BROOK_SERIALIZABLE(Type, &Type::field, ...)`. A record type without one is a compile-time
/// error that names the type.
///
/// The encoding is little-endian and stable across processes and releases of the same ABI
/// version; key groups are computed from it, so it must never change silently.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace brook {

static_assert(std::endian::native == std::endian::little,
              "Brook's wire format assumes little-endian");

/// Thrown when bytes cannot be decoded into a record: truncated or corrupt input.
class SerializationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A growable byte sink, reused across records so that steady-state serialization does not
/// allocate. It can also write into memory it does not own (`writeInto`), such as the free part of
/// a network buffer, so that a record is serialized where it is sent from; once a write would pass
/// the end of that memory, the bytes move to the output's own storage and writing goes on there.
class DataOutput {
 public:
  DataOutput() : owned_(256, '\0'), data_(owned_.data()), capacity_(owned_.size()) {}
  DataOutput(const DataOutput& other)
      : owned_(std::max<size_t>(other.size_, 256), '\0'),
        data_(owned_.data()),
        size_(other.size_),
        capacity_(owned_.size()) {
    std::memcpy(data_, other.data_, size_);
  }
  DataOutput& operator=(const DataOutput& other) {
    if (this != &other) {
      clear();
      writeOwned();
      writeBytes(other.data_, other.size_);
    }
    return *this;
  }
  ~DataOutput() = default;

  void clear() { size_ = 0; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {data_, size_}; }

  /// Empties the output and has it write into the `capacity` bytes at `memory` until they are
  /// full. `writesInto(memory)` tells afterwards whether everything written is still there.
  void writeInto(char* memory, size_t capacity) {
    data_ = memory;
    capacity_ = capacity;
    size_ = 0;
  }
  bool writesInto(const char* memory) const { return data_ == memory; }
  /// Empties the output and has it write into its own storage again.
  void writeOwned() {
    data_ = owned_.data();
    capacity_ = owned_.size();
    size_ = 0;
  }

  // Always inline, as are the other fixed-size writes and reads below: a serializer calls them
  // once per field, and a field of known size is then a store (or load) and a bounds check.
  // Left to itself, the compiler kept them out of line in large serializers, and each call
  // made a library call of memcpy.
  [[gnu::always_inline]] void writeBytes(const void* src, size_t n) {
    if (size_ + n > capacity_) [[unlikely]]
      grow(size_ + n);
    std::memcpy(data_ + size_, src, n);
    size_ += n;
  }

  template <typename T>
  requires std::is_arithmetic_v<T>
  [[gnu::always_inline]] void writeRaw(T value) { writeBytes(&value, sizeof(T)); }

  /// Writes an unsigned LEB128 varint.
  void writeVarUint(uint64_t v) {
    if (size_ + 10 > capacity_) [[unlikely]]
      grow(size_ + 10);
    char* p = data_ + size_;
    while (v >= 0x80) {
      *p++ = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<char>(v);
    size_ = static_cast<size_t>(p - data_);
  }

 private:
  // Out of line, so that writes stay small enough to inline (a fixed-size write is then a store).
  [[gnu::noinline]] void grow(size_t need) {
    if (data_ != owned_.data()) {
      // Writing into foreign memory: carry what is there over into the own storage.
      if (owned_.size() < need)
        owned_.resize(std::max(need, owned_.size() * 2));
      std::memcpy(owned_.data(), data_, size_);
    } else {
      owned_.resize(std::max(need, owned_.size() * 2));
    }
    data_ = owned_.data();
    capacity_ = owned_.size();
  }

  std::string owned_;
  char* data_;
  size_t size_ = 0;
  size_t capacity_;
};

/// A bounds-checked cursor over serialized bytes. Reading past the end throws
/// `SerializationError`.
class DataInput {
 public:
  DataInput(const char* data, size_t size) : pos_(data), end_(data + size) {}
  explicit DataInput(std::string_view bytes) : DataInput(bytes.data(), bytes.size()) {}

  size_t remaining() const { return static_cast<size_t>(end_ - pos_); }

  [[gnu::always_inline]] void readBytes(void* dst, size_t n) {
    require(n);
    std::memcpy(dst, pos_, n);
    pos_ += n;
  }

  /// Returns a view of the next `n` bytes and advances past them.
  [[gnu::always_inline]] std::string_view readView(size_t n) {
    require(n);
    std::string_view v(pos_, n);
    pos_ += n;
    return v;
  }

  template <typename T>
  requires std::is_arithmetic_v<T> [[gnu::always_inline]] T readRaw() {
    T value;
    readBytes(&value, sizeof(T));
    return value;
  }

  uint64_t readVarUint() {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      require(1);
      auto byte = static_cast<uint8_t>(*pos_++);
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0)
        return result;
    }
    throw SerializationError("corrupt varint in serialized record");
  }

  /// Reads a length written by `writeVarUint` and checks that it is plausible: every element of
  /// a string or container takes at least one byte, so a length beyond the bytes left is
  /// corrupt.
  size_t readLength() {
    uint64_t n = readVarUint();
    if (n > remaining()) {
      throw SerializationError("corrupt length " + std::to_string(n) + " in serialized record");
    }
    return static_cast<size_t>(n);
  }

 private:
  [[gnu::always_inline]] void require(size_t n) const {
    if (n > remaining()) [[unlikely]]
      failTruncated(n);
  }
  [[noreturn, gnu::noinline, gnu::cold]] void failTruncated(size_t n) const {
    throw SerializationError("truncated record: needed " + std::to_string(n) + " more bytes, " +
                             std::to_string(remaining()) + " left");
  }

  const char* pos_;
  const char* end_;
};

/// The serializer of `T`. Specializations provide:
///   static void serialize(const T&, DataOutput&);
///   static void deserialize(DataInput&, T&);   // overwrites, reusing T's storage
/// The primary template has none, so `HasSerializer<T>` is false for unknown types.
template <typename T, typename Enable = void>
struct TypeSerializer;

template <typename T>
concept HasSerializer = requires(const T& value, T& out, DataOutput& o, DataInput& i) {
  TypeSerializer<T>::serialize(value, o);
  TypeSerializer<T>::deserialize(i, out);
};

namespace internal {
/// Instantiated only for a record type without a serializer; the compiler names `T` in the
/// error that the static_assert below raises.
template <typename T>
inline constexpr bool kDependentFalse = false;

template <typename T>
struct NoSerializerFor {
  static constexpr bool kValue = false;
  static_assert(kDependentFalse<T>,
                "Brook: this record type has no TypeSerializer. Declare one with "
                "BROOK_SERIALIZABLE(Type, &Type::field, ...) or specialize brook::TypeSerializer; "
                "the type is named in 'NoSerializerFor<...>' above.");
};

template <typename T>
constexpr bool requireSerializer() {
  if constexpr (!HasSerializer<T>) {
    return NoSerializerFor<T>::kValue;
  }
  return true;
}
}  // namespace internal

template <typename T>
void serialize(const T& value, DataOutput& out) {
  static_assert(internal::requireSerializer<T>());
  TypeSerializer<T>::serialize(value, out);
}

template <typename T>
void deserialize(DataInput& in, T& value) {
  static_assert(internal::requireSerializer<T>());
  TypeSerializer<T>::deserialize(in, value);
}

template <typename T>
struct TypeSerializer<T, std::enable_if_t<std::is_arithmetic_v<T> || std::is_enum_v<T>>> {
  static void serialize(const T& v, DataOutput& out) { out.writeBytes(&v, sizeof(T)); }
  static void deserialize(DataInput& in, T& v) { in.readBytes(&v, sizeof(T)); }
};

template <>
struct TypeSerializer<std::string> {
  static void serialize(const std::string& v, DataOutput& out) {
    out.writeVarUint(v.size());
    out.writeBytes(v.data(), v.size());
  }
  static void deserialize(DataInput& in, std::string& v) {
    size_t n = in.readLength();
    std::string_view bytes = in.readView(n);
    v.assign(bytes.data(), bytes.size());
  }
};

template <typename A, typename B>
struct TypeSerializer<std::pair<A, B>> {
  static void serialize(const std::pair<A, B>& v, DataOutput& out) {
    brook::serialize(v.first, out);
    brook::serialize(v.second, out);
  }
  static void deserialize(DataInput& in, std::pair<A, B>& v) {
    brook::deserialize(in, v.first);
    brook::deserialize(in, v.second);
  }
};

template <typename... Ts>
struct TypeSerializer<std::tuple<Ts...>> {
  static void serialize(const std::tuple<Ts...>& v, DataOutput& out) {
    std::apply([&](const auto&... e) { (brook::serialize(e, out), ...); }, v);
  }
  static void deserialize(DataInput& in, std::tuple<Ts...>& v) {
    std::apply([&](auto&... e) { (brook::deserialize(in, e), ...); }, v);
  }
};

template <typename T>
struct TypeSerializer<std::vector<T>> {
  static void serialize(const std::vector<T>& v, DataOutput& out) {
    out.writeVarUint(v.size());
    for (const auto& e : v)
      brook::serialize(e, out);
  }
  static void deserialize(DataInput& in, std::vector<T>& v) {
    size_t n = in.readLength();
    v.resize(n);
    for (auto& e : v)
      brook::deserialize(in, e);
  }
};

template <typename T>
struct TypeSerializer<std::optional<T>> {
  static void serialize(const std::optional<T>& v, DataOutput& out) {
    out.writeRaw<uint8_t>(v.has_value() ? 1 : 0);
    if (v)
      brook::serialize(*v, out);
  }
  static void deserialize(DataInput& in, std::optional<T>& v) {
    auto flag = in.readRaw<uint8_t>();
    if (flag > 1)
      throw SerializationError("corrupt optional flag in serialized record");
    if (flag == 0) {
      v.reset();
      return;
    }
    if (!v)
      v.emplace();
    brook::deserialize(in, *v);
  }
};

namespace internal {
template <typename M>
struct MapSerializer {
  static void serialize(const M& v, DataOutput& out) {
    out.writeVarUint(v.size());
    for (const auto& [k, val] : v) {
      brook::serialize(k, out);
      brook::serialize(val, out);
    }
  }
  static void deserialize(DataInput& in, M& v) {
    size_t n = in.readLength();
    v.clear();
    for (size_t i = 0; i < n; ++i) {
      typename M::key_type k{};
      typename M::mapped_type val{};
      brook::deserialize(in, k);
      brook::deserialize(in, val);
      v.emplace(std::move(k), std::move(val));
    }
  }
};

/// Serializes a struct field by field through member pointers.
template <typename T, auto... Members>
struct StructSerializer {
  static void serialize(const T& v, DataOutput& out) { (brook::serialize(v.*Members, out), ...); }
  static void deserialize(DataInput& in, T& v) { (brook::deserialize(in, v.*Members), ...); }
};
}  // namespace internal

template <typename K, typename V, typename C, typename A>
struct TypeSerializer<std::map<K, V, C, A>> : internal::MapSerializer<std::map<K, V, C, A>> {};

template <typename K, typename V, typename H, typename E, typename A>
struct TypeSerializer<std::unordered_map<K, V, H, E, A>>
    : internal::MapSerializer<std::unordered_map<K, V, H, E, A>> {};

}  // namespace brook

/// Declares the serializer of a user struct from its fields, at global namespace scope:
///   struct Bid { int64_t auction; double price; std::string url; };
///   BROOK_SERIALIZABLE(Bid, &Bid::auction, &Bid::price, &Bid::url);
#define BROOK_SERIALIZABLE(Type, ...) \
  template <>                         \
  struct brook::TypeSerializer<Type> : ::brook::internal::StructSerializer<Type, __VA_ARGS__> {}
