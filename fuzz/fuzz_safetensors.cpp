// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// libFuzzer harness for the safetensors reader: reject with qins::Error or be consistent.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <qins/llama2/safetensors.hpp>
#include <string>

#include "properties.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::optional<qins::llama2::SafetensorsFile> f;
  try {
    f.emplace(qins::llama2::SafetensorsFile::parse(data, size, "fuzz input"));
  } catch (const qins::Error& e) {
    // A malformed file is bad_file, named after its source; nothing else may come out.
    const std::string what = e.what();
    if (e.kind() != qins::ErrorKind::bad_file) {
      qins_fuzz::abort_if("the reader threw a qins::Error that is not bad_file: " + what);
    }
    if (what.rfind("qins: safetensors file 'fuzz input': ", 0) != 0) {
      qins_fuzz::abort_if("a rejection without the source prefix: " + what);
    }
    return 0;
  }
  qins_fuzz::abort_if(qins_fuzz::safetensors_problem(*f, data, size));
  return 0;
}
