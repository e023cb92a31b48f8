// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// libFuzzer harness for the llama2.c checkpoint reader: reject with qins::Error or be consistent.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <qins/llama2/checkpoint.hpp>

#include "properties.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::shared_ptr<const qins::llama2::Checkpoint> ck;
  try {
    ck = std::make_shared<const qins::llama2::Checkpoint>(
        qins::llama2::parse_checkpoint(data, size, "fuzz input"));
  } catch (const qins::Error&) {
    return 0;
  }
  qins_fuzz::abort_if(qins_fuzz::checkpoint_problem(*ck, size));
  qins_fuzz::run_one_token(ck);
  return 0;
}
