// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Codec kernels: whole-matrix dequantize and encode + quantize (with calibration), for
// uint8, uint12 (through the descriptor: it has no C++ element type) and uint16.
//   BM_dequantize/<code>/<n>
//   BM_encode/<code>/<granularity>/<n>
#include <qins/matrix.hpp>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace {

template <class Code>
void bm_dequantize(benchmark::State& state, std::size_t n) {
  const std::size_t cols = 4096, rows = n / cols;
  const auto w = qins_bench::weights(n);
  qins::QuantizeOptions options;  // per row, calibrated
  std::vector<Code> codes(n);
  std::vector<float> alphas(rows), out(n);
  qins::quantize_matrix(w.data(), rows, cols, options, codes.data(), alphas.data());
  for (auto _ : state) {
    qins::dequantize_matrix(codes.data(), rows, cols, options.layout(), alphas.data(), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  qins_bench::set_rates(state, double(n * sizeof(Code)), double(n), 0);
}

template <class Code>
void bm_encode(benchmark::State& state, qins::AlphaGranularity g, std::size_t n) {
  const std::size_t cols = 4096, rows = n / cols;
  const auto w = qins_bench::weights(n);
  qins::QuantizeOptions options;
  options.granularity = g;
  std::vector<Code> codes(n);
  std::vector<float> alphas(options.layout().count(rows, cols));
  for (auto _ : state) {
    qins::quantize_matrix(w.data(), rows, cols, options, codes.data(), alphas.data());
    benchmark::DoNotOptimize(codes.data());
    benchmark::ClobberMemory();
  }
  qins_bench::set_rates(state, double(n * sizeof(float)), double(n), 0);
}

// 12-bit codes: the descriptor-level entry point every code type goes through.
void bm_encode_u12(benchmark::State& state, qins::AlphaGranularity g, std::size_t n) {
  using Format = qins::Uint12Codes;
  const std::size_t cols = 4096, rows = n / cols;
  const auto w = qins_bench::weights(n);
  qins::QuantizeOptions options;
  options.granularity = g;
  std::vector<std::byte> codes(rows * Format::row_bytes(cols));
  std::vector<float> alphas(options.layout().count(rows, cols));
  for (auto _ : state) {
    qins::detail::quantize_matrix_codes<Format>(w.data(), rows, cols, options, codes.data(),
                                                Format::row_bytes(cols), alphas.data());
    benchmark::DoNotOptimize(codes.data());
    benchmark::ClobberMemory();
  }
  qins_bench::set_rates(state, double(n * sizeof(float)), double(n), 0);
}

const bool registered = [] {
  for (std::size_t n : {std::size_t(64) * 4096, std::size_t(4096) * 4096}) {
    const std::string size = std::to_string(n);
    benchmark::RegisterBenchmark(("BM_dequantize/u8/" + size).c_str(), bm_dequantize<std::uint8_t>,
                                 n);
    benchmark::RegisterBenchmark(("BM_dequantize/u16/" + size).c_str(),
                                 bm_dequantize<std::uint16_t>, n);
    for (auto g : {qins::AlphaGranularity::per_tensor, qins::AlphaGranularity::per_row,
                   qins::AlphaGranularity::per_group}) {
      const std::string gname = qins::to_string(g);
      benchmark::RegisterBenchmark(("BM_encode/u8/" + gname + "/" + size).c_str(),
                                   bm_encode<std::uint8_t>, g, n);
      benchmark::RegisterBenchmark(("BM_encode/u12/" + gname + "/" + size).c_str(), bm_encode_u12,
                                   g, n);
      benchmark::RegisterBenchmark(("BM_encode/u16/" + gname + "/" + size).c_str(),
                                   bm_encode<std::uint16_t>, g, n);
    }
  }
  return true;
}();

}  // namespace
