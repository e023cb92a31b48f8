// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// 12-bit packed codes (Uint12Codes in code_format.hpp) in 128-bit registers: the byte
// shuffles both x86 paths share. Codes 2k and 2k + 1 are bytes 3k .. 3k + 2.
// IWYU pragma: private
//
// No include guard on purpose: avx2.hpp and avx512.hpp each include this file inside their
// own namespace and target region (SSSE3 is part of both).

struct Packed12 {
  /// The pshufb control that takes, from 16 bytes starting at the block of the first code,
  /// the 16-bit word holding each of 8 consecutive codes: bytes 3t + q and 3t + q + 1 for
  /// the code at block t, parity q (odd: the first code is the upper one of its block). A
  /// word still needs a right shift by 4 q and the mask 0xfff.
  static __m128i word_control(bool odd) {
    return odd ? _mm_setr_epi8(1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11, 12, 13)
               : _mm_setr_epi8(0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11);
  }
  static __m128i words(__m128i bytes, bool odd) {
    return _mm_shuffle_epi8(bytes, word_control(odd));
  }
  /// Bytes a 12-bit vector load needs past the block of its first code, for n codes.
  static constexpr std::size_t bytes_for(std::size_t n, bool odd) { return n / 2 * 3 + 2 * odd; }
  /// Two 64-bit lanes, each c0 | c1 << 12 (two codes), to their 6 bytes, first in the
  /// register (the other 10 bytes zero).
  static __m128i pack_six(__m128i pairs) {
    return _mm_shuffle_epi8(
        pairs, _mm_setr_epi8(0, 1, 2, 8, 9, 10, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
  }
};
