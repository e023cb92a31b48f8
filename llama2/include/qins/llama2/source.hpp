// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// ModelSource: where a model's float32 weights come from, tensor by tensor, each read once.
//
// A source presents every checkpoint the tools read (a llama2.c file, a Hugging Face
// directory of safetensors files) in one layout: the tensors of tensors.hpp's table, in
// llama2.c's conventions (row-major, rows = output features; the rows of wq and wk in
// llama2.c's RoPE pair order). A Model built from a source, or a conversion streaming one
// into a .qins file, reads each tensor once and can let the source drop it right after,
// so that no more than one float32 tensor is held beyond what is kept.
#pragma once

#include <cstddef>
#include <string>

#include "qins/llama2/tensors.hpp"

namespace qins::llama2 {

class ModelSource {
 public:
  virtual ~ModelSource() = default;

  /// The validated hyper-parameters (tensors.hpp's Config, with norm_eps and rope_theta).
  virtual const Config& config() const = 0;

  /// What the source is, for messages: "llama2.c checkpoint 'x.bin'", "Hugging Face
  /// directory 'd'".
  virtual std::string describe() const = 0;

  /// Whether the source holds tensor `id` (wcls only with a separate classifier; the
  /// legacy RoPE tables never count).
  virtual bool has(TensorId id) const = 0;

  /// Writes tensor `id` of block `layer` (0 for a whole-model tensor) into `out`:
  /// extent(rows) * extent(cols) floats, row-major. @throws qins::Error: bad_file for data
  /// that cannot be read or converted, non_finite_value for a NaN or infinite value
  /// (naming the tensor, row and column), invalid_argument for an id the source does not
  /// hold or a layer out of range.
  virtual void read(TensorId id, int layer, float* out) const = 0;

  /// Tells the source that tensor `id` of `layer` will not be read again: a source that
  /// maps or caches its bytes may drop them (it must still answer a later read()).
  virtual void release(TensorId /*id*/, int /*layer*/) const {}
};

}  // namespace qins::llama2
