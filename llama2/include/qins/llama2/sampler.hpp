// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Next-token sampling as llama2.c's run.c does it: greedy, temperature, top-p, seeded.
//
// With the same logits, temperature, top-p and seed, Sampler draws the same tokens as
// run.c (`-t T -p P -s SEED`): its xorshift64* generator, float32 softmax and cumulative
// sums are reproduced operation for operation. Temperature 0 is greedy (the lowest index
// wins ties); top-p of 0 or >= 1 samples from the whole distribution.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qins/error.hpp"

namespace qins::llama2 {

class Sampler {
 public:
  /// @throws qins::Error (invalid_argument) for a negative or non-finite temperature, or a
  /// top-p outside [0, 1] (or NaN).
  explicit Sampler(float temperature = 0.0f, float topp = 1.0f, std::uint64_t seed = 1)
      : temperature_(temperature), topp_(topp), state_(seed) {
    if (!(temperature >= 0.0f) || !std::isfinite(temperature))
      throw Error(
          ErrorKind::invalid_argument,
          "sampler: temperature must be finite and >= 0, got " + std::to_string(temperature));
    if (!(topp >= 0.0f && topp <= 1.0f))
      throw Error(ErrorKind::invalid_argument,
                  "sampler: top-p must be in [0, 1], got " + std::to_string(topp));
  }

  float temperature() const noexcept { return temperature_; }
  float topp() const noexcept { return topp_; }
  bool greedy() const noexcept { return temperature_ == 0.0f; }

  /// The next token for these logits (vocabulary size = logits.size() > 0). Advances the
  /// generator unless greedy. @throws qins::Error (invalid_argument) for empty logits.
  int sample(const std::vector<float>& logits) {
    if (logits.empty()) throw Error(ErrorKind::invalid_argument, "sampler: no logits");
    const int n = static_cast<int>(logits.size());
    if (greedy()) return argmax(logits);
    probs_.resize(logits.size());
    for (int i = 0; i < n; ++i) probs_[i] = logits[i] / temperature_;
    softmax(probs_);
    const float coin = random_f32();
    if (topp_ <= 0.0f || topp_ >= 1.0f) return sample_mult(coin);
    return sample_topp(coin);
  }

  /// Index of the largest value, the lowest index on ties (run.c's sample_argmax).
  static int argmax(const std::vector<float>& v) noexcept {
    std::size_t best = 0;
    for (std::size_t i = 1; i < v.size(); ++i)
      if (v[i] > v[best]) best = i;
    return static_cast<int>(best);
  }

 private:
  // xorshift64*, the top 32 bits of the product (run.c random_u32).
  std::uint32_t random_u32() noexcept {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return static_cast<std::uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 32);
  }
  float random_f32() noexcept { return static_cast<float>(random_u32() >> 8) / 16777216.0f; }

  static void softmax(std::vector<float>& x) noexcept {
    float max_value = x[0];
    for (float v : x) max_value = v > max_value ? v : max_value;
    float sum = 0.0f;
    for (float& v : x) {
      v = std::exp(v - max_value);
      sum += v;
    }
    for (float& v : x) v /= sum;
  }

  int sample_mult(float coin) const noexcept {
    float cdf = 0.0f;
    for (std::size_t i = 0; i < probs_.size(); ++i) {
      cdf += probs_[i];
      if (coin < cdf) return static_cast<int>(i);
    }
    return static_cast<int>(probs_.size()) - 1;  // rounding left the sum below coin
  }

  // The smallest set of most likely tokens whose probabilities exceed topp, then a draw
  // from it. Candidates below (1 - topp) / (n - 1) cannot be in the set.
  int sample_topp(float coin) {
    const std::size_t n = probs_.size();
    const float cutoff = n > 1 ? (1.0f - topp_) / static_cast<float>(n - 1) : 0.0f;
    candidates_.clear();
    for (std::size_t i = 0; i < n; ++i)
      if (probs_[i] >= cutoff) candidates_.push_back({probs_[i], static_cast<int>(i)});
    if (candidates_.empty()) return argmax(probs_);  // a tiny topp can exclude every token
    // Stable, so equal probabilities keep index order (run.c's qsort leaves that open).
    std::stable_sort(candidates_.begin(), candidates_.end(),
                     [](const Candidate& a, const Candidate& b) { return a.prob > b.prob; });
    float cumulative = 0.0f;
    std::size_t last = candidates_.size() - 1;
    for (std::size_t i = 0; i < candidates_.size(); ++i) {
      cumulative += candidates_[i].prob;
      if (cumulative > topp_) {
        last = i;
        break;
      }
    }
    const float r = coin * cumulative;
    float cdf = 0.0f;
    for (std::size_t i = 0; i <= last; ++i) {
      cdf += candidates_[i].prob;
      if (r < cdf) return candidates_[i].index;
    }
    return candidates_[last].index;
  }

  struct Candidate {
    float prob;
    int index;
  };

  float temperature_;
  float topp_;
  std::uint64_t state_;
  std::vector<float> probs_;
  std::vector<Candidate> candidates_;
};

}  // namespace qins::llama2
