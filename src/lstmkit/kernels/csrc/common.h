// Shared by lstmkit's C++ time loops: fast activations, the row-parallel loop, the small per-step
// GEMM and the recurrent-gradient helper. Everything sits in one translation unit (loops.cpp
// includes the per-family headers), in an anonymous namespace.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <tuple>

using at::Tensor;

namespace {

// tanh for float: the rational approximation Eigen and TensorFlow use (error a few ulp, i.e.
// ~1e-7 absolute), branch-free and libm-free, so the row loops vectorise into plain FMAs. Double
// keeps std::tanh (float64 results must match torch to 1e-10).
inline float tanh_(float x) {
  const float c = 7.90531110763549805f;  // tanh(±c) rounds to ±1 in float
  x = x < -c ? -c : (x > c ? c : x);
  const float x2 = x * x;
  float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return x * p / q;
}

inline double tanh_(double x) {
  return std::tanh(x);
}

// σ(x) = (1 + tanh(x/2)) / 2: never overflows.
template <typename T>
inline T sigm(T x) {
  return T(0.5) + T(0.5) * tanh_(T(0.5) * x);
}

// Run f(n) for every row n of an (N, H) step, in parallel only when there is enough work.
template <typename F>
void rows(int64_t N, int64_t H, const F& f) {
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(H, 1));
  at::parallel_for(0, N, grain, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) f(n);
  });
}

template <typename T>
T* ptr(const Tensor& t) {
  return t.data_ptr<T>();
}

// ---------------------------------------------------------------- per-step GEMM
// c = [c0 +] a @ b, a (N, K), b (K, M) row-major. A plain loop the compiler vectorises; used for
// small products, where a BLAS call's fixed cost (4-8 us with threads) is most of a step.
template <typename T>
void small_gemm(int64_t N, int64_t K, int64_t M, const T* __restrict__ a, const T* __restrict__ b,
                T* __restrict__ c, const T* __restrict__ c0) noexcept {
  for (int64_t n = 0; n < N; ++n) {
    T* __restrict__ cn = c + n * M;
    if (c0) {
      for (int64_t m = 0; m < M; ++m) cn[m] = c0[n * M + m];
    } else {
      for (int64_t m = 0; m < M; ++m) cn[m] = T(0);
    }
    for (int64_t k = 0; k < K; ++k) {
      const T av = a[n * K + k];
      const T* __restrict__ bk = b + k * M;
      for (int64_t m = 0; m < M; ++m) cn[m] += av * bk[m];
    }
  }
}

constexpr int64_t kSmallGemm = int64_t(1) << 18;  // multiply-adds; above this BLAS wins

// out = [init +] a @ b for one step: the small loop above, or ATen (BLAS) for larger products.
template <typename T>
void step_gemm(Tensor& out, const Tensor& a, const Tensor& b, const Tensor* init = nullptr) {
  const int64_t N = a.size(0), K = a.size(1), M = b.size(1);
  const bool plain = a.is_contiguous() && b.is_contiguous() && out.is_contiguous() &&
                     (init == nullptr || init->is_contiguous());
  if (N * K * M <= kSmallGemm && plain) {
    small_gemm<T>(N, K, M, ptr<T>(a), ptr<T>(b), ptr<T>(out), init ? ptr<T>(*init) : nullptr);
  } else if (init) {
    at::addmm_out(out, *init, a, b);
  } else {
    at::mm_out(out, a, b);
  }
}

// dh = dL/dh_t: what arrives from outside (dhs[t]) plus, below the last step, what flows back
// through the recurrent weights from step t+1's pre-activation gradients (dpre[t+1] @ w).
template <typename T>
void recurrent_grad(Tensor& dh, const Tensor& dhs, const Tensor& dpre, const Tensor& w, int64_t t) {
  const Tensor outside = dhs.select(0, t);
  if (t == dhs.size(0) - 1) {
    dh.copy_(outside);
  } else {
    step_gemm<T>(dh, dpre.select(0, t + 1), w, &outside);
  }
}

}  // namespace
