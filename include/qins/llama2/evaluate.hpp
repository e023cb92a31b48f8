// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// How much a converted model's generation differs from the float32 reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "../error.hpp"
#include "model.hpp"

namespace qins::llama2 {

/// The float32 model's greedy continuation from BOS and its next-token logits along it.
struct Reference {
  std::vector<int> tokens;
  std::vector<std::vector<float>> logits;  ///< logits[i] predicts tokens[i]
};

inline Reference make_reference(const Model& model, int n_tokens, int bos = 1) {
  Reference r;
  r.tokens = generate_greedy(model, n_tokens, bos);
  r.logits = teacher_forced_logits(model, r.tokens, bos);
  return r;
}

/// The prototype's token test and the softer teacher-forced metrics.
struct GenerationComparison {
  std::size_t tokens = 0;            ///< N
  std::size_t token_match = 0;       ///< greedy tokens equal to the reference at the same position
  std::size_t token_match_15 = 0;    ///< the same over the first min(15, N)
  long first_divergence = -1;        ///< first position that differs, -1 if none
  double top1_agreement = 0;         ///< fraction of reference prefixes whose argmax is the reference token
  double mean_kld = 0;               ///< mean KL(reference || converted) of next-token distributions, nats
  bool lossless() const { return token_match == tokens; }
  bool acceptable() const { return tokens == 0 || double(token_match) >= 0.95 * double(tokens); }
};

namespace detail {
/// log-softmax in double.
inline std::vector<double> log_softmax(const std::vector<float>& logits) {
  const double m = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(double(v) - m);
  const double log_sum = std::log(sum) + m;
  std::vector<double> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) out[i] = double(logits[i]) - log_sum;
  return out;
}
}  // namespace detail

/// Runs `model` greedily for as many tokens as the reference has, and teacher-forced on
/// the reference sequence, and compares.
/// @throws qins::Error if the reference's logits do not match its tokens and the
/// model's vocabulary.
inline GenerationComparison compare_generation(const Model& model, const Reference& reference, int bos = 1) {
  if (reference.logits.size() != reference.tokens.size())
    throw Error(ErrorKind::size_mismatch, "reference has " + std::to_string(reference.logits.size()) +
                                              " logit vectors for " + std::to_string(reference.tokens.size()) + " tokens");
  for (const auto& l : reference.logits)
    if (l.size() != static_cast<std::size_t>(model.config().vocab_size))
      throw Error(ErrorKind::size_mismatch, "reference logits do not match the model's vocabulary size");
  GenerationComparison c;
  c.tokens = reference.tokens.size();
  const std::vector<int> generated = generate_greedy(model, static_cast<int>(c.tokens), bos);
  for (std::size_t i = 0; i < c.tokens; ++i) {
    const bool same = generated[i] == reference.tokens[i];
    c.token_match += same;
    if (i < 15) c.token_match_15 += same;
    if (!same && c.first_divergence < 0) c.first_divergence = static_cast<long>(i);
  }
  const auto logits = teacher_forced_logits(model, reference.tokens, bos);
  std::size_t agree = 0;
  double kld = 0;
  for (std::size_t i = 0; i < c.tokens; ++i) {
    agree += detail::argmax(logits[i]) == reference.tokens[i];
    const auto p = detail::log_softmax(reference.logits[i]);
    const auto q = detail::log_softmax(logits[i]);
    double k = 0;
    for (std::size_t v = 0; v < p.size(); ++v) k += std::exp(p[v]) * (p[v] - q[v]);
    kld += k;
  }
  if (c.tokens) {
    c.top1_agreement = double(agree) / double(c.tokens);
    c.mean_kld = kld / double(c.tokens);
  }
  return c;
}

}  // namespace qins::llama2
