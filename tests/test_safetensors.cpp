// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The safetensors reader and writer: round trips, files built byte by byte, every rejection.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qins/error.hpp"
#include "qins/float16.hpp"
#include "qins/llama2/safetensors.hpp"
#include "support.hpp"

#ifndef QINS_TEST_TMP_DIR
#error "define QINS_TEST_TMP_DIR as a scratch directory under the build tree"
#endif

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;
using qins::Error;
using qins::ErrorKind;
using qins::llama2::SafetensorsCheckpoint;
using qins::llama2::SafetensorsDtype;
using qins::llama2::SafetensorsFile;
using qins::llama2::SafetensorsTensor;
using qins::llama2::SafetensorsWriteTensor;

// A fresh, empty scratch directory for one test case.
fs::path scratch(const std::string& name) { return qins_test::scratch_dir("safetensors", name); }

void append_u64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

// A file whose length field says `length`, then `header`, then `data`.
Bytes file_with_length(std::uint64_t length, const std::string& header, const Bytes& data = {}) {
  Bytes b;
  append_u64(b, length);
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// A well-formed frame around `header` and `data`.
Bytes file_of(const std::string& header, const Bytes& data = {}) {
  return file_with_length(header.size(), header, data);
}

Bytes f32_bytes(const std::vector<float>& v) {
  Bytes b(4 * v.size());
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

Bytes u16_bytes(const std::vector<std::uint16_t>& v) {
  Bytes b;
  for (const std::uint16_t x : v) {
    b.push_back(static_cast<unsigned char>(x & 0xff));
    b.push_back(static_cast<unsigned char>(x >> 8));
  }
  return b;
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  std::uint64_t begin, std::uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

// parse() keeps a view of the bytes: never of a temporary.
SafetensorsFile parse(const Bytes& b) { return SafetensorsFile::parse(b.data(), b.size(), "t"); }
SafetensorsFile parse(Bytes&&) = delete;

// The qins::Error that `f` throws (a test failure if it throws none).
template <class F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no qins::Error was thrown");
  return Error(ErrorKind::invalid_argument, "unreachable");
}

// `b` is rejected as a bad file with a message that contains `what` (and, when given,
// names `tensor`).
void require_rejected(const Bytes& b, const std::string& what, const std::string& tensor = {}) {
  const Error e = error_of([&] { parse(b); });
  INFO(e.what());
  CHECK(e.kind() == ErrorKind::bad_file);
  CHECK_THAT(e.what(), Catch::StartsWith("qins: safetensors file 't': "));
  CHECK_THAT(e.what(), Catch::Contains(what));
  if (!tensor.empty()) CHECK(e.tensor() == tensor);
}

std::vector<float> read_all(const SafetensorsFile& f, const SafetensorsTensor& t) {
  std::vector<float> out(static_cast<std::size_t>(t.elements()));
  f.read_floats(t, out.data());
  return out;
}

bool same_bits(float a, float b) {
  std::uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

Bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(out);
}

void write_text(const fs::path& p, const std::string& s) {
  write_file(p, Bytes(s.begin(), s.end()));
}

// Values with the cases that rounding to 16 bits must get right.
std::vector<float> tricky_values() {
  return {0.0f,      -0.0f,    1.0f,           -1.0f,         1.0f / 3.0f,  65504.0f,
          -65504.0f, 65519.0f, 6.0e-8f,        5.96e-8f,      1.0e-5f,      0.1f,
          -2.5f,     3.14159f, 1.00048828125f, 1.0009765625f, 1.001953125f, 1.0e-30f,
          1.5e-41f,  123.456f, -7.8125e-3f,    2.0f,          1.0e4f,       0.099975586f};
}

}  // namespace

TEST_CASE("safetensors: round trips through the writer for F32, F16 and BF16", "[safetensors]") {
  const fs::path dir = scratch("round_trip");
  const std::vector<float> base = tricky_values();
  std::vector<float> bf16_values = base;
  bf16_values.push_back(1.0e30f);
  bf16_values.push_back(-3.0e38f);
  const std::vector<float> scalar = {42.5f};
  const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                       {"note", "\xC3\xA9t\xC3\xA9"}};
  const std::vector<SafetensorsWriteTensor> tensors = {
      {"a.f32", SafetensorsDtype::f32, {4, 6}, base.data()},
      {"b.f16", SafetensorsDtype::f16, {2, 3, 4}, base.data()},
      {"c.bf16", SafetensorsDtype::bf16, {bf16_values.size()}, bf16_values.data()},
      {"d.scalar", SafetensorsDtype::f32, {}, scalar.data()},
      {"e.empty", SafetensorsDtype::f16, {0, 7}, nullptr},
  };
  const fs::path path = dir / "model.safetensors";
  qins::llama2::write_safetensors(path.string(), tensors, metadata);
  CHECK_FALSE(fs::exists(path.string() + ".tmp"));
  const Bytes bytes = read_file(path);
  CHECK(qins::llama2::serialize_safetensors(tensors, metadata) ==
        std::vector<std::byte>(reinterpret_cast<const std::byte*>(bytes.data()),
                               reinterpret_cast<const std::byte*>(bytes.data()) + bytes.size()));

  // The frame and header, read independently of the reader.
  std::uint64_t header_length = 0;
  for (int i = 0; i < 8; ++i) header_length |= std::uint64_t(bytes[std::size_t(i)]) << (8 * i);
  CHECK(header_length % 8 == 0);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(header_length));
  const nlohmann::json json = nlohmann::json::parse(header);
  CHECK(json["a.f32"]["dtype"] == "F32");
  CHECK(json["b.f16"]["shape"] == nlohmann::json({2, 3, 4}));
  CHECK(json["c.bf16"]["dtype"] == "BF16");
  CHECK(json["__metadata__"]["note"] == "\xC3\xA9t\xC3\xA9");
  const std::size_t data = 8 + std::size_t(header_length);
  const std::size_t a_begin = json["a.f32"]["data_offsets"][0].get<std::size_t>();
  for (std::size_t i = 0; i < base.size(); ++i) {  // F32 bytes are the input's bits
    float v;
    std::memcpy(&v, bytes.data() + data + a_begin + 4 * i, 4);
    CHECK(same_bits(v, base[i]));
  }
  const std::size_t b_begin = json["b.f16"]["data_offsets"][0].get<std::size_t>();
  for (std::size_t i = 0; i < base.size(); ++i) {
    const std::uint16_t h = static_cast<std::uint16_t>(bytes[data + b_begin + 2 * i] |
                                                       (bytes[data + b_begin + 2 * i + 1] << 8));
    CHECK(h == qins::float_to_half(base[i]));
  }

  const SafetensorsFile f = SafetensorsFile::open(path.string());
  CHECK(f.source() == path.string());
  CHECK(f.metadata() == metadata);
  CHECK(f.data_offset() == data);
  REQUIRE(f.tensors().size() == 5);
  for (std::size_t i = 0; i + 1 < f.tensors().size(); ++i)
    CHECK(f.tensors()[i].begin <= f.tensors()[i + 1].begin);  // sorted by offset
  CHECK(f.find("missing") == nullptr);

  const SafetensorsTensor* a = f.find("a.f32");
  REQUIRE(a != nullptr);
  CHECK(a->dtype == SafetensorsDtype::f32);
  CHECK(a->shape == std::vector<std::uint64_t>{4, 6});
  CHECK(a->bytes() == 96);
  const std::vector<float> a_values = read_all(f, *a);
  for (std::size_t i = 0; i < base.size(); ++i) CHECK(same_bits(a_values[i], base[i]));

  const SafetensorsTensor* b = f.find("b.f16");
  REQUIRE(b != nullptr);
  const std::vector<float> b_values = read_all(f, *b);
  for (std::size_t i = 0; i < base.size(); ++i) {
    INFO("value " << base[i]);
    CHECK(same_bits(b_values[i], qins::half_to_float(qins::float_to_half(base[i]))));
  }
  const SafetensorsTensor* c = f.find("c.bf16");
  REQUIRE(c != nullptr);
  const std::vector<float> c_values = read_all(f, *c);
  for (std::size_t i = 0; i < bf16_values.size(); ++i) {
    INFO("value " << bf16_values[i]);
    CHECK(same_bits(c_values[i], qins::bfloat16_to_float(qins::float_to_bfloat16(bf16_values[i]))));
  }
  const SafetensorsTensor* d = f.find("d.scalar");
  REQUIRE(d != nullptr);
  CHECK(d->shape.empty());
  CHECK(d->elements() == 1);
  CHECK(read_all(f, *d) == scalar);
  const SafetensorsTensor* e = f.find("e.empty");
  REQUIRE(e != nullptr);
  CHECK(e->elements() == 0);
  CHECK(e->bytes() == 0);
  CHECK(read_all(f, *e).empty());

  // Rows: one row of b is 12 values; the range [1, 2) is its second half.
  std::vector<float> row(12);
  f.read_rows(*b, 1, 1, row.data());
  for (std::size_t i = 0; i < 12; ++i) CHECK(same_bits(row[i], b_values[12 + i]));
  std::vector<float> rows(12);
  f.read_rows(*a, 1, 2, rows.data());
  for (std::size_t i = 0; i < 12; ++i) CHECK(same_bits(rows[i], a_values[6 + i]));
  f.read_rows(*a, 4, 0, rows.data());  // an empty range at the end
  CHECK(error_of([&] { f.read_rows(*a, 3, 2, rows.data()); }).kind() ==
        ErrorKind::invalid_argument);
  CHECK(error_of([&] { f.read_rows(*d, 0, 1, rows.data()); }).kind() ==
        ErrorKind::invalid_argument);

  // release() drops the pages; the values come back on the next read.
  for (const SafetensorsTensor& t : f.tensors()) f.release(t);
  CHECK(read_all(f, *a) == a_values);
  CHECK(read_all(f, *c) == c_values);

  // A tensor of another file is refused.
  const SafetensorsFile view = SafetensorsFile::parse(bytes.data(), bytes.size(), "copy");
  const Error foreign = error_of([&] { view.read_floats(*a, rows.data()); });
  CHECK(foreign.kind() == ErrorKind::invalid_argument);
  view.release(*view.find("a.f32"));  // no mapping: nothing to do
  CHECK(read_all(view, *view.find("a.f32")) == a_values);
}

TEST_CASE("safetensors: a large tensor is released page by page and reads back", "[safetensors]") {
  const fs::path dir = scratch("release");
  std::vector<float> big(1 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = float(i % 1000) * 0.001f;
  const std::vector<float> small = {1, 2, 3};
  qins::llama2::write_safetensors((dir / "m.safetensors").string(),
                                  {{"small", SafetensorsDtype::f32, {3}, small.data()},
                                   {"big", SafetensorsDtype::bf16, {1024, 1024}, big.data()}});
  const SafetensorsFile f = SafetensorsFile::open((dir / "m.safetensors").string());
  const SafetensorsTensor& t = *f.find("big");
  const std::vector<float> before = read_all(f, t);
  f.release(t);
  f.release(*f.find("small"));
  CHECK(read_all(f, t) == before);
  CHECK(read_all(f, *f.find("small")) == small);
  CHECK(before[1001] == qins::bfloat16_to_float(qins::float_to_bfloat16(big[1001])));
}

TEST_CASE("safetensors: files built byte by byte are read as written", "[safetensors]") {
  // Two tensors listed out of offset order, padding, metadata.
  const std::string header = "{" + entry("w", "F32", "[2, 2]", 4, 20) + "," +
                             entry("b", "BF16", "[2]", 0, 4) +
                             ",\"__metadata__\":{\"format\":\"pt\"}}    ";
  Bytes data = u16_bytes({0x3f80, 0xc000});  // bf16 1, -2
  const Bytes w = f32_bytes({0.5f, -0.25f, 8.0f, 1e-3f});
  data.insert(data.end(), w.begin(), w.end());
  const Bytes file = file_of(header, data);
  const SafetensorsFile f = parse(file);
  REQUIRE(f.tensors().size() == 2);
  CHECK(f.tensors()[0].name == "b");
  CHECK(f.tensors()[1].name == "w");
  CHECK(f.metadata().at("format") == "pt");
  CHECK(read_all(f, *f.find("b")) == std::vector<float>{1.0f, -2.0f});
  CHECK(read_all(f, *f.find("w")) == std::vector<float>{0.5f, -0.25f, 8.0f, 1e-3f});
  CHECK(f.describe() == "safetensors file 't'");

  // F16 bits, subnormal included.
  const Bytes half_file =
      file_of("{" + entry("h", "F16", "[3]", 0, 6) + "}", u16_bytes({0x3c00, 0x0001, 0xbc00}));
  const SafetensorsFile h = parse(half_file);
  CHECK(read_all(h, *h.find("h")) == std::vector<float>{1.0f, 5.9604644775390625e-8f, -1.0f});

  // No tensors at all; "-0" as an offset; a zero-element tensor between two others.
  const Bytes empty = file_of("{}"), metadata_only = file_of("{\"__metadata__\":{}}");
  CHECK(parse(empty).tensors().empty());
  CHECK(parse(metadata_only).metadata().empty());
  const Bytes zero = file_of("{" + entry("z", "F32", "[0]", 0, 0) + "}");
  CHECK(parse(zero).tensors().size() == 1);
  const Bytes middle =
      file_of("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("e", "F16", "[3, 0]", 4, 4) + "," +
                  entry("c", "F32", "[1]", 4, 8) + "}",
              f32_bytes({1, 2}));
  CHECK(parse(middle).tensors()[1].name == "e");
  const Bytes minus_zero =
      file_of("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-0,4]}}", f32_bytes({1}));
  CHECK(parse(minus_zero).tensors().size() == 1);
  // A name of exactly the cap; eight dimensions.
  const std::string longest(qins::llama2::safetensors_limits::name_bytes, 'n');
  const Bytes long_name = file_of("{" + entry(longest, "F32", "[1]", 0, 4) + "}", f32_bytes({1}));
  CHECK(parse(long_name).find(longest) != nullptr);
  const Bytes rank8 =
      file_of("{" + entry("r", "F32", "[1,1,1,1,1,1,1,2]", 0, 8) + "}", f32_bytes({1, 2}));
  CHECK(parse(rank8).find("r")->shape.size() == 8);
}

TEST_CASE("safetensors: the frame and the header's JSON are validated", "[safetensors][errors]") {
  for (std::size_t n = 0; n < 8; ++n) {
    INFO(n << " bytes");
    require_rejected(Bytes(n, 0), "shorter than the 8-byte header length field");
  }
  const std::string lfs =
      "version https://git-lfs.github.com/spec/v1\noid sha256:"
      "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 1044984\n";
  require_rejected(Bytes(lfs.begin(), lfs.end()),
                   "is a Git LFS pointer, not the tensor data: run git lfs pull");

  require_rejected(file_with_length(100'000'001, "{}"), "header length 100000001 exceeds the cap");
  require_rejected(file_with_length(~std::uint64_t{0}, "{}"), "exceeds the cap of 100000000");
  require_rejected(file_with_length(3, "{}"), "header length 3 exceeds the 2 bytes after");
  require_rejected(file_of(""), "header is empty");
  require_rejected(file_of("[]"), "header is not a JSON object");
  require_rejected(file_of(" {}"), "header is not a JSON object");
  require_rejected(file_of("{\"a\xff\":1}"), "header is not valid UTF-8 (byte 0xff at offset 3");
  require_rejected(file_of("{\"\xc0\xaf\":1}"), "not valid UTF-8");          // overlong '/'
  require_rejected(file_of("{\"\xed\xa0\x80\":1}"), "not valid UTF-8");      // a surrogate
  require_rejected(file_of("{\"\xf4\x90\x80\x80\":1}"), "not valid UTF-8");  // > U+10FFFF
  require_rejected(file_of("{\"\xe2\x82\":1}"), "not valid UTF-8");          // truncated
  require_rejected(file_of("{\"a\":}"), "header is not valid JSON: [json.exception.parse_error");
  require_rejected(file_of("{} x"), "header is not valid JSON");
  require_rejected(file_of("{\"a\":1"), "header is not valid JSON");
  require_rejected(file_of("{\"a\":\"\\ud800\"}"), "header is not valid JSON");  // lone surrogate
  require_rejected(file_of("{\"a\":1e999}"), "header is not valid JSON");
  require_rejected(file_of("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}"),
                   "header is nested more than 64 levels deep");
  require_rejected(file_of("{\"a\":1,\"a\":2}"), "tensor 'a' is given twice");
  require_rejected(
      file_of("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}",
              f32_bytes({1})),
      "key 'dtype' is given twice in 'a'");
  require_rejected(file_of("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"),
                   "key 'k' is given twice in '__metadata__'");
  require_rejected(file_of("{\"__metadata__\":[]}"), "__metadata__ is not a JSON object");
  require_rejected(file_of("{\"__metadata__\":{\"k\":1}}"),
                   "__metadata__ value of 'k' is not a string");
}

TEST_CASE("safetensors: every malformed tensor entry is rejected, naming the tensor",
          "[safetensors][errors]") {
  const Bytes four = f32_bytes({1});
  const auto raw = [&](const std::string& body) { return file_of("{\"w\":" + body + "}", four); };
  require_rejected(raw("1"), "the entry is not a JSON object (1)", "w");
  require_rejected(raw("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":0}"),
                   "the entry has the unexpected key 'x'", "w");
  require_rejected(raw("{\"shape\":[1],\"data_offsets\":[0,4]}"), "the entry has no 'dtype'", "w");
  require_rejected(raw("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}"), "the entry has no 'shape'",
                   "w");
  require_rejected(raw("{\"dtype\":\"F32\",\"shape\":[1]}"), "the entry has no 'data_offsets'",
                   "w");
  require_rejected(raw("{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}"),
                   "dtype is not a string (4)", "w");
  for (const char* dtype : {"I8", "F64", "U8", "BOOL", "I64", "F8_E4M3", "f32", ""}) {
    INFO(dtype);
    require_rejected(file_of("{" + entry("w", dtype, "[1]", 0, 4) + "}", four),
                     std::string("dtype '") + dtype + "' is not supported (only F32, F16 and BF16",
                     "w");
  }
  require_rejected(file_of("{" + entry("w", "F32", "4", 0, 4) + "}", four),
                   "shape is not an array (4)", "w");
  require_rejected(file_of("{" + entry("w", "F32", "[-1]", 0, 4) + "}", four),
                   "shape[0] is negative (-1)", "w");
  require_rejected(file_of("{" + entry("w", "F32", "[1, 1.5]", 0, 4) + "}", four),
                   "shape[1] is not an integer (1.5)", "w");
  require_rejected(file_of("{" + entry("w", "F32", "[1.0]", 0, 4) + "}", four),
                   "shape[0] is not an integer (1.0)", "w");
  require_rejected(file_of("{" + entry("w", "F32", "[\"1\"]", 0, 4) + "}", four),
                   "shape[0] is not a number (\"1\")", "w");
  require_rejected(file_of("{" + entry("w", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) + "}", four),
                   "shape has 9 dimensions, more than 8", "w");
  require_rejected(file_of("{" + entry("w", "F32", "[18446744073709551616]", 0, 4) + "}", four),
                   "shape[0] is not an integer", "w");  // 2^64: parsed as a float
  require_rejected(raw("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":4}"),
                   "data_offsets is not an array of two offsets (4)", "w");
  require_rejected(raw("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}"),
                   "data_offsets is not an array of two offsets", "w");
  require_rejected(raw("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,4]}"),
                   "data_offsets[0] is negative (-4)", "w");
  require_rejected(raw("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}"),
                   "data_offsets[1] is not an integer (4.0)", "w");
  require_rejected(file_of("{" + entry("w", "F32", "[0]", 4, 0) + "}", four),
                   "data_offsets [4, 0] end before they begin", "w");
  require_rejected(file_of("{" + entry("w", "F32", "[4294967296,4294967296,2]", 0, 4) + "}", four),
                   "the element count of shape [4294967296, 4294967296, 2] overflows", "w");
  require_rejected(file_of("{" + entry("w", "F32", "[4611686018427387904]", 0, 4) + "}", four),
                   "the byte count of shape [4611686018427387904] of F32 overflows", "w");
  require_rejected(file_of("{" + entry("w", "F32", "[2]", 0, 4) + "}", four),
                   "data_offsets [0, 4] span 4 bytes, but shape [2] of F32 needs 8", "w");
  require_rejected(file_of("{" + entry("w", "F16", "[2, 2]", 0, 4) + "}", four),
                   "shape [2, 2] of F16 needs 8", "w");
  require_rejected(file_of("{" + entry("w", "F32", "[1]", 4, 8) + "}", four),
                   "data_offsets [4, 8] lie outside the 4-byte data section", "w");
  require_rejected(
      file_of("{" + entry("w", "F32", "[1]", 18446744073709551612u, 18446744073709551615u) + "}",
              four),
      "span 3 bytes", "w");
  require_rejected(file_of("{" + entry("", "F32", "[1]", 0, 4) + "}", four),
                   "a tensor name is empty");
  const std::string too_long(qins::llama2::safetensors_limits::name_bytes + 1, 'n');
  require_rejected(file_of("{" + entry(too_long, "F32", "[1]", 0, 4) + "}", four),
                   "a tensor name of 4097 bytes exceeds the cap of 4096");
}

TEST_CASE("safetensors: the tensors must cover the data section exactly", "[safetensors][errors]") {
  const Bytes eight = f32_bytes({1, 2});
  require_rejected(
      file_of("{" + entry("w", "F32", "[1]", 4, 8) + "}", eight),
      "the data section has a gap: bytes [0, 4) before this tensor belong to no tensor", "w");
  require_rejected(
      file_of("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 0, 4) + "}",
              eight),
      "data_offsets [0, 4] overlap tensor 'a', which ends at 4", "b");
  require_rejected(
      file_of("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[0]", 4, 4) + "}",
              eight),
      "overlap tensor 'a'", "b");
  require_rejected(file_of("{" + entry("w", "F32", "[1]", 0, 4) + "}", eight),
                   "incomplete metadata, file not fully covered: the tensors cover bytes [0, 4) of "
                   "the 8-byte data section");
  require_rejected(file_of("{}", eight), "file not fully covered");
  require_rejected(file_of("{" + entry("w", "F32", "[1]", 0, 4) + "} ", eight),
                   "file not fully covered");  // a header length 1 short of the padding
  // Truncated files: every prefix of a valid one.
  const Bytes valid = file_of("{" + entry("w", "F32", "[2]", 0, 8) + "}", eight);
  for (std::size_t n = 0; n < valid.size(); ++n) {
    INFO("truncated to " << n << " bytes");
    const Bytes cut(valid.begin(), valid.begin() + std::ptrdiff_t(n));
    const Error e = error_of([&] { parse(cut); });
    CHECK(e.kind() == ErrorKind::bad_file);
  }
}

TEST_CASE("safetensors: a NaN or an infinity is reported with its tensor, row and column",
          "[safetensors][errors]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const Bytes file = file_of(
      "{" + entry("m", "F32", "[2, 3]", 0, 24) + "," + entry("v", "F16", "[3]", 24, 30) + "," +
          entry("b", "BF16", "[2, 2, 2]", 30, 46) + "," + entry("ok", "F32", "[1]", 46, 50) + "}",
      [&] {
        Bytes d = f32_bytes({1, 2, 3, 4, 5, -inf});
        const Bytes v = u16_bytes({0x3c00, 0x7c00, 0x3c00});       // F16 +inf at 1
        const Bytes b = u16_bytes({0, 0, 0, 0, 0, 0x7fc0, 0, 0});  // BF16 NaN at 5
        const Bytes ok = f32_bytes({nan});
        d.insert(d.end(), v.begin(), v.end());
        d.insert(d.end(), b.begin(), b.end());
        d.insert(d.end(), ok.begin(), ok.end());
        return d;
      }());
  const SafetensorsFile f = parse(file);
  std::vector<float> out(8);
  Error e = error_of([&] { f.read_floats(*f.find("m"), out.data()); });
  CHECK(e.kind() == ErrorKind::non_finite_value);
  CHECK(e.tensor() == "m");
  CHECK(e.row() == 1);
  CHECK(e.col() == 2);
  CHECK_THAT(e.what(), Catch::Contains("safetensors file 't': non-finite value"));
  e = error_of([&] { f.read_rows(*f.find("m"), 1, 1, out.data()); });
  CHECK(e.row() == 1);
  CHECK(e.col() == 2);
  f.read_rows(*f.find("m"), 0, 1, out.data());  // row 0 is finite
  e = error_of([&] { f.read_floats(*f.find("v"), out.data()); });
  CHECK(e.kind() == ErrorKind::non_finite_value);
  CHECK(e.tensor() == "v");
  CHECK(e.row() == Error::npos);
  CHECK(e.col() == 1);
  e = error_of([&] { f.read_floats(*f.find("b"), out.data()); });
  CHECK(e.tensor() == "b");
  CHECK(e.row() == Error::npos);
  CHECK(e.col() == 5);
  e = error_of([&] { f.read_floats(*f.find("ok"), out.data()); });
  CHECK(e.tensor() == "ok");
}

TEST_CASE("safetensors: open() says what is wrong with the path", "[safetensors][errors]") {
  const fs::path dir = scratch("open");
  Error e = error_of([&] { SafetensorsFile::open((dir / "missing.safetensors").string()); });
  CHECK(e.kind() == ErrorKind::io_failure);
  CHECK_THAT(e.what(), Catch::Contains("missing.safetensors': no such file"));
  e = error_of([&] { SafetensorsFile::open(dir.string()); });
  CHECK(e.kind() == ErrorKind::io_failure);
  CHECK_THAT(e.what(), Catch::Contains("is a directory, not a safetensors file"));
  write_text(dir / "lfs.safetensors",
             "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 12\n");
  e = error_of([&] { SafetensorsFile::open((dir / "lfs.safetensors").string()); });
  CHECK(e.kind() == ErrorKind::bad_file);
  CHECK_THAT(e.what(), Catch::Contains("lfs.safetensors': is a Git LFS pointer, not the tensor "
                                       "data: run git lfs pull"));
  write_file(dir / "empty.safetensors", {});
  e = error_of([&] { SafetensorsFile::open((dir / "empty.safetensors").string()); });
  CHECK_THAT(e.what(), Catch::Contains("shorter than the 8-byte header length field (0 bytes)"));
  CHECK(error_of([] { SafetensorsFile::parse(nullptr, 4, "null"); }).kind() ==
        ErrorKind::invalid_argument);
  CHECK(error_of([] { SafetensorsFile::parse(nullptr, 0, "null"); }).kind() == ErrorKind::bad_file);
}

TEST_CASE("safetensors: the writer refuses what it could not write, and leaves no partial file",
          "[safetensors][errors]") {
  const fs::path dir = scratch("writer");
  const std::vector<float> v = {1, 2, 3, 4};
  const auto rejects = [&](const std::vector<SafetensorsWriteTensor>& t, ErrorKind kind,
                           const std::string& what) {
    const fs::path path = dir / "out.safetensors";
    write_text(path, "previous");
    const Error e = error_of([&] { qins::llama2::write_safetensors(path.string(), t); });
    INFO(e.what());
    CHECK(e.kind() == kind);
    CHECK_THAT(e.what(), Catch::StartsWith("qins: safetensors writer '" + path.string() + "': "));
    CHECK_THAT(e.what(), Catch::Contains(what));
    CHECK(read_file(path) == Bytes{'p', 'r', 'e', 'v', 'i', 'o', 'u', 's'});  // untouched
    CHECK_FALSE(fs::exists(path.string() + ".tmp"));
    return e;
  };
  rejects({{"", SafetensorsDtype::f32, {4}, v.data()}}, ErrorKind::invalid_argument,
          "a tensor name is empty");
  rejects(
      {{"a", SafetensorsDtype::f32, {4}, v.data()}, {"a", SafetensorsDtype::f16, {4}, v.data()}},
      ErrorKind::invalid_argument, "the name is given twice");
  rejects({{"__metadata__", SafetensorsDtype::f32, {4}, v.data()}}, ErrorKind::invalid_argument,
          "reserved");
  rejects({{"a\xff", SafetensorsDtype::f32, {4}, v.data()}}, ErrorKind::invalid_argument,
          "not valid UTF-8");
  rejects({{"a", SafetensorsDtype::f32, {1, 1, 1, 1, 1, 1, 1, 1, 4}, v.data()}},
          ErrorKind::invalid_argument, "more than 8 dimensions");
  rejects({{"a", SafetensorsDtype::f32, {4}, nullptr}}, ErrorKind::invalid_argument, "null values");
  rejects({{"a", SafetensorsDtype::f32, {1ull << 62, 8}, v.data()}}, ErrorKind::invalid_argument,
          "overflows");
  const std::vector<float> bad = {1, 2, std::numeric_limits<float>::quiet_NaN(), 4};
  Error e = rejects({{"ok", SafetensorsDtype::f32, {4}, v.data()},
                     {"nan", SafetensorsDtype::bf16, {2, 2}, bad.data()}},
                    ErrorKind::non_finite_value, "non-finite value");
  CHECK(e.tensor() == "nan");
  CHECK(e.row() == 1);
  CHECK(e.col() == 0);
  const std::vector<float> large = {1, 70000};
  e = rejects({{"big", SafetensorsDtype::f16, {2}, large.data()}}, ErrorKind::non_finite_value,
              "value 70000 overflows F16");
  CHECK(e.col() == 1);
  const std::vector<float> huge = {std::numeric_limits<float>::max()};
  rejects({{"big", SafetensorsDtype::bf16, {1}, huge.data()}}, ErrorKind::non_finite_value,
          "overflows BF16");
  const Error io = error_of([&] {
    qins::llama2::write_safetensors((dir / "no" / "such" / "dir.safetensors").string(),
                                    {{"a", SafetensorsDtype::f32, {4}, v.data()}});
  });
  CHECK(io.kind() == ErrorKind::io_failure);
  // An empty file and a file of metadata only are valid.
  qins::llama2::write_safetensors((dir / "empty.safetensors").string(), {});
  CHECK(SafetensorsFile::open((dir / "empty.safetensors").string()).tensors().empty());
  CHECK(read_file(dir / "empty.safetensors").size() == 16);  // "{}" padded to 8
}

// ---- Sharded checkpoints ----

namespace {

// Three shards of two tensors each and an index listing them; returns the directory.
fs::path write_sharded(const fs::path& dir, const std::vector<float>& v) {
  const char* names[3][2] = {{"a.0", "a.1"}, {"b.0", "b.1"}, {"c.0", "c.1"}};
  nlohmann::json map = nlohmann::json::object();
  for (int s = 0; s < 3; ++s) {
    const std::string shard = "model-0000" + std::to_string(s + 1) + "-of-00003.safetensors";
    qins::llama2::write_safetensors((dir / shard).string(),
                                    {{names[s][0], SafetensorsDtype::f32, {2, 2}, v.data()},
                                     {names[s][1], SafetensorsDtype::bf16, {4}, v.data()}});
    map[names[s][0]] = shard;
    map[names[s][1]] = shard;
  }
  const nlohmann::json index = {{"metadata", {{"total_size", 72}}}, {"weight_map", map}};
  write_text(dir / "model.safetensors.index.json", index.dump(2));
  return dir;
}

// The index of `dir` rewritten with `text`; open(dir) must fail mentioning `what`.
void require_index_rejected(const fs::path& dir, const std::string& text, ErrorKind kind,
                            const std::string& what, const std::string& tensor = {}) {
  write_text(dir / "model.safetensors.index.json", text);
  const Error e = error_of([&] { SafetensorsCheckpoint::open(dir.string()); });
  INFO(e.what());
  CHECK(e.kind() == kind);
  CHECK_THAT(e.what(), Catch::Contains(what));
  if (!tensor.empty()) CHECK(e.tensor() == tensor);
}

}  // namespace

TEST_CASE("safetensors checkpoints: one file, an index of shards, or a directory",
          "[safetensors]") {
  const fs::path dir = scratch("sharded");
  const std::vector<float> v = {1, 2, 3, 4};
  write_sharded(dir, v);
  for (const fs::path& path : {dir, dir / "model.safetensors.index.json"}) {
    const SafetensorsCheckpoint c = SafetensorsCheckpoint::open(path.string());
    CHECK(c.names() == std::vector<std::string>{"a.0", "a.1", "b.0", "b.1", "c.0", "c.1"});
    CHECK(c.files().size() == 3);
    CHECK(c.path() == (dir / "model.safetensors.index.json").string());
    CHECK(c.describe() ==
          "safetensors index '" + (dir / "model.safetensors.index.json").string() + "' (3 shards)");
    const qins::llama2::SafetensorsEntry e = c.require("b.1");
    REQUIRE(e);
    CHECK(e.file->source() == (dir / "model-00002-of-00003.safetensors").string());
    CHECK(read_all(*e.file, *e.tensor) == v);
    CHECK_FALSE(c.find("d.0"));
    CHECK(c.find("d.0").file == nullptr);
    const Error missing = error_of([&] { c.require("d.0"); });
    CHECK(missing.kind() == ErrorKind::bad_file);
    CHECK(missing.tensor() == "d.0");
    CHECK_THAT(missing.what(), Catch::Contains("safetensors index '"));
    CHECK_THAT(missing.what(), Catch::EndsWith("(3 shards): tensor not found (at tensor 'd.0')"));
  }

  // A model.safetensors beside the index is preferred, as transformers does.
  qins::llama2::write_safetensors((dir / "model.safetensors").string(),
                                  {{"single", SafetensorsDtype::f16, {4}, v.data()}});
  const SafetensorsCheckpoint single = SafetensorsCheckpoint::open(dir.string());
  CHECK(single.names() == std::vector<std::string>{"single"});
  CHECK(single.describe() == "safetensors file '" + (dir / "model.safetensors").string() + "'");
  CHECK(SafetensorsCheckpoint::open((dir / "model.safetensors").string()).names().size() == 1);
  CHECK(SafetensorsCheckpoint::open((dir / "model-00003-of-00003.safetensors").string())
            .names()
            .size() == 2);
}

TEST_CASE("safetensors checkpoints: every inconsistent index is rejected",
          "[safetensors][errors]") {
  const fs::path dir = scratch("bad_index");
  const std::vector<float> v = {1, 2, 3, 4};
  write_sharded(dir, v);
  const std::string s1 = "model-00001-of-00003.safetensors";
  const std::string s2 = "model-00002-of-00003.safetensors";
  const std::string s3 = "model-00003-of-00003.safetensors";
  const auto index = [&](nlohmann::json map) {
    return nlohmann::json({{"weight_map", std::move(map)}}).dump();
  };
  nlohmann::json good = {{"a.0", s1}, {"a.1", s1}, {"b.0", s2},
                         {"b.1", s2}, {"c.0", s3}, {"c.1", s3}};
  const std::string where =
      "safetensors index '" + (dir / "model.safetensors.index.json").string() + "': ";
  require_index_rejected(dir, "{\"weight_map\":", ErrorKind::bad_file,
                         where + "index is not valid JSON");
  require_index_rejected(dir, "[]", ErrorKind::bad_file, where + "the index is not a JSON object");
  require_index_rejected(dir, "{}", ErrorKind::bad_file, where + "the index has no weight_map");
  require_index_rejected(dir, "{\"weight_map\":[]}", ErrorKind::bad_file,
                         "weight_map is not a JSON object");
  require_index_rejected(dir, "{\"weight_map\":{}}", ErrorKind::bad_file,
                         "weight_map lists no tensor");
  require_index_rejected(dir, "{\"weight_map\":{\"a.0\":\"" + s1 + "\",\"a.0\":\"" + s1 + "\"}}",
                         ErrorKind::bad_file, "key 'a.0' is given twice in 'weight_map'");
  nlohmann::json m = good;
  m["a.0"] = 1;
  require_index_rejected(dir, index(m), ErrorKind::bad_file, "weight_map value is not a file name",
                         "a.0");
  for (const std::string& shard : {"../" + s1, "sub/" + s1, std::string("..\\x"), std::string(".."),
                                   std::string(""), std::string("/etc/passwd")}) {
    m = good;
    m["a.0"] = shard;
    require_index_rejected(dir, index(m), ErrorKind::bad_file,
                           "which is not a plain file name in the index's folder", "a.0");
  }
  m = good;
  m["a.0"] = "missing.safetensors";
  require_index_rejected(dir, index(m), ErrorKind::io_failure,
                         "missing.safetensors': no such file");
  m = good;
  m["z.0"] = s1;
  require_index_rejected(dir, index(m), ErrorKind::bad_file,
                         "weight_map lists it in '" + s1 + "', which does not hold it", "z.0");
  m = good;
  m["a.1"] = s2;
  require_index_rejected(dir, index(m), ErrorKind::bad_file,
                         "weight_map lists it in '" + s2 + "', which does not hold it", "a.1");
  m = good;
  m.erase("c.1");
  require_index_rejected(dir, index(m), ErrorKind::bad_file,
                         "shard '" + s3 + "' holds it but weight_map does not list it", "c.1");
  // The same tensor in two shards.
  qins::llama2::write_safetensors(
      (dir / "dup.safetensors").string(),
      {{"a.0", SafetensorsDtype::f32, {4}, v.data()}, {"x", SafetensorsDtype::f32, {4}, v.data()}});
  m = good;
  m["x"] = "dup.safetensors";
  require_index_rejected(dir, index(m), ErrorKind::bad_file, "it is in two shards", "a.0");
  write_text(dir / "model.safetensors.index.json",
             "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 12\n");
  CHECK_THAT(error_of([&] { SafetensorsCheckpoint::open(dir.string()); }).what(),
             Catch::Contains("is a Git LFS pointer"));

  // A shard that is itself bad names the shard.
  write_text(dir / "model.safetensors.index.json", index(good));
  write_file(dir / s2, Bytes(4, 0));
  const Error shard = error_of([&] { SafetensorsCheckpoint::open(dir.string()); });
  CHECK(shard.kind() == ErrorKind::bad_file);
  CHECK_THAT(shard.what(), Catch::Contains(s2 + "': file is shorter than the 8-byte"));

  const fs::path empty = scratch("empty_dir");
  Error e = error_of([&] { SafetensorsCheckpoint::open(empty.string()); });
  CHECK(e.kind() == ErrorKind::io_failure);
  CHECK_THAT(e.what(), Catch::Contains("the directory holds neither model.safetensors nor "
                                       "model.safetensors.index.json"));
  e = error_of([&] { SafetensorsCheckpoint::open((empty / "nothing").string()); });
  CHECK(e.kind() == ErrorKind::io_failure);
  CHECK_THAT(e.what(), Catch::Contains("no such file or directory"));
}
