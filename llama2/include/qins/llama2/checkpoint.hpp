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
//   offset 28: float32 tensors, row-major, rows = output features, in this order
//             (head_size = dim / n_heads, kv_dim = head_size * n_kv_heads, V = |vocab_size|):
//       token_embedding   V x dim
//       rms_att_weight    n_layers x dim
//       wq                n_layers x dim x dim
//       wk                n_layers x kv_dim x dim
//       wv                n_layers x kv_dim x dim
//       wo                n_layers x dim x dim
//       rms_ffn_weight    n_layers x dim
//       w1 (gate)         n_layers x hidden_dim x dim
//       w2 (down)         n_layers x dim x hidden_dim
//       w3 (up)           n_layers x hidden_dim x dim
//       rms_final_weight  dim
//       freq_cis_real     seq_len x head_size / 2   (legacy RoPE table: skipped, not stored)
//       freq_cis_imag     seq_len x head_size / 2   (legacy RoPE table: skipped, not stored)
//       wcls              V x dim                   (only when vocab_size < 0)
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
//     size arithmetic small;
//   - dim not divisible by n_heads, an odd head size, n_kv_heads > n_heads, n_heads not
//     divisible by n_kv_heads;
//   - a total byte count (computed with overflow-checked 64-bit arithmetic) that differs
//     from the file size; the message gives both numbers.
// After loading, every stored weight is checked to be finite (by bit pattern), and the first
// NaN or infinity is reported as ErrorKind::non_finite_value naming the tensor, row and
// column. The legacy RoPE tables are skipped unread: the forward pass recomputes RoPE.
#pragma once

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <istream>
#include <limits>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "qins/error.hpp"

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

  /// dim / n_heads (0 when n_heads is not positive).
  int head_size() const noexcept { return n_heads > 0 ? dim / n_heads : 0; }
  /// Width of the key and value projections: head_size * n_kv_heads.
  int kv_dim() const noexcept { return head_size() * n_kv_heads; }
};

struct Checkpoint;

namespace detail {
struct CheckpointAccess;
}  // namespace detail

/// A loaded checkpoint: the validated Config and all weights as float32 (the legacy RoPE
/// tables are not kept). Obtained from parse_checkpoint() or read_checkpoint(); copyable
/// and movable. The pointers returned by the accessors stay valid as long as the object
/// lives and is not assigned to or moved from.
struct Checkpoint {
 public:
  /// The validated hyper-parameters.
  const Config& config() const noexcept { return config_; }
  /// The source name given to the parser (the path for read_checkpoint()), maybe empty.
  const std::string& source() const noexcept { return source_; }
  /// Number of float32 values held (all tensors except the RoPE tables).
  std::size_t num_floats() const noexcept { return data_.size(); }

  /// vocab_size x dim.
  const float* token_embedding() const noexcept { return data_.data() + off_token_embedding_; }
  /// dim. Throws qins::Error (invalid_argument) if layer is not in [0, n_layers).
  const float* rms_att_weight(int layer) const { return layer_ptr(off_rms_att_, dim_, layer); }
  /// dim x dim. Throws qins::Error (invalid_argument) if layer is out of range.
  const float* wq(int layer) const { return layer_ptr(off_wq_, dim_ * dim_, layer); }
  /// kv_dim x dim. Throws qins::Error (invalid_argument) if layer is out of range.
  const float* wk(int layer) const { return layer_ptr(off_wk_, kv_dim_ * dim_, layer); }
  /// kv_dim x dim. Throws qins::Error (invalid_argument) if layer is out of range.
  const float* wv(int layer) const { return layer_ptr(off_wv_, kv_dim_ * dim_, layer); }
  /// dim x dim. Throws qins::Error (invalid_argument) if layer is out of range.
  const float* wo(int layer) const { return layer_ptr(off_wo_, dim_ * dim_, layer); }
  /// dim. Throws qins::Error (invalid_argument) if layer is out of range.
  const float* rms_ffn_weight(int layer) const { return layer_ptr(off_rms_ffn_, dim_, layer); }
  /// hidden_dim x dim (gate). Throws qins::Error (invalid_argument) if layer is out of range.
  const float* w1(int layer) const { return layer_ptr(off_w1_, hidden_ * dim_, layer); }
  /// dim x hidden_dim (down). Throws qins::Error (invalid_argument) if layer is out of range.
  const float* w2(int layer) const { return layer_ptr(off_w2_, dim_ * hidden_, layer); }
  /// hidden_dim x dim (up). Throws qins::Error (invalid_argument) if layer is out of range.
  const float* w3(int layer) const { return layer_ptr(off_w3_, hidden_ * dim_, layer); }
  /// dim.
  const float* rms_final_weight() const noexcept { return data_.data() + off_rms_final_; }
  /// vocab_size x dim; the same pointer as token_embedding() when the classifier is shared.
  const float* wcls() const noexcept { return data_.data() + off_wcls_; }

 private:
  friend struct detail::CheckpointAccess;
  Checkpoint() = default;

  const float* layer_ptr(std::size_t offset, std::size_t layer_size, int layer) const {
    if (layer < 0 || layer >= config_.n_layers) {
      throw Error(ErrorKind::invalid_argument,
                  "llama2 checkpoint: layer " + std::to_string(layer) + " is out of range [0, " +
                      std::to_string(config_.n_layers) + ")");
    }
    return data_.data() + offset + static_cast<std::size_t>(layer) * layer_size;
  }

  Config config_;
  std::string source_;
  std::vector<float> data_;
  std::size_t dim_ = 0, kv_dim_ = 0, hidden_ = 0;
  std::size_t off_token_embedding_ = 0, off_rms_att_ = 0, off_wq_ = 0, off_wk_ = 0, off_wv_ = 0,
              off_wo_ = 0, off_rms_ffn_ = 0, off_w1_ = 0, off_w2_ = 0, off_w3_ = 0,
              off_rms_final_ = 0, off_wcls_ = 0;
};

namespace detail {

inline constexpr std::size_t header_bytes = 28;
/// llama2.c's version-1/2 export magic, "ak42", written as a little-endian uint32.
inline constexpr std::uint32_t export_magic = 0x616b3432u;
/// The same four bytes read the other way round (a byte-swapped export).
inline constexpr std::uint32_t export_magic_swapped = 0x32346b61u;

inline std::uint32_t load_u32_le(const unsigned char* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

inline std::int32_t load_i32_le(const unsigned char* p) noexcept {
  const std::uint32_t u = load_u32_le(p);
  std::int32_t v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

inline float load_f32_le(const unsigned char* p) noexcept {
  const std::uint32_t u = load_u32_le(p);
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

inline bool is_finite_f32(float x) noexcept {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return (u & 0x7f800000u) != 0x7f800000u;
}

/// "llama2.c checkpoint" or "llama2.c checkpoint 'name'", the prefix of every message.
inline std::string describe_source(const std::string& source) {
  return source.empty() ? std::string("llama2.c checkpoint")
                        : "llama2.c checkpoint '" + source + "'";
}

[[noreturn]] inline void fail_file(const std::string& where, const std::string& message) {
  throw Error(ErrorKind::bad_file, where + ": " + message);
}

/// Overflow-checked a * b + c on uint64 for the size computation.
inline std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, const std::string& where) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) {
    fail_file(where, "the size implied by the header overflows 64-bit arithmetic");
  }
  return a * b;
}
inline std::uint64_t checked_add(std::uint64_t a, std::uint64_t b, const std::string& where) {
  if (b > std::numeric_limits<std::uint64_t>::max() - a) {
    fail_file(where, "the size implied by the header overflows 64-bit arithmetic");
  }
  return a + b;
}

/// Element counts of every tensor, and the total file size, derived from a valid header.
struct Layout {
  std::uint64_t token_embedding = 0, rms_att = 0, wq = 0, wk = 0, wv = 0, wo = 0, rms_ffn = 0,
                w1 = 0, w2 = 0, w3 = 0, rms_final = 0, freq_cis = 0, wcls = 0;
  std::uint64_t stored_floats = 0;  ///< everything except the two RoPE tables
  std::uint64_t file_bytes = 0;     ///< header + all tensors
};

/// Validates the header in `bytes` (of which `available` bytes are readable; at least 28
/// unless the file is shorter) against the total file size. Reads nothing beyond
/// min(available, 28) bytes. Throws qins::Error (bad_file) on any problem.
inline Config validate_header(const unsigned char* bytes, std::size_t available,
                              std::uint64_t file_size, const std::string& where,
                              Layout& layout) {
  if (available >= 4) {
    const std::uint32_t magic = load_u32_le(bytes);
    if (magic == export_magic || magic == export_magic_swapped) {
      std::string message =
          "not a legacy llama2.c checkpoint (version-1/2 export with magic ak42)";
      if (magic == export_magic_swapped) message += ", byte-swapped";
      if (available >= 8) {
        message += "; its version field is " + std::to_string(load_i32_le(bytes + 4));
      }
      message += "; re-export it in the legacy format (llama2.c export.py --version 0)";
      fail_file(where, message);
    }
  }
  if (file_size < header_bytes) {
    fail_file(where, "file is shorter than the 28-byte header (" + std::to_string(file_size) +
                         " bytes)");
  }
  if (available < header_bytes) {
    fail_file(where, "internal error: header bytes not available");
  }

  static constexpr const char* names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                           "n_kv_heads", "vocab_size", "seq_len"};
  static constexpr int caps[7] = {limits::dim,     limits::hidden_dim, limits::n_layers,
                                  limits::n_heads, limits::n_heads,    limits::vocab_size,
                                  limits::seq_len};
  constexpr int vocab_index = 5;
  std::int32_t field[7];
  for (int i = 0; i < 7; ++i) field[i] = load_i32_le(bytes + 4 * i);

  for (int i = 0; i < 7; ++i) {
    const std::string name = std::string("header field '") + names[i] + "'";
    const std::int32_t v = field[i];
    if (i == vocab_index) {
      if (v == 0) {
        fail_file(where, name + " must be nonzero (its sign selects a shared classifier), got 0");
      }
      if (v == INT_MIN) {
        fail_file(where, name + " is INT_MIN (" + std::to_string(v) +
                             "): its magnitude is not representable");
      }
    } else if (v <= 0) {
      fail_file(where, name + " must be positive, got " + std::to_string(v));
    }
  }
  for (int i = 0; i < 7; ++i) {
    const std::int32_t magnitude = field[i] < 0 ? -field[i] : field[i];  // INT_MIN excluded
    if (magnitude > caps[i]) {
      fail_file(where, std::string("header field '") + names[i] + "' = " +
                           std::to_string(field[i]) + " exceeds the cap of " +
                           std::to_string(caps[i]) +
                           (i == vocab_index ? " in magnitude" : "") +
                           " (implausible size; see qins::llama2::limits)");
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

  if (c.dim % c.n_heads != 0) {
    fail_file(where, "dim (" + std::to_string(c.dim) + ") is not divisible by n_heads (" +
                         std::to_string(c.n_heads) + ")");
  }
  if (c.head_size() % 2 != 0) {
    fail_file(where, "head size dim / n_heads = " + std::to_string(c.dim) + " / " +
                         std::to_string(c.n_heads) + " = " + std::to_string(c.head_size()) +
                         " is odd (rotary embedding rotates pairs)");
  }
  if (c.n_kv_heads > c.n_heads) {
    fail_file(where, "n_kv_heads (" + std::to_string(c.n_kv_heads) + ") exceeds n_heads (" +
                         std::to_string(c.n_heads) + ")");
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    fail_file(where, "n_heads (" + std::to_string(c.n_heads) +
                         ") is not divisible by n_kv_heads (" + std::to_string(c.n_kv_heads) +
                         ")");
  }

  const std::uint64_t dim = static_cast<std::uint64_t>(c.dim);
  const std::uint64_t hidden = static_cast<std::uint64_t>(c.hidden_dim);
  const std::uint64_t layers = static_cast<std::uint64_t>(c.n_layers);
  const std::uint64_t kv_dim = static_cast<std::uint64_t>(c.kv_dim());
  const std::uint64_t vocab = static_cast<std::uint64_t>(c.vocab_size);
  const std::uint64_t seq = static_cast<std::uint64_t>(c.seq_len);
  const std::uint64_t head = static_cast<std::uint64_t>(c.head_size());

  Layout l;
  l.token_embedding = checked_mul(vocab, dim, where);
  l.rms_att = checked_mul(layers, dim, where);
  l.wq = checked_mul(layers, checked_mul(dim, dim, where), where);
  l.wk = checked_mul(layers, checked_mul(kv_dim, dim, where), where);
  l.wv = l.wk;
  l.wo = l.wq;
  l.rms_ffn = l.rms_att;
  l.w1 = checked_mul(layers, checked_mul(hidden, dim, where), where);
  l.w2 = l.w1;
  l.w3 = l.w1;
  l.rms_final = dim;
  l.freq_cis = checked_mul(seq, head / 2, where);  // each of the two tables
  l.wcls = c.shared_classifier ? 0 : l.token_embedding;
  const std::uint64_t parts[] = {l.token_embedding, l.rms_att, l.wq, l.wk, l.wv,       l.wo,
                                 l.rms_ffn,         l.w1,      l.w2, l.w3, l.rms_final, l.wcls};
  std::uint64_t stored = 0;
  for (std::uint64_t p : parts) stored = checked_add(stored, p, where);
  l.stored_floats = stored;
  const std::uint64_t all_floats = checked_add(stored, checked_mul(2, l.freq_cis, where), where);
  l.file_bytes = checked_add(header_bytes, checked_mul(all_floats, 4, where), where);

  if (l.file_bytes != file_size) {
    const bool truncated = file_size < l.file_bytes;
    const std::uint64_t diff = truncated ? l.file_bytes - file_size : file_size - l.file_bytes;
    const std::string count = std::to_string(diff) + (diff == 1 ? " byte" : " bytes");
    const std::string detail =
        truncated ? "truncated, " + count + " missing" : count + " of unexpected trailing data";
    fail_file(where, "file size does not match the header: the header implies " +
                         std::to_string(l.file_bytes) + " bytes, the file has " +
                         std::to_string(file_size) + " bytes (" + detail + ")");
  }
  if (l.stored_floats > std::vector<float>().max_size()) {
    fail_file(where, "the weights (" + std::to_string(l.stored_floats) +
                         " floats) do not fit in this platform's address space");
  }
  layout = l;
  return c;
}

/// Byte source over a validated in-memory buffer.
class MemorySource {
 public:
  MemorySource(const unsigned char* data, std::size_t size, std::string where)
      : p_(data), left_(size), where_(std::move(where)) {}
  const unsigned char* next(std::size_t n) {
    if (n > left_) fail_file(where_, "unexpected end of data");
    const unsigned char* out = p_;
    p_ += n;
    left_ -= n;
    return out;
  }
  void skip(std::uint64_t n) {
    if (n > left_) fail_file(where_, "unexpected end of data");
    const std::size_t k = static_cast<std::size_t>(n);
    p_ += k;
    left_ -= k;
  }

 private:
  const unsigned char* p_;
  std::size_t left_;
  std::string where_;
};

/// Byte source over a binary input stream positioned after the header.
class StreamSource {
 public:
  StreamSource(std::istream& in, std::string where) : in_(in), where_(std::move(where)) {}
  const unsigned char* next(std::size_t n) {
    buffer_.resize(n);
    in_.read(reinterpret_cast<char*>(buffer_.data()), static_cast<std::streamsize>(n));
    if (!in_ || in_.gcount() != static_cast<std::streamsize>(n)) {
      throw Error(ErrorKind::io_failure,
                  where_ + ": read error (the file may have changed while being read)");
    }
    return buffer_.data();
  }
  void skip(std::uint64_t n) {
    in_.seekg(static_cast<std::streamoff>(n), std::ios::cur);
    if (!in_) throw Error(ErrorKind::io_failure, where_ + ": seek error");
  }

 private:
  std::istream& in_;
  std::string where_;
  std::vector<unsigned char> buffer_;
};

/// Decodes `count` little-endian float32 values from `src` into `dst`, in bounded chunks.
template <class Source>
void read_floats(Source& src, float* dst, std::uint64_t count) {
  constexpr std::uint64_t chunk = std::uint64_t{1} << 14;
  while (count > 0) {
    const std::size_t n = static_cast<std::size_t>(count < chunk ? count : chunk);
    const unsigned char* p = src.next(n * 4);
    for (std::size_t i = 0; i < n; ++i) dst[i] = load_f32_le(p + 4 * i);
    dst += n;
    count -= n;
  }
}

/// Throws non_finite_value for the first NaN or infinity in a stack of `layers` matrices of
/// rows x cols (cols-only vectors when rows == 0), naming the tensor, row and column.
inline void check_finite(const float* p, std::size_t layers, std::size_t rows, std::size_t cols,
                         const std::string& name, bool per_layer, const std::string& where) {
  const std::size_t r = rows == 0 ? 1 : rows;
  for (std::size_t l = 0; l < layers; ++l) {
    const float* m = p + l * r * cols;
    for (std::size_t i = 0; i < r * cols; ++i) {
      if (!is_finite_f32(m[i])) {
        const std::string tensor =
            per_layer ? "layers." + std::to_string(l) + "." + name : name;
        throw Error(ErrorKind::non_finite_value, where + ": non-finite weight", tensor,
                    rows == 0 ? Error::npos : i / cols, i % cols);
      }
    }
  }
}

struct CheckpointAccess {
  template <class Source>
  static Checkpoint build(Source& src, const Config& c, const Layout& l, const std::string& source,
                          const std::string& where) {
    Checkpoint ck;
    ck.config_ = c;
    ck.source_ = source;
    const std::size_t total = static_cast<std::size_t>(l.stored_floats);
    try {
      ck.data_.resize(total);
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::io_failure, where + ": out of memory allocating " +
                                             std::to_string(total) + " floats of weights");
    }
    float* base = ck.data_.data();
    std::size_t off = 0;
    auto take = [&](std::uint64_t count) {
      const std::size_t start = off;
      read_floats(src, base + off, count);
      off += static_cast<std::size_t>(count);
      return start;
    };
    ck.off_token_embedding_ = take(l.token_embedding);
    ck.off_rms_att_ = take(l.rms_att);
    ck.off_wq_ = take(l.wq);
    ck.off_wk_ = take(l.wk);
    ck.off_wv_ = take(l.wv);
    ck.off_wo_ = take(l.wo);
    ck.off_rms_ffn_ = take(l.rms_ffn);
    ck.off_w1_ = take(l.w1);
    ck.off_w2_ = take(l.w2);
    ck.off_w3_ = take(l.w3);
    ck.off_rms_final_ = take(l.rms_final);
    if (c.shared_classifier) {
      ck.off_wcls_ = ck.off_token_embedding_;
    } else {
      src.skip(2 * l.freq_cis * 4);
      ck.off_wcls_ = take(l.wcls);
    }
    ck.dim_ = static_cast<std::size_t>(c.dim);
    ck.kv_dim_ = static_cast<std::size_t>(c.kv_dim());
    ck.hidden_ = static_cast<std::size_t>(c.hidden_dim);

    const std::size_t dim = ck.dim_, kv = ck.kv_dim_, hid = ck.hidden_;
    const std::size_t layers = static_cast<std::size_t>(c.n_layers);
    const std::size_t vocab = static_cast<std::size_t>(c.vocab_size);
    check_finite(base + ck.off_token_embedding_, 1, vocab, dim, "token_embedding", false, where);
    check_finite(base + ck.off_rms_att_, layers, 0, dim, "rms_att_weight", true, where);
    check_finite(base + ck.off_wq_, layers, dim, dim, "wq", true, where);
    check_finite(base + ck.off_wk_, layers, kv, dim, "wk", true, where);
    check_finite(base + ck.off_wv_, layers, kv, dim, "wv", true, where);
    check_finite(base + ck.off_wo_, layers, dim, dim, "wo", true, where);
    check_finite(base + ck.off_rms_ffn_, layers, 0, dim, "rms_ffn_weight", true, where);
    check_finite(base + ck.off_w1_, layers, hid, dim, "w1", true, where);
    check_finite(base + ck.off_w2_, layers, dim, hid, "w2", true, where);
    check_finite(base + ck.off_w3_, layers, hid, dim, "w3", true, where);
    check_finite(base + ck.off_rms_final_, 1, 0, dim, "rms_final_weight", false, where);
    if (!c.shared_classifier) {
      check_finite(base + ck.off_wcls_, 1, vocab, dim, "wcls", false, where);
    }
    return ck;
  }
};

}  // namespace detail

/// Parses a legacy llama2.c checkpoint held in memory (`size` bytes at `data`). Pure: reads
/// only [data, data + size) and validates the header and total size before allocating.
/// `source` names the data in error messages (e.g. a path); it may be empty.
/// Throws qins::Error: bad_file for a truncated, oversized, corrupt or newer-format file
/// (see the list at the top of this header); non_finite_value for a NaN or infinite weight;
/// invalid_argument if data is null while size > 0; io_failure if memory runs out.
inline Checkpoint parse_checkpoint(const unsigned char* data, std::size_t size,
                                   const std::string& source = "") {
  const std::string where = detail::describe_source(source);
  if (data == nullptr && size > 0) {
    throw Error(ErrorKind::invalid_argument, where + ": null data pointer with nonzero size");
  }
  detail::Layout layout;
  const Config config = detail::validate_header(
      data, std::min(size, detail::header_bytes), static_cast<std::uint64_t>(size), where, layout);
  detail::MemorySource src(data + detail::header_bytes, size - detail::header_bytes, where);
  return detail::CheckpointAccess::build(src, config, layout, source, where);
}

/// Reads and parses a legacy llama2.c checkpoint file. The header and the file size are
/// validated before the weights are allocated or read.
/// Throws qins::Error: io_failure if the file cannot be opened, sized or read (or memory
/// runs out); otherwise as parse_checkpoint().
inline Checkpoint read_checkpoint(const std::string& path) {
  const std::string where = detail::describe_source(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::io_failure, where + ": cannot open the file for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (!in || end < 0) {
    throw Error(ErrorKind::io_failure, where + ": cannot determine the file size");
  }
  in.seekg(0, std::ios::beg);
  if (!in) throw Error(ErrorKind::io_failure, where + ": seek error");
  const std::uint64_t file_size = static_cast<std::uint64_t>(end);

  unsigned char header[detail::header_bytes] = {};
  const std::size_t want =
      file_size < detail::header_bytes ? static_cast<std::size_t>(file_size) : detail::header_bytes;
  in.read(reinterpret_cast<char*>(header), static_cast<std::streamsize>(want));
  if (in.gcount() != static_cast<std::streamsize>(want)) {
    throw Error(ErrorKind::io_failure, where + ": read error");
  }
  detail::Layout layout;
  const Config config = detail::validate_header(header, want, file_size, where, layout);
  detail::StreamSource src(in, where);
  return detail::CheckpointAccess::build(src, config, layout, path, where);
}

}  // namespace qins::llama2
