// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Compile-time knobs a consumer may define before including any qins header.
#pragma once

/// QINS_DISABLED_ISAS: a bit mask of kernel paths not to compile, bit i for qins::Isa
///                    value i (2: AVX2, 4: AVX-512, 8: AVX-512 VNNI, 16: AMX; the scalar reference
///                    is always built).
/// QINS_FORCE_SCALAR: compile only the scalar reference kernels (no SIMD code at all).
/// QINS_NO_AVX512:    compile the AVX2 kernels but not the AVX-512 ones (bits 4, 8 and 16).
///
/// Define them the same way in every translation unit of a program (on the command line):
/// they change the bodies of inline functions, and the linker keeps only one of each.
///
/// Without these, the SIMD kernels are compiled with per-function target attributes (no
/// -m flags needed) on x86-64 GCC and Clang, and chosen at run time (qins/isa.hpp).
#ifndef QINS_DISABLED_ISAS
#define QINS_DISABLED_ISAS 0
#endif
#if defined(QINS_FORCE_SCALAR)
#define QINS_DETAIL_FORCE_SCALAR_MASK 0x7ffffffe
#else
#define QINS_DETAIL_FORCE_SCALAR_MASK 0
#endif
#if defined(QINS_NO_AVX512)
#define QINS_DETAIL_NO_AVX512_MASK 28  // the AVX-512 rows
#else
#define QINS_DETAIL_NO_AVX512_MASK 0
#endif
/// The kernel paths left out of this build (bit i: qins::Isa value i).
#define QINS_DETAIL_DISABLED_ISAS \
  ((QINS_DISABLED_ISAS) | QINS_DETAIL_FORCE_SCALAR_MASK | QINS_DETAIL_NO_AVX512_MASK)

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define QINS_DETAIL_X86_TARGETS 1
#else
#define QINS_DETAIL_X86_TARGETS 0
#endif

/// 1 when this build has the AVX2 + FMA kernels.
#define QINS_HAS_AVX2_KERNELS (QINS_DETAIL_X86_TARGETS && !(QINS_DETAIL_DISABLED_ISAS & 2))
/// 1 when this build has the AVX-512 kernels.
#define QINS_HAS_AVX512_KERNELS (QINS_DETAIL_X86_TARGETS && !(QINS_DETAIL_DISABLED_ISAS & 4))
/// 1 when this build has the AVX-512 VNNI kernels.
#define QINS_HAS_AVX512_VNNI_KERNELS \
  (QINS_HAS_AVX512_KERNELS && !(QINS_DETAIL_DISABLED_ISAS & 8))  // it extends the avx512 row
/// 1 when this build has the AMX kernels (Linux only: the OS must grant the tile state).
#if defined(__linux__)
#define QINS_HAS_AVX512_AMX_KERNELS \
  (QINS_HAS_AVX512_VNNI_KERNELS && !(QINS_DETAIL_DISABLED_ISAS & 16))  // it extends avx512vnni
#else
#define QINS_HAS_AVX512_AMX_KERNELS 0
#endif
/// 1 when this build has any x86 SIMD kernel.
#define QINS_HAS_X86_KERNELS \
  (QINS_HAS_AVX2_KERNELS || QINS_HAS_AVX512_KERNELS || QINS_HAS_AVX512_VNNI_KERNELS)

/// The compiler targets of the kernel paths, each built on its parent's.
#define QINS_DETAIL_TARGET_AVX2 "avx2,fma,f16c"
#define QINS_DETAIL_TARGET_AVX512 QINS_DETAIL_TARGET_AVX2 ",avx512f,avx512bw,avx512vl,avx512dq"
#define QINS_DETAIL_TARGET_AVX512_VNNI QINS_DETAIL_TARGET_AVX512 ",avx512vbmi,avx512vnni,gfni"
#define QINS_DETAIL_TARGET_AVX512_AMX QINS_DETAIL_TARGET_AVX512_VNNI ",amx-tile,amx-int8"
