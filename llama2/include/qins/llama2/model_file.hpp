// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// A whole model in one .qins file: its configuration, its QINS layers and the tensors that
// stay float32; saved from a Model, written straight from a ModelSource, loaded back runnable.
//
// The file is a .qins version 1.1 file (qins/io.hpp) holding:
//   metadata  "qins.model" = "llama2", and the Config: dim, hidden_dim, n_layers, n_heads,
//             n_kv_heads, vocab_size, seq_len, shared_classifier (0/1), norm_eps, rope_theta
//             (decimal text; floats with 9 significant digits, so they read back exactly);
//   tensors   token_embedding (vocab x dim), rms_att_weight and rms_ffn_weight (n_layers x
//             dim), rms_final_weight (1 x dim) and, with a separate classifier, wcls (vocab x
//             dim), all plain float32; then "layers.<l>.<kind>" for every projection, as
//             QINS codes, float32 z values (validation) or plain float32 (not converted).
// Nothing else: a missing, extra, misnamed or misshapen tensor is an error naming it.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "qins/error.hpp"
#include "qins/io.hpp"
#include "qins/linear.hpp"
#include "qins/llama2/checkpoint.hpp"
#include "qins/llama2/convert.hpp"
#include "qins/llama2/model.hpp"
#include "qins/llama2/source.hpp"
#include "qins/llama2/tensors.hpp"
#include "qins/thread_pool.hpp"

namespace qins::llama2 {

/// The metadata key that marks a .qins file as a whole llama2 model.
inline constexpr const char* kModelKey = "qins.model";

namespace detail {

inline std::string float_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

inline Metadata model_metadata(const Config& c) {
  return {{kModelKey, "llama2"},
          {"dim", std::to_string(c.dim)},
          {"hidden_dim", std::to_string(c.hidden_dim)},
          {"n_layers", std::to_string(c.n_layers)},
          {"n_heads", std::to_string(c.n_heads)},
          {"n_kv_heads", std::to_string(c.n_kv_heads)},
          {"vocab_size", std::to_string(c.vocab_size)},
          {"seq_len", std::to_string(c.seq_len)},
          {"shared_classifier", c.shared_classifier ? "1" : "0"},
          {"norm_eps", float_text(c.norm_eps)},
          {"rope_theta", float_text(c.rope_theta)}};
}

/// The Config a model file's metadata describes, checked as a llama2.c header is.
inline Config config_from_metadata(const Metadata& m, const std::string& where) {
  auto fail = [&](const std::string& problem) {
    throw Error(ErrorKind::bad_file, where + ": " + problem);
  };
  const auto model = m.find(kModelKey);
  if (model == m.end())
    fail(
        "a .qins file of tensors, not of a whole model (no \"qins.model\" metadata): load it with "
        "qins::load()");
  if (model->second != "llama2") fail("a model of kind '" + model->second + "', not llama2");
  auto text = [&](const char* key) -> const std::string& {
    const auto it = m.find(key);
    if (it == m.end()) fail(std::string("metadata '") + key + "' is missing");
    return it->second;
  };
  auto integer = [&](const char* key, long lo, long hi) {
    const std::string& s = text(key);
    char* end = nullptr;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || v < lo || v > hi)
      fail(std::string("metadata '") + key + "' = '" + s + "' is not an integer in [" +
           std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<int>(v);
  };
  auto positive_float = [&](const char* key) {
    const std::string& s = text(key);
    char* end = nullptr;
    const float v = std::strtof(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !(v > 0.0f) || !std::isfinite(v))
      fail(std::string("metadata '") + key + "' = '" + s + "' is not a positive number");
    return v;
  };
  Config c;
  c.dim = integer("dim", 1, limits::dim);
  c.hidden_dim = integer("hidden_dim", 1, limits::hidden_dim);
  c.n_layers = integer("n_layers", 1, limits::n_layers);
  c.n_heads = integer("n_heads", 1, limits::n_heads);
  c.n_kv_heads = integer("n_kv_heads", 1, limits::n_heads);
  c.vocab_size = integer("vocab_size", 1, limits::vocab_size);
  c.seq_len = integer("seq_len", 1, limits::seq_len);
  c.shared_classifier = integer("shared_classifier", 0, 1) == 1;
  c.norm_eps = positive_float("norm_eps");
  c.rope_theta = positive_float("rope_theta");
  check_config_shape(c, fail);
  return c;
}

/// The whole-model tensors a model file holds, in file order, with their shapes.
struct FloatTensorSpec {
  TensorId id;
  std::size_t rows, cols;
};
inline std::vector<FloatTensorSpec> float_tensor_specs(const Config& c) {
  const std::size_t dim = static_cast<std::size_t>(c.dim),
                    vocab = static_cast<std::size_t>(c.vocab_size);
  const std::size_t layers = static_cast<std::size_t>(c.n_layers);
  std::vector<FloatTensorSpec> specs = {{TensorId::token_embedding, vocab, dim},
                                        {TensorId::rms_att_weight, layers, dim},
                                        {TensorId::rms_ffn_weight, layers, dim},
                                        {TensorId::rms_final_weight, 1, dim}};
  if (!c.shared_classifier) specs.push_back({TensorId::wcls, vocab, dim});
  return specs;
}

/// A projection stored as plain float32 in a model file, multiplied in place.
class PlainLinearOp : public LinearOp {
 public:
  explicit PlainLinearOp(QinsTensor t)
      : tensor_(std::move(t)),
        dense_(reinterpret_cast<const float*>(tensor_.code_bytes()), tensor_.rows(),
               tensor_.cols()) {}
  std::size_t rows() const override { return dense_.rows(); }
  std::size_t cols() const override { return dense_.cols(); }
  void forward(const float* x, float* y) const override { dense_.forward(x, y); }
  std::size_t bytes() const override { return tensor_.memory_bytes(); }
  std::string storage() const override { return "float32"; }
  const QinsTensor& tensor() const noexcept { return tensor_; }

 private:
  QinsTensor tensor_;  // its payload is 64-byte aligned (owned, or in the mapped file)
  DenseLinear dense_;
};

}  // namespace detail

/// Writes `model` as one .qins model file (layout at the top of this header), through a
/// temporary file renamed into place. @throws qins::Error: invalid_argument naming a
/// projection whose op cannot be stored (a baseline, or float32 z values decoded for
/// validation), io_failure for the file system.
inline void save_model(const std::string& path, const Model& model) {
  const Config& c = model.config();
  std::vector<QinsTensor> tensors;
  const ModelTensors& w = model.tensors();
  for (const detail::FloatTensorSpec& s : detail::float_tensor_specs(c)) {
    const float* data = s.id == TensorId::token_embedding    ? w.token_embedding
                        : s.id == TensorId::rms_att_weight   ? w.rms_att_weight
                        : s.id == TensorId::rms_ffn_weight   ? w.rms_ffn_weight
                        : s.id == TensorId::rms_final_weight ? w.rms_final_weight
                                                             : w.wcls;
    tensors.push_back(QinsTensor::plain(tensor_info(s.id).name, data, s.rows, s.cols));
  }
  for (int l = 0; l < c.n_layers; ++l)
    for (LinearKind k : all_linear_kinds) {
      const LinearOp& op = model.linear(l, k);
      const std::string name = layer_name(l, k);
      if (const auto* q = dynamic_cast<const QinsLinearOp*>(&op)) {
        QinsTensor t = q->layer().tensor();
        t.set_name(name);
        tensors.push_back(std::move(t));
      } else if (const auto* p = dynamic_cast<const detail::PlainLinearOp*>(&op)) {
        QinsTensor t = p->tensor();
        t.set_name(name);
        tensors.push_back(std::move(t));
      } else if (const auto* d = dynamic_cast<const DenseLinear*>(&op)) {
        tensors.push_back(QinsTensor::plain(name, d->weights(), d->rows(), d->cols()));
      } else {
        throw Error(ErrorKind::invalid_argument,
                    "save_model: the op of this layer (" + op.storage() +
                        ") cannot be stored in a model file: convert it with uint8 or uint16 "
                        "codes, or leave it in float32",
                    name);
      }
    }
  save(path, tensors, detail::model_metadata(c));
}

/// Loads a .qins model file as a runnable Model. With LoadMode::memory_map (the default)
/// the codes are used in place and the float32 tensors read from the mapping: no copy of
/// any weight is made. Do not overwrite a mapped file in place while the model lives (the
/// process would die of SIGBUS): replace it by renaming, as save() does.
/// @throws qins::Error: bad_file for a file that is not a llama2 model file (saying what it
/// is), or a missing, extra or misshapen tensor (naming it); io_failure for the file system.
inline Model load_model(const std::string& path, LoadMode mode = LoadMode::memory_map) {
  const std::string where = "qins model '" + path + "'";
  LoadOptions options;
  options.mode = mode;
  QinsFile file = load_file(path, options);
  const Config c = detail::config_from_metadata(file.metadata, where);
  std::map<std::string, QinsTensor*> by_name;
  for (QinsTensor& t : file.tensors) by_name[t.name()] = &t;
  auto take = [&](const std::string& name, std::size_t rows, std::size_t cols) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) throw Error(ErrorKind::bad_file, where + ": tensor is missing", name);
    QinsTensor t = std::move(*it->second);
    by_name.erase(it);
    if (t.rows() != rows || t.cols() != cols)
      throw Error(ErrorKind::bad_file,
                  where + ": tensor is " + std::to_string(t.rows()) + " x " +
                      std::to_string(t.cols()) + ", the model needs " + std::to_string(rows) +
                      " x " + std::to_string(cols),
                  name);
    return t;
  };
  auto kept = std::make_shared<std::vector<QinsTensor>>();
  ModelTensors tensors;
  for (const detail::FloatTensorSpec& s : detail::float_tensor_specs(c)) {
    QinsTensor t = take(tensor_info(s.id).name, s.rows, s.cols);
    if (t.code_type() != CodeType::plain)
      throw Error(ErrorKind::bad_file,
                  where + ": must be plain float32, is " + to_string(t.code_type()), t.name());
    kept->push_back(std::move(t));
  }
  auto floats = [&](std::size_t i) {
    return reinterpret_cast<const float*>((*kept)[i].code_bytes());
  };
  tensors.token_embedding = floats(0);
  tensors.rms_att_weight = floats(1);
  tensors.rms_ffn_weight = floats(2);
  tensors.rms_final_weight = floats(3);
  tensors.wcls = c.shared_classifier ? floats(0) : floats(4);
  tensors.owner = kept;
  std::vector<std::shared_ptr<const LinearOp>> ops;
  for (int l = 0; l < c.n_layers; ++l)
    for (LinearKind k : all_linear_kinds) {
      const TensorInfo& info = tensor_info(tensor_of(k));
      QinsTensor t = take(layer_name(l, k), static_cast<std::size_t>(extent(info.rows, c)),
                          static_cast<std::size_t>(extent(info.cols, c)));
      if (t.has_bias())
        throw Error(ErrorKind::bad_file, where + ": a Llama projection has no bias", t.name());
      if (t.code_type() == CodeType::plain)
        ops.push_back(std::make_shared<detail::PlainLinearOp>(std::move(t)));
      else
        ops.push_back(linear_op_for(QinsLinear(std::move(t))));
    }
  if (!by_name.empty())
    throw Error(ErrorKind::bad_file, where + ": tensor that a llama2 model does not have",
                by_name.begin()->first);
  return Model::assemble(c, std::move(tensors), std::move(ops));
}

/// How far convert_to_file() has come: tensor `index` (0-based) of `count` is `name`,
/// `weights_done` of `weights_total` weights read so far (this tensor's included).
struct ConvertProgress {
  std::size_t index = 0, count = 0;
  std::string name;
  std::uint64_t weights_done = 0, weights_total = 0;
};

/// Converts the model `source` describes straight into a .qins model file, one tensor at a
/// time: peak memory is about one float32 tensor plus its codes (the source releases each
/// tensor after it is read), whatever the model's size. Selected projections get
/// options.linear_for() them (see convert_layer, stored_layout); the others and the float tensors
/// stay float32. Rows are quantized on `pool`'s threads if given. Calls `progress` before
/// each tensor. Writes through path + ".tmp", renamed at the end: a failure never leaves a
/// partial file under `path`. @throws qins::Error as the source, convert_layer and
/// FileWriter.
inline ConversionReport convert_to_file(
    const ModelSource& source, const std::string& path, const ConvertOptions& options,
    const std::function<void(const ConvertProgress&)>& progress = {}, ThreadPool* pool = nullptr) {
  const Config& c = source.config();
  // The plan: every tensor's name, shape and storage, known before anything is read.
  std::vector<TensorPlan> plans;
  std::vector<std::pair<TensorId, int>> order;  // what each plan reads: the tensor and block
  std::uint64_t total = 0;
  for (const detail::FloatTensorSpec& s : detail::float_tensor_specs(c)) {
    plans.push_back({tensor_info(s.id).name, s.rows, s.cols, CodeType::plain,
                     AlphaLayout{AlphaGranularity::fixed, 0}, false});
    order.emplace_back(s.id, -1);
    total += std::uint64_t(s.rows) * s.cols;
  }
  for (int l = 0; l < c.n_layers; ++l)
    for (LinearKind k : all_linear_kinds) {
      const TensorInfo& info = tensor_info(tensor_of(k));
      const std::size_t rows = static_cast<std::size_t>(extent(info.rows, c));
      const std::size_t cols = static_cast<std::size_t>(extent(info.cols, c));
      TensorPlan p{layer_name(l, k),
                   rows,
                   cols,
                   CodeType::plain,
                   AlphaLayout{AlphaGranularity::fixed, 0},
                   false};
      if (options.selects(l, k)) {
        const LinearOptions o = options.linear_for(p.name);
        p.code_type = o.quantize ? o.code_type : CodeType::float32;
        p.layout = stored_layout(o, cols);
      }
      plans.push_back(std::move(p));
      order.emplace_back(tensor_of(k), l);
      total += std::uint64_t(rows) * cols;
    }
  FileWriter writer(path, plans, detail::model_metadata(c));
  ConversionReport report;
  std::uint64_t done = 0;
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const TensorPlan& p = plans[i];
    const auto [id, layer] = order[i];
    done += std::uint64_t(p.rows) * p.cols;
    if (progress) progress({i, plans.size(), p.name, done, total});
    std::vector<float> w(p.rows * p.cols);
    const int blocks = layer < 0 && tensor_info(id).per_layer ? c.n_layers : 1;
    const std::size_t per_block = w.size() / static_cast<std::size_t>(blocks);
    for (int b = 0; b < blocks; ++b) {
      const int block = layer < 0 ? b : layer;
      source.read(id, block, w.data() + per_block * static_cast<std::size_t>(b));
      source.release(id, block);
    }
    if (layer < 0 || p.code_type == CodeType::plain) {
      if (layer >= 0) report.layers.push_back(float_layer_report(p.name, w.data(), p.rows, p.cols));
      writer.write(QinsTensor::plain(p.name, w.data(), p.rows, p.cols));
      continue;
    }
    ConvertedLayer converted =
        convert_layer(p.name, w.data(), p.rows, p.cols, options.linear_for(p.name), pool);
    report.layers.push_back(std::move(converted.report));
    writer.write(converted.layer.tensor());
  }
  writer.finish();
  return report;
}

}  // namespace qins::llama2
