#pragma once

/// The JobGraph as the Protobuf message (proto/brook/brook.proto) that travels from the CLI to
/// the JobManager and on to every TaskManager. Operator code does not travel: each process
/// plans the job again from its library and arguments and checks that its plan matches.

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <brook/functions.h>

#include "brook/brook.pb.h"
#include "common/configuration.h"
#include "runtime/job_graph.h"

namespace brook::runtime {

/// The protocol version this build speaks.
inline constexpr uint32_t kProtocolVersion = v1::PROTOCOL_VERSION_CURRENT;

/// Describes `graph` with the arguments and job-level configuration it was planned with.
v1::JobGraph toProto(const JobGraph& graph, const JobArgs& args, const Configuration& config);

/// Checks a JobGraph message from outside: protocol version, then structure (ids in range,
/// edges between existing vertices, positive parallelism). Errors say what is wrong and where.
absl::Status validateJobGraphProto(const v1::JobGraph& proto);

/// Decodes and validates serialized bytes of a JobGraph message.
absl::StatusOr<v1::JobGraph> parseJobGraphProto(const std::string& bytes);

/// Checks that `planned`, this process's planning of the job, is the graph that was submitted:
/// FailedPrecondition naming both fingerprints when they differ.
absl::Status checkPlanMatches(const v1::JobGraph& submitted, const JobGraph& planned);

}  // namespace brook::runtime
