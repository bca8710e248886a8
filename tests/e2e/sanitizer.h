#pragma once

// Whether the test binary runs under AddressSanitizer, for acceptance tests that shrink their
// size there because it is several times slower.

namespace brook::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace brook::testing
