// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// ODR check: two translation units include every public header, link, and compute the same.
#include <cstdio>
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

#include "odr_check.hpp"

int main() {
  const odr_check::Results here = odr_check::compute(2);
  const odr_check::Results there = odr_check::compute_in_other_unit(2);
  const bool same = here.isa == there.isa && here.file == there.file &&
                    here.products == there.products && here.tokens == there.tokens &&
                    here.mean_kld == there.mean_kld && here.weight_bytes == there.weight_bytes &&
                    here.safetensors == there.safetensors && !here.safetensors.empty() &&
                    !here.file.empty() && here.tokens.size() == 6;
  std::printf(
      "qins %d, isa %s: %zu-byte file, %zu outputs, %zu tokens, KL %.3g nats, %zu weight bytes: "
      "%s\n",
      QINS_VERSION, qins::to_string(here.isa), here.file.size(), here.products.size(),
      here.tokens.size(), here.mean_kld, here.weight_bytes,
      same ? "both units agree" : "THE UNITS DISAGREE");
  return same ? 0 : 1;
}
