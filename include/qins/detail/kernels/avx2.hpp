// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The AVX2 + FMA kernels: the 256-bit wrapper `V`, then the shared kernel bodies.
// IWYU pragma: private
#pragma once

#include "../../config.hpp"

#if QINS_HAS_AVX2_KERNELS

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../../code_format.hpp"
#include "../kernel_table.hpp"
#include "scalar.hpp"

#define QINS_DETAIL_TARGET QINS_DETAIL_TARGET_AVX2
#include "../target_begin.hpp"

namespace qins::detail::avx2 {

#include "packed12.inl"

/// Eight float lanes. Constants are built inside functions, never at namespace scope,
/// so nothing runs AVX instructions before the CPU check.
struct V {
  using F = __m256;
  static constexpr std::size_t width = 8;
  /// Capabilities the kernel bodies may branch on with if constexpr.
  static constexpr bool has_byte_permute = false;  ///< no 64-byte table look-ups (vpermi2b)
  /// Relative error of rcp() (Intel: |error| <= 1.5 * 2^-12).
  static constexpr double rcp_error = 1.5 * 0x1p-12;

  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  /// Non-temporal store; p aligned to the vector size. Follow a run of them with
  /// detail::finish_streaming().
  static void stream(float* p, F v) { _mm256_stream_ps(p, v); }
  /// Asks for the cache line holding p, a pointer into a live object (the hint itself never
  /// faults).
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F fnmadd(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a b
  static F fmsub(F a, F b, F c) { return _mm256_fmsub_ps(a, b, c); }    // a b - c
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F sign_bit() { return _mm256_set1_ps(-0.0f); }
  static F abs(F v) { return _mm256_andnot_ps(sign_bit(), v); }
  static F less_than_zero(F v) { return _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ); }
  static F select(F mask, F if_true, F if_false) {
    return _mm256_blendv_ps(if_false, if_true, mask);
  }
  static F negate_if(F v, F mask) { return _mm256_xor_ps(v, _mm256_and_ps(mask, sign_bit())); }
  static F copy_sign(F magnitude, F sign_source) {
    return _mm256_or_ps(magnitude, _mm256_and_ps(sign_source, sign_bit()));
  }
  static F round_even(F v) {
    return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static bool any_non_finite(F v) {
    const __m256i exponent = _mm256_set1_epi32(0x7f800000);
    __m256i e = _mm256_and_si256(_mm256_castps_si256(v), exponent);
    return _mm256_movemask_epi8(_mm256_cmpeq_epi32(e, exponent)) != 0;
  }

  /// Codes i .. i + 7 of the code array at `codes`, widened to float.
  template <class Format>
  static F load_codes(const std::byte* codes, std::size_t i) {
    if constexpr (Format::codes_per_block == 2) {  // 12-bit: 12 bytes, or 14 from odd i
      const bool odd = i % 2;
      const std::byte* p = codes + i / 2 * 3;
      __m128i bytes;
      if (!odd) {  // three whole dwords, nothing read past them
        bytes = _mm_maskload_epi32(reinterpret_cast<const int*>(p), _mm_setr_epi32(-1, -1, -1, 0));
      } else {
        alignas(16) std::byte b[16] = {};
        std::memcpy(b, p, Packed12::bytes_for(8, true));
        bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(b));
      }
      const __m256i words = _mm256_cvtepu16_epi32(Packed12::words(bytes, odd));
      const __m256i shift = odd ? _mm256_set1_epi64x(4) : _mm256_set1_epi64x(std::int64_t(4) << 32);
      return _mm256_cvtepi32_ps(
          _mm256_and_si256(_mm256_srlv_epi32(words, shift), _mm256_set1_epi32(0xfff)));
    } else if constexpr (Format::bytes_per_block == 1) {
      const std::byte* p = codes + i;
      __m128i c = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
      return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c));
    } else {
      static_assert(Format::bytes_per_block == 2, "uint8, uint12 and uint16 codes");
      const std::byte* p = codes + 2 * i;
      __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      return _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(c));
    }
  }
  /// Codes i .. i + 7 minus M/2 (the products' d, a half-integer), as float.
  template <class Format>
  static F load_centered(const std::byte* codes, std::size_t i) {
    return sub(load_codes<Format>(codes, i), set1(float(Format::max_code) / 2.0f));
  }
  /// Stores eight integral floats already clamped to [0, M] as codes i .. i + 7.
  template <class Format>
  static void store_codes(std::byte* codes, std::size_t i, F v) {
    __m256i n = _mm256_cvtps_epi32(v);
    if constexpr (Format::codes_per_block == 2) {  // 12-bit: 4 whole blocks from even i
      if (i % 2) {  // the first code shares a byte with the code before it
        alignas(32) std::int32_t c[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(c), n);
        for (std::size_t k = 0; k < 8; ++k) Format::store(codes, i + k, std::uint32_t(c[k]));
        return;
      }
      const __m256i pairs = _mm256_or_si256(_mm256_and_si256(n, _mm256_set1_epi64x(0xffffffff)),
                                            _mm256_slli_epi64(_mm256_srli_epi64(n, 32), 12));
      const __m128i bytes =
          _mm_or_si128(Packed12::pack_six(_mm256_castsi256_si128(pairs)),
                       _mm_slli_si128(Packed12::pack_six(_mm256_extracti128_si256(pairs, 1)), 6));
      _mm_maskstore_epi32(reinterpret_cast<int*>(codes + i / 2 * 3), _mm_setr_epi32(-1, -1, -1, 0),
                          bytes);
    } else {
      static_assert(Format::codes_per_block == 1, "whole-element formats");
      std::byte* p = codes + i * Format::bytes_per_block;
      __m128i u16 = _mm_packus_epi32(_mm256_castsi256_si128(n), _mm256_extracti128_si256(n, 1));
      if constexpr (Format::bytes_per_block == 1) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(u16, u16));
      } else {
        static_assert(Format::bytes_per_block == 2, "uint8, uint12 and uint16 codes");
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), u16);
      }
    }
  }

  /// Four double lanes, for the sums that must not depend on the path (see
  /// scalar::kSumLanes). widen() splits eight floats into two of them, in order.
  using D = __m256d;
  static constexpr std::size_t double_width = 4;
  static D dzero() { return _mm256_setzero_pd(); }
  static D dset1(double v) { return _mm256_set1_pd(v); }
  static D dadd(D a, D b) { return _mm256_add_pd(a, b); }
  static D dmul(D a, D b) { return _mm256_mul_pd(a, b); }
  static D dfmadd(D a, D b, D c) { return _mm256_fmadd_pd(a, b, c); }
  static void dstore(double* p, D v) { _mm256_storeu_pd(p, v); }
  static void widen(F v, D* out) {
    out[0] = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    out[1] = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
  }
  /// About 12 correct bits.
  static F rcp(F v) { return _mm256_rcp_ps(v); }
  /// Lanes of `negative` where the sign bit of `selector` is set, else of `positive`.
  static F select_by_sign(F selector, F negative, F positive) {
    return _mm256_blendv_ps(positive, negative, selector);
  }
  /// x where s >= 0 (its sign bit clear), -x where s < 0, given minus_x = -x.
  static F signed_by(F s, F x, F minus_x) { return select_by_sign(s, minus_x, x); }
  static float reduce_add(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float reduce_max(F v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
};

#include "simd_body.inl"

}  // namespace qins::detail::avx2

namespace qins::detail {
template <>
struct KernelTable<Isa::avx2> {
  using type = avx2::Kernels;
};
}  // namespace qins::detail

#include "../target_end.hpp"

#endif  // QINS_HAS_AVX2_KERNELS
