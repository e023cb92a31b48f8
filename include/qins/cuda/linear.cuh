// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// DeviceLinear: a QinsLinear's codes, scales and bias in GPU memory, with its products
// computed on the GPU straight from the codes. Include from CUDA C++ (nvcc, sm_90 or any
// other target of CUDA 12+).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// The host headers are plain C++ for the host compiler: Eigen (under QinsLinear) is used on
// the host only (EIGEN_NO_CUDA, unless the includer chose otherwise), and nvcc's front end
// is told not to warn about GCC's unroll pragma in the CPU kernels.
#ifndef EIGEN_NO_CUDA
#define EIGEN_NO_CUDA
#endif
#pragma nv_diagnostic push
#pragma nv_diag_suppress 1675
#include "../code_format.hpp"
#include "../error.hpp"
#include "../linear.hpp"
#include "../tensor.hpp"
#pragma nv_diagnostic pop

#include "detail/gemv.cuh"
#include "device_buffer.cuh"
#include "error.cuh"

namespace qins::cuda {

/// A linear layer on one GPU: y = W x + bias with W held as the QINS codes of a host
/// layer (uint8, uint12 or uint16; alpha per tensor, row or group).
///
/// Construction copies the codes (in the kernels' order, each row padded with code 0 to a
/// whole number of 16-code chunks), the scales (1/alpha), the bias and, for uint8, the
/// table of the 256 decoded values to the device that is current then, and picks the
/// kernels for its shape there (kernel() names them); products run there, on the caller's
/// stream, allocate nothing, and never build the float matrix. Inputs and outputs are
/// float32 in device memory (cudaMalloc or managed).
///
/// Accuracy: with w the exact weights (the scalar reference's decode) and y* = W x,
///     |y - y*| <= decode_error_bound() * sum_j (|w_j| + 1/alpha_j) |x_j|
///                + accumulation_error_bound() * sum_j |w_j x_j|  (+ 2^-24 |y| with a bias)
/// per output. uint8 reads each u = alpha w from a table of correctly rounded values; uint12
/// and uint16 compute it with one hardware reciprocal (at most 1 ulp off) and one fma. The
/// sums are float, at most 16 per lane per 512 columns, then a 5-level warp reduction.
/// NaN and infinite inputs propagate as in any float product.
///
/// Thread safety: a const DeviceLinear may be used from several host threads and streams
/// at once. Destroy it only after the work queued on it is done.
class DeviceLinear {
 public:
  /// An empty 0 x 0 layer with no device memory.
  DeviceLinear() = default;

  /// The layer of a host QinsLinear (its codes, scales and bias are copied once).
  /// @throws qins::Error as DeviceLinear(const QinsTensor&).
  explicit DeviceLinear(const QinsLinear& layer) : DeviceLinear(layer.tensor()) {}

  /// The layer of a stored tensor. @throws qins::Error (invalid_argument) for a tensor of
  /// float32 z values or plain floats (no codes), one too large for the kernels' 32-bit
  /// indices, or any CUDA failure (with CUDA's message).
  explicit DeviceLinear(const QinsTensor& tensor)
      : name_(tensor.name()),
        rows_(tensor.rows()),
        cols_(tensor.cols()),
        code_type_(tensor.code_type()),
        layout_(tensor.layout()),
        has_bias_(tensor.has_bias()) {
    if (!is_code_format(code_type_))
      throw Error(ErrorKind::invalid_argument,
                  std::string("a tensor of ") + to_string(code_type_) +
                      " has no codes: only uint8, uint12 and uint16 layers run on the GPU",
                  name_);
    constexpr std::size_t max_index = std::numeric_limits<int>::max() - 2 * detail::kChunk;
    if (rows_ > max_index || cols_ > max_index)
      throw Error(ErrorKind::invalid_argument,
                  "layer of " + std::to_string(rows_) + " x " + std::to_string(cols_) +
                      " is too large for the GPU kernels (at most " + std::to_string(max_index) +
                      " rows and columns)",
                  name_);
    check(cudaGetDevice(&device_), "cudaGetDevice", name_);
    const std::size_t chunks = (cols_ + detail::kChunk - 1) / detail::kChunk;
    pitch_ = chunks * stored_type_info(code_type_).row_bytes(detail::kChunk);
    span_ = tensor.segment_length();
    scale_stride_ = tensor.scale_stride();
    mode_ = span_ >= cols_               ? detail::ScaleMode::per_row
            : span_ % detail::kQuad == 0 ? detail::ScaleMode::per_quad
                                         : detail::ScaleMode::per_weight;

    if (rows_ > 0 && pitch_ > 0) upload_codes(tensor);
    upload(scales_, tensor.scales());
    upload(bias_, tensor.bias());
    if (code_type_ == CodeType::uint8) {
      resident_ =
          by_mode_value([this](auto mode) { return prefer_resident<decltype(mode)::value>(); });
      std::vector<float> table(detail::kTableEntries);
      for (std::uint32_t c = 0; c < table.size(); ++c)
        table[c] = qins::detail::scalar::decoded_times_alpha_ref<Uint8Codes, float>(c);
      upload(table_, table);
    }
  }

  std::size_t rows() const noexcept { return rows_; }  ///< output features
  std::size_t cols() const noexcept { return cols_; }  ///< input features
  CodeType code_type() const noexcept { return code_type_; }
  const AlphaLayout& layout() const noexcept { return layout_; }
  const std::string& name() const noexcept { return name_; }
  bool has_bias() const noexcept { return has_bias_; }
  /// The device the layer lives on (current at construction).
  int device() const noexcept { return device_; }

  /// Device memory held: codes (with their row padding), scales, bias and table.
  std::size_t device_bytes() const noexcept {
    return codes_.size() + scales_.size() + bias_.size() + table_.size();
  }
  /// Bytes of one device row of codes (whole 16-code chunks).
  std::size_t row_pitch() const noexcept { return pitch_; }

  /// Bound on the decode error, in units of |w| + 1/alpha (see the class comment): 2^-23
  /// for the uint8 table, 2^-21 for the reciprocal of uint12 and uint16.
  double decode_error_bound() const noexcept {
    return code_type_ == CodeType::uint8 ? 0x1p-23 : 0x1p-21;
  }
  /// Bound on the float sums' rounding, in units of sum |w x| (see the class comment).
  double accumulation_error_bound() const noexcept {
    const std::size_t sweeps = (cols_ + 32 * detail::kChunk - 1) / (32 * detail::kChunk);
    return double(2 * detail::kChunk * sweeps + 8) * 0x1p-24;
  }

  /// Which kernel forward_batch() runs for `batch` inputs, in words (for benchmarks and
  /// tests), e.g. "uint8, 4 rows per warp, streaming (2 blocks per multiprocessor)".
  std::string kernel(std::size_t batch) const {
    const std::string type = to_string(code_type_);
    if (batch <= 1 && code_type_ == CodeType::uint8 && mode_ != detail::ScaleMode::per_row)
      return type + ", 4 rows per warp, scales per group";
    if (batch <= 1 && code_type_ == CodeType::uint8)
      return type + ", 4 rows per warp, " +
             (resident_ ? "resident (3 blocks per multiprocessor)"
                        : "streaming (2 blocks per multiprocessor)");
    if (batch <= 1) return type + ", 2 rows per warp";
    const std::size_t n = std::min<std::size_t>(batch, detail::kMaxBatch);
    return type + ", 2 rows per warp, " +
           std::to_string(n <= 2   ? 2
                          : n <= 4 ? 4
                          : n <= 8 ? 8
                                   : 16) +
           " inputs per launch";
  }

  // ---- Products ----

  /// y = W x + bias on `stream`: x holds cols() floats and y receives rows() floats, both
  /// in device memory and not overlapping. Returns once the work is queued.
  /// @throws qins::Error (invalid_argument) for null, host or overlapping buffers, a
  /// device other than the layer's, or a launch failure (with CUDA's message).
  void forward(const float* x, float* y, cudaStream_t stream = nullptr) const {
    forward_batch(x, 1, y, stream);
  }

  /// Y = W X + bias for `batch` inputs on `stream`: input b is x[b * cols() ..), output b
  /// y[b * rows() ..). Each launch decodes W once for up to 16 inputs (larger batches take
  /// one launch per 16). @throws qins::Error as forward().
  void forward_batch(const float* x, std::size_t batch, float* y,
                     cudaStream_t stream = nullptr) const {
    if (rows_ == 0 || batch == 0) return;
    if (batch > std::numeric_limits<int>::max() / std::max<std::size_t>(rows_, cols_))
      throw Error(ErrorKind::invalid_argument, "batch size overflows", name_);
    check_buffer(x, cols_ * batch, "input");
    check_buffer(y, rows_ * batch, "output");
    const auto a = reinterpret_cast<std::uintptr_t>(x), b = reinterpret_cast<std::uintptr_t>(y);
    if (cols_ * batch > 0 && a < b + rows_ * batch * sizeof(float) &&
        b < a + cols_ * batch * sizeof(float))
      throw Error(ErrorKind::invalid_argument,
                  "the output overlaps the input: give y its own buffer", name_);
    int current = -1;
    check(cudaGetDevice(&current), "cudaGetDevice", name_);
    if (current != device_)
      throw Error(ErrorKind::invalid_argument,
                  "the layer lives on device " + std::to_string(device_) + " but device " +
                      std::to_string(current) + " is current",
                  name_);
    for (std::size_t b0 = 0; b0 < batch; b0 += detail::kMaxBatch) {
      const std::size_t n = std::min<std::size_t>(detail::kMaxBatch, batch - b0);
      launch(x + b0 * cols_, n, y + b0 * rows_, stream);
    }
  }

 private:
  template <class T>
  void upload(DeviceBuffer& buffer, const std::vector<T>& values) {
    if (values.empty()) return;
    buffer = DeviceBuffer(values.size() * sizeof(T));
    check(cudaMemcpy(buffer.data(), values.data(), buffer.size(), cudaMemcpyHostToDevice),
          "cudaMemcpy", name_);
  }

  // Whole 512-column tiles of a row that the kernels read interleaved: uint8 only. (uint12
  // and uint16 spend more on the decode than on the inputs' loads: on an H200 they measured
  // the same either way, within 1-3%.)
  std::size_t interleaved_tiles() const noexcept {
    return code_type_ == CodeType::uint8 ? cols_ / detail::kTileColumns : 0;
  }

  // The codes in the kernels' layout (detail/gemv.cuh): in each interleaved tile of 512
  // columns, quad i of chunk l (codes 4 i .. 4 i + 3) is the tile's quad 32 i + l; the rest
  // is copied as it is, then code 0 up to the pitch. A quad is row_bytes(4) bytes at a
  // multiple of them in every format (uint12: two 3-byte blocks), so this moves bytes only.
  // Rows go up in pieces of about 8 MiB.
  void upload_codes(const QinsTensor& tensor) {
    const StoredTypeInfo info = stored_type_info(code_type_);
    const std::size_t quad_bytes = info.row_bytes(detail::kQuad);
    const std::size_t tile_bytes = info.row_bytes(detail::kTileColumns);
    if (tile_bytes != quad_bytes * (detail::kTileColumns / detail::kQuad))
      throw Error(ErrorKind::invalid_argument, "a code format the GPU layout cannot hold", name_);
    const std::size_t tiles = interleaved_tiles(), quads = detail::kTileColumns / detail::kQuad;
    const std::size_t src_bytes = tensor.row_bytes();
    const std::size_t piece = std::max<std::size_t>(1, (std::size_t(8) << 20) / pitch_);
    codes_ = DeviceBuffer(rows_ * pitch_);
    std::vector<unsigned char> rows(std::min(piece, rows_) * pitch_);
    for (std::size_t r0 = 0; r0 < rows_; r0 += piece) {
      const std::size_t n = std::min(piece, rows_ - r0);
      std::fill(rows.begin(), rows.end(), 0);
      for (std::size_t r = 0; r < n; ++r) {
        const auto* src =
            reinterpret_cast<const unsigned char*>(tensor.code_bytes()) + (r0 + r) * src_bytes;
        unsigned char* dst = rows.data() + r * pitch_;
        for (std::size_t t = 0; t < tiles; ++t)
          for (std::size_t q = 0; q < quads; ++q)  // column-order quad q = 32 i + l
            std::memcpy(dst + t * tile_bytes + (4 * (q % 32) + q / 32) * quad_bytes,
                        src + t * tile_bytes + q * quad_bytes, quad_bytes);
        std::memcpy(dst + tiles * tile_bytes, src + tiles * tile_bytes,
                    src_bytes - tiles * tile_bytes);
      }
      check(cudaMemcpy(static_cast<unsigned char*>(codes_.data()) + r0 * pitch_, rows.data(),
                       n * pitch_, cudaMemcpyHostToDevice),
            "cudaMemcpy (codes)", name_);
    }
  }

  void check_buffer(const float* p, std::size_t n, const char* what) const {
    if (n == 0) return;
    if (!p)
      throw Error(ErrorKind::invalid_argument, std::string("null ") + what + " buffer", name_);
    cudaPointerAttributes attributes{};
    check(cudaPointerGetAttributes(&attributes, p), "cudaPointerGetAttributes", name_);
    if (attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged)
      throw Error(ErrorKind::invalid_argument,
                  std::string("the ") + what + " is not in device memory (give the GPU layer " +
                      "cudaMalloc'ed buffers)",
                  name_);
  }

  // One launch of up to kMaxBatch inputs: picks the kernel for the format, the scale mode
  // and the batch.
  void launch(const float* x, std::size_t batch, float* y, cudaStream_t stream) const {
    detail::GemvArgs a;
    a.codes = static_cast<const unsigned char*>(codes_.data());
    a.pitch = pitch_;
    a.rows = int(rows_);
    a.cols = int(cols_);
    a.whole_chunks = int(interleaved_tiles() * 32);
    a.scales = static_cast<const float*>(scales_.data());
    a.scale_stride = int(scale_stride_);
    a.span = int(std::max<std::size_t>(span_, 1));
    a.bias = static_cast<const float*>(bias_.data());
    a.table = static_cast<const float*>(table_.data());
    a.x = x;
    a.ldx = cols_;
    a.y = y;
    a.ldy = rows_;
    a.batch = int(batch);
    a.x_vector = reinterpret_cast<std::uintptr_t>(x) % 16 == 0 && cols_ % 4 == 0;
    by_mode_value([&](auto mode) {
      switch (code_type_) {
        case CodeType::uint8:
          return by_batch<8, true, decltype(mode)::value>(a, stream);
        case CodeType::uint12:
          return by_batch<12, false, decltype(mode)::value>(a, stream);
        default:
          return by_batch<16, false, decltype(mode)::value>(a, stream);
      }
    });
  }

  // f(std::integral_constant<ScaleMode, mode_>{}): the scale mode as a template argument.
  template <class F>
  auto by_mode_value(F&& f) const
      -> decltype(f(std::integral_constant<detail::ScaleMode, detail::ScaleMode::per_row>{})) {
    using detail::ScaleMode;
    switch (mode_) {
      case ScaleMode::per_row:
        return f(std::integral_constant<ScaleMode, ScaleMode::per_row>{});
      case ScaleMode::per_quad:
        return f(std::integral_constant<ScaleMode, ScaleMode::per_quad>{});
      default:
        return f(std::integral_constant<ScaleMode, ScaleMode::per_weight>{});
    }
  }

  // One input, as measured on an H200 (bench/README.md, "GPU"): uint8 4 rows per warp. The
  // streaming kernel decodes all 4 before the sums (the look-ups in flight together), with
  // the codes two chunks ahead and 2 blocks per multiprocessor; the resident one sums each
  // row as it is decoded and fits 3 blocks. The layer takes the resident one where that
  // puts all its blocks in fewer waves (resident_, see prefer_resident). uint12 and uint16:
  // 2 rows, each summed as it is decoded, uint16 with registers for 3 blocks. Batches: 2
  // rows per warp, so that the decoded rows and the sums leave registers for several warps.
  template <unsigned Bits, bool Table, detail::ScaleMode Mode>
  void by_batch(const detail::GemvArgs& a, cudaStream_t stream) const {
    if (a.batch == 1) {
      if constexpr (Bits == 8 && Mode == detail::ScaleMode::per_row) {
        if (resident_) return run<Bits, Table, 4, 1, Mode, false, 3, 1>(a, stream);
        return run<Bits, Table, 4, 1, Mode, true, 2, 2>(a, stream);
      }
      // (Scales per group need more registers: no cap, one chunk ahead.)
      if constexpr (Bits == 8) return run<Bits, Table, 4, 1, Mode, true, 1, 1>(a, stream);
      if constexpr (Bits == 12) return run<Bits, Table, 2, 1, Mode, false, 1>(a, stream);
      if constexpr (Bits == 16) return run<Bits, Table, 2, 1, Mode, false, 3>(a, stream);
    }
    if (a.batch == 2) return run<Bits, Table, 2, 2, Mode>(a, stream);
    if (a.batch <= 4) return run<Bits, Table, 2, 4, Mode>(a, stream);
    if (a.batch <= 8) return run<Bits, Table, 2, 8, Mode>(a, stream);
    return run<Bits, Table, 2, 16, Mode>(a, stream);
  }

  // Whether the resident uint8 kernel (3 blocks per multiprocessor) runs this layer's
  // blocks in fewer waves than the streaming one (2 blocks), on the current device. Both
  // take 32 rows per block. (Per-row scales only: with scales per group both would spill.)
  template <detail::ScaleMode Mode>
  bool prefer_resident() {
    if constexpr (Mode != detail::ScaleMode::per_row) {
      return false;
    } else {
      return fewer_waves(detail::gemv_kernel<8, true, 4, 1, Mode, false, 3, 1>,
                         detail::gemv_kernel<8, true, 4, 1, Mode, true, 2, 2>);
    }
  }

  // Whether `first`'s blocks (32 rows each, one input) fit this layer in fewer waves than
  // `second`'s.
  template <class Kernel>
  bool fewer_waves(Kernel first, Kernel second) {
    int sms = 0;
    check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device_),
          "cudaDeviceGetAttribute (multiprocessors)", name_);
    const std::size_t blocks = (rows_ + 4 * detail::kWarps - 1) / (4 * detail::kWarps);
    const auto waves = [&](auto kernel) {
      constexpr std::size_t shared = detail::shared_bytes<true, 1>();
      check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)),
            "cudaFuncSetAttribute (shared memory of the product)", name_);
      int per_sm = 0;
      check(
          cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, detail::kThreads, shared),
          "cudaOccupancyMaxActiveBlocksPerMultiprocessor", name_);
      const std::size_t slots = std::size_t(std::max(per_sm, 0)) * std::size_t(std::max(sms, 0));
      return slots ? (blocks + slots - 1) / slots : std::numeric_limits<std::size_t>::max();
    };
    return waves(first) < waves(second);
  }

  template <unsigned Bits, bool Table, int R, int B, detail::ScaleMode Mode, bool First = (B > 1),
            int MinBlocks = 1, int Depth = 1>
  void run(const detail::GemvArgs& a, cudaStream_t stream) const {
    const unsigned rows_per_block = detail::kWarps * R;
    const unsigned blocks = unsigned((rows_ + rows_per_block - 1) / rows_per_block);
    constexpr std::size_t shared = detail::shared_bytes<Table, B>();
    const auto kernel = detail::gemv_kernel<Bits, Table, R, B, Mode, First, MinBlocks, Depth>;
    if constexpr (shared > 48 * 1024)  // beyond the default: asked for on the current device
      check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)),
            "cudaFuncSetAttribute (shared memory of the product)", name_);
    kernel<<<blocks, detail::kThreads, shared, stream>>>(a);
    check(cudaGetLastError(), "launching the GPU product", name_);
  }

  std::string name_;
  std::size_t rows_ = 0, cols_ = 0;
  CodeType code_type_ = CodeType::uint8;
  AlphaLayout layout_;
  bool has_bias_ = false;
  int device_ = -1;
  std::size_t pitch_ = 0, span_ = 0, scale_stride_ = 0;
  detail::ScaleMode mode_ = detail::ScaleMode::per_row;
  bool resident_ = false;  ///< uint8, one input: the resident kernel (see by_batch)
  DeviceBuffer codes_, scales_, bias_, table_;
};

}  // namespace qins::cuda
