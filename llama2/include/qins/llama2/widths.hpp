// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Code widths per layer for a fidelity target: the narrowest of 8, 12 and 16 bits for
// every linear layer so that the whole model stays within a mean KL of float32, with the
// fewest bytes.
//
// How: each selected layer's sensitivity is measured on calibration sequences (the KL the
// model has with only that layer converted, at 8 and at 12 bits; 16-bit codes are taken
// as free, their KL is four orders below 12-bit codes'); assuming the KLs of layers add,
// a greedy choice then narrows, step by step, the layer that saves the most bytes per
// nat of KL added, while the sum stays within the budget. The mixed model is then
// measured as a whole; while it exceeds the budget the last narrowing steps are undone.
// The report keeps every number: per layer the bytes and the KL alone at each width, the
// prediction and the measured KL of the mixed model.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "convert.hpp"
#include "evaluate.hpp"

namespace qins::llama2 {

/// The widths plan_widths() chooses among, narrowest first.
inline constexpr std::array<CodeType, 3> kPlanWidths = {CodeType::uint8, CodeType::uint12,
                                                        CodeType::uint16};

/// One layer of a plan.
struct LayerWidth {
  std::string name;
  int layer = 0;
  LinearKind kind = LinearKind::wq;
  std::array<std::size_t, 3> bytes{};  ///< at each of kPlanWidths
  /// Mean KL of the model with only this layer converted, at 8 and 12 bits (16: 0, not
  /// measured).
  std::array<double, 3> kl_alone{};
  std::size_t choice = 2;  ///< index into kPlanWidths
  CodeType code_type() const noexcept { return kPlanWidths[choice]; }
};

/// What plan_widths() chose and measured.
struct WidthPlan {
  double max_kl = 0;
  std::vector<LayerWidth> layers;  ///< the selected layers, in model order
  double predicted_kl = 0;         ///< sum of the chosen widths' kl_alone
  DistributionMetrics mixed;       ///< the mixed model on the calibration sequences
  int undone = 0;                  ///< narrowing steps undone after measuring

  std::size_t bytes() const noexcept {
    std::size_t n = 0;
    for (const LayerWidth& l : layers) n += l.bytes[l.choice];
    return n;
  }
  /// The code type of a layer by name, for ConvertOptions::code_types.
  std::vector<std::pair<std::string, CodeType>> code_types() const {
    std::vector<std::pair<std::string, CodeType>> out;
    for (const LayerWidth& l : layers) out.emplace_back(l.name, l.code_type());
    return out;
  }
};

namespace detail {

// The float model with each planned layer at its chosen width (ops[i][b]: layer i at
// kPlanWidths[b]); the other layers as float_model has them.
inline Model with_widths(const Model& float_model, const std::vector<LayerWidth>& layers,
                         const std::vector<std::vector<std::shared_ptr<const LinearOp>>>& ops) {
  Model m = float_model;
  for (std::size_t i = 0; i < layers.size(); ++i)
    m.set_linear(layers[i].layer, layers[i].kind, ops[i][layers[i].choice]);
  return m;
}

}  // namespace detail

/// Chooses per layer the narrowest of 8, 12 and 16 bits so that the model stays within
/// `max_kl` nats of mean KL from float32 on `calibration` (sequences the float model
/// wrote, with its logits: make_reference), for the layers `options` selects, converted
/// with `options.linear` (its code_type is ignored). Costs two teacher-forced passes over
/// the calibration sequences per selected layer, plus one per measurement of the mix.
/// @throws qins::Error for a max_kl that is not finite and > 0, and as convert_layer and
/// compare_distributions.
inline WidthPlan plan_widths(const Model& float_model, const Reference& calibration,
                             const ConvertOptions& options, double max_kl) {
  if (!(max_kl > 0) || !(max_kl < std::numeric_limits<double>::infinity()))
    throw Error(ErrorKind::invalid_argument,
                "the KL budget must be finite and > 0, not " + std::to_string(max_kl));
  WidthPlan plan;
  plan.max_kl = max_kl;
  // Every selected layer at every width, converted once.
  std::vector<std::vector<std::shared_ptr<const LinearOp>>> ops;
  for (int layer = 0; layer < float_model.config().n_layers; ++layer)
    for (LinearKind kind : all_linear_kinds) {
      if (!options.selects(layer, kind)) continue;
      LayerWidth l;
      l.name = layer_name(layer, kind);
      l.layer = layer;
      l.kind = kind;
      const auto [rows, cols] = float_model.shape(layer, kind);
      const float* w = float_model.dense_weights(layer, kind);
      std::vector<std::shared_ptr<const LinearOp>> at;
      for (std::size_t b = 0; b < kPlanWidths.size(); ++b) {
        LinearOptions o = options.linear;
        o.code_type = kPlanWidths[b];
        ConvertedLayer c = convert_layer(l.name, w, rows, cols, o);
        l.bytes[b] = c.report.bytes;
        at.push_back(linear_op_for(std::move(c.layer)));
      }
      for (std::size_t b = 0; b + 1 < kPlanWidths.size(); ++b) {
        Model alone = float_model;
        alone.set_linear(layer, kind, at[b]);
        l.kl_alone[b] = compare_distributions(alone, calibration).mean_kld;
      }
      plan.layers.push_back(std::move(l));
      ops.push_back(std::move(at));
    }

  // Greedy narrowing: the move (layer, narrower width) with the most bytes saved per KL
  // added that fits the budget, until none fits. A move that adds no KL goes first.
  struct Move {
    std::size_t layer, from;
  };
  std::vector<Move> moves;
  double kl = 0;
  for (;;) {
    std::size_t best = plan.layers.size(), best_width = 0;
    double best_ratio = -1;
    for (std::size_t i = 0; i < plan.layers.size(); ++i) {
      const LayerWidth& l = plan.layers[i];
      for (std::size_t b = 0; b < l.choice; ++b) {
        const double added = l.kl_alone[b] - l.kl_alone[l.choice];
        if (kl + added > max_kl) continue;
        const double saved = double(l.bytes[l.choice] - l.bytes[b]);
        const double ratio = added > 0 ? saved / added : std::numeric_limits<double>::max();
        if (ratio > best_ratio) best_ratio = ratio, best = i, best_width = b;
      }
    }
    if (best == plan.layers.size()) break;
    LayerWidth& l = plan.layers[best];
    kl += l.kl_alone[best_width] - l.kl_alone[l.choice];
    moves.push_back({best, l.choice});
    l.choice = best_width;
  }

  // Measure the mix; undo the latest moves while it exceeds the budget.
  for (;;) {
    plan.mixed =
        compare_distributions(detail::with_widths(float_model, plan.layers, ops), calibration);
    if (plan.mixed.mean_kld <= max_kl || moves.empty()) break;
    plan.layers[moves.back().layer].choice = moves.back().from;
    moves.pop_back();
    ++plan.undone;
  }
  plan.predicted_kl = 0;
  for (const LayerWidth& l : plan.layers) plan.predicted_kl += l.kl_alone[l.choice];
  return plan;
}

}  // namespace qins::llama2
