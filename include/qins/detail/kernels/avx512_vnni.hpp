// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The AVX-512 VBMI + VNNI (+ GFNI) path: the avx512 kernels, plus the uint8 GEMV in integers
// (decode_table.hpp): per 64 codes, two vpermi2b look-ups of the table's byte planes, an
// unpack to 16-bit entries and two vpdpwssd against the rounded inputs.
// IWYU pragma: private
#pragma once

#include "../../config.hpp"

#if QINS_HAS_AVX512_VNNI_KERNELS

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "../../code_format.hpp"
#include "../decode_table.hpp"
#include "../kernel_table.hpp"
#include "avx512.hpp"
#include "scalar.hpp"

#define QINS_DETAIL_TARGET QINS_DETAIL_TARGET_AVX512_VNNI
#include "../target_begin.hpp"

namespace qins::detail::avx512_vnni {

/// Every avx512 kernel, and table_gemv for uint8 codes.
struct Kernels : avx512::Kernels {
  /// The look-up works on whole 64-code chunks: the table GEMV applies to uint8 codes.
  template <class Format>
  static constexpr bool has_table_gemv() {
    return Format::bits == 8 && Format::codes_per_block == 1;
  }

  // The 64 codes of c through the table: two 16-bit entry vectors, in the order
  // RoundedInputs lays out q (the unpack's order), added as P q into acc0 and acc1.
  struct Table {
    __m512i lo0, lo1, hi0, hi1;
    explicit Table(const Uint8DecodeTable& t)
        : lo0(_mm512_loadu_si512(t.lo)),
          lo1(_mm512_loadu_si512(t.lo + 64)),
          hi0(_mm512_loadu_si512(t.hi)),
          hi1(_mm512_loadu_si512(t.hi + 64)) {}
  };
  // The low and high bytes of the table entries P of the 64 codes of c, in code order.
  static void decode_bytes(const Table& t, __m512i c, __m512i& lo, __m512i& hi) {
    // 0xff in the bytes of codes from 128 on (bit 7 to every bit: one GF(2) affine map).
    // Those codes read entry 255 - c (its low 7 bits are those of c ^ 0xff) with every bit
    // flipped (decode_table.hpp); vpermi2b ignores bit 7 of the index.
    const __m512i flip =
        _mm512_gf2p8affine_epi64_epi8(c, _mm512_set1_epi64(std::int64_t(0x8080808080808080)), 0);
    const __m512i index = _mm512_xor_si512(c, flip);
    lo = _mm512_xor_si512(_mm512_permutex2var_epi8(t.lo0, index, t.lo1), flip);
    hi = _mm512_xor_si512(_mm512_permutex2var_epi8(t.hi0, index, t.hi1), flip);
  }
  static void dot_chunk(const Table& t, __m512i c, const std::int16_t* q, __m512i& acc0,
                        __m512i& acc1) {
    __m512i lo, hi;
    decode_bytes(t, c, lo, hi);
    acc0 = _mm512_dpwssd_epi32(acc0, _mm512_unpacklo_epi8(lo, hi), _mm512_load_si512(q));
    acc1 = _mm512_dpwssd_epi32(acc1, _mm512_unpackhi_epi8(lo, hi), _mm512_load_si512(q + 32));
  }

  // Software prefetch of the code stream this far ahead (one 4 KiB row of a 4096-column
  // layer): measured +15-40% from memory over the hardware prefetchers alone, which stop
  // at page boundaries (bench/README.md). Past the end of the codes it is only a hint.
  static constexpr std::size_t kStreamPrefetchBytes = 4096;

  /// y = W x for uint8 codes through the table t and inputs rounded by in.round() for
  /// this layer's columns and segments: the same result as scalar::table_gemv_ref up to
  /// the order of the float sums. One row per pass.
  static void table_gemv(const CodeMatrixView<Uint8Codes>& w, const Uint8DecodeTable& t,
                         const RoundedInputs& in, float* y) {
    const Table table(t);
    constexpr std::size_t kChunk = RoundedInputs::kChunk;
    const std::size_t chunks_per_block = in.block / kChunk;
    // A partial last chunk (only with one segment per row) is loaded under a mask.
    const std::size_t tail = w.cols % kChunk, full_chunks = w.cols / kChunk;
    const __mmask64 tail_mask = ~__mmask64(0) >> (kChunk - tail) % kChunk;
    const std::int16_t* q = in.q.data();

    for (std::size_t r = 0; r < w.rows; ++r) {
      const std::byte* row = w.row(r);
      __m512 total = _mm512_setzero_ps();
      float corrections = 0;
      std::size_t chunk = 0, block = 0;
      for (std::size_t s0 = 0, g = 0; s0 < w.cols; s0 += w.span, ++g) {
        const std::size_t segment_end = std::min(full_chunks, (s0 + w.span) / kChunk);
        __m512 segment = _mm512_setzero_ps();
        auto add_block = [&](__m512i acc0, __m512i acc1) {
          segment = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc0, acc1)),
                                    _mm512_set1_ps(in.step[block++]), segment);
        };
        for (; chunk + chunks_per_block <= segment_end;) {  // whole blocks
          __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
          const std::byte* p = row + chunk * kChunk;
          if (chunks_per_block == 4) {
            // Two pairs of accumulators: vpdpwssd's latency (5 cycles) would otherwise bound
            // each chunk.
            __m512i acc2 = _mm512_setzero_si512(), acc3 = _mm512_setzero_si512();
            const char* ahead = reinterpret_cast<const char*>(p) + kStreamPrefetchBytes;
            _mm_prefetch(ahead, _MM_HINT_T0);
            _mm_prefetch(ahead + 64, _MM_HINT_T0);
            dot_chunk(table, _mm512_loadu_si512(p), q + chunk * kChunk, acc0, acc1);
            dot_chunk(table, _mm512_loadu_si512(p + kChunk), q + (chunk + 1) * kChunk, acc2, acc3);
            _mm_prefetch(ahead + 128, _MM_HINT_T0);
            _mm_prefetch(ahead + 192, _MM_HINT_T0);
            dot_chunk(table, _mm512_loadu_si512(p + 2 * kChunk), q + (chunk + 2) * kChunk, acc0,
                      acc1);
            dot_chunk(table, _mm512_loadu_si512(p + 3 * kChunk), q + (chunk + 3) * kChunk, acc2,
                      acc3);
            acc0 = _mm512_add_epi32(acc0, acc2);
            acc1 = _mm512_add_epi32(acc1, acc3);
          } else {
            for (std::size_t k = 0; k < chunks_per_block; ++k) {
              _mm_prefetch(reinterpret_cast<const char*>(p + k * kChunk) + kStreamPrefetchBytes,
                           _MM_HINT_T0);
              dot_chunk(table, _mm512_loadu_si512(p + k * kChunk), q + (chunk + k) * kChunk, acc0,
                        acc1);
            }
          }
          chunk += chunks_per_block;
          add_block(acc0, acc1);
        }
        if (chunk < segment_end || (tail && s0 + w.span >= w.cols)) {  // the last, partial block
          __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
          for (; chunk < segment_end; ++chunk)
            dot_chunk(table, _mm512_loadu_si512(row + chunk * kChunk), q + chunk * kChunk, acc0,
                      acc1);
          if (tail) {
            dot_chunk(table, _mm512_maskz_loadu_epi8(tail_mask, row + chunk * kChunk),
                      q + chunk * kChunk, acc0, acc1);
            ++chunk;
          }
          add_block(acc0, acc1);
        }
        const float scale = w.scale(r, g) * t.inv_scale;
        total = _mm512_fmadd_ps(segment, _mm512_set1_ps(scale), total);
        corrections = std::fma(in.correction[g], scale, corrections);
      }
      y[r] = _mm512_reduce_add_ps(total) + corrections;
    }
  }
};

}  // namespace qins::detail::avx512_vnni

namespace qins::detail {
template <>
struct KernelTable<Isa::avx512_vnni> {
  using type = avx512_vnni::Kernels;
};
}  // namespace qins::detail

#include "../target_end.hpp"

#endif  // QINS_HAS_AVX512_VNNI_KERNELS
