// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// CUDA status codes as qins::Error: every CUDA call of the library goes through check().
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "../error.hpp"

namespace qins::cuda {

/// Throws qins::Error (ErrorKind::invalid_argument) naming `what` and CUDA's own message
/// unless status is cudaSuccess. The error is also cleared from the thread's last-error
/// state, so that a later, unrelated check does not report it again.
inline void check(cudaError_t status, const char* what, const std::string& tensor = {}) {
  if (status == cudaSuccess) return;
  (void)cudaGetLastError();
  throw Error(ErrorKind::invalid_argument,
              std::string(what) + ": CUDA error " + cudaGetErrorName(status) + ": " +
                  cudaGetErrorString(status),
              tensor);
}

}  // namespace qins::cuda
