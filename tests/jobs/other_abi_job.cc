// A job that claims another ABI version, as one built against an incompatible Brook would.

#include <brook/brook.h>

#undef BROOK_ABI_VERSION
#define BROOK_ABI_VERSION 999

BROOK_JOB(other_abi_job) {
  job.env().fromSequence(1, 3).print();
}
