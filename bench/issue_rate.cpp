// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// How fast can this core issue the instructions of the GEMV decode, and how close do the
// kernels come? Prints, in core cycles (a chain of dependent integer adds is 1 cycle):
//   1. the issue rate of single instructions and of pairs (which ones share pipes),
//   2. the instruction mix of one step of the uint8 / uint16 GEMV (8 weights, one row),
//      as independent instructions: the floor for that mix on this core,
//   3. the real GEMV (QinsLinear::forward) with its codes in L2 and streamed from memory,
//      and Eigen's float32 GEMV on the same shape, in the same units.
// x86-64 with AVX2 + FMA only (GCC / Clang inline assembly). Not a test: a profile.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <qins/isa.hpp>
#include <qins/linear.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Seconds per core cycle: 8 dependent adds per iteration, one cycle each.
double seconds_per_cycle() {
  constexpr long kIterations = 400000;
  long v = 0;
  const double t0 = now();
  for (long i = 0; i < kIterations; ++i)
    asm volatile(
        "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
        "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
        : "+r"(v)
        :
        : "cc");
  return (now() - t0) / (8.0 * kIterations);
}

// Median over 21 runs of the cycles one of `calls` calls takes (run(calls) makes them);
// the clock is measured before and after each run (this shared machine changes speed).
template <class Run>
double median_cycles(Run&& run, long calls) {
  std::vector<double> runs;
  for (int rep = 0; rep < 21; ++rep) {
    const double before = seconds_per_cycle();
    const double t0 = now();
    run(calls);
    const double elapsed = now() - t0;
    runs.push_back(elapsed / ((before + seconds_per_cycle()) / 2) / double(calls));
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

// Instructions that write ymm<d> from the constant registers ymm12..ymm14; the FMAs also
// read ymm<d>, always a register written earlier in the same block by an instruction that
// does not read it, so no chain runs from one block to the next and only issue limits the
// rate. The constants are normal numbers (denormal operands could take slow paths).
#define QINS_FMA(d) "vfmadd231ps %%ymm12, %%ymm13, %%ymm" #d "\n\t"
#define QINS_FNMADD(d) "vfnmadd231ps %%ymm12, %%ymm13, %%ymm" #d "\n\t"
#define QINS_MUL(d) "vmulps %%ymm12, %%ymm13, %%ymm" #d "\n\t"
#define QINS_ADD(d) "vaddps %%ymm12, %%ymm13, %%ymm" #d "\n\t"
#define QINS_CVT(d) "vcvtdq2ps %%ymm12, %%ymm" #d "\n\t"
#define QINS_RCP(d) "vrcpps %%ymm12, %%ymm" #d "\n\t"
#define QINS_BLENDV(d) "vblendvps %%ymm12, %%ymm13, %%ymm14, %%ymm" #d "\n\t"
#define QINS_AND(d) "vandps %%ymm12, %%ymm13, %%ymm" #d "\n\t"
#define QINS_DIV(d) "vdivps %%ymm12, %%ymm13, %%ymm" #d "\n\t"
#define QINS_ZX8(d) "vpmovzxbd " #d "*8(%[codes]), %%ymm" #d "\n\t"    // 8 uint8 codes -> 8 int32
#define QINS_ZX16(d) "vpmovzxwd " #d "*16(%[codes]), %%ymm" #d "\n\t"  // 8 uint16 codes -> 8 int32
#define QINS_CLOBBER                                                                       \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
      "xmm11", "xmm12", "xmm13", "xmm14"

// Twelve instructions, each to its own register: A B A B ... (A and B must not read it).
#define QINS_PAIR(A, B) A(0) B(1) A(2) B(3) A(4) B(5) A(6) B(7) A(8) B(9) A(10) B(11)
// Twelve FMAs, each into the register written by the B just before it.
#define QINS_FMA_AFTER(B) \
  B(0)                    \
  QINS_FMA(0) B(2) QINS_FMA(2) B(4) QINS_FMA(4) B(6) QINS_FMA(6) B(8) QINS_FMA(8) B(10) QINS_FMA(10)
// Twelve FMAs alone: each register carries two per call (8 cycles), under the 12 of issue.
#define QINS_FMAS QINS_PAIR(QINS_FMA, QINS_FMA)
// One uint8 GEMV step as the kernel does it: widen, convert, subtract M/2, reciprocal, FMA
// (here into the reciprocal's register), blend x or -x, add into the sign sum. Twice, 14.
#define QINS_U8_STEP(a, b, c, d, e) \
  QINS_ZX8(a) QINS_CVT(b) QINS_ADD(c) QINS_RCP(d) QINS_FMA(d) QINS_BLENDV(e) QINS_ADD(a)
#define QINS_U8_MIX QINS_U8_STEP(0, 1, 2, 3, 4) QINS_U8_STEP(5, 6, 7, 8, 9)
// The uint16 step adds the Newton step of the reciprocal (fnmadd, mul). Twice, 18.
#define QINS_U16_STEP(a, b, c, d, e, f) \
  QINS_ZX16(a)                          \
  QINS_CVT(b)                           \
  QINS_ADD(c) QINS_RCP(d) QINS_FNMADD(d) QINS_MUL(e) QINS_FMA(e) QINS_BLENDV(f) QINS_ADD(a)
#define QINS_U16_MIX QINS_U16_STEP(0, 1, 2, 3, 4, 5) QINS_U16_STEP(6, 7, 8, 9, 10, 11)

alignas(64) unsigned char codes_buffer[256];
const float kConstants[3] = {1.5f, 0.75f, -2.0f};

struct Block {
  const char* name;
  int instructions;  // per call: the body twice
  int weights;       // GEMV weights per call, 0 for the single instructions and pairs
  void (*run)(long calls);
};

// `calls` runs of the body twice, the loop itself in assembly (calls >= 1).
#define QINS_BLOCK(name, body_instructions, body_weights, body)                \
  Block {                                                                      \
    name, 2 * (body_instructions), 2 * (body_weights), [](long calls) {        \
      asm volatile(                                                            \
          "vbroadcastss 0(%[k]), %%ymm12\n\tvbroadcastss 4(%[k]), %%ymm13\n\t" \
          "vbroadcastss 8(%[k]), %%ymm14\n\t"                                  \
          "1:\n\t" body body "dec %[n]\n\tjnz 1b\n\tvzeroupper\n\t"            \
          : [n] "+r"(calls)                                                    \
          : [codes] "r"(codes_buffer), [k] "r"(kConstants)                     \
          : QINS_CLOBBER, "cc", "memory");                                     \
    }                                                                          \
  }

void print_blocks() {
  const Block blocks[] = {
      QINS_BLOCK("vfmadd231ps", 12, 0, QINS_FMAS),
      QINS_BLOCK("vaddps", 12, 0, QINS_PAIR(QINS_ADD, QINS_ADD)),
      QINS_BLOCK("vrcpps", 12, 0, QINS_PAIR(QINS_RCP, QINS_RCP)),
      QINS_BLOCK("vblendvps", 12, 0, QINS_PAIR(QINS_BLENDV, QINS_BLENDV)),
      QINS_BLOCK("vcvtdq2ps", 12, 0, QINS_PAIR(QINS_CVT, QINS_CVT)),
      QINS_BLOCK("vpmovzxbd (memory)", 12, 0, QINS_PAIR(QINS_ZX8, QINS_ZX8)),
      QINS_BLOCK("vdivps", 12, 0, QINS_PAIR(QINS_DIV, QINS_DIV)),
      QINS_BLOCK("vmulps + vaddps", 12, 0, QINS_PAIR(QINS_MUL, QINS_ADD)),
      QINS_BLOCK("vblendvps + vaddps", 12, 0, QINS_PAIR(QINS_BLENDV, QINS_ADD)),
      QINS_BLOCK("vcvtdq2ps + vaddps", 12, 0, QINS_PAIR(QINS_CVT, QINS_ADD)),
      QINS_BLOCK("vfmadd231ps + vaddps", 12, 0, QINS_FMA_AFTER(QINS_ADD)),
      QINS_BLOCK("vfmadd231ps + vandps", 12, 0, QINS_FMA_AFTER(QINS_AND)),
      QINS_BLOCK("vfmadd231ps + vrcpps", 12, 0, QINS_FMA_AFTER(QINS_RCP)),
      QINS_BLOCK("vfmadd231ps + vblendvps", 12, 0, QINS_FMA_AFTER(QINS_BLENDV)),
      QINS_BLOCK("uint8 GEMV step, 7 per 8 weights", 14, 16, QINS_U8_MIX),
      QINS_BLOCK("uint16 GEMV step, 9 per 8 weights", 18, 16, QINS_U16_MIX),
  };
  std::printf("%-42s %10s %12s %18s\n", "independent instructions", "per cycle", "cycles/call",
              "cycles/16 weights");
  for (const Block& b : blocks) {
    const double cycles = median_cycles(b.run, 100000);
    std::printf("%-42s %10.2f %12.2f", b.name, b.instructions / cycles, cycles);
    if (b.weights != 0) std::printf(" %18.2f", cycles * 16.0 / b.weights);
    std::printf("\n");
  }
}

void print_gemv(qins::CodeType code, std::size_t rows, std::size_t cols, const char* where) {
  std::mt19937 gen(1);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(rows * cols), x(cols, 0.5f), y(rows);
  for (auto& v : w) v = normal(gen);
  qins::LinearOptions options;
  options.code_type = code;
  const qins::QinsLinear layer(w.data(), rows, cols, options);
  const long calls = std::max(1L, long(50000000 / (rows * cols)));
  const double cycles = median_cycles(
      [&](long n) {
        for (long i = 0; i < n; ++i) layer.forward(x.data(), y.data());
      },
      calls);
  std::printf("%-42s %10s %12.0f %18.2f\n",
              (std::string(code == qins::CodeType::uint8 ? "uint8" : "uint16") + " forward " +
               std::to_string(rows) + " x " + std::to_string(cols) + " (" + where + ")")
                  .c_str(),
              "", cycles, cycles * 16.0 / double(rows * cols));
}

// The baseline in the same units: Eigen's float32 GEMV (row-major W) on the same shape.
void print_eigen_gemv(std::size_t rows, std::size_t cols, const char* where) {
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMajor w = RowMajor::Random(Eigen::Index(rows), Eigen::Index(cols)) * 0.02f;
  const Eigen::VectorXf x = Eigen::VectorXf::Constant(Eigen::Index(cols), 0.5f);
  Eigen::VectorXf y = Eigen::VectorXf::Zero(static_cast<Eigen::Index>(rows));
  const long calls = std::max(1L, long(50000000 / (rows * cols)));
  const double cycles = median_cycles(
      [&](long n) {
        for (long i = 0; i < n; ++i) y.noalias() = w * x;
      },
      calls);
  std::printf("%-42s %10s %12.0f %18.2f\n",
              ("Eigen float32 GEMV " + std::to_string(rows) + " x " + std::to_string(cols) + " (" +
               where + ")")
                  .c_str(),
              "", cycles, cycles * 16.0 / double(rows * cols));
}

}  // namespace

int main() {
  if (!qins::is_supported(qins::Isa::avx2)) {
    std::puts("qins_issue_rate needs a CPU with AVX2 + FMA");
    return 0;
  }
  std::printf("kernels: %s; cycles = a chain of dependent integer adds; medians of 21 runs\n\n",
              qins::to_string(qins::active_isa()));
  print_blocks();
  std::puts("");
  print_gemv(qins::CodeType::uint8, 32, 4096, "codes in L2");
  print_gemv(qins::CodeType::uint8, 11008, 4096, "43 MB, from memory");
  print_gemv(qins::CodeType::uint16, 32, 4096, "codes in L2");
  print_gemv(qins::CodeType::uint16, 11008, 4096, "86 MB, from memory");
  print_eigen_gemv(11008, 4096, "172 MB, from memory");
  return 0;
}
