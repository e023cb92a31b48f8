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

/// Weights like a trained layer's: Gaussian, scale 0.02.
inline std::vector<float> weights(std::size_t n, std::uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(n);
  for (auto& v : w) v = normal(rng);
  return w;
}

inline std::vector<float> activations(std::size_t n, std::uint32_t seed = 2) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng);
  return x;
}

/// Rates per iteration: weight-storage bytes read, weights processed and FLOPs.
inline void set_rates(benchmark::State& state, double storage_bytes, double weights, double flops) {
  const double iters = static_cast<double>(state.iterations());
  state.counters["bytes_per_second"] = benchmark::Counter(iters * storage_bytes, benchmark::Counter::kIsRate);
  state.counters["weights_per_second"] = benchmark::Counter(iters * weights, benchmark::Counter::kIsRate);
  if (flops > 0) state.counters["flops"] = benchmark::Counter(iters * flops, benchmark::Counter::kIsRate);
}

}  // namespace qins_bench
