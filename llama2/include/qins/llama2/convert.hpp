// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Conversion of a Llama model's linear layers to QinsLinear, with a per-layer report.
//
// A converted layer goes into the model as the op that multiplies with it: a QinsLinearOp
// over its codes, or, for the validation mode that keeps float32 z values
// (LinearOptions::quantize = false), a DecodedLinear: the weights decoded once and multiplied
// as a dense float32 matrix here, so that QinsLinear needs no product kernels for float32.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "qins/error.hpp"
#include "qins/linear.hpp"
#include "qins/llama2/layer_pattern.hpp"
#include "qins/llama2/model.hpp"
#include "qins/llama2/tensors.hpp"

namespace qins::llama2 {

/// A QinsLinear in a Model's projection slot: forward() is QinsLinear::forward (the fast
/// decode, within QinsLinear::decode_error_bound(); one input at a time, no thread pool),
/// bytes() what the layer holds (codes, scales, bias), storage() its code type and alpha
/// layout ("uint8 per_row"). The layer is owned; with a memory-mapped file its codes stay
/// in the mapping. Thread-safe as QinsLinear is.
class QinsLinearOp : public LinearOp {
 public:
  explicit QinsLinearOp(QinsLinear layer) : layer_(std::move(layer)) {}
  std::size_t rows() const override { return layer_.rows(); }
  std::size_t cols() const override { return layer_.cols(); }
  void forward(const float* x, float* y) const override { layer_.forward(x, y); }
  std::size_t bytes() const override { return layer_.memory_bytes(); }
  std::string storage() const override {
    std::string s =
        std::string(to_string(layer_.code_type())) + " " + to_string(layer_.layout().granularity);
    if (layer_.layout().granularity == AlphaGranularity::per_group)
      s += " " + std::to_string(layer_.layout().group_size);
    return s;
  }
  const QinsLinear& layer() const noexcept { return layer_; }

 private:
  QinsLinear layer_;
};

/// A layer's weights decoded once from a QinsLinear (any code type; meant for float32 z
/// values) into a row-major float32 matrix it owns, multiplied densely. The report keeps
/// counting what the QinsLinear holds (stored_bytes()), not this matrix.
class DecodedLinear : public LinearOp {
 public:
  /// Decodes every row of `layer` (and copies its bias). Throws qins::Error: as
  /// QinsLinear::decode_row(); io_failure if the matrix does not fit in memory.
  explicit DecodedLinear(const QinsLinear& layer)
      : rows_(layer.rows()), cols_(layer.cols()), stored_bytes_(layer.memory_bytes()) {
    try {
      weights_.resize(rows_ * cols_);
      bias_ = layer.bias();
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::io_failure,
                  "DecodedLinear: out of memory decoding " + std::to_string(rows_) + " x " +
                      std::to_string(cols_) + " weights",
                  layer.name());
    }
    for (std::size_t r = 0; r < rows_; ++r) layer.decode_row(r, weights_.data() + r * cols_);
  }
  std::size_t rows() const override { return rows_; }
  std::size_t cols() const override { return cols_; }
  /// y = W x (+ bias), with eight independent sums per row added in the order QinsLinear's
  /// own float32 product used, so that results are bit for bit those it gave.
  void forward(const float* x, float* y) const override {
    for (std::size_t r = 0; r < rows_; ++r) {
      const float* row = weights_.data() + r * cols_;
      float acc[8] = {};
      std::size_t c = 0;
      for (; c + 8 <= cols_; c += 8)
        for (std::size_t l = 0; l < 8; ++l) acc[l] += row[c + l] * x[c + l];
      for (; c < cols_; ++c) acc[0] += row[c] * x[c];
      y[r] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
      if (!bias_.empty()) y[r] += bias_[r];
    }
  }
  /// The decoded matrix, rows() x cols(), row-major.
  const float* weights() const noexcept { return weights_.data(); }
  /// What it holds: the decoded float32 matrix and the bias.
  std::size_t bytes() const override { return (weights_.size() + bias_.size()) * sizeof(float); }
  std::string storage() const override { return "float32 (decoded z values)"; }
  /// Bytes of the QinsLinear it was decoded from (codes or z values, scales, bias): what the
  /// conversion report counts for this layer.
  std::size_t stored_bytes() const noexcept { return stored_bytes_; }

 private:
  std::size_t rows_, cols_, stored_bytes_;
  std::vector<float> weights_;
  std::vector<float> bias_;
};

/// The op that runs a converted layer in a Model: a QinsLinearOp over its codes, or a
/// DecodedLinear for float32 z values (LinearOptions::quantize = false).
/// Throws qins::Error as DecodedLinear's constructor.
inline std::shared_ptr<const LinearOp> linear_op_for(QinsLinear layer) {
  if (layer.code_type() == CodeType::float32) return std::make_shared<DecodedLinear>(layer);
  return std::make_shared<QinsLinearOp>(std::move(layer));
}

/// Which linear layers to convert.
enum class LayerSelection {
  all_linear,      ///< wq, wk, wv, wo, w1, w2, w3 of every block
  prototype_safe,  ///< the prototype's choice: wv, wo, w1, w2, w3 (attention q/k stay float)
};

inline bool is_selected(LayerSelection selection, LinearKind kind) noexcept {
  return selection == LayerSelection::all_linear ||
         (kind != LinearKind::wq && kind != LinearKind::wk);
}

struct ConvertOptions {
  /// Applied to every selected layer (its name is set per layer). The defaults: uint8
  /// codes, one calibrated alpha per row, quantize on.
  LinearOptions linear;
  LayerSelection layers = LayerSelection::all_linear;
  /// If not empty, a LayerPattern (comma-separated shell globs, layer_pattern.hpp): only
  /// the layers whose whole name ("layers.3.wq") it matches are converted (among those
  /// `layers` selects). "*.w1,*.w2,*.w3" is the feed-forward layers of every block.
  std::string pattern;
  /// Code types per layer name ("layers.3.wq"), overriding linear.code_type for those
  /// layers (a width plan: widths.hpp, WidthPlan::code_types()).
  std::vector<std::pair<std::string, CodeType>> code_types;

  /// The options a converted layer gets: `linear`, with its code type from code_types.
  LinearOptions linear_for(const std::string& name) const {
    LinearOptions o = linear;
    for (const auto& [layer, type] : code_types)
      if (layer == name) o.code_type = type;
    return o;
  }

  /// Whether the layer is converted. @throws qins::Error (invalid_argument) for a
  /// pattern that LayerPattern rejects.
  bool selects(int layer, LinearKind kind) const {
    if (!is_selected(layers, kind)) return false;
    if (pattern.empty()) return true;
    return LayerPattern(pattern).matches(layer_name(layer, kind));
  }
};

/// What conversion did to one layer and what the layer holds afterwards.
struct LayerReport {
  std::string name;  ///< "layers.<i>.<kind>"
  std::size_t rows = 0, cols = 0;
  bool converted = false;  ///< false: left in float32 (not selected)
  CodeType code_type = CodeType::float32;
  AlphaLayout layout;          ///< as stored (see note)
  std::string note;            ///< why the stored layout differs from the request, if it does
  std::size_t bytes = 0;       ///< bytes the layer holds (float32: 4 per weight)
  std::size_t fp32_bytes = 0;  ///< 4 * rows * cols
  double squared_error = 0;    ///< sum of (w - decoded w)^2
  double squared_norm = 0;     ///< sum of w^2
  double relative_rms_error() const {
    return squared_norm > 0 ? std::sqrt(squared_error / squared_norm) : 0.0;
  }
};

struct ConversionReport {
  std::vector<LayerReport> layers;

  std::size_t weight_bytes() const {
    std::size_t n = 0;
    for (const auto& l : layers) n += l.bytes;
    return n;
  }
  std::size_t fp32_bytes() const {
    std::size_t n = 0;
    for (const auto& l : layers) n += l.fp32_bytes;
    return n;
  }
  /// Relative RMS error over all converted layers together.
  double relative_rms_error() const {
    double e = 0, w = 0;
    for (const auto& l : layers)
      if (l.converted) e += l.squared_error, w += l.squared_norm;
    return w > 0 ? std::sqrt(e / w) : 0.0;
  }
};

/// A converted layer and what conversion did.
struct ConvertedLayer {
  QinsLinear layer;
  LayerReport report;
};

/// The layout a layer of `cols` columns gets for `options`: a per_group request whose
/// group size does not divide cols falls back to per row (with the note saying so).
inline AlphaLayout stored_layout(const LinearOptions& options, std::size_t cols,
                                 std::string* note = nullptr) {
  AlphaLayout layout = options.layout();
  if (layout.granularity == AlphaGranularity::per_group && layout.group_size != 0 &&
      cols % layout.group_size != 0) {
    if (note)
      *note = "group size " + std::to_string(layout.group_size) + " does not divide " +
              std::to_string(cols) + " columns: alpha per row";
    layout = AlphaLayout{AlphaGranularity::per_row, 0};
  }
  return layout;
}

/// Converts one row-major float matrix with `options` (its name set to `name`; rows spread
/// over `pool` if given). A
/// per_group request whose group size does not divide `cols` (e.g. w2 of a model with
/// hidden_dim 172) stores the layer per row instead and says so in the report's note.
/// @throws qins::Error as QinsLinear.
inline ConvertedLayer convert_layer(const std::string& name, const float* w, std::size_t rows,
                                    std::size_t cols, const LinearOptions& options,
                                    ThreadPool* pool = nullptr) {
  LayerReport r;
  r.name = name;
  r.rows = rows;
  r.cols = cols;
  r.fp32_bytes = rows * cols * sizeof(float);
  LinearOptions o = options;
  o.name = name;
  const AlphaLayout layout = stored_layout(options, cols, &r.note);
  o.granularity = layout.granularity;
  QinsLinear q(QinsTensor::quantize(w, rows, cols, o, nullptr, pool));
  // The error, summed per chunk of rows in a fixed order whatever the threads.
  constexpr std::size_t kRows = 64;
  const std::size_t chunks = (rows + kRows - 1) / kRows;
  std::vector<double> error(chunks), norm(chunks);
  auto chunk = [&](std::size_t k) {
    std::vector<float> row(cols);
    // Eight independent sums in double (one chain would wait on every add), in locals:
    // the threads' slots of error[] share cache lines.
    constexpr std::size_t kLanes = 8;
    double e[kLanes] = {}, n[kLanes] = {};
    for (std::size_t i = k * kRows; i < std::min(rows, (k + 1) * kRows); ++i) {
      q.decode_row(i, row.data());
      const float* x = w + i * cols;
      std::size_t c = 0;
      for (; c + kLanes <= cols; c += kLanes)
        for (std::size_t j = 0; j < kLanes; ++j) {
          const double xd = x[c + j], d = xd - double(row[c + j]);
          e[j] += d * d;
          n[j] += xd * xd;
        }
      for (; c < cols; ++c) {
        const double xd = x[c], d = xd - double(row[c]);
        e[0] += d * d;
        n[0] += xd * xd;
      }
    }
    error[k] = ((e[0] + e[1]) + (e[2] + e[3])) + ((e[4] + e[5]) + (e[6] + e[7]));
    norm[k] = ((n[0] + n[1]) + (n[2] + n[3])) + ((n[4] + n[5]) + (n[6] + n[7]));
  };
  if (pool)
    pool->parallel_for(chunks, chunk);
  else
    for (std::size_t k = 0; k < chunks; ++k) chunk(k);
  for (std::size_t k = 0; k < chunks; ++k) r.squared_error += error[k], r.squared_norm += norm[k];
  r.converted = true;
  r.code_type = q.code_type();
  r.layout = q.layout();
  r.bytes = q.memory_bytes();
  return {std::move(q), std::move(r)};
}

/// Replaces the selected linear layers of `model` by QinsLinear built from the model's
/// float32 weights with `options.linear` (see convert_layer), each installed as
/// linear_op_for() it, and reports every layer, converted or not. @throws qins::Error as
/// QinsLinear.
/// What a layer left in float32 reports: its own bytes and norm, no error.
inline LayerReport float_layer_report(const std::string& name, const float* w, std::size_t rows,
                                      std::size_t cols) {
  LayerReport r;
  r.name = name;
  r.rows = rows;
  r.cols = cols;
  r.fp32_bytes = r.bytes = rows * cols * sizeof(float);
  for (std::size_t i = 0; i < rows * cols; ++i) r.squared_norm += double(w[i]) * double(w[i]);
  return r;
}

inline ConversionReport convert(Model& model, const ConvertOptions& options = {}) {
  ConversionReport report;
  const int n_layers = model.config().n_layers;
  for (int layer = 0; layer < n_layers; ++layer) {
    for (LinearKind kind : all_linear_kinds) {
      const std::string name = layer_name(layer, kind);
      const auto [rows, cols] = model.shape(layer, kind);
      const float* w = model.dense_weights(layer, kind);
      if (!options.selects(layer, kind)) {
        report.layers.push_back(float_layer_report(name, w, rows, cols));
        continue;
      }
      ConvertedLayer c = convert_layer(name, w, rows, cols, options.linear_for(name));
      model.set_linear(layer, kind, linear_op_for(std::move(c.layer)));
      report.layers.push_back(std::move(c.report));
    }
  }
  return report;
}

/// A model built from `source` (Model::load) whose selected layers are converted as they
/// are read: each projection's float32 weights live only while it is converted, so the
/// model never holds more than one of them beyond what it keeps. Layers not selected stay
/// float32 (DenseLinear). The report goes to `report` if given.
/// @throws qins::Error as Model::load and convert_layer.
inline Model load_converted(const ModelSource& source, const ConvertOptions& options,
                            ConversionReport* report = nullptr) {
  ConversionReport local;
  ConversionReport& r = report ? *report : local;
  r.layers.clear();
  return Model::load(source, [&](int layer, LinearKind kind, std::vector<float>&& w) {
    const TensorInfo& t = tensor_info(tensor_of(kind));
    const std::size_t rows = static_cast<std::size_t>(extent(t.rows, source.config()));
    const std::size_t cols = static_cast<std::size_t>(extent(t.cols, source.config()));
    const std::string name = layer_name(layer, kind);
    if (!options.selects(layer, kind)) {
      r.layers.push_back(float_layer_report(name, w.data(), rows, cols));
      return std::shared_ptr<const LinearOp>(
          std::make_shared<DenseLinear>(std::move(w), rows, cols));
    }
    ConvertedLayer c = convert_layer(name, w.data(), rows, cols, options.linear_for(name));
    r.layers.push_back(std::move(c.report));
    return linear_op_for(std::move(c.layer));
  });
}

}  // namespace qins::llama2
