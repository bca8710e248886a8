#pragma once

/// The snapshot format of operator state (list, union list and broadcast state; see
/// <brook/operator_state_store.h>), and its redistribution when the parallelism changes.
///
/// Format, version 1. Integers are little-endian; "varint" is LEB128; "bytes" is a varint
/// length followed by that many bytes.
///
///   snapshot := "BRKOPSTA" | version u32 = 1 | payload length u64 | crc32c(payload) u32 | payload
///   payload  := varint n | n x state
///   state    := bytes name | u8 mode (1 split, 2 union, 3 broadcast)
///               | varint elements | elements x bytes element
///               | varint entries  | entries x (bytes key, bytes value)
///
/// A decoder turns any corruption or truncation into absl::DataLossError naming the source.

#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

#include <brook/operator_state_store.h>

namespace brook::state {

std::string encodeOperatorStateSnapshot(const internal::OperatorStateSnapshotData& data);

/// `sourceName` (a file path, say) appears in errors.
absl::StatusOr<internal::OperatorStateSnapshotData> decodeOperatorStateSnapshot(
    std::string_view bytes,
    std::string_view sourceName);

/// Hands the operator state of `previous` (one snapshot per old subtask, in subtask order) to
/// `newParallelism` new subtasks, as Flink does: split list state is concatenated in subtask
/// order and cut into contiguous runs whose sizes differ by at most one (earlier subtasks get
/// the larger ones); union list state goes whole to every subtask; broadcast state of new
/// subtask i is that of old subtask i % old parallelism. A state name used with two modes is
/// InvalidArgument.
absl::StatusOr<std::vector<internal::OperatorStateSnapshotData>> redistributeOperatorState(
    const std::vector<internal::OperatorStateSnapshotData>& previous,
    int newParallelism);

}  // namespace brook::state
