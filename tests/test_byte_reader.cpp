// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Tests of qins::detail::ByteReader: bounds, fields, records, streams and the failure path.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "qins/detail/byte_reader.hpp"
#include "qins/error.hpp"

namespace {

using qins::Error;
using qins::ErrorKind;
using qins::detail::ByteReader;
using Bytes = std::vector<unsigned char>;

// Little-endian fields: u8 0x11, u16 0x2233, u32 0x44556677, u64 0x8899aabbccddeeff, i32 -2,
// f32 1.5.
Bytes fields() {
  Bytes b = {0x11, 0x33, 0x22, 0x77, 0x66, 0x55, 0x44, 0xff, 0xee, 0xdd, 0xcc, 0xbb,
             0xaa, 0x99, 0x88, 0xfe, 0xff, 0xff, 0xff, 0,    0,    0,    0};
  const float f = 1.5f;
  std::memcpy(b.data() + 19, &f, 4);
  return b;
}

std::string as_string(const Bytes& b) { return std::string(b.begin(), b.end()); }

// `f` must throw qins::Error of kind `kind` whose what() contains `needle`.
template <class F>
void require_error(F&& f, ErrorKind kind, const std::string& needle) {
  try {
    f();
    FAIL("no exception");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.kind() == kind);
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains(needle));
  }
}

void read_all_fields(ByteReader& r) {
  CHECK(r.remaining() == 23);
  CHECK(r.u8("a") == 0x11);
  CHECK(r.u16("b") == 0x2233);
  CHECK(r.u32("c") == 0x44556677u);
  CHECK(r.u64("d") == 0x8899aabbccddeeffull);
  CHECK(r.i32("e") == -2);
  CHECK(r.position() == 19);
  CHECK(r.f32("f") == 1.5f);
  CHECK(r.at_end());
  CHECK(r.remaining() == 0);
}

}  // namespace

TEST_CASE("byte reader: little-endian fields from memory and from a stream", "[byte_reader]") {
  const Bytes b = fields();
  ByteReader memory(b.data(), b.size(), "test 'm'");
  CHECK(memory.in_memory());
  read_all_fields(memory);

  std::istringstream in(as_string(b));
  ByteReader stream(in, b.size(), "test 's'");
  CHECK_FALSE(stream.in_memory());
  read_all_fields(stream);
}

TEST_CASE("byte reader: a read past the end fails, naming the source and field", "[byte_reader]") {
  const Bytes b = {1, 2, 3};
  for (const bool from_stream : {false, true}) {
    INFO((from_stream ? "stream" : "memory"));
    std::istringstream in(as_string(b));
    ByteReader r = from_stream ? ByteReader(in, b.size(), "file 'x.bin'")
                               : ByteReader(b.data(), b.size(), "file 'x.bin'");
    CHECK(r.u16("first") == 0x0201);
    require_error([&] { (void)r.u32("header field 'dim'"); }, ErrorKind::bad_file,
                  "file 'x.bin': unexpected end of data reading header field 'dim' (4 bytes at "
                  "offset 2, 1 left)");
    CHECK(r.position() == 2);  // nothing was consumed
    require_error([&] { r.skip(2, "padding"); }, ErrorKind::bad_file, "reading padding");
    CHECK(r.take(1, "last")[0] == std::byte{3});
    CHECK(r.at_end());
    CHECK(r.take(0, "nothing") != nullptr);
  }
}

TEST_CASE("byte reader: memory takes are pointers into the data", "[byte_reader]") {
  const Bytes b = fields();
  ByteReader r(b.data(), b.size(), "");
  r.skip(3);
  CHECK(reinterpret_cast<const unsigned char*>(r.take(4)) == b.data() + 3);
  // No description: the message stands alone.
  require_error([&] { (void)r.take(100, "x"); }, ErrorKind::bad_file, "unexpected end of data");
  try {
    (void)r.take(100, "x");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).rfind("qins: unexpected end", 0) == 0);
  }
  require_error([] { ByteReader(static_cast<const unsigned char*>(nullptr), 4, "null 'n'"); },
                ErrorKind::invalid_argument, "null 'n': null data pointer with nonzero size");
  CHECK_NOTHROW(ByteReader(static_cast<const unsigned char*>(nullptr), 0, "empty").at_end());
}

TEST_CASE("byte reader: records read fields at fixed offsets, bounds-checked", "[byte_reader]") {
  const Bytes b = fields();
  ByteReader r(b.data(), b.size(), "file 'r.bin'");
  r.skip(1);
  const qins::detail::ByteRecord rec = r.record(6, "header");
  CHECK(r.position() == 7);
  CHECK(rec.size() == 6);
  CHECK(rec.u16_at(0, "b") == 0x2233);
  CHECK(rec.u32_at(2, "c") == 0x44556677u);
  CHECK(rec.u8_at(5, "c's top byte") == 0x44);
  CHECK(rec.contains(2, 4));
  CHECK_FALSE(rec.contains(3, 4));
  CHECK_FALSE(rec.contains(7, 0));
  require_error([&] { (void)rec.u32_at(3, "field 'c'"); }, ErrorKind::bad_file,
                "file 'r.bin': field 'c' (4 bytes at offset 3) lies outside the 6-byte header");
  require_error([&] { (void)rec.u64_at(std::numeric_limits<std::size_t>::max(), "far"); },
                ErrorKind::bad_file, "lies outside");

  // Random access into a memory source leaves the cursor alone.
  const qins::detail::ByteRecord at = r.record_at(7, 8, "entry 0");
  CHECK(at.u64_at(0, "d") == 0x8899aabbccddeeffull);
  CHECK(r.position() == 7);
  require_error([&] { (void)r.record_at(20, 4, "entry 1"); }, ErrorKind::bad_file,
                "entry 1 [20, +4) lies outside the 23-byte file");
  require_error([&] { (void)r.record_at(std::numeric_limits<std::uint64_t>::max(), 1, "e"); },
                ErrorKind::bad_file, "lies outside");
  std::istringstream in(as_string(b));
  ByteReader stream(in, b.size(), "s");
  require_error([&] { (void)stream.record_at(0, 1, "e"); }, ErrorKind::invalid_argument,
                "random access");
}

TEST_CASE("byte reader: float arrays, in blocks from a stream", "[byte_reader]") {
  const std::size_t n = 3 * ByteReader::stream_chunk_bytes / 4 + 5;  // three blocks and a bit
  std::vector<float> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<float>(i) * 0.5f - 7.0f;
  Bytes b(4 + 4 * n);
  std::memcpy(b.data() + 4, values.data(), 4 * n);
  for (const bool from_stream : {false, true}) {
    INFO((from_stream ? "stream" : "memory"));
    std::istringstream in(as_string(b));
    ByteReader r =
        from_stream ? ByteReader(in, b.size(), "f") : ByteReader(b.data(), b.size(), "f");
    r.skip(4, "prefix");
    std::vector<float> out(n + 1, 42.0f);
    require_error([&] { r.read_floats(out.data(), n + 1, "weights"); }, ErrorKind::bad_file,
                  "reading weights");
    CHECK(out[0] == 42.0f);  // checked before anything is read
    r.read_floats(out.data(), n, "weights");
    CHECK(std::memcmp(out.data(), values.data(), 4 * n) == 0);
    CHECK(r.at_end());
    // A count whose byte size overflows is a bad file, not a wrap-around.
    require_error([&] { r.read_floats(out.data(), std::uint64_t{1} << 62, "huge"); },
                  ErrorKind::bad_file, "the size of huge overflows 64-bit arithmetic");
  }
}

TEST_CASE("byte reader: a stream that ends early or fails is an I/O error", "[byte_reader]") {
  const Bytes b = {1, 2, 3, 4};
  std::istringstream in(as_string(b));
  ByteReader r(in, 8, "file 'grew.bin'");  // said to hold 8 bytes
  CHECK(r.u32("a") == 0x04030201u);
  require_error([&] { (void)r.u32("b"); }, ErrorKind::io_failure,
                "file 'grew.bin': read error (the file may have changed while being read)");
}

TEST_CASE("byte reader: checked arithmetic and finiteness by bit pattern", "[byte_reader]") {
  const Bytes b = {0};
  const ByteReader r(b.data(), b.size(), "llama2.c checkpoint 'x.bin'");
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  CHECK(r.checked_add(max - 1, 1, "sum") == max);
  CHECK(r.checked_mul(1ull << 32, (1ull << 32) - 1, "product") ==
        (1ull << 32) * ((1ull << 32) - 1));
  CHECK(r.checked_mul(0, max, "product") == 0);
  require_error([&] { (void)r.checked_add(max, 1, "the size implied by the header"); },
                ErrorKind::bad_file,
                "llama2.c checkpoint 'x.bin': the size implied by the header overflows 64-bit "
                "arithmetic");
  require_error([&] { (void)r.checked_mul(1ull << 32, 1ull << 32, "the table"); },
                ErrorKind::bad_file, "the table overflows");
  require_error([&] { r.fail("bad magic", "wq"); }, ErrorKind::bad_file,
                "llama2.c checkpoint 'x.bin': bad magic (at tensor 'wq')");
  CHECK(r.with_source("text") == "llama2.c checkpoint 'x.bin': text");

  CHECK(qins::detail::is_finite_f32_bits(0x3f800000u));        // 1
  CHECK(qins::detail::is_finite_f32_bits(0x7f7fffffu));        // largest finite
  CHECK_FALSE(qins::detail::is_finite_f32_bits(0x7f800000u));  // +inf
  CHECK_FALSE(qins::detail::is_finite_f32_bits(0xff800000u));  // -inf
  CHECK_FALSE(qins::detail::is_finite_f32_bits(0x7fc00001u));  // NaN
  const float values[] = {1.0f, -0.0f, std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::quiet_NaN(), 2.0f};
  CHECK(qins::detail::find_non_finite(values, 5) == 3);
  CHECK(qins::detail::find_non_finite(values, 3) == 3);
  CHECK(qins::detail::find_non_finite(values, 0) == 0);
}
