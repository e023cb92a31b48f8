// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// libFuzzer harness for the llama2.c tokenizer reader: reject with qins::Error or be consistent.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <qins/llama2/tokenizer.hpp>
#include <string>

#include "properties.hpp"
#include "seed_files.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::unique_ptr<const qins::llama2::Tokenizer> t;
  try {
    t = std::make_unique<const qins::llama2::Tokenizer>(
        qins::llama2::parse_tokenizer(data, size, "fuzz input"));
  } catch (const qins::Error& e) {
    // A malformed file is bad_file, named after its source; nothing else may come out.
    const std::string what = e.what();
    if (e.kind() != qins::ErrorKind::bad_file) {
      qins_fuzz::abort_if("the reader threw a qins::Error that is not bad_file: " + what);
    }
    if (what.rfind("qins: tokenizer 'fuzz input': ", 0) != 0) {
      qins_fuzz::abort_if("a rejection without the source prefix: " + what);
    }
    return 0;
  }
  qins_fuzz::abort_if(qins_fuzz::tokenizer_problem(*t, data, size));
  return 0;
}
