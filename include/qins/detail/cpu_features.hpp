// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Run-time detection of the instruction sets the kernels use.
// IWYU pragma: private
#pragma once

#include "../config.hpp"

namespace qins::detail {

struct CpuFeatures {
  bool avx2_fma = false;  ///< AVX2 + FMA (+ F16C): every AVX2 CPU since Haswell / Zen
  bool avx512 = false;    ///< AVX-512 F, BW, VL and DQ (Skylake-SP and later)
};

/// Detected once per process (function-local static: thread-safe, one instance for all
/// translation units). The compiler builtins also check that the OS saves the registers.
inline const CpuFeatures& cpu_features() noexcept {
  static const CpuFeatures features = [] {
    CpuFeatures f;
#if QINS_HAS_X86_KERNELS
    __builtin_cpu_init();
    f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    f.avx512 = f.avx2_fma && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq");
#endif
    return f;
  }();
  return features;
}

}  // namespace qins::detail
