#include "common/sha256.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace brook {
namespace {

constexpr char kEmptyDigest[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kAbcDigest[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(Sha256Test, PublishedVectors) {
  EXPECT_EQ(sha256Hex("").value(), kEmptyDigest);
  EXPECT_EQ(sha256Hex("abc").value(), kAbcDigest);
  // The two-block vector of FIPS 180-2.
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").value(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, IncrementalEqualsOneShot) {
  Sha256 hasher;
  hasher.update("a");
  hasher.update("");
  hasher.update("bc");
  EXPECT_EQ(hasher.finishHex().value(), kAbcDigest);
}

TEST(Sha256Test, FileIsHashedInPieces) {
  std::string dirTemplate =
      (std::filesystem::temp_directory_path() / "brook-sha256-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dirTemplate.data()), nullptr);
  std::filesystem::path dir = dirTemplate;
  // Larger than the read buffer, so the file is read in several pieces.
  std::string content(3 * (1 << 20) + 17, '\0');
  for (size_t i = 0; i < content.size(); ++i)
    content[i] = static_cast<char>((i * 31 + 7) % 251);
  {
    std::ofstream out(dir / "blob", std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  }
  { std::ofstream out(dir / "empty", std::ios::binary); }
  EXPECT_EQ(sha256OfFile((dir / "blob").string()).value(), sha256Hex(content).value());
  EXPECT_EQ(sha256OfFile((dir / "empty").string()).value(), kEmptyDigest);

  absl::StatusOr<std::string> missing = sha256OfFile((dir / "missing").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("missing"), absl::string_view::npos);
  std::filesystem::remove_all(dir);
}

TEST(Sha256Test, RecognizesHexDigests) {
  EXPECT_TRUE(isSha256Hex(kAbcDigest));
  EXPECT_FALSE(isSha256Hex(""));
  EXPECT_FALSE(isSha256Hex("abc"));
  EXPECT_FALSE(isSha256Hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
  EXPECT_FALSE(isSha256Hex("../../../../../../../../../../../../../../../../../../etc/passwd"));
}

}  // namespace
}  // namespace brook
