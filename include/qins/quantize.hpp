// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// N-bit codes: quantize / dequantize of z, and the fused weight <-> code paths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "code_format.hpp"
#include "detail/dispatch.hpp"
#include "detail/validate.hpp"
#include "error.hpp"

namespace qins {

namespace detail {

template <class Code, class T>
inline void check_codec_types() {
  require_floating<T>();
  static_assert(is_code_type_v<Code>, "Code must have a qins::CodeTraits specialisation");
}

template <class Code>
inline std::byte* code_bytes(Code* codes) noexcept {
  return reinterpret_cast<std::byte*>(codes);
}
template <class Code>
inline const std::byte* code_bytes(const Code* codes) noexcept {
  return reinterpret_cast<const std::byte*>(codes);
}

template <class T>
inline void check_z_range(const T* z, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!(z[i] >= T(-1) && z[i] <= T(1)))  // also false for NaN
      throw Error(ErrorKind::invalid_argument, "encoded value must lie in [-1, 1]", {}, Error::npos,
                  i);
}

template <class T>
inline void check_finite(const T* x, std::size_t n, const Where& where) {
  std::size_t bad = with_kernels<T>([&](auto k) { return k.find_non_finite(x, n); });
  if (bad != n) throw_non_finite(x[bad], bad, where);
}

}  // namespace detail

// The functions below take codes as C++ elements (std::uint8_t, std::uint16_t): Code is
// the element type, CodeTraits<Code>::Format its descriptor (qins/code_format.hpp).

/// code = clamp(round((z + 1) M / 2), 0, M), rounding to nearest with ties to even in
/// the precision of T. @throws qins::Error unless -1 <= z <= 1.
template <class Code, class T>
Code quantize(T z) {
  detail::check_codec_types<Code, T>();
  detail::check_z_range(&z, 1);
  return static_cast<Code>(detail::scalar::quantize_ref<format_of_t<Code>>(z));
}

/// z' = code * 2 / M - 1.
template <class Code, class T = float>
T dequantize(Code code) noexcept {
  detail::check_codec_types<Code, T>();
  return detail::scalar::dequantize_ref<format_of_t<Code>, T>(code);
}

/// Quantizes n values of z (each in [-1, 1]) to codes.
/// @throws qins::Error naming the first column outside [-1, 1] (or NaN); nothing is
///         written then.
template <class Code, class T>
void quantize(const T* z, Code* codes, std::size_t n) {
  detail::check_codec_types<Code, T>();
  detail::check_pointers(z, codes, n);
  detail::check_z_range(z, n);
  detail::with_kernels<T>(
      [&](auto k) { k.template quantize<format_of_t<Code>>(z, detail::code_bytes(codes), 0, n); });
}

/// Dequantizes n codes to z'.
template <class Code, class T>
void dequantize(const Code* codes, T* z, std::size_t n) {
  detail::check_codec_types<Code, T>();
  detail::check_pointers(codes, z, n);
  detail::with_kernels<T>([&](auto k) {
    k.template dequantize<format_of_t<Code>>(detail::code_bytes(codes), 0, z, n);
  });
}

/// Fused encode + quantize of one weight: the code of quantize(encode(x, alpha)), except
/// that saturation never moves a weight to the other sign's half of the codes (a
/// negative x whose z rounds to -0 keeps code (M - 1) / 2). Zeros give code M.
/// @throws qins::Error if x is not finite or alpha is not valid for this code type.
template <class Code, class T>
Code encode_quantize(T x, T alpha) {
  detail::check_codec_types<Code, T>();
  detail::check_alpha_for_codes<Code>(alpha);
  if (!detail::is_finite_bits(x)) detail::throw_non_finite(x, 0, {});
  return static_cast<Code>(detail::scalar::encode_quantize_ref<format_of_t<Code>>(x, alpha));
}

/// Fused dequantize + decode of one code, by the closed form
/// x' = ((M/2 - |d|) / d) * (1 / alpha) with d = code - M/2; codes 0 and M give 0.
template <class Code, class T>
T dequantize_decode(Code code, T alpha) {
  detail::check_codec_types<Code, T>();
  detail::check_alpha_for_codes<Code>(alpha);
  return detail::scalar::dequantize_decode_ref<format_of_t<Code>>(code, T(1) / alpha);
}

/// Fused encode + quantize of n weights with one alpha (weights -> codes).
/// @throws qins::Error naming the first non-finite weight, or for an invalid alpha;
///         nothing is written then.
template <class Code, class T>
void encode_quantize(const T* x, Code* codes, std::size_t n, T alpha) {
  detail::check_codec_types<Code, T>();
  detail::check_alpha_for_codes<Code>(alpha);
  detail::check_pointers(x, codes, n);
  detail::check_finite(x, n, {});
  detail::with_kernels<T>([&](auto k) {
    k.template encode_quantize<format_of_t<Code>>(x, detail::code_bytes(codes), 0, n, alpha);
  });
}

/// Fused dequantize + decode of n codes with one alpha (codes -> weights).
/// @throws qins::Error for an invalid alpha.
template <class Code, class T>
void dequantize_decode(const Code* codes, T* x, std::size_t n, T alpha) {
  detail::check_codec_types<Code, T>();
  detail::check_alpha_for_codes<Code>(alpha);
  detail::check_pointers(codes, x, n);
  const T inv_alpha = T(1) / alpha;
  detail::with_kernels<T>([&](auto k) {
    k.template dequantize_decode<format_of_t<Code>>(detail::code_bytes(codes), 0, x, n, inv_alpha);
  });
}

/// Sum of squared reconstruction errors of n weights quantized with alpha: each error
/// scaled by a power of two from max |x| (so no square under- or overflows), squares and
/// sums over blocks of 256 weights in T, the total in double and unscaled (relative
/// error about 1e-6 for float). The same value on every path (fixed summation order).
/// Code is an element type or a descriptor. @throws qins::Error as encode_quantize.
template <class Code, class T>
double quantization_squared_error(const T* x, std::size_t n, T alpha) {
  detail::require_floating<T>();
  detail::check_alpha_for_codes<Code>(alpha);
  detail::check_pointers(x, x, n);
  detail::check_finite(x, n, {});
  const T inv_alpha = T(1) / alpha;
  return detail::with_kernels<T>([&](auto k) {
    const T scale = detail::scalar::squared_error_scale(k.max_abs(x, n));
    const double s = static_cast<double>(scale);
    return k.template quantization_squared_error<format_of_t<Code>>(x, n, alpha, inv_alpha, scale) /
           (s * s);
  });
}

}  // namespace qins
