#include "common/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <vector>

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>

namespace brook {

struct Sha256::Context {
  struct Deleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Deleter> ctx{EVP_MD_CTX_new()};
  // Set when any OpenSSL call failed; reported by finishHex() rather than by every update().
  bool failed = false;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  if (context_->ctx == nullptr ||
      EVP_DigestInit_ex(context_->ctx.get(), EVP_sha256(), nullptr) != 1)
    context_->failed = true;
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view bytes) {
  if (context_->failed || bytes.empty())
    return;
  if (EVP_DigestUpdate(context_->ctx.get(), bytes.data(), bytes.size()) != 1)
    context_->failed = true;
}

absl::StatusOr<std::string> Sha256::finishHex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (context_->failed || EVP_DigestFinal_ex(context_->ctx.get(), digest.data(), &length) != 1 ||
      size_t{length} * 2 != kSha256HexLength) {
    context_->failed = true;
    return absl::InternalError("computing a SHA-256 digest with OpenSSL failed");
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(kSha256HexLength);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kDigits[digest[i] >> 4]);
    hex.push_back(kDigits[digest[i] & 0x0f]);
  }
  return hex;
}

absl::StatusOr<std::string> sha256Hex(std::string_view bytes) {
  Sha256 hasher;
  hasher.update(bytes);
  return hasher.finishHex();
}

absl::StatusOr<std::string> sha256OfFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("opening '", path, "' to hash it"));
  Sha256 hasher;
  std::vector<char> buffer(1 << 20);
  absl::Status status;
  while (true) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      status = absl::ErrnoToStatus(errno, absl::StrCat("reading '", path, "' to hash it"));
      break;
    }
    if (n == 0)
      break;
    hasher.update(std::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  if (!status.ok())
    return status;
  return hasher.finishHex();
}

bool isSha256Hex(std::string_view text) {
  if (text.size() != kSha256HexLength)
    return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return true;
}

}  // namespace brook
