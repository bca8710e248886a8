#include "benchmark_report.h"

#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace brook::benchmarks {

namespace fs = std::filesystem;

std::string formatFixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

std::string formatRate(double perSecond) {
  return formatFixed(perSecond / 1e6, 1) + " M";
}

std::string withThousands(uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

int onlineCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0)
    return CPU_COUNT(&set);
  return static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
}

std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        size_t begin = line.find_first_not_of(" \t", colon + 1);
        return begin == std::string::npos ? "" : line.substr(begin);
      }
    }
  }
  return "unknown";
}

std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string oneMinute;
  in >> oneMinute;
  return oneMinute.empty() ? "unknown" : oneMinute;
}

std::string todayUtc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d", &tm);
  return text;
}

void writeMarkdownSection(const std::string& path,
                          const std::string& heading,
                          const std::string& section) {
  std::string text;
  if (std::ifstream in(path, std::ios::binary); in) {
    std::ostringstream content;
    content << in.rdbuf();
    text = content.str();
  } else {
    text =
        "# Benchmarks\n\nResults of the programs in `benchmarks/`. Each program writes its own "
        "section;\nrerun it to refresh the numbers.\n";
  }
  // The section starts at its heading line, at the start of the file or of a line.
  const std::string headingLine = heading + "\n";
  size_t begin = text.rfind(headingLine, 0) == 0 ? 0 : text.find("\n" + headingLine);
  if (begin == std::string::npos) {
    while (!text.empty() && text.back() == '\n')
      text.pop_back();
    text += "\n\n" + section;
  } else {
    if (begin != 0)
      ++begin;
    size_t end = text.find("\n## ", begin);
    end = end == std::string::npos ? text.size() : end + 1;
    std::string rest = text.substr(end);
    text = text.substr(0, begin) + section + (rest.empty() ? "" : "\n" + rest);
  }

  // Beside the file, so that the rename stays within one file system and replaces it at once.
  const std::string tmpPath = path + ".tmp." + std::to_string(::getpid());
  try {
    {
      std::ofstream out(tmpPath, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out)
        throw std::runtime_error("cannot write '" + tmpPath + "'");
    }
    fs::rename(tmpPath, path);
  } catch (...) {
    // A temporary file's name is new in every run: one left behind would stay for good.
    std::error_code ignored;
    fs::remove(tmpPath, ignored);
    throw;
  }
}

}  // namespace brook::benchmarks
