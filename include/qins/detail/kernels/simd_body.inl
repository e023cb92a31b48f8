// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The SIMD kernels, written once over an instruction-set wrapper `V`.
// IWYU pragma: private
//
// No include guard on purpose: avx2.hpp and avx512.hpp each include this file inside
// their own namespace and target region, after defining `V`. It defines `struct
// Kernels`, the table of entry points the dispatcher calls (see those headers for the
// operations it provides). The codec kernels handle their tails with the scalar
// reference element functions and agree bit for bit with the `*_ref` loops; the products
// (gemv, gemm) decode with a fast reciprocal whose bound linear.hpp documents.

// Complete unrolling of the short fixed-count loops over rows, inputs, vectors and lanes,
// at any optimisation level: their accumulators then stay in registers (at -O2, GCC 12
// otherwise kept the batched product's accumulators in memory: 3.5x the instructions).
#define QINS_DETAIL_UNROLL _Pragma("GCC unroll 16")

struct Kernels {
  /// Whether the products refine the hardware reciprocal by a Newton step for Format:
  /// when its error could exceed 1/8 of the finest code step (see fast_decoded_times_alpha).
  template <class Format>
  static constexpr bool needs_newton_step() {
    return V::rcp_error * (double(Format::max_code) / 2.0) > 0.125;
  }

  /// Largest error of a weight decoded by the products (gemv, gemm), in units of
  /// |w| + 1/alpha: the reciprocal's relative error V::rcp_error; after a Newton step
  /// (needs_newton_step) about 2^-22, bounded by 1e-6. See fast_decoded_times_alpha.
  template <class Format>
  static constexpr double decode_error_bound() {
    return needs_newton_step<Format>() ? 1e-6 : V::rcp_error;
  }

  static void encode(const float* x, float* z, std::size_t n, float alpha) {
    const auto va = V::set1(alpha), one = V::set1(1.0f);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width) {
      auto v = V::load(x + i);
      auto w = V::div(one, V::fmadd(va, V::abs(v), one));
      V::store(z + i, V::negate_if(w, V::less_than_zero(v)));
    }
    for (; i < n; ++i) z[i] = scalar::encode_ref(x[i], alpha);
  }

  static void decode(const float* z, float* x, std::size_t n, float alpha) {
    const auto va = V::set1(alpha), one = V::set1(1.0f);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width) {
      auto v = V::load(z + i);
      auto a = V::abs(v);
      auto m = V::div(V::sub(one, a), V::mul(va, a));
      V::store(x + i, V::copy_sign(m, v));
    }
    for (; i < n; ++i) x[i] = scalar::decode_ref(z[i], alpha);
  }

  // Codes are addressed as (codes, first + i): code first + i of the code array at
  // `codes`, in Format's layout; the vector loads and stores take whole vectors of codes.
  template <class Format>
  static void quantize(const float* z, std::byte* codes, std::size_t first, std::size_t n) {
    constexpr float m = float(Format::max_code);
    const auto vhalf = V::set1(m / 2.0f), one = V::set1(1.0f), zero = V::set1(0.0f),
               vm = V::set1(m);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width) {
      auto t = V::round_even(V::mul(V::add(V::load(z + i), one), vhalf));
      V::template store_codes<Format>(codes, first + i, V::min(V::max(t, zero), vm));
    }
    scalar::quantize_ref<Format>(z + i, codes, first + i, n - i);
  }

  template <class Format>
  static void dequantize(const std::byte* codes, std::size_t first, float* z, std::size_t n) {
    constexpr float m = float(Format::max_code);
    const auto vm = V::set1(m), two = V::set1(2.0f), one = V::set1(1.0f);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width) {
      auto c = V::template load_codes<Format>(codes, first + i);
      V::store(z + i, V::sub(V::div(V::mul(c, two), vm), one));
    }
    scalar::dequantize_ref<Format>(codes, first + i, z + i, n - i);
  }

  // Codes of one vector of weights, as integral floats (see scalar::encode_quantize_ref).
  template <class Format>
  static typename V::F encode_quantize_vector(typename V::F x, typename V::F alpha) {
    constexpr float m = float(Format::max_code);
    constexpr float half = m / 2.0f;
    const auto one = V::set1(1.0f);
    auto negative = V::less_than_zero(x);
    auto w = V::div(one, V::fmadd(alpha, V::abs(x), one));
    auto t = V::round_even(V::mul(V::add(V::negate_if(w, negative), one), V::set1(half)));
    auto lo = V::select(negative, V::set1(0.0f), V::set1(half + 0.5f));
    auto hi = V::select(negative, V::set1(half - 0.5f), V::set1(m));
    return V::min(V::max(t, lo), hi);
  }

  // Closed-form decode of integral-float codes, before the 1/alpha: (M/2 - |d|) / d.
  template <class Format>
  static typename V::F decoded_times_alpha_vector(typename V::F code) {
    return centered_decoded_times_alpha<Format>(
        V::sub(code, V::set1(float(Format::max_code) / 2.0f)));
  }
  // The same from d = code - M/2 (exact), as V::load_centered gives it.
  template <class Format>
  static typename V::F centered_decoded_times_alpha(typename V::F d) {
    const auto half = V::set1(float(Format::max_code) / 2.0f);
    return V::div(V::sub(half, V::abs(d)), d);
  }

  template <class Format>
  static void encode_quantize(const float* x, std::byte* codes, std::size_t first, std::size_t n,
                              float alpha) {
    const auto va = V::set1(alpha);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width)
      V::template store_codes<Format>(codes, first + i,
                                      encode_quantize_vector<Format>(V::load(x + i), va));
    scalar::encode_quantize_ref<Format>(x + i, codes, first + i, n - i, alpha);
  }

  // With `stream`, the output bypasses the caches (non-temporal stores): for outputs far
  // larger than the caches this saves reading every output line before writing it. The
  // caller ends a run of streaming calls with detail::finish_streaming().
  template <class Format>
  static void dequantize_decode(const std::byte* codes, std::size_t first, float* x, std::size_t n,
                                float inv_alpha, bool stream = false) {
    const auto vinv = V::set1(inv_alpha);
    auto decoded = [&](std::size_t i) {
      return V::mul(
          centered_decoded_times_alpha<Format>(V::template load_centered<Format>(codes, first + i)),
          vinv);
    };
    std::size_t i = 0;
    if (stream) {
      for (; i < n && reinterpret_cast<std::uintptr_t>(x + i) % (V::width * sizeof(float)) != 0;
           ++i)
        x[i] = scalar::dequantize_decode_ref<Format>(Format::load(codes, first + i), inv_alpha);
      for (; i + V::width <= n; i += V::width) V::stream(x + i, decoded(i));
    }
    for (; i + V::width <= n; i += V::width) V::store(x + i, decoded(i));
    scalar::dequantize_decode_ref<Format>(codes, first + i, x + i, n - i, inv_alpha);
  }

  static std::size_t find_non_finite(const float* x, std::size_t n) {
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width)
      if (V::any_non_finite(V::load(x + i))) break;
    return i + scalar::find_non_finite_ref(x + i, n - i);
  }

  // The double sums below use the lane assignment of the scalar reference: element i
  // adds into lane i % 16, whole 16-element blocks here, the tail by the reference.
  static constexpr std::size_t kDoublesPerBlock = scalar::kSumLanes / V::double_width;
  static constexpr std::size_t kFloatsPerBlock = scalar::kSumLanes / V::width;
  static_assert(scalar::kSumLanes % V::width == 0, "a block of 16 is whole vectors");

  static void store_lanes(const typename V::D* acc, double* lanes) {
    QINS_DETAIL_UNROLL
    for (std::size_t q = 0; q < kDoublesPerBlock; ++q)
      V::dstore(lanes + q * V::double_width, acc[q]);
  }

  template <class Format>
  static double quantization_squared_error(const float* x, std::size_t n, float alpha,
                                           float inv_alpha, float scale = 1.0f) {
    static_assert(scalar::kSquaresBlock % scalar::kSumLanes == 0, "blocks of whole lane groups");
    const auto va = V::set1(alpha), vinv = V::set1(inv_alpha), vscale = V::set1(scale);
    typename V::D acc[kDoublesPerBlock];
    typename V::F partial[kFloatsPerBlock];
    QINS_DETAIL_UNROLL
    for (auto& a : acc) a = V::dzero();
    QINS_DETAIL_UNROLL
    for (auto& p : partial) p = V::set1(0.0f);
    std::size_t i = 0;
    while (i + scalar::kSumLanes <= n) {
      // Up to the end of the current block of kSquaresBlock elements, or of the data.
      const std::size_t block_end = (i / scalar::kSquaresBlock + 1) * scalar::kSquaresBlock;
      const std::size_t stop = block_end < n ? block_end : n;
      for (; i + scalar::kSumLanes <= stop; i += scalar::kSumLanes) QINS_DETAIL_UNROLL
      for (std::size_t k = 0; k < kFloatsPerBlock; ++k) {
        auto v = V::load(x + i + k * V::width);
        auto u = decoded_times_alpha_vector<Format>(encode_quantize_vector<Format>(v, va));
        auto e = V::mul(V::fnmadd(u, vinv, v), vscale);  // as reconstruction_error_ref
        partial[k] = V::fmadd(e, e, partial[k]);
      }
      if (i != block_end) break;             // a partial block: the reference finishes it
      typename V::D wide[kDoublesPerBlock];  // as scalar::flush_squares
      QINS_DETAIL_UNROLL
      for (std::size_t k = 0; k < kFloatsPerBlock; ++k) {
        V::widen(partial[k], wide + k * (V::width / V::double_width));
        partial[k] = V::set1(0.0f);
      }
      QINS_DETAIL_UNROLL
      for (std::size_t q = 0; q < kDoublesPerBlock; ++q) acc[q] = V::dadd(acc[q], wide[q]);
    }
    float partial_lanes[scalar::kSumLanes];
    QINS_DETAIL_UNROLL
    for (std::size_t k = 0; k < kFloatsPerBlock; ++k)
      V::store(partial_lanes + k * V::width, partial[k]);
    double lanes[scalar::kSumLanes];
    store_lanes(acc, lanes);
    scalar::add_squared_errors_ref<Format>(x, i, n, alpha, inv_alpha, scale, partial_lanes, lanes);
    scalar::flush_squares(partial_lanes, lanes);
    return scalar::reduce_lanes(lanes);
  }

  static float max_abs(const float* x, std::size_t n) {
    auto m = V::set1(0.0f);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width) m = V::max(m, V::abs(V::load(x + i)));
    const float tail = scalar::max_abs_ref(x + i, n - i), body = V::reduce_max(m);
    return tail > body ? tail : body;
  }

  static void scaled_moments(const float* x, std::size_t n, double scale, double* sums) {
    typename V::D s1[kDoublesPerBlock], s3[kDoublesPerBlock], s4[kDoublesPerBlock],
        y[kDoublesPerBlock];
    QINS_DETAIL_UNROLL
    for (std::size_t q = 0; q < kDoublesPerBlock; ++q) s1[q] = s3[q] = s4[q] = V::dzero();
    const auto vscale = V::dset1(scale);
    std::size_t i = 0;
    for (; i + scalar::kSumLanes <= n; i += scalar::kSumLanes) {
      QINS_DETAIL_UNROLL
      for (std::size_t k = 0; k < kFloatsPerBlock; ++k)
        V::widen(V::abs(V::load(x + i + k * V::width)), y + k * (V::width / V::double_width));
      QINS_DETAIL_UNROLL
      for (std::size_t q = 0; q < kDoublesPerBlock; ++q) {
        auto yq = V::dmul(y[q], vscale), y2 = V::dmul(yq, yq);
        s1[q] = V::dfmadd(y[q], vscale, s1[q]);
        s3[q] = V::dfmadd(y2, yq, s3[q]);
        s4[q] = V::dfmadd(y2, y2, s4[q]);
      }
    }
    scalar::MomentLanes m;
    store_lanes(s1, m.s1);
    store_lanes(s3, m.s3);
    store_lanes(s4, m.s4);
    scalar::add_moments_ref(x, i, n, scale, m);
    sums[0] = scalar::reduce_lanes(m.s1);
    sums[1] = scalar::reduce_lanes(m.s3);
    sums[2] = scalar::reduce_lanes(m.s4);
  }

  // ---- Products with a code matrix ----

  // 1/d of integral-float codes, d = c - M/2: the hardware reciprocal, plus one Newton
  // step where needs_newton_step (its accuracy: below).
  template <class Format>
  static typename V::F fast_reciprocal(typename V::F d) {
    auto r = V::rcp(d);
    if constexpr (needs_newton_step<Format>()) r = V::mul(r, V::fnmadd(d, r, V::set1(2.0f)));
    return r;
  }

  // u(c) = (M/2) / d - sign(d), d = c - M/2 (a half-integer of magnitude 0.5 .. M/2,
  // exact in float), with 1/d from the hardware reciprocal. Its relative error e (AVX2
  // 1.5 * 2^-12, AVX-512 2^-14) costs u at most e M/2 / |d| = e (1 + alpha |w|), a
  // fraction of at most e M/2 of the local code step (the step is (1 + alpha|w|)^2 /
  // (M/2) / alpha): for 8-bit codes 4.7% (AVX2) or 0.8% (AVX-512), so one reciprocal is
  // enough; for 12-bit codes 12.5% on AVX-512, still enough, and 75% on AVX2, which gets
  // one Newton step (error ~2^-22), as 16-bit codes get on both.
  // Takes d = c - M/2, as V::load_centered gives it.
  template <class Format>
  static typename V::F fast_decoded_times_alpha(typename V::F d) {
    const auto half = V::set1(float(Format::max_code) / 2.0f);
    return V::fmadd(half, fast_reciprocal<Format>(d),
                    V::select_by_sign(d, V::set1(1.0f), V::set1(-1.0f)));
  }

  // Prefetching ahead within the rows (one hint per vector and row) measured slower than
  // the hardware prefetcher alone for uint8 (-4% from memory, AVX-512) but, once the
  // 12-bit decode got faster, +5-13% for uint12 (4096 and 11008 x 4096 from memory) and
  // +5% for uint16 on AVX-512 (256 and 768 bytes ahead: +3-5%). AVX2 was not measured
  // faster. gemv_rows asks for each row's first lines in any case.
  static constexpr std::size_t kInRowPrefetchBytes = 512;
  template <class Format>
  static constexpr bool prefetches_in_rows() {
    return V::width == 16 && Format::bytes_per_block > Format::codes_per_block;
  }

  // R consecutive rows of w times B inputs (x + b * ldx), decoding each code once for all
  // B. The closed form is split: sum_j x_j u_j = (M/2) sum_j x_j / d_j - sum_j sign(d_j) x_j,
  // so each vector of weights costs one reciprocal, one FMA, one blend or sign flip (x or
  // -x, by the sign of d: V::signed_by) and one add; M/2 and the scale are applied once
  // per segment. Each row is summed segment by segment (one scale each): vector lanes plus
  // a scalar tail, in an order that does not depend on R or B, so a row's result is the
  // same whichever block it is computed in. Writes y[b * ldy + r].
  template <class Format, std::size_t R, std::size_t B>
  static void gemv_block(const CodeMatrixView<Format>& w, std::size_t r0, const float* x,
                         std::size_t ldx, float* y, std::size_t ldy) {
    const auto half = V::set1(float(Format::max_code) / 2.0f), zero = V::set1(0.0f);
    typename V::F total[R][B];
    float tail_total[R][B];
    const std::byte* rows[R];  // once: GCC otherwise recomputed row(r0 + r) for every load
    QINS_DETAIL_UNROLL
    for (std::size_t r = 0; r < R; ++r) {
      rows[r] = w.row(r0 + r);
      QINS_DETAIL_UNROLL
      for (std::size_t b = 0; b < B; ++b) total[r][b] = zero, tail_total[r][b] = 0.0f;
    }
    for (std::size_t s0 = 0, g = 0; s0 < w.cols; s0 += w.span, ++g) {
      const std::size_t end = s0 + w.span;
      typename V::F over_d[R][B], signed_x[R][B];  // sum x / d, sum sign(d) x
      QINS_DETAIL_UNROLL
      for (std::size_t r = 0; r < R; ++r) QINS_DETAIL_UNROLL
      for (std::size_t b = 0; b < B; ++b) over_d[r][b] = signed_x[r][b] = zero;
      auto step = [&](std::size_t j) {  // one vector of columns
        typename V::F xv[B], minus_x[B];
        QINS_DETAIL_UNROLL
        for (std::size_t b = 0; b < B; ++b)
          xv[b] = V::load(x + b * ldx + j), minus_x[b] = V::sub(zero, xv[b]);
        QINS_DETAIL_UNROLL
        for (std::size_t r = 0; r < R; ++r) {
          if constexpr (prefetches_in_rows<Format>())
            V::prefetch(rows[r] + j * Format::bytes_per_block / Format::codes_per_block +
                        kInRowPrefetchBytes);
          const auto d = V::template load_centered<Format>(rows[r], j);
          const auto inv_d = fast_reciprocal<Format>(d);
          QINS_DETAIL_UNROLL
          for (std::size_t b = 0; b < B; ++b) {
            over_d[r][b] = V::fmadd(xv[b], inv_d, over_d[r][b]);
            signed_x[r][b] = V::add(signed_x[r][b], V::signed_by(d, xv[b], minus_x[b]));
          }
        }
      };
      std::size_t j = s0;
      if constexpr (B == 1) {
        // Unrolled 4 times: measured 2-5% faster with one input, 0-3% slower with 2 or 3.
        _Pragma("GCC unroll 4") for (; j + V::width <= end; j += V::width) step(j);
      } else {
        for (; j + V::width <= end; j += V::width) step(j);
      }
      QINS_DETAIL_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        const float scale = w.scale(r0 + r, g);
        QINS_DETAIL_UNROLL
        for (std::size_t b = 0; b < B; ++b) {
          const auto segment = V::fmsub(half, over_d[r][b], signed_x[r][b]);
          total[r][b] = V::fmadd(segment, V::set1(scale), total[r][b]);
          float tail = 0.0f;
          for (std::size_t jj = j; jj < end; ++jj)
            tail =
                std::fma(x[b * ldx + jj],
                         scalar::decoded_times_alpha_ref<Format, float>(w.code(r0 + r, jj)), tail);
          tail_total[r][b] = std::fma(tail, scale, tail_total[r][b]);
        }
      }
    }
    QINS_DETAIL_UNROLL
    for (std::size_t r = 0; r < R; ++r) QINS_DETAIL_UNROLL
    for (std::size_t b = 0; b < B; ++b)
      y[b * ldy + r] = V::reduce_add(total[r][b]) + tail_total[r][b];
  }

  // Hardware prefetchers stop at 4 KiB pages, so when rows of codes are about a page long
  // the first lines of every row would be demand misses: gemv_rows asks for them two
  // blocks of rows ahead (not for the 1-3 single rows at the end of a matrix). Measured
  // on 4096 x 4096 and 11008 x 4096: +10% for uint8, 0-11% for uint16; +5% with rows of
  // 2 KiB, nothing with shorter rows (the four rows of a block are then one stream) and
  // -3% on a 256 x 256 layer in cache, hence the threshold. Asking for the start of every
  // page a row crosses, or for more lines, was slower.
  static constexpr std::size_t kRowPrefetchMinRowBytes = 2048;
  static constexpr std::size_t kRowPrefetchBytes = 256;
  static constexpr std::size_t kRowPrefetchAhead = 8;
  static constexpr std::size_t kCacheLineBytes = 64;

  template <class Format>
  static void prefetch_row_starts(const CodeMatrixView<Format>& w, std::size_t r0,
                                  std::size_t rows) {
    const std::size_t bytes = w.row_bytes < kRowPrefetchBytes ? w.row_bytes : kRowPrefetchBytes;
    for (std::size_t r = r0; r < r0 + rows; ++r)
      for (std::size_t offset = 0; offset < bytes; offset += kCacheLineBytes)
        V::prefetch(w.row(r) + offset);
  }

  template <class Format, std::size_t B>
  static void gemv_rows(const CodeMatrixView<Format>& w, const float* x, std::size_t ldx, float* y,
                        std::size_t ldy) {
    const bool prefetch = w.row_bytes >= kRowPrefetchMinRowBytes;
    // The rows the loop below would not ask for ahead: callers pass row chunks (64 rows).
    if (prefetch)
      prefetch_row_starts(w, 0, w.rows < kRowPrefetchAhead ? w.rows : kRowPrefetchAhead);
    std::size_t r = 0;
    for (; r + 4 <= w.rows; r += 4) {
      if (prefetch && r + kRowPrefetchAhead + 4 <= w.rows)
        prefetch_row_starts(w, r + kRowPrefetchAhead, 4);
      gemv_block<Format, 4, B>(w, r, x, ldx, y + r, ldy);
    }
    for (; r < w.rows; ++r) gemv_block<Format, 1, B>(w, r, x, ldx, y + r, ldy);
  }

  /// y = W x. Four rows per pass share each load of x.
  template <class Format>
  static void gemv(const CodeMatrixView<Format>& w, const float* x, float* y) {
    gemv_rows<Format, 1>(w, x, 0, y, 0);
  }

  // Y[b][r] += dot(tile row r, X column b) for an R x B block; tile rows hold kb floats.
  template <std::size_t R, std::size_t B>
  static void dot_block(const float* tile, std::size_t kb, const float* x, std::size_t ldx,
                        float* y, std::size_t ldy) {
    typename V::F acc[R][B];
    QINS_DETAIL_UNROLL
    for (auto& row : acc) QINS_DETAIL_UNROLL
    for (auto& a : row) a = V::set1(0.0f);
    std::size_t k = 0;
    for (; k + V::width <= kb; k += V::width) {
      typename V::F xv[B];
      QINS_DETAIL_UNROLL
      for (std::size_t b = 0; b < B; ++b) xv[b] = V::load(x + b * ldx + k);
      QINS_DETAIL_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        const auto wv = V::load(tile + r * kb + k);
        QINS_DETAIL_UNROLL
        for (std::size_t b = 0; b < B; ++b) acc[r][b] = V::fmadd(wv, xv[b], acc[r][b]);
      }
    }
    QINS_DETAIL_UNROLL
    for (std::size_t r = 0; r < R; ++r) QINS_DETAIL_UNROLL
    for (std::size_t b = 0; b < B; ++b) {
      float sum = V::reduce_add(acc[r][b]);
      for (std::size_t kk = k; kk < kb; ++kk)
        sum = std::fma(tile[r * kb + kk], x[b * ldx + kk], sum);
      y[b * ldy + r] += sum;
    }
  }

  static constexpr std::size_t kMinTiledBatch = 4;

  // gemv_rows for B inputs, added into y (gemm accumulates).
  template <class Format, std::size_t B>
  static void add_gemv_rows(const CodeMatrixView<Format>& w, const float* x, std::size_t ldx,
                            float* y, std::size_t ldy) {
    float out[B * 64];
    for (std::size_t r0 = 0; r0 < w.rows; r0 += 64) {
      const std::size_t n = w.rows - r0 < 64 ? w.rows - r0 : 64;
      gemv_rows<Format, B>(w.rows_from(r0, r0 + n), x, ldx, out, 64);
      QINS_DETAIL_UNROLL
      for (std::size_t b = 0; b < B; ++b)
        for (std::size_t r = 0; r < n; ++r) y[b * ldy + r0 + r] += out[b * 64 + r];
    }
  }

  static constexpr std::size_t kTileRows = scalar::kGemmTileRows;
  static constexpr std::size_t kTileCols = scalar::kGemmTileCols;

  /// Y += W X for a batch: each tile of W is decoded once (fast, as in gemv) into `tile`
  /// (scratch of scalar::kGemmScratchFloats floats) and reused by every input of the
  /// batch, 4 rows x 3 inputs per register block. Y must hold zeros (or the bias) on
  /// entry. With `packed` (the inputs as pack_inputs lays them out), the packed product.
  template <class Format>
  static void gemm(const CodeMatrixView<Format>& w, const float* x, std::size_t ldx,
                   std::size_t batch, float* y, std::size_t ldy, float* tile,
                   const float* packed = nullptr) {
    if (packed) return gemm_packed(w, packed, batch, y, ldy, tile);
    if (batch < kMinTiledBatch) {  // too few inputs to pay for a decoded tile
      std::size_t b = 0;
      for (; b + 2 <= batch; b += 2)
        add_gemv_rows<Format, 2>(w, x + b * ldx, ldx, y + b * ldy, ldy);
      if (b < batch) add_gemv_rows<Format, 1>(w, x + b * ldx, ldx, y + b * ldy, ldy);
      return;
    }
    for (std::size_t r0 = 0; r0 < w.rows; r0 += kTileRows) {
      const std::size_t rows = w.rows - r0 < kTileRows ? w.rows - r0 : kTileRows;
      for (std::size_t k0 = 0; k0 < w.cols; k0 += kTileCols) {
        const std::size_t kb = w.cols - k0 < kTileCols ? w.cols - k0 : kTileCols;
        decode_block(w, r0, rows, k0, kb, tile);
        const float* xk = x + k0;
        float* yr = y + r0;
        std::size_t b = 0;
        for (; b + 3 <= batch; b += 3)
          dot_rows<3>(tile, rows, kb, xk + b * ldx, ldx, yr + b * ldy, ldy);
        if (batch - b == 2) dot_rows<2>(tile, rows, kb, xk + b * ldx, ldx, yr + b * ldy, ldy);
        if (batch - b == 1) dot_rows<1>(tile, rows, kb, xk + b * ldx, ldx, yr + b * ldy, ldy);
      }
    }
  }

  // B inputs against every row of a decoded tile, four rows at a time.
  template <std::size_t B>
  static void dot_rows(const float* tile, std::size_t rows, std::size_t kb, const float* x,
                       std::size_t ldx, float* y, std::size_t ldy) {
    std::size_t r = 0;
    for (; r + 4 <= rows; r += 4) dot_block<4, B>(tile + r * kb, kb, x, ldx, y + r, ldy);
    for (; r < rows; ++r) dot_block<1, B>(tile + r * kb, kb, x, ldx, y + r, ldy);
  }

  // ---- Large batches: packed inputs and an outer-product micro-kernel ----
  //
  // From kMinPackedBatch inputs on, the caller packs the batch once per call into panels
  // of kPanelWidth inputs interleaved by column (panel[k * n + i] = value k of input i),
  // and the product runs as BLAS kernels do. For each block of kPackedRows rows and up to
  // kPackedBatch inputs, W is decoded kPackedCols columns at a time (fast, as in gemv);
  // a block of 6 rows x kPanelWidth inputs stays in registers while k runs, each step
  // broadcasting one weight per row against two vectors of inputs (12 FMAs for 8 loads,
  // no horizontal sums); the partial sums go to a small row-major buffer and reach Y once.
  static constexpr std::size_t kPanelWidth = 2 * V::width;
  static constexpr std::size_t kMicroRows = 6;
  static constexpr std::size_t kPackedRows = 4 * kMicroRows;
  static constexpr std::size_t kPackedCols = 256;
  static constexpr std::size_t kPackedBatch = 64;
  static constexpr std::size_t kMinPackedBatch = 8;
  static_assert(kPackedBatch % kPanelWidth == 0, "whole panels per batch block");
  static_assert(kPackedRows * (kPackedCols + kPackedBatch) <= scalar::kGemmScratchFloats,
                "fits the scratch");

  /// Floats pack_inputs writes for this batch, or 0 when the batch is too small to pack.
  static std::size_t packed_inputs_size(std::size_t cols, std::size_t batch) {
    return batch < kMinPackedBatch ? 0 : cols * round_up_to_vector(batch);
  }

  /// Panel q holds inputs [q P, q P + n), P = kPanelWidth, n = P or for the last panel
  /// the rest rounded up to whole vectors (zeros beyond the batch), at xp + q P cols.
  static void pack_inputs(const float* x, std::size_t ldx, std::size_t batch, std::size_t cols,
                          float* xp) {
    for (std::size_t b0 = 0; b0 < batch; b0 += kPanelWidth) {
      const std::size_t n = panel_width(batch, b0);
      float* panel = xp + b0 * cols;
      for (std::size_t i = 0; i < n; ++i) {
        if (b0 + i < batch) {
          const float* in = x + (b0 + i) * ldx;
          for (std::size_t k = 0; k < cols; ++k) panel[k * n + i] = in[k];
        } else {
          for (std::size_t k = 0; k < cols; ++k) panel[k * n + i] = 0.0f;
        }
      }
    }
  }

  static std::size_t round_up_to_vector(std::size_t n) {
    return (n + V::width - 1) / V::width * V::width;
  }
  static std::size_t panel_width(std::size_t batch, std::size_t b0) {
    return batch - b0 >= kPanelWidth ? kPanelWidth : round_up_to_vector(batch - b0);
  }

  // Y += W X from packed inputs; `scratch` holds scalar::kGemmScratchFloats floats.
  template <class Format>
  static void gemm_packed(const CodeMatrixView<Format>& w, const float* xp, std::size_t batch,
                          float* y, std::size_t ldy, float* scratch) {
    float* tile = scratch;                              // kPackedRows x kb weights
    float* sums = scratch + kPackedRows * kPackedCols;  // kPackedRows x nb outputs, row-major
    for (std::size_t nb0 = 0; nb0 < batch; nb0 += kPackedBatch) {
      const std::size_t nb =
          round_up_to_vector(batch - nb0 < kPackedBatch ? batch - nb0 : kPackedBatch);
      for (std::size_t r0 = 0; r0 < w.rows; r0 += kPackedRows) {
        const std::size_t rows = w.rows - r0 < kPackedRows ? w.rows - r0 : kPackedRows;
        std::fill(sums, sums + rows * nb, 0.0f);
        for (std::size_t k0 = 0; k0 < w.cols; k0 += kPackedCols) {
          const std::size_t kb = w.cols - k0 < kPackedCols ? w.cols - k0 : kPackedCols;
          decode_block(w, r0, rows, k0, kb, tile);
          // A panel's kb x kPanelWidth inputs stay in L1 while every row block uses them.
          for (std::size_t b0 = nb0; b0 < nb0 + nb; b0 += kPanelWidth) {
            const std::size_t n = panel_width(batch, b0);
            const float* panel = xp + b0 * w.cols + k0 * n;
            for (std::size_t m0 = 0; m0 < rows; m0 += kMicroRows) {
              const std::size_t m = rows - m0 < kMicroRows ? rows - m0 : kMicroRows;
              float* out = sums + m0 * nb + (b0 - nb0);
              if (n == kPanelWidth)
                micro_rows<2>(m, tile + m0 * kb, kb, panel, out, nb);
              else
                micro_rows<1>(m, tile + m0 * kb, kb, panel, out, nb);
            }
          }
        }
        for (std::size_t r = 0; r < rows; ++r)
          for (std::size_t b = nb0; b < batch && b < nb0 + nb; ++b)
            y[b * ldy + r0 + r] += sums[r * nb + (b - nb0)];
      }
    }
  }

  template <std::size_t NV>
  static void micro_rows(std::size_t rows, const float* tile, std::size_t kb, const float* panel,
                         float* out, std::size_t ldo) {
    static_assert(kMicroRows == 6, "one case per row count");
    switch (rows) {
      case 6:
        return micro_block<6, NV>(tile, kb, panel, out, ldo);
      case 5:
        return micro_block<5, NV>(tile, kb, panel, out, ldo);
      case 4:
        return micro_block<4, NV>(tile, kb, panel, out, ldo);
      case 3:
        return micro_block<3, NV>(tile, kb, panel, out, ldo);
      case 2:
        return micro_block<2, NV>(tile, kb, panel, out, ldo);
      default:
        return micro_block<1, NV>(tile, kb, panel, out, ldo);
    }
  }

  // out[r * ldo + b] += sum_k tile[r * kb + k] panel[k * NV W + b] for R rows and NV vectors of
  // inputs.
  template <std::size_t R, std::size_t NV>
  static void micro_block(const float* tile, std::size_t kb, const float* panel, float* out,
                          std::size_t ldo) {
    typename V::F acc[R][NV];
    QINS_DETAIL_UNROLL
    for (auto& row : acc) QINS_DETAIL_UNROLL
    for (auto& a : row) a = V::set1(0.0f);
    for (std::size_t k = 0; k < kb; ++k) {
      typename V::F xv[NV];
      QINS_DETAIL_UNROLL
      for (std::size_t v = 0; v < NV; ++v) xv[v] = V::load(panel + (k * NV + v) * V::width);
      QINS_DETAIL_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        const auto wv = V::set1(tile[r * kb + k]);
        QINS_DETAIL_UNROLL
        for (std::size_t v = 0; v < NV; ++v) acc[r][v] = V::fmadd(wv, xv[v], acc[r][v]);
      }
    }
    QINS_DETAIL_UNROLL
    for (std::size_t r = 0; r < R; ++r) QINS_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v) {
      float* o = out + r * ldo + v * V::width;
      V::store(o, V::add(V::load(o), acc[r][v]));
    }
  }

  // Weights [k0, k0 + kb) of rows [r0, r0 + rows) into rows x kb floats at out, segment
  // by segment, with the same fast decode as gemv (the tail of a segment exactly). The
  // first segment is found once per block: these runs are short, and a division per row
  // cost as much as decoding the row's 256 weights.
  template <class Format>
  static void decode_block(const CodeMatrixView<Format>& w, std::size_t r0, std::size_t rows,
                           std::size_t k0, std::size_t kb, float* out) {
    const std::size_t g0 = k0 / w.span, stop = k0 + kb;
    for (std::size_t r = 0; r < rows; ++r) {
      const std::byte* codes = w.row(r0 + r);
      float* row_out = out + r * kb;
      for (std::size_t k = k0, g = g0; k < stop; ++g) {
        const std::size_t end = (g + 1) * w.span < stop ? (g + 1) * w.span : stop;
        const float scale = w.scale(r0 + r, g);
        const auto vscale = V::set1(scale);
        for (; k + V::width <= end; k += V::width)
          V::store(
              row_out + (k - k0),
              V::mul(fast_decoded_times_alpha<Format>(V::template load_centered<Format>(codes, k)),
                     vscale));
        for (; k < end; ++k)
          row_out[k - k0] = scalar::dequantize_decode_ref<Format>(Format::load(codes, k), scale);
      }
    }
  }
};

#undef QINS_DETAIL_UNROLL
