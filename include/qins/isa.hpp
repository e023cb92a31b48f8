// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Which kernel path runs: the table of instruction sets, detection, query, override
// (ScopedIsa, QINS_ISA) and listing.
//
// Every property of an instruction set lives in one row of detail::kIsaTable (name,
// whether this build compiled it, the CPU features it needs, its compiler target);
// to_string, is_supported, supported_isas, best_isa, the QINS_ISA parser and the
// dispatcher (detail/dispatch.hpp) all read that table. A new path is a new enum value,
// a row, its kernel header (a vector wrapper over the shared kernel bodies) and its
// include in detail/dispatch.hpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "config.hpp"
#include "detail/cpu_features.hpp"
#include "error.hpp"

namespace qins {

/// Kernel paths, ordered from the reference to the widest.
enum class Isa : int {
  scalar = 0,  ///< portable reference kernels (`*_ref`): the specification
  avx2 = 1,    ///< 256-bit AVX2 + FMA kernels
  avx512 = 2,  ///< 512-bit AVX-512 (F, BW, VL, DQ) kernels
  /// the avx512 kernels, with the uint8 GEMV as a table look-up (VBMI vpermi2b, GFNI) and
  /// integer dot products (VNNI vpdpwssd) on inputs rounded to 13 bits (see QinsLinear);
  /// Intel Ice Lake and later, AMD Zen 4 and later
  avx512_vnni = 3,
  /// the avx512vnni kernels, with the batched uint8 products (forward_batch) as tile
  /// matrix multiplies (AMX-INT8) on the same table and rounded inputs; Intel Sapphire
  /// Rapids and later, on Linux
  avx512_amx = 4,
};

namespace detail {

/// One row of the instruction-set table.
struct IsaInfo {
  Isa isa;
  const char* name;    ///< also the value QINS_ISA takes
  bool compiled;       ///< this build has the kernels (see QINS_DISABLED_ISAS)
  const char* target;  ///< the compiler target of its kernels ("" for the reference)
  bool (*cpu_runs)(const CpuFeatures&) noexcept;
};

inline constexpr IsaInfo kIsaTable[] = {
    {Isa::scalar, "scalar", true, "", [](const CpuFeatures&) noexcept { return true; }},
    {Isa::avx2, "avx2", QINS_HAS_AVX2_KERNELS, QINS_DETAIL_TARGET_AVX2,
     [](const CpuFeatures& f) noexcept { return f.avx2 && f.fma; }},
    {Isa::avx512, "avx512", QINS_HAS_AVX512_KERNELS, QINS_DETAIL_TARGET_AVX512,
     [](const CpuFeatures& f) noexcept {
       return f.avx2 && f.fma && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
     }},
    {Isa::avx512_vnni, "avx512vnni", QINS_HAS_AVX512_VNNI_KERNELS, QINS_DETAIL_TARGET_AVX512_VNNI,
     [](const CpuFeatures& f) noexcept {
       return f.avx2 && f.fma && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
              f.avx512vbmi && f.avx512vnni && f.gfni;
     }},
    {Isa::avx512_amx, "amx", QINS_HAS_AVX512_AMX_KERNELS, QINS_DETAIL_TARGET_AVX512_AMX,
     [](const CpuFeatures& f) noexcept {
       return f.avx2 && f.fma && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
              f.avx512vbmi && f.avx512vnni && f.gfni && f.amx_int8;
     }},
};
inline constexpr std::size_t kIsaCount = sizeof(kIsaTable) / sizeof(kIsaTable[0]);

constexpr bool table_is_in_enum_order() noexcept {
  for (std::size_t i = 0; i < kIsaCount; ++i)
    if (static_cast<std::size_t>(kIsaTable[i].isa) != i) return false;
  return true;
}
static_assert(table_is_in_enum_order(),
              "row i of kIsaTable describes Isa value i (QINS_DISABLED_ISAS bit i)");

/// The row of `isa`, or null for a value outside the enum.
constexpr const IsaInfo* isa_info(Isa isa) noexcept {
  const int i = static_cast<int>(isa);
  return i >= 0 && static_cast<std::size_t>(i) < kIsaCount ? &kIsaTable[i] : nullptr;
}

}  // namespace detail

/// "scalar", "avx2", "avx512", "avx512vnni", "amx"; "unknown" for a value outside the enum.
inline const char* to_string(Isa isa) noexcept {
  const detail::IsaInfo* info = detail::isa_info(isa);
  return info ? info->name : "unknown";
}

/// True when this build has kernels for `isa` and this CPU can run them.
inline bool is_supported(Isa isa) noexcept {
  const detail::IsaInfo* info = detail::isa_info(isa);
  return info && info->compiled && info->cpu_runs(detail::cpu_features());
}

/// Every path this build and CPU can run, scalar first. Tests run all of them.
inline std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (const detail::IsaInfo& info : detail::kIsaTable)
    if (is_supported(info.isa)) out.push_back(info.isa);
  return out;
}

/// The widest supported path.
inline Isa best_isa() noexcept {
  for (std::size_t i = detail::kIsaCount; i-- > 1;)
    if (is_supported(detail::kIsaTable[i].isa)) return detail::kIsaTable[i].isa;
  return Isa::scalar;
}

namespace detail {

// -1: no override. Global (not thread-local) so worker threads follow the caller's choice.
inline std::atomic<int>& isa_override() noexcept {
  static std::atomic<int> value{-1};
  return value;
}

/// The environment variable QINS_ISA (a name of the table) caps the path, read once; an
/// unknown name is ignored.
inline Isa isa_from_environment() noexcept {
  static const Isa isa = [] {
    const Isa best = best_isa();
    const char* env = std::getenv("QINS_ISA");
    if (env == nullptr) return best;
    for (const IsaInfo& info : kIsaTable)
      if (std::strcmp(env, info.name) == 0)
        return static_cast<int>(info.isa) < static_cast<int>(best) ? info.isa : best;
    return best;
  }();
  return isa;
}

}  // namespace detail

/// The path the dispatching functions use now: an active ScopedIsa override, else the
/// QINS_ISA environment variable (capped at what the CPU supports), else best_isa().
inline Isa active_isa() noexcept {
  int forced = detail::isa_override().load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<Isa>(forced);
  return detail::isa_from_environment();
}

/// Forces a kernel path for its lifetime (for tests and benchmarks), restoring the
/// previous choice afterwards. Process-wide; not meant for concurrent use by several
/// threads. Throws qins::Error if `isa` is not supported on this machine.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : previous_(detail::isa_override().load()) {
    if (!is_supported(isa))
      throw Error(ErrorKind::invalid_argument, std::string("instruction set '") + to_string(isa) +
                                                   "' is not supported by this build or CPU");
    detail::isa_override().store(static_cast<int>(isa));
  }
  ~ScopedIsa() { detail::isa_override().store(previous_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  int previous_;
};

}  // namespace qins
