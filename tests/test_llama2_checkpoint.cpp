// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Tests of the llama2.c legacy checkpoint reader: the real file and every rejected input.
#include <catch2/catch.hpp>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "qins/error.hpp"
#include "qins/llama2/checkpoint.hpp"

#ifndef QINS_TEST_MODEL_PATH
#error "define QINS_TEST_MODEL_PATH as the path of stories260K.bin"
#endif

namespace {

using Bytes = std::vector<unsigned char>;
using qins::Error;
using qins::ErrorKind;
using qins::llama2::Checkpoint;
using qins::llama2::parse_checkpoint;

// stories260K: the README's table.
constexpr std::size_t kFileSize = 1056540;
constexpr std::size_t kDim = 64, kHidden = 172, kLayers = 5, kKvDim = 32, kVocab = 512,
                      kSeqLen = 512, kHeadSize = 8;
// Float index (after the header) of each tensor in the file.
constexpr std::size_t kTokEmb = 0;
constexpr std::size_t kRmsAtt = kTokEmb + kVocab * kDim;
constexpr std::size_t kWq = kRmsAtt + kLayers * kDim;
constexpr std::size_t kWk = kWq + kLayers * kDim * kDim;
constexpr std::size_t kWv = kWk + kLayers * kKvDim * kDim;
constexpr std::size_t kWo = kWv + kLayers * kKvDim * kDim;
constexpr std::size_t kRmsFfn = kWo + kLayers * kDim * kDim;
constexpr std::size_t kW1 = kRmsFfn + kLayers * kDim;
constexpr std::size_t kW2 = kW1 + kLayers * kHidden * kDim;
constexpr std::size_t kW3 = kW2 + kLayers * kDim * kHidden;
constexpr std::size_t kRmsFinal = kW3 + kLayers * kHidden * kDim;
constexpr std::size_t kFreqCis = kRmsFinal + kDim;
constexpr std::size_t kEnd = kFreqCis + 2 * kSeqLen * (kHeadSize / 2);
static_assert(28 + 4 * kEnd == kFileSize, "README layout");

const Bytes& model_bytes() {
  static const Bytes bytes = [] {
    std::ifstream in(QINS_TEST_MODEL_PATH, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }();
  return bytes;
}

std::size_t float_offset(std::size_t index) { return 28 + 4 * index; }

float get_f32(const Bytes& b, std::size_t index) {
  const std::size_t off = float_offset(index);
  const std::uint32_t u = static_cast<std::uint32_t>(b[off]) |
                          (static_cast<std::uint32_t>(b[off + 1]) << 8) |
                          (static_cast<std::uint32_t>(b[off + 2]) << 16) |
                          (static_cast<std::uint32_t>(b[off + 3]) << 24);
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

void put_u32(Bytes& b, std::size_t off, std::uint32_t u) {
  for (std::size_t i = 0; i < 4; ++i) {
    b[off + i] = static_cast<unsigned char>((u >> (8 * i)) & 0xffu);
  }
}

void put_i32(Bytes& b, std::size_t off, std::int32_t v) {
  std::uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  put_u32(b, off, u);
}

void put_f32(Bytes& b, std::size_t off, float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  put_u32(b, off, u);
}

Bytes with_field(std::size_t field, std::int32_t value) {
  Bytes b = model_bytes();
  put_i32(b, 4 * field, value);
  return b;
}

// parse_checkpoint(b) must throw qins::Error of kind `kind` whose message contains `needle`.
void require_rejected(const Bytes& b, const std::string& needle,
                      ErrorKind kind = ErrorKind::bad_file) {
  INFO("size " << b.size() << ", expecting \"" << needle << "\"");
  try {
    (void)parse_checkpoint(b.data(), b.size(), "patched.bin");
    FAIL("the checkpoint was accepted");
  } catch (const Error& e) {
    INFO("message: " << e.what());
    CHECK(e.kind() == kind);
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains(needle));
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains("patched.bin"));
  }
}

const char* const kFieldNames[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                    "n_kv_heads", "vocab_size", "seq_len"};

}  // namespace

TEST_CASE("llama2: the reader accepts stories260K and its config matches the README", "[llama2]") {
  REQUIRE(model_bytes().size() == kFileSize);
  const Checkpoint ck = qins::llama2::read_checkpoint(QINS_TEST_MODEL_PATH);
  const qins::llama2::Config& c = ck.config();
  CHECK(c.dim == 64);
  CHECK(c.hidden_dim == 172);
  CHECK(c.n_layers == 5);
  CHECK(c.n_heads == 8);
  CHECK(c.n_kv_heads == 4);
  CHECK(c.vocab_size == 512);
  CHECK(c.seq_len == 512);
  CHECK(c.shared_classifier);
  CHECK(c.head_size() == 8);
  CHECK(c.kv_dim() == 32);
  CHECK(ck.source() == QINS_TEST_MODEL_PATH);
  CHECK(ck.num_floats() == kFreqCis);  // everything but the RoPE tables
  CHECK(ck.wcls() == ck.token_embedding());

  // Every accessor points at the right bytes of the file.
  const Bytes& b = model_bytes();
  const std::size_t last_layer = kLayers - 1;
  CHECK(ck.token_embedding()[0] == get_f32(b, kTokEmb));
  CHECK(ck.token_embedding()[kVocab * kDim - 1] == get_f32(b, kRmsAtt - 1));
  CHECK(ck.rms_att_weight(1)[0] == get_f32(b, kRmsAtt + kDim));
  CHECK(ck.wq(2)[5] == get_f32(b, kWq + 2 * kDim * kDim + 5));
  CHECK(ck.wk(3)[7] == get_f32(b, kWk + 3 * kKvDim * kDim + 7));
  CHECK(ck.wv(4)[kKvDim * kDim - 1] == get_f32(b, kWo - 1));
  CHECK(ck.wo(0)[9] == get_f32(b, kWo + 9));
  CHECK(ck.rms_ffn_weight(last_layer)[kDim - 1] == get_f32(b, kW1 - 1));
  CHECK(ck.w1(1)[11] == get_f32(b, kW1 + kHidden * kDim + 11));
  CHECK(ck.w2(2)[13] == get_f32(b, kW2 + 2 * kDim * kHidden + 13));
  CHECK(ck.w3(4)[kHidden * kDim - 1] == get_f32(b, kRmsFinal - 1));
  CHECK(ck.rms_final_weight()[kDim - 1] == get_f32(b, kFreqCis - 1));

  // The in-memory parser gives the same weights.
  const Checkpoint mem = parse_checkpoint(b.data(), b.size());
  REQUIRE(mem.num_floats() == ck.num_floats());
  CHECK(std::memcmp(mem.token_embedding(), ck.token_embedding(), ck.num_floats() * sizeof(float)) ==
        0);
  CHECK(mem.source().empty());

  // Layer accessors check the layer.
  for (int layer : {-1, 5, INT_MAX, INT_MIN}) {
    REQUIRE_THROWS_AS(ck.wq(layer), Error);
    try {
      (void)ck.w2(layer);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::invalid_argument);
    }
  }
}

TEST_CASE("llama2: reading a missing checkpoint file throws io_failure", "[llama2]") {
  const std::string path = "/nonexistent/qins/no-such-checkpoint.bin";
  try {
    (void)qins::llama2::read_checkpoint(path);
    FAIL("no exception");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::io_failure);
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains(path));
  }
}

TEST_CASE("llama2: truncated or extended checkpoints are rejected", "[llama2]") {
  const Bytes& full = model_bytes();
  std::vector<std::size_t> lengths = {0, 1, 27, 28, 100, full.size() - 1};
  for (std::size_t n = 4097; n < full.size(); n += 4097) lengths.push_back(n);
  for (std::size_t n : lengths) {
    const Bytes b(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    if (n < 28) {
      require_rejected(b, "shorter than the 28-byte header");
    } else {
      require_rejected(b,
                       "file size does not match the header: the header implies 1056540 "
                       "bytes, the file has " +
                           std::to_string(n) + " bytes (truncated");
    }
  }
  Bytes longer = full;
  longer.push_back(0);
  require_rejected(longer,
                   "the header implies 1056540 bytes, the file has 1056541 bytes "
                   "(1 byte of unexpected trailing data)");

  // Null data is an invalid argument unless empty (then: too short).
  CHECK_THROWS_AS(parse_checkpoint(nullptr, 10), Error);
  try {
    (void)parse_checkpoint(nullptr, 10);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_argument);
  }
  require_rejected(Bytes{}, "shorter than the 28-byte header");
}

TEST_CASE("llama2: header fields patched to 0, -1, INT_MIN, INT_MAX or huge are rejected",
          "[llama2]") {
  const std::int32_t huge = 1 << 30;
  for (std::size_t f = 0; f < 7; ++f) {
    const std::string field = std::string("header field '") + kFieldNames[f] + "'";
    const bool vocab = f == 5;
    SECTION(kFieldNames[f]) {
      require_rejected(with_field(f, 0),
                       vocab ? field + " must be nonzero" : field + " must be positive, got 0");
      if (vocab) {
        // -1 is a valid header (unshared classifier of one row) but not this file's size.
        require_rejected(with_field(f, -1), "file size does not match the header");
        require_rejected(with_field(f, INT_MIN), field + " is INT_MIN");
      } else {
        require_rejected(with_field(f, -1), field + " must be positive, got -1");
        require_rejected(with_field(f, INT_MIN), field + " must be positive, got -2147483648");
      }
      require_rejected(with_field(f, INT_MAX), field + " = 2147483647 exceeds the cap");
      require_rejected(with_field(f, huge), field + " = 1073741824 exceeds the cap");
      if (vocab) require_rejected(with_field(f, -huge), field + " = -1073741824 exceeds the cap");
    }
  }
}

TEST_CASE("llama2: plausible headers that disagree with the file size are rejected", "[llama2]") {
  require_rejected(with_field(2, 6), "file size does not match the header");     // n_layers
  require_rejected(with_field(5, -512), "file size does not match the header");  // wcls missing
  require_rejected(with_field(6, 511), "file size does not match the header");   // seq_len
  require_rejected(with_field(1, 171), "file size does not match the header");   // hidden_dim
  // At the caps the size is computed without overflow and is simply wrong.
  Bytes b = model_bytes();
  put_i32(b, 0, qins::llama2::limits::dim);
  put_i32(b, 4, qins::llama2::limits::hidden_dim);
  put_i32(b, 8, qins::llama2::limits::n_layers);
  put_i32(b, 12, 2);
  put_i32(b, 16, 1);
  put_i32(b, 20, -qins::llama2::limits::vocab_size);
  put_i32(b, 24, qins::llama2::limits::seq_len);
  require_rejected(b, "file size does not match the header");
}

TEST_CASE("llama2: inconsistent head counts are rejected", "[llama2]") {
  require_rejected(with_field(3, 7), "dim (64) is not divisible by n_heads (7)");
  require_rejected(with_field(3, 64), "head size dim / n_heads = 64 / 64 = 1 is odd");
  {
    Bytes b = with_field(0, 24);  // dim 24, 8 heads: head size 3
    require_rejected(b, "head size dim / n_heads = 24 / 8 = 3 is odd");
  }
  require_rejected(with_field(4, 3), "n_heads (8) is not divisible by n_kv_heads (3)");
  require_rejected(with_field(4, 16), "n_kv_heads (16) exceeds n_heads (8)");
}

TEST_CASE("llama2: a version-1/2 export (magic ak42) is rejected as not legacy", "[llama2]") {
  const std::string message =
      "not a legacy llama2.c checkpoint (version-1/2 export with magic ak42)";
  Bytes b = model_bytes();
  put_u32(b, 0, 0x616b3432u);
  put_i32(b, 4, 2);
  require_rejected(b, message);
  require_rejected(b, "its version field is 2");
  // A v1 header (256 bytes) with nothing else; and only the magic itself.
  Bytes v1(256, 0);
  put_u32(v1, 0, 0x616b3432u);
  put_i32(v1, 4, 1);
  require_rejected(v1, message);
  require_rejected(Bytes{0x32, 0x34, 0x6b, 0x61}, message);
  // Written the other way round.
  require_rejected(Bytes{'a', 'k', '4', '2', 1, 0, 0, 0}, message);
}

TEST_CASE("llama2: a negative vocab_size reads the classifier after the RoPE tables", "[llama2]") {
  Bytes b = model_bytes();
  put_i32(b, 20, -static_cast<std::int32_t>(kVocab));
  const std::size_t wcls_index = kEnd;
  b.resize(float_offset(wcls_index + kVocab * kDim));
  for (std::size_t i = 0; i < kVocab * kDim; ++i) {
    put_f32(b, float_offset(wcls_index + i), static_cast<float>(i) * 0.25f);
  }
  const Checkpoint ck = parse_checkpoint(b.data(), b.size());
  CHECK_FALSE(ck.config().shared_classifier);
  CHECK(ck.config().vocab_size == 512);
  CHECK(ck.wcls() != ck.token_embedding());
  CHECK(ck.num_floats() == kFreqCis + kVocab * kDim);
  CHECK(ck.wcls()[0] == 0.0f);
  CHECK(ck.wcls()[3] == 0.75f);
  CHECK(ck.wcls()[kVocab * kDim - 1] == static_cast<float>(kVocab * kDim - 1) * 0.25f);
  CHECK(ck.rms_final_weight()[kDim - 1] == get_f32(b, kFreqCis - 1));
}

TEST_CASE("llama2: non-finite weights are rejected naming tensor, row and column", "[llama2]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  struct Case {
    std::size_t index;
    float value;
    const char* tensor;
    std::size_t row, col;
  };
  const Case cases[] = {
      {kWq + 1 * kDim * kDim + 2 * kDim + 3, nan, "layers.1.wq", 2, 3},
      {kTokEmb + 7 * kDim + 1, inf, "token_embedding", 7, 1},
      {kW2 + 4 * kDim * kHidden + 5 * kHidden + 171, -inf, "layers.4.w2", 5, 171},
      {kRmsFfn + 2 * kDim + 63, nan, "layers.2.rms_ffn_weight", Error::npos, 63},
      {kRmsFinal, nan, "rms_final_weight", Error::npos, 0},
  };
  for (const Case& c : cases) {
    Bytes b = model_bytes();
    put_f32(b, float_offset(c.index), c.value);
    INFO(c.tensor);
    try {
      (void)parse_checkpoint(b.data(), b.size());
      FAIL("accepted a non-finite weight");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::non_finite_value);
      CHECK(e.tensor() == c.tensor);
      CHECK(e.row() == c.row);
      CHECK(e.col() == c.col);
    }
  }
  // The legacy RoPE tables are not used, hence not checked.
  Bytes b = model_bytes();
  put_f32(b, float_offset(kFreqCis + 3), nan);
  CHECK_NOTHROW(parse_checkpoint(b.data(), b.size()));
}

TEST_CASE("llama2: random headers and header bit flips never crash the parser", "[llama2]") {
  // Every input either parses or throws qins::Error; sanitizer builds check the rest.
  const Bytes& full = model_bytes();
  int accepted = 0;
  for (std::size_t bit = 0; bit < 28 * 8; ++bit) {
    Bytes b = full;
    b[bit / 8] = static_cast<unsigned char>(b[bit / 8] ^ (1u << (bit % 8)));
    try {
      (void)parse_checkpoint(b.data(), b.size());
      ++accepted;
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::bad_file);
    }
  }
  CHECK(accepted == 0);  // every single-bit change of this header breaks the size equation

  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>(state >> 33);
  };
  for (int trial = 0; trial < 20000; ++trial) {
    Bytes b(28 + next() % 512);
    for (auto& x : b) x = static_cast<unsigned char>(next());
    // Small positive fields make some of them plausible.
    for (std::size_t f = 0; f < 7; ++f) {
      if (next() % 2 == 0) put_i32(b, 4 * f, static_cast<std::int32_t>(next() % 9) - 1);
    }
    try {
      const Checkpoint ck = parse_checkpoint(b.data(), b.size());
      CHECK(ck.num_floats() * 4 + 28 <= b.size());
    } catch (const Error& e) {
      CHECK((e.kind() == ErrorKind::bad_file || e.kind() == ErrorKind::non_finite_value));
    }
  }
}

TEST_CASE("llama2: the tensor table gives the README's layout and the tensor names", "[llama2]") {
  using qins::llama2::TensorId;
  const Checkpoint ck = parse_checkpoint(model_bytes().data(), model_bytes().size());
  const float* base = ck.token_embedding();
  // The table-driven offsets agree with the layout written out by hand above.
  struct Expected {
    TensorId id;
    std::size_t index, layer_size;
  };
  const Expected expected[] = {{TensorId::token_embedding, kTokEmb, kVocab * kDim},
                               {TensorId::rms_att_weight, kRmsAtt, kDim},
                               {TensorId::wq, kWq, kDim * kDim},
                               {TensorId::wk, kWk, kKvDim * kDim},
                               {TensorId::wv, kWv, kKvDim * kDim},
                               {TensorId::wo, kWo, kDim * kDim},
                               {TensorId::rms_ffn_weight, kRmsFfn, kDim},
                               {TensorId::w1, kW1, kHidden * kDim},
                               {TensorId::w2, kW2, kDim * kHidden},
                               {TensorId::w3, kW3, kHidden * kDim},
                               {TensorId::rms_final_weight, kRmsFinal, kDim},
                               {TensorId::wcls, kTokEmb, kVocab * kDim}};
  for (const Expected& e : expected) {
    const auto& info = qins::llama2::tensor_info(e.id);
    INFO(info.name);
    CHECK(ck.tensor_size(e.id) == e.layer_size);
    const int last = info.per_layer ? static_cast<int>(kLayers) - 1 : 0;
    CHECK(ck.tensor(e.id, 0) == base + e.index);
    CHECK(ck.tensor(e.id, last) == base + e.index + static_cast<std::size_t>(last) * e.layer_size);
  }
  CHECK(ck.tensor(TensorId::rms_final_weight, 3) == ck.rms_final_weight());  // layer ignored
  auto kind_of = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::bad_file;  // "no exception"
  };
  CHECK(kind_of([&] { (void)ck.tensor(TensorId::freq_cis_real); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { (void)ck.tensor(static_cast<TensorId>(99)); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { (void)ck.tensor(TensorId::w2, 5); }) == ErrorKind::invalid_argument);

  CHECK(qins::llama2::layer_name(3, qins::llama2::LinearKind::wq) == "layers.3.wq");
  CHECK(qins::llama2::layer_name(0, qins::llama2::LinearKind::w2) == "layers.0.w2");
  CHECK(qins::llama2::tensor_name(TensorId::rms_ffn_weight, 2) == "layers.2.rms_ffn_weight");
  CHECK(qins::llama2::tensor_name(TensorId::wcls, 4) == "wcls");
  CHECK(qins::llama2::tensor_name(qins::llama2::tensor_of(qins::llama2::LinearKind::w3), 1) ==
        "layers.1.w3");
  CHECK(std::string(qins::llama2::to_string(qins::llama2::LinearKind::wo)) == "wo");
  CHECK(std::string(qins::llama2::to_string(static_cast<qins::llama2::LinearKind>(9))) ==
        "unknown");
}

TEST_CASE("llama2: a directory given as a checkpoint is said to be one", "[llama2]") {
  const std::string dir = QINS_TEST_DATA_DIR;
  try {
    (void)qins::llama2::read_checkpoint(dir);
    FAIL("no exception");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::io_failure);
    CHECK(std::string(e.what()) ==
          "qins: llama2.c checkpoint '" + dir + "': is a directory, not a checkpoint file");
  }
}

TEST_CASE("llama2: a text file given as a checkpoint does not look like one", "[llama2]") {
  // The README starts "# qins\n\nqins is a": its first int32, "# qi", is 1769021475 as dim.
  const std::string path = std::string(QINS_TEST_DATA_DIR) + "/../../README.md";
  for (const bool streamed : {true, false}) {
    INFO((streamed ? "read_checkpoint" : "parse_checkpoint"));
    try {
      if (streamed) {
        (void)qins::llama2::read_checkpoint(path);
      } else {
        std::ifstream in(path, std::ios::binary);
        const Bytes text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        REQUIRE(text.size() > 28);
        (void)parse_checkpoint(text.data(), text.size(), path);
      }
      FAIL("a text file was accepted");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::bad_file);
      CHECK(std::string(e.what()) ==
            "qins: llama2.c checkpoint '" + path +
                "': header field 'dim' = 1769021475 exceeds the cap of 65536 (implausible size; "
                "not a llama2.c checkpoint?)");
    }
  }
}
