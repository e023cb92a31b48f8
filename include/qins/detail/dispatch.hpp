// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Chooses the kernel table for a call: once per whole-buffer call, never per element.
// IWYU pragma: private
#pragma once

#include <cstddef>
#include <type_traits>

#include "../config.hpp"
#if QINS_HAS_X86_KERNELS
#include <xmmintrin.h>  // _mm_sfence (SSE, part of every x86-64 baseline)
#endif

#include "../isa.hpp"
#include "kernels/avx2.hpp"
#include "kernels/avx512.hpp"
#include "kernels/scalar.hpp"

namespace qins::detail {

/// Whole-matrix decodes whose output is at least this large write it with non-temporal
/// stores: it cannot stay in the caches anyway (measured: 3.9 -> 5.1 G weights/s).
inline constexpr std::size_t kStreamingOutputBytes = std::size_t(4) << 20;

/// Orders a run of non-temporal stores before whatever follows: one fence per matrix,
/// whichever kernel table wrote it (a no-op where no kernel streams).
inline void finish_streaming() noexcept {
#if QINS_HAS_X86_KERNELS
  _mm_sfence();
#endif
}

/// Calls f with the `Kernels` table of the active path for element type T. The SIMD
/// paths exist for float; double always runs the reference.
template <class T, class F>
decltype(auto) with_kernels(F&& f) {
  if constexpr (std::is_same_v<T, float>) {
    switch (active_isa()) {
#if QINS_HAS_AVX512_KERNELS
      case Isa::avx512: return f(avx512::Kernels{});
#endif
#if QINS_HAS_X86_KERNELS
      case Isa::avx2: return f(avx2::Kernels{});
#endif
      default: break;
    }
  }
  return f(scalar::Kernels<T>{});
}

}  // namespace qins::detail
