// Prints a few numbers with print(), so tests can check Flink's "N> " prefixes.

#include <brook/brook.h>

BROOK_JOB(print_job) {
  auto& env = job.env();
  env.fromSequence(1, static_cast<int64_t>(job.args().getInt("count", 6))).print();
}
