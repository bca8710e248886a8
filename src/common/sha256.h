#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <absl/status/statusor.h>

namespace brook {

/// The length of a SHA-256 digest in lower-case hex.
inline constexpr size_t kSha256HexLength = 64;

/// Computes a SHA-256 digest incrementally (OpenSSL's EVP API), for data that arrives in
/// pieces. Not thread-safe: one owner feeds it and finishes it once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  /// Adds `bytes` to the digest.
  void update(std::string_view bytes);

  /// Returns the digest of everything added, in lower-case hex. Internal if OpenSSL failed at
  /// any step. The hasher cannot be used afterwards.
  absl::StatusOr<std::string> finishHex();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

/// Returns the SHA-256 of `bytes` in lower-case hex.
absl::StatusOr<std::string> sha256Hex(std::string_view bytes);

/// Returns the SHA-256 of the file at `path` in lower-case hex, reading it in pieces so that
/// its size does not matter. NotFound or another errno-derived code names the file.
absl::StatusOr<std::string> sha256OfFile(const std::string& path);

/// Tells whether `text` is a SHA-256 digest as this module writes it: 64 lower-case hex digits.
bool isSha256Hex(std::string_view text);

}  // namespace brook
