// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The llama2.c tokenizer: encode of prompts of a few thousand characters, and reading the file.
//   BM_tokenizer_encode/<vocabulary>/<chars>            Tokenizer::encode (priority queue)
//   BM_tokenizer_encode_run_c_loop/<vocabulary>/<chars> the O(n^2) transcription of run.c
//   BM_tokenizer_read/<vocabulary>                      read_tokenizer of the whole file
// The vocabularies are read from QINS_BENCH_MODELS_DIR (../shared/models).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <qins/llama2/tokenizer.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.hpp"

#ifndef QINS_BENCH_MODELS_DIR
#error "define QINS_BENCH_MODELS_DIR as the directory of the test models"
#endif

namespace {

std::string model_path(const char* file) { return std::string(QINS_BENCH_MODELS_DIR) + "/" + file; }

// The tokenizer, or null (and the benchmark skipped) when the file is missing or invalid.
std::shared_ptr<const qins::llama2::Tokenizer> load(benchmark::State& state, const char* file) {
  try {
    return std::make_shared<const qins::llama2::Tokenizer>(
        qins::llama2::read_tokenizer(model_path(file)));
  } catch (const qins::Error& e) {
    state.SkipWithError(e.what());
    return nullptr;
  }
}

// A story-like prompt of exactly `chars` bytes cut at a character boundary: varied English
// sentences with punctuation, digits, newlines and a few multi-byte characters, the kind of
// text a prompt holds.
std::string prompt(std::size_t chars) {
  static const char* const sentences[] = {
      "Once upon a time, there was a little girl named Lily. ",
      "She loved to play outside in the park with her friends. ",
      "One day, she saw a big, red ball under an old tree! ",
      "\"Can I play with it?\" she asked her mother, who smiled and said yes. ",
      "They walked 1234 steps to the river and counted 56 ducks on the water.\n",
      "The café on the corner sold crêpes — warm, sweet and naïve-looking — for €3. ",
      "Tom laughed: “It’s not a ball, it’s a balloon!” ",
      "When the sun went down, everyone went home for dinner 😀\n\n"};
  std::string s;
  std::uint32_t state = 12345;
  while (s.size() < chars) {
    state = state * 1664525u + 1013904223u;
    s += sentences[(state >> 16) % (sizeof sentences / sizeof sentences[0])];
  }
  std::size_t cut = chars;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s;
}

void bm_encode(benchmark::State& state, const char* file, std::size_t chars, bool run_c_loop) {
  const auto t = load(state, file);
  if (!t) return;
  const std::string text = prompt(chars);
  std::size_t tokens = 0;
  for (auto _ : state) {
    const std::vector<int> ids = run_c_loop
                                     ? qins::llama2::detail::encode_reference(*t, text, true, false)
                                     : t->encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
  state.counters["chars"] = static_cast<double>(text.size());
  state.counters["tokens"] = static_cast<double>(tokens);
}

void bm_read(benchmark::State& state, const char* file) {
  for (auto _ : state) {
    const auto t = load(state, file);
    if (!t) return;
    benchmark::DoNotOptimize(t.get());
  }
}

const bool registered = [] {
  const std::pair<const char*, const char*> vocabularies[] = {{"tok32000", "tokenizer32000.bin"},
                                                              {"tok512", "tok512.bin"}};
  for (const auto& [name, file] : vocabularies) {
    for (const std::size_t chars : {std::size_t(1000), std::size_t(4000), std::size_t(16000)}) {
      const std::string size = std::to_string(chars);
      benchmark::RegisterBenchmark(
          ("BM_tokenizer_encode/" + std::string(name) + "/" + size).c_str(), bm_encode, file, chars,
          false)
          ->Unit(benchmark::kMicrosecond);
      if (chars <= 4000) {
        benchmark::RegisterBenchmark(
            ("BM_tokenizer_encode_run_c_loop/" + std::string(name) + "/" + size).c_str(), bm_encode,
            file, chars, true)
            ->Unit(benchmark::kMillisecond);
      }
    }
    benchmark::RegisterBenchmark(("BM_tokenizer_read/" + std::string(name)).c_str(), bm_read, file)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
