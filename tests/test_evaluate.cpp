// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The teacher-forced metrics against the formulas written out here, and the verdict tiers.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <qins/llama2/convert.hpp>
#include <qins/llama2/evaluate.hpp>
#include <vector>

#include "model_fixture.hpp"

using namespace qins::llama2;

namespace {

Reference small_reference(const Model& base) {
  return make_reference(base, {write_sequence(base, "greedy", {1}, 40, Sampler()),
                               write_sequence(base, "sampled", {1}, 30, Sampler(1.0f, 1.0f, 5)),
                               write_sequence(base, "prompted", {1, 403, 407}, 20, Sampler())});
}

Model converted_alpha_one() {
  Model m(qins_test::checkpoint());
  ConvertOptions o;
  o.linear.granularity = qins::AlphaGranularity::fixed;  // alpha = 1: a large, visible change
  convert(m, o);
  return m;
}

// softmax in long double, written out.
std::vector<long double> probabilities(const std::vector<float>& logits) {
  long double m = *std::max_element(logits.begin(), logits.end()), sum = 0;
  std::vector<long double> p(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i)
    sum += p[i] = std::exp((long double)logits[i] - m);
  for (auto& v : p) v /= sum;
  return p;
}

}  // namespace

TEST_CASE("a model against its own reference: zero divergence, full agreement", "[evaluate]") {
  const Model base(qins_test::checkpoint());
  const Reference ref = small_reference(base);
  CHECK(ref.sequences.size() == 3);
  CHECK(ref.positions() == 40 + 30 + 22);
  const DistributionMetrics m = compare_distributions(base, ref);
  CHECK(m.positions == 92);
  CHECK(m.mean_kld == 0.0);
  CHECK(m.kld_max == 0.0);
  CHECK(m.top1_agreement == 1.0);
  CHECK(m.delta_ce == 0.0);
  CHECK(m.reference_ce > 0.0);
  const GreedyComparison g = compare_greedy(base, ref.sequences[0]);
  CHECK(g.first_divergence == -1);
  CHECK(g.token_match == 40);
  CHECK(g.generated == ref.sequences[0].continuation);
}

TEST_CASE("KL, top-1, cross-entropy and the 99th percentile follow their definitions",
          "[evaluate]") {
  const Model base(qins_test::checkpoint());
  const Model other = converted_alpha_one();
  const Reference ref = small_reference(base);
  std::vector<long double> kl, dce;
  std::size_t agree = 0;
  for (const Sequence& s : ref.sequences) {
    const auto t = s.targets();
    const auto lp = teacher_forced_logits(base, t, s.prompt[0]);
    const auto lq = teacher_forced_logits(other, t, s.prompt[0]);
    for (std::size_t i = 0; i < t.size(); ++i) {
      const auto p = probabilities(lp[i]), q = probabilities(lq[i]);
      long double k = 0;
      for (std::size_t v = 0; v < p.size(); ++v) k += p[v] * std::log(p[v] / q[v]);
      kl.push_back(k);
      dce.push_back(std::log(p[t[i]]) - std::log(q[t[i]]));
      agree += std::max_element(p.begin(), p.end()) - p.begin() ==
               std::max_element(q.begin(), q.end()) - q.begin();
    }
  }
  const DistributionMetrics m = compare_distributions(other, ref);
  long double mean = 0, mean_dce = 0;
  for (auto v : kl) mean += v;
  for (auto v : dce) mean_dce += v;
  mean /= kl.size();
  mean_dce /= dce.size();
  long double ss = 0;
  for (auto v : kl) ss += (v - mean) * (v - mean);
  const double stderr_ = double(std::sqrt(ss / (kl.size() - 1) / kl.size()));
  std::vector<long double> sorted = kl;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t rank =
      static_cast<std::size_t>(std::ceil(0.99 * sorted.size()));  // nearest rank
  REQUIRE(m.positions == kl.size());
  CHECK(m.mean_kld > 1e-4);  // alpha = 1 changes the distributions visibly
  CHECK(m.mean_kld == Approx(double(mean)).epsilon(1e-6));
  CHECK(m.kld_stderr == Approx(stderr_).epsilon(1e-4));
  CHECK(m.kld_p99 == Approx(double(sorted[rank - 1])).epsilon(1e-6));
  CHECK(m.kld_max == Approx(double(sorted.back())).epsilon(1e-6));
  CHECK(m.delta_ce == Approx(double(mean_dce)).epsilon(1e-6));
  CHECK(m.top1_agreement == Approx(double(agree) / kl.size()));
}

TEST_CASE("compare_greedy finds the first token where the texts part", "[evaluate]") {
  const Model base(qins_test::checkpoint());
  const Model other = converted_alpha_one();
  const Sequence ref = write_sequence(base, "greedy", {1}, 120, Sampler());
  const std::vector<int> own = generate_greedy(other, 120);
  long first = -1;
  std::size_t same = 0;
  for (std::size_t i = 0; i < 120; ++i) {
    same += own[i] == ref.continuation[i];
    if (own[i] != ref.continuation[i] && first < 0) first = long(i);
  }
  const GreedyComparison g = compare_greedy(other, ref);
  CHECK(g.generated == own);
  CHECK(g.first_divergence == first);
  CHECK(g.token_match == same);
  CHECK(first >= 0);  // alpha = 1 parts from float32 within 120 tokens on this model
}

TEST_CASE("the verdict tiers and the statistics helpers", "[evaluate]") {
  CHECK(fidelity(0.0) == Fidelity::indistinguishable);
  CHECK(fidelity(0.99e-4) == Fidelity::indistinguishable);
  CHECK(fidelity(1e-4) == Fidelity::near_lossless);
  CHECK(fidelity(5e-3) == Fidelity::small_loss);
  CHECK(fidelity(0.05) == Fidelity::large_loss);
  CHECK(fidelity(0.1) == Fidelity::broken);
  CHECK(fidelity(std::nan("")) == Fidelity::broken);
  CHECK(std::string(to_string(Fidelity::near_lossless)) == "near-lossless");
  const auto [mean, se] = qins::llama2::detail::mean_and_stderr({1, 2, 3, 4});
  CHECK(mean == 2.5);
  CHECK(se == Approx(std::sqrt(5.0 / 3.0 / 4.0)));
  CHECK(qins::llama2::detail::mean_and_stderr({}).first == 0.0);
  const Model base(qins_test::checkpoint());
  CHECK_THROWS_AS(make_reference(base, {Sequence{"no prompt", {}, {3}}}), qins::Error);
}
