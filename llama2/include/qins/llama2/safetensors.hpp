// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Safetensors files and checkpoints: a validating, memory-mapped reader and a writer.
//
// File layout (the format of Hugging Face's safetensors library):
//
//   offset 0: u64 little-endian N, the length of the header
//   offset 8: N bytes of UTF-8 JSON, an object:
//               {"<tensor name>": {"dtype": "F32", "shape": [rows, cols],
//                                  "data_offsets": [begin, end]}, ...,
//                "__metadata__": {"<key>": "<value>", ...}}   (optional)
//             padded with spaces (the reference writer pads N to a multiple of 8)
//   offset 8 + N: the data section; each tensor's bytes are [begin, end) of it, row-major,
//             little-endian, and the tensors together cover it exactly.
//
// The reader (SafetensorsFile) accepts the dtypes F32, F16 and BF16 and converts them to
// float32 on access. Before anything sized by the file is allocated it rejects, as
// qins::Error of kind bad_file with a message "safetensors file '<path>': <problem>" naming
// the tensor (Error::tensor()) and the field:
//   - a Git LFS pointer file in place of the data (with the hint to run git lfs pull);
//   - a file shorter than the 8-byte length field; a header length of more than
//     safetensors_limits::header_bytes (100 MB, as the reference implementation) or more
//     than the bytes that follow it;
//   - a header that is not valid UTF-8, does not start with '{', or is not valid JSON
//     (parsed by nlohmann/json; its message is quoted), nested deeper than
//     safetensors_limits::json_depth, or that gives a key twice at any level (nlohmann
//     would keep the last one silently);
//   - a tensor name that is empty or longer than safetensors_limits::name_bytes;
//   - an entry that is not an object of exactly "dtype" (a string), "shape" (an array of at
//     most safetensors_limits::rank non-negative integers) and "data_offsets" (two
//     non-negative integers, begin <= end); a dtype other than F32, F16 and BF16 (I8, F64,
//     ...: named in the message); "__metadata__" that is not an object of strings;
//   - an element count or byte count that overflows 64 bits, or that differs from
//     end - begin; offsets outside the data section;
//   - tensors that, sorted by offset, leave a gap, overlap, or do not reach the end of the
//     data section (the reference's "incomplete metadata, file not fully covered").
// The values themselves are checked when read: a NaN or an infinity is reported as
// ErrorKind::non_finite_value naming the tensor, row and column. Every byte of the file is
// read through qins::detail::ByteReader.
//
// SafetensorsCheckpoint opens one .safetensors file, or the shards of a
// model.safetensors.index.json (its "weight_map" validated: shard names without paths,
// every listed tensor in its shard, no tensor in two shards, none left out), or a directory
// holding either. write_safetensors() / serialize_safetensors() write the format.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "qins/detail/aligned_buffer.hpp"
#include "qins/detail/byte_reader.hpp"
#include "qins/detail/endian.hpp"
#include "qins/detail/mapped_file.hpp"
#include "qins/error.hpp"
#include "qins/float16.hpp"

namespace qins::llama2 {

/// The element types the reader converts to float32.
enum class SafetensorsDtype { f32, f16, bf16 };

/// "F32", "F16" or "BF16", as in the file; "unknown" for a value outside the enum.
inline const char* to_string(SafetensorsDtype dtype) noexcept {
  switch (dtype) {
    case SafetensorsDtype::f32:
      return "F32";
    case SafetensorsDtype::f16:
      return "F16";
    case SafetensorsDtype::bf16:
      return "BF16";
  }
  return "unknown";
}

/// Bytes per element: 4, 2 or 2 (0 for a value outside the enum).
inline constexpr std::uint64_t dtype_size(SafetensorsDtype dtype) noexcept {
  switch (dtype) {
    case SafetensorsDtype::f32:
      return 4;
    case SafetensorsDtype::f16:
    case SafetensorsDtype::bf16:
      return 2;
  }
  return 0;
}

/// Upper bounds the reader and the writer enforce.
namespace safetensors_limits {
inline constexpr std::uint64_t header_bytes = 100'000'000;  ///< the reference's MAX_HEADER_SIZE
inline constexpr std::size_t rank = 8;                      ///< dimensions of a shape
inline constexpr std::size_t name_bytes = 4096;             ///< a tensor name, in bytes
inline constexpr int json_depth = 64;  ///< nesting of a JSON header, index or config
/// An index or config.json larger than this is rejected before it is read.
inline constexpr std::uint64_t json_file_bytes = 100'000'000;
}  // namespace safetensors_limits

/// One tensor of a validated file.
struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::f32;
  std::vector<std::uint64_t> shape;  ///< at most safetensors_limits::rank dimensions
  std::uint64_t begin = 0;           ///< of its bytes, relative to the data section
  std::uint64_t end = 0;             ///< one past its last byte

  /// The product of the shape (1 for a scalar); validated not to overflow.
  std::uint64_t elements() const noexcept {
    std::uint64_t n = 1;
    for (const std::uint64_t d : shape) n *= d;
    return n;
  }
  /// end - begin: elements() * dtype_size(dtype) in a validated file.
  std::uint64_t bytes() const noexcept { return end - begin; }
};

namespace detail {

/// "safetensors file '<source>'" ("safetensors file" for an empty source).
inline std::string describe_safetensors(const std::string& source) {
  return source.empty() ? std::string("safetensors file") : "safetensors file '" + source + "'";
}

/// What every Git LFS pointer file starts with.
inline constexpr std::string_view git_lfs_pointer_prefix =
    "version https://git-lfs.github.com/spec/";

/// Whether the `size` bytes at `data` start like a Git LFS pointer file.
inline bool is_git_lfs_pointer(const std::byte* data, std::size_t size) noexcept {
  return size >= git_lfs_pointer_prefix.size() &&
         std::memcmp(data, git_lfs_pointer_prefix.data(), git_lfs_pointer_prefix.size()) == 0;
}

/// The offset of the first byte of `text` that is not part of well-formed UTF-8 (overlong
/// forms, surrogates and code points above U+10FFFF are not), or text.size() if all is.
inline std::size_t utf8_error_offset(std::string_view text) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;   // overlong
      if (c == 0xED) high = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;   // overlong
      if (c == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    if (byte(i + 1) < low || byte(i + 1) > high) return i;
    for (std::size_t k = 2; k < length; ++k) {
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return i;
    }
    i += length;
  }
  return text.size();
}

/// Thrown from the JSON parser's callback to stop at a duplicate key or at too deep a
/// nesting; turned into a qins::Error by parse_json_strictly().
struct JsonRejected {
  std::string message;
};

/// Parses `text` (the `what` of `where`, e.g. the "header" of "safetensors file 'x'") as one
/// JSON document with nlohmann/json. Throws qins::Error(bad_file, "<where>: <problem>") for
/// invalid UTF-8, invalid JSON (quoting nlohmann's message), nesting deeper than
/// safetensors_limits::json_depth, or a key given twice in one object (worded
/// "<top_noun> '<key>' is given twice" at the top level); io_failure if memory runs out.
inline nlohmann::json parse_json_strictly(std::string_view text, const std::string& where,
                                          std::string_view what, std::string_view top_noun) {
  const auto fail = [&](const std::string& problem) {
    throw Error(ErrorKind::bad_file, qins::detail::message_about(where, problem));
  };
  const std::size_t bad = utf8_error_offset(text);
  if (bad != text.size()) {
    static constexpr char hex[] = "0123456789abcdef";
    const unsigned char b = static_cast<unsigned char>(text[bad]);
    fail(std::string(what) + " is not valid UTF-8 (byte 0x" + hex[b >> 4] + hex[b & 15] +
         " at offset " + std::to_string(bad) + " of the " + std::string(what) + ")");
  }
  // One set of keys per open object, and each object's key in its parent (for messages).
  std::vector<std::set<std::string>> keys;
  std::vector<std::string> path;
  std::string last_key;
  const auto callback = [&](int depth, nlohmann::json::parse_event_t event,
                            nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        if (depth >= safetensors_limits::json_depth) {
          throw JsonRejected{std::string(what) + " is nested more than " +
                             std::to_string(safetensors_limits::json_depth) + " levels deep"};
        }
        if (event == Event::object_start) {
          keys.emplace_back();
          path.push_back(depth == 0 ? std::string() : last_key);
        }
        break;
      case Event::object_end:
        if (!keys.empty()) keys.pop_back();
        if (!path.empty()) path.pop_back();
        break;
      case Event::key: {
        last_key = parsed.get<std::string>();
        if (!keys.empty() && !keys.back().insert(last_key).second) {
          throw JsonRejected{
              keys.size() == 1 ? std::string(top_noun) + " '" + last_key + "' is given twice"
                               : "key '" + last_key + "' is given twice in '" + path.back() + "'"};
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.data(), text.data() + text.size(), callback);
  } catch (const JsonRejected& r) {
    fail(r.message);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string(what) + " is not valid JSON: " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(
        ErrorKind::io_failure,
        qins::detail::message_about(where, "out of memory parsing the " + std::string(what)));
  }
  return {};  // not reached
}

/// A JSON value as written, shortened to `limit` bytes, for messages.
inline std::string json_excerpt(const nlohmann::json& value, std::size_t limit = 64) {
  std::string s = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > limit) s = s.substr(0, limit) + "...";
  return s;
}

/// "[2, 3]".
inline std::string shape_string(const std::vector<std::uint64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

/// A JSON number as a non-negative integer; false for anything else.
inline bool json_to_u64(const nlohmann::json& v, std::uint64_t& out) noexcept {
  if (v.is_number_unsigned()) {
    out = v.get<std::uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<std::int64_t>() == 0) {  // "-0"
    out = 0;
    return true;
  }
  return false;
}

/// Why `v` is not a non-negative integer: "is negative (-1)", "is not an integer (1.5)",
/// "is not a number (\"2\")".
inline std::string not_u64_reason(const nlohmann::json& v) {
  if (v.is_number_integer()) return "is negative (" + json_excerpt(v) + ")";
  if (v.is_number_float()) return "is not an integer (" + json_excerpt(v) + ")";
  return "is not a number (" + json_excerpt(v) + ")";
}

/// The dtype named `s`, or false.
inline bool parse_dtype(const std::string& s, SafetensorsDtype& out) noexcept {
  for (const SafetensorsDtype d :
       {SafetensorsDtype::f32, SafetensorsDtype::f16, SafetensorsDtype::bf16}) {
    if (s == to_string(d)) {
      out = d;
      return true;
    }
  }
  return false;
}

/// Converts `count` elements of `dtype` at `src` (little-endian) to float32.
inline void convert_to_float(const std::byte* src, std::size_t count, SafetensorsDtype dtype,
                             float* out) noexcept {
  switch (dtype) {
    case SafetensorsDtype::f32:
      if (count > 0) std::memcpy(out, src, count * sizeof(float));
      return;
    case SafetensorsDtype::f16:
      for (std::size_t i = 0; i < count; ++i) {
        out[i] = half_to_float(qins::detail::load_le<std::uint16_t>(src + 2 * i));
      }
      return;
    case SafetensorsDtype::bf16:
      for (std::size_t i = 0; i < count; ++i) {
        out[i] = bfloat16_to_float(qins::detail::load_le<std::uint16_t>(src + 2 * i));
      }
      return;
  }
}

/// The row (shape[0] of a rank-2 tensor; npos otherwise) and column (the index within the
/// row of a rank-2 tensor; the flat index otherwise) of element `index`.
inline std::pair<std::size_t, std::size_t> element_position(const SafetensorsTensor& t,
                                                            std::uint64_t index) noexcept {
  if (t.shape.size() == 2 && t.shape[1] > 0) {
    return {static_cast<std::size_t>(index / t.shape[1]),
            static_cast<std::size_t>(index % t.shape[1])};
  }
  return {Error::npos, static_cast<std::size_t>(index)};
}

}  // namespace detail

/// A validated safetensors file: its tensors, metadata and data, memory-mapped (open()) or
/// a view of the caller's bytes (parse()). Movable, not copyable; the SafetensorsTensor
/// references it gives stay valid while it lives, moves included.
class SafetensorsFile {
 public:
  /// Memory-maps the file at `path` and validates it (see the top of this header).
  /// Throws qins::Error: io_failure "safetensors file '<path>': no such file" or "... is a
  /// directory, not a safetensors file", or if it cannot be opened or mapped; bad_file for a
  /// file that is not valid (the list at the top of this header).
  static SafetensorsFile open(const std::string& path) {
    const std::string where = detail::describe_safetensors(path);
    std::error_code ec;
    const std::filesystem::file_status status = std::filesystem::status(path, ec);
    if (status.type() == std::filesystem::file_type::not_found) {
      throw Error(ErrorKind::io_failure, where + ": no such file");
    }
    if (status.type() == std::filesystem::file_type::directory) {
      throw Error(ErrorKind::io_failure,
                  where +
                      ": is a directory, not a safetensors file (SafetensorsCheckpoint::open "
                      "reads a model directory)");
    }
    if (ec) throw Error(ErrorKind::io_failure, where + ": cannot access it: " + ec.message());
    qins::detail::SharedBytes bytes = qins::detail::map_whole_file(path);
    const bool mapped = QINS_DETAIL_HAS_MMAP && bytes.size() > 0;
    SafetensorsFile f(std::move(bytes), path);
    f.mapped_ = mapped;
    return f;
  }

  /// Validates the `size` bytes at `data`, which the caller keeps alive and unchanged while
  /// the object is used (it keeps a view). `source` names them in messages. Throws
  /// qins::Error: bad_file as open(); invalid_argument if data is null while size > 0.
  static SafetensorsFile parse(const void* data, std::size_t size, std::string source) {
    if (data == nullptr && size > 0) {
      throw Error(ErrorKind::invalid_argument,
                  detail::describe_safetensors(source) + ": null data pointer with nonzero size");
    }
    return SafetensorsFile(
        qins::detail::SharedBytes::view(nullptr, static_cast<const std::byte*>(data), size),
        std::move(source));
  }

  SafetensorsFile(SafetensorsFile&&) = default;
  SafetensorsFile& operator=(SafetensorsFile&&) = default;

  /// The tensors, sorted by their offset in the data section.
  const std::vector<SafetensorsTensor>& tensors() const noexcept { return tensors_; }
  /// The tensor named `name`, or nullptr.
  const SafetensorsTensor* find(std::string_view name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  /// The "__metadata__" strings (empty when the file has none).
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  /// The path given to open(), or the source given to parse().
  const std::string& source() const noexcept { return source_; }
  /// "safetensors file '<source>'": the prefix of this file's messages.
  const std::string& describe() const noexcept { return reader_.source(); }
  /// Bytes of the whole file.
  std::uint64_t size() const noexcept { return reader_.size(); }
  /// Where the data section starts in the file: 8 + the header length.
  std::uint64_t data_offset() const noexcept { return data_offset_; }

  /// Writes all t.elements() values of `t` (one of this file's tensors) to `out` as float32.
  /// Throws qins::Error: non_finite_value for a NaN or infinity, naming the tensor, the row
  /// (rank-2 tensors only) and the column (the flat index for other ranks);
  /// invalid_argument if `t` is not one of tensors().
  void read_floats(const SafetensorsTensor& t, float* out) const {
    check_member(t);
    read_elements(t, 0, t.elements(), out);
  }

  /// Writes rows [first_row, first_row + count) of `t` to `out` as float32, where a row is
  /// one index of the first dimension (t.elements() / shape[0] values). Throws qins::Error:
  /// invalid_argument for a scalar, a `t` not of this file or rows out of range;
  /// non_finite_value as read_floats() (naming the row in the whole tensor).
  void read_rows(const SafetensorsTensor& t, std::uint64_t first_row, std::uint64_t count,
                 float* out) const {
    check_member(t);
    if (t.shape.empty()) {
      throw Error(ErrorKind::invalid_argument,
                  reader_.with_source("read_rows of a scalar tensor has no rows"), t.name);
    }
    const std::uint64_t rows = t.shape[0];
    if (first_row > rows || count > rows - first_row) {
      throw Error(
          ErrorKind::invalid_argument,
          reader_.with_source("rows [" + std::to_string(first_row) + ", +" + std::to_string(count) +
                              ") are out of range [0, " + std::to_string(rows) + ")"),
          t.name);
    }
    const std::uint64_t row_elements = rows == 0 ? 0 : t.elements() / rows;
    read_elements(t, first_row * row_elements, count * row_elements, out);
  }

  /// Tells the operating system that the mapped pages of `t` are not needed any more
  /// (madvise(MADV_DONTNEED) on the whole pages inside its byte range), so that reading a
  /// model tensor by tensor keeps one tensor resident; a later read maps them in again.
  /// A no-op for parse()'s view or without mmap. Throws qins::Error (invalid_argument) if
  /// `t` is not one of tensors().
  void release(const SafetensorsTensor& t) const {
    check_member(t);
    if (!mapped_ || t.bytes() == 0) return;
    qins::detail::release_pages(bytes_.data() + data_offset_ + t.begin,
                                static_cast<std::size_t>(t.bytes()));
  }

 private:
  SafetensorsFile(qins::detail::SharedBytes bytes, std::string source)
      : bytes_(std::move(bytes)),
        reader_(bytes_.data(), bytes_.size(), detail::describe_safetensors(source)),
        source_(std::move(source)) {
    try {
      validate();
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::io_failure, reader_.with_source("out of memory reading the header"));
    }
  }

  void check_member(const SafetensorsTensor& t) const {
    if (find(t.name) != &t) {
      throw Error(ErrorKind::invalid_argument,
                  reader_.with_source("the tensor given is not one of this file's"), t.name);
    }
  }

  void read_elements(const SafetensorsTensor& t, std::uint64_t first, std::uint64_t count,
                     float* out) const {
    const std::uint64_t width = dtype_size(t.dtype);
    const qins::detail::ByteRecord bytes = reader_.record_at(
        data_offset_ + t.begin + first * width, static_cast<std::size_t>(count * width), t.name);
    const std::size_t n = static_cast<std::size_t>(count);
    detail::convert_to_float(bytes.data(), n, t.dtype, out);
    const std::size_t bad = qins::detail::find_non_finite(out, n);
    if (bad != n) {
      const auto [row, col] = detail::element_position(t, first + bad);
      throw Error(ErrorKind::non_finite_value, reader_.with_source("non-finite value"), t.name, row,
                  col);
    }
  }

  // The checks at the top of this header, in that order.
  void validate() {
    qins::detail::ByteReader& r = reader_;
    const std::uint64_t size = r.size();
    if (detail::is_git_lfs_pointer(bytes_.data(), bytes_.size())) {
      r.fail("is a Git LFS pointer, not the tensor data: run git lfs pull");
    }
    if (size < 8) {
      r.fail("file is shorter than the 8-byte header length field (" + std::to_string(size) +
             (size == 1 ? " byte)" : " bytes)"));
    }
    const std::uint64_t header_length = r.u64("header length");
    if (header_length > safetensors_limits::header_bytes) {
      r.fail("header length " + std::to_string(header_length) + " exceeds the cap of " +
             std::to_string(safetensors_limits::header_bytes) + " bytes (not a safetensors file?)");
    }
    if (header_length > r.remaining()) {
      r.fail("header length " + std::to_string(header_length) + " exceeds the " +
             std::to_string(r.remaining()) + " bytes after the length field (truncated file?)");
    }
    const std::byte* header_start =
        r.take(static_cast<std::size_t>(header_length), "header");  // checked just above
    data_offset_ = r.position();
    const std::uint64_t data_size = r.remaining();
    const std::string_view header(reinterpret_cast<const char*>(header_start),
                                  static_cast<std::size_t>(header_length));
    if (header.empty() || header.front() != '{') {
      r.fail(header.empty() ? "header is empty (header length 0)"
                            : "header is not a JSON object (it does not start with '{')");
    }
    const nlohmann::json json = detail::parse_json_strictly(header, r.source(), "header", "tensor");
    if (!json.is_object()) r.fail("header is not a JSON object");

    for (auto it = json.begin(); it != json.end(); ++it) {
      const std::string& name = it.key();
      const nlohmann::json& entry = it.value();
      if (name == "__metadata__") {
        read_metadata(entry);
        continue;
      }
      tensors_.push_back(read_entry(name, entry, data_size));
    }

    std::sort(tensors_.begin(), tensors_.end(),
              [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
                if (a.begin != b.begin) return a.begin < b.begin;
                if (a.end != b.end) return a.end < b.end;
                return a.name < b.name;
              });
    std::uint64_t covered = 0;
    const SafetensorsTensor* previous = nullptr;
    for (const SafetensorsTensor& t : tensors_) {
      if (t.begin > covered) {
        r.fail("the data section has a gap: bytes [" + std::to_string(covered) + ", " +
                   std::to_string(t.begin) + ") before this tensor belong to no tensor",
               t.name);
      }
      if (t.begin < covered) {
        r.fail("data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                   "] overlap tensor '" + previous->name + "', which ends at " +
                   std::to_string(covered),
               t.name);
      }
      covered = t.end;
      previous = &t;
    }
    if (covered != data_size) {
      r.fail("incomplete metadata, file not fully covered: the tensors cover bytes [0, " +
             std::to_string(covered) + ") of the " + std::to_string(data_size) +
             "-byte data section");
    }
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  }

  void read_metadata(const nlohmann::json& entry) {
    if (!entry.is_object()) {
      reader_.fail("__metadata__ is not a JSON object (" + detail::json_excerpt(entry) + ")");
    }
    for (auto it = entry.begin(); it != entry.end(); ++it) {
      if (!it.value().is_string()) {
        reader_.fail("__metadata__ value of '" + it.key() + "' is not a string (" +
                     detail::json_excerpt(it.value()) + ")");
      }
      metadata_.emplace(it.key(), it.value().get<std::string>());
    }
  }

  SafetensorsTensor read_entry(const std::string& name, const nlohmann::json& entry,
                               std::uint64_t data_size) const {
    const qins::detail::ByteReader& r = reader_;
    if (name.empty()) r.fail("a tensor name is empty");
    if (name.size() > safetensors_limits::name_bytes) {
      r.fail("a tensor name of " + std::to_string(name.size()) + " bytes exceeds the cap of " +
             std::to_string(safetensors_limits::name_bytes) + " (it starts '" + name.substr(0, 32) +
             "')");
    }
    if (!entry.is_object()) {
      r.fail("the entry is not a JSON object (" + detail::json_excerpt(entry) + ")", name);
    }
    for (auto it = entry.begin(); it != entry.end(); ++it) {
      if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets") {
        r.fail("the entry has the unexpected key '" + it.key() +
                   "' (only dtype, shape and data_offsets)",
               name);
      }
    }
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
      if (!entry.contains(key)) r.fail(std::string("the entry has no '") + key + "'", name);
    }

    SafetensorsTensor t;
    t.name = name;
    const nlohmann::json& dtype = entry["dtype"];
    if (!dtype.is_string()) {
      r.fail("dtype is not a string (" + detail::json_excerpt(dtype) + ")", name);
    }
    const std::string& dtype_name = dtype.get_ref<const std::string&>();
    if (!detail::parse_dtype(dtype_name, t.dtype)) {
      r.fail(
          "dtype '" + dtype_name.substr(0, 32) + "' is not supported (only F32, F16 and BF16 are)",
          name);
    }

    const nlohmann::json& shape = entry["shape"];
    if (!shape.is_array()) {
      r.fail("shape is not an array (" + detail::json_excerpt(shape) + ")", name);
    }
    if (shape.size() > safetensors_limits::rank) {
      r.fail("shape has " + std::to_string(shape.size()) + " dimensions, more than " +
                 std::to_string(safetensors_limits::rank),
             name);
    }
    for (std::size_t i = 0; i < shape.size(); ++i) {
      std::uint64_t d = 0;
      if (!detail::json_to_u64(shape[i], d)) {
        r.fail("shape[" + std::to_string(i) + "] " + detail::not_u64_reason(shape[i]), name);
      }
      t.shape.push_back(d);
    }

    const nlohmann::json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2) {
      r.fail("data_offsets is not an array of two offsets (" + detail::json_excerpt(offsets) + ")",
             name);
    }
    for (std::size_t i = 0; i < 2; ++i) {
      std::uint64_t v = 0;
      if (!detail::json_to_u64(offsets[i], v)) {
        r.fail("data_offsets[" + std::to_string(i) + "] " + detail::not_u64_reason(offsets[i]),
               name);
      }
      (i == 0 ? t.begin : t.end) = v;
    }
    const std::string span =
        "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
    if (t.begin > t.end) r.fail(span + " end before they begin", name);

    std::uint64_t elements = 1;
    for (const std::uint64_t d : t.shape) {
      if (d != 0 && elements > UINT64_MAX / d) {
        r.fail("the element count of shape " + detail::shape_string(t.shape) +
                   " overflows 64-bit arithmetic",
               name);
      }
      elements *= d;
    }
    const std::uint64_t width = dtype_size(t.dtype);
    if (elements > UINT64_MAX / width) {
      r.fail("the byte count of shape " + detail::shape_string(t.shape) + " of " +
                 to_string(t.dtype) + " overflows 64-bit arithmetic",
             name);
    }
    if (t.end - t.begin != elements * width) {
      r.fail(span + " span " + std::to_string(t.end - t.begin) + " bytes, but shape " +
                 detail::shape_string(t.shape) + " of " + to_string(t.dtype) + " needs " +
                 std::to_string(elements * width),
             name);
    }
    if (t.end > data_size) {
      r.fail(span + " lie outside the " + std::to_string(data_size) + "-byte data section", name);
    }
    return t;
  }

  qins::detail::SharedBytes bytes_;
  qins::detail::ByteReader reader_;
  std::string source_;
  std::uint64_t data_offset_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
  bool mapped_ = false;
};

/// Where a tensor of a checkpoint is: its file and its entry (both null when absent).
struct SafetensorsEntry {
  const SafetensorsFile* file = nullptr;
  const SafetensorsTensor* tensor = nullptr;
  explicit operator bool() const noexcept { return tensor != nullptr; }
};

namespace detail {

/// The whole of a small text file (an index or config.json, at most
/// safetensors_limits::json_file_bytes), named `where` in messages. Throws qins::Error:
/// io_failure for a missing path ("no such file"), a directory or an unreadable file;
/// bad_file for a larger file or a Git LFS pointer.
inline std::string read_json_file(const std::string& path, const std::string& where) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    throw Error(ErrorKind::io_failure, where + ": no such file");
  }
  if (status.type() == std::filesystem::file_type::directory) {
    throw Error(ErrorKind::io_failure, where + ": is a directory, not a JSON file");
  }
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(ErrorKind::io_failure, where + ": cannot determine the file size");
  if (size > safetensors_limits::json_file_bytes) {
    throw Error(ErrorKind::bad_file, where + ": " + std::to_string(size) +
                                         " bytes exceeds the cap of " +
                                         std::to_string(safetensors_limits::json_file_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::io_failure, where + ": cannot open the file for reading");
  std::string text(static_cast<std::size_t>(size), '\0');
  if (size > 0 && !in.read(text.data(), static_cast<std::streamsize>(size))) {
    throw Error(ErrorKind::io_failure, where + ": read error");
  }
  if (is_git_lfs_pointer(reinterpret_cast<const std::byte*>(text.data()), text.size())) {
    throw Error(ErrorKind::bad_file,
                where + ": is a Git LFS pointer, not the file's content: run git lfs pull");
  }
  return text;
}

/// Whether `name` is a plain file name: not empty, no '/', '\\', NUL or "..".
inline bool is_plain_file_name(const std::string& name) noexcept {
  return !name.empty() && name != "." && name.find_first_of(std::string("/\\\0", 3)) == name.npos &&
         name.find("..") == name.npos;
}

}  // namespace detail

/// The tensors of a model in safetensors files: one file, or the shards of a
/// model.safetensors.index.json. Movable; the entries it gives stay valid while it lives.
class SafetensorsCheckpoint {
 public:
  /// Opens `path`: a .safetensors file; an index (a name ending in ".json", normally
  /// model.safetensors.index.json) and the shards its "weight_map" names, in its folder; or
  /// a directory holding model.safetensors (preferred, as transformers does) or
  /// model.safetensors.index.json. Throws qins::Error: io_failure for a missing path, a
  /// directory with neither file or a shard that cannot be opened; bad_file for an invalid
  /// file or index: "safetensors index '<path>': <problem>" for a weight_map that is not an
  /// object of strings, a shard name with a path separator or "..", a tensor listed but
  /// absent from its shard, a tensor in two shards, or one in a shard but not listed.
  static SafetensorsCheckpoint open(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (status.type() == fs::file_type::not_found) {
      throw Error(ErrorKind::io_failure,
                  "safetensors checkpoint '" + path + "': no such file or directory");
    }
    SafetensorsCheckpoint c;
    if (status.type() == fs::file_type::directory) {
      const fs::path single = fs::path(path) / "model.safetensors";
      const fs::path index = fs::path(path) / "model.safetensors.index.json";
      if (fs::exists(single, ec)) {
        c.open_single(single.string());
      } else if (fs::exists(index, ec)) {
        c.open_index(index.string());
      } else {
        throw Error(ErrorKind::io_failure,
                    "safetensors checkpoint '" + path +
                        "': the directory holds neither model.safetensors nor "
                        "model.safetensors.index.json");
      }
    } else if (fs::path(path).extension() == ".json") {
      c.open_index(path);
    } else {
      c.open_single(path);
    }
    for (const auto& entry : c.entries_) c.names_.push_back(entry.first);
    return c;
  }

  SafetensorsCheckpoint(SafetensorsCheckpoint&&) = default;
  SafetensorsCheckpoint& operator=(SafetensorsCheckpoint&&) = default;

  /// Every tensor name, sorted.
  const std::vector<std::string>& names() const noexcept { return names_; }
  /// The tensor named `name` and its file, or two nulls.
  SafetensorsEntry find(std::string_view name) const {
    const auto it = entries_.find(name);
    return it == entries_.end() ? SafetensorsEntry{} : it->second;
  }
  /// The tensor named `name` and its file. Throws qins::Error (bad_file) naming the
  /// checkpoint and the tensor if it is absent: "<describe()>: tensor not found".
  SafetensorsEntry require(std::string_view name) const {
    const SafetensorsEntry e = find(name);
    if (!e) throw Error(ErrorKind::bad_file, describe() + ": tensor not found", std::string(name));
    return e;
  }
  /// The files, in the order of their names (one without an index).
  std::vector<const SafetensorsFile*> files() const {
    std::vector<const SafetensorsFile*> out;
    for (const auto& f : files_) out.push_back(f.get());
    return out;
  }
  /// The path given to open() after resolving a directory: the file or the index.
  const std::string& path() const noexcept { return resolved_; }
  /// "safetensors file '<path>'" or "safetensors index '<path>' (<n> shards)".
  std::string describe() const {
    if (!index_) return detail::describe_safetensors(resolved_);
    return "safetensors index '" + resolved_ + "' (" + std::to_string(files_.size()) +
           (files_.size() == 1 ? " shard)" : " shards)");
  }

 private:
  SafetensorsCheckpoint() = default;

  void open_single(const std::string& file) {
    resolved_ = file;
    files_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(file)));
    for (const SafetensorsTensor& t : files_[0]->tensors()) {
      entries_.emplace(t.name, SafetensorsEntry{files_[0].get(), &t});
    }
  }

  void open_index(const std::string& index_path) {
    namespace fs = std::filesystem;
    resolved_ = index_path;
    index_ = true;
    const std::string where = "safetensors index '" + index_path + "'";
    const auto fail = [&](const std::string& problem, const std::string& tensor = {}) {
      throw Error(ErrorKind::bad_file, where + ": " + problem, tensor);
    };
    const std::string text = detail::read_json_file(index_path, where);
    const nlohmann::json json = detail::parse_json_strictly(text, where, "index", "key");
    if (!json.is_object()) fail("the index is not a JSON object");
    if (!json.contains("weight_map")) fail("the index has no weight_map");
    const nlohmann::json& map = json["weight_map"];
    if (!map.is_object()) {
      fail("weight_map is not a JSON object (" + detail::json_excerpt(map) + ")");
    }
    if (map.empty()) fail("weight_map lists no tensor");

    std::map<std::string, std::string> shard_of;  // tensor -> shard file name
    std::map<std::string, std::size_t> shards;    // shard file name -> index in files_
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it.value().is_string()) {
        fail("weight_map value is not a file name (" + detail::json_excerpt(it.value()) + ")",
             it.key());
      }
      const std::string shard = it.value().get<std::string>();
      if (!detail::is_plain_file_name(shard)) {
        fail("weight_map names the shard '" + shard +
                 "', which is not a plain file name in the index's folder (no path separators "
                 "or '..')",
             it.key());
      }
      shard_of.emplace(it.key(), shard);
      shards.emplace(shard, 0);
    }
    const fs::path folder = fs::path(index_path).parent_path();
    for (auto& [shard, position] : shards) {  // each shard opened once, in name order
      position = files_.size();
      files_.push_back(
          std::make_unique<SafetensorsFile>(SafetensorsFile::open((folder / shard).string())));
    }
    for (const auto& [tensor, shard] : shard_of) {
      const SafetensorsFile& file = *files_[shards.at(shard)];
      const SafetensorsTensor* t = file.find(tensor);
      if (t == nullptr)
        fail("weight_map lists it in '" + shard + "', which does not hold it", tensor);
      entries_.emplace(tensor, SafetensorsEntry{&file, t});
    }
    for (const auto& [shard, position] : shards) {
      for (const SafetensorsTensor& t : files_[position]->tensors()) {
        const auto listed = shard_of.find(t.name);
        if (listed == shard_of.end()) {
          fail("shard '" + shard + "' holds it but weight_map does not list it", t.name);
        }
        if (listed->second != shard) {
          fail("it is in two shards, '" + listed->second + "' (where weight_map lists it) and '" +
                   shard + "'",
               t.name);
        }
      }
    }
  }

  std::string resolved_;
  bool index_ = false;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, SafetensorsEntry, std::less<>> entries_;
  std::vector<std::string> names_;
};

/// One tensor to write: `values` holds the product of `shape` float32 values, row-major,
/// converted to `dtype` on writing (round to nearest even).
struct SafetensorsWriteTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::f32;
  std::vector<std::uint64_t> shape;
  const float* values = nullptr;
};

namespace detail {

/// The header of a file holding `tensors` in their order, padded with spaces to a multiple
/// of 8 bytes, after validating them (throws qins::Error(invalid_argument, "<where>: ...")
/// for an empty, over-long, non-UTF-8, reserved or repeated name, a shape of more than
/// safetensors_limits::rank dimensions or whose size overflows, null values, a header over
/// the cap).
inline std::string safetensors_header(const std::vector<SafetensorsWriteTensor>& tensors,
                                      const std::map<std::string, std::string>& metadata,
                                      const std::string& where) {
  const auto fail = [&](const std::string& problem, const std::string& tensor = {}) {
    throw Error(ErrorKind::invalid_argument, where + ": " + problem, tensor);
  };
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  for (const SafetensorsWriteTensor& t : tensors) {
    if (t.name.empty()) fail("a tensor name is empty");
    if (t.name.size() > safetensors_limits::name_bytes) {
      fail("the name is longer than " + std::to_string(safetensors_limits::name_bytes) + " bytes",
           t.name.substr(0, 64));
    }
    if (utf8_error_offset(t.name) != t.name.size()) fail("the name is not valid UTF-8", t.name);
    if (t.name == "__metadata__") fail("the name is reserved for the metadata", t.name);
    if (header.contains(t.name)) fail("the name is given twice", t.name);
    if (dtype_size(t.dtype) == 0) fail("invalid SafetensorsDtype value", t.name);
    if (t.shape.size() > safetensors_limits::rank) {
      fail("the shape has more than " + std::to_string(safetensors_limits::rank) + " dimensions",
           t.name);
    }
    std::uint64_t elements = 1;
    for (const std::uint64_t d : t.shape) {
      if (d != 0 && elements > UINT64_MAX / d) fail("the element count overflows", t.name);
      elements *= d;
    }
    const std::uint64_t width = dtype_size(t.dtype);
    if (elements > (UINT64_MAX - offset) / width) fail("the byte count overflows", t.name);
    if (elements > 0 && t.values == nullptr) fail("null values", t.name);
    const std::uint64_t end = offset + elements * width;
    header[t.name] = {
        {"dtype", to_string(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  for (const auto& [key, value] : metadata) {
    if (utf8_error_offset(key) != key.size() || utf8_error_offset(value) != value.size()) {
      fail("metadata key or value '" + key + "' is not valid UTF-8");
    }
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  if (text.size() > safetensors_limits::header_bytes) {
    fail("the header (" + std::to_string(text.size()) + " bytes) exceeds the cap of " +
         std::to_string(safetensors_limits::header_bytes));
  }
  return text;
}

/// Writes the whole file for `tensors` through `sink(const char*, std::size_t)`, converting
/// the values in blocks. Throws qins::Error: as safetensors_header(); non_finite_value for a
/// NaN or infinite value, or one that overflows the dtype (F16 above 65504), naming the
/// tensor, row (rank 2) and column.
template <class Sink>
inline void emit_safetensors(const std::vector<SafetensorsWriteTensor>& tensors,
                             const std::map<std::string, std::string>& metadata,
                             const std::string& where, Sink&& sink) {
  const std::string header = safetensors_header(tensors, metadata, where);
  std::byte length[8];
  qins::detail::store_le<std::uint64_t>(length, header.size());
  sink(reinterpret_cast<const char*>(length), sizeof length);
  sink(header.data(), header.size());
  constexpr std::size_t block = 1 << 14;  // elements converted at a time
  std::vector<std::byte> buffer(block * 4);
  for (const SafetensorsWriteTensor& t : tensors) {
    SafetensorsTensor shape_only;  // for element_position()
    shape_only.shape = t.shape;
    const std::uint64_t elements = shape_only.elements();
    const std::size_t width = static_cast<std::size_t>(dtype_size(t.dtype));
    for (std::uint64_t first = 0; first < elements; first += block) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(block, elements - first));
      for (std::size_t i = 0; i < n; ++i) {
        const float v = t.values[first + i];
        const auto reject = [&](const std::string& problem) {
          const auto [row, col] = element_position(shape_only, first + i);
          throw Error(ErrorKind::non_finite_value, where + ": " + problem, t.name, row, col);
        };
        if (!qins::detail::is_finite_bits(v)) reject("non-finite value");
        std::byte* out = buffer.data() + width * i;
        if (t.dtype == SafetensorsDtype::f32) {
          std::memcpy(out, &v, 4);
          continue;
        }
        const std::uint16_t h =
            t.dtype == SafetensorsDtype::f16 ? float_to_half(v) : float_to_bfloat16(v);
        if ((h & 0x7fffu) == (t.dtype == SafetensorsDtype::f16 ? 0x7c00u : 0x7f80u)) {
          char value[32];
          std::snprintf(value, sizeof value, "%.9g", static_cast<double>(v));
          reject(std::string("value ") + value + " overflows " + to_string(t.dtype));
        }
        qins::detail::store_le<std::uint16_t>(out, h);
      }
      sink(reinterpret_cast<const char*>(buffer.data()), n * width);
    }
  }
}

}  // namespace detail

/// The bytes of a safetensors file holding `tensors` (in their order in the data section)
/// and `metadata` (written as "__metadata__" when not empty), the header padded with spaces
/// to a multiple of 8 bytes. Throws qins::Error: invalid_argument for an empty, over-long,
/// non-UTF-8, repeated or reserved ("__metadata__") name, a shape of more than 8 dimensions
/// or whose byte count overflows, null values; non_finite_value for a NaN or infinite value
/// or one the dtype cannot hold (F16 above 65504), naming the tensor, row and column.
inline std::vector<std::byte> serialize_safetensors(
    const std::vector<SafetensorsWriteTensor>& tensors,
    const std::map<std::string, std::string>& metadata = {}) {
  std::vector<std::byte> out;
  detail::emit_safetensors(tensors, metadata, "safetensors writer",
                           [&](const char* p, std::size_t n) {
                             const std::byte* b = reinterpret_cast<const std::byte*>(p);
                             out.insert(out.end(), b, b + n);
                           });
  return out;
}

/// Writes serialize_safetensors(tensors, metadata) to `path`, streaming: into
/// `path` + ".tmp", renamed to `path` once complete, so that a failure never leaves a
/// partial file (and a file mapped by a reader is replaced, never overwritten in place).
/// Throws qins::Error: as serialize_safetensors() (messages "safetensors writer '<path>':
/// ..."); io_failure if the file cannot be written or renamed.
inline void write_safetensors(const std::string& path,
                              const std::vector<SafetensorsWriteTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  const std::string where = "safetensors writer '" + path + "'";
  const std::string temporary = path + ".tmp";
  std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorKind::io_failure, where + ": cannot create '" + temporary + "'");
  try {
    detail::emit_safetensors(tensors, metadata, where, [&](const char* p, std::size_t n) {
      if (!out.write(p, static_cast<std::streamsize>(n))) {
        throw Error(ErrorKind::io_failure, where + ": write error on '" + temporary + "'");
      }
    });
    out.close();
    if (!out) throw Error(ErrorKind::io_failure, where + ": write error on '" + temporary + "'");
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    if (ec) {
      throw Error(ErrorKind::io_failure,
                  where + ": cannot rename '" + temporary + "' to it: " + ec.message());
    }
  } catch (...) {
    out.close();
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw;
  }
}

}  // namespace qins::llama2
