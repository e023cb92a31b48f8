// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The float32 runtime against llama2.c's run.c on the shared models: the same greedy and
// sampled tokens, the same text, and a sampler that reproduces run.c's draws.
#include <catch2/catch.hpp>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "llama2c_reference.hpp"
#include "qins/error.hpp"
#include "qins/llama2/checkpoint.hpp"
#include "qins/llama2/model.hpp"
#include "qins/llama2/sampler.hpp"
#include "qins/llama2/tokenizer.hpp"

#ifndef QINS_TEST_MODELS_DIR
#error "define QINS_TEST_MODELS_DIR as the folder of the shared models"
#endif

namespace {

namespace l2c = qins_test::llama2c;
using qins::llama2::Model;
using qins::llama2::Sampler;

std::string models_dir() { return QINS_TEST_MODELS_DIR; }

const Model& stories() {
  static const Model m(std::make_shared<const qins::llama2::Checkpoint>(
      qins::llama2::read_checkpoint(models_dir() + "/stories260K.bin")));
  return m;
}

const Model& baby() {
  static const Model m(std::make_shared<const qins::llama2::Checkpoint>(
      qins::llama2::read_checkpoint(models_dir() + "/babyllama105.bin")));
  return m;
}

std::vector<int> sampled(const Model& model, float temperature, float topp, unsigned long long seed,
                         int n) {
  Sampler sampler(temperature, topp, seed);
  return qins::llama2::generate(model, {1}, n, sampler);
}

}  // namespace

TEST_CASE("float32 greedy generation is run.c's on both models", "[llama2][reference]") {
  CHECK(qins::llama2::generate_greedy(stories(), 256) == l2c::kStoriesGreedy);
  CHECK(qins::llama2::generate_greedy(baby(), 256) == l2c::kBabyGreedy);
  // The check: the ids begin 403 407 261 378 432 383 286 261 376 298.
  const std::vector<int> head(l2c::kStoriesGreedy.begin(), l2c::kStoriesGreedy.begin() + 10);
  CHECK(head == std::vector<int>{403, 407, 261, 378, 432, 383, 286, 261, 376, 298});
  // generate() with a greedy sampler is the same loop.
  Sampler greedy;
  CHECK(qins::llama2::generate(stories(), {1}, 256, greedy) == l2c::kStoriesGreedy);
}

TEST_CASE("the greedy text is what run.c prints", "[llama2][reference][tokenizer]") {
  const auto tok512 = qins::llama2::read_tokenizer(models_dir() + "/tok512.bin");
  const auto tok105 = qins::llama2::read_tokenizer(models_dir() + "/tok105.bin");
  const std::string stories_text = tok512.decode(l2c::kStoriesGreedy);
  const std::string baby_text = tok105.decode(l2c::kBabyGreedy);
  CHECK(stories_text == l2c::kStoriesGreedyText);
  CHECK(baby_text == l2c::kBabyGreedyText);
  // The text quoted in ../shared/models/README.md.
  CHECK(
      stories_text.rfind(
          "Once upon a time, there was a little girl named Lily. She loved to play outside in "
          "the park. One day, she saw a big, red ball. She wanted to play with it, but it was too "
          "high.",
          0) == 0);
  CHECK(
      baby_text.rfind(
          "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
          "sunshine. One day, she went to the park with her mommy and daddy.",
          0) == 0);
}

TEST_CASE("sampling at temperature 1 and with top-p draws run.c's tokens",
          "[llama2][reference][sampler]") {
  CHECK(sampled(stories(), 1.0f, 1.0f, 1, 100) == l2c::kStoriesSampledSeed1);
  CHECK(sampled(stories(), 1.0f, 1.0f, 2, 100) == l2c::kStoriesSampledSeed2);
  CHECK(sampled(stories(), 1.0f, 1.0f, 3, 100) == l2c::kStoriesSampledSeed3);
  CHECK(sampled(stories(), 0.8f, 0.9f, 42, 60) == l2c::kStoriesTopP);
  CHECK(sampled(baby(), 1.0f, 1.0f, 1, 120) == l2c::kBabySampledSeed1);
  CHECK(sampled(baby(), 1.0f, 1.0f, 2, 120) == l2c::kBabySampledSeed2);
  CHECK(sampled(baby(), 0.8f, 0.9f, 42, 80) == l2c::kBabyTopP);
  // Another seed gives another story.
  CHECK(sampled(stories(), 1.0f, 1.0f, 4, 100) != l2c::kStoriesSampledSeed1);
}

TEST_CASE("a prompt is forced, then continued, as run.c -i does",
          "[llama2][reference][tokenizer]") {
  const auto tok512 = qins::llama2::read_tokenizer(models_dir() + "/tok512.bin");
  const std::vector<int> prompt = tok512.encode("Lily and Ben", true, false);
  REQUIRE(prompt.size() >= 2);
  REQUIRE(prompt.front() == 1);
  const std::size_t forced = prompt.size() - 1;
  const std::vector<int>& expected = l2c::kStoriesPromptLilyAndBen;  // 60 steps: forced + drawn
  REQUIRE(std::vector<int>(expected.begin(), expected.begin() + static_cast<long>(forced)) ==
          std::vector<int>(prompt.begin() + 1, prompt.end()));
  Sampler greedy;
  const std::vector<int> drawn =
      qins::llama2::generate(stories(), prompt, static_cast<int>(expected.size() - forced), greedy);
  CHECK(drawn == std::vector<int>(expected.begin() + static_cast<long>(forced), expected.end()));
  CHECK(tok512.decode(expected).rfind("Lily and Ben were playing in the park.", 0) == 0);
}

TEST_CASE("generate: stops at BOS, streams, and checks its arguments", "[llama2][sampler]") {
  // A sampler that always draws BOS stops at once; the callback sees each drawn token.
  std::vector<float> logits(512, 0.0f);
  logits[1] = 100.0f;
  Sampler greedy;
  CHECK(greedy.sample(logits) == 1);
  std::vector<int> streamed;
  Sampler g2;
  const auto out =
      qins::llama2::generate(stories(), {1}, 20, g2, true, [&](int t) { streamed.push_back(t); });
  CHECK(out == std::vector<int>(l2c::kStoriesGreedy.begin(), l2c::kStoriesGreedy.begin() + 20));
  CHECK(streamed == out);
  // Positions: 1 prompt token + 512 new tokens fits a 512 context; 513 does not.
  Sampler g3;
  CHECK(qins::llama2::generate(stories(), {1}, 512, g3, false).size() == 512);
  CHECK_THROWS_AS(qins::llama2::generate(stories(), {1}, 513, g3), qins::Error);
  CHECK_THROWS_AS(qins::llama2::generate(stories(), {1, 5}, 512, g3), qins::Error);
  CHECK_THROWS_AS(qins::llama2::generate(stories(), {}, 1, g3), qins::Error);
  CHECK_THROWS_AS(qins::llama2::generate(stories(), {1, 512}, 1, g3), qins::Error);
  CHECK_THROWS_AS(qins::llama2::generate(stories(), {1}, -1, g3), qins::Error);
}

TEST_CASE("Sampler: greedy ties, parameter checks, degenerate top-p", "[sampler]") {
  Sampler greedy;
  CHECK(greedy.greedy());
  CHECK(greedy.sample({0.5f, 2.0f, 2.0f, -1.0f}) == 1);  // the lowest index of the maximum
  CHECK_THROWS_AS(greedy.sample({}), qins::Error);
  CHECK_THROWS_AS(Sampler(-0.1f), qins::Error);
  CHECK_THROWS_AS(Sampler(std::numeric_limits<float>::infinity()), qins::Error);
  CHECK_THROWS_AS(Sampler(std::numeric_limits<float>::quiet_NaN()), qins::Error);
  CHECK_THROWS_AS(Sampler(1.0f, 1.5f), qins::Error);
  CHECK_THROWS_AS(Sampler(1.0f, -0.5f), qins::Error);
  CHECK_THROWS_AS(Sampler(1.0f, std::numeric_limits<float>::quiet_NaN()), qins::Error);
  // A top-p so small that no token passes the cutoff still draws a token (the likeliest).
  Sampler tiny(1.0f, 1e-6f, 3);
  CHECK(tiny.sample({0.0f, 0.1f, 0.2f}) == 2);
  // Draws follow the distribution: a token with ~all the mass is drawn ~always.
  Sampler s(1.0f, 1.0f, 9);
  int hits = 0;
  for (int i = 0; i < 1000; ++i) hits += s.sample({0.0f, 10.0f, 0.0f}) == 1;
  CHECK(hits >= 995);
  // With equal logits every token is drawn, each roughly a quarter of the time.
  Sampler u(1.0f, 1.0f, 11);
  int counts[4] = {};
  for (int i = 0; i < 4000; ++i) ++counts[u.sample({1.0f, 1.0f, 1.0f, 1.0f})];
  for (int c : counts) CHECK((c > 850 && c < 1150));
}
