// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Shared helpers of the unit tests: ulp distances, weight generators, ISA sweeps.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <qins/isa.hpp>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace qins_test {

#ifdef QINS_TEST_TMP_DIR
/// A fresh, empty scratch directory tests/tmp/<group>/<name> of the build tree.
inline std::filesystem::path scratch_dir(const std::string& group, const std::string& name) {
  const std::filesystem::path p = std::filesystem::path(QINS_TEST_TMP_DIR) / group / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}
#endif

/// Distance in units in the last place between two finite values of the same type
/// (+0 and -0 are 0 apart).
template <class T>
inline std::uint64_t ulp_distance(T a, T b) {
  using I = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
  I ia, ib;
  std::memcpy(&ia, &a, sizeof a);
  std::memcpy(&ib, &b, sizeof b);
  // Map the sign-magnitude bit patterns onto a monotonic integer line.
  if (ia < 0) ia = std::numeric_limits<I>::min() - ia;
  if (ib < 0) ib = std::numeric_limits<I>::min() - ib;
  long double d = static_cast<long double>(ia) - static_cast<long double>(ib);
  return static_cast<std::uint64_t>(d < 0 ? -d : d);
}

/// Weights of the kinds real layers have, scaled by `scale`.
enum class Distribution { gaussian, student_t3, uniform, log_uniform };

template <class T>
inline std::vector<T> random_weights(std::size_t n, Distribution dist, double scale,
                                     std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> w(n);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::student_t_distribution<double> student(3.0);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::uniform_real_distribution<double> exponent(-30.0, 30.0);
  for (auto& x : w) {
    double v = 0;
    switch (dist) {
      case Distribution::gaussian:
        v = normal(rng);
        break;
      case Distribution::student_t3:
        v = student(rng);
        break;
      case Distribution::uniform:
        v = uniform(rng);
        break;
      case Distribution::log_uniform:
        v = std::exp2(exponent(rng)) * (uniform(rng) < 0 ? -1.0 : 1.0);
        break;
    }
    x = static_cast<T>(v * scale);
  }
  return w;
}

/// One supported kernel path, forced while the object lives and named in the messages
/// of every failing check (as INFO("isa ...") would). Converts to qins::Isa.
class ForcedIsa {
 public:
  explicit ForcedIsa(qins::Isa isa)
      : isa_(isa),
        scoped_(isa),
        message_(Catch::MessageBuilder("INFO", CATCH_INTERNAL_LINEINFO, Catch::ResultWas::Info)
                 << "isa " << qins::to_string(isa)) {}
  operator qins::Isa() const noexcept { return isa_; }

 private:
  qins::Isa isa_;
  qins::ScopedIsa scoped_;
  Catch::ScopedMessage message_;
};

/// `for (const auto& isa : qins_test::each_isa()) { ... }` runs the body once per
/// supported path (qins::supported_isas()), with that path forced (a ForcedIsa). Bind
/// the element by reference: that keeps the ForcedIsa, and so the override, alive.
class each_isa {
 public:
  struct iterator {
    std::vector<qins::Isa>::const_iterator it;
    ForcedIsa operator*() const { return ForcedIsa(*it); }
    iterator& operator++() {
      ++it;
      return *this;
    }
    bool operator!=(const iterator& other) const { return it != other.it; }
  };
  each_isa() : isas_(qins::supported_isas()) {}
  iterator begin() const { return {isas_.begin()}; }
  iterator end() const { return {isas_.end()}; }

 private:
  std::vector<qins::Isa> isas_;
};

/// Sizes that hit every SIMD tail: empty, tiny, around 8 and 16 lanes, and large.
inline const std::vector<std::size_t>& tail_sizes() {
  static const std::vector<std::size_t> sizes = {0,  1,  2,  3,  7,  8,  9,    15,  16,
                                                 17, 31, 32, 33, 63, 65, 1023, 4099};
  return sizes;
}

/// sqrt(sum (a - b)^2 / sum a^2), in double.
template <class T>
inline double relative_rms_error(const std::vector<T>& a, const std::vector<T>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    num += d * d;
    den += static_cast<double>(a[i]) * static_cast<double>(a[i]);
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace qins_test
