// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// What a path given to the tools is, and how to open it: a llama2.c checkpoint, a Hugging
// Face directory or .safetensors file, a .qins model or a .qins file of layers.
#pragma once

#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <qins/error.hpp>
#include <qins/io.hpp>
#include <qins/llama2/checkpoint.hpp>
#include <qins/llama2/hf.hpp>
#include <qins/llama2/model.hpp>
#include <qins/llama2/model_file.hpp>
#include <qins/llama2/source.hpp>
#include <string>
#include <vector>

namespace qins_tools {

namespace llama2 = qins::llama2;

enum class InputKind {
  llama2c,       ///< a llama2.c legacy checkpoint (.bin)
  hf,            ///< a Hugging Face directory (config.json + safetensors)
  safetensors,   ///< one .safetensors file (its folder holds config.json for a model)
  qins_model,    ///< a .qins file of a whole model (qins convert writes these)
  qins_tensors,  ///< a .qins file of layers without a model around them
};

inline const char* to_string(InputKind k) noexcept {
  switch (k) {
    case InputKind::llama2c:
      return "llama2.c checkpoint";
    case InputKind::hf:
      return "Hugging Face directory";
    case InputKind::safetensors:
      return "safetensors file";
    case InputKind::qins_model:
      return "qins model";
    case InputKind::qins_tensors:
      return "qins file of layers";
  }
  return "unknown";
}

struct Input {
  InputKind kind;
  std::string path;
};

/// What `path` holds, from its first bytes. @throws qins::Error: io_failure for a missing
/// path; bad_file, saying what the path is instead, for a directory without config.json, a
/// Git LFS pointer, a text file.
inline Input identify(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found)
    throw qins::Error(qins::ErrorKind::io_failure, "'" + path + "': no such file or directory");
  if (st.type() == fs::file_type::directory) {
    if (fs::is_regular_file(fs::path(path) / "config.json", ec)) return {InputKind::hf, path};
    throw qins::Error(qins::ErrorKind::bad_file,
                      "'" + path +
                          "' is a directory without config.json: not a Hugging Face model "
                          "directory (give a checkpoint file or a model directory)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw qins::Error(qins::ErrorKind::io_failure, "'" + path + "': cannot open for reading");
  unsigned char head[64] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  const std::size_t n = static_cast<std::size_t>(in.gcount());
  if (n >= 4 && std::memcmp(head, "QINS", 4) == 0) {
    qins::LoadOptions quick;  // the structure only: cheap on a mapped file
    quick.mode = qins::LoadMode::memory_map;
    quick.verify_checksums = false;
    const qins::QinsFile f = qins::load_file(path, quick);
    return {f.metadata.count(llama2::kModelKey) ? InputKind::qins_model : InputKind::qins_tensors,
            path};
  }
  static constexpr char lfs[] = "version https://git-lfs.github.com/spec/";
  if (n >= sizeof lfs - 1 && std::memcmp(head, lfs, sizeof lfs - 1) == 0)
    throw qins::Error(
        qins::ErrorKind::bad_file,
        "'" + path + "' is a Git LFS pointer, not the model's data: run git lfs pull");
  if (n >= 9 && head[8] == '{') return {InputKind::safetensors, path};
  bool text = n > 0;
  for (std::size_t i = 0; i < n; ++i)
    text = text && (std::isprint(head[i]) || std::isspace(head[i]) || head[i] >= 0x80);
  if (text)
    throw qins::Error(qins::ErrorKind::bad_file,
                      "'" + path +
                          "' is a text file, not a model (a llama2.c .bin, a .safetensors "
                          "file, a Hugging Face directory or a .qins model)");
  return {InputKind::llama2c, path};
}

/// The float32 weights of a checkpoint input. @throws qins::Error: invalid_argument for a
/// .qins input (already converted), or the readers' errors.
inline std::unique_ptr<llama2::ModelSource> open_source(const Input& in) {
  switch (in.kind) {
    case InputKind::llama2c:
      return llama2::Llama2cFile::open(in.path);
    case InputKind::hf:
      return llama2::HfCheckpoint::open(in.path);
    case InputKind::safetensors: {
      const std::filesystem::path dir = std::filesystem::path(in.path).parent_path();
      return llama2::HfCheckpoint::open(dir.empty() ? std::string(".") : dir.string());
    }
    case InputKind::qins_model:
    case InputKind::qins_tensors:
      break;
  }
  throw qins::Error(qins::ErrorKind::invalid_argument,
                    "'" + in.path + "' is a " + to_string(in.kind) +
                        ", not a float checkpoint: give the llama2.c, safetensors or Hugging Face "
                        "model it was converted from");
}

/// A runnable model from any input but a .qins file of layers: a .qins model as it is
/// (memory-mapped), a checkpoint in float32. @throws qins::Error as the readers.
inline llama2::Model open_model(const Input& in) {
  if (in.kind == InputKind::qins_model) return llama2::load_model(in.path);
  if (in.kind == InputKind::qins_tensors)
    throw qins::Error(qins::ErrorKind::bad_file,
                      "'" + in.path +
                          "' is a .qins file of layers, not a whole model (write one "
                          "with qins convert)");
  return llama2::Model::load(*open_source(in));
}

/// The folder a tokenizer is looked for in: the model's own for a directory, else its parent.
inline std::string model_folder(const Input& in) {
  if (in.kind == InputKind::hf) return in.path;
  const std::filesystem::path dir = std::filesystem::path(in.path).parent_path();
  return dir.empty() ? std::string(".") : dir.string();
}

}  // namespace qins_tools
