// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// QinsLinear: products against a float64 reference on many shapes, every code type,
// granularity, path and thread count; exact memory; errors.
#include <catch2/catch.hpp>
#include <cfloat>
#include <limits>
#include <qins/linear.hpp>
#include <vector>

#include "support.hpp"

using qins::AlphaGranularity;
using qins::CodeType;
using qins_test::Distribution;

namespace {

struct Shape {
  std::size_t rows, cols, group;
};

// Inputs with both signs and a spread of magnitudes.
std::vector<float> inputs(std::size_t n, std::uint32_t seed) {
  return qins_test::random_weights<float>(n, Distribution::gaussian, 1.0, seed);
}

// |y - reference| allowed for one output: the decode error the products document, plus
// float summation over cols terms (a recursive-sum bound, cols * eps, of the terms summed:
// |w x| for decoded tiles, or for the split closed form of forward() and batches of 2-3,
// (M/2) x / d and sign(d) x, whose magnitudes add up to (|w| + 1/alpha) |x|), plus the
// rounding of adding the bias.
double allowed_error(const qins::QinsLinear& layer, const std::vector<float>& w, const float* x,
                     std::size_t r, bool fast_decode, bool split_sum, double bias) {
  double decode = 0, magnitude = 0, weights = 0, largest_x = 0;
  const std::size_t cols = layer.cols();
  for (std::size_t c = 0; c < cols; ++c) {
    const std::size_t slot = layer.layout().index(r, c, cols);
    const double wx = std::fabs(double(w[r * cols + c]) * x[c]);
    magnitude += wx;
    decode += (std::fabs(double(w[r * cols + c])) + layer.scales()[slot]) * std::fabs(double(x[c]));
    weights += std::fabs(double(w[r * cols + c])) + layer.scales()[slot];
    largest_x = std::max(largest_x, std::fabs(double(x[c])));
  }
  // The integer uint8 GEMV rounds each input by up to input_rounding() of the largest |x|
  // of its block (at most the row's largest), times a weight of at most |w| + 1/alpha.
  const double input = layer.input_rounding() * largest_x * weights;
  return input + (fast_decode ? layer.decode_error_bound() * decode : 0.0) +
         double(cols + 2) * FLT_EPSILON * (split_sum ? decode : magnitude) +
         FLT_EPSILON * std::fabs(bias) + 1e-30;
}

}  // namespace

TEST_CASE("forward and forward_batch equal a float64 product of the decoded weights", "[linear]") {
  // 13 x 2056: rows of 2 KiB and more, where the GEMV asks for rows ahead of use.
  const std::vector<Shape> shapes = {{1, 1, 1},     {1, 7, 7},       {3, 5, 5},
                                     {7, 9, 3},     {17, 33, 11},    {64, 64, 32},
                                     {33, 100, 20}, {130, 257, 257}, {13, 2056, 257}};
  // Around every switch of path: fused GEMV (2, 3), decoded tiles (4 .. 7), packed inputs
  // (8 and more: one vector, two, a 64-input block and a partial one).
  const std::vector<std::size_t> batches = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 64, 67, 129};
  qins::ThreadPool two(2);
  for (const Shape& shape : shapes) {
    const auto w =
        qins_test::random_weights<float>(shape.rows * shape.cols, Distribution::student_t3, 0.05,
                                         unsigned(shape.rows * 31 + shape.cols));
    std::vector<float> bias(shape.rows);
    for (std::size_t r = 0; r < shape.rows; ++r) bias[r] = 0.01f * float(r % 5) - 0.02f;
    for (CodeType code : {CodeType::uint8, CodeType::uint12, CodeType::uint16, CodeType::float32}) {
      for (AlphaGranularity g : {AlphaGranularity::fixed, AlphaGranularity::per_tensor,
                                 AlphaGranularity::per_row, AlphaGranularity::per_group}) {
        qins::LinearOptions options;
        options.code_type = code == CodeType::float32 ? CodeType::uint8 : code;
        options.quantize = code != CodeType::float32;
        options.granularity = g;
        options.group_size = shape.group;
        options.alpha = 20.0;
        const qins::QinsLinear layer(w.data(), shape.rows, shape.cols, options, bias.data());
        // Batches of 4 and more run the float kernels whatever the product mode (their bound
        // is that of a layer with float inputs; 1 to 3 inputs run forward() each), except on
        // Isa::avx512_amx, where they take the table and rounded inputs of forward().
        qins::QinsLinear float_inputs = layer;
        float_inputs.set_product_mode(qins::ProductMode::float_inputs);
        REQUIRE(layer.code_type() == code);
        const auto decoded = layer.decode();
        const std::vector<float> wd(decoded.data(), decoded.data() + decoded.size());
        if (code == CodeType::float32) {  // z values are for validation: decode only
          const auto x = inputs(shape.cols, 1);
          std::vector<float> y(shape.rows);
          CHECK_THROWS_WITH(layer.forward(x.data(), y.data()), Catch::Contains("has no products"));
          CHECK_THROWS_WITH(layer.forward_batch(x.data(), 1, y.data()),
                            Catch::Contains("has no products"));
          continue;
        }
        for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
          for (std::size_t batch : batches) {
            const auto x = inputs(shape.cols * batch, unsigned(batch));
            std::vector<float> y1(shape.rows * batch), y2(shape.rows * batch);
            layer.forward_batch(x.data(), batch, y1.data());
            layer.forward_batch(x.data(), batch, y2.data(), &two);
            INFO("shape " << shape.rows << "x" << shape.cols << " code " << qins::to_string(code)
                          << " granularity " << qins::to_string(g) << " batch " << batch);
            CHECK(y1 == y2);  // deterministic whatever the thread count
            std::size_t violations = 0;
            for (std::size_t b = 0; b < batch; ++b)
              for (std::size_t r = 0; r < shape.rows; ++r) {
                double ref = bias[r];
                for (std::size_t c = 0; c < shape.cols; ++c)
                  ref += double(wd[r * shape.cols + c]) * x[b * shape.cols + c];
                const bool tiles = qins::active_isa() == qins::Isa::avx512_amx && batch >= 4;
                const bool fast = true, split = batch < 4 || tiles;
                violations += std::fabs(y1[b * shape.rows + r] - ref) >
                              allowed_error(batch < 4 || tiles ? layer : float_inputs, wd,
                                            x.data() + b * shape.cols, r, fast, split, bias[r]);
              }
            CHECK(violations == 0);
          }
        }
      }
    }
  }
}

TEST_CASE("Eigen entry points accept vectors, matrices and expressions", "[linear]") {
  Eigen::MatrixXf w = Eigen::MatrixXf::Random(12, 20) * 0.1f;
  Eigen::VectorXf bias = Eigen::VectorXf::LinSpaced(12, -1.0f, 1.0f);
  const qins::QinsLinear layer(w, bias);
  CHECK(layer.rows() == 12);
  CHECK(layer.cols() == 20);
  Eigen::VectorXf x = Eigen::VectorXf::Random(20);
  Eigen::VectorXf y = layer.forward(x);
  Eigen::VectorXf y_expr = layer.forward(2.0f * x - x);  // an expression, evaluated once
  CHECK(y.isApprox(y_expr, 1e-6f));
  const auto decoded = layer.decode();
  const Eigen::VectorXf reference = decoded * x + bias;
  const std::vector<float> wd(decoded.data(), decoded.data() + decoded.size());
  for (Eigen::Index r = 0; r < 12; ++r)  // within forward()'s documented decode error
    CHECK(std::fabs(y(r) - reference(r)) <=
          allowed_error(layer, wd, x.data(), std::size_t(r), true, true, bias(r)));
  // Every column of a batch within the same documented bound.
  auto check_batch = [&](const Eigen::MatrixXf& xs, const Eigen::MatrixXf& ys) {
    const Eigen::MatrixXf ref = (decoded * xs).colwise() + bias;
    for (Eigen::Index b = 0; b < xs.cols(); ++b)
      for (Eigen::Index r = 0; r < 12; ++r)
        CHECK(std::fabs(ys(r, b) - ref(r, b)) <= allowed_error(layer, wd, xs.col(b).data(),
                                                               std::size_t(r), true, xs.cols() < 4,
                                                               bias(r)));
  };
  Eigen::MatrixXf batch = Eigen::MatrixXf::Random(20, 5);
  check_batch(batch, layer.forward_batch(batch));
  // A block of a larger matrix (outer stride) works too.
  Eigen::MatrixXf big = Eigen::MatrixXf::Random(30, 5);
  check_batch(big.topRows(20), layer.forward_batch(big.topRows(20)));
  CHECK_THROWS_AS(layer.forward(Eigen::VectorXf::Zero(19)), qins::Error);
  CHECK_THROWS_AS(layer.forward_batch(Eigen::MatrixXf::Zero(21, 2)), qins::Error);
}

TEST_CASE("decode equals dequantize_matrix of the same weights", "[linear]") {
  const std::size_t rows = 9, cols = 48;
  const auto w = qins_test::random_weights<float>(rows * cols, Distribution::gaussian, 0.03, 4);
  qins::LinearOptions options;
  options.granularity = AlphaGranularity::per_group;
  options.group_size = 16;
  const qins::QinsLinear layer(w.data(), rows, cols, options);
  qins::QuantizeOptions q;
  q.granularity = AlphaGranularity::per_group;
  q.group_size = 16;
  std::vector<std::uint8_t> codes(rows * cols);
  std::vector<float> alphas(q.layout().count(rows, cols)), back(rows * cols);
  qins::quantize_matrix(w.data(), rows, cols, q, codes.data(), alphas.data());
  qins::dequantize_matrix(codes.data(), rows, cols, q.layout(), alphas.data(), back.data());
  CHECK(std::memcmp(layer.code_bytes(), codes.data(), codes.size()) == 0);
  const auto decoded = layer.decode();
  CHECK(std::vector<float>(decoded.data(), decoded.data() + decoded.size()) == back);
  for (std::size_t i = 0; i < alphas.size(); ++i) CHECK(layer.scales()[i] == 1.0f / alphas[i]);
}

TEST_CASE("memory is exactly what the layer holds", "[linear][memory]") {
  const std::size_t n = 4096;
  std::vector<float> w(n * n);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.001f * float(int(i % 97) - 48);
  qins::LinearOptions options;  // uint8, per row
  options.calibrate = false;    // memory does not depend on the alphas' values
  const qins::QinsLinear u8(w.data(), n, n, options);
  CHECK(u8.memory().code_bytes == 16777216);
  CHECK(u8.memory().scale_bytes == 4096 * sizeof(float));
  CHECK(u8.memory().bias_bytes == 0);
  CHECK(u8.memory_bytes() == 16777216 + 4096 * 4);
  CHECK(reinterpret_cast<std::uintptr_t>(u8.code_bytes()) % 64 == 0);
  options.code_type = CodeType::uint16;
  std::vector<float> bias(n, 0.5f);
  const qins::QinsLinear u16(w.data(), n, n, options, bias.data());
  CHECK(u16.memory().code_bytes == 2 * 16777216);
  CHECK(u16.memory_bytes() == 2 * 16777216 + 4096 * 4 + 4096 * 4);
  options.code_type = CodeType::uint8;
  options.granularity = AlphaGranularity::per_group;
  options.group_size = 32;
  const qins::QinsLinear g32(w.data(), 64, n, options);
  CHECK(g32.memory_bytes() == 64 * n + 64 * (n / 32) * 4);
  options.quantize = false;  // float z values: 4 bytes per weight, the same alphas
  const qins::QinsLinear unquantized(w.data(), 64, n, options);
  CHECK(unquantized.memory().code_bytes == 64 * n * 4);
  CHECK(unquantized.scales() == g32.scales());
}

TEST_CASE("quantize = false keeps the codec's float precision", "[linear]") {
  const std::size_t rows = 16, cols = 40;
  const auto w = qins_test::random_weights<float>(rows * cols, Distribution::gaussian, 0.02, 8);
  qins::LinearOptions options;
  options.quantize = false;
  const qins::QinsLinear layer(w.data(), rows, cols, options);
  const auto d = layer.decode();
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const double x = w[r * cols + c], scale = layer.scales()[r];
      // The round-trip bound of test_codec: 2 eps (|x| + 1/alpha), plus one more rounding
      // for applying 1/alpha as a product.
      CHECK(std::fabs(d(Eigen::Index(r), Eigen::Index(c)) - x) <=
            3 * FLT_EPSILON * (std::fabs(x) + scale));
    }
}

TEST_CASE("QinsLinear rejects bad weights, shapes and options", "[linear][errors]") {
  std::vector<float> w(6 * 8, 0.1f);
  qins::LinearOptions options;
  options.name = "blk.3.ffn_up";
  w[5 * 8 + 6] = std::numeric_limits<float>::infinity();
  try {
    qins::QinsLinear layer(w.data(), 6, 8, options);
    FAIL("no exception");
  } catch (const qins::Error& e) {
    CHECK(e.tensor() == "blk.3.ffn_up");
    CHECK(e.row() == 5);
    CHECK(e.col() == 6);
  }
  w[5 * 8 + 6] = 0.1f;
  options.granularity = AlphaGranularity::per_group;
  options.group_size = 3;
  CHECK_THROWS_WITH(qins::QinsLinear(w.data(), 6, 8, options), Catch::Contains("does not divide"));
  options.group_size = 4;
  options.code_type = CodeType::float32;
  CHECK_THROWS_AS(qins::QinsLinear(w.data(), 6, 8, options), qins::Error);
  options.code_type = static_cast<CodeType>(7);
  CHECK_THROWS_AS(qins::QinsLinear(w.data(), 6, 8, options), qins::Error);
  options.code_type = CodeType::uint8;
  std::vector<float> bias(6, 0.0f);
  bias[2] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(qins::QinsLinear(w.data(), 6, 8, options, bias.data()), qins::Error);
  CHECK_THROWS_AS(qins::QinsLinear(Eigen::MatrixXf::Zero(3, 4), Eigen::VectorXf::Zero(2)),
                  qins::Error);
  const qins::QinsLinear empty;
  CHECK(empty.rows() == 0);
  CHECK(empty.memory_bytes() == 0);
  CHECK_THROWS_AS(empty.decode_row(0, w.data()), qins::Error);
  CHECK_THROWS_AS(qins::ThreadPool(0), qins::Error);
  // A batch whose packed copy (cols x batch floats) would not fit size_t: an error, before
  // anything is read, written or allocated.
  const qins::QinsLinear small(w.data(), 6, 8);
  const std::size_t huge = std::numeric_limits<std::size_t>::max() / sizeof(float) / 8;
  CHECK_THROWS_WITH(small.forward_batch(w.data(), huge, w.data()), Catch::Contains("overflows"));
  CHECK_THROWS_WITH(
      small.forward_batch(w.data(), std::numeric_limits<std::size_t>::max(), w.data()),
      Catch::Contains("overflows"));
}

TEST_CASE("zero-width and zero-height layers multiply to the bias", "[linear][edge]") {
  std::vector<float> bias(100);
  for (std::size_t r = 0; r < bias.size(); ++r) bias[r] = float(r) - 50.0f;
  const qins::QinsLinear no_inputs(static_cast<const float*>(nullptr), 100, 0, {}, bias.data());
  qins::ThreadPool two(2);
  std::vector<float> y(100, 7.0f), yb(300, 7.0f);
  float dummy = 0;
  no_inputs.forward(&dummy, y.data(), &two);
  CHECK(y == bias);
  no_inputs.forward_batch(&dummy, 3, yb.data());
  CHECK(std::vector<float>(yb.begin() + 200, yb.end()) == bias);
  const qins::QinsLinear no_outputs(static_cast<const float*>(nullptr), 0, 5);
  std::vector<float> x(5, 1.0f);
  CHECK_NOTHROW(no_outputs.forward(x.data(), y.data()));
}

TEMPLATE_TEST_CASE("forward's fast decode of every code stays within its documented bound",
                   "[linear][accuracy]", qins::Uint8Codes, qins::Uint12Codes, qins::Uint16Codes) {
  // One row per code, every weight of row c equal to code c, scale (1/alpha) 1: with
  // x = (1, 0, ..., 0), forward() returns the fast-decoded u(c) itself. 33 columns: whole
  // vectors and a tail, and for 12-bit codes the vector loads past the first (unmasked).
  using Format = TestType;
  const std::size_t m = Format::max_code, cols = 33, row_bytes = Format::row_bytes(cols);
  auto codes = qins::detail::SharedBytes::allocate((m + 1) * row_bytes);
  for (std::size_t c = 0; c <= m; ++c)
    for (std::size_t j = 0; j < cols; ++j)
      Format::store(codes.mutable_data() + c * row_bytes, j, static_cast<std::uint32_t>(c));
  const auto layer = qins::QinsLinear::from_parts("all codes", m + 1, cols, Format::type,
                                                  {AlphaGranularity::per_row, 0}, std::move(codes),
                                                  std::vector<float>(m + 1, 1.0f), {});
  for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
    // The input's one nonzero in the first vector, in a later one and in the tail.
    for (std::size_t at : {std::size_t(0), std::size_t(21), cols - 1}) {
      std::vector<float> x(cols, 0.0f), y(m + 1);
      x[at] = 1.0f;
      layer.forward(x.data(), y.data());
      double worst_bound = 0, worst_step = 0;
      for (std::size_t c = 0; c <= m; ++c) {
        const double exact = qins::detail::scalar::decoded_times_alpha_ref<Format, float>(
            static_cast<std::uint32_t>(c));
        const double err = std::fabs(y[c] - exact);
        worst_bound = std::max(worst_bound, err / (std::fabs(exact) + 1.0));
        // The local code step: distance to the neighbouring code's value.
        const double half = double(m) / 2, d = double(c) - half;
        const double step = std::fabs(half / d - half / (d + (d < 0 ? -1 : 1)));
        worst_step = std::max(worst_step, err / step);
      }
      INFO(Format::name << " input at " << at << ": worst error " << worst_bound
                        << " x (|w| + 1/alpha), " << worst_step << " of a code step");
      // Each path's own bound, and the class comment's: 4.7% of a code step for uint8,
      // 12.5% for uint12 (75% on AVX2 before its Newton step), 3.3% for uint16 on every path.
      CHECK(worst_bound <= layer.decode_error_bound());
      // The step from u outwards is (M/2) / (|d| (|d| + 1)) = (1 + u) / (|d| + 1), at least
      // (1 + u) / (M/2 + 1): the same bound in steps.
      CHECK(worst_step <= layer.decode_error_bound() * (double(m) / 2 + 1));
      if (layer.input_rounding() == 0) {
        CHECK(layer.decode_error_bound() * double(m) / 2 <= (Format::bits == 8    ? 0.047
                                                             : Format::bits == 12 ? 0.125
                                                                                  : 0.033));
      } else {
        // The integer uint8 GEMV: a 15-bit table scaled to the largest |u| present (254
        // here, every code is), so half of one table step, 254 / 65534 of 1/alpha, plus 4
        // roundings.
        CHECK(layer.decode_error_bound() <= 254.0 / 65534 + 0x1p-21);
      }
    }
  }
}

TEST_CASE("a pool used from inside its own task runs the nested call inline", "[linear][threads]") {
  qins::ThreadPool pool(2);
  std::vector<int> hits(8, 0);
  pool.parallel_for(4, [&](std::size_t i) {
    pool.parallel_for(2, [&](std::size_t j) { hits[2 * i + j] += 1; });
  });
  CHECK(hits == std::vector<int>(8, 1));
  CHECK_THROWS_AS(pool.parallel_for(3,
                                    [](std::size_t i) {
                                      if (i == 1) throw std::runtime_error("task failed");
                                    }),
                  std::runtime_error);
}

TEST_CASE("options that cannot be represented are rejected, not converted", "[linear][errors]") {
  std::vector<float> w = {1e9f, -1e9f, 0.5f, 0.25f};
  qins::LinearOptions options;
  options.granularity = AlphaGranularity::fixed;
  options.alpha = 1e39;  // beyond float
  CHECK_THROWS_AS(qins::QinsLinear(w.data(), 2, 2, options), qins::Error);
  options.alpha = 1e30;  // alpha |x| overflows: without quantization z would be 0
  options.quantize = false;
  CHECK_THROWS_WITH(qins::QinsLinear(w.data(), 2, 2, options), Catch::Contains("overflows"));
  options.quantize = true;  // codes saturate instead, keeping the sign
  CHECK_NOTHROW(qins::QinsLinear(w.data(), 2, 2, options));
}

TEST_CASE("products refuse an output that overlaps their input", "[linear][errors]") {
  const auto w = qins_test::random_weights<float>(8 * 8, Distribution::gaussian, 0.1, 3);
  const qins::QinsLinear layer(w.data(), 8, 8);
  std::vector<float> buffer(32, 0.5f);
  CHECK_THROWS_WITH(layer.forward(buffer.data(), buffer.data()), Catch::Contains("overlaps"));
  CHECK_THROWS_WITH(layer.forward(buffer.data(), buffer.data() + 7), Catch::Contains("overlaps"));
  CHECK_NOTHROW(layer.forward(buffer.data(), buffer.data() + 8));  // adjacent is fine
  CHECK_THROWS_WITH(layer.forward_batch(buffer.data(), 2, buffer.data() + 12),
                    Catch::Contains("overlaps"));
  CHECK_NOTHROW(layer.forward_batch(buffer.data(), 2, buffer.data() + 16));
}
