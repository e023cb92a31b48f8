// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Products: QinsLinear uint8 / uint16 against Eigen float32 on the same shapes.
//   BM_gemv/<impl>/<rows>/<cols>/<threads>
//   BM_gemm/<impl>/<rows>/<cols>/<batch>/<threads>
#include <Eigen/Core>
#include <map>
#include <memory>
#include <qins/linear.hpp>
#include <string>

#include "bench_util.hpp"

namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Layer {
  std::size_t rows, cols;
  RowMajor dense;
  qins::QinsLinear u8, u16;
};

// Layers are built once per shape and shared by every benchmark of that shape.
const Layer& layer(std::size_t rows, std::size_t cols) {
  static std::map<std::pair<std::size_t, std::size_t>, std::unique_ptr<Layer>> cache;
  auto& slot = cache[{rows, cols}];
  if (!slot) {
    const auto w = qins_bench::weights(rows * cols);
    qins::LinearOptions u16;
    u16.code_type = qins::CodeType::uint16;
    slot.reset(new Layer{
        rows, cols, Eigen::Map<const RowMajor>(w.data(), Eigen::Index(rows), Eigen::Index(cols)),
        qins::QinsLinear(w.data(), rows, cols), qins::QinsLinear(w.data(), rows, cols, u16)});
  }
  return *slot;
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

void bm_gemv(benchmark::State& state, std::string impl, std::size_t rows, std::size_t cols,
             int threads) {
  const Layer& l = layer(rows, cols);
  const auto x = qins_bench::activations(cols);
  std::vector<float> y(rows);
  double bytes = 0;
  for (auto _ : state) {
    if (impl == "eigen_f32")
      eigen_gemv(l.dense, x.data(), y.data(), threads), bytes = 4.0 * rows * cols;
    else if (impl == "qins_u8")
      l.u8.forward(x.data(), y.data(), pool_for(threads)), bytes = double(l.u8.memory_bytes());
    else
      l.u16.forward(x.data(), y.data(), pool_for(threads)), bytes = double(l.u16.memory_bytes());
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
    if (impl == "eigen_f32")
      eigen_gemm(l.dense, x.data(), batch, y.data(), threads), bytes = 4.0 * rows * cols;
    else if (impl == "qins_u8")
      l.u8.forward_batch(x.data(), batch, y.data(), pool_for(threads)),
          bytes = double(l.u8.memory_bytes());
    else
      l.u16.forward_batch(x.data(), batch, y.data(), pool_for(threads)),
          bytes = double(l.u16.memory_bytes());
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
      for (const char* impl : {"eigen_f32", "qins_u8", "qins_u16"}) {
        const std::string name = std::string("BM_gemv/") + impl + "/" + std::to_string(rows) + "/" +
                                 std::to_string(cols) + "/" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), bm_gemv, std::string(impl), rows, cols, threads)
            ->UseRealTime();
      }
  for (auto [rows, cols] : {std::pair<std::size_t, std::size_t>{64, 64}, {4096, 4096}})
    for (std::size_t batch : {1, 2, 4, 8, 16, 32, 64})
      for (int threads : {1, 2})
        for (const char* impl : {"eigen_f32", "qins_u8", "qins_u16"}) {
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
