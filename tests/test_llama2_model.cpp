// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Tests of the llama2 forward pass: reference generation, teacher forcing, layer swapping.
#include <atomic>
#include <catch2/catch.hpp>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "llama2c_reference.hpp"
#include "qins/error.hpp"
#include "qins/llama2/checkpoint.hpp"
#include "qins/llama2/model.hpp"

#ifndef QINS_TEST_MODEL_PATH
#error "define QINS_TEST_MODEL_PATH as the path of stories260K.bin"
#endif

namespace {

using qins::Error;
using qins::ErrorKind;
using qins::llama2::Checkpoint;
using qins::llama2::DenseLinear;
using qins::llama2::LinearKind;
using qins::llama2::LinearOp;
using qins::llama2::Model;
using qins::llama2::Session;

// The first 16 tokens of stories260K's greedy continuation from BOS (token 1), as
// llama2.c's run.c writes them (llama2c_reference.hpp).
const std::vector<int> kReference(qins_test::llama2c::kStoriesGreedy.begin(),
                                  qins_test::llama2c::kStoriesGreedy.begin() + 16);

std::shared_ptr<const Checkpoint> stories260k() {
  static const std::shared_ptr<const Checkpoint> ck =
      std::make_shared<const Checkpoint>(qins::llama2::read_checkpoint(QINS_TEST_MODEL_PATH));
  return ck;
}

int argmax(const std::vector<float>& v) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[best]) best = i;
  }
  return static_cast<int>(best);
}

ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  FAIL("no qins::Error thrown");
  return ErrorKind::io_failure;
}

// Forwards to a DenseLinear and counts the calls.
class CountingLinear : public LinearOp {
 public:
  CountingLinear(const float* w, std::size_t rows, std::size_t cols) : dense_(w, rows, cols) {}
  std::size_t rows() const override { return dense_.rows(); }
  std::size_t cols() const override { return dense_.cols(); }
  void forward(const float* x, float* y) const override {
    ++calls;
    dense_.forward(x, y);
  }
  std::size_t bytes() const override { return dense_.bytes(); }
  std::string storage() const override { return "counting"; }
  mutable std::atomic<long> calls{0};

 private:
  DenseLinear dense_;
};

// Writes zeros: a layer whose output is discarded.
class ZeroLinear : public LinearOp {
 public:
  ZeroLinear(std::size_t rows, std::size_t cols) : rows_(rows), cols_(cols) {}
  std::size_t rows() const override { return rows_; }
  std::size_t cols() const override { return cols_; }
  void forward(const float*, float* y) const override {
    for (std::size_t i = 0; i < rows_; ++i) y[i] = 0.f;
  }
  std::size_t bytes() const override { return 0; }
  std::string storage() const override { return "zero"; }

 private:
  std::size_t rows_, cols_;
};

}  // namespace

TEST_CASE("llama2: float32 greedy generation from BOS reproduces the reference", "[llama2]") {
  const Model model(stories260k());
  const std::vector<int> generated = qins::llama2::generate_greedy(model, 16);
  CHECK(generated == kReference);
  CHECK(qins::llama2::generate_greedy(model, 0).empty());
  // A prefix of a longer run is the same.
  const std::vector<int> longer = qins::llama2::generate_greedy(model, 40);
  REQUIRE(longer.size() == 40);
  CHECK(std::vector<int>(longer.begin(), longer.begin() + 16) == kReference);
}

TEST_CASE("llama2: teacher-forced logits agree with greedy generation", "[llama2]") {
  const Model model(stories260k());
  const auto logits = qins::llama2::teacher_forced_logits(model, kReference);
  REQUIRE(logits.size() == kReference.size());
  for (std::size_t i = 0; i < logits.size(); ++i) {
    INFO("position " << i);
    REQUIRE(logits[i].size() == 512);
    CHECK(argmax(logits[i]) == kReference[i]);
    for (float v : logits[i]) REQUIRE(std::isfinite(v));
  }
  // The same numbers as a hand-driven Session.
  Session session(model);
  int token = 1;
  for (std::size_t i = 0; i < kReference.size(); ++i) {
    CHECK(session.forward(token, static_cast<int>(i)) == logits[i]);
    token = kReference[i];
  }
  CHECK(qins::llama2::teacher_forced_logits(model, {}).empty());
  // Re-feeding position 0 restarts the sequence.
  CHECK(session.forward(1, 0) == logits[0]);
}

TEST_CASE("llama2: Model exposes shapes, dense weights and the linear kinds", "[llama2]") {
  const auto ck = stories260k();
  const Model model(ck);
  CHECK(model.config().dim == 64);
  CHECK(&model.checkpoint() == ck.get());
  using Shape = std::pair<std::size_t, std::size_t>;
  CHECK(model.shape(0, LinearKind::wq) == Shape(64, 64));
  CHECK(model.shape(1, LinearKind::wk) == Shape(32, 64));
  CHECK(model.shape(2, LinearKind::wv) == Shape(32, 64));
  CHECK(model.shape(3, LinearKind::wo) == Shape(64, 64));
  CHECK(model.shape(4, LinearKind::w1) == Shape(172, 64));
  CHECK(model.shape(4, LinearKind::w2) == Shape(64, 172));
  CHECK(model.shape(4, LinearKind::w3) == Shape(172, 64));
  CHECK(model.dense_weights(3, LinearKind::wq) == ck->wq(3));
  CHECK(model.dense_weights(3, LinearKind::wk) == ck->wk(3));
  CHECK(model.dense_weights(3, LinearKind::wv) == ck->wv(3));
  CHECK(model.dense_weights(3, LinearKind::wo) == ck->wo(3));
  CHECK(model.dense_weights(3, LinearKind::w1) == ck->w1(3));
  CHECK(model.dense_weights(3, LinearKind::w2) == ck->w2(3));
  CHECK(model.dense_weights(3, LinearKind::w3) == ck->w3(3));

  const char* names[] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};
  REQUIRE(qins::llama2::all_linear_kinds.size() == 7);
  for (std::size_t i = 0; i < 7; ++i) {
    const LinearKind k = qins::llama2::all_linear_kinds[i];
    CHECK(std::string(qins::llama2::to_string(k)) == names[i]);
    for (int l = 0; l < 5; ++l) {
      const LinearOp& op = model.linear(l, k);
      CHECK(op.rows() == model.shape(l, k).first);
      CHECK(op.cols() == model.shape(l, k).second);
      const auto* dense = dynamic_cast<const DenseLinear*>(&op);
      REQUIRE(dense != nullptr);
      CHECK(dense->weights() == model.dense_weights(l, k));
    }
  }
  CHECK(std::string(qins::llama2::to_string(static_cast<LinearKind>(99))) == "unknown");

  for (int layer : {-1, 5, INT_MIN}) {
    CHECK(kind_of([&] { (void)model.linear(layer, LinearKind::wq); }) ==
          ErrorKind::invalid_argument);
    CHECK(kind_of([&] { (void)model.shape(layer, LinearKind::w2); }) ==
          ErrorKind::invalid_argument);
    CHECK(kind_of([&] { (void)model.dense_weights(layer, LinearKind::w3); }) ==
          ErrorKind::invalid_argument);
  }
  CHECK(kind_of([&] { (void)model.linear(0, static_cast<LinearKind>(7)); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { (void)model.shape(0, static_cast<LinearKind>(-1)); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([] { Model m(nullptr); }) == ErrorKind::invalid_argument);
}

TEST_CASE("llama2: set_linear checks the shape and the replacement op is used", "[llama2]") {
  const auto ck = stories260k();
  Model model(ck);

  // Wrong shapes: wk's shape for wq, w2 transposed, off by one.
  const auto wk = std::make_shared<DenseLinear>(ck->wk(0), 32, 64);
  const auto w2t = std::make_shared<DenseLinear>(ck->w2(0), 172, 64);
  const auto wq_short = std::make_shared<DenseLinear>(ck->wq(0), 63, 64);
  CHECK(kind_of([&] { model.set_linear(0, LinearKind::wq, wk); }) == ErrorKind::size_mismatch);
  CHECK(kind_of([&] { model.set_linear(1, LinearKind::w2, w2t); }) == ErrorKind::size_mismatch);
  CHECK(kind_of([&] { model.set_linear(2, LinearKind::wo, wq_short); }) ==
        ErrorKind::size_mismatch);
  try {
    model.set_linear(3, LinearKind::wq, wk);
  } catch (const Error& e) {
    CHECK(e.tensor() == "layers.3.wq");
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains("op is 32 x 64"));
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains("64 x 64"));
  }
  CHECK(kind_of([&] { model.set_linear(0, LinearKind::wq, nullptr); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { model.set_linear(5, LinearKind::wk, wk); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { model.set_linear(-1, LinearKind::wk, wk); }) == ErrorKind::invalid_argument);
  // Nothing was replaced by the failed calls.
  CHECK(dynamic_cast<const DenseLinear&>(model.linear(0, LinearKind::wq)).weights() == ck->wq(0));

  // Counting wrappers over the same weights: same tokens, every op called once per position.
  std::vector<std::shared_ptr<const CountingLinear>> counters;
  for (int l = 0; l < 5; ++l) {
    for (LinearKind k : qins::llama2::all_linear_kinds) {
      const auto s = model.shape(l, k);
      auto op =
          std::make_shared<const CountingLinear>(model.dense_weights(l, k), s.first, s.second);
      model.set_linear(l, k, op);
      CHECK(&model.linear(l, k) == op.get());
      counters.push_back(op);
    }
  }
  CHECK(qins::llama2::generate_greedy(model, 16) == kReference);
  for (const auto& c : counters) CHECK(c->calls.load() == 16);

  // A session keeps the table it was created with.
  Session before(model);
  model.set_linear(0, LinearKind::wo, std::make_shared<ZeroLinear>(64, 64));
  const std::vector<float> old_logits = before.forward(1, 0);
  CHECK(counters[3]->calls.load() == 17);  // layer 0 wo of the old table
  Session after(model);
  CHECK(after.forward(1, 0) != old_logits);
  CHECK(counters[3]->calls.load() == 17);
}

TEST_CASE("llama2: Session and the loops reject out-of-range tokens and positions", "[llama2]") {
  const Model model(stories260k());
  Session session(model);
  for (int token : {-1, 512, INT_MIN, INT_MAX}) {
    INFO("token " << token);
    CHECK(kind_of([&] { session.forward(token, 0); }) == ErrorKind::invalid_argument);
  }
  for (int pos : {-1, 512, INT_MIN, INT_MAX}) {
    INFO("pos " << pos);
    CHECK(kind_of([&] { session.forward(1, pos); }) == ErrorKind::invalid_argument);
  }
  CHECK_NOTHROW(session.forward(0, 0));
  CHECK_NOTHROW(session.forward(511, 1));
  CHECK(session.logits().size() == 512);
  CHECK_NOTHROW(session.forward(1, 511));  // the last position; gaps read a zero cache

  CHECK(kind_of([&] { (void)qins::llama2::generate_greedy(model, 513); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { (void)qins::llama2::generate_greedy(model, -1); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { (void)qins::llama2::generate_greedy(model, 4, 512); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { (void)qins::llama2::generate_greedy(model, 4, -1); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] {
          (void)qins::llama2::teacher_forced_logits(model, std::vector<int>(513, 1));
        }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] {
          (void)qins::llama2::teacher_forced_logits(model, {1, 2, 512});
        }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { (void)qins::llama2::teacher_forced_logits(model, {-3}); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { (void)qins::llama2::teacher_forced_logits(model, {3}, 600); }) ==
        ErrorKind::invalid_argument);
}

TEST_CASE("llama2: DenseLinear computes y = W x", "[llama2]") {
  for (std::size_t cols : {1u, 2u, 7u, 8u, 13u, 64u}) {
    const std::size_t rows = 3;
    std::vector<float> w(rows * cols), x(cols), y(rows, -1.f);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 5) - 1.5f;
    for (std::size_t i = 0; i < cols; ++i) x[i] = 0.25f * static_cast<float>(i) - 1.0f;
    const DenseLinear op(w.data(), rows, cols);
    CHECK(op.rows() == rows);
    CHECK(op.cols() == cols);
    op.forward(x.data(), y.data());
    for (std::size_t r = 0; r < rows; ++r) {
      double ref = 0;
      for (std::size_t c = 0; c < cols; ++c) {
        ref += static_cast<double>(w[r * cols + c]) * static_cast<double>(x[c]);
      }
      CHECK(y[r] == Approx(ref).margin(1e-5));
    }
  }
  const float one = 1.f;
  CHECK(kind_of([] { DenseLinear d(nullptr, 1, 1); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { DenseLinear d(&one, 0, 1); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { DenseLinear d(&one, 1, 0); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { DenseLinear d(&one, SIZE_MAX, 2); }) == ErrorKind::size_mismatch);
}
