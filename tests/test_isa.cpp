// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Kernel path selection: query, scoped override, rejection of unsupported paths.
#include <algorithm>
#include <catch2/catch.hpp>
#include <qins/isa.hpp>
#include <string>
#include <vector>

#include "support.hpp"

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
  for (qins::Isa isa :
       {qins::Isa::avx2, qins::Isa::avx512, qins::Isa::avx512_vnni, qins::Isa::avx512_amx})
    if (!qins::is_supported(isa)) CHECK_THROWS_AS(qins::ScopedIsa(isa), qins::Error);
  CHECK(std::string(qins::to_string(qins::Isa::avx512)) == "avx512");
}

TEST_CASE("the instruction-set table drives names, support and the test sweep", "[isa]") {
  const auto isas = qins::supported_isas();
  // Every row: its name, in enum order; support needs the build and the CPU.
  for (const qins::detail::IsaInfo& row : qins::detail::kIsaTable) {
    CHECK(std::string(qins::to_string(row.isa)) == row.name);
    CHECK(qins::is_supported(row.isa) ==
          (row.compiled && row.cpu_runs(qins::detail::cpu_features())));
    CHECK((std::find(isas.begin(), isas.end(), row.isa) != isas.end()) ==
          qins::is_supported(row.isa));
  }
  CHECK(qins::best_isa() == isas.back());
  CHECK(std::string(qins::to_string(static_cast<qins::Isa>(42))) == "unknown");
  CHECK(!qins::is_supported(static_cast<qins::Isa>(42)));
  // A path's compiler target extends its parent's.
  const std::string avx2 = qins::detail::kIsaTable[1].target,
                    avx512 = qins::detail::kIsaTable[2].target,
                    vnni = qins::detail::kIsaTable[3].target,
                    amx = qins::detail::kIsaTable[4].target;
  CHECK(avx512.rfind(avx2, 0) == 0);
  CHECK(vnni.rfind(avx512, 0) == 0);
  CHECK(amx.rfind(vnni, 0) == 0);
  CHECK(std::string(qins::to_string(qins::Isa::avx512_amx)) == "amx");
  // each_isa() forces each supported path in turn, and restores the choice after.
  const qins::Isa before = qins::active_isa();
  std::vector<qins::Isa> seen;
  for (const auto& isa : qins_test::each_isa()) {
    CHECK(qins::active_isa() == qins::Isa(isa));
    seen.push_back(isa);
  }
  CHECK(seen == isas);
  CHECK(qins::active_isa() == before);
}
