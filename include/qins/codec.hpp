// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// encode / decode in the float domain: z = sign(x) / (1 + alpha |x|) and its inverse.
#pragma once

#include <cstddef>
#include <string>

#include "detail/dispatch.hpp"
#include "detail/validate.hpp"
#include "error.hpp"

#if __cplusplus >= 202002L
#include <iterator>
#include <ranges>
#endif

namespace qins {

/// Encodes one weight: z = s / (1 + alpha |x|) with s = -1 for x < 0, else +1 (so +0 and
/// -0 both give z = 1). z lies in [-1, -0) or (0, 1].
/// @throws qins::Error if x is NaN or infinite, alpha is not finite and > 0, or
///         alpha |x| overflows (z would be 0, which has no inverse).
template <class T>
T encode(T x, T alpha) {
  detail::require_floating<T>();
  detail::check_alpha(alpha);
  if (!detail::is_finite_bits(x)) detail::throw_non_finite(x, 0, {});
  T z = detail::scalar::encode_ref(x, alpha);
  if (z == T(0)) throw Error(ErrorKind::invalid_argument, "alpha * |x| overflows");
  return z;
}

/// Decodes one value: x = sign(z) (1 - |z|) / (alpha |z|), the exact inverse of encode.
/// @throws qins::Error unless 0 < |z| <= 1, alpha is finite and > 0, and x is finite.
template <class T>
T decode(T z, T alpha) {
  detail::require_floating<T>();
  detail::check_alpha(alpha);
  if (!(std::fabs(z) > T(0) && std::fabs(z) <= T(1)) || !detail::is_finite_bits(z))
    throw Error(ErrorKind::invalid_argument, "encoded value must satisfy 0 < |z| <= 1", {},
                Error::npos, 0);
  const T x = detail::scalar::decode_ref(z, alpha);
  if (!detail::is_finite_bits(x))
    throw Error(ErrorKind::invalid_argument, "decoded value overflows", {}, Error::npos, 0);
  return x;
}

/// Encodes n weights from x into z (the buffers may be the same; no alignment needed).
/// Uses the active SIMD path for float; results equal the scalar reference bit for bit.
/// @throws qins::Error as the single-value encode, with the offending column; z is
///         unspecified after a throw.
template <class T>
void encode(const T* x, T* z, std::size_t n, T alpha) {
  detail::require_floating<T>();
  detail::check_alpha(alpha);
  detail::check_pointers(x, z, n);
  std::size_t bad = detail::with_kernels<T>([&](auto k) { return k.find_non_finite(x, n); });
  if (bad != n) detail::throw_non_finite(x[bad], bad, {});
  detail::with_kernels<T>([&](auto k) { k.encode(x, z, n, alpha); });
  for (std::size_t i = 0; i < n; ++i)
    if (z[i] == T(0))
      throw Error(ErrorKind::invalid_argument, "alpha * |x| overflows", {}, Error::npos, i);
}

/// Decodes n values from z into x (the buffers may be the same).
/// @throws qins::Error unless every 0 < |z| <= 1 (names the first bad column) and alpha
///         is finite and > 0, nothing written then; or if a decoded value overflows
///         (x is unspecified then).
template <class T>
void decode(const T* z, T* x, std::size_t n, T alpha) {
  detail::require_floating<T>();
  detail::check_alpha(alpha);
  detail::check_pointers(z, x, n);
  for (std::size_t i = 0; i < n; ++i)
    if (!(std::fabs(z[i]) > T(0) && std::fabs(z[i]) <= T(1)) || !detail::is_finite_bits(z[i]))
      throw Error(ErrorKind::invalid_argument, "encoded value must satisfy 0 < |z| <= 1", {},
                  Error::npos, i);
  detail::with_kernels<T>([&](auto k) { k.decode(z, x, n, alpha); });
  // A tiny |z| with a small alpha decodes beyond the range of T.
  std::size_t bad = detail::with_kernels<T>([&](auto k) { return k.find_non_finite(x, n); });
  if (bad != n)
    throw Error(ErrorKind::invalid_argument, "decoded value overflows", {}, Error::npos, bad);
}

#if __cplusplus >= 202002L
/// A contiguous range of float or double (std::span, std::vector, std::array, ...).
template <class R>
concept FloatRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
    (std::is_same_v<std::remove_cv_t<std::ranges::range_value_t<R>>, float> ||
     std::is_same_v<std::remove_cv_t<std::ranges::range_value_t<R>>, double>);

namespace detail {
template <class In, class Out>
inline void check_same_size(const In& in, const Out& out) {
  if (std::ranges::size(in) != std::ranges::size(out))
    throw Error(ErrorKind::size_mismatch, "input has " + std::to_string(std::ranges::size(in)) +
                                              " elements but output has " +
                                              std::to_string(std::ranges::size(out)));
}
}  // namespace detail

/// Range form of encode: x and z must have the same size.
template <FloatRange In, FloatRange Out>
void encode(const In& x, Out&& z, std::ranges::range_value_t<In> alpha) {
  detail::check_same_size(x, z);
  encode(std::ranges::data(x), std::ranges::data(z), std::ranges::size(x), alpha);
}

/// Range form of decode: z and x must have the same size.
template <FloatRange In, FloatRange Out>
void decode(const In& z, Out&& x, std::ranges::range_value_t<In> alpha) {
  detail::check_same_size(z, x);
  decode(std::ranges::data(z), std::ranges::data(x), std::ranges::size(z), alpha);
}
#endif

}  // namespace qins
