// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The AVX-512 VBMI + VNNI path: the avx512 kernels, plus the uint8 GEMV in integers
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

  /// y = W x for uint8 codes through the table t and inputs rounded by in.round() for
  /// this layer's columns and segments: the same result as scalar::table_gemv_ref up to
  /// the order of the float sums. One row per pass (measured faster than 2 or 4 here:
  /// see bench/README.md); the first lines of the rows ahead are prefetched, as in gemv.
  static void table_gemv(const CodeMatrixView<Uint8Codes>& w, const Uint8DecodeTable& t,
                         const RoundedInputs& in, float* y) {
    const __m512i lo0 = _mm512_loadu_si512(t.lo), lo1 = _mm512_loadu_si512(t.lo + 64);
    const __m512i hi0 = _mm512_loadu_si512(t.hi), hi1 = _mm512_loadu_si512(t.hi + 64);
    constexpr std::size_t kChunk = RoundedInputs::kChunk;
    const std::size_t chunks_per_block = in.block / kChunk;
    const std::size_t tail = w.cols % kChunk;  // only with one segment per row
    const __mmask64 tail_mask = tail ? (~__mmask64(0) >> (kChunk - tail)) : ~__mmask64(0);
    const std::size_t full_chunks = w.cols / kChunk;
    const bool prefetch = w.row_bytes >= kRowPrefetchMinRowBytes;
    const std::int16_t* q = in.q.data();

    for (std::size_t r = 0; r < w.rows; ++r) {
      if (prefetch && r + kRowPrefetchAhead < w.rows)
        prefetch_row_starts(w, r + kRowPrefetchAhead, 1);
      const std::byte* row = w.row(r);
      __m512 total = _mm512_setzero_ps();
      float corrections = 0;
      std::size_t chunk = 0, block = 0;
      for (std::size_t s0 = 0, g = 0; s0 < w.cols; s0 += w.span, ++g) {
        const std::size_t segment_chunks =
            (std::min(s0 + w.span, w.cols) - s0 + kChunk - 1) / kChunk;
        const std::size_t segment_end = chunk + segment_chunks;
        __m512 segment = _mm512_setzero_ps();
        for (; chunk < segment_end; ++block) {
          const std::size_t block_end = std::min(chunk + chunks_per_block, segment_end);
          __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
          for (; chunk < block_end; ++chunk) {
            const __m512i c = chunk < full_chunks
                                  ? _mm512_loadu_si512(row + chunk * kChunk)
                                  : _mm512_maskz_loadu_epi8(tail_mask, row + chunk * kChunk);
            // Codes from 128 on read entry 255 - c with every bit flipped (decode_table.hpp).
            const __m512i flip = _mm512_movm_epi8(_mm512_movepi8_mask(c));
            const __m512i index = _mm512_xor_si512(c, flip);
            const __m512i lo = _mm512_xor_si512(_mm512_permutex2var_epi8(lo0, index, lo1), flip);
            const __m512i hi = _mm512_xor_si512(_mm512_permutex2var_epi8(hi0, index, hi1), flip);
            const std::int16_t* qc = q + chunk * kChunk;
            acc0 = _mm512_dpwssd_epi32(acc0, _mm512_unpacklo_epi8(lo, hi), _mm512_loadu_si512(qc));
            acc1 = _mm512_dpwssd_epi32(acc1, _mm512_unpackhi_epi8(lo, hi),
                                       _mm512_loadu_si512(qc + 32));
          }
          segment = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc0, acc1)),
                                    _mm512_set1_ps(in.step[block]), segment);
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
