#pragma once

// Where the `brook` command finds the JobManager: `-m HOST:PORT`, else $BROOK_JOBMANAGER, else
// jobmanager.rpc.address and jobmanager.rpc.port from the configuration.

#include <string>

#include <absl/status/statusor.h>

#include "common/configuration.h"

namespace brook::cli {

// A JobManager's address, checked: a non-empty host (a name, an IPv4 address or a bracketed
// IPv6 address) and a port in [1, 65535].
struct JobManagerAddress {
  std::string host;
  int port = 0;

  // "host:port", with an IPv6 host in brackets: the form gRPC and users read.
  std::string toString() const;
};

// Parses "HOST:PORT" or "[IPV6]:PORT". InvalidArgument naming `text` when it is malformed.
absl::StatusOr<JobManagerAddress> parseJobManagerAddress(const std::string& text);

// Picks the JobManager address: `option` (the -m value) when not empty, else the environment
// variable BROOK_JOBMANAGER when set and not empty, else the configuration's
// jobmanager.rpc.address (default localhost) and jobmanager.rpc.port (default 6123).
// InvalidArgument naming the value and where it came from when it is malformed.
absl::StatusOr<JobManagerAddress> resolveJobManagerAddress(const std::string& option,
                                                           const Configuration& config);

}  // namespace brook::cli
