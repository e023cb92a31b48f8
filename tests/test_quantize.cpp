// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// N-bit codes: agreement with an independent implementation of the formula, the
// analytic error bound, every SIMD path against the reference, edge cases, bad input.
#include <catch2/catch.hpp>
#include <cfloat>
#include <cstdint>
#include <limits>
#include <qins/quantize.hpp>
#include <vector>

#include "support.hpp"

using qins_test::Distribution;
using qins_test::ulp_distance;

namespace {

// The formula of QINS.md written out independently of the library: s, z, round half to
// even of (z + 1) M / 2 in T, clamp, and the documented sign rule for saturation.
template <class Code, class T>
Code spec_code(T x, T alpha) {
  const T m = static_cast<T>(qins::CodeTraits<Code>::max_code);
  const T s = x < 0 ? T(-1) : T(1);
  const T z = s / std::fma(alpha, std::fabs(x), T(1));
  T t = std::nearbyint((z + T(1)) * m / T(2));
  t = std::min(std::max(t, T(0)), m);
  if (s < 0 && t > (m - 1) / 2) t = (m - 1) / 2;  // saturation keeps the sign
  return static_cast<Code>(t);
}

// (M/2 / d - sign(d)) / alpha in long double, rounded once to T.
template <class Code, class T>
T spec_decoded(Code code, T alpha) {
  const long double half = static_cast<long double>(qins::CodeTraits<Code>::max_code) / 2;
  const long double d = static_cast<long double>(code) - half;
  return static_cast<T>((half / d - (d < 0 ? -1.0L : 1.0L)) / static_cast<long double>(alpha));
}

template <class T>
std::vector<T> mixed_weights(std::size_t n, std::uint32_t seed) {
  auto w = qins_test::random_weights<T>(n, Distribution::student_t3, 0.03, seed);
  auto wide = qins_test::random_weights<T>(n / 4, Distribution::log_uniform, 1.0, seed + 1);
  for (std::size_t i = 0; i < wide.size(); ++i) w[4 * i] = wide[i];
  return w;
}

}  // namespace

TEMPLATE_PRODUCT_TEST_CASE("codes equal an independent implementation of the formula", "[quantize]",
                           std::pair,
                           ((std::uint8_t, float), (std::uint8_t, double), (std::uint16_t, float),
                            (std::uint16_t, double))) {
  using Code = typename TestType::first_type;
  using T = typename TestType::second_type;
  const auto x = mixed_weights<T>(1u << 18, 3);
  for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
    for (double alpha : {1.0, 33.3, 0.01, 1e5}) {
      std::vector<Code> codes(x.size());
      qins::encode_quantize(x.data(), codes.data(), x.size(), T(alpha));
      std::size_t mismatches = 0;
      for (std::size_t i = 0; i < x.size(); ++i)
        mismatches += codes[i] != spec_code<Code>(x[i], T(alpha));
      INFO("alpha " << alpha);
      CHECK(mismatches == 0);
    }
  }
}

TEMPLATE_TEST_CASE("float codes agree with exact arithmetic except at rounding boundaries",
                   "[quantize]", std::uint8_t, std::uint16_t) {
  using Code = TestType;
  const double m = qins::CodeTraits<Code>::max_code;
  // t = (z + 1) M / 2 carries a relative float error of a few eps, so only weights whose
  // exact t lies that close to a .5 boundary may round the other way.
  const double slack = 4.0 * FLT_EPSILON * m;
  const auto x = mixed_weights<float>(1u << 18, 5);
  std::vector<Code> codes(x.size());
  qins::encode_quantize(x.data(), codes.data(), x.size(), 20.0f);
  std::size_t near_boundary = 0, far_mismatch = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const long double xi = x[i];
    const long double z = (xi < 0 ? -1.0L : 1.0L) / (1.0L + 20.0L * std::fabs(xi));
    const long double t = (z + 1.0L) * m / 2.0L;
    const bool boundary = std::fabs(t - std::floor(t) - 0.5L) < slack;
    const long double exact =
        std::min(std::max(std::nearbyint(t), 0.0L), static_cast<long double>(m));
    if (codes[i] != static_cast<Code>(exact)) (boundary ? near_boundary : far_mismatch)++;
  }
  INFO("mismatches within " << slack << " of a boundary: " << near_boundary);
  CHECK(far_mismatch == 0);
}

TEMPLATE_PRODUCT_TEST_CASE("quantized round trip stays within half a code step in z", "[quantize]",
                           std::pair,
                           ((std::uint8_t, float), (std::uint8_t, double), (std::uint16_t, float),
                            (std::uint16_t, double))) {
  using Code = typename TestType::first_type;
  using T = typename TestType::second_type;
  const double m = qins::CodeTraits<Code>::max_code;
  const double eps = std::numeric_limits<T>::epsilon();
  const auto x = mixed_weights<T>(1u << 17, 9);
  for (double alpha : {1.0, 40.0}) {
    std::vector<Code> codes(x.size());
    std::vector<T> back(x.size());
    qins::encode_quantize(x.data(), codes.data(), x.size(), T(alpha));
    qins::dequantize_decode(codes.data(), back.data(), x.size(), T(alpha));
    // Bound: the reconstruction's z' is within half a step (1/M) of z, further limited to
    // the weight's own half of the codes (smallest |z'| is 1/M, largest 1). decode is
    // monotonic there, so |x - x'| <= max |x - decode(z +- 1/M)|. The slack covers the
    // float rounding of t (relative 4 eps M of a half step) and of the decode (4 eps).
    const double half_step = (1.0 / m) * (1.0 + 4.0 * eps * m);
    auto decode = [&](double z) { return (1.0 - z) / (alpha * z); };
    std::size_t violations = 0;
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double xi = std::fabs(static_cast<double>(x[i]));
      const double z = 1.0 / (1.0 + alpha * xi);
      const double lo = decode(std::min(z + half_step, 1.0));
      const double hi = decode(std::max(z - half_step, 1.0 / m));
      const double bound = std::max(xi - lo, hi - xi) * (1.0 + 4.0 * eps) + 4.0 * eps * xi;
      const double err = std::fabs(static_cast<double>(back[i]) - static_cast<double>(x[i]));
      worst = std::max(worst, err / bound);
      violations += err > bound;
      violations += back[i] != T(0) && std::signbit(back[i]) != std::signbit(x[i]);
    }
    INFO("alpha " << alpha << " worst error / bound " << worst);
    CHECK(violations == 0);
  }
}

TEMPLATE_TEST_CASE("every code survives dequantize then quantize, and decodes to the spec",
                   "[quantize]", std::uint8_t, std::uint16_t) {
  using Code = TestType;
  const std::uint32_t m = qins::CodeTraits<Code>::max_code;
  std::vector<Code> all(m + 1);
  for (std::uint32_t c = 0; c <= m; ++c) all[c] = static_cast<Code>(c);
  for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
    std::vector<float> z(all.size());
    qins::dequantize(all.data(), z.data(), all.size());
    std::vector<Code> again(all.size());
    qins::quantize(z.data(), again.data(), z.size());
    CHECK(again == all);
    CHECK(z.front() == -1.0f);
    CHECK(z.back() == 1.0f);
    for (float alpha : {1.0f, 0.3f, 77.0f, 1e-20f}) {
      std::vector<float> x(all.size());
      qins::dequantize_decode(all.data(), x.data(), all.size(), alpha);
      std::uint64_t worst = 0;
      for (std::uint32_t c = 0; c <= m; ++c)
        worst = std::max(worst, ulp_distance(x[c], spec_decoded(all[c], alpha)));
      INFO("alpha " << alpha);
      CHECK(worst <= 1);  // 1/alpha applied as a multiply: within 1 ulp of dividing
      CHECK(x[0] == 0.0f);
      CHECK(x[m] == 0.0f);
      CHECK(x[m / 2] == Approx(-(double(m) - 1) / alpha).epsilon(1e-6));
      CHECK(x[m / 2 + 1] == Approx((double(m) - 1) / alpha).epsilon(1e-6));
    }
  }
}

TEMPLATE_TEST_CASE("SIMD paths reproduce the reference on every tail length", "[quantize][kernels]",
                   std::uint8_t, std::uint16_t) {
  using Code = TestType;
  namespace ref = qins::detail::scalar;
  for (std::size_t n : qins_test::tail_sizes()) {
    const auto x = mixed_weights<float>(n, 100 + unsigned(n));
    std::vector<float> z(n);
    for (std::size_t i = 0; i < n; ++i) z[i] = ref::encode_ref(x[i], 25.0f);
    std::vector<Code> codes_ref(n), zcodes_ref(n);
    std::vector<float> x_ref(n), z_ref(n);
    using Format = qins::format_of_t<Code>;
    auto bytes = [](std::vector<Code>& v) { return reinterpret_cast<std::byte*>(v.data()); };
    ref::encode_quantize_ref<Format>(x.data(), bytes(codes_ref), 0, n, 25.0f);
    ref::dequantize_decode_ref<Format>(bytes(codes_ref), 0, x_ref.data(), n, 1.0f / 25.0f);
    ref::quantize_ref<Format>(z.data(), bytes(zcodes_ref), 0, n);
    ref::dequantize_ref<Format>(bytes(zcodes_ref), 0, z_ref.data(), n);
    const double err_ref =
        ref::quantization_squared_error_ref<Format>(x.data(), n, 25.0f, 1.0f / 25.0f);
    for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
      INFO("n " << n);
      std::vector<Code> codes(n), zcodes(n);
      std::vector<float> back(n), zback(n);
      qins::encode_quantize(x.data(), codes.data(), n, 25.0f);
      qins::dequantize_decode(codes.data(), back.data(), n, 25.0f);
      qins::quantize(z.data(), zcodes.data(), n);
      qins::dequantize(zcodes.data(), zback.data(), n);
      CHECK(codes == codes_ref);
      CHECK(back == x_ref);
      CHECK(zcodes == zcodes_ref);
      CHECK(zback == z_ref);
      // The squared error is the same double on every path, and is the sum it claims.
      const double err = qins::quantization_squared_error<Code>(x.data(), n, 25.0f);
      CHECK(err == err_ref);
      // Each float difference is rounded once from x - u/alpha rather than computed from
      // x - x', which rounds x' first: they differ by at most half an ulp of x' plus half
      // an ulp of e (delta), so the sums differ by at most sum(2 |e| delta + delta^2),
      // plus the float rounding of each square and of a block sum of at most 16 squares
      // per lane ((1 + 16) / 2 eps of each square), plus the double rounding of the sum.
      long double direct = 0, allowed = 0;
      for (std::size_t i = 0; i < n; ++i) {
        long double e = static_cast<long double>(x[i]) - back[i];
        long double delta =
            (std::fabs(static_cast<long double>(back[i])) + std::fabs(e)) * FLT_EPSILON;
        direct += e * e;
        allowed += 2 * std::fabs(e) * delta + delta * delta + 8.5L * FLT_EPSILON * e * e;
      }
      CHECK(std::fabs(err - direct) <= allowed + 1e-12L * direct);
    }
  }
}

TEMPLATE_TEST_CASE("zeros, denormals and extreme magnitudes quantize safely", "[quantize][edge]",
                   std::uint8_t, std::uint16_t) {
  using Code = TestType;
  const Code zero = qins::zero_code<Code>();
  const std::uint32_t m = qins::CodeTraits<Code>::max_code;
  const std::vector<float> x = {0.0f,     -0.0f,  FLT_TRUE_MIN, -FLT_TRUE_MIN, FLT_MIN,
                                -FLT_MIN, 1e-38f, -1e-38f,      FLT_MAX,       -FLT_MAX,
                                1e30f,    -1e30f, 1.0f,         -1.0f};
  for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
    for (float alpha : {1.0f, 1e30f, qins::dequantize_decode<Code>(Code(1), 1.0f) * 0 + 1e-3f}) {
      std::vector<float> padded(x);
      padded.resize(40, -0.0f);  // long enough to run the vector body
      std::vector<Code> codes(padded.size());
      std::vector<float> back(padded.size());
      qins::encode_quantize(padded.data(), codes.data(), padded.size(), alpha);
      qins::dequantize_decode(codes.data(), back.data(), padded.size(), alpha);
      INFO("alpha " << alpha);
      CHECK(codes[0] == zero);
      CHECK(codes[1] == zero);
      CHECK(back[0] == 0.0f);
      CHECK(back[1] == 0.0f);
      CHECK(!std::signbit(back[0]));
      for (std::size_t i = 0; i < padded.size(); ++i) {
        INFO("x = " << padded[i]);
        REQUIRE(std::isfinite(back[i]));
        // Never the other sign: negative weights keep codes below the middle.
        if (padded[i] < 0) CHECK(codes[i] <= (m - 1) / 2);
        if (padded[i] > 0) CHECK(codes[i] >= (m + 1) / 2);
        if (back[i] != 0.0f) CHECK(std::signbit(back[i]) == std::signbit(padded[i]));
      }
      // The largest magnitudes saturate at (M - 1) / alpha.
      CHECK(back[8] == Approx((double(m) - 1) / alpha).epsilon(1e-6));
      CHECK(back[9] == Approx(-(double(m) - 1) / alpha).epsilon(1e-6));
    }
  }
}

TEMPLATE_TEST_CASE("quantize functions reject bad input with its position", "[quantize][errors]",
                   std::uint8_t, std::uint16_t) {
  using Code = TestType;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<Code> codes(50);
  for (float bad : {nan, inf, -inf}) {
    std::vector<float> x(50, 0.1f);
    x[41] = bad;
    try {
      qins::encode_quantize(x.data(), codes.data(), x.size(), 1.0f);
      FAIL("no exception");
    } catch (const qins::Error& e) {
      CHECK(e.kind() == qins::ErrorKind::non_finite_value);
      CHECK(e.col() == 41);
      CHECK_THAT(e.what(), Catch::Contains("column 41"));
    }
    CHECK_THROWS_AS(qins::encode_quantize<Code>(bad, 1.0f), qins::Error);
    CHECK_THROWS_AS(qins::quantization_squared_error<Code>(x.data(), x.size(), 1.0f), qins::Error);
    CHECK_THROWS_AS(qins::quantize<Code>(bad), qins::Error);
  }
  std::vector<float> x(8, 0.1f);
  for (float alpha : {0.0f, -1.0f, nan, inf, FLT_TRUE_MIN, 1e-37f}) {
    INFO("alpha " << alpha);
    CHECK_THROWS_AS(qins::encode_quantize(x.data(), codes.data(), x.size(), alpha), qins::Error);
    CHECK_THROWS_AS(qins::dequantize_decode(codes.data(), x.data(), x.size(), alpha), qins::Error);
  }
  std::vector<float> z = {0.5f, -1.0f, 1.0f, 1.0001f};
  CHECK_THROWS_AS(qins::quantize(z.data(), codes.data(), z.size()), qins::Error);
  CHECK_NOTHROW(qins::quantize(z.data(), codes.data(), 3));
  CHECK_THROWS_AS(qins::encode_quantize(static_cast<const float*>(nullptr), codes.data(), 3, 1.0f),
                  qins::Error);
}

TEST_CASE("double weights use the same codes as the formula in double", "[quantize]") {
  const std::vector<double> x = {0.0, 1e-300, -1e-300, 0.125, -0.125, 1e300, -1e300};
  std::vector<std::uint16_t> codes(x.size());
  qins::encode_quantize(x.data(), codes.data(), x.size(), 8.0);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(codes[i] == spec_code<std::uint16_t>(x[i], 8.0));
}
