// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The validation report: every configuration of QINS (and the formats it is compared with)
// applied to every linear layer of a llama2.c model, measured against float32 in memory,
// weight error, next-token distributions and the text the model writes.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <qins/linear.hpp>
#include <qins/llama2/baselines.hpp>
#include <qins/llama2/convert.hpp>
#include <qins/llama2/evaluate.hpp>
#include <qins/llama2/tokenizer.hpp>
#include <qins/llama2/widths.hpp>
#include <qins/thread_pool.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "inputs.hpp"

namespace qins_tools {

namespace llama2 = qins::llama2;

// ---- Configurations ----

/// One way of storing the linear layers: a QINS configuration or a baseline format.
struct Scheme {
  std::string name;   ///< "uint8, alpha per row", "Q8_0, llama.cpp (not QINS)"
  std::string label;  ///< a short column heading: "QINS row", "Q8_0"
  int bits = 32;      ///< bits of one stored code, before scales
  std::string alpha;  ///< how the scale is chosen: "1", "per row", "absmax per 32", ...
  bool qins = true;
  qins::LinearOptions options;  ///< QINS
  /// > 0: QINS with a width per layer (8, 12 or 16 bits: llama2::plan_widths) for this
  /// mean KL, planned on calibration sequences other than the reference's; bits is 0.
  double max_kl = 0;
  llama2::BaselineFormat baseline = llama2::BaselineFormat::float16;  ///< not QINS
};

inline std::vector<Scheme> default_schemes() {
  using qins::AlphaGranularity;
  using qins::CodeType;
  auto q = [](std::string name, std::string label, CodeType code, bool quantize, AlphaGranularity g,
              std::string alpha) {
    Scheme s;
    s.name = std::move(name);
    s.label = std::move(label);
    s.bits = quantize ? int(qins::stored_type_info(code).bits) : 32;
    s.alpha = std::move(alpha);
    s.options.code_type = code;
    s.options.quantize = quantize;
    s.options.granularity = g;
    s.options.calibrate = g != AlphaGranularity::fixed;
    s.options.alpha = 1.0;
    s.options.group_size = 32;
    return s;
  };
  auto b = [](std::string name, std::string label, llama2::BaselineFormat f, int bits,
              std::string alpha) {
    Scheme s;
    s.name = std::move(name);
    s.label = std::move(label);
    s.bits = bits;
    s.alpha = std::move(alpha);
    s.qins = false;
    s.baseline = f;
    return s;
  };
  return {q("float codec, no quantization", "QINS float", CodeType::uint8, false,
            AlphaGranularity::fixed, "1"),
          q("uint8, alpha = 1", "QINS a=1", CodeType::uint8, true, AlphaGranularity::fixed, "1"),
          q("uint8, alpha per tensor", "QINS tensor", CodeType::uint8, true,
            AlphaGranularity::per_tensor, "per tensor"),
          q("uint8, alpha per row", "QINS row", CodeType::uint8, true, AlphaGranularity::per_row,
            "per row"),
          q("uint8, alpha per group of 32", "QINS g32", CodeType::uint8, true,
            AlphaGranularity::per_group, "per group of 32"),
          q("uint12, alpha per row", "QINS u12", CodeType::uint12, true, AlphaGranularity::per_row,
            "per row"),
          q("uint12, alpha per group of 32", "QINS u12 g32", CodeType::uint12, true,
            AlphaGranularity::per_group, "per group of 32"),
          q("uint16, alpha per row", "QINS u16", CodeType::uint16, true, AlphaGranularity::per_row,
            "per row"),
          b("float16 (not QINS)", "float16", llama2::BaselineFormat::float16, 16, "none"),
          b("bfloat16 (not QINS)", "bfloat16", llama2::BaselineFormat::bfloat16, 16, "none"),
          b("int8 absmax per row (not QINS)", "int8 row", llama2::BaselineFormat::int8_per_row, 8,
            "absmax per row"),
          b("Q8_0, llama.cpp (not QINS)", "Q8_0", llama2::BaselineFormat::q8_0, 8,
            "absmax per 32, float16")};
}

/// QINS with widths per layer for each KL budget, alpha per row.
inline std::vector<Scheme> mixed_schemes(const std::vector<double>& budgets) {
  std::vector<Scheme> out;
  for (double kl : budgets) {
    Scheme s;
    char budget[32];
    std::snprintf(budget, sizeof budget, "%.0e", kl);
    s.name = std::string("mixed widths, KL <= ") + budget;
    s.label = std::string("QINS mix ") + budget;
    s.bits = 0;
    s.alpha = "per row";
    s.options.granularity = qins::AlphaGranularity::per_row;
    s.max_kl = kl;
    out.push_back(std::move(s));
  }
  return out;
}

/// The calibration sequences of the mixed schemes: three stories the float model samples
/// (T = 1, seeds 101-103, at most 128 tokens), apart from the reference's sequences.
inline llama2::Reference calibration_reference(const llama2::Model& float_model) {
  const int n = std::min(128, float_model.config().seq_len - 1);
  std::vector<llama2::Sequence> sequences;
  for (std::uint64_t seed = 101; seed <= 103; ++seed)
    sequences.push_back(llama2::write_sequence(float_model,
                                               "sampled, T = 1, seed " + std::to_string(seed), {1},
                                               n, llama2::Sampler(1.0f, 1.0f, seed)));
  return llama2::make_reference(float_model, std::move(sequences));
}

/// A layer in a scheme's format, with what it cost and how far it is from the weights.
struct ConvertedLayer {
  std::shared_ptr<const llama2::LinearOp> op;
  std::size_t bytes = 0;
  double squared_error = 0, squared_norm = 0;
  double codec_squared_error = 0;  ///< QINS: the same alphas without rounding to codes
  std::string note;
};

inline ConvertedLayer convert_layer(const Scheme& s, const std::string& name, const float* w,
                                    std::size_t rows, std::size_t cols) {
  ConvertedLayer out;
  if (s.qins) {
    auto c = llama2::convert_layer(name, w, rows, cols, s.options);
    qins::LinearOptions unquantized = s.options;
    unquantized.quantize = false;
    out.codec_squared_error =
        llama2::convert_layer(name, w, rows, cols, unquantized).report.squared_error;
    out.bytes = c.report.bytes;
    out.squared_error = c.report.squared_error;
    out.squared_norm = c.report.squared_norm;
    out.note = c.report.note;
    out.op = llama2::linear_op_for(std::move(c.layer));
    return out;
  }
  auto op = std::make_shared<llama2::BaselineLinear>(s.baseline, w, rows, cols, name);
  std::vector<float> row(cols);
  for (std::size_t r = 0; r < rows; ++r) {
    op->decode_row(r, row.data());
    for (std::size_t c = 0; c < cols; ++c) {
      const double x = w[r * cols + c], d = x - double(row[c]);
      out.squared_error += d * d;
      out.squared_norm += x * x;
    }
  }
  out.bytes = op->bytes();
  out.note = op->note();
  out.op = std::move(op);
  return out;
}

// ---- Inputs ----

struct Options {
  std::vector<std::string> models;
  std::string tokenizer;       ///< empty: the one beside each model
  std::string prompt;          ///< empty: greedy text from BOS
  int tokens = 200;            ///< new tokens per reference sequence
  int samples = 3;             ///< sequences sampled at temperature 1
  std::uint64_t seed = 1;      ///< seed of the first sample (the next ones: seed + 1, ...)
  std::vector<double> max_kl;  ///< one mixed-width configuration per budget (mixed_schemes)
  unsigned threads = 2;
};

/// The built-in prompts whose greedy continuations join the reference (when a tokenizer
/// can encode them).
inline const std::vector<std::string>& builtin_prompts() {
  static const std::vector<std::string> prompts = {"Lily and Ben", "The little dog"};
  return prompts;
}

/// A tokenizer in llama2.c's layout for a model, looked for in `folder` (the model's) as
/// tokenizer.bin, tok<V>.bin, tokenizer<V>.bin (V = the model's vocabulary size); the first
/// that exists and has V tokens. Empty when there is none.
inline std::string find_tokenizer(const std::string& folder, int vocab_size) {
  namespace fs = std::filesystem;
  const fs::path dir = folder;
  const std::string v = std::to_string(vocab_size);
  for (const std::string& name :
       {std::string("tokenizer.bin"), "tok" + v + ".bin", "tokenizer" + v + ".bin"}) {
    const fs::path p = dir / name;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) continue;
    try {
      const llama2::Tokenizer t = llama2::read_tokenizer(p.string());
      if (t.size() == vocab_size) return p.string();
    } catch (const qins::Error&) {
      // not a tokenizer of this model: keep looking
    }
  }
  return {};
}

// ---- Results ----

struct SchemeResult {
  const Scheme* scheme = nullptr;
  std::size_t weights = 0, weight_bytes = 0, fp32_bytes = 0;
  double rel_rmse = 0, rel_rmse_no_quant = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::string> notes;
  llama2::DistributionMetrics distributions;
  llama2::GreedyComparison greedy;

  double compression() const {
    return weight_bytes ? double(fp32_bytes) / double(weight_bytes) : 0;
  }
  double bits_per_weight() const {
    return weights ? 8.0 * double(weight_bytes) / double(weights) : 0;
  }
  llama2::Fidelity fidelity() const { return llama2::fidelity(distributions.mean_kld); }
};

struct ModelReport {
  std::string path, name, tokenizer_path;
  llama2::Config config;
  std::size_t linear_weights = 0;
  std::string prompt;  ///< the text of the greedy comparison's prompt
  llama2::Reference reference;
  std::optional<llama2::Tokenizer> tokenizer;
  std::vector<SchemeResult> results;
  std::vector<std::string> notes;  ///< about the run itself (e.g. a capped --tokens)
  double seconds = 0;

  /// The greedy continuation every scheme is compared with, token by token.
  const llama2::Sequence& greedy_reference() const { return reference.sequences.front(); }

  /// Text of `tokens` continuing the prompt (token ids when there is no tokenizer).
  std::string text(const std::vector<int>& tokens) const {
    if (!tokenizer) {
      std::string s;
      for (int t : tokens) s += (s.empty() ? "" : " ") + std::to_string(t);
      return s;
    }
    std::vector<int> all(greedy_reference().prompt.begin() + 1, greedy_reference().prompt.end());
    all.insert(all.end(), tokens.begin(), tokens.end());
    return tokenizer->decode(all, greedy_reference().prompt.front());
  }
};

/// `model` with every projection as a float32 DenseLinear (a .qins model's layers decoded:
/// they are then the reference the configurations are measured against).
inline llama2::Model dense_model(llama2::Model model) {
  for (int l = 0; l < model.config().n_layers; ++l)
    for (auto kind : llama2::all_linear_kinds) {
      const llama2::LinearOp& op = model.linear(l, kind);
      if (dynamic_cast<const llama2::DenseLinear*>(&op)) continue;
      const auto [rows, cols] = model.shape(l, kind);
      std::vector<float> w(rows * cols);
      const qins::QinsTensor* t = nullptr;
      if (const auto* q = dynamic_cast<const llama2::QinsLinearOp*>(&op)) t = &q->layer().tensor();
      if (const auto* p = dynamic_cast<const llama2::detail::PlainLinearOp*>(&op)) t = &p->tensor();
      if (const auto* d = dynamic_cast<const llama2::DecodedLinear*>(&op)) {
        std::copy(d->weights(), d->weights() + w.size(), w.begin());
      } else if (t) {
        for (std::size_t r = 0; r < rows; ++r) t->decode_row(r, w.data() + r * cols);  // exact
      } else {
        throw qins::Error(qins::ErrorKind::invalid_argument,
                          "cannot read the weights of a " + op.storage() + " layer",
                          llama2::layer_name(l, kind));
      }
      model.set_linear(l, kind, std::make_shared<llama2::DenseLinear>(std::move(w), rows, cols));
    }
  return model;
}

/// Converts every linear layer of the model (any input of inputs.hpp but a .qins file of
/// layers) with every scheme (spread over `pool`) and measures each against float32. @throws
/// qins::Error for a bad model or tokenizer.
inline ModelReport validate_model(const std::string& path, const Options& options,
                                  const std::vector<Scheme>& schemes, qins::ThreadPool& pool) {
  const auto start = std::chrono::steady_clock::now();
  ModelReport report;
  report.path = path;
  report.name = std::filesystem::path(path).filename().string();
  const Input input = identify(path);
  const llama2::Model base = dense_model(open_model(input));
  report.config = base.config();
  if (input.kind == InputKind::qins_model)
    report.notes.push_back(
        "a converted model: float32 here means its stored weights decoded, not the checkpoint "
        "it came from; validate that checkpoint to measure the conversion itself");
  const llama2::Config& cfg = report.config;

  report.tokenizer_path = options.tokenizer.empty()
                              ? find_tokenizer(model_folder(input), cfg.vocab_size)
                              : options.tokenizer;
  if (!report.tokenizer_path.empty()) {
    report.tokenizer = llama2::read_tokenizer(report.tokenizer_path);
    report.tokenizer->check_vocabulary(cfg.vocab_size, path);
  } else if (!options.prompt.empty()) {
    throw qins::Error(qins::ErrorKind::invalid_argument,
                      "--prompt needs a tokenizer for '" + path +
                          "': none found beside it (tokenizer.bin, tok" +
                          std::to_string(cfg.vocab_size) + ".bin); name one with --tokenizer");
  }

  // The reference: greedy from the prompt (or BOS), greedy from the built-in prompts,
  // samples at temperature 1. Each fits the context: a longer --tokens is capped, with a note.
  auto encode = [&](const std::string& text) {
    return report.tokenizer ? report.tokenizer->encode(text, true, false) : std::vector<int>{1};
  };
  auto budget = [&](const std::vector<int>& prompt) {
    const int room = cfg.seq_len - int(prompt.size()) + 1;
    if (room < 1)
      throw qins::Error(qins::ErrorKind::invalid_argument,
                        "the prompt has " + std::to_string(prompt.size()) + " tokens; '" + path +
                            "' has a context of " + std::to_string(cfg.seq_len));
    if (options.tokens > room) {
      const std::string note = "--tokens " + std::to_string(options.tokens) + " capped at " +
                               std::to_string(room) + " by the context of " +
                               std::to_string(cfg.seq_len) + " positions";
      if (std::find(report.notes.begin(), report.notes.end(), note) == report.notes.end())
        report.notes.push_back(note);
    }
    return std::min(options.tokens, room);
  };
  report.prompt = options.prompt;
  std::vector<llama2::Sequence> sequences;
  const std::vector<int> prompt = encode(options.prompt);
  sequences.push_back(llama2::write_sequence(
      base, options.prompt.empty() ? "greedy from BOS" : "greedy after the prompt", prompt,
      budget(prompt), llama2::Sampler()));
  if (report.tokenizer)
    for (const std::string& p : builtin_prompts()) {
      if (p == options.prompt) continue;
      const std::vector<int> ids = encode(p);
      sequences.push_back(llama2::write_sequence(base, "greedy after \"" + p + "\"", ids,
                                                 budget(ids), llama2::Sampler()));
    }
  for (int i = 0; i < options.samples; ++i) {
    const std::uint64_t seed = options.seed + std::uint64_t(i);
    sequences.push_back(llama2::write_sequence(base, "sampled, T = 1, seed " + std::to_string(seed),
                                               {1}, budget({1}),
                                               llama2::Sampler(1.0f, 1.0f, seed)));
  }
  report.reference = llama2::make_reference(base, std::move(sequences));

  struct Slot {
    std::string name;
    int layer;
    llama2::LinearKind kind;
  };
  std::vector<Slot> slots;
  for (int l = 0; l < cfg.n_layers; ++l)
    for (auto kind : llama2::all_linear_kinds) {
      slots.push_back({llama2::layer_name(l, kind), l, kind});
      const auto shape = base.shape(l, kind);
      report.linear_weights += shape.first * shape.second;
    }

  const bool any_mixed =
      std::any_of(schemes.begin(), schemes.end(), [](const Scheme& s) { return s.max_kl > 0; });
  const llama2::Reference calibration =
      any_mixed ? calibration_reference(base) : llama2::Reference{};

  report.results.resize(schemes.size());
  pool.parallel_for(schemes.size(), [&](std::size_t i) {
    const Scheme& s = schemes[i];
    SchemeResult& r = report.results[i];
    r.scheme = &s;
    llama2::ConvertOptions widths;  // the code type of each layer of a mixed scheme
    if (s.max_kl > 0) {
      widths.linear = s.options;
      const llama2::WidthPlan plan = llama2::plan_widths(base, calibration, widths, s.max_kl);
      widths.code_types = plan.code_types();
      int count[3] = {};
      for (const auto& l : plan.layers) ++count[l.choice];
      char note[160];
      std::snprintf(note, sizeof note,
                    "%d layers at 8 bits, %d at 12, %d at 16; KL %.1e on the calibration "
                    "sequences (predicted %.1e)",
                    count[0], count[1], count[2], plan.mixed.mean_kld, plan.predicted_kl);
      r.notes.push_back(note);
    }
    llama2::Model converted = base;  // shares the tensors; each slot gets its own op below
    double error = 0, codec_error = 0, norm = 0;
    for (const Slot& slot : slots) {
      const auto [rows, cols] = base.shape(slot.layer, slot.kind);
      Scheme layer_scheme = s;
      if (s.max_kl > 0) layer_scheme.options = widths.linear_for(slot.name);
      ConvertedLayer c = convert_layer(layer_scheme, slot.name,
                                       base.dense_weights(slot.layer, slot.kind), rows, cols);
      r.weights += rows * cols;
      r.fp32_bytes += rows * cols * sizeof(float);
      r.weight_bytes += c.bytes;
      error += c.squared_error;
      codec_error += c.codec_squared_error;
      norm += c.squared_norm;
      if (!c.note.empty()) {
        // One note per kind of layer ("w2 layers: ..."), not one per block.
        const std::string note = std::string(llama2::to_string(slot.kind)) + " layers: " + c.note;
        if (std::find(r.notes.begin(), r.notes.end(), note) == r.notes.end())
          r.notes.push_back(note);
      }
      converted.set_linear(slot.layer, slot.kind, std::move(c.op));
    }
    r.rel_rmse = norm > 0 ? std::sqrt(error / norm) : 0;
    if (s.qins) r.rel_rmse_no_quant = norm > 0 ? std::sqrt(codec_error / norm) : 0;
    r.distributions = llama2::compare_distributions(converted, report.reference);
    r.greedy = llama2::compare_greedy(converted, report.greedy_reference());
  });
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

// ---- Where QINS's companding pays off: weight error on synthetic layers ----

struct SyntheticRow {
  std::string distribution;
  std::vector<std::pair<const Scheme*, double>> errors;  ///< relative RMS error per scheme
};

/// Relative RMS weight error of the 8-bit schemes on 512 x 512 layers drawn from a Gaussian
/// and from a Student-t with 3 degrees of freedom (heavy tails, like large models' outliers).
inline std::vector<SyntheticRow> synthetic_comparison(const std::vector<Scheme>& schemes) {
  std::vector<SyntheticRow> rows;
  constexpr std::size_t n = 512;
  for (int heavy = 0; heavy < 2; ++heavy) {
    std::mt19937 rng(2026);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::student_t_distribution<float> student(3.0f);
    std::vector<float> w(n * n);
    for (float& v : w) v = heavy ? 0.01f * student(rng) : normal(rng);
    SyntheticRow row;
    row.distribution = heavy ? "Student-t, 3 degrees of freedom" : "Gaussian";
    for (const Scheme& s : schemes) {
      if (s.bits != 8 || (s.qins && s.options.granularity == qins::AlphaGranularity::fixed))
        continue;
      const ConvertedLayer c = convert_layer(s, "synthetic", w.data(), n, n);
      row.errors.emplace_back(&s, std::sqrt(c.squared_error / c.squared_norm));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace qins_tools
