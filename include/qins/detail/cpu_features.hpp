// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Run-time detection of the CPU features the kernel paths need.
// IWYU pragma: private
#pragma once

#include "../config.hpp"

#if QINS_DETAIL_X86_TARGETS
#include <cpuid.h>
#endif
#if QINS_DETAIL_X86_TARGETS && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace qins::detail {

/// The features the instruction-set table (qins/isa.hpp) asks about.
struct CpuFeatures {
  bool avx2 = false, fma = false;  // F16C, which the AVX2 path also uses, comes with every AVX2 CPU
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vbmi = false, avx512vnni = false, gfni = false;
  /// AMX-TILE and AMX-INT8, with the tile state enabled by the OS for this process.
  bool amx_int8 = false;
};

#if QINS_DETAIL_X86_TARGETS
/// Whether the CPU has AMX-TILE and AMX-INT8 and the OS lets this process use the tiles.
/// On Linux the tile data state is off until a process asks for it (arch_prctl
/// ARCH_REQ_XCOMP_PERM, kernel 5.16 and later); the request is made here, once, and only on
/// CPUs that have AMX. It lasts for the process and adds the tile registers (8 KiB) to the
/// state the kernel saves on a signal. Elsewhere AMX is reported absent.
inline bool detect_amx_int8() noexcept {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return false;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  if (!((edx >> 24) & 1) || !((edx >> 25) & 1)) return false;  // EDX 24, 25: AMX-TILE, -INT8
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  const unsigned long long xcr0 = static_cast<unsigned long long>(hi) << 32 | lo;
  if (((xcr0 >> 17) & 3) != 3) return false;  // XCR0 17, 18: the OS manages the tile state
#if defined(__linux__)
  constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}
#endif

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
    f.amx_int8 = detect_amx_int8();
#endif
    return f;
  }();
  return features;
}

}  // namespace qins::detail
