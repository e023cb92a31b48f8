// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Compile-time knobs a consumer may define before including any qins header.
#pragma once

/// QINS_FORCE_SCALAR: compile only the scalar reference kernels (no SIMD code at all).
/// QINS_NO_AVX512:    compile the AVX2 kernels but not the AVX-512 ones.
///
/// Define them the same way in every translation unit of a program (on the command line):
/// they change the bodies of inline functions, and the linker keeps only one of each.
///
/// Without these, the AVX2 and AVX-512 kernels are compiled with per-function target
/// attributes (no -m flags needed) on x86-64 GCC and Clang, and chosen at run time.
#if !defined(QINS_FORCE_SCALAR) && (defined(__x86_64__) || defined(_M_X64)) && \
    (defined(__GNUC__) || defined(__clang__))
#define QINS_HAS_X86_KERNELS 1
#else
#define QINS_HAS_X86_KERNELS 0
#endif

#if QINS_HAS_X86_KERNELS && !defined(QINS_NO_AVX512)
#define QINS_HAS_AVX512_KERNELS 1
#else
#define QINS_HAS_AVX512_KERNELS 0
#endif
