// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The real test model, loaded once per test process (tests that need it skip nothing:
// the checkpoint is part of the test data and its absence is a failure).
#pragma once

#include <memory>
#include <qins/llama2/checkpoint.hpp>
#include <qins/llama2/model.hpp>
#include <qins/llama2/tensors.hpp>
#include <string>
#include <utility>
#include <vector>

namespace qins_test {

inline const std::string& model_path() {
  static const std::string path = QINS_TEST_MODEL_PATH;
  return path;
}

inline std::shared_ptr<const qins::llama2::Checkpoint> checkpoint() {
  static const auto loaded =
      std::make_shared<const qins::llama2::Checkpoint>(qins::llama2::read_checkpoint(model_path()));
  return loaded;
}

/// One linear layer of the model: its name, shape and float32 weights.
struct LinearWeights {
  std::string name;
  std::size_t rows, cols;
  const float* data;
};

inline std::vector<LinearWeights> linear_layers() {
  auto ck = checkpoint();
  qins::llama2::Model model(ck);
  std::vector<LinearWeights> out;
  for (int layer = 0; layer < ck->config().n_layers; ++layer)
    for (auto kind : qins::llama2::all_linear_kinds) {
      auto [rows, cols] = model.shape(layer, kind);
      out.push_back(
          {qins::llama2::layer_name(layer, kind), rows, cols, model.dense_weights(layer, kind)});
    }
  return out;
}

}  // namespace qins_test
