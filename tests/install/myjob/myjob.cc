// A job built out of tree against an installed Brook.
//
//   brook run --local myjob.so -- --output DIR
//
// Of the even numbers x in [1, 1000], sums x * x per x % 3 and writes one "key,sum" line per
// key. It runs in BATCH mode, so each key's line is written once, with its final sum.

#include <cstdint>
#include <string>
#include <utility>

#include <brook/brook.h>

using KeyedSquare = std::pair<int64_t, int64_t>;

BROOK_JOB(myjob) {
  auto& env = job.env();
  env.setRuntimeMode(brook::RuntimeMode::kBatch);
  env.fromSequence(1, 1000)
      .filter([](int64_t x) { return x % 2 == 0; })
      .map([](int64_t x) { return KeyedSquare(x % 3, x * x); })
      .keyBy([](const KeyedSquare& p) { return p.first; })
      .sum([](KeyedSquare& p) -> int64_t& { return p.second; })
      .map([](KeyedSquare p) { return std::to_string(p.first) + "," + std::to_string(p.second); })
      .writeAsText(job.args().get("output"));
}
