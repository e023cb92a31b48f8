// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Calibration: the alpha that minimises the squared error of quantized weights.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include "code_traits.hpp"
#include "detail/dispatch.hpp"
#include "detail/validate.hpp"
#include "quantize.hpp"

namespace qins {

/// The range calibration keeps alpha in: alpha >= M / max(T) keeps every decoded weight
/// finite (the largest is (M - 1) / alpha) and alpha <= 1 / that keeps 1 / alpha a
/// normal number. Weights below about 1 / (M alpha_max) can only decode to zero.
template <class Code, class T>
constexpr T min_alpha() noexcept {
  return T(CodeTraits<Code>::max_code) / std::numeric_limits<T>::max();
}
template <class Code, class T>
constexpr T max_alpha() noexcept {
  return T(1) / min_alpha<Code, T>();
}

namespace detail {

/// Initial guess for b = alpha * max|x|. In the high-resolution limit the code step at
/// y = alpha |x| is about (1 + y)^2 / (M/2), so the squared error is proportional to
/// f(b) = sum (1 + b y_i)^4 / b^2 with y_i = |x_i| / max|x| (M drops out). f'(b) = 0 is
/// g(b) = 2 S4 b^5 + 4 S3 b^4 - 4 S1 b - 2 n = 0 (S_k = sum y^k): g(0) < 0 and g is
/// convex for b > 0, so it has one positive root, found by bisection in log2(b).
/// Explicit fma keeps the result independent of the compiler's contraction.
template <class T>
inline double initial_scaled_alpha(const T* x, std::size_t n, double max_abs) {
  const double inv_max = 1.0 / max_abs;
  double s1 = 0, s3 = 0, s4 = 0;  // S2 drops out of f'(b)
  for (std::size_t i = 0; i < n; ++i) {
    double y = std::fabs(static_cast<double>(x[i])) * inv_max;
    double y2 = y * y;
    s1 += y;
    s3 = std::fma(y2, y, s3);
    s4 = std::fma(y2, y2, s4);
  }
  const double count = static_cast<double>(n);
  auto g = [&](double b) {
    double b4 = (b * b) * (b * b);
    return std::fma(2.0 * s4, b4 * b, std::fma(4.0 * s3, b4, std::fma(-4.0 * s1, b, -2.0 * count)));
  };
  double lo = -12.0, hi = 24.0;  // log2(b): b from 2^-12 to 2^24
  for (int it = 0; it < 48; ++it) {
    double mid = 0.5 * (lo + hi);
    if (g(std::exp2(mid)) < 0) lo = mid;
    else hi = mid;
  }
  return std::exp2(0.5 * (lo + hi));
}

template <class Code, class T>
inline T clamp_alpha(double alpha) noexcept {
  const double lo = static_cast<double>(min_alpha<Code, T>());
  const double hi = static_cast<double>(max_alpha<Code, T>());
  return static_cast<T>(alpha < lo ? lo : (alpha > hi ? hi : alpha));
}

/// Calibration of weights already checked to be finite. See qins::calibrate_alpha.
template <class Code, class T, class Kernels>
T calibrate_alpha_unchecked(const T* x, std::size_t n, Kernels k) {
  double max_abs = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double a = std::fabs(static_cast<double>(x[i]));
    max_abs = a > max_abs ? a : max_abs;
  }
  if (max_abs == 0) return T(1);  // all zeros: any alpha reconstructs them exactly

  auto error_at = [&](double log_alpha) {
    T alpha = clamp_alpha<Code, T>(std::exp(log_alpha));
    return k.template quantization_squared_error<Code>(x, n, alpha, T(1) / alpha);
  };
  // Golden-section search of the error in log(alpha) around the initial guess. The
  // error is piecewise smooth in alpha (codes jump), so the search keeps the best point
  // it has seen rather than trusting the final bracket.
  const double guess = std::log(static_cast<double>(
      clamp_alpha<Code, T>(initial_scaled_alpha(x, n, max_abs) / max_abs)));
  constexpr double kHalfWidth = 1.1;     // bracket: guess / 3 to guess * 3
  constexpr int kIterations = 12;        // final bracket ~1% of alpha wide
  constexpr double kInvPhi = 0.6180339887498949;
  double a = guess - kHalfWidth, b = guess + kHalfWidth;
  double best_x = guess, best_e = error_at(guess);
  double c = std::fma(-kInvPhi, b - a, b), d = std::fma(kInvPhi, b - a, a);
  double ec = error_at(c), ed = error_at(d);
  for (int it = 0; it < kIterations; ++it) {
    if (ec < best_e) best_e = ec, best_x = c;
    if (ed < best_e) best_e = ed, best_x = d;
    if (ec <= ed) {
      b = d, d = c, ed = ec;
      c = std::fma(-kInvPhi, b - a, b);
      ec = error_at(c);
    } else {
      a = c, c = d, ec = ed;
      d = std::fma(kInvPhi, b - a, a);
      ed = error_at(d);
    }
  }
  if (ec < best_e) best_e = ec, best_x = c;
  if (ed < best_e) best_e = ed, best_x = d;
  return clamp_alpha<Code, T>(std::exp(best_x));
}

}  // namespace detail

/// The alpha that (nearly) minimises the squared reconstruction error of x quantized to
/// Code. An initial guess from the weights' magnitude moments is refined by a
/// golden-section search on the real quantized error (about 15 evaluations), so the
/// cost is linear in n. Deterministic: every kernel path returns the same alpha.
/// All-zero (or empty) input returns 1. The result lies in [min_alpha, max_alpha].
/// @throws qins::Error naming the first NaN or infinite weight.
template <class Code, class T>
T calibrate_alpha(const T* x, std::size_t n) {
  detail::check_codec_types<Code, T>();
  detail::check_pointers(x, x, n);
  detail::check_finite(x, n, {});
  return detail::with_kernels<T>(
      [&](auto k) { return detail::calibrate_alpha_unchecked<Code>(x, n, k); });
}

}  // namespace qins
