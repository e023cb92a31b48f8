// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The AVX-512 kernels: the 512-bit wrapper `V`, then the shared kernel bodies.
// IWYU pragma: private
#pragma once

#include "../../config.hpp"

#if QINS_HAS_AVX512_KERNELS

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../code_format.hpp"
#include "../kernel_table.hpp"
#include "scalar.hpp"

#define QINS_DETAIL_TARGET QINS_DETAIL_TARGET_AVX512
#include "../target_begin.hpp"

namespace qins::detail::avx512 {

#include "packed12.inl"

/// Sixteen float lanes; comparison results are kept as vectors (all-ones lanes) so the
/// kernel bodies read the same as for AVX2.
struct V {
  using F = __m512;
  static constexpr std::size_t width = 16;
  /// Capabilities the kernel bodies may branch on with if constexpr.
  static constexpr bool has_byte_permute = false;  ///< F/BW/VL/DQ only: no vpermi2b (VBMI)
  /// Relative error of rcp() (rcp14: |error| <= 2^-14).
  static constexpr double rcp_error = 0x1p-14;

  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  /// Non-temporal store; p aligned to the vector size. Follow a run of them with
  /// detail::finish_streaming().
  static void stream(float* p, F v) { _mm512_stream_ps(p, v); }
  /// Asks for the cache line holding p, a pointer into a live object (the hint itself never
  /// faults).
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a b
  static F fmsub(F a, F b, F c) { return _mm512_fmsub_ps(a, b, c); }    // a b - c
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F sign_bit() { return _mm512_set1_ps(-0.0f); }
  static F abs(F v) { return _mm512_andnot_ps(sign_bit(), v); }
  static F less_than_zero(F v) {
    __mmask16 m = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_castsi512_ps(_mm512_movm_epi32(m));
  }
  static F select(F mask, F if_true, F if_false) {
    __mmask16 m = _mm512_movepi32_mask(_mm512_castps_si512(mask));
    return _mm512_mask_blend_ps(m, if_false, if_true);
  }
  static F negate_if(F v, F mask) { return _mm512_xor_ps(v, _mm512_and_ps(mask, sign_bit())); }
  static F copy_sign(F magnitude, F sign_source) {
    return _mm512_or_ps(magnitude, _mm512_and_ps(sign_source, sign_bit()));
  }
  static F round_even(F v) {
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static bool any_non_finite(F v) {
    const __m512i exponent = _mm512_set1_epi32(0x7f800000);
    __m512i e = _mm512_and_si512(_mm512_castps_si512(v), exponent);
    return _mm512_cmpeq_epi32_mask(e, exponent) != 0;
  }

  /// Codes i .. i + 15 of the code array at `codes`, widened to float.
  template <class Format>
  static F load_codes(const std::byte* codes, std::size_t i) {
    if constexpr (Format::codes_per_block == 2) {  // 12-bit: 24 bytes, or 26 from odd i
      const bool odd = i % 2;
      const __m256i raw = _mm256_maskz_loadu_epi8(odd ? 0x3ffffff : 0xffffff, codes + i / 2 * 3);
      // Bytes 0 .. 15 to the low half, 12 .. 27 to the high: 8 codes' bytes in each.
      const __m256i halves =
          _mm256_permutevar8x32_epi32(raw, _mm256_setr_epi32(0, 1, 2, 3, 3, 4, 5, 6));
      const __m256i words =
          _mm256_shuffle_epi8(halves, _mm256_broadcastsi128_si256(Packed12::word_control(odd)));
      const __m256i shift = odd ? _mm256_set1_epi32(4) : _mm256_set1_epi32(4 << 16);
      const __m256i c = _mm256_and_si256(_mm256_srlv_epi16(words, shift), _mm256_set1_epi16(0xfff));
      return _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(c));
    } else if constexpr (Format::bytes_per_block == 1) {
      __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i));
      return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c));
    } else {
      static_assert(Format::bytes_per_block == 2, "uint8, uint12 and uint16 codes");
      __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 2 * i));
      return _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(c));
    }
  }
  /// Codes i .. i + 15 minus M/2 (the products' d, a half-integer), as float.
  template <class Format>
  static F load_centered(const std::byte* codes, std::size_t i) {
    if constexpr (Format::codes_per_block == 2) {
      return centered12(codes, i);
    } else {
      return sub(load_codes<Format>(codes, i), set1(float(Format::max_code) / 2.0f));
    }
  }
  // 12-bit codes minus M/2 without an integer conversion or shift: each code's two bytes go
  // into a float's mantissa under a fixed exponent, an even code's to bits 8 .. 19 under
  // 2^15 and an odd code's (its 12 bits start at bit 4 of its bytes) to bits 4 .. 15 under
  // 2^19, a unit of 1 either way; one exact subtraction of 2^15 + M/2 or 2^19 + M/2 then
  // leaves d. Per 16 codes: a load, vpermd, vpshufb, vpternlogd, vsubps.
  static F centered12(const std::byte* codes, std::size_t i) {
    const bool odd = i % 2;
    const std::size_t first = i / 2 * 3;  // the block of code i
    // Lane L gets the 16 bytes from dword 0, 1, 3 or 4 of that block: those of codes
    // i + 4 L .. i + 4 L + 3 (6 bytes, 7 from odd i). Per lane, the dword of each code:
    // bytes (lo, hi) of an even code as bytes 1, 2, of an odd one as bytes 0, 1 (the same
    // for lanes 0, 2 and for lanes 1, 3).
    __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 1, 2, 3, 4, 3, 4, 5, 6, 4, 5, 6, 7);
    __m512i control =
        odd ? _mm512_broadcast_i64x4(_mm256_setr_epi32(
                  int(0x80800201), int(0x80040380), int(0x80800504), int(0x80070680),
                  int(0x80800403), int(0x80060580), int(0x80800706), int(0x80090880)))
            : _mm512_broadcast_i64x4(_mm256_setr_epi32(
                  int(0x80010080), int(0x80800201), int(0x80040380), int(0x80800504),
                  int(0x80030280), int(0x80800403), int(0x80060580), int(0x80800706)));
    // A masked load costs an extra uop: where the array has 8 (6 from odd i) bytes before
    // the block, load the 32 bytes that end with the last code's block instead (24 or 26
    // bytes from `first`), shifting the dwords by 2 (by 1, and the bytes by 2 more).
    const std::size_t back = odd ? 6 : 8;
    __m256i raw;
    if (first >= back) {
      raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + first - back));
      index = _mm512_add_epi32(index, _mm512_set1_epi32(odd ? 1 : 2));
      if (odd) control = _mm512_add_epi8(control, _mm512_set1_epi8(2));  // 0x80 stays zero
    } else {
      raw = _mm256_maskz_loadu_epi8(odd ? 0x3ffffff : 0xffffff, codes + first);
    }
    // index never picks the upper, undefined half of the cast (a zero-extension cost a
    // vmovdqa).
    const __m512i bytes =
        _mm512_shuffle_epi8(_mm512_permutexvar_epi32(index, _mm512_castsi256_si512(raw)), control);
    // Lane k holds an even code where k + i is even.
    constexpr std::int64_t even_mask = 0x0000fff0000fff00, even_exponent = 0x4900000047000000;
    const __m512i mask = _mm512_set1_epi64(
        odd ? std::int64_t(std::uint64_t(even_mask) << 32 | std::uint64_t(even_mask) >> 32)
            : even_mask);
    const __m512i exponent = _mm512_set1_epi64(
        odd ? std::int64_t(std::uint64_t(even_exponent) << 32 | std::uint64_t(even_exponent) >> 32)
            : even_exponent);
    constexpr float half = float(Uint12Codes::max_code) / 2.0f, even_offset = 0x1p15f + half,
                    odd_offset = 0x1p19f + half;
    const F offset = odd ? _mm512_setr4_ps(odd_offset, even_offset, odd_offset, even_offset)
                         : _mm512_setr4_ps(even_offset, odd_offset, even_offset, odd_offset);
    // (bytes & mask) | exponent
    const __m512i bits = _mm512_ternarylogic_epi32(bytes, mask, exponent, 0xea);
    return _mm512_sub_ps(_mm512_castsi512_ps(bits), offset);
  }
  /// Stores sixteen integral floats already clamped to [0, M] as codes i .. i + 15.
  template <class Format>
  static void store_codes(std::byte* codes, std::size_t i, F v) {
    __m512i n = _mm512_cvtps_epi32(v);
    if constexpr (Format::codes_per_block == 2) {  // 12-bit: 8 whole blocks from even i
      if (i % 2) {  // the first code shares a byte with the code before it
        alignas(64) std::int32_t c[16];
        _mm512_store_si512(c, n);
        for (std::size_t k = 0; k < 16; ++k) Format::store(codes, i + k, std::uint32_t(c[k]));
        return;
      }
      std::byte* p = codes + i / 2 * 3;
      const __m512i pairs = _mm512_or_si512(_mm512_and_si512(n, _mm512_set1_epi64(0xffffffff)),
                                            _mm512_slli_epi64(_mm512_srli_epi64(n, 32), 12));
      _mm_mask_storeu_epi8(p, 0x3f, Packed12::pack_six(_mm512_castsi512_si128(pairs)));
      _mm_mask_storeu_epi8(p + 6, 0x3f, Packed12::pack_six(_mm512_extracti32x4_epi32(pairs, 1)));
      _mm_mask_storeu_epi8(p + 12, 0x3f, Packed12::pack_six(_mm512_extracti32x4_epi32(pairs, 2)));
      _mm_mask_storeu_epi8(p + 18, 0x3f, Packed12::pack_six(_mm512_extracti32x4_epi32(pairs, 3)));
    } else if constexpr (Format::bytes_per_block == 1) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + i), _mm512_cvtepi32_epi8(n));
    } else {
      static_assert(Format::bytes_per_block == 2, "uint8, uint12 and uint16 codes");
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + 2 * i), _mm512_cvtepi32_epi16(n));
    }
  }

  /// Eight double lanes, for the sums that must not depend on the path (see
  /// scalar::kSumLanes). widen() splits sixteen floats into two of them, in order.
  using D = __m512d;
  static constexpr std::size_t double_width = 8;
  static D dzero() { return _mm512_setzero_pd(); }
  static D dset1(double v) { return _mm512_set1_pd(v); }
  static D dadd(D a, D b) { return _mm512_add_pd(a, b); }
  static D dmul(D a, D b) { return _mm512_mul_pd(a, b); }
  static D dfmadd(D a, D b, D c) { return _mm512_fmadd_pd(a, b, c); }
  static void dstore(double* p, D v) { _mm512_storeu_pd(p, v); }
  static void widen(F v, D* out) {
    out[0] = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    out[1] = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
  }
  static float reduce_max(F v) { return _mm512_reduce_max_ps(v); }
  /// About 14 correct bits.
  static F rcp(F v) { return _mm512_rcp14_ps(v); }
  static F select_by_sign(F selector, F negative, F positive) {
    return _mm512_mask_blend_ps(_mm512_movepi32_mask(_mm512_castps_si512(selector)), positive,
                                negative);
  }
  /// x where s >= 0 (its sign bit clear), -x where s < 0, given minus_x = -x: x's sign bit
  /// flipped by s's in one ternary-logic op (minus_x is not needed).
  static F signed_by(F s, F x, F /*minus_x*/) {
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        _mm512_castps_si512(x), _mm512_castps_si512(s), _mm512_set1_epi32(INT32_MIN), 0x78));
  }
  static float reduce_add(F v) { return _mm512_reduce_add_ps(v); }
};

#include "simd_body.inl"

}  // namespace qins::detail::avx512

namespace qins::detail {
template <>
struct KernelTable<Isa::avx512> {
  using type = avx512::Kernels;
};
}  // namespace qins::detail

#include "../target_end.hpp"

#endif  // QINS_HAS_AVX512_KERNELS
