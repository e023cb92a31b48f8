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

  /// Rounds x (cols floats). Returns false, leaving the float path to the caller, for a
  /// layout supports() refuses or an input that is not finite (the float path carries
  /// NaN and infinity into y).
  bool round(const float* x, std::size_t n, std::size_t segment) {
    if (!supports(n, segment)) return false;
    cols = n;
    span = segment;
    block = span == cols ? kMaxBlock : (span % 256 == 0 ? 256 : span % 128 == 0 ? 128 : 64);
    const std::size_t chunks = (cols + kChunk - 1) / kChunk;
    const std::size_t blocks = (cols + block - 1) / block;
    q.assign(chunks * kChunk, 0);
    step.assign(blocks, 0.0f);
    correction.assign((cols + span - 1) / span, 0.0f);
    std::vector<double> segment_sum(correction.size(), 0.0);
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::size_t j0 = b * block, j1 = j0 + block < cols ? j0 + block : cols;
      float largest = 0;
      for (std::size_t j = j0; j < j1; ++j) {
        if (!std::isfinite(x[j])) return false;
        largest = std::fabs(x[j]) > largest ? std::fabs(x[j]) : largest;
      }
      if (largest == 0) continue;  // q stays 0, step 0
      const double inv = double(kMaxQ) / double(largest);
      const auto s = static_cast<float>(double(largest) / double(kMaxQ));
      step[b] = s;
      long long sum = 0;
      for (std::size_t j = j0; j < j1; ++j) {
        const auto v = static_cast<std::int16_t>(std::nearbyint(double(x[j]) * inv));
        q[slot(j)] = v;
        sum += v;
      }
      segment_sum[j0 / span] += 0.5 * double(s) * double(sum);
    }
    for (std::size_t g = 0; g < correction.size(); ++g)
      correction[g] = static_cast<float>(segment_sum[g]);
    return true;
  }

  /// The rounded input of column j: q step.
  double value(std::size_t j) const noexcept {
    return double(q[slot(j)]) * double(step[j / block]);
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
