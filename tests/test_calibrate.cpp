// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Calibration: better than alpha = 1, close to the best alpha, the same on every path,
// and the prototype's missing measurement — errors with and without quantization.
#include <catch2/catch.hpp>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <qins/qins.hpp>
#include <vector>

#include "model_fixture.hpp"
#include "support.hpp"

using qins::AlphaGranularity;
using qins_test::Distribution;

namespace {

template <class Code>
double row_error(const float* x, std::size_t n, float alpha) {
  return qins::quantization_squared_error<Code>(x, n, alpha);
}

/// The smallest squared error over a dense log grid of alphas (0.2% steps over a factor
/// of 400 around `center`): the best a calibration could do.
template <class Code>
double brute_force_best(const float* x, std::size_t n, double center) {
  double best = INFINITY;
  for (double la = std::log(center) - 3.0; la < std::log(center) + 3.0; la += 0.002)
    best = std::min(best, row_error<Code>(x, n, static_cast<float>(std::exp(la))));
  return best;
}

/// Relative RMS error of every linear layer of the model together.
struct ModelError {
  double num = 0, den = 0;
  void add(const float* w, const float* back, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const double d = double(w[i]) - double(back[i]);
      num += d * d;
      den += double(w[i]) * double(w[i]);
    }
  }
  double relative() const { return std::sqrt(num / den); }
};

template <class Code>
double model_error(const qins::QuantizeOptions& options) {
  ModelError total;
  for (const auto& layer : qins_test::linear_layers()) {
    const std::size_t n = layer.rows * layer.cols;
    std::vector<Code> codes(n);
    std::vector<float> alphas(options.layout().count(layer.rows, layer.cols)), back(n);
    qins::quantize_matrix(layer.data, layer.rows, layer.cols, options, codes.data(), alphas.data());
    qins::dequantize_matrix(codes.data(), layer.rows, layer.cols, options.layout(), alphas.data(),
                            back.data());
    total.add(layer.data, back.data(), n);
  }
  return total.relative();
}

}  // namespace

TEST_CASE("calibration beats alpha = 1 and lands near the best alpha on synthetic rows",
          "[calibrate]") {
  // The squared error as a function of alpha is piecewise smooth with many local minima;
  // for short rows and heavy tails it is dominated by how a few outliers happen to round,
  // so a 3000-point search finds lucky spikes that no cheap search can. Measured worst
  // ratios over 30 seeds: Gaussian 4096: 1.04; Gaussian 64: 2.0; Student-t 4096: 1.58;
  // Student-t 64: 2.8. The smooth case is held to 5%, the jagged ones to 3x.
  for (Distribution dist : {Distribution::gaussian, Distribution::student_t3}) {
    for (std::size_t n : {64u, 4096u}) {
      const bool smooth = dist == Distribution::gaussian && n == 4096;
      for (std::uint32_t seed = 0; seed < 6; ++seed) {
        const auto x = qins_test::random_weights<float>(n, dist, 0.02, 1000 + seed);
        const float alpha = qins::calibrate_alpha<std::uint8_t>(x.data(), n);
        const double calibrated = row_error<std::uint8_t>(x.data(), n, alpha);
        const double at_one = row_error<std::uint8_t>(x.data(), n, 1.0f);
        const double best = brute_force_best<std::uint8_t>(x.data(), n, alpha);
        INFO("distribution " << int(dist) << " n " << n << " seed " << seed << " alpha " << alpha
                             << " error / best " << calibrated / best);
        CHECK(calibrated < 0.05 * at_one);  // weights of scale 0.02: alpha = 1 wastes the codes
        CHECK(calibrated <= (smooth ? 1.05 : 3.0) * best);
      }
    }
  }
}

TEST_CASE("calibration beats alpha = 1 on every row of the real model", "[calibrate][model]") {
  std::size_t rows = 0;
  for (const auto& layer : qins_test::linear_layers()) {
    for (std::size_t r = 0; r < layer.rows; ++r, ++rows) {
      const float* x = layer.data + r * layer.cols;
      const float alpha = qins::calibrate_alpha<std::uint8_t>(x, layer.cols);
      INFO(layer.name << " row " << r);
      REQUIRE(row_error<std::uint8_t>(x, layer.cols, alpha) <
              row_error<std::uint8_t>(x, layer.cols, 1.0f));
    }
  }
  CHECK(rows == 3000);  // 5 layers x (64 + 32 + 32 + 64 + 172 + 64 + 172) rows
}

TEST_CASE("per-row calibrated uint8 matches the reference figure on the real model",
          "[calibrate][model]") {
  qins::QuantizeOptions options;  // uint8 codes, per row, calibrated
  const double error = model_error<std::uint8_t>(options);
  INFO("relative RMS error " << 100 * error << "%");
  CHECK(error <= 0.0085);  // QINS.md: ~0.8%
  CHECK(error >= 0.005);   // and no better than 8 bits can be: the measurement is real
}

TEST_CASE("calibration picks the same alpha on every path", "[calibrate][kernels]") {
  for (std::size_t n : qins_test::tail_sizes()) {
    const auto x =
        qins_test::random_weights<float>(n, Distribution::student_t3, 0.01, 77 + unsigned(n));
    float expected8 = 0, expected16 = 0;
    for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
      const float a8 = qins::calibrate_alpha<std::uint8_t>(x.data(), n);
      const float a16 = qins::calibrate_alpha<std::uint16_t>(x.data(), n);
      if (isa == qins::Isa::scalar) expected8 = a8, expected16 = a16;
      INFO("n " << n);
      CHECK(a8 == expected8);
      CHECK(a16 == expected16);
    }
  }
}

TEMPLATE_TEST_CASE("calibration and the squared error are exact under power-of-two scaling",
                   "[calibrate][edge]", std::uint8_t, std::uint16_t) {
  // Scaling weights by 2^k scales the best alpha by 2^-k and the error by 2^2k, exactly:
  // the sums must neither underflow nor overflow however small or large the weights.
  using Code = TestType;
  for (std::size_t n : {std::size_t(1000), std::size_t(4096)}) {
    const auto x =
        qins_test::random_weights<float>(n, Distribution::student_t3, 0.02, 5 + unsigned(n));
    const float alpha = qins::calibrate_alpha<Code>(x.data(), n);
    const double error = qins::quantization_squared_error<Code>(x.data(), n, alpha);
    REQUIRE(error > 0);
    for (int k : {-100, -60, -20, 20, 60, 100}) {
      const float s = std::ldexp(1.0f, k);
      std::vector<float> xs(n);
      for (std::size_t i = 0; i < n; ++i) xs[i] = x[i] * s;
      for (std::size_t i = 0; i < n; ++i)
        REQUIRE(xs[i] / s == x[i]);  // the scaling itself is exact
      INFO("n " << n << " scale 2^" << k);
      CHECK(qins::calibrate_alpha<Code>(xs.data(), n) == alpha / s);
      CHECK(qins::quantization_squared_error<Code>(xs.data(), n, alpha / s) ==
            std::ldexp(error, 2 * k));
    }
  }
}

TEST_CASE("calibration of degenerate rows returns a usable alpha", "[calibrate][edge]") {
  auto check_row = [](std::vector<float> x) {
    const float alpha = qins::calibrate_alpha<std::uint8_t>(x.data(), x.size());
    INFO("first value " << (x.empty() ? 0.0f : x[0]) << " alpha " << alpha);
    CHECK(std::isfinite(alpha));
    CHECK(alpha >= qins::min_alpha<std::uint8_t, float>());
    CHECK(alpha <= qins::max_alpha<std::uint8_t, float>());
    return alpha;
  };
  CHECK(check_row({}) == 1.0f);
  CHECK(check_row(std::vector<float>(33, 0.0f)) == 1.0f);
  CHECK(check_row(std::vector<float>(33, -0.0f)) == 1.0f);
  check_row({FLT_TRUE_MIN});
  check_row({FLT_MIN, -FLT_MIN, 0.0f});
  check_row({FLT_MAX, -FLT_MAX, 1.0f});
  check_row({-0.25f});
  check_row({0.5f, -0.5f});
  CHECK_THROWS_AS(qins::calibrate_alpha<std::uint8_t>(std::vector<float>{1.0f, NAN}.data(), 2),
                  qins::Error);
}

TEST_CASE("the prototype's missing test: error without and with quantization, side by side",
          "[calibrate][model][table]") {
  // For the same weights (every linear layer of the real model): the float codec alone,
  // then uint8 and uint16 codes, and the error that quantization adds on top.
  ModelError float_codec;
  for (const auto& layer : qins_test::linear_layers()) {
    const std::size_t n = layer.rows * layer.cols;
    std::vector<float> z(n), back(n);
    qins::encode(layer.data, z.data(), n, 1.0f);  // the prototype: alpha = 1, no quantization
    qins::decode(z.data(), back.data(), n, 1.0f);
    float_codec.add(layer.data, back.data(), n);
  }
  qins::QuantizeOptions fixed;
  fixed.granularity = AlphaGranularity::fixed;
  qins::QuantizeOptions per_row;
  const double none = float_codec.relative();
  const double u8_fixed = model_error<std::uint8_t>(fixed);
  const double u8_row = model_error<std::uint8_t>(per_row);
  const double u16_row = model_error<std::uint16_t>(per_row);

  if (Catch::getCurrentContext().getConfig()->includeSuccessfulResults()) {
    std::printf("\nrelative RMS error of all linear layers of %s\n",
                qins_test::model_path().c_str());
    std::printf("  %-32s %12s %14s\n", "scheme", "error", "added by codes");
    std::printf("  %-32s %11.3e%% %14s\n", "float codec, no quantization", 100 * none, "-");
    std::printf("  %-32s %11.4f%% %13.4f%%\n", "uint8, alpha = 1", 100 * u8_fixed,
                100 * (u8_fixed - none));
    std::printf("  %-32s %11.4f%% %13.4f%%\n", "uint8, alpha per row", 100 * u8_row,
                100 * (u8_row - none));
    std::printf("  %-32s %11.4f%% %13.4f%%\n", "uint16, alpha per row", 100 * u16_row,
                100 * (u16_row - none));
  }
  // Without quantization the codec is exact to float precision (a few eps on weights
  // that are far from 0 relative to 1 / alpha, QINS.md: ~1e-7).
  CHECK(none < 1e-6);
  // Quantization dominates, and each better scheme is strictly better.
  CHECK(none < u16_row);
  CHECK(u16_row < u8_row);
  CHECK(u8_row < u8_fixed);
  // Bounds: 16 bits are ~256x finer than 8 (allow 100x); alpha = 1 costs more than 2x.
  CHECK(u16_row * 100 < u8_row);
  CHECK(u8_fixed > 2 * u8_row);
  CHECK(u8_fixed < 0.05);  // QINS.md: 1.2% - 3.7% per layer
}
