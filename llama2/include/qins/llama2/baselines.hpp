// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The weight formats QINS is compared with (not QINS): float16, bfloat16, linear absmax
// int8 per row, and llama.cpp's Q8_0 layout.
//
//   float16, bfloat16   each weight rounded to nearest-even (qins/float16.hpp): 16 bits.
//   int8 per row        s = max|w| / 127 per row (float32), q = round(w / s) in [-127, 127]
//                       (half away from zero, as ggml): 8 bits + 32 per row.
//   Q8_0                the same per block of 32 weights of a row, s stored as float16 and
//                       computed as ggml's quantize_row_q8_0_ref does (q from the float
//                       scale, s rounded to float16 afterwards): 8.5 bits per weight. A row
//                       whose length is not a multiple of 32 uses one block per row
//                       instead (note() says so), as QINS's per-group alpha does.
// These layers are a yardstick for accuracy, not kernels for those formats: products run
// on a float32 copy of the rounded weights (DenseLinear's arithmetic), so they compute
// exactly what decoding each row and multiplying would; bytes() counts what the format
// itself stores, not the copy.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "qins/error.hpp"
#include "qins/float16.hpp"
#include "qins/llama2/model.hpp"

namespace qins::llama2 {

enum class BaselineFormat { float16, bfloat16, int8_per_row, q8_0 };

/// "float16", "bfloat16", "int8 absmax per row", "Q8_0"; "unknown" otherwise.
inline const char* to_string(BaselineFormat f) noexcept {
  switch (f) {
    case BaselineFormat::float16:
      return "float16";
    case BaselineFormat::bfloat16:
      return "bfloat16";
    case BaselineFormat::int8_per_row:
      return "int8 absmax per row";
    case BaselineFormat::q8_0:
      return "Q8_0";
  }
  return "unknown";
}

/// A rows x cols weight matrix held in one of the baseline formats.
class BaselineLinear : public LinearOp {
 public:
  static constexpr std::size_t kQ8Block = 32;

  /// Rounds the row-major float32 matrix w into `format`. @throws qins::Error:
  /// invalid_argument for an unknown format, an empty shape or a null w, non_finite_value
  /// for a NaN or infinite weight or one that float16 cannot hold (naming row and column).
  BaselineLinear(BaselineFormat format, const float* w, std::size_t rows, std::size_t cols,
                 std::string name = {})
      : format_(format), rows_(rows), cols_(cols), name_(std::move(name)) {
    if (w == nullptr || rows == 0 || cols == 0 ||
        rows > std::numeric_limits<std::size_t>::max() / cols)
      throw Error(ErrorKind::invalid_argument, "baseline layer: empty or null matrix", name_);
    const std::size_t n = rows * cols;
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(w[i]))
        throw Error(ErrorKind::non_finite_value, "non-finite weight", name_, i / cols, i % cols);
    switch (format) {
      case BaselineFormat::float16:
      case BaselineFormat::bfloat16:
        halves_.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
          halves_[i] =
              format == BaselineFormat::float16 ? float_to_half(w[i]) : float_to_bfloat16(w[i]);
          if (!std::isfinite(to_float(halves_[i])))
            throw Error(ErrorKind::non_finite_value,
                        "weight overflows " + std::string(to_string(format)), name_, i / cols,
                        i % cols);
        }
        break;
      case BaselineFormat::int8_per_row:
      case BaselineFormat::q8_0:
        block_ = format == BaselineFormat::int8_per_row || cols % kQ8Block != 0 ? cols : kQ8Block;
        if (format == BaselineFormat::q8_0 && block_ != kQ8Block)
          note_ = "32 does not divide " + std::to_string(cols) + " columns: one block per row";
        quantize_int8(w);
        break;
      default:
        throw Error(ErrorKind::invalid_argument, "unknown baseline format", name_);
    }
    decoded_.resize(n);
    for (std::size_t r = 0; r < rows; ++r) decode_row(r, decoded_.data() + r * cols);
  }

  std::size_t rows() const override { return rows_; }
  std::size_t cols() const override { return cols_; }
  BaselineFormat format() const noexcept { return format_; }
  /// Why the layout differs from the format's usual one, or empty.
  const std::string& note() const noexcept { return note_; }

  /// Exactly the bytes held: 2 per weight for float16/bfloat16; 1 per weight plus the
  /// scales (4 bytes per row for int8 per row, 2 per block for Q8_0).
  std::string storage() const override { return to_string(format_); }
  std::size_t bytes() const override {
    return halves_.size() * 2 + codes_.size() + row_scales_.size() * 4 + block_scales_.size() * 2;
  }

  /// Row r as float32 (cols() values).
  void decode_row(std::size_t r, float* out) const {
    if (r >= rows_) throw Error(ErrorKind::invalid_argument, "row out of range", name_, r);
    if (!halves_.empty()) {
      const std::uint16_t* h = halves_.data() + r * cols_;
      for (std::size_t c = 0; c < cols_; ++c) out[c] = to_float(h[c]);
      return;
    }
    const std::int8_t* q = codes_.data() + r * cols_;
    for (std::size_t c0 = 0; c0 < cols_; c0 += block_) {
      const float s = scale(r, c0 / block_);
      for (std::size_t c = c0; c < c0 + block_; ++c) out[c] = static_cast<float>(q[c]) * s;
    }
  }

  void forward(const float* x, float* y) const override {
    detail::dense_matvec(decoded_.data(), rows_, cols_, x, y);
  }

 private:
  float to_float(std::uint16_t h) const noexcept {
    return format_ == BaselineFormat::float16 ? half_to_float(h) : bfloat16_to_float(h);
  }
  float scale(std::size_t r, std::size_t block) const noexcept {
    return format_ == BaselineFormat::q8_0
               ? half_to_float(block_scales_[r * (cols_ / block_) + block])
               : row_scales_[r];
  }

  void quantize_int8(const float* w) {
    codes_.resize(rows_ * cols_);
    const std::size_t blocks = cols_ / block_;
    if (format_ == BaselineFormat::q8_0)
      block_scales_.resize(rows_ * blocks);
    else
      row_scales_.resize(rows_);
    for (std::size_t r = 0; r < rows_; ++r)
      for (std::size_t b = 0; b < blocks; ++b) {
        const float* x = w + r * cols_ + b * block_;
        float amax = 0.0f;
        for (std::size_t i = 0; i < block_; ++i) amax = std::max(amax, std::fabs(x[i]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        if (format_ == BaselineFormat::q8_0)
          block_scales_[r * blocks + b] = float_to_half(d);
        else
          row_scales_[r] = d;
        for (std::size_t i = 0; i < block_; ++i)
          codes_[r * cols_ + b * block_ + i] = static_cast<std::int8_t>(std::round(x[i] * id));
      }
  }

  BaselineFormat format_;
  std::size_t rows_, cols_;
  std::string name_;
  std::string note_;
  std::size_t block_ = 0;
  std::vector<std::uint16_t> halves_;
  std::vector<std::int8_t> codes_;
  std::vector<float> row_scales_;
  std::vector<std::uint16_t> block_scales_;
  std::vector<float> decoded_;  // the rounded weights as float32, for the products
};

}  // namespace qins::llama2
