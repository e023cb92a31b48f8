// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The integer form of the uint8 GEMV: a fixed-point table of the 256 decoded values and
// inputs rounded to 13-bit integers per block, so that a row's dot product is a sum of
// int16 x int16 products, exact in int32. The SIMD kernel (kernels/avx512_vnni.hpp) looks
// the table up with byte permutes and multiplies with VNNI; this file holds what does not
// depend on the instruction set: building the table, rounding the inputs, and the scalar
// reference of the product, which the kernel reproduces up to the order of float sums.
// IWYU pragma: private
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "../code_format.hpp"
#include "aligned_buffer.hpp"
#include "kernels/scalar.hpp"

namespace qins::detail {

// ---- The table ----
//
// u(c) = (M/2 - |d|) / d, d = c - M/2, is the weight times alpha (M = 255). It is odd in
// the code: u(255 - c) = -u(c). The table holds, for c = 0 .. 127 (u(c) <= 0),
//     P[c] = round(u(c) S - 1/2)      with S = 32767 / (the largest |u| in the layer),
// and a code c >= 128 reads P[255 - c] with every bit flipped: ~P = -P - 1, which is
// u(c) S - 1/2 as well. So for every code, P + 1/2 = u S within 1/2: the kernel adds the
// 1/2 once per block as (1/2) sum x, and a code costs one 128-entry look-up (its low
// seven bits, after flipping c >= 128) plus one XOR, with no sign handling.

/// The uint8 decode table of one layer (see above), as two 128-byte planes of P.
struct Uint8DecodeTable {
  alignas(64) std::int8_t lo[128];  ///< low bytes of P[0..127]
  alignas(64) std::int8_t hi[128];  ///< high bytes
  float inv_scale = 0;              ///< 1 / S
  /// The largest |(P + 1/2) / S - u| over all codes, bounded: 1 / (2 S). A weight decoded
  /// through the table differs from the exact decode by at most this / alpha.
  double weight_error = 0;

  /// P of code c (0 .. 255) as the kernel reads it.
  std::int32_t entry(std::uint32_t c) const noexcept {
    const std::uint32_t m = c < 128 ? c : 255 - c;
    const auto p = static_cast<std::int16_t>(
        static_cast<std::uint8_t>(lo[m]) |
        (static_cast<std::uint32_t>(static_cast<std::uint8_t>(hi[m])) << 8));
    return c < 128 ? p : -std::int32_t(p) - 1;
  }

  /// The table for n uint8 codes: S from the code nearest to M/2 among them (the largest
  /// |u|), so the table uses all 15 bits for the weights the layer really has.
  static Uint8DecodeTable for_codes(const std::byte* codes, std::size_t n) noexcept {
    // The largest code below 128 and the smallest from 128 on: |u| is largest there.
    unsigned below = 0, above = 255;
    for (std::size_t i = 0; i < n; ++i) {
      const unsigned c = static_cast<unsigned>(codes[i]);
      below = c < 128 && c > below ? c : below;
      above = c >= 128 && c < above ? c : above;
    }
    const double largest = std::fmax(std::fabs(u(below)), std::fabs(u(above)));
    Uint8DecodeTable t;
    const double s = 32767.0 / (largest > 1.0 ? largest : 1.0);
    for (unsigned m = 0; m < 128; ++m) {
      // Codes nearer M/2 than any in the layer (|u| > largest) are never read: saturate
      // them into int16 rather than convert an out-of-range double.
      const double v = std::fmax(std::nearbyint(u(m) * s - 0.5), -32768.0);
      const auto p = static_cast<std::int16_t>(v);
      const auto bits = static_cast<std::uint16_t>(p);
      t.lo[m] = static_cast<std::int8_t>(bits & 0xff);
      t.hi[m] = static_cast<std::int8_t>(bits >> 8);
    }
    t.inv_scale = static_cast<float>(1.0 / s);
    t.weight_error = 0.5 / s;
    return t;
  }

 private:
  static double u(unsigned c) noexcept {
    const double d = double(c) - 127.5;
    return (127.5 - std::fabs(d)) / d;
  }
};

// ---- The rounded inputs ----

/// Inputs of the integer GEMV: x rounded per block of `block` columns to integers of at
/// most 4095 in magnitude, q = round(x / step) with step = max |x| over the block / 4095,
/// so |x - q step| <= step / 2 = max |x| / 8190 per input. With |P| <= 32768, a block of
/// up to 256 columns sums in an int32 lane without overflow: each of the 16 lanes of a
/// 512-bit accumulator adds 16 products, 16 * 32768 * 4095 < 2^31.
struct RoundedInputs {
  static constexpr int kMaxQ = 4095;
  static constexpr std::size_t kChunk = 64;      ///< codes per look-up
  static constexpr std::size_t kMaxBlock = 256;  ///< columns per int32 sum
  /// The input rounding in units of max |x| over a block: 1 / 8190.
  static constexpr double kRelativeRounding = 0.5 / kMaxQ;

  std::size_t cols = 0, span = 0, block = 0;
  /// ceil(cols / 64) chunks of 64, each in the order the kernel's unpack produces: first
  /// columns 16L + i, then 16L + 8 + i (L = 0 .. 3, i = 0 .. 7); zeros past cols.
  std::vector<std::int16_t, AlignedAllocator<std::int16_t>> q;  // chunks on cache lines
  std::vector<float> step;                                      ///< per block
  std::vector<float> correction;  ///< per segment of `span` columns: sum over it of step q / 2

  /// Where column j's q is: its chunk, then its place in the chunk's permuted order.
  static std::size_t slot(std::size_t j) noexcept {
    const std::size_t lane = (j % kChunk) / 16, i = j % 16;
    return (j / kChunk) * kChunk + (i < 8 ? 0 : 32) + lane * 8 + (i % 8);
  }

  /// Whether the integer GEMV can take a layer whose segments (one alpha each) are `span`
  /// columns: one segment per row, or segments of whole chunks.
  static bool supports(std::size_t cols, std::size_t span) noexcept {
    return cols > 0 && (span == cols || (span % kChunk == 0 && cols % span == 0));
  }

  /// The block of a layout supports() takes: 256 columns, or the largest of 256, 128 and
  /// 64 that divides the segment.
  static std::size_t block_for(std::size_t cols, std::size_t span) noexcept {
    return span == cols ? kMaxBlock : (span % 256 == 0 ? 256 : span % 128 == 0 ? 128 : 64);
  }

  /// Rounds x (cols floats). Returns false, leaving the float path to the caller, for a
  /// layout supports() refuses or an input that is not finite (the float path carries
  /// NaN and infinity into y).
  bool round(const float* x, std::size_t n, std::size_t segment) {
    if (!supports(n, segment)) return false;
    cols = n;
    span = segment;
    block = block_for(cols, span);
    const std::size_t chunks = (cols + kChunk - 1) / kChunk;
    const std::size_t blocks = (cols + block - 1) / block;
    q.assign(chunks * kChunk, 0);
    step.assign(blocks, 0.0f);
    correction.assign((cols + span - 1) / span, 0.0f);
    std::vector<double> segment_sum(correction.size(), 0.0);
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::size_t j0 = b * block, j1 = j0 + block < cols ? j0 + block : cols;
      float largest = 0;
      bool finite = true;
      for (std::size_t j = j0; j < j1; ++j) {
        const float a = std::fabs(x[j]);
        finite &= a <= std::numeric_limits<float>::max();  // false for NaN
        largest = a > largest ? a : largest;
      }
      if (!finite) return false;
      if (largest == 0) continue;  // q stays 0, step 0
      const double inv = double(kMaxQ) / double(largest);
      const auto s = static_cast<float>(double(largest) / double(kMaxQ));
      step[b] = s;
      long long sum = 0;
      for (std::size_t j = j0; j < j1; j += 8) {  // 8 columns are 8 consecutive slots
        std::int16_t* out = q.data() + slot(j);
        const std::size_t n8 = j1 - j < 8 ? j1 - j : 8;
        for (std::size_t m = 0; m < n8; ++m) {
          const int v = round_to_int(double(x[j + m]) * inv);
          out[m] = static_cast<std::int16_t>(v);
          sum += v;
        }
      }
      segment_sum[j0 / span] += 0.5 * double(s) * double(sum);
    }
    for (std::size_t g = 0; g < correction.size(); ++g)
      correction[g] = static_cast<float>(segment_sum[g]);
    return true;
  }

  /// v rounded to the nearest integer, halves away from zero, for |v| < 2^31: exact, and
  /// without a library call (std::nearbyint is one on baseline x86-64).
  static int round_to_int(double v) noexcept {
    const int t = static_cast<int>(v);  // toward zero
    const double frac = v - t;          // exact
    return t + (frac >= 0.5) - (frac <= -0.5);
  }

  /// The rounded input of column j: q step.
  double value(std::size_t j) const noexcept {
    return double(q[slot(j)]) * double(step[j / block]);
  }
};

// ---- A batch of rounded inputs, laid out for tile products ----

/// The rounded inputs of a batch (one RoundedInputs each, for the same layer) as the AMX
/// tile product (kernels/avx512_amx.hpp) reads them. Each q is split into bytes,
/// q = 256 qh + ql with ql in 0 .. 255 and qh in -16 .. 15, and every 64 columns x 16
/// inputs form two tiles of 16 rows x 64 bytes, ql first, in the order tile multiplies
/// take their second operand:
///
///     row i (columns 4i .. 4i+3 of the 64):  | input 0: 4 bytes | input 1: 4 bytes | ... | input
///     15 |
///
/// Inputs past the batch and columns past cols are zeros (with step 0). Per block and
/// input it keeps the step and half the sum of q: (P + 1/2) q sums as P q + (1/2) sum q.
struct TileInputs {
  static constexpr std::size_t kInputs = 16;   ///< inputs per tile
  static constexpr std::size_t kCols = 64;     ///< columns per tile
  static constexpr std::size_t kBytes = 1024;  ///< bytes per tile

  std::size_t cols = 0, span = 0, block = 0, batch = 0;
  std::size_t input_tiles = 0;  ///< ceil(batch / 16)
  std::size_t col_tiles = 0;    ///< ceil(cols / 64)
  std::vector<std::int8_t, AlignedAllocator<std::int8_t>> tiles;
  std::vector<float, AlignedAllocator<float>> step;      ///< [block][input], 16 per input tile
  std::vector<float, AlignedAllocator<float>> half_sum;  ///< the same layout

  /// The ql (plane 0) or qh (plane 1) tile of columns [64 k, 64 k + 64), inputs [16 t, 16 t + 16).
  const std::int8_t* tile(std::size_t k, std::size_t t, std::size_t plane) const noexcept {
    return tiles.data() + ((k * input_tiles + t) * 2 + plane) * kBytes;
  }
  /// The 16 steps (or half sums) of input tile t for block b.
  const float* steps(std::size_t b, std::size_t t) const noexcept {
    return step.data() + (b * input_tiles + t) * kInputs;
  }
  const float* half_sums(std::size_t b, std::size_t t) const noexcept {
    return half_sum.data() + (b * input_tiles + t) * kInputs;
  }

  /// Makes room for `n` inputs of a layer of `n_cols` columns in segments of `segment`
  /// (a layout RoundedInputs::supports()), all zeros.
  void reset(std::size_t n_cols, std::size_t segment, std::size_t n) {
    cols = n_cols;
    span = segment;
    block = RoundedInputs::block_for(cols, span);
    batch = n;
    input_tiles = (n + kInputs - 1) / kInputs;
    col_tiles = (cols + kCols - 1) / kCols;
    const std::size_t blocks = (cols + block - 1) / block;
    tiles.assign(col_tiles * input_tiles * 2 * kBytes, 0);
    step.assign(blocks * input_tiles * kInputs, 0.0f);
    half_sum.assign(step.size(), 0.0f);
  }

  /// Lays out input b, rounded for this layer (the cols and span of reset()). Inputs of
  /// different tiles of 16 touch different bytes (and cache lines): they may be packed
  /// by different threads.
  void pack(std::size_t b, const RoundedInputs& in) noexcept {
    const std::size_t t = b / kInputs, slot_in_row = (b % kInputs) * 4;
    // Four columns are four consecutive slots of in.q, which holds zeros past cols.
    for (std::size_t k = 0; k < col_tiles; ++k) {
      std::int8_t* lo = tiles.data() + ((k * input_tiles + t) * 2) * kBytes + slot_in_row;
      std::int8_t* hi = lo + kBytes;
      for (std::size_t i = 0; i < kCols / 4; ++i) {
        const std::int16_t* q4 = in.q.data() + RoundedInputs::slot(k * kCols + 4 * i);
        for (std::size_t m = 0; m < 4; ++m) {
          const int q = q4[m];
          lo[i * 64 + m] = static_cast<std::int8_t>(static_cast<std::uint8_t>(q & 0xff));
          hi[i * 64 + m] = static_cast<std::int8_t>((q - (q & 0xff)) / 256);  // q = 256 qh + ql
        }
      }
    }
    for (std::size_t blk = 0; blk * block < cols; ++blk) {
      long long sum = 0;
      const std::size_t j1 = cols < (blk + 1) * block ? cols : (blk + 1) * block;
      for (std::size_t j = blk * block; j < j1; ++j) sum += in.q[RoundedInputs::slot(j)];
      const std::size_t at = (blk * input_tiles + t) * kInputs + b % kInputs;
      step[at] = in.step[blk];
      half_sum[at] = static_cast<float>(0.5 * double(sum));  // exact: |sum| < 2^21
    }
  }

  /// Lays out n inputs rounded for one layer (the same cols and span).
  void pack(const RoundedInputs* in, std::size_t n) {
    reset(n ? in[0].cols : 0, n ? in[0].span : 0, n);
    for (std::size_t b = 0; b < n; ++b) pack(b, in[b]);
  }
};

namespace scalar {

/// The reference of the integer GEMV, in the kernel's arithmetic: per block an exact
/// integer sum of P q, times the block's step (float), summed per segment, plus the
/// segment's correction, times the segment's scale (1/alpha) and 1/S. The kernel's int32
/// sums are the same integers; only the order of its float sums differs.
inline void table_gemv_ref(const CodeMatrixView<Uint8Codes>& w, const Uint8DecodeTable& t,
                           const RoundedInputs& in, float* y) noexcept {
  for (std::size_t r = 0; r < w.rows; ++r) {
    const auto* row = reinterpret_cast<const std::uint8_t*>(w.row(r));
    float total = 0;
    for (std::size_t s0 = 0, g = 0; s0 < w.cols; s0 += w.span, ++g) {
      const std::size_t end = s0 + w.span < w.cols ? s0 + w.span : w.cols;
      float segment = 0;
      for (std::size_t b0 = s0; b0 < end; b0 += in.block) {
        std::int64_t acc = 0;
        for (std::size_t j = b0; j < b0 + in.block && j < end; ++j)
          acc += std::int64_t(t.entry(row[j])) * in.q[RoundedInputs::slot(j)];
        segment = std::fma(static_cast<float>(acc), in.step[b0 / in.block], segment);
      }
      total = std::fma(segment + in.correction[g], w.scale(r, g) * t.inv_scale, total);
    }
    y[r] = total;
  }
}

}  // namespace scalar
}  // namespace qins::detail
