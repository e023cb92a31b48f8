// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Whole matrices: every alpha granularity, layouts, positions in errors, edge rows.
#include <catch2/catch.hpp>
#include <cfloat>
#include <limits>
#include <qins/matrix.hpp>
#include <vector>

#include "support.hpp"

using qins::AlphaGranularity;
using qins_test::Distribution;

namespace {

template <class Code>
struct Quantized {
  std::vector<Code> codes;
  std::vector<float> alphas;
  std::vector<float> back;
};

template <class Code>
Quantized<Code> round_trip(const std::vector<float>& w, std::size_t rows, std::size_t cols,
                           const qins::QuantizeOptions& options) {
  Quantized<Code> q;
  q.codes.resize(w.size());
  q.alphas.resize(options.layout().count(rows, cols));
  q.back.resize(w.size());
  qins::quantize_matrix(w.data(), rows, cols, options, q.codes.data(), q.alphas.data());
  qins::dequantize_matrix(q.codes.data(), rows, cols, options.layout(), q.alphas.data(),
                          q.back.data());
  return q;
}

}  // namespace

TEMPLATE_TEST_CASE("each granularity stores its alphas and reproduces the slice-wise codes",
                   "[matrix]", std::uint8_t, std::uint16_t) {
  using Code = TestType;
  const std::size_t rows = 13, cols = 96;
  auto w = qins_test::random_weights<float>(rows * cols, Distribution::student_t3, 0.02, 21);
  // Give rows very different scales so per-row alphas must differ.
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) w[r * cols + c] *= float(1 << (r % 7));

  for (AlphaGranularity g : {AlphaGranularity::fixed, AlphaGranularity::per_tensor,
                             AlphaGranularity::per_row, AlphaGranularity::per_group}) {
    qins::QuantizeOptions options;
    options.granularity = g;
    options.group_size = 32;
    options.alpha = 2.5;
    INFO("granularity " << qins::to_string(g));
    auto q = round_trip<Code>(w, rows, cols, options);
    const std::size_t expected_count = g == AlphaGranularity::per_row     ? rows
                                       : g == AlphaGranularity::per_group ? rows * cols / 32
                                                                          : 1;
    REQUIRE(q.alphas.size() == expected_count);
    if (g == AlphaGranularity::fixed) CHECK(q.alphas[0] == 2.5f);
    // The codes of every slice equal encode_quantize of that slice with its alpha, and
    // a calibrated alpha equals calibrate_alpha of the slice.
    const std::size_t span = expected_count == 1 ? rows * cols : rows * cols / expected_count;
    for (std::size_t s = 0; s < expected_count; ++s) {
      const float* slice = w.data() + s * span;
      if (g != AlphaGranularity::fixed)
        CHECK(q.alphas[s] == qins::calibrate_alpha<Code>(slice, span));
      std::vector<Code> codes(span);
      qins::encode_quantize(slice, codes.data(), span, q.alphas[s]);
      CHECK(std::equal(codes.begin(), codes.end(), q.codes.begin() + std::ptrdiff_t(s * span)));
    }
    // Finer granularity never hurts on rows of different scales.
    CHECK(std::isfinite(qins_test::relative_rms_error(w, q.back)));
  }
}

TEST_CASE("finer alpha granularity lowers the error on rows of different scales", "[matrix]") {
  const std::size_t rows = 32, cols = 256;
  auto w = qins_test::random_weights<float>(rows * cols, Distribution::gaussian, 0.02, 5);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) w[r * cols + c] *= 1.0f + 0.3f * float(r);
  auto error_of = [&](AlphaGranularity g) {
    qins::QuantizeOptions options;
    options.granularity = g;
    return qins_test::relative_rms_error(w, round_trip<std::uint8_t>(w, rows, cols, options).back);
  };
  const double fixed = error_of(AlphaGranularity::fixed);
  const double tensor = error_of(AlphaGranularity::per_tensor);
  const double row = error_of(AlphaGranularity::per_row);
  const double group = error_of(AlphaGranularity::per_group);
  CHECK(tensor < fixed);
  CHECK(row < tensor);
  CHECK(group < row);
}

TEST_CASE("calibration off keeps the given alpha in every slot", "[matrix]") {
  std::vector<float> w(4 * 64, 0.01f);
  qins::QuantizeOptions options;
  options.granularity = AlphaGranularity::per_group;
  options.group_size = 16;
  options.calibrate = false;
  options.alpha = 3.0;
  auto q = round_trip<std::uint8_t>(w, 4, 64, options);
  REQUIRE(q.alphas.size() == 16);
  for (float a : q.alphas) CHECK(a == 3.0f);
}

TEMPLATE_TEST_CASE("zero rows, tiny rows and huge rows get finite alphas and exact zeros",
                   "[matrix][edge]", std::uint8_t, std::uint16_t) {
  using Code = TestType;
  const std::size_t cols = 19;  // not a multiple of any vector width
  std::vector<float> w;
  auto add_row = [&](float v, bool alternate) {
    for (std::size_t c = 0; c < cols; ++c) w.push_back(alternate && c % 2 ? -v : v);
  };
  add_row(0.0f, false);
  add_row(-0.0f, false);
  add_row(FLT_TRUE_MIN, true);
  add_row(FLT_MIN, true);
  add_row(1e-38f, true);
  add_row(FLT_MAX, true);
  add_row(0.5f, true);
  const std::size_t rows = w.size() / cols;
  for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
    qins::QuantizeOptions options;
    options.granularity = AlphaGranularity::per_row;
    auto q = round_trip<Code>(w, rows, cols, options);
    for (float a : q.alphas) {
      CHECK(std::isfinite(a));
      CHECK(a > 0.0f);
    }
    for (std::size_t i = 0; i < w.size(); ++i) {
      INFO("row " << i / cols << " x " << w[i]);
      REQUIRE(std::isfinite(q.back[i]));
      if (w[i] == 0.0f) CHECK(q.back[i] == 0.0f);
      if (q.back[i] != 0.0f) CHECK(std::signbit(q.back[i]) == std::signbit(w[i]));
    }
    // A row of +-FLT_MAX is reconstructed to its largest magnitude, within the code's step.
    CHECK(std::fabs(q.back[5 * cols]) == Approx(FLT_MAX).epsilon(0.02));
  }
}

TEST_CASE("matrix functions reject bad layouts and name the bad weight", "[matrix][errors]") {
  std::vector<float> w(3 * 10, 0.1f);
  std::vector<std::uint8_t> codes(w.size());
  std::vector<float> alphas(30);
  qins::QuantizeOptions options;
  options.name = "layers.0.wq";
  options.granularity = AlphaGranularity::per_group;
  options.group_size = 0;
  CHECK_THROWS_WITH(qins::quantize_matrix(w.data(), 3, 10, options, codes.data(), alphas.data()),
                    Catch::Contains("group size must be > 0") && Catch::Contains("layers.0.wq"));
  options.group_size = 4;
  CHECK_THROWS_WITH(qins::quantize_matrix(w.data(), 3, 10, options, codes.data(), alphas.data()),
                    Catch::Contains("does not divide"));
  options.group_size = 5;
  w[2 * 10 + 7] = std::numeric_limits<float>::quiet_NaN();
  try {
    qins::quantize_matrix(w.data(), 3, 10, options, codes.data(), alphas.data());
    FAIL("no exception");
  } catch (const qins::Error& e) {
    CHECK(e.kind() == qins::ErrorKind::non_finite_value);
    CHECK(e.tensor() == "layers.0.wq");
    CHECK(e.row() == 2);
    CHECK(e.col() == 7);
    CHECK_THAT(e.what(),
               Catch::Contains("NaN") && Catch::Contains("row 2") && Catch::Contains("column 7"));
  }
  w[2 * 10 + 7] = 0.1f;
  options.granularity = AlphaGranularity::fixed;
  options.alpha = -1;
  CHECK_THROWS_AS(qins::quantize_matrix(w.data(), 3, 10, options, codes.data(), alphas.data()),
                  qins::Error);
  options.granularity = static_cast<AlphaGranularity>(9);
  CHECK_THROWS_WITH(qins::quantize_matrix(w.data(), 3, 10, options, codes.data(), alphas.data()),
                    Catch::Contains("unknown alpha granularity"));
  // Stored alphas are checked on the way back.
  qins::AlphaLayout layout{AlphaGranularity::per_row, 0};
  std::vector<float> bad_alphas = {1.0f, std::numeric_limits<float>::infinity(), 1.0f};
  try {
    qins::dequantize_matrix(codes.data(), 3, 10, layout, bad_alphas.data(), w.data());
    FAIL("no exception");
  } catch (const qins::Error& e) {
    CHECK(e.row() == 1);
  }
}

TEST_CASE("empty and one-element matrices", "[matrix][edge]") {
  qins::QuantizeOptions options;
  std::vector<float> one = {-0.75f};
  std::vector<std::uint8_t> code(1);
  std::vector<float> alpha(1), back(1);
  qins::quantize_matrix(one.data(), 1, 1, options, code.data(), alpha.data());
  qins::dequantize_matrix(code.data(), 1, 1, options.layout(), alpha.data(), back.data());
  CHECK(back[0] == Approx(-0.75f).epsilon(0.02));
  CHECK_NOTHROW(qins::quantize_matrix(static_cast<const float*>(nullptr), 0, 5, options,
                                      static_cast<std::uint8_t*>(nullptr),
                                      static_cast<float*>(nullptr)));
}

TEST_CASE("large decodes (non-temporal stores) equal the reference, at any alignment",
          "[matrix][kernels]") {
  const std::size_t rows = 129, cols = 8197;  // > 4 MiB of output, odd widths
  const auto w = qins_test::random_weights<float>(rows * cols, Distribution::gaussian, 0.02, 3);
  qins::QuantizeOptions options;
  std::vector<std::uint8_t> codes(w.size());
  std::vector<float> alphas(rows);
  qins::quantize_matrix(w.data(), rows, cols, options, codes.data(), alphas.data());
  std::vector<float> expected(w.size());
  for (std::size_t r = 0; r < rows; ++r)
    qins::detail::scalar::dequantize_decode_ref<qins::Uint8Codes>(
        reinterpret_cast<const std::byte*>(codes.data()), r * cols, expected.data() + r * cols,
        cols, 1.0f / alphas[r]);
  for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
    for (std::size_t offset : {0u, 1u, 3u}) {
      std::vector<float> out(w.size() + offset);
      qins::dequantize_matrix(codes.data(), rows, cols, options.layout(), alphas.data(),
                              out.data() + offset);
      INFO("offset " << offset);
      CHECK(std::equal(expected.begin(), expected.end(), out.begin() + std::ptrdiff_t(offset)));
    }
  }
}
