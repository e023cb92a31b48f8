// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Conversion of a Llama model's linear layers to QinsLinear, with a per-layer report.
#pragma once

#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "qins/linear.hpp"
#include "qins/llama2/model.hpp"

namespace qins::llama2 {

/// A QinsLinear in the model's linear-layer slot.
class QinsLinearOp : public LinearOp {
 public:
  explicit QinsLinearOp(QinsLinear layer) : layer_(std::move(layer)) {}
  std::size_t rows() const override { return layer_.rows(); }
  std::size_t cols() const override { return layer_.cols(); }
  void forward(const float* x, float* y) const override { layer_.forward(x, y); }
  const QinsLinear& layer() const noexcept { return layer_; }

 private:
  QinsLinear layer_;
};

/// Which linear layers to convert.
enum class LayerSelection {
  all_linear,      ///< wq, wk, wv, wo, w1, w2, w3 of every block
  prototype_safe,  ///< the prototype's choice: wv, wo, w1, w2, w3 (attention q/k stay float)
};

inline bool is_selected(LayerSelection selection, LinearKind kind) noexcept {
  return selection == LayerSelection::all_linear || (kind != LinearKind::wq && kind != LinearKind::wk);
}

struct ConvertOptions {
  /// Applied to every selected layer (its name is set per layer). The defaults: uint8
  /// codes, one calibrated alpha per row, quantize on.
  LinearOptions linear;
  LayerSelection layers = LayerSelection::all_linear;
};

/// What conversion did to one layer and what the layer holds afterwards.
struct LayerReport {
  std::string name;  ///< "layers.<i>.<kind>"
  std::size_t rows = 0, cols = 0;
  bool converted = false;     ///< false: left in float32 (not selected)
  CodeType code_type = CodeType::float32;
  AlphaLayout layout;         ///< as stored (see note)
  std::string note;           ///< why the stored layout differs from the request, if it does
  std::size_t bytes = 0;      ///< bytes the layer holds (float32: 4 per weight)
  std::size_t fp32_bytes = 0; ///< 4 * rows * cols
  double squared_error = 0;   ///< sum of (w - decoded w)^2
  double squared_norm = 0;    ///< sum of w^2
  double relative_rms_error() const { return squared_norm > 0 ? std::sqrt(squared_error / squared_norm) : 0.0; }
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

/// Converts one row-major float matrix with `options` (its name set to `name`). A
/// per_group request whose group size does not divide `cols` (e.g. w2 of a model with
/// hidden_dim 172) stores the layer per row instead and says so in the report's note.
/// @throws qins::Error as QinsLinear.
inline ConvertedLayer convert_layer(const std::string& name, const float* w, std::size_t rows, std::size_t cols,
                                    const LinearOptions& options) {
  LayerReport r;
  r.name = name;
  r.rows = rows;
  r.cols = cols;
  r.fp32_bytes = rows * cols * sizeof(float);
  LinearOptions o = options;
  o.name = name;
  if (o.granularity == AlphaGranularity::per_group && o.group_size != 0 && cols % o.group_size != 0) {
    r.note = "group size " + std::to_string(o.group_size) + " does not divide " + std::to_string(cols) +
             " columns: alpha per row";
    o.granularity = AlphaGranularity::per_row;
  }
  QinsLinear q(w, rows, cols, o);
  std::vector<float> row(cols);
  for (std::size_t i = 0; i < rows; ++i) {
    q.decode_row(i, row.data());
    for (std::size_t c = 0; c < cols; ++c) {
      const double x = w[i * cols + c], d = x - double(row[c]);
      r.squared_error += d * d;
      r.squared_norm += x * x;
    }
  }
  r.converted = true;
  r.code_type = q.code_type();
  r.layout = q.layout();
  r.bytes = q.memory_bytes();
  return {std::move(q), std::move(r)};
}

/// Replaces the selected linear layers of `model` by QinsLinear built from the model's
/// float32 weights with `options.linear` (see convert_layer), and reports every layer,
/// converted or not. @throws qins::Error as QinsLinear.
inline ConversionReport convert(Model& model, const ConvertOptions& options = {}) {
  ConversionReport report;
  const int n_layers = model.config().n_layers;
  for (int layer = 0; layer < n_layers; ++layer) {
    for (LinearKind kind : all_linear_kinds) {
      const std::string name = "layers." + std::to_string(layer) + "." + to_string(kind);
      const auto [rows, cols] = model.shape(layer, kind);
      const float* w = model.dense_weights(layer, kind);
      if (!is_selected(options.layers, kind)) {
        LayerReport r;
        r.name = name;
        r.rows = rows;
        r.cols = cols;
        r.fp32_bytes = r.bytes = rows * cols * sizeof(float);
        for (std::size_t i = 0; i < rows * cols; ++i) r.squared_norm += double(w[i]) * double(w[i]);
        report.layers.push_back(std::move(r));
        continue;
      }
      ConvertedLayer c = convert_layer(name, w, rows, cols, options.linear);
      model.set_linear(layer, kind, std::make_shared<QinsLinearOp>(std::move(c.layer)));
      report.layers.push_back(std::move(c.report));
    }
  }
  return report;
}

}  // namespace qins::llama2
