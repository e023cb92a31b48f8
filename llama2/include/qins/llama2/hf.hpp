// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Hugging Face Llama directories (config.json + safetensors) read as a ModelSource.
//
// A directory as transformers saves a LlamaForCausalLM: config.json, and model.safetensors
// or model.safetensors.index.json with its shards (safetensors.hpp), in F32, F16 or BF16.
// Its tensors map onto llama2.c's (tensors.hpp):
//
//   model.embed_tokens.weight                      token_embedding   [vocab_size, hidden_size]
//   model.layers.N.input_layernorm.weight          rms_att_weight    [hidden_size]
//   model.layers.N.self_attn.q_proj.weight         wq (permuted)     [hidden_size, hidden_size]
//   model.layers.N.self_attn.k_proj.weight         wk (permuted)     [kv_dim, hidden_size]
//   model.layers.N.self_attn.v_proj.weight         wv                [kv_dim, hidden_size]
//   model.layers.N.self_attn.o_proj.weight         wo                [hidden_size, hidden_size]
//   model.layers.N.post_attention_layernorm.weight rms_ffn_weight    [hidden_size]
//   model.layers.N.mlp.gate_proj.weight            w1                [intermediate, hidden_size]
//   model.layers.N.mlp.down_proj.weight            w2                [hidden_size, intermediate]
//   model.layers.N.mlp.up_proj.weight              w3                [intermediate, hidden_size]
//   model.norm.weight                              rms_final_weight  [hidden_size]
//   lm_head.weight                                 wcls (untied only)[vocab_size, hidden_size]
//
// RoPE pairs: llama2.c rotates the pairs (2i, 2i+1) of each head, transformers the halves
// (i, i + head_size/2) ("rotate half"). Checkpoints converted to HF carry q_proj and k_proj
// with their rows permuted by llama2.c's export.py:
//   permute(w, heads, rows, cols) = w.reshape(heads, rows / heads / 2, 2, cols)
//                                    .transpose(1, 2).reshape(rows, cols)
// so that HF row h*hd + j*(hd/2) + i is llama2.c row h*hd + 2i + j (hd = head size, j in
// {0, 1}, i < hd/2). read() undoes it, with n_heads for q_proj and n_kv_heads for k_proj,
// so the tensors come out in llama2.c's layout and the forward pass is the same model.
//
// Every tensor is checked when the directory is opened: present, of the shape the config
// implies; a tensor the model would not use (a bias, a layer beyond num_hidden_layers) is
// rejected, not ignored, except the rotary_emb.inv_freq buffers (recomputed) and lm_head.weight
// of a model with tied embeddings (transformers ties it to the embeddings).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "qins/error.hpp"
#include "qins/llama2/checkpoint.hpp"
#include "qins/llama2/safetensors.hpp"
#include "qins/llama2/source.hpp"
#include "qins/llama2/tensors.hpp"

namespace qins::llama2 {

/// What read_hf_config() takes from a Llama config.json, validated.
struct HfLlamaConfig {
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  ///< num_attention_heads when the file has none
  int vocab_size = 0;
  int max_position_embeddings = 0;
  double rms_norm_eps = 0;
  double rope_theta = 10000;         ///< 10000 when the file has none
  bool tie_word_embeddings = false;  ///< false when the file has none
  std::string torch_dtype;           ///< as written ("" when absent); the files' dtypes rule

  /// The llama2 hyper-parameters: dim = hidden_size, hidden_dim = intermediate_size,
  /// n_layers, n_heads, n_kv_heads, vocab_size, seq_len = max_position_embeddings,
  /// shared_classifier = tie_word_embeddings, norm_eps = rms_norm_eps, rope_theta.
  Config to_config() const {
    Config c;
    c.dim = hidden_size;
    c.hidden_dim = intermediate_size;
    c.n_layers = num_hidden_layers;
    c.n_heads = num_attention_heads;
    c.n_kv_heads = num_key_value_heads;
    c.vocab_size = vocab_size;
    c.seq_len = max_position_embeddings;
    c.shared_classifier = tie_word_embeddings;
    c.norm_eps = static_cast<float>(rms_norm_eps);
    c.rope_theta = static_cast<float>(rope_theta);
    return c;
  }
};

/// Parses the text of a Llama config.json; `path` names it in messages. Requires
/// "architectures" to contain "LlamaForCausalLM" (or, without "architectures", model_type
/// "llama"); hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
/// vocab_size, max_position_embeddings (positive integers within qins::llama2::limits) and
/// rms_norm_eps (a positive number); num_key_value_heads (default num_attention_heads),
/// rope_theta (positive, default 10000) and tie_word_embeddings (default false) optional;
/// heads dividing hidden_size into an even head size, kv heads dividing heads. What the
/// runtime cannot honour is rejected by name: rope_scaling not null, hidden_act other than
/// "silu", attention_bias or mlp_bias true, sliding_window not null, head_dim other than
/// hidden_size / num_attention_heads. torch_dtype is accepted whatever it says. Throws
/// qins::Error(bad_file, "Hugging Face config '<path>': <key>: <problem>"), or without a
/// key for JSON that is not valid or not an object.
inline HfLlamaConfig parse_hf_config(std::string_view text, const std::string& path) {
  const std::string where = "Hugging Face config '" + path + "'";
  const auto fail = [&](const std::string& key, const std::string& problem) {
    throw Error(ErrorKind::bad_file, where + ": " + key + ": " + problem);
  };
  const nlohmann::json json = detail::parse_json_strictly(text, where, "config", "key");
  if (!json.is_object()) {
    throw Error(ErrorKind::bad_file, where + ": the config is not a JSON object");
  }
  const auto present = [&](const char* key) { return json.contains(key) && !json[key].is_null(); };
  const auto excerpt = [&](const char* key) { return detail::json_excerpt(json[key]); };

  // The architecture.
  bool llama = false;
  if (json.contains("architectures")) {
    const nlohmann::json& a = json["architectures"];
    if (!a.is_array()) fail("architectures", "is not an array (" + excerpt("architectures") + ")");
    for (const nlohmann::json& name : a) llama = llama || name == "LlamaForCausalLM";
    if (!llama) {
      fail("architectures", excerpt("architectures") +
                                " has no LlamaForCausalLM (only Llama causal language models are "
                                "read)");
    }
  } else {
    if (!present("model_type")) {
      fail("architectures", "missing, and no model_type: not a Llama config?");
    }
    if (json["model_type"] != "llama") {
      fail("model_type",
           excerpt("model_type") + " is not \"llama\" (and there is no architectures)");
    }
  }

  // The sizes.
  const auto size = [&](const char* key, int cap, bool required, int fallback) -> int {
    if (!present(key)) {
      if (required) fail(key, "missing");
      return fallback;
    }
    std::uint64_t v = 0;
    if (!detail::json_to_u64(json[key], v)) {
      fail(key, "must be a positive integer, got " + excerpt(key));
    }
    if (v == 0) fail(key, "must be positive, got 0");
    if (v > static_cast<std::uint64_t>(cap)) {
      fail(key, std::to_string(v) + " exceeds the cap of " + std::to_string(cap));
    }
    return static_cast<int>(v);
  };
  HfLlamaConfig c;
  c.hidden_size = size("hidden_size", limits::dim, true, 0);
  c.intermediate_size = size("intermediate_size", limits::hidden_dim, true, 0);
  c.num_hidden_layers = size("num_hidden_layers", limits::n_layers, true, 0);
  c.num_attention_heads = size("num_attention_heads", limits::n_heads, true, 0);
  c.num_key_value_heads =
      size("num_key_value_heads", limits::n_heads, false, c.num_attention_heads);
  c.vocab_size = size("vocab_size", limits::vocab_size, true, 0);
  c.max_position_embeddings = size("max_position_embeddings", limits::seq_len, true, 0);

  if (c.hidden_size % c.num_attention_heads != 0) {
    fail("num_attention_heads", std::to_string(c.num_attention_heads) +
                                    " does not divide hidden_size " +
                                    std::to_string(c.hidden_size));
  }
  const int head_size = c.hidden_size / c.num_attention_heads;
  if (head_size % 2 != 0) {
    fail("num_attention_heads",
         "the head size hidden_size / num_attention_heads = " + std::to_string(head_size) +
             " is odd (rotary embedding rotates pairs)");
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    fail("num_key_value_heads", std::to_string(c.num_key_value_heads) +
                                    " does not divide num_attention_heads " +
                                    std::to_string(c.num_attention_heads));
  }

  // The numbers.
  const auto positive = [&](const char* key, bool required, double fallback) -> double {
    if (!present(key)) {
      if (required) fail(key, "missing");
      return fallback;
    }
    if (!json[key].is_number()) fail(key, "is not a number (" + excerpt(key) + ")");
    const double v = json[key].get<double>();
    if (!(v > 0) || !std::isfinite(v) || !(static_cast<float>(v) > 0) ||
        !std::isfinite(static_cast<float>(v))) {
      fail(key, "must be a positive number within float range, got " + excerpt(key));
    }
    return v;
  };
  c.rms_norm_eps = positive("rms_norm_eps", true, 0);
  c.rope_theta = positive("rope_theta", false, 10000);

  const auto flag = [&](const char* key) -> bool {
    if (!present(key)) return false;
    if (!json[key].is_boolean()) fail(key, "is not true or false (" + excerpt(key) + ")");
    return json[key].get<bool>();
  };
  c.tie_word_embeddings = flag("tie_word_embeddings");
  if (present("torch_dtype")) {
    c.torch_dtype = json["torch_dtype"].is_string() ? json["torch_dtype"].get<std::string>()
                                                    : excerpt("torch_dtype");
  }

  // What the runtime cannot honour.
  if (present("rope_scaling")) {
    fail("rope_scaling",
         excerpt("rope_scaling") + " is not supported (the runtime implements plain RoPE)");
  }
  if (present("hidden_act") && json["hidden_act"] != "silu") {
    fail("hidden_act", excerpt("hidden_act") + " is not supported (only \"silu\")");
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    if (flag(key)) fail(key, "true is not supported (the runtime has no biases)");
  }
  if (present("sliding_window")) {
    fail("sliding_window", excerpt("sliding_window") +
                               " is not supported (the runtime attends to the whole context)");
  }
  if (present("head_dim")) {
    std::uint64_t v = 0;
    if (!detail::json_to_u64(json["head_dim"], v) || v != static_cast<std::uint64_t>(head_size)) {
      fail("head_dim", excerpt("head_dim") + " is not supported (only hidden_size / " +
                           "num_attention_heads = " + std::to_string(head_size) + ")");
    }
  }
  return c;
}

/// Reads and parses the config.json at `path` (see parse_hf_config()). Throws qins::Error:
/// io_failure "Hugging Face config '<path>': no such file" (or a directory, or unreadable);
/// bad_file as parse_hf_config(), and for a file over 100 MB or a Git LFS pointer.
inline HfLlamaConfig read_hf_config(const std::string& path) {
  const std::string text = detail::read_json_file(path, "Hugging Face config '" + path + "'");
  return parse_hf_config(text, path);
}

/// The Hugging Face name of tensor `id` of block `layer` (e.g.
/// "model.layers.3.self_attn.q_proj.weight"); "" for the legacy RoPE tables, which HF
/// checkpoints do not hold. `layer` is ignored for a whole-model tensor and not checked.
inline std::string hf_tensor_name(TensorId id, int layer = 0) {
  const std::string block = "model.layers." + std::to_string(layer) + ".";
  switch (id) {
    case TensorId::token_embedding:
      return "model.embed_tokens.weight";
    case TensorId::rms_att_weight:
      return block + "input_layernorm.weight";
    case TensorId::wq:
      return block + "self_attn.q_proj.weight";
    case TensorId::wk:
      return block + "self_attn.k_proj.weight";
    case TensorId::wv:
      return block + "self_attn.v_proj.weight";
    case TensorId::wo:
      return block + "self_attn.o_proj.weight";
    case TensorId::rms_ffn_weight:
      return block + "post_attention_layernorm.weight";
    case TensorId::w1:
      return block + "mlp.gate_proj.weight";
    case TensorId::w2:
      return block + "mlp.down_proj.weight";
    case TensorId::w3:
      return block + "mlp.up_proj.weight";
    case TensorId::rms_final_weight:
      return "model.norm.weight";
    case TensorId::wcls:
      return "lm_head.weight";
    case TensorId::freq_cis_real:
    case TensorId::freq_cis_imag:
      return {};
  }
  return {};
}

namespace detail {

/// The config.json key a dimension comes from, for messages.
inline const char* hf_dim_name(Dim d) noexcept {
  switch (d) {
    case Dim::vocab:
      return "vocab_size";
    case Dim::dim:
      return "hidden_size";
    case Dim::kv_dim:
      return "kv_dim";
    case Dim::hidden:
      return "intermediate_size";
    case Dim::seq:
      return "max_position_embeddings";
    case Dim::half_head:
      return "head_dim / 2";
    case Dim::one:
      return "1";
  }
  return "?";
}

/// Whether a tensor the model does not use may be left in a directory: the rotary
/// frequency buffers older transformers saved (the runtime recomputes them).
inline bool is_ignorable_hf_tensor(std::string_view name) noexcept {
  constexpr std::string_view inv_freq = ".rotary_emb.inv_freq";
  return name.size() >= inv_freq.size() && name.substr(name.size() - inv_freq.size()) == inv_freq;
}

}  // namespace detail

/// A Hugging Face Llama directory as a ModelSource: config.json and the safetensors
/// files, validated when opened; tensors converted to float32 in llama2.c's layout on read()
/// (q_proj and k_proj un-permuted, see the top of this header). Not copyable.
class HfCheckpoint : public ModelSource {
 public:
  /// Opens the directory `dir`: its config.json (read_hf_config()) and its safetensors
  /// (SafetensorsCheckpoint::open(dir)), then checks every tensor the config implies:
  /// present, of dtype F32, F16 or BF16 and of the expected shape, and no other tensor
  /// (see the top of this header). Throws qins::Error: io_failure for a path that is not
  /// a directory, a missing config.json or safetensors file; bad_file as read_hf_config()
  /// and SafetensorsCheckpoint::open(), and "Hugging Face directory '<dir>': ..." naming
  /// the tensor and its file for one missing, wrongly shaped or unexpected.
  static std::unique_ptr<HfCheckpoint> open(const std::string& dir) {
    namespace fs = std::filesystem;
    const std::string where = "Hugging Face directory '" + dir + "'";
    std::error_code ec;
    const fs::file_status status = fs::status(dir, ec);
    if (status.type() == fs::file_type::not_found) {
      throw Error(ErrorKind::io_failure, where + ": no such directory");
    }
    if (status.type() != fs::file_type::directory) {
      throw Error(ErrorKind::io_failure,
                  where + ": is not a directory (give the folder that holds config.json)");
    }
    const fs::path config_path = fs::path(dir) / "config.json";
    if (!fs::exists(config_path, ec)) {
      throw Error(ErrorKind::io_failure, where + ": has no config.json");
    }
    HfLlamaConfig hf = read_hf_config(config_path.string());
    SafetensorsCheckpoint files = SafetensorsCheckpoint::open(dir);
    return std::unique_ptr<HfCheckpoint>(new HfCheckpoint(dir, std::move(hf), std::move(files)));
  }

  const Config& config() const override { return config_; }
  /// "Hugging Face directory '<dir>'".
  std::string describe() const override { return "Hugging Face directory '" + dir_ + "'"; }
  /// The validated config.json.
  const HfLlamaConfig& hf_config() const noexcept { return hf_; }
  /// The safetensors files.
  const SafetensorsCheckpoint& safetensors() const noexcept { return files_; }

  bool has(TensorId id) const override {
    const std::size_t i = static_cast<std::size_t>(id);
    if (i >= tensor_count || !checkpoint_tensors[i].stored) return false;
    return !checkpoint_tensors[i].separate_classifier_only || !config_.shared_classifier;
  }

  /// Writes tensor `id` of block `layer` (0 for a whole-model tensor) in llama2.c's layout
  /// (see ModelSource::read()). Throws qins::Error: invalid_argument for an id the source
  /// does not hold (the RoPE tables, wcls of a tied model) or a layer out of range;
  /// non_finite_value naming the HF tensor, its row in the file and the column.
  void read(TensorId id, int layer, float* out) const override {
    const SafetensorsEntry e = entry(id, layer);
    const TensorInfo& info = tensor_info(id);
    if (id != TensorId::wq && id != TensorId::wk) {
      e.file->read_floats(*e.tensor, out);
      return;
    }
    // Row h*hd + j*(hd/2) + i of the file is row h*hd + 2i + j of llama2.c's.
    const std::size_t head = static_cast<std::size_t>(config_.head_size());
    const std::size_t half = head / 2;
    const std::size_t heads =
        static_cast<std::size_t>(id == TensorId::wq ? config_.n_heads : config_.n_kv_heads);
    const std::size_t cols = static_cast<std::size_t>(extent(info.cols, config_));
    for (std::size_t h = 0; h < heads; ++h) {
      for (std::size_t j = 0; j < 2; ++j) {
        for (std::size_t i = 0; i < half; ++i) {
          const std::size_t file_row = h * head + j * half + i;
          const std::size_t llama_row = h * head + 2 * i + j;
          e.file->read_rows(*e.tensor, file_row, 1, out + llama_row * cols);
        }
      }
    }
  }

  /// Lets the operating system drop the mapped pages of tensor `id` of `layer`
  /// (SafetensorsFile::release); a later read() maps them in again. Throws as read() for
  /// an id or layer it does not hold.
  void release(TensorId id, int layer) const override {
    const SafetensorsEntry e = entry(id, layer);
    e.file->release(*e.tensor);
  }

  /// The file and entry of tensor `id` of block `layer`. Throws as read().
  SafetensorsEntry entry(TensorId id, int layer) const {
    const std::size_t i = static_cast<std::size_t>(id);
    if (!has(id)) {
      throw Error(ErrorKind::invalid_argument,
                  describe() + ": holds no tensor " +
                      (i < tensor_count ? std::string(checkpoint_tensors[i].name)
                                        : "with TensorId " + std::to_string(static_cast<int>(id))) +
                      (id == TensorId::wcls ? " (the classifier is tied to the embeddings)" : ""));
    }
    const int blocks = checkpoint_tensors[i].per_layer ? config_.n_layers : 1;
    if (layer < 0 || layer >= blocks) {
      throw Error(ErrorKind::invalid_argument, describe() + ": layer " + std::to_string(layer) +
                                                   " of " + checkpoint_tensors[i].name +
                                                   " is out of range [0, " +
                                                   std::to_string(blocks) + ")");
    }
    return entries_[i][static_cast<std::size_t>(layer)];
  }

 private:
  HfCheckpoint(std::string dir, HfLlamaConfig hf, SafetensorsCheckpoint files)
      : dir_(std::move(dir)), hf_(std::move(hf)), files_(std::move(files)) {
    config_ = hf_.to_config();
    const std::string where = describe();
    std::set<std::string> expected;
    for (const TensorInfo& t : checkpoint_tensors) {
      if (!has(t.id)) continue;
      const std::size_t i = static_cast<std::size_t>(t.id);
      const int blocks = t.per_layer ? config_.n_layers : 1;
      for (int layer = 0; layer < blocks; ++layer) {
        const std::string name = hf_tensor_name(t.id, layer);
        expected.insert(name);
        const SafetensorsEntry e = files_.find(name);
        if (!e) {
          throw Error(
              ErrorKind::bad_file,
              where + ": tensor not found in " + files_.describe() +
                  (t.id == TensorId::wcls ? " (config.json: tie_word_embeddings false)" : ""),
              name);
        }
        check_shape(t, *e.file, *e.tensor);
        entries_[i].push_back(e);
      }
    }
    for (const std::string& name : files_.names()) {
      if (expected.count(name) != 0 || detail::is_ignorable_hf_tensor(name)) continue;
      if (name == hf_tensor_name(TensorId::wcls) && config_.shared_classifier) continue;
      throw Error(ErrorKind::bad_file,
                  where + ": " + files_.find(name).file->describe() +
                      " holds a tensor that a LlamaForCausalLM of this config.json does not "
                      "have (unexpected tensors are rejected, not ignored)",
                  name);
    }
  }

  // The shape [rows, cols] (or [cols] for a vector) of `t`, else bad_file naming both.
  void check_shape(const TensorInfo& t, const SafetensorsFile& file,
                   const SafetensorsTensor& found) const {
    std::vector<std::uint64_t> want;
    std::string meaning;
    if (t.rows != Dim::one) {
      want.push_back(extent(t.rows, config_));
      meaning = std::string(detail::hf_dim_name(t.rows)) + " x ";
    }
    want.push_back(extent(t.cols, config_));
    meaning += detail::hf_dim_name(t.cols);
    if (found.shape == want) return;
    throw Error(ErrorKind::bad_file,
                describe() + ": " + file.describe() + " gives it shape " +
                    detail::shape_string(found.shape) + ", but config.json implies " +
                    detail::shape_string(want) + " (" + meaning + ")",
                found.name);
  }

  std::string dir_;
  HfLlamaConfig hf_;
  SafetensorsCheckpoint files_;
  Config config_;
  std::vector<SafetensorsEntry> entries_[tensor_count];  // per TensorId, one per block
};

}  // namespace qins::llama2
