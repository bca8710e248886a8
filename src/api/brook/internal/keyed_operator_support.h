#pragma once

/// What every keyed operator does around its user function: turn a record's key into the state
/// backend's current key, and run the timer service.

#include <memory>
#include <stdexcept>
#include <utility>

#include <brook/functions.h>
#include <brook/internal/keyed_state_backend.h>
#include <brook/internal/operators.h>
#include <brook/internal/timer_service.h>
#include <brook/serializer.h>

namespace brook::internal {

template <typename K>
class KeyedOperatorSupport {
 public:
  /// Takes the backend the runtime created and starts the timer service; `onTimer` runs for
  /// each due timer with the timer's key current.
  void open(const RuntimeContext& context, InternalTimerService::Callback onTimer) {
    backend_ = context.keyedStateBackend;
    if (backend_ == nullptr)
      throw std::logic_error("keyed operator '" + context.operatorName + "' has no state backend");
    timers_ = std::make_unique<InternalTimerService>(backend_, context.processingTimeService,
                                                     std::move(onTimer));
  }

  /// Makes `key` the current key; returns the typed copy that contexts expose.
  const K& setCurrentKey(K key) {
    key_ = std::move(key);
    keyBytes_.clear();
    brook::serialize(key_, keyBytes_);
    backend_->setCurrentKey(keyBytes_.view());
    return key_;
  }
  /// The typed key of a firing timer (the backend's current key is already the timer's).
  const K& keyOf(const InternalTimer& timer) {
    decodeInto(timer.key, key_);
    return key_;
  }

  /// Readies an OnTimerContext and the collector for a firing timer: the timer's key, time and
  /// domain. Records emitted by an event-time timer carry its time; by a processing-time one,
  /// none.
  template <typename Context, typename OUT>
  void prepareTimer(const InternalTimer& timer,
                    TimeDomain domain,
                    Context& ctx,
                    TimestampedCollector<OUT>& collector,
                    Output<OUT>* out) {
    const K& key = keyOf(timer);
    collector.reset(out, domain == TimeDomain::kEventTime ? timer.timestamp : kNoTimestamp);
    ctx.set(timer.timestamp, &key);
    ctx.setTimeDomain(domain);
  }

  InternalTimerService& timers() { return *timers_; }
  KeyedStateBackend& backend() { return *backend_; }

 private:
  KeyedStateBackend* backend_ = nullptr;
  std::unique_ptr<InternalTimerService> timers_;
  K key_{};
  DataOutput keyBytes_;
};

}  // namespace brook::internal
