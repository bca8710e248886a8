#include "cli/jobmanager_address.h"

#include <cstdlib>

#include <absl/strings/ascii.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>

namespace brook::cli {

namespace {

constexpr char kEnvironmentVariable[] = "BROOK_JOBMANAGER";

bool isValidHostName(const std::string& host) {
  if (host.empty())
    return false;
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
      return false;
  }
  return true;
}

bool isValidIpv6(const std::string& host) {
  if (host.find(':') == std::string::npos)
    return false;
  for (char c : host) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
      return false;
  }
  return true;
}

absl::Status malformed(const std::string& text, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid JobManager address '", text, "': ", why));
}

}  // namespace

std::string JobManagerAddress::toString() const {
  if (host.find(':') != std::string::npos)
    return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<JobManagerAddress> parseJobManagerAddress(const std::string& text) {
  JobManagerAddress address;
  std::string portText;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return malformed(text, "expected [IPV6]:PORT");
    address.host = text.substr(1, close - 1);
    portText = text.substr(close + 2);
    if (!isValidIpv6(address.host))
      return malformed(text, absl::StrCat("'", address.host, "' is not an IPv6 address"));
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
      return malformed(text, "expected HOST:PORT");
    address.host = text.substr(0, colon);
    portText = text.substr(colon + 1);
    if (address.host.empty())
      return malformed(text, "the host is missing (expected HOST:PORT)");
    if (address.host.find(':') != std::string::npos)
      return malformed(text, "write an IPv6 address in brackets, [IPV6]:PORT");
    if (!isValidHostName(address.host))
      return malformed(text, absl::StrCat("'", address.host, "' is not a host name"));
  }
  int port = 0;
  if (portText.empty() || !absl::SimpleAtoi(portText, &port) ||
      portText.find_first_not_of("0123456789") != std::string::npos || port < 1 || port > 65535) {
    return malformed(text, absl::StrCat("the port '", portText, "' is not in [1, 65535]"));
  }
  address.port = port;
  return address;
}

absl::StatusOr<JobManagerAddress> resolveJobManagerAddress(const std::string& option,
                                                           const Configuration& config) {
  if (!option.empty()) {
    auto parsed = parseJobManagerAddress(option);
    if (!parsed.ok())
      return absl::InvalidArgumentError(absl::StrCat(parsed.status().message(), " (from -m)"));
    return parsed;
  }
  if (const char* env = std::getenv(kEnvironmentVariable); env != nullptr && *env != '\0') {
    auto parsed = parseJobManagerAddress(env);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(parsed.status().message(), " (from $", kEnvironmentVariable, ")"));
    }
    return parsed;
  }
  std::string host = config.getString(config_keys::kJobManagerAddress, "localhost");
  absl::StatusOr<int64_t> port = config.getInt(config_keys::kJobManagerPort, 6123);
  if (!port.ok())
    return port.status();
  std::string text = absl::StrCat(host.find(':') != std::string::npos && host.front() != '['
                                      ? absl::StrCat("[", host, "]")
                                      : host,
                                  ":", *port);
  auto parsed = parseJobManagerAddress(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(parsed.status().message(), " (from ",
                                                   config_keys::kJobManagerAddress, " / ",
                                                   config_keys::kJobManagerPort, ")"));
  }
  return parsed;
}

}  // namespace brook::cli
