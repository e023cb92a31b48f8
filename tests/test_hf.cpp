// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Hugging Face Llama directories: the shared models written out by a Python script, read back.
//
// tests/make_hf_checkpoint.py writes a llama2.c checkpoint as an HF directory on its own
// (standard library only: its permutation of q and k and its bfloat16 rounding are the
// independent reference); HfCheckpoint must give back every tensor of the llama2.c file,
// exactly in F32 and rounded to bfloat16 in BF16.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qins/error.hpp"
#include "qins/float16.hpp"
#include "qins/llama2/checkpoint.hpp"
#include "qins/llama2/hf.hpp"
#include "qins/llama2/model.hpp"
#include "qins/llama2/safetensors.hpp"
#include "qins/llama2/tensors.hpp"
#include "support.hpp"

#if !defined(QINS_TEST_PYTHON) || !defined(QINS_TEST_MAKE_HF) || !defined(QINS_TEST_TMP_DIR)
#error "define QINS_TEST_PYTHON, QINS_TEST_MAKE_HF and QINS_TEST_TMP_DIR"
#endif
#ifndef QINS_TEST_MODELS_DIR
#error "define QINS_TEST_MODELS_DIR as the folder of the shared models"
#endif

namespace {

namespace fs = std::filesystem;
using qins::Error;
using qins::ErrorKind;
using qins::llama2::Checkpoint;
using qins::llama2::Config;
using qins::llama2::HfCheckpoint;
using qins::llama2::SafetensorsDtype;
using qins::llama2::TensorId;
using qins::llama2::TensorInfo;

// A fresh, empty scratch directory for one test case.
fs::path scratch(const std::string& name) { return qins_test::scratch_dir("hf", name); }

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs make_hf_checkpoint.py with `args` (already quoted); requires it to succeed.
void run_script(const std::string& args) {
  const std::string command =
      quoted(QINS_TEST_PYTHON) + " " + quoted(QINS_TEST_MAKE_HF) + " " + args;
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
}

// The HF directory of llama2.c checkpoint `model` in `dtype`, in `shards` files.
fs::path make_hf(const fs::path& model, const fs::path& out, const std::string& dtype, int shards) {
  run_script(quoted(model.string()) + " " + quoted(out.string()) + " --dtype " + dtype +
             " --shards " + std::to_string(shards));
  return out;
}

template <class F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no qins::Error was thrown");
  return Error(ErrorKind::invalid_argument, "unreachable");
}

std::size_t floats_of(const TensorInfo& t, const Config& c) {
  return static_cast<std::size_t>(qins::llama2::extent(t.rows, c) *
                                  qins::llama2::extent(t.cols, c));
}

bool same_bits(float a, float b) {
  std::uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

// Every tensor of `hf` equals the llama2.c checkpoint's (rounded to bfloat16 if `bf16`),
// bit for bit; counts the floats compared.
std::size_t require_same_tensors(const HfCheckpoint& hf, const Checkpoint& ck, bool bf16) {
  const Config& c = ck.config();
  std::size_t compared = 0;
  for (const TensorInfo& t : qins::llama2::checkpoint_tensors) {
    if (!t.stored) {
      CHECK_FALSE(hf.has(t.id));
      continue;
    }
    if (t.separate_classifier_only && c.shared_classifier) {
      CHECK_FALSE(hf.has(t.id));
      continue;
    }
    REQUIRE(hf.has(t.id));
    const std::size_t n = floats_of(t, c);
    std::vector<float> got(n);
    for (int layer = 0; layer < (t.per_layer ? c.n_layers : 1); ++layer) {
      hf.read(t.id, layer, got.data());
      const float* want = ck.tensor(t.id, layer);
      std::size_t mismatches = 0, first = n;
      for (std::size_t i = 0; i < n; ++i) {
        const float w = bf16 ? qins::bfloat16_to_float(qins::float_to_bfloat16(want[i])) : want[i];
        if (!same_bits(got[i], w)) {
          if (first == n) first = i;
          ++mismatches;
        }
      }
      INFO(qins::llama2::tensor_name(t.id, layer) << ": first mismatch at " << first);
      CHECK(mismatches == 0);
      compared += n;
      hf.release(t.id, layer);
    }
  }
  return compared;
}

void write_bytes(const fs::path& p, const std::vector<unsigned char>& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(out);
}

void write_text(const fs::path& p, const std::string& s) {
  write_bytes(p, std::vector<unsigned char>(s.begin(), s.end()));
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A tiny llama2.c checkpoint with a separate classifier (negative vocab_size): dim 8,
// hidden 12, 2 layers, 2 heads of 4, 1 key/value head, vocabulary 10, context 6.
std::vector<unsigned char> tiny_untied_checkpoint() {
  Config c;
  c.dim = 8;
  c.hidden_dim = 12;
  c.n_layers = 2;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.vocab_size = 10;
  c.seq_len = 6;
  c.shared_classifier = false;
  std::vector<unsigned char> out;
  const auto put = [&](const void* p, std::size_t n) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    out.insert(out.end(), b, b + n);
  };
  const std::int32_t header[7] = {8, 12, 2, 2, 1, -10, 6};
  put(header, sizeof header);
  std::size_t k = 0;
  for (const TensorInfo& t : qins::llama2::checkpoint_tensors) {
    const std::size_t n = floats_of(t, c) * (t.per_layer ? 2 : 1);
    for (std::size_t i = 0; i < n; ++i, ++k) {
      const float v = 0.37f * std::sin(0.61f * static_cast<float>(k)) + (k % 11 == 0 ? 1.0f : 0);
      put(&v, 4);
    }
  }
  return out;
}

const char* const kModels[] = {"stories260K.bin", "babyllama105.bin"};

}  // namespace

TEST_CASE("hf: the shared models as F32 directories give back every tensor exactly", "[hf]") {
  for (const char* name : kModels) {
    INFO(name);
    const fs::path model = fs::path(QINS_TEST_MODELS_DIR) / name;
    const Checkpoint ck = qins::llama2::read_checkpoint(model.string());
    const fs::path dir = make_hf(model, scratch(std::string("f32_") + name), "F32", 1);
    CHECK(fs::exists(dir / "model.safetensors"));
    const auto hf = HfCheckpoint::open(dir.string());
    CHECK(hf->describe() == "Hugging Face directory '" + dir.string() + "'");

    // The config round trip.
    const Config& want = ck.config();
    const Config& got = hf->config();
    CHECK(got.dim == want.dim);
    CHECK(got.hidden_dim == want.hidden_dim);
    CHECK(got.n_layers == want.n_layers);
    CHECK(got.n_heads == want.n_heads);
    CHECK(got.n_kv_heads == want.n_kv_heads);
    CHECK(got.vocab_size == want.vocab_size);
    CHECK(got.seq_len == want.seq_len);
    CHECK(got.shared_classifier == want.shared_classifier);
    CHECK(got.norm_eps == 1e-5f);
    CHECK(got.rope_theta == 10000.0f);
    CHECK(hf->hf_config().torch_dtype == "float32");
    CHECK(hf->hf_config().tie_word_embeddings);

    CHECK(require_same_tensors(*hf, ck, false) == ck.num_floats());
    // Released tensors read again.
    std::vector<float> w(floats_of(qins::llama2::tensor_info(TensorId::wk), want));
    hf->read(TensorId::wk, want.n_layers - 1, w.data());
    CHECK(std::memcmp(w.data(), ck.wk(want.n_layers - 1), 4 * w.size()) == 0);
  }
}

TEST_CASE("hf: the shared models as BF16 in 3 shards give back the rounded tensors", "[hf]") {
  for (const char* name : kModels) {
    INFO(name);
    const fs::path model = fs::path(QINS_TEST_MODELS_DIR) / name;
    const Checkpoint ck = qins::llama2::read_checkpoint(model.string());
    const fs::path dir = make_hf(model, scratch(std::string("bf16_") + name), "BF16", 3);
    CHECK_FALSE(fs::exists(dir / "model.safetensors"));
    const auto hf = HfCheckpoint::open(dir.string());
    CHECK(hf->safetensors().files().size() == 3);
    CHECK(hf->hf_config().torch_dtype == "bfloat16");
    for (const auto* f : hf->safetensors().files()) {
      for (const auto& t : f->tensors()) CHECK(t.dtype == SafetensorsDtype::bf16);
    }
    CHECK(require_same_tensors(*hf, ck, true) == ck.num_floats());
  }
}

TEST_CASE("hf: a Model loaded from the HF directory computes the llama2.c model's logits", "[hf]") {
  for (const char* name : kModels) {
    INFO(name);
    const fs::path model = fs::path(QINS_TEST_MODELS_DIR) / name;
    const auto ck =
        std::make_shared<const Checkpoint>(qins::llama2::read_checkpoint(model.string()));
    const qins::llama2::Model reference(ck);
    const std::vector<int> tokens = qins::llama2::generate_greedy(reference, 24);

    // F32: the same model, so the same logits, bit for bit.
    const auto f32 = HfCheckpoint::open(
        make_hf(model, scratch(std::string("logits_f32_") + name), "F32", 1).string());
    const qins::llama2::Model from_f32 = qins::llama2::Model::load(*f32);
    const auto want = qins::llama2::teacher_forced_logits(reference, tokens);
    const auto got = qins::llama2::teacher_forced_logits(from_f32, tokens);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("position " << i);
      REQUIRE(got[i].size() == want[i].size());
      CHECK(std::memcmp(got[i].data(), want[i].data(), 4 * got[i].size()) == 0);
    }
    CHECK(qins::llama2::generate_greedy(from_f32, 24) == tokens);

    // BF16 in shards: bfloat16's rounding, nothing more (relative error of the logits).
    const auto bf16 = HfCheckpoint::open(
        make_hf(model, scratch(std::string("logits_bf16_") + name), "BF16", 3).string());
    const auto rounded =
        qins::llama2::teacher_forced_logits(qins::llama2::Model::load(*bf16), tokens);
    double error = 0, norm = 0;
    for (std::size_t i = 0; i < rounded.size(); ++i)
      for (std::size_t v = 0; v < rounded[i].size(); ++v) {
        const double d = double(rounded[i][v]) - double(want[i][v]);
        error += d * d;
        norm += double(want[i][v]) * double(want[i][v]);
      }
    CHECK(std::sqrt(error / norm) < 0.05);
  }
}

TEST_CASE("hf: the un-permuted q and k turn transformers' rotate-half RoPE into llama2.c's",
          "[hf]") {
  // On the stored (permuted) weights, transformers rotates the halves (i, i + hd/2) of each
  // head; on read()'s weights llama2.c rotates the pairs (2i, 2i + 1). Both must give the
  // same rotated vector, up to the row order the permutation defines.
  const fs::path model = fs::path(QINS_TEST_MODELS_DIR) / "stories260K.bin";
  const fs::path dir = make_hf(model, scratch("rope"), "F32", 1);
  const auto hf = HfCheckpoint::open(dir.string());
  const Config& c = hf->config();
  const std::size_t dim = std::size_t(c.dim), head = std::size_t(c.head_size()), half = head / 2;
  std::vector<float> x(dim);
  for (std::size_t i = 0; i < dim; ++i) x[i] = std::cos(0.3f * float(i));
  for (const TensorId id : {TensorId::wq, TensorId::wk}) {
    const std::size_t rows = id == TensorId::wq ? dim : std::size_t(c.kv_dim());
    std::vector<float> llama(rows * dim), stored(rows * dim);
    hf->read(id, 1, llama.data());
    const auto entry = hf->entry(id, 1);
    entry.file->read_floats(*entry.tensor, stored.data());
    const auto product = [&](const std::vector<float>& w) {
      std::vector<double> y(rows);
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t k = 0; k < dim; ++k) y[r] += double(w[r * dim + k]) * x[k];
      return y;
    };
    std::vector<double> a = product(llama), b = product(stored);
    const int pos = 7;
    for (std::size_t h = 0; h < rows / head; ++h) {
      for (std::size_t i = 0; i < half; ++i) {
        const double angle = pos * std::pow(double(c.rope_theta), -double(2 * i) / double(head));
        const double co = std::cos(angle), si = std::sin(angle);
        double& a0 = a[h * head + 2 * i];
        double& a1 = a[h * head + 2 * i + 1];
        const double ra0 = a0 * co - a1 * si, ra1 = a0 * si + a1 * co;
        a0 = ra0;
        a1 = ra1;
        double& b0 = b[h * head + i];
        double& b1 = b[h * head + i + half];
        const double rb0 = b0 * co - b1 * si, rb1 = b0 * si + b1 * co;
        b0 = rb0;
        b1 = rb1;
      }
    }
    for (std::size_t h = 0; h < rows / head; ++h)
      for (std::size_t i = 0; i < half; ++i)
        for (std::size_t j = 0; j < 2; ++j)
          CHECK(a[h * head + 2 * i + j] == Approx(b[h * head + j * half + i]).margin(1e-9));
  }
}

TEST_CASE("hf: an untied model reads lm_head.weight as wcls", "[hf]") {
  const fs::path dir = scratch("untied");
  write_bytes(dir / "tiny.bin", tiny_untied_checkpoint());
  const Checkpoint ck = qins::llama2::read_checkpoint((dir / "tiny.bin").string());
  REQUIRE_FALSE(ck.config().shared_classifier);
  for (const char* dtype : {"F32", "BF16"}) {
    INFO(dtype);
    const fs::path out = make_hf(dir / "tiny.bin", dir / dtype, dtype, dtype[0] == 'F' ? 1 : 2);
    const auto hf = HfCheckpoint::open(out.string());
    CHECK_FALSE(hf->config().shared_classifier);
    CHECK_FALSE(hf->hf_config().tie_word_embeddings);
    REQUIRE(hf->has(TensorId::wcls));
    CHECK(require_same_tensors(*hf, ck, dtype[0] == 'B') == ck.num_floats());
  }
}

TEST_CASE("hf: read() refuses what the source does not hold", "[hf][errors]") {
  const fs::path model = fs::path(QINS_TEST_MODELS_DIR) / "stories260K.bin";
  const fs::path dir = make_hf(model, scratch("refuse"), "F32", 1);
  const auto hf = HfCheckpoint::open(dir.string());
  std::vector<float> out(512 * 64);
  for (const TensorId id : {TensorId::wcls, TensorId::freq_cis_real, TensorId::freq_cis_imag,
                            static_cast<TensorId>(99)}) {
    const Error e = error_of([&] { hf->read(id, 0, out.data()); });
    CHECK(e.kind() == ErrorKind::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains("holds no tensor"));
  }
  for (const int layer : {-1, 5, 1 << 30}) {
    const Error e = error_of([&] { hf->read(TensorId::wq, layer, out.data()); });
    CHECK(e.kind() == ErrorKind::invalid_argument);
    CHECK_THAT(e.what(),
               Catch::Contains("layer " + std::to_string(layer) + " of wq is out of range [0, 5)"));
  }
  const Error whole = error_of([&] { hf->read(TensorId::token_embedding, 1, out.data()); });
  CHECK(whole.kind() == ErrorKind::invalid_argument);
  CHECK_THAT(whole.what(), Catch::Contains("layer 1 of token_embedding is out of range [0, 1)"));
  CHECK(qins::llama2::hf_tensor_name(TensorId::w2, 3) == "model.layers.3.mlp.down_proj.weight");
  CHECK(qins::llama2::hf_tensor_name(TensorId::freq_cis_real).empty());
}

TEST_CASE("hf: a synthetic checkpoint of the requested size opens and reads", "[hf]") {
  const fs::path dir = scratch("synthetic");
  run_script("--synthetic 1 " + quoted((dir / "model").string()) + " --dtype BF16 --shards 2");
  const auto hf = HfCheckpoint::open((dir / "model").string());
  const Config& c = hf->config();
  CHECK(c.dim == 512);
  CHECK(c.hidden_dim == 1376);
  CHECK(c.n_heads == 8);
  CHECK(c.n_kv_heads == 4);
  CHECK(c.vocab_size == 8000);
  CHECK_FALSE(c.shared_classifier);
  std::uint64_t bytes = 0;
  for (const auto* f : hf->safetensors().files()) bytes += f->size();
  CHECK(bytes >= (1u << 20));
  std::vector<float> w(std::size_t(c.hidden_dim) * std::size_t(c.dim));
  hf->read(TensorId::w2, c.n_layers - 1, w.data());
  hf->read(TensorId::wq, 0, w.data());
  fs::remove_all(dir);
}

// ---- config.json ----

namespace {

nlohmann::json valid_config() {
  return nlohmann::json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
    "intermediate_size": 172, "num_hidden_layers": 5, "num_attention_heads": 8,
    "num_key_value_heads": 4, "vocab_size": 512, "max_position_embeddings": 512,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": true,
    "hidden_act": "silu", "attention_bias": false, "mlp_bias": false, "rope_scaling": null,
    "sliding_window": null, "head_dim": 8, "torch_dtype": "float16", "bos_token_id": 1
  })");
}

// parse_hf_config of `config` fails with "Hugging Face config 'cfg': <what>".
void require_config_rejected(const nlohmann::json& config, const std::string& what) {
  const Error e = error_of([&] { qins::llama2::parse_hf_config(config.dump(), "cfg"); });
  INFO(e.what());
  CHECK(e.kind() == ErrorKind::bad_file);
  CHECK_THAT(e.what(), Catch::StartsWith("qins: Hugging Face config 'cfg': " + what));
}

}  // namespace

TEST_CASE("hf: config.json is read with its defaults", "[hf]") {
  qins::llama2::HfLlamaConfig c = qins::llama2::parse_hf_config(valid_config().dump(), "cfg");
  CHECK(c.hidden_size == 64);
  CHECK(c.intermediate_size == 172);
  CHECK(c.num_hidden_layers == 5);
  CHECK(c.num_attention_heads == 8);
  CHECK(c.num_key_value_heads == 4);
  CHECK(c.vocab_size == 512);
  CHECK(c.max_position_embeddings == 512);
  CHECK(c.rms_norm_eps == 1e-5);
  CHECK(c.rope_theta == 10000.0);
  CHECK(c.tie_word_embeddings);
  CHECK(c.torch_dtype == "float16");
  const Config l = c.to_config();
  CHECK(l.dim == 64);
  CHECK(l.kv_dim() == 32);
  CHECK(l.shared_classifier);

  nlohmann::json j = valid_config();
  for (const char* key :
       {"num_key_value_heads", "rope_theta", "tie_word_embeddings", "hidden_act", "attention_bias",
        "mlp_bias", "rope_scaling", "sliding_window", "head_dim", "torch_dtype", "model_type"})
    j.erase(key);
  j["rope_theta"] = nullptr;
  c = qins::llama2::parse_hf_config(j.dump(), "cfg");
  CHECK(c.num_key_value_heads == 8);
  CHECK(c.rope_theta == 10000.0);
  CHECK_FALSE(c.tie_word_embeddings);
  CHECK(c.torch_dtype.empty());
  j = valid_config();
  j.erase("architectures");  // model_type "llama" is enough then
  j["rope_theta"] = 500000;
  j["torch_dtype"] = 3;  // whatever it says
  c = qins::llama2::parse_hf_config(j.dump(), "cfg");
  CHECK(c.rope_theta == 500000.0);
  CHECK(c.to_config().rope_theta == 500000.0f);
}

TEST_CASE("hf: every config.json the runtime cannot honour is rejected by name", "[hf][errors]") {
  const auto with = [](const char* key, nlohmann::json value) {
    nlohmann::json j = valid_config();
    j[key] = std::move(value);
    return j;
  };
  const auto without = [](const char* key) {
    nlohmann::json j = valid_config();
    j.erase(key);
    return j;
  };
  require_config_rejected(with("architectures", {"MistralForCausalLM"}),
                          "architectures: [\"MistralForCausalLM\"] has no LlamaForCausalLM");
  require_config_rejected(with("architectures", "LlamaForCausalLM"),
                          "architectures: is not an array");
  nlohmann::json j = without("architectures");
  j["model_type"] = "mistral";
  require_config_rejected(j, "model_type: \"mistral\" is not \"llama\"");
  j.erase("model_type");
  require_config_rejected(j, "architectures: missing, and no model_type");
  for (const char* key : {"hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "vocab_size", "max_position_embeddings"}) {
    INFO(key);
    require_config_rejected(without(key), std::string(key) + ": missing");
    require_config_rejected(with(key, 0), std::string(key) + ": must be positive, got 0");
    require_config_rejected(with(key, -8),
                            std::string(key) + ": must be a positive integer, got -8");
    require_config_rejected(with(key, 64.5), std::string(key) + ": must be a positive integer");
    require_config_rejected(with(key, "64"), std::string(key) + ": must be a positive integer");
    require_config_rejected(with(key, 1ull << 40),
                            std::string(key) + ": 1099511627776 exceeds the cap");
  }
  require_config_rejected(with("hidden_size", 65537),
                          "hidden_size: 65537 exceeds the cap of 65536");
  require_config_rejected(with("num_key_value_heads", 0), "num_key_value_heads: must be positive");
  require_config_rejected(with("num_attention_heads", 7),
                          "num_attention_heads: 7 does not divide hidden_size 64");
  j = with("num_attention_heads", 64);
  j["num_key_value_heads"] = 64;
  j["head_dim"] = 1;
  require_config_rejected(j,
                          "num_attention_heads: the head size hidden_size / num_attention_heads "
                          "= 1 is odd");
  require_config_rejected(with("num_key_value_heads", 3),
                          "num_key_value_heads: 3 does not divide num_attention_heads 8");
  require_config_rejected(without("rms_norm_eps"), "rms_norm_eps: missing");
  for (const nlohmann::json& bad :
       {nlohmann::json(0), nlohmann::json(-1e-5), nlohmann::json(1e300), nlohmann::json(1e-300)}) {
    require_config_rejected(with("rms_norm_eps", bad), "rms_norm_eps: must be a positive number");
  }
  require_config_rejected(with("rms_norm_eps", "1e-5"), "rms_norm_eps: is not a number");
  require_config_rejected(with("rope_theta", 0), "rope_theta: must be a positive number");
  require_config_rejected(with("tie_word_embeddings", 1),
                          "tie_word_embeddings: is not true or false");
  require_config_rejected(with("rope_scaling", {{"type", "linear"}, {"factor", 2.0}}),
                          "rope_scaling: {\"factor\":2.0,\"type\":\"linear\"} is not supported");
  require_config_rejected(with("hidden_act", "gelu"), "hidden_act: \"gelu\" is not supported");
  require_config_rejected(with("attention_bias", true), "attention_bias: true is not supported");
  require_config_rejected(with("mlp_bias", true), "mlp_bias: true is not supported");
  require_config_rejected(with("mlp_bias", "no"), "mlp_bias: is not true or false");
  require_config_rejected(with("sliding_window", 4096), "sliding_window: 4096 is not supported");
  require_config_rejected(with("head_dim", 16), "head_dim: 16 is not supported (only hidden_size");

  const auto rejected_text = [](const std::string& text, const std::string& what) {
    const Error e = error_of([&] { qins::llama2::parse_hf_config(text, "cfg"); });
    CHECK(e.kind() == ErrorKind::bad_file);
    CHECK_THAT(e.what(), Catch::StartsWith("qins: Hugging Face config 'cfg': " + what));
  };
  rejected_text("{\"hidden_size\": 64, \"hidden_size\": 128}", "key 'hidden_size' is given twice");
  rejected_text("[1]", "the config is not a JSON object");
  rejected_text("{", "config is not valid JSON");
  rejected_text("{\"a\":\"\xff\"}", "config is not valid UTF-8");

  const fs::path dir = scratch("config_files");
  Error e = error_of([&] { qins::llama2::read_hf_config((dir / "config.json").string()); });
  CHECK(e.kind() == ErrorKind::io_failure);
  CHECK_THAT(e.what(), Catch::Contains("config.json': no such file"));
  write_text(dir / "config.json", valid_config().dump());
  CHECK(qins::llama2::read_hf_config((dir / "config.json").string()).hidden_size == 64);
}

TEST_CASE("hf: a broken directory fails with one message naming the file and the tensor",
          "[hf][errors]") {
  const fs::path model = fs::path(QINS_TEST_MODELS_DIR) / "stories260K.bin";
  const fs::path source = make_hf(model, scratch("broken_source"), "F32", 1);
  const fs::path dir = scratch("broken");
  const std::string st = (dir / "model.safetensors").string();

  // Rewrites model.safetensors of `dir` with the source's tensors, `edit`ed.
  const auto rewrite = [&](auto edit) {
    fs::copy_file(source / "config.json", dir / "config.json",
                  fs::copy_options::overwrite_existing);
    const auto f = qins::llama2::SafetensorsFile::open((source / "model.safetensors").string());
    std::vector<std::vector<float>> values;
    std::vector<qins::llama2::SafetensorsWriteTensor> tensors;
    values.reserve(f.tensors().size() + 1);
    for (const auto& t : f.tensors()) {
      values.emplace_back(t.elements());
      f.read_floats(t, values.back().data());
      tensors.push_back({t.name, t.dtype, t.shape, values.back().data()});
    }
    edit(tensors);
    qins::llama2::write_safetensors(st, tensors);
  };
  const auto rejected = [&](ErrorKind kind, const std::string& what, const std::string& tensor) {
    const Error e = error_of([&] { HfCheckpoint::open(dir.string()); });
    INFO(e.what());
    CHECK(e.kind() == kind);
    CHECK_THAT(e.what(), Catch::Contains(what));
    CHECK(e.tensor() == tensor);
    return std::string(e.what());
  };
  const std::string where = "Hugging Face directory '" + dir.string() + "': ";

  rewrite([](auto&) {});
  CHECK(HfCheckpoint::open(dir.string())->config().dim == 64);

  const std::string missing = "model.layers.2.mlp.up_proj.weight";
  rewrite([&](auto& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [&](const auto& x) { return x.name == missing; }),
            t.end());
  });
  rejected(
      ErrorKind::bad_file,
      where + "tensor not found in safetensors file '" + st + "' (at tensor '" + missing + "')",
      missing);

  const std::string reshaped = "model.layers.1.self_attn.k_proj.weight";
  rewrite([&](auto& t) {
    for (auto& x : t)
      if (x.name == reshaped) x.shape = {64, 32};
  });
  rejected(ErrorKind::bad_file,
           where + "safetensors file '" + st +
               "' gives it shape [64, 32], but config.json implies [32, 64] (kv_dim x hidden_size)",
           reshaped);

  const std::vector<float> bias(64, 0.5f);
  rewrite([&](auto& t) {
    t.push_back({"model.layers.0.self_attn.q_proj.bias", SafetensorsDtype::f32, {64}, bias.data()});
  });
  rejected(ErrorKind::bad_file,
           where + "safetensors file '" + st +
               "' holds a tensor that a LlamaForCausalLM of this config.json does not have",
           "model.layers.0.self_attn.q_proj.bias");
  rewrite([&](auto& t) {
    t.push_back(
        {"model.layers.5.input_layernorm.weight", SafetensorsDtype::f32, {64}, bias.data()});
  });
  rejected(ErrorKind::bad_file, "does not have", "model.layers.5.input_layernorm.weight");
  // Tolerated: the rotary buffers older transformers saved, and lm_head of a tied model.
  rewrite([&](auto& t) {
    t.push_back(
        {"model.layers.0.self_attn.rotary_emb.inv_freq", SafetensorsDtype::f32, {4}, bias.data()});
    const float* embeddings = nullptr;
    for (const auto& x : t)
      if (x.name == "model.embed_tokens.weight") embeddings = x.values;
    t.push_back({"lm_head.weight", SafetensorsDtype::bf16, {512, 64}, embeddings});
  });
  CHECK(HfCheckpoint::open(dir.string())->has(TensorId::wcls) == false);
  // Untied in config.json, but no lm_head.weight.
  rewrite([](auto&) {});
  nlohmann::json config = nlohmann::json::parse(read_text(dir / "config.json"));
  config["tie_word_embeddings"] = false;
  write_text(dir / "config.json", config.dump());
  rejected(
      ErrorKind::bad_file,
      "tensor not found in safetensors file '" + st + "' (config.json: tie_word_embeddings false)",
      "lm_head.weight");
  // An option the runtime cannot honour, found when the directory is opened.
  config["tie_word_embeddings"] = true;
  config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  write_text(dir / "config.json", config.dump());
  rejected(ErrorKind::bad_file,
           "Hugging Face config '" + (dir / "config.json").string() + "': rope_scaling: ", "");

  // A Git LFS pointer in place of the weights.
  rewrite([](auto&) {});
  write_text(dir / "model.safetensors",
             "version https://git-lfs.github.com/spec/v1\noid sha256:"
             "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 1044984\n");
  rejected(
      ErrorKind::bad_file,
      "safetensors file '" + st + "': is a Git LFS pointer, not the tensor data: run git lfs pull",
      "");

  // No weights, no config, not a directory.
  fs::remove(dir / "model.safetensors");
  rejected(ErrorKind::io_failure,
           "holds neither model.safetensors nor model.safetensors.index.json", "");
  fs::remove(dir / "config.json");
  rejected(ErrorKind::io_failure, where + "has no config.json", "");
  Error e = error_of([&] { HfCheckpoint::open((source / "model.safetensors").string()); });
  CHECK(e.kind() == ErrorKind::io_failure);
  CHECK_THAT(e.what(),
             Catch::Contains("is not a directory (give the folder that holds config.json)"));
  e = error_of([&] { HfCheckpoint::open((dir / "nowhere").string()); });
  CHECK(e.kind() == ErrorKind::io_failure);
  CHECK_THAT(e.what(), Catch::Contains("nowhere': no such directory"));
}
