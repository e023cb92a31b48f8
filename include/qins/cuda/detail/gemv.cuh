// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The CUDA kernel behind DeviceLinear's products: y = W x (+ bias) for up to kMaxBatch
// inputs per launch, straight from the codes.
//
// Work split: a block is kWarps warps; each warp owns R consecutive rows and sweeps their
// columns in chunks of kChunk codes, lane l taking chunks l, l + 32, ... (consecutive
// lanes read consecutive bytes). A chunk's codes are loaded as 32-bit words with one or
// two vector loads (uint8: 16 bytes, uint12: 24, uint16: 32), the next one or two chunks'
// words are in flight while this one is decoded, and the inputs of a chunk are read once
// for all R rows (for batches, from shared memory, where the whole block stages them 512
// columns at a time). Each lane sums its chunks in float; a warp reduction then gives each
// row's sum, which the lane that owns it scales (per-row or per-tensor alpha), offsets by
// the bias and stores.
//
// Device layout of a row (see Quads): a chunk is four quads of 4 codes (4 consecutive
// columns). For uint8, in each whole tile of 32 chunks (512 columns) the quads are
// interleaved, quad i of the tile's chunk l holding columns 128 i + 4 l .. of the tile, so
// that the 32 lanes' inputs of one quad are 512 consecutive bytes (one coalesced load,
// where in column order they would be 16-byte pieces 64 bytes apart). The rest of a uint8
// row, and every uint12 and uint16 row, is in column order, padded with code 0 (which
// decodes to 0) to whole chunks.
//
// Decoding u = (M/2 - |d|) / d, d = code - M/2 (the scalar reference's closed form, times
// alpha), one of two ways:
// - uint8: u from a table of the 256 exact values in shared memory, 32 copies of it laid
//   out so that lane l always reads bank l (no bank conflicts for any codes); for one input
//   a look-up's address takes one byte permutation (see decode_u);
// - uint12 and uint16: with D = 2 code - M (an odd integer), u = M / D - sign(D), one
//   hardware reciprocal (rcp.approx, at most 1 ulp off) and one fma. D is built without an
//   int-to-float conversion: the float 2^23 + 2 code has the code in its mantissa.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace qins::cuda::detail {

inline constexpr int kWarps = 8;              ///< warps per block
inline constexpr int kThreads = 32 * kWarps;  ///< threads per block
inline constexpr int kChunk = 16;             ///< codes per lane per step
inline constexpr int kMaxBatch = 16;          ///< inputs per launch
inline constexpr int kTableCopies = 32;       ///< one per bank
inline constexpr int kTableEntries = 256;     ///< uint8 codes

/// How the scales (1/alpha) apply within a row.
enum class ScaleMode {
  per_row,     ///< one scale per row (per-row, per-tensor and fixed alpha): applied to the sum
  per_quad,    ///< groups of a multiple of 4 columns: applied to each quad's partial sum
  per_weight,  ///< any other group size: applied to each decoded weight
};

/// Columns of a tile: 32 chunks, one per lane.
inline constexpr int kTileColumns = 32 * kChunk;
/// Codes of a quad (4 consecutive columns), kChunk / kQuad quads per chunk.
inline constexpr int kQuad = 4;

/// Everything a launch reads and writes. Codes: row r at codes + r * pitch, kChunk-code
/// chunks of `chunk_bytes` bytes in the device layout (see Quads). Scales: weight (r,
/// c) has scales[r * scale_stride + c / span]. Input b is x + b * ldx, output b y + b * ldy.
struct GemvArgs {
  const unsigned char* codes = nullptr;
  std::size_t pitch = 0;
  int rows = 0, cols = 0;
  int whole_chunks = 0;  ///< chunks of a row in interleaved tiles (uint8: 32 (cols / 512))
  const float* scales = nullptr;
  int scale_stride = 0, span = 0;
  const float* bias = nullptr;   ///< rows floats, or null
  const float* table = nullptr;  ///< the 256 values of u, for the uint8 table decode
  const float* x = nullptr;
  std::size_t ldx = 0;
  float* y = nullptr;
  std::size_t ldy = 0;
  int batch = 0;          ///< inputs of this launch, 1 .. B
  bool x_vector = false;  ///< every input quad can be read as float4 (16-byte aligned)
};

/// The columns of chunk k (lane k % 32 of tile k / 32): in an interleaved tile (uint8
/// codes, Interleave) quad i starts at first + 128 i (columns 128 i + 4 l of the tile),
/// elsewhere at first + 4 i (column order, first = 16 k; without Interleave the stride is
/// a compile-time constant, so the loads' offsets are immediates).
template <bool Interleave>
struct Quads {
  bool interleaved;
  int first;
  bool whole;  ///< all 16 columns are in the row
  __device__ __forceinline__ Quads(const GemvArgs& a, int k)
      : interleaved(Interleave && k < a.whole_chunks),
        first(interleaved ? (k / 32) * kTileColumns + kQuad * (k % 32) : k * kChunk),
        whole(interleaved || (k + 1) * kChunk <= a.cols) {}
  __device__ __forceinline__ int column(int i) const {
    return first + (interleaved ? 32 * kQuad : kQuad) * i;
  }
};

/// Code j (0 .. kChunk - 1) of a chunk held as 32-bit little-endian words, shifted left by
/// one (2 code); for a compile-time j this is one or two shifts and a mask.
template <unsigned Bits, int J>
__device__ __forceinline__ unsigned twice_code(const unsigned* w) {
  constexpr unsigned bit = Bits * J, word = bit / 32, shift = bit % 32;
  constexpr unsigned mask = (1u << Bits) - 1;
  unsigned v;
  if constexpr (shift + Bits <= 32)
    v = w[word] >> shift;
  else
    v = __funnelshift_r(w[word], w[word + 1], shift);
  return (v & mask) << 1;
}

/// Reciprocal to within 1 ulp (PTX rcp.approx.ftz.f32: one MUFU instruction).
__device__ __forceinline__ float fast_reciprocal(float v) {
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
  return r;
}

/// u of code J of a chunk held as the words w: from the table (uint8) or the reciprocal.
/// The table's entry c for lane l is at table + row c + 4 l, in rows of 128 bytes (batches,
/// which keep their shared memory for the inputs: two instructions place the code) or, for
/// one input (Wide), of 256 bytes: then the offset 256 c | 4 l is one byte permutation of
/// the code's word and lane4 = 4 l, whose upper three bytes are zero.
template <unsigned Bits, bool Table, bool Wide, int J>
__device__ __forceinline__ float decode_u(const unsigned* w, unsigned table, unsigned lane4) {
  if constexpr (Table) {
    unsigned offset;
    if constexpr (Wide)  // bytes: lane4, code J, 0, 0
      offset = __byte_perm(w[J / 4], lane4, 0x5504u | (unsigned(J % 4) << 4));
    else
      offset = (twice_code<Bits, J>(w) << 6) + lane4;
    float u;
    asm volatile("ld.shared.f32 %0, [%1];" : "=f"(u) : "r"(table + offset));
    return u;
  } else {
    const unsigned code2 = twice_code<Bits, J>(w);
    constexpr float m = float((1u << Bits) - 1);
    // 2^23 + 2 code as a float, minus 2^23 + M: D = 2 code - M exactly.
    const float d = __uint_as_float(0x4B000000u | code2) - (8388608.0f + m);
    return fmaf(m, fast_reciprocal(d), -copysignf(1.0f, d));
  }
}

// Codes are read once per product: cache-streaming loads (evicted first).
__device__ __forceinline__ uint4 load_streaming(const uint4* p) { return __ldcs(p); }
__device__ __forceinline__ uint2 load_streaming(const uint2* p) { return __ldcs(p); }

/// The four lanes of a vector (uint4, float4) to out[0 .. 4).
template <class T, class Vector>
__device__ __forceinline__ void spread4(const Vector& v, T* out) {
  out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
}

template <unsigned Bits>
struct ChunkWords {
  static constexpr int count = int(Bits) * kChunk / 32;  // 8, 12 or 16 bytes / 4
  unsigned w[count];
  __device__ __forceinline__ void load(const unsigned char* p) {
    if constexpr (count % 4 == 0) {
#pragma unroll
      for (int i = 0; i < count / 4; ++i)
        spread4(load_streaming(reinterpret_cast<const uint4*>(p) + i), w + 4 * i);
    } else {
#pragma unroll
      for (int i = 0; i < count / 2; ++i) {
        const uint2 v = load_streaming(reinterpret_cast<const uint2*>(p) + i);
        w[2 * i] = v.x, w[2 * i + 1] = v.y;
      }
    }
  }
};

/// Decodes the kChunk codes of one chunk into u[0 .. kChunk).
template <unsigned Bits, bool Table, bool Wide, int... J>
__device__ __forceinline__ void decode_chunk(const unsigned* w, unsigned table, unsigned lane4,
                                             float* u, std::integer_sequence<int, J...>) {
  ((u[J] = decode_u<Bits, Table, Wide, J>(w, table, lane4)), ...);
}

/// The inputs of chunk k's columns of input b, quad by quad (zero past the last column).
template <bool Interleave>
__device__ __forceinline__ void load_inputs(const GemvArgs& a, int b, const Quads<Interleave>& q,
                                            float* v) {
  const float* x = a.x + b * a.ldx;
  if (a.x_vector && q.whole) {
#pragma unroll
    for (int i = 0; i < kChunk / kQuad; ++i)
      spread4(__ldg(reinterpret_cast<const float4*>(x + q.column(i))), v + kQuad * i);
  } else {
#pragma unroll
    for (int i = 0; i < kChunk / kQuad; ++i)
#pragma unroll
      for (int j = 0; j < kQuad; ++j) {
        const int c = q.column(i) + j;
        v[kQuad * i + j] = c < a.cols ? __ldg(x + c) : 0.0f;
      }
  }
}

/// The kChunk weights (times alpha, unless scaled per weight) of chunk k of row r.
template <unsigned Bits, bool Table, bool Wide, ScaleMode Scale, class Quads>
__device__ __forceinline__ void decode_row_chunk(const GemvArgs& a, const unsigned* w,
                                                 unsigned table, unsigned lane4, int r,
                                                 const Quads& q, float* u) {
  decode_chunk<Bits, Table, Wide>(w, table, lane4, u, std::make_integer_sequence<int, kChunk>{});
  if constexpr (Scale == ScaleMode::per_weight) {
    const float* s = a.scales + std::size_t(r) * a.scale_stride;
#pragma unroll
    for (int i = 0; i < kChunk / kQuad; ++i) {
      const int c = q.column(i);
#pragma unroll
      for (int j = 0; j < kQuad; ++j)
        u[kQuad * i + j] *= c + j < a.cols ? s[(c + j) / a.span] : 0.0f;
    }
  }
}

/// acc + sum_j u[j] v[j] over chunk k of row r, each quad's sum scaled first where groups
/// are whole quads.
template <ScaleMode Scale, class Quads>
__device__ __forceinline__ float add_chunk(const GemvArgs& a, const float* u, const float* v, int r,
                                           const Quads& q, float acc) {
  if constexpr (Scale == ScaleMode::per_quad) {
    const float* s = a.scales + std::size_t(r) * a.scale_stride;
#pragma unroll
    for (int i = 0; i < kChunk / kQuad; ++i) {
      float partial = 0.0f;
#pragma unroll
      for (int j = kQuad * i; j < kQuad * (i + 1); ++j) partial = fmaf(u[j], v[j], partial);
      // (A quad past the last column has no scale; its partial sum is 0.)
      if (const int c = q.column(i); c < a.cols) acc = fmaf(partial, s[c / a.span], acc);
    }
    return acc;
  } else {
#pragma unroll
    for (int j = 0; j < kChunk; ++j) acc = fmaf(u[j], v[j], acc);
    return acc;
  }
}

/// Floats from one entry of the uint8 table to the next: 32 copies, and for one input as
/// many unused floats after them (rows of 256 bytes, see decode_u).
template <int B>
inline constexpr int kTableRowFloats = B == 1 ? 2 * kTableCopies : kTableCopies;

/// Dynamic shared memory of a launch: the uint8 table, then for batches two buffers of
/// staged inputs.
template <bool Table, int B>
constexpr std::size_t shared_bytes() {
  return (Table ? sizeof(float) * kTableEntries * kTableRowFloats<B> : 0) +
         (B > 1 ? 2 * sizeof(float) * B * kTileColumns : 0);
}

/// The inputs of tile t (columns 512 t ..) of every input of the launch into `xs`, by the
/// whole block: quad i of input b's chunk of lane l at float4 xs[b * kTileColumns + 4 (32 i
/// + l)], so that the lanes of a warp read consecutive 16 bytes (no bank conflicts). In an
/// interleaved tile that is the inputs' own order.
__device__ __forceinline__ void stage_inputs(const GemvArgs& a, int t, float* xs) {
  const bool whole = 32 * t < a.whole_chunks;
  for (int idx = threadIdx.x; idx < a.batch * (kTileColumns / 4); idx += kThreads) {
    const int b = idx / (kTileColumns / 4), q = idx % (kTileColumns / 4);
    const int c = t * kTileColumns + 4 * q;  // quad q of the tile in column order
    const float* x = a.x + b * a.ldx + c;
    float4 v;
    if (a.x_vector && c < a.cols) {
      v = __ldg(reinterpret_cast<const float4*>(x));
    } else {
      v.x = c < a.cols ? __ldg(x) : 0.0f;
      v.y = c + 1 < a.cols ? __ldg(x + 1) : 0.0f;
      v.z = c + 2 < a.cols ? __ldg(x + 2) : 0.0f;
      v.w = c + 3 < a.cols ? __ldg(x + 3) : 0.0f;
    }
    // Column-order quad q is quad q % 4 of chunk q / 4 in the partial tile.
    reinterpret_cast<float4*>(xs + b * kTileColumns)[whole ? q : (q % 4) * 32 + q / 4] = v;
  }
}

/// y = W x (+ bias) for a.batch <= B inputs, R rows per warp; DecodeFirst: all R rows of a
/// chunk decoded before the sums (always for batches); registers limited to fit MinBlocks
/// blocks per multiprocessor; the codes of the next Depth chunks in flight. Batches read
/// their inputs from shared memory, staged by the whole block 512 columns at a time (each
/// input read from L2 once per block, not once per warp). Launch with kThreads threads and
/// shared_bytes<Table, B>() of dynamic shared memory.
template <unsigned Bits, bool Table, int R, int B, ScaleMode Scale, bool DecodeFirst = (B > 1),
          int MinBlocks = 1, int Depth = 1>
__global__ void __launch_bounds__(kThreads, MinBlocks) gemv_kernel(const GemvArgs a) {
  constexpr bool staged = B > 1;
  static_assert(R * B <= 32, "one lane stores each sum");
  extern __shared__ float shared[];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int r0 = (blockIdx.x * kWarps + warp) * R;
  // Rows past the end repeat the last row (their sums are never stored).
  const unsigned char* row[R];
#pragma unroll
  for (int r = 0; r < R; ++r) row[r] = a.codes + std::size_t(min(r0 + r, a.rows - 1)) * a.pitch;
  float acc[R][B] = {};
  constexpr int chunk_bytes = int(Bits) * kChunk / 8;
  const int chunks = (a.cols + kChunk - 1) / kChunk;
  // The first Depth chunks' codes are on their way while the block fills its table.
  ChunkWords<Bits> next[Depth][R];
#pragma unroll
  for (int d = 0; d < Depth; ++d)
    if (lane + 32 * d < chunks)
#pragma unroll
      for (int r = 0; r < R; ++r)
        next[d][r].load(row[r] + std::size_t(lane + 32 * d) * chunk_bytes);
  const unsigned lane4 = lane * sizeof(float);
  unsigned table = 0;  // shared-memory address of the table
  float* staging = shared;
  if constexpr (Table) {
    constexpr int entry = kTableRowFloats<B>;
    // Thread t writes entry t's 32 copies, copy j to bank (t + j) % 32: no bank conflicts.
    for (int e = threadIdx.x; e < kTableEntries; e += kThreads) {
      const float v = a.table[e];
#pragma unroll
      for (int j = 0; j < kTableCopies; ++j) shared[e * entry + (e + j) % kTableCopies] = v;
    }
    __syncthreads();
    table = unsigned(__cvta_generic_to_shared(shared));
    staging = shared + kTableEntries * entry;
  }
  // Warps past the last row stay for the block's synchronisation when inputs are staged.
  if (!staged && r0 >= a.rows) return;
  // Chunk k of this lane's rows, with the codes of chunk k + 32 Depth loaded meanwhile; xs: the
  // staged inputs of its tile (batches).
  const auto step = [&](int k, const float* xs) {
    ChunkWords<Bits> cur[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      cur[r] = next[0][r];
#pragma unroll
      for (int d = 0; d + 1 < Depth; ++d) next[d][r] = next[d + 1][r];
    }
    if (k + 32 * Depth < chunks)
#pragma unroll
      for (int r = 0; r < R; ++r)
        next[Depth - 1][r].load(row[r] + std::size_t(k + 32 * Depth) * chunk_bytes);
    const Quads<Bits == 8> q(a, k);
    if constexpr (!DecodeFirst) {  // (one input) the inputs first, then each row decoded and
                                   // summed at once
      float v[kChunk];
      load_inputs(a, 0, q, v);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float u[kChunk];
        decode_row_chunk<Bits, Table, !staged, Scale>(a, cur[r].w, table, lane4,
                                                      min(r0 + r, a.rows - 1), q, u);
        acc[r][0] = add_chunk<Scale>(a, u, v, min(r0 + r, a.rows - 1), q, acc[r][0]);
      }
    } else {  // every row decoded once, then each input read once for all of them
      float u[R][kChunk];
#pragma unroll
      for (int r = 0; r < R; ++r)
        decode_row_chunk<Bits, Table, !staged, Scale>(a, cur[r].w, table, lane4,
                                                      min(r0 + r, a.rows - 1), q, u[r]);
#pragma unroll
      for (int b = 0; b < B; ++b) {
        if (b >= a.batch) break;
        float v[kChunk];
        if constexpr (staged) {
          const float4* in = reinterpret_cast<const float4*>(xs + b * kTileColumns) + lane;
#pragma unroll
          for (int i = 0; i < kChunk / 4; ++i) spread4(in[32 * i], v + 4 * i);
        } else {
          load_inputs(a, b, q, v);
        }
#pragma unroll
        for (int r = 0; r < R; ++r)
          acc[r][b] = add_chunk<Scale>(a, u[r], v, min(r0 + r, a.rows - 1), q, acc[r][b]);
      }
    }
  };
  if constexpr (staged) {
    for (int k0 = 0, tile = 0; k0 < chunks; k0 += 32, ++tile) {
      // One barrier per tile: the buffer written here was last read two tiles ago.
      float* const xs = staging + (tile % 2) * B * kTileColumns;
      stage_inputs(a, tile, xs);
      __syncthreads();
      if (k0 + lane < chunks) step(k0 + lane, xs);
    }
    if (r0 >= a.rows) return;
  } else if constexpr (Depth == 1) {
    for (int k = lane; k < chunks; k += 32) step(k, nullptr);
  } else {  // unrolled Depth times, so that the chunks in flight stay in their registers
#pragma unroll Depth
    for (int k = lane; k < chunks; k += 32) step(k, nullptr);
  }
  // Warp sums; lane r * B + b ends up storing row r0 + r of output b.
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int b = 0; b < B; ++b) {
      float s = acc[r][b];
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2) s += __shfl_xor_sync(0xffffffffu, s, offset);
      acc[r][b] = s;
    }
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int b = 0; b < B; ++b) {
      if (lane != (r * B + b) % 32 || b >= a.batch || r0 + r >= a.rows) continue;
      float out = acc[r][b];
      if (Scale == ScaleMode::per_row && a.cols > 0)
        out *= a.scales[std::size_t(r0 + r) * a.scale_stride];
      if (a.bias) out += a.bias[r0 + r];
      a.y[b * a.ldy + r0 + r] = out;
    }
}

}  // namespace qins::cuda::detail
