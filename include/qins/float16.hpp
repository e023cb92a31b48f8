// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// IEEE half precision (float16) and bfloat16 <-> float32, bit-exact and portable.
//
// Both narrowings round to nearest, ties to even, whatever the floating-point environment
// (they are integer code); overflow gives infinity; NaN stays NaN (quiet, sign kept).
// The widenings are exact. Used for the float16 / bfloat16 weights of checkpoints and for
// the baselines the validation compares QINS with.
#pragma once

#include <cstdint>
#include <cstring>

namespace qins {

namespace detail {
inline std::uint32_t float_bits(float f) noexcept {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float bits_float(std::uint32_t u) noexcept {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace detail

/// The float32 value of an IEEE 754 binary16 bit pattern (exact; subnormals included).
inline float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f)
    return detail::bits_float(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  if (exponent != 0) return detail::bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0) return detail::bits_float(sign);  // +-0
  // Subnormal: mantissa * 2^-24; normalise it for float32.
  std::uint32_t e = 113;
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --e;
  }
  return detail::bits_float(sign | (e << 23) | ((mantissa & 0x3ffu) << 13));
}

/// The nearest binary16 to f (ties to even). |f| >= 65520 gives infinity; NaN gives a
/// quiet NaN with f's sign and the top bits of its payload.
inline std::uint16_t float_to_half(float f) noexcept {
  const std::uint32_t x = detail::float_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u)  // inf or NaN
    return static_cast<std::uint16_t>(sign | 0x7c00u |
                                      (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0u));
  if (a >= 0x477ff000u)
    return static_cast<std::uint16_t>(sign | 0x7c00u);  // 65520 and up round to inf
  if (a >= 0x38800000u) {                               // normal half: 2^-14 <= |f|
    const std::uint32_t h = (((a >> 23) - 112) << 10) | ((a >> 13) & 0x3ffu);
    const std::uint32_t rest = a & 0x1fffu;
    // A carry out of the mantissa steps the exponent up: still the right answer.
    const std::uint32_t rounded = h + (rest > 0x1000u || (rest == 0x1000u && (h & 1u)));
    return static_cast<std::uint16_t>(sign | rounded);
  }
  // Subnormal half (or zero): |f| / 2^-24, rounded to an integer.
  const std::uint32_t e = a >> 23;
  if (e < 102) return static_cast<std::uint16_t>(sign);  // below 2^-25: rounds to 0
  const std::uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126 - e;  // 14 .. 24
  const std::uint32_t h = m >> shift, rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  return static_cast<std::uint16_t>(sign | (h + (rest > half || (rest == half && (h & 1u)))));
}

/// The float32 value of a bfloat16 bit pattern (exact: the top half of a float32).
inline float bfloat16_to_float(std::uint16_t b) noexcept {
  return detail::bits_float(static_cast<std::uint32_t>(b) << 16);
}

/// The nearest bfloat16 to f (ties to even); values beyond the largest bfloat16 round to
/// infinity; NaN gives a quiet NaN with f's sign.
inline std::uint16_t float_to_bfloat16(float f) noexcept {
  const std::uint32_t x = detail::float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace qins
