// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// How far a converted model's next-token distributions and greedy text move from float32.
//
// The float32 model writes the reference sequences (greedy continuations of prompts and
// sequences sampled at temperature 1 with fixed seeds); a converted model is then run
// teacher-forced on exactly those tokens, and at every position its next-token
// distribution q is compared with float32's p, as llama.cpp's `perplexity
// --kl-divergence` does:
//   KL(p || q) = sum_v p_v (log p_v - log q_v)    (nats; mean, standard error, 99th percentile)
//   top-1 agreement: argmax q == argmax p ("same top token")
//   delta cross-entropy: mean over positions of log p(t) - log q(t) for the sequence's
//     token t (nats per token; > 0 means the converted model finds the text less likely)
// Free-running greedy agreement (tokens equal to float32's greedy continuation) is kept as
// well, but one flipped token changes everything after it, so the verdict comes from the
// mean KL (fidelity(), thresholds below), never from one greedy run.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "qins/error.hpp"
#include "qins/llama2/model.hpp"
#include "qins/llama2/sampler.hpp"

namespace qins::llama2 {

/// One sequence written by the float32 model.
struct Sequence {
  std::string label;              ///< e.g. "greedy from BOS", "sampled, T = 1, seed 2"
  std::vector<int> prompt;        ///< starts with BOS; the rest was forced
  std::vector<int> continuation;  ///< what the model generated after the prompt

  /// Every token after prompt[0], in order: the targets of teacher forcing.
  std::vector<int> targets() const {
    std::vector<int> t(prompt.begin() + (prompt.empty() ? 0 : 1), prompt.end());
    t.insert(t.end(), continuation.begin(), continuation.end());
    return t;
  }
};

/// Runs `model` from `prompt` (starting with BOS) for up to n_tokens new tokens drawn by
/// `sampler`, stopping at BOS as run.c does. @throws qins::Error as generate().
inline Sequence write_sequence(const Model& model, std::string label, std::vector<int> prompt,
                               int n_tokens, Sampler sampler) {
  Sequence s;
  s.label = std::move(label);
  s.continuation = generate(model, prompt, n_tokens, sampler);
  s.prompt = std::move(prompt);
  return s;
}

/// The reference sequences and float32's next-token logits along them.
struct Reference {
  std::vector<Sequence> sequences;
  /// logits[s][i]: float32's logits after sequence s's BOS and first i targets.
  std::vector<std::vector<std::vector<float>>> logits;

  std::size_t positions() const noexcept {
    std::size_t n = 0;
    for (const auto& s : logits) n += s.size();
    return n;
  }
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

template <class T>
int argmax_of(const std::vector<T>& v) noexcept {
  return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());  // first of equals
}

/// Mean and standard error of the mean (sample variance / n) of x.
inline std::pair<double, double> mean_and_stderr(const std::vector<double>& x) {
  if (x.empty()) return {0.0, 0.0};
  double mean = 0;
  for (double v : x) mean += v;
  mean /= double(x.size());
  if (x.size() < 2) return {mean, 0.0};
  double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  return {mean, std::sqrt(ss / double(x.size() - 1) / double(x.size()))};
}

}  // namespace detail

/// Teacher-forces the float32 model on each sequence and keeps its logits.
/// @throws qins::Error if a sequence has no prompt or does not fit the model.
inline Reference make_reference(const Model& float_model, std::vector<Sequence> sequences) {
  Reference r;
  for (const Sequence& s : sequences) {
    if (s.prompt.empty())
      throw Error(ErrorKind::invalid_argument,
                  "reference sequence '" + s.label + "' has no prompt");
    r.logits.push_back(teacher_forced_logits(float_model, s.targets(), s.prompt[0]));
  }
  r.sequences = std::move(sequences);
  return r;
}

/// Teacher-forced agreement of a model with the reference, over all its positions.
struct DistributionMetrics {
  std::size_t positions = 0;
  double mean_kld = 0;    ///< mean KL(float32 || model), nats
  double kld_stderr = 0;  ///< its standard error (positions treated as independent)
  double kld_p99 = 0;     ///< 99th percentile of the per-position KL (nearest rank)
  double kld_max = 0;
  double top1_agreement = 0;  ///< fraction of positions with the same most likely token
  double delta_ce = 0;        ///< mean of log p(t) - log q(t), nats per token
  double delta_ce_stderr = 0;
  double reference_ce = 0;  ///< float32's own cross-entropy on the sequences, nats per token
};

/// Runs `model` teacher-forced on every reference sequence and compares its distributions
/// with float32's. @throws qins::Error if the reference does not fit the model's
/// vocabulary or context.
inline DistributionMetrics compare_distributions(const Model& model, const Reference& reference) {
  if (reference.logits.size() != reference.sequences.size())
    throw Error(ErrorKind::size_mismatch,
                "reference has logits for " + std::to_string(reference.logits.size()) + " of " +
                    std::to_string(reference.sequences.size()) + " sequences");
  std::vector<double> kld, dce;
  std::size_t agree = 0;
  double ref_ce = 0;
  for (std::size_t s = 0; s < reference.sequences.size(); ++s) {
    const Sequence& seq = reference.sequences[s];
    const std::vector<int> targets = seq.targets();
    const auto& ref = reference.logits[s];
    if (ref.size() != targets.size())
      throw Error(ErrorKind::size_mismatch, "reference sequence '" + seq.label + "' has " +
                                                std::to_string(ref.size()) + " distributions for " +
                                                std::to_string(targets.size()) + " tokens");
    const auto logits = teacher_forced_logits(model, targets, seq.prompt[0]);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      if (ref[i].size() != logits[i].size())
        throw Error(ErrorKind::size_mismatch,
                    "reference logits do not match the model's vocabulary size");
      const auto p = detail::log_softmax(ref[i]);
      const auto q = detail::log_softmax(logits[i]);
      double k = 0;
      for (std::size_t v = 0; v < q.size(); ++v) k += std::exp(p[v]) * (p[v] - q[v]);
      kld.push_back(std::max(k, 0.0));  // rounding can leave -1e-17 for identical rows
      agree += detail::argmax_of(q) == detail::argmax_of(p);
      const std::size_t t = static_cast<std::size_t>(targets[i]);
      dce.push_back(p[t] - q[t]);
      ref_ce -= p[t];
    }
  }
  DistributionMetrics m;
  m.positions = kld.size();
  if (kld.empty()) return m;
  std::tie(m.mean_kld, m.kld_stderr) = detail::mean_and_stderr(kld);
  std::tie(m.delta_ce, m.delta_ce_stderr) = detail::mean_and_stderr(dce);
  m.top1_agreement = double(agree) / double(kld.size());
  m.reference_ce = ref_ce / double(kld.size());
  std::vector<double> sorted = kld;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t rank = static_cast<std::size_t>(std::ceil(0.99 * double(sorted.size())));
  m.kld_p99 = sorted[rank == 0 ? 0 : rank - 1];
  m.kld_max = sorted.back();
  return m;
}

/// Free-running greedy agreement with one reference continuation.
struct GreedyComparison {
  std::vector<int> generated;   ///< the model's own greedy continuation of the same prompt
  std::size_t tokens = 0;       ///< length of the reference continuation
  std::size_t token_match = 0;  ///< positions where generated equals the reference
  long first_divergence = -1;   ///< first position that differs (or where one ended), -1 if none
};

/// Generates greedily from the sequence's prompt for as many tokens as its continuation
/// has (stopping at BOS, as the reference did) and compares token by token.
inline GreedyComparison compare_greedy(const Model& model, const Sequence& reference) {
  GreedyComparison g;
  g.tokens = reference.continuation.size();
  Sampler greedy;
  g.generated = generate(model, reference.prompt, static_cast<int>(g.tokens), greedy);
  for (std::size_t i = 0; i < g.tokens; ++i) {
    const bool same = i < g.generated.size() && g.generated[i] == reference.continuation[i];
    g.token_match += same;
    if (!same && g.first_divergence < 0) g.first_divergence = static_cast<long>(i);
  }
  if (g.first_divergence < 0 && g.generated.size() != g.tokens)
    g.first_divergence = static_cast<long>(g.tokens);
  return g;
}

/// What the mean KL divergence says, in words. The tiers, by mean KL(float32 || model) in
/// nats per token: below 1e-4, indistinguishable (bfloat16 weights sit here on the shared
/// models); below 1e-3, near-lossless (text follows float32 for long stretches, top-1
/// agreement ~0.99); below 1e-2, small loss; below 1e-1, large loss; from 1e-1, broken.
enum class Fidelity { indistinguishable, near_lossless, small_loss, large_loss, broken };

inline constexpr double kFidelityThresholds[4] = {1e-4, 1e-3, 1e-2, 1e-1};

inline Fidelity fidelity(double mean_kld) noexcept {
  for (int i = 0; i < 4; ++i)
    if (mean_kld < kFidelityThresholds[i]) return static_cast<Fidelity>(i);
  return Fidelity::broken;  // also NaN
}

/// "indistinguishable", "near-lossless", "small loss", "large loss", "broken".
inline const char* to_string(Fidelity f) noexcept {
  switch (f) {
    case Fidelity::indistinguishable:
      return "indistinguishable";
    case Fidelity::near_lossless:
      return "near-lossless";
    case Fidelity::small_loss:
      return "small loss";
    case Fidelity::large_loss:
      return "large loss";
    case Fidelity::broken:
      return "broken";
  }
  return "unknown";
}

}  // namespace qins::llama2
