#pragma once

/// Scripted sources for job tests: a source that emits records at given timestamps and
/// watermarks in the order of a script, then ends, and the configuration the job tests run
/// with. Test code only.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <brook/brook.h>

#include "common/configuration.h"
#include "common/testing/files.h"

namespace brook::testing {

/// One step of a scripted source: a record at a timestamp, or (without a record) a watermark.
template <typename T>
struct ScriptStep {
  std::optional<T> record;
  int64_t time = 0;
};

/// Emits its steps in order, then ends.
template <typename T>
class ScriptedReader final : public SourceReader<T> {
 public:
  explicit ScriptedReader(std::vector<ScriptStep<T>> steps) : steps_(std::move(steps)) {}
  InputStatus pollNext(SourceOutput<T>& out) override {
    if (next_ == steps_.size())
      return InputStatus::kEndOfInput;
    const ScriptStep<T>& step = steps_[next_++];
    if (step.record) {
      out.collect(*step.record, step.time);
    } else {
      out.emitWatermark(step.time);
    }
    return InputStatus::kMoreAvailable;
  }

 private:
  std::vector<ScriptStep<T>> steps_;
  size_t next_ = 0;
};

/// A bounded, non-parallel source named `name` that emits `steps` in order.
template <typename T>
DataStream<T> scripted(StreamExecutionEnvironment& env, const std::string& name,
                       std::vector<ScriptStep<T>> steps) {
  return env.fromSource<T>([steps] { return std::make_unique<ScriptedReader<T>>(steps); }, name,
                           /*bounded=*/true, /*parallel=*/false);
}

/// A STREAMING job's configuration: `parallelism` as the default parallelism, `backend` as the
/// state backend type, and `tmp` as io.tmp.dirs, so that it holds every local state file.
inline Configuration jobConfiguration(const TempDir& tmp, const std::string& backend,
                                      int parallelism = 2) {
  Configuration c;
  c.set("parallelism.default", std::to_string(parallelism));
  c.set("execution.runtime-mode", "STREAMING");
  c.set("state.backend.type", backend);
  c.set("io.tmp.dirs", tmp.path().string());
  return c;
}

}  // namespace brook::testing
