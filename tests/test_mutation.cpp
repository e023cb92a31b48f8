// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Mutation tests of the readers: truncations, bit flips and extreme field values on valid files.
//
// Each mutated file must be rejected with qins::Error (or, for a .qins payload flip, by the
// checksum) or, where the mutation can give another valid file (a tokenizer), parse to a
// consistent one; never crash, and never make a single allocation larger than
// 4 x file size + 64 KiB. This executable replaces the global operator new to measure that.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <qins/io.hpp>
#include <qins/linear.hpp>
#include <qins/llama2/checkpoint.hpp>
#include <qins/llama2/safetensors.hpp>
#include <qins/llama2/tokenizer.hpp>
#include <string>
#include <vector>

#include "properties.hpp"
#include "seed_files.hpp"

namespace rec = qins::detail::qins_records;  // the .qins reader's field tables

#ifndef QINS_FUZZ_CORPUS_DIR
#error "define QINS_FUZZ_CORPUS_DIR as the fuzz/corpus directory"
#endif

// ---- Allocation tracking: the largest single request while a reader runs ----

namespace {

std::atomic<bool> g_tracking{false};
std::atomic<std::size_t> g_largest{0};

void note_allocation(std::size_t n) noexcept {
  if (!g_tracking.load(std::memory_order_relaxed)) return;
  std::size_t seen = g_largest.load(std::memory_order_relaxed);
  while (n > seen && !g_largest.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
}

void* allocate(std::size_t n) {
  note_allocation(n);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}

void* allocate_aligned(std::size_t n, std::align_val_t alignment) {
  note_allocation(n);
  const std::size_t a = std::max(static_cast<std::size_t>(alignment), sizeof(void*));
  const std::size_t rounded = n == 0 ? a : (n + a - 1) / a * a;  // aligned_alloc wants a multiple
  if (rounded < n) throw std::bad_alloc();
  if (void* p = std::aligned_alloc(a, rounded)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate_aligned(n, a); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return allocate_aligned(n, a);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return allocate_aligned(n, a);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

using Bytes = std::vector<std::byte>;

std::size_t allocation_cap(std::size_t file_size) { return 4 * file_size + 64 * 1024; }

template <class Byte>
std::vector<Byte> read_corpus_file(const std::string& name) {
  const std::string path = std::string(QINS_FUZZ_CORPUS_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> chars((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  INFO("corpus file " << path);
  REQUIRE(!chars.empty());
  std::vector<Byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

const char* const kQinsSeeds[] = {"fuzz_qins_file/seed_three_tensors.qins",
                                  "fuzz_qins_file/seed_fixed_and_empty.qins",
                                  "fuzz_qins_file/seed_v1_1_metadata_and_plain.qins"};
const char* const kLlamaSeeds[] = {"fuzz_llama2_checkpoint/seed_shared_classifier.bin",
                                   "fuzz_llama2_checkpoint/seed_separate_classifier.bin"};

template <class U>
U get(const Bytes& b, std::size_t at) {
  return qins::detail::load_le<U>(b.data() + at);
}
template <class U>
void put(Bytes& b, std::size_t at, U v) {
  qins::detail::store_le<U>(b.data() + at, v);
}
// After patching a field, recompute the header checksum, so that the structural checks
// behind it decide (when the header end itself is unusable the reader stops before it).
void reseal(Bytes& b) {
  const auto header_end = rec::get(b.data(), rec::header_end);
  if (header_end < 64 || header_end > b.size()) return;
  rec::put(b.data(), rec::header_checksum, qins::detail::header_checksum(b.data(), header_end));
}

// ---- The .qins reader ----

enum class Outcome { accepted, rejected };

/// What a reader did with one file: the parsed object, or the qins::Error it threw.
template <class T>
struct Parsed {
  std::optional<T> value;
  qins::ErrorKind kind = qins::ErrorKind::bad_file;
  std::string message;  ///< what() of the rejection
};

/// Runs `parse` (a reader over a file of `file_size` bytes) under the allocation tracker:
/// it must return or throw qins::Error, never anything else, and no single allocation may
/// exceed allocation_cap(file_size).
template <class Parse>
auto parse_tracked(std::size_t file_size, Parse&& parse) {
  Parsed<decltype(parse())> r;
  g_largest = 0;
  g_tracking = true;
  try {
    r.value.emplace(parse());
  } catch (const qins::Error& e) {
    r.kind = e.kind();
    r.message = e.what();
  } catch (const std::exception& e) {
    g_tracking = false;
    FAIL("an exception other than qins::Error: " << e.what());
  }
  g_tracking = false;
  INFO("largest single allocation " << g_largest.load() << " bytes for a " << file_size
                                    << "-byte file");
  REQUIRE(g_largest.load() <= allocation_cap(file_size));
  return r;
}

struct QinsResult {
  Outcome outcome = Outcome::rejected;
  std::string message;  ///< what() of the rejection
  std::vector<qins::QinsLinear> tensors;
  qins::Metadata metadata;
};

// Parses `b` and checks what must hold whatever the outcome: no exception but qins::Error,
// no allocation above the cap, and for an accepted file the round trip and decoding.
QinsResult parse_qins(const Bytes& b, bool verify_checksums) {
  qins::LoadOptions options;
  options.verify_checksums = verify_checksums;
  QinsResult r;
  auto parsed =
      parse_tracked(b.size(), [&] { return qins::parse_file(b.data(), b.size(), options); });
  r.message = parsed.message;
  if (parsed.value) {
    r.outcome = Outcome::accepted;
    for (qins::QinsTensor& t : parsed.value->tensors) r.tensors.emplace_back(std::move(t));
    r.metadata = parsed.value->metadata;
    REQUIRE(qins_fuzz::qins_round_trip_problem(r.tensors, r.metadata) == "");
    REQUIRE(qins_fuzz::tensor_use_problem(r.tensors) == "");
  }
  return r;
}

bool same_tensors(const std::vector<qins::QinsLinear>& a, const std::vector<qins::QinsLinear>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!qins_fuzz::same_tensor(a[i], b[i])) return false;
  return true;
}

std::uint64_t entry_field(const Bytes& b, std::size_t entry, const rec::Field& f) {
  return rec::get(b.data() + rec::kHeaderSize + rec::kEntrySize * entry, f);
}

// Byte ranges of the .qins payload arrays (codes, scales, bias), from a valid file's table.
std::vector<std::pair<std::uint64_t, std::uint64_t>> payload_arrays(const Bytes& b) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  const auto count = rec::get(b.data(), rec::tensor_count);
  for (std::uint64_t i = 0; i < count; ++i) {
    out.emplace_back(entry_field(b, i, rec::codes_offset), entry_field(b, i, rec::code_bytes));
    out.emplace_back(entry_field(b, i, rec::scales_offset),
                     4 * entry_field(b, i, rec::scale_count));
    out.emplace_back(entry_field(b, i, rec::bias_offset), 4 * entry_field(b, i, rec::bias_count));
  }
  return out;
}

bool in_array(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& arrays, std::size_t at) {
  for (const auto& [offset, size] : arrays)
    if (at >= offset && at < offset + size) return true;
  return false;
}

// About 200 byte positions spread evenly over [begin, end). The step is odd, so the sample
// hits every byte position of the 4-byte floats (sign and exponent bytes included).
std::vector<std::size_t> sample(std::size_t begin, std::size_t end, std::size_t want = 200) {
  std::vector<std::size_t> out;
  const std::size_t n = end - begin;
  const std::size_t step = std::max<std::size_t>(1, n / want) | 1;
  for (std::size_t at = begin; at < end; at += step) out.push_back(at);
  return out;
}

// One integer field of the header or of a table entry.
struct Field {
  std::size_t offset;
  unsigned width;  ///< bytes: 1, 2, 4 or 8
  std::string name;
  bool checked;  ///< the reader must reject every large value written here
};

bool reserved(const rec::Field& f) { return std::string(f.name) == "reserved"; }

// Every field of the header and of each table entry (the reader's own tables), and
// whether the reader must reject every large value written there: not the reserved
// fields or the minor version, and not the fields the file's values make unused (the
// columns of a 0-row tensor, the group size unless per group, the offset of an empty array).
std::vector<Field> qins_fields(const Bytes& b) {
  std::vector<Field> fields;
  const bool v1_1 = rec::get(b.data(), rec::minor_version) >= 1;  // 1.0 files hold no metadata
  for (const rec::Field& f : rec::header_fields) {
    if (f.offset == rec::header_checksum.offset) continue;  // reseal() rewrites it; tested alone
    bool used = !reserved(f) && f.offset != rec::minor_version.offset;
    if (f.offset == rec::metadata_size.offset) used = v1_1;
    if (f.offset == rec::metadata_offset.offset)
      used = v1_1 && rec::get(b.data(), rec::metadata_size) != 0;
    fields.push_back({f.offset, unsigned(f.width), f.name, used});
  }
  const auto count = rec::get(b.data(), rec::tensor_count);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t e = rec::kHeaderSize + rec::kEntrySize * std::size_t(i);
    const std::string t = "tensor #" + std::to_string(i) + " ";
    auto used = [&](const rec::Field& f) {
      if (reserved(f)) return false;
      if (f.offset == rec::cols.offset) return entry_field(b, i, rec::rows) != 0;
      if (f.offset == rec::group_size.offset) return entry_field(b, i, rec::granularity) == 3;
      if (f.offset == rec::codes_offset.offset) return entry_field(b, i, rec::code_bytes) != 0;
      if (f.offset == rec::scales_offset.offset) return entry_field(b, i, rec::scale_count) != 0;
      if (f.offset == rec::bias_offset.offset) return entry_field(b, i, rec::bias_count) != 0;
      return true;
    };
    for (const rec::Field& f : rec::entry_fields)
      fields.push_back({e + f.offset, unsigned(f.width), t + f.name, used(f)});
  }
  return fields;
}

std::uint64_t read_field(const Bytes& b, const Field& f) {
  return rec::get(b.data() + f.offset, rec::Field{"", 0, f.width});
}

void write_field(Bytes& b, const Field& f, std::uint64_t v) {
  rec::put(b.data() + f.offset, rec::Field{"", 0, f.width}, v);
}

// The large values written into a field of `width` bytes: all ones (-1), INT_MIN, INT_MAX
// at that width and at 32 bits, and huge sizes. Every one is far outside a tiny file.
std::vector<std::uint64_t> large_values(unsigned width, std::size_t file_size) {
  switch (width) {
    case 1:
      return {0xFF, 0x80, 0x7F, 0xFE};
    case 2:
      return {0xFFFF, 0x8000, 0x7FFF};
    case 4:
      return {0xFFFFFFFFu, 0x80000000u, 0x7FFFFFFFu, 0x10000000u};
    default:
      return {~std::uint64_t{0},
              std::uint64_t{1} << 63,
              (std::uint64_t{1} << 63) - 1,
              0xFFFFFFFFu,
              0x80000000u,
              0x7FFFFFFFu,
              std::uint64_t{1} << 40,
              file_size + 64,
              std::uint64_t(file_size) * 2};
  }
}

}  // namespace

TEST_CASE("qins file: the corpus seeds are valid, canonical files", "[mutation][io]") {
  for (const char* name : kQinsSeeds) {
    INFO(name);
    const Bytes seed = read_corpus_file<std::byte>(name);
    const QinsResult r = parse_qins(seed, true);
    REQUIRE(r.outcome == Outcome::accepted);
    CHECK(g_largest.load() >= seed.size() / 8);  // the tracker sees the reader's allocations
    CHECK(r.tensors.size() >= 2);
    CHECK(qins::serialize(r.tensors, r.metadata) == seed);
  }
}

TEST_CASE("qins file: every truncation and extension is rejected", "[mutation][io]") {
  for (const char* name : kQinsSeeds) {
    const Bytes seed = read_corpus_file<std::byte>(name);
    for (const bool verify : {true, false}) {
      for (std::size_t n = 0; n < seed.size(); ++n) {
        INFO(name << " truncated to " << n << " bytes, checksums " << (verify ? "on" : "off"));
        const Bytes cut(seed.begin(), seed.begin() + std::ptrdiff_t(n));
        REQUIRE(parse_qins(cut, verify).outcome == Outcome::rejected);
      }
      for (const std::size_t extra : {1, 7, 64, 4096}) {
        INFO(name << " extended by " << extra << " bytes");
        Bytes longer = seed;
        longer.resize(seed.size() + extra, std::byte{0});
        REQUIRE(parse_qins(longer, verify).outcome == Outcome::rejected);
      }
    }
  }
}

TEST_CASE("qins file: every bit flip in the header and the table is rejected", "[mutation][io]") {
  for (const char* name : kQinsSeeds) {
    const Bytes seed = read_corpus_file<std::byte>(name);
    const auto header_end = rec::get(seed.data(), rec::header_end);
    std::size_t accepted_unverified = 0;
    for (std::size_t at = 0; at < header_end; ++at) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes b = seed;
        b[at] ^= std::byte(1u << bit);
        INFO(name << ": bit " << bit << " of byte " << at << " flipped");
        const QinsResult checked = parse_qins(b, true);
        REQUIRE(checked.outcome == Outcome::rejected);
        // Without the checksum a flip may give another valid file (a name, a reserved
        // byte): then it must still round-trip, which parse_qins checks.
        if (parse_qins(b, false).outcome == Outcome::accepted) ++accepted_unverified;
      }
    }
    WARN(name << ": " << accepted_unverified << " of " << 8 * header_end
              << " header/table bit flips form a valid file when checksums are skipped");
  }
}

TEST_CASE("qins file: payload bit flips are caught by the checksum", "[mutation][io]") {
  for (const char* name : kQinsSeeds) {
    const Bytes seed = read_corpus_file<std::byte>(name);
    const auto original = qins::parse<qins::QinsLinear>(seed.data(), seed.size());
    const auto arrays = payload_arrays(seed);
    const auto header_end = static_cast<std::size_t>(rec::get(seed.data(), rec::header_end));
    for (const std::size_t at : sample(header_end, seed.size())) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes b = seed;
        b[at] ^= std::byte(1u << bit);
        INFO(name << ": bit " << bit << " of payload byte " << at << " flipped");
        const QinsResult checked = parse_qins(b, true);
        if (in_array(arrays, at)) {
          REQUIRE(checked.outcome == Outcome::rejected);
          CHECK_THAT(checked.message, Catch::Contains("payload checksum mismatch"));
        } else {
          // Alignment padding between arrays is covered by no checksum and read by nobody.
          REQUIRE(checked.outcome == Outcome::accepted);
          CHECK(same_tensors(checked.tensors, original));
        }
        parse_qins(b, false);  // may load (a flipped code is a valid code); must not crash
      }
    }
  }
}

TEST_CASE("qins file: header and table fields set to 0, -1, INT_MIN, INT_MAX or huge are rejected",
          "[mutation][io]") {
  for (const char* name : kQinsSeeds) {
    const Bytes seed = read_corpus_file<std::byte>(name);
    std::size_t mutations = 0;
    for (const Field& field : qins_fields(seed)) {
      const std::uint64_t was = read_field(seed, field);
      std::vector<std::uint64_t> values = large_values(field.width, seed.size());
      const std::size_t large = values.size();
      values.push_back(0);
      values.push_back(was + 1);
      for (std::size_t i = 0; i < values.size(); ++i) {
        Bytes b = seed;
        write_field(b, field, values[i]);
        if (b == seed) continue;
        ++mutations;
        INFO(name << ": " << field.name << " (offset " << field.offset << ") set to " << values[i]);
        // As found: the header checksum no longer matches.
        REQUIRE(parse_qins(b, true).outcome == Outcome::rejected);
        // Resealed, so that the structural checks behind the checksum decide.
        reseal(b);
        const QinsResult structural = parse_qins(b, true);
        if (field.checked && i < large) {
          REQUIRE(structural.outcome == Outcome::rejected);
          CHECK_THAT(structural.message, !Catch::Contains("header checksum"));
        }
        parse_qins(b, false);
      }
    }
    // A wrong header checksum alone.
    for (const std::uint64_t v : large_values(8, seed.size())) {
      Bytes b = seed;
      rec::put(b.data(), rec::header_checksum, v);
      INFO(name << ": header checksum set to " << v);
      const QinsResult r = parse_qins(b, true);
      REQUIRE(r.outcome == Outcome::rejected);
      CHECK_THAT(r.message, Catch::Contains("header checksum mismatch"));
    }
    CHECK(mutations > 100);
  }
}

// ---- The llama2.c checkpoint reader ----

namespace {

using CBytes = std::vector<unsigned char>;

struct LlamaResult {
  Outcome outcome = Outcome::rejected;
  qins::ErrorKind kind = qins::ErrorKind::bad_file;
  std::string message;
};

LlamaResult parse_llama(const CBytes& b) {
  LlamaResult r;
  auto parsed = parse_tracked(b.size(), [&] {
    return std::make_shared<const qins::llama2::Checkpoint>(
        qins::llama2::parse_checkpoint(b.data(), b.size(), "mutant"));
  });
  r.kind = parsed.kind;
  r.message = parsed.message;
  if (parsed.value) {
    r.outcome = Outcome::accepted;
    const auto& ck = *parsed.value;
    REQUIRE(qins_fuzz::checkpoint_problem(*ck, b.size()) == "");
    qins_fuzz::run_one_token(ck);
  }
  return r;
}

void put_i32(CBytes& b, std::size_t at, std::int32_t v) { std::memcpy(b.data() + at, &v, 4); }
std::int32_t get_i32(const CBytes& b, std::size_t at) {
  std::int32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}

}  // namespace

TEST_CASE("llama2: the corpus seeds are valid checkpoints", "[mutation][llama2]") {
  for (const char* name : kLlamaSeeds) {
    INFO(name);
    const CBytes seed = read_corpus_file<unsigned char>(name);
    CHECK(parse_llama(seed).outcome == Outcome::accepted);
    CHECK(g_largest.load() >= seed.size() / 2);  // the weights: one allocation
  }
}

TEST_CASE("llama2: every truncation and extension is rejected", "[mutation][llama2]") {
  for (const char* name : kLlamaSeeds) {
    const CBytes seed = read_corpus_file<unsigned char>(name);
    for (std::size_t n = 0; n < seed.size(); ++n) {
      INFO(name << " truncated to " << n << " bytes");
      const LlamaResult r = parse_llama(CBytes(seed.begin(), seed.begin() + std::ptrdiff_t(n)));
      REQUIRE(r.outcome == Outcome::rejected);
      REQUIRE(r.kind == qins::ErrorKind::bad_file);
    }
    for (const std::size_t extra : {1, 3, 4, 4096}) {
      INFO(name << " extended by " << extra << " bytes");
      CBytes longer = seed;
      longer.resize(seed.size() + extra, 0);
      REQUIRE(parse_llama(longer).outcome == Outcome::rejected);
    }
  }
}

TEST_CASE("llama2: every bit flip in the header is rejected", "[mutation][llama2]") {
  for (const char* name : kLlamaSeeds) {
    const CBytes seed = read_corpus_file<unsigned char>(name);
    for (std::size_t at = 0; at < 28; ++at) {
      for (int bit = 0; bit < 8; ++bit) {
        CBytes b = seed;
        b[at] ^= static_cast<unsigned char>(1u << bit);
        INFO(name << ": bit " << bit << " of header byte " << at << " flipped");
        const LlamaResult r = parse_llama(b);
        REQUIRE(r.outcome == Outcome::rejected);
        REQUIRE(r.kind == qins::ErrorKind::bad_file);
      }
    }
  }
}

TEST_CASE("llama2: header fields set to 0, -1, INT_MIN, INT_MAX or huge are rejected",
          "[mutation][llama2]") {
  for (const char* name : kLlamaSeeds) {
    const CBytes seed = read_corpus_file<unsigned char>(name);
    for (std::size_t field = 0; field < 7; ++field) {
      const std::int32_t was = get_i32(seed, 4 * field);
      for (const std::int32_t v : {0, -1, INT_MIN, INT_MAX, INT_MIN + 1, 1 << 20, (1 << 20) + 1,
                                   1 << 30, was + 1, was * 2, -was, 0x616b3432}) {
        if (v == was) continue;
        CBytes b = seed;
        put_i32(b, 4 * field, v);
        INFO(name << ": header field " << field << " set to " << v);
        const LlamaResult r = parse_llama(b);
        REQUIRE(r.outcome == Outcome::rejected);
        REQUIRE(r.kind == qins::ErrorKind::bad_file);
      }
    }
  }
}

TEST_CASE("llama2: payload bit flips load or are rejected as non-finite, never crash",
          "[mutation][llama2]") {
  for (const char* name : kLlamaSeeds) {
    const CBytes seed = read_corpus_file<unsigned char>(name);
    std::size_t rejected = 0, total = 0;
    for (const std::size_t at : sample(28, seed.size())) {
      for (int bit = 0; bit < 8; ++bit) {
        CBytes b = seed;
        b[at] ^= static_cast<unsigned char>(1u << bit);
        INFO(name << ": bit " << bit << " of payload byte " << at << " flipped");
        const LlamaResult r = parse_llama(b);  // no checksum: a flipped weight is a valid file
        ++total;
        if (r.outcome == Outcome::rejected) {
          ++rejected;
          REQUIRE(r.kind == qins::ErrorKind::non_finite_value);
        }
      }
    }
    CHECK(rejected < total);
  }
}

// ---- The llama2.c tokenizer reader ----

namespace {

const char* const kTokenizerSeeds[] = {"fuzz_llama2_tokenizer/seed_byte_pieces_and_merges.bin",
                                       "fuzz_llama2_tokenizer/seed_no_byte_pieces.bin"};

struct TokenizerResult {
  Outcome outcome = Outcome::rejected;
  qins::ErrorKind kind = qins::ErrorKind::bad_file;
  std::string message;
  int tokens = 0;
};

// Parses `b` under the allocation tracker; an accepted file must pass the fuzz harness's
// consistency checks (fields, lookups, encode equal to run.c's loop, ids in range).
TokenizerResult parse_tokenizer_file(const CBytes& b) {
  TokenizerResult r;
  auto parsed = parse_tracked(
      b.size(), [&] { return qins::llama2::parse_tokenizer(b.data(), b.size(), "mutant"); });
  r.kind = parsed.kind;
  r.message = parsed.message;
  if (parsed.value) {
    r.outcome = Outcome::accepted;
    r.tokens = parsed.value->size();
    REQUIRE(qins_fuzz::tokenizer_problem(*parsed.value, b.data(), b.size()) == "");
  } else {
    REQUIRE(r.kind == qins::ErrorKind::bad_file);
    CHECK_THAT(r.message, Catch::StartsWith("qins: tokenizer 'mutant': "));
  }
  return r;
}

// The byte offset of each token's score field, and the offset just past the last token.
std::vector<std::size_t> token_offsets(const CBytes& b) {
  std::vector<std::size_t> out;
  std::size_t at = 4;
  while (at < b.size()) {
    out.push_back(at);
    at += 8 + static_cast<std::size_t>(get_i32(b, at + 4));
  }
  out.push_back(at);
  return out;
}

}  // namespace

TEST_CASE("tokenizer: the corpus seeds are valid, canonical vocabularies",
          "[mutation][tokenizer]") {
  const CBytes expected[] = {qins_fuzz::tokenizer_seed_with_byte_pieces(),
                             qins_fuzz::tokenizer_seed_without_byte_pieces()};
  for (std::size_t i = 0; i < 2; ++i) {
    INFO(kTokenizerSeeds[i]);
    const CBytes seed = read_corpus_file<unsigned char>(kTokenizerSeeds[i]);
    CHECK(seed == expected[i]);  // qins_make_corpus writes them
    const TokenizerResult r = parse_tokenizer_file(seed);
    REQUIRE(r.outcome == Outcome::accepted);
    CHECK(g_largest.load() >= seed.size() / 2);  // the tracker sees the reader's allocations
    CHECK(r.tokens == static_cast<int>(token_offsets(seed).size()) - 1);
    const auto t = qins::llama2::parse_tokenizer(seed.data(), seed.size());
    CHECK(t.has_byte_pieces() == (i == 0));
  }
}

TEST_CASE("tokenizer: every truncation is rejected, except at a token boundary",
          "[mutation][tokenizer]") {
  for (const char* name : kTokenizerSeeds) {
    const CBytes seed = read_corpus_file<unsigned char>(name);
    const std::vector<std::size_t> offsets = token_offsets(seed);
    for (std::size_t n = 0; n < seed.size(); ++n) {
      INFO(name << " truncated to " << n << " bytes");
      const TokenizerResult r =
          parse_tokenizer_file(CBytes(seed.begin(), seed.begin() + std::ptrdiff_t(n)));
      // Cut after k whole tokens: a valid vocabulary of k tokens when k >= 3.
      const auto at = std::find(offsets.begin(), offsets.end(), n);
      const int whole = at == offsets.end() ? -1 : static_cast<int>(at - offsets.begin());
      if (whole >= 3) {
        REQUIRE(r.outcome == Outcome::accepted);
        REQUIRE(r.tokens == whole);
      } else {
        REQUIRE(r.outcome == Outcome::rejected);
      }
    }
    // Trailing bytes are the start of a token: too few for its fields, or a zero length.
    for (const std::size_t extra : {1, 3, 4, 7, 8, 9, 4096}) {
      INFO(name << " extended by " << extra << " zero bytes");
      CBytes longer = seed;
      longer.resize(seed.size() + extra, 0);
      REQUIRE(parse_tokenizer_file(longer).outcome == Outcome::rejected);
    }
  }
}

TEST_CASE("tokenizer: bit flips are rejected or parse to a consistent vocabulary",
          "[mutation][tokenizer]") {
  for (const char* name : kTokenizerSeeds) {
    const CBytes seed = read_corpus_file<unsigned char>(name);
    const std::vector<std::size_t> offsets = token_offsets(seed);
    // Every bit of max_token_length and of the score and length fields of the first and
    // last tokens; a sample of all bytes (pieces included) elsewhere.
    std::vector<std::size_t> positions = {0, 1, 2, 3};
    for (std::size_t k = 0; k + 1 < offsets.size(); ++k) {
      if (k < 4 || k + 4 >= offsets.size())
        for (std::size_t j = 0; j < 8; ++j) positions.push_back(offsets[k] + j);
    }
    for (const std::size_t at : sample(4, seed.size(), 150)) positions.push_back(at);
    std::size_t accepted = 0, total = 0;
    for (const std::size_t at : positions) {
      for (int bit = 0; bit < 8; ++bit) {
        CBytes b = seed;
        b[at] ^= static_cast<unsigned char>(1u << bit);
        INFO(name << ": bit " << bit << " of byte " << at << " flipped");
        ++total;
        if (parse_tokenizer_file(b).outcome == Outcome::accepted) ++accepted;
      }
    }
    // The sign bit of a length, the high bits of max_token_length: always rejected.
    for (const std::size_t at : {std::size_t(3), offsets[0] + 7, offsets[1] + 7}) {
      CBytes b = seed;
      b[at] ^= 0x80;
      INFO(name << ": top bit of byte " << at << " flipped");
      REQUIRE(parse_tokenizer_file(b).outcome == Outcome::rejected);
    }
    WARN(name << ": " << accepted << " of " << total << " bit flips give a valid vocabulary");
    CHECK(accepted < total);
  }
}

TEST_CASE("tokenizer: fields set to 0, -1, INT_MIN, INT_MAX or non-finite are rejected",
          "[mutation][tokenizer]") {
  for (const char* name : kTokenizerSeeds) {
    const CBytes seed = read_corpus_file<unsigned char>(name);
    const std::vector<std::size_t> offsets = token_offsets(seed);
    const std::int32_t max_len = get_i32(seed, 0);
    std::int32_t longest = 0;
    for (std::size_t k = 0; k + 1 < offsets.size(); ++k)
      longest = std::max(longest, get_i32(seed, offsets[k] + 4));
    // max_token_length.
    for (const std::int32_t v :
         {0, -1, INT_MIN, INT_MAX, INT_MIN + 1, (1 << 16) + 1, 1 << 30, -max_len, longest - 1}) {
      CBytes b = seed;
      put_i32(b, 0, v);
      INFO(name << ": max_token_length set to " << v);
      REQUIRE(parse_tokenizer_file(b).outcome == Outcome::rejected);
    }
    for (const std::int32_t v : {longest, max_len + 1, 1 << 16}) {
      CBytes b = seed;
      put_i32(b, 0, v);
      INFO(name << ": max_token_length set to " << v);
      REQUIRE(parse_tokenizer_file(b).outcome == Outcome::accepted);
    }
    // Every token's length and score.
    for (std::size_t k = 0; k + 1 < offsets.size(); ++k) {
      const std::size_t at = offsets[k];
      const std::int32_t was = get_i32(seed, at + 4);
      for (const std::int32_t v :
           {0, -1, INT_MIN, INT_MAX, INT_MIN + 1, max_len + 1, 1 << 20, -was}) {
        CBytes b = seed;
        put_i32(b, at + 4, v);
        INFO(name << ": length of token " << k << " set to " << v);
        const TokenizerResult r = parse_tokenizer_file(b);
        REQUIRE(r.outcome == Outcome::rejected);
        REQUIRE(r.kind == qins::ErrorKind::bad_file);
      }
      for (const std::int32_t v : {was - 1, was + 1}) {  // shifts the framing: may parse
        CBytes b = seed;
        put_i32(b, at + 4, v);
        INFO(name << ": length of token " << k << " set to " << v);
        parse_tokenizer_file(b);
      }
      for (const std::uint32_t bits :
           {0x7fc00000u, 0xffc00000u, 0x7f800000u, 0xff800000u, 0x7f800001u, 0xffffffffu}) {
        CBytes b = seed;
        std::memcpy(b.data() + at, &bits, 4);
        INFO(name << ": score of token " << k << " set to bits " << bits);
        REQUIRE(parse_tokenizer_file(b).outcome == Outcome::rejected);
      }
      if (k % 16 == 0 || k + 8 > offsets.size()) {
        for (const float score : {-1e10f, -1e9f, 3.4e38f, -3.4e38f, 1e-45f}) {
          CBytes b = seed;
          std::memcpy(b.data() + at, &score, 4);
          INFO(name << ": score of token " << k << " set to " << score);
          REQUIRE(parse_tokenizer_file(b).outcome == Outcome::accepted);
        }
      }
    }
  }
}

// ---- The safetensors reader ----

namespace {

const char* const kSafetensorsSeeds[] = {"fuzz_safetensors/seed_three_dtypes.safetensors",
                                         "fuzz_safetensors/seed_tiny_llama.safetensors",
                                         "fuzz_safetensors/seed_handwritten.safetensors"};

struct SafetensorsResult {
  Outcome outcome = Outcome::rejected;
  qins::ErrorKind kind = qins::ErrorKind::bad_file;
  std::string message;
  std::size_t tensors = 0;
};

// Parses `b` under the allocation tracker; an accepted file must pass the fuzz harness's
// consistency checks (coverage, lookups, reads, the round trip through the writer); a
// rejected one is bad_file, worded with the source.
SafetensorsResult parse_safetensors(const Bytes& b) {
  SafetensorsResult r;
  auto parsed = parse_tracked(
      b.size(), [&] { return qins::llama2::SafetensorsFile::parse(b.data(), b.size(), "mutant"); });
  r.kind = parsed.kind;
  r.message = parsed.message;
  if (parsed.value) {
    r.outcome = Outcome::accepted;
    r.tensors = parsed.value->tensors().size();
    REQUIRE(qins_fuzz::safetensors_problem(*parsed.value, b.data(), b.size()) == "");
  } else {
    REQUIRE(r.kind == qins::ErrorKind::bad_file);
    CHECK_THAT(r.message, Catch::StartsWith("qins: safetensors file 'mutant': "));
  }
  return r;
}

// The header of a safetensors file, parsed (keys in file order) and its data section.
struct SafetensorsParts {
  nlohmann::ordered_json header;
  Bytes data;
};

SafetensorsParts split_safetensors(const Bytes& b) {
  const std::uint64_t n = get<std::uint64_t>(b, 0);
  const char* text = reinterpret_cast<const char*>(b.data() + 8);
  return {nlohmann::ordered_json::parse(text, text + n),
          Bytes(b.begin() + 8 + std::ptrdiff_t(n), b.end())};
}

// A file of `header` (compact, padded to 8) and `data`.
Bytes join_safetensors(const nlohmann::ordered_json& header, const Bytes& data) {
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  Bytes b(8);
  put<std::uint64_t>(b, 0, text.size());
  for (const char c : text) b.push_back(static_cast<std::byte>(c));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// The product of a shape's dimensions, saturated at 2^64 - 1 (0 if any dimension is 0).
std::uint64_t element_count(const nlohmann::ordered_json& shape) {
  std::uint64_t n = 1;
  for (const auto& d : shape) {
    const std::uint64_t v = d.get<std::uint64_t>();
    if (v == 0) return 0;
    n = n > ~std::uint64_t{0} / v ? ~std::uint64_t{0} : n * v;
  }
  return n;
}

}  // namespace

TEST_CASE("safetensors: the corpus seeds are valid, canonical files", "[mutation][safetensors]") {
  const std::vector<std::byte> expected[] = {qins_fuzz::safetensors_seed_three_dtypes(),
                                             qins_fuzz::safetensors_seed_tiny_llama(),
                                             qins_fuzz::safetensors_seed_handwritten()};
  for (std::size_t i = 0; i < 3; ++i) {
    INFO(kSafetensorsSeeds[i]);
    const Bytes seed = read_corpus_file<std::byte>(kSafetensorsSeeds[i]);
    CHECK(seed == expected[i]);  // qins_make_corpus writes them
    const SafetensorsResult r = parse_safetensors(seed);
    REQUIRE(r.outcome == Outcome::accepted);
    CHECK(r.tensors >= 2);
    CHECK(g_largest.load() > 0);  // the tracker sees the reader's allocations
    // Re-assembled from its parts, a seed parses the same (the helpers are sound).
    const SafetensorsParts parts = split_safetensors(seed);
    REQUIRE(parse_safetensors(join_safetensors(parts.header, parts.data)).outcome ==
            Outcome::accepted);
  }
}

TEST_CASE("safetensors: every truncation and extension is rejected", "[mutation][safetensors]") {
  for (const char* name : kSafetensorsSeeds) {
    const Bytes seed = read_corpus_file<std::byte>(name);
    for (std::size_t n = 0; n < seed.size(); ++n) {
      INFO(name << " truncated to " << n << " bytes");
      REQUIRE(parse_safetensors(Bytes(seed.begin(), seed.begin() + std::ptrdiff_t(n))).outcome ==
              Outcome::rejected);
    }
    for (const std::size_t extra : {1, 2, 7, 8, 4096}) {
      INFO(name << " extended by " << extra << " bytes");
      Bytes longer = seed;
      longer.resize(seed.size() + extra, std::byte{0});
      REQUIRE(parse_safetensors(longer).outcome == Outcome::rejected);
    }
  }
}

TEST_CASE("safetensors: bit flips are rejected or give a consistent file",
          "[mutation][safetensors]") {
  for (const char* name : kSafetensorsSeeds) {
    const Bytes seed = read_corpus_file<std::byte>(name);
    const std::size_t data_start = 8 + std::size_t(get<std::uint64_t>(seed, 0));
    std::size_t accepted = 0, total = 0, non_finite = 0;
    // Every bit of the length field and of the header; a sample of the data section.
    std::vector<std::size_t> positions;
    for (std::size_t at = 0; at < data_start; ++at) positions.push_back(at);
    for (const std::size_t at : sample(data_start, seed.size())) positions.push_back(at);
    for (const std::size_t at : positions) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes b = seed;
        b[at] ^= std::byte(1u << bit);
        INFO(name << ": bit " << bit << " of byte " << at << " flipped");
        const SafetensorsResult r = parse_safetensors(b);
        ++total;
        if (at < 8) REQUIRE(r.outcome == Outcome::rejected);  // the length field
        if (at >= data_start) {
          // The data has no checksum: any value is a valid file, its NaNs found on reading.
          REQUIRE(r.outcome == Outcome::accepted);
          const auto f = qins::llama2::SafetensorsFile::parse(b.data(), b.size(), "mutant");
          for (const auto& t : f.tensors()) {
            std::vector<float> v(t.elements());
            try {
              f.read_floats(t, v.data());
            } catch (const qins::Error& e) {
              REQUIRE(e.kind() == qins::ErrorKind::non_finite_value);
              ++non_finite;
            }
          }
        }
        if (r.outcome == Outcome::accepted) ++accepted;
      }
    }
    WARN(name << ": " << accepted << " of " << total << " bit flips give a valid file ("
              << non_finite << " with a non-finite value)");
    CHECK(accepted < total);
  }
}

TEST_CASE("safetensors: the header length set to 0, -1 or huge is rejected",
          "[mutation][safetensors]") {
  for (const char* name : kSafetensorsSeeds) {
    const Bytes seed = read_corpus_file<std::byte>(name);
    const std::uint64_t was = get<std::uint64_t>(seed, 0);
    for (const std::uint64_t v : large_values(8, seed.size())) {
      Bytes b = seed;
      put<std::uint64_t>(b, 0, v);
      INFO(name << ": header length set to " << v);
      REQUIRE(parse_safetensors(b).outcome == Outcome::rejected);
    }
    for (const std::uint64_t v :
         {std::uint64_t{0}, was - 1, was + 1, was + 8, was - 8, std::uint64_t{100'000'001}}) {
      Bytes b = seed;
      put<std::uint64_t>(b, 0, v);
      INFO(name << ": header length set to " << v);
      REQUIRE(parse_safetensors(b).outcome == Outcome::rejected);
    }
  }
}

TEST_CASE("safetensors: offsets, shapes and dtypes set to 0, -1 or huge are rejected",
          "[mutation][safetensors]") {
  const std::uint64_t huge[] = {~std::uint64_t{0},
                                std::uint64_t{1} << 63,
                                std::uint64_t{1} << 32,
                                std::uint64_t{1} << 40,
                                0xFFFFFFFFu,
                                0x7FFFFFFFu};
  for (const char* name : kSafetensorsSeeds) {
    const Bytes seed = read_corpus_file<std::byte>(name);
    const SafetensorsParts parts = split_safetensors(seed);
    std::size_t mutations = 0;
    for (auto it = parts.header.begin(); it != parts.header.end(); ++it) {
      if (it.key() == "__metadata__") continue;
      const std::string tensor = it.key();
      const auto& entry = it.value();
      const auto mutate = [&](const char* field, std::size_t index, const nlohmann::ordered_json& v,
                              bool must_reject) {
        nlohmann::ordered_json header = parts.header;
        auto& slot = header[tensor][field];
        if (index == std::size_t(-1)) {
          slot = v;
        } else {
          slot[index] = v;
        }
        if (header == parts.header) return;
        ++mutations;
        INFO(name << ": " << tensor << "." << field << "[" << index << "] set to " << v.dump());
        const SafetensorsResult r = parse_safetensors(join_safetensors(header, parts.data));
        if (must_reject) REQUIRE(r.outcome == Outcome::rejected);
      };
      // Each offset: 0, -1, huge, past the data, one off.
      for (std::size_t k = 0; k < 2; ++k) {
        const std::uint64_t was = entry["data_offsets"][k].get<std::uint64_t>();
        mutate("data_offsets", k, 0, true);
        mutate("data_offsets", k, -1, true);
        mutate("data_offsets", k, std::int64_t{INT64_MIN}, true);
        for (const std::uint64_t v : huge) mutate("data_offsets", k, v, true);
        mutate("data_offsets", k, parts.data.size() + 1, true);
        mutate("data_offsets", k, was + 1, true);
        if (was > 0) mutate("data_offsets", k, was - 1, true);
        mutate("data_offsets", k, 1.5, true);
        mutate("data_offsets", k, "0", true);
      }
      // Each dimension: rejected unless the element count stays the same.
      const auto& shape = entry["shape"];
      for (std::size_t k = 0; k < shape.size(); ++k) {
        std::vector<std::uint64_t> values = {0, 1, 2};
        values.insert(values.end(), std::begin(huge), std::end(huge));
        for (const std::uint64_t v : values) {
          nlohmann::ordered_json changed = shape;
          changed[k] = v;
          mutate("shape", k, v, element_count(changed) != element_count(shape));
        }
        mutate("shape", k, -1, true);
        mutate("shape", k, 2.0, true);
      }
      mutate("shape", std::size_t(-1), nlohmann::ordered_json::array({1, 1, 1, 1, 1, 1, 1, 1, 1}),
             true);
      mutate("shape", std::size_t(-1), 4, true);
      // The dtype: rejected unless the byte count stays the same (F16 <-> BF16, no elements).
      const std::string dtype = entry["dtype"].get<std::string>();
      for (const char* other : {"F32", "F16", "BF16"}) {
        const bool same_size = (dtype == "F32") == (std::string(other) == "F32");
        mutate("dtype", std::size_t(-1), other, !same_size && element_count(shape) > 0);
      }
      for (const char* other : {"I8", "F64", "U16", "", "f16"}) {
        mutate("dtype", std::size_t(-1), other, true);
      }
    }
    CHECK(mutations > 40);
  }
}
