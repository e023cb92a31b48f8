// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The scalar reference kernels (`*_ref`): the specification every SIMD path reproduces.
// IWYU pragma: private
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "../../code_format.hpp"
#include "../float_bits.hpp"

namespace qins::detail::scalar {

// Every operation below is written so that its result does not depend on the compiler's
// floating-point contraction: the one multiply-add is an explicit fma (single rounding),
// everything else is a lone IEEE operation. The SIMD paths use the same sequence, which
// is why they agree bit for bit.

/// z = s / (1 + alpha |x|), s = -1 for x < 0 else +1 (so -0.0 encodes like +0.0).
template <class T>
inline T encode_ref(T x, T alpha) noexcept {
  T w = T(1) / std::fma(alpha, std::fabs(x), T(1));
  return x < T(0) ? -w : w;
}

/// x = sign(z) (1 - |z|) / (alpha |z|).
template <class T>
inline T decode_ref(T z, T alpha) noexcept {
  T a = std::fabs(z);
  T m = (T(1) - a) / (alpha * a);
  return std::signbit(z) ? -m : m;
}

// Codes are std::uint32_t here whatever the format (Format is a descriptor of
// qins/code_format.hpp); the buffer loops below load and store them through the
// descriptor, as code i of a row of bytes.

/// code = clamp(round((z + 1) M / 2), 0, M), ties to even, in the precision of T.
template <class Format, class T>
inline std::uint32_t quantize_ref(T z) noexcept {
  constexpr T m = T(Format::max_code);
  T t = std::nearbyint((z + T(1)) * (m / T(2)));
  t = t < T(0) ? T(0) : (t > m ? m : t);  // NaN never reaches here: inputs are validated
  return static_cast<std::uint32_t>(t);
}

/// z' = code * 2 / M - 1.
template <class Format, class T>
inline T dequantize_ref(std::uint32_t code) noexcept {
  constexpr T m = T(Format::max_code);
  return (T(code) * T(2)) / m - T(1);
}

/// Fused encode + quantize of one weight. Identical to quantize_ref(encode_ref(x)),
/// except that a weight whose z rounds onto the other sign's half of the code range
/// (only when alpha |x| is beyond ~2^24 and z rounds to -0) is clamped back to its own
/// half: saturation never flips a sign.
template <class Format, class T>
inline std::uint32_t encode_quantize_ref(T x, T alpha) noexcept {
  constexpr T m = T(Format::max_code);
  constexpr T half = m / T(2);
  const bool negative = x < T(0);
  T w = T(1) / std::fma(alpha, std::fabs(x), T(1));
  T z = negative ? -w : w;
  T t = std::nearbyint((z + T(1)) * half);
  const T lo = negative ? T(0) : half + T(0.5);
  const T hi = negative ? half - T(0.5) : m;
  t = t < lo ? lo : (t > hi ? hi : t);
  return static_cast<std::uint32_t>(t);
}

/// Closed-form dequantize + decode: with d = code - M/2 (never 0, M is odd),
/// x' = (M/2 / d - sign(d)) / alpha = ((M/2 - |d|) / d) * (1/alpha).
/// M/2 - |d| is an exact integer, so the bracket costs one correctly rounded division;
/// the library stores 1/alpha and multiplies, within 1 ulp of dividing by alpha.
template <class Format, class T>
inline T decoded_times_alpha_ref(std::uint32_t code) noexcept {
  constexpr T half = T(Format::max_code) / T(2);
  T d = T(code) - half;
  return (half - std::fabs(d)) / d;
}

template <class Format, class T>
inline T dequantize_decode_ref(std::uint32_t code, T inv_alpha) noexcept {
  return decoded_times_alpha_ref<Format, T>(code) * inv_alpha;
}

/// x - x' for one weight, with the product and the difference rounded once (fma), so
/// that no compiler contraction can change it.
template <class Format, class T>
inline T reconstruction_error_ref(T x, T alpha, T inv_alpha) noexcept {
  T u = decoded_times_alpha_ref<Format, T>(encode_quantize_ref<Format>(x, alpha));
  return std::fma(-u, inv_alpha, x);
}

// ---- Whole-buffer reference loops (the scalar path of the dispatching API) ----

template <class T>
inline void encode_ref(const T* x, T* z, std::size_t n, T alpha) noexcept {
  for (std::size_t i = 0; i < n; ++i) z[i] = encode_ref(x[i], alpha);
}

template <class T>
inline void decode_ref(const T* z, T* x, std::size_t n, T alpha) noexcept {
  for (std::size_t i = 0; i < n; ++i) x[i] = decode_ref(z[i], alpha);
}

// Codes [first, first + n) of the code array at `codes` (bytes, laid out as Format says),
// against n values at z or x.

template <class Format, class T>
inline void quantize_ref(const T* z, std::byte* codes, std::size_t first, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) Format::store(codes, first + i, quantize_ref<Format>(z[i]));
}

template <class Format, class T>
inline void dequantize_ref(const std::byte* codes, std::size_t first, T* z,
                           std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    z[i] = dequantize_ref<Format, T>(Format::load(codes, first + i));
}

template <class Format, class T>
inline void encode_quantize_ref(const T* x, std::byte* codes, std::size_t first, std::size_t n,
                                T alpha) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    Format::store(codes, first + i, encode_quantize_ref<Format>(x[i], alpha));
}

template <class Format, class T>
inline void dequantize_decode_ref(const std::byte* codes, std::size_t first, T* x, std::size_t n,
                                  T inv_alpha) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    x[i] = dequantize_decode_ref<Format>(Format::load(codes, first + i), inv_alpha);
}

/// Index of the first NaN or infinity, or n.
template <class T>
inline std::size_t find_non_finite_ref(const T* x, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    if (!is_finite_bits(x[i])) return i;
  return n;
}

/// Lanes of the double sums used by calibration. Element i always adds into lane i % 16
/// and the lanes are reduced in one fixed order, so every path returns the same double
/// (and so every path picks the same alpha and writes the same codes).
inline constexpr std::size_t kSumLanes = 16;

inline double reduce_lanes(const double* lanes) noexcept {
  double s8[8], s4[4];
  for (int i = 0; i < 8; ++i) s8[i] = lanes[i] + lanes[i + 8];
  for (int i = 0; i < 4; ++i) s4[i] = s8[i] + s8[i + 4];
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

/// max |x_i| (0 for n = 0). Order-independent, so exact on every path.
template <class T>
inline T max_abs_ref(const T* x, std::size_t n) noexcept {
  T m = 0;
  for (std::size_t i = 0; i < n; ++i) m = std::fabs(x[i]) > m ? std::fabs(x[i]) : m;
  return m;
}

/// Per-lane sums of y, y^3 and y^4 with y = |x_i| * scale, elements [begin, n).
struct MomentLanes {
  double s1[kSumLanes] = {}, s3[kSumLanes] = {}, s4[kSumLanes] = {};
};

template <class T>
inline void add_moments_ref(const T* x, std::size_t begin, std::size_t n, double scale,
                            MomentLanes& m) noexcept {
  for (std::size_t i = begin; i < n; ++i) {
    const std::size_t l = i % kSumLanes;
    const double magnitude = std::fabs(static_cast<double>(x[i]));
    const double y = magnitude * scale;
    const double y2 = y * y;
    m.s1[l] = std::fma(magnitude, scale, m.s1[l]);  // explicit: no contraction can differ
    m.s3[l] = std::fma(y2, y, m.s3[l]);
    m.s4[l] = std::fma(y2, y2, m.s4[l]);
  }
}

/// Sums of y, y^3, y^4 (y = |x_i| * scale), for calibration's initial guess.
template <class T>
inline void scaled_moments_ref(const T* x, std::size_t n, double scale, double* sums) noexcept {
  MomentLanes m;
  add_moments_ref(x, 0, n, scale, m);
  sums[0] = reduce_lanes(m.s1);
  sums[1] = reduce_lanes(m.s3);
  sums[2] = reduce_lanes(m.s4);
}

/// Squared errors are summed in T within blocks of kSquaresBlock elements (16 per lane),
/// then each lane's block sum is added to its double lane: as fast as float sums on
/// every path, and still the same value on every path.
inline constexpr std::size_t kSquaresBlock = 256;

template <class T>
inline void flush_squares(T* partial, double* lanes) noexcept {
  for (std::size_t l = 0; l < kSumLanes; ++l)
    lanes[l] += static_cast<double>(partial[l]), partial[l] = T(0);
}

/// The power of two that the squared-error sums scale each error by: 2^-e with e the
/// exponent of max |x| (clamped to keep the scale a normal number). Errors are at most a
/// few times max |x|, so scaled, their squares and block sums can neither overflow nor,
/// for any error that matters against the total, underflow in T; and scaling by a power
/// of two is exact, so the sums are the same on every path and for x times any power of two.
template <class T>
inline T squared_error_scale(T max_abs) noexcept {
  if (!(max_abs > T(0)) || !std::isfinite(max_abs)) return T(1);
  constexpr int limit = std::numeric_limits<T>::max_exponent - 2;  // 126 for float
  int e = std::ilogb(max_abs);
  e = e < -limit ? -limit : (e > limit ? limit : e);
  return std::ldexp(T(1), -e);
}

/// Adds ((x - x') * scale)^2 of elements [begin, n), where x' is the reconstruction and
/// scale a power of two (see squared_error_scale), into the partial sums, flushing them
/// into lanes at the end of every block.
template <class Format, class T>
inline void add_squared_errors_ref(const T* x, std::size_t begin, std::size_t n, T alpha,
                                   T inv_alpha, T scale, T* partial, double* lanes) noexcept {
  for (std::size_t i = begin; i < n; ++i) {
    const T e = reconstruction_error_ref<Format>(x[i], alpha, inv_alpha) * scale;
    partial[i % kSumLanes] = std::fma(e, e, partial[i % kSumLanes]);
    if ((i + 1) % kSquaresBlock == 0) flush_squares(partial, lanes);
  }
}

/// Sum over i of ((x_i - dequantize_decode(encode_quantize(x_i))) * scale)^2 (each
/// difference rounded once, see reconstruction_error_ref; squares and block sums in T,
/// the total in double). Divide by scale^2 for the unscaled sum.
template <class Format, class T>
inline double quantization_squared_error_ref(const T* x, std::size_t n, T alpha, T inv_alpha,
                                             T scale = T(1)) noexcept {
  T partial[kSumLanes] = {};
  double lanes[kSumLanes] = {};
  add_squared_errors_ref<Format>(x, 0, n, alpha, inv_alpha, scale, partial, lanes);
  flush_squares(partial, lanes);
  return reduce_lanes(lanes);
}

}  // namespace qins::detail::scalar

namespace qins::detail {

/// A row-major matrix of codes in Format with its decode scales (1/alpha): row r starts
/// at byte r * row_bytes (Format::row_bytes(cols)); the scale of weight (r, c) is
/// scales[r * scale_stride + c / span]. Per tensor: stride 0, span cols; per row: stride
/// 1, span cols; per group of G: stride cols / G, span G.
template <class Format>
struct CodeMatrixView {
  const std::byte* codes = nullptr;
  std::size_t rows = 0, cols = 0, row_bytes = 0;
  const float* scales = nullptr;
  std::size_t scale_stride = 0, span = 0;

  const std::byte* row(std::size_t r) const noexcept { return codes + r * row_bytes; }
  /// Code c of row r.
  std::uint32_t code(std::size_t r, std::size_t c) const noexcept {
    return Format::load(row(r), c);
  }
  float scale(std::size_t r, std::size_t segment) const noexcept {
    return scales[r * scale_stride + segment];
  }
  /// The rows [begin, end) as a view of their own.
  CodeMatrixView rows_from(std::size_t begin, std::size_t end) const noexcept {
    CodeMatrixView v = *this;
    v.codes = row(begin);
    v.scales = scales ? scales + begin * scale_stride : nullptr;  // no scales when cols == 0
    v.rows = end - begin;
    return v;
  }
};

}  // namespace qins::detail

namespace qins::detail::scalar {

/// y = W x with every weight decoded exactly (one division each), accumulated in float
/// per segment and scaled once per segment. Products are not bit-exact across paths (the
/// SIMD paths use a fast reciprocal), so plain multiply-adds are fine here: the compiler
/// may fuse them, which only ever reduces the rounding.
template <class Format>
inline void gemv_ref(const CodeMatrixView<Format>& w, const float* x, float* y) noexcept {
  for (std::size_t r = 0; r < w.rows; ++r) {
    float total = 0;
    for (std::size_t s0 = 0, g = 0; s0 < w.cols; s0 += w.span, ++g) {
      float acc = 0;
      for (std::size_t j = s0; j < s0 + w.span; ++j)
        acc += x[j] * decoded_times_alpha_ref<Format, float>(w.code(r, j));
      total += acc * w.scale(r, g);
    }
    y[r] = total;
  }
}

/// Tile of W that the batched product decodes at once: 16 x 512 floats = 32 KiB.
inline constexpr std::size_t kGemmTileRows = 16;
inline constexpr std::size_t kGemmTileCols = 512;
/// Per-thread scratch of the batched products, in floats (64 KiB): at least one tile.
inline constexpr std::size_t kGemmScratchFloats = 16 * 1024;
static_assert(kGemmTileRows * kGemmTileCols <= kGemmScratchFloats, "a tile fits the scratch");

/// Y += W X for a batch: X holds `batch` inputs of w.cols floats, input b at X + b * ldx;
/// output b is added into Y + b * ldy.
template <class Format>
inline void gemm_ref(const CodeMatrixView<Format>& w, const float* x, std::size_t ldx,
                     std::size_t batch, float* y, std::size_t ldy) noexcept {
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t r = 0; r < w.rows; ++r) {
      float product;
      gemv_ref(w.rows_from(r, r + 1), x + b * ldx, &product);
      y[b * ldy + r] += product;
    }
}

}  // namespace qins::detail::scalar

namespace qins::detail::scalar {

/// The reference loops under the entry-point names of the SIMD `Kernels` tables.
template <class T>
struct Kernels {
  /// Largest error of a weight decoded by the products, in units of |w| + 1/alpha: the
  /// reference divides exactly (one rounding of u, a relative 2^-24, twice for safety).
  template <class Format>
  static constexpr double decode_error_bound() {
    return 0x1p-23;
  }
  static void encode(const T* x, T* z, std::size_t n, T alpha) { encode_ref(x, z, n, alpha); }
  static void decode(const T* z, T* x, std::size_t n, T alpha) { decode_ref(z, x, n, alpha); }
  template <class Format>
  static void quantize(const T* z, std::byte* codes, std::size_t first, std::size_t n) {
    quantize_ref<Format>(z, codes, first, n);
  }
  template <class Format>
  static void dequantize(const std::byte* codes, std::size_t first, T* z, std::size_t n) {
    dequantize_ref<Format>(codes, first, z, n);
  }
  template <class Format>
  static void encode_quantize(const T* x, std::byte* codes, std::size_t first, std::size_t n,
                              T alpha) {
    encode_quantize_ref<Format>(x, codes, first, n, alpha);
  }
  template <class Format>
  static void dequantize_decode(const std::byte* codes, std::size_t first, T* x, std::size_t n,
                                T inv_alpha, bool /*stream*/ = false) {
    dequantize_decode_ref<Format>(codes, first, x, n, inv_alpha);
  }
  static std::size_t find_non_finite(const T* x, std::size_t n) {
    return find_non_finite_ref(x, n);
  }
  template <class Format>
  static double quantization_squared_error(const T* x, std::size_t n, T alpha, T inv_alpha,
                                           T scale = T(1)) {
    return quantization_squared_error_ref<Format>(x, n, alpha, inv_alpha, scale);
  }
  static T max_abs(const T* x, std::size_t n) { return max_abs_ref(x, n); }
  static void scaled_moments(const T* x, std::size_t n, double scale, double* sums) {
    scaled_moments_ref(x, n, scale, sums);
  }
  template <class Format>
  static void gemv(const CodeMatrixView<Format>& w, const float* x, float* y) {
    gemv_ref(w, x, y);
  }
  template <class Format>
  static void gemm(const CodeMatrixView<Format>& w, const float* x, std::size_t ldx,
                   std::size_t batch, float* y, std::size_t ldy, float* /*tile*/,
                   const float* /*packed*/ = nullptr) {
    gemm_ref(w, x, ldx, batch, y, ldy);
  }
  /// The reference never packs its inputs.
  static std::size_t packed_inputs_size(std::size_t /*cols*/, std::size_t /*batch*/) { return 0; }
  static void pack_inputs(const float*, std::size_t, std::size_t, std::size_t, float*) {}
};

}  // namespace qins::detail::scalar
