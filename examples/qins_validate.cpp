// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// qins_validate: is QINS good enough for this model? Converts every linear layer of a
// llama2.c checkpoint with several QINS configurations (and a linear int8 baseline),
// then reports memory, weight error with and without quantization, and how far greedy
// generation and next-token distributions move from the float32 model.
//
//   qins_validate [MODEL] [--tokens N] [--json] [--plot DIR]
//
// MODEL defaults to $QINS_MODEL, then to the project's test model. Without a readable
// model it reports the weight-level part on built-in synthetic layers and exits 0.
#include <qins/llama2/checkpoint.hpp>
#include <qins/llama2/convert.hpp>
#include <qins/llama2/evaluate.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#ifndef QINS_DEFAULT_MODEL
#define QINS_DEFAULT_MODEL "../shared/models/stories260K.bin"
#endif

namespace {

using qins::AlphaGranularity;
using qins::CodeType;

// ---- The linear int8 baseline (not QINS): absmax per row, round to nearest ----

class AbsmaxInt8 : public qins::llama2::LinearOp {
 public:
  AbsmaxInt8(const float* w, std::size_t rows, std::size_t cols)
      : rows_(rows), cols_(cols), codes_(rows * cols), scales_(rows) {
    for (std::size_t r = 0; r < rows; ++r) {
      float m = 0;
      for (std::size_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(w[r * cols + c]));
      scales_[r] = m > 0 ? m / 127.0f : 1.0f;
      for (std::size_t c = 0; c < cols; ++c)
        codes_[r * cols + c] = static_cast<std::int8_t>(std::clamp(std::nearbyint(w[r * cols + c] / scales_[r]), -127.0f, 127.0f));
    }
  }
  std::size_t rows() const override { return rows_; }
  std::size_t cols() const override { return cols_; }
  void forward(const float* x, float* y) const override {
    for (std::size_t r = 0; r < rows_; ++r) {
      float acc = 0;
      for (std::size_t c = 0; c < cols_; ++c) acc += float(codes_[r * cols_ + c]) * x[c];
      y[r] = acc * scales_[r];
    }
  }
  float decoded(std::size_t r, std::size_t c) const { return float(codes_[r * cols_ + c]) * scales_[r]; }
  std::size_t bytes() const { return codes_.size() + scales_.size() * sizeof(float); }

 private:
  std::size_t rows_, cols_;
  std::vector<std::int8_t> codes_;
  std::vector<float> scales_;
};

// ---- Configurations ----

struct Config {
  std::string name;
  int bits;           // bits per stored weight, before scales
  std::string alpha;  // how the scale is chosen
  bool qins;          // false: the int8 baseline
  qins::LinearOptions options;
};

std::vector<Config> configurations() {
  auto qins_config = [](std::string name, CodeType code, bool quantize, AlphaGranularity g, bool calibrate,
                        std::string alpha) {
    Config c{std::move(name), quantize ? int(8 * qins::bytes_per_weight(code)) : 32, std::move(alpha), true, {}};
    c.options.code_type = code;
    c.options.quantize = quantize;
    c.options.granularity = g;
    c.options.calibrate = calibrate;
    c.options.alpha = 1.0;
    c.options.group_size = 32;
    return c;
  };
  return {qins_config("float codec, no quantization", CodeType::uint8, false, AlphaGranularity::fixed, false, "1"),
          qins_config("uint8, alpha = 1", CodeType::uint8, true, AlphaGranularity::fixed, false, "1"),
          qins_config("uint8, alpha per tensor", CodeType::uint8, true, AlphaGranularity::per_tensor, true, "per tensor"),
          qins_config("uint8, alpha per row", CodeType::uint8, true, AlphaGranularity::per_row, true, "per row"),
          qins_config("uint8, alpha per group of 32", CodeType::uint8, true, AlphaGranularity::per_group, true,
                      "per group of 32"),
          qins_config("uint16, alpha per row", CodeType::uint16, true, AlphaGranularity::per_row, true, "per row"),
          Config{"int8 absmax per row (not QINS)", 8, "absmax per row", false, {}}};
}

struct WeightLayer {
  std::string name;
  std::size_t rows, cols;
  const float* data;
};

struct Result {
  const Config* config;
  std::size_t weight_bytes = 0, fp32_bytes = 0, weights = 0;
  double rel_rmse = 0, rel_rmse_no_quant = 0;
  bool has_tokens = false;
  qins::llama2::GenerationComparison tokens;
  std::vector<std::string> notes;

  double compression() const { return weight_bytes ? double(fp32_bytes) / double(weight_bytes) : 0; }
  double bits_per_weight() const { return weights ? 8.0 * double(weight_bytes) / double(weights) : 0; }
  std::string verdict() const {
    if (!has_tokens) return "weights only";
    if (tokens.lossless()) return "lossless";
    if (tokens.acceptable()) return "acceptable (>= 95% tokens)";
    return "breaks generation";
  }
};

// Weight-level measurement of one configuration over a set of layers; `install` receives
// each converted layer (to put it into a model).
Result measure_weights(const Config& c, const std::vector<WeightLayer>& layers,
                       const std::function<void(std::size_t, std::shared_ptr<const qins::llama2::LinearOp>)>& install) {
  Result r;
  r.config = &c;
  double error = 0, codec_error = 0, norm = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const WeightLayer& l = layers[i];
    const std::size_t n = l.rows * l.cols;
    r.weights += n;
    r.fp32_bytes += n * sizeof(float);
    if (!c.qins) {
      auto op = std::make_shared<AbsmaxInt8>(l.data, l.rows, l.cols);
      for (std::size_t k = 0; k < n; ++k) {
        const double d = double(l.data[k]) - double(op->decoded(k / l.cols, k % l.cols));
        error += d * d;
        norm += double(l.data[k]) * double(l.data[k]);
      }
      r.weight_bytes += op->bytes();  // a linear scale loses nothing without rounding
      if (install) install(i, op);
      continue;
    }
    auto converted = qins::llama2::convert_layer(l.name, l.data, l.rows, l.cols, c.options);
    qins::LinearOptions unquantized = c.options;
    unquantized.quantize = false;
    codec_error += qins::llama2::convert_layer(l.name, l.data, l.rows, l.cols, unquantized).report.squared_error;
    error += converted.report.squared_error;
    norm += converted.report.squared_norm;
    r.weight_bytes += converted.report.bytes;
    if (!converted.report.note.empty()) {
      // One note per kind of layer ("layers.3.w2" -> "w2 layers"), not one per block.
      const std::string note = l.name.substr(l.name.find_last_of('.') + 1) + " layers: " + converted.report.note;
      if (std::find(r.notes.begin(), r.notes.end(), note) == r.notes.end()) r.notes.push_back(note);
    }
    if (install) install(i, std::make_shared<qins::llama2::QinsLinearOp>(std::move(converted.layer)));
  }
  r.rel_rmse = norm > 0 ? std::sqrt(error / norm) : 0;
  r.rel_rmse_no_quant = norm > 0 ? std::sqrt(codec_error / norm) : 0;
  return r;
}

// ---- Synthetic layers for runs without a checkpoint ----

struct SyntheticLayers {
  std::vector<std::vector<float>> storage;
  std::vector<WeightLayer> layers;
};

SyntheticLayers synthetic_layers() {
  SyntheticLayers s;
  std::mt19937 rng(2026);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::student_t_distribution<float> student(3.0f);
  struct Spec {
    const char* name;
    std::size_t rows, cols;
    bool heavy_tailed;
  };
  for (const Spec& spec : {Spec{"attn.wq (gaussian)", 512, 512, false}, Spec{"attn.wo (student-t 3)", 512, 512, true},
                           Spec{"mlp.w1 (gaussian)", 1376, 512, false}, Spec{"mlp.w2 (student-t 3)", 512, 1376, true}}) {
    std::vector<float> w(spec.rows * spec.cols);
    for (float& v : w) v = spec.heavy_tailed ? 0.01f * student(rng) : normal(rng);
    s.storage.push_back(std::move(w));
    s.layers.push_back({spec.name, spec.rows, spec.cols, s.storage.back().data()});
  }
  return s;
}

// ---- Output ----

std::string fixed_percent(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4f%%", 100 * v);
  return buf;
}

std::string scientific(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

void print_table(const std::vector<Result>& results, std::size_t n_tokens, bool with_tokens) {
  std::printf("%-32s %10s %10s %6s %11s %11s", "configuration", "bytes", "fp32 bytes", "ratio", "error",
              "error no-q");  // relative RMS errors, as fractions
  if (with_tokens)
    std::printf(" %9s %6s %6s %7s %8s", ("tok/" + std::to_string(n_tokens)).c_str(), "tok/15", "1st!=", "top-1",
                "KL nats");
  std::printf("\n");
  for (const Result& r : results) {
    const std::string error = r.rel_rmse < 1e-6 ? scientific(r.rel_rmse) : fixed_percent(r.rel_rmse);
    std::printf("%-32s %10zu %10zu %5.2fx %11s %11s", r.config->name.c_str(), r.weight_bytes, r.fp32_bytes,
                r.compression(), error.c_str(), scientific(r.rel_rmse_no_quant).c_str());
    if (with_tokens)
      std::printf(" %9zu %6zu %6s %7.3f %8.4f", r.tokens.token_match, r.tokens.token_match_15,
                  r.tokens.first_divergence < 0 ? "-" : std::to_string(r.tokens.first_divergence).c_str(),
                  r.tokens.top1_agreement, r.tokens.mean_kld);
    std::printf("\n");
  }
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
      continue;
    }
    out += ch;
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void print_json(const std::string& model, std::size_t n_tokens, const std::vector<int>& reference,
                const std::vector<Result>& results, bool with_tokens) {
  std::ostringstream o;
  o << "{\"model\":" << (model.empty() ? "null" : json_string(model)) << ",\"tokens\":" << (with_tokens ? n_tokens : 0)
    << ",\"reference\":[";
  for (std::size_t i = 0; i < reference.size(); ++i) o << (i ? "," : "") << reference[i];
  o << "],\"configs\":[";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    o << (i ? "," : "") << "{\"name\":" << json_string(r.config->name) << ",\"bits\":" << r.config->bits
      << ",\"alpha\":" << json_string(r.config->alpha) << ",\"weight_bytes\":" << r.weight_bytes
      << ",\"fp32_bytes\":" << r.fp32_bytes << ",\"compression\":" << json_number(r.compression())
      << ",\"bits_per_weight\":" << json_number(r.bits_per_weight()) << ",\"rel_rmse\":" << json_number(r.rel_rmse)
      << ",\"rel_rmse_no_quant\":" << json_number(r.rel_rmse_no_quant);
    if (with_tokens)
      o << ",\"token_match\":" << r.tokens.token_match << ",\"token_match_15\":" << r.tokens.token_match_15
        << ",\"first_divergence\":" << (r.tokens.first_divergence < 0 ? std::string("null") : std::to_string(r.tokens.first_divergence))
        << ",\"top1_agreement\":" << json_number(r.tokens.top1_agreement)
        << ",\"mean_kld\":" << json_number(r.tokens.mean_kld);
    else
      o << ",\"token_match\":null,\"token_match_15\":null,\"first_divergence\":null,\"top1_agreement\":null,\"mean_kld\":null";
    o << ",\"verdict\":" << json_string(r.verdict()) << "}";
  }
  o << "]}";
  std::printf("%s\n", o.str().c_str());
}

// Error against bits per weight, log-scaled error axis, one labelled point per config.
void write_plot(const std::string& dir, const std::vector<Result>& results, const std::string& title) {
  const std::string path = dir + "/qins_error_vs_bits.svg";
  std::ofstream svg(path);
  if (!svg) throw qins::Error(qins::ErrorKind::io_failure, "cannot write '" + path + "'");
  const double W = 760, H = 460, left = 80, right = 250, top = 50, bottom = 60;
  const double x0 = 6, x1 = 34;
  double lo = 1e300, hi = 0;
  for (const Result& r : results)
    for (double e : {r.rel_rmse}) lo = std::min(lo, std::max(e, 1e-9)), hi = std::max(hi, e);
  const double y0 = std::floor(std::log10(lo)), y1 = std::ceil(std::log10(hi));
  auto px = [&](double bits) { return left + (bits - x0) / (x1 - x0) * (W - left - right); };
  auto py = [&](double err) {
    return top + (y1 - std::log10(std::max(err, 1e-9))) / std::max(y1 - y0, 1.0) * (H - top - bottom);
  };
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
  svg << "<text x='" << W / 2 << "' y='24' text-anchor='middle' font-size='15'>" << title << "</text>\n";
  for (double d = y0; d <= y1; d += 1) {
    svg << "<line x1='" << left << "' x2='" << W - right << "' y1='" << py(std::pow(10, d)) << "' y2='"
        << py(std::pow(10, d)) << "' stroke='#ddd'/>\n";
    svg << "<text x='" << left - 8 << "' y='" << py(std::pow(10, d)) + 4 << "' text-anchor='end'>1e" << int(d)
        << "</text>\n";
  }
  for (int b = 8; b <= 32; b += 8) {
    svg << "<line x1='" << px(b) << "' x2='" << px(b) << "' y1='" << top << "' y2='" << H - bottom
        << "' stroke='#ddd'/>\n<text x='" << px(b) << "' y='" << H - bottom + 18 << "' text-anchor='middle'>" << b
        << "</text>\n";
  }
  svg << "<text x='" << (left + W - right) / 2 << "' y='" << H - 15
      << "' text-anchor='middle'>bits per weight (codes + scales)</text>\n";
  svg << "<text transform='translate(20," << (top + H - bottom) / 2
      << ") rotate(-90)' text-anchor='middle'>relative RMS error of the weights</text>\n";
  const char* colours[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#666666"};
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    const char* colour = colours[i % 7];
    svg << "<circle cx='" << px(r.bits_per_weight()) << "' cy='" << py(r.rel_rmse) << "' r='6' fill='" << colour
        << "'/>\n";
    const double ly = top + 18 * double(i);
    svg << "<circle cx='" << W - right + 20 << "' cy='" << ly << "' r='5' fill='" << colour << "'/>\n<text x='"
        << W - right + 30 << "' y='" << ly + 4 << "'>" << r.config->name << "</text>\n";
  }
  svg << "</svg>\n";
  std::fprintf(stderr, "wrote %s\n", path.c_str());
}

struct Args {
  std::string model;
  bool model_given = false;
  int tokens = 200;
  bool json = false;
  std::string plot_dir;
};

int usage(const char* argv0, const std::string& problem) {
  std::fprintf(stderr, "%s: %s\nusage: %s [MODEL] [--tokens N] [--json] [--plot DIR]\n", argv0, problem.c_str(), argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") args.json = true;
    else if (a == "--tokens" || a == "--plot") {
      if (i + 1 >= argc) return usage(argv[0], a + " needs a value");
      const std::string v = argv[++i];
      if (a == "--plot") {
        args.plot_dir = v;
        continue;
      }
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 1 || n > 100000) return usage(argv[0], "--tokens takes 1 .. 100000");
      args.tokens = int(n);
    } else if (a == "--help" || a == "-h") {
      usage(argv[0], "help");
      return 0;
    } else if (!a.empty() && a[0] == '-') return usage(argv[0], "unknown option " + a);
    else if (args.model_given) return usage(argv[0], "more than one model path");
    else args.model = a, args.model_given = true;
  }
  if (!args.model_given) {
    const char* env = std::getenv("QINS_MODEL");
    args.model = env && *env ? env : QINS_DEFAULT_MODEL;
  }

  try {
    const auto configs = configurations();
    std::vector<Result> results;
    std::vector<int> reference_tokens;
    std::string model_name;
    std::shared_ptr<const qins::llama2::Checkpoint> checkpoint;
    try {
      checkpoint = std::make_shared<const qins::llama2::Checkpoint>(qins::llama2::read_checkpoint(args.model));
    } catch (const qins::Error& e) {
      if (e.kind() != qins::ErrorKind::io_failure || args.model_given) throw;  // a bad file is an error
      std::fprintf(stderr, "no model at %s (%s)\n", args.model.c_str(), e.what());
    }

    if (checkpoint) {
      model_name = args.model;
      const auto& cfg = checkpoint->config();
      if (args.tokens > cfg.seq_len - 1) args.tokens = cfg.seq_len - 1;
      qins::llama2::Model base(checkpoint);
      std::vector<WeightLayer> layers;
      std::vector<std::pair<int, qins::llama2::LinearKind>> slots;
      for (int l = 0; l < cfg.n_layers; ++l)
        for (auto kind : qins::llama2::all_linear_kinds) {
          const auto [rows, cols] = base.shape(l, kind);
          layers.push_back({"layers." + std::to_string(l) + "." + qins::llama2::to_string(kind), rows, cols,
                            base.dense_weights(l, kind)});
          slots.emplace_back(l, kind);
        }
      std::fprintf(stderr, "model %s: dim %d, %d layers, %zu linear weights\n", args.model.c_str(), cfg.dim,
                   cfg.n_layers, [&] {
                     std::size_t n = 0;
                     for (auto& l : layers) n += l.rows * l.cols;
                     return n;
                   }());
      const auto start = std::chrono::steady_clock::now();
      std::fprintf(stderr, "float32 reference: %d greedy tokens from BOS...\n", args.tokens);
      const auto reference = qins::llama2::make_reference(base, args.tokens);
      reference_tokens = reference.tokens;
      for (const Config& c : configs) {
        std::fprintf(stderr, "%-32s converting, generating, comparing...\n", c.name.c_str());
        qins::llama2::Model converted(checkpoint);
        Result r = measure_weights(c, layers, [&](std::size_t i, std::shared_ptr<const qins::llama2::LinearOp> op) {
          converted.set_linear(slots[i].first, slots[i].second, std::move(op));
        });
        r.tokens = qins::llama2::compare_generation(converted, reference);
        r.has_tokens = true;
        results.push_back(std::move(r));
      }
      std::fprintf(stderr, "done in %.2f s\n",
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    } else {
      std::fprintf(stderr, "measuring the weight-level part on built-in synthetic layers\n");
      const SyntheticLayers synthetic = synthetic_layers();
      for (const Config& c : configs) results.push_back(measure_weights(c, synthetic.layers, nullptr));
    }

    const bool with_tokens = checkpoint != nullptr;
    if (args.json) {
      print_json(model_name, std::size_t(args.tokens), reference_tokens, results, with_tokens);
    } else {
      std::printf("\nQINS validation: %s\n", with_tokens ? model_name.c_str() : "synthetic layers (no checkpoint)");
      std::printf("error = relative RMS error of all linear weights; error no-q = the same codec without quantization\n");
      if (with_tokens)
        std::printf("tok = greedy tokens equal to float32's; 1st!= = first differing position; top-1 and KL: "
                    "teacher-forced on float32's sequence\n\n");
      else
        std::printf("token metrics need a checkpoint: pass a llama2.c model path or set QINS_MODEL\n\n");
      print_table(results, std::size_t(args.tokens), with_tokens);
      std::printf("\n");
      for (const Result& r : results) {
        std::printf("%-32s %s", r.config->name.c_str(), r.verdict().c_str());
        if (with_tokens)
          std::printf(" (%zu of %zu tokens, %zu of the first %zu)", r.tokens.token_match, r.tokens.tokens,
                      r.tokens.token_match_15, std::min<std::size_t>(15, r.tokens.tokens));
        std::printf("\n");
        for (const std::string& note : r.notes) std::printf("    note: %s\n", note.c_str());
      }
    }
    if (!args.plot_dir.empty())
      write_plot(args.plot_dir, results,
                 with_tokens ? "QINS on " + args.model.substr(args.model.find_last_of('/') + 1) : "QINS on synthetic layers");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qins_validate: %s\n", e.what());
    return 1;
  }
}
