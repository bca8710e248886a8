#pragma once

/// Conversions between absl::Status and grpc::Status at RPC edges (the codes share numbers),
/// and the protocol-version check every service applies to a request.

#include <cstdint>
#include <string>

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/string_view.h>
#include <grpcpp/support/status.h>

namespace brook {

inline grpc::Status toGrpcStatus(const absl::Status& status) {
  if (status.ok())
    return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

inline absl::Status fromGrpcStatus(const grpc::Status& status, absl::string_view context) {
  if (status.ok())
    return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(context, ": ", status.error_message()));
}

/// FailedPrecondition naming both versions when a peer speaks another protocol version.
inline absl::Status checkProtocolVersion(uint32_t theirs, uint32_t ours) {
  if (theirs == ours)
    return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("peer speaks protocol version ", theirs,
                                                    ", this process speaks version ", ours));
}

}  // namespace brook
