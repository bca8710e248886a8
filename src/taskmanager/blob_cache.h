#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>

namespace grpc {
class Channel;
}  // namespace grpc

namespace brook::taskmanager {

/// How a BlobCache talks to the BlobServer.
struct BlobCacheOptions {
  /// The deadline of every RPC: an unreachable or stalled server fails a fetch with Unavailable
  /// or DeadlineExceeded within this time.
  std::chrono::milliseconds rpcTimeout = std::chrono::seconds(30);
  /// The largest artifact the cache accepts (512 MiB, the BlobServer's default limit).
  int64_t maxArtifactBytes = int64_t{512} << 20;
};

/// A TaskManager's local copies of job artifacts, fetched by SHA-256 from the JobManager's
/// BlobServer into one directory. Each artifact is downloaded once per process even when
/// several threads ask for it at the same time; what arrives is written atomically (temporary
/// file, fsync, rename) and kept only if its SHA-256 matches. Thread-safe: fetch() may be
/// called from any thread and blocks while the artifact downloads.
class BlobCache {
 public:
  /// Opens the cache in `directory` (created if needed), downloading over `channel`.
  static absl::StatusOr<std::unique_ptr<BlobCache>> create(std::string directory,
                                                           std::shared_ptr<grpc::Channel> channel,
                                                           BlobCacheOptions options = {});

  BlobCache(const BlobCache&) = delete;
  BlobCache& operator=(const BlobCache&) = delete;
  ~BlobCache();

  /// Returns the path of the local copy of the artifact with this hash, downloading it first
  /// if needed. A copy left by an earlier process is checked before it is used. Errors:
  /// InvalidArgument for a malformed hash; the server's NotFound or FailedPrecondition;
  /// Unavailable or DeadlineExceeded when the server cannot be reached in time; DataLoss when
  /// what arrived does not match the hash (nothing is kept). A failed fetch is retried by the
  /// next call.
  absl::StatusOr<std::string> fetch(const std::string& sha256);

  /// The number of downloads this cache started.
  int64_t downloadCount() const;

  const std::string& directory() const { return directory_; }

 private:
  struct Fetch;

  BlobCache(std::string directory,
            std::shared_ptr<grpc::Channel> channel,
            BlobCacheOptions options);

  // Verifies a copy on disk or downloads the artifact; called by one thread per hash at a time.
  absl::StatusOr<std::string> load(const std::string& sha256);
  absl::StatusOr<std::string> download(const std::string& sha256);

  const std::string directory_;
  // Shared with the gRPC stubs made for each download.
  const std::shared_ptr<grpc::Channel> channel_;
  const BlobCacheOptions options_;

  mutable absl::Mutex mutex_;
  // Per hash, the fetch that is running or has succeeded; shared with the threads waiting on it.
  absl::flat_hash_map<std::string, std::shared_ptr<Fetch>> fetches_ ABSL_GUARDED_BY(mutex_);
  int64_t downloads_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace brook::taskmanager
