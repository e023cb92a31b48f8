// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Tiny valid inputs for both readers: the fuzz seeds, the mutation test's files, the ODR test.
#pragma once

#include <qins/io.hpp>
#include <qins/linear.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
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

/// A regression input: the three-tensor seed with a code next to the middle code (the
/// largest decoded magnitude) and a scale 1/alpha of 2e37, so that the weight decodes to
/// infinity; written with valid checksums. Older readers accepted it.
inline std::vector<std::byte> qins_regression_scale_overflow() {
  const std::vector<std::byte> seed = qins_seed_three_tensors();
  std::vector<qins::QinsLinear> tensors = qins::parse(seed.data(), seed.size());
  const qins::QinsLinear& t = tensors[0];  // uint8, per row
  qins::detail::SharedBytes codes = qins::detail::SharedBytes::allocate(t.memory().code_bytes);
  std::memcpy(codes.mutable_data(), t.code_bytes(), t.memory().code_bytes);
  codes.mutable_data()[0] = std::byte{127};
  std::vector<float> scales = t.scales();
  scales[0] = 2e37f;
  tensors[0] = qins::QinsLinear::from_parts(t.name(), t.rows(), t.cols(), t.code_type(), t.layout(),
                                            codes, scales, t.bias());
  return qins::serialize(tensors);
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
/// (RMS-norm weights near 1). `shared_classifier` false writes vocab_size negated and a
/// separate wcls after the RoPE tables.
inline std::vector<unsigned char> llama2_seed(bool shared_classifier, const TinyLlama& c = {}) {
  const std::size_t dim = std::size_t(c.dim), hidden = std::size_t(c.hidden_dim),
                    layers = std::size_t(c.n_layers), head = dim / std::size_t(c.n_heads),
                    kv_dim = head * std::size_t(c.n_kv_heads), vocab = std::size_t(c.vocab_size),
                    seq = std::size_t(c.seq_len);
  std::vector<unsigned char> out;
  auto put_i32 = [&](std::int32_t v) {
    unsigned char b[4];
    std::memcpy(b, &v, 4);
    out.insert(out.end(), b, b + 4);
  };
  std::uint32_t seed = 1000;
  auto put_floats = [&](std::size_t n, float center, float scale) {
    for (float v : lcg_values(n, seed++, scale)) {
      const float f = center + v;
      unsigned char b[4];
      std::memcpy(b, &f, 4);
      out.insert(out.end(), b, b + 4);
    }
  };
  const int header[7] = {c.dim,     c.hidden_dim, c.n_layers,
                         c.n_heads, c.n_kv_heads, shared_classifier ? c.vocab_size : -c.vocab_size,
                         c.seq_len};
  for (int v : header) put_i32(v);
  put_floats(vocab * dim, 0.0f, 0.5f);            // token_embedding
  put_floats(layers * dim, 1.0f, 0.1f);           // rms_att_weight
  put_floats(layers * dim * dim, 0.0f, 0.3f);     // wq
  put_floats(layers * kv_dim * dim, 0.0f, 0.3f);  // wk
  put_floats(layers * kv_dim * dim, 0.0f, 0.3f);  // wv
  put_floats(layers * dim * dim, 0.0f, 0.3f);     // wo
  put_floats(layers * dim, 1.0f, 0.1f);           // rms_ffn_weight
  put_floats(layers * hidden * dim, 0.0f, 0.3f);  // w1
  put_floats(layers * dim * hidden, 0.0f, 0.3f);  // w2
  put_floats(layers * hidden * dim, 0.0f, 0.3f);  // w3
  put_floats(dim, 1.0f, 0.1f);                    // rms_final_weight
  put_floats(2 * seq * (head / 2), 0.0f, 1.0f);   // freq_cis_real, freq_cis_imag (unused)
  if (!shared_classifier) put_floats(vocab * dim, 0.0f, 0.5f);  // wcls
  return out;
}

}  // namespace qins_fuzz
