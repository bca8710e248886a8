#pragma once

/// How print and text-file sinks write a record as text: strings as they are, numbers in their
/// shortest form, pairs and tuples as "(a,b)" like Flink's tuples, vectors as "[a, b]", and any
/// other type through its `operator<<`.

#include <charconv>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace brook {

template <typename T>
void appendText(std::string& out, const T& value);

namespace internal {
template <typename T>
struct TextFormatter {
  static void append(std::string& out, const T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      out += value ? "true" : "false";
    } else if constexpr (std::is_same_v<T, char>) {
      out += value;
    } else if constexpr (std::is_arithmetic_v<T>) {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
      out.append(buf, end);
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      out += std::string_view(value);
    } else {
      std::ostringstream os;
      os << value;
      out += os.str();
    }
  }
};
template <typename A, typename B>
struct TextFormatter<std::pair<A, B>> {
  static void append(std::string& out, const std::pair<A, B>& v) {
    out += '(';
    appendText(out, v.first);
    out += ',';
    appendText(out, v.second);
    out += ')';
  }
};
template <typename... Ts>
struct TextFormatter<std::tuple<Ts...>> {
  static void append(std::string& out, const std::tuple<Ts...>& v) {
    out += '(';
    std::apply(
        [&](const auto&... e) {
          size_t i = 0;
          ((out += (i++ == 0 ? "" : ","), appendText(out, e)), ...);
        },
        v);
    out += ')';
  }
};
template <typename T>
struct TextFormatter<std::vector<T>> {
  static void append(std::string& out, const std::vector<T>& v) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0)
        out += ", ";
      appendText(out, v[i]);
    }
    out += ']';
  }
};
template <typename T>
struct TextFormatter<std::optional<T>> {
  static void append(std::string& out, const std::optional<T>& v) {
    if (v) {
      appendText(out, *v);
    } else {
      out += "null";
    }
  }
};
}  // namespace internal

template <typename T>
void appendText(std::string& out, const T& value) {
  internal::TextFormatter<T>::append(out, value);
}

template <typename T>
std::string toText(const T& value) {
  std::string out;
  appendText(out, value);
  return out;
}

}  // namespace brook
