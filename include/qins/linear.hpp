// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// QinsLinear: a linear layer's weights held as QINS codes, multiplied without ever
// materialising the float matrix. The only public header that needs Eigen.
#pragma once

#include <Eigen/Core>

#include <algorithm>
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

#include "code_traits.hpp"
#include "detail/aligned_buffer.hpp"
#include "detail/dispatch.hpp"
#include "detail/validate.hpp"
#include "error.hpp"
#include "matrix.hpp"
#include "thread_pool.hpp"

namespace qins {

/// What a QinsLinear stores per weight.
enum class CodeType : std::uint8_t {
  uint8 = 1,    ///< 8-bit codes, 1 byte per weight
  uint16 = 2,   ///< 16-bit codes, 2 bytes per weight
  float32 = 3,  ///< unquantized z values, 4 bytes per weight: for validation only
};

inline const char* to_string(CodeType t) noexcept {
  switch (t) {
    case CodeType::uint8: return "uint8";
    case CodeType::uint16: return "uint16";
    case CodeType::float32: return "float32";
  }
  return "unknown";
}

/// Bytes per stored weight (0 for an unknown value).
inline std::size_t bytes_per_weight(CodeType t) noexcept {
  switch (t) {
    case CodeType::uint8: return 1;
    case CodeType::uint16: return 2;
    case CodeType::float32: return 4;
  }
  return 0;
}

/// How a QinsLinear is built from float weights.
struct LinearOptions {
  CodeType code_type = CodeType::uint8;  ///< uint8 or uint16 (the code width when quantizing)
  AlphaGranularity granularity = AlphaGranularity::per_row;
  std::size_t group_size = 32;  ///< weights per alpha for per_group; must divide cols
  bool calibrate = true;        ///< pick each alpha by calibrate_alpha (not for fixed)
  double alpha = 1.0;           ///< the alpha of fixed, and of every slot when not calibrating
  /// false keeps the float z values (4 bytes per weight) with the same alphas: the error
  /// of the codec alone, for validation. Products then decode with a division per weight.
  bool quantize = true;
  std::string name;  ///< the tensor's name, used in errors and files
};

/// The bytes a QinsLinear holds, from what it allocated (or maps).
struct LinearMemory {
  std::size_t code_bytes = 0;   ///< codes (or float z values)
  std::size_t scale_bytes = 0;  ///< one float 1/alpha per alpha slot
  std::size_t bias_bytes = 0;   ///< one float per output, if there is a bias
  std::size_t total() const noexcept { return code_bytes + scale_bytes + bias_bytes; }
};

/// A rows x cols weight matrix (rows = output features) stored as QINS codes, with an
/// optional bias.
///
/// Storage: one contiguous, 64-byte-aligned, row-major buffer of codes, plus one decode
/// scale (1/alpha) per alpha slot and the bias. Nothing else: memory() reports exactly
/// these buffers.
///
/// Products: forward() (one input vector, GEMV) decodes each code with the hardware's
/// fast reciprocal (refined by one Newton step for 16-bit codes) and applies 1/alpha once
/// per row or group: each weight it uses differs from the exact decode w by at most
/// fast_decode_error(code_type()) * (|w| + 1/alpha): at most 4.7% of the local code step
/// for uint8 (measured: 2.6%) and 3.3% for uint16 (measured: 0.5%), far below the
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
/// Thread safety: a const QinsLinear may be used from several threads at once.
class QinsLinear {
 public:
  /// Error bound of a weight decoded by forward(), in units of |w| + 1/alpha: the
  /// reciprocal's relative error (AVX2: 1.5 * 2^-12 = 3.7e-4; after a Newton step for
  /// uint16: ~2^-22), times (M/2) / |d| = alpha |w| + 1. Exact (0) for float32 z values.
  static constexpr double fast_decode_error(CodeType code) noexcept {
    return code == CodeType::uint8 ? 3.7e-4 : code == CodeType::uint16 ? 1e-6 : 0.0;
  }

  /// An empty 0 x 0 layer.
  QinsLinear() = default;

  /// Quantizes a row-major rows x cols float matrix, with an optional bias of `rows`
  /// floats. @throws qins::Error for invalid options (code type, alpha, group size that
  /// does not divide cols), a NaN or infinite weight or bias value (naming its row and
  /// column), or rows * cols overflowing.
  QinsLinear(const float* weights, std::size_t rows, std::size_t cols,
             const LinearOptions& options = {}, const float* bias = nullptr) {
    build(weights, rows, cols, options, bias);
  }

  /// Quantizes any Eigen matrix expression (copied to row-major first if needed).
  template <class Derived>
  explicit QinsLinear(const Eigen::MatrixBase<Derived>& weights, const LinearOptions& options = {}) {
    const RowMajorMatrix w = weights;
    build(w.data(), static_cast<std::size_t>(w.rows()), static_cast<std::size_t>(w.cols()), options,
          nullptr);
  }

  /// Quantizes an Eigen matrix and keeps a bias of rows() floats.
  template <class Derived, class BiasDerived>
  QinsLinear(const Eigen::MatrixBase<Derived>& weights, const Eigen::MatrixBase<BiasDerived>& bias,
             const LinearOptions& options = {}) {
    const RowMajorMatrix w = weights;
    const Eigen::VectorXf b = bias;
    if (b.size() != w.rows())
      throw Error(ErrorKind::size_mismatch,
                  "bias has " + std::to_string(b.size()) + " values for " + std::to_string(w.rows()) + " rows",
                  options.name);
    build(w.data(), static_cast<std::size_t>(w.rows()), static_cast<std::size_t>(w.cols()), options,
          b.data());
  }

  /// Assembles a layer from stored parts (what io.hpp loads): `codes` holds rows * cols
  /// values of `code_type`, `scales` one 1/alpha per slot of `layout`, `bias` is empty or
  /// has `rows` values. @throws qins::Error naming what does not fit: sizes, layout, a
  /// scale that is not finite and > 0, a non-finite bias.
  static QinsLinear from_parts(std::string name, std::size_t rows, std::size_t cols, CodeType code_type,
                               const AlphaLayout& layout, detail::SharedBytes codes,
                               std::vector<float> scales, std::vector<float> bias) {
    QinsLinear q;
    q.name_ = std::move(name);
    check_shape(rows, cols, code_type, q.name_);
    layout.validate(cols, q.name_);
    if (codes.size() != rows * cols * bytes_per_weight(code_type))
      throw Error(ErrorKind::size_mismatch, "code buffer has " + std::to_string(codes.size()) +
                                                " bytes, the shape needs " +
                                                std::to_string(rows * cols * bytes_per_weight(code_type)),
                  q.name_);
    if (rows * cols != 0 && scales.size() != layout.count(rows, cols))
      throw Error(ErrorKind::size_mismatch, "expected " + std::to_string(layout.count(rows, cols)) +
                                                " scales, got " + std::to_string(scales.size()),
                  q.name_);
    // A scale must be finite and > 0, and for codes small enough that the largest decoded
    // magnitude (M - 1) * scale stays finite: the bound the constructor puts on alpha.
    const float largest = code_type == CodeType::uint8    ? float(max_decoded_magnitude_times_alpha<std::uint8_t>())
                          : code_type == CodeType::uint16 ? float(max_decoded_magnitude_times_alpha<std::uint16_t>())
                                                          : 1.0f;
    for (std::size_t i = 0; i < scales.size(); ++i)
      if (!detail::is_finite_bits(scales[i]) || !(scales[i] > 0.0f) || !detail::is_finite_bits(largest * scales[i]))
        throw Error(ErrorKind::bad_file,
                    "scale (1/alpha) " + std::to_string(scales[i]) + " of alpha slot " + std::to_string(i) +
                        " must be finite, > 0 and keep decoded weights finite",
                    q.name_, layout.granularity == AlphaGranularity::per_row ? i : Error::npos);
    if (!bias.empty() && bias.size() != rows)
      throw Error(ErrorKind::size_mismatch, "bias has " + std::to_string(bias.size()) + " values for " +
                                                std::to_string(rows) + " rows",
                  q.name_);
    for (std::size_t i = 0; i < bias.size(); ++i)
      if (!detail::is_finite_bits(bias[i]))
        throw Error(ErrorKind::non_finite_value, "non-finite bias", q.name_, i);
    if (code_type == CodeType::float32) check_z_values(codes, rows, cols, q.name_);
    q.rows_ = rows;
    q.cols_ = cols;
    q.code_type_ = code_type;
    q.layout_ = layout;
    q.codes_ = std::move(codes);
    q.scales_ = std::move(scales);
    q.bias_ = std::move(bias);
    return q;
  }

  std::size_t rows() const noexcept { return rows_; }  ///< output features
  std::size_t cols() const noexcept { return cols_; }  ///< input features
  CodeType code_type() const noexcept { return code_type_; }
  const AlphaLayout& layout() const noexcept { return layout_; }
  const std::string& name() const noexcept { return name_; }
  bool has_bias() const noexcept { return !bias_.empty(); }
  const std::vector<float>& bias() const noexcept { return bias_; }
  /// Decode scales, 1/alpha, one per alpha slot (layout().count(rows(), cols())).
  const std::vector<float>& scales() const noexcept { return scales_; }
  /// The stored codes (or float z values), row-major, 64-byte aligned unless mapped.
  const std::byte* code_bytes() const noexcept { return codes_.data(); }
  /// True when the codes are a view into a memory-mapped file.
  bool is_mapped() const noexcept { return codes_.is_view(); }

  /// Exactly the bytes held: codes, scales and bias.
  LinearMemory memory() const noexcept {
    return {codes_.size(), scales_.size() * sizeof(float), bias_.size() * sizeof(float)};
  }
  std::size_t memory_bytes() const noexcept { return memory().total(); }

  // ---- Products ----

  /// y = W x + bias for one input: x has cols() floats, y receives rows() floats (they
  /// must not overlap). With a pool, rows are split over its threads.
  void forward(const float* x, float* y, ThreadPool* pool = nullptr) const {
    detail::check_pointers(x, x, cols_);
    detail::check_pointers(y, y, rows_);
    if (rows_ == 0) return;
    const std::size_t chunks = (rows_ + kGemvChunkRows - 1) / kGemvChunkRows;
    run_chunks(pool, chunks, [&](std::size_t c) {
      const std::size_t r0 = c * kGemvChunkRows, r1 = std::min(rows_, r0 + kGemvChunkRows);
      gemv_rows(r0, r1, x, y + r0);
    });
    add_bias(y, 1);
  }

  /// Y = W X + bias for a batch: input b is x[b * cols() .. (b + 1) * cols()), output b
  /// goes to y[b * rows() ..). Each tile of W is decoded once per call for up to 64 inputs.
  void forward_batch(const float* x, std::size_t batch, float* y, ThreadPool* pool = nullptr) const {
    constexpr std::size_t max_size = std::numeric_limits<std::size_t>::max();
    // (The packed copy of a large batch holds cols x batch floats, rounded up.)
    if (batch != 0 && (batch > max_size / 2 || cols_ > max_size / sizeof(float) / (batch + 64) ||
                       rows_ > max_size / batch))
      throw Error(ErrorKind::invalid_argument, "batch size overflows", name_);
    detail::check_pointers(x, x, cols_ * batch);
    detail::check_pointers(y, y, rows_ * batch);
    if (batch == 1) return forward(x, y, pool);
    if (rows_ == 0 || batch == 0) return;
    std::fill(y, y + rows_ * batch, 0.0f);
    const std::size_t chunks = (rows_ + kGemmChunkRows - 1) / kGemmChunkRows;
    auto chunk_rows = [&](std::size_t c) {
      return std::pair<std::size_t, std::size_t>(c * kGemmChunkRows, std::min(rows_, (c + 1) * kGemmChunkRows));
    };
    if (code_type_ == CodeType::float32) {
      run_chunks(pool, chunks, [&](std::size_t c) { gemm_z_rows(chunk_rows(c), x, batch, y); });
    } else {
      // One kernel table for the whole call: large batches are packed once, in its
      // layout, for every thread (see the kernels' gemm).
      detail::with_kernels<float>([&](auto k) {
        const std::size_t packed_size = k.packed_inputs_size(cols_, batch);
        std::unique_ptr<float, AlignedDelete> packed(  // aligned for full-vector loads; every float written
            packed_size ? static_cast<float*>(::operator new(packed_size * sizeof(float),
                                                             std::align_val_t(detail::kBufferAlignment)))
                        : nullptr);
        if (packed) k.pack_inputs(x, cols_, batch, cols_, packed.get());
        run_chunks(pool, chunks, [&](std::size_t c) { gemm_code_rows(k, chunk_rows(c), x, packed.get(), batch, y); });
      });
    }
    add_bias(y, batch);
  }

  /// y = W x + bias for an Eigen vector (or expression) of cols() values.
  Eigen::VectorXf forward(const Eigen::Ref<const Eigen::VectorXf>& x, ThreadPool* pool = nullptr) const {
    check_input_size(static_cast<std::size_t>(x.size()));
    Eigen::VectorXf y(static_cast<Eigen::Index>(rows_));
    forward(x.data(), y.data(), pool);
    return y;
  }

  /// Y = W X + bias for a cols() x batch matrix (one input per column).
  Eigen::MatrixXf forward_batch(const Eigen::Ref<const Eigen::MatrixXf>& x, ThreadPool* pool = nullptr) const {
    check_input_size(static_cast<std::size_t>(x.rows()));
    const Eigen::MatrixXf contiguous = x;  // Ref may carry an outer stride
    Eigen::MatrixXf y(static_cast<Eigen::Index>(rows_), x.cols());
    forward_batch(contiguous.data(), static_cast<std::size_t>(x.cols()), y.data(), pool);
    return y;
  }

  /// The float weights (rows() x cols(), row-major), for users who want them.
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> decode() const {
    RowMajorMatrix w(static_cast<Eigen::Index>(rows_), static_cast<Eigen::Index>(cols_));
    const bool stream = rows_ * cols_ * sizeof(float) >= detail::kStreamingOutputBytes;
    for (std::size_t r = 0; r < rows_; ++r) decode_row_into(r, w.data() + r * cols_, stream);
    if (stream) detail::finish_streaming();
    return w;
  }

  /// Decodes row r (cols() floats) into out, exactly as decode() does.
  void decode_row(std::size_t r, float* out) const { decode_row_into(r, out, false); }

 private:
  void decode_row_into(std::size_t r, float* out, bool stream) const {
    if (r >= rows_) throw Error(ErrorKind::invalid_argument, "row out of range", name_, r);
    const std::size_t span = segment_length();
    for (std::size_t s0 = 0, g = 0; s0 < cols_; s0 += span, ++g) {
      const float scale = scales_[r * scale_stride() + g];
      switch (code_type_) {
        case CodeType::uint8: decode_segment<std::uint8_t>(r, s0, span, scale, out + s0, stream); break;
        case CodeType::uint16: decode_segment<std::uint16_t>(r, s0, span, scale, out + s0, stream); break;
        case CodeType::float32: decode_z_segment(r, s0, span, scale, out + s0); break;
      }
    }
  }


  using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  struct AlignedDelete {
    void operator()(float* p) const noexcept { ::operator delete(p, std::align_val_t(detail::kBufferAlignment)); }
  };
  static constexpr std::size_t kGemvChunkRows = 64;   // a multiple of the 4-row block
  static constexpr std::size_t kGemmChunkRows = 96;   // a multiple of the 16- and 24-row tiles

  static void check_shape(std::size_t rows, std::size_t cols, CodeType code_type, const std::string& name) {
    if (bytes_per_weight(code_type) == 0)
      throw Error(ErrorKind::invalid_argument, "unknown code type", name);
    if (cols != 0 && rows > std::numeric_limits<std::size_t>::max() / 4 / cols)
      throw Error(ErrorKind::invalid_argument, "rows * cols overflows", name);
  }

  void build(const float* weights, std::size_t rows, std::size_t cols, const LinearOptions& options,
             const float* bias) {
    name_ = options.name;
    if (options.code_type != CodeType::uint8 && options.code_type != CodeType::uint16)
      throw Error(ErrorKind::invalid_argument, "code_type must be uint8 or uint16", name_);
    check_shape(rows, cols, options.code_type, name_);
    QuantizeOptions q;
    q.granularity = options.granularity;
    q.group_size = options.group_size;
    q.calibrate = options.calibrate;
    q.alpha = options.alpha;
    q.tensor_name = options.name;
    const AlphaLayout layout = q.layout();
    layout.validate(cols, name_);
    const std::size_t n = rows * cols;
    std::vector<float> alphas(n == 0 ? 0 : layout.count(rows, cols));
    const CodeType stored = options.quantize ? options.code_type : CodeType::float32;
    detail::SharedBytes codes = detail::SharedBytes::allocate(n * bytes_per_weight(stored));
    std::byte* out = codes.mutable_data();
    // The alphas come from quantizing to the requested codes even when they are not
    // kept, so that quantize = false differs from quantize = true by quantization alone.
    auto quantize_to = [&](auto code_tag, void* dst) {
      using Code = decltype(code_tag);
      quantize_matrix(weights, rows, cols, q, static_cast<Code*>(dst), alphas.data());
    };
    std::vector<std::byte> discarded;
    void* code_dst = out;
    if (!options.quantize) {
      discarded.resize(n * bytes_per_weight(options.code_type));
      code_dst = discarded.data();
    }
    if (options.code_type == CodeType::uint8) quantize_to(std::uint8_t{}, code_dst);
    else quantize_to(std::uint16_t{}, code_dst);
    std::vector<float> scales(alphas.size());
    for (std::size_t i = 0; i < alphas.size(); ++i) scales[i] = 1.0f / alphas[i];
    if (!options.quantize) encode_z(weights, rows, cols, layout, alphas, reinterpret_cast<float*>(out));
    std::vector<float> bias_values;
    if (bias) {
      bias_values.assign(bias, bias + rows);
      for (std::size_t i = 0; i < rows; ++i)
        if (!detail::is_finite_bits(bias[i])) throw Error(ErrorKind::non_finite_value, "non-finite bias", name_, i);
    }
    rows_ = rows;
    cols_ = cols;
    code_type_ = stored;
    layout_ = layout;
    codes_ = std::move(codes);
    scales_ = std::move(scales);
    bias_ = std::move(bias_values);
  }

  void encode_z(const float* w, std::size_t rows, std::size_t cols, const AlphaLayout& layout,
                const std::vector<float>& alphas, float* z) const {
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) {
        z[r * cols + c] = detail::scalar::encode_ref(w[r * cols + c], alphas[layout.index(r, c, cols)]);
        if (z[r * cols + c] == 0.0f)  // alpha |x| overflowed: z = 0 has no inverse
          throw Error(ErrorKind::invalid_argument, "alpha * |x| overflows", name_, r, c);
      }
  }

  static void check_z_values(const detail::SharedBytes& codes, std::size_t rows, std::size_t cols,
                             const std::string& name) {
    for (std::size_t i = 0; i < rows * cols; ++i) {
      float z;
      std::memcpy(&z, codes.data() + i * sizeof z, sizeof z);
      if (!(std::fabs(z) > 0.0f && std::fabs(z) <= 1.0f) || !detail::is_finite_bits(z))
        throw Error(ErrorKind::bad_file, "stored z value outside 0 < |z| <= 1", name, i / cols, i % cols);
    }
  }

  void check_input_size(std::size_t n) const {
    if (n != cols_)
      throw Error(ErrorKind::size_mismatch,
                  "input has " + std::to_string(n) + " values, the layer takes " + std::to_string(cols_), name_);
  }

  std::size_t segment_length() const noexcept { return layout_.span(cols_); }
  std::size_t scale_stride() const noexcept {
    switch (layout_.granularity) {
      case AlphaGranularity::per_row: return 1;
      case AlphaGranularity::per_group: return cols_ / layout_.group_size;
      default: return 0;
    }
  }

  template <class Code>
  detail::CodeMatrixView<Code> view() const noexcept {
    detail::CodeMatrixView<Code> v;
    v.codes = reinterpret_cast<const Code*>(codes_.data());
    v.rows = rows_;
    v.cols = cols_;
    v.scales = scales_.data();
    v.scale_stride = scale_stride();
    v.span = segment_length();
    return v;
  }

  template <class Chunk>
  static void run_chunks(ThreadPool* pool, std::size_t chunks, Chunk&& chunk) {
    if (pool) pool->parallel_for(chunks, chunk);
    else
      for (std::size_t c = 0; c < chunks; ++c) chunk(c);
  }

  void gemv_rows(std::size_t r0, std::size_t r1, const float* x, float* y) const {
    switch (code_type_) {
      case CodeType::uint8:
        return detail::with_kernels<float>([&](auto k) { k.gemv(view<std::uint8_t>().rows_from(r0, r1), x, y); });
      case CodeType::uint16:
        return detail::with_kernels<float>([&](auto k) { k.gemv(view<std::uint16_t>().rows_from(r0, r1), x, y); });
      case CodeType::float32: {
        thread_local std::vector<float> row;
        row.resize(cols_);
        for (std::size_t r = r0; r < r1; ++r) {
          decode_row(r, row.data());
          float acc[8] = {};  // eight independent chains instead of one long one
          std::size_t c = 0;
          for (; c + 8 <= cols_; c += 8)
            for (std::size_t l = 0; l < 8; ++l) acc[l] += row[c + l] * x[c + l];
          for (; c < cols_; ++c) acc[0] += row[c] * x[c];
          y[r - r0] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        }
        return;
      }
    }
  }

  // Rows [r0, r1) of every output in the batch; y is the whole batch's output.
  void gemm_z_rows(std::pair<std::size_t, std::size_t> rows, const float* x, std::size_t batch, float* y) const {
    const auto [r0, r1] = rows;
    std::vector<float> out(r1 - r0);
    for (std::size_t b = 0; b < batch; ++b) {
      gemv_rows(r0, r1, x + b * cols_, out.data());
      for (std::size_t r = r0; r < r1; ++r) y[b * rows_ + r] += out[r - r0];
    }
  }

  // The same for codes, with kernels k; `packed`: the inputs as k.pack_inputs lays them
  // out, or null.
  template <class Kernels>
  void gemm_code_rows(Kernels k, std::pair<std::size_t, std::size_t> rows, const float* x, const float* packed,
                      std::size_t batch, float* y) const {
    const auto [r0, r1] = rows;
    thread_local std::vector<float> scratch(detail::scalar::kGemmScratchFloats);
    if (code_type_ == CodeType::uint8)
      k.template gemm<std::uint8_t>(view<std::uint8_t>().rows_from(r0, r1), x, cols_, batch, y + r0, rows_,
                                    scratch.data(), packed);
    else
      k.template gemm<std::uint16_t>(view<std::uint16_t>().rows_from(r0, r1), x, cols_, batch, y + r0, rows_,
                                     scratch.data(), packed);
  }

  void add_bias(float* y, std::size_t batch) const {
    if (bias_.empty()) return;
    for (std::size_t b = 0; b < batch; ++b)
      for (std::size_t r = 0; r < rows_; ++r) y[b * rows_ + r] += bias_[r];
  }

  template <class Code>
  void decode_segment(std::size_t r, std::size_t s0, std::size_t len, float scale, float* out, bool stream) const {
    const Code* codes = reinterpret_cast<const Code*>(codes_.data()) + r * cols_ + s0;
    detail::with_kernels<float>([&](auto k) { k.template dequantize_decode<Code>(codes, out, len, scale, stream); });
  }

  // z -> x with the stored scale 1/alpha: x = sign(z) (1 - |z|) / |z| * (1/alpha), the
  // float-domain decode with alpha = 1 (exact: 1 * |z|) followed by the scale.
  void decode_z_segment(std::size_t r, std::size_t s0, std::size_t len, float scale, float* out) const {
    const float* z = reinterpret_cast<const float*>(codes_.data()) + r * cols_ + s0;
    detail::with_kernels<float>([&](auto k) { k.decode(z, out, len, 1.0f); });
    for (std::size_t i = 0; i < len; ++i) out[i] *= scale;
  }

  std::size_t rows_ = 0, cols_ = 0;
  CodeType code_type_ = CodeType::uint8;
  AlphaLayout layout_{AlphaGranularity::per_row, 0};
  std::string name_;
  detail::SharedBytes codes_;
  std::vector<float> scales_;
  std::vector<float> bias_;
};

}  // namespace qins
