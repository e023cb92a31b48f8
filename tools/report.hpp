// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The validation report as text for a person, as JSON for a program, and as SVG plots.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "qins/isa.hpp"
#include "validation.hpp"

namespace qins_tools {

namespace detail {

inline std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

/// Relative errors: a percentage down to 0.001%, scientific below.
inline std::string relative(double v) {
  if (std::isnan(v)) return "-";
  return v >= 1e-5 ? format("%.3f%%", 100 * v) : format("%.1e", v);
}

inline std::string kl(double v) { return v < 5e-10 ? "<1e-9" : format("%.1e", v); }

/// Byte length of the start of s that holds at most `chars` UTF-8 characters.
inline std::size_t utf8_prefix(const std::string& s, std::size_t chars) {
  std::size_t i = 0;
  for (std::size_t n = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && n++ == chars) break;
  }
  return i;
}

inline std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

/// The text wrapped at spaces to `width` characters, each line indented by `indent`.
inline std::string wrap(const std::string& text, std::size_t width, const std::string& indent) {
  std::string out, line;
  std::size_t line_chars = 0;
  auto flush = [&] {
    out += indent + line + "\n";
    line.clear();
    line_chars = 0;
  };
  std::size_t i = 0;
  while (i <= text.size()) {
    const std::size_t end = std::min(text.find_first_of(" \n", i), text.size());
    const std::string word = text.substr(i, end - i);
    const std::size_t chars = utf8_length(word);
    if (line_chars > 0 && line_chars + 1 + chars > width) flush();
    if (line_chars > 0) line += ' ', ++line_chars;
    line += word;
    line_chars += chars;
    if (end < text.size() && text[end] == '\n') flush();
    i = end + 1;
  }
  if (!line.empty()) flush();
  return out;
}

}  // namespace detail

// ---- Text ----

/// The greedy text of a scheme against float32's: identical, or the text from a little
/// before the first differing token on, that token marked with ⟦ ⟧.
inline std::string text_against_reference(const ModelReport& m, const SchemeResult& r) {
  const auto& g = r.greedy;
  if (g.first_divergence < 0)
    return "identical to float32 (" + std::to_string(g.token_match) + " of " +
           std::to_string(g.tokens) + " tokens)\n";
  const std::size_t k = static_cast<std::size_t>(g.first_divergence);
  const std::vector<int> same(g.generated.begin(),
                              g.generated.begin() + std::min(k, g.generated.size()));
  const std::string before = llama2::printable(m.text(same));
  std::string first = "(end)", after;
  if (k < g.generated.size()) {
    std::vector<int> upto(same);
    upto.push_back(g.generated[k]);
    const std::string with = m.text(upto);
    first = llama2::printable(with.substr(m.text(same).size()));
    after = llama2::printable(m.text(g.generated).substr(with.size()));
  }
  const std::size_t lead = 60, chars = detail::utf8_length(before);
  const std::string context =
      chars > lead ? "…" + before.substr(detail::utf8_prefix(before, chars - lead)) : before;
  std::string head = "float32's first " + std::to_string(k) + " tokens, then " +
                     std::to_string(g.token_match - k) + " of the remaining " +
                     std::to_string(g.tokens - k) + " in place:\n";
  if (!m.tokenizer) return head + detail::wrap(context + " [" + first + "] " + after, 96, "    ");
  return head + detail::wrap(context + "⟦" + first + "⟧" + after, 96, "    ");
}

inline void print_model(std::FILE* out, const ModelReport& m) {
  const auto& c = m.config;
  std::fprintf(out,
               "\n== %s: dim %d, %d layers, %d heads (%d kv), vocabulary %d, context %d; %zu "
               "linear weights ==\n",
               m.name.c_str(), c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len,
               m.linear_weights);
  std::fprintf(out, "measured in %.2f s; tokenizer: %s\n", m.seconds,
               m.tokenizer ? m.tokenizer_path.c_str() : "none found (text shown as token ids)");
  std::fprintf(out,
               "reference: float32 on %zu positions of %zu sequences:", m.reference.positions(),
               m.reference.sequences.size());
  for (std::size_t i = 0; i < m.reference.sequences.size(); ++i)
    std::fprintf(out, "%s %s (%zu)", i ? ";" : "", m.reference.sequences[i].label.c_str(),
                 m.reference.sequences[i].targets().size());
  std::fprintf(out, "\n");
  for (const auto& note : m.notes) std::fprintf(out, "note: %s\n", note.c_str());
  std::fprintf(out, "\n%-31s %6s %8s %6s %10s %8s %17s %8s %6s %18s %7s  %s\n", "configuration",
               "bits/w", "bytes", "ratio", "weight err", "no-q err", "mean KL (s.e.)", "p99 KL",
               "top-1", "dCE nats (s.e.)", "greedy", "verdict");
  for (const SchemeResult& r : m.results) {
    const auto& d = r.distributions;
    const std::string kl = detail::kl(d.mean_kld) + " (" + detail::kl(d.kld_stderr) + ")";
    const std::string greedy =
        std::to_string(r.greedy.token_match) + "/" + std::to_string(r.greedy.tokens);
    const std::string dce = detail::format("%+.1e", d.delta_ce) + " (" +
                            detail::format("%.0e", d.delta_ce_stderr) + ")";
    std::fprintf(out, "%-31s %6.2f %8zu %5.2fx %10s %8s %17s %8s %6.3f %18s %7s  %s\n",
                 r.scheme->name.c_str(), r.bits_per_weight(), r.weight_bytes, r.compression(),
                 detail::relative(r.rel_rmse).c_str(),
                 detail::relative(r.rel_rmse_no_quant).c_str(), kl.c_str(),
                 detail::kl(d.kld_p99).c_str(), d.top1_agreement, dce.c_str(), greedy.c_str(),
                 llama2::to_string(r.fidelity()));
  }
  for (const SchemeResult& r : m.results)
    for (const auto& note : r.notes)
      std::fprintf(out, "  %s: %s\n", r.scheme->name.c_str(), note.c_str());

  // QINS against linear int8 with the same scale layout, in words.
  auto find = [&](bool qins, llama2::BaselineFormat format,
                  qins::AlphaGranularity g) -> const SchemeResult* {
    for (const SchemeResult& r : m.results)
      if (r.scheme->bits == 8 && r.scheme->qins == qins &&
          (qins ? r.scheme->options.granularity == g : r.scheme->baseline == format))
        return &r;
    return nullptr;
  };
  const std::pair<const SchemeResult*, const SchemeResult*> pairs[] = {
      {find(true, {}, qins::AlphaGranularity::per_row),
       find(false, llama2::BaselineFormat::int8_per_row, {})},
      {find(true, {}, qins::AlphaGranularity::per_group),
       find(false, llama2::BaselineFormat::q8_0, {})}};
  for (const auto& [a, b] : pairs) {
    if (!a || !b) continue;
    const double ka = a->distributions.mean_kld, kb = b->distributions.mean_kld;
    std::fprintf(
        out,
        "%s (%.2f bits/w) against %s (%.2f bits/w): mean KL %s against %s, %s is %.1fx lower\n",
        a->scheme->name.c_str(), a->bits_per_weight(), b->scheme->name.c_str(),
        b->bits_per_weight(), detail::kl(ka).c_str(), detail::kl(kb).c_str(),
        ka < kb ? "QINS's" : "linear int8's", ka < kb ? kb / ka : ka / kb);
  }

  const auto& ref = m.greedy_reference();
  std::fprintf(
      out,
      "\nText, %s (%zu tokens); ⟦ ⟧ marks the first token that differs from float32:\nfloat32:\n%s",
      ref.label.c_str(), ref.continuation.size(),
      detail::wrap(llama2::printable(m.text(ref.continuation)), 96, "    ").c_str());
  for (const SchemeResult& r : m.results)
    std::fprintf(out, "%s: %s", r.scheme->name.c_str(), text_against_reference(m, r).c_str());
}

inline void print_synthetic(std::FILE* out, const std::vector<SyntheticRow>& rows) {
  std::fprintf(out,
               "\n== Where QINS's companding pays off: relative RMS error of 512 x 512 synthetic "
               "layers ==\n");
  if (rows.empty()) return;
  std::fprintf(out, "%-34s", "weights");
  for (const auto& e : rows.front().errors) std::fprintf(out, " %11s", e.first->label.c_str());
  std::fprintf(out, "\n");
  for (const auto& row : rows) {
    std::fprintf(out, "%-34s", row.distribution.c_str());
    for (const auto& e : row.errors) std::fprintf(out, " %11s", detail::relative(e.second).c_str());
    std::fprintf(out, "\n");
  }
}

inline void print_verdicts(std::FILE* out) {
  std::fprintf(out,
               "\nverdict, from the mean KL divergence per token: indistinguishable < 1e-4 <= "
               "near-lossless < 1e-3 "
               "<= small loss < 1e-2 <= large loss < 1e-1 <= broken.\n"
               "weight err: relative RMS error of all linear weights; no-q err: the same alphas "
               "without rounding "
               "to codes; KL, top-1 (same most likely token)\nand dCE (cross-entropy added, nats "
               "per token) are "
               "teacher-forced on float32's sequences; greedy: tokens of float32's greedy text "
               "kept in place.\n");
}

// ---- JSON ----

inline nlohmann::ordered_json to_json(const ModelReport& m) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["model"] = m.path;
  j["tokenizer"] = m.tokenizer ? ordered_json(m.tokenizer_path) : ordered_json(nullptr);
  j["config"] = {{"dim", m.config.dim},
                 {"hidden_dim", m.config.hidden_dim},
                 {"n_layers", m.config.n_layers},
                 {"n_heads", m.config.n_heads},
                 {"n_kv_heads", m.config.n_kv_heads},
                 {"vocab_size", m.config.vocab_size},
                 {"seq_len", m.config.seq_len}};
  j["linear_weights"] = m.linear_weights;
  j["prompt"] = m.prompt;
  const auto& ref = m.greedy_reference();
  j["tokens"] = ref.continuation.size();
  j["reference"] = ref.continuation;
  j["reference_text"] = m.text(ref.continuation);
  j["positions"] = m.reference.positions();
  j["sequences"] = ordered_json::array();
  for (const auto& s : m.reference.sequences)
    j["sequences"].push_back(
        {{"label", s.label}, {"prompt", s.prompt}, {"continuation", s.continuation}});
  j["notes"] = m.notes;
  j["seconds"] = m.seconds;
  j["configs"] = ordered_json::array();
  for (const SchemeResult& r : m.results) {
    const auto& d = r.distributions;
    const auto& g = r.greedy;
    ordered_json c = {
        {"name", r.scheme->name},
        {"qins", r.scheme->qins},
        {"bits", r.scheme->bits},
        {"alpha", r.scheme->alpha},
        {"weight_bytes", r.weight_bytes},
        {"fp32_bytes", r.fp32_bytes},
        {"compression", r.compression()},
        {"bits_per_weight", r.bits_per_weight()},
        {"rel_rmse", r.rel_rmse},
        {"rel_rmse_no_quant",
         r.scheme->qins ? ordered_json(r.rel_rmse_no_quant) : ordered_json(nullptr)},
        {"token_match", g.token_match},
        {"token_match_15",
         [&] {
           std::size_t n = 0;
           for (std::size_t i = 0; i < std::min<std::size_t>(15, g.tokens); ++i)
             n += i < g.generated.size() && g.generated[i] == ref.continuation[i];
           return n;
         }()},
        {"first_divergence",
         g.first_divergence < 0 ? ordered_json(nullptr) : ordered_json(g.first_divergence)},
        {"top1_agreement", d.top1_agreement},
        {"mean_kld", d.mean_kld},
        {"kld_stderr", d.kld_stderr},
        {"kld_p99", d.kld_p99},
        {"kld_max", d.kld_max},
        {"delta_ce", d.delta_ce},
        {"delta_ce_stderr", d.delta_ce_stderr},
        {"reference_ce", d.reference_ce},
        {"positions", d.positions},
        {"verdict", llama2::to_string(r.fidelity())},
        {"generated", g.generated},
        {"text", m.text(g.generated)},
        {"notes", r.notes}};
    j["configs"].push_back(std::move(c));
  }
  return j;
}

inline nlohmann::ordered_json to_json(const std::vector<ModelReport>& models,
                                      const std::vector<SyntheticRow>& synthetic) {
  nlohmann::ordered_json j;
  j["schema"] = "qins-validate 2";
  j["isa"] = qins::to_string(qins::active_isa());  // the kernels the products ran on
  j["thresholds"] = {{"indistinguishable", llama2::kFidelityThresholds[0]},
                     {"near-lossless", llama2::kFidelityThresholds[1]},
                     {"small loss", llama2::kFidelityThresholds[2]},
                     {"large loss", llama2::kFidelityThresholds[3]}};
  j["models"] = nlohmann::ordered_json::array();
  for (const auto& m : models) j["models"].push_back(to_json(m));
  j["synthetic"] = nlohmann::ordered_json::array();
  for (const auto& row : synthetic) {
    nlohmann::ordered_json errors = nlohmann::ordered_json::object();
    for (const auto& e : row.errors) errors[e.first->name] = e.second;
    j["synthetic"].push_back({{"weights", row.distribution}, {"rel_rmse", errors}});
  }
  return j;
}

// ---- SVG ----

namespace detail {

inline std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

/// One point per (model, configuration): y on a log axis from `floor` up, x in bits per weight.
inline void write_plot(const std::string& path, const std::vector<ModelReport>& models,
                       const std::string& title, const std::string& y_label, double floor,
                       double (*value)(const SchemeResult&)) {
  std::ofstream svg(path);
  if (!svg) throw qins::Error(qins::ErrorKind::io_failure, "cannot write '" + path + "'");
  // Bits per weight on a log axis: the 8-bit formats, which differ by fractions of a bit
  // in their scales, get twice the room a linear axis gives them.
  const double W = 860, H = 520, left = 80, right = 290, top = 50, bottom = 70, x0 = std::log2(7.0),
               x1 = std::log2(34.0);
  double lo = 1e300, hi = 0;
  for (const auto& m : models)
    for (const auto& r : m.results) {
      const double v = std::max(value(r), floor);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  if (hi <= 0) lo = floor, hi = 1;
  const double y0 = std::floor(std::log10(lo)), y1 = std::max(std::ceil(std::log10(hi)), y0 + 1);
  auto px = [&](double bits) {
    return left + (std::log2(bits) - x0) / (x1 - x0) * (W - left - right);
  };
  auto py = [&](double v) {
    return top + (y1 - std::log10(std::max(v, floor))) / (y1 - y0) * (H - top - bottom);
  };
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' "
         "fill='white'/>\n";
  svg << "<text x='" << (left + W - right) / 2 << "' y='24' text-anchor='middle' font-size='15'>"
      << xml_escape(title) << "</text>\n";
  for (double d = y0; d <= y1; d += 1) {
    svg << "<line x1='" << left << "' x2='" << W - right << "' y1='" << py(std::pow(10, d))
        << "' y2='" << py(std::pow(10, d)) << "' stroke='#ddd'/>\n<text x='" << left - 8 << "' y='"
        << py(std::pow(10, d)) + 4 << "' text-anchor='end'>1e" << int(d) << "</text>\n";
  }
  for (int b : {8, 10, 12, 16, 24, 32}) {
    svg << "<line x1='" << px(b) << "' x2='" << px(b) << "' y1='" << top << "' y2='" << H - bottom
        << "' stroke='#eee'/>\n<text x='" << px(b) << "' y='" << H - bottom + 18
        << "' text-anchor='middle'>" << b << "</text>\n";
  }
  svg << "<text x='" << (left + W - right) / 2 << "' y='" << H - 35
      << "' text-anchor='middle'>bits per weight (codes + scales), log scale</text>\n";
  svg << "<text x='" << (left + W - right) / 2 << "' y='" << H - 15
      << "' text-anchor='middle' font-size='10'>"
      << "values below " << xml_escape(format("%.0e", floor))
      << " are drawn on the bottom line</text>\n";
  svg << "<text transform='translate(22," << (top + H - bottom) / 2
      << ") rotate(-90)' text-anchor='middle'>" << xml_escape(y_label) << "</text>\n";
  static const char* colours[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                                  "#a6761d", "#666666", "#1f78b4", "#b2182b", "#17becf", "#000000",
                                  "#e377c2", "#8c564b", "#bcbd22", "#9467bd", "#ff7f0e", "#2ca02c"};
  constexpr std::size_t kColours = sizeof(colours) / sizeof(colours[0]);
  auto marker = [&](std::size_t model, double cx, double cy, const char* colour,
                    const std::string& attrs) {
    std::ostringstream o;
    if (model % 2 == 0)
      o << "<circle" << attrs << " cx='" << cx << "' cy='" << cy << "' r='6' fill='" << colour
        << "'/>\n";
    else
      o << "<rect" << attrs << " x='" << cx - 5.5 << "' y='" << cy - 5.5
        << "' width='11' height='11' fill='none' stroke='" << colour << "' stroke-width='2'/>\n";
    return o.str();
  };
  for (std::size_t mi = 0; mi < models.size(); ++mi)
    for (std::size_t i = 0; i < models[mi].results.size(); ++i) {
      const SchemeResult& r = models[mi].results[i];
      svg << marker(mi, px(r.bits_per_weight()), py(value(r)), colours[i % kColours],
                    " class='point' data-model='" + xml_escape(models[mi].name) +
                        "' data-config='" + xml_escape(r.scheme->name) + "'");
    }
  // Legend: one colour per configuration, one marker per model.
  double ly = top;
  if (!models.empty())
    for (std::size_t i = 0; i < models.front().results.size(); ++i, ly += 18)
      svg << "<circle cx='" << W - right + 20 << "' cy='" << ly << "' r='5' fill='"
          << colours[i % kColours] << "'/>\n<text x='" << W - right + 32 << "' y='" << ly + 4
          << "'>" << xml_escape(models.front().results[i].scheme->name) << "</text>\n";
  ly += 10;
  for (std::size_t mi = 0; mi < models.size(); ++mi, ly += 18)
    svg << marker(mi, W - right + 20, ly, "#333", "") << "<text x='" << W - right + 32 << "' y='"
        << ly + 4 << "'>" << xml_escape(models[mi].name) << "</text>\n";
  svg << "</svg>\n";
  if (!svg) throw qins::Error(qins::ErrorKind::io_failure, "cannot write '" + path + "'");
}

}  // namespace detail

/// Writes DIR/qins_error_vs_bits.svg and DIR/qins_kl_vs_bits.svg; returns their paths.
inline std::vector<std::string> write_plots(const std::string& dir,
                                            const std::vector<ModelReport>& models) {
  const std::string error_path = dir + "/qins_error_vs_bits.svg",
                    kl_path = dir + "/qins_kl_vs_bits.svg";
  detail::write_plot(error_path, models, "Weight error against bits per weight",
                     "relative RMS error of the weights", 1e-8,
                     [](const SchemeResult& r) { return r.rel_rmse; });
  detail::write_plot(kl_path, models, "Mean KL divergence from float32 against bits per weight",
                     "mean KL divergence per token (nats)", 1e-9,
                     [](const SchemeResult& r) { return r.distributions.mean_kld; });
  return {error_path, kl_path};
}

}  // namespace qins_tools
