#pragma once

/// ProcessJoinFunction: the user function of an interval join (KeyedStream::intervalJoin).

#include <algorithm>
#include <cstdint>

#include <brook/functions.h>
#include <brook/operator.h>
#include <brook/process_function.h>

namespace brook {

/// A function over each pair of joined elements of an interval join, as Flink's
/// ProcessJoinFunction: `processElement` runs once per left element and right element of the
/// same key whose timestamps lie within the join's bounds.
template <typename IN1, typename IN2, typename OUT>
class ProcessJoinFunction : public RichFunction {
 public:
  using FirstInputType = IN1;
  using SecondInputType = IN2;
  using OutputType = OUT;

  /// The timestamps of the pair and side outputs. `timestamp()` is the later of the two
  /// timestamps: the timestamp of everything the function emits, also to side outputs.
  class Context : public internal::ContextBase {
   public:
    using ContextBase::ContextBase;
    /// The timestamp of the left (first input's) element.
    int64_t leftTimestamp() const { return left_; }
    /// The timestamp of the right (second input's) element.
    int64_t rightTimestamp() const { return right_; }

    void setTimestamps(int64_t left, int64_t right) {
      left_ = left;
      right_ = right;
      setTimestamp(std::max(left, right));
    }

   private:
    int64_t left_ = kNoTimestamp;
    int64_t right_ = kNoTimestamp;
  };

  virtual void processElement(const IN1& left, const IN2& right, Context& ctx,
                              Collector<OUT>& out) = 0;
};

}  // namespace brook
