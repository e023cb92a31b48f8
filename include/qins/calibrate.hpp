// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Calibration: the alpha that minimises the squared error of quantized weights.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include "code_format.hpp"
#include "detail/dispatch.hpp"
#include "detail/validate.hpp"
#include "quantize.hpp"

namespace qins {

/// The range calibration keeps alpha in: alpha >= M / max(T) keeps every decoded weight
/// finite (the largest is (M - 1) / alpha) and alpha <= 1 / that keeps 1 / alpha a
/// normal number. Weights below about 1 / (M alpha_max) can only decode to zero.
template <class Code, class T>
constexpr T min_alpha() noexcept {
  return T(format_of_t<Code>::max_code) / std::numeric_limits<T>::max();
}
template <class Code, class T>
constexpr T max_alpha() noexcept {
  return T(1) / min_alpha<Code, T>();
}

namespace detail {

/// Initial guess for b = alpha * max|x|, from sums[] = {S1, S3, S4}, S_k = sum y_i^k with
/// y_i = |x_i| / max|x|. In the high-resolution limit the code step at y = alpha |x| is
/// (1 + y)^2 / (M/2), so the squared error is proportional to f(b) = sum (1 + b y_i)^4 / b^2
/// (M drops out). f'(b) = 0 is g(b) = 2 S4 b^5 + 4 S3 b^4 - 4 S1 b - 2 n = 0: g(0) < 0 and
/// g is convex for b > 0, so it has one positive root. A binary search over the grid
/// b = 2^(k/8) finds it to within 9% (the scan below is what makes it precise).
inline double initial_scaled_alpha(const double* sums, std::size_t n) {
  const double s1 = sums[0], s3 = sums[1], s4 = sums[2];
  const double count = static_cast<double>(n);
  auto b_at = [](int k) { return std::ldexp(1.0, k / 8) * std::exp2((k % 8) / 8.0); };
  auto g = [&](double b) {
    const double b4 = (b * b) * (b * b);
    return 2.0 * s4 * b4 * b + 4.0 * s3 * b4 - 4.0 * s1 * b - 2.0 * count;
  };
  int lo = -96, hi = 192;  // b from 2^-12 to 2^24; g(b_at(hi)) > 0 for any y in [0, 1]
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    if (g(b_at(mid)) < 0)
      lo = mid;
    else
      hi = mid;
  }
  return b_at(hi);
}

template <class Code, class T>
inline T clamp_alpha(double alpha) noexcept {
  const double lo = static_cast<double>(min_alpha<Code, T>());
  const double hi = static_cast<double>(max_alpha<Code, T>());
  return static_cast<T>(alpha < lo ? lo : (alpha > hi ? hi : alpha));
}

// The search. On real weights the high-resolution guess sits below the optimum (ratio
// optimum / guess: median 1.4 - 1.6, 5th to 95th percentile 0.97 - 2.7 on the test
// model's rows, up to 10 on Student-t rows), so a scan covers guess * 0.85 * 1.2^i,
// i = 0..18 (up to 22), then a golden-section search refines the best scan point within
// one scan step on either side (so down to 0.71 * guess). Heavy-tailed rows have error
// curves with several dips: this grid and a patience of 3 stayed within 1.3x of a dense
// sweep's optimum on Student-t rows where finer steps and a patience of 2 fell to 2.8x
// (finer steps found the test model's rows' optima within 1% either way).
inline constexpr double kScanStart = 0.85;
inline constexpr double kScanRatio = 1.2;
inline constexpr int kScanPoints = 19;
inline constexpr int kScanPatience = 3;         // points ...
inline constexpr double kScanStopRatio = 1.25;  // ... 25% above the best end the scan
inline constexpr int kRefineSteps = 6;          // bracket 2 steps wide -> 0.04 of it
inline constexpr double kInvPhi = 0.6180339887498949;

/// Calibration of weights already checked to be finite. See qins::calibrate_alpha.
/// Every step is a function of values that all kernel paths compute identically (max,
/// lane-ordered sums), so the chosen alpha does not depend on the path.
template <class Code, class T, class Kernels>
T calibrate_alpha_unchecked(const T* x, std::size_t n, Kernels k) {
  const double max_abs = static_cast<double>(k.max_abs(x, n));
  if (max_abs == 0) return T(1);  // all zeros: any alpha reconstructs them exactly
  double sums[3];
  k.scaled_moments(x, n, 1.0 / max_abs, sums);
  const double guess = initial_scaled_alpha(sums, n) / max_abs;

  // The errors are compared, never reported: scaled as the public function scales them.
  const T error_scale = scalar::squared_error_scale(static_cast<T>(max_abs));
  double best_alpha = 0, best_e = 0;
  auto try_alpha = [&](double a) {
    const T alpha = clamp_alpha<Code, T>(a);
    const double e = k.template quantization_squared_error<format_of_t<Code>>(
        x, n, alpha, T(1) / alpha, error_scale);
    if (best_alpha == 0 || e < best_e) best_e = e, best_alpha = static_cast<double>(alpha);
    return e;
  };
  // Past the optimum the error climbs steeply: stop the scan once it has stayed well
  // above the best for a few points (this halves the scan on typical rows).
  double a = guess * kScanStart;
  for (int i = 0, above = 0; i < kScanPoints && above < kScanPatience; ++i, a *= kScanRatio) {
    const double e = try_alpha(a);  // updates best_e first: the order is fixed
    above = e > kScanStopRatio * best_e ? above + 1 : 0;
  }

  double lo = best_alpha / kScanRatio, hi = best_alpha * kScanRatio;
  double c = hi - kInvPhi * (hi - lo), d = lo + kInvPhi * (hi - lo);
  double ec = try_alpha(c), ed = try_alpha(d);
  for (int it = 0; it < kRefineSteps; ++it) {
    if (ec <= ed) {
      hi = d, d = c, ed = ec;
      c = hi - kInvPhi * (hi - lo);
      ec = try_alpha(c);
    } else {
      lo = c, c = d, ec = ed;
      d = lo + kInvPhi * (hi - lo);
      ed = try_alpha(d);
    }
  }
  return static_cast<T>(best_alpha);
}

}  // namespace detail

/// The alpha that (nearly) minimises the squared reconstruction error of x quantized to
/// Code. An initial guess from the weights' magnitude moments is refined by a scan and
/// a golden-section search on the real quantized error (at most 27 evaluations), so the cost is
/// linear in n. Deterministic: every kernel path returns the same alpha.
/// All-zero (or empty) input returns 1. The result lies in [min_alpha, max_alpha].
/// Code is an element type (std::uint8_t) or a descriptor (Uint8Codes).
/// @throws qins::Error naming the first NaN or infinite weight.
template <class Code, class T>
T calibrate_alpha(const T* x, std::size_t n) {
  detail::require_floating<T>();
  detail::check_pointers(x, x, n);
  detail::check_finite(x, n, {});
  return detail::with_kernels<T>(
      [&](auto k) { return detail::calibrate_alpha_unchecked<format_of_t<Code>>(x, n, k); });
}

}  // namespace qins
