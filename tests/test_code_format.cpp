// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Every code format on every kernel path: the descriptors, the visitor, and the whole
// chain (quantize, decode, products, file) against the scalar reference.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <qins/code_format.hpp>
#include <qins/io.hpp>
#include <qins/linear.hpp>
#include <random>
#include <string>
#include <vector>

#include "support.hpp"

namespace {

template <class F, class... Formats>
void for_each_format(qins::FormatList<Formats...>, F&& f) {
  (f(Formats{}), ...);
}

// The reference chain, per row: calibrate_alpha (the same alpha on every path), then
// the scalar element function for each weight.
template <class Format>
std::vector<std::byte> reference_codes(const std::vector<float>& w, std::size_t rows,
                                       std::size_t cols, std::vector<float>& scales) {
  std::vector<std::byte> codes(rows * Format::row_bytes(cols));
  scales.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const float alpha = qins::calibrate_alpha<Format>(w.data() + r * cols, cols);
    scales[r] = 1.0f / alpha;
    for (std::size_t c = 0; c < cols; ++c)
      Format::store(codes.data() + r * Format::row_bytes(cols), c,
                    qins::detail::scalar::encode_quantize_ref<Format>(w[r * cols + c], alpha));
  }
  return codes;
}

}  // namespace

TEST_CASE("descriptors: M, byte layout, load and store of every code", "[format]") {
  for_each_format(qins::CodeFormats{}, [](auto f) {
    using Format = decltype(f);
    INFO(Format::name);
    CHECK(Format::quantized);
    CHECK(Format::max_code == (std::uint64_t{1} << Format::bits) - 1);
    CHECK(Format::max_code % 2 == 1);  // the middle is never a code: the decode never divides by 0
    CHECK(qins::is_code_format(Format::type));
    CHECK(std::string(qins::to_string(Format::type)) == Format::name);
    const qins::StoredTypeInfo info = qins::stored_type_info(Format::type);
    CHECK(info.bits == Format::bits);
    for (std::size_t n : qins_test::tail_sizes()) CHECK(info.row_bytes(n) == Format::row_bytes(n));
    // The visitor hands back this very descriptor.
    CHECK(qins::visit_code_format(Format::type, [](auto g) { return decltype(g)::type; }) ==
          Format::type);
    // Every code survives a store and a load at any index, next to its neighbours.
    const std::size_t n = 37;
    std::vector<std::byte> row(Format::row_bytes(n));
    std::mt19937 rng(unsigned(Format::bits));
    std::vector<std::uint32_t> codes(n);
    for (std::uint64_t c = 0; c <= Format::max_code; c += 1 + Format::max_code / 4096) {
      for (auto& v : codes)
        v = std::uniform_int_distribution<std::uint32_t>(0, Format::max_code)(rng);
      codes[c % n] = std::uint32_t(c);
      for (std::size_t i = 0; i < n; ++i) Format::store(row.data(), i, codes[i]);
      for (std::size_t i = 0; i < n; ++i) REQUIRE(Format::load(row.data(), i) == codes[i]);
    }
  });
  CHECK(!qins::is_code_format(qins::CodeType::float32));
  CHECK(qins::is_stored_type(qins::CodeType::float32));
  CHECK(qins::stored_type_info(qins::CodeType::float32).row_bytes(5) == 20);
  CHECK(std::string(qins::to_string(static_cast<qins::CodeType>(9))) == "unknown");
  CHECK(qins::stored_type_info(static_cast<qins::CodeType>(9)).row_bytes(5) == 0);
  CHECK_THROWS_AS(qins::visit_code_format(qins::CodeType::float32, [](auto) { return 0; }),
                  qins::Error);
  CHECK_THROWS_AS(qins::visit_code_format(static_cast<qins::CodeType>(0), [](auto) { return 0; }),
                  qins::Error);
}

TEST_CASE("every format on every path: codes, decode, products and the file", "[format][kernels]") {
  struct Shape {
    std::size_t rows, cols;
  };
  for_each_format(qins::CodeFormats{}, [](auto f) {
    using Format = decltype(f);
    for (const Shape shape : {Shape{1, 1}, Shape{3, 17}, Shape{9, 33}, Shape{70, 130}}) {
      const auto w = qins_test::random_weights<float>(shape.rows * shape.cols,
                                                      qins_test::Distribution::student_t3, 0.03,
                                                      unsigned(shape.rows * 7 + shape.cols));
      const auto x =
          qins_test::random_weights<float>(shape.cols, qins_test::Distribution::gaussian, 1.0, 5);
      std::vector<float> expected_row(shape.cols), row(shape.cols), y(shape.rows);
      std::vector<std::byte> first_codes;
      for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
        INFO(Format::name << " " << shape.rows << " x " << shape.cols);
        qins::LinearOptions options;
        options.code_type = Format::type;
        options.name = "t";
        const qins::QinsLinear layer(w.data(), shape.rows, shape.cols, options);
        REQUIRE(layer.code_type() == Format::type);
        REQUIRE(layer.memory().code_bytes == shape.rows * Format::row_bytes(shape.cols));
        // Codes: the reference's, byte for byte, and the same on every path.
        std::vector<float> ref_scales;
        const auto ref = reference_codes<Format>(w, shape.rows, shape.cols, ref_scales);
        REQUIRE(layer.scales() == ref_scales);
        REQUIRE(std::memcmp(layer.code_bytes(), ref.data(), ref.size()) == 0);
        // Decoding: the reference's values exactly.
        for (std::size_t r = 0; r < shape.rows; ++r) {
          layer.decode_row(r, row.data());
          for (std::size_t c = 0; c < shape.cols; ++c)
            expected_row[c] = qins::detail::scalar::dequantize_decode_ref<Format>(
                Format::load(ref.data() + r * Format::row_bytes(shape.cols), c), layer.scales()[r]);
          REQUIRE(row == expected_row);
        }
        // Products: within the path's stated decode bound of the decoded weights' product.
        layer.forward(x.data(), y.data());
        const auto d = layer.decode();
        double largest_x = 0;
        for (float v : x) largest_x = std::max(largest_x, std::fabs(double(v)));
        for (std::size_t r = 0; r < shape.rows; ++r) {
          double exact = 0, bound = 0;
          for (std::size_t c = 0; c < shape.cols; ++c) {
            const double wd = d(Eigen::Index(r), Eigen::Index(c));
            exact += wd * x[c];
            // Plus the inputs' rounding where the path rounds them (QinsLinear::input_rounding).
            bound += (layer.decode_error_bound() + double(shape.cols + 2) * FLT_EPSILON) *
                         (std::fabs(wd) + layer.scales()[r]) * std::fabs(double(x[c])) +
                     layer.input_rounding() * largest_x * (std::fabs(wd) + layer.scales()[r]);
          }
          REQUIRE(std::fabs(y[r] - exact) <= bound + 1e-30);
        }
        // The file keeps every byte.
        const auto bytes = qins::serialize(std::vector<qins::QinsLinear>{layer});
        const auto back = qins::parse(bytes.data(), bytes.size());
        REQUIRE(back.size() == 1);
        REQUIRE(back[0].code_type() == Format::type);
        REQUIRE(std::memcmp(back[0].code_bytes(), ref.data(), ref.size()) == 0);
      }
    }
  });
}

TEST_CASE("12-bit codes: the products' centred loads at every offset agree with the scalar decode",
          "[format][kernels]") {
  // dequantize_decode reads its codes as the products do (V::load_centered: d = c - M/2,
  // exact); runs start at even and odd codes, near the start of the array (where the
  // vector load is masked) and past it, and end anywhere, so tails are not multiples of 16
  // or 32. The decode is the reference's, bit for bit, streaming or not.
  using F12 = qins::Uint12Codes;
  std::mt19937 rng(1212);
  for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
    for (int trial = 0; trial < 600; ++trial) {
      const std::size_t n = 1 + rng() % 150, first = rng() % n, len = rng() % (n - first + 1);
      // Exactly the row's bytes, so a load past them would read outside the allocation
      // (-fsanitize=address catches it).
      std::vector<std::byte> row(F12::row_bytes(n));
      for (auto& b : row) b = std::byte(rng() % 256);
      const float inv_alpha = 0.01f + float(rng() % 100) / 64.0f;
      std::vector<float> want(len), got(len + 16);
      qins::detail::scalar::dequantize_decode_ref<F12>(row.data(), first, want.data(), len,
                                                       inv_alpha);
      for (bool stream : {false, true}) {
        INFO(qins::to_string(qins::active_isa())
             << " n " << n << " first " << first << " len " << len << " stream " << stream);
        // With stream, an output offset by one float so the aligned part starts elsewhere.
        float* out = got.data() + stream;
        qins::detail::with_kernels<float>([&](auto k) {
          k.template dequantize_decode<F12>(row.data(), first, out, len, inv_alpha, stream);
        });
        if (stream) qins::detail::finish_streaming();
        REQUIRE(std::equal(want.begin(), want.end(), out));
      }
    }
  }
}

TEST_CASE("12-bit codes: vector loads and stores at every offset agree with the scalar layout",
          "[format][kernels]") {
  // Every path's quantize and dequantize over runs that start at even and odd codes (a
  // vector then begins mid-byte) and end anywhere: the codes outside a run keep their
  // bytes, and every code reads back as the scalar layout has it.
  using F12 = qins::Uint12Codes;
  std::mt19937 rng(12);
  for ([[maybe_unused]] const auto& isa : qins_test::each_isa()) {
    for (int trial = 0; trial < 300; ++trial) {
      const std::size_t n = 1 + rng() % 90, first = rng() % n, len = rng() % (n - first + 1);
      std::vector<std::byte> row(F12::row_bytes(n));
      for (auto& b : row) b = std::byte(rng() % 256);
      std::vector<std::uint32_t> before(n);
      for (std::size_t i = 0; i < n; ++i) before[i] = F12::load(row.data(), i);
      // z values whose codes are known: z = 2 c / M - 1 rounds back to c.
      std::vector<std::uint32_t> want(len);
      std::vector<float> z(len);
      for (std::size_t i = 0; i < len; ++i) {
        want[i] = rng() % 4096;
        z[i] = float(2.0 * want[i] / 4095.0 - 1.0);
      }
      INFO(qins::to_string(qins::active_isa())
           << " n " << n << " first " << first << " len " << len);
      qins::detail::with_kernels<float>(
          [&](auto k) { k.template quantize<F12>(z.data(), row.data(), first, len); });
      for (std::size_t i = 0; i < n; ++i)
        REQUIRE(F12::load(row.data(), i) ==
                (i >= first && i < first + len ? want[i - first] : before[i]));
      std::vector<float> back(len);
      qins::detail::with_kernels<float>(
          [&](auto k) { k.template dequantize<F12>(row.data(), first, back.data(), len); });
      for (std::size_t i = 0; i < len; ++i)
        REQUIRE(back[i] == qins::detail::scalar::dequantize_ref<F12, float>(want[i]));
    }
  }
}
