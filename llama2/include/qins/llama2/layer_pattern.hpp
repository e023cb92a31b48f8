// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Layer patterns: which layers a conversion touches, by name ("layers.3.wq"), as shell globs.
//
// A pattern is a comma-separated list of globs; a name is selected when one glob matches the
// whole of it. In a glob:
//   *        any run of characters, empty included (dots too: "*.w1" is every block's w1)
//   ?        exactly one character
//   [abc]    one of the characters listed; [0-4] a range; [!abc] or [^abc] any other one;
//            a ']' right after the opening '[' (or '[!') is listed, not the end
//   \c       the character c itself (so "layers\.0\.wq" reads as "layers.0.wq")
//   other    itself
// Globs rather than regular expressions: a name has no structure a glob cannot say, a glob
// cannot take exponential time, and a shell user knows them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "qins/error.hpp"

namespace qins::llama2 {

/// A parsed layer pattern (see the file comment). Immutable and cheap to match: each glob is
/// matched in O(pattern length x name length) at worst, without recursion.
class LayerPattern {
 public:
  /// @throws qins::Error (invalid_argument) for an empty glob ("a,,b", a trailing comma), a
  /// '[' without its ']', a range that runs backwards ("[9-0]"), or a trailing '\'.
  explicit LayerPattern(std::string_view pattern) : text_(pattern) {
    std::size_t begin = 0;
    while (true) {
      const std::size_t comma = pattern.find(',', begin);
      const std::string_view glob = pattern.substr(
          begin, comma == std::string_view::npos ? pattern.size() - begin : comma - begin);
      globs_.push_back(parse(glob));
      if (comma == std::string_view::npos) break;
      begin = comma + 1;
    }
  }

  /// Whether one of the globs matches all of `name`.
  bool matches(std::string_view name) const noexcept {
    for (const Glob& g : globs_)
      if (match(g, name)) return true;
    return false;
  }

  const std::string& text() const noexcept { return text_; }

 private:
  // One glob as a list of single-character matchers and stars.
  struct Token {
    enum Kind { literal, any_one, set, star } kind;
    char c = 0;            // literal
    bool negated = false;  // set
    std::string members;   // set: pairs (lo, hi) of inclusive ranges
  };
  using Glob = std::vector<Token>;

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorKind::invalid_argument,
                "layer pattern '" + text_ + "' is not a valid pattern: " + why);
  }

  Glob parse(std::string_view glob) const {
    if (glob.empty()) fail("an empty glob (two commas in a row, or one at an end)");
    Glob tokens;
    for (std::size_t i = 0; i < glob.size(); ++i) {
      const char c = glob[i];
      Token t{Token::literal, c, false, {}};
      if (c == '*') {
        t.kind = Token::star;
      } else if (c == '?') {
        t.kind = Token::any_one;
      } else if (c == '\\') {
        if (i + 1 == glob.size()) fail("a '\\' with nothing after it");
        t.c = glob[++i];
      } else if (c == '[') {
        t.kind = Token::set;
        std::size_t j = i + 1;
        if (j < glob.size() && (glob[j] == '!' || glob[j] == '^')) {
          t.negated = true;
          ++j;
        }
        const std::size_t first = j;
        while (j < glob.size() && (glob[j] != ']' || j == first)) {
          char lo = glob[j], hi = glob[j];
          if (j + 2 < glob.size() && glob[j + 1] == '-' && glob[j + 2] != ']') {
            hi = glob[j + 2];
            if (static_cast<unsigned char>(hi) < static_cast<unsigned char>(lo))
              fail(std::string("the range '") + lo + "-" + hi + "' runs backwards");
            j += 2;
          }
          t.members += lo;
          t.members += hi;
          ++j;
        }
        if (j == glob.size()) fail("a '[' without its ']'");
        i = j;
      }
      tokens.push_back(std::move(t));
    }
    return tokens;
  }

  static bool matches_one(const Token& t, char c) noexcept {
    switch (t.kind) {
      case Token::literal:
        return t.c == c;
      case Token::any_one:
        return true;
      case Token::set: {
        const auto u = static_cast<unsigned char>(c);
        bool in = false;
        for (std::size_t k = 0; k + 1 < t.members.size(); k += 2)
          in |= static_cast<unsigned char>(t.members[k]) <= u &&
                u <= static_cast<unsigned char>(t.members[k + 1]);
        return in != t.negated;
      }
      case Token::star:
        break;
    }
    return false;
  }

  // Every token but a star takes exactly one character, so the classic two-index walk that
  // backtracks only to the last star is exact.
  static bool match(const Glob& g, std::string_view name) noexcept {
    std::size_t p = 0, n = 0;
    std::size_t star = g.size(), star_n = 0;  // the last star seen and where it began matching
    while (n < name.size()) {
      if (p < g.size() && g[p].kind == Token::star) {
        star = p++;
        star_n = n;
      } else if (p < g.size() && matches_one(g[p], name[n])) {
        ++p;
        ++n;
      } else if (star != g.size()) {
        p = star + 1;
        n = ++star_n;  // the star takes one more character
      } else {
        return false;
      }
    }
    while (p < g.size() && g[p].kind == Token::star) ++p;
    return p == g.size();
  }

  std::string text_;
  std::vector<Glob> globs_;
};

}  // namespace qins::llama2
