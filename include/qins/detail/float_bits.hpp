// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Finiteness tests by bit pattern, so they keep working under a consumer's -ffast-math.
// IWYU pragma: private
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace qins::detail {

template <class T>
struct FloatBits;
template <>
struct FloatBits<float> {
  using Uint = std::uint32_t;
  static constexpr Uint exponent_mask = 0x7f800000u;
  static constexpr Uint mantissa_mask = 0x007fffffu;
};
template <>
struct FloatBits<double> {
  using Uint = std::uint64_t;
  static constexpr Uint exponent_mask = 0x7ff0000000000000ull;
  static constexpr Uint mantissa_mask = 0x000fffffffffffffull;
};

/// False for NaN and +-infinity: all exponent bits set.
template <class T>
inline bool is_finite_bits(T x) noexcept {
  typename FloatBits<T>::Uint u;
  std::memcpy(&u, &x, sizeof u);
  return (u & FloatBits<T>::exponent_mask) != FloatBits<T>::exponent_mask;
}

/// True for NaN only: all exponent bits set and a non-zero mantissa.
template <class T>
inline bool is_nan_bits(T x) noexcept {
  typename FloatBits<T>::Uint u;
  std::memcpy(&u, &x, sizeof u);
  return (u & FloatBits<T>::exponent_mask) == FloatBits<T>::exponent_mask &&
         (u & FloatBits<T>::mantissa_mask) != 0;
}

}  // namespace qins::detail
