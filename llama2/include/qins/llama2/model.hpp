// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The llama2.c forward pass with replaceable linear layers.
//
// Model holds the tensors that stay float32 (the token embedding, the RMSNorm weights, the
// classifier) and one LinearOp per (layer, projection); each starts as a DenseLinear over
// float32 weights and can be swapped for another implementation (e.g. a quantized one) of
// the same shape. Built with Model::load from a ModelSource, a model owns exactly what it
// keeps: replacing a projection frees its float32 weights (memory() says what is held).
// Built over a Checkpoint, it shares that checkpoint, which stays alive whole. Session runs the
// forward pass for one sequence (KV cache and scratch buffers); generate_greedy() and
// teacher_forced_logits() are the two evaluation loops built on it.
//
// Forward pass (the standard llama2.c one), for a token at position pos:
//   x = token_embedding[token]
//   per layer: xb = rmsnorm(x, rms_att_weight)  rmsnorm: w * x / sqrt(mean(x^2) + eps), eps 1e-5
//              q = wq xb, k = wk xb, v = wv xb (k, v stored in the cache at pos)
//              RoPE on q and k: for each even i within a head, the pair (i, i+1) is rotated
//                by pos * theta^(-i / head_size), theta 10000 (computed, not taken from the file;
//                Config::norm_eps and rope_theta hold other values)
//              per query head h (key/value head h / (n_heads / n_kv_heads)): causal softmax
//                of q.k_t / sqrt(head_size) over t = 0..pos, then the weighted sum of v_t
//              x += wo (attention output)
//              xb = rmsnorm(x, rms_ffn_weight); x += w2 (silu(w1 xb) * (w3 xb))
//   logits = wcls rmsnorm(x, rms_final_weight)   (wcls == token_embedding when shared)
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "qins/error.hpp"
#include "qins/llama2/checkpoint.hpp"
#include "qins/llama2/sampler.hpp"
#include "qins/llama2/source.hpp"
#include "qins/llama2/tensors.hpp"

namespace qins::llama2 {

/// A linear map y = W x, W of rows() x cols(). Implementations must make forward() safe to
/// call concurrently from several threads (it is const), and must not require x and y to
/// alias (they never do when called by Session).
class LinearOp {
 public:
  virtual ~LinearOp() = default;
  /// Output features (length of y).
  virtual std::size_t rows() const = 0;
  /// Input features (length of x).
  virtual std::size_t cols() const = 0;
  /// y[0..rows) = W x[0..cols).
  virtual void forward(const float* x, float* y) const = 0;
  /// The bytes the op holds for its weights (and scales or bias), exactly.
  virtual std::size_t bytes() const = 0;
  /// How the weights are stored, for reports: "float32", "uint8 per_row", ...
  virtual std::string storage() const = 0;
};

namespace detail {

/// y = W x for a row-major float32 W; 8 independent accumulators per row.
inline void dense_matvec(const float* w, std::size_t rows, std::size_t cols, const float* x,
                         float* y) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = w + r * cols;
    float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f, a4 = 0.f, a5 = 0.f, a6 = 0.f, a7 = 0.f;
    std::size_t c = 0;
    for (; c + 8 <= cols; c += 8) {
      a0 += row[c + 0] * x[c + 0];
      a1 += row[c + 1] * x[c + 1];
      a2 += row[c + 2] * x[c + 2];
      a3 += row[c + 3] * x[c + 3];
      a4 += row[c + 4] * x[c + 4];
      a5 += row[c + 5] * x[c + 5];
      a6 += row[c + 6] * x[c + 6];
      a7 += row[c + 7] * x[c + 7];
    }
    float acc = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
    for (; c < cols; ++c) acc += row[c] * x[c];
    y[r] = acc;
  }
}

}  // namespace detail

/// A LinearOp over a row-major float32 matrix: one it owns, or one it only views (which
/// must then outlive the op).
class DenseLinear : public LinearOp {
 public:
  /// A view of `weights`. Throws qins::Error (invalid_argument) if weights is null or rows
  /// or cols is 0, and (size_mismatch) if rows * cols overflows size_t.
  DenseLinear(const float* weights, std::size_t rows, std::size_t cols)
      : w_(weights), rows_(rows), cols_(cols) {
    check_shape(weights, rows, cols);
  }
  /// Owns `weights` (rows * cols values). Throws as the view constructor, and
  /// (size_mismatch) if the vector has another size.
  DenseLinear(std::vector<float> weights, std::size_t rows, std::size_t cols)
      : owned_(std::move(weights)), w_(owned_.data()), rows_(rows), cols_(cols) {
    check_shape(w_, rows, cols);
    if (owned_.size() != rows * cols)
      throw Error(ErrorKind::size_mismatch, "DenseLinear: " + std::to_string(owned_.size()) +
                                                " weights for " + std::to_string(rows) + " x " +
                                                std::to_string(cols));
  }
  std::size_t rows() const override { return rows_; }
  std::size_t cols() const override { return cols_; }
  void forward(const float* x, float* y) const override {
    detail::dense_matvec(w_, rows_, cols_, x, y);
  }
  std::size_t bytes() const override { return rows_ * cols_ * sizeof(float); }
  std::string storage() const override { return "float32"; }
  /// The matrix this op reads.
  const float* weights() const noexcept { return w_; }
  /// Whether the op owns its matrix (else it views memory that someone else keeps).
  bool owns_weights() const noexcept { return !owned_.empty(); }

 private:
  static void check_shape(const float* weights, std::size_t rows, std::size_t cols) {
    if (weights == nullptr) {
      throw Error(ErrorKind::invalid_argument, "DenseLinear: null weight pointer");
    }
    if (rows == 0 || cols == 0) {
      throw Error(ErrorKind::invalid_argument, "DenseLinear: empty matrix (" +
                                                   std::to_string(rows) + " x " +
                                                   std::to_string(cols) + ")");
    }
    if (rows > std::numeric_limits<std::size_t>::max() / cols) {
      throw Error(ErrorKind::size_mismatch, "DenseLinear: rows * cols overflows size_t");
    }
  }

  std::vector<float> owned_;
  const float* w_;
  std::size_t rows_;
  std::size_t cols_;
};

/// What a Model holds, in bytes, by part.
struct ModelMemory {
  std::size_t embedding_bytes = 0;         ///< token_embedding (vocab x dim floats)
  std::size_t norm_bytes = 0;              ///< the RMSNorm weights
  std::size_t classifier_bytes = 0;        ///< a separate wcls (0 when it is the embedding)
  std::size_t linear_bytes = 0;            ///< every projection, as its op holds it
  std::size_t quantized_linear_bytes = 0;  ///< the part of linear_bytes in QINS codes
  /// A Checkpoint the model was built over, which it keeps whole (0 for Model::load).
  std::size_t shared_checkpoint_bytes = 0;
  /// With a shared checkpoint: the linear bytes held outside it (converted layers).
  std::size_t owned_linear_bytes = 0;
  /// All of it: the parts, or the shared checkpoint plus what lies outside it.
  std::size_t total() const noexcept {
    return shared_checkpoint_bytes != 0
               ? shared_checkpoint_bytes + owned_linear_bytes
               : embedding_bytes + norm_bytes + classifier_bytes + linear_bytes;
  }
};

/// The float32 tensors a Model uses directly, and what keeps them alive.
struct ModelTensors {
  std::shared_ptr<const void> owner;
  const float* token_embedding = nullptr;   ///< vocab x dim
  const float* rms_att_weight = nullptr;    ///< n_layers x dim
  const float* rms_ffn_weight = nullptr;    ///< n_layers x dim
  const float* rms_final_weight = nullptr;  ///< dim
  const float* wcls = nullptr;              ///< vocab x dim (the embedding when shared)
};

/// The tensors that stay float32 plus the table of linear ops used by the forward pass.
/// Copying a Model is cheap (it shares tensors and ops). Not synchronised: do not call
/// set_linear() while another thread uses the same Model.
class Model {
 public:
  /// Every linear layer starts as a DenseLinear view of the checkpoint's weights; the
  /// model shares the checkpoint (all of it stays alive while the model lives).
  /// Throws qins::Error (invalid_argument) if checkpoint is null.
  explicit Model(std::shared_ptr<const Checkpoint> checkpoint) : ckpt_(std::move(checkpoint)) {
    if (!ckpt_) throw Error(ErrorKind::invalid_argument, "llama2::Model: null checkpoint");
    config_ = ckpt_->config();
    tensors_.owner = ckpt_;
    tensors_.token_embedding = ckpt_->token_embedding();
    tensors_.rms_att_weight = ckpt_->rms_att_weight(0);
    tensors_.rms_ffn_weight = ckpt_->rms_ffn_weight(0);
    tensors_.rms_final_weight = ckpt_->rms_final_weight();
    tensors_.wcls = ckpt_->wcls();
    const int layers = config_.n_layers;
    ops_.reserve(static_cast<std::size_t>(layers) * all_linear_kinds.size());
    for (int l = 0; l < layers; ++l) {
      for (LinearKind k : all_linear_kinds) {
        const auto s = shape(l, k);
        ops_.push_back(
            std::make_shared<DenseLinear>(ckpt_->tensor(tensor_of(k), l), s.first, s.second));
      }
    }
  }

  /// Builds a model from `source`, reading every tensor once. Each projection's float32
  /// weights go to `make_op` (layer, kind, weights), which returns the op to install (for
  /// example a converted layer, after which the weights are dropped); without it each
  /// becomes a DenseLinear that owns them. The source is released tensor by tensor, so no
  /// more than one float32 projection is held beyond what the model keeps.
  /// @throws qins::Error as the source's read(), or from make_op.
  using MakeOp = std::function<std::shared_ptr<const LinearOp>(int layer, LinearKind kind,
                                                               std::vector<float>&& weights)>;
  static Model load(const ModelSource& source, const MakeOp& make_op = {}) {
    const Config& c = source.config();
    auto owned = std::make_shared<OwnedTensors>();
    auto read = [&](TensorId id, std::vector<float>& out) {
      const TensorInfo& t = tensor_info(id);
      const std::uint64_t per_layer = extent(t.rows, c) * extent(t.cols, c);
      const int layers = t.per_layer ? c.n_layers : 1;
      out = allocate(per_layer * static_cast<std::uint64_t>(layers), t.name);
      for (int l = 0; l < layers; ++l) {
        source.read(id, l, out.data() + static_cast<std::size_t>(per_layer) * l);
        source.release(id, l);
      }
    };
    read(TensorId::token_embedding, owned->token_embedding);
    read(TensorId::rms_att_weight, owned->rms_att_weight);
    read(TensorId::rms_ffn_weight, owned->rms_ffn_weight);
    read(TensorId::rms_final_weight, owned->rms_final_weight);
    if (!c.shared_classifier) read(TensorId::wcls, owned->wcls);
    Model m;
    m.config_ = c;
    m.tensors_.token_embedding = owned->token_embedding.data();
    m.tensors_.rms_att_weight = owned->rms_att_weight.data();
    m.tensors_.rms_ffn_weight = owned->rms_ffn_weight.data();
    m.tensors_.rms_final_weight = owned->rms_final_weight.data();
    m.tensors_.wcls = c.shared_classifier ? owned->token_embedding.data() : owned->wcls.data();
    m.tensors_.owner = std::move(owned);
    m.ops_.resize(static_cast<std::size_t>(c.n_layers) * all_linear_kinds.size());
    for (int l = 0; l < c.n_layers; ++l)
      for (LinearKind k : all_linear_kinds) {
        const auto s = m.shape(l, k);
        std::vector<float> w = allocate(s.first * s.second, layer_name(l, k).c_str());
        source.read(tensor_of(k), l, w.data());
        source.release(tensor_of(k), l);
        m.set_linear(l, k,
                     make_op ? make_op(l, k, std::move(w))
                             : std::make_shared<DenseLinear>(std::move(w), s.first, s.second));
      }
    return m;
  }

  /// A model from tensors that stay float32 and a full table of ops ([layer][kind], in
  /// all_linear_kinds order), e.g. a .qins model file's. @throws qins::Error
  /// (invalid_argument, size_mismatch) for a missing tensor or an op of the wrong shape.
  static Model assemble(const Config& config, ModelTensors tensors,
                        std::vector<std::shared_ptr<const LinearOp>> ops) {
    if (!tensors.token_embedding || !tensors.rms_att_weight || !tensors.rms_ffn_weight ||
        !tensors.rms_final_weight || !tensors.wcls)
      throw Error(ErrorKind::invalid_argument, "llama2::Model::assemble: a tensor is missing");
    Model m;
    m.config_ = config;
    m.tensors_ = std::move(tensors);
    const std::size_t n = static_cast<std::size_t>(config.n_layers) * all_linear_kinds.size();
    if (ops.size() != n)
      throw Error(ErrorKind::size_mismatch,
                  "llama2::Model::assemble: " + std::to_string(ops.size()) + " ops for " +
                      std::to_string(n) + " projections");
    m.ops_.resize(n);
    for (int l = 0; l < config.n_layers; ++l)
      for (LinearKind k : all_linear_kinds) m.set_linear(l, k, std::move(ops[m.index(l, k)]));
    return m;
  }

  const Config& config() const noexcept { return config_; }
  /// The float32 tensors the forward pass reads directly.
  const ModelTensors& tensors() const noexcept { return tensors_; }
  /// The checkpoint the model was built over, or null (Model::load, assemble).
  const std::shared_ptr<const Checkpoint>& checkpoint_ptr() const noexcept { return ckpt_; }
  /// The checkpoint the model was built over. Throws qins::Error (invalid_argument) if none.
  const Checkpoint& checkpoint() const {
    if (!ckpt_)
      throw Error(ErrorKind::invalid_argument, "llama2::Model: not built over a Checkpoint");
    return *ckpt_;
  }

  /// (rows, cols) of a projection: its tensor's shape in checkpoint_tensors (e.g. wk:
  /// kv_dim x dim).
  /// Throws qins::Error (invalid_argument) for a layer out of range or an invalid kind.
  std::pair<std::size_t, std::size_t> shape(int layer, LinearKind kind) const {
    check(layer, kind);
    const TensorInfo& t = tensor_info(tensor_of(kind));
    return {static_cast<std::size_t>(extent(t.rows, config())),
            static_cast<std::size_t>(extent(t.cols, config()))};
  }

  /// The float32 weights of a projection (row-major, shape() of it): the checkpoint's
  /// whatever op is installed, or else those of the installed DenseLinear.
  /// Throws qins::Error (invalid_argument) as shape(), or when neither exists (a model
  /// loaded with converted layers keeps no float32 copy of them).
  const float* dense_weights(int layer, LinearKind kind) const {
    check(layer, kind);
    if (ckpt_) return ckpt_->tensor(tensor_of(kind), layer);
    if (const auto* dense = dynamic_cast<const DenseLinear*>(&linear(layer, kind)))
      return dense->weights();
    throw Error(ErrorKind::invalid_argument,
                "llama2::Model: no float32 weights are kept for a converted layer",
                layer_name(layer, kind));
  }

  /// The op currently used for a projection. Throws qins::Error (invalid_argument) as shape().
  const LinearOp& linear(int layer, LinearKind kind) const { return *ops_[index(layer, kind)]; }
  /// The same, shared.
  const std::shared_ptr<const LinearOp>& linear_ptr(int layer, LinearKind kind) const {
    return ops_[index(layer, kind)];
  }

  /// Replaces the op of one projection (the old one is freed unless shared elsewhere).
  /// Throws qins::Error: invalid_argument for a layer out of range, an invalid kind or a
  /// null op; size_mismatch if op's rows() x cols() differs from shape(layer, kind).
  void set_linear(int layer, LinearKind kind, std::shared_ptr<const LinearOp> op) {
    const std::size_t i = index(layer, kind);
    const std::string name = layer_name(layer, kind);
    if (!op) throw Error(ErrorKind::invalid_argument, "llama2::Model::set_linear: null op", name);
    const auto s = shape(layer, kind);
    if (op->rows() != s.first || op->cols() != s.second) {
      throw Error(ErrorKind::size_mismatch,
                  "llama2::Model::set_linear: op is " + std::to_string(op->rows()) + " x " +
                      std::to_string(op->cols()) + ", the projection is " +
                      std::to_string(s.first) + " x " + std::to_string(s.second),
                  name);
    }
    ops_[i] = std::move(op);
  }

  /// The bytes held, by part (see ModelMemory); the KV cache is a Session's
  /// (kv_cache_bytes()).
  ModelMemory memory() const {
    ModelMemory m;
    const std::size_t dim = static_cast<std::size_t>(config_.dim);
    const std::size_t vocab = static_cast<std::size_t>(config_.vocab_size);
    m.embedding_bytes = vocab * dim * sizeof(float);
    m.norm_bytes = (2 * static_cast<std::size_t>(config_.n_layers) + 1) * dim * sizeof(float);
    m.classifier_bytes = config_.shared_classifier ? 0 : vocab * dim * sizeof(float);
    for (const auto& op : ops_) {
      m.linear_bytes += op->bytes();
      const auto* dense = dynamic_cast<const DenseLinear*>(op.get());
      if (!dense) m.quantized_linear_bytes += op->bytes();
      if (ckpt_ && !(dense && !dense->owns_weights())) m.owned_linear_bytes += op->bytes();
    }
    if (ckpt_) m.shared_checkpoint_bytes = ckpt_->num_floats() * sizeof(float);
    return m;
  }

  /// Bytes of a Session's key/value cache holding `positions` positions.
  std::size_t kv_cache_bytes(std::size_t positions) const noexcept {
    return 2 * positions * static_cast<std::size_t>(config_.n_layers) *
           static_cast<std::size_t>(config_.kv_dim()) * sizeof(float);
  }

 private:
  Model() = default;

  struct OwnedTensors {
    std::vector<float> token_embedding, rms_att_weight, rms_ffn_weight, rms_final_weight, wcls;
  };

  static std::vector<float> allocate(std::uint64_t n, const char* what) {
    try {
      return std::vector<float>(static_cast<std::size_t>(n));
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::io_failure, std::string("llama2::Model: out of memory for ") + what +
                                             " (" + std::to_string(n) + " floats)");
    }
  }

  void check_layer(int layer) const {
    if (layer < 0 || layer >= config().n_layers) {
      throw Error(ErrorKind::invalid_argument, "llama2::Model: layer " + std::to_string(layer) +
                                                   " is out of range [0, " +
                                                   std::to_string(config().n_layers) + ")");
    }
  }
  static Error bad_kind(LinearKind kind) {
    return Error(ErrorKind::invalid_argument, "llama2::Model: invalid LinearKind value " +
                                                  std::to_string(static_cast<int>(kind)));
  }
  // Throws for a layer out of range or a kind outside the enum.
  void check(int layer, LinearKind kind) const {
    check_layer(layer);
    const int k = static_cast<int>(kind);
    if (k < 0 || k >= static_cast<int>(all_linear_kinds.size())) throw bad_kind(kind);
  }
  std::size_t index(int layer, LinearKind kind) const {
    check(layer, kind);
    return static_cast<std::size_t>(layer) * all_linear_kinds.size() +
           static_cast<std::size_t>(kind);
  }

  Config config_;
  ModelTensors tensors_;
  std::shared_ptr<const Checkpoint> ckpt_;
  std::vector<std::shared_ptr<const LinearOp>> ops_;  // [layer][kind]
};

/// The state of one sequence: key/value cache and scratch buffers. Holds a copy of the
/// model's layer table (sharing weights and ops), so it stays valid if the Model object goes
/// away, and later set_linear() calls on that Model do not affect it. The cache grows with
/// the highest position seen. One Session must not be used by two threads at once; distinct
/// Sessions over the same model may run concurrently.
class Session {
 public:
  explicit Session(const Model& model) : model_(model) {
    const Config& c = model_.config();
    dim_ = static_cast<std::size_t>(c.dim);
    hidden_ = static_cast<std::size_t>(c.hidden_dim);
    kv_dim_ = static_cast<std::size_t>(c.kv_dim());
    head_size_ = static_cast<std::size_t>(c.head_size());
    layers_ = static_cast<std::size_t>(c.n_layers);
    n_heads_ = static_cast<std::size_t>(c.n_heads);
    kv_mul_ = static_cast<std::size_t>(c.n_heads / c.n_kv_heads);
    try {
      x_.resize(dim_);
      xb_.resize(dim_);
      xb2_.resize(dim_);
      q_.resize(dim_);
      hb_.resize(hidden_);
      hb2_.resize(hidden_);
      rope_cos_.resize(head_size_ / 2);
      rope_sin_.resize(head_size_ / 2);
      logits_.resize(static_cast<std::size_t>(c.vocab_size));
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::io_failure, "llama2::Session: out of memory for scratch buffers");
    }
  }

  /// Runs the model on `token` at position `pos` and returns the vocab_size logits (valid
  /// until the next call). Positions 0..pos-1 should have been fed before (the cache of a
  /// position never fed is zero); feeding an earlier pos again overwrites from there.
  /// Throws qins::Error (invalid_argument) if token is not in [0, vocab_size) or pos is not
  /// in [0, seq_len); io_failure if the cache cannot grow (out of memory).
  const std::vector<float>& forward(int token, int pos) {
    const Config& c = model_.config();
    if (token < 0 || token >= c.vocab_size) {
      throw Error(ErrorKind::invalid_argument, "llama2::Session::forward: token " +
                                                   std::to_string(token) + " is out of range [0, " +
                                                   std::to_string(c.vocab_size) + ")");
    }
    if (pos < 0 || pos >= c.seq_len) {
      throw Error(ErrorKind::invalid_argument, "llama2::Session::forward: position " +
                                                   std::to_string(pos) + " is out of range [0, " +
                                                   std::to_string(c.seq_len) + ")");
    }
    const std::size_t p = static_cast<std::size_t>(pos);
    grow_cache(p + 1);

    const ModelTensors& w = model_.tensors();
    const std::size_t dim = dim_;
    const float* emb = w.token_embedding + static_cast<std::size_t>(token) * dim;
    for (std::size_t i = 0; i < dim; ++i) x_[i] = emb[i];

    // RoPE angles for this position, one per pair within a head.
    for (std::size_t j = 0; j < head_size_ / 2; ++j) {
      const double freq = std::pow(static_cast<double>(c.rope_theta),
                                   -static_cast<double>(2 * j) / static_cast<double>(head_size_));
      const double angle = static_cast<double>(pos) * freq;
      rope_cos_[j] = static_cast<float>(std::cos(angle));
      rope_sin_[j] = static_cast<float>(std::sin(angle));
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_size_));
    const std::size_t stride = layers_ * kv_dim_;  // cache floats per position

    for (std::size_t l = 0; l < layers_; ++l) {
      rmsnorm(xb_.data(), x_.data(), w.rms_att_weight + l * dim, dim);

      float* k = key_cache_.data() + p * stride + l * kv_dim_;
      float* v = value_cache_.data() + p * stride + l * kv_dim_;
      op(l, LinearKind::wq).forward(xb_.data(), q_.data());
      op(l, LinearKind::wk).forward(xb_.data(), k);
      op(l, LinearKind::wv).forward(xb_.data(), v);
      rotate(q_.data(), n_heads_);
      rotate(k, kv_dim_ / head_size_);

      for (std::size_t h = 0; h < n_heads_; ++h) {
        const float* qh = q_.data() + h * head_size_;
        const std::size_t kv_off = l * kv_dim_ + (h / kv_mul_) * head_size_;
        float max_score = -std::numeric_limits<float>::infinity();
        for (std::size_t t = 0; t <= p; ++t) {
          const float* kt = key_cache_.data() + t * stride + kv_off;
          float s = 0.f;
          for (std::size_t i = 0; i < head_size_; ++i) s += qh[i] * kt[i];
          s *= scale;
          att_[t] = s;
          if (s > max_score) max_score = s;
        }
        float sum = 0.f;
        for (std::size_t t = 0; t <= p; ++t) {
          att_[t] = std::exp(att_[t] - max_score);
          sum += att_[t];
        }
        float* out = xb_.data() + h * head_size_;
        for (std::size_t i = 0; i < head_size_; ++i) out[i] = 0.f;
        for (std::size_t t = 0; t <= p; ++t) {
          const float a = att_[t] / sum;
          const float* vt = value_cache_.data() + t * stride + kv_off;
          for (std::size_t i = 0; i < head_size_; ++i) out[i] += a * vt[i];
        }
      }
      op(l, LinearKind::wo).forward(xb_.data(), xb2_.data());
      for (std::size_t i = 0; i < dim; ++i) x_[i] += xb2_[i];

      rmsnorm(xb_.data(), x_.data(), w.rms_ffn_weight + l * dim, dim);
      op(l, LinearKind::w1).forward(xb_.data(), hb_.data());
      op(l, LinearKind::w3).forward(xb_.data(), hb2_.data());
      for (std::size_t i = 0; i < hidden_; ++i) {
        const float g = hb_[i];
        hb_[i] = g * (1.0f / (1.0f + std::exp(-g))) * hb2_[i];
      }
      op(l, LinearKind::w2).forward(hb_.data(), xb2_.data());
      for (std::size_t i = 0; i < dim; ++i) x_[i] += xb2_[i];
    }

    rmsnorm(xb_.data(), x_.data(), w.rms_final_weight, dim);
    detail::dense_matvec(w.wcls, logits_.size(), dim, xb_.data(), logits_.data());
    return logits_;
  }

  /// Bytes of the key/value cache as it stands (it grows with the highest position fed).
  std::size_t kv_cache_bytes() const noexcept {
    return (key_cache_.size() + value_cache_.size()) * sizeof(float);
  }

  /// The logits of the last forward() call (zeros before the first).
  const std::vector<float>& logits() const noexcept { return logits_; }
  /// The model this session runs (its own copy of the layer table).
  const Model& model() const noexcept { return model_; }

 private:
  const LinearOp& op(std::size_t layer, LinearKind kind) const {
    return model_.linear(static_cast<int>(layer), kind);
  }

  void rmsnorm(float* out, const float* x, const float* w, std::size_t n) const noexcept {
    float ss = 0.f;
    for (std::size_t i = 0; i < n; ++i) ss += x[i] * x[i];
    ss = ss / static_cast<float>(n) + model_.config().norm_eps;
    const float inv = 1.0f / std::sqrt(ss);
    for (std::size_t i = 0; i < n; ++i) out[i] = w[i] * (inv * x[i]);
  }

  // Rotates pairs (2j, 2j+1) of each of `heads` consecutive heads by this position's angles.
  void rotate(float* vec, std::size_t heads) const noexcept {
    for (std::size_t h = 0; h < heads; ++h) {
      float* v = vec + h * head_size_;
      for (std::size_t j = 0; j < head_size_ / 2; ++j) {
        const float a = v[2 * j], b = v[2 * j + 1];
        v[2 * j] = a * rope_cos_[j] - b * rope_sin_[j];
        v[2 * j + 1] = a * rope_sin_[j] + b * rope_cos_[j];
      }
    }
  }

  // Makes room for `positions` positions in the cache (layout [pos][layer][kv_dim]).
  void grow_cache(std::size_t positions) {
    if (att_.size() >= positions) return;
    const std::size_t per_pos = layers_ * kv_dim_;
    if (per_pos != 0 && positions > std::numeric_limits<std::size_t>::max() / per_pos) {
      throw Error(ErrorKind::io_failure, "llama2::Session: KV cache size overflows size_t");
    }
    try {
      key_cache_.resize(positions * per_pos);
      value_cache_.resize(positions * per_pos);
      att_.resize(positions);
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::io_failure, "llama2::Session: out of memory for the KV cache (" +
                                             std::to_string(positions) + " positions)");
    } catch (const std::length_error&) {
      throw Error(ErrorKind::io_failure, "llama2::Session: KV cache too large (" +
                                             std::to_string(positions) + " positions)");
    }
  }

  Model model_;
  std::size_t dim_ = 0, hidden_ = 0, kv_dim_ = 0, head_size_ = 0, layers_ = 0, n_heads_ = 0,
              kv_mul_ = 1;
  std::vector<float> x_, xb_, xb2_, q_, hb_, hb2_, att_, logits_, rope_cos_, rope_sin_;
  std::vector<float> key_cache_, value_cache_;
};

namespace detail {

/// Index of the largest value; the lowest index wins ties (NaN never wins unless first).
inline int argmax(const std::vector<float>& v) noexcept {
  std::size_t best = 0;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[best]) best = i;
  }
  return static_cast<int>(best);
}

inline void check_token(int token, const Config& c, const char* what) {
  if (token < 0 || token >= c.vocab_size) {
    throw Error(ErrorKind::invalid_argument, std::string(what) + " " + std::to_string(token) +
                                                 " is out of range [0, " +
                                                 std::to_string(c.vocab_size) + ")");
  }
}

}  // namespace detail

/// Greedy decoding from `bos` at position 0: feeds each argmax (lowest index on ties) back
/// in, and returns the n_tokens generated ids (not including bos), never stopping early.
/// Throws qins::Error (invalid_argument) if n_tokens < 0, n_tokens > seq_len (bos and all
/// but the last generated token must fit in the context) or bos is not in [0, vocab_size).
inline std::vector<int> generate_greedy(const Model& model, int n_tokens, int bos = 1) {
  const Config& c = model.config();
  if (n_tokens < 0 || n_tokens > c.seq_len) {
    throw Error(ErrorKind::invalid_argument,
                "llama2::generate_greedy: n_tokens " + std::to_string(n_tokens) +
                    " is out of range [0, seq_len = " + std::to_string(c.seq_len) + "]");
  }
  detail::check_token(bos, c, "llama2::generate_greedy: bos token");
  std::vector<int> out;
  out.reserve(static_cast<std::size_t>(n_tokens));
  Session session(model);
  int token = bos;
  for (int pos = 0; pos < n_tokens; ++pos) {
    token = detail::argmax(session.forward(token, pos));
    out.push_back(token);
  }
  return out;
}

/// Generation as llama2.c's run.c does it: feeds prompt[0] (normally BOS) at position 0,
/// then forces the rest of the prompt, then draws up to max_new_tokens tokens from
/// `sampler`, each fed back in. Returns the drawn tokens only. With stop_at_bos (run.c's
/// behaviour) it stops when the model draws BOS (id 1), which is not returned. `on_token`,
/// if given, is called with each drawn token as it is produced (for streaming output).
/// Throws qins::Error (invalid_argument) for an empty prompt, a token out of range,
/// max_new_tokens < 0, or prompt.size() - 1 + max_new_tokens > seq_len (the positions
/// needed).
inline std::vector<int> generate(const Model& model, const std::vector<int>& prompt,
                                 int max_new_tokens, Sampler& sampler, bool stop_at_bos = true,
                                 const std::function<void(int)>& on_token = {}) {
  const Config& c = model.config();
  if (prompt.empty())
    throw Error(ErrorKind::invalid_argument, "llama2::generate: empty prompt (pass at least BOS)");
  for (std::size_t i = 0; i < prompt.size(); ++i)
    detail::check_token(prompt[i], c,
                        ("llama2::generate: prompt[" + std::to_string(i) + "]").c_str());
  const long long needed = static_cast<long long>(prompt.size()) - 1 + max_new_tokens;
  if (max_new_tokens < 0 || needed > c.seq_len) {
    throw Error(ErrorKind::invalid_argument,
                "llama2::generate: " + std::to_string(prompt.size()) + " prompt tokens and " +
                    std::to_string(max_new_tokens) + " new tokens need " + std::to_string(needed) +
                    " positions, the context has " + std::to_string(c.seq_len));
  }
  std::vector<int> out;
  out.reserve(static_cast<std::size_t>(max_new_tokens));
  Session session(model);
  int pos = 0;
  for (std::size_t i = 0; i + 1 < prompt.size(); ++i, ++pos) session.forward(prompt[i], pos);
  int token = prompt.back();
  for (int n = 0; n < max_new_tokens; ++n, ++pos) {
    token = sampler.sample(session.forward(token, pos));
    if (stop_at_bos && token == 1) break;
    out.push_back(token);
    if (on_token) on_token(token);
  }
  return out;
}

/// Teacher forcing: feeds bos, tokens[0], ..., tokens[n-2] at positions 0..n-1 and returns
/// the n logit vectors; element i is the distribution predicting tokens[i].
/// Throws qins::Error (invalid_argument) if tokens.size() > seq_len, or bos or any token
/// (including the last, which is only a target) is not in [0, vocab_size).
inline std::vector<std::vector<float>> teacher_forced_logits(const Model& model,
                                                             const std::vector<int>& tokens,
                                                             int bos = 1) {
  const Config& c = model.config();
  if (tokens.size() > static_cast<std::size_t>(c.seq_len)) {
    throw Error(ErrorKind::invalid_argument,
                "llama2::teacher_forced_logits: " + std::to_string(tokens.size()) +
                    " tokens exceed seq_len " + std::to_string(c.seq_len));
  }
  detail::check_token(bos, c, "llama2::teacher_forced_logits: bos token");
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    detail::check_token(
        tokens[i], c, ("llama2::teacher_forced_logits: tokens[" + std::to_string(i) + "]").c_str());
  }
  std::vector<std::vector<float>> out;
  out.reserve(tokens.size());
  Session session(model);
  int token = bos;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    out.push_back(session.forward(token, static_cast<int>(i)));
    token = tokens[i];
  }
  return out;
}

}  // namespace qins::llama2
