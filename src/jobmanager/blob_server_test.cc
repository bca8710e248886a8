#include "jobmanager/blob_server.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/sha256.h"
#include "common/testing/files.h"
#include "jobmanager/blob_client.h"
#include "runtime/job_graph_proto.h"

namespace brook::jobmanager {
namespace {

namespace fs = std::filesystem;
using testing::fileCount;
using ::testing::HasSubstr;
using testing::randomBytes;
using testing::readFile;
using testing::TempDir;
using testing::writeFile;

TEST(BlobStoreTest, PutsAFileUnderItsHash) {
  TempDir dir;
  absl::StatusOr<BlobStore> store = BlobStore::open((dir.path() / "blobs").string());
  ASSERT_TRUE(store.ok()) << store.status();
  std::string content = randomBytes(300'000, 1);
  writeFile(dir.path() / "job.so", content);

  absl::StatusOr<std::string> sha256 = store->put((dir.path() / "job.so").string());
  ASSERT_TRUE(sha256.ok()) << sha256.status();
  EXPECT_EQ(*sha256, sha256Hex(content).value());
  EXPECT_TRUE(store->contains(*sha256));
  EXPECT_EQ(readFile(store->path(*sha256)), content);
  EXPECT_TRUE(store->verify(*sha256).ok());

  std::string reassembled;
  int chunks = 0;
  absl::Status read = store->read(
      *sha256,
      [&](std::string_view chunk) {
        reassembled.append(chunk);
        ++chunks;
        return true;
      },
      100'000);
  EXPECT_TRUE(read.ok()) << read;
  EXPECT_EQ(chunks, 3);
  EXPECT_EQ(reassembled, content);
}

TEST(BlobStoreTest, UploadInPiecesAndCheckTheDeclaredHash) {
  TempDir dir;
  BlobStore store = BlobStore::open(dir.path().string()).value();
  {
    BlobStore::Upload upload = store.beginUpload().value();
    ASSERT_TRUE(upload.append("ab").ok());
    ASSERT_TRUE(upload.append("c").ok());
    absl::StatusOr<std::string> sha256 = upload.commit(sha256Hex("abc").value());
    ASSERT_TRUE(sha256.ok()) << sha256.status();
    EXPECT_EQ(readFile(store.path(*sha256)), "abc");
  }
  EXPECT_EQ(fileCount(dir.path()), 1u);

  std::string declared = sha256Hex("something else").value();
  BlobStore::Upload upload = store.beginUpload().value();
  ASSERT_TRUE(upload.append("xyz").ok());
  absl::StatusOr<std::string> wrong = upload.commit(declared);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr(declared));
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr(sha256Hex("xyz").value()));
  EXPECT_FALSE(store.contains(sha256Hex("xyz").value()));
  EXPECT_FALSE(store.contains(declared));
  EXPECT_EQ(fileCount(dir.path()), 1u);
}

TEST(BlobStoreTest, RefusesArtifactsAboveTheLimit) {
  TempDir dir;
  fs::path blobs = dir.path() / "blobs";
  BlobStore store = BlobStore::open(blobs.string(), 1000).value();
  writeFile(dir.path() / "big", randomBytes(1001, 2));
  absl::StatusOr<std::string> sha256 = store.put((dir.path() / "big").string());
  EXPECT_EQ(sha256.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(sha256.status().message()), HasSubstr("1000 bytes"));
  EXPECT_EQ(fileCount(blobs), 0u);

  writeFile(dir.path() / "small", randomBytes(1000, 3));
  EXPECT_TRUE(store.put((dir.path() / "small").string()).ok());
}

TEST(BlobStoreTest, CorruptArtifactIsDataLoss) {
  TempDir dir;
  BlobStore store = BlobStore::open(dir.path().string()).value();
  writeFile(dir.path() / "job.so", "the job library");
  std::string sha256 = store.put((dir.path() / "job.so").string()).value();
  writeFile(store.path(sha256), "the job librarz");

  absl::Status status = store.verify(sha256);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr(sha256));

  // Uploading the artifact again repairs it.
  EXPECT_EQ(store.put((dir.path() / "job.so").string()).value(), sha256);
  EXPECT_TRUE(store.verify(sha256).ok());
}

TEST(BlobStoreTest, UnknownAndMalformedHashes) {
  TempDir dir;
  BlobStore store = BlobStore::open(dir.path().string()).value();
  std::string unknown = sha256Hex("never stored").value();
  EXPECT_FALSE(store.contains(unknown));
  EXPECT_EQ(store.verify(unknown).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(store.contains("../etc/passwd"));
  EXPECT_EQ(store.verify("../etc/passwd").code(), absl::StatusCode::kInvalidArgument);
}

TEST(BlobStoreTest, OpenRemovesUnfinishedWrites) {
  TempDir dir;
  writeFile(dir.path() / ".tmp-abc123", "half an artifact");
  BlobStore store = BlobStore::open(dir.path().string()).value();
  EXPECT_EQ(fileCount(dir.path()), 0u);
}

// A BlobService on 127.0.0.1 with an OS-chosen port, over a store in a temporary directory.
class BlobServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { start(kDefaultMaxArtifactBytes); }

  void TearDown() override { stop(); }

  void start(int64_t maxArtifactBytes) {
    absl::StatusOr<BlobStore> store = BlobStore::open(blobDir().string(), maxArtifactBytes);
    ASSERT_TRUE(store.ok()) << store.status();
    store_.emplace(*std::move(store));
    service_ = std::make_unique<BlobService>(*store_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::BlobServer::NewStub(channel_);
  }

  void stop() {
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
      server_.reset();
    }
    service_.reset();
    store_.reset();
  }

  fs::path blobDir() const { return dir_.path() / "blobs"; }

  std::unique_ptr<grpc::ClientContext> newContext() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

  // Downloads an artifact with the raw stub; returns the call's status and fills `content`.
  grpc::Status download(const std::string& sha256,
                        uint32_t version,
                        std::string& content,
                        int& chunks) {
    v1::DownloadArtifactRequest request;
    request.set_protocol_version(version);
    request.set_sha256(sha256);
    auto context = newContext();
    auto reader = stub_->DownloadArtifact(context.get(), request);
    v1::ArtifactChunk chunk;
    chunks = 0;
    while (reader->Read(&chunk)) {
      EXPECT_LE(chunk.data().size(), kArtifactChunkBytes);
      EXPECT_EQ(chunk.protocol_version(), runtime::kProtocolVersion);
      content += chunk.data();
      ++chunks;
    }
    return reader->Finish();
  }

  // Uploads `content` in one chunk declaring `declaredSha256`, with the raw stub.
  grpc::Status upload(const std::string& content,
                      const std::string& declaredSha256,
                      uint32_t version) {
    auto context = newContext();
    v1::UploadArtifactResponse response;
    auto writer = stub_->UploadArtifact(context.get(), &response);
    v1::ArtifactChunk chunk;
    chunk.set_protocol_version(version);
    chunk.set_sha256(declaredSha256);
    chunk.set_data(content);
    if (writer->Write(chunk))
      writer->WritesDone();
    return writer->Finish();
  }

  TempDir dir_;
  std::optional<BlobStore> store_;
  std::unique_ptr<BlobService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::BlobServer::Stub> stub_;
};

TEST_F(BlobServiceTest, UploadedArtifactDownloadsInChunks) {
  std::string content = randomBytes(2 * kArtifactChunkBytes + 12345, 4);
  writeFile(dir_.path() / "job.so", content);
  absl::StatusOr<std::string> sha256 = uploadArtifact(channel_, (dir_.path() / "job.so").string());
  ASSERT_TRUE(sha256.ok()) << sha256.status();
  EXPECT_EQ(*sha256, sha256Hex(content).value());
  EXPECT_TRUE(store_->contains(*sha256));

  std::string downloaded;
  int chunks = 0;
  grpc::Status status = download(*sha256, runtime::kProtocolVersion, downloaded, chunks);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(chunks, 3);
  EXPECT_EQ(downloaded, content);
  EXPECT_EQ(service_->downloadsServed(), 1);
}

TEST_F(BlobServiceTest, EmptyArtifactRoundTrips) {
  writeFile(dir_.path() / "empty", "");
  absl::StatusOr<std::string> sha256 = uploadArtifact(channel_, (dir_.path() / "empty").string());
  ASSERT_TRUE(sha256.ok()) << sha256.status();
  EXPECT_EQ(*sha256, sha256Hex("").value());
  std::string downloaded;
  int chunks = 0;
  EXPECT_TRUE(download(*sha256, runtime::kProtocolVersion, downloaded, chunks).ok());
  EXPECT_EQ(downloaded, "");
}

TEST_F(BlobServiceTest, WrongDeclaredHashIsRejectedAndNothingIsStored) {
  std::string declared = sha256Hex("another artifact").value();
  grpc::Status status = upload("the artifact", declared, runtime::kProtocolVersion);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr(declared));
  EXPECT_THAT(status.error_message(), HasSubstr(sha256Hex("the artifact").value()));
  EXPECT_EQ(fileCount(blobDir()), 0u);

  status = upload("the artifact", "not-a-hash", runtime::kProtocolVersion);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(fileCount(blobDir()), 0u);

  status = upload("the artifact", sha256Hex("the artifact").value(), runtime::kProtocolVersion);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(fileCount(blobDir()), 1u);
}

TEST_F(BlobServiceTest, UnknownHashIsNotFound) {
  std::string unknown = sha256Hex("never uploaded").value();
  std::string downloaded;
  int chunks = 0;
  grpc::Status status = download(unknown, runtime::kProtocolVersion, downloaded, chunks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr(unknown));

  status = download("../../etc/passwd", runtime::kProtocolVersion, downloaded, chunks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BlobServiceTest, OtherProtocolVersionIsRefused) {
  std::string downloaded;
  int chunks = 0;
  grpc::Status status = download(sha256Hex("x").value(), 99, downloaded, chunks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("version 99"));
  EXPECT_THAT(status.error_message(),
              HasSubstr("speaks version " + std::to_string(runtime::kProtocolVersion)));

  status = upload("the artifact", "", 99);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("version 99"));
  EXPECT_EQ(fileCount(blobDir()), 0u);
}

TEST_F(BlobServiceTest, ArtifactAboveTheLimitIsRefused) {
  stop();
  start(kArtifactChunkBytes);
  writeFile(dir_.path() / "big.so", randomBytes(2 * kArtifactChunkBytes, 5));
  absl::StatusOr<std::string> sha256 = uploadArtifact(channel_, (dir_.path() / "big.so").string());
  EXPECT_EQ(sha256.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(sha256.status().message()), HasSubstr("big.so"));
  EXPECT_EQ(fileCount(blobDir()), 0u);
}

TEST_F(BlobServiceTest, CorruptStoredArtifactIsDataLoss) {
  writeFile(dir_.path() / "job.so", randomBytes(10'000, 6));
  std::string sha256 = uploadArtifact(channel_, (dir_.path() / "job.so").string()).value();
  writeFile(store_->path(sha256), randomBytes(10'000, 7));
  std::string downloaded;
  int chunks = 0;
  grpc::Status status = download(sha256, runtime::kProtocolVersion, downloaded, chunks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(status.error_message(), HasSubstr(sha256));
}

TEST_F(BlobServiceTest, UploadOfMissingFileNamesIt) {
  absl::StatusOr<std::string> sha256 =
      uploadArtifact(channel_, (dir_.path() / "missing.so").string());
  EXPECT_EQ(sha256.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(sha256.status().message()), HasSubstr("missing.so"));
}

}  // namespace
}  // namespace brook::jobmanager
