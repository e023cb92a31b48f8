// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// GPU products on QINS codes (qins::cuda::DeviceLinear) next to cuBLAS float32 and float16
// on the same shapes, in one run: CUDA events around back-to-back calls after a warm-up,
// the median of repetitions, and the bytes each call reads against a measured
// device-to-device copy.
//
// "from memory": every call reads another copy of its weights, with at least three times
// the L2 cache between two reads of one copy (what a model's layers see); "hot": one copy,
// called again and again (for matrices that fit the L2 this is a cache benchmark).
//
// Usage: qins_cuda_bench --help
#include <cublas_v2.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <qins/cuda/linear.cuh>
#include <string>
#include <vector>

namespace {

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "%s failed: cuBLAS status %d\n", what, int(status));
    std::exit(1);
  }
}

// Deterministic pseudo-random bits (splitmix64).
std::uint64_t mix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

__global__ void fill_kernel(float* f32, __half* f16, std::size_t n, std::uint32_t seed) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
       i += std::size_t(gridDim.x) * blockDim.x) {
    std::uint32_t h = std::uint32_t(i) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    const float v = (float(h & 0xffffff) / 16777216.0f - 0.5f) * 0.1f;
    if (f32) f32[i] = v;
    if (f16) f16[i] = __float2half(v);
  }
}

// A layer of random codes (the product's time does not depend on their values) with one
// scale per row.
qins::QinsTensor random_tensor(std::size_t rows, std::size_t cols, qins::CodeType type,
                               std::uint64_t seed) {
  const std::size_t row_bytes = qins::stored_type_info(type).row_bytes(cols);
  auto codes = qins::detail::SharedBytes::allocate(rows * row_bytes);
  std::byte* p = codes.mutable_data();
  std::uint64_t s = seed;
  for (std::size_t i = 0; i + 8 <= codes.size(); i += 8) {
    const std::uint64_t v = mix(s);
    std::memcpy(p + i, &v, 8);
  }
  std::vector<float> scales(rows, 0.01f);
  return qins::QinsTensor::from_parts("bench", rows, cols, type,
                                      qins::AlphaLayout{qins::AlphaGranularity::per_row, 0},
                                      std::move(codes), std::move(scales), {});
}

struct Timing {
  double from_memory_us = 0, hot_us = 0;
};

// Median over `reps` of the mean time of `iters` calls; call(i) runs the i-th call.
double median_us(cudaStream_t stream, int reps, int iters, const std::function<void(int)>& call) {
  cudaEvent_t start, stop;
  qins::cuda::check(cudaEventCreate(&start), "event");
  qins::cuda::check(cudaEventCreate(&stop), "event");
  for (int i = 0; i < 10; ++i) call(i);  // warm-up
  std::vector<double> t;
  int n = 10;
  for (int r = 0; r < reps; ++r) {
    qins::cuda::check(cudaEventRecord(start, stream), "event");
    for (int i = 0; i < iters; ++i) call(n++);
    qins::cuda::check(cudaEventRecord(stop, stream), "event");
    qins::cuda::check(cudaEventSynchronize(stop), "event");
    float ms = 0;
    qins::cuda::check(cudaEventElapsedTime(&ms, start, stop), "event");
    t.push_back(1000.0 * ms / iters);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct Row {
  std::string shape, impl;
  int batch;
  double bytes;  // read and written by one call
  Timing t;
};

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, gemv_only = false;
  int reps = 7;
  std::string csv, only_shape;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick")
      quick = true;
    else if (a == "--reps" && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--csv" && i + 1 < argc)
      csv = argv[++i];
    else if (a == "--shape" && i + 1 < argc)
      only_shape = argv[++i];
    else if (a == "--gemv-only")
      gemv_only = true;
    else {
      std::printf(
          "usage: %s [--quick] [--shape RxC] [--gemv-only] [--reps N] [--csv FILE]\n"
          "  --quick      4096x4096 only\n"
          "  --shape RxC  one of 4096x4096, 11008x4096, 16384x16384 only\n"
          "  --gemv-only  batch 1 only (else batches 1, 4 and 16)\n"
          "  --reps N     repetitions to take the median of (default 7)\n"
          "  --csv FILE   also write the table as CSV\n",
          argv[0]);
      return a == "--help" ? 0 : 2;
    }
  }
  cudaDeviceProp prop{};
  qins::cuda::check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("GPU: %s, %d SMs, L2 %d MiB, %.0f GiB\n", prop.name, prop.multiProcessorCount,
              prop.l2CacheSize >> 20, prop.totalGlobalMem / 1073741824.0);
  const double l2 = prop.l2CacheSize;
  cudaStream_t stream;
  qins::cuda::check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  cublasHandle_t handle;
  check_cublas(cublasCreate(&handle), "cublasCreate");
  check_cublas(cublasSetStream(handle, stream), "cublasSetStream");

  // The copy bandwidth: bytes read + written by a device-to-device copy of 2 GiB.
  double copy_gbs = 0;
  {
    const std::size_t n = std::size_t(2) << 30;
    qins::cuda::DeviceBuffer a(n), b(n);
    qins::cuda::check(cudaMemset(a.data(), 1, n), "memset");
    const double us = median_us(stream, reps, 5, [&](int) {
      qins::cuda::check(cudaMemcpyAsync(b.data(), a.data(), n, cudaMemcpyDeviceToDevice, stream),
                        "copy");
    });
    copy_gbs = 2.0 * n / us / 1e3;
    std::printf("device-to-device copy: %.0f GB/s (read + write)\n", copy_gbs);
  }

  struct Shape {
    std::size_t rows, cols;
  };
  std::vector<Shape> shapes = {{4096, 4096}, {11008, 4096}, {16384, 16384}};
  if (quick) shapes = {{4096, 4096}};
  if (!only_shape.empty())
    shapes.erase(std::remove_if(shapes.begin(), shapes.end(),
                                [&](const Shape& s) {
                                  return std::to_string(s.rows) + "x" + std::to_string(s.cols) !=
                                         only_shape;
                                }),
                 shapes.end());
  std::vector<int> batches = {1, 4, 16};
  if (gemv_only) batches = {1};
  std::vector<Row> rows;
  for (const Shape& s : shapes) {
    const std::string shape = std::to_string(s.rows) + "x" + std::to_string(s.cols);
    const std::size_t weights = s.rows * s.cols;
    const int iters = weights >= (std::size_t(1) << 26) ? 50 : 200;
    // Inputs and outputs for the largest batch, float32 and float16.
    qins::cuda::DeviceBuffer x32(16 * s.cols * 4), y32(16 * s.rows * 4), x16(16 * s.cols * 2),
        y16(16 * s.rows * 2);
    fill_kernel<<<1024, 256, 0, stream>>>(static_cast<float*>(x32.data()),
                                          static_cast<__half*>(x16.data()), 16 * s.cols, 99);
    qins::cuda::check(cudaStreamSynchronize(stream), "fill");

    // cuBLAS float32 and float16 weights, as many copies as the L2 asks for.
    const auto copies_for = [&](double bytes) { return std::max(1, int(3 * l2 / bytes) + 1); };
    std::vector<qins::cuda::DeviceBuffer> w32, w16;
    for (int i = 0, n = copies_for(weights * 4.0); i < n; ++i) {
      w32.emplace_back(weights * 4);
      fill_kernel<<<1024, 256, 0, stream>>>(static_cast<float*>(w32.back().data()), nullptr,
                                            weights, 7 + i);
    }
    for (int i = 0, n = copies_for(weights * 2.0); i < n; ++i) {
      w16.emplace_back(weights * 2);
      fill_kernel<<<1024, 256, 0, stream>>>(nullptr, static_cast<__half*>(w16.back().data()),
                                            weights, 7 + i);
    }
    // QINS layers of each width.
    struct Qins {
      const char* name;
      std::vector<qins::cuda::DeviceLinear> copies;
    };
    std::vector<Qins> layers;
    for (auto [type, name] : {std::pair{qins::CodeType::uint8, "qins_u8"},
                              std::pair{qins::CodeType::uint12, "qins_u12"},
                              std::pair{qins::CodeType::uint16, "qins_u16"}}) {
      const qins::QinsTensor t = random_tensor(s.rows, s.cols, type, 1234);
      Qins q{name, {}};
      q.copies.emplace_back(t);
      std::printf("%zux%zu %s, one input: %s\n", s.rows, s.cols, name,
                  q.copies[0].kernel(1).c_str());
      for (int i = 1, n = copies_for(double(q.copies[0].device_bytes())); i < n; ++i)
        q.copies.emplace_back(t);
      layers.push_back(std::move(q));
    }
    qins::cuda::check(cudaDeviceSynchronize(), "setup");

    for (int batch : batches) {
      const double io32 = 4.0 * batch * (s.rows + s.cols), io16 = io32 / 2;
      const float one = 1.0f, zero = 0.0f;
      const auto time_both = [&](int copies, const std::function<void(int copy)>& call) {
        Timing t;
        t.from_memory_us = median_us(stream, reps, iters, [&](int i) { call(i % copies); });
        t.hot_us = median_us(stream, reps, iters, [&](int) { call(0); });
        return t;
      };
      // float32: cuBLAS's GEMV for one input (the faster of GEMV and GEMM), GEMM otherwise.
      Timing f32 = time_both(int(w32.size()), [&](int c) {
        check_cublas(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(s.rows), batch, int(s.cols),
                                 &one, static_cast<const float*>(w32[c].data()), int(s.cols),
                                 static_cast<const float*>(x32.data()), int(s.cols), &zero,
                                 static_cast<float*>(y32.data()), int(s.rows)),
                     "cublasSgemm");
      });
      if (batch == 1) {
        const Timing gemv = time_both(int(w32.size()), [&](int c) {
          check_cublas(cublasSgemv(handle, CUBLAS_OP_T, int(s.cols), int(s.rows), &one,
                                   static_cast<const float*>(w32[c].data()), int(s.cols),
                                   static_cast<const float*>(x32.data()), 1, &zero,
                                   static_cast<float*>(y32.data()), 1),
                       "cublasSgemv");
        });
        f32.from_memory_us = std::min(f32.from_memory_us, gemv.from_memory_us);
        f32.hot_us = std::min(f32.hot_us, gemv.hot_us);
      }
      rows.push_back({shape, "cublas_f32", batch, weights * 4.0 + io32, f32});
      const Timing f16 = time_both(int(w16.size()), [&](int c) {
        check_cublas(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(s.rows), batch, int(s.cols),
                                  &one, w16[c].data(), CUDA_R_16F, int(s.cols), x16.data(),
                                  CUDA_R_16F, int(s.cols), &zero, y16.data(), CUDA_R_16F,
                                  int(s.rows), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                     "cublasGemmEx");
      });
      rows.push_back({shape, "cublas_f16", batch, weights * 2.0 + io16, f16});
      for (const Qins& q : layers) {
        const Timing t = time_both(int(q.copies.size()), [&](int c) {
          q.copies[c].forward_batch(static_cast<const float*>(x32.data()), batch,
                                    static_cast<float*>(y32.data()), stream);
        });
        rows.push_back({shape, q.name, batch, double(q.copies[0].device_bytes()) + io32, t});
      }
    }
  }

  std::printf("\n%-12s %-11s %5s %11s %9s %8s %9s %8s %8s\n", "shape", "impl", "batch",
              "memory(us)", "hot(us)", "GB/s", "of copy", "x f16", "x f32");
  FILE* out = csv.empty() ? nullptr : std::fopen(csv.c_str(), "w");
  if (out)
    std::fprintf(out, "shape,impl,batch,from_memory_us,hot_us,gbs,copy_fraction,x_f16,x_f32\n");
  for (const Row& r : rows) {
    double f16 = 0, f32 = 0;
    for (const Row& b : rows)
      if (b.shape == r.shape && b.batch == r.batch) {
        if (b.impl == "cublas_f16") f16 = b.t.from_memory_us;
        if (b.impl == "cublas_f32") f32 = b.t.from_memory_us;
      }
    const double gbs = r.bytes / r.t.from_memory_us / 1e3;
    std::printf("%-12s %-11s %5d %11.2f %9.2f %8.0f %8.0f%% %8.2f %8.2f\n", r.shape.c_str(),
                r.impl.c_str(), r.batch, r.t.from_memory_us, r.t.hot_us, gbs, 100 * gbs / copy_gbs,
                f16 / r.t.from_memory_us, f32 / r.t.from_memory_us);
    if (out)
      std::fprintf(out, "%s,%s,%d,%.3f,%.3f,%.1f,%.4f,%.4f,%.4f\n", r.shape.c_str(), r.impl.c_str(),
                   r.batch, r.t.from_memory_us, r.t.hot_us, gbs, gbs / copy_gbs,
                   f16 / r.t.from_memory_us, f32 / r.t.from_memory_us);
  }
  if (out) std::fclose(out);
  cublasDestroy(handle);
  cudaStreamDestroy(stream);
  return 0;
}
