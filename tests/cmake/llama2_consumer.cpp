// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The consumer projects' model-layer program: a tiny llama2.c checkpoint, converted to QINS, runs.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <qins/llama2/checkpoint.hpp>
#include <qins/llama2/convert.hpp>
#include <qins/llama2/model.hpp>
#include <vector>

int main() {
  // dim 8, hidden 16, 2 layers, 2 heads (1 kv head), vocabulary 16, context 8, shared classifier.
  const std::int32_t header[7] = {8, 16, 2, 2, 1, 16, 8};
  const std::size_t dim = 8, hidden = 16, layers = 2, kv_dim = 4, vocab = 16, seq = 8, head = 4;
  const std::size_t floats =
      vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv_dim * dim + 3 * hidden * dim) + dim +
      2 * seq * (head / 2);
  std::vector<unsigned char> file(sizeof header + 4 * floats);
  std::memcpy(file.data(), header, sizeof header);
  for (std::size_t i = 0; i < floats; ++i) {
    const float w = 0.25f * std::sin(0.37f * static_cast<float>(i)) + (i % 17 == 0 ? 1.0f : 0.0f);
    std::memcpy(file.data() + sizeof header + 4 * i, &w, 4);
  }

  const auto checkpoint = std::make_shared<const qins::llama2::Checkpoint>(
      qins::llama2::parse_checkpoint(file.data(), file.size(), "tiny"));
  qins::llama2::Model model(checkpoint);
  const qins::llama2::ConversionReport report = qins::llama2::convert(model);
  const std::vector<int> tokens = qins::llama2::generate_greedy(model, 6);

  bool ok = tokens.size() == 6 && report.layers.size() == 14 &&
            report.weight_bytes() < report.fp32_bytes() / 2;
  for (const int t : tokens) ok = ok && t >= 0 && t < 16;
  qins::llama2::Session session(model);
  for (const float logit : session.forward(1, 0)) ok = ok && std::isfinite(logit);
  std::printf("qins::llama2: %zu layers converted, %zu bytes instead of %zu, greedy tokens",
              report.layers.size(), report.weight_bytes(), report.fp32_bytes());
  for (const int t : tokens) std::printf(" %d", t);
  std::printf(": %s\n", ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
