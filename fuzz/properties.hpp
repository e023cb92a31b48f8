// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Properties every successfully parsed input must have; a violation aborts (a fuzz crash).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <qins/io.hpp>
#include <qins/linear.hpp>
#include <qins/llama2/checkpoint.hpp>
#include <qins/llama2/model.hpp>
#include <qins/llama2/safetensors.hpp>
#include <qins/llama2/tensors.hpp>
#include <string>
#include <vector>

namespace qins_fuzz {

/// For the harnesses: a property violation is a crash, so the fuzzer reports it.
inline void abort_if(const std::string& problem) {
  if (problem.empty()) return;
  std::fprintf(stderr, "qins fuzz property violated: %s\n", problem.c_str());
  std::abort();
}

/// Tensors equal in every stored bit: name, shape, code type, layout, codes, scales, bias.
inline bool same_tensor(const qins::QinsLinear& a, const qins::QinsLinear& b) {
  const auto ma = a.memory(), mb = b.memory();
  return a.name() == b.name() && a.rows() == b.rows() && a.cols() == b.cols() &&
         a.code_type() == b.code_type() && a.layout().granularity == b.layout().granularity &&
         a.layout().group_size == b.layout().group_size && ma.code_bytes == mb.code_bytes &&
         ma.scale_bytes == mb.scale_bytes && ma.bias_bytes == mb.bias_bytes &&
         (ma.code_bytes == 0 || std::memcmp(a.code_bytes(), b.code_bytes(), ma.code_bytes) == 0) &&
         (ma.scale_bytes == 0 ||
          std::memcmp(a.scales().data(), b.scales().data(), ma.scale_bytes) == 0) &&
         (ma.bias_bytes == 0 || std::memcmp(a.bias().data(), b.bias().data(), ma.bias_bytes) == 0);
}

/// The round trip of a parsed file: serialize(tensors, metadata) parses (checksums
/// verified) to the same tensors and metadata, and serializing those gives the same bytes
/// again. Returns what failed, or "".
inline std::string qins_round_trip_problem(const std::vector<qins::QinsLinear>& tensors,
                                           const qins::Metadata& metadata = {}) {
  std::vector<std::byte> bytes;
  std::vector<qins::QinsLinear> again;
  qins::Metadata metadata_again;
  try {
    bytes = qins::serialize(tensors, metadata);
    qins::QinsFile file = qins::parse_file(bytes.data(), bytes.size());
    for (qins::QinsTensor& t : file.tensors) again.emplace_back(std::move(t));
    metadata_again = std::move(file.metadata);
  } catch (const std::exception& e) {
    return std::string("serialize/parse of parsed tensors threw: ") + e.what();
  }
  if (metadata_again != metadata) return "the round trip changed the metadata";
  if (again.size() != tensors.size()) return "the round trip changed the tensor count";
  for (std::size_t i = 0; i < tensors.size(); ++i)
    if (!same_tensor(tensors[i], again[i]))
      return "the round trip changed tensor '" + tensors[i].name() + "'";
  if (qins::serialize(again, metadata_again) != bytes)
    return "serialize(parse(serialize(x))) != serialize(x)";
  return {};
}

/// Uses every small tensor: decodes each row (codes must decode to finite weights) and runs
/// both products, so that out-of-bounds reads of codes, scales or bias show up under ASan.
/// Returns what failed, or "".
inline std::string tensor_use_problem(const std::vector<qins::QinsLinear>& tensors) {
  constexpr std::size_t kMaxWeights = std::size_t(1) << 16;
  for (const qins::QinsLinear& t : tensors) {
    if (t.rows() > kMaxWeights || t.cols() > kMaxWeights || t.rows() * t.cols() > kMaxWeights)
      continue;
    const bool codes = qins::is_code_format(t.code_type());
    std::vector<float> row(t.cols());
    for (std::size_t r = 0; r < t.rows(); ++r) {
      t.decode_row(r, row.data());
      if (codes)
        for (float w : row)
          if (!std::isfinite(w))
            return "tensor '" + t.name() + "' (" + qins::to_string(t.code_type()) +
                   ") decodes row " + std::to_string(r) + " to a non-finite weight";
    }
    if (!codes) continue;  // z values and plain floats have no products
    const std::vector<float> x(t.cols() * 3, 0.5f);
    std::vector<float> y(t.rows() * 3);
    t.forward(x.data(), y.data());
    t.forward_batch(x.data(), 3, y.data());
  }
  return {};
}

/// Invariants of a Checkpoint returned by the llama2.c reader; reads the first and the
/// last float of every tensor of checkpoint_tensors, in every block (ASan catches a wrong
/// offset). Returns what failed, or "".
inline std::string checkpoint_problem(const qins::llama2::Checkpoint& ck, std::size_t file_size) {
  const qins::llama2::Config& c = ck.config();
  if (!(c.dim > 0 && c.hidden_dim > 0 && c.n_layers > 0 && c.n_heads > 0 && c.n_kv_heads > 0 &&
        c.vocab_size > 0 && c.seq_len > 0))
    return "a non-positive config field was accepted";
  if (!(c.dim % c.n_heads == 0 && c.head_size() % 2 == 0 && c.n_heads % c.n_kv_heads == 0))
    return "inconsistent head counts were accepted";
  if (28 + 4 * ck.num_floats() > file_size) return "the checkpoint holds more floats than the file";
  volatile float sink = 0;
  for (const qins::llama2::TensorInfo& t : qins::llama2::checkpoint_tensors) {
    if (!t.stored) continue;
    const std::size_t n =
        std::size_t(qins::llama2::extent(t.rows, c)) * std::size_t(qins::llama2::extent(t.cols, c));
    if (ck.tensor_size(t.id) != n) return std::string("tensor_size(") + t.name + ") is wrong";
    for (int l = 0; l < (t.per_layer ? c.n_layers : 1); ++l) {
      const float* p = ck.tensor(t.id, l);
      sink = sink + p[0] + p[n - 1];
    }
  }
  (void)sink;
  return {};
}

/// One token through a Model of the checkpoint: every accessor and shape the reader
/// reported is used by the forward pass.
inline void run_one_token(const std::shared_ptr<const qins::llama2::Checkpoint>& ck) {
  const qins::llama2::Model model(ck);
  qins::llama2::Session session(model);
  (void)session.forward(ck->config().vocab_size - 1, 0);
}

/// Invariants of a safetensors file the reader accepted from the `size` bytes at `data`: the
/// tensors sorted by offset, covering the data section exactly, each found again by name, of a byte
/// span that matches its shape and dtype; every tensor's floats read, either all finite or
/// rejected as non_finite_value naming the tensor and the first non-finite element; the
/// same values row by row and after release(); and, when every value is finite, the file
/// written again from those floats holds the same data bytes and parses to the same
/// tensors and metadata. Returns what failed, or "".
inline std::string safetensors_problem(const qins::llama2::SafetensorsFile& f, const void* data,
                                       std::size_t size) {
  using qins::llama2::SafetensorsTensor;
  if (f.size() != size) return "size() is not the input's size";
  std::uint64_t covered = 0;
  for (const SafetensorsTensor& t : f.tensors()) {
    if (t.begin != covered) return "tensor '" + t.name + "' does not start where the last ended";
    covered = t.end;
    if (t.end < t.begin || t.bytes() != t.elements() * qins::llama2::dtype_size(t.dtype))
      return "tensor '" + t.name + "' has a byte span that does not match its shape";
    if (f.find(t.name) != &t) return "find('" + t.name + "') does not give the tensor";
    if (t.name.empty() || t.name.size() > qins::llama2::safetensors_limits::name_bytes ||
        t.shape.size() > qins::llama2::safetensors_limits::rank)
      return "tensor '" + t.name + "': a name or rank out of bounds was accepted";
  }
  if (f.data_offset() + covered != size) return "the tensors do not cover the data section";

  std::vector<std::vector<float>> values;
  bool all_finite = true;
  for (const SafetensorsTensor& t : f.tensors()) {
    std::vector<float> v(static_cast<std::size_t>(t.elements()));
    bool finite = true;
    try {
      f.read_floats(t, v.data());
    } catch (const qins::Error& e) {
      if (e.kind() != qins::ErrorKind::non_finite_value || e.tensor() != t.name)
        return "read_floats('" + t.name + "') threw " + e.what();
      const std::size_t at = e.row() == qins::Error::npos
                                 ? e.col()
                                 : e.row() * static_cast<std::size_t>(t.shape[1]) + e.col();
      if (at >= v.size() || qins::detail::find_non_finite(v.data(), v.size()) != at)
        return "read_floats('" + t.name + "') names an element that is not the first non-finite";
      finite = all_finite = false;
    }
    if (finite) {
      if (qins::detail::find_non_finite(v.data(), v.size()) != v.size())
        return "read_floats('" + t.name + "') gave a non-finite value";
      if (!t.shape.empty() && t.shape[0] > 0) {
        const std::size_t row = v.size() / static_cast<std::size_t>(t.shape[0]);
        std::vector<float> r(row);
        for (std::uint64_t i = 0; i < t.shape[0] && i < 64; ++i) {
          f.read_rows(t, i, 1, r.data());
          if (row > 0 && std::memcmp(r.data(), v.data() + i * row, 4 * row) != 0)
            return "read_rows('" + t.name + "') differs from read_floats";
        }
      }
      f.release(t);
      std::vector<float> again(v.size());
      f.read_floats(t, again.data());
      if (!v.empty() && std::memcmp(again.data(), v.data(), 4 * v.size()) != 0)
        return "tensor '" + t.name + "' reads differently after release()";
    }
    values.push_back(std::move(v));
  }
  if (!all_finite) return {};

  std::vector<qins::llama2::SafetensorsWriteTensor> out;
  for (std::size_t i = 0; i < f.tensors().size(); ++i) {
    const SafetensorsTensor& t = f.tensors()[i];
    out.push_back({t.name, t.dtype, t.shape, values[i].data()});
  }
  std::vector<std::byte> bytes;
  try {
    bytes = qins::llama2::serialize_safetensors(out, f.metadata());
    const qins::llama2::SafetensorsFile g =
        qins::llama2::SafetensorsFile::parse(bytes.data(), bytes.size(), "again");
    if (g.metadata() != f.metadata()) return "the metadata changed in the round trip";
    if (g.tensors().size() != f.tensors().size()) return "the round trip changed the tensors";
    for (std::size_t i = 0; i < g.tensors().size(); ++i) {
      const SafetensorsTensor &a = f.tensors()[i], &b = g.tensors()[i];
      if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || a.begin != b.begin ||
          a.end != b.end)
        return "the round trip changed tensor '" + a.name + "'";
    }
    if (bytes.size() - g.data_offset() != covered)
      return "the round trip changed the size of the data section";
    if (covered > 0 && std::memcmp(bytes.data() + g.data_offset(),
                                   static_cast<const unsigned char*>(data) + f.data_offset(),
                                   static_cast<std::size_t>(covered)) != 0)
      return "the round trip changed the bytes of the data section";
  } catch (const std::exception& e) {
    return std::string("writing the accepted tensors again threw: ") + e.what();
  }
  return {};
}

}  // namespace qins_fuzz
