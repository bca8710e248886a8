#include "common/logging.h"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace brook {

namespace {
std::mutex& loggerMutex() {
  static std::mutex mutex;
  return mutex;
}
spdlog::level::level_enum& defaultLevel() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}
}  // namespace

std::shared_ptr<spdlog::logger> getLogger(const std::string& name) {
  std::lock_guard lock(loggerMutex());
  if (auto existing = spdlog::get(name))
    return existing;
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
  logger->set_level(defaultLevel());
  return logger;
}

void setLogLevel(const std::string& level) {
  std::lock_guard lock(loggerMutex());
  defaultLevel() = spdlog::level::from_str(level);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(defaultLevel()); });
}

}  // namespace brook
