// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// QinsTensor: a weight matrix as stored (codes, decode scales, layout, bias), built from
// float weights or assembled from a file's parts. No products and no Eigen: QinsLinear
// (linear.hpp) adds those; the file format (io.hpp) reads and writes this.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "code_format.hpp"
#include "detail/aligned_buffer.hpp"
#include "detail/dispatch.hpp"
#include "detail/validate.hpp"
#include "error.hpp"
#include "matrix.hpp"

namespace qins {

/// How a tensor is built from float weights: the quantization (granularity, group size,
/// calibration, alpha, the tensor's name) plus what is stored.
struct LinearOptions : QuantizeOptions {
  CodeType code_type =
      CodeType::uint8;  ///< the code width when quantizing (uint8, uint12 or uint16)
  /// false keeps the float z values (4 bytes per weight) with the same alphas: the error
  /// of the codec alone, for validation (such a tensor decodes, but has no products).
  bool quantize = true;
};

/// The bytes a tensor holds, from what it allocated (or maps).
struct TensorMemory {
  std::size_t code_bytes = 0;   ///< codes (or float z values)
  std::size_t scale_bytes = 0;  ///< one float 1/alpha per alpha slot
  std::size_t bias_bytes = 0;   ///< one float per output, if there is a bias
  std::size_t total() const noexcept { return code_bytes + scale_bytes + bias_bytes; }
};

/// A rows x cols weight matrix (rows = output features) stored as QINS codes of one
/// CodeType, with one decode scale (1/alpha) per alpha slot of its layout and an optional
/// bias of rows floats. The codes are one row-major buffer, row r at byte
/// r * row_bytes(), 64-byte aligned unless they are a view into a mapped file. Copies
/// share the codes (they are never written after construction).
class QinsTensor {
 public:
  /// An empty 0 x 0 tensor.
  QinsTensor() = default;

  /// Quantizes a row-major rows x cols float matrix, with an optional bias of `rows`
  /// floats. @throws qins::Error for invalid options (code type, alpha, group size that
  /// does not divide cols), a NaN or infinite weight or bias value (naming its row and
  /// column), or rows * cols overflowing. With a pool, the rows are quantized on its
  /// threads (the same codes and alphas as without).
  static QinsTensor quantize(const float* weights, std::size_t rows, std::size_t cols,
                             const LinearOptions& options = {}, const float* bias = nullptr,
                             ThreadPool* pool = nullptr) {
    QinsTensor t;
    t.build(weights, rows, cols, options, bias, pool);
    return t;
  }

  /// The float32 weights themselves (CodeType::plain: no alpha, no scales), for the tensors
  /// of a model that stay in float. @throws qins::Error naming a NaN or infinite value.
  static QinsTensor plain(std::string name, const float* weights, std::size_t rows,
                          std::size_t cols) {
    check_shape(rows, cols, CodeType::plain, name);
    if (rows != 0 && cols != 0) detail::check_pointers(weights, weights, rows * cols);
    for (std::size_t i = 0; i < rows * cols; ++i)
      if (!detail::is_finite_bits(weights[i]))
        throw Error(ErrorKind::non_finite_value, "non-finite weight", name, i / cols, i % cols);
    QinsTensor t;
    t.name_ = std::move(name);
    t.rows_ = rows;
    t.cols_ = cols;
    t.code_type_ = CodeType::plain;
    t.layout_ = AlphaLayout{AlphaGranularity::fixed, 0};
    t.codes_ = detail::SharedBytes::allocate(rows * cols * sizeof(float));
    if (rows != 0 && cols != 0)
      std::memcpy(t.codes_.mutable_data(), weights, rows * cols * sizeof(float));
    return t;
  }

  /// Assembles a tensor from stored parts (what io.hpp loads): `codes` holds the rows of
  /// `code_type` (row_bytes(cols) bytes each), `scales` one 1/alpha per slot of `layout`
  /// (none for CodeType::plain, whose layout must be fixed),
  /// `bias` is empty or has `rows` values. @throws qins::Error naming what does not fit:
  /// sizes, layout, a scale that is not finite and > 0, a non-finite bias.
  static QinsTensor from_parts(std::string name, std::size_t rows, std::size_t cols,
                               CodeType code_type, const AlphaLayout& layout,
                               detail::SharedBytes codes, std::vector<float> scales,
                               std::vector<float> bias) {
    QinsTensor t;
    t.name_ = std::move(name);
    check_shape(rows, cols, code_type, t.name_);
    layout.validate(cols, t.name_);
    const std::size_t expected = rows * stored_type_info(code_type).row_bytes(cols);
    if (codes.size() != expected)
      throw Error(ErrorKind::size_mismatch,
                  "code buffer has " + std::to_string(codes.size()) + " bytes, the shape needs " +
                      std::to_string(expected),
                  t.name_);
    if (code_type == CodeType::plain && layout.granularity != AlphaGranularity::fixed)
      throw Error(ErrorKind::invalid_argument, "plain float32 weights have no alpha layout",
                  t.name_);
    const std::size_t expected_scales = expected_scale_count(code_type, layout, rows, cols);
    if (scales.size() != expected_scales)
      throw Error(ErrorKind::size_mismatch,
                  "expected " + std::to_string(expected_scales) + " scales, got " +
                      std::to_string(scales.size()),
                  t.name_);
    // A scale must be finite and > 0, and for codes small enough that the largest decoded
    // magnitude (M - 1) * scale stays finite: the bound the constructor puts on alpha.
    const float largest =
        is_code_format(code_type)
            ? visit_code_format(
                  code_type,
                  [](auto f) { return float(max_decoded_magnitude_times_alpha<decltype(f)>()); })
            : 1.0f;
    for (std::size_t i = 0; i < scales.size(); ++i)
      if (!detail::is_finite_bits(scales[i]) || !(scales[i] > 0.0f) ||
          !detail::is_finite_bits(largest * scales[i]))
        throw Error(ErrorKind::bad_file,
                    "scale (1/alpha) " + std::to_string(scales[i]) + " of alpha slot " +
                        std::to_string(i) + " must be finite, > 0 and keep decoded weights finite",
                    t.name_, layout.granularity == AlphaGranularity::per_row ? i : Error::npos);
    if (!bias.empty() && bias.size() != rows)
      throw Error(ErrorKind::size_mismatch,
                  "bias has " + std::to_string(bias.size()) + " values for " +
                      std::to_string(rows) + " rows",
                  t.name_);
    for (std::size_t i = 0; i < bias.size(); ++i)
      if (!detail::is_finite_bits(bias[i]))
        throw Error(ErrorKind::non_finite_value, "non-finite bias", t.name_, i);
    if (code_type == CodeType::float32) check_z_values(codes, rows, cols, t.name_);
    if (code_type == CodeType::plain) check_plain_values(codes, rows, cols, t.name_);
    t.rows_ = rows;
    t.cols_ = cols;
    t.code_type_ = code_type;
    t.layout_ = layout;
    t.codes_ = std::move(codes);
    t.scales_ = std::move(scales);
    t.bias_ = std::move(bias);
    return t;
  }

  std::size_t rows() const noexcept { return rows_; }  ///< output features
  std::size_t cols() const noexcept { return cols_; }  ///< input features
  CodeType code_type() const noexcept { return code_type_; }
  const AlphaLayout& layout() const noexcept { return layout_; }
  const std::string& name() const noexcept { return name_; }
  /// Renames the tensor (the name files store it under and errors show).
  void set_name(std::string name) { name_ = std::move(name); }
  bool has_bias() const noexcept { return !bias_.empty(); }
  const std::vector<float>& bias() const noexcept { return bias_; }
  /// Decode scales, 1/alpha, one per alpha slot (layout().count(rows(), cols())).
  const std::vector<float>& scales() const noexcept { return scales_; }
  /// The stored codes (or float z values), row after row.
  const std::byte* code_bytes() const noexcept { return codes_.data(); }
  /// Bytes of one row of codes.
  std::size_t row_bytes() const noexcept { return stored_type_info(code_type_).row_bytes(cols_); }
  /// True when the codes are a view into a memory-mapped file.
  bool is_mapped() const noexcept { return codes_.is_view(); }

  /// Exactly the bytes held: codes, scales and bias.
  TensorMemory memory() const noexcept {
    return {codes_.size(), scales_.size() * sizeof(float), bias_.size() * sizeof(float)};
  }
  std::size_t memory_bytes() const noexcept { return memory().total(); }

  /// Decodes row r (cols() floats) into out, exactly (the scalar reference's values);
  /// with `stream`, writes with non-temporal stores (end a run with
  /// detail::finish_streaming()). @throws qins::Error if r is out of range.
  void decode_row(std::size_t r, float* out, bool stream = false) const {
    if (r >= rows_) throw Error(ErrorKind::invalid_argument, "row out of range", name_, r);
    const std::size_t span = segment_length();
    const std::byte* row = codes_.data() + r * row_bytes();
    if (code_type_ == CodeType::plain) {
      if (cols_) std::memcpy(out, row, cols_ * sizeof(float));
      return;
    }
    for (std::size_t s0 = 0, g = 0; s0 < cols_; s0 += span, ++g) {
      const float scale = scales_[r * scale_stride() + g];
      if (code_type_ == CodeType::float32) {
        decode_z_segment(row, s0, span, scale, out + s0);
        continue;
      }
      visit_code_format(code_type_, [&](auto f) {
        detail::with_kernels<float>([&](auto k) {
          k.template dequantize_decode<decltype(f)>(row, s0, out + s0, span, scale, stream);
        });
      });
    }
  }

  /// How many scales a tensor of this type, layout and shape holds: none when it is empty
  /// or plain, else layout.count(rows, cols). Call layout.validate(cols) first.
  static std::size_t expected_scale_count(CodeType type, const AlphaLayout& layout,
                                          std::size_t rows, std::size_t cols) noexcept {
    return rows * cols == 0 || !stored_type_info(type).has_scales ? 0 : layout.count(rows, cols);
  }

  /// Weights that share one scale within a row (cols() unless per group).
  std::size_t segment_length() const noexcept { return layout_.span(cols_); }
  /// Scales per row (0 for one scale per tensor).
  std::size_t scale_stride() const noexcept {
    switch (layout_.granularity) {
      case AlphaGranularity::per_row:
        return 1;
      case AlphaGranularity::per_group:
        return cols_ / layout_.group_size;
      default:
        return 0;
    }
  }

  /// The codes as the kernels see them. Format must be the descriptor of code_type().
  template <class Format>
  detail::CodeMatrixView<Format> view() const noexcept {
    detail::CodeMatrixView<Format> v;
    v.codes = codes_.data();
    v.rows = rows_;
    v.cols = cols_;
    v.row_bytes = Format::row_bytes(cols_);
    v.scales = scales_.data();
    v.scale_stride = scale_stride();
    v.span = segment_length();
    return v;
  }

 private:
  static void check_shape(std::size_t rows, std::size_t cols, CodeType code_type,
                          const std::string& name) {
    if (!is_stored_type(code_type))
      throw Error(ErrorKind::invalid_argument, "unknown code type", name);
    if (cols != 0 && rows > std::numeric_limits<std::size_t>::max() / 4 / cols)
      throw Error(ErrorKind::invalid_argument, "rows * cols overflows", name);
  }

  void build(const float* weights, std::size_t rows, std::size_t cols, const LinearOptions& options,
             const float* bias, ThreadPool* pool) {
    name_ = options.name;
    if (!is_code_format(options.code_type))
      throw Error(ErrorKind::invalid_argument,
                  "code_type must be a code format (uint8, uint12 or uint16)", name_);
    check_shape(rows, cols, options.code_type, name_);
    const AlphaLayout layout = options.layout();
    layout.validate(cols, name_);
    const std::size_t n = rows * cols;
    std::vector<float> alphas(n == 0 ? 0 : layout.count(rows, cols));
    const CodeType stored = options.quantize ? options.code_type : CodeType::float32;
    detail::SharedBytes codes =
        detail::SharedBytes::allocate(rows * stored_type_info(stored).row_bytes(cols));
    // The alphas come from quantizing to the requested codes even when they are not
    // kept, so that quantize = false differs from quantize = true by quantization alone.
    visit_code_format(options.code_type, [&](auto f) {
      using Format = decltype(f);
      std::vector<std::byte> discarded(options.quantize ? 0 : rows * Format::row_bytes(cols));
      std::byte* dst = options.quantize ? codes.mutable_data() : discarded.data();
      detail::quantize_matrix_codes<Format>(weights, rows, cols, options, dst,
                                            Format::row_bytes(cols), alphas.data(), pool);
    });
    std::vector<float> scales(alphas.size());
    for (std::size_t i = 0; i < alphas.size(); ++i) scales[i] = 1.0f / alphas[i];
    if (!options.quantize)
      encode_z(weights, rows, cols, layout, alphas, reinterpret_cast<float*>(codes.mutable_data()));
    std::vector<float> bias_values;
    if (bias) {
      bias_values.assign(bias, bias + rows);
      for (std::size_t i = 0; i < rows; ++i)
        if (!detail::is_finite_bits(bias[i]))
          throw Error(ErrorKind::non_finite_value, "non-finite bias", name_, i);
    }
    rows_ = rows;
    cols_ = cols;
    code_type_ = stored;
    layout_ = layout;
    codes_ = std::move(codes);
    scales_ = std::move(scales);
    bias_ = std::move(bias_values);
  }

  void encode_z(const float* w, std::size_t rows, std::size_t cols, const AlphaLayout& layout,
                const std::vector<float>& alphas, float* z) const {
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) {
        z[r * cols + c] =
            detail::scalar::encode_ref(w[r * cols + c], alphas[layout.index(r, c, cols)]);
        if (z[r * cols + c] == 0.0f)  // alpha |x| overflowed: z = 0 has no inverse
          throw Error(ErrorKind::invalid_argument, "alpha * |x| overflows", name_, r, c);
      }
  }

  static void check_z_values(const detail::SharedBytes& codes, std::size_t rows, std::size_t cols,
                             const std::string& name) {
    for (std::size_t i = 0; i < rows * cols; ++i) {
      float z;
      std::memcpy(&z, codes.data() + i * sizeof z, sizeof z);
      if (!(std::fabs(z) > 0.0f && std::fabs(z) <= 1.0f) || !detail::is_finite_bits(z))
        throw Error(ErrorKind::bad_file, "stored z value outside 0 < |z| <= 1", name, i / cols,
                    i % cols);
    }
  }

  static void check_plain_values(const detail::SharedBytes& codes, std::size_t rows,
                                 std::size_t cols, const std::string& name) {
    for (std::size_t i = 0; i < rows * cols; ++i) {
      float w;
      std::memcpy(&w, codes.data() + i * sizeof w, sizeof w);
      if (!detail::is_finite_bits(w))
        throw Error(ErrorKind::non_finite_value, "non-finite weight", name, i / cols, i % cols);
    }
  }

  // z -> x with the stored scale 1/alpha: x = sign(z) (1 - |z|) / |z| * (1/alpha), the
  // float-domain decode with alpha = 1 (exact: 1 * |z|) followed by the scale.
  // Rows of float32 start on 4-byte boundaries of a 64-byte-aligned buffer (or payload).
  static void decode_z_segment(const std::byte* row, std::size_t s0, std::size_t len, float scale,
                               float* out) {
    const float* z = reinterpret_cast<const float*>(row) + s0;
    detail::with_kernels<float>([&](auto k) { k.decode(z, out, len, 1.0f); });
    for (std::size_t i = 0; i < len; ++i) out[i] *= scale;
  }

  std::size_t rows_ = 0, cols_ = 0;
  CodeType code_type_ = CodeType::uint8;
  AlphaLayout layout_{AlphaGranularity::per_row, 0};
  std::string name_;
  detail::SharedBytes codes_;
  std::vector<float> scales_;
  std::vector<float> bias_;
};

}  // namespace qins
