#include "jobmanager/blob_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <grpcpp/grpcpp.h>

#include "brook/brook.grpc.pb.h"
#include "common/rpc_status.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "runtime/job_graph_proto.h"

namespace brook::jobmanager {

namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;

// Streams the open file `fd` to `writer`; false if the server ended the call early.
absl::StatusOr<bool> streamFile(int fd,
                                const std::string& path,
                                const std::string& sha256,
                                grpc::ClientWriter<v1::ArtifactChunk>& writer) {
  v1::ArtifactChunk chunk;
  chunk.set_protocol_version(runtime::kProtocolVersion);
  chunk.set_sha256(sha256);
  std::vector<char> buffer(kChunkBytes);
  bool first = true;
  while (true) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return absl::ErrnoToStatus(errno, absl::StrCat("reading artifact '", path, "'"));
    // An empty file still travels as one chunk, which carries the version and the hash.
    if (n == 0 && !first)
      return true;
    chunk.set_data(buffer.data(), static_cast<size_t>(n));
    if (!writer.Write(chunk))
      return false;
    chunk.clear_sha256();
    first = false;
    if (n == 0)
      return true;
  }
}

}  // namespace

absl::StatusOr<std::string> uploadArtifact(const std::shared_ptr<grpc::Channel>& channel,
                                           const std::string& path,
                                           std::chrono::milliseconds timeout) {
  // Hashing first lets the server reject a file that changed while it was being sent.
  BROOK_ASSIGN_OR_RETURN(std::string sha256, sha256OfFile(path));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("opening artifact '", path, "'"));

  auto stub = v1::BlobServer::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::UploadArtifactResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::ArtifactChunk>> writer =
      stub->UploadArtifact(&context, &response);
  absl::StatusOr<bool> streamed = streamFile(fd, path, sha256, *writer);
  ::close(fd);
  if (!streamed.ok()) {
    context.TryCancel();
    writer->Finish();
    return streamed.status();
  }
  // When the server ended the call early, Finish() returns its reason.
  if (*streamed)
    writer->WritesDone();
  grpc::Status status = writer->Finish();
  BROOK_RETURN_IF_ERROR(fromGrpcStatus(status, absl::StrCat("uploading artifact '", path, "'")));
  if (response.sha256() != sha256)
    return absl::InternalError(absl::StrCat("the BlobServer stored artifact '", path, "' as ",
                                            response.sha256(), ", but its SHA-256 is ", sha256));
  return sha256;
}

}  // namespace brook::jobmanager
