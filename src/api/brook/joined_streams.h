#pragma once

/// Window joins and coGroup of two streams, as Flink's JoinedStreams and CoGroupedStreams:
///
///   orders.join(payments)
///       .where([](const Order& o) { return o.customer; })
///       .equalTo([](const Payment& p) { return p.customer; })
///       .window(TumblingEventTimeWindows::of(std::chrono::seconds(5)))
///       .apply([](const Order& o, const Payment& p) { return Match{o, p}; });
///
/// Both inputs are tagged (TaggedUnion), merged, keyed by the selector of their side and
/// grouped into the windows of the assigner; when a window fires, a coGroup function sees the
/// window's elements of each side (one list may be empty), a join function each pair of them
/// (an inner join: keys present on one side only produce nothing). Results carry the window's
/// max timestamp. The window operator keeps the elements of both sides in the keyed state
/// backend, so the trigger, evictor and allowed lateness work as on a WindowedStream, over
/// TaggedUnion<T1, T2> elements.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <brook/data_stream.h>
#include <brook/functions.h>
#include <brook/internal/callable_traits.h>
#include <brook/internal/operators.h>
#include <brook/serializer.h>
#include <brook/windowed_stream.h>
#include <brook/windowing.h>

namespace brook {

/// An element of either input of a coGroup or window join: one of the first input (`T1`) or
/// of the second (`T2`), as Flink's CoGroupedStreams.TaggedUnion.
template <typename T1, typename T2>
class TaggedUnion {
 public:
  TaggedUnion() = default;
  static TaggedUnion one(T1 value) {
    return TaggedUnion(std::variant<T1, T2>(std::in_place_index<0>, std::move(value)));
  }
  static TaggedUnion two(T2 value) {
    return TaggedUnion(std::variant<T1, T2>(std::in_place_index<1>, std::move(value)));
  }

  bool isOne() const { return value_.index() == 0; }
  bool isTwo() const { return value_.index() == 1; }
  const T1& getOne() const { return std::get<0>(value_); }
  const T2& getTwo() const { return std::get<1>(value_); }
  T1& getOne() { return std::get<0>(value_); }
  T2& getTwo() { return std::get<1>(value_); }

  bool operator==(const TaggedUnion&) const = default;

 private:
  explicit TaggedUnion(std::variant<T1, T2> value) : value_(std::move(value)) {}
  std::variant<T1, T2> value_;
};

/// A tag byte (1 or 2) followed by the value of that side.
template <typename T1, typename T2>
struct TypeSerializer<TaggedUnion<T1, T2>> {
  static void serialize(const TaggedUnion<T1, T2>& v, DataOutput& out) {
    if (v.isOne()) {
      out.writeRaw<uint8_t>(1);
      brook::serialize(v.getOne(), out);
    } else {
      out.writeRaw<uint8_t>(2);
      brook::serialize(v.getTwo(), out);
    }
  }
  static void deserialize(DataInput& in, TaggedUnion<T1, T2>& v) {
    const auto tag = in.readRaw<uint8_t>();
    if (tag == 1) {
      if (!v.isOne())
        v = TaggedUnion<T1, T2>::one(T1{});
      brook::deserialize(in, v.getOne());
    } else if (tag == 2) {
      if (!v.isTwo())
        v = TaggedUnion<T1, T2>::two(T2{});
      brook::deserialize(in, v.getTwo());
    } else {
      throw SerializationError("corrupt TaggedUnion tag " + std::to_string(tag) +
                               " in serialized record");
    }
  }
};

/// A function over the elements of both inputs that fall into one key and window, as Flink's
/// CoGroupFunction: either list may be empty, not both.
template <typename IN1, typename IN2, typename OUT>
class CoGroupFunction : public RichFunction {
 public:
  using FirstInputType = IN1;
  using SecondInputType = IN2;
  using OutputType = OUT;
  virtual void coGroup(const std::vector<IN1>& first, const std::vector<IN2>& second,
                       Collector<OUT>& out) = 0;
};

/// Joins one pair of elements with equal keys in the same window, as Flink's JoinFunction.
template <typename IN1, typename IN2, typename OUT>
class JoinFunction : public RichFunction {
 public:
  using FirstInputType = IN1;
  using SecondInputType = IN2;
  using OutputType = OUT;
  virtual OUT join(const IN1& first, const IN2& second) = 0;
};

/// Joins one pair of elements into zero or more results, as Flink's FlatJoinFunction.
template <typename IN1, typename IN2, typename OUT>
class FlatJoinFunction : public RichFunction {
 public:
  using FirstInputType = IN1;
  using SecondInputType = IN2;
  using OutputType = OUT;
  virtual void join(const IN1& first, const IN2& second, Collector<OUT>& out) = 0;
};

namespace internal {

/// Keys a tagged element with the key selector of its side.
template <typename T1, typename T2, typename S1, typename S2>
struct UnionKeySelector {
  using KeyType = std::remove_cvref_t<std::invoke_result_t<S1&, const T1&>>;
  S1 selector1;
  S2 selector2;
  KeyType operator()(const TaggedUnion<T1, T2>& value) {
    if (value.isOne())
      return selector1(value.getOne());
    return selector2(value.getTwo());
  }
};

/// The element type of a non-generic callable's `Collector<OUT>&` parameter at `kIndex`
/// (void when it has none there, which the callers' checks then report).
template <typename F, size_t kIndex>
auto collectorParameterOf() {
  if constexpr (requires { &F::operator(); } || std::is_function_v<std::remove_pointer_t<F>>) {
    using Args = typename CallableTraits<F>::Args;
    if constexpr (std::tuple_size_v<Args> == kIndex + 1) {
      using Parameter = std::tuple_element_t<kIndex, Args>;
      if constexpr (requires { typename CollectorElement<Parameter>::Type; }) {
        return std::type_identity<typename CollectorElement<Parameter>::Type>{};
      } else {
        return std::type_identity<void>{};
      }
    } else {
      return std::type_identity<void>{};
    }
  } else {
    return std::type_identity<void>{};
  }
}

/// The output type of a coGroup function: given (`R`), its OutputType, or the element type of
/// its `Collector<OUT>&` parameter.
template <typename R, typename F>
auto coGroupOutputOf() {
  if constexpr (!std::is_void_v<R>) {
    return std::type_identity<R>{};
  } else if constexpr (requires { typename F::OutputType; }) {
    return std::type_identity<typename F::OutputType>{};
  } else {
    return collectorParameterOf<F, 2>();
  }
}

/// Whether `F` is used as a JoinFunction (one result per pair) rather than a FlatJoinFunction.
template <typename F, typename T1, typename T2>
constexpr bool returnsJoinResult() {
  if constexpr (requires { typename F::OutputType; }) {
    return std::is_base_of_v<JoinFunction<T1, T2, typename F::OutputType>, F>;
  } else if constexpr (std::invocable<F&, const T1&, const T2&>) {
    return !std::is_void_v<std::invoke_result_t<F&, const T1&, const T2&>>;
  } else {
    return false;
  }
}

/// The output type of a join function: given (`R`), its OutputType, its result, or the element
/// type of its `Collector<OUT>&` parameter.
template <typename R, typename F, typename T1, typename T2>
auto joinOutputOf() {
  if constexpr (!std::is_void_v<R>) {
    return std::type_identity<R>{};
  } else if constexpr (requires { typename F::OutputType; }) {
    return std::type_identity<typename F::OutputType>{};
  } else if constexpr (returnsJoinResult<F, T1, T2>()) {
    return std::type_identity<std::remove_cvref_t<std::invoke_result_t<F&, const T1&, const T2&>>>{};
  } else {
    return collectorParameterOf<F, 2>();
  }
}

/// Whether `F` is a coGroup function of T1 and T2 with output OUT.
template <typename F, typename T1, typename T2, typename OUT>
constexpr bool isCoGroupFunction() {
  if constexpr (std::is_void_v<OUT>) {
    return false;
  } else {
    return std::is_base_of_v<CoGroupFunction<T1, T2, OUT>, F> ||
           std::invocable<F&, const std::vector<T1>&, const std::vector<T2>&, Collector<OUT>&>;
  }
}

/// Whether `F` is a join function of T1 and T2 with output OUT.
template <typename F, typename T1, typename T2, typename OUT>
constexpr bool isJoinFunction() {
  if constexpr (std::is_void_v<OUT>) {
    return false;
  } else {
    return std::is_base_of_v<JoinFunction<T1, T2, OUT>, F> ||
           std::is_base_of_v<FlatJoinFunction<T1, T2, OUT>, F> ||
           std::is_invocable_r_v<OUT, F&, const T1&, const T2&> ||
           std::invocable<F&, const T1&, const T2&, Collector<OUT>&>;
  }
}

/// Calls a user's coGroup function: a CoGroupFunction subclass or a callable.
template <typename F>
struct CoGroupCall {
  F fn;
  template <typename T1, typename T2, typename OUT>
  void operator()(const std::vector<T1>& first, const std::vector<T2>& second,
                  Collector<OUT>& out) {
    if constexpr (requires { fn.coGroup(first, second, out); }) {
      fn.coGroup(first, second, out);
    } else {
      fn(first, second, out);
    }
  }
};

/// Calls a user's join function on every pair of the two sides (an inner join).
template <typename F>
struct JoinCall {
  F fn;
  template <typename T1, typename T2, typename OUT>
  void operator()(const std::vector<T1>& first, const std::vector<T2>& second,
                  Collector<OUT>& out) {
    for (const T1& a : first) {
      for (const T2& b : second) {
        if constexpr (requires { fn.join(a, b, out); }) {
          fn.join(a, b, out);
        } else if constexpr (requires { fn.join(a, b); }) {
          out.collect(fn.join(a, b));
        } else if constexpr (returnsJoinResult<F, T1, T2>()) {
          out.collect(fn(a, b));
        } else {
          fn(a, b, out);
        }
      }
    }
  }
};

/// The ProcessWindowFunction behind coGroup and join, as Flink's CoGroupWindowFunction: splits a
/// fired window's elements by side and hands both lists to `Call`. The lists are reused across
/// firings.
template <typename T1, typename T2, typename OUT, typename K, typename W, typename Call>
class CoGroupWindowFunction final
    : public ProcessWindowFunction<TaggedUnion<T1, T2>, OUT, K, W> {
 public:
  using Context = typename ProcessWindowFunction<TaggedUnion<T1, T2>, OUT, K, W>::Context;

  explicit CoGroupWindowFunction(Call call) : call_(std::move(call)) {}

  void open(const RuntimeContext& context) override { openFunction(call_.fn, context); }
  void close() override { closeFunction(call_.fn); }

  void process(const K&, Context&, const std::vector<TaggedUnion<T1, T2>>& elements,
               Collector<OUT>& out) override {
    first_.clear();
    second_.clear();
    for (const TaggedUnion<T1, T2>& e : elements) {
      if (e.isOne()) {
        first_.push_back(e.getOne());
      } else {
        second_.push_back(e.getTwo());
      }
    }
    call_(first_, second_, out);
  }

 private:
  Call call_;
  std::vector<T1> first_;
  std::vector<T2> second_;
};

/// What CoGroupedStreams::WithWindow and JoinedStreams::WithWindow share: both inputs, their
/// key selectors, the assigner and the window settings; `build` adds the operators.
template <typename T1, typename T2, typename S1, typename S2, typename Assigner>
class TwoInputWindowSpec {
 public:
  using Tagged = TaggedUnion<T1, T2>;
  using KeySelector = UnionKeySelector<T1, T2, S1, S2>;
  using K = typename KeySelector::KeyType;
  using W = typename Assigner::WindowType;
  using Windowed = WindowedStream<K, Tagged, KeySelector, Assigner>;
  using Configure = std::function<Windowed(const Windowed&)>;

  TwoInputWindowSpec(DataStream<T1> input1, DataStream<T2> input2, S1 selector1, S2 selector2,
                     Assigner assigner)
      : input1_(std::move(input1)),
        input2_(std::move(input2)),
        selector_{std::move(selector1), std::move(selector2)},
        assigner_(std::move(assigner)) {}

  template <typename TR>
  void setTrigger(TR trigger) {
    trigger_ = [trigger](const Windowed& w) { return w.trigger(trigger); };
  }
  template <typename EV>
  void setEvictor(EV evictor) {
    evictor_ = [evictor](const Windowed& w) { return w.evictor(evictor); };
  }
  void setAllowedLateness(std::chrono::milliseconds lateness) { allowedLateness_ = lateness; }

  /// Tags and merges both inputs, keys and windows them, and ends them with the window
  /// function over `call`. `kind` ("CoGroup" or "Join") names the window operator and prefixes
  /// plan-time errors.
  template <typename OUT, typename Call>
  DataStream<OUT> build(const std::string& kind, Call call) const {
    if (&input1_.environment() != &input2_.environment())
      throwJobDefinitionError(kind + ": cannot combine streams of two environments");
    auto tagged1 = input1_.map([](T1 value) { return Tagged::one(std::move(value)); });
    auto tagged2 = input2_.map([](T2 value) { return Tagged::two(std::move(value)); });
    Windowed windowed = tagged1.union_(tagged2).keyBy(selector_).window(assigner_);
    if (trigger_)
      windowed = trigger_(windowed);
    if (evictor_)
      windowed = evictor_(windowed);
    if (allowedLateness_)
      windowed = windowed.allowedLateness(*allowedLateness_);
    // The window operator is named "Window(<assigner>, <trigger>, Join)" (or CoGroup), in its
    // plan-time errors too.
    std::optional<DataStream<OUT>> result;
    try {
      result.emplace(windowed.process(
          CoGroupWindowFunction<T1, T2, OUT, K, W, Call>(std::move(call))));
    } catch (const JobDefinitionError& e) {
      throwJobDefinitionError(renamed(e.what(), kind));
    }
    const std::string& name = result->environment().streamGraph().nodes.at(result->id()).name;
    result->name(renamed(name, kind));
    return *result;
  }

 private:
  /// `text` with the window operator's function kind "Process" replaced by `kind`.
  static std::string renamed(std::string text, const std::string& kind) {
    static constexpr std::string_view kProcess = ", Process)";
    if (size_t at = text.find(kProcess); at != std::string::npos)
      text.replace(at, kProcess.size(), ", " + kind + ")");
    return text;
  }

  DataStream<T1> input1_;
  DataStream<T2> input2_;
  KeySelector selector_;
  Assigner assigner_;
  Configure trigger_;
  Configure evictor_;
  std::optional<std::chrono::milliseconds> allowedLateness_;
};

template <typename T1, typename T2, typename S1, typename S2>
constexpr void checkJoinKeys() {
  static_assert(std::invocable<S1&, const T1&>,
                "Brook: where() takes a key selector of the first input's elements");
  static_assert(std::invocable<S2&, const T2&>,
                "Brook: equalTo() takes a key selector of the second input's elements");
  static_assert(std::is_same_v<std::remove_cvref_t<std::invoke_result_t<S1&, const T1&>>,
                               std::remove_cvref_t<std::invoke_result_t<S2&, const T2&>>>,
                "Brook: the key selectors of where() and equalTo() must return the same key "
                "type");
  static_assert(
      requireSerializer<std::remove_cvref_t<std::invoke_result_t<S1&, const T1&>>>());
}

}  // namespace internal

namespace internal {

/// What coGroup and join share after `window`: the spec and the trigger, evictor and
/// allowed-lateness settings, each returning the configured stream (`Derived`) again.
template <typename Derived, typename Spec>
class TwoInputWindowSettings {
 public:
  explicit TwoInputWindowSettings(Spec spec) : spec_(std::move(spec)) {}

  /// Replaces the assigner's default trigger: a built-in trigger or a
  /// Trigger<TaggedUnion<T1, T2>, W> subclass.
  template <typename TR>
  Derived trigger(TR trigger) const {
    Derived result = static_cast<const Derived&>(*this);
    result.spec_.setTrigger(std::move(trigger));
    return result;
  }
  /// Evicts elements of either side before and/or after the function: a built-in evictor or
  /// an Evictor<TaggedUnion<T1, T2>, W> subclass.
  template <typename EV>
  Derived evictor(EV evictor) const {
    Derived result = static_cast<const Derived&>(*this);
    result.spec_.setEvictor(std::move(evictor));
    return result;
  }
  /// How long after a window's end its elements are kept: a late element within it fires the
  /// window again with both sides.
  Derived allowedLateness(std::chrono::milliseconds lateness) const {
    Derived result = static_cast<const Derived&>(*this);
    result.spec_.setAllowedLateness(lateness);
    return result;
  }

 protected:
  Spec spec_;
};

/// The `where(key1).equalTo(key2).window(assigner)` chain of coGroup and join; `window` returns
/// `Kind::Windowed<S1, S2, Assigner>`, the stream that `apply` ends.
template <typename T1, typename T2, typename Kind>
class TwoInputKeySelection {
 public:
  TwoInputKeySelection(DataStream<T1> input1, DataStream<T2> input2)
      : input1_(std::move(input1)), input2_(std::move(input2)) {}

  template <typename S1>
  class Where {
   public:
    Where(DataStream<T1> input1, DataStream<T2> input2, S1 selector1)
        : input1_(std::move(input1)), input2_(std::move(input2)), selector1_(std::move(selector1)) {}

    template <typename S2>
    class EqualTo {
     public:
      EqualTo(DataStream<T1> input1, DataStream<T2> input2, S1 selector1, S2 selector2)
          : input1_(std::move(input1)),
            input2_(std::move(input2)),
            selector1_(std::move(selector1)),
            selector2_(std::move(selector2)) {}

      /// Groups both inputs into the windows of `assigner` (TumblingEventTimeWindows,
      /// SlidingEventTimeWindows, ...).
      template <typename Assigner>
      auto window(Assigner assigner) const {
        static_assert(WindowAssignerType<Assigner>,
                      "Brook: window() takes a window assigner such as "
                      "TumblingEventTimeWindows::of(...)");
        using Windowed = typename Kind::template Windowed<S1, S2, Assigner>;
        return Windowed(TwoInputWindowSpec<T1, T2, S1, S2, Assigner>(
            input1_, input2_, selector1_, selector2_, std::move(assigner)));
      }

     private:
      DataStream<T1> input1_;
      DataStream<T2> input2_;
      S1 selector1_;
      S2 selector2_;
    };

    /// The key selector of the second input; it must return the same key type as where's.
    template <typename S2>
    EqualTo<S2> equalTo(S2 selector2) const {
      checkJoinKeys<T1, T2, S1, S2>();
      return EqualTo<S2>(input1_, input2_, selector1_, std::move(selector2));
    }

   private:
    DataStream<T1> input1_;
    DataStream<T2> input2_;
    S1 selector1_;
  };

  /// The key selector of the first input.
  template <typename S1>
  requires std::invocable<S1&, const T1&>
  Where<S1> where(S1 selector1) const {
    return Where<S1>(input1_, input2_, std::move(selector1));
  }

 private:
  DataStream<T1> input1_;
  DataStream<T2> input2_;
};

/// A coGroup with its key selectors and window assigner, ended by `apply`.
template <typename T1, typename T2, typename S1, typename S2, typename Assigner>
class CoGroupWindowedStreams
    : public TwoInputWindowSettings<CoGroupWindowedStreams<T1, T2, S1, S2, Assigner>,
                                    TwoInputWindowSpec<T1, T2, S1, S2, Assigner>> {
 public:
  using TwoInputWindowSettings<CoGroupWindowedStreams,
                               TwoInputWindowSpec<T1, T2, S1, S2, Assigner>>::TwoInputWindowSettings;

  /// Ends the coGroup with `fn`, called once per key and fired window with the window's
  /// elements of each side in arrival order. OUT is deduced from a CoGroupFunction subclass or
  /// a non-generic callable's Collector parameter, or given: `apply<std::string>(fn)`.
  template <typename R = void, typename F>
  auto apply(F fn) const {
    using OUT = typename decltype(coGroupOutputOf<R, F>())::type;
    static_assert(
        isCoGroupFunction<F, T1, T2, OUT>(),
        "Brook: coGroup's apply() takes a CoGroupFunction<T1, T2, OUT> subclass or a callable "
        "void(const std::vector<T1>&, const std::vector<T2>&, Collector<OUT>&); a generic "
        "callable needs its output type given: apply<OUT>(fn)");
    if constexpr (isCoGroupFunction<F, T1, T2, OUT>())
      return this->spec_.template build<OUT>("CoGroup", CoGroupCall<F>{std::move(fn)});
  }
};

/// A join with its key selectors and window assigner, ended by `apply`.
template <typename T1, typename T2, typename S1, typename S2, typename Assigner>
class JoinWindowedStreams
    : public TwoInputWindowSettings<JoinWindowedStreams<T1, T2, S1, S2, Assigner>,
                                    TwoInputWindowSpec<T1, T2, S1, S2, Assigner>> {
 public:
  using TwoInputWindowSettings<JoinWindowedStreams,
                               TwoInputWindowSpec<T1, T2, S1, S2, Assigner>>::TwoInputWindowSettings;

  /// Ends the join with `fn`, called for each pair of a fired window's elements of the two
  /// sides. OUT is deduced from a function class, a callable's result or its Collector
  /// parameter, or given: `apply<std::string>(fn)`.
  template <typename R = void, typename F>
  auto apply(F fn) const {
    using OUT = typename decltype(joinOutputOf<R, F, T1, T2>())::type;
    static_assert(isJoinFunction<F, T1, T2, OUT>(),
                  "Brook: join's apply() takes a JoinFunction<T1, T2, OUT> or "
                  "FlatJoinFunction<T1, T2, OUT> subclass, or a callable OUT(const T1&, const "
                  "T2&) or void(const T1&, const T2&, Collector<OUT>&); a generic callable needs "
                  "its output type given: apply<OUT>(fn)");
    if constexpr (isJoinFunction<F, T1, T2, OUT>())
      return this->spec_.template build<OUT>("Join", JoinCall<F>{std::move(fn)});
  }
};

template <typename T1, typename T2>
struct CoGroupKind {
  template <typename S1, typename S2, typename Assigner>
  using Windowed = CoGroupWindowedStreams<T1, T2, S1, S2, Assigner>;
};
template <typename T1, typename T2>
struct JoinKind {
  template <typename S1, typename S2, typename Assigner>
  using Windowed = JoinWindowedStreams<T1, T2, S1, S2, Assigner>;
};

}  // namespace internal

/// Two streams to be grouped by key and window, as Flink's CoGroupedStreams:
/// `first.coGroup(second).where(key1).equalTo(key2).window(assigner).apply(fn)`, where `fn` is a
/// CoGroupFunction<T1, T2, OUT> subclass or a callable
/// `void(const std::vector<T1>&, const std::vector<T2>&, Collector<OUT>&)`. After `window` it
/// is configured like a WindowedStream (trigger, evictor, allowed lateness over
/// TaggedUnion<T1, T2> elements).
template <typename T1, typename T2>
class CoGroupedStreams
    : public internal::TwoInputKeySelection<T1, T2, internal::CoGroupKind<T1, T2>> {
 public:
  using internal::TwoInputKeySelection<T1, T2, internal::CoGroupKind<T1, T2>>::TwoInputKeySelection;
};

/// Two streams to be joined by key and window, as Flink's JoinedStreams:
/// `first.join(second).where(key1).equalTo(key2).window(assigner).apply(fn)` calls `fn` on
/// every pair of elements with equal keys in the same window (an inner join). `fn` is a
/// JoinFunction<T1, T2, OUT> or FlatJoinFunction<T1, T2, OUT> subclass, a callable
/// `OUT(const T1&, const T2&)`, or a callable `void(const T1&, const T2&, Collector<OUT>&)`.
template <typename T1, typename T2>
class JoinedStreams : public internal::TwoInputKeySelection<T1, T2, internal::JoinKind<T1, T2>> {
 public:
  using internal::TwoInputKeySelection<T1, T2, internal::JoinKind<T1, T2>>::TwoInputKeySelection;
};

template <typename T>
template <typename T2>
CoGroupedStreams<T, T2> DataStream<T>::coGroup(const DataStream<T2>& other) const {
  return CoGroupedStreams<T, T2>(*this, other);
}

template <typename T>
template <typename T2>
JoinedStreams<T, T2> DataStream<T>::join(const DataStream<T2>& other) const {
  return JoinedStreams<T, T2>(*this, other);
}

}  // namespace brook
