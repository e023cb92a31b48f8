// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Run-time detection of the CPU features the kernel paths need.
// IWYU pragma: private
#pragma once

#include "../config.hpp"

namespace qins::detail {

/// The features the instruction-set table (qins/isa.hpp) asks about.
struct CpuFeatures {
  bool avx2 = false, fma = false;  // F16C, which the AVX2 path also uses, comes with every AVX2 CPU
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vbmi = false, avx512vnni = false, gfni = false;
};

/// Detected once per process (function-local static: thread-safe, one instance for all
/// translation units). The compiler builtins also check that the OS saves the registers.
inline const CpuFeatures& cpu_features() noexcept {
  static const CpuFeatures features = [] {
    CpuFeatures f;
#if QINS_DETAIL_X86_TARGETS
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512dq = __builtin_cpu_supports("avx512dq");
    f.avx512vbmi = __builtin_cpu_supports("avx512vbmi");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    f.gfni = __builtin_cpu_supports("gfni");
#endif
    return f;
  }();
  return features;
}

}  // namespace qins::detail
