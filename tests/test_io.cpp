// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The .qins file: bit-exact round trips, memory-mapped loads, the frozen format, and
// rejection of damaged or hostile files.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <qins/io.hpp>
#include <qins/linear.hpp>
#include <vector>

#include "support.hpp"

using qins::AlphaGranularity;
using qins::CodeType;
using Bytes = std::vector<std::byte>;

namespace {

// A small model: every code type and granularity, with and without bias, odd shapes.
std::vector<qins::QinsLinear> sample_tensors() {
  std::vector<qins::QinsLinear> out;
  struct Spec {
    const char* name;
    std::size_t rows, cols;
    CodeType code;
    bool quantize;
    AlphaGranularity g;
    std::size_t group;
    bool bias;
  };
  const Spec specs[] = {
      {"layers.0.wq", 8, 16, CodeType::uint8, true, AlphaGranularity::per_row, 0, false},
      {"layers.0.wk", 5, 12, CodeType::uint16, true, AlphaGranularity::per_group, 4, true},
      {"layers.0.wv", 3, 7, CodeType::uint8, true, AlphaGranularity::fixed, 0, true},
      {"layers.0.wo", 4, 9, CodeType::uint8, false, AlphaGranularity::per_tensor, 0, false},
      {"empty", 0, 5, CodeType::uint8, true, AlphaGranularity::per_row, 0, false}};
  std::uint32_t seed = 1;
  for (const Spec& s : specs) {
    const auto w = qins_test::random_weights<float>(
        s.rows * s.cols, qins_test::Distribution::student_t3, 0.05, seed++);
    std::vector<float> bias(s.rows);
    for (std::size_t r = 0; r < s.rows; ++r) bias[r] = 0.125f * float(r) - 0.25f;
    qins::LinearOptions o;
    o.name = s.name;
    o.code_type = s.code;
    o.quantize = s.quantize;
    o.granularity = s.g;
    o.group_size = s.group;
    out.emplace_back(w.data(), s.rows, s.cols, o, s.bias ? bias.data() : nullptr);
  }
  return out;
}

template <class A, class B>
void require_same(const A& a, const B& b) {
  REQUIRE(a.name() == b.name());
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  REQUIRE(a.code_type() == b.code_type());
  REQUIRE(a.layout().granularity == b.layout().granularity);
  REQUIRE(a.scales() == b.scales());
  REQUIRE(a.bias() == b.bias());
  REQUIRE(a.memory_bytes() == b.memory_bytes());
  if (a.memory().code_bytes)
    REQUIRE(std::memcmp(a.code_bytes(), b.code_bytes(), a.memory().code_bytes) == 0);
}

std::string temp_path(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/qins_test_" + std::to_string(::getpid()) + "_" + name;
}

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

template <class U>
void put(Bytes& b, std::size_t at, U v) {
  qins::detail::store_le<U>(b.data() + at, v);
}
template <class U>
U get(const Bytes& b, std::size_t at) {
  return qins::detail::load_le<U>(b.data() + at);
}

// After patching a header or table field, recompute the header checksum so the test
// reaches the structural check behind it.
void reseal(Bytes& b) {
  put<std::uint64_t>(b, 56, qins::detail::header_checksum(b.data(), get<std::uint64_t>(b, 24)));
}

void require_rejected(const Bytes& b, const std::string& message_part) {
  try {
    qins::parse(b.data(), b.size());
    FAIL("accepted a bad file, expected: " << message_part);
  } catch (const qins::Error& e) {
    INFO(e.what());
    CHECK(e.kind() == qins::ErrorKind::bad_file);
    CHECK_THAT(e.what(), Catch::Contains(message_part));
  }
}

constexpr std::size_t kEntry0 = 64;  // first table entry

}  // namespace

TEST_CASE("serialize then parse is bit-exact, and so is save then load", "[io]") {
  const auto tensors = sample_tensors();
  const Bytes bytes = qins::serialize(tensors);
  const auto parsed = qins::parse(bytes.data(), bytes.size());
  REQUIRE(parsed.size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) require_same(tensors[i], parsed[i]);
  CHECK(qins::serialize(parsed) == bytes);

  const std::string path = temp_path("roundtrip.qins");
  qins::save(path, tensors);
  CHECK(read_file(path) == bytes);
  const auto loaded = qins::load(path);
  qins::LoadOptions mapped;
  mapped.mode = qins::LoadMode::memory_map;
  const auto in_place = qins::load<qins::QinsLinear>(path, mapped);
  std::remove(path.c_str());  // the mapping stays valid after unlinking
  REQUIRE(in_place.size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    require_same(tensors[i], loaded[i]);
    require_same(tensors[i], in_place[i]);
    CHECK(!loaded[i].is_mapped());
    if (tensors[i].rows() != 0) {
      CHECK(in_place[i].is_mapped());
      CHECK(reinterpret_cast<std::uintptr_t>(in_place[i].code_bytes()) % 64 == 0);
      // Products (or, for z values, decoded rows) from the mapped codes equal the original's.
      std::vector<float> x(tensors[i].cols(), 0.5f), y1(tensors[i].rows()), y2(tensors[i].rows());
      if (qins::is_code_format(tensors[i].code_type())) {
        tensors[i].forward(x.data(), y1.data());
        in_place[i].forward(x.data(), y2.data());
      } else {
        y1.resize(tensors[i].cols()), y2.resize(tensors[i].cols());
        tensors[i].decode_row(0, y1.data());
        in_place[i].decode_row(0, y2.data());
      }
      CHECK(y1 == y2);
    }
  }
}

TEST_CASE("the version 1.0 format is frozen by a golden file", "[io]") {
  // tests/data/golden_v1.qins was written by the first version-1.0 writer from
  // sample_tensors(). Readers must keep loading it, and writing what it holds must give
  // the same bytes (the alphas in it need not be what today's calibration would pick).
  const std::string golden = std::string(QINS_TEST_DATA_DIR) + "/golden_v1.qins";
  if (std::getenv("QINS_WRITE_GOLDEN")) {
    const Bytes bytes = qins::serialize(sample_tensors());
    std::ofstream(golden, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
  const Bytes stored = read_file(golden);
  REQUIRE(stored.size() == 1664);
  const auto tensors = qins::load(golden);
  CHECK(qins::serialize(tensors) == stored);
  REQUIRE(tensors.size() == 5);
  const auto fresh = sample_tensors();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    INFO(fresh[i].name());
    CHECK(tensors[i].name() == fresh[i].name());
    CHECK(tensors[i].rows() == fresh[i].rows());
    CHECK(tensors[i].cols() == fresh[i].cols());
    CHECK(tensors[i].code_type() == fresh[i].code_type());
    CHECK(tensors[i].layout().granularity == fresh[i].layout().granularity);
    CHECK(tensors[i].bias() == fresh[i].bias());
  }
  CHECK(tensors[1].layout().group_size == 4);
  CHECK(tensors[2].scales() == std::vector<float>{1.0f});  // fixed alpha 1
}

TEST_CASE("truncated, extended and foreign files are rejected", "[io][errors]") {
  const Bytes good = qins::serialize(sample_tensors());
  for (std::size_t n = 0; n < good.size(); ++n) {
    Bytes cut(good.begin(), good.begin() + std::ptrdiff_t(n));
    INFO("truncated to " << n << " bytes");
    CHECK_THROWS_AS(qins::parse(cut.data(), cut.size()), qins::Error);
  }
  Bytes longer = good;
  longer.push_back(std::byte{0});
  require_rejected(longer, "truncated or extended");
  Bytes magic = good;
  magic[0] = std::byte{'G'};
  require_rejected(magic, "bad magic");
  Bytes future = good;
  put<std::uint16_t>(future, 4, 2);
  require_rejected(future, "unsupported major version 2");
  Bytes newer_minor = good;  // a newer minor version still loads
  put<std::uint16_t>(newer_minor, 6, 7);
  reseal(newer_minor);
  CHECK(qins::parse(newer_minor.data(), newer_minor.size()).size() == 5);
  CHECK_THROWS_AS(qins::load(temp_path("does_not_exist.qins")), qins::Error);
}

TEST_CASE("corrupt checksums are caught", "[io][errors]") {
  const Bytes good = qins::serialize(sample_tensors());
  Bytes header = good;
  header[kEntry0 + 16] ^= std::byte{0x01};  // rows of the first tensor, checksum not resealed
  require_rejected(header, "header checksum mismatch");
  Bytes payload = good;
  const auto codes_offset = get<std::uint64_t>(good, kEntry0 + 40);
  payload[codes_offset + 3] ^= std::byte{0x10};
  require_rejected(payload, "payload checksum mismatch");
  qins::LoadOptions unchecked;
  unchecked.verify_checksums = false;
  CHECK_NOTHROW(qins::parse(payload.data(), payload.size(), unchecked));
}

TEST_CASE("inconsistent tables are rejected before anything is allocated", "[io][errors]") {
  const Bytes good = qins::serialize(sample_tensors());
  auto patched = [&](std::size_t at, auto value) {
    Bytes b = good;
    put(b, at, value);
    reseal(b);
    return b;
  };
  const std::size_t second = kEntry0 + 128;
  require_rejected(patched(kEntry0 + 12, std::uint8_t{9}), "unknown code type 9");
  require_rejected(patched(kEntry0 + 13, std::uint8_t{4}), "unknown alpha granularity 4");
  require_rejected(patched(second + 32, std::uint64_t{5}), "does not divide");
  require_rejected(patched(second + 32, std::uint64_t{0}), "does not divide");
  // Sizes whose products overflow 64 bits.
  require_rejected(patched(kEntry0 + 16, std::uint64_t{1} << 62), "overflows");
  require_rejected(patched(kEntry0 + 24, std::numeric_limits<std::uint64_t>::max()), "overflows");
  // Huge but consistent-looking sizes cannot pass the file-size bounds.
  {
    Bytes b = good;
    put<std::uint64_t>(b, kEntry0 + 16, std::uint64_t{1} << 20);   // rows
    put<std::uint64_t>(b, kEntry0 + 48, std::uint64_t{16} << 20);  // code bytes
    put<std::uint64_t>(b, kEntry0 + 64, std::uint64_t{1} << 20);   // scales
    reseal(b);
    require_rejected(b, "outside the payload area");
  }
  // Offsets outside the file, inside the header, misaligned, or overlapping.
  require_rejected(patched(kEntry0 + 40, std::uint64_t(good.size())), "outside the payload area");
  require_rejected(patched(kEntry0 + 40, std::uint64_t{0}), "outside the payload area");
  require_rejected(patched(kEntry0 + 40, get<std::uint64_t>(good, kEntry0 + 40) + 1),
                   "not 64-byte aligned");
  require_rejected(patched(second + 40, get<std::uint64_t>(good, kEntry0 + 40)), "overlaps");
  require_rejected(patched(kEntry0 + 40, std::numeric_limits<std::uint64_t>::max() - 63),
                   "overflows");
  // Counts that disagree with the shape.
  require_rejected(patched(kEntry0 + 48, std::uint64_t{7}), "code bytes 7");
  require_rejected(patched(kEntry0 + 64, std::uint64_t{3}), "scale count 3");
  require_rejected(patched(kEntry0 + 80, std::uint64_t{8}), "bias count");
  require_rejected(patched(kEntry0 + 14, std::uint8_t{2}), "has-bias flag");
  // Names.
  require_rejected(patched(kEntry0 + 8, std::uint32_t{0}), "name length 0");
  require_rejected(patched(kEntry0 + 8, std::uint32_t{100000}), "name length");
  require_rejected(patched(kEntry0, std::uint64_t{0}), "outside the name area");
  require_rejected(patched(second, get<std::uint64_t>(good, kEntry0)), "duplicate tensor name");
  // The header's own fields.
  require_rejected(patched(8, std::uint32_t{0xFFFFFFFF}), "does not fit");
  require_rejected(patched(12, std::uint32_t{16}), "entry size");
  require_rejected(patched(16, std::uint64_t{128}), "table offset");
  require_rejected(patched(24, std::uint64_t{65}), "header end");
  // A stored scale that is not finite and > 0 (with the payload checksum updated).
  {
    Bytes b = good;
    const auto scales = get<std::uint64_t>(good, kEntry0 + 56);
    put<std::uint32_t>(b, scales, 0xFF800000u);  // -infinity
    qins::LoadOptions unchecked;
    unchecked.verify_checksums = false;
    CHECK_THROWS_WITH(qins::parse(b.data(), b.size(), unchecked), Catch::Contains("scale"));
  }
}

TEST_CASE("a stored scale that would decode codes to infinity is rejected", "[io][errors]") {
  // 1/alpha times the largest decoded magnitude (M - 1) must stay finite, as the
  // constructor requires of alpha; a file may still carry a larger one, checksums and all.
  const Bytes good = qins::serialize(sample_tensors());
  qins::LoadOptions unchecked;
  unchecked.verify_checksums = false;
  auto with_scale = [&](std::size_t entry, float scale) {
    Bytes b = good;
    std::uint32_t bits;
    std::memcpy(&bits, &scale, sizeof bits);
    put<std::uint32_t>(b, get<std::uint64_t>(good, entry + 56), bits);
    return b;
  };
  const std::size_t second = kEntry0 + 128;  // uint16 codes, per group
  Bytes b = with_scale(kEntry0, 2e37f);      // 254 * 2e37 overflows
  CHECK_THROWS_WITH(qins::parse(b.data(), b.size(), unchecked),
                    Catch::Contains("keep decoded weights finite"));
  b = with_scale(kEntry0, 1e36f);  // 254 * 1e36 is finite
  CHECK_NOTHROW(qins::parse(b.data(), b.size(), unchecked));
  b = with_scale(second, 1e34f);  // 65534 * 1e34 overflows
  CHECK_THROWS_WITH(qins::parse(b.data(), b.size(), unchecked),
                    Catch::Contains("keep decoded weights finite"));
  b = with_scale(second, 1e33f);
  CHECK_NOTHROW(qins::parse(b.data(), b.size(), unchecked));
}

TEST_CASE("the offsets of empty arrays are never used", "[io][errors]") {
  // Tensor #4 is 0 x 5 with no bias: its code, scale and bias arrays are empty, so their
  // offsets are not checked; the reader must not compute pointers from them either
  // (p + 2^63 is undefined behaviour, which UBSan reports in the sanitizer build).
  const std::size_t empty = kEntry0 + 4 * 128;
  Bytes b = qins::serialize(sample_tensors());
  REQUIRE(get<std::uint64_t>(b, empty + 16) == 0);
  for (std::size_t field : {40, 56, 72})
    put<std::uint64_t>(b, empty + field, std::uint64_t{1} << 63);
  reseal(b);
  CHECK(qins::parse(b.data(), b.size()).size() == 5);
  const std::string path = temp_path("empty_offsets.qins");
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  qins::LoadOptions mapped;
  mapped.mode = qins::LoadMode::memory_map;
  const auto in_place = qins::load(path, mapped);
  std::remove(path.c_str());
  REQUIRE(in_place.size() == 5);
  CHECK(in_place[4].memory_bytes() == 0);
}

TEST_CASE("serialize rejects names it could not store", "[io][errors]") {
  auto tensors = sample_tensors();
  tensors.push_back(tensors[0]);  // duplicate name
  CHECK_THROWS_WITH(qins::serialize(tensors), Catch::Contains("duplicate tensor name"));
  CHECK_THROWS_WITH(
      qins::serialize(std::vector<qins::QinsLinear>{qins::QinsLinear()}),
      Catch::Contains("tensor #0 (0 x 0) has no name: set LinearOptions::name or call set_name()"));
  CHECK(qins::serialize(std::vector<qins::QinsTensor>{}).size() == 64);
}

namespace {

// Version 1.1 content: a plain float32 tensor and metadata.
std::vector<qins::QinsTensor> sample_v1_1() {
  std::vector<qins::QinsTensor> out;
  for (const auto& l : sample_tensors()) out.push_back(l.tensor());
  const std::vector<float> emb = {0.5f, -0.25f, 1e-3f, 3.0f, -7.5f, 0.0f};
  out.push_back(qins::QinsTensor::plain("token_embedding", emb.data(), 2, 3));
  return out;
}

const qins::Metadata kSampleMetadata = {
    {"format", "qins-llama2"}, {"dim", "64"}, {"note", "a=b\nc"}};

}  // namespace

TEST_CASE("version 1.1: metadata and plain float32 tensors round trip, frozen by a golden file",
          "[io]") {
  const std::string golden = std::string(QINS_TEST_DATA_DIR) + "/golden_v1_1.qins";
  if (std::getenv("QINS_WRITE_GOLDEN")) {
    const Bytes bytes = qins::serialize(sample_v1_1(), kSampleMetadata);
    std::ofstream(golden, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
  const Bytes stored = read_file(golden);
  REQUIRE(stored.size() > 64);
  // The header says 1.1 and where the metadata lies; its first entry, read by hand:
  // u32 key length, key, u32 value length, value (keys in sorted order: "dim" first).
  CHECK(get<std::uint16_t>(stored, 6) == 1);
  const auto meta_at = get<std::uint64_t>(stored, 40), meta_size = get<std::uint64_t>(stored, 48);
  REQUIRE(meta_size > 0);
  CHECK(get<std::uint32_t>(stored, meta_at) == 3);
  CHECK(std::memcmp(stored.data() + meta_at + 4, "dim", 3) == 0);
  CHECK(get<std::uint32_t>(stored, meta_at + 7) == 2);
  CHECK(std::memcmp(stored.data() + meta_at + 11, "64", 2) == 0);
  const qins::QinsFile file = qins::load_file(golden);
  CHECK(file.metadata == kSampleMetadata);
  REQUIRE(file.tensors.size() == 6);
  const qins::QinsTensor& emb = file.tensors.back();
  CHECK(emb.code_type() == qins::CodeType::plain);
  CHECK(emb.scales().empty());
  CHECK(emb.memory_bytes() == 6 * 4);
  std::vector<float> row(3);
  emb.decode_row(1, row.data());
  CHECK(row == std::vector<float>{3.0f, -7.5f, 0.0f});  // exactly the stored floats
  CHECK(qins::serialize(file.tensors, file.metadata) == stored);
  // Without metadata or plain tensors the writer still writes 1.0, for 1.0 readers.
  CHECK(get<std::uint16_t>(qins::serialize(sample_tensors()), 6) == 0);
}

TEST_CASE("version 1.2: 12-bit codes, packed as code_format.hpp draws, frozen by a golden file",
          "[io]") {
  // Codes written out by hand: 0x123 0x456 | 0x789 (pad) and 0xabc 0xdef | 0x001 (pad):
  // each pair is the 24-bit little-endian word c0 | c1 << 12.
  const std::vector<std::uint8_t> packed = {0x23, 0x61, 0x45, 0x89, 0x07, 0x00,
                                            0xbc, 0xfa, 0xde, 0x01, 0x00, 0x00};
  auto bytes = qins::detail::SharedBytes::allocate(packed.size());
  std::memcpy(bytes.mutable_data(), packed.data(), packed.size());
  const auto layer =
      qins::QinsLinear::from_parts("u12", 2, 3, CodeType::uint12, {AlphaGranularity::per_row, 0},
                                   std::move(bytes), {0.5f, 0.25f}, {});
  CHECK(layer.memory().code_bytes == 12);
  const std::uint32_t codes[2][3] = {{0x123, 0x456, 0x789}, {0xabc, 0xdef, 0x001}};
  std::vector<float> row(3);
  for (std::size_t r = 0; r < 2; ++r) {
    layer.decode_row(r, row.data());
    for (std::size_t c = 0; c < 3; ++c) {
      // The seed's decode written out: z = 2 code / M - 1, w = (1 - |z|) / (alpha |z|) sign z.
      const double z = 2.0 * codes[r][c] / 4095.0 - 1.0, scale = r == 0 ? 0.5 : 0.25;
      const double w = (1.0 - std::fabs(z)) / std::fabs(z) * scale * (z < 0 ? -1.0 : 1.0);
      CHECK(row[c] == Approx(w).epsilon(1e-6));
    }
  }
  const std::string golden = std::string(QINS_TEST_DATA_DIR) + "/golden_v1_2.qins";
  const Bytes bytes_out = qins::serialize(std::vector<qins::QinsLinear>{layer});
  if (std::getenv("QINS_WRITE_GOLDEN"))
    std::ofstream(golden, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes_out.data()), std::streamsize(bytes_out.size()));
  const Bytes stored = read_file(golden);
  CHECK(bytes_out == stored);
  namespace rec = qins::detail::qins_records;
  CHECK(rec::get(stored.data(), rec::minor_version) == 2);  // uint12 needs 1.2
  const std::byte* entry = stored.data() + rec::get(stored.data(), rec::table_offset);
  CHECK(rec::get(entry, rec::code_type) == 5);
  CHECK(rec::get(entry, rec::code_bytes) == packed.size());
  const auto codes_at = rec::get(entry, rec::codes_offset);
  REQUIRE(codes_at + packed.size() <= stored.size());
  CHECK(std::memcmp(stored.data() + codes_at, packed.data(), packed.size()) == 0);
  const auto back = qins::load(golden);
  REQUIRE(back.size() == 1);
  CHECK(back[0].code_type() == CodeType::uint12);
  CHECK(std::memcmp(back[0].code_bytes(), packed.data(), packed.size()) == 0);
  // A 4096 x 4096 layer holds 25,165,824 bytes of codes.
  CHECK(qins::Uint12Codes::row_bytes(4096) * 4096 == 25165824u);
  CHECK(qins::stored_type_info(CodeType::uint12).row_bytes(4096) == 6144u);
}

TEST_CASE("FileWriter writes tensor by tensor what serialize writes at once", "[io]") {
  const auto tensors = sample_v1_1();
  std::vector<qins::TensorPlan> plans;
  for (const auto& t : tensors) plans.push_back(qins::TensorPlan::of(t));
  const std::string path = temp_path("writer.qins");
  {
    qins::FileWriter writer(path, plans, kSampleMetadata);
    for (const auto& t : tensors) writer.write(t);
    CHECK(writer.remaining() == 0);
    writer.finish();
  }
  CHECK(read_file(path) == qins::serialize(tensors, kSampleMetadata));
  std::remove(path.c_str());
  // A writer given up before finish() leaves nothing behind, and never touches `path`.
  {
    qins::FileWriter writer(path, plans);
    writer.write(tensors[0]);
    CHECK_THROWS_WITH(writer.finish(), Catch::Contains("announced tensors were not written"));
    CHECK_THROWS_WITH(writer.write(tensors[2]), Catch::Contains("does not match the file's plan"));
  }
  CHECK(!std::ifstream(path).good());
  CHECK(!std::ifstream(path + ".tmp").good());
}

TEST_CASE("bad metadata and bad plain tensors are rejected", "[io][errors]") {
  const Bytes good = qins::serialize(sample_v1_1(), kSampleMetadata);
  const auto meta_at = get<std::uint64_t>(good, 40), meta_size = get<std::uint64_t>(good, 48);
  auto patched = [&](std::size_t at, std::uint64_t v, int width) {
    Bytes b = good;
    if (width == 8)
      put<std::uint64_t>(b, at, v);
    else
      put<std::uint32_t>(b, at, static_cast<std::uint32_t>(v));
    reseal(b);
    return b;
  };
  require_rejected(patched(40, 8, 8), "metadata");                       // inside the header
  require_rejected(patched(48, std::uint64_t(1) << 40, 8), "metadata");  // past the name area
  require_rejected(patched(48, meta_size - 1, 8), "metadata ends inside");
  require_rejected(patched(meta_at, 5000, 4), "too long");
  require_rejected(patched(meta_at, 0, 4), "empty metadata key");
  // A plain tensor with scales or a layout is not plain.
  qins::detail::SharedBytes codes = qins::detail::SharedBytes::allocate(8);
  CHECK_THROWS_AS(qins::QinsTensor::from_parts("p", 1, 2, qins::CodeType::plain,
                                               {AlphaGranularity::per_row, 0}, codes, {1.0f}, {}),
                  qins::Error);
  const float nan[2] = {0.0f, std::numeric_limits<float>::quiet_NaN()};
  CHECK_THROWS_AS(qins::QinsTensor::plain("p", nan, 1, 2), qins::Error);
  CHECK_THROWS_AS(qins::serialize(std::vector<qins::QinsTensor>{}, qins::Metadata{{"", "x"}}),
                  qins::Error);
}

TEST_CASE("load says what is wrong with a path that is not a file", "[io][errors]") {
  CHECK_THROWS_WITH(qins::load(QINS_TEST_DATA_DIR), Catch::Contains("is a directory, not a file"));
  qins::LoadOptions mapped;
  mapped.mode = qins::LoadMode::memory_map;
  CHECK_THROWS_WITH(qins::load(QINS_TEST_DATA_DIR, mapped), Catch::Contains("is a directory"));
  CHECK_THROWS_WITH(qins::load(temp_path("absent.qins")), Catch::Contains("no such file"));
}
