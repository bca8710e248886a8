#include "taskmanager/blob_cache.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <latch>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/sha256.h"
#include "common/testing/files.h"
#include "jobmanager/blob_client.h"
#include "jobmanager/blob_server.h"

namespace brook::taskmanager {
namespace {

namespace fs = std::filesystem;
using testing::fileCount;
using ::testing::HasSubstr;
using testing::randomBytes;
using testing::readFile;
using testing::TempDir;
using testing::writeFile;

// A TCP socket on 127.0.0.1 with an OS-chosen port; listening, it accepts connections into its
// backlog but never answers, otherwise nothing listens on its port once it is closed.
class LocalSocket {
 public:
  explicit LocalSocket(bool listening) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        (listening && ::listen(fd_, 16) != 0))
      ADD_FAILURE() << "cannot set up a local socket";
    port_ = ntohs(address.sin_port);
  }
  ~LocalSocket() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::shared_ptr<grpc::Channel> channelTo(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

// A BlobServer on 127.0.0.1 with an OS-chosen port, holding one uploaded 5 MiB artifact, and a
// cache directory for the BlobCache under test.
class BlobCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<jobmanager::BlobStore> store =
        jobmanager::BlobStore::open((dir_.path() / "server").string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_.emplace(*std::move(store));
    service_ = std::make_unique<jobmanager::BlobService>(*store_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    channel_ = channelTo("127.0.0.1:" + std::to_string(port));

    content_ = randomBytes(5 << 20, 42);
    writeFile(dir_.path() / "job.so", content_);
    absl::StatusOr<std::string> sha256 =
        jobmanager::uploadArtifact(channel_, (dir_.path() / "job.so").string());
    ASSERT_TRUE(sha256.ok()) << sha256.status();
    sha256_ = *sha256;
  }

  void TearDown() override {
    if (server_)
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  std::unique_ptr<BlobCache> newCache(std::shared_ptr<grpc::Channel> channel,
                                      BlobCacheOptions options = {}) {
    absl::StatusOr<std::unique_ptr<BlobCache>> cache =
        BlobCache::create(cacheDir().string(), std::move(channel), options);
    EXPECT_TRUE(cache.ok()) << cache.status();
    return cache.ok() ? *std::move(cache) : nullptr;
  }

  fs::path cacheDir() const { return dir_.path() / "cache"; }

  TempDir dir_;
  std::optional<jobmanager::BlobStore> store_;
  std::unique_ptr<jobmanager::BlobService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string content_;
  std::string sha256_;
};

TEST_F(BlobCacheTest, FetchesAnArtifactOnce) {
  std::unique_ptr<BlobCache> cache = newCache(channel_);
  ASSERT_NE(cache, nullptr);
  absl::StatusOr<std::string> path = cache->fetch(sha256_);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(fs::path(*path).parent_path(), cacheDir());
  EXPECT_EQ(readFile(*path), content_);
  EXPECT_EQ(cache->downloadCount(), 1);

  absl::StatusOr<std::string> again = cache->fetch(sha256_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *path);
  EXPECT_EQ(cache->downloadCount(), 1);
  EXPECT_EQ(service_->downloadsServed(), 1);
  // Only the artifact: no temporary file is left behind.
  EXPECT_EQ(fileCount(cacheDir()), 1u);
}

TEST_F(BlobCacheTest, ConcurrentFetchesDownloadOnce) {
  std::unique_ptr<BlobCache> cache = newCache(channel_);
  ASSERT_NE(cache, nullptr);
  constexpr int kThreads = 4;
  std::latch start(kThreads);
  std::vector<absl::StatusOr<std::string>> results(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        results[static_cast<size_t>(i)] = cache->fetch(sha256_);
      });
    }
  }
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(*result, *results[0]);
  }
  EXPECT_EQ(readFile(*results[0]), content_);
  EXPECT_EQ(cache->downloadCount(), 1);
  EXPECT_EQ(service_->downloadsServed(), 1);
}

TEST_F(BlobCacheTest, UnknownHashIsNotFoundAndMalformedIsInvalid) {
  std::unique_ptr<BlobCache> cache = newCache(channel_);
  ASSERT_NE(cache, nullptr);
  std::string unknown = sha256Hex("never uploaded").value();
  absl::StatusOr<std::string> path = cache->fetch(unknown);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(path.status().message()), HasSubstr(unknown));
  EXPECT_EQ(fileCount(cacheDir()), 0u);

  EXPECT_EQ(cache->fetch("../../etc/passwd").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BlobCacheTest, CorruptArtifactOnTheServerIsDataLoss) {
  writeFile(store_->path(sha256_), randomBytes(5 << 20, 43));
  std::unique_ptr<BlobCache> cache = newCache(channel_);
  ASSERT_NE(cache, nullptr);
  absl::StatusOr<std::string> path = cache->fetch(sha256_);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(path.status().message()), HasSubstr(sha256_));
  EXPECT_EQ(fileCount(cacheDir()), 0u);

  // Once the artifact is uploaded again, the next fetch succeeds.
  ASSERT_TRUE(jobmanager::uploadArtifact(channel_, (dir_.path() / "job.so").string()).ok());
  path = cache->fetch(sha256_);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(readFile(*path), content_);
  EXPECT_EQ(cache->downloadCount(), 2);
}

TEST_F(BlobCacheTest, CorruptCachedCopyIsDownloadedAgain) {
  {
    std::unique_ptr<BlobCache> cache = newCache(channel_);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->fetch(sha256_).ok());
  }
  writeFile(cacheDir() / sha256_, "damaged on the TaskManager's disk");
  std::unique_ptr<BlobCache> cache = newCache(channel_);
  ASSERT_NE(cache, nullptr);
  absl::StatusOr<std::string> path = cache->fetch(sha256_);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(readFile(*path), content_);
  EXPECT_EQ(cache->downloadCount(), 1);
}

TEST_F(BlobCacheTest, IntactCachedCopyOfAnEarlierProcessIsReused) {
  {
    std::unique_ptr<BlobCache> cache = newCache(channel_);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->fetch(sha256_).ok());
  }
  std::unique_ptr<BlobCache> cache = newCache(channel_);
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->fetch(sha256_).ok());
  EXPECT_EQ(cache->downloadCount(), 0);
}

TEST(BlobCacheUnreachableTest, NothingListeningFailsWithinTheDeadline) {
  TempDir dir;
  std::string address;
  {
    LocalSocket socket(/*listening=*/false);
    address = socket.address();
  }
  BlobCacheOptions options;
  options.rpcTimeout = std::chrono::seconds(2);
  std::unique_ptr<BlobCache> cache =
      BlobCache::create((dir.path() / "cache").string(), channelTo(address), options).value();
  std::string sha256 = sha256Hex("anything").value();
  auto started = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> path = cache->fetch(sha256);
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(path.status().code() == absl::StatusCode::kUnavailable ||
              path.status().code() == absl::StatusCode::kDeadlineExceeded)
      << path.status();
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("downloading artifact " + sha256));
  EXPECT_LT(elapsed, std::chrono::seconds(4));
  EXPECT_EQ(fileCount(dir.path() / "cache"), 0u);
}

TEST(BlobCacheUnreachableTest, SilentServerFailsWithDeadlineExceeded) {
  TempDir dir;
  LocalSocket silent(/*listening=*/true);
  BlobCacheOptions options;
  options.rpcTimeout = std::chrono::seconds(2);
  std::unique_ptr<BlobCache> cache =
      BlobCache::create((dir.path() / "cache").string(), channelTo(silent.address()), options)
          .value();
  std::string sha256 = sha256Hex("anything").value();
  auto started = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> path = cache->fetch(sha256);
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(path.status().code(), absl::StatusCode::kDeadlineExceeded) << path.status();
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("deadline of 2000 ms"));
  EXPECT_GE(elapsed, std::chrono::milliseconds(1500));
  EXPECT_LT(elapsed, std::chrono::seconds(4));
}

}  // namespace
}  // namespace brook::taskmanager
