// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// How fast can this core issue the instructions of the GEMV decode, and how close do the
// kernels come? Prints, in core cycles (a chain of dependent integer adds is 1 cycle):
//   1. the issue rate of single instructions and of pairs (which ones share pipes),
//   2. the instruction mix of one step of the uint8 / uint16 GEMV (8 weights, one row),
//      as independent instructions: the floor for that mix on this core,
//   3. the real GEMV (QinsLinear::forward) with its codes in L2 and streamed from memory.
// x86-64 with AVX2 + FMA only (GCC / Clang inline assembly). Not a test: a profile.
#include <qins/isa.hpp>
#include <qins/linear.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Seconds per core cycle: 8 dependent adds per iteration, one cycle each.
double seconds_per_cycle() {
  constexpr long kIterations = 400000;
  long v = 0;
  const double t0 = now();
  for (long i = 0; i < kIterations; ++i)
    asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                 "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                 : "+r"(v));
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

// Instructions that write ymm<d> from the constant registers ymm12..ymm14 (FMAs also read
// ymm<d>): no dependencies between the instructions of a block, so only issue limits them.
// The constants are normal numbers (denormal operands could take slow paths).
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
#define QINS_CLOBBER \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14"

// Twelve instructions, each to its own register: A B A B ... (or A A ... with A == B).
#define QINS_PAIR(A, B) A(0) B(1) A(2) B(3) A(4) B(5) A(6) B(7) A(8) B(9) A(10) B(11)
// The uint8 GEMV step: widen, convert, subtract M/2, reciprocal, multiply-add into the
// x / d sum, blend x or -x, add into the sign sum. Twice, 14 instructions.
#define QINS_U8_STEP(a, b, c, d, e, f, g) QINS_ZX8(a) QINS_CVT(b) QINS_ADD(c) QINS_RCP(d) QINS_FMA(e) QINS_BLENDV(f) QINS_ADD(g)
#define QINS_U8_MIX QINS_U8_STEP(0, 1, 2, 3, 4, 5, 6) QINS_U8_STEP(7, 8, 9, 10, 11, 0, 1)
// The uint16 step adds the Newton step of the reciprocal (fnmadd, mul). Twice, 18.
#define QINS_U16_STEP(a, b, c, d, e, f, g, h, i) \
  QINS_ZX16(a) QINS_CVT(b) QINS_ADD(c) QINS_RCP(d) QINS_FNMADD(e) QINS_MUL(f) QINS_FMA(g) QINS_BLENDV(h) QINS_ADD(i)
#define QINS_U16_MIX QINS_U16_STEP(0, 1, 2, 3, 4, 5, 6, 7, 8) QINS_U16_STEP(9, 10, 11, 0, 1, 2, 3, 4, 5)

alignas(64) unsigned char codes_buffer[256];
const float kConstants[3] = {1.5f, 0.75f, -2.0f};

struct Block {
  const char* name;
  int instructions;  // per call: the body twice
  int weights;       // GEMV weights per call, 0 for the single instructions and pairs
  void (*run)(long calls);
};

// `calls` runs of the body twice, the loop itself in assembly (calls >= 1).
#define QINS_BLOCK(name, body_instructions, body_weights, body)                                             \
  Block {                                                                                                   \
    name, 2 * (body_instructions), 2 * (body_weights), [](long calls) {                                     \
      asm volatile("vbroadcastss 0(%[k]), %%ymm12\n\tvbroadcastss 4(%[k]), %%ymm13\n\t"                       \
                   "vbroadcastss 8(%[k]), %%ymm14\n\t"                                                       \
                   "1:\n\t" body body "dec %[n]\n\tjnz 1b\n\t"                                                \
                   : [n] "+r"(calls)                                                                        \
                   : [codes] "r"(codes_buffer), [k] "r"(kConstants)                                         \
                   : QINS_CLOBBER, "cc", "memory");                                                         \
    }                                                                                                       \
  }

void print_blocks() {
  const Block blocks[] = {
      QINS_BLOCK("vfmadd231ps", 12, 0, QINS_PAIR(QINS_FMA, QINS_FMA)),
      QINS_BLOCK("vaddps", 12, 0, QINS_PAIR(QINS_ADD, QINS_ADD)),
      QINS_BLOCK("vrcpps", 12, 0, QINS_PAIR(QINS_RCP, QINS_RCP)),
      QINS_BLOCK("vblendvps", 12, 0, QINS_PAIR(QINS_BLENDV, QINS_BLENDV)),
      QINS_BLOCK("vcvtdq2ps", 12, 0, QINS_PAIR(QINS_CVT, QINS_CVT)),
      QINS_BLOCK("vpmovzxbd (memory)", 12, 0, QINS_PAIR(QINS_ZX8, QINS_ZX8)),
      QINS_BLOCK("vdivps", 12, 0, QINS_PAIR(QINS_DIV, QINS_DIV)),
      QINS_BLOCK("vmulps + vaddps", 12, 0, QINS_PAIR(QINS_MUL, QINS_ADD)),
      QINS_BLOCK("vblendvps + vaddps", 12, 0, QINS_PAIR(QINS_BLENDV, QINS_ADD)),
      QINS_BLOCK("vcvtdq2ps + vaddps", 12, 0, QINS_PAIR(QINS_CVT, QINS_ADD)),
      QINS_BLOCK("vfmadd231ps + vaddps", 12, 0, QINS_PAIR(QINS_FMA, QINS_ADD)),
      QINS_BLOCK("vfmadd231ps + vandps", 12, 0, QINS_PAIR(QINS_FMA, QINS_AND)),
      QINS_BLOCK("vfmadd231ps + vrcpps", 12, 0, QINS_PAIR(QINS_FMA, QINS_RCP)),
      QINS_BLOCK("vfmadd231ps + vblendvps", 12, 0, QINS_PAIR(QINS_FMA, QINS_BLENDV)),
      QINS_BLOCK("uint8 GEMV step, 7 per 8 weights", 14, 16, QINS_U8_MIX),
      QINS_BLOCK("uint16 GEMV step, 9 per 8 weights", 18, 16, QINS_U16_MIX),
  };
  std::printf("%-42s %10s %12s %18s\n", "independent instructions", "per cycle", "cycles/call", "cycles/16 weights");
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
              (std::string(code == qins::CodeType::uint8 ? "uint8" : "uint16") + " forward " + std::to_string(rows) +
               " x " + std::to_string(cols) + " (" + where + ")")
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
  print_gemv(qins::CodeType::uint8, 4096, 4096, "from memory");
  print_gemv(qins::CodeType::uint16, 32, 4096, "codes in L2");
  print_gemv(qins::CodeType::uint16, 4096, 4096, "from memory");
  return 0;
}
