// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Layer patterns against POSIX fnmatch(3), an independent implementation of the same globs.
#include <fnmatch.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "qins/error.hpp"
#include "qins/llama2/convert.hpp"
#include "qins/llama2/layer_pattern.hpp"

using qins::llama2::LayerPattern;

TEST_CASE("layer patterns select layer names as shell globs", "[llama2][layer_pattern]") {
  CHECK(LayerPattern("layers.3.wq").matches("layers.3.wq"));
  CHECK_FALSE(LayerPattern("layers.3.wq").matches("layers.3.wqx"));
  CHECK_FALSE(LayerPattern("layers.3.wq").matches("layers.3.w"));
  CHECK(LayerPattern("*.w1").matches("layers.12.w1"));  // '*' crosses dots
  CHECK_FALSE(LayerPattern("*.w1").matches("layers.12.w2"));
  CHECK(LayerPattern("layers.?.w[123]").matches("layers.4.w3"));
  CHECK_FALSE(LayerPattern("layers.?.w[123]").matches("layers.14.w3"));
  CHECK(LayerPattern("layers.1[0-5].wo").matches("layers.15.wo"));
  CHECK_FALSE(LayerPattern("layers.1[0-5].wo").matches("layers.16.wo"));
  CHECK(LayerPattern("*.w[!q]").matches("layers.0.wk"));
  CHECK_FALSE(LayerPattern("*.w[^q]").matches("layers.0.wq"));
  CHECK(LayerPattern("layers\\.0\\.wq").matches("layers.0.wq"));  // escapes read as the char
  CHECK(LayerPattern("[]]").matches("]"));                        // ']' first is listed
  CHECK(LayerPattern("a*").matches("a"));
  CHECK(LayerPattern("*").matches(""));
  // A comma-separated list: any glob may match.
  const LayerPattern ffn("*.w1,*.w2,*.w3");
  CHECK(ffn.matches("layers.0.w2"));
  CHECK_FALSE(ffn.matches("layers.0.wv"));
  CHECK(ffn.text() == "*.w1,*.w2,*.w3");
  // Many stars cannot take exponential time (the match backtracks to the last star only).
  const std::string long_name(4000, 'a');
  CHECK_FALSE(LayerPattern("*a*a*a*a*a*a*a*a*a*a*b").matches(long_name));
}

TEST_CASE("layer patterns reject malformed globs by name", "[llama2][layer_pattern]") {
  const auto rejects = [](const char* p, const char* why) {
    CHECK_THROWS_WITH(LayerPattern(p),
                      Catch::Contains("is not a valid pattern") && Catch::Contains(why));
  };
  rejects("", "empty glob");
  rejects("*.w1,,*.w2", "empty glob");
  rejects("*.w1,", "empty glob");
  rejects("layers.[0-4.w1", "without its ']'");
  rejects("[", "without its ']'");
  rejects("[!]", "without its ']'");
  rejects("layers.[9-0].wq", "runs backwards");
  rejects("wq\\", "nothing after it");
  try {
    LayerPattern("[");
  } catch (const qins::Error& e) {
    CHECK(e.kind() == qins::ErrorKind::invalid_argument);
  }
  // Through ConvertOptions, as the converters see it.
  qins::llama2::ConvertOptions o;
  o.pattern = "[";
  CHECK_THROWS_AS(o.selects(0, qins::llama2::LinearKind::wq), qins::Error);
  o.pattern = "layers.[0-1].w[qk]";
  CHECK(o.selects(1, qins::llama2::LinearKind::wk));
  CHECK_FALSE(o.selects(2, qins::llama2::LinearKind::wk));
  CHECK_FALSE(o.selects(0, qins::llama2::LinearKind::w1));
  o.layers = qins::llama2::LayerSelection::prototype_safe;  // both filters apply
  CHECK_FALSE(o.selects(0, qins::llama2::LinearKind::wq));
}

// Random single globs over a small alphabet, so that matches are frequent, against fnmatch
// with no flags (where '*' also crosses '.' and '/' and '\' escapes, as here).
TEST_CASE("layer patterns agree with fnmatch on random globs and names",
          "[llama2][layer_pattern]") {
  std::mt19937 rng(20261201);
  const char* pieces[] = {"a",    "b",     ".",     "1",   "*",   "?",    "[ab]",
                          "[!a]", "[0-9]", "[^.b]", "\\.", "\\*", "[]a]", "**"};
  const char name_chars[] = {'a', 'b', '.', '1', '*', ']'};
  std::size_t matched = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string glob;
    const int n_pieces = 1 + int(rng() % 6);
    for (int i = 0; i < n_pieces; ++i) glob += pieces[rng() % (sizeof(pieces) / sizeof(*pieces))];
    std::string name;
    const int n_chars = int(rng() % 8);
    for (int i = 0; i < n_chars; ++i) name += name_chars[rng() % sizeof(name_chars)];
    const bool expected = fnmatch(glob.c_str(), name.c_str(), 0) == 0;
    matched += expected;
    INFO("glob '" << glob << "' name '" << name << "'");
    REQUIRE(LayerPattern(glob).matches(name) == expected);
  }
  CHECK(matched > 1000);  // the comparison saw both answers often
}
