// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Reader for llama2.c's legacy ("version 0") checkpoint format, validating every byte.
//
// File layout (all little-endian, no padding, no alignment requirements):
//
//   offset 0: seven int32 header fields, in this order:
//             dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//             (vocab_size > 0: the classifier shares the token-embedding matrix;
//              vocab_size < 0: a separate classifier `wcls` follows, |vocab_size| rows)
//   offset 28: the float32 tensors of qins::llama2::checkpoint_tensors (tensors.hpp), in
//             its order, row-major, rows = output features: token_embedding (V x dim), then
//             per block rms_att_weight, wq, wk, wv, wo, rms_ffn_weight, w1, w2, w3 (each
//             tensor for all n_layers blocks in turn), rms_final_weight, the two legacy
//             RoPE tables freq_cis_real and freq_cis_imag (skipped, not stored), and wcls
//             (V x dim) only when vocab_size < 0 (V = |vocab_size|). The table gives every
//             shape; the offsets, the sizes and the checks below are derived from it.
//   The file ends exactly there: trailing bytes are an error, like missing ones.
//
// Validation, all of it done on the 28 header bytes and the total size, before any weight
// is allocated or read (every failure throws qins::Error of kind bad_file, with a message
// naming the field and the problem):
//   - a file shorter than the 28-byte header;
//   - the magic 0x616b3432 ("ak42", as a little-endian uint32) of llama2.c's newer
//     version-1/2 exports in the first 4 bytes (also in byte-swapped form);
//   - any header field <= 0, except that vocab_size may be negative (but not 0 or INT_MIN);
//   - any field above its cap (qins::llama2::limits, below): dim <= 2^16,
//     hidden_dim <= 2^18, n_layers <= 2^10, n_heads and n_kv_heads <= 2^16,
//     |vocab_size| <= 2^20, seq_len <= 2^20. The caps are far above any published Llama
//     (Llama-2-70B: dim 8192, hidden 28672, 80 layers; Llama-3: vocab 128256) and keep all
//     size arithmetic small. A file that is no checkpoint at all (a text file, say) fails
//     here, and the message asks "not a llama2.c checkpoint?";
//   - dim not divisible by n_heads, an odd head size, n_kv_heads > n_heads, n_heads not
//     divisible by n_kv_heads;
//   - a total byte count (computed with overflow-checked 64-bit arithmetic) that differs
//     from the file size; the message gives both numbers.
// After loading, every stored weight is checked to be finite (by bit pattern), and the first
// NaN or infinity is reported as ErrorKind::non_finite_value naming the tensor, row and
// column. The legacy RoPE tables are skipped unread: the forward pass recomputes RoPE.
// Every byte is read through qins::detail::ByteReader (qins/detail/byte_reader.hpp), from
// memory or streamed from the file in 64 KiB blocks.
#pragma once

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <new>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "qins/detail/byte_reader.hpp"
#include "qins/error.hpp"
#include "qins/llama2/tensors.hpp"

namespace qins::llama2 {

/// Upper bounds on the header fields. A header above any of them is rejected as implausible
/// before anything is allocated.
namespace limits {
inline constexpr int dim = 1 << 16;         ///< model width
inline constexpr int hidden_dim = 1 << 18;  ///< FFN width
inline constexpr int n_layers = 1 << 10;    ///< transformer blocks
inline constexpr int n_heads = 1 << 16;     ///< query heads, and key/value heads
inline constexpr int vocab_size = 1 << 20;  ///< |vocab_size|
inline constexpr int seq_len = 1 << 20;     ///< context length
}  // namespace limits

struct Checkpoint;

namespace detail {
struct CheckpointAccess;
}  // namespace detail

/// A loaded checkpoint: the validated Config and all stored weights as float32 (the legacy
/// RoPE tables are not kept). Obtained from parse_checkpoint() or read_checkpoint();
/// copyable and movable. The pointers returned by the accessors stay valid as long as the
/// object lives and is not assigned to or moved from.
struct Checkpoint {
 public:
  /// The validated hyper-parameters.
  const Config& config() const noexcept { return config_; }
  /// The source name given to the parser (the path for read_checkpoint()), maybe empty.
  const std::string& source() const noexcept { return source_; }
  /// Number of float32 values held (all tensors except the RoPE tables).
  std::size_t num_floats() const noexcept { return data_.size(); }

  /// The weights of tensor `id` (row-major, tensor_info(id)'s rows x cols), of block `layer`
  /// for a per-layer tensor; `layer` is ignored for a whole-model one. wcls is the token
  /// embedding when the classifier is shared. Throws qins::Error (invalid_argument) for a
  /// layer not in [0, n_layers) of a per-layer tensor, a tensor that is not kept (the RoPE
  /// tables) or an id outside the enum.
  const float* tensor(TensorId id, int layer = 0) const {
    const std::size_t i = static_cast<std::size_t>(id);
    if (i >= tensor_count) {
      throw Error(ErrorKind::invalid_argument, "llama2 checkpoint: invalid TensorId value " +
                                                   std::to_string(static_cast<int>(id)));
    }
    if (!checkpoint_tensors[i].stored) {
      throw Error(ErrorKind::invalid_argument,
                  std::string("llama2 checkpoint: ") + checkpoint_tensors[i].name +
                      " is not kept (the legacy RoPE tables are skipped)");
    }
    if (!checkpoint_tensors[i].per_layer) return data_.data() + offset_[i];
    return layer_ptr(offset_[i], layer_size_[i], layer);
  }
  /// Floats in one block's tensor `id` (the whole tensor for a whole-model one); 0 for a
  /// tensor that is not kept or absent.
  std::size_t tensor_size(TensorId id) const noexcept {
    const std::size_t i = static_cast<std::size_t>(id);
    return i < tensor_count ? layer_size_[i] : 0;
  }

  /// vocab_size x dim.
  const float* token_embedding() const noexcept { return whole(TensorId::token_embedding); }
  /// dim. Throws qins::Error (invalid_argument) if layer is not in [0, n_layers).
  const float* rms_att_weight(int layer) const { return tensor(TensorId::rms_att_weight, layer); }
  /// dim x dim. Throws qins::Error (invalid_argument) if layer is out of range.
  const float* wq(int layer) const { return tensor(TensorId::wq, layer); }
  /// kv_dim x dim. Throws qins::Error (invalid_argument) if layer is out of range.
  const float* wk(int layer) const { return tensor(TensorId::wk, layer); }
  /// kv_dim x dim. Throws qins::Error (invalid_argument) if layer is out of range.
  const float* wv(int layer) const { return tensor(TensorId::wv, layer); }
  /// dim x dim. Throws qins::Error (invalid_argument) if layer is out of range.
  const float* wo(int layer) const { return tensor(TensorId::wo, layer); }
  /// dim. Throws qins::Error (invalid_argument) if layer is out of range.
  const float* rms_ffn_weight(int layer) const { return tensor(TensorId::rms_ffn_weight, layer); }
  /// hidden_dim x dim (gate). Throws qins::Error (invalid_argument) if layer is out of range.
  const float* w1(int layer) const { return tensor(TensorId::w1, layer); }
  /// dim x hidden_dim (down). Throws qins::Error (invalid_argument) if layer is out of range.
  const float* w2(int layer) const { return tensor(TensorId::w2, layer); }
  /// hidden_dim x dim (up). Throws qins::Error (invalid_argument) if layer is out of range.
  const float* w3(int layer) const { return tensor(TensorId::w3, layer); }
  /// dim.
  const float* rms_final_weight() const noexcept { return whole(TensorId::rms_final_weight); }
  /// vocab_size x dim; the same pointer as token_embedding() when the classifier is shared.
  const float* wcls() const noexcept { return whole(TensorId::wcls); }

 private:
  friend struct detail::CheckpointAccess;
  Checkpoint() = default;

  const float* whole(TensorId id) const noexcept {
    return data_.data() + offset_[static_cast<std::size_t>(id)];
  }
  const float* layer_ptr(std::size_t offset, std::size_t layer_size, int layer) const {
    if (layer < 0 || layer >= config_.n_layers) {
      throw Error(ErrorKind::invalid_argument, "llama2 checkpoint: layer " + std::to_string(layer) +
                                                   " is out of range [0, " +
                                                   std::to_string(config_.n_layers) + ")");
    }
    return data_.data() + offset + static_cast<std::size_t>(layer) * layer_size;
  }

  Config config_;
  std::string source_;
  std::vector<float> data_;
  std::array<std::size_t, tensor_count> offset_{};      // first float of each tensor in data_
  std::array<std::size_t, tensor_count> layer_size_{};  // floats per block (or whole tensor)
};

namespace detail {

inline constexpr std::size_t header_bytes = 28;
/// llama2.c's version-1/2 export magic, "ak42", written as a little-endian uint32.
inline constexpr std::uint32_t export_magic = 0x616b3432u;
/// The same four bytes read the other way round (a byte-swapped export).
inline constexpr std::uint32_t export_magic_swapped = 0x32346b61u;

/// "llama2.c checkpoint" or "llama2.c checkpoint 'name'", the prefix of every message.
inline std::string describe_source(const std::string& source) {
  return source.empty() ? std::string("llama2.c checkpoint")
                        : "llama2.c checkpoint '" + source + "'";
}

/// Where one tensor of checkpoint_tensors lies in the file and in Checkpoint's data.
struct TensorPlacement {
  bool present = false;             ///< false: wcls of a file with a shared classifier
  std::uint64_t layer_floats = 0;   ///< rows * cols
  std::uint64_t floats = 0;         ///< layer_floats times n_layers for a per-layer tensor
  std::uint64_t file_offset = 0;    ///< of its first byte
  std::uint64_t stored_offset = 0;  ///< of its first float in the data (if kept)
};

/// Every tensor's placement and the totals, derived from a valid header.
struct Layout {
  std::array<TensorPlacement, tensor_count> tensors{};
  std::uint64_t stored_floats = 0;  ///< everything except the two RoPE tables
  std::uint64_t file_bytes = 0;     ///< header + all tensors
};

/// The placement of checkpoint_tensors in a file with header `c`, with overflow-checked
/// 64-bit arithmetic (failing through `reader`).
inline Layout layout_of(const Config& c, const qins::detail::ByteReader& reader) {
  constexpr const char* what = "the size implied by the header";
  Layout l;
  std::uint64_t file_offset = header_bytes, stored = 0;
  for (const TensorInfo& t : checkpoint_tensors) {
    TensorPlacement& p = l.tensors[static_cast<std::size_t>(t.id)];
    p.present = !t.separate_classifier_only || !c.shared_classifier;
    if (!p.present) continue;
    p.layer_floats = reader.checked_mul(extent(t.rows, c), extent(t.cols, c), what);
    p.floats = t.per_layer ? reader.checked_mul(static_cast<std::uint64_t>(c.n_layers),
                                                p.layer_floats, what)
                           : p.layer_floats;
    p.file_offset = file_offset;
    file_offset = reader.checked_add(file_offset, reader.checked_mul(p.floats, 4, what), what);
    if (t.stored) {
      p.stored_offset = stored;
      stored = reader.checked_add(stored, p.floats, what);
    }
  }
  l.stored_floats = stored;
  l.file_bytes = file_offset;
  return l;
}

/// The checks of a Config beyond its fields' signs and caps: heads that divide the width
/// into an even head size, key/value heads that divide the heads. Calls fail(problem)
/// (which must throw) for the first that does not hold.
template <class Fail>
void check_config_shape(const Config& c, Fail&& fail) {
  if (c.dim % c.n_heads != 0) {
    fail("dim (" + std::to_string(c.dim) + ") is not divisible by n_heads (" +
         std::to_string(c.n_heads) + ")");
  }
  if (c.head_size() % 2 != 0) {
    fail("head size dim / n_heads = " + std::to_string(c.dim) + " / " + std::to_string(c.n_heads) +
         " = " + std::to_string(c.head_size()) + " is odd (rotary embedding rotates pairs)");
  }
  if (c.n_kv_heads > c.n_heads) {
    fail("n_kv_heads (" + std::to_string(c.n_kv_heads) + ") exceeds n_heads (" +
         std::to_string(c.n_heads) + ")");
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    fail("n_heads (" + std::to_string(c.n_heads) + ") is not divisible by n_kv_heads (" +
         std::to_string(c.n_kv_heads) + ")");
  }
}

/// Reads and validates the 28-byte header from `reader` against the size of the whole
/// file (reader.size()). Reads nothing beyond the header. Throws qins::Error (bad_file)
/// on any problem.
inline Config validate_header(qins::detail::ByteReader& reader, Layout& layout) {
  const std::uint64_t file_size = reader.size();
  const qins::detail::ByteRecord header = reader.record(
      static_cast<std::size_t>(std::min<std::uint64_t>(file_size, header_bytes)), "header");
  if (header.size() >= 4) {
    const std::uint32_t magic = header.u32_at(0, "magic");
    if (magic == export_magic || magic == export_magic_swapped) {
      std::string message = "not a legacy llama2.c checkpoint (version-1/2 export with magic ak42)";
      if (magic == export_magic_swapped) message += ", byte-swapped";
      if (header.size() >= 8) {
        message += "; its version field is " + std::to_string(header.i32_at(4, "version"));
      }
      message += "; re-export it in the legacy format (llama2.c export.py --version 0)";
      reader.fail(message);
    }
  }
  if (file_size < header_bytes) {
    reader.fail("file is shorter than the 28-byte header (" + std::to_string(file_size) +
                " bytes)");
  }

  static constexpr const char* names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                           "n_kv_heads", "vocab_size", "seq_len"};
  static constexpr int caps[7] = {limits::dim,     limits::hidden_dim, limits::n_layers,
                                  limits::n_heads, limits::n_heads,    limits::vocab_size,
                                  limits::seq_len};
  constexpr int vocab_index = 5;
  std::int32_t field[7];
  for (int i = 0; i < 7; ++i) field[i] = header.i32_at(4 * static_cast<std::size_t>(i), names[i]);

  for (int i = 0; i < 7; ++i) {
    const std::string name = std::string("header field '") + names[i] + "'";
    const std::int32_t v = field[i];
    if (i == vocab_index) {
      if (v == 0) {
        reader.fail(name + " must be nonzero (its sign selects a shared classifier), got 0");
      }
      if (v == INT_MIN) {
        reader.fail(name + " is INT_MIN (" + std::to_string(v) +
                    "): its magnitude is not representable");
      }
    } else if (v <= 0) {
      reader.fail(name + " must be positive, got " + std::to_string(v));
    }
  }
  for (int i = 0; i < 7; ++i) {
    const std::int32_t magnitude = field[i] < 0 ? -field[i] : field[i];  // INT_MIN excluded
    if (magnitude > caps[i]) {
      // Text, or any other file that is not a checkpoint, usually fails here first.
      reader.fail(std::string("header field '") + names[i] + "' = " + std::to_string(field[i]) +
                  " exceeds the cap of " + std::to_string(caps[i]) +
                  (i == vocab_index ? " in magnitude" : "") +
                  " (implausible size; not a llama2.c checkpoint?)");
    }
  }

  Config c;
  c.dim = field[0];
  c.hidden_dim = field[1];
  c.n_layers = field[2];
  c.n_heads = field[3];
  c.n_kv_heads = field[4];
  c.shared_classifier = field[5] > 0;
  c.vocab_size = field[5] > 0 ? field[5] : -field[5];
  c.seq_len = field[6];

  check_config_shape(c, [&](const std::string& problem) { reader.fail(problem); });

  const Layout l = layout_of(c, reader);
  if (l.file_bytes != file_size) {
    const bool truncated = file_size < l.file_bytes;
    const std::uint64_t diff = truncated ? l.file_bytes - file_size : file_size - l.file_bytes;
    const std::string count = std::to_string(diff) + (diff == 1 ? " byte" : " bytes");
    const std::string detail =
        truncated ? "truncated, " + count + " missing" : count + " of unexpected trailing data";
    reader.fail("file size does not match the header: the header implies " +
                std::to_string(l.file_bytes) + " bytes, the file has " + std::to_string(file_size) +
                " bytes (" + detail + ")");
  }
  if (l.stored_floats > std::vector<float>().max_size()) {
    reader.fail("the weights (" + std::to_string(l.stored_floats) +
                " floats) do not fit in this platform's address space");
  }
  layout = l;
  return c;
}

/// Throws non_finite_value for the first NaN or infinity of tensor `t` (its weights at `p`)
/// in a file with header `c`, naming the tensor (the block's name for a per-layer one), the
/// row and the column (no row for a vector).
inline void check_finite(const float* p, const TensorInfo& t, const Config& c,
                         const qins::detail::ByteReader& reader) {
  const std::size_t cols = static_cast<std::size_t>(extent(t.cols, c));
  const std::size_t size = static_cast<std::size_t>(extent(t.rows, c)) * cols;  // validated
  const int blocks = t.per_layer ? c.n_layers : 1;
  for (int b = 0; b < blocks; ++b) {
    const std::size_t i =
        qins::detail::find_non_finite(p + static_cast<std::size_t>(b) * size, size);
    if (i == size) continue;
    throw Error(ErrorKind::non_finite_value, reader.with_source("non-finite weight"),
                tensor_name(t.id, b), t.rows == Dim::one ? Error::npos : i / cols, i % cols);
  }
}

struct CheckpointAccess {
  static Checkpoint build(qins::detail::ByteReader& reader, const Config& c, const Layout& l,
                          const std::string& source) {
    Checkpoint ck;
    ck.config_ = c;
    ck.source_ = source;
    const std::size_t total = static_cast<std::size_t>(l.stored_floats);
    try {
      ck.data_.resize(total);
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::io_failure,
                  reader.with_source("out of memory allocating " + std::to_string(total) +
                                     " floats of weights"));
    }
    float* base = ck.data_.data();
    for (const TensorInfo& t : checkpoint_tensors) {
      const std::size_t i = static_cast<std::size_t>(t.id);
      const TensorPlacement& p = l.tensors[i];
      if (!p.present) continue;
      if (t.stored) {
        reader.read_floats(base + p.stored_offset, p.floats, tensor_name(t.id));
        ck.offset_[i] = static_cast<std::size_t>(p.stored_offset);
        ck.layer_size_[i] = static_cast<std::size_t>(p.layer_floats);
      } else {
        reader.skip(p.floats * 4, tensor_name(t.id));  // the forward pass recomputes RoPE
      }
    }
    if (c.shared_classifier) {
      const std::size_t shared = static_cast<std::size_t>(TensorId::token_embedding);
      ck.offset_[static_cast<std::size_t>(TensorId::wcls)] = ck.offset_[shared];
      ck.layer_size_[static_cast<std::size_t>(TensorId::wcls)] = ck.layer_size_[shared];
    }
    for (const TensorInfo& t : checkpoint_tensors) {
      const TensorPlacement& p = l.tensors[static_cast<std::size_t>(t.id)];
      if (p.present && t.stored) check_finite(base + p.stored_offset, t, c, reader);
    }
    return ck;
  }
};

/// Opens `path` for reading once, front to back, and gives its size. Throws qins::Error
/// (io_failure), worded as `where` + ": ...", if the path does not exist, is a directory
/// ("is a directory, not a <what> file"), or cannot be opened or sized.
inline std::ifstream open_model_file(const std::string& path, const std::string& where,
                                     const char* what, std::uint64_t& size) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    throw Error(ErrorKind::io_failure, where + ": no such file");
  }
  if (status.type() == std::filesystem::file_type::directory) {
    throw Error(ErrorKind::io_failure, where + ": is a directory, not a " + what + " file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::io_failure, where + ": cannot open the file for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (!in || end < 0) {
    throw Error(ErrorKind::io_failure, where + ": cannot determine the file size");
  }
  in.seekg(0, std::ios::beg);
  if (!in) throw Error(ErrorKind::io_failure, where + ": seek error");
  size = static_cast<std::uint64_t>(end);
  return in;
}

/// Validates the header, then reads the weights: the one parser behind both entry points.
inline Checkpoint parse_checkpoint_from(qins::detail::ByteReader& reader,
                                        const std::string& source) {
  Layout layout;
  const Config config = validate_header(reader, layout);
  return CheckpointAccess::build(reader, config, layout, source);
}

}  // namespace detail

/// Parses a legacy llama2.c checkpoint held in memory (`size` bytes at `data`). Pure: reads
/// only [data, data + size) and validates the header and total size before allocating.
/// `source` names the data in error messages (e.g. a path); it may be empty.
/// Throws qins::Error: bad_file for a truncated, oversized, corrupt or newer-format file
/// (see the list at the top of this header); non_finite_value for a NaN or infinite weight;
/// invalid_argument if data is null while size > 0; io_failure if memory runs out.
inline Checkpoint parse_checkpoint(const unsigned char* data, std::size_t size,
                                   const std::string& source = "") {
  qins::detail::ByteReader reader(data, size, detail::describe_source(source));
  return detail::parse_checkpoint_from(reader, source);
}

/// Reads and parses a legacy llama2.c checkpoint file, streaming it. The header and the
/// file size are validated before the weights are allocated or read.
/// Throws qins::Error: io_failure if the path does not exist, is a directory (said so), or
/// the file cannot be opened, sized or read (or memory runs out); otherwise as
/// parse_checkpoint().
inline Checkpoint read_checkpoint(const std::string& path) {
  const std::string where = detail::describe_source(path);
  std::uint64_t size = 0;
  std::ifstream in = detail::open_model_file(path, where, "checkpoint", size);
  qins::detail::ByteReader reader(in, size, where);
  return detail::parse_checkpoint_from(reader, path);
}

}  // namespace qins::llama2
