#include "state/key_group.h"

namespace brook::state {

KeyGroupRange keyGroupRangeFor(int maxParallelism, int parallelism, int index) {
  // Flink's rule: start = ceil(index * max / p), end = ceil((index + 1) * max / p) - 1.
  int64_t start = (static_cast<int64_t>(index) * maxParallelism + parallelism - 1) / parallelism;
  int64_t end =
      (static_cast<int64_t>(index + 1) * maxParallelism + parallelism - 1) / parallelism - 1;
  return {static_cast<int>(start), static_cast<int>(end)};
}

}  // namespace brook::state
