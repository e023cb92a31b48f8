// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Products: QinsLinear uint8 / uint12 / uint16 against Eigen float32 on the same shapes.
//   BM_gemv/<impl>/<rows>/<cols>/<threads>       weights from memory (rotated copies)
//   BM_gemv_hot/<impl>/<rows>/<cols>/<threads>   one copy, cached where it fits
//   BM_gemm/<impl>/<rows>/<cols>/<batch>/<threads>
// GEMV impls: eigen_f32, qins_u8, qins_u8_float (float inputs), qins_u12, qins_u16, and
// read_u8 / read_u12 / read_u16, a plain read of the same codes (the memory floor).
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <qins/linear.hpp>
#include <string>

#include "bench_util.hpp"

namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// GEMV benchmarks read their weights from memory, as a model's forward pass does: each
// iteration uses the next of several copies of the layer, enough copies to fill twice the
// last-level cache (and at least 192 MiB), so no copy is still cached when its turn comes.
// The _hot variants use one copy, in cache where it fits.
std::size_t cold_bytes() {
  long llc = 0;
#if defined(_SC_LEVEL3_CACHE_SIZE)
  llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
  return std::max<std::size_t>(std::size_t(192) << 20, 2 * std::size_t(std::max(0L, llc)));
}

std::size_t copies_for(std::size_t bytes) {
  static const std::size_t cold = cold_bytes();
  return std::max<std::size_t>(1, (cold + bytes - 1) / bytes);
}

// A copy of a layer with codes of its own (QinsLinear copies share them).
qins::QinsLinear deep_copy(const qins::QinsLinear& l) {
  const std::size_t bytes = l.memory().code_bytes;
  auto codes = qins::detail::SharedBytes::allocate(bytes);
  std::memcpy(codes.mutable_data(), l.code_bytes(), bytes);
  return qins::QinsLinear::from_parts(l.name(), l.rows(), l.cols(), l.code_type(), l.layout(),
                                      std::move(codes), l.scales(), l.bias());
}

struct Layer {
  std::size_t rows, cols;
  std::vector<RowMajor> dense;
  // u8_float: the uint8 codes of u8 with ProductMode::float_inputs (the float kernels).
  std::vector<qins::QinsLinear> u8, u8_float, u12, u16;
};

// Layers are built once per shape and shared by every benchmark of that shape.
const Layer& layer(std::size_t rows, std::size_t cols) {
  static std::map<std::pair<std::size_t, std::size_t>, std::unique_ptr<Layer>> cache;
  auto& slot = cache[{rows, cols}];
  if (!slot) {
    const auto w = qins_bench::weights(rows * cols);
    qins::LinearOptions u16, u12;
    u16.code_type = qins::CodeType::uint16;
    u12.code_type = qins::CodeType::uint12;
    slot.reset(new Layer{rows, cols, {}, {}, {}, {}, {}});
    const RowMajor dense =
        Eigen::Map<const RowMajor>(w.data(), Eigen::Index(rows), Eigen::Index(cols));
    const qins::QinsLinear u8_layer(w.data(), rows, cols), u16_layer(w.data(), rows, cols, u16),
        u12_layer(w.data(), rows, cols, u12);
    for (std::size_t i = 0, n = copies_for(4 * rows * cols); i < n; ++i)
      slot->dense.push_back(dense);
    for (std::size_t i = 0, n = copies_for(u8_layer.memory().code_bytes); i < n; ++i) {
      slot->u8.push_back(deep_copy(u8_layer));
      slot->u8_float.push_back(slot->u8.back());
      slot->u8_float.back().set_product_mode(qins::ProductMode::float_inputs);
    }
    for (std::size_t i = 0, n = copies_for(u16_layer.memory().code_bytes); i < n; ++i)
      slot->u16.push_back(deep_copy(u16_layer));
    for (std::size_t i = 0, n = copies_for(u12_layer.memory().code_bytes); i < n; ++i)
      slot->u12.push_back(deep_copy(u12_layer));
  }
  return *slot;
}

// The copy an iteration uses: the next one (cold), or always the first (hot).
template <class T>
const T& pick(const std::vector<T>& copies, std::size_t& turn, bool hot) {
  return copies[hot ? 0 : turn++ % copies.size()];
}

// A plain read of n bytes (the floor for any product over them): XOR of every 64-bit word,
// in 512-bit or 256-bit vectors with four independent accumulators.
std::uint64_t read_all(const std::byte* p, std::size_t n) {
#if defined(__AVX512F__)
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  std::size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    a0 = _mm512_xor_si512(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_loadu_si512(p + i + 192));
  }
  alignas(64) std::uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)));
  std::uint64_t r = 0;
  for (std::uint64_t v : lanes) r ^= v;
#elif defined(__AVX2__)
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3)));
  std::uint64_t r = lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
#else
  std::uint64_t r = 0;
  std::size_t i = 0;
#endif
  for (; i < n; ++i) r ^= std::uint64_t(p[i]);
  return r;
}

qins::ThreadPool* pool_for(int threads) {
  static qins::ThreadPool two(2);
  return threads == 2 ? &two : nullptr;
}

// Eigen has no threaded GEMV; with 2 threads its rows are split over the same pool.
void eigen_gemv(const RowMajor& w, const float* x, float* y, int threads) {
  const Eigen::Index rows = w.rows(), cols = w.cols();
  Eigen::Map<const Eigen::VectorXf> xv(x, cols);
  const Eigen::Index chunk = 64;
  auto run = [&](std::size_t c) {
    const Eigen::Index r0 = Eigen::Index(c) * chunk, n = std::min(chunk, rows - r0);
    Eigen::Map<Eigen::VectorXf>(y + r0, n).noalias() = w.middleRows(r0, n) * xv;
  };
  const std::size_t chunks = std::size_t((rows + chunk - 1) / chunk);
  if (threads == 2)
    pool_for(2)->parallel_for(chunks, run);
  else
    Eigen::Map<Eigen::VectorXf>(y, rows).noalias() = w * xv;
}

void eigen_gemm(const RowMajor& w, const float* x, std::size_t batch, float* y, int threads) {
  const Eigen::Index rows = w.rows(), cols = w.cols();
  Eigen::Map<const Eigen::MatrixXf> xm(x, cols, Eigen::Index(batch));
  const Eigen::Index chunk = 256;
  auto run = [&](std::size_t c) {
    const Eigen::Index r0 = Eigen::Index(c) * chunk, n = std::min(chunk, rows - r0);
    Eigen::Map<Eigen::MatrixXf, 0, Eigen::OuterStride<>> ym(y + r0, n, Eigen::Index(batch),
                                                            Eigen::OuterStride<>(rows));
    ym.noalias() = w.middleRows(r0, n) * xm;
  };
  if (threads == 2)
    pool_for(2)->parallel_for(std::size_t((rows + chunk - 1) / chunk), run);
  else
    Eigen::Map<Eigen::MatrixXf>(y, rows, Eigen::Index(batch)).noalias() = w * xm;
}

// The rows of the codes of l in 64-row chunks over the pool, as forward() splits them.
std::uint64_t read_codes(const qins::QinsLinear& l, int threads) {
  const std::size_t row_bytes = l.memory().code_bytes / std::max<std::size_t>(1, l.rows());
  const std::size_t chunks = (l.rows() + 63) / 64;
  std::vector<std::uint64_t> out(chunks);
  auto run = [&](std::size_t c) {
    const std::size_t r0 = c * 64, n = std::min<std::size_t>(64, l.rows() - r0);
    out[c] = read_all(l.code_bytes() + r0 * row_bytes, n * row_bytes);
  };
  if (threads == 2)
    pool_for(2)->parallel_for(chunks, run);
  else
    for (std::size_t c = 0; c < chunks; ++c) run(c);
  std::uint64_t r = 0;
  for (auto v : out) r ^= v;
  return r;
}

void bm_gemv(benchmark::State& state, std::string impl, std::size_t rows, std::size_t cols,
             int threads, bool hot) {
  const Layer& l = layer(rows, cols);
  const auto x = qins_bench::activations(cols);
  std::vector<float> y(rows);
  double bytes = 0;
  std::size_t turn = 0;
  for (auto _ : state) {
    if (impl == "eigen_f32") {
      eigen_gemv(pick(l.dense, turn, hot), x.data(), y.data(), threads);
      bytes = 4.0 * double(rows * cols);
    } else if (impl == "read_u8" || impl == "read_u12" || impl == "read_u16") {
      const auto& q = pick(impl == "read_u8"    ? l.u8
                           : impl == "read_u12" ? l.u12
                                                : l.u16,
                           turn, hot);
      benchmark::DoNotOptimize(read_codes(q, threads));
      bytes = double(q.memory().code_bytes);
    } else {
      const auto& copies = impl == "qins_u8"         ? l.u8
                           : impl == "qins_u8_float" ? l.u8_float
                           : impl == "qins_u12"      ? l.u12
                                                     : l.u16;
      const auto& q = pick(copies, turn, hot);
      q.forward(x.data(), y.data(), pool_for(threads));
      bytes = double(q.memory_bytes());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  qins_bench::set_rates(state, bytes, double(rows * cols), 2.0 * double(rows * cols));
}

void bm_gemm(benchmark::State& state, std::string impl, std::size_t rows, std::size_t cols,
             std::size_t batch, int threads) {
  const Layer& l = layer(rows, cols);
  const auto x = qins_bench::activations(cols * batch);
  std::vector<float> y(rows * batch);
  double bytes = 0;
  for (auto _ : state) {
    if (impl == "eigen_f32") {
      eigen_gemm(l.dense[0], x.data(), batch, y.data(), threads), bytes = 4.0 * rows * cols;
    } else if (impl == "eigen_f32_gemv") {  // one GEMV per input: Eigen's best at small batches
      for (std::size_t b = 0; b < batch; ++b)
        eigen_gemv(l.dense[0], x.data() + b * cols, y.data() + b * rows, threads);
      bytes = 4.0 * rows * cols;
    } else {
      const auto& q = impl == "qins_u8" ? l.u8[0] : impl == "qins_u12" ? l.u12[0] : l.u16[0];
      q.forward_batch(x.data(), batch, y.data(), pool_for(threads));
      bytes = double(q.memory_bytes());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  qins_bench::set_rates(state, bytes, double(rows * cols * batch),
                        2.0 * double(rows * cols * batch));
}

const bool registered = [] {
  const std::pair<std::size_t, std::size_t> gemv_shapes[] = {{64, 64}, {4096, 4096}, {11008, 4096}};
  for (auto [rows, cols] : gemv_shapes)
    for (int threads : {1, 2})
      for (bool hot : {false, true})
        for (const char* impl : {"eigen_f32", "qins_u8", "qins_u8_float", "qins_u12", "qins_u16",
                                 "read_u8", "read_u12", "read_u16"}) {
          const std::string name = std::string(hot ? "BM_gemv_hot/" : "BM_gemv/") + impl + "/" +
                                   std::to_string(rows) + "/" + std::to_string(cols) + "/" +
                                   std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), bm_gemv, std::string(impl), rows, cols,
                                       threads, hot)
              ->UseRealTime();
        }
  for (auto [rows, cols] : {std::pair<std::size_t, std::size_t>{64, 64}, {4096, 4096}})
    for (std::size_t batch : {1, 2, 4, 8, 16, 32, 64})
      for (int threads : {1, 2})
        for (const char* impl :
             {"eigen_f32", "eigen_f32_gemv", "qins_u8", "qins_u12", "qins_u16"}) {
          if (rows == 64 && (batch != 64 || threads != 1)) continue;
          const std::string name = std::string("BM_gemm/") + impl + "/" + std::to_string(rows) +
                                   "/" + std::to_string(cols) + "/" + std::to_string(batch) + "/" +
                                   std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), bm_gemm, std::string(impl), rows, cols, batch,
                                       threads)
              ->UseRealTime();
        }
  return true;
}();

}  // namespace
