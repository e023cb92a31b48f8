// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Whole matrices: alpha granularity (fixed, per tensor, per row, per group) and the
// row-major matrix <-> codes + alphas conversions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>

#include "calibrate.hpp"
#include "code_format.hpp"
#include "detail/dispatch.hpp"
#include "detail/validate.hpp"
#include "error.hpp"
#include "quantize.hpp"
#include "thread_pool.hpp"

namespace qins {

/// How many alphas a matrix has and which weights share one.
enum class AlphaGranularity : int {
  fixed = 0,       ///< one alpha given by the caller, never calibrated (the prototype: 1.0)
  per_tensor = 1,  ///< one alpha for the whole matrix
  per_row = 2,     ///< one alpha per output row
  per_group = 3,   ///< one alpha per group of group_size consecutive weights of a row
};

inline const char* to_string(AlphaGranularity g) noexcept {
  switch (g) {
    case AlphaGranularity::fixed:
      return "fixed";
    case AlphaGranularity::per_tensor:
      return "per_tensor";
    case AlphaGranularity::per_row:
      return "per_row";
    case AlphaGranularity::per_group:
      return "per_group";
  }
  return "unknown";
}

/// Where the alphas of a row-major rows x cols matrix apply.
struct AlphaLayout {
  AlphaGranularity granularity = AlphaGranularity::per_row;
  std::size_t group_size = 0;  ///< used by per_group only

  /// Weights that share one alpha, within a row (cols for fixed, tensor and row).
  std::size_t span(std::size_t cols) const noexcept {
    return granularity == AlphaGranularity::per_group ? group_size : cols;
  }
  /// Number of alphas. Call validate() first.
  std::size_t count(std::size_t rows, std::size_t cols) const noexcept {
    switch (granularity) {
      case AlphaGranularity::per_row:
        return rows;
      case AlphaGranularity::per_group:
        return group_size ? rows * (cols / group_size) : 0;
      default:
        return 1;
    }
  }
  /// Index of the alpha of weight (row, col).
  std::size_t index(std::size_t row, std::size_t col, std::size_t cols) const noexcept {
    switch (granularity) {
      case AlphaGranularity::per_row:
        return row;
      case AlphaGranularity::per_group:
        return row * (cols / group_size) + col / group_size;
      default:
        return 0;
    }
  }
  /// @throws qins::Error for an unknown granularity, or a per_group size of 0 or one that
  ///         does not divide cols.
  void validate(std::size_t cols, const std::string& tensor = {}) const {
    if (static_cast<int>(granularity) < 0 || static_cast<int>(granularity) > 3)
      throw Error(ErrorKind::invalid_argument, "unknown alpha granularity", tensor);
    if (granularity != AlphaGranularity::per_group) return;
    if (group_size == 0) throw Error(ErrorKind::invalid_argument, "group size must be > 0", tensor);
    if (cols % group_size != 0)
      throw Error(ErrorKind::invalid_argument,
                  "group size " + std::to_string(group_size) + " does not divide the row length " +
                      std::to_string(cols),
                  tensor);
  }
};

/// How to turn a float matrix into codes.
struct QuantizeOptions {
  AlphaGranularity granularity = AlphaGranularity::per_row;
  std::size_t group_size = 32;  ///< weights per alpha for per_group
  bool calibrate = true;        ///< pick each alpha by calibrate_alpha (not for fixed)
  double alpha = 1.0;           ///< the alpha of fixed, and of every slot when not calibrating
  std::string name;             ///< the tensor's name, used in errors (and by layers, in files)

  /// The layout these options give (group_size only counts for per_group: 0 otherwise).
  AlphaLayout layout() const noexcept {
    return {granularity, granularity == AlphaGranularity::per_group ? group_size : 0};
  }
};

namespace detail {

/// Where the alphas of `layout` start anew in a matrix: every `span` weights of the
/// row-major order (the whole matrix for fixed and per tensor).
inline std::size_t alpha_span(const AlphaLayout& layout, std::size_t rows,
                              std::size_t cols) noexcept {
  return layout.granularity == AlphaGranularity::per_tensor ||
                 layout.granularity == AlphaGranularity::fixed
             ? rows * cols
             : layout.span(cols);
}

/// quantize_matrix on codes in Format's row layout: row r at codes + r * row_bytes, with
/// the rows (or their alpha slots) spread over `pool` if given: the codes and alphas are
/// the same whatever the pool. Checks as quantize_matrix.
template <class Format, class T>
void quantize_matrix_codes(const T* w, std::size_t rows, std::size_t cols,
                           const QuantizeOptions& options, std::byte* codes, std::size_t row_bytes,
                           T* alphas, ThreadPool* pool = nullptr) {
  require_floating<T>();
  const AlphaLayout layout = options.layout();
  layout.validate(cols, options.name);
  const std::size_t n = rows * cols;
  if (rows != 0 && n / rows != cols)
    throw Error(ErrorKind::invalid_argument, "rows * cols overflows", options.name);
  check_pointers(w, codes, n);
  check_pointers(w, alphas, n);
  const Where where{&options.name};
  // Check the double before narrowing it: a value beyond T's range cannot be converted.
  if (!(std::fabs(options.alpha) <= static_cast<double>(std::numeric_limits<T>::max())))
    throw Error(ErrorKind::invalid_argument,
                "alpha " + std::to_string(options.alpha) + " is not a finite " +
                    (sizeof(T) == 4 ? "float" : "double"),
                options.name);
  const T given = static_cast<T>(options.alpha);
  check_alpha_for_codes<Format>(given, where);
  std::size_t bad = with_kernels<T>([&](auto k) { return k.find_non_finite(w, n); });
  if (bad != n) {
    const Where at{&options.name, bad / cols, 0};
    throw_non_finite(w[bad], bad % cols, at);
  }
  if (n == 0) return;

  const bool calibrate = options.calibrate && layout.granularity != AlphaGranularity::fixed;
  const std::size_t span = alpha_span(layout, rows, cols);
  const std::size_t slots = n / span;
  with_kernels<T>([&](auto k) {
    // Weights [begin, end) of the row-major order with one alpha, row by row.
    auto encode = [&](std::size_t begin, std::size_t end, T alpha) {
      for (std::size_t i = begin; i < end;) {
        const std::size_t r = i / cols, c = i % cols, len = std::min(cols - c, end - i);
        k.template encode_quantize<Format>(w + i, codes + r * row_bytes, c, len, alpha);
        i += len;
      }
    };
    auto run = [&](std::size_t chunks, auto&& chunk) {
      if (pool && chunks > 1)
        pool->parallel_for(chunks, chunk);
      else
        for (std::size_t c = 0; c < chunks; ++c) chunk(c);
    };
    if (slots == 1) {  // one alpha for the whole matrix: calibrate once, encode rows in parallel
      alphas[0] = calibrate ? calibrate_alpha_unchecked<Format>(w, n, k) : given;
      constexpr std::size_t kRows = 64;
      run((rows + kRows - 1) / kRows, [&](std::size_t c) {
        encode(c * kRows * cols, std::min(rows, (c + 1) * kRows) * cols, alphas[0]);
      });
      return;
    }
    // Every slot on its own (calibrations are independent): chunks of about 64 rows' worth.
    const std::size_t per_chunk = std::max<std::size_t>(1, 64 * cols / span);
    run((slots + per_chunk - 1) / per_chunk, [&](std::size_t c) {
      for (std::size_t slot = c * per_chunk; slot < std::min(slots, (c + 1) * per_chunk); ++slot) {
        const std::size_t start = slot * span;
        alphas[slot] = calibrate ? calibrate_alpha_unchecked<Format>(w + start, span, k) : given;
        encode(start, start + span, alphas[slot]);
      }
    });
  });
}

/// dequantize_matrix on codes in Format's row layout. Checks as dequantize_matrix.
template <class Format, class T>
void dequantize_matrix_codes(const std::byte* codes, std::size_t row_bytes, std::size_t rows,
                             std::size_t cols, const AlphaLayout& layout, const T* alphas, T* w) {
  require_floating<T>();
  layout.validate(cols);
  const std::size_t n = rows * cols;
  if (rows != 0 && n / rows != cols)
    throw Error(ErrorKind::invalid_argument, "rows * cols overflows");
  check_pointers(codes, w, n);
  check_pointers(alphas, w, n);
  if (n == 0) return;
  const std::size_t count = layout.count(rows, cols);
  const std::size_t span = alpha_span(layout, rows, cols);
  for (std::size_t slot = 0; slot < count; ++slot)
    check_alpha_for_codes<Format>(alphas[slot], Where{nullptr, slot * span / cols});
  const bool stream = n * sizeof(T) >= kStreamingOutputBytes;
  with_kernels<T>([&](auto k) {
    for (std::size_t i = 0; i < n;) {
      const std::size_t r = i / cols, c = i % cols, slot = i / span;
      const std::size_t len = std::min(cols - c, (slot + 1) * span - i);
      k.template dequantize_decode<Format>(codes + r * row_bytes, c, w + i, len,
                                           T(1) / alphas[slot], stream);
      i += len;
    }
  });
  if (stream) finish_streaming();
}

}  // namespace detail

/// Quantizes a row-major rows x cols matrix w into codes (rows * cols, row-major) and
/// alphas (layout().count(rows, cols) of them).
/// @throws qins::Error for an invalid layout or alpha, or naming the row and column of
///         the first NaN or infinite weight; codes and alphas are unspecified then.
template <class Code, class T>
void quantize_matrix(const T* w, std::size_t rows, std::size_t cols, const QuantizeOptions& options,
                     Code* codes, T* alphas) {
  detail::check_codec_types<Code, T>();
  using Format = format_of_t<Code>;
  detail::quantize_matrix_codes<Format>(w, rows, cols, options, detail::code_bytes(codes),
                                        Format::row_bytes(cols), alphas);
}

/// Reconstructs the row-major float matrix from codes and alphas laid out as `layout`.
/// @throws qins::Error for an invalid layout or any alpha that is not finite and > 0
///         (or too small for the code type), naming its row.
template <class Code, class T>
void dequantize_matrix(const Code* codes, std::size_t rows, std::size_t cols,
                       const AlphaLayout& layout, const T* alphas, T* w) {
  detail::check_codec_types<Code, T>();
  using Format = format_of_t<Code>;
  detail::dequantize_matrix_codes<Format>(detail::code_bytes(codes), Format::row_bytes(cols), rows,
                                          cols, layout, alphas, w);
}

}  // namespace qins
