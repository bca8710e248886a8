// A job whose graph differs from one planning to the next (its parallelism counts how often it
// was planned), which every TaskManager's fingerprint check must catch.

#include <brook/brook.h>

namespace {
int timesPlanned = 0;
}

BROOK_JOB(unstable_plan_job) {
  ++timesPlanned;
  job.env()
      .fromSequence(1, 3)
      .map([](int64_t x) { return x; })
      .setParallelism(timesPlanned)
      .print();
}
