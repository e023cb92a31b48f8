// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// float16 and bfloat16 conversions against values computed independently in double.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <qins/float16.hpp>
#include <random>
#include <utility>
#include <vector>

namespace {

float from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

std::uint32_t to_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// IEEE binary16 written out: (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024.
double half_value(std::uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  const double mag = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  return s ? -mag : mag;
}

// A (value, bits) table of a 16-bit format's finite non-negative values, ascending.
std::vector<std::pair<double, std::uint16_t>> finite_values(double (*value)(std::uint16_t),
                                                            std::uint16_t first_non_finite) {
  std::vector<std::pair<double, std::uint16_t>> t;
  for (std::uint32_t b = 0; b < first_non_finite; ++b)
    t.emplace_back(value(std::uint16_t(b)), std::uint16_t(b));
  return t;
}

// The nearest entry to |x| (ties to the even bit pattern), by search in double: the
// reference rounding, with infinity past the midpoint above the largest finite value.
std::uint16_t nearest(const std::vector<std::pair<double, std::uint16_t>>& table, double x,
                      double next_power, std::uint16_t inf_bits) {
  const double a = std::fabs(x);
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double top = table.back().first, limit = (top + next_power) / 2;
  if (a >= limit)
    return sign | (a == limit && (table.back().second & 1) == 0 ? table.back().second : inf_bits);
  auto hi = std::lower_bound(table.begin(), table.end(), std::make_pair(a, std::uint16_t(0)));
  if (hi == table.begin()) return sign | hi->second;
  auto lo = hi - 1;
  if (hi == table.end()) return sign | lo->second;
  const double dl = a - lo->first, dh = hi->first - a;
  if (dl < dh) return sign | lo->second;
  if (dh < dl) return sign | hi->second;
  return sign | ((lo->second & 1) == 0 ? lo->second : hi->second);
}

double bf16_value(std::uint16_t b) { return double(from_bits(std::uint32_t(b) << 16)); }

}  // namespace

TEST_CASE("half_to_float is exact for every bit pattern", "[float16]") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const std::uint16_t h = std::uint16_t(b);
    const float f = qins::half_to_float(h);
    const int e = (h >> 10) & 31;
    if (e == 31) {
      if ((h & 1023) == 0)
        REQUIRE((std::isinf(f) && std::signbit(f) == bool(h >> 15)));
      else
        REQUIRE(std::isnan(f));
      continue;
    }
    REQUIRE(double(f) == half_value(h));
    REQUIRE(std::signbit(f) == bool(h >> 15));  // -0.0 stays -0.0
  }
}

TEST_CASE("float_to_half rounds to nearest, ties to even, against a search in double",
          "[float16]") {
  const auto table = finite_values(half_value, 0x7c00);
  // Every half comes back as itself.
  for (const auto& [v, bits] : table) {
    REQUIRE(qins::float_to_half(float(v)) == bits);
    REQUIRE(qins::float_to_half(float(-v)) == (bits | 0x8000));
  }
  // Midpoints (exact in float: 12 significant bits) tie to even; one float ulp either side
  // goes to the nearer neighbour.
  for (std::size_t i = 0; i + 1 < table.size(); ++i) {
    const float mid = float((table[i].first + table[i + 1].first) / 2);
    REQUIRE(double(mid) == (table[i].first + table[i + 1].first) / 2);
    const std::uint16_t even = (table[i].second & 1) == 0 ? table[i].second : table[i + 1].second;
    REQUIRE(qins::float_to_half(mid) == even);
    REQUIRE(qins::float_to_half(std::nextafter(mid, 0.0f)) == table[i].second);
    REQUIRE(qins::float_to_half(std::nextafter(mid, 1e9f)) == table[i + 1].second);
  }
  // Random floats of every magnitude, both signs.
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::uint32_t> bits(0, 0xffffffffu);
  for (int i = 0; i < 200000; ++i) {
    const float f = from_bits(bits(rng));
    if (!std::isfinite(f)) continue;
    REQUIRE(qins::float_to_half(f) == nearest(table, f, 65536.0, 0x7c00));
  }
  for (int i = 0; i < 200000; ++i) {  // concentrated on the half range
    const float f = std::ldexp(float(bits(rng) % 1000000) / 1e6f + 0.5f, int(bits(rng) % 44) - 28);
    REQUIRE(qins::float_to_half(f) == nearest(table, f, 65536.0, 0x7c00));
  }
}

TEST_CASE("float_to_half: overflow, underflow, zeros and NaN", "[float16]") {
  CHECK(qins::float_to_half(65504.0f) == 0x7bff);
  CHECK(qins::float_to_half(65519.996f) == 0x7bff);
  CHECK(qins::float_to_half(65520.0f) == 0x7c00);  // the midpoint to 2^16 ties to even: infinity
  CHECK(qins::float_to_half(-1e30f) == 0xfc00);
  CHECK(qins::float_to_half(std::numeric_limits<float>::infinity()) == 0x7c00);
  CHECK(qins::float_to_half(std::ldexp(1.0f, -24)) == 0x0001);  // the smallest subnormal
  CHECK(qins::float_to_half(std::ldexp(1.0f, -25)) == 0x0000);  // half of it ties to 0
  CHECK(qins::float_to_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
  CHECK(qins::float_to_half(std::numeric_limits<float>::denorm_min()) == 0x0000);
  CHECK(qins::float_to_half(-0.0f) == 0x8000);
  CHECK(qins::float_to_half(0.0f) == 0x0000);
  const std::uint16_t nan = qins::float_to_half(std::numeric_limits<float>::quiet_NaN());
  CHECK(((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0));
  const std::uint16_t snan = qins::float_to_half(-std::numeric_limits<float>::signaling_NaN());
  CHECK(((snan & 0xfc00) == 0xfc00 && (snan & 0x200) != 0));  // quiet, sign kept
}

TEST_CASE("bfloat16 conversions: exact widening, nearest-even narrowing", "[float16]") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const float f = qins::bfloat16_to_float(std::uint16_t(b));
    REQUIRE(to_bits(f) == b << 16);
    if (std::isfinite(f)) REQUIRE(qins::float_to_bfloat16(f) == b);
  }
  const auto table = finite_values(bf16_value, 0x7f80);
  for (std::size_t i = 0; i + 1 < table.size(); ++i) {
    const float mid = float((table[i].first + table[i + 1].first) / 2);
    const std::uint16_t even = (table[i].second & 1) == 0 ? table[i].second : table[i + 1].second;
    REQUIRE(qins::float_to_bfloat16(mid) == even);
  }
  std::mt19937 rng(8);
  std::uniform_int_distribution<std::uint32_t> bits(0, 0xffffffffu);
  const double past_max = std::ldexp(1.0, 128);
  for (int i = 0; i < 200000; ++i) {
    const float f = from_bits(bits(rng));
    if (!std::isfinite(f)) continue;
    REQUIRE(qins::float_to_bfloat16(f) == nearest(table, f, past_max, 0x7f80));
  }
  CHECK(qins::float_to_bfloat16(std::numeric_limits<float>::max()) ==
        0x7f80);  // rounds up to infinity
  CHECK(qins::float_to_bfloat16(-0.0f) == 0x8000);
  const std::uint16_t nan = qins::float_to_bfloat16(-std::numeric_limits<float>::signaling_NaN());
  CHECK(((nan & 0xff80) == 0xff80 && (nan & 0x40) != 0));
}
