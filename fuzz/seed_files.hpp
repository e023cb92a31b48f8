// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Tiny valid inputs for the readers (fuzz seeds, mutation files, ODR test); the tokenizer's checks.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <qins/io.hpp>
#include <qins/linear.hpp>
#include <qins/llama2/hf.hpp>
#include <qins/llama2/safetensors.hpp>
#include <qins/llama2/tensors.hpp>
#include <qins/llama2/tokenizer.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qins_fuzz {

/// Deterministic values in [-scale, scale] from a 32-bit LCG (the same on every platform,
/// unlike <random>'s distributions).
inline std::vector<float> lcg_values(std::size_t n, std::uint32_t seed, float scale) {
  std::vector<float> out(n);
  std::uint32_t state = seed * 2654435761u + 1u;
  for (float& v : out) {
    state = state * 1664525u + 1013904223u;
    v = scale * (static_cast<float>(state >> 8) / 8388608.0f - 1.0f);  // 2^23
  }
  return out;
}

struct SeedTensor {
  const char* name;
  std::size_t rows, cols;
  qins::CodeType code;  ///< float32 means "quantize = false"
  qins::AlphaGranularity granularity;
  std::size_t group;
  bool bias;
};

inline qins::QinsLinear make_seed_tensor(const SeedTensor& s, std::uint32_t seed) {
  const std::vector<float> w = lcg_values(s.rows * s.cols, seed, 0.08f);
  const std::vector<float> b = lcg_values(s.rows, seed + 100, 0.5f);
  qins::LinearOptions o;
  o.name = s.name;
  o.code_type = s.code == qins::CodeType::float32 ? qins::CodeType::uint8 : s.code;
  o.quantize = s.code != qins::CodeType::float32;
  o.granularity = s.granularity;
  o.group_size = s.group;
  o.alpha = 2.0;
  return qins::QinsLinear(w.data(), s.rows, s.cols, o, s.bias ? b.data() : nullptr);
}

/// Three tensors: uint8 per row; uint16 per group of 4 with a bias; float32 z per tensor.
inline std::vector<std::byte> qins_seed_three_tensors() {
  using qins::AlphaGranularity;
  using qins::CodeType;
  const SeedTensor specs[] = {
      {"wq", 4, 8, CodeType::uint8, AlphaGranularity::per_row, 0, false},
      {"w2", 3, 8, CodeType::uint16, AlphaGranularity::per_group, 4, true},
      {"z", 2, 3, CodeType::float32, AlphaGranularity::per_tensor, 0, false}};
  std::vector<qins::QinsLinear> tensors;
  std::uint32_t seed = 1;
  for (const SeedTensor& s : specs) tensors.push_back(make_seed_tensor(s, seed++));
  return qins::serialize(tensors);
}

/// Three tensors: uint8 with a fixed alpha and a bias; uint16 per tensor; an empty 0 x 4.
inline std::vector<std::byte> qins_seed_fixed_and_empty() {
  using qins::AlphaGranularity;
  using qins::CodeType;
  const SeedTensor specs[] = {
      {"fixed.bias", 3, 5, CodeType::uint8, AlphaGranularity::fixed, 0, true},
      {"tensor16", 2, 4, CodeType::uint16, AlphaGranularity::per_tensor, 0, false},
      {"empty", 0, 4, CodeType::uint8, AlphaGranularity::per_row, 0, false}};
  std::vector<qins::QinsLinear> tensors;
  std::uint32_t seed = 11;
  for (const SeedTensor& s : specs) tensors.push_back(make_seed_tensor(s, seed++));
  return qins::serialize(tensors);
}

/// A version 1.1 file: metadata, a plain float32 tensor and a uint8 layer.
inline std::vector<std::byte> qins_seed_v1_1() {
  std::vector<qins::QinsTensor> tensors;
  tensors.push_back(
      make_seed_tensor(
          {"wq", 3, 8, qins::CodeType::uint8, qins::AlphaGranularity::per_row, 0, false}, 21)
          .tensor());
  const float emb[6] = {0.25f, -0.5f, 0.0f, 1.0f, -2.0f, 4.0f};
  tensors.push_back(qins::QinsTensor::plain("token_embedding", emb, 3, 2));
  return qins::serialize(tensors, qins::Metadata{{"format", "seed"}, {"dim", "8"}});
}

/// A regression input: the three-tensor seed with a code next to the middle code (the
/// largest decoded magnitude) and a scale 1/alpha of 2e37, so that the weight decodes to
/// infinity; written with valid checksums. Older readers accepted it. (No tensor can
/// hold that scale, so the seed's bytes are patched and resealed.)
inline std::vector<std::byte> qins_regression_scale_overflow() {
  std::vector<std::byte> file = qins_seed_three_tensors();
  std::byte* entry = file.data() + qins::detail::kFileHeaderSize;  // tensor 0: uint8, per row
  const auto field = [&](std::size_t at) {
    return qins::detail::load_le<std::uint64_t>(entry + at);
  };
  std::byte* codes = file.data() + field(40);
  float* scales = reinterpret_cast<float*>(file.data() + field(56));
  const float* bias = reinterpret_cast<const float*>(file.data() + field(72));
  codes[0] = std::byte{127};
  const float overflowing = 2e37f;
  std::memcpy(scales, &overflowing, sizeof overflowing);
  qins::detail::store_le<std::uint64_t>(
      entry + 88,
      qins::detail::payload_checksum(codes, field(48), scales, field(64), bias, field(80)));
  qins::detail::store_le<std::uint64_t>(
      file.data() + 56, qins::detail::header_checksum(
                            file.data(), qins::detail::load_le<std::uint64_t>(file.data() + 24)));
  return file;
}

/// A regression input: a 100 x 0 layer (per row, so no scales) next to a normal one. Its
/// products did pointer arithmetic on the null scale pointer (rows past the first chunk
/// of 64); found by fuzz_qins_file under clang's UBSan.
inline std::vector<std::byte> qins_regression_zero_width() {
  std::vector<qins::QinsLinear> tensors;
  qins::LinearOptions o;
  o.name = "zero_width";
  tensors.emplace_back(nullptr, 100, 0, o);
  tensors.push_back(make_seed_tensor(
      {"wq", 2, 4, qins::CodeType::uint8, qins::AlphaGranularity::per_row, 0, true}, 7));
  return qins::serialize(tensors);
}

/// Hyper-parameters of the synthesised llama2.c checkpoints.
struct TinyLlama {
  int dim = 8, hidden_dim = 16, n_layers = 2, n_heads = 2, n_kv_heads = 1, vocab_size = 16,
      seq_len = 8;
};

/// A legacy llama2.c checkpoint with the TinyLlama shape and small deterministic weights
/// (RMS-norm weights near 1), laid out by qins::llama2::checkpoint_tensors. `shared_classifier`
/// false writes vocab_size negated and a separate wcls after the RoPE tables.
inline std::vector<unsigned char> llama2_seed(bool shared_classifier, const TinyLlama& c = {}) {
  qins::llama2::Config config;
  config.dim = c.dim;
  config.hidden_dim = c.hidden_dim;
  config.n_layers = c.n_layers;
  config.n_heads = c.n_heads;
  config.n_kv_heads = c.n_kv_heads;
  config.vocab_size = c.vocab_size;
  config.seq_len = c.seq_len;
  config.shared_classifier = shared_classifier;
  std::vector<unsigned char> out;
  auto put_i32 = [&](std::int32_t v) {
    unsigned char b[4];
    std::memcpy(b, &v, 4);
    out.insert(out.end(), b, b + 4);
  };
  const int header[7] = {c.dim,     c.hidden_dim, c.n_layers,
                         c.n_heads, c.n_kv_heads, shared_classifier ? c.vocab_size : -c.vocab_size,
                         c.seq_len};
  for (int v : header) put_i32(v);
  std::uint32_t seed = 1000;
  for (const qins::llama2::TensorInfo& t : qins::llama2::checkpoint_tensors) {
    if (t.separate_classifier_only && shared_classifier) continue;
    const std::size_t n = std::size_t(qins::llama2::extent(t.rows, config)) *
                          std::size_t(qins::llama2::extent(t.cols, config)) *
                          (t.per_layer ? std::size_t(c.n_layers) : 1);
    // Norm weights near 1; the linear layers and embeddings small; the unused RoPE tables
    // anything.
    const bool norm = t.rows == qins::llama2::Dim::one;
    const float center = norm ? 1.0f : 0.0f;
    const float scale = norm ? 0.1f : !t.stored ? 1.0f : t.linear ? 0.3f : 0.5f;
    for (float v : lcg_values(n, seed++, scale)) {
      const float f = center + v;
      unsigned char b[4];
      std::memcpy(b, &f, 4);
      out.insert(out.end(), b, b + 4);
    }
  }
  return out;
}

/// A safetensors file of the three dtypes and the ranks the reader meets: F32 [3, 4], F16 [5]
/// (a subnormal, -0 and the largest half among its values), BF16 [2, 3, 2], an F32 scalar,
/// an empty F16 [0, 4], with metadata; written by serialize_safetensors().
inline std::vector<std::byte> safetensors_seed_three_dtypes() {
  using qins::llama2::SafetensorsDtype;
  const std::vector<float> m = lcg_values(12, 21, 2.0f);
  const std::vector<float> h = {6.0e-8f, -0.0f, 65504.0f, 0.333251953125f, -2.5f};
  const std::vector<float> b = lcg_values(12, 22, 100.0f);
  const std::vector<float> scalar = {-7.25f};
  return qins::llama2::serialize_safetensors(
      {{"matrix", SafetensorsDtype::f32, {3, 4}, m.data()},
       {"half", SafetensorsDtype::f16, {5}, h.data()},
       {"brain", SafetensorsDtype::bf16, {2, 3, 2}, b.data()},
       {"scalar", SafetensorsDtype::f32, {}, scalar.data()},
       {"empty", SafetensorsDtype::f16, {0, 4}, nullptr}},
      {{"format", "pt"}, {"source", "qins_make_corpus"}});
}

/// The tensors of the TinyLlama shape under their Hugging Face names, in BF16, as
/// transformers' save_pretrained writes a model (tied embeddings: no lm_head.weight).
inline std::vector<std::byte> safetensors_seed_tiny_llama(const TinyLlama& c = {}) {
  qins::llama2::Config config;
  config.dim = c.dim;
  config.hidden_dim = c.hidden_dim;
  config.n_layers = c.n_layers;
  config.n_heads = c.n_heads;
  config.n_kv_heads = c.n_kv_heads;
  config.vocab_size = c.vocab_size;
  config.seq_len = c.seq_len;
  std::vector<std::vector<float>> values;
  std::vector<qins::llama2::SafetensorsWriteTensor> tensors;
  values.reserve(qins::llama2::tensor_count * std::size_t(c.n_layers));
  std::uint32_t seed = 2000;
  for (const qins::llama2::TensorInfo& t : qins::llama2::checkpoint_tensors) {
    if (!t.stored || t.separate_classifier_only) continue;
    const std::uint64_t rows = qins::llama2::extent(t.rows, config);
    const std::uint64_t cols = qins::llama2::extent(t.cols, config);
    for (int layer = 0; layer < (t.per_layer ? c.n_layers : 1); ++layer) {
      values.push_back(lcg_values(std::size_t(rows * cols), seed++, 0.5f));
      std::vector<std::uint64_t> shape = {rows, cols};
      if (t.rows == qins::llama2::Dim::one) shape = {cols};
      tensors.push_back({qins::llama2::hf_tensor_name(t.id, layer),
                         qins::llama2::SafetensorsDtype::bf16, shape, values.back().data()});
    }
  }
  return qins::llama2::serialize_safetensors(tensors, {{"format", "pt"}});
}

/// A safetensors file written by hand as other writers lay it out: keys in another order,
/// whitespace and a newline in the JSON, "__metadata__" first, F16 data, padding to 8 bytes.
inline std::vector<std::byte> safetensors_seed_handwritten() {
  const std::string header =
      "{\"__metadata__\": {\"format\": \"pt\"},\n \"x\": {\"shape\": [2, 3], \"dtype\": "
      "\"F16\", \"data_offsets\": [0, 12]}, \"y\": {\"data_offsets\": [12, 16], "
      "\"dtype\": \"F32\", \"shape\": [1]}}";
  std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  std::vector<std::byte> out(8);
  qins::detail::store_le<std::uint64_t>(out.data(), padded.size());
  for (const char ch : padded) out.push_back(static_cast<std::byte>(ch));
  const std::uint16_t halves[6] = {0x3c00, 0xc000, 0x3555, 0x0001, 0x8000, 0x7bff};
  for (const std::uint16_t v : halves) {
    out.push_back(static_cast<std::byte>(v & 0xff));
    out.push_back(static_cast<std::byte>(v >> 8));
  }
  const float y = 0.125f;
  std::byte b[4];
  std::memcpy(b, &y, 4);
  out.insert(out.end(), b, b + 4);
  return out;
}

/// A llama2.c tokenizer file: int32 max_token_length, then per token float32 score, int32
/// byte length and the piece's bytes.
inline std::vector<unsigned char> tokenizer_file(
    int max_token_length, const std::vector<std::pair<float, std::string>>& tokens) {
  std::vector<unsigned char> out;
  auto put = [&](const void* p, std::size_t n) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    out.insert(out.end(), b, b + n);
  };
  const std::int32_t m = max_token_length;
  put(&m, 4);
  for (const auto& [score, piece] : tokens) {
    const std::int32_t len = static_cast<std::int32_t>(piece.size());
    put(&score, 4);
    put(&len, 4);
    put(piece.data(), piece.size());
  }
  return out;
}

/// A tokenizer in llama2.c's layout: <unk>, BOS, EOS, the 256 byte pieces <0x00>..<0xFF>,
/// then characters and merges spelling "hello world" (scores with ties, one at -1e10 that
/// never merges, one at -1e9 that does), a duplicate piece and two multi-byte characters.
inline std::vector<unsigned char> tokenizer_seed_with_byte_pieces() {
  std::vector<std::pair<float, std::string>> t = {
      {0.0f, "<unk>"}, {0.0f, "\n<s>\n"}, {0.0f, "\n</s>\n"}};
  static constexpr char hex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    t.push_back({0.0f, std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">"});
  }
  const std::pair<float, std::string> rest[] = {{-1.0f, " "},        {-2.0f, "e"},
                                                {-2.0f, "l"},        {-3.0f, "o"},
                                                {-3.0f, "h"},        {-4.0f, "w"},
                                                {-4.0f, "r"},        {-5.0f, "d"},
                                                {-6.0f, "\xC3\xA9"}, {-7.0f, "\xE6\x97\xA5"},
                                                {-1.5f, "he"},       {-1.5f, "ll"},
                                                {-1.0f, "lo"},       {-1.0f, " h"},
                                                {-2.5f, "hel"},      {-0.5f, "hell"},
                                                {-0.5f, "hello"},    {-1.0f, " w"},
                                                {-2.0f, "or"},       {-2.0f, "ld"},
                                                {-1.0f, "wor"},      {-0.25f, "world"},
                                                {-0.1f, " hello"},   {-0.1f, " world"},
                                                {-1e10f, "  "},      {-1e9f, "   "},
                                                {-2.0f, "ll"}};
  t.insert(t.end(), std::begin(rest), std::end(rest));
  return tokenizer_file(8, t);
}

/// A character-level tokenizer without byte pieces (like BabyLlama's tok105.bin): a character
/// outside it encodes as <unk>.
inline std::vector<unsigned char> tokenizer_seed_without_byte_pieces() {
  return tokenizer_file(6, {{0.0f, "<unk>"},
                            {0.0f, "\n<s>\n"},
                            {0.0f, "\n</s>\n"},
                            {-0.0f, " "},
                            {-1.0f, "a"},
                            {-2.0f, "b"},
                            {-3.0f, "c"},
                            {-4.0f, "."},
                            {-5.0f, "\xE2\x80\x9C"},
                            {-6.0f, "\xE2\x80\x9D"},
                            {-7.0f, "\xF0\x9F\x98\x80"},
                            {-0.5f, "ab"},
                            {-0.5f, " a"},
                            {-0.25f, " ab"},
                            {-1.0f, "ba"}});
}

/// A regression input: BOS's piece is "b" and "ba" is a piece, so run.c's loop merges BOS
/// with the text after it and "a" encodes without a leading BOS. Found by
/// fuzz_llama2_tokenizer; Tokenizer::encode() keeps BOS out of the merges.
inline std::vector<unsigned char> tokenizer_regression_bos_merges() {
  return tokenizer_file(6, {{0.0f, "a"},
                            {-2.0f, "b"},
                            {-3.0f, "\xCE"},
                            {-4.0f, "\xD2"},
                            {-0.125f, " ab"},
                            {-1.0f, "ba"}});
}

/// A regression input: <unk> (id 0) has the piece "a" and "aa" is a piece, so an unknown
/// character's <unk> next to a real "a" could merge into "aa". Found by
/// fuzz_llama2_tokenizer; Tokenizer::encode() keeps such an <unk> out of the merges.
inline std::vector<unsigned char> tokenizer_regression_unk_merges() {
  return tokenizer_file(
      6, {{0.0f, "a"}, {-2.0f, "b"}, {-3.0f, "\xD2"}, {-0.125f, " ab"}, {-1.0f, "aa"}});
}

/// What must hold for every tokenizer the reader accepts from the `size` bytes at `data`:
/// validated fields, every piece found again by lookup(), byte pieces where byte_id() says,
/// and encode() of a few texts (fixed ones and ones made of the input's bytes and pieces)
/// equal to the transcription of run.c's loop, with every id in range and decode() and
/// printable() usable on the result. Returns what failed, or "".
inline std::string tokenizer_problem(const qins::llama2::Tokenizer& t, const unsigned char* data,
                                     std::size_t size) {
  using qins::llama2::Tokenizer;
  using qins::llama2::UnknownCharacters;
  namespace detail = qins::llama2::detail;
  const int n = t.size();
  if (n < 3 || n > qins::llama2::limits::vocab_size) return "token count out of range";
  if (t.max_token_length() < 1 || t.max_token_length() > qins::llama2::limits::max_token_length)
    return "max_token_length out of range";
  std::size_t piece_bytes = 0;
  for (int id = 0; id < n; ++id) {
    const std::string_view p = t.piece(id);
    piece_bytes += p.size();
    if (p.empty() || p.size() > static_cast<std::size_t>(t.max_token_length()))
      return "token " + std::to_string(id) + " has a piece length out of range";
    if (p.find('\0') != std::string_view::npos) return "token " + std::to_string(id) + " has a NUL";
    const float s = t.score(id);
    std::uint32_t bits;
    std::memcpy(&bits, &s, 4);
    if ((bits & 0x7f800000u) == 0x7f800000u)
      return "token " + std::to_string(id) + ": non-finite score";
    const int found = t.lookup(p);
    if (found < 0 || found > id || t.piece(found) != p)
      return "lookup(piece(" + std::to_string(id) + ")) = " + std::to_string(found);
  }
  if (4 + 8 * std::size_t(n) + piece_bytes != size) return "the pieces do not account for the file";
  bool all_bytes = true;
  for (int b = 0; b < 256; ++b) {
    const int id = t.byte_id(static_cast<unsigned char>(b));
    all_bytes = all_bytes && id >= 0;
    if (id >= 0 && (id >= n || detail::byte_piece_value(t.piece(id)) != b))
      return "byte_id(" + std::to_string(b) + ") is not that byte's piece";
  }
  if (all_bytes != t.has_byte_pieces()) return "has_byte_pieces() disagrees with byte_id()";

  std::vector<std::string> texts = {"", "a", " hello world",
                                    "ab ba\n\xC3\xA9\xE2\x80\x9C\xF0\x9F\x98\x80",
                                    "\x80\xBF\xFF"
                                    "a\x80\x80\x80\x80\x80"};
  texts.emplace_back(reinterpret_cast<const char*>(data) + (size > 32 ? size - 32 : 0),
                     size > 32 ? 32 : size);
  std::string pieces;  // the first pieces after the specials, forward and backward
  for (int id = 3; id < n && pieces.size() < 48; ++id) pieces += t.piece(id);
  texts.push_back(pieces.substr(0, 64));
  std::string backward;
  for (int id = n - 1; id >= 3 && backward.size() < 48; --id) backward += t.piece(id);
  texts.push_back(backward.substr(0, 64));

  for (const std::string& text : texts) {
    const std::string what = "text '" + qins::llama2::printable(text) + "': ";
    for (const bool bos : {true, false}) {
      std::vector<int> fast, reference;
      try {
        fast = t.encode(text, bos, bos);
        reference = detail::encode_reference(t, text, bos, false);
      } catch (const std::exception& e) {
        return what + "encode threw " + e.what();
      }
      if (bos) reference.push_back(Tokenizer::eos_id());
      if (fast != reference) return what + "encode differs from run.c's loop";
      for (const int id : fast)
        if (id < 0 || id >= n)
          return what + "encode gave the out-of-range id " + std::to_string(id);
      if (bos && (fast.size() < 2 || fast.front() != 1 || fast.back() != 2))
        return what + "BOS or EOS missing";
      if (text.empty() && fast.size() != (bos ? 2u : 0u)) return what + "tokens for empty text";
      std::string decoded;
      try {
        decoded = t.decode(fast);
      } catch (const std::exception& e) {
        return what + "decode threw " + e.what();
      }
      for (const char c : qins::llama2::printable(decoded)) {
        const unsigned char u = static_cast<unsigned char>(c);
        if ((u < 0x20 && u != '\n' && u != '\t') || u == 0x7F)
          return what + "printable() let a control byte through";
      }
    }
    bool fast_threw = false, reference_threw = false;
    std::vector<int> fast, reference;
    try {
      fast = t.encode(text, true, false, UnknownCharacters::error);
    } catch (const qins::Error& e) {
      if (e.kind() != qins::ErrorKind::invalid_argument) return what + "encode threw a wrong kind";
      fast_threw = true;
    }
    try {
      reference = detail::encode_reference(t, text, true, false, UnknownCharacters::error);
    } catch (const qins::Error&) {
      reference_threw = true;
    }
    if (fast_threw != reference_threw || fast != reference)
      return what + "encode with UnknownCharacters::error differs from run.c's loop";
    // Where no character is unknown, the two modes give the same tokens.
    if (!fast_threw && fast != t.encode(text, true, false))
      return what + "the two unknown-character modes disagree";
  }
  return {};
}

}  // namespace qins_fuzz
