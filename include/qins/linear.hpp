// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// QinsLinear: a linear layer's weights held as QINS codes (a QinsTensor), multiplied
// without ever materialising the float matrix. The only public header that needs Eigen.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "code_format.hpp"
#include "detail/aligned_buffer.hpp"
#include "detail/decode_table.hpp"
#include "detail/dispatch.hpp"
#include "detail/validate.hpp"
#include "error.hpp"
#include "matrix.hpp"
#include "tensor.hpp"
#include "thread_pool.hpp"

namespace qins {

/// How the products of a QinsLinear may treat their inputs.
enum class ProductMode {
  /// The fastest path of the CPU. On AVX-512 VBMI + VNNI CPUs (Isa::avx512_vnni), forward()
  /// of a uint8 layer rounds x to 13-bit integers per block of up to 256 columns and sums in
  /// int32 (QinsLinear::input_rounding() says by how much), and so does forward_batch() on
  /// AMX CPUs (Isa::avx512_amx); elsewhere the same as float_inputs.
  fast,
  /// x is used as given: the float kernels on every path.
  float_inputs,
};

/// A linear layer: a QinsTensor (codes, scales, layout, bias; see tensor.hpp) with its
/// products, y = W x + bias.
///
/// Products: forward() (one input vector, GEMV) decodes each code with the hardware's
/// fast reciprocal (refined by one Newton step for 16-bit codes, and for 12-bit codes on
/// AVX2) and applies 1/alpha once per row or group: each weight it uses differs from the
/// exact decode w by at most decode_error_bound() * (|w| + 1/alpha), a bound each kernel
/// path states for itself: AVX2 1.5 * 2^-12 = 3.7e-4 for uint8 (4.7% of the local code
/// step; measured 2.6%), AVX-512 2^-14 for uint8 and uint12 (12.5% of a 12-bit step), 1e-6
/// after a Newton step (uint16: 3.3% of its step; measured 0.5%), far below the
/// format's own rounding error of up to half a step (tests/test_linear.cpp). The zero
/// codes (0 and M) are no exception: in products they contribute about 3.7e-4 / alpha
/// times their input (uint8) instead of exactly 0; decode() returns exact zeros.
/// forward() and batches of 2 or 3 sum the closed form in two parts, (M/2) x / d and
/// sign(d) x, so their float rounding is relative to sum (|w| + 1/alpha) |x| rather
/// than sum |w x|. forward_batch() from 4 inputs on decodes tiles of the matrix the same
/// way, once per call for up to 64 inputs, and reuses them for the whole batch; from 8
/// inputs on it first copies the batch into an interleaved layout (a temporary of
/// cols x batch floats, rounded up to the vector width). All are deterministic: the
/// result of a row does not depend on the thread count or on which other rows are
/// computed with it.
///
/// The uint8 GEMV (and batches of 2 or 3: one GEMV per input) on Isa::avx512_vnni
/// (ProductMode::fast, the default) is integer arithmetic instead (detail/decode_table.hpp):
/// each weight is read from a 15-bit fixed-point table of the 256 decoded values, scaled to
/// the largest one the layer holds (decode_error_bound() = 1 / (2 S), typically 1e-4 to
/// 4e-3 of 1/alpha), and each input is rounded to a multiple of max |x| / 4095 over its
/// block (input_rounding()); the block sums are exact in int32. The error this adds to y
/// is measured in bench/README.md (relative 1e-4 to 3e-4 of |W x| on trained weights).
/// On Isa::avx512_amx, forward_batch() of a uint8 layer from 4 inputs on is the same
/// integer arithmetic (the same table, each input rounded as forward() rounds it, the
/// same bounds) as AMX-INT8 tile multiplies: each product P q is four byte products
/// summed exactly in int32 tiles of 16 rows x 16 inputs (detail/kernels/avx512_amx.hpp);
/// an input's result equals forward()'s up to the order of float sums.
/// Inputs with a NaN or infinity (in a batch: any input), and per-group layouts whose
/// groups are not whole multiples of 64 columns, take the float path.
/// set_product_mode(ProductMode::float_inputs) keeps x exact.
///
/// A layer of unquantized float32 z values (LinearOptions::quantize = false, for
/// validation) has no products: decode() it and multiply.
///
/// Thread safety: a const QinsLinear may be used from several threads at once.
class QinsLinear {
 public:
  /// An empty 0 x 0 layer.
  QinsLinear() = default;

  /// The layer of a stored tensor (from io.hpp's load(), say).
  explicit QinsLinear(QinsTensor tensor) : tensor_(std::move(tensor)) { build_table(); }

  /// Quantizes a row-major rows x cols float matrix, with an optional bias of `rows`
  /// floats. @throws qins::Error as QinsTensor::quantize.
  QinsLinear(const float* weights, std::size_t rows, std::size_t cols,
             const LinearOptions& options = {}, const float* bias = nullptr)
      : tensor_(QinsTensor::quantize(weights, rows, cols, options, bias)) {
    build_table();
  }

  /// Quantizes any Eigen matrix expression (copied to row-major first if needed).
  template <class Derived>
  explicit QinsLinear(const Eigen::MatrixBase<Derived>& weights,
                      const LinearOptions& options = {}) {
    const RowMajorMatrix w = weights;
    tensor_ = QinsTensor::quantize(w.data(), static_cast<std::size_t>(w.rows()),
                                   static_cast<std::size_t>(w.cols()), options);
    build_table();
  }

  /// Quantizes an Eigen matrix and keeps a bias of rows() floats.
  template <class Derived, class BiasDerived>
  QinsLinear(const Eigen::MatrixBase<Derived>& weights, const Eigen::MatrixBase<BiasDerived>& bias,
             const LinearOptions& options = {}) {
    const RowMajorMatrix w = weights;
    const Eigen::VectorXf b = bias;
    if (b.size() != w.rows())
      throw Error(ErrorKind::size_mismatch,
                  "bias has " + std::to_string(b.size()) + " values for " +
                      std::to_string(w.rows()) + " rows",
                  options.name);
    tensor_ = QinsTensor::quantize(w.data(), static_cast<std::size_t>(w.rows()),
                                   static_cast<std::size_t>(w.cols()), options, b.data());
    build_table();
  }

  /// Assembles a layer from stored parts. @throws qins::Error as QinsTensor::from_parts.
  static QinsLinear from_parts(std::string name, std::size_t rows, std::size_t cols,
                               CodeType code_type, const AlphaLayout& layout,
                               detail::SharedBytes codes, std::vector<float> scales,
                               std::vector<float> bias) {
    return QinsLinear(QinsTensor::from_parts(std::move(name), rows, cols, code_type, layout,
                                             std::move(codes), std::move(scales), std::move(bias)));
  }

  /// The stored tensor.
  const QinsTensor& tensor() const noexcept { return tensor_; }
  std::size_t rows() const noexcept { return tensor_.rows(); }  ///< output features
  std::size_t cols() const noexcept { return tensor_.cols(); }  ///< input features
  CodeType code_type() const noexcept { return tensor_.code_type(); }
  const AlphaLayout& layout() const noexcept { return tensor_.layout(); }
  const std::string& name() const noexcept { return tensor_.name(); }
  void set_name(std::string name) { tensor_.set_name(std::move(name)); }
  bool has_bias() const noexcept { return tensor_.has_bias(); }
  const std::vector<float>& bias() const noexcept { return tensor_.bias(); }
  const std::vector<float>& scales() const noexcept { return tensor_.scales(); }
  const std::byte* code_bytes() const noexcept { return tensor_.code_bytes(); }
  bool is_mapped() const noexcept { return tensor_.is_mapped(); }
  TensorMemory memory() const noexcept { return tensor_.memory(); }
  std::size_t memory_bytes() const noexcept { return tensor_.memory_bytes(); }

  /// The bound on the decode error of the products on the active path, in units of
  /// |w| + 1/alpha (see the class comment); 0 for float32 z values (no products).
  double decode_error_bound() const {
    if (!is_code_format(code_type())) return 0.0;
    if (uses_table()) return table_->weight_error + 0x1p-21;  // the table, then 4 roundings
    return visit_code_format(code_type(), [](auto f) {
      return detail::with_kernels<float>(
          [](auto k) { return k.template decode_error_bound<decltype(f)>(); });
    });
  }

  /// How much forward() (and forward_batch() of 4 or more inputs on Isa::avx512_amx) may
  /// round an input on the active path, in units of the largest |x| of its block of
  /// columns (at most 256, never across an alpha segment): 1 / 8190 on the integer uint8
  /// products (see the class comment), 0 where x is used as given.
  double input_rounding() const {
    return uses_table() ? detail::RoundedInputs::kRelativeRounding : 0.0;
  }

  /// Chooses how the products treat their inputs (default ProductMode::fast). Not
  /// thread-safe against products running on this layer.
  void set_product_mode(ProductMode mode) noexcept { mode_ = mode; }
  ProductMode product_mode() const noexcept { return mode_; }

  // ---- Products ----

  /// y = W x + bias for one input: x has cols() floats, y receives rows() floats (they
  /// must not overlap). With a pool, rows are split over its threads.
  /// @throws qins::Error for a layer of float32 z values, null buffers, or x and y that
  /// overlap (y would overwrite inputs still to be read).
  void forward(const float* x, float* y, ThreadPool* pool = nullptr) const {
    detail::check_pointers(x, x, cols());
    detail::check_pointers(y, y, rows());
    check_disjoint(x, cols(), y, rows());
    check_has_products();
    if (rows() == 0) return;
    const std::size_t chunks = (rows() + kGemvChunkRows - 1) / kGemvChunkRows;
    visit_code_format(code_type(), [&](auto f) {
      using Format = decltype(f);
      const auto w = tensor_.view<Format>();
      detail::with_kernels<float>([&](auto k) {
        using Kernels = decltype(k);
        if constexpr (detail::has_table_gemv<Kernels, Format>::value) {
          detail::RoundedInputs in;
          if (table_ && mode_ == ProductMode::fast && in.round(x, cols(), w.span)) {
            run_chunks(pool, chunks, [&](std::size_t c) {
              const std::size_t r0 = c * kGemvChunkRows, r1 = std::min(rows(), r0 + kGemvChunkRows);
              Kernels::table_gemv(w.rows_from(r0, r1), *table_, in, y + r0);
            });
            return;
          }
        }
        run_chunks(pool, chunks, [&](std::size_t c) {
          const std::size_t r0 = c * kGemvChunkRows, r1 = std::min(rows(), r0 + kGemvChunkRows);
          k.gemv(w.rows_from(r0, r1), x, y + r0);
        });
      });
    });
    add_bias(y, 1);
  }

  /// Y = W X + bias for a batch: input b is x[b * cols() .. (b + 1) * cols()), output b
  /// goes to y[b * rows() ..). Each tile of W is decoded once per call for up to 64 inputs.
  /// @throws qins::Error as forward().
  void forward_batch(const float* x, std::size_t batch, float* y,
                     ThreadPool* pool = nullptr) const {
    constexpr std::size_t max_size = std::numeric_limits<std::size_t>::max();
    // (The packed copy of a large batch holds cols x batch floats, rounded up.)
    if (batch != 0 && (batch > max_size / 2 || cols() > max_size / sizeof(float) / (batch + 64) ||
                       rows() > max_size / batch))
      throw Error(ErrorKind::invalid_argument, "batch size overflows", name());
    detail::check_pointers(x, x, cols() * batch);
    detail::check_pointers(y, y, rows() * batch);
    check_disjoint(x, cols() * batch, y, rows() * batch);
    check_has_products();
    if (batch == 1) return forward(x, y, pool);
    if (rows() == 0 || batch == 0) return;
    // From 4 inputs on, tile products where the CPU has them; below, 2 or 3 inputs run the
    // integer GEMV each (faster per input than tiles, and than the fused float kernel:
    // bench/README.md).
    if (batch >= kTableBatchLimit && uses_table() && table_gemm(x, batch, y, pool))
      return add_bias(y, batch);
    if (batch < kTableBatchLimit && uses_table()) {
      for (std::size_t b = 0; b < batch; ++b) forward(x + b * cols(), y + b * rows(), pool);
      return;
    }
    std::fill(y, y + rows() * batch, 0.0f);
    const std::size_t chunks = (rows() + kGemmChunkRows - 1) / kGemmChunkRows;
    // One kernel table for the whole call: large batches are packed once, in its layout,
    // for every thread (see the kernels' gemm).
    visit_code_format(code_type(), [&](auto f) {
      using Format = decltype(f);
      const auto w = tensor_.view<Format>();
      detail::with_kernels<float>([&](auto k) {
        const std::size_t packed_size = k.packed_inputs_size(cols(), batch);
        std::unique_ptr<float, AlignedDelete>
            packed(  // aligned for full-vector loads; every float written
                packed_size
                    ? static_cast<float*>(::operator new(
                          packed_size * sizeof(float), std::align_val_t(detail::kBufferAlignment)))
                    : nullptr);
        if (packed) k.pack_inputs(x, cols(), batch, cols(), packed.get());
        run_chunks(pool, chunks, [&](std::size_t c) {
          const std::size_t r0 = c * kGemmChunkRows, r1 = std::min(rows(), r0 + kGemmChunkRows);
          thread_local std::vector<float> scratch(detail::scalar::kGemmScratchFloats);
          k.template gemm<Format>(w.rows_from(r0, r1), x, cols(), batch, y + r0, rows(),
                                  scratch.data(), packed.get());
        });
      });
    });
    add_bias(y, batch);
  }

  /// y = W x + bias for an Eigen vector (or expression) of cols() values.
  Eigen::VectorXf forward(const Eigen::Ref<const Eigen::VectorXf>& x,
                          ThreadPool* pool = nullptr) const {
    check_input_size(static_cast<std::size_t>(x.size()));
    Eigen::VectorXf y(static_cast<Eigen::Index>(rows()));
    forward(x.data(), y.data(), pool);
    return y;
  }

  /// Y = W X + bias for a cols() x batch matrix (one input per column).
  Eigen::MatrixXf forward_batch(const Eigen::Ref<const Eigen::MatrixXf>& x,
                                ThreadPool* pool = nullptr) const {
    check_input_size(static_cast<std::size_t>(x.rows()));
    const Eigen::MatrixXf contiguous = x;  // Ref may carry an outer stride
    Eigen::MatrixXf y(static_cast<Eigen::Index>(rows()), x.cols());
    forward_batch(contiguous.data(), static_cast<std::size_t>(x.cols()), y.data(), pool);
    return y;
  }

  /// The float weights (rows() x cols(), row-major), for users who want them.
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> decode() const {
    RowMajorMatrix w(static_cast<Eigen::Index>(rows()), static_cast<Eigen::Index>(cols()));
    const bool stream = rows() * cols() * sizeof(float) >= detail::kStreamingOutputBytes;
    for (std::size_t r = 0; r < rows(); ++r) tensor_.decode_row(r, w.data() + r * cols(), stream);
    if (stream) detail::finish_streaming();
    return w;
  }

  /// Decodes row r (cols() floats) into out, exactly as decode() does.
  void decode_row(std::size_t r, float* out) const { tensor_.decode_row(r, out); }

 private:
  using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  struct AlignedDelete {
    void operator()(float* p) const noexcept {
      ::operator delete(p, std::align_val_t(detail::kBufferAlignment));
    }
  };
  static constexpr std::size_t kGemvChunkRows = 64;   // a multiple of the 4-row block
  static constexpr std::size_t kGemmChunkRows = 96;   // a multiple of the 16- and 24-row tiles
  static constexpr std::size_t kTableBatchLimit = 4;  // the kernels' first tiled batch

  // The integer uint8 GEMV's table, built where a CPU can use it and the layout suits it
  // (one scan of the codes).
  void build_table() {
    table_.reset();
    if (code_type() != CodeType::uint8 || !is_supported(Isa::avx512_vnni)) return;
    const auto w = tensor_.view<Uint8Codes>();
    if (!detail::RoundedInputs::supports(cols(), w.span)) return;
    table_ = std::make_shared<const detail::Uint8DecodeTable>(
        detail::Uint8DecodeTable::for_codes(code_bytes(), rows() * w.row_bytes));
  }

  bool uses_table() const noexcept {
    return table_ && mode_ == ProductMode::fast &&
           static_cast<int>(active_isa()) >= static_cast<int>(Isa::avx512_vnni);
  }

  // Y = W X through the table on a path with tile products (Isa::avx512_amx): false,
  // leaving Y alone, on other paths and for a batch with a NaN or infinity.
  bool table_gemm(const float* x, std::size_t batch, float* y, ThreadPool* pool) const {
    bool done = false;
    detail::with_kernels<float>([&](auto k) {
      using Kernels = decltype(k);
      if constexpr (detail::has_table_gemm<Kernels, Uint8Codes>::value) {
        const auto w = tensor_.view<Uint8Codes>();
        // Rounded and laid out 16 inputs (one tile) per task.
        detail::TileInputs packed;
        packed.reset(cols(), w.span, batch);
        std::atomic<bool> finite{true};
        run_chunks(pool, packed.input_tiles, [&](std::size_t t) {
          thread_local detail::RoundedInputs in;
          constexpr std::size_t n = detail::TileInputs::kInputs;
          for (std::size_t b = t * n; b < batch && b < t * n + n; ++b) {
            if (in.round(x + b * cols(), cols(), w.span))
              packed.pack(b, in);
            else
              finite = false;
          }
        });
        if (!finite) return;
        std::fill(y, y + rows() * batch, 0.0f);
        const std::size_t chunks = (rows() + kGemmChunkRows - 1) / kGemmChunkRows;
        run_chunks(pool, chunks, [&](std::size_t c) {
          const std::size_t r0 = c * kGemmChunkRows, r1 = std::min(rows(), r0 + kGemmChunkRows);
          thread_local std::vector<std::byte, detail::AlignedAllocator<std::byte>> scratch;
          scratch.resize(Kernels::table_gemm_scratch_bytes(packed));
          Kernels::table_gemm(w.rows_from(r0, r1), *table_, packed, y + r0, rows(), scratch.data());
        });
        done = true;
      }
    });
    return done;
  }

  void check_has_products() const {
    if (!is_code_format(code_type()))
      throw Error(ErrorKind::invalid_argument,
                  std::string("a layer of ") + to_string(code_type()) +
                      " z values (quantize = false, for validation) has no products: decode() it "
                      "and multiply",
                  name());
  }

  void check_disjoint(const float* x, std::size_t nx, const float* y, std::size_t ny) const {
    const auto a = reinterpret_cast<std::uintptr_t>(x), b = reinterpret_cast<std::uintptr_t>(y);
    if (nx != 0 && ny != 0 && a < b + ny * sizeof(float) && b < a + nx * sizeof(float))
      throw Error(ErrorKind::invalid_argument,
                  "the output overlaps the input: give y its own buffer", name());
  }

  void check_input_size(std::size_t n) const {
    if (n != cols())
      throw Error(
          ErrorKind::size_mismatch,
          "input has " + std::to_string(n) + " values, the layer takes " + std::to_string(cols()),
          name());
  }

  template <class Chunk>
  static void run_chunks(ThreadPool* pool, std::size_t chunks, Chunk&& chunk) {
    if (pool)
      pool->parallel_for(chunks, chunk);
    else
      for (std::size_t c = 0; c < chunks; ++c) chunk(c);
  }

  void add_bias(float* y, std::size_t batch) const {
    if (!has_bias()) return;
    const std::vector<float>& b = bias();
    for (std::size_t i = 0; i < batch; ++i)
      for (std::size_t r = 0; r < rows(); ++r) y[i * rows() + r] += b[r];
  }

  QinsTensor tensor_;
  std::shared_ptr<const detail::Uint8DecodeTable> table_;
  ProductMode mode_ = ProductMode::fast;
};

}  // namespace qins
