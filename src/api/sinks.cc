#include <cstdio>
#include <mutex>

#include <brook/sinks.h>

namespace brook::internal {

void writeStdoutLines(const std::string& lines) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::fwrite(lines.data(), 1, lines.size(), stdout);
}

}  // namespace brook::internal
