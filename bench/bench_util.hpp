// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Shared data and counters of the benchmarks.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace qins_bench {

/// n Gaussian values of standard deviation sigma.
inline std::vector<float> gaussian(std::size_t n, float sigma, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

/// Weights like a trained layer's (scale 0.02) and activations of unit scale.
inline std::vector<float> weights(std::size_t n, std::uint32_t seed = 1) {
  return gaussian(n, 0.02f, seed);
}
inline std::vector<float> activations(std::size_t n, std::uint32_t seed = 2) {
  return gaussian(n, 1.0f, seed);
}

/// Rates per iteration: weight-storage bytes read, weights processed and FLOPs.
inline void set_rates(benchmark::State& state, double storage_bytes, double weights, double flops) {
  const double iters = static_cast<double>(state.iterations());
  state.counters["bytes_per_second"] =
      benchmark::Counter(iters * storage_bytes, benchmark::Counter::kIsRate);
  state.counters["weights_per_second"] =
      benchmark::Counter(iters * weights, benchmark::Counter::kIsRate);
  if (flops > 0)
    state.counters["flops"] = benchmark::Counter(iters * flops, benchmark::Counter::kIsRate);
}

}  // namespace qins_bench
