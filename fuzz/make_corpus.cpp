// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Writes the seed and regression files of fuzz/corpus/ (run: qins_make_corpus <repo>/fuzz/corpus).
#include <cstddef>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "seed_files.hpp"

namespace {

template <class Byte>
bool write(const std::filesystem::path& path, const std::vector<Byte>& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  std::printf("%s: %zu bytes\n", path.c_str(), bytes.size());
  return static_cast<bool>(out);
}

// Writes what `make` returns; a generator that throws is reported and the others still run.
template <class Make>
bool write_seed(const std::filesystem::path& path, Make make) {
  try {
    return write(path, make());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: not written: %s\n", path.c_str(), e.what());
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir(argv[1]);
  bool ok = write_seed(dir / "fuzz_qins_file" / "seed_three_tensors.qins",
                       qins_fuzz::qins_seed_three_tensors);
  ok = write_seed(dir / "fuzz_qins_file" / "seed_fixed_and_empty.qins",
                  qins_fuzz::qins_seed_fixed_and_empty) &&
       ok;
  ok = write_seed(dir / "fuzz_qins_file" / "seed_v1_1_metadata_and_plain.qins",
                  qins_fuzz::qins_seed_v1_1) &&
       ok;
  ok = write_seed(dir / "fuzz_qins_file" / "regression_scale_overflow.qins",
                  qins_fuzz::qins_regression_scale_overflow) &&
       ok;
  ok = write_seed(dir / "fuzz_qins_file" / "regression_zero_width.qins",
                  qins_fuzz::qins_regression_zero_width) &&
       ok;
  ok = write_seed(dir / "fuzz_llama2_checkpoint" / "seed_shared_classifier.bin",
                  [] { return qins_fuzz::llama2_seed(true); }) &&
       ok;
  ok = write_seed(dir / "fuzz_llama2_checkpoint" / "seed_separate_classifier.bin",
                  [] { return qins_fuzz::llama2_seed(false); }) &&
       ok;
  ok = write_seed(dir / "fuzz_llama2_tokenizer" / "seed_byte_pieces_and_merges.bin",
                  qins_fuzz::tokenizer_seed_with_byte_pieces) &&
       ok;
  ok = write_seed(dir / "fuzz_llama2_tokenizer" / "seed_no_byte_pieces.bin",
                  qins_fuzz::tokenizer_seed_without_byte_pieces) &&
       ok;
  ok = write_seed(dir / "fuzz_llama2_tokenizer" / "regression_bos_merges.bin",
                  qins_fuzz::tokenizer_regression_bos_merges) &&
       ok;
  ok = write_seed(dir / "fuzz_llama2_tokenizer" / "regression_unk_merges.bin",
                  qins_fuzz::tokenizer_regression_unk_merges) &&
       ok;
  ok = write_seed(dir / "fuzz_safetensors" / "seed_three_dtypes.safetensors",
                  qins_fuzz::safetensors_seed_three_dtypes) &&
       ok;
  ok = write_seed(dir / "fuzz_safetensors" / "seed_tiny_llama.safetensors",
                  [] { return qins_fuzz::safetensors_seed_tiny_llama(); }) &&
       ok;
  ok = write_seed(dir / "fuzz_safetensors" / "seed_handwritten.safetensors",
                  qins_fuzz::safetensors_seed_handwritten) &&
       ok;
  return ok ? 0 : 1;
}
