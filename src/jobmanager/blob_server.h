#pragma once

// The JobManager's BlobServer: job artifacts (the job libraries) stored by SHA-256 and served
// to the CLI (upload) and the TaskManagers (download) over gRPC. This header includes the
// generated gRPC code; only the JobManager's own files include it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "brook/brook.grpc.pb.h"
#include "common/sha256.h"

namespace brook::jobmanager {

/// The largest artifact a BlobStore accepts unless told otherwise (512 MiB).
inline constexpr int64_t kDefaultMaxArtifactBytes = int64_t{512} << 20;

/// The size of the chunks in which artifacts travel (1 MiB).
inline constexpr size_t kArtifactChunkBytes = size_t{1} << 20;

/// Stores artifacts in one directory, each under its lower-case hex SHA-256. Writes are atomic
/// (temporary file, fsync, rename, fsync of the directory), so a reader sees a whole artifact
/// or none. A stored file whose content no longer matches its name is reported as DataLoss.
/// Thread-safe: methods may be called from any thread, and concurrent puts of the same artifact
/// are harmless because each writes its own temporary file and the renames are atomic.
class BlobStore {
 public:
  /// Receives one artifact in pieces into a temporary file of the store; commit() verifies and
  /// publishes it, and destruction without a successful commit() removes the temporary file.
  /// Not thread-safe: one owner writes it.
  class Upload {
   public:
    Upload(Upload&& other) noexcept;
    Upload& operator=(Upload&& other) noexcept;
    Upload(const Upload&) = delete;
    Upload& operator=(const Upload&) = delete;
    ~Upload();

    /// Appends `bytes`. ResourceExhausted once the artifact grows beyond the store's limit;
    /// an errno-derived code if the disk write fails.
    absl::Status append(std::string_view bytes);

    /// Makes the artifact durable and publishes it under its hash, which it returns. If
    /// `expectedSha256` is not empty and differs from the hash of what was appended, nothing is
    /// stored and the result is InvalidArgument naming both hashes.
    absl::StatusOr<std::string> commit(std::string_view expectedSha256 = {});

    int64_t bytesWritten() const { return bytesWritten_; }

   private:
    friend class BlobStore;
    Upload(std::string directory, int64_t maxArtifactBytes, int fd, std::string tempPath);
    void discard();

    std::string directory_;
    int64_t maxArtifactBytes_;
    int fd_;
    std::string tempPath_;
    Sha256 hasher_;
    int64_t bytesWritten_ = 0;
  };

  /// Opens the store in `directory`, creating it if needed and removing temporary files that
  /// an interrupted write left behind. Artifacts above `maxArtifactBytes` are refused.
  static absl::StatusOr<BlobStore> open(std::string directory,
                                        int64_t maxArtifactBytes = kDefaultMaxArtifactBytes);

  /// Starts receiving an artifact in pieces.
  absl::StatusOr<Upload> beginUpload() const;

  /// Stores a copy of the file at `sourcePath` and returns its hash.
  absl::StatusOr<std::string> put(const std::string& sourcePath) const;

  /// Tells whether an artifact with this hash is stored (without checking its content).
  bool contains(std::string_view sha256) const;

  /// Returns where the artifact with this hash is or would be stored. `sha256` must satisfy
  /// isSha256Hex(), so that the path cannot leave the directory.
  std::string path(std::string_view sha256) const;

  /// Reads the stored artifact in pieces of at most `chunkBytes`, handing each to `consumer`,
  /// while checking its hash: InvalidArgument if `sha256` is not a hex SHA-256, NotFound if no
  /// such artifact is stored, DataLoss (after the last piece) if its content does not match its
  /// name, Cancelled if `consumer` returns false.
  absl::Status read(std::string_view sha256,
                    const std::function<bool(std::string_view chunk)>& consumer,
                    size_t chunkBytes = kArtifactChunkBytes) const;

  /// Checks that the stored artifact's content matches its name: NotFound or DataLoss if not.
  absl::Status verify(std::string_view sha256) const;

  const std::string& directory() const { return directory_; }
  int64_t maxArtifactBytes() const { return maxArtifactBytes_; }

 private:
  BlobStore(std::string directory, int64_t maxArtifactBytes)
      : directory_(std::move(directory)), maxArtifactBytes_(maxArtifactBytes) {}

  std::string directory_;
  int64_t maxArtifactBytes_;
};

/// Implements the BlobServer gRPC service over a BlobStore: UploadArtifact stores a streamed
/// artifact (checking a declared hash and the size limit), DownloadArtifact streams one back in
/// 1 MiB chunks. Every request must carry this build's protocol version. Thread-safe: gRPC calls
/// the handlers from its own threads; the store outlives the service.
class BlobService final : public v1::BlobServer::Service {
 public:
  explicit BlobService(const BlobStore& store) : store_(store) {}

  grpc::Status UploadArtifact(grpc::ServerContext* context,
                              grpc::ServerReader<v1::ArtifactChunk>* reader,
                              v1::UploadArtifactResponse* response) override;
  grpc::Status DownloadArtifact(grpc::ServerContext* context,
                                const v1::DownloadArtifactRequest* request,
                                grpc::ServerWriter<v1::ArtifactChunk>* writer) override;

  /// The number of downloads that were served to the end.
  int64_t downloadsServed() const { return downloadsServed_.load(); }

 private:
  absl::StatusOr<std::string> upload(grpc::ServerReader<v1::ArtifactChunk>& reader);
  absl::Status download(const v1::DownloadArtifactRequest& request,
                        grpc::ServerWriter<v1::ArtifactChunk>& writer);

  const BlobStore& store_;
  std::atomic<int64_t> downloadsServed_{0};
};

}  // namespace brook::jobmanager
