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
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "qins/detail/aligned_buffer.hpp"
#include "qins/detail/byte_reader.hpp"
#include "qins/detail/mapped_file.hpp"
#include "qins/error.hpp"
#include "qins/llama2/checkpoint.hpp"
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

 protected:
  /// Throws invalid_argument unless the source holds `id` and `layer` is one of its blocks.
  void check_request(TensorId id, int layer) const {
    const TensorInfo& t = tensor_info(id);
    if (!has(id))
      throw Error(ErrorKind::invalid_argument, describe() + ": holds no tensor " + t.name);
    const int blocks = t.per_layer ? config().n_layers : 1;
    if (layer < 0 || layer >= blocks)
      throw Error(ErrorKind::invalid_argument, describe() + ": block " + std::to_string(layer) +
                                                   " of " + t.name + " is out of range");
  }
};

/// A Checkpoint already in memory as a source (copies out of it).
class CheckpointSource : public ModelSource {
 public:
  /// Throws qins::Error (invalid_argument) for a null checkpoint.
  explicit CheckpointSource(std::shared_ptr<const Checkpoint> checkpoint)
      : ckpt_(std::move(checkpoint)) {
    if (!ckpt_) throw Error(ErrorKind::invalid_argument, "CheckpointSource: null checkpoint");
  }
  const Config& config() const override { return ckpt_->config(); }
  std::string describe() const override { return detail::describe_source(ckpt_->source()); }
  bool has(TensorId id) const override {
    const TensorInfo& t = tensor_info(id);
    return t.stored && (!t.separate_classifier_only || !config().shared_classifier);
  }
  void read(TensorId id, int layer, float* out) const override {
    check_request(id, layer);
    std::memcpy(out, ckpt_->tensor(id, layer), ckpt_->tensor_size(id) * sizeof(float));
  }

 private:
  std::shared_ptr<const Checkpoint> ckpt_;
};

/// A llama2.c legacy checkpoint read in place: the file is memory-mapped, its header and
/// size validated as read_checkpoint() does, and each tensor converted (and checked for
/// NaN and infinity) when it is read; release() lets the OS drop its pages again.
class Llama2cFile : public ModelSource {
 public:
  /// @throws qins::Error as read_checkpoint() for the file and its header.
  static std::unique_ptr<Llama2cFile> open(const std::string& path) {
    std::unique_ptr<Llama2cFile> f(new Llama2cFile);
    f->path_ = path;
    const std::string where = detail::describe_source(path);
    std::uint64_t size = 0;
    (void)detail::open_model_file(path, where, "checkpoint", size);  // the path's own errors
    f->bytes_ = qins::detail::map_whole_file(path);
    qins::detail::ByteReader reader(f->bytes_.data(), f->bytes_.size(), where);
    f->config_ = detail::validate_header(reader, f->layout_);
    return f;
  }

  const Config& config() const override { return config_; }
  std::string describe() const override { return detail::describe_source(path_); }
  bool has(TensorId id) const override {
    return tensor_info(id).stored && layout_.tensors[static_cast<std::size_t>(id)].present;
  }
  void read(TensorId id, int layer, float* out) const override {
    check_request(id, layer);
    const TensorInfo& t = tensor_info(id);
    const std::size_t n = static_cast<std::size_t>(placement(id).layer_floats);
    std::memcpy(out, at(id, layer), n * sizeof(float));  // little-endian, as the file
    const std::size_t bad = qins::detail::find_non_finite(out, n);
    if (bad != n) {
      const std::size_t cols = static_cast<std::size_t>(extent(t.cols, config_));
      throw Error(ErrorKind::non_finite_value, describe() + ": non-finite weight",
                  tensor_name(id, layer), t.rows == Dim::one ? Error::npos : bad / cols,
                  bad % cols);
    }
  }
  void release(TensorId id, int layer) const override {
    if (!has(id)) return;
    qins::detail::release_pages(at(id, layer), placement(id).layer_floats * sizeof(float));
  }

 private:
  Llama2cFile() = default;
  const detail::TensorPlacement& placement(TensorId id) const {
    return layout_.tensors[static_cast<std::size_t>(id)];
  }
  const std::byte* at(TensorId id, int layer) const {
    const detail::TensorPlacement& p = placement(id);
    return bytes_.data() + p.file_offset +
           static_cast<std::uint64_t>(layer) * p.layer_floats * sizeof(float);
  }

  std::string path_;
  qins::detail::SharedBytes bytes_;
  Config config_;
  detail::Layout layout_;
};

}  // namespace qins::llama2
