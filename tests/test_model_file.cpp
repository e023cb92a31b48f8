// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Models that hold only what they need, read from sources once, and whole models in one
// .qins file: saved, streamed from a checkpoint, loaded back runnable.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <qins/llama2/convert.hpp>
#include <qins/llama2/model_file.hpp>
#include <qins/llama2/source.hpp>
#include <string>
#include <vector>

#include "llama2c_reference.hpp"
#include "model_fixture.hpp"
#include "support.hpp"

using namespace qins::llama2;

namespace {

std::string models_dir() { return QINS_TEST_MODELS_DIR; }
std::string stories_path() { return models_dir() + "/stories260K.bin"; }

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/qins_model_" + std::to_string(::getpid()) + "_" + name;
}

std::size_t linear_weights(const Config& c) {
  const std::size_t dim = c.dim, kv = c.kv_dim(), hidden = c.hidden_dim;
  return std::size_t(c.n_layers) * (2 * dim * dim + 2 * kv * dim + 3 * hidden * dim);
}

}  // namespace

TEST_CASE("Llama2cFile reads every tensor as the checkpoint holds it", "[llama2][source]") {
  const auto file = Llama2cFile::open(stories_path());
  const auto ck = qins_test::checkpoint();
  CHECK(file->config().dim == ck->config().dim);
  CHECK(file->describe() == "llama2.c checkpoint '" + stories_path() + "'");
  CHECK(!file->has(TensorId::wcls));  // stories260K shares its classifier
  CHECK(!file->has(TensorId::freq_cis_real));
  for (const TensorInfo& t : checkpoint_tensors) {
    if (!file->has(t.id)) continue;
    for (int l = 0; l < (t.per_layer ? file->config().n_layers : 1); ++l) {
      std::vector<float> got(ck->tensor_size(t.id));
      file->read(t.id, l, got.data());
      file->release(t.id, l);
      REQUIRE(std::memcmp(got.data(), ck->tensor(t.id, l), got.size() * 4) == 0);
    }
  }
  std::vector<float> out(64 * 64);
  CHECK_THROWS_AS(file->read(TensorId::wq, 5, out.data()), qins::Error);
  CHECK_THROWS_AS(file->read(TensorId::wcls, 0, out.data()), qins::Error);
  CHECK_THROWS_WITH(Llama2cFile::open(models_dir()), Catch::Contains("is a directory"));
}

TEST_CASE("a model loaded from a source writes run.c's text and holds exactly its bytes",
          "[llama2][source]") {
  const auto file = Llama2cFile::open(stories_path());
  const Model m = Model::load(*file);
  CHECK(m.checkpoint_ptr() == nullptr);
  CHECK(generate_greedy(m, 64) ==
        std::vector<int>(qins_test::llama2c::kStoriesGreedy.begin(),
                         qins_test::llama2c::kStoriesGreedy.begin() + 64));
  const Config& c = m.config();
  const ModelMemory mem = m.memory();
  CHECK(mem.embedding_bytes == std::size_t(c.vocab_size) * c.dim * 4);
  CHECK(mem.norm_bytes == std::size_t(2 * c.n_layers + 1) * c.dim * 4);
  CHECK(mem.classifier_bytes == 0);
  CHECK(mem.linear_bytes == linear_weights(c) * 4);
  CHECK(mem.quantized_linear_bytes == 0);
  CHECK(mem.shared_checkpoint_bytes == 0);
  CHECK(mem.total() == mem.embedding_bytes + mem.norm_bytes + mem.linear_bytes);
  // Over a Checkpoint the model keeps all of it.
  const Model over(qins_test::checkpoint());
  CHECK(over.memory().shared_checkpoint_bytes == qins_test::checkpoint()->num_floats() * 4);
  // The KV cache: 2 (k and v) x positions x layers x kv_dim floats.
  Session s(m);
  for (int pos = 0; pos < 10; ++pos) s.forward(1, pos);
  CHECK(s.kv_cache_bytes() == m.kv_cache_bytes(10));
  CHECK(m.kv_cache_bytes(10) == std::size_t(2 * 10 * c.n_layers * c.kv_dim()) * 4);
}

TEST_CASE("load_converted keeps no float32 copy of converted layers", "[llama2][source][convert]") {
  const auto file = Llama2cFile::open(stories_path());
  ConvertOptions o;
  ConversionReport report;
  const Model m = load_converted(*file, o, &report);
  const ModelMemory mem = m.memory();
  CHECK(mem.linear_bytes == report.weight_bytes());
  CHECK(mem.quantized_linear_bytes == mem.linear_bytes);
  CHECK(mem.linear_bytes == linear_weights(m.config()) + std::size_t(m.config().n_layers) *
                                                             (2 * 64 + 2 * 32 + 2 * 172 + 64) * 4);
  CHECK_THROWS_WITH(m.dense_weights(0, LinearKind::wq), Catch::Contains("no float32 weights"));
  // The same layers as converting a model over the checkpoint.
  Model over(qins_test::checkpoint());
  const ConversionReport r2 = convert(over, o);
  REQUIRE(report.layers.size() == r2.layers.size());
  for (std::size_t i = 0; i < r2.layers.size(); ++i)
    CHECK(report.layers[i].squared_error == r2.layers[i].squared_error);
  CHECK(generate_greedy(m, 50) == generate_greedy(over, 50));
  // A pattern selects layers by name.
  ConvertOptions only_ffn;
  only_ffn.pattern = "layers.*.w[123]";
  const Model f = load_converted(*file, only_ffn);
  CHECK(dynamic_cast<const DenseLinear*>(&f.linear(2, LinearKind::wq)) != nullptr);
  CHECK(dynamic_cast<const QinsLinearOp*>(&f.linear(2, LinearKind::w2)) != nullptr);
  ConvertOptions bad;
  bad.pattern = "layers.[0-4.w1";
  CHECK_THROWS_WITH(load_converted(*file, bad), Catch::Contains("is not a valid pattern"));
}

TEST_CASE("a model file round trips: same text, same logits, codes used in place",
          "[llama2][model_file]") {
  const auto file = Llama2cFile::open(stories_path());
  for (qins::CodeType code : {qins::CodeType::uint8, qins::CodeType::uint16}) {
    ConvertOptions o;
    o.linear.code_type = code;
    o.pattern = "layers.[0-4].w[qkvo12]";  // w3 stays float32: both kinds stored
    const Model m = load_converted(*file, o);
    const std::string path = temp_path(std::string("round_") + qins::to_string(code) + ".qins");
    save_model(path, m);
    for (qins::LoadMode mode : {qins::LoadMode::memory_map, qins::LoadMode::copy}) {
      const Model back = load_model(path, mode);
      CHECK(back.config().dim == m.config().dim);
      CHECK(back.config().norm_eps == m.config().norm_eps);
      CHECK(back.memory().total() == m.memory().total());
      const auto* q = dynamic_cast<const QinsLinearOp*>(&back.linear(1, LinearKind::wq));
      REQUIRE(q != nullptr);
      CHECK(q->layer().is_mapped() == (mode == qins::LoadMode::memory_map));
      Session a(m), b(back);
      for (int pos = 0; pos < 8; ++pos) REQUIRE(a.forward(7 + pos, pos) == b.forward(7 + pos, pos));
    }
    std::remove(path.c_str());
  }
}

TEST_CASE("convert_to_file streams a checkpoint into the file save_model writes",
          "[llama2][model_file]") {
  const auto file = Llama2cFile::open(stories_path());
  ConvertOptions o;
  o.linear.granularity = qins::AlphaGranularity::per_group;  // w2 (172 columns) falls back
  const std::string streamed = temp_path("streamed.qins"), saved = temp_path("saved.qins");
  std::vector<ConvertProgress> seen;
  qins::ThreadPool pool(2);
  const ConversionReport report = convert_to_file(
      *file, streamed, o, [&](const ConvertProgress& p) { seen.push_back(p); }, &pool);
  save_model(saved, load_converted(*file, o));
  std::ifstream a(streamed, std::ios::binary), b(saved, std::ios::binary);
  const std::string sa((std::istreambuf_iterator<char>(a)), std::istreambuf_iterator<char>());
  const std::string sb((std::istreambuf_iterator<char>(b)), std::istreambuf_iterator<char>());
  CHECK(sa == sb);  // same bytes, threads or not
  REQUIRE(seen.size() == 4 + 35);
  CHECK(seen.back().weights_done == seen.back().weights_total);
  CHECK(seen.front().name == "token_embedding");
  CHECK(report.layers.size() == 35);
  CHECK(report.layers[5].note == "group size 32 does not divide 172 columns: alpha per row");
  std::remove(streamed.c_str());
  std::remove(saved.c_str());
}

TEST_CASE("load_model says what a file is when it is not a llama2 model file",
          "[llama2][model_file][errors]") {
  const std::string layers_only = temp_path("layers.qins");
  const std::vector<float> w(16, 0.1f);
  qins::LinearOptions o;
  o.name = "w";
  qins::save(layers_only, std::vector<qins::QinsLinear>{qins::QinsLinear(w.data(), 4, 4, o)});
  CHECK_THROWS_WITH(load_model(layers_only),
                    Catch::Contains("a .qins file of tensors, not of a whole model"));
  std::remove(layers_only.c_str());
  CHECK_THROWS_AS(load_model(stories_path()), qins::Error);  // a llama2.c file: bad magic

  // A model file missing a tensor, or with one too many.
  const auto file = Llama2cFile::open(stories_path());
  const Model m = Model::load(*file);
  const std::string path = temp_path("broken.qins");
  save_model(path, m);
  qins::QinsFile f = qins::load_file(path);
  auto write_variant = [&](std::vector<qins::QinsTensor> tensors) {
    qins::save(path, tensors, f.metadata);
  };
  std::vector<qins::QinsTensor> missing(f.tensors.begin(), f.tensors.end() - 1);
  write_variant(missing);
  CHECK_THROWS_WITH(load_model(path),
                    Catch::Contains("tensor is missing") && Catch::Contains("layers.4.w3"));
  std::vector<qins::QinsTensor> extra = f.tensors;
  extra.push_back(qins::QinsTensor::plain("rope_cache", w.data(), 2, 8));
  write_variant(extra);
  CHECK_THROWS_WITH(load_model(path),
                    Catch::Contains("does not have") && Catch::Contains("rope_cache"));
  qins::Metadata bad = f.metadata;
  bad["dim"] = "63";
  qins::save(path, f.tensors, bad);
  CHECK_THROWS_WITH(load_model(path), Catch::Contains("not divisible"));
  std::remove(path.c_str());
}
