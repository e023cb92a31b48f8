// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The baseline formats (not QINS) against their definitions written out plainly.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <limits>
#include <qins/float16.hpp>
#include <qins/llama2/baselines.hpp>
#include <string>
#include <vector>

#include "support.hpp"

using qins::llama2::BaselineFormat;
using qins::llama2::BaselineLinear;

namespace {

std::vector<float> decoded(const BaselineLinear& b) {
  std::vector<float> out(b.rows() * b.cols());
  for (std::size_t r = 0; r < b.rows(); ++r) b.decode_row(r, out.data() + r * b.cols());
  return out;
}

}  // namespace

TEST_CASE("float16 and bfloat16 baselines hold each weight rounded to nearest", "[baselines]") {
  for (std::size_t cols : {1u, 7u, 64u, 172u}) {
    const std::size_t rows = 5;
    const auto w =
        qins_test::random_weights<float>(rows * cols, qins_test::Distribution::student_t3, 0.05, 3);
    const BaselineLinear h(BaselineFormat::float16, w.data(), rows, cols);
    const BaselineLinear b(BaselineFormat::bfloat16, w.data(), rows, cols);
    CHECK(h.bytes() == rows * cols * 2);
    CHECK(b.bytes() == rows * cols * 2);
    const auto dh = decoded(h), db = decoded(b);
    for (std::size_t i = 0; i < w.size(); ++i) {
      REQUIRE(dh[i] == qins::half_to_float(qins::float_to_half(w[i])));
      REQUIRE(db[i] == qins::bfloat16_to_float(qins::float_to_bfloat16(w[i])));
    }
    CHECK(h.note().empty());
  }
}

TEST_CASE("int8 absmax per row: s = max|w| / 127, every weight within s / 2", "[baselines]") {
  const std::size_t rows = 9, cols = 33;
  auto w =
      qins_test::random_weights<float>(rows * cols, qins_test::Distribution::gaussian, 0.02, 4);
  for (std::size_t c = 0; c < cols; ++c) w[3 * cols + c] = 0.0f;  // an all-zero row
  const BaselineLinear q(BaselineFormat::int8_per_row, w.data(), rows, cols);
  CHECK(q.bytes() == rows * cols + rows * 4);
  const auto d = decoded(q);
  for (std::size_t r = 0; r < rows; ++r) {
    float amax = 0;
    for (std::size_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
    const double s = double(amax) / 127.0;
    for (std::size_t c = 0; c < cols; ++c) {
      INFO("row " << r << " col " << c);
      REQUIRE(std::fabs(double(d[r * cols + c]) - double(w[r * cols + c])) <= s / 2 * (1 + 1e-6));
      // The decoded value is an integer number of steps in [-127, 127].
      if (s > 0) {
        const double steps = double(d[r * cols + c]) / double(float(amax / 127.0f));
        REQUIRE(std::fabs(steps - std::round(steps)) < 1e-4);
        REQUIRE(std::fabs(steps) <= 127.0 + 1e-4);
      }
    }
  }
  for (std::size_t c = 0; c < cols; ++c) CHECK(d[3 * cols + c] == 0.0f);
}

TEST_CASE("Q8_0: blocks of 32 with a float16 scale, as ggml's quantize_row_q8_0_ref",
          "[baselines]") {
  const std::size_t rows = 4, cols = 96;
  const auto w =
      qins_test::random_weights<float>(rows * cols, qins_test::Distribution::student_t3, 0.02, 5);
  const BaselineLinear q(BaselineFormat::q8_0, w.data(), rows, cols);
  CHECK(q.bytes() == rows * cols + rows * (cols / 32) * 2);  // 8.5 bits per weight
  CHECK(q.note().empty());
  const auto d = decoded(q);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t b = 0; b < cols / 32; ++b) {
      // The block's definition, written out: d = amax / 127, q = round(x / d), stored d in float16.
      float amax = 0;
      for (std::size_t i = 0; i < 32; ++i)
        amax = std::max(amax, std::fabs(w[r * cols + b * 32 + i]));
      const float scale = amax / 127.0f, inverse = scale != 0 ? 1.0f / scale : 0.0f;
      const float stored = qins::half_to_float(qins::float_to_half(scale));
      for (std::size_t i = 0; i < 32; ++i) {
        const std::size_t k = r * cols + b * 32 + i;
        REQUIRE(d[k] == std::round(w[k] * inverse) * stored);
      }
    }
}

TEST_CASE("Q8_0 on rows that 32 does not divide: one block per row, said in note()",
          "[baselines]") {
  const std::size_t rows = 3, cols = 172;
  const auto w =
      qins_test::random_weights<float>(rows * cols, qins_test::Distribution::gaussian, 0.02, 6);
  const BaselineLinear q(BaselineFormat::q8_0, w.data(), rows, cols);
  CHECK(q.bytes() == rows * cols + rows * 2);
  CHECK(q.note() == "32 does not divide 172 columns: one block per row");
}

TEST_CASE("Baseline products equal decoded rows times x", "[baselines]") {
  for (BaselineFormat f : {BaselineFormat::float16, BaselineFormat::bfloat16,
                           BaselineFormat::int8_per_row, BaselineFormat::q8_0}) {
    const std::size_t rows = 17, cols = 64;
    const auto w =
        qins_test::random_weights<float>(rows * cols, qins_test::Distribution::gaussian, 0.05, 7);
    const auto x = qins_test::random_weights<float>(cols, qins_test::Distribution::uniform, 1.0, 8);
    const BaselineLinear q(f, w.data(), rows, cols);
    std::vector<float> y(rows);
    q.forward(x.data(), y.data());
    const auto d = decoded(q);
    for (std::size_t r = 0; r < rows; ++r) {
      double ref = 0, mag = 0;
      for (std::size_t c = 0; c < cols; ++c) {
        ref += double(d[r * cols + c]) * double(x[c]);
        mag += std::fabs(double(d[r * cols + c]) * double(x[c]));
      }
      INFO(qins::llama2::to_string(f) << " row " << r);
      REQUIRE(std::fabs(double(y[r]) - ref) <= 1e-6 * mag + 1e-12);
    }
  }
}

TEST_CASE("Baselines reject what they cannot hold", "[baselines]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> w = {0.1f, nan, 0.2f, 0.3f};
  CHECK_THROWS_AS(BaselineLinear(BaselineFormat::int8_per_row, w.data(), 2, 2), qins::Error);
  w[1] = 1e5f;  // beyond float16's 65504
  CHECK_THROWS_AS(BaselineLinear(BaselineFormat::float16, w.data(), 2, 2), qins::Error);
  CHECK_NOTHROW(BaselineLinear(BaselineFormat::bfloat16, w.data(), 2, 2));
  CHECK_THROWS_AS(BaselineLinear(BaselineFormat::q8_0, nullptr, 2, 2), qins::Error);
  CHECK_THROWS_AS(BaselineLinear(BaselineFormat::q8_0, w.data(), 0, 2), qins::Error);
  CHECK_THROWS_AS(BaselineLinear(static_cast<BaselineFormat>(9), w.data(), 2, 2), qins::Error);
  CHECK(std::string(qins::llama2::to_string(BaselineFormat::q8_0)) == "Q8_0");
}
