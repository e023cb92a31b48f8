// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The AMX path: the avx512vnni kernels, plus the batched uint8 product as tile matrix
// multiplies (AMX-INT8) on the integer form of decode_table.hpp. Per 16 rows and 64
// columns the codes go through the table (two vpermi2b, as in the GEMV) into the low and
// high bytes of P, each a 16 x 64-byte tile; the inputs come split the same way
// (TileInputs). P q = 65536 ph qh + 256 (ph ql + pl qh) + pl ql is four byte products
// (signed x signed, signed x unsigned, unsigned x signed, unsigned x unsigned) summed
// exactly in int32 tiles over a block of columns, then combined in float with the
// block's step, the half-sum term and the row's scale.
// IWYU pragma: private
#pragma once

#include "../../config.hpp"

#if QINS_HAS_AVX512_AMX_KERNELS

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../../code_format.hpp"
#include "../decode_table.hpp"
#include "../kernel_table.hpp"
#include "avx512_vnni.hpp"

#define QINS_DETAIL_TARGET QINS_DETAIL_TARGET_AVX512_AMX
#include "../target_begin.hpp"

namespace qins::detail::avx512_amx {

/// Every avx512vnni kernel, and table_gemm for uint8 codes.
struct Kernels : avx512_vnni::Kernels {
  template <class Format>
  static constexpr bool has_table_gemm() {
    return has_table_gemv<Format>();
  }

  static constexpr std::size_t kRows = 16;  ///< rows per tile
  static constexpr std::size_t kTile = TileInputs::kBytes;

  /// Bytes of scratch table_gemm needs for a batch laid out as `in` (64-byte aligned).
  static std::size_t table_gemm_scratch_bytes(const TileInputs& in) noexcept {
    return 2 * weight_tile_bytes(in)  // the weight tiles of two blocks
           + 3 * kTile                // the three int32 sums, stored
           + in.input_tiles * kRows * TileInputs::kInputs * sizeof(float);  // float sums
  }

  /// Y += W X for uint8 codes through the table t and a batch of inputs laid out by
  /// TileInputs for this layer: output b of row r at y[b * ldy + r], the same result as
  /// scalar::table_gemv_ref of each input up to the order of float sums. The codes of the
  /// next block of 16 rows are decoded while the tiles of the current one multiply.
  static void table_gemm(const CodeMatrixView<Uint8Codes>& w, const Uint8DecodeTable& t,
                         const TileInputs& in, float* y, std::size_t ldy, std::byte* scratch) {
    constexpr std::size_t kCols = TileInputs::kCols, kInputs = TileInputs::kInputs;
    if (w.rows == 0 || in.col_tiles == 0) return;
    TileConfig config;
    _tile_loadconfig(&config);
    const Table table(t);
    const std::size_t steps_per_block = in.block / kCols, block_bytes = weight_tile_bytes(in);
    auto* a = reinterpret_cast<std::int8_t*>(scratch);  // 2 x [step][plane][16 rows x 64]
    auto* c = reinterpret_cast<std::int32_t*>(a + 2 * block_bytes);  // 3 x 16 x 16
    auto* sums = reinterpret_cast<float*>(c + 3 * kRows * kInputs);  // [tile][16 rows][16]
    const std::size_t full_chunks = w.cols / kCols, tail = w.cols % kCols;
    const __mmask64 tail_mask = ~__mmask64(0) >> (kCols - tail) % kCols;
    const std::size_t blocks = (in.col_tiles + steps_per_block - 1) / steps_per_block;
    const std::size_t row_tiles = (w.rows + kRows - 1) / kRows;

    // Block p of the flat sequence (row tile p / blocks, block p % blocks) into buffer p % 2.
    auto decode = [&](std::size_t p) {
      const std::size_t r0 = p / blocks * kRows, s0 = p % blocks * steps_per_block;
      const std::size_t nr = w.rows - r0 < kRows ? w.rows - r0 : kRows;
      const std::size_t s1 =
          s0 + steps_per_block < in.col_tiles ? s0 + steps_per_block : in.col_tiles;
      std::int8_t* buffer = a + p % 2 * block_bytes;
      if (nr < kRows) std::memset(buffer, 0, block_bytes);  // rows past the end
      for (std::size_t s = s0; s < s1; ++s)
        for (std::size_t i = 0; i < nr; ++i) {
          const std::byte* codes = w.row(r0 + i) + s * kCols;
          const __m512i code = s < full_chunks ? _mm512_loadu_si512(codes)
                                               : _mm512_maskz_loadu_epi8(tail_mask, codes);
          __m512i lo, hi;
          decode_bytes(table, code, lo, hi);
          std::int8_t* at = buffer + (s - s0) * 2 * kTile + i * kCols;
          _mm512_store_si512(at, lo);
          _mm512_store_si512(at + kTile, hi);
        }
    };

    decode(0);
    for (std::size_t p = 0; p < row_tiles * blocks; ++p) {
      const std::size_t r0 = p / blocks * kRows, blk = p % blocks;
      const std::size_t nr = w.rows - r0 < kRows ? w.rows - r0 : kRows;
      const std::size_t s0 = blk * steps_per_block;
      const std::size_t s1 =
          s0 + steps_per_block < in.col_tiles ? s0 + steps_per_block : in.col_tiles;
      const std::int8_t* buffer = a + p % 2 * block_bytes;
      if (blk == 0) std::memset(sums, 0, in.input_tiles * kRows * kInputs * sizeof(float));
      // The tile loads read memory the compiler does not see them read.
      __asm__ volatile("" ::: "memory");
      const std::size_t g = s0 * kCols / w.span;
      float row_scale[kRows] = {};
      for (std::size_t i = 0; i < nr; ++i) row_scale[i] = w.scale(r0 + i, g) * t.inv_scale;
      for (std::size_t it = 0; it < in.input_tiles; ++it) {
        _tile_zero(4);
        _tile_zero(5);
        _tile_zero(6);
        for (std::size_t s = s0; s < s1; ++s) {
          const std::int8_t* wa = buffer + (s - s0) * 2 * kTile;
          _tile_loadd(0, wa, kCols);                 // pl
          _tile_loadd(1, wa + kTile, kCols);         // ph
          _tile_loadd(2, in.tile(s, it, 0), kCols);  // ql
          _tile_loadd(3, in.tile(s, it, 1), kCols);  // qh
          _tile_dpbssd(4, 1, 3);                     // ph qh
          _tile_dpbsud(5, 1, 2);                     // ph ql
          _tile_dpbusd(5, 0, 3);                     // pl qh
          _tile_dpbuud(6, 0, 2);                     // pl ql
        }
        // While the tile unit works: the next block's codes, into the other buffer.
        if (it == 0 && p + 1 < row_tiles * blocks) decode(p + 1);
        _tile_stored(4, c, kCols);
        _tile_stored(5, c + kRows * kInputs, kCols);
        _tile_stored(6, c + 2 * kRows * kInputs, kCols);
        const __m512 step = _mm512_loadu_ps(in.steps(blk, it));
        const __m512 half_sum = _mm512_loadu_ps(in.half_sums(blk, it));
        float* out = sums + it * kRows * kInputs;
        for (std::size_t i = 0; i < nr; ++i) {
          const __m512 hh = _mm512_cvtepi32_ps(_mm512_loadu_si512(c + i * kInputs));
          const __m512 mid = _mm512_cvtepi32_ps(_mm512_loadu_si512(c + (kRows + i) * kInputs));
          const __m512 ll = _mm512_cvtepi32_ps(_mm512_loadu_si512(c + (2 * kRows + i) * kInputs));
          const __m512 sum =
              _mm512_add_ps(_mm512_fmadd_ps(hh, _mm512_set1_ps(65536.0f),
                                            _mm512_fmadd_ps(mid, _mm512_set1_ps(256.0f), ll)),
                            half_sum);
          const __m512 scale = _mm512_mul_ps(step, _mm512_set1_ps(row_scale[i]));
          _mm512_storeu_ps(out + i * kInputs,
                           _mm512_fmadd_ps(sum, scale, _mm512_loadu_ps(out + i * kInputs)));
        }
      }
      if (blk + 1 == blocks)  // the row tile is done
        for (std::size_t b = 0; b < in.batch; ++b) {
          const float* from = sums + (b / kInputs) * kRows * kInputs + b % kInputs;
          for (std::size_t i = 0; i < nr; ++i) y[b * ldy + r0 + i] += from[i * kInputs];
        }
    }
    _tile_release();
  }

 private:
  static std::size_t weight_tile_bytes(const TileInputs& in) noexcept {
    return (in.block / TileInputs::kCols) * 2 * kTile;  // [step][plane] tiles of 16 rows
  }

  // Palette 1, all eight tiles 16 rows x 64 bytes.
  struct alignas(64) TileConfig {
    std::uint8_t palette = 1, start_row = 0;
    std::uint8_t reserved[14] = {};
    std::uint16_t bytes_per_row[16] = {64, 64, 64, 64, 64, 64, 64, 64};
    std::uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
  };
  static_assert(sizeof(TileConfig) == 64, "the LDTILECFG layout");
};

}  // namespace qins::detail::avx512_amx

namespace qins::detail {
template <>
struct KernelTable<Isa::avx512_amx> {
  using type = avx512_amx::Kernels;
};
}  // namespace qins::detail

#include "../target_end.hpp"

#endif  // QINS_HAS_AVX512_AMX_KERNELS
