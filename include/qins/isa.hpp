// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Which kernel path runs: detection, query, override (ScopedIsa, QINS_ISA) and listing.
#pragma once

#include <atomic>
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
};

inline const char* to_string(Isa isa) noexcept {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

/// True when this build has kernels for `isa` and this CPU can run them.
inline bool is_supported(Isa isa) noexcept {
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return QINS_HAS_X86_KERNELS && detail::cpu_features().avx2_fma;
    case Isa::avx512: return QINS_HAS_AVX512_KERNELS && detail::cpu_features().avx512;
  }
  return false;
}

/// Every path this build and CPU can run, scalar first. Tests run all of them.
inline std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (is_supported(isa)) out.push_back(isa);
  return out;
}

/// The widest supported path.
inline Isa best_isa() noexcept {
  if (is_supported(Isa::avx512)) return Isa::avx512;
  if (is_supported(Isa::avx2)) return Isa::avx2;
  return Isa::scalar;
}

namespace detail {

// -1: no override. Global (not thread-local) so worker threads follow the caller's choice.
inline std::atomic<int>& isa_override() noexcept {
  static std::atomic<int> value{-1};
  return value;
}

/// The environment variable QINS_ISA (scalar, avx2, avx512) caps the path, read once.
inline Isa isa_from_environment() noexcept {
  static const Isa isa = [] {
    Isa best = best_isa();
    const char* env = std::getenv("QINS_ISA");
    if (env == nullptr) return best;
    Isa wanted = best;
    if (std::strcmp(env, "scalar") == 0) wanted = Isa::scalar;
    else if (std::strcmp(env, "avx2") == 0) wanted = Isa::avx2;
    else if (std::strcmp(env, "avx512") == 0) wanted = Isa::avx512;
    return static_cast<int>(wanted) < static_cast<int>(best) ? wanted : best;
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
      throw Error(ErrorKind::invalid_argument,
                  std::string("instruction set '") + to_string(isa) +
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
