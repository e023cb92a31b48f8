// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// CodeTraits: what the kernels need to know about an N-bit code type.
#pragma once

#include <cstdint>
#include <type_traits>

namespace qins {

/// Properties of a code type. `max_code` is M = 2^bits - 1; it is odd, so the middle
/// M/2 is never a code and the closed-form decode never divides by zero.
///
/// A new width (for example 12-bit codes packed two per three bytes) is added by a new
/// specialisation plus its load/store of codes; the arithmetic of every kernel is
/// written once in terms of M.
template <class Code>
struct CodeTraits;

template <>
struct CodeTraits<std::uint8_t> {
  static constexpr unsigned bits = 8;
  static constexpr std::uint32_t max_code = 255;
  static constexpr const char* name = "uint8";
};

template <>
struct CodeTraits<std::uint16_t> {
  static constexpr unsigned bits = 16;
  static constexpr std::uint32_t max_code = 65535;
  static constexpr const char* name = "uint16";
};

/// True for the code types the library implements.
template <class Code, class = void>
struct is_code_type : std::false_type {};
template <class Code>
struct is_code_type<Code, std::void_t<decltype(CodeTraits<Code>::max_code)>> : std::true_type {};
template <class Code>
inline constexpr bool is_code_type_v = is_code_type<Code>::value;

/// The code that every zero weight (+0 and -0) gets: M, which decodes to exactly +0.
template <class Code>
constexpr Code zero_code() noexcept {
  return static_cast<Code>(CodeTraits<Code>::max_code);
}

/// The largest magnitude a code can decode to, times alpha: M - 1 (254 for uint8).
template <class Code>
constexpr double max_decoded_magnitude_times_alpha() noexcept {
  return static_cast<double>(CodeTraits<Code>::max_code) - 1.0;
}

}  // namespace qins
