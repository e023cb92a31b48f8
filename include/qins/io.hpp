// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The .qins file: one or many named QinsTensors, checksummed, loadable in place.
//
// Layout, version 1.0. All integers little-endian; every offset is from the start of the
// file; every payload starts on a 64-byte boundary. The fields of the two fixed-layout
// records, with their offsets and widths, are the tables of detail/qins_records.hpp
// (which the reader, the writer and the tests share); what they hold:
//
//   Header (64 bytes): the magic "QINS"; the major version (1: readers reject any other)
//     and the minor version (0: readers accept newer minors and ignore what they add); the
//     tensor count; the table entry size (>= 128; bytes past 128 belong to newer minors);
//     the table offset (64); the header end (end of the table and the names, rounded up
//     to 64); the file size; 16 reserved bytes (0); and the XXH64 (seed 0) of bytes
//     [0, 56) followed by bytes [64, header end).
//   Table: one entry per tensor, `entry size` bytes each: name offset and length (1 ..
//     4096 bytes of UTF-8, unique); code type (1 uint8, 2 uint16, 3 float32 z values; 1.1:
//     4 plain float32; 1.2: 5 uint12, two codes in three bytes, code_format.hpp);
//     alpha granularity (0 fixed, 1 per tensor, 2 per row, 3 per group); has bias (0 or
//     1); rows, cols and group size (per group: > 0 and divides cols); the offset and
//     size of the codes (rows x the code type's bytes of a row of cols codes); of the
//     scales (a count of float32 1/alpha, one per alpha slot); of the bias (0, or rows
//     float32 values); the XXH64 (seed 0) of the codes, then the scales, then the bias
//     bytes; reserved to 128.
//   Names: after the table, inside [table end, header end).
//   Payloads: from header end to file size; each array 64-byte aligned, within the file,
//   none overlapping another.
//
// Loading checks all of it, in 64-bit arithmetic that cannot overflow, before it
// allocates anything sized by the file; a bad file throws qins::Error (kind bad_file)
// naming the field and the tensor. Every scale must be finite and > 0 and, for codes
// (uint8, uint12, uint16), small enough that every code decodes to a finite weight ((M - 1) * scale
// finite, as the constructor requires of alpha). A memory-mapped load uses the codes in place.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "code_format.hpp"
#include "detail/aligned_buffer.hpp"
#include "detail/endian.hpp"
#include "detail/float_bits.hpp"
#include "detail/mapped_file.hpp"
#include "detail/qins_records.hpp"
#include "error.hpp"
#include "tensor.hpp"

namespace qins {

inline constexpr std::uint16_t kFileMajorVersion = 1;
inline constexpr std::uint16_t kFileMinorVersion = 2;

/// Metadata a file may carry (version 1.1): text keys to text values, e.g. a model's
/// configuration. Keys are 1 to 4096 bytes, values at most 1 MiB, 4096 entries at most.
using Metadata = std::map<std::string, std::string>;

enum class LoadMode {
  copy,  ///< read the file; each tensor owns its codes
  /// Map the file read-only; tensors use the mapped codes in place. The file must then
  /// not be overwritten in place while they live: the OS would kill the process (SIGBUS)
  /// when it touches a page that changed size. Replace it by writing a new file and
  /// renaming it over the old one, as save() and FileWriter do: the mapping keeps the old
  /// contents.
  memory_map,
};

struct LoadOptions {
  LoadMode mode = LoadMode::copy;
  /// Verify the XXH64 checksums of the header and of every payload (reads every byte).
  bool verify_checksums = true;
};

namespace detail {

inline constexpr std::size_t kFileHeaderSize = detail::qins_records::kHeaderSize;
inline constexpr std::size_t kTableEntrySize = detail::qins_records::kEntrySize;
inline constexpr std::size_t kMaxNameLength = 4096;
inline constexpr std::size_t kFileAlignment = 64;

inline std::uint64_t round_up_64(std::uint64_t v) { return (v + 63) & ~std::uint64_t(63); }

[[noreturn]] inline void bad_file(const std::string& what, const std::string& tensor = {}) {
  throw Error(ErrorKind::bad_file, what, tensor);
}

/// a + b and a * b, or a bad_file error naming `what` when they overflow 64 bits.
inline std::uint64_t checked_add(std::uint64_t a, std::uint64_t b, const char* what,
                                 const std::string& t = {}) {
  if (a > UINT64_MAX - b) bad_file(std::string(what) + " overflows", t);
  return a + b;
}
inline std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, const char* what,
                                 const std::string& t = {}) {
  if (a != 0 && b > UINT64_MAX / a) bad_file(std::string(what) + " overflows", t);
  return a * b;
}

inline std::uint64_t header_checksum(const std::byte* file, std::uint64_t header_end) {
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  XXH64_update(&state, file, detail::qins_records::header_checksum.offset);
  XXH64_update(&state, file + kFileHeaderSize,
               static_cast<std::size_t>(header_end - kFileHeaderSize));
  return XXH64_digest(&state);
}

struct PayloadRange {
  std::uint64_t offset, size;
  std::string what;
};

inline std::uint64_t payload_checksum(const std::byte* codes, std::size_t codes_size,
                                      const float* scales, std::size_t scale_count,
                                      const float* bias, std::size_t bias_count) {
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  XXH64_update(&state, codes, codes_size);
  XXH64_update(&state, scales, scale_count * sizeof(float));
  XXH64_update(&state, bias, bias_count * sizeof(float));
  return XXH64_digest(&state);
}

inline bool skip_checksums(const LoadOptions& options) {
#if defined(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
  (void)options;
  return true;  // let the fuzzer past the checksums to the structural checks
#else
  return !options.verify_checksums;
#endif
}

inline constexpr std::size_t kMaxMetadataEntries = 4096;
inline constexpr std::size_t kMaxMetadataValue = std::size_t(1) << 20;

/// Metadata as stored: per entry a u32 key length, the key, a u32 value length, the value.
inline std::vector<std::byte> encode_metadata(const Metadata& metadata) {
  if (metadata.size() > kMaxMetadataEntries)
    throw Error(ErrorKind::invalid_argument, "more than 4096 metadata entries");
  std::vector<std::byte> out;
  auto put_string = [&](const std::string& s) {
    const std::size_t at = out.size();
    out.resize(at + 4 + s.size());
    store_le<std::uint32_t>(out.data() + at, static_cast<std::uint32_t>(s.size()));
    std::memcpy(out.data() + at + 4, s.data(), s.size());
  };
  for (const auto& [key, value] : metadata) {
    if (key.empty() || key.size() > kMaxNameLength)
      throw Error(ErrorKind::invalid_argument,
                  "metadata keys must be 1 to 4096 bytes long: '" + key + "'");
    if (value.size() > kMaxMetadataValue)
      throw Error(ErrorKind::invalid_argument, "metadata value of '" + key + "' exceeds 1 MiB");
    put_string(key);
    put_string(value);
  }
  return out;
}

/// The metadata block [offset, offset + size) of the header area, checked as it is read.
inline Metadata decode_metadata(const std::byte* p, std::uint64_t offset, std::uint64_t size,
                                std::uint64_t area_begin, std::uint64_t area_end) {
  Metadata out;
  if (size == 0) return out;
  if (offset < area_begin || offset > area_end || size > area_end - offset)
    bad_file("metadata [" + std::to_string(offset) + ", +" + std::to_string(size) +
             ") lies outside the name area");
  std::uint64_t at = offset;
  const std::uint64_t end = offset + size;
  auto take_string = [&](std::size_t limit, const char* what) {
    if (end - at < 4) bad_file(std::string("metadata ends inside a ") + what + " length");
    const std::uint64_t n = load_le<std::uint32_t>(p + at);
    at += 4;
    if (n > limit)
      bad_file(std::string("metadata ") + what + " of " + std::to_string(n) + " bytes is too long");
    if (n > end - at) bad_file(std::string("metadata ends inside a ") + what);
    std::string s(reinterpret_cast<const char*>(p + at), static_cast<std::size_t>(n));
    at += n;
    return s;
  };
  while (at < end) {
    if (out.size() == kMaxMetadataEntries) bad_file("more than 4096 metadata entries");
    std::string key = take_string(kMaxNameLength, "key");
    if (key.empty()) bad_file("empty metadata key");
    std::string value = take_string(kMaxMetadataValue, "value");
    if (!out.emplace(std::move(key), std::move(value)).second) bad_file("duplicate metadata key");
  }
  return out;
}

/// Parses a whole file held in `file`. With `in_place`, codes are views of `file`.
inline std::vector<QinsTensor> parse_file(const SharedBytes& file, bool in_place,
                                          const LoadOptions& options,
                                          Metadata* metadata = nullptr) {
  const std::byte* p = file.data();
  const std::uint64_t size = file.size();
  if (size < kFileHeaderSize)
    bad_file("file of " + std::to_string(size) + " bytes is shorter than the 64-byte header");
  if (std::memcmp(p, "QINS", 4) != 0) bad_file("bad magic: not a .qins file");
  namespace f = qins_records;
  const std::uint64_t major = f::get(p, f::major_version);
  if (major != kFileMajorVersion)
    bad_file("unsupported major version " + std::to_string(major) + " (this reader reads version " +
             std::to_string(kFileMajorVersion) + ")");
  const std::uint64_t count = f::get(p, f::tensor_count);
  const std::uint64_t entry_size = f::get(p, f::entry_size);
  const std::uint64_t table_offset = f::get(p, f::table_offset);
  const std::uint64_t header_end = f::get(p, f::header_end);
  const std::uint64_t stated_size = f::get(p, f::file_size);
  if (stated_size != size)
    bad_file("file size is " + std::to_string(size) + " bytes but the header says " +
             std::to_string(stated_size) + " (truncated or extended)");
  if (entry_size < kTableEntrySize || entry_size > 4096)
    bad_file("table entry size " + std::to_string(entry_size) + " is outside [128, 4096]");
  if (table_offset != kFileHeaderSize)
    bad_file("table offset " + std::to_string(table_offset) + " is not 64");
  if (header_end % kFileAlignment != 0 || header_end < kFileHeaderSize || header_end > size)
    bad_file("header end " + std::to_string(header_end) +
             " is not a 64-byte boundary inside the file");
  const std::uint64_t table_end =
      checked_add(table_offset, checked_mul(count, entry_size, "table size"), "table end");
  if (table_end > header_end)
    bad_file("table of " + std::to_string(count) + " entries does not fit before the header end");
  if (!skip_checksums(options) && header_checksum(p, header_end) != f::get(p, f::header_checksum))
    bad_file("header checksum mismatch (the header or the tensor table is corrupt)");
  // Version 1.1 metadata, in the name area (1.0 files hold zeros there).
  const std::uint16_t minor = static_cast<std::uint16_t>(f::get(p, f::minor_version));
  Metadata meta;
  if (minor >= 1)
    meta = decode_metadata(p, f::get(p, f::metadata_offset), f::get(p, f::metadata_size), table_end,
                           header_end);

  // Pass 1: every entry, structurally, against the file size. Nothing is allocated
  // from file-supplied sizes until all of it holds.
  struct Entry {
    std::string name;
    CodeType code_type;
    AlphaLayout layout;
    std::uint64_t rows, cols, codes_offset, codes_size, scales_offset, scale_count, bias_offset,
        bias_count, checksum;
  };
  std::vector<PayloadRange> ranges;
  std::set<std::string> names;
  std::vector<Entry> entries;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::byte* e = p + table_offset + i * entry_size;
    Entry t;
    const std::uint64_t name_offset = f::get(e, f::name_offset);
    const std::uint64_t name_length = f::get(e, f::name_length);
    const std::string index = "tensor #" + std::to_string(i);
    if (name_length == 0 || name_length > kMaxNameLength)
      bad_file(index + ": name length " + std::to_string(name_length) + " is outside [1, 4096]");
    if (name_offset < table_end || name_offset > header_end ||
        name_length > header_end - name_offset)
      bad_file(index + ": name lies outside the name area");
    t.name.assign(reinterpret_cast<const char*>(p + name_offset),
                  static_cast<std::size_t>(name_length));
    const std::string& name = t.name;
    if (!names.insert(name).second) bad_file("duplicate tensor name", name);

    t.code_type = static_cast<CodeType>(f::get(e, f::code_type));
    const std::uint64_t granularity_raw = f::get(e, f::granularity);
    const std::uint64_t has_bias = f::get(e, f::has_bias);
    t.rows = f::get(e, f::rows);
    t.cols = f::get(e, f::cols);
    const std::uint64_t group = f::get(e, f::group_size);
    t.codes_offset = f::get(e, f::codes_offset);
    t.codes_size = f::get(e, f::code_bytes);
    t.scales_offset = f::get(e, f::scales_offset);
    t.scale_count = f::get(e, f::scale_count);
    t.bias_offset = f::get(e, f::bias_offset);
    t.bias_count = f::get(e, f::bias_count);
    t.checksum = f::get(e, f::payload_checksum);

    if (!is_stored_type(t.code_type))
      bad_file("unknown code type " + std::to_string(int(t.code_type)), name);
    const StoredTypeInfo type = stored_type_info(t.code_type);
    if (granularity_raw > 3)
      bad_file("unknown alpha granularity " + std::to_string(granularity_raw), name);
    if (has_bias > 1) bad_file("has-bias flag must be 0 or 1", name);
    t.layout = AlphaLayout{static_cast<AlphaGranularity>(granularity_raw),
                           static_cast<std::size_t>(group)};
    if (t.layout.granularity == AlphaGranularity::per_group && (group == 0 || t.cols % group != 0))
      bad_file("group size " + std::to_string(group) + " does not divide the row length " +
                   std::to_string(t.cols),
               name);
    (void)checked_mul(t.rows, t.cols, "rows * cols", name);  // every count below then fits
    // Bytes of a row, in 64-bit arithmetic (whole blocks, the last one possibly partial).
    const std::uint64_t row_bytes =
        checked_mul((t.cols + type.codes_per_block - 1) / type.codes_per_block,
                    type.bytes_per_block, "row bytes", name);
    if (t.codes_size != checked_mul(t.rows, row_bytes, "code bytes", name))
      bad_file("code bytes " + std::to_string(t.codes_size) + " do not match the shape", name);
    // rows * row bytes fits in 64 bits, so the alpha count below cannot overflow.
    if (t.code_type == CodeType::plain && t.layout.granularity != AlphaGranularity::fixed)
      bad_file("plain float32 weights must have alpha granularity 0 (fixed)", name);
    const std::uint64_t expected_scales = QinsTensor::expected_scale_count(
        t.code_type, t.layout, static_cast<std::size_t>(t.rows), static_cast<std::size_t>(t.cols));
    if (t.scale_count != expected_scales)
      bad_file("scale count " + std::to_string(t.scale_count) +
                   " does not match the layout (expected " + std::to_string(expected_scales) + ")",
               name);
    if (t.bias_count != (has_bias ? t.rows : 0))
      bad_file("bias count does not match the row count", name);
    const std::uint64_t scale_bytes = checked_mul(t.scale_count, 4, "scale bytes", name);
    const std::uint64_t bias_bytes = checked_mul(t.bias_count, 4, "bias bytes", name);
    for (const PayloadRange& r : {PayloadRange{t.codes_offset, t.codes_size, "codes"},
                                  PayloadRange{t.scales_offset, scale_bytes, "scales"},
                                  PayloadRange{t.bias_offset, bias_bytes, "bias"}}) {
      if (r.size == 0) continue;
      if (r.offset % kFileAlignment != 0) bad_file(r.what + " offset is not 64-byte aligned", name);
      if (r.offset < header_end || checked_add(r.offset, r.size, "payload end", name) > size)
        bad_file(r.what + " [" + std::to_string(r.offset) + ", +" + std::to_string(r.size) +
                     ") lies outside the payload area of the file",
                 name);
      ranges.push_back({r.offset, r.size, name + " " + r.what});
    }
    entries.push_back(std::move(t));
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const PayloadRange& a, const PayloadRange& b) { return a.offset < b.offset; });
  for (std::size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i - 1].offset + ranges[i - 1].size > ranges[i].offset)
      bad_file(ranges[i - 1].what + " overlaps " + ranges[i].what);

  // Pass 2: every size is now bounded by the file size, so allocating is safe.
  std::vector<QinsTensor> tensors;
  tensors.reserve(entries.size());
  for (Entry& t : entries) {
    std::vector<float> scales(static_cast<std::size_t>(t.scale_count)),
        bias(static_cast<std::size_t>(t.bias_count));
    if (!scales.empty())
      std::memcpy(scales.data(), p + t.scales_offset, scales.size() * sizeof(float));
    if (!bias.empty()) std::memcpy(bias.data(), p + t.bias_offset, bias.size() * sizeof(float));
    const auto codes_size = static_cast<std::size_t>(t.codes_size);
    // The offset of an empty array was never bounds-checked (pass 1 skips it), so it must
    // not even be added to p: that pointer arithmetic can overflow (undefined behaviour).
    const std::byte* codes_at = codes_size ? p + t.codes_offset : p;
    if (!skip_checksums(options) &&
        payload_checksum(codes_at, codes_size, scales.data(), scales.size(), bias.data(),
                         bias.size()) != t.checksum)
      bad_file("payload checksum mismatch (codes, scales or bias are corrupt)", t.name);
    SharedBytes codes;
    if (in_place) {
      codes = file.view_of(codes_at, codes_size);
    } else {
      codes = SharedBytes::allocate(codes_size);
      if (codes_size) std::memcpy(codes.mutable_data(), codes_at, codes_size);
    }
    tensors.push_back(QinsTensor::from_parts(
        std::move(t.name), static_cast<std::size_t>(t.rows), static_cast<std::size_t>(t.cols),
        t.code_type, t.layout, std::move(codes), std::move(scales), std::move(bias)));
  }
  if (metadata) *metadata = std::move(meta);
  return tensors;
}

/// The stored tensor of a QinsTensor (itself) or of a layer that holds one (tensor()).
inline const QinsTensor& stored(const QinsTensor& t) noexcept { return t; }
template <class Layer>
auto stored(const Layer& layer) noexcept -> decltype(layer.tensor()) {
  return layer.tensor();
}

}  // namespace detail

/// Where each part of a file goes, from the tensors' shapes alone (so a file can be
/// written tensor by tensor, before the codes exist).
struct TensorPlan {
  std::string name;
  std::size_t rows = 0, cols = 0;
  CodeType code_type = CodeType::uint8;
  AlphaLayout layout;
  bool has_bias = false;

  std::uint64_t code_bytes() const {
    return std::uint64_t(rows) * stored_type_info(code_type).row_bytes(cols);
  }
  std::uint64_t scale_count() const {
    return QinsTensor::expected_scale_count(code_type, layout, rows, cols);
  }
  std::uint64_t bias_count() const { return has_bias ? rows : 0; }

  static TensorPlan of(const QinsTensor& t) {
    return {t.name(), t.rows(), t.cols(), t.code_type(), t.layout(), t.has_bias()};
  }
};

namespace detail {

struct FilePlan {
  struct Placement {
    std::uint64_t codes, scales, bias;
  };
  std::vector<TensorPlan> tensors;
  std::vector<Placement> at;
  std::vector<std::byte> header;  ///< [0, header end): everything but the checksums
  std::uint64_t end = 0;          ///< the file size
};

/// Checks names and metadata, places every array, and writes the header, the table, the
/// names and the metadata (checksums left at 0). The lowest minor version the content
/// needs (1.1: metadata or plain tensors; 1.2: uint12 codes), so that older readers keep
/// reading everything else.
/// @throws qins::Error (invalid_argument) naming the tensor or key.
inline FilePlan plan_file(std::vector<TensorPlan> tensors, const Metadata& metadata) {
  namespace f = qins_records;
  std::set<std::string> names;
  std::uint64_t names_size = 0;
  std::uint16_t minor = metadata.empty() ? 0 : 1;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorPlan& t = tensors[i];
    if (t.name.empty())
      throw Error(ErrorKind::invalid_argument,
                  "tensor #" + std::to_string(i) + " (" + std::to_string(t.rows) + " x " +
                      std::to_string(t.cols) +
                      ") has no name: set LinearOptions::name or call set_name()");
    if (t.name.size() > kMaxNameLength)
      throw Error(ErrorKind::invalid_argument, "tensor names must be 1 to 4096 bytes long", t.name);
    if (!names.insert(t.name).second)
      throw Error(ErrorKind::invalid_argument, "duplicate tensor name", t.name);
    names_size += t.name.size();
    if (t.code_type == CodeType::plain) minor = std::max<std::uint16_t>(minor, 1);
    if (t.code_type == CodeType::uint12) minor = std::max<std::uint16_t>(minor, 2);
  }
  const std::vector<std::byte> meta = encode_metadata(metadata);
  const std::uint64_t table_end = kFileHeaderSize + tensors.size() * kTableEntrySize;
  const std::uint64_t header_end = round_up_64(table_end + names_size + meta.size());
  FilePlan plan;
  plan.at.resize(tensors.size());
  std::uint64_t end = header_end;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    plan.at[i].codes = end;
    end = round_up_64(end + tensors[i].code_bytes());
    plan.at[i].scales = end;
    end = round_up_64(end + 4 * tensors[i].scale_count());
    plan.at[i].bias = end;
    end = round_up_64(end + 4 * tensors[i].bias_count());
  }
  plan.end = end;
  plan.header.assign(static_cast<std::size_t>(header_end), std::byte{0});
  std::byte* p = plan.header.data();
  std::memcpy(p, "QINS", 4);
  f::put(p, f::major_version, kFileMajorVersion);
  f::put(p, f::minor_version, minor);
  f::put(p, f::tensor_count, tensors.size());
  f::put(p, f::entry_size, kTableEntrySize);
  f::put(p, f::table_offset, kFileHeaderSize);
  f::put(p, f::header_end, header_end);
  f::put(p, f::file_size, end);
  std::uint64_t name_at = table_end;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorPlan& t = tensors[i];
    std::byte* e = p + kFileHeaderSize + i * kTableEntrySize;
    std::memcpy(p + name_at, t.name.data(), t.name.size());
    f::put(e, f::name_offset, name_at);
    f::put(e, f::name_length, t.name.size());
    name_at += t.name.size();
    f::put(e, f::code_type, static_cast<std::uint64_t>(t.code_type));
    f::put(e, f::granularity, static_cast<std::uint64_t>(t.layout.granularity));
    f::put(e, f::has_bias, t.has_bias ? 1 : 0);
    f::put(e, f::rows, t.rows);
    f::put(e, f::cols, t.cols);
    f::put(e, f::group_size, t.layout.group_size);
    f::put(e, f::codes_offset, plan.at[i].codes);
    f::put(e, f::code_bytes, t.code_bytes());
    f::put(e, f::scales_offset, plan.at[i].scales);
    f::put(e, f::scale_count, t.scale_count());
    f::put(e, f::bias_offset, plan.at[i].bias);
    f::put(e, f::bias_count, t.bias_count());
  }
  if (!meta.empty()) {
    std::memcpy(p + name_at, meta.data(), meta.size());
    f::put(p, f::metadata_offset, name_at);
    f::put(p, f::metadata_size, meta.size());
  }
  plan.tensors = std::move(tensors);
  return plan;
}

/// Checks that a tensor is the one its plan promised.
inline void check_against_plan(const QinsTensor& t, const TensorPlan& plan) {
  if (t.name() != plan.name || t.rows() != plan.rows || t.cols() != plan.cols ||
      t.code_type() != plan.code_type || t.layout().granularity != plan.layout.granularity ||
      t.layout().group_size != plan.layout.group_size || t.has_bias() != plan.has_bias)
    throw Error(ErrorKind::invalid_argument,
                "tensor does not match the file's plan for '" + plan.name + "'", t.name());
}

inline std::uint64_t payload_checksum(const QinsTensor& t) {
  return payload_checksum(t.code_bytes(), t.memory().code_bytes, t.scales().data(),
                          t.scales().size(), t.bias().data(), t.bias().size());
}

}  // namespace detail

/// The .qins bytes of `tensors` (layout at the top of this header): QinsTensors, or
/// layers that hold one (QinsLinear), and optional metadata. Names must be unique and 1 to
/// 4096 bytes long. @throws qins::Error (invalid_argument) otherwise, naming the tensor;
/// an unnamed one by its index, with how to name it.
template <class Tensor>
std::vector<std::byte> serialize(const std::vector<Tensor>& layers, const Metadata& metadata = {}) {
  using namespace detail;
  std::vector<TensorPlan> plans;
  for (const Tensor& l : layers) plans.push_back(TensorPlan::of(stored(l)));
  FilePlan plan = plan_file(std::move(plans), metadata);
  std::vector<std::byte> out(static_cast<std::size_t>(plan.end));
  std::memcpy(out.data(), plan.header.data(), plan.header.size());
  namespace f = qins_records;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const QinsTensor& t = stored(layers[i]);
    const auto m = t.memory();
    std::byte* e = out.data() + kFileHeaderSize + i * kTableEntrySize;
    f::put(e, f::payload_checksum, payload_checksum(t));
    if (m.code_bytes) std::memcpy(out.data() + plan.at[i].codes, t.code_bytes(), m.code_bytes);
    if (m.scale_bytes)
      std::memcpy(out.data() + plan.at[i].scales, t.scales().data(), m.scale_bytes);
    if (m.bias_bytes) std::memcpy(out.data() + plan.at[i].bias, t.bias().data(), m.bias_bytes);
  }
  f::put(out.data(), f::header_checksum, header_checksum(out.data(), plan.header.size()));
  return out;
}

/// Writes a .qins file tensor by tensor, holding one at a time: the tensors are announced
/// first (names, shapes, code types, layouts; TensorPlan::of gives them from a tensor),
/// then written in that order, then finish() writes the header and table and renames the
/// temporary file `path + ".tmp"` into place. A writer destroyed before finish() removes
/// the temporary, so a failed conversion never leaves a partial file under `path`.
/// Not copyable. @throws qins::Error: io_failure for the file system, invalid_argument for
/// a tensor that is not the one announced, or names as serialize().
class FileWriter {
 public:
  FileWriter(std::string path, std::vector<TensorPlan> tensors, const Metadata& metadata = {})
      : path_(std::move(path)),
        temporary_(path_ + ".tmp"),
        plan_(detail::plan_file(std::move(tensors), metadata)) {
    out_.open(temporary_, std::ios::binary | std::ios::trunc);
    if (!out_) throw Error(ErrorKind::io_failure, "cannot open '" + temporary_ + "' for writing");
    write_at(0, plan_.header.data(), plan_.header.size());
  }
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  ~FileWriter() {
    if (!finished_) {
      out_.close();
      std::remove(temporary_.c_str());
    }
  }

  /// Tensors announced and not yet written.
  std::size_t remaining() const noexcept { return plan_.tensors.size() - next_; }

  /// Writes the next announced tensor's payload.
  void write(const QinsTensor& t) {
    if (next_ >= plan_.tensors.size())
      throw Error(ErrorKind::invalid_argument, "more tensors than announced", t.name());
    detail::check_against_plan(t, plan_.tensors[next_]);
    const auto m = t.memory();
    const auto& at = plan_.at[next_];
    write_at(at.codes, t.code_bytes(), m.code_bytes);
    write_at(at.scales, t.scales().data(), m.scale_bytes);
    write_at(at.bias, t.bias().data(), m.bias_bytes);
    detail::qins_records::put(
        plan_.header.data() + detail::kFileHeaderSize + next_ * detail::kTableEntrySize,
        detail::qins_records::payload_checksum, detail::payload_checksum(t));
    ++next_;
  }

  /// Writes the header and the table, and moves the file into place.
  void finish() {
    if (next_ != plan_.tensors.size())
      throw Error(
          ErrorKind::invalid_argument,
          std::to_string(remaining()) + " announced tensors were not written to '" + path_ + "'");
    std::byte* p = plan_.header.data();
    detail::qins_records::put(p, detail::qins_records::header_checksum,
                              detail::header_checksum(p, plan_.header.size()));
    write_at(0, p, plan_.header.size());
    if (plan_.end > 0) {  // the last payload may end before the padding of the last array
      out_.seekp(static_cast<std::streamoff>(plan_.end - 1));
      const char zero = 0;
      if (static_cast<std::uint64_t>(file_end_) < plan_.end) out_.write(&zero, 1);
    }
    out_.flush();
    if (!out_) throw Error(ErrorKind::io_failure, "cannot write '" + temporary_ + "'");
    out_.close();
    if (std::rename(temporary_.c_str(), path_.c_str()) != 0) {
      std::remove(temporary_.c_str());
      throw Error(ErrorKind::io_failure, "cannot rename '" + temporary_ + "' to '" + path_ + "'");
    }
    finished_ = true;
  }

 private:
  void write_at(std::uint64_t offset, const void* data, std::size_t size) {
    if (size == 0) return;
    out_.seekp(static_cast<std::streamoff>(offset));
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out_) throw Error(ErrorKind::io_failure, "cannot write '" + temporary_ + "'");
    file_end_ = std::max<std::uint64_t>(file_end_, offset + size);
  }

  std::string path_, temporary_;
  detail::FilePlan plan_;
  std::ofstream out_;
  std::size_t next_ = 0;
  std::uint64_t file_end_ = 0;
  bool finished_ = false;
};

/// Writes `tensors` (QinsTensors or QinsLinears) and optional metadata to `path`, through
/// a temporary file renamed into place, so a failed write never leaves a truncated file
/// under the final name. Never overwrite a file that is memory-mapped (LoadMode::memory_map)
/// by writing into it: this function replaces it by renaming, which is safe.
/// @throws qins::Error (io_failure, or invalid_argument for bad names).
template <class Tensor>
void save(const std::string& path, const std::vector<Tensor>& tensors,
          const Metadata& metadata = {}) {
  std::vector<TensorPlan> plans;
  for (const Tensor& t : tensors) plans.push_back(TensorPlan::of(detail::stored(t)));
  FileWriter writer(path, std::move(plans), metadata);
  for (const Tensor& t : tensors) writer.write(detail::stored(t));
  writer.finish();
}

namespace detail {
template <class Layer>
std::vector<Layer> as_layers(std::vector<QinsTensor> tensors) {
  if constexpr (std::is_same_v<Layer, QinsTensor>) {
    return tensors;
  } else {
    std::vector<Layer> layers;
    layers.reserve(tensors.size());
    for (QinsTensor& t : tensors) layers.emplace_back(std::move(t));
    return layers;
  }
}
}  // namespace detail

/// Parses .qins bytes held in memory (copying the payloads), as QinsTensors or as any
/// type constructible from one (parse<QinsLinear>(...) gives layers ready to multiply).
/// @throws qins::Error (bad_file) on any inconsistency; never reads outside [data, data + size).
template <class Layer = QinsTensor>
std::vector<Layer> parse(const void* data, std::size_t size, const LoadOptions& options = {}) {
  detail::SharedBytes bytes =
      detail::SharedBytes::view(nullptr, static_cast<const std::byte*>(data), size);
  return detail::as_layers<Layer>(detail::parse_file(bytes, false, options));
}

/// A whole .qins file: its tensors and its metadata.
struct QinsFile {
  std::vector<QinsTensor> tensors;
  Metadata metadata;
};

/// Parses .qins bytes with their metadata (copying the payloads). @throws as parse().
inline QinsFile parse_file(const void* data, std::size_t size, const LoadOptions& options = {}) {
  QinsFile out;
  detail::SharedBytes bytes =
      detail::SharedBytes::view(nullptr, static_cast<const std::byte*>(data), size);
  out.tensors = detail::parse_file(bytes, false, options, &out.metadata);
  return out;
}

/// Loads a whole .qins file: tensors (copied or memory-mapped as options say) and
/// metadata. @throws as load().
inline QinsFile load_file(const std::string& path, const LoadOptions& options = {}) {
  QinsFile out;
  out.tensors =
      options.mode == LoadMode::memory_map
          ? detail::parse_file(detail::map_whole_file(path), true, options, &out.metadata)
          : detail::parse_file(detail::read_whole_file(path), false, options, &out.metadata);
  return out;
}

/// Loads every tensor of a .qins file, in file order, as QinsTensors or as any type
/// constructible from one (load<QinsLinear>(path)).
/// @throws qins::Error: io_failure if the file cannot be read, bad_file if it is invalid.
template <class Layer = QinsTensor>
std::vector<Layer> load(const std::string& path, const LoadOptions& options = {}) {
  if (options.mode == LoadMode::memory_map)
    return detail::as_layers<Layer>(
        detail::parse_file(detail::map_whole_file(path), true, options));
  return detail::as_layers<Layer>(
      detail::parse_file(detail::read_whole_file(path), false, options));
}

}  // namespace qins
