#include "taskmanager/blob_cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <absl/synchronization/notification.h>
#include <grpcpp/grpcpp.h>

#include "brook/brook.grpc.pb.h"
#include "common/logging.h"
#include "common/rpc_status.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "runtime/job_graph_proto.h"

namespace brook::taskmanager {

namespace {

// Temporary files of unfinished downloads start with this prefix, which no hash has.
constexpr char kTempPrefix[] = ".tmp-";

// A temporary file that is removed unless publish() renamed it to its final name.
class TempFile {
 public:
  TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0)
      ::close(fd_);
    if (!path_.empty())
      ::unlink(path_.c_str());
  }

  absl::Status write(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return absl::ErrnoToStatus(errno, absl::StrCat("writing '", path_, "'"));
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  // Syncs, closes and renames the file to `target`, then syncs `directory`.
  absl::Status publish(const std::string& target, const std::string& directory) {
    if (::fsync(fd_) != 0)
      return absl::ErrnoToStatus(errno, absl::StrCat("syncing '", path_, "'"));
    if (::close(std::exchange(fd_, -1)) != 0)
      return absl::ErrnoToStatus(errno, absl::StrCat("closing '", path_, "'"));
    if (::rename(path_.c_str(), target.c_str()) != 0)
      return absl::ErrnoToStatus(errno, absl::StrCat("renaming '", path_, "' to '", target, "'"));
    path_.clear();
    int dirFd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirFd < 0)
      return absl::ErrnoToStatus(errno, absl::StrCat("opening directory '", directory, "'"));
    int rc = ::fsync(dirFd);
    int error = errno;
    ::close(dirFd);
    if (rc != 0)
      return absl::ErrnoToStatus(error, absl::StrCat("syncing directory '", directory, "'"));
    return absl::OkStatus();
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

// One fetch of one artifact: the first caller runs it, later callers wait for its result.
struct BlobCache::Fetch {
  absl::Notification done;
  // Written once before `done` is notified, read only after.
  absl::StatusOr<std::string> result;
};

absl::StatusOr<std::unique_ptr<BlobCache>> BlobCache::create(std::string directory,
                                                             std::shared_ptr<grpc::Channel> channel,
                                                             BlobCacheOptions options) {
  if (channel == nullptr)
    return absl::InvalidArgumentError("the blob cache needs a channel to the BlobServer");
  if (options.rpcTimeout.count() <= 0)
    return absl::InvalidArgumentError(absl::StrCat(
        "the blob cache's RPC timeout must be positive, got ", options.rpcTimeout.count(), " ms"));
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error)
    return absl::ErrnoToStatus(error.value(),
                               absl::StrCat("creating blob cache directory '", directory, "'"));
  // Leftovers of downloads that an earlier process did not finish.
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    if (entry.path().filename().string().starts_with(kTempPrefix))
      std::filesystem::remove(entry.path(), error);
  }
  if (error)
    return absl::ErrnoToStatus(error.value(),
                               absl::StrCat("cleaning blob cache directory '", directory, "'"));
  return std::unique_ptr<BlobCache>(
      new BlobCache(std::move(directory), std::move(channel), options));
}

BlobCache::BlobCache(std::string directory,
                     std::shared_ptr<grpc::Channel> channel,
                     BlobCacheOptions options)
    : directory_(std::move(directory)), channel_(std::move(channel)), options_(options) {}

BlobCache::~BlobCache() = default;

int64_t BlobCache::downloadCount() const {
  absl::MutexLock lock(&mutex_);
  return downloads_;
}

absl::StatusOr<std::string> BlobCache::fetch(const std::string& sha256) {
  if (!isSha256Hex(sha256))
    return absl::InvalidArgumentError(
        absl::StrCat("'", sha256, "' is not a SHA-256 in lower-case hex"));
  std::shared_ptr<Fetch> fetch;
  bool owner = false;
  {
    absl::MutexLock lock(&mutex_);
    std::shared_ptr<Fetch>& slot = fetches_[sha256];
    if (slot == nullptr) {
      slot = std::make_shared<Fetch>();
      owner = true;
    }
    fetch = slot;
  }
  if (!owner) {
    fetch->done.WaitForNotification();
    return fetch->result;
  }

  absl::StatusOr<std::string> result = load(sha256);
  if (!result.ok()) {
    getLogger("blob")->warn("fetching artifact {} failed: {}", sha256, result.status());
    // Forget the failure, so that the next fetch tries again.
    absl::MutexLock lock(&mutex_);
    fetches_.erase(sha256);
  }
  fetch->result = result;
  fetch->done.Notify();
  return result;
}

absl::StatusOr<std::string> BlobCache::load(const std::string& sha256) {
  std::string target = absl::StrCat(directory_, "/", sha256);
  std::error_code error;
  if (std::filesystem::is_regular_file(target, error)) {
    absl::StatusOr<std::string> actual = sha256OfFile(target);
    if (actual.ok() && *actual == sha256)
      return target;
    getLogger("blob")->warn(
        "discarding cached artifact '{}': {}", target,
        actual.ok() ? absl::StrCat("its content hashes to ", *actual) : actual.status().ToString());
    std::filesystem::remove(target, error);
  }
  return download(sha256);
}

absl::StatusOr<std::string> BlobCache::download(const std::string& sha256) {
  {
    absl::MutexLock lock(&mutex_);
    ++downloads_;
  }
  std::string what = absl::StrCat("downloading artifact ", sha256, " from the BlobServer");
  std::string tempPath = absl::StrCat(directory_, "/", kTempPrefix, "XXXXXX");
  int fd = ::mkostemp(tempPath.data(), O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(
        errno, absl::StrCat(what, ": creating a temporary file in '", directory_, "'"));
  TempFile file(fd, tempPath);

  auto stub = v1::BlobServer::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.rpcTimeout);
  v1::DownloadArtifactRequest request;
  request.set_protocol_version(runtime::kProtocolVersion);
  request.set_sha256(sha256);
  std::unique_ptr<grpc::ClientReader<v1::ArtifactChunk>> reader =
      stub->DownloadArtifact(&context, request);

  Sha256 hasher;
  int64_t received = 0;
  absl::Status local;
  v1::ArtifactChunk chunk;
  while (local.ok() && reader->Read(&chunk)) {
    if (chunk.protocol_version() != runtime::kProtocolVersion) {
      local = absl::FailedPreconditionError(
          absl::StrCat(what, ": the server speaks protocol version ", chunk.protocol_version(),
                       ", this TaskManager speaks ", runtime::kProtocolVersion));
    } else if (received + static_cast<int64_t>(chunk.data().size()) > options_.maxArtifactBytes) {
      local = absl::ResourceExhaustedError(
          absl::StrCat(what, ": the artifact is larger than the limit of ",
                       options_.maxArtifactBytes, " bytes"));
    } else {
      local = file.write(chunk.data());
      hasher.update(chunk.data());
      received += static_cast<int64_t>(chunk.data().size());
    }
  }
  if (!local.ok())
    context.TryCancel();
  grpc::Status status = reader->Finish();
  BROOK_RETURN_IF_ERROR(local);
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
    return absl::DeadlineExceededError(absl::StrCat(what, ": no answer within the deadline of ",
                                                    options_.rpcTimeout.count(), " ms"));
  BROOK_RETURN_IF_ERROR(fromGrpcStatus(status, what));

  BROOK_ASSIGN_OR_RETURN(std::string actual, hasher.finishHex());
  if (actual != sha256)
    return absl::DataLossError(
        absl::StrCat(what, ": what arrived hashes to ", actual, "; it was discarded"));
  BROOK_RETURN_IF_ERROR(file.publish(absl::StrCat(directory_, "/", sha256), directory_));
  getLogger("blob")->info("downloaded artifact {} ({} bytes)", sha256, received);
  return absl::StrCat(directory_, "/", sha256);
}

}  // namespace brook::taskmanager
