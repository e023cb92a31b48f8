// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// A bounds-checked cursor over the bytes of a file, in memory or streamed, for the file readers.
//
// Every reader of an untrusted file (the llama2.c checkpoint and tokenizer readers today)
// reads through a ByteReader, so that bounds, overflow and the wording of a rejection are
// handled once:
//
//   - Sources. From memory (pointer + size: a buffer, a mapped file): take() returns
//     pointers into it and nothing is copied or allocated. From a std::istream whose size is
//     known (a file read once, front to back): take() reads into a buffer of the reader
//     that grows to the largest request, which read_floats() keeps at 64 KiB, and the
//     pointer it returns is valid until the next read.
//   - Sequential reads: remaining(), at_end(), skip(n), take(n), the little-endian fields
//     u8/u16/u32/u64/i32/f32 and read_floats(dst, count). Each checks first that enough
//     bytes remain: a read past the end throws, naming the field, and reads nothing.
//   - Fixed-layout records: record(n, field) takes n bytes as a ByteRecord whose fields are
//     read at fixed offsets (u32_at(offset, field), ...), each bounds-checked against the
//     record; record_at(offset, n, field) is the same at an absolute offset of a memory
//     source (random access, e.g. a table entry or a payload of a file loaded in place).
//     A table of fields (name, offset, width) can then drive parse, serialize and a
//     mutation test alike.
//   - Size arithmetic: checked_add / checked_mul on uint64, which fail as the file does.
//   - Finiteness by bit pattern (is_finite_f32_bits, find_non_finite), so that the checks
//     keep working under a consumer's -ffast-math.
//   - One failure path: fail(message) throws qins::Error(ErrorKind::bad_file) with the
//     message prefixed by the source's description, e.g. "llama2.c checkpoint 'x.bin':
//     header field 'dim' ..." (no prefix when the description is empty), and an optional
//     tensor name. with_source(text) gives the same prefix to errors of other kinds. I/O
//     errors of a stream (a read or seek that fails, a file shorter than it was said to be)
//     throw ErrorKind::io_failure.
//
// Multi-byte fields are little-endian; big-endian hosts are rejected at compile time (by
// endian.hpp), so fields and float arrays are plain copies.
// IWYU pragma: private
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <istream>
#include <limits>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "endian.hpp"
#include "float_bits.hpp"

namespace qins::detail {

/// False for the bit patterns of NaN and +-infinity (all exponent bits set).
inline bool is_finite_f32_bits(std::uint32_t bits) noexcept {
  return (bits & FloatBits<float>::exponent_mask) != FloatBits<float>::exponent_mask;
}

/// The index of the first NaN or infinity among the `count` floats at `values`, or `count`
/// when all are finite. Tested by bit pattern.
inline std::size_t find_non_finite(const float* values, std::size_t count) noexcept {
  for (std::size_t i = 0; i < count; ++i) {
    if (!is_finite_bits(values[i])) return i;
  }
  return count;
}

/// `text` prefixed with `source` and ": ", or just `text` when source is empty: the form of
/// every message about a file.
inline std::string message_about(const std::string& source, std::string_view text) {
  return source.empty() ? std::string(text) : source + ": " + std::string(text);
}

class ByteReader;

/// A fixed-layout record of a file: `size()` bytes whose fields are read at fixed offsets.
/// Obtained from ByteReader::record() or record_at(); it points into the reader's source
/// (memory) or buffer (stream: valid until the reader's next read). Every accessor checks
/// that the field lies inside the record and throws qins::Error (bad_file), worded as the
/// reader's failures, naming the source, the record and the field, when it does not.
class ByteRecord {
 public:
  /// The record's bytes.
  const std::byte* data() const noexcept { return data_; }
  /// Its length in bytes.
  std::size_t size() const noexcept { return size_; }
  /// Whether `width` bytes at `offset` lie inside the record.
  bool contains(std::size_t offset, std::size_t width) const noexcept {
    return offset <= size_ && width <= size_ - offset;
  }
  /// The `width` bytes at `offset`. Throws qins::Error (bad_file) if they are not all inside.
  inline const std::byte* bytes_at(std::size_t offset, std::size_t width,
                                   std::string_view field) const;

  std::uint8_t u8_at(std::size_t offset, std::string_view field) const {
    return field_at<std::uint8_t>(offset, field);
  }
  std::uint16_t u16_at(std::size_t offset, std::string_view field) const {
    return field_at<std::uint16_t>(offset, field);
  }
  std::uint32_t u32_at(std::size_t offset, std::string_view field) const {
    return field_at<std::uint32_t>(offset, field);
  }
  std::uint64_t u64_at(std::size_t offset, std::string_view field) const {
    return field_at<std::uint64_t>(offset, field);
  }
  /// A two's-complement int32.
  std::int32_t i32_at(std::size_t offset, std::string_view field) const {
    const std::uint32_t u = u32_at(offset, field);
    std::int32_t v;
    std::memcpy(&v, &u, sizeof v);
    return v;
  }
  /// A float32 as stored (not checked for finiteness: see is_finite_f32_bits()).
  float f32_at(std::size_t offset, std::string_view field) const {
    const std::uint32_t u = u32_at(offset, field);
    float v;
    std::memcpy(&v, &u, sizeof v);
    return v;
  }

 private:
  friend class ByteReader;
  ByteRecord(std::string source, const std::byte* data, std::size_t size, std::string_view name)
      : source_(std::move(source)), data_(data), size_(size), name_(name) {}

  template <class U>
  U field_at(std::size_t offset, std::string_view field) const {
    return load_le<U>(bytes_at(offset, sizeof(U), field));
  }

  std::string source_;
  const std::byte* data_;
  std::size_t size_;
  std::string name_;
};

/// A bounds-checked cursor over the bytes of one source (see the top of this header).
/// Not copyable (a stream has one position); movable.
class ByteReader {
 public:
  /// Largest block read_floats() reads from a stream at once.
  static constexpr std::size_t stream_chunk_bytes = std::size_t{1} << 16;

  /// Over the `size` bytes at `data`, which must stay valid while the reader and the
  /// pointers it returns are used. `source` describes them in messages ("llama2.c
  /// checkpoint 'x.bin'"; may be empty). Throws qins::Error (invalid_argument) if data is
  /// null while size > 0.
  ByteReader(const std::byte* data, std::size_t size, std::string source)
      : memory_(data), size_(size), source_(std::move(source)) {
    if (data == nullptr && size > 0) {
      throw Error(ErrorKind::invalid_argument, with_source("null data pointer with nonzero size"));
    }
  }
  /// The same over unsigned char bytes.
  ByteReader(const unsigned char* data, std::size_t size, std::string source)
      : ByteReader(reinterpret_cast<const std::byte*>(data), size, std::move(source)) {}

  /// Over the next `size` bytes of `in` (a binary stream, e.g. a std::ifstream positioned at
  /// the start of a file of that size), which must outlive the reader. Reads nothing yet.
  ByteReader(std::istream& in, std::uint64_t size, std::string source)
      : stream_(&in), size_(size), source_(std::move(source)) {}

  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;
  ByteReader(ByteReader&&) = default;
  ByteReader& operator=(ByteReader&&) = default;

  /// The description given to the constructor.
  const std::string& source() const noexcept { return source_; }
  /// Total bytes of the source.
  std::uint64_t size() const noexcept { return size_; }
  /// Bytes consumed so far (the offset of the next read).
  std::uint64_t position() const noexcept { return position_; }
  /// Bytes left to read.
  std::uint64_t remaining() const noexcept { return size_ - position_; }
  /// True when every byte has been consumed.
  bool at_end() const noexcept { return position_ == size_; }
  /// True for a memory source (record_at() and pointers that outlive the next read).
  bool in_memory() const noexcept { return stream_ == nullptr; }

  /// `text` prefixed with the source's description and ": " (just `text` when the
  /// description is empty), for errors of any kind about this source.
  std::string with_source(std::string_view text) const { return message_about(source_, text); }
  /// The one failure path of a bad file: throws qins::Error(ErrorKind::bad_file,
  /// with_source(message), tensor).
  [[noreturn]] void fail(std::string_view message, const std::string& tensor = {}) const {
    throw Error(ErrorKind::bad_file, with_source(message), tensor);
  }

  /// Skips `n` bytes. Throws qins::Error: bad_file (naming `field`) if fewer remain;
  /// io_failure if a stream cannot seek.
  void skip(std::uint64_t n, std::string_view field = "data") {
    require(n, field);
    if (stream_ != nullptr && n > 0) {
      stream_->seekg(static_cast<std::streamoff>(n), std::ios::cur);
      if (!*stream_) throw Error(ErrorKind::io_failure, with_source("seek error"));
    }
    position_ += n;
  }

  /// The next `n` bytes, consumed. A memory source returns a pointer into its data; a
  /// stream, into the reader's buffer (valid until the next read). Throws qins::Error:
  /// bad_file (naming `field`, reading nothing) if fewer than n bytes remain; io_failure
  /// if the stream fails or ends early, or memory runs out.
  const std::byte* take(std::size_t n, std::string_view field = "data") {
    require(n, field);
    if (stream_ == nullptr) {
      const std::byte* out = memory_ + static_cast<std::size_t>(position_);
      position_ += n;
      return out;
    }
    try {
      if (buffer_.size() < n) buffer_.resize(n);
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::io_failure,
                  with_source("out of memory reading " + std::string(field)));
    }
    if (n > 0) {
      stream_->read(reinterpret_cast<char*>(buffer_.data()), static_cast<std::streamsize>(n));
      if (!*stream_ || stream_->gcount() != static_cast<std::streamsize>(n)) {
        throw Error(ErrorKind::io_failure,
                    with_source("read error (the file may have changed while being read)"));
      }
    }
    position_ += n;
    return buffer_.data();
  }

  std::uint8_t u8(std::string_view field) { return field_le<std::uint8_t>(field); }
  std::uint16_t u16(std::string_view field) { return field_le<std::uint16_t>(field); }
  std::uint32_t u32(std::string_view field) { return field_le<std::uint32_t>(field); }
  std::uint64_t u64(std::string_view field) { return field_le<std::uint64_t>(field); }
  /// A two's-complement int32.
  std::int32_t i32(std::string_view field) {
    const std::uint32_t u = u32(field);
    std::int32_t v;
    std::memcpy(&v, &u, sizeof v);
    return v;
  }
  /// A float32 as stored (not checked for finiteness: see is_finite_f32_bits()).
  float f32(std::string_view field) {
    const std::uint32_t u = u32(field);
    float v;
    std::memcpy(&v, &u, sizeof v);
    return v;
  }

  /// Reads `count` float32 values into dst (from a stream in blocks of at most
  /// stream_chunk_bytes). Throws as take(), before anything is read if fewer than 4 * count
  /// bytes remain.
  void read_floats(float* dst, std::uint64_t count, std::string_view field) {
    require(checked_mul(count, sizeof(float), "the size of " + std::string(field)), field);
    constexpr std::uint64_t chunk = stream_chunk_bytes / sizeof(float);
    while (count > 0) {
      const std::size_t n =
          static_cast<std::size_t>(stream_ != nullptr && count > chunk ? chunk : count);
      std::memcpy(dst, take(n * sizeof(float), field), n * sizeof(float));
      dst += n;
      count -= n;
    }
  }

  /// The next `n` bytes as a record named `name` (e.g. "header") whose fields are read at
  /// fixed offsets. Throws as take().
  ByteRecord record(std::size_t n, std::string_view name) {
    return ByteRecord(source_, take(n, name), n, name);
  }

  /// The `n` bytes at absolute `offset` of a memory source as a record, without moving the
  /// cursor. Throws qins::Error: bad_file, naming `name`, if they do not lie inside the
  /// source; invalid_argument for a stream source.
  ByteRecord record_at(std::uint64_t offset, std::size_t n, std::string_view name) const {
    if (stream_ != nullptr) {
      throw Error(ErrorKind::invalid_argument, with_source("random access to a streamed file"));
    }
    if (offset > size_ || n > size_ - offset) {
      fail(std::string(name) + " [" + std::to_string(offset) + ", +" + std::to_string(n) +
           ") lies outside the " + std::to_string(size_) + "-byte file");
    }
    return ByteRecord(source_, memory_ + static_cast<std::size_t>(offset), n, name);
  }

  /// a + b, or fail(): "<what> overflows 64-bit arithmetic".
  std::uint64_t checked_add(std::uint64_t a, std::uint64_t b, std::string_view what) const {
    if (b > std::numeric_limits<std::uint64_t>::max() - a) overflow(what);
    return a + b;
  }
  /// a * b, or fail(): "<what> overflows 64-bit arithmetic".
  std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, std::string_view what) const {
    if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) overflow(what);
    return a * b;
  }

 private:
  // Fails, reading nothing, unless n more bytes remain.
  void require(std::uint64_t n, std::string_view field) const {
    if (n > remaining()) {
      fail("unexpected end of data reading " + std::string(field) + " (" + std::to_string(n) +
           " bytes at offset " + std::to_string(position_) + ", " + std::to_string(remaining()) +
           " left)");
    }
  }
  template <class U>
  U field_le(std::string_view field) {
    return load_le<U>(take(sizeof(U), field));
  }
  [[noreturn]] void overflow(std::string_view what) const {
    fail(std::string(what) + " overflows 64-bit arithmetic");
  }

  const std::byte* memory_ = nullptr;
  std::istream* stream_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint64_t position_ = 0;
  std::string source_;
  std::vector<std::byte> buffer_;  // a stream's bytes of the last take()
};

inline const std::byte* ByteRecord::bytes_at(std::size_t offset, std::size_t width,
                                             std::string_view field) const {
  if (!contains(offset, width)) {
    throw Error(ErrorKind::bad_file,
                message_about(source_, std::string(field) + " (" + std::to_string(width) +
                                           " bytes at offset " + std::to_string(offset) +
                                           ") lies outside the " + std::to_string(size_) +
                                           "-byte " + name_));
  }
  return data_ + offset;
}

}  // namespace qins::detail
