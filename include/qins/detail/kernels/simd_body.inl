// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The SIMD kernels, written once over an instruction-set wrapper `V`.
// IWYU pragma: private
//
// No include guard on purpose: avx2.hpp and avx512.hpp each include this file inside
// their own namespace and target region, after defining `V`. It defines `struct
// Kernels`, the table of entry points the dispatcher calls (see those headers for the
// operations it provides). Every kernel handles its tail with the scalar reference
// element functions, so all paths agree bit for bit with the `*_ref` loops.

struct Kernels {
  static void encode(const float* x, float* z, std::size_t n, float alpha) {
    const auto va = V::set1(alpha), one = V::set1(1.0f);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width) {
      auto v = V::load(x + i);
      auto w = V::div(one, V::fmadd(va, V::abs(v), one));
      V::store(z + i, V::negate_if(w, V::less_than_zero(v)));
    }
    for (; i < n; ++i) z[i] = scalar::encode_ref(x[i], alpha);
  }

  static void decode(const float* z, float* x, std::size_t n, float alpha) {
    const auto va = V::set1(alpha), one = V::set1(1.0f);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width) {
      auto v = V::load(z + i);
      auto a = V::abs(v);
      auto m = V::div(V::sub(one, a), V::mul(va, a));
      V::store(x + i, V::copy_sign(m, v));
    }
    for (; i < n; ++i) x[i] = scalar::decode_ref(z[i], alpha);
  }

  template <class Code>
  static void quantize(const float* z, Code* codes, std::size_t n) {
    constexpr float m = float(CodeTraits<Code>::max_code);
    const auto vhalf = V::set1(m / 2.0f), one = V::set1(1.0f), zero = V::set1(0.0f),
               vm = V::set1(m);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width) {
      auto t = V::round_even(V::mul(V::add(V::load(z + i), one), vhalf));
      V::template store_codes<Code>(codes + i, V::min(V::max(t, zero), vm));
    }
    for (; i < n; ++i) codes[i] = scalar::quantize_ref<Code>(z[i]);
  }

  template <class Code>
  static void dequantize(const Code* codes, float* z, std::size_t n) {
    constexpr float m = float(CodeTraits<Code>::max_code);
    const auto vm = V::set1(m), two = V::set1(2.0f), one = V::set1(1.0f);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width) {
      auto c = V::template load_codes<Code>(codes + i);
      V::store(z + i, V::sub(V::div(V::mul(c, two), vm), one));
    }
    for (; i < n; ++i) z[i] = scalar::dequantize_ref<Code, float>(codes[i]);
  }

  // Codes of one vector of weights, as integral floats (see scalar::encode_quantize_ref).
  template <class Code>
  static typename V::F encode_quantize_vector(typename V::F x, typename V::F alpha) {
    constexpr float m = float(CodeTraits<Code>::max_code);
    constexpr float half = m / 2.0f;
    const auto one = V::set1(1.0f);
    auto negative = V::less_than_zero(x);
    auto w = V::div(one, V::fmadd(alpha, V::abs(x), one));
    auto t = V::round_even(V::mul(V::add(V::negate_if(w, negative), one), V::set1(half)));
    auto lo = V::select(negative, V::set1(0.0f), V::set1(half + 0.5f));
    auto hi = V::select(negative, V::set1(half - 0.5f), V::set1(m));
    return V::min(V::max(t, lo), hi);
  }

  // Closed-form decode of integral-float codes, before the 1/alpha: (M/2 - |d|) / d.
  template <class Code>
  static typename V::F decoded_times_alpha_vector(typename V::F code) {
    const auto half = V::set1(float(CodeTraits<Code>::max_code) / 2.0f);
    auto d = V::sub(code, half);
    return V::div(V::sub(half, V::abs(d)), d);
  }

  template <class Code>
  static void encode_quantize(const float* x, Code* codes, std::size_t n, float alpha) {
    const auto va = V::set1(alpha);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width)
      V::template store_codes<Code>(codes + i, encode_quantize_vector<Code>(V::load(x + i), va));
    for (; i < n; ++i) codes[i] = scalar::encode_quantize_ref<Code>(x[i], alpha);
  }

  template <class Code>
  static void dequantize_decode(const Code* codes, float* x, std::size_t n, float inv_alpha) {
    const auto vinv = V::set1(inv_alpha);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width)
      V::store(x + i, V::mul(decoded_times_alpha_vector<Code>(V::template load_codes<Code>(codes + i)), vinv));
    for (; i < n; ++i) x[i] = scalar::dequantize_decode_ref<Code>(codes[i], inv_alpha);
  }

  static std::size_t find_non_finite(const float* x, std::size_t n) {
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width)
      if (V::any_non_finite(V::load(x + i))) break;
    return i + scalar::find_non_finite_ref(x + i, n - i);
  }

  // The double sums below use the lane assignment of the scalar reference: element i
  // adds into lane i % 16, whole 16-element blocks here, the tail by the reference.
  static constexpr std::size_t kDoublesPerBlock = scalar::kSumLanes / V::double_width;
  static constexpr std::size_t kFloatsPerBlock = scalar::kSumLanes / V::width;
  static_assert(scalar::kSumLanes % V::width == 0, "a block of 16 is whole vectors");

  static void store_lanes(const typename V::D* acc, double* lanes) {
    for (std::size_t q = 0; q < kDoublesPerBlock; ++q) V::dstore(lanes + q * V::double_width, acc[q]);
  }

  template <class Code>
  static double quantization_squared_error(const float* x, std::size_t n, float alpha,
                                           float inv_alpha) {
    const auto va = V::set1(alpha), vinv = V::set1(inv_alpha);
    typename V::D acc[kDoublesPerBlock], e[kDoublesPerBlock];
    for (auto& a : acc) a = V::dzero();
    std::size_t i = 0;
    for (; i + scalar::kSumLanes <= n; i += scalar::kSumLanes) {
      for (std::size_t k = 0; k < kFloatsPerBlock; ++k) {
        auto v = V::load(x + i + k * V::width);
        auto u = decoded_times_alpha_vector<Code>(encode_quantize_vector<Code>(v, va));
        V::widen(V::fnmadd(u, vinv, v), e + k * (V::width / V::double_width));  // as reconstruction_error_ref
      }
      for (std::size_t q = 0; q < kDoublesPerBlock; ++q) acc[q] = V::dfmadd(e[q], e[q], acc[q]);
    }
    double lanes[scalar::kSumLanes];
    store_lanes(acc, lanes);
    scalar::add_squared_errors_ref<Code>(x, i, n, alpha, inv_alpha, lanes);
    return scalar::reduce_lanes(lanes);
  }

  static float max_abs(const float* x, std::size_t n) {
    auto m = V::set1(0.0f);
    std::size_t i = 0;
    for (; i + V::width <= n; i += V::width) m = V::max(m, V::abs(V::load(x + i)));
    const float tail = scalar::max_abs_ref(x + i, n - i), body = V::reduce_max(m);
    return tail > body ? tail : body;
  }

  static void scaled_moments(const float* x, std::size_t n, double scale, double* sums) {
    typename V::D s1[kDoublesPerBlock], s3[kDoublesPerBlock], s4[kDoublesPerBlock], y[kDoublesPerBlock];
    for (std::size_t q = 0; q < kDoublesPerBlock; ++q) s1[q] = s3[q] = s4[q] = V::dzero();
    const auto vscale = V::dset1(scale);
    std::size_t i = 0;
    for (; i + scalar::kSumLanes <= n; i += scalar::kSumLanes) {
      for (std::size_t k = 0; k < kFloatsPerBlock; ++k)
        V::widen(V::abs(V::load(x + i + k * V::width)), y + k * (V::width / V::double_width));
      for (std::size_t q = 0; q < kDoublesPerBlock; ++q) {
        auto yq = V::dmul(y[q], vscale), y2 = V::dmul(yq, yq);
        s1[q] = V::dfmadd(y[q], vscale, s1[q]);
        s3[q] = V::dfmadd(y2, yq, s3[q]);
        s4[q] = V::dfmadd(y2, y2, s4[q]);
      }
    }
    scalar::MomentLanes m;
    store_lanes(s1, m.s1);
    store_lanes(s3, m.s3);
    store_lanes(s4, m.s4);
    scalar::add_moments_ref(x, i, n, scale, m);
    sums[0] = scalar::reduce_lanes(m.s1);
    sums[1] = scalar::reduce_lanes(m.s3);
    sums[2] = scalar::reduce_lanes(m.s4);
  }
};
