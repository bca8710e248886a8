#pragma once

/// Expected results of the recovery job tests, computed by a plain loop. Test code only.

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace brook::testing {

/// Per key `x % keys` of the numbers [0, n): "key,count,sum", sorted.
inline std::vector<std::string> countAndSumLines(int64_t n, int64_t keys) {
  std::map<int64_t, std::pair<int64_t, int64_t>> totals;
  for (int64_t x = 0; x < n; ++x) {
    auto& [count, sum] = totals[x % keys];
    ++count;
    sum += x;
  }
  std::vector<std::string> lines;
  for (const auto& [key, t] : totals)
    lines.push_back(std::to_string(key) + "," + std::to_string(t.first) + "," +
                    std::to_string(t.second));
  std::sort(lines.begin(), lines.end());
  return lines;
}

inline std::vector<std::string> sorted(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace brook::testing
