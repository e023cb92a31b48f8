// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The consumer projects' program: compress a matrix with QinsLinear and check its products against
// Eigen.
#include <cstdio>
#include <qins/qins.hpp>

int main() {
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(96, 160) * 0.05f;  // out x in
  const qins::QinsLinear layer(w);                // uint8 codes, one calibrated alpha per row
  const Eigen::MatrixXf stored = layer.decode();  // exactly the weights the products use

  const Eigen::VectorXf x = Eigen::VectorXf::Random(160);
  const Eigen::VectorXf y = layer.forward(x);
  const Eigen::MatrixXf xs = Eigen::MatrixXf::Random(160, 5);
  const Eigen::MatrixXf ys = layer.forward_batch(xs);

  // Against the stored weights the products differ only by the fast decode of the
  // kernels (a few 1e-4 for uint8); against the original float matrix they also carry the
  // uint8 quantization error (about 1%).
  const float gemv_vs_stored = (y - stored * x).norm() / (stored * x).norm();
  const float gemm_vs_stored = (ys - stored * xs).norm() / (stored * xs).norm();
  const float gemv_vs_eigen = (y - w * x).norm() / (w * x).norm();
  const float gemm_vs_eigen = (ys - w * xs).norm() / (w * xs).norm();
  const bool ok = gemv_vs_stored < 2e-3f && gemm_vs_stored < 2e-3f && gemv_vs_eigen < 0.05f &&
                  gemm_vs_eigen < 0.05f &&
                  layer.memory_bytes() < std::size_t(w.size()) * sizeof(float) / 3;
  std::printf(
      "qins %d.%d.%d, C++ %ld, ISA %s: %zu bytes instead of %zu; relative error against Eigen "
      "GEMV %.4f GEMM %.4f, against the stored weights %.2e %.2e: %s\n",
      QINS_VERSION_MAJOR, QINS_VERSION_MINOR, QINS_VERSION_PATCH, static_cast<long>(__cplusplus),
      qins::to_string(qins::active_isa()), layer.memory_bytes(),
      std::size_t(w.size()) * sizeof(float), double(gemv_vs_eigen), double(gemm_vs_eigen),
      double(gemv_vs_stored), double(gemm_vs_stored), ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
