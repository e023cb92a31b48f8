// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The llama2.c tokenizer: run.c's ids on the real vocabularies, decoding, every rejection.
//
// The expected id sequences were produced by llama2.c's own run.c `encode(t, text, 1, 0)`
// (karpathy/llama2.c, unmodified, linked into a throwaway harness); nothing here is
// computed by the code under test.
#include <algorithm>
#include <catch2/catch.hpp>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <qins/llama2/tokenizer.hpp>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#ifndef QINS_TEST_MODELS_DIR
#error "define QINS_TEST_MODELS_DIR as the directory of the shared test models"
#endif

namespace {

using qins::ErrorKind;
using qins::llama2::Tokenizer;
using qins::llama2::UnknownCharacters;
using Bytes = std::vector<unsigned char>;
using Vocabulary = std::vector<std::pair<float, std::string>>;

std::string models_dir() { return QINS_TEST_MODELS_DIR; }
std::string model_file(const char* name) { return models_dir() + "/" + name; }

// One tokenizer of each real vocabulary, read once.
const Tokenizer& tok512() {
  static const Tokenizer t = qins::llama2::read_tokenizer(model_file("tok512.bin"));
  return t;
}
const Tokenizer& tok32000() {
  static const Tokenizer t = qins::llama2::read_tokenizer(model_file("tokenizer32000.bin"));
  return t;
}
const Tokenizer& tok105() {
  static const Tokenizer t = qins::llama2::read_tokenizer(model_file("tok105.bin"));
  return t;
}

std::vector<int> ids(const std::string& list) {
  std::istringstream in(list);
  return std::vector<int>(std::istream_iterator<int>(in), std::istream_iterator<int>());
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// ---- Writing tokenizer files: well-formed ones and deliberately broken ones ----

struct Writer {
  Bytes b;
  Writer& i32(std::int32_t v) {
    unsigned char x[4];
    std::memcpy(x, &v, 4);
    b.insert(b.end(), x, x + 4);
    return *this;
  }
  Writer& u32(std::uint32_t v) {
    std::int32_t i;
    std::memcpy(&i, &v, 4);
    return i32(i);
  }
  Writer& f32(float v) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    return u32(u);
  }
  Writer& raw(const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Writer& token(float score, const std::string& piece) {
    return f32(score).i32(static_cast<std::int32_t>(piece.size())).raw(piece);
  }
};

// The file for `tokens`, with max_token_length the longest piece unless given.
Bytes serialise(const Vocabulary& tokens, int max_token_length = 0) {
  int longest = 1;
  for (const auto& t : tokens) longest = std::max(longest, static_cast<int>(t.second.size()));
  Writer w;
  w.i32(max_token_length > 0 ? max_token_length : longest);
  for (const auto& [score, piece] : tokens) w.token(score, piece);
  return w.b;
}

// <unk>, BOS, EOS and a few characters and merges; no byte pieces.
Vocabulary small_vocabulary() {
  return {{0.0f, "<unk>"}, {0.0f, "\n<s>\n"}, {0.0f, "\n</s>\n"}, {-1.0f, " "},
          {-2.0f, "a"},    {-3.0f, "b"},      {-0.5f, "ab"},      {-0.25f, " ab"}};
}

// llama2.c's layout: <unk>, BOS, EOS, the 256 byte pieces, then `rest`.
Vocabulary with_byte_pieces(const Vocabulary& rest) {
  Vocabulary v = {{0.0f, "<unk>"}, {0.0f, "\n<s>\n"}, {0.0f, "\n</s>\n"}};
  static constexpr char hex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b)
    v.push_back({0.0f, std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">"});
  v.insert(v.end(), rest.begin(), rest.end());
  return v;
}

Tokenizer parse(const Bytes& b, const std::string& source = "mem") {
  return qins::llama2::parse_tokenizer(b.data(), b.size(), source);
}

// The file must be rejected as bad_file with a message that starts with the source prefix
// and contains `fragment`; returns the message.
std::string require_rejected(const Bytes& b, const std::string& fragment,
                             const std::string& source = "mem") {
  try {
    parse(b, source);
  } catch (const qins::Error& e) {
    const std::string prefix =
        source.empty() ? std::string("qins: tokenizer: ") : "qins: tokenizer '" + source + "': ";
    CHECK(e.kind() == ErrorKind::bad_file);
    CHECK_THAT(std::string(e.what()), Catch::StartsWith(prefix) && Catch::Contains(fragment));
    return e.what();
  }
  FAIL("accepted a file that must be rejected (expected: " << fragment << ")");
  return {};
}

// ---- Random texts ----

std::vector<std::string> text_pool() {
  std::vector<std::string> pool;
  for (char c = 'a'; c <= 'z'; ++c) pool.emplace_back(1, c);
  for (char c = 'A'; c <= 'Z'; ++c) pool.emplace_back(1, c);
  for (char c = '0'; c <= '9'; ++c) pool.emplace_back(1, c);
  for (const char* s : {" ", " ", " ", " ", "  ", ".",  ",",  "!",  "?", "'", "\"", "-", ":",
                        ";", "(", ")", "<", ">",  "\n", "\n", "\t", "é", "ñ", "ü",  "ß", "Ω",
                        "—", "“", "”", "’", "…",  "日", "本", "語", "€", "😀", "🎉",  "𝄞", "🇩"})
    pool.emplace_back(s);
  return pool;
}

std::string random_text(std::mt19937& rng, const std::vector<std::string>& pool,
                        std::size_t max_chars) {
  std::uniform_int_distribution<std::size_t> length(0, max_chars), pick(0, pool.size() - 1);
  std::string s;
  for (std::size_t i = length(rng); i > 0; --i) s += pool[pick(rng)];
  return s;
}

// Random bytes 1..255 (no NUL: run.c's C strings end there), often malformed UTF-8.
std::string random_bytes(std::mt19937& rng, std::size_t max_bytes) {
  std::uniform_int_distribution<std::size_t> length(0, max_bytes);
  std::uniform_int_distribution<int> byte(1, 255);
  std::string s;
  for (std::size_t i = length(rng); i > 0; --i) s += static_cast<char>(byte(rng));
  return s;
}

// The fast encoder against the transcription of run.c's loop, in both unknown modes.
void require_same_as_reference(const Tokenizer& t, const std::string& text, bool bos, bool eos) {
  INFO("text '" << qins::llama2::printable(text) << "' bos " << bos << " eos " << eos);
  REQUIRE(t.encode(text, bos, eos) == qins::llama2::detail::encode_reference(t, text, bos, eos));
  bool fast_threw = false, reference_threw = false;
  std::vector<int> fast, reference;
  try {
    fast = t.encode(text, bos, eos, UnknownCharacters::error);
  } catch (const qins::Error& e) {
    REQUIRE(e.kind() == ErrorKind::invalid_argument);
    fast_threw = true;
  }
  try {
    reference = qins::llama2::detail::encode_reference(t, text, bos, eos, UnknownCharacters::error);
  } catch (const qins::Error&) {
    reference_threw = true;
  }
  REQUIRE(fast_threw == reference_threw);
  REQUIRE(fast == reference);
}

}  // namespace

// ---- run.c's ids ----

TEST_CASE("tokenizer: encode gives run.c's ids on tok512 (stories260K)", "[tokenizer]") {
  const Tokenizer& t = tok512();
  CHECK(t.encode("Once upon a time, there was a little girl named Lily.") ==
        ids("1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426"));
  CHECK(t.encode("") == ids("1"));
  CHECK(t.encode("Hello world") == ids("1 346 306 414 263 304 341"));
  CHECK(t.encode("Café — naïve 日本語 😀") ==
        ids("1 410 457 412 431 485 410 481 297 412 198 178 360 410 233 154 168 233 159 175 235 "
            "173 161 410 243 162 155 131"));
  CHECK(t.encode("  two  spaces\nnewline\ttab") ==
        ids("1 410 410 259 424 414 410 262 427 412 331 419 13 416 411 424 421 271 411 12 413 412 "
            "430"));
  CHECK(t.encode("The quick brown fox jumps over the lazy dog. 1234567890") ==
        ids("1 291 410 456 425 417 340 268 420 327 416 272 414 444 410 449 425 423 427 419 334 "
            "330 265 278 412 451 422 400 428 426 410 475 479 472 484 480 490 491 487 483 477"));
}

TEST_CASE("tokenizer: encode gives run.c's ids on the 32000-token Llama vocabulary",
          "[tokenizer]") {
  const Tokenizer& t = tok32000();
  CHECK(t.encode("Once upon a time, there was a little girl named Lily.") ==
        ids("1 9038 2501 263 931 29892 727 471 263 2217 7826 4257 365 2354 29889"));
  CHECK(t.encode("") == ids("1"));
  CHECK(t.encode("Hello world") == ids("1 15043 3186"));
  CHECK(t.encode("Café — naïve 日本語 😀") ==
        ids("1 315 28059 813 1055 30085 345 29871 30325 30346 30968 29871 243 162 155 131"));
  CHECK(t.encode("  two  spaces\nnewline\ttab") ==
        ids("1 259 1023 29871 8162 13 1482 1220 12 3891"));
  CHECK(t.encode("The quick brown fox jumps over the lazy dog. 1234567890") ==
        ids("1 450 4996 17354 1701 29916 432 17204 975 278 17366 11203 29889 29871 29896 29906 "
            "29941 29946 29945 29953 29955 29947 29929 29900"));
}

TEST_CASE("tokenizer: a long paragraph gives run.c's ids on both BPE vocabularies", "[tokenizer]") {
  const std::string paragraph =
      "Tom and his sister Mia went to the beach on a sunny day. They built a big sandcastle "
      "with towers, walls and a moat. A crab came out of the water and walked across the sand! "
      "Mia laughed: \"Look, it wants to live in our castle.\" Tom gave the crab a shell as a "
      "gift. When the sun went down, their mother called them home for dinner, and they "
      "promised to come back tomorrow to see if the crab was still there.";
  CHECK(tok32000().encode(paragraph) ==
        ids("1 4335 322 670 9883 341 423 3512 304 278 25695 373 263 6575 1460 2462 29889 2688 "
            "4240 263 4802 11982 27193 411 304 17538 29892 14603 322 263 2730 271 29889 319 274 "
            "4201 2996 714 310 278 4094 322 17096 4822 278 11982 29991 341 423 19090 29901 376 "
            "14959 29892 372 10753 304 5735 297 1749 20610 1213 4335 4846 278 274 4201 263 6473 "
            "408 263 19797 29889 1932 278 6575 3512 1623 29892 1009 5637 2000 963 3271 363 17803 "
            "29892 322 896 22399 304 2041 1250 6454 22396 304 1074 565 278 274 4201 471 1603 727 "
            "29889"));
  CHECK(tok512().encode(paragraph) ==
        ids("1 274 287 269 345 262 293 413 285 392 417 412 263 377 267 265 329 412 402 353 261 "
            "262 379 416 422 328 426 342 268 425 290 413 261 370 296 264 429 412 356 305 335 267 "
            "424 285 419 432 273 306 419 269 261 284 414 294 426 410 447 280 420 412 430 280 314 "
            "411 410 408 373 265 273 413 285 269 273 421 355 261 429 420 414 419 419 265 296 264 "
            "443 392 417 412 278 412 425 428 260 418 467 313 438 347 433 432 312 391 419 267 397 "
            "360 322 410 277 420 280 412 356 305 426 436 274 287 298 412 360 265 280 420 412 430 "
            "261 358 306 261 419 261 298 417 431 413 426 410 448 260 416 265 262 379 263 377 279 "
            "327 416 432 265 315 284 309 386 280 388 266 265 423 270 287 411 387 279 271 416 285 "
            "432 269 366 282 420 287 293 266 267 280 287 411 268 412 340 267 423 304 420 327 267 "
            "262 411 411 410 417 431 265 280 420 412 430 286 349 290 421 383 426"));
}

TEST_CASE("tokenizer: stray continuation bytes and invalid UTF-8 fall back to bytes as in run.c",
          "[tokenizer]") {
  struct Case {
    const char* text;
    const char* on512;
    const char* on32000;
  };
  // run.c's characters: any byte plus the continuation bytes after it, at most 4 in all.
  const Case cases[] = {
      {"a\x80\x81", "1 410 100 131 132", "1 29871 100 131 132"},  // one character a\x80\x81
      {"\x80"
       "abc",
       "1 410 131 412 430 429", "1 29871 131 10736"},
      {"\xF0\x9F\x98\x80\x80\x80x", "1 410 243 162 155 131 131 131 444",
       "1 29871 243 162 155 131 131 131 29916"},
      {"caf\xC3", "1 280 412 431 198", "1 274 2142 198"},
      {"\xFF\xFE ok \xC0\xAF", "1 410 258 257 334 433 410 195 178",
       "1 29871 258 257 3431 29871 195 178"},
      {"\xBF\xBF\xBF\xBF\xBF end", "1 410 194 194 194 194 194 344 264",
       "1 29871 194 194 194 194 194 1095"},
  };
  for (const Case& c : cases) {
    INFO("text " << qins::llama2::printable(c.text));
    CHECK(tok512().encode(c.text) == ids(c.on512));
    CHECK(tok32000().encode(c.text) == ids(c.on32000));
    // Byte fallback is lossless: decode gives the bytes back.
    CHECK(tok512().decode(tok512().encode(c.text)) == c.text);
    CHECK(tok32000().decode(tok32000().encode(c.text)) == c.text);
  }
}

TEST_CASE("tokenizer: encode gives run.c's ids on tok105 (BabyLlama, no byte pieces)",
          "[tokenizer]") {
  const Tokenizer& t = tok105();
  CHECK(t.encode("Once upon a time, Lily said: “Hi!” — it’s 3 o’clock.") ==
        ids("1 3 34 9 22 4 3 18 20 7 9 3 5 3 6 10 16 4 25 3 31 10 14 15 3 12 5 10 11 60 3 58 33 "
            "10 36 59 3 74 3 10 6 61 12 3 65 3 7 61 22 14 7 22 26 19"));
  CHECK(t.encode("") == ids("1"));
}

TEST_CASE("tokenizer: BOS and EOS flags", "[tokenizer]") {
  const Tokenizer& t = tok512();
  CHECK(t.encode("", false, false).empty());
  CHECK(t.encode("", false, true) == ids("2"));
  CHECK(t.encode("", true, true) == ids("1 2"));
  const std::vector<int> with = t.encode("Hello world", true, true);
  const std::vector<int> without = t.encode("Hello world", false, false);
  REQUIRE(with.size() == without.size() + 2);
  CHECK(with.front() == 1);
  CHECK(with.back() == 2);
  CHECK(std::vector<int>(with.begin() + 1, with.end() - 1) == without);
}

// ---- The fast merge loop is run.c's loop ----

TEST_CASE("tokenizer: encode equals the transcription of run.c's O(n^2) loop on random text",
          "[tokenizer]") {
  std::mt19937 rng(20261201);
  const std::vector<std::string> pool = text_pool();
  for (const Tokenizer* t : {&tok512(), &tok32000(), &tok105()}) {
    INFO("tokenizer " << t->source());
    for (int i = 0; i < 150; ++i) {
      require_same_as_reference(*t, random_text(rng, pool, 60), i % 2 == 0, i % 3 == 0);
      require_same_as_reference(*t, random_bytes(rng, 40), true, false);
    }
  }
  // A few thousand characters, where a wrong tie or a stale candidate would show.
  for (int i = 0; i < 2; ++i) {
    std::uniform_int_distribution<std::size_t> pick(0, 51);  // letters and spaces only
    std::string text;
    while (text.size() < 2500) text += pool[pick(rng)] + (pick(rng) < 12 ? " " : "");
    require_same_as_reference(tok32000(), text, true, false);
    require_same_as_reference(tok512(), text, true, false);
  }
}

TEST_CASE("tokenizer: encode equals run.c's loop on random vocabularies full of score ties",
          "[tokenizer]") {
  std::mt19937 rng(7);
  const std::vector<std::string> chars = {"a", "b", "c", " ", "\n", "é", "—", "😀"};
  const float scores[] = {0.0f, -0.0f, -1.0f, -1.0f, 2.5f, 2.5f, -1e9f, -1e10f, -2e10f};
  std::uniform_int_distribution<std::size_t> pick_char(0, chars.size() - 1), pick_score(0, 8);
  for (int v = 0; v < 60; ++v) {
    Vocabulary rest;
    for (const std::string& c : chars)
      if (rng() % 4 != 0) rest.push_back({scores[pick_score(rng)], c});
    const int merges = static_cast<int>(rng() % 80);
    for (int m = 0; m < merges; ++m) {
      std::string p;
      for (std::size_t k = 2 + rng() % 4; k > 0; --k) p += chars[pick_char(rng)];
      rest.push_back({scores[pick_score(rng)], p});  // duplicates included
    }
    const bool bytes = v % 2 == 0;
    const Vocabulary vocab = bytes ? with_byte_pieces(rest) : [&] {
      Vocabulary w = {{0.0f, "<unk>"}, {0.0f, "\n<s>\n"}, {0.0f, "\n</s>\n"}};
      w.insert(w.end(), rest.begin(), rest.end());
      return w;
    }();
    const Tokenizer t = parse(serialise(vocab));
    CHECK(t.has_byte_pieces() == bytes);
    for (int i = 0; i < 25; ++i) {
      std::string text;
      for (std::size_t k = rng() % 40; k > 0; --k) text += chars[pick_char(rng)];
      if (rng() % 5 == 0) text += "\x80z";
      require_same_as_reference(t, text, true, i % 2 == 0);
    }
  }
}

// ---- Round trips ----

TEST_CASE("tokenizer: decode(encode(s)) == s for random text on the BPE vocabularies",
          "[tokenizer]") {
  std::mt19937 rng(42);
  const std::vector<std::string> pool = text_pool();
  for (const Tokenizer* t : {&tok512(), &tok32000()}) {
    INFO("tokenizer " << t->source());
    for (int i = 0; i < 400; ++i) {
      const std::string s = i % 4 == 3 ? random_bytes(rng, 50) : random_text(rng, pool, 80);
      INFO("text '" << qins::llama2::printable(s) << "'");
      const std::vector<int> tokens = t->encode(s);
      for (const int id : tokens) REQUIRE((id >= 0 && id < t->size()));
      REQUIRE(t->decode(tokens) == s);
      // Token by token, the same text.
      std::string pieces;
      int prev = Tokenizer::bos_id();
      for (const int id : tokens) {
        pieces += t->decode_piece(prev, id);
        prev = id;
      }
      REQUIRE(pieces == s);
    }
  }
}

TEST_CASE("tokenizer: decode(encode(s)) == s on tok105 for text of its own characters",
          "[tokenizer]") {
  const Tokenizer& t = tok105();
  std::vector<std::string> pool;
  for (int id = 3; id < t.size(); ++id) pool.emplace_back(t.piece(id));
  REQUIRE(pool.size() == 102);
  std::mt19937 rng(105);
  for (int i = 0; i < 300; ++i) {
    const std::string s = random_text(rng, pool, 100);
    INFO("text '" << qins::llama2::printable(s) << "'");
    const std::vector<int> tokens = t.encode(s, true, false, UnknownCharacters::error);
    REQUIRE(t.decode(tokens) == s);
    for (const int id : tokens) CHECK(id != Tokenizer::unk_id());
  }
}

// ---- Characters without a piece or byte pieces ----

TEST_CASE("tokenizer: characters tok105 cannot spell become <unk>, or throw on request",
          "[tokenizer]") {
  const Tokenizer& t = tok105();
  REQUIRE_FALSE(t.has_byte_pieces());
  REQUIRE(t.lookup("\n") == -1);
  CHECK(t.encode("a\nb") == ids("1 3 5 0 23"));  // <unk> for the newline
  CHECK(t.decode(t.encode("a\nb")) == "a<unk>b");
  CHECK(t.encode("😀😀") == ids("1 3 0 0"));  // one <unk> per character, not per byte
  try {
    t.encode("a\nb", true, false, UnknownCharacters::error);
    FAIL("no exception");
  } catch (const qins::Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_argument);
    CHECK_THAT(std::string(e.what()), Catch::Contains("byte offset 1") &&
                                          Catch::Contains("bytes 0A") &&
                                          Catch::Contains(t.source()));
  }
  try {
    t.encode("ab 😀", false, false, UnknownCharacters::error);
    FAIL("no exception");
  } catch (const qins::Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_argument);
    CHECK_THAT(std::string(e.what()),
               Catch::Contains("byte offset 3") && Catch::Contains("bytes F0 9F 98 80"));
  }
  CHECK(t.encode("hello", true, false, UnknownCharacters::error) == t.encode("hello"));
  // The <unk> of an unknown character takes no part in merges, even where its piece would.
  const Tokenizer unk_merges = parse(
      serialise({{0, "a"}, {0, "<s>"}, {0, "</s>"}, {-1, " "}, {-2, "b"}, {5, "ab"}, {4, " a"}}));
  CHECK(unk_merges.encode("\nb") == ids("1 3 0 4"));  // "\n" is unknown: no "ab" merge
  CHECK(unk_merges.encode("ab") == ids("1 3 5"));     // the text's own "a" merges
  CHECK(unk_merges.encode("\nb") ==
        qins::llama2::detail::encode_reference(unk_merges, "\nb", true, false));
  // A vocabulary with byte pieces never needs <unk>.
  for (const char* s : {"a\nb", "😀", "\x01\x7f"})
    CHECK(tok512().encode(s, true, false, UnknownCharacters::error) == tok512().encode(s));
}

TEST_CASE("tokenizer: a vocabulary without a space spells the dummy prefix like any character",
          "[tokenizer]") {
  const Tokenizer no_space = parse(serialise({{0, "<unk>"}, {0, "<s>"}, {0, "</s>"}, {-1, "a"}}));
  CHECK(no_space.encode("a") == ids("1 0 3"));
  try {
    no_space.encode("a", true, false, UnknownCharacters::error);
    FAIL("no exception");
  } catch (const qins::Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_argument);
    CHECK_THAT(std::string(e.what()), Catch::Contains("dummy-prefix space"));
  }
  const Tokenizer bytes_only = parse(serialise(with_byte_pieces({{-1, "a"}})));
  CHECK(bytes_only.encode("a") == std::vector<int>{1, 3 + 0x20, 259});
  CHECK(bytes_only.decode(bytes_only.encode("a")) == " a");  // "<0x20>" has no leading space
}

TEST_CASE("tokenizer: BOS is a control token and never merges", "[tokenizer]") {
  // run.c merges BOS like text: here it would turn BOS + the dummy prefix into "<s> ".
  const Tokenizer t = parse(serialise(
      {{0, "<unk>"}, {0, "<s>"}, {0, "</s>"}, {-1, " "}, {-2, "a"}, {5, "<s> "}, {-3, " a"}}));
  CHECK(t.encode("a") == ids("1 6"));
  CHECK(t.encode("a", false, true) == ids("6 2"));
  CHECK(t.encode("a") == qins::llama2::detail::encode_reference(t, "a", true, false));
  // No real vocabulary has a piece that starts with its BOS piece, so this never differs
  // from run.c there.
  for (const Tokenizer* real : {&tok512(), &tok32000(), &tok105()})
    for (int id = 0; id < real->size(); ++id)
      if (id != 1) REQUIRE(real->piece(id).substr(0, real->piece(1).size()) != real->piece(1));
}

TEST_CASE("tokenizer: NUL bytes in the text are encoded as bytes", "[tokenizer]") {
  const std::string text("a\0b", 3);
  const std::vector<int> tokens = tok512().encode(text);
  CHECK(std::find(tokens.begin(), tokens.end(), 3) != tokens.end());  // <0x00>
  CHECK(tok512().decode(tokens) == text);
}

// ---- Decoding ----

TEST_CASE("tokenizer: decode follows run.c's rules", "[tokenizer]") {
  const Tokenizer& t = tok32000();
  const int once = t.lookup(" Once");
  REQUIRE(once == 9038);
  CHECK(t.decode_piece(Tokenizer::bos_id(), once) == "Once");  // after BOS: no leading space
  CHECK(t.decode_piece(5, once) == " Once");
  CHECK(t.decode_piece(-7, once) == " Once");  // prev_token is only compared with BOS
  CHECK(t.decode({once, once}) == "Once Once");
  CHECK(t.decode({once}, 0) == " Once");
  CHECK(t.piece(3 + 0x41) == "<0x41>");
  CHECK(t.decode_piece(0, 3 + 0x41) == "A");
  CHECK(t.decode_piece(0, 3 + 0x0A) == "\n");
  CHECK(t.decode_piece(0, 3 + 0xFF) == "\xFF");
  CHECK(t.decode_piece(0, Tokenizer::bos_id()).empty());
  CHECK(t.decode_piece(0, Tokenizer::eos_id()).empty());
  CHECK(t.decode_piece(0, Tokenizer::unk_id()) == "<unk>");
  CHECK(t.decode({1, 15043, 3186, 2}) == "Hello world");
  CHECK(t.decode({}).empty());

  // Only exactly <0x + two hex digits (either case) + > is a byte.
  const Tokenizer odd = parse(serialise({{0, "<unk>"},
                                         {0, "<s>"},
                                         {0, "</s>"},
                                         {0, "<0x4a>"},
                                         {0, "<0x4"},
                                         {0, "<0x41>x"},
                                         {0, "<0X41>"},
                                         {0, "<0xG1>"},
                                         {0, " <0x41>"},
                                         {0, "  x"}}));
  CHECK(odd.decode_piece(0, 3) == "J");
  CHECK(odd.byte_id(0x4A) == 3);
  CHECK(odd.byte_id(0x41) == -1);
  CHECK(odd.decode_piece(0, 4) == "<0x4");
  CHECK(odd.decode_piece(0, 5) == "<0x41>x");
  CHECK(odd.decode_piece(0, 6) == "<0X41>");
  CHECK(odd.decode_piece(0, 7) == "<0xG1>");
  CHECK(odd.decode_piece(1, 8) == "A");  // run.c drops the space first, then reads the byte
  CHECK(odd.decode_piece(0, 8) == " <0x41>");
  CHECK(odd.decode_piece(1, 9) == " x");  // only one space is dropped
}

TEST_CASE("tokenizer: out-of-range ids throw invalid_argument", "[tokenizer]") {
  const Tokenizer& t = tok512();
  auto require_invalid = [](auto&& call, const std::string& fragment) {
    try {
      call();
      FAIL("no exception");
    } catch (const qins::Error& e) {
      CHECK(e.kind() == ErrorKind::invalid_argument);
      CHECK_THAT(std::string(e.what()), Catch::Contains(fragment));
    }
  };
  for (const int id : {-1, 512, INT_MIN, INT_MAX}) {
    INFO("id " << id);
    const std::string range = "token id " + std::to_string(id) + " ";
    require_invalid([&] { t.decode_piece(1, id); }, range + "is out of range [0, 512)");
    require_invalid([&] { t.piece(id); }, range);
    require_invalid([&] { t.score(id); }, range);
    require_invalid([&] { t.decode({5, 6, id}); }, range + "at position 2");
  }
  CHECK(t.piece(511).size() > 0);
}

// ---- printable ----

TEST_CASE("tokenizer: printable escapes control bytes and invalid UTF-8", "[tokenizer]") {
  using qins::llama2::printable;
  CHECK(printable("plain text\nnext\tcolumn") == "plain text\nnext\tcolumn");
  CHECK(printable("Café — 日本語 😀 𝄞") == "Café — 日本語 😀 𝄞");
  CHECK(printable(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(printable("\r\x1b[31m\x7f") == "\\x0D\\x1B[31m\\x7F");
  CHECK(printable("\x80") == "\\x80");                             // stray continuation byte
  CHECK(printable("caf\xC3") == "caf\\xC3");                       // truncated at the end
  CHECK(printable("\xC3(") == "\\xC3(");                           // truncated in the middle
  CHECK(printable("\xC0\xAF") == "\\xC0\\xAF");                    // overlong "/"
  CHECK(printable("\xE0\x80\xAF") == "\\xE0\\x80\\xAF");           // overlong
  CHECK(printable("\xED\xA0\x80") == "\\xED\\xA0\\x80");           // surrogate U+D800
  CHECK(printable("\xF4\x90\x80\x80") == "\\xF4\\x90\\x80\\x80");  // above U+10FFFF
  CHECK(printable("\xF4\x8F\xBF\xBF") == "\xF4\x8F\xBF\xBF");      // U+10FFFF itself
  CHECK(printable("\xFF\xFE") == "\\xFF\\xFE");
  CHECK(printable("\xC2\x9B"
                  "2J") == "\\xC2\\x9B2J");    // C1 control CSI
  CHECK(printable("\xC2\xA0") == "\xC2\xA0");  // U+00A0 is not a control
  CHECK(printable("").empty());
  // Whatever decode gives, its printable form is clean of control bytes.
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    const std::string p = printable(random_bytes(rng, 30));
    for (const char c : p) {
      const unsigned char u = static_cast<unsigned char>(c);
      CHECK((u >= 0x20 || u == '\n' || u == '\t'));
      CHECK(u != 0x7F);
    }
  }
}

// ---- The reader ----

TEST_CASE("tokenizer: the real vocabularies are read with their properties", "[tokenizer]") {
  const Tokenizer& t512 = tok512();
  CHECK(t512.size() == 512);
  CHECK(t512.max_token_length() == 7);
  CHECK(t512.has_byte_pieces());
  CHECK(t512.source() == model_file("tok512.bin"));
  CHECK(t512.piece(0) == "<unk>");
  CHECK(t512.piece(1) == "\n<s>\n");
  CHECK(t512.piece(2) == "\n</s>\n");
  for (int b = 0; b < 256; ++b) CHECK(t512.byte_id(static_cast<unsigned char>(b)) == b + 3);

  const Tokenizer& t32 = tok32000();
  CHECK(t32.size() == 32000);
  CHECK(t32.max_token_length() == 27);
  CHECK(t32.has_byte_pieces());
  CHECK(t32.lookup("  ") == 259);
  CHECK(t32.score(259) == -1e9f);
  CHECK(t32.lookup(" Hello") == 15043);
  CHECK(t32.lookup("") == -1);
  CHECK(t32.lookup("no such piece at all") == -1);

  const Tokenizer& t105 = tok105();
  CHECK(t105.size() == 105);
  CHECK(t105.max_token_length() == 6);
  CHECK_FALSE(t105.has_byte_pieces());
  CHECK(t105.byte_id('A') == -1);
  CHECK(t105.lookup("“") == 58);

  CHECK(Tokenizer::bos_id() == 1);
  CHECK(Tokenizer::eos_id() == 2);
  CHECK(Tokenizer::unk_id() == 0);

  // Every piece is found again, at its own id (these vocabularies have no duplicates).
  for (const Tokenizer* t : {&t512, &t32, &t105})
    for (int id = 0; id < t->size(); ++id) REQUIRE(t->lookup(t->piece(id)) == id);

  // Streamed from the file and parsed from memory: the same vocabulary.
  const Bytes bytes = read_bytes(model_file("tokenizer32000.bin"));
  const Tokenizer from_memory = parse(bytes, "copy");
  REQUIRE(from_memory.size() == t32.size());
  for (int id = 0; id < t32.size(); ++id) {
    REQUIRE(from_memory.piece(id) == t32.piece(id));
    REQUIRE(from_memory.score(id) == t32.score(id));
  }
}

TEST_CASE("tokenizer: copies and moves stand on their own", "[tokenizer]") {
  const std::string text = "Once upon a time, there was a little girl named Lily.";
  const std::vector<int> expected = tok512().encode(text);
  std::vector<Tokenizer> kept;
  {
    const Tokenizer original = qins::llama2::read_tokenizer(model_file("tok512.bin"));
    Tokenizer copy = original;
    kept.push_back(copy);
    kept.push_back(std::move(copy));
  }
  for (const Tokenizer& t : kept) {
    CHECK(t.encode(text) == expected);
    CHECK(t.decode(expected) == text);
  }
  // Tiny vocabularies too (their piece bytes fit in a std::string's inline buffer).
  const Bytes small = serialise(small_vocabulary());
  std::vector<Tokenizer> tiny;
  {
    Tokenizer t = parse(small);
    tiny.push_back(t);
    tiny.push_back(std::move(t));
  }
  for (const Tokenizer& t : tiny) CHECK(t.encode("ab") == ids("1 7"));
}

TEST_CASE("tokenizer: duplicate pieces are allowed and lookup gives the lowest id", "[tokenizer]") {
  const Tokenizer t = parse(serialise({{0, "<unk>"},
                                       {0, "<s>"},
                                       {0, "</s>"},
                                       {-1, " "},
                                       {-2, "a"},
                                       {-5, "aa"},
                                       {-2, "a"},
                                       {-1, "aa"}}));
  CHECK(t.size() == 8);
  CHECK(t.lookup("a") == 4);
  CHECK(t.lookup("aa") == 5);
  CHECK(t.encode("aa") == ids("1 3 5"));
  CHECK(t.encode("aa") == qins::llama2::detail::encode_reference(t, "aa", true, false));
}

TEST_CASE("tokenizer: a small well-formed file is accepted", "[tokenizer]") {
  const Tokenizer t = parse(serialise(small_vocabulary()));
  CHECK(t.size() == 8);
  CHECK(t.max_token_length() == 6);
  CHECK(t.source() == "mem");
  CHECK(t.score(7) == -0.25f);
  CHECK(t.encode("ab") == ids("1 7"));
  CHECK(t.encode("ba") == ids("1 3 5 4"));
  // max_token_length may exceed the longest piece, up to the cap.
  CHECK(parse(serialise(small_vocabulary(), qins::llama2::limits::max_token_length)).size() == 8);
  // The longest piece may be exactly max_token_length.
  CHECK(parse(serialise({{0, "<unk>"}, {0, "<s>"}, {0, "</s>"}, {0, "xyz"}}, 5)).size() == 4);
}

TEST_CASE("tokenizer: the reader rejects every malformed file, naming the problem", "[tokenizer]") {
  const Bytes valid = serialise(small_vocabulary());
  const std::string end = " (at byte offset " + std::to_string(valid.size()) + ")";

  SECTION("empty or shorter than the max_token_length field") {
    require_rejected({}, "the file is empty");
    require_rejected({}, "the file is empty", "");
    require_rejected({7, 0, 0}, "has 3 bytes, fewer than the 4 of its max_token_length field");
    require_rejected({7}, "has 1 byte,", "");
    require_rejected(Writer().i32(6).b, "the file holds no tokens");
  }
  SECTION("max_token_length out of range") {
    for (const std::int32_t v : {0, -1, INT_MIN}) {
      Bytes b = valid;
      std::memcpy(b.data(), &v, 4);
      require_rejected(b, "max_token_length must be positive, got " + std::to_string(v));
    }
    for (const std::int32_t v : {(1 << 16) + 1, INT_MAX}) {
      Bytes b = valid;
      std::memcpy(b.data(), &v, 4);
      require_rejected(b, "max_token_length = " + std::to_string(v) + " exceeds the cap of 65536");
    }
  }
  SECTION("a file that ends inside a token") {
    Bytes b = valid;
    b.insert(b.end(), {0, 0});
    require_rejected(
        b, "ends inside token 8" + end + ": its score field is cut short, 6 bytes missing");
    b = valid;
    b.insert(b.end(), {0, 0, 0, 0, 1});
    require_rejected(
        b, "ends inside token 8" + end + ": its length field is cut short, 3 bytes missing");
    b = Writer{valid}.f32(-1.0f).i32(5).raw("ab").b;
    require_rejected(
        b, "ends inside token 8" + end +
               ": its piece has byte length 5 but only 2 bytes are left, 3 bytes missing");
    b = Writer{valid}.f32(-1.0f).i32(1).b;
    require_rejected(b, "its piece has byte length 1 but only 0 bytes are left, 1 byte missing");
  }
  SECTION("a length below 1 or above max_token_length") {
    for (const std::int32_t len : {-1, INT_MIN, 7, INT_MAX}) {
      const Bytes b = Writer{valid}.f32(-1.0f).i32(len).raw("abcdefgh").b;
      require_rejected(b, "token 8" + end + " has byte length " + std::to_string(len) +
                              ", outside [1, max_token_length = 6]");
    }
    require_rejected(Writer{valid}.f32(-1.0f).i32(0).raw("abc").b,
                     "token 8" + end + " has an empty piece (byte length 0)");
    // The first token too.
    require_rejected(Writer().i32(4).f32(0).i32(0).b,
                     "token 0 (at byte offset 4) has an empty piece");
  }
  SECTION("a piece with a NUL byte") {
    require_rejected(Writer{valid}.token(-1.0f, std::string("a\0b", 3)).b,
                     "token 8" + end + " has a NUL byte in its piece, at index 1");
    require_rejected(Writer().i32(4).token(0, std::string("\0", 1)).b,
                     "token 0 (at byte offset 4) has a NUL byte in its piece, at index 0");
  }
  SECTION("a non-finite score, by bit pattern") {
    const std::pair<std::uint32_t, const char*> bad[] = {
        {0x7fc00000u, "NaN, bit pattern 0x7fc00000"},
        {0xffc00001u, "NaN, bit pattern 0xffc00001"},
        {0x7f800001u, "NaN, bit pattern 0x7f800001"},
        {0x7f800000u, "infinity, bit pattern 0x7f800000"},
        {0xff800000u, "infinity, bit pattern 0xff800000"}};
    for (const auto& [bits, what] : bad) {
      const Bytes b = Writer{valid}.u32(bits).i32(1).raw("z").b;
      require_rejected(b, "token 8" + end + " has a non-finite score (" + std::string(what) + ")");
    }
    // The largest finite scores are fine.
    const Bytes ok = Writer{valid}.f32(std::numeric_limits<float>::max()).i32(1).raw("z").b;
    CHECK(parse(ok).size() == 9);
    const Bytes ok2 = Writer{valid}.f32(-std::numeric_limits<float>::max()).i32(1).raw("y").b;
    CHECK(parse(ok2).size() == 9);
  }
  SECTION("fewer than 3 tokens") {
    require_rejected(Writer().i32(5).token(0, "<unk>").b, "the file holds 1 token;");
    require_rejected(Writer().i32(5).token(0, "<unk>").token(0, "<s>").b,
                     "the file holds 2 tokens;");
  }
  SECTION("more tokens than limits::vocab_size") {
    const int cap = qins::llama2::limits::vocab_size;
    Writer w;
    w.i32(1);
    w.b.reserve(4 + 9 * std::size_t(cap + 1));
    for (int i = 0; i < cap; ++i) w.token(0, "a");
    CHECK(parse(w.b).size() == cap);  // exactly the cap is allowed
    const std::size_t at = w.b.size();
    w.token(0, "a");
    require_rejected(w.b, "more than 1048576 tokens: token 1048576 (at byte offset " +
                              std::to_string(at) + ") exceeds the cap");
  }
  SECTION("a null pointer") {
    try {
      qins::llama2::parse_tokenizer(nullptr, 4, "mem");
      FAIL("no exception");
    } catch (const qins::Error& e) {
      CHECK(e.kind() == ErrorKind::invalid_argument);
    }
    try {
      qins::llama2::parse_tokenizer(nullptr, 0, "mem");
      FAIL("no exception");
    } catch (const qins::Error& e) {
      CHECK(e.kind() == ErrorKind::bad_file);
    }
  }
}

TEST_CASE("tokenizer: every truncation is rejected or, at a token boundary, a shorter vocabulary",
          "[tokenizer]") {
  for (const Vocabulary& vocab : {small_vocabulary(), with_byte_pieces({{-1, " "}, {-2, "ab"}})}) {
    const Bytes file = serialise(vocab);
    std::vector<std::size_t> boundary_tokens(file.size() + 1, 0);  // 0: not a boundary
    std::size_t at = 4;
    for (std::size_t k = 0; k < vocab.size(); ++k) {
      at += 8 + vocab[k].second.size();
      boundary_tokens[at] = k + 1;
    }
    REQUIRE(at == file.size());
    const auto dir = std::filesystem::temp_directory_path() /
                     ("qins_tokenizer_test_" + std::to_string(file.size()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "cut.bin").string();
    for (std::size_t n = 0; n < file.size(); ++n) {
      INFO("truncated to " << n << " of " << file.size() << " bytes");
      const Bytes cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n));
      std::string memory_message;
      bool accepted = false;
      try {
        const Tokenizer t = parse(cut, path);
        accepted = true;
        CHECK(t.size() == static_cast<int>(boundary_tokens[n]));
      } catch (const qins::Error& e) {
        CHECK(e.kind() == ErrorKind::bad_file);
        memory_message = e.what();
      }
      CHECK(accepted == (boundary_tokens[n] >= 3));
      // The streaming reader gives the same verdict and the same message.
      {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(cut.data()), static_cast<std::streamsize>(n));
      }
      try {
        const Tokenizer t = qins::llama2::read_tokenizer(path);
        CHECK(accepted);
      } catch (const qins::Error& e) {
        CHECK_FALSE(accepted);
        CHECK(e.kind() == ErrorKind::bad_file);
        CHECK(e.what() == memory_message);
      }
    }
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("tokenizer: read_tokenizer reports paths it cannot read as io_failure", "[tokenizer]") {
  auto require_io = [](const std::string& path, const std::string& fragment) {
    try {
      qins::llama2::read_tokenizer(path);
      FAIL("no exception");
    } catch (const qins::Error& e) {
      CHECK(e.kind() == ErrorKind::io_failure);
      CHECK_THAT(std::string(e.what()),
                 Catch::Contains("'" + path + "'") && Catch::Contains(fragment));
    }
  };
  require_io(models_dir() + "/no_such_tokenizer.bin", "no such file");
  require_io(models_dir(), "is a directory");
  try {
    qins::llama2::read_tokenizer("");
    FAIL("no exception");
  } catch (const qins::Error& e) {
    CHECK(e.kind() == ErrorKind::io_failure);
    CHECK(std::string(e.what()) == "qins: tokenizer: the path is empty");
  }
}

TEST_CASE("tokenizer: check_vocabulary against the real models' vocabulary sizes", "[tokenizer]") {
  auto vocab_of = [](const char* checkpoint) {
    const Bytes b = read_bytes(model_file(checkpoint));
    REQUIRE(b.size() >= 28);
    std::int32_t v;
    std::memcpy(&v, b.data() + 20, 4);
    return v < 0 ? -v : v;
  };
  const int v260k = vocab_of("stories260K.bin"), v105 = vocab_of("babyllama105.bin");
  REQUIRE(v260k == 512);
  REQUIRE(v105 == 105);
  CHECK_NOTHROW(tok512().check_vocabulary(v260k, "stories260K.bin"));
  CHECK_NOTHROW(tok105().check_vocabulary(v105, "babyllama105.bin"));

  const Tokenizer named = parse(read_bytes(model_file("tok105.bin")), "tok105.bin");
  try {
    named.check_vocabulary(v260k, "stories260K.bin");
    FAIL("no exception");
  } catch (const qins::Error& e) {
    CHECK(e.kind() == ErrorKind::size_mismatch);
    CHECK(std::string(e.what()) ==
          "qins: tokenizer 'tok105.bin' has 105 tokens but model 'stories260K.bin' has a "
          "vocabulary of 512");
  }
  for (const auto& [t, v] : {std::pair<const Tokenizer*, int>{&tok32000(), v260k},
                             {&tok512(), v105},
                             {&tok105(), 32000}}) {
    try {
      t->check_vocabulary(v, "model.bin");
      FAIL("no exception");
    } catch (const qins::Error& e) {
      CHECK(e.kind() == ErrorKind::size_mismatch);
      CHECK_THAT(std::string(e.what()),
                 Catch::Contains(t->source()) &&
                     Catch::Contains(std::to_string(t->size()) + " tokens") &&
                     Catch::Contains("model 'model.bin' has a vocabulary of " + std::to_string(v)));
    }
  }
  try {
    tok512().check_vocabulary(0, "");
    FAIL("no exception");
  } catch (const qins::Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_argument);
  }
}
