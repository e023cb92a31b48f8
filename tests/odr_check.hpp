// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The ODR check's shared computation, compiled into both of its translation units.
#pragma once

#include <cstddef>
#include <memory>
#include <qins/llama2/baselines.hpp>
#include <qins/llama2/checkpoint.hpp>
#include <qins/llama2/convert.hpp>
#include <qins/llama2/evaluate.hpp>
#include <qins/llama2/hf.hpp>
#include <qins/llama2/model.hpp>
#include <qins/llama2/safetensors.hpp>
#include <qins/llama2/sampler.hpp>
#include <qins/llama2/tokenizer.hpp>
#include <qins/qins.hpp>
#include <string>
#include <vector>

#include "seed_files.hpp"

namespace odr_check {

/// What each translation unit computes with the library.
struct Results {
  qins::Isa isa = qins::Isa::scalar;
  std::vector<std::byte> file;     ///< serialize(parse(seed))
  std::vector<float> products;     ///< forward of every tensor with codes, with a thread pool
  std::vector<int> tokens;         ///< greedy tokens of the converted tiny llama
  double mean_kld = 0;             ///< against the float32 tiny llama
  std::size_t weight_bytes = 0;    ///< of the conversion report
  std::vector<float> safetensors;  ///< every tensor of the tiny-llama safetensors seed
};

// Not inline on purpose: each translation unit gets its own internal copy, so the two
// results come from code instantiated separately in each unit.
static Results compute(unsigned threads) {
  Results r;
  r.isa = qins::active_isa();
  const std::vector<std::byte> seed = qins_fuzz::qins_seed_three_tensors();
  const std::vector<qins::QinsLinear> tensors =
      qins::parse<qins::QinsLinear>(seed.data(), seed.size());
  r.file = qins::serialize(tensors);
  qins::ThreadPool pool(threads);
  for (const qins::QinsLinear& t : tensors) {
    if (t.code_type() == qins::CodeType::float32) continue;  // z values have no products
    const std::vector<float> x(t.cols(), 0.25f);
    std::vector<float> y(t.rows());
    t.forward(x.data(), y.data(), &pool);
    r.products.insert(r.products.end(), y.begin(), y.end());
  }

  const std::vector<unsigned char> bytes = qins_fuzz::llama2_seed(true);
  auto ck = std::make_shared<const qins::llama2::Checkpoint>(
      qins::llama2::parse_checkpoint(bytes.data(), bytes.size(), "tiny"));
  const qins::llama2::Model reference_model(ck);
  qins::llama2::Sequence sampled = qins::llama2::write_sequence(
      reference_model, "sampled", {1}, 6, qins::llama2::Sampler(1.0f, 0.9f, 7));
  const qins::llama2::Reference reference =
      qins::llama2::make_reference(reference_model, {sampled});
  qins::llama2::Model model(ck);
  qins::llama2::ConvertOptions options;
  options.linear.code_type = qins::CodeType::uint16;
  r.weight_bytes = qins::llama2::convert(model, options).weight_bytes();
  r.tokens = qins::llama2::generate_greedy(model, 6);
  r.mean_kld = qins::llama2::compare_distributions(model, reference).mean_kld;

  const std::vector<std::byte> st = qins_fuzz::safetensors_seed_tiny_llama();
  const auto file = qins::llama2::SafetensorsFile::parse(st.data(), st.size(), "tiny");
  for (const auto& t : file.tensors()) {
    std::vector<float> v(t.elements());
    file.read_floats(t, v.data());
    r.safetensors.insert(r.safetensors.end(), v.begin(), v.end());
  }
  return r;
}

/// Defined in odr_other.cpp.
Results compute_in_other_unit(unsigned threads);

}  // namespace odr_check
