#pragma once

#include <memory>
#include <string>

#include <absl/status/status.h>
#include <absl/strings/string_view.h>
#include <fmt/format.h>
#include <spdlog/logger.h>

namespace brook {

/// The named logger of a subsystem ("runtime", "network", "cli", ...), created on first use;
/// all write to standard error with one pattern.
std::shared_ptr<spdlog::logger> getLogger(const std::string& name);

/// Sets the level of every logger ("trace", "debug", "info", "warn", "error", "off").
void setLogLevel(const std::string& level);

}  // namespace brook

template <>
struct fmt::formatter<absl::Status> : fmt::formatter<std::string> {
  auto format(const absl::Status& s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(s.ToString(), ctx);
  }
};

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  auto format(absl::string_view s, fmt::format_context& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};
