#pragma once

#include <cstdint>
#include <stdexcept>
#include <typeinfo>

#include <brook/functions.h>
#include <brook/operator.h>

namespace brook {

/// A function over each element with access to its timestamp, the current watermark and side
/// outputs, as Flink's ProcessFunction.
template <typename IN, typename OUT>
class ProcessFunction : public RichFunction {
 public:
  using InputType = IN;
  using OutputType = OUT;

  /// What `processElement` may read and where it may emit besides the main output.
  class Context {
   public:
    Context(const StreamOperator* op, const int64_t* watermark) : op_(op), watermark_(watermark) {}

    /// The element's timestamp, or kNoTimestamp.
    int64_t timestamp() const { return timestamp_; }
    int64_t currentWatermark() const { return *watermark_; }

    /// Emits to the side output named by `tag`; dropped when nothing consumes that output.
    template <typename X>
    void output(const OutputTag<X>& tag, X value) {
      OutputBase* out = op_->sideOutput(tag.id());
      if (out == nullptr)
        return;
      if (out->recordType() != typeid(X)) {
        throw std::logic_error("side output '" + tag.id() + "' is used with two record types");
      }
      static_cast<Output<X>*>(out)->push(std::move(value), timestamp_);
    }

    void setTimestamp(int64_t timestamp) { timestamp_ = timestamp; }

   private:
    const StreamOperator* op_;
    const int64_t* watermark_;
    int64_t timestamp_ = kNoTimestamp;
  };

  virtual void processElement(const IN& value, Context& ctx, Collector<OUT>& out) = 0;
};

}  // namespace brook
