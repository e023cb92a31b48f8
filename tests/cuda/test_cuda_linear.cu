// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// qins::cuda::DeviceLinear on a GPU: its products against a float64 reference written
// here from the stored codes (the closed form of QINS.md), and against the CPU's scalar
// reference, within the bound the header states; shapes that are no multiple of any tile,
// every code width and alpha granularity, batches of 1 to 40, misaligned and host buffers.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <qins/cuda/linear.cuh>
#include <qins/isa.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

// Device memory for a test: a vector's worth of floats, copied in and out.
class DeviceFloats {
 public:
  explicit DeviceFloats(std::size_t n) : buffer_(n * sizeof(float)), n_(n) {}
  explicit DeviceFloats(const std::vector<float>& v) : DeviceFloats(v.size()) {
    if (!v.empty())
      qins::cuda::check(cudaMemcpy(get(), v.data(), n_ * sizeof(float), cudaMemcpyHostToDevice),
                        "copy in");
  }
  float* get() const { return static_cast<float*>(buffer_.data()); }
  std::vector<float> read() const {
    std::vector<float> v(n_);
    if (n_)
      qins::cuda::check(cudaMemcpy(v.data(), get(), n_ * sizeof(float), cudaMemcpyDeviceToHost),
                        "copy out");
    return v;
  }

 private:
  qins::cuda::DeviceBuffer buffer_;
  std::size_t n_;
};

unsigned max_code(qins::CodeType t) {
  return t == qins::CodeType::uint8 ? 255u : t == qins::CodeType::uint12 ? 4095u : 65535u;
}

// Code c of row r, read from the stored bytes as the format's header draws them.
std::uint32_t stored_code(const qins::QinsTensor& t, std::size_t r, std::size_t c) {
  const auto* row = reinterpret_cast<const unsigned char*>(t.code_bytes()) + r * t.row_bytes();
  switch (t.code_type()) {
    case qins::CodeType::uint8:
      return row[c];
    case qins::CodeType::uint16:
      return row[2 * c] | std::uint32_t(row[2 * c + 1]) << 8;
    default: {
      const unsigned char* p = row + c / 2 * 3;
      const std::uint32_t word = p[0] | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16;
      return c % 2 ? word >> 12 : word & 0xfff;
    }
  }
}

// The exact weight: with d = code - M/2, w = ((M/2 - |d|) / d) / alpha, in double.
double exact_weight(const qins::QinsTensor& t, std::size_t r, std::size_t c) {
  const double half = max_code(t.code_type()) / 2.0;
  const double d = double(stored_code(t, r, c)) - half;
  const std::size_t span = t.segment_length();
  return (half - std::fabs(d)) / d * double(t.scales()[r * t.scale_stride() + c / span]);
}

struct Reference {
  std::vector<double> y, abs_wx, abs_w_plus_scale_x;
};

Reference reference(const qins::QinsTensor& t, const std::vector<float>& x, std::size_t batch) {
  Reference ref;
  const std::size_t rows = t.rows(), cols = t.cols();
  ref.y.assign(rows * batch, 0.0);
  ref.abs_wx = ref.abs_w_plus_scale_x = ref.y;
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t r = 0; r < rows; ++r) {
      double y = t.has_bias() ? t.bias()[r] : 0.0, s1 = 0, s2 = 0;
      for (std::size_t c = 0; c < cols; ++c) {
        const double w = exact_weight(t, r, c), v = x[b * cols + c];
        const double scale = t.scales()[r * t.scale_stride() + c / t.segment_length()];
        y += w * v;
        s1 += std::fabs(w * v);
        s2 += (std::fabs(w) + scale) * std::fabs(v);
      }
      ref.y[b * rows + r] = y;
      ref.abs_wx[b * rows + r] = s1;
      ref.abs_w_plus_scale_x[b * rows + r] = s2;
    }
  return ref;
}

std::vector<float> random_values(std::size_t n, std::uint32_t seed, double scale) {
  std::mt19937 rng(seed);
  std::student_t_distribution<double> t3(3.0);
  std::vector<float> v(n);
  for (auto& e : v) e = float(t3(rng) * scale);
  return v;
}

qins::QinsLinear random_layer(std::size_t rows, std::size_t cols, qins::CodeType type,
                              qins::AlphaGranularity granularity, std::size_t group, bool bias,
                              std::uint32_t seed) {
  qins::LinearOptions options;
  options.code_type = type;
  options.granularity = granularity;
  options.group_size = group;
  options.alpha = 3.0;  // for fixed
  const std::vector<float> w = random_values(rows * cols, seed, 0.05);
  const std::vector<float> b = random_values(rows, seed + 1, 0.5);
  return qins::QinsLinear(w.data(), rows, cols, options, bias ? b.data() : nullptr);
}

// Every output within the header's bound of the float64 reference, and of the CPU's scalar
// path (whose own float sums add at most cols + 2 roundings of sum |w x|).
void check_products(const qins::QinsLinear& host, const qins::cuda::DeviceLinear& gpu,
                    std::size_t batch, std::size_t x_offset, std::uint32_t seed) {
  const std::size_t rows = host.rows(), cols = host.cols();
  std::vector<float> x = random_values(cols * batch, seed, 1.0);
  std::vector<float> padded(x_offset, 0.0f);
  padded.insert(padded.end(), x.begin(), x.end());
  DeviceFloats dx(padded), dy(rows * batch);
  gpu.forward_batch(dx.get() + x_offset, batch, dy.get());
  qins::cuda::check(cudaDeviceSynchronize(), "product");
  const std::vector<float> y = dy.read();

  const Reference ref = reference(host.tensor(), x, batch);
  std::vector<float> cpu(rows * batch);
  {
    qins::ScopedIsa scalar(qins::Isa::scalar);
    host.forward_batch(x.data(), batch, cpu.data());
  }
  for (std::size_t i = 0; i < rows * batch; ++i) {
    const double bound = gpu.decode_error_bound() * ref.abs_w_plus_scale_x[i] +
                         gpu.accumulation_error_bound() * ref.abs_wx[i] +
                         0x1p-24 * std::fabs(ref.y[i]) + 1e-30;
    INFO("output " << i << " of " << rows << " x " << cols << " batch " << batch << " "
                   << qins::to_string(host.code_type()) << " "
                   << qins::to_string(host.layout().granularity) << ": gpu " << y[i]
                   << " reference " << ref.y[i] << " cpu " << cpu[i] << " bound " << bound);
    REQUIRE(std::fabs(y[i] - ref.y[i]) <= bound);
    const double cpu_bound = bound + double(cols + 2) * 0x1p-24 * ref.abs_wx[i];
    REQUIRE(std::fabs(double(y[i]) - cpu[i]) <= cpu_bound + std::fabs(cpu[i] - ref.y[i]));
  }
}

struct Shape {
  std::size_t rows, cols;
};

}  // namespace

TEST_CASE("GPU products match the float64 reference on every width, layout and odd shape",
          "[cuda]") {
  const qins::CodeType types[] = {qins::CodeType::uint8, qins::CodeType::uint12,
                                  qins::CodeType::uint16};
  // Rows and columns that are no multiple of a warp's 4 rows, a block's 32, a chunk's 16 or a
  // sweep's 512 columns; and some that are.
  const Shape shapes[] = {{1, 1},    {1, 17},     {3, 5},     {7, 33},     {33, 100},
                          {65, 513}, {129, 1000}, {31, 4096}, {300, 1536}, {2, 2050}};
  std::uint32_t seed = 1;
  for (auto type : types)
    for (const Shape& s : shapes)
      for (auto g : {qins::AlphaGranularity::fixed, qins::AlphaGranularity::per_tensor,
                     qins::AlphaGranularity::per_row}) {
        const auto host = random_layer(s.rows, s.cols, type, g, 0, seed % 2 == 0, seed);
        const qins::cuda::DeviceLinear gpu(host);
        for (std::size_t batch : {1, 2, 3, 5, 16})
          check_products(host, gpu, batch, 0, seed + 100 * std::uint32_t(batch));
        ++seed;
      }
}

TEST_CASE("GPU products with alpha per group: whole quads and any other group size", "[cuda]") {
  struct Grouped {
    Shape shape;
    std::size_t group;
  };
  // Groups of a multiple of 4 columns (32, 64, 48, 8, 24, 128, 20, 12: each 4-code quad
  // scaled once; 16 in 16 columns is one group per row) and of any other size (5, 1, 7: each
  // weight), in rows of whole 512-column tiles (interleaved on the device for uint8), of a
  // partial tile only, and of both.
  const Grouped cases[] = {{{5, 64}, 32}, {{9, 1024}, 64}, {{17, 96}, 48}, {{3, 40}, 8},
                           {{11, 35}, 5}, {{6, 72}, 24},   {{4, 7}, 1},    {{40, 4096}, 128},
                           {{2, 16}, 16}, {{5, 1100}, 20}, {{3, 1030}, 5}, {{7, 600}, 12},
                           {{2, 1533}, 7}};
  std::uint32_t seed = 500;
  for (auto type : {qins::CodeType::uint8, qins::CodeType::uint12, qins::CodeType::uint16})
    for (const Grouped& c : cases) {
      const auto host = random_layer(c.shape.rows, c.shape.cols, type,
                                     qins::AlphaGranularity::per_group, c.group, true, seed++);
      const qins::cuda::DeviceLinear gpu(host);
      for (std::size_t batch : {1, 4, 9}) check_products(host, gpu, batch, 0, seed + batch);
    }
}

TEST_CASE("GPU batches beyond one launch and inputs that are not 16-byte aligned", "[cuda]") {
  for (auto type : {qins::CodeType::uint8, qins::CodeType::uint12, qins::CodeType::uint16}) {
    const auto host = random_layer(70, 260, type, qins::AlphaGranularity::per_row, 0, true, 7);
    const qins::cuda::DeviceLinear gpu(host);
    for (std::size_t batch : {17, 33, 40}) check_products(host, gpu, batch, 0, 11);
    // One float past an aligned allocation: every input is read with scalar loads.
    for (std::size_t batch : {1, 3}) check_products(host, gpu, batch, 1, 12);
    const auto odd = random_layer(9, 258, type, qins::AlphaGranularity::per_row, 0, false, 8);
    const qins::cuda::DeviceLinear gpu_odd(odd);
    check_products(odd, gpu_odd, 4, 0, 13);  // 258 columns: input 1 starts misaligned
  }
}

TEST_CASE("GPU uint8 layers take the kernel that fits them in fewer waves", "[cuda]") {
  int device = 0, sms = 0, shared = 0, reserved = 0;
  REQUIRE(cudaGetDevice(&device) == cudaSuccess);
  REQUIRE(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) == cudaSuccess);
  REQUIRE(cudaDeviceGetAttribute(&shared, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device) ==
          cudaSuccess);
  REQUIRE(cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, device) ==
          cudaSuccess);
  // Both kernels take 64 KiB of shared memory per block: 3 resident blocks need a GPU with
  // about 200 KiB per multiprocessor (H100, H200); elsewhere the two kernels tie on waves.
  const bool three_fit = shared >= 3 * (65536 + reserved);
  // 2.5 blocks of 32 rows per multiprocessor: two waves of the streaming kernel (2 blocks per
  // multiprocessor), one of the resident kernel (3).
  const std::size_t tall_rows = 80 * std::size_t(sms);
  for (std::size_t cols : {100, 600}) {
    const auto tall =
        random_layer(tall_rows, cols, qins::CodeType::uint8, qins::AlphaGranularity::per_row, 0,
                     true, std::uint32_t(40 + cols));
    const qins::cuda::DeviceLinear gpu(tall);
    INFO(gpu.kernel(1));
    CHECK(gpu.kernel(1).find(three_fit ? "resident" : "streaming") != std::string::npos);
    check_products(tall, gpu, 1, 0, 41);
    check_products(tall, gpu, 1, 1, 47);  // misaligned input: scalar loads
    check_products(tall, gpu, 2, 0, 42);  // (batches: one kernel for every layer)
  }
  // 2 blocks per multiprocessor: one wave of either; the streaming kernel, which is faster.
  const auto shorter = random_layer(64 * std::size_t(sms), 600, qins::CodeType::uint8,
                                    qins::AlphaGranularity::per_row, 0, false, 43);
  const qins::cuda::DeviceLinear gpu(shorter);
  CHECK(gpu.kernel(1).find("streaming") != std::string::npos);
  check_products(shorter, gpu, 1, 0, 44);
  // Scales per group: one kernel, whatever the height.
  const auto grouped = random_layer(tall_rows, 640, qins::CodeType::uint8,
                                    qins::AlphaGranularity::per_group, 64, false, 45);
  const qins::cuda::DeviceLinear gpu_grouped(grouped);
  CHECK(gpu_grouped.kernel(1).find("per group") != std::string::npos);
  check_products(grouped, gpu_grouped, 1, 0, 46);
}

TEST_CASE("GPU products: zero inputs give the bias exactly, NaN inputs NaN outputs", "[cuda]") {
  for (auto type : {qins::CodeType::uint8, qins::CodeType::uint12, qins::CodeType::uint16}) {
    const auto host = random_layer(37, 129, type, qins::AlphaGranularity::per_row, 0, true, 21);
    const qins::cuda::DeviceLinear gpu(host);
    DeviceFloats zeros(std::vector<float>(129, 0.0f)), y(37);
    gpu.forward(zeros.get(), y.get());
    std::vector<float> out = y.read();
    for (std::size_t r = 0; r < 37; ++r) REQUIRE(out[r] == host.bias()[r]);

    std::vector<float> x = random_values(129, 3, 1.0);
    x[77] = std::nanf("");
    DeviceFloats dx(x);
    gpu.forward(dx.get(), y.get());
    out = y.read();
    for (float v : out) REQUIRE(std::isnan(v));
  }
}

TEST_CASE("GPU layers of no rows or no columns", "[cuda]") {
  const std::vector<float> none;
  qins::LinearOptions options;
  const qins::QinsLinear empty_rows(none.data(), 0, 8, options);
  const qins::cuda::DeviceLinear a(empty_rows);
  DeviceFloats x(8), y(1);
  a.forward(x.get(), y.get());  // nothing to do

  const std::vector<float> bias = {1.5f, -2.0f, 0.25f};
  const qins::QinsLinear no_cols(none.data(), 3, 0, options, bias.data());
  const qins::cuda::DeviceLinear b(no_cols);
  DeviceFloats out(3);
  b.forward(x.get(), out.get());
  REQUIRE(out.read() == bias);
  REQUIRE(b.device_bytes() == 3 * sizeof(float) + 256 * sizeof(float));  // bias, uint8 table
}

TEST_CASE("GPU layer memory: the codes at their true size plus the row padding", "[cuda]") {
  const auto u8 =
      random_layer(64, 4096, qins::CodeType::uint8, qins::AlphaGranularity::per_row, 0, false, 31);
  const auto u12 =
      random_layer(64, 4096, qins::CodeType::uint12, qins::AlphaGranularity::per_row, 0, false, 32);
  const auto u16 =
      random_layer(64, 100, qins::CodeType::uint16, qins::AlphaGranularity::per_row, 0, true, 33);
  // Codes + 64 scales (+ the 256-entry table for uint8).
  REQUIRE(qins::cuda::DeviceLinear(u8).device_bytes() == 64 * 4096 + 64 * 4 + 256 * 4);
  REQUIRE(qins::cuda::DeviceLinear(u12).device_bytes() == 64 * 6144 + 64 * 4);
  // 100 columns padded to 112 (7 chunks of 16 codes), plus scales and bias.
  const qins::cuda::DeviceLinear g16(u16);
  REQUIRE(g16.row_pitch() == 112 * 2);
  REQUIRE(g16.device_bytes() == 64 * 224 + 64 * 4 + 64 * 4);
}

TEST_CASE("GPU layer errors are qins::Errors with the reason", "[cuda]") {
  const auto host =
      random_layer(8, 32, qins::CodeType::uint8, qins::AlphaGranularity::per_row, 0, false, 41);
  const qins::cuda::DeviceLinear gpu(host);
  DeviceFloats x(32), y(8);
  std::vector<float> host_x(32), host_y(8);
  REQUIRE_THROWS_WITH(gpu.forward(host_x.data(), y.get()),
                      Catch::Contains("input is not in device memory"));
  REQUIRE_THROWS_WITH(gpu.forward(x.get(), host_y.data()),
                      Catch::Contains("output is not in device memory"));
  REQUIRE_THROWS_WITH(gpu.forward(nullptr, y.get()), Catch::Contains("null input"));
  REQUIRE_THROWS_WITH(gpu.forward(x.get(), x.get()), Catch::Contains("overlaps"));

  qins::LinearOptions z_values;
  z_values.quantize = false;
  const std::vector<float> w(16, 0.5f);
  const qins::QinsLinear unquantized(w.data(), 4, 4, z_values);
  REQUIRE_THROWS_WITH(qins::cuda::DeviceLinear(unquantized), Catch::Contains("has no codes"));

  // A failed CUDA call names the call and CUDA's message.
  REQUIRE_THROWS_WITH(qins::cuda::DeviceBuffer(std::size_t{1} << 62),
                      Catch::Contains("cudaMalloc") && Catch::Contains("CUDA error"));
}
