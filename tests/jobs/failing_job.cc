// A job whose map function throws on one record: the CLI must report FAILED with the message
// and the operator's name.

#include <stdexcept>

#include <brook/brook.h>

BROOK_JOB(failing_job) {
  auto& env = job.env();
  env.fromSequence(1, 1000)
      .map([](int64_t x) {
        if (x == 777)
          throw std::runtime_error("record 777 is cursed");
        return x;
      })
      .name("Curse Checker")
      .print();
}
