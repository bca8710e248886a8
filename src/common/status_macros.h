#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

/// Returns from the current function if `expr` (an absl::Status) is not OK.
#define BROOK_RETURN_IF_ERROR(expr)        \
  do {                                     \
    ::absl::Status brook_status_ = (expr); \
    if (!brook_status_.ok())               \
      return brook_status_;                \
  } while (0)

#define BROOK_STATUS_CONCAT_INNER(a, b) a##b
#define BROOK_STATUS_CONCAT(a, b) BROOK_STATUS_CONCAT_INNER(a, b)

/// Assigns the value of `rexpr` (an absl::StatusOr) to `lhs`, or returns its status.
#define BROOK_ASSIGN_OR_RETURN(lhs, rexpr) \
  BROOK_ASSIGN_OR_RETURN_IMPL(BROOK_STATUS_CONCAT(brook_statusor_, __LINE__), lhs, rexpr)
#define BROOK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                \
  if (!tmp.ok())                                     \
    return tmp.status();                             \
  lhs = std::move(tmp).value()
