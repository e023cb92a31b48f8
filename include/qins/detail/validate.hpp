// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Argument checks shared by the public entry points; each throws qins::Error.
// IWYU pragma: private
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>

#include "../code_format.hpp"
#include "../error.hpp"
#include "float_bits.hpp"

namespace qins::detail {

template <class T>
inline void require_floating() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "qins kernels take float or double values");
}

/// Position of an element for error messages: tensor name, row, column.
struct Where {
  const std::string* tensor = nullptr;
  std::size_t row = Error::npos;
  std::size_t col_offset = 0;  ///< added to a span index to give the column

  std::string name() const { return tensor ? *tensor : std::string(); }
};

template <class T>
inline void check_alpha(T alpha, const Where& where = {}) {
  if (!is_finite_bits(alpha) || !(alpha > T(0)))
    throw Error(ErrorKind::invalid_argument,
                "alpha must be finite and > 0, got " + std::to_string(static_cast<double>(alpha)),
                where.name(), where.row);
}

/// alpha must also keep every decoded value finite: (M - 1) / alpha <= max of T.
template <class Code, class T>
inline void check_alpha_for_codes(T alpha, const Where& where = {}) {
  check_alpha(alpha, where);
  T inv = T(1) / alpha;
  if (!is_finite_bits(inv) || !is_finite_bits(T(max_decoded_magnitude_times_alpha<Code>()) * inv))
    throw Error(ErrorKind::invalid_argument,
                "alpha " + std::to_string(static_cast<double>(alpha)) +
                    " is too small: decoded weights would overflow",
                where.name(), where.row);
}

template <class T>
[[noreturn]] inline void throw_non_finite(T value, std::size_t index, const Where& where) {
  throw Error(ErrorKind::non_finite_value,
              std::string(is_nan_bits(value) ? "NaN" : "infinite") + " weight", where.name(),
              where.row, where.col_offset + index);
}

inline void check_pointers(const void* in, const void* out, std::size_t n) {
  if (n != 0 && (in == nullptr || out == nullptr))
    throw Error(ErrorKind::invalid_argument, "null pointer for a non-empty buffer");
}

}  // namespace qins::detail
