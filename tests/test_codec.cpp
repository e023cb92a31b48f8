// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Float-domain encode/decode: exact round trip, edge cases, bad input, every path.
#include <array>
#include <catch2/catch.hpp>
#include <cfloat>
#include <limits>
#include <qins/codec.hpp>
#include <vector>

#include "support.hpp"

using qins_test::Distribution;
using qins_test::ulp_distance;

// Named budget of the round trip without quantization. z = 1 / (1 + alpha|x|) is held to
// a relative precision of eps, and dx/dz = -1 / (alpha z^2), so the decoded weight can
// be off by about eps (|x| + 1/alpha): a few ulp where alpha|x| >= 1, and an absolute
// eps / alpha for weights far below 1/alpha (they all map to z close to 1). The factor
// covers the five roundings of encode and decode (measured worst: 1.64).
constexpr double kRoundTripBudget = 2.0;
// Where alpha|x| >= 1 the same bound is at most 2 kRoundTripBudget eps |x| <= 8 ulp.
constexpr std::uint64_t kRoundTripUlpAboveOne = 8;

TEMPLATE_TEST_CASE("encode then decode returns the weight within the analytic bound", "[codec]",
                   float, double) {
  using T = TestType;
  const double eps = std::numeric_limits<T>::epsilon();
  for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
    for (double alpha : {1.0, 0.37, 50.0, 3e4}) {
      // 2^20 values per alpha from 2^-30 to 2^30 in magnitude, both signs.
      auto x = qins_test::random_weights<T>(1u << 20, Distribution::log_uniform, 1.0, 7);
      std::vector<T> z(x.size()), back(x.size());
      qins::encode(x.data(), z.data(), x.size(), T(alpha));
      qins::decode(z.data(), back.data(), z.size(), T(alpha));
      const double a = static_cast<double>(T(alpha));
      double worst_ratio = 0;
      std::uint64_t worst_ulp_above_one = 0;
      std::size_t out_of_range = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        out_of_range += !(std::fabs(z[i]) <= T(1)) || std::signbit(z[i]) != std::signbit(x[i]);
        const double xi = static_cast<double>(x[i]);
        const double err = std::fabs(static_cast<double>(back[i]) - xi);
        worst_ratio = std::max(worst_ratio, err / (eps * (std::fabs(xi) + 1.0 / a)));
        if (a * std::fabs(xi) >= 1.0)
          worst_ulp_above_one = std::max(worst_ulp_above_one, ulp_distance(x[i], back[i]));
      }
      INFO("alpha " << alpha << " worst ratio " << worst_ratio << " worst ulp (alpha|x| >= 1) "
                    << worst_ulp_above_one);
      CHECK(out_of_range == 0);
      CHECK(worst_ratio <= kRoundTripBudget);
      CHECK(worst_ulp_above_one <= kRoundTripUlpAboveOne);
    }
  }
}

TEMPLATE_TEST_CASE("encode follows the formula and its sign convention", "[codec]", float, double) {
  using T = TestType;
  CHECK(qins::encode(T(0), T(1)) == T(1));
  CHECK(qins::encode(T(-0.0), T(1)) == T(1));  // -0 takes s = +1
  CHECK(qins::encode(T(1), T(1)) == T(0.5));
  CHECK(qins::encode(T(-3), T(1)) == T(-0.25));
  CHECK(qins::encode(T(2), T(0.5)) == T(0.5));
  CHECK(qins::decode(T(0.5), T(1)) == T(1));
  CHECK(qins::decode(T(-0.25), T(1)) == T(-3));
  CHECK(qins::decode(T(1), T(2)) == T(0));
  // Denormals, the smallest normal and the largest finite value stay finite and exact-ish.
  const T tiny[] = {std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::min(),
                    std::numeric_limits<T>::max() / T(4)};
  for (T v : tiny) {
    for (T s : {T(1), T(-1)}) {
      T z = qins::encode(s * v, T(1));
      REQUIRE(std::isfinite(z));
      T back = qins::decode(z, T(1));
      REQUIRE(std::isfinite(back));
      CHECK(std::signbit(back) == (s < 0));
    }
  }
}

TEMPLATE_TEST_CASE("span encode and decode agree with the reference on every path and tail",
                   "[codec][kernels]", float, double) {
  using T = TestType;
  for (std::size_t n : qins_test::tail_sizes()) {
    auto x = qins_test::random_weights<T>(n, Distribution::student_t3, 0.05, 11 + unsigned(n));
    std::vector<T> z_ref(n), x_ref(n);
    qins::detail::scalar::encode_ref(x.data(), z_ref.data(), n, T(3));
    qins::detail::scalar::decode_ref(z_ref.data(), x_ref.data(), n, T(3));
    for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
      std::vector<T> z(n), back(n);
      qins::encode(x.data(), z.data(), n, T(3));
      qins::decode(z.data(), back.data(), n, T(3));
      INFO("n " << n);
      CHECK(z == z_ref);  // bitwise-equal values (no NaN can occur)
      CHECK(back == x_ref);
    }
  }
}

TEMPLATE_TEST_CASE("encode and decode reject bad input with its position", "[codec][errors]", float,
                   double) {
  using T = TestType;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T inf = std::numeric_limits<T>::infinity();
  for (T alpha : {T(0), T(-1), nan, inf, T(-0.0)}) {
    CHECK_THROWS_AS(qins::encode(T(1), alpha), qins::Error);
    CHECK_THROWS_AS(qins::decode(T(0.5), alpha), qins::Error);
  }
  for (T bad : {nan, inf, -inf}) {
    std::vector<T> x(37, T(0.01)), z(37);
    x[23] = bad;
    try {
      qins::encode(x.data(), z.data(), x.size(), T(1));
      FAIL("no exception");
    } catch (const qins::Error& e) {
      CHECK(e.kind() == qins::ErrorKind::non_finite_value);
      CHECK(e.col() == 23);
    }
  }
  // z outside (0, 1] in magnitude has no inverse.
  for (T bad : {T(0), T(-0.0), T(1.5), T(-2), nan, inf}) {
    std::vector<T> z(19, T(0.5)), x(19);
    z[18] = bad;
    try {
      qins::decode(z.data(), x.data(), z.size(), T(1));
      FAIL("no exception");
    } catch (const qins::Error& e) {
      CHECK(e.col() == 18);
    }
  }
  // alpha |x| overflowing would give z = 0.
  CHECK_THROWS_AS(qins::encode(std::numeric_limits<T>::max(), T(4)), qins::Error);
  // Empty spans are fine, even with null pointers.
  CHECK_NOTHROW(qins::encode(static_cast<const T*>(nullptr), static_cast<T*>(nullptr), 0, T(1)));
}

#if __cplusplus >= 202002L
TEST_CASE("range forms of encode and decode check their sizes", "[codec]") {
  std::vector<float> x = {0.5f, -0.25f, 0.0f};
  std::array<float, 3> z{};
  std::vector<float> back(3);
  qins::encode(x, z, 2.0f);
  qins::decode(z, back, 2.0f);
  CHECK(back[0] == Approx(0.5f));
  CHECK(back[2] == 0.0f);
  std::vector<float> too_short(2);
  CHECK_THROWS_AS(qins::encode(x, too_short, 1.0f), qins::Error);
}
#endif

TEST_CASE("decoding beyond the range of the type is an error, not infinity", "[codec][errors]") {
  CHECK_THROWS_WITH(qins::decode(1e-45f, 1.0f), Catch::Contains("overflows"));
  std::vector<float> z = {0.5f, 1e-30f}, x(2);
  CHECK_THROWS_AS(qins::decode(z.data(), x.data(), 2, 1e-20f), qins::Error);
}
