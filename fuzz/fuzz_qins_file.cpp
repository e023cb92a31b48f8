// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// libFuzzer harness for the .qins reader: reject with qins::Error or round-trip exactly.
#include <cstddef>
#include <cstdint>
#include <qins/io.hpp>
#include <qins/linear.hpp>
#include <vector>

#include "properties.hpp"

// Built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION the reader skips the checksums, so
// mutated tables reach the structural checks; the replay build verifies them as usual.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<qins::QinsLinear> tensors;
  qins::Metadata metadata;
  try {
    qins::QinsFile file = qins::parse_file(data, size);
    for (qins::QinsTensor& t : file.tensors) tensors.emplace_back(std::move(t));
    metadata = std::move(file.metadata);
  } catch (const qins::Error&) {
    return 0;  // rejected: the expected outcome for almost every input
  }
  qins_fuzz::abort_if(qins_fuzz::qins_round_trip_problem(tensors, metadata));
  qins_fuzz::abort_if(qins_fuzz::tensor_use_problem(tensors));
  return 0;
}
