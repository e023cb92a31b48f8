// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// qins::Error: the one exception type the library throws for bad input.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace qins {

/// What went wrong, for callers that branch on the kind of error.
enum class ErrorKind {
  invalid_argument,  ///< a parameter is out of its documented domain (alpha, group size, ...)
  size_mismatch,     ///< two lengths or shapes that must agree do not
  non_finite_value,  ///< a NaN or infinite weight or alpha
  bad_file,          ///< a file is truncated, corrupt or of an unsupported version
  io_failure,        ///< the operating system refused to open, read or write a file
};

/// The exception thrown by every qins function on bad input.
///
/// Carries where the problem is, when known: the tensor name, the row and the column
/// (`npos` when not applicable). `what()` spells all of it out in one line.
class Error : public std::runtime_error {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  Error(ErrorKind kind, const std::string& message, std::string tensor = {}, std::size_t row = npos,
        std::size_t col = npos)
      : std::runtime_error(format(message, tensor, row, col)),
        kind_(kind),
        tensor_(std::move(tensor)),
        row_(row),
        col_(col) {}

  ErrorKind kind() const noexcept { return kind_; }
  const std::string& tensor() const noexcept { return tensor_; }
  std::size_t row() const noexcept { return row_; }
  std::size_t col() const noexcept { return col_; }

 private:
  static std::string format(const std::string& message, const std::string& tensor, std::size_t row,
                            std::size_t col) {
    std::string out = "qins: " + message;
    if (!tensor.empty() || row != npos || col != npos) {
      out += " (at";
      if (!tensor.empty()) out += " tensor '" + tensor + "'";
      if (row != npos) out += " row " + std::to_string(row);
      if (col != npos) out += " column " + std::to_string(col);
      out += ")";
    }
    return out;
  }

  ErrorKind kind_;
  std::string tensor_;
  std::size_t row_;
  std::size_t col_;
};

}  // namespace qins
