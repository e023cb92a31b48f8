// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The subcommands of the qins tool (convert, run, inspect, validate, tokenize): their
// options, declared on a CLI11 app, and what they do. Exit status: 0 on success, 1 for bad
// input (one line naming the file, tensor and problem), 2 for bad usage.
#pragma once

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <qins/io.hpp>
#include <qins/isa.hpp>
#include <qins/llama2/convert.hpp>
#include <qins/llama2/model_file.hpp>
#include <qins/llama2/safetensors.hpp>
#include <qins/llama2/sampler.hpp>
#include <qins/llama2/tokenizer.hpp>
#include <qins/llama2/widths.hpp>
#include <qins/thread_pool.hpp>
#include <string>
#include <thread>
#include <vector>

#include "inputs.hpp"
#include "report.hpp"
#include "validation.hpp"

#ifndef QINS_DEFAULT_MODELS_DIR
#define QINS_DEFAULT_MODELS_DIR "../shared/models"
#endif

namespace qins_tools {

/// A usage problem found after parsing (exit status 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline unsigned default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

inline std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) b /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

/// The tokenizer for a model: `given`, or the one beside it; none is fine (ids are shown).
inline std::optional<llama2::Tokenizer> tokenizer_for(const Input& in, const llama2::Config& c,
                                                      const std::string& given) {
  const std::string path = given.empty() ? find_tokenizer(model_folder(in), c.vocab_size) : given;
  if (path.empty()) return std::nullopt;
  llama2::Tokenizer t = llama2::read_tokenizer(path);
  t.check_vocabulary(c.vocab_size, in.path);
  return t;
}

// ---- qins convert ----

struct ConvertArgs {
  std::string input, output;
  int bits = 8;
  double max_kl = 0;  ///< > 0: widths per layer for this budget
  std::string alpha = "row";
  std::string layers;
  unsigned threads = default_threads();
  bool json = false;
};

inline void add_convert(CLI::App& app, ConvertArgs& a) {
  app.add_option("INPUT", a.input,
                 "the model to convert: a llama2.c .bin, a .safetensors file (config.json beside "
                 "it) or a Hugging Face directory")
      ->required();
  app.add_option("OUTPUT", a.output,
                 "the .qins model file to write (through OUTPUT.tmp, renamed at the end)")
      ->required();
  CLI::Option* bits = app.add_option("--bits", a.bits,
                                     "code width of the converted layers: 8 (4x smaller), 12 "
                                     "(2.67x: two codes in three bytes) or 16 (2x)")
                          ->capture_default_str()
                          ->check(CLI::IsMember({8, 12, 16}));
  app.add_option("--max-kl", a.max_kl,
                 "instead of one width: per layer the narrowest of 8, 12 and 16 bits that keeps "
                 "the whole model within this mean KL divergence from float32 (nats per token), "
                 "measured on three stories the float model writes (sampled at T = 1, seeds "
                 "101-103); costs two evaluations per layer (e.g. 1e-5)")
      ->check(CLI::PositiveNumber)
      ->excludes(bits);
  app.add_option("--alpha", a.alpha,
                 "how alpha is chosen: row (one calibrated alpha per row), tensor (one per layer), "
                 "group:G (one per G weights of a row; rows G does not divide fall back to row), "
                 "fixed:A (A everywhere, not calibrated)")
      ->capture_default_str();
  app.add_option("--layers", a.layers,
                 "convert only the layers whose name (layers.<l>.<wq|wk|wv|wo|w1|w2|w3>) one of "
                 "these comma-separated globs matches (* any run, ? one character, [0-4] a set: "
                 "'*.w1,*.w2,*.w3'); the others stay float32 (default: all)");
  app.add_option("--threads", a.threads, "threads that quantize (default: the cores)")
      ->check(CLI::Range(1, 256));
  app.add_flag("--json", a.json, "print the per-layer report as JSON on stdout");
}

inline qins::LinearOptions linear_options(const ConvertArgs& a) {
  qins::LinearOptions o;
  o.code_type = a.bits == 16   ? qins::CodeType::uint16
                : a.bits == 12 ? qins::CodeType::uint12
                               : qins::CodeType::uint8;
  const std::string& s = a.alpha;
  auto number_after = [&](std::size_t at) {
    const std::string v = s.substr(at);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0')
      throw UsageError("--alpha " + s + ": '" + v + "' is not a number");
    return x;
  };
  if (s == "row") {
    o.granularity = qins::AlphaGranularity::per_row;
  } else if (s == "tensor") {
    o.granularity = qins::AlphaGranularity::per_tensor;
  } else if (s.rfind("group:", 0) == 0) {
    const double g = number_after(6);
    if (!(g >= 1 && g <= 65536 && g == std::floor(g)))
      throw UsageError("--alpha " + s + ": the group size must be a whole number in [1, 65536]");
    o.granularity = qins::AlphaGranularity::per_group;
    o.group_size = static_cast<std::size_t>(g);
  } else if (s.rfind("fixed:", 0) == 0) {
    o.alpha = number_after(6);
    if (!(o.alpha > 0) || !std::isfinite(o.alpha))
      throw UsageError("--alpha " + s + ": alpha must be a positive number");
    o.granularity = qins::AlphaGranularity::fixed;
    o.calibrate = false;
  } else {
    throw UsageError("--alpha " + s + ": expected row, tensor, group:G or fixed:A");
  }
  return o;
}

inline nlohmann::ordered_json width_plan_json(const llama2::WidthPlan& plan) {
  nlohmann::ordered_json j;
  j["max_kl"] = plan.max_kl;
  j["predicted_kl"] = plan.predicted_kl;
  j["measured_kl"] = plan.mixed.mean_kld;
  j["measured_kl_stderr"] = plan.mixed.kld_stderr;
  j["top1_agreement"] = plan.mixed.top1_agreement;
  j["positions"] = plan.mixed.positions;
  j["undone"] = plan.undone;
  j["bytes"] = plan.bytes();
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : plan.layers)
    j["layers"].push_back({{"name", l.name},
                           {"bits", qins::stored_type_info(l.code_type()).bits},
                           {"kl_alone_8", l.kl_alone[0]},
                           {"kl_alone_12", l.kl_alone[1]},
                           {"bytes", l.bytes}});
  return j;
}

inline void print_width_plan(const llama2::WidthPlan& plan) {
  std::printf("%-20s %12s %12s %5s\n", "layer", "KL alone: 8", "12 bits", "bits");
  std::size_t uniform[3] = {};
  for (const auto& l : plan.layers) {
    std::printf("%-20s %12.2e %12.2e %5u\n", l.name.c_str(), l.kl_alone[0], l.kl_alone[1],
                qins::stored_type_info(l.code_type()).bits);
    for (std::size_t b = 0; b < 3; ++b) uniform[b] += l.bytes[b];
  }
  std::printf(
      "widths for mean KL <= %.2e: predicted %.2e (the sum of the layers' KL alone), measured "
      "%.2e (s.e. %.1e, top-1 %.3f) on %zu calibration positions%s; %zu bytes of these layers "
      "against %zu at 8 bits, %zu at 12, %zu at 16\n",
      plan.max_kl, plan.predicted_kl, plan.mixed.mean_kld, plan.mixed.kld_stderr,
      plan.mixed.top1_agreement, plan.mixed.positions,
      plan.undone ? (", after undoing " + std::to_string(plan.undone) + " narrowing steps").c_str()
                  : "",
      plan.bytes(), uniform[0], uniform[1], uniform[2]);
}

inline int run_convert(const ConvertArgs& a) {
  llama2::ConvertOptions options;
  options.linear = linear_options(a);
  options.pattern = a.layers;
  try {
    (void)options.selects(0, llama2::LinearKind::wq);
  } catch (const qins::Error& e) {
    throw UsageError(std::string("--layers: ") + (e.what() + 6));  // a bad pattern is usage
  }
  const Input in = identify(a.input);
  const auto source = open_source(in);
  if (!options.pattern.empty()) {
    bool any = false;
    for (int l = 0; l < source->config().n_layers; ++l)
      for (llama2::LinearKind k : llama2::all_linear_kinds) any = any || options.selects(l, k);
    if (!any)
      throw UsageError("--layers '" + options.pattern +
                       "' matches no layer (the names are layers.<l>.<wq|wk|wv|wo|w1|w2|w3>)");
  }
  qins::ThreadPool pool(a.threads);
  const bool terminal = isatty(fileno(stderr));
  const auto start = std::chrono::steady_clock::now();
  std::optional<llama2::WidthPlan> plan;
  if (a.max_kl > 0) {
    std::fprintf(stderr, "measuring each layer at 8 and 12 bits for a mean KL within %g\n",
                 a.max_kl);
    const llama2::Model float_model = llama2::Model::load(*open_source(in));
    plan = llama2::plan_widths(float_model, calibration_reference(float_model), options, a.max_kl);
    options.code_types = plan->code_types();
  }
  std::fprintf(stderr, "converting %s '%s' to '%s'\n", to_string(in.kind), a.input.c_str(),
               a.output.c_str());
  const llama2::ConversionReport report = llama2::convert_to_file(
      *source, a.output, options,
      [&](const llama2::ConvertProgress& p) {
        const double t = seconds_since(start), rate = t > 0 ? double(p.weights_done) / t : 0;
        const double left = rate > 0 ? double(p.weights_total - p.weights_done) / rate : 0;
        std::fprintf(stderr,
                     "%s[%zu/%zu] %-24s %s of %s float32 read, %.0f M weights/s, %.0f s left%s",
                     terminal ? "\r" : "", p.index + 1, p.count, p.name.c_str(),
                     human_bytes(4.0 * double(p.weights_done)).c_str(),
                     human_bytes(4.0 * double(p.weights_total)).c_str(), rate / 1e6, left,
                     terminal ? "\033[K" : "\n");
      },
      &pool);
  const double t = seconds_since(start);
  if (terminal) std::fprintf(stderr, "\n");
  std::uint64_t weights = 0;
  for (const auto& l : report.layers) weights += std::uint64_t(l.rows) * l.cols;
  const std::uint64_t file = std::filesystem::file_size(a.output);
  if (a.json) {
    nlohmann::ordered_json j;
    j["input"] = a.input;
    j["output"] = a.output;
    j["file_bytes"] = file;
    j["seconds"] = t;
    j["layers"] = nlohmann::ordered_json::array();
    for (const auto& l : report.layers)
      j["layers"].push_back(
          {{"name", l.name},
           {"rows", l.rows},
           {"cols", l.cols},
           {"converted", l.converted},
           {"code", qins::to_string(l.converted ? l.code_type : qins::CodeType::plain)},
           {"alpha", l.converted ? qins::to_string(l.layout.granularity) : "none"},
           {"group_size", l.layout.group_size},
           {"bytes", l.bytes},
           {"fp32_bytes", l.fp32_bytes},
           {"rel_rmse", l.relative_rms_error()},
           {"note", l.note}});
    j["weight_bytes"] = report.weight_bytes();
    j["fp32_bytes"] = report.fp32_bytes();
    j["rel_rmse"] = report.relative_rms_error();
    if (plan) j["widths"] = width_plan_json(*plan);
    std::printf("%s\n", j.dump(1).c_str());
    return 0;
  }
  if (plan) print_width_plan(*plan);
  std::printf("%-20s %13s %-14s %-14s %10s %10s\n", "layer", "shape", "stored as", "alpha", "bytes",
              "rel. error");
  for (const auto& l : report.layers) {
    const std::string shape = std::to_string(l.rows) + " x " + std::to_string(l.cols);
    std::string alpha = l.converted ? qins::to_string(l.layout.granularity) : "-";
    if (l.converted && l.layout.granularity == qins::AlphaGranularity::per_group)
      alpha += " " + std::to_string(l.layout.group_size);
    std::printf("%-20s %13s %-14s %-14s %10zu %9.3f%%%s\n", l.name.c_str(), shape.c_str(),
                l.converted ? qins::to_string(l.code_type) : "float32", alpha.c_str(), l.bytes,
                100 * l.relative_rms_error(), l.note.empty() ? "" : ("  (" + l.note + ")").c_str());
  }
  std::printf(
      "total: %zu bytes of layers for %zu in float32 (%.2fx smaller), relative error %.3f%%; "
      "file %s\n",
      report.weight_bytes(), report.fp32_bytes(),
      double(report.fp32_bytes()) / double(std::max<std::size_t>(1, report.weight_bytes())),
      100 * report.relative_rms_error(), human_bytes(double(file)).c_str());
  std::fprintf(stderr, "%.2f s, %.0f M weights/s of layers with %u thread%s\n", t,
               double(weights) / t / 1e6, a.threads, a.threads == 1 ? "" : "s");
  return 0;
}

// ---- qins run ----

struct RunArgs {
  std::string model, tokenizer, prompt;
  int tokens = 256;
  float temperature = 0.0f, topp = 0.9f;
  unsigned long long seed = 1;
};

inline void add_run(CLI::App& app, RunArgs& a) {
  app.add_option("MODEL", a.model, "a .qins model, a llama2.c .bin or a Hugging Face directory")
      ->required();
  app.add_option("--tokenizer", a.tokenizer,
                 "tokenizer.bin in llama2.c's layout (default: tokenizer.bin, tok<V>.bin or "
                 "tokenizer<V>.bin beside the model; without one, token ids are printed)");
  app.add_option("--prompt", a.prompt, "text to continue (default: start from BOS)");
  app.add_option("--tokens", a.tokens,
                 "tokens to generate (capped by the model's context, with a note)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--temperature", a.temperature, "0: greedy (the most likely token, as run.c -t 0)")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 100.0f));
  app.add_option("--topp", a.topp,
                 "top-p of sampling at a temperature above 0 (1: the whole distribution)")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  app.add_option("--seed", a.seed, "seed of the sampler (run.c's xorshift)")->capture_default_str();
}

/// Prints bytes as they come, holding back an incomplete UTF-8 character (byte tokens
/// arrive one at a time) and escaping what is not printable.
class TextStream {
 public:
  void put(const std::string& bytes) {
    pending_ += bytes;
    std::size_t cut = pending_.size();
    // Keep a trailing incomplete character for the next piece.
    for (std::size_t back = 1; back <= 3 && back <= pending_.size(); ++back) {
      const unsigned char c = static_cast<unsigned char>(pending_[pending_.size() - back]);
      if ((c & 0xC0) == 0x80) continue;
      const std::size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      if (need > back) cut = pending_.size() - back;
      break;
    }
    std::fputs(llama2::printable(pending_.substr(0, cut)).c_str(), stdout);
    std::fflush(stdout);
    pending_.erase(0, cut);
  }
  void finish() {
    if (!pending_.empty()) std::fputs(llama2::printable(pending_).c_str(), stdout);
    pending_.clear();
  }

 private:
  std::string pending_;
};

inline int run_run(const RunArgs& a) {
  const Input in = identify(a.model);
  const llama2::Model model = open_model(in);
  const llama2::Config& c = model.config();
  const auto tok = tokenizer_for(in, c, a.tokenizer);
  if (!tok && !a.prompt.empty())
    throw qins::Error(qins::ErrorKind::invalid_argument,
                      "--prompt needs a tokenizer: none found beside '" + a.model +
                          "'; name one with --tokenizer");
  const std::vector<int> prompt = tok ? tok->encode(a.prompt, true, false) : std::vector<int>{1};
  const int room = c.seq_len - int(prompt.size()) + 1;
  if (room < 1)
    throw UsageError("the prompt has more tokens than the model's context of " +
                     std::to_string(c.seq_len));
  int n = a.tokens;
  if (n > room) {
    std::fprintf(stderr, "note: --tokens %d capped at %d by the context of %d positions\n", n, room,
                 c.seq_len);
    n = room;
  }
  llama2::Sampler sampler(a.temperature, a.topp, a.seed);
  TextStream out;
  if (tok) out.put(tok->decode(std::vector<int>(prompt.begin() + 1, prompt.end())));
  int prev = prompt.back(), count = 0;
  const auto start = std::chrono::steady_clock::now();
  llama2::generate(model, prompt, n, sampler, true, [&](int token) {
    if (tok)
      out.put(tok->decode_piece(prev, token));
    else
      std::printf("%s%d", count ? " " : "", token), std::fflush(stdout);
    prev = token;
    ++count;
  });
  const double t = seconds_since(start);
  out.finish();
  std::printf("\n");
  std::fflush(stdout);  // the text ends before the figures on stderr
  const llama2::ModelMemory m = model.memory();
  std::fprintf(
      stderr, "%d tokens in %.3f s: %.0f tokens/s; model %s (layers %s), KV cache %s\n", count, t,
      t > 0 ? count / t : 0.0, human_bytes(double(m.total())).c_str(),
      human_bytes(double(m.linear_bytes)).c_str(),
      human_bytes(double(model.kv_cache_bytes(prompt.size() + std::size_t(count)))).c_str());
  return 0;
}

// ---- qins inspect ----

struct InspectArgs {
  std::string file;
  bool json = false;
};

inline void add_inspect(CLI::App& app, InspectArgs& a) {
  app.add_option("FILE", a.file, "a .qins file, a .safetensors file or a llama2.c checkpoint")
      ->required();
  app.add_flag("--json", a.json, "print the listing as JSON");
}

inline int run_inspect(const InspectArgs& a) {
  const Input in = identify(a.file);
  struct Row {
    std::string name, shape, type, alpha;
    std::uint64_t bytes;
  };
  std::vector<Row> rows;
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  std::string verified;
  if (in.kind == InputKind::qins_model || in.kind == InputKind::qins_tensors) {
    qins::LoadOptions o;
    o.mode = qins::LoadMode::memory_map;  // checksums verified: every byte is read once
    const qins::QinsFile f = qins::load_file(a.file, o);
    verified = "every checksum verified";
    for (const auto& [k, v] : f.metadata) meta[k] = v;
    for (const qins::QinsTensor& t : f.tensors) {
      std::string alpha =
          t.code_type() == qins::CodeType::plain ? "-" : qins::to_string(t.layout().granularity);
      if (t.layout().granularity == qins::AlphaGranularity::per_group)
        alpha += " " + std::to_string(t.layout().group_size);
      rows.push_back({t.name(), std::to_string(t.rows()) + " x " + std::to_string(t.cols()),
                      qins::to_string(t.code_type()), alpha, t.memory_bytes()});
    }
  } else if (in.kind == InputKind::safetensors) {
    const llama2::SafetensorsFile f = llama2::SafetensorsFile::open(a.file);
    verified = "structure verified (safetensors has no checksums)";
    for (const auto& [k, v] : f.metadata()) meta[k] = v;
    for (const auto& t : f.tensors()) {
      std::string shape;
      for (std::size_t i = 0; i < t.shape.size(); ++i)
        shape += (i ? " x " : "") + std::to_string(t.shape[i]);
      rows.push_back({t.name, shape.empty() ? "scalar" : shape, llama2::to_string(t.dtype), "-",
                      t.end - t.begin});
    }
  } else if (in.kind == InputKind::llama2c) {
    const auto f = llama2::Llama2cFile::open(a.file);
    verified = "header and size verified (llama2.c has no checksums)";
    const llama2::Config& c = f->config();
    for (const llama2::TensorInfo& t : llama2::checkpoint_tensors) {
      if (!f->has(t.id)) continue;
      const std::uint64_t r = llama2::extent(t.rows, c), cols = llama2::extent(t.cols, c);
      const std::uint64_t blocks = t.per_layer ? std::uint64_t(c.n_layers) : 1;
      rows.push_back({t.name,
                      (t.per_layer ? std::to_string(blocks) + " x " : std::string()) +
                          std::to_string(r) + " x " + std::to_string(cols),
                      "float32", "-", 4 * blocks * r * cols});
    }
  } else {
    throw qins::Error(
        qins::ErrorKind::invalid_argument,
        "'" + a.file + "' is a Hugging Face directory: inspect its .safetensors files");
  }
  std::uint64_t total = 0;
  for (const Row& r : rows) total += r.bytes;
  if (a.json) {
    nlohmann::ordered_json j;
    j["file"] = a.file;
    j["kind"] = to_string(in.kind);
    j["verified"] = verified;
    j["metadata"] = meta;
    j["tensors"] = nlohmann::ordered_json::array();
    for (const Row& r : rows)
      j["tensors"].push_back({{"name", r.name},
                              {"shape", r.shape},
                              {"type", r.type},
                              {"alpha", r.alpha},
                              {"bytes", r.bytes}});
    j["bytes"] = total;
    std::printf("%s\n", j.dump(1).c_str());
    return 0;
  }
  std::printf("%s: %s, %zu tensors, %s (%s)\n", a.file.c_str(), to_string(in.kind), rows.size(),
              human_bytes(double(total)).c_str(), verified.c_str());
  for (const auto& [k, v] : meta.items())
    std::printf("  %s = %s\n", k.c_str(), v.get<std::string>().c_str());
  std::printf("%-24s %-22s %-14s %-14s %12s\n", "tensor", "shape", "stored as", "alpha", "bytes");
  for (const Row& r : rows)
    std::printf("%-24s %-22s %-14s %-14s %12llu\n", r.name.c_str(), r.shape.c_str(), r.type.c_str(),
                r.alpha.c_str(), static_cast<unsigned long long>(r.bytes));
  return 0;
}

// ---- qins validate ----

struct ValidateArgs {
  Options options;
  bool json = false;
  std::string plot_dir;
};

inline void add_validate(CLI::App& app, ValidateArgs& a) {
  a.options.threads = default_threads();
  app.add_option("models", a.options.models,
                 "models: llama2.c .bin, Hugging Face directories or .qins models (default: "
                 "$QINS_MODEL, else stories260K.bin and babyllama105.bin from " +
                     std::string(QINS_DEFAULT_MODELS_DIR) + ")");
  app.add_option(
         "--tokenizer", a.options.tokenizer,
         "tokenizer.bin (llama2.c layout) for every model; default: the one beside each model "
         "(tokenizer.bin, tok<V>.bin or tokenizer<V>.bin with V its vocabulary size); without one, "
         "text is shown as token ids")
      ->check(CLI::ExistingFile);
  app.add_option("--prompt", a.options.prompt,
                 "continue this text instead of starting from BOS (needs a tokenizer)");
  app.add_option("--tokens", a.options.tokens,
                 "new tokens per reference sequence, capped by each model's context")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--samples", a.options.samples, "reference sequences sampled at temperature 1")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  app.add_option("--seed", a.options.seed,
                 "seed of the first sampled sequence (then seed + 1, ...)")
      ->capture_default_str();
  app.add_option("--threads", a.options.threads,
                 "configurations measured at once (default: the cores)")
      ->check(CLI::Range(1, 256));
  app.add_flag("--json", a.json, "print the report as JSON (schema in README.md) instead of text");
  app.add_option("--plot", a.plot_dir,
                 "write qins_error_vs_bits.svg and qins_kl_vs_bits.svg into this folder");
  app.add_option("--max-kl", a.options.max_kl,
                 "add a configuration per value (comma-separated): widths of 8, 12 or 16 bits "
                 "per layer chosen for that mean KL, as qins convert --max-kl chooses them "
                 "(calibrated on other sequences than the ones measured here)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
}

inline int run_validate(ValidateArgs& a) {
  Options& options = a.options;
  if (options.models.empty()) {
    const char* env = std::getenv("QINS_MODEL");
    if (env && *env) {
      options.models = {env};
    } else {
      const std::string dir = QINS_DEFAULT_MODELS_DIR;
      options.models = {dir + "/stories260K.bin", dir + "/babyllama105.bin"};
    }
  }
  if (!a.plot_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(a.plot_dir, ec);
    if (ec || !std::filesystem::is_directory(a.plot_dir))
      throw UsageError("--plot '" + a.plot_dir + "': cannot create the folder (" +
                       (ec ? ec.message() : std::string("not a folder")) + ")");
  }
  auto schemes = default_schemes();
  for (Scheme& s : mixed_schemes(options.max_kl)) schemes.push_back(std::move(s));
  qins::ThreadPool pool(options.threads);
  const bool progress = isatty(fileno(stderr));
  std::vector<ModelReport> reports;
  for (const std::string& model : options.models) {
    if (progress)
      std::fprintf(stderr, "%s: %zu configurations...\n", model.c_str(), schemes.size());
    reports.push_back(validate_model(model, options, schemes, pool));
  }
  const auto synthetic = synthetic_comparison(schemes);
  if (a.json) {
    std::printf("%s\n", to_json(reports, synthetic).dump(1).c_str());
  } else {
    std::printf(
        "QINS validation: every linear layer of each model in each configuration, against "
        "float32\n");
    std::printf("products: the %s kernels%s\n", qins::to_string(qins::active_isa()),
                int(qins::active_isa()) >= int(qins::Isa::avx512_vnni)
                    ? " (uint8: the integer GEMV, inputs rounded to 13 bits per block)"
                    : "");
    for (const auto& m : reports) print_model(stdout, m);
    print_synthetic(stdout, synthetic);
    print_verdicts(stdout);
  }
  if (!a.plot_dir.empty())
    for (const std::string& path : write_plots(a.plot_dir, reports))
      std::fprintf(stderr, "wrote %s\n", path.c_str());
  return 0;
}

// ---- qins tokenize ----

struct TokenizeArgs {
  std::string tokenizer, text;
};

inline void add_tokenize(CLI::App& app, TokenizeArgs& a) {
  app.add_option("TOKENIZER", a.tokenizer, "tokenizer.bin in llama2.c's layout")->required();
  app.add_option("TEXT", a.text, "the text to encode (BOS is the first id printed)")->required();
}

inline int run_tokenize(const TokenizeArgs& a) {
  const llama2::Tokenizer t = llama2::read_tokenizer(a.tokenizer);
  const std::vector<int> ids = t.encode(a.text, true, false);
  for (std::size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? " " : "", ids[i]);
  std::printf("\n");
  return 0;
}

/// Runs `body` and turns what it throws into the exit status and one line on stderr.
template <class Body>
int guarded(const char* program, Body&& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", program, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (message.rfind("qins: ", 0) == 0) message.erase(0, 6);  // qins::Error's own prefix
    std::fprintf(stderr, "%s: %s\n", program, message.c_str());
    return 1;
  }
}

}  // namespace qins_tools
