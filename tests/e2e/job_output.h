#pragma once

// Reading and comparing what a job wrote: the lines of its part files, sorted, and a comparison
// that describes the first differences instead of printing every line.

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace brook::testing {

/// Every line of every part file in `dir`, sorted.
inline std::vector<std::string> sortedLines(const std::filesystem::path& dir) {
  std::vector<std::string> lines;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    // Hidden files are part files still in progress or pending (the file sink's).
    if (entry.path().filename().string().starts_with("."))
      continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);)
      lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

/// Compares sorted line lists; on a difference, names the counts and up to five missing and
/// five unexpected lines.
inline ::testing::AssertionResult sameLines(const std::vector<std::string>& actual,
                                            const std::vector<std::string>& wanted) {
  if (actual == wanted)
    return ::testing::AssertionSuccess();
  std::vector<std::string> missing;
  std::vector<std::string> unexpected;
  std::set_difference(wanted.begin(), wanted.end(), actual.begin(), actual.end(),
                      std::back_inserter(missing));
  std::set_difference(actual.begin(), actual.end(), wanted.begin(), wanted.end(),
                      std::back_inserter(unexpected));
  auto result = ::testing::AssertionFailure()
                << actual.size() << " lines, expected " << wanted.size() << "; " << missing.size()
                << " missing, " << unexpected.size() << " unexpected";
  for (size_t i = 0; i < std::min<size_t>(5, missing.size()); ++i)
    result << "\n  missing:    " << missing[i];
  for (size_t i = 0; i < std::min<size_t>(5, unexpected.size()); ++i)
    result << "\n  unexpected: " << unexpected[i];
  return result;
}

}  // namespace brook::testing
