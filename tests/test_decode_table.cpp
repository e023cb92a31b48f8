// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The integer uint8 GEMV: its table and rounded inputs against the formulas written out
// here, the AVX-512 VNNI kernel against the scalar reference, and its accuracy through
// QinsLinear on trained weights.
#include <catch2/catch.hpp>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <qins/detail/decode_table.hpp>
#include <qins/linear.hpp>
#include <random>
#include <vector>

#include "model_fixture.hpp"
#include "support.hpp"

using qins::detail::RoundedInputs;
using qins::detail::Uint8DecodeTable;

namespace {

// The weight times alpha of a uint8 code, as QINS.md writes it: (M/2 - |d|) / d.
double u_of(unsigned c) {
  const double d = double(c) - 127.5;
  return (127.5 - std::fabs(d)) / d;
}

std::vector<std::byte> bytes_of(const std::vector<unsigned>& codes) {
  std::vector<std::byte> b;
  for (unsigned c : codes) b.push_back(std::byte(c));
  return b;
}

bool vnni() { return qins::is_supported(qins::Isa::avx512_vnni); }

// A uint8 layer of random codes and scales (segments of `span` columns), its table, and
// the magnitude sum |term| of the reference's terms for an input: the scale of the float
// rounding the kernels may differ by.
struct RandomLayer {
  std::size_t rows, cols, span, segments;
  std::vector<std::byte> codes;
  std::vector<float> scales;
  qins::detail::CodeMatrixView<qins::Uint8Codes> w;
  Uint8DecodeTable t;

  RandomLayer(std::size_t r, std::size_t c, std::size_t s, std::mt19937& rng)
      : rows(r), cols(c), span(s), segments((c + s - 1) / s), codes(r * c), scales(r * segments) {
    for (auto& b : codes) b = std::byte(rng() % 256);
    for (auto& v : scales) v = 0.01f + 0.1f * float(rng() % 100) / 100.0f;
    w = {codes.data(), rows, cols, cols, scales.data(), segments, span};
    t = Uint8DecodeTable::for_codes(codes.data(), codes.size());
  }
  double term(std::size_t r, std::size_t j, const RoundedInputs& in) const {
    return (t.entry(unsigned(codes[r * cols + j])) + 0.5) * double(t.inv_scale) * in.value(j) *
           scales[r * segments + j / span];
  }
  double magnitude(std::size_t r, const RoundedInputs& in) const {
    double m = 0;
    for (std::size_t j = 0; j < cols; ++j) m += std::fabs(term(r, j, in));
    return m;
  }
};

}  // namespace

TEST_CASE("the decode table holds u(c) S within 1/2 for every code", "[decode_table]") {
  std::mt19937 rng(7);
  std::vector<std::vector<unsigned>> code_sets = {{}, {0, 255}, {127}, {128}, {0, 127, 128, 255}};
  std::vector<unsigned> all(256);
  for (unsigned c = 0; c < 256; ++c) all[c] = c;
  code_sets.push_back(all);
  for (int i = 0; i < 50; ++i) {  // random layers: codes away from the middle by a random margin
    const unsigned margin = rng() % 128;
    std::vector<unsigned> set;
    for (int k = 0; k < 200; ++k) {
      const unsigned c = rng() % 256;
      if (c + margin < 128 || c >= 128 + margin) set.push_back(c);
    }
    code_sets.push_back(set);
  }
  for (const auto& set : code_sets) {
    const auto bytes = bytes_of(set);
    const Uint8DecodeTable t = Uint8DecodeTable::for_codes(bytes.data(), bytes.size());
    double largest = 0;
    for (unsigned c : set) largest = std::max(largest, std::fabs(u_of(c)));
    const double s = 32767.0 / std::max(largest, 1.0);
    INFO("largest |u| " << largest);
    CHECK(t.weight_error == Approx(0.5 / s).epsilon(1e-12));
    CHECK(double(t.inv_scale) == Approx(1.0 / s).epsilon(1e-7));
    for (unsigned c = 0; c < 256; ++c) {
      const std::int32_t p = t.entry(c);
      CHECK(p >= -32768);
      CHECK(p <= 32767);
      // Every code the layer holds (and any other code with |u| <= largest) within 1/2.
      if (std::fabs(u_of(c)) <= std::max(largest, 1.0))
        CHECK(std::fabs((p + 0.5) - u_of(c) * s) <= 0.5 + 1e-9);
    }
    // The zero codes: (P + 1/2) / S is within the bound of 0.
    CHECK(std::fabs((t.entry(0) + 0.5) / s) <= t.weight_error + 1e-15);
    CHECK(std::fabs((t.entry(255) + 0.5) / s) <= t.weight_error + 1e-15);
  }
}

TEST_CASE("rounded inputs are within max|x| / 8190 of x, per block", "[decode_table]") {
  std::mt19937 rng(11);
  const float tiny = std::numeric_limits<float>::denorm_min();
  for (std::size_t cols : {1, 2, 63, 64, 65, 255, 256, 257, 1000, 4099}) {
    for (int kind = 0; kind < 5; ++kind) {
      auto x = qins_test::random_weights<float>(cols, qins_test::Distribution::gaussian, 1.0,
                                                unsigned(cols * 10 + kind));
      if (kind == 1) x.assign(cols, 0.0f);
      if (kind == 2) x[0] = -0.0f, x[cols / 2] = 1e38f, x[cols - 1] = -1e38f;
      if (kind == 3)
        for (auto& v : x) v *= 1e-39f;  // denormals
      if (kind == 4) x[rng() % cols] = tiny;
      RoundedInputs in;
      REQUIRE(in.round(x.data(), cols, cols));
      CHECK(in.block == 256);
      CHECK(in.q.size() % 64 == 0);
      CHECK(in.q.size() >= cols);
      for (std::size_t b0 = 0; b0 < cols; b0 += in.block) {
        float largest = 0;
        for (std::size_t j = b0; j < std::min(cols, b0 + in.block); ++j)
          largest = std::max(largest, std::fabs(x[j]));
        for (std::size_t j = b0; j < std::min(cols, b0 + in.block); ++j) {
          INFO("cols " << cols << " kind " << kind << " j " << j << " x " << x[j]);
          CHECK(std::abs(in.q[RoundedInputs::slot(j)]) <= RoundedInputs::kMaxQ);
          // Relative to max |x| (plus the float step's own rounding, and denormal steps).
          CHECK(std::fabs(in.value(j) - x[j]) <=
                double(largest) * (RoundedInputs::kRelativeRounding + 4096 * 0x1p-24) + 4096e-45);
        }
      }
      // Past cols, zeros; the slots are a permutation of the chunk.
      std::vector<int> seen(in.q.size(), 0);
      for (std::size_t j = 0; j < in.q.size(); ++j) ++seen[RoundedInputs::slot(j)];
      CHECK(std::count(seen.begin(), seen.end(), 1) == std::ptrdiff_t(in.q.size()));
      for (std::size_t j = cols; j < in.q.size(); ++j) CHECK(in.q[RoundedInputs::slot(j)] == 0);
      // The correction is half of sum q step over the segment.
      double half_sum = 0;
      for (std::size_t j = 0; j < cols; ++j) half_sum += 0.5 * in.value(j);
      CHECK(double(in.correction[0]) == Approx(half_sum).epsilon(1e-5).margin(1e-30));
    }
  }
  // Not finite: the float path takes it.
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> x(100, 1.0f);
    x[77] = bad;
    RoundedInputs in;
    CHECK_FALSE(in.round(x.data(), x.size(), x.size()));
  }
  // Layouts: one segment, or segments of whole 64-column chunks.
  CHECK(RoundedInputs::supports(100, 100));
  CHECK(RoundedInputs::supports(256, 64));
  CHECK(RoundedInputs::supports(384, 192));
  CHECK_FALSE(RoundedInputs::supports(0, 0));
  CHECK_FALSE(RoundedInputs::supports(96, 32));
  CHECK_FALSE(RoundedInputs::supports(200, 100));
  std::vector<float> x(384, 1.0f);
  RoundedInputs in;
  REQUIRE(in.round(x.data(), 384, 192));
  CHECK(in.block == 64);  // the largest of 256, 128, 64 dividing the segment
  REQUIRE(in.round(x.data(), 384, 128));
  CHECK(in.block == 128);
  CHECK(in.correction.size() == 3);
}

TEST_CASE("the VNNI table GEMV equals the scalar reference, tails and segments included",
          "[decode_table][isa]") {
  // The reference is checked against its formula everywhere; the kernel where the CPU
  // runs it.
  struct Case {
    std::size_t rows, cols, span;
  };
  const std::vector<Case> cases = {{1, 1, 1},     {3, 63, 63},     {5, 64, 64},     {7, 65, 65},
                                   {9, 300, 300}, {4, 4100, 4100}, {70, 256, 64},   {6, 512, 128},
                                   {3, 768, 192}, {2, 1024, 512},  {13, 2056, 2056}};
  std::mt19937 rng(3);
  for (const Case& k : cases) {
    const RandomLayer layer(k.rows, k.cols, k.span, rng);
    const auto& w = layer.w;
    const auto& t = layer.t;
    const auto x =
        qins_test::random_weights<float>(k.cols, qins_test::Distribution::gaussian, 1.0, 5);
    RoundedInputs in;
    REQUIRE(in.round(x.data(), k.cols, k.span));
    std::vector<float> ref(k.rows), got(k.rows);
    qins::detail::scalar::table_gemv_ref(w, t, in, ref.data());
    // The reference against its own formula in float64: sum of (P + 1/2) / S q step / alpha.
    for (std::size_t r = 0; r < k.rows; ++r) {
      double exact = 0;
      for (std::size_t j = 0; j < k.cols; ++j) exact += layer.term(r, j, in);
      CHECK(std::fabs(ref[r] - exact) <= 1e-5 * layer.magnitude(r, in) + 1e-30);
    }
#if QINS_HAS_AVX512_VNNI_KERNELS
    if (vnni()) {
      qins::detail::avx512_vnni::Kernels::table_gemv(w, t, in, got.data());
      for (std::size_t r = 0; r < k.rows; ++r) {
        INFO("rows " << k.rows << " cols " << k.cols << " span " << k.span << " row " << r);
        CHECK(std::fabs(got[r] - ref[r]) <= 1e-5 * layer.magnitude(r, in) + 1e-30);
      }
    }
#endif
  }
}

TEST_CASE("tile inputs hold each q as 256 qh + ql in the tile layout", "[decode_table]") {
  std::mt19937 rng(11);
  for (std::size_t batch : {1u, 3u, 16u, 17u, 40u}) {
    const std::size_t cols = 1 + rng() % 700;
    std::vector<RoundedInputs> in(batch);
    for (std::size_t b = 0; b < batch; ++b) {
      const auto x = qins_test::random_weights<float>(cols, qins_test::Distribution::gaussian, 1.0,
                                                      std::uint32_t(b + 1));
      REQUIRE(in[b].round(x.data(), cols, cols));
    }
    qins::detail::TileInputs t;
    t.pack(in.data(), batch);
    REQUIRE(t.input_tiles == (batch + 15) / 16);
    REQUIRE(t.col_tiles == (cols + 63) / 64);
    for (std::size_t b = 0; b < t.input_tiles * 16; ++b)
      for (std::size_t j = 0; j < t.col_tiles * 64; ++j) {
        // Column j of input b: tile row (j % 64) / 4, byte 4 (b % 16) + j % 4.
        const std::size_t at = ((j % 64) / 4) * 64 + (b % 16) * 4 + j % 4;
        const int ql = static_cast<std::uint8_t>(t.tile(j / 64, b / 16, 0)[at]);
        const int qh = t.tile(j / 64, b / 16, 1)[at];
        const int expected = b < batch && j < cols ? in[b].q[RoundedInputs::slot(j)] : 0;
        REQUIRE(256 * qh + ql == expected);
      }
    for (std::size_t b = 0; b < batch; ++b)
      for (std::size_t blk = 0; blk * in[b].block < cols; ++blk) {
        double sum = 0;
        for (std::size_t j = blk * in[b].block; j < cols && j < (blk + 1) * in[b].block; ++j)
          sum += in[b].q[RoundedInputs::slot(j)];
        CHECK(t.steps(blk, b / 16)[b % 16] == in[b].step[blk]);
        CHECK(t.half_sums(blk, b / 16)[b % 16] == float(sum / 2));
      }
  }
}

TEST_CASE("the AMX table GEMM equals the reference of each input, tails and segments included",
          "[decode_table][isa]") {
#if QINS_HAS_AVX512_AMX_KERNELS
  if (!qins::is_supported(qins::Isa::avx512_amx)) return;  // checked where the CPU runs it
  using Kernels = qins::detail::avx512_amx::Kernels;
  struct Case {
    std::size_t rows, cols, span, batch;
  };
  const std::vector<Case> cases = {{1, 1, 1, 2},      {3, 63, 63, 5},      {16, 64, 64, 16},
                                   {17, 65, 65, 17},  {9, 300, 300, 3},    {4, 4100, 4100, 2},
                                   {70, 256, 64, 33}, {6, 512, 128, 64},   {33, 768, 192, 70},
                                   {2, 1024, 512, 8}, {13, 2056, 2056, 4}, {40, 257, 257, 1}};
  std::mt19937 rng(5);
  for (const Case& k : cases) {
    const RandomLayer layer(k.rows, k.cols, k.span, rng);
    const auto& w = layer.w;
    const auto& t = layer.t;
    std::vector<RoundedInputs> in(k.batch);
    for (std::size_t b = 0; b < k.batch; ++b) {
      auto x = qins_test::random_weights<float>(k.cols, qins_test::Distribution::gaussian, 1.0,
                                                std::uint32_t(7 + b));
      if (b % 5 == 4) std::fill(x.begin(), x.end(), 0.0f);  // an all-zero input (step 0)
      REQUIRE(in[b].round(x.data(), k.cols, k.span));
    }
    qins::detail::TileInputs packed;
    packed.pack(in.data(), k.batch);
    std::vector<std::byte, qins::detail::AlignedAllocator<std::byte>> scratch(
        Kernels::table_gemm_scratch_bytes(packed));
    const std::size_t ldy = k.rows + 3;  // a stride other than rows; y accumulates
    std::vector<float> got(k.batch * ldy, 1.0f), ref(k.rows);
    Kernels::table_gemm(w, t, packed, got.data(), ldy, scratch.data());
    for (std::size_t b = 0; b < k.batch; ++b) {
      qins::detail::scalar::table_gemv_ref(w, t, in[b], ref.data());
      for (std::size_t r = 0; r < k.rows; ++r) {
        const double magnitude = layer.magnitude(r, in[b]);
        INFO("rows " << k.rows << " cols " << k.cols << " span " << k.span << " batch " << k.batch
                     << " input " << b << " row " << r);
        CHECK(std::fabs((got[b * ldy + r] - 1.0f) - ref[r]) <= 1e-5 * magnitude + 1e-6);
      }
      for (std::size_t r = k.rows; r < ldy; ++r) CHECK(got[b * ldy + r] == 1.0f);  // untouched
    }
  }
#endif
}

TEST_CASE("the integer sums cannot overflow: extreme codes times extreme inputs",
          "[decode_table]") {
  // Every weight at the code nearest M/2 (|P| = 32768 or 32767) and every input at the
  // block's maximum (|q| = 4095): the largest int32 lane sum the kernel can meet.
  for (unsigned code : {127u, 128u}) {
    const std::size_t rows = 3, cols = 1024;
    auto bytes = qins::detail::SharedBytes::allocate(rows * cols);
    std::memset(bytes.mutable_data(), int(code), rows * cols);
    const auto layer = qins::QinsLinear::from_parts("extreme", rows, cols, qins::CodeType::uint8,
                                                    {qins::AlphaGranularity::per_row, 0},
                                                    std::move(bytes), {1.0f, 1.0f, 1.0f}, {});
    for (const auto& isa : qins_test::each_isa()) {
      (void)isa;
      for (float sign : {1.0f, -1.0f}) {
        // One input, and a batch of 20 (every path's batched product: tiles on AMX).
        std::vector<float> x(20 * cols, sign * 3.0f), y(20 * rows);
        layer.forward(x.data(), y.data());
        layer.forward_batch(x.data() + cols, 19, y.data() + rows);
        const double exact = u_of(code) * 3.0 * sign * double(cols);  // +-762,048
        // The documented bound: decode_error_bound() (|w| + 1/alpha) |x| per weight. On the
        // table path the error is also at most its table's half step (1/alpha = 1) per
        // weight: a wrapped int32 would be off by ~24,000.
        const double documented = layer.decode_error_bound() * 255 * 3 * cols;
        const double table = layer.input_rounding() > 0
                                 ? layer.decode_error_bound() * 3 * cols + 1e-6 * std::fabs(exact)
                                 : documented;
        for (float v : y) {
          CHECK(std::fabs(v - exact) <= documented);
          CHECK(std::fabs(v - exact) <= table);
        }
      }
    }
  }
}

TEST_CASE("ProductMode::float_inputs and non-finite inputs take the float kernels",
          "[decode_table][linear]") {
  const auto w =
      qins_test::random_weights<float>(40 * 300, qins_test::Distribution::gaussian, 0.02, 9);
  qins::QinsLinear fast(w.data(), 40, 300);
  qins::QinsLinear exact = fast;
  exact.set_product_mode(qins::ProductMode::float_inputs);
  CHECK(exact.product_mode() == qins::ProductMode::float_inputs);
  CHECK(exact.input_rounding() == 0);
  auto x = qins_test::random_weights<float>(300, qins_test::Distribution::gaussian, 1.0, 4);
  std::vector<float> y_exact(40), y_avx512(40), y_fast(40);
  exact.forward(x.data(), y_exact.data());
  fast.forward(x.data(), y_fast.data());
  CHECK(fast.input_rounding() == (vnni() ? RoundedInputs::kRelativeRounding : 0.0));
  if (vnni()) {
    {
      qins::ScopedIsa avx512(qins::Isa::avx512);
      CHECK(fast.input_rounding() == 0);  // the path below has no table GEMV
      fast.forward(x.data(), y_avx512.data());
    }
    CHECK(y_exact == y_avx512);  // float_inputs is the avx512 kernel
    CHECK(y_fast != y_exact);    // and the table path is not (rounded inputs)
    x[123] = std::numeric_limits<float>::quiet_NaN();
    fast.forward(x.data(), y_fast.data());
    exact.forward(x.data(), y_exact.data());
    for (std::size_t r = 0; r < 40; ++r) CHECK((std::isnan(y_fast[r]) && std::isnan(y_exact[r])));
    // A batch with a NaN in one input and an infinity in another takes the float path:
    // only those inputs' outputs are not finite.
    auto xs = qins_test::random_weights<float>(300 * 6, qins_test::Distribution::gaussian, 1.0, 8);
    std::vector<float> y_batch(40 * 6), y_float(40 * 6);
    xs[2 * 300 + 17] = std::numeric_limits<float>::quiet_NaN();
    xs[4 * 300 + 299] = -std::numeric_limits<float>::infinity();
    fast.forward_batch(xs.data(), 6, y_batch.data());
    exact.forward_batch(xs.data(), 6, y_float.data());
    for (std::size_t b = 0; b < 6; ++b)
      for (std::size_t r = 0; r < 40; ++r) {
        CHECK(std::isfinite(y_batch[b * 40 + r]) == (b != 2 && b != 4));
        if (b != 2 && b != 4) CHECK(y_batch[b * 40 + r] == y_float[b * 40 + r]);
      }
  }
}

TEST_CASE("the fast uint8 GEMV adds at most 1e-3 relative error on trained weights",
          "[decode_table][linear][accuracy]") {
  // The linear layers of stories260K, per row and (where 64 divides the rows) per group of
  // 64, with inputs of unit scale: the error of y against the exact decode of the same codes, on
  // every path.
  for (const auto& lw : qins_test::linear_layers()) {
    for (qins::AlphaGranularity g :
         {qins::AlphaGranularity::per_row, qins::AlphaGranularity::per_group}) {
      if (g == qins::AlphaGranularity::per_group && lw.cols % 64 != 0) continue;  // 172 columns
      qins::LinearOptions o;
      o.granularity = g;
      o.group_size = 64;
      const qins::QinsLinear layer(lw.data, lw.rows, lw.cols, o);
      const auto decoded = layer.decode();
      for (const auto& isa : qins_test::each_isa()) {
        (void)isa;
        double err = 0, norm = 0;
        double batch_err = 0;
        const std::size_t batch = 4;
        const auto xs = qins_test::random_weights<float>(lw.cols * batch,
                                                         qins_test::Distribution::gaussian, 1.0, 1);
        std::vector<float> ys(lw.rows * batch);
        layer.forward_batch(xs.data(), batch, ys.data());
        for (std::size_t b = 0; b < batch; ++b) {
          const float* x = xs.data() + b * lw.cols;
          std::vector<float> y(lw.rows);
          layer.forward(x, y.data());
          for (std::size_t r = 0; r < lw.rows; ++r) {
            double ref = 0;
            for (std::size_t c = 0; c < lw.cols; ++c) ref += double(decoded(r, c)) * x[c];
            err += (y[r] - ref) * (y[r] - ref);
            batch_err += (ys[b * lw.rows + r] - ref) * (ys[b * lw.rows + r] - ref);
            norm += ref * ref;
          }
        }
        INFO(lw.name << " " << qins::to_string(g) << " on " << qins::to_string(qins::active_isa())
                     << ": relative error " << std::sqrt(err / norm) << ", batched "
                     << std::sqrt(batch_err / norm));
        CHECK(std::sqrt(err / norm) <= 1e-3);
        CHECK(std::sqrt(batch_err / norm) <= 1e-3);
      }
    }
  }
}
