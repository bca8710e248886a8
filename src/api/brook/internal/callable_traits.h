#pragma once

#include <tuple>
#include <type_traits>
#include <utility>

#include <brook/functions.h>

namespace brook::internal {

/// The parameter list of a non-generic callable: a function, a function pointer, or a class
/// with one non-template call operator.
template <typename F>
struct CallableTraits : CallableTraits<decltype(&std::remove_cvref_t<F>::operator())> {};

template <typename R, typename... A>
struct CallableTraits<R (*)(A...)> {
  using Args = std::tuple<A...>;
};
template <typename R, typename... A>
struct CallableTraits<R(A...)> : CallableTraits<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct CallableTraits<R (C::*)(A...)> : CallableTraits<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct CallableTraits<R (C::*)(A...) const> : CallableTraits<R (*)(A...)> {};

template <typename C>
struct CollectorElement;
template <typename T>
struct CollectorElement<Collector<T>&> {
  using Type = T;
};

/// The record type a flatMap function emits, from its `Collector<R>&` parameter.
template <typename F, typename = void>
struct FlatMapOutput {
  using Type =
      typename CollectorElement<std::tuple_element_t<1, typename CallableTraits<F>::Args>>::Type;
};
template <typename F>
struct FlatMapOutput<F, std::void_t<decltype(&F::flatMap)>> {
  using Type = typename CollectorElement<
      std::tuple_element_t<1, typename CallableTraits<decltype(&F::flatMap)>::Args>>::Type;
};

/// The record type a map function returns: `fn.map(v)` for rich functions, else `fn(v)`.
template <typename F, typename T, typename = void>
struct MapOutput {
  using Type = std::invoke_result_t<F&, T>;
};
template <typename F, typename T>
struct MapOutput<F, T, std::void_t<decltype(std::declval<F&>().map(std::declval<T>()))>> {
  using Type = decltype(std::declval<F&>().map(std::declval<T>()));
};

}  // namespace brook::internal
