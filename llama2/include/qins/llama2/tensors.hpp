// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The llama2.c model's tensors, listed once: names, shapes, file order, and the names of their
// layers.
//
// checkpoint_tensors below is the one description of what a llama2.c checkpoint holds, in
// file order. The checkpoint reader derives from it the offsets, the sizes, the total-size
// check and the finiteness checks; Model derives its projection shapes and weights; every
// tensor name in messages, reports and tests comes from tensor_name() / layer_name().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace qins::llama2 {

/// The model hyper-parameters from a checkpoint header. Every field of a Config returned by
/// the reader is validated: all positive, dim % n_heads == 0, even head size,
/// n_heads % n_kv_heads == 0, all within qins::llama2::limits.
struct Config {
  int dim = 0;
  int hidden_dim = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int vocab_size = 0;  ///< always positive here; the file's sign is in shared_classifier
  int seq_len = 0;
  bool shared_classifier = true;  ///< true: logits = token_embedding x (no wcls in the file)
  float norm_eps = 1e-5f;         ///< RMSNorm's epsilon (llama2.c: 1e-5; HF: rms_norm_eps)
  float rope_theta = 10000.0f;    ///< RoPE's base (llama2.c: 10000; HF: rope_theta)

  /// dim / n_heads (0 when n_heads is not positive).
  constexpr int head_size() const noexcept { return n_heads > 0 ? dim / n_heads : 0; }
  /// Width of the key and value projections: head_size * n_kv_heads.
  constexpr int kv_dim() const noexcept { return head_size() * n_kv_heads; }
};

/// The seven linear projections of a llama block.
enum class LinearKind { wq, wk, wv, wo, w1, w2, w3 };

/// All LinearKind values, in file order.
inline constexpr std::array<LinearKind, 7> all_linear_kinds = {
    LinearKind::wq, LinearKind::wk, LinearKind::wv, LinearKind::wo,
    LinearKind::w1, LinearKind::w2, LinearKind::w3};

/// A dimension of the model, as the row or column count of a tensor.
enum class Dim {
  vocab,      ///< vocab_size
  dim,        ///< dim
  kv_dim,     ///< head_size * n_kv_heads
  hidden,     ///< hidden_dim
  seq,        ///< seq_len
  half_head,  ///< head_size / 2
  one,        ///< 1: as rows, the tensor is a vector
};

/// The count `e` stands for in `config`.
inline constexpr std::uint64_t extent(Dim e, const Config& config) noexcept {
  switch (e) {
    case Dim::vocab:
      return static_cast<std::uint64_t>(config.vocab_size);
    case Dim::dim:
      return static_cast<std::uint64_t>(config.dim);
    case Dim::kv_dim:
      return static_cast<std::uint64_t>(config.kv_dim());
    case Dim::hidden:
      return static_cast<std::uint64_t>(config.hidden_dim);
    case Dim::seq:
      return static_cast<std::uint64_t>(config.seq_len);
    case Dim::half_head:
      return static_cast<std::uint64_t>(config.head_size() / 2);
    case Dim::one:
      return 1;
  }
  return 0;
}

/// The tensors of a llama2.c checkpoint, in file order (the index of each in
/// checkpoint_tensors).
enum class TensorId {
  token_embedding,
  rms_att_weight,
  wq,
  wk,
  wv,
  wo,
  rms_ffn_weight,
  w1,
  w2,
  w3,
  rms_final_weight,
  freq_cis_real,
  freq_cis_imag,
  wcls,
};

/// One tensor of the file: a rows x cols float32 matrix, row-major (rows = output features),
/// or n_layers of them one after the other.
struct TensorInfo {
  TensorId id;
  const char* name;  ///< as in llama2.c's run.c; per-layer ones are named "layers.<l>.<name>"
  Dim rows;          ///< Dim::one: a vector of cols values (messages give no row)
  Dim cols;
  bool per_layer;                    ///< one per transformer block, stacked in block order
  bool stored;                       ///< false: read past and not kept (the legacy RoPE tables)
  bool separate_classifier_only;     ///< present only when the file's vocab_size < 0 (wcls)
  std::optional<LinearKind> linear;  ///< the projection it holds, for the linear layers
};

/// What a legacy llama2.c checkpoint holds after its 28-byte header, in file order.
// clang-format off: one row per tensor
inline constexpr std::array<TensorInfo, 14> checkpoint_tensors = {{
    // {id, name, rows, cols, per_layer, stored, separate_classifier_only, linear}
    {TensorId::token_embedding, "token_embedding", Dim::vocab, Dim::dim, false, true, false, {}},
    {TensorId::rms_att_weight, "rms_att_weight", Dim::one, Dim::dim, true, true, false, {}},
    {TensorId::wq, "wq", Dim::dim, Dim::dim, true, true, false, LinearKind::wq},
    {TensorId::wk, "wk", Dim::kv_dim, Dim::dim, true, true, false, LinearKind::wk},
    {TensorId::wv, "wv", Dim::kv_dim, Dim::dim, true, true, false, LinearKind::wv},
    {TensorId::wo, "wo", Dim::dim, Dim::dim, true, true, false, LinearKind::wo},
    {TensorId::rms_ffn_weight, "rms_ffn_weight", Dim::one, Dim::dim, true, true, false, {}},
    {TensorId::w1, "w1", Dim::hidden, Dim::dim, true, true, false, LinearKind::w1},  // gate
    {TensorId::w2, "w2", Dim::dim, Dim::hidden, true, true, false, LinearKind::w2},  // down
    {TensorId::w3, "w3", Dim::hidden, Dim::dim, true, true, false, LinearKind::w3},  // up
    {TensorId::rms_final_weight, "rms_final_weight", Dim::one, Dim::dim, false, true, false, {}},
    {TensorId::freq_cis_real, "freq_cis_real", Dim::seq, Dim::half_head, false, false, false, {}},
    {TensorId::freq_cis_imag, "freq_cis_imag", Dim::seq, Dim::half_head, false, false, false, {}},
    {TensorId::wcls, "wcls", Dim::vocab, Dim::dim, false, true, true, {}},
}};
// clang-format on

/// Number of rows of checkpoint_tensors.
inline constexpr std::size_t tensor_count = checkpoint_tensors.size();

namespace detail {

// "layers.<layer>.<name>": the name of a per-layer tensor, built here only.
inline std::string per_layer_name(int layer, const char* name) {
  return "layers." + std::to_string(layer) + "." + name;
}

// The table is indexed by TensorId, and holds each LinearKind once, in all_linear_kinds order.
inline constexpr bool tensor_table_is_consistent() noexcept {
  std::size_t next_kind = 0;
  for (std::size_t i = 0; i < tensor_count; ++i) {
    const TensorInfo& t = checkpoint_tensors[i];
    if (static_cast<std::size_t>(t.id) != i) return false;
    if (t.linear) {
      if (next_kind >= all_linear_kinds.size() || *t.linear != all_linear_kinds[next_kind])
        return false;
      if (!t.per_layer || !t.stored || t.rows == Dim::one) return false;
      ++next_kind;
    }
  }
  return next_kind == all_linear_kinds.size();
}
static_assert(tensor_table_is_consistent(),
              "checkpoint_tensors: rows out of TensorId or LinearKind order");

}  // namespace detail

/// The row of checkpoint_tensors for `id` (the table is indexed by TensorId).
inline constexpr const TensorInfo& tensor_info(TensorId id) noexcept {
  return checkpoint_tensors[static_cast<std::size_t>(id)];
}

/// The tensor holding projection `kind`; TensorId::wq for a value outside the enum.
inline constexpr TensorId tensor_of(LinearKind kind) noexcept {
  for (const TensorInfo& t : checkpoint_tensors) {
    if (t.linear && *t.linear == kind) return t.id;
  }
  return TensorId::wq;
}

/// "wq", "wk", "wv", "wo", "w1", "w2", "w3"; "unknown" for a value outside the enum.
inline const char* to_string(LinearKind kind) noexcept {
  for (const TensorInfo& t : checkpoint_tensors) {
    if (t.linear && *t.linear == kind) return t.name;
  }
  return "unknown";
}

/// The name of tensor `id` in messages and reports: "layers.<layer>.<name>" for a per-layer
/// tensor (e.g. "layers.2.rms_ffn_weight"), its plain name (e.g. "token_embedding") for a
/// whole-model one, whose `layer` is ignored. Does not check `layer`.
inline std::string tensor_name(TensorId id, int layer = 0) {
  const TensorInfo& t = tensor_info(id);
  return t.per_layer ? detail::per_layer_name(layer, t.name) : std::string(t.name);
}

/// The name of projection `kind` of block `layer`: "layers.<layer>.<kind>", e.g.
/// "layers.3.wq" (the tensor_name() of its tensor). Does not check `layer`.
inline std::string layer_name(int layer, LinearKind kind) {
  return detail::per_layer_name(layer, to_string(kind));
}

}  // namespace qins::llama2
