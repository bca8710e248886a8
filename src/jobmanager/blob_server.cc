#include "jobmanager/blob_server.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include <absl/strings/str_cat.h>

#include "common/logging.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "runtime/job_graph_proto.h"

namespace brook::jobmanager {

namespace {

// Temporary files of unfinished writes start with this prefix, which no hash has.
constexpr char kTempPrefix[] = ".tmp-";

absl::Status writeAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return absl::ErrnoToStatus(errno, absl::StrCat("writing '", path, "'"));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Makes a rename inside `directory` durable.
absl::Status syncDirectory(const std::string& directory) {
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("opening directory '", directory, "'"));
  int rc = ::fsync(fd);
  int error = errno;
  ::close(fd);
  if (rc != 0)
    return absl::ErrnoToStatus(error, absl::StrCat("syncing directory '", directory, "'"));
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// BlobStore::Upload

BlobStore::Upload::Upload(std::string directory,
                          int64_t maxArtifactBytes,
                          int fd,
                          std::string tempPath)
    : directory_(std::move(directory)),
      maxArtifactBytes_(maxArtifactBytes),
      fd_(fd),
      tempPath_(std::move(tempPath)) {}

BlobStore::Upload::Upload(Upload&& other) noexcept
    : directory_(std::move(other.directory_)),
      maxArtifactBytes_(other.maxArtifactBytes_),
      fd_(std::exchange(other.fd_, -1)),
      tempPath_(std::exchange(other.tempPath_, {})),
      hasher_(std::move(other.hasher_)),
      bytesWritten_(other.bytesWritten_) {}

BlobStore::Upload& BlobStore::Upload::operator=(Upload&& other) noexcept {
  if (this != &other) {
    discard();
    directory_ = std::move(other.directory_);
    maxArtifactBytes_ = other.maxArtifactBytes_;
    fd_ = std::exchange(other.fd_, -1);
    tempPath_ = std::exchange(other.tempPath_, {});
    hasher_ = std::move(other.hasher_);
    bytesWritten_ = other.bytesWritten_;
  }
  return *this;
}

BlobStore::Upload::~Upload() {
  discard();
}

void BlobStore::Upload::discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!tempPath_.empty()) {
    ::unlink(tempPath_.c_str());
    tempPath_.clear();
  }
}

absl::Status BlobStore::Upload::append(std::string_view bytes) {
  if (fd_ < 0)
    return absl::FailedPreconditionError("appending to an artifact upload that has ended");
  if (bytesWritten_ + static_cast<int64_t>(bytes.size()) > maxArtifactBytes_) {
    discard();
    return absl::ResourceExhaustedError(
        absl::StrCat("the artifact is larger than the limit of ", maxArtifactBytes_, " bytes"));
  }
  absl::Status status = writeAll(fd_, bytes, tempPath_);
  if (!status.ok()) {
    discard();
    return status;
  }
  hasher_.update(bytes);
  bytesWritten_ += static_cast<int64_t>(bytes.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> BlobStore::Upload::commit(std::string_view expectedSha256) {
  if (fd_ < 0)
    return absl::FailedPreconditionError("committing an artifact upload that has ended");
  absl::StatusOr<std::string> sha256 = hasher_.finishHex();
  if (!sha256.ok()) {
    discard();
    return sha256.status();
  }
  if (!expectedSha256.empty() && expectedSha256 != *sha256) {
    discard();
    return absl::InvalidArgumentError(
        absl::StrCat("the artifact was declared with SHA-256 ",
                     absl::string_view(expectedSha256.data(), expectedSha256.size()),
                     " but its content hashes to ", *sha256));
  }
  if (::fsync(fd_) != 0) {
    absl::Status status = absl::ErrnoToStatus(errno, absl::StrCat("syncing '", tempPath_, "'"));
    discard();
    return status;
  }
  int rc = ::close(std::exchange(fd_, -1));
  if (rc != 0) {
    absl::Status status = absl::ErrnoToStatus(errno, absl::StrCat("closing '", tempPath_, "'"));
    discard();
    return status;
  }
  std::string target = absl::StrCat(directory_, "/", *sha256);
  // Replacing an existing file is intended: its content is the same, or it was corrupt.
  if (::rename(tempPath_.c_str(), target.c_str()) != 0) {
    absl::Status status =
        absl::ErrnoToStatus(errno, absl::StrCat("renaming '", tempPath_, "' to '", target, "'"));
    discard();
    return status;
  }
  tempPath_.clear();
  BROOK_RETURN_IF_ERROR(syncDirectory(directory_));
  return sha256;
}

// ---------------------------------------------------------------------------------------------
// BlobStore

absl::StatusOr<BlobStore> BlobStore::open(std::string directory, int64_t maxArtifactBytes) {
  if (maxArtifactBytes < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("the artifact size limit must not be negative, got ", maxArtifactBytes));
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error)
    return absl::ErrnoToStatus(error.value(),
                               absl::StrCat("creating blob directory '", directory, "'"));
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    if (entry.path().filename().string().starts_with(kTempPrefix))
      std::filesystem::remove(entry.path(), error);
  }
  if (error)
    return absl::ErrnoToStatus(error.value(),
                               absl::StrCat("cleaning blob directory '", directory, "'"));
  return BlobStore(std::move(directory), maxArtifactBytes);
}

absl::StatusOr<BlobStore::Upload> BlobStore::beginUpload() const {
  std::string tempPath = absl::StrCat(directory_, "/", kTempPrefix, "XXXXXX");
  int fd = ::mkostemp(tempPath.data(), O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("creating a temporary file in '", directory_, "'"));
  return Upload(directory_, maxArtifactBytes_, fd, std::move(tempPath));
}

absl::StatusOr<std::string> BlobStore::put(const std::string& sourcePath) const {
  int fd = ::open(sourcePath.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("opening artifact '", sourcePath, "'"));
  absl::StatusOr<Upload> upload = beginUpload();
  absl::Status status = upload.status();
  std::vector<char> buffer(kArtifactChunkBytes);
  while (status.ok()) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      status = absl::ErrnoToStatus(errno, absl::StrCat("reading artifact '", sourcePath, "'"));
    else if (n == 0)
      break;
    else
      status = upload->append(std::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  if (!status.ok())
    return status;
  return upload->commit();
}

bool BlobStore::contains(std::string_view sha256) const {
  if (!isSha256Hex(sha256))
    return false;
  std::error_code error;
  return std::filesystem::is_regular_file(path(sha256), error);
}

std::string BlobStore::path(std::string_view sha256) const {
  return absl::StrCat(directory_, "/", absl::string_view(sha256.data(), sha256.size()));
}

absl::Status BlobStore::read(std::string_view sha256,
                             const std::function<bool(std::string_view chunk)>& consumer,
                             size_t chunkBytes) const {
  absl::string_view name(sha256.data(), sha256.size());
  if (!isSha256Hex(sha256))
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "' is not a SHA-256 in lower-case hex"));
  std::string file = path(sha256);
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return absl::NotFoundError(
        absl::StrCat("artifact ", name, " is not in the blob store '", directory_, "'"));
  if (fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("opening '", file, "'"));
  Sha256 hasher;
  std::vector<char> buffer(chunkBytes == 0 ? kArtifactChunkBytes : chunkBytes);
  absl::Status status;
  while (status.ok()) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      status = absl::ErrnoToStatus(errno, absl::StrCat("reading '", file, "'"));
    } else if (n == 0) {
      break;
    } else {
      std::string_view chunk(buffer.data(), static_cast<size_t>(n));
      hasher.update(chunk);
      if (!consumer(chunk))
        status = absl::CancelledError(absl::StrCat("reading artifact ", name, " was cancelled"));
    }
  }
  ::close(fd);
  BROOK_RETURN_IF_ERROR(status);
  BROOK_ASSIGN_OR_RETURN(std::string actual, hasher.finishHex());
  if (actual != sha256)
    return absl::DataLossError(
        absl::StrCat("stored artifact '", file, "' is corrupt: its content hashes to ", actual));
  return absl::OkStatus();
}

absl::Status BlobStore::verify(std::string_view sha256) const {
  return read(sha256, [](std::string_view) { return true; });
}

// ---------------------------------------------------------------------------------------------
// BlobService

grpc::Status BlobService::UploadArtifact(grpc::ServerContext* context,
                                         grpc::ServerReader<v1::ArtifactChunk>* reader,
                                         v1::UploadArtifactResponse* response) {
  absl::StatusOr<std::string> sha256 = upload(*reader);
  if (sha256.ok() && context->IsCancelled())
    sha256 = absl::CancelledError("the client cancelled the upload");
  if (!sha256.ok()) {
    getLogger("blob")->warn("refused an artifact upload from {}: {}", context->peer(),
                            sha256.status());
    return toGrpcStatus(sha256.status());
  }
  response->set_sha256(*sha256);
  return grpc::Status::OK;
}

absl::StatusOr<std::string> BlobService::upload(grpc::ServerReader<v1::ArtifactChunk>& reader) {
  BROOK_ASSIGN_OR_RETURN(BlobStore::Upload upload, store_.beginUpload());
  v1::ArtifactChunk chunk;
  std::optional<std::string> declaredSha256;
  while (reader.Read(&chunk)) {
    BROOK_RETURN_IF_ERROR(
        checkProtocolVersion(chunk.protocol_version(), runtime::kProtocolVersion));
    if (!declaredSha256) {
      declaredSha256 = chunk.sha256();
      if (!declaredSha256->empty() && !isSha256Hex(*declaredSha256))
        return absl::InvalidArgumentError(
            absl::StrCat("the upload declares '", *declaredSha256,
                         "', which is not a SHA-256 in lower-case hex"));
    }
    BROOK_RETURN_IF_ERROR(upload.append(chunk.data()));
  }
  if (!declaredSha256)
    return absl::InvalidArgumentError("the upload carried no chunk");
  BROOK_ASSIGN_OR_RETURN(std::string sha256, upload.commit(*declaredSha256));
  getLogger("blob")->info("stored artifact {} ({} bytes)", sha256, upload.bytesWritten());
  return sha256;
}

grpc::Status BlobService::DownloadArtifact(grpc::ServerContext* context,
                                           const v1::DownloadArtifactRequest* request,
                                           grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  absl::Status status = download(*request, *writer);
  if (!status.ok()) {
    getLogger("blob")->warn("artifact download by {} failed: {}", context->peer(), status);
    return toGrpcStatus(status);
  }
  downloadsServed_.fetch_add(1);
  return grpc::Status::OK;
}

absl::Status BlobService::download(const v1::DownloadArtifactRequest& request,
                                   grpc::ServerWriter<v1::ArtifactChunk>& writer) {
  BROOK_RETURN_IF_ERROR(
      checkProtocolVersion(request.protocol_version(), runtime::kProtocolVersion));
  v1::ArtifactChunk chunk;
  chunk.set_protocol_version(runtime::kProtocolVersion);
  chunk.set_sha256(request.sha256());
  return store_.read(request.sha256(), [&](std::string_view bytes) {
    chunk.set_data(bytes.data(), bytes.size());
    bool written = writer.Write(chunk);
    // Only the first chunk names the artifact.
    chunk.clear_sha256();
    return written;
  });
}

}  // namespace brook::jobmanager
