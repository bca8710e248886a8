#pragma once

// Uploading a job artifact to the JobManager's BlobServer, for the CLI. This header includes no
// gRPC headers, so the CLI can use it without the JobManager's service code.

#include <chrono>
#include <memory>
#include <string>

#include <absl/status/statusor.h>

namespace grpc {
class Channel;
}  // namespace grpc

namespace brook::jobmanager {

/// Uploads the file at `path` to the BlobServer behind `channel` and returns its SHA-256, which
/// the server checked against the hash computed here before storing the file. The call, a
/// client stream in 1 MiB chunks, fails with DeadlineExceeded after `timeout` and with
/// Unavailable if the server cannot be reached; errors name the file. Blocks; callable from any
/// thread.
absl::StatusOr<std::string> uploadArtifact(
    const std::shared_ptr<grpc::Channel>& channel,
    const std::string& path,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace brook::jobmanager
