// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Kernel path selection: query, scoped override, rejection of unsupported paths.
#include <qins/isa.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

TEST_CASE("the supported paths start with the scalar reference and include the best", "[isa]") {
  const auto isas = qins::supported_isas();
  REQUIRE(!isas.empty());
  CHECK(isas.front() == qins::Isa::scalar);
  CHECK(std::find(isas.begin(), isas.end(), qins::best_isa()) != isas.end());
  CHECK(qins::is_supported(qins::Isa::scalar));
#if defined(QINS_FORCE_SCALAR)
  CHECK(isas.size() == 1);
#endif
}

TEST_CASE("ScopedIsa overrides the active path and restores it", "[isa]") {
  const qins::Isa before = qins::active_isa();
  for (qins::Isa isa : qins::supported_isas()) {
    qins::ScopedIsa outer(isa);
    CHECK(qins::active_isa() == isa);
    {
      qins::ScopedIsa inner(qins::Isa::scalar);
      CHECK(qins::active_isa() == qins::Isa::scalar);
    }
    CHECK(qins::active_isa() == isa);
  }
  CHECK(qins::active_isa() == before);
  for (qins::Isa isa : {qins::Isa::avx2, qins::Isa::avx512})
    if (!qins::is_supported(isa)) CHECK_THROWS_AS(qins::ScopedIsa(isa), qins::Error);
  CHECK(std::string(qins::to_string(qins::Isa::avx512)) == "avx512");
}
