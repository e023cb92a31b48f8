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
#include "kernel_table.hpp"
#include "kernels/avx2.hpp"
#include "kernels/avx512.hpp"
#include "kernels/avx512_amx.hpp"
#include "kernels/avx512_vnni.hpp"
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

/// Whether kernel table K has table_gemv for Format (the integer uint8 GEMV).
template <class K, class Format, class = void>
struct has_table_gemv : std::false_type {};
template <class K, class Format>
struct has_table_gemv<K, Format, std::enable_if_t<K::template has_table_gemv<Format>()>>
    : std::true_type {};

/// Whether kernel table K has table_gemm for Format (the batched integer uint8 product).
template <class K, class Format, class = void>
struct has_table_gemm : std::false_type {};
template <class K, class Format>
struct has_table_gemm<K, Format, std::enable_if_t<K::template has_table_gemm<Format>()>>
    : std::true_type {};

template <std::size_t I, class F>
decltype(auto) call_with_table(Isa active, F& f) {
  if constexpr (I == 0) {
    (void)active;
    return f(scalar::Kernels<float>{});
  } else {
    constexpr Isa isa = static_cast<Isa>(I);
    if constexpr (has_kernel_table<isa>::value)
      if (active == isa) return f(typename KernelTable<isa>::type{});
    return call_with_table<I - 1>(active, f);
  }
}

/// Calls f with the `Kernels` table of the active path for element type T, walking the
/// instruction-set table from the widest row down. The SIMD paths exist for float;
/// double always runs the reference.
template <class T, class F>
decltype(auto) with_kernels(F&& f) {
  if constexpr (std::is_same_v<T, float>) {
    return call_with_table<kIsaCount - 1>(active_isa(), f);
  } else {
    return f(scalar::Kernels<T>{});
  }
}

}  // namespace qins::detail
