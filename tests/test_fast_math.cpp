// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Built with -ffast-math: NaN and infinite weights are still rejected (the library tests
// bit patterns, not x != x), and codes still match the reference.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <limits>
#include <qins/matrix.hpp>
#include <vector>

namespace {
float from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace

TEST_CASE("non-finite weights are rejected under -ffast-math", "[fast-math][errors]") {
  for (std::uint32_t bits : {0x7fc00000u, 0xffc00001u, 0x7f800000u, 0xff800000u}) {
    std::vector<float> w(2 * 20, 0.01f);
    w[20 + 13] = from_bits(bits);
    std::vector<std::uint8_t> codes(w.size());
    std::vector<float> alphas(2);
    qins::QuantizeOptions options;
    try {
      qins::quantize_matrix(w.data(), 2, 20, options, codes.data(), alphas.data());
      FAIL("accepted a non-finite weight");
    } catch (const qins::Error& e) {
      CHECK(e.row() == 1);
      CHECK(e.col() == 13);
    }
    CHECK_THROWS_AS(qins::encode_quantize<std::uint8_t>(from_bits(bits), 1.0f), qins::Error);
    CHECK_THROWS_AS(qins::calibrate_alpha<std::uint8_t>(&w[20], 20), qins::Error);
  }
}
