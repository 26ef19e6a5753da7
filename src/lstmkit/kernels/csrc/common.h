// Shared by lstmkit's C++ time loops: fast activations, the per-thread row blocks and the per-step
// GEMM. Everything sits in one translation unit (loops.cpp includes the per-family headers), in an
// anonymous namespace.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <type_traits>

using at::Tensor;

// BLAS gemm (Fortran interface, 32-bit ints) as torch's own library exports it (MKL or OpenBLAS
// builds); weak, so that the extension still loads where it is missing and ATen does the products.
extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*,
            const float*, const int*, const float*, const int*, const float*, float*, const int*)
    __attribute__((weak));
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*,
            const double*, const int*, const double*, const int*, const double*, double*,
            const int*) __attribute__((weak));
}

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

template <typename T>
T* ptr(const Tensor& t) {
  return t.data_ptr<T>();
}

// ---------------------------------------------------------------- row blocks
// The rows of a batch never interact in a recurrence, so the time loops split the batch into one
// block of rows per thread and run every step of a block on its own thread: no barrier per step,
// and each thread's per-step GEMM is single-threaded (BLAS runs serially inside a parallel
// region), which for these small products beats one GEMM split over threads. f(begin, end) runs
// the whole time loop for rows [begin, end). row_work: multiply-adds per row and step.
template <typename F>
void row_blocks(int64_t N, int64_t row_work, const F& f) {
  const int64_t grain = std::max<int64_t>(8, (int64_t(1) << 16) / std::max<int64_t>(row_work, 1));
  at::parallel_for(0, N, grain, f);
}

// ---------------------------------------------------------------- per-step GEMM
// c = [c +] a @ b on row-major blocks with row strides: a (m, k), b (k, n), c (m, n). A plain loop
// the compiler vectorises; what the blocked kernel below leaves over (edge rows and columns).
template <typename T>
void plain_gemm(int64_t m, int64_t n, int64_t k, const T* __restrict__ a, int64_t lda,
                const T* __restrict__ b, int64_t ldb, T* __restrict__ c, int64_t ldc,
                bool acc) noexcept {
  for (int64_t r = 0; r < m; ++r) {
    T* __restrict__ cr = c + r * ldc;
    if (!acc) {
      for (int64_t j = 0; j < n; ++j) cr[j] = T(0);
    }
    for (int64_t q = 0; q < k; ++q) {
      const T av = a[r * lda + q];
      const T* __restrict__ bq = b + q * ldb;
      for (int64_t j = 0; j < n; ++j) cr[j] += av * bq[j];
    }
  }
}

// The same product for small sizes, where a BLAS call's fixed cost is most of the work: tiles of
// kRows rows by kCols(T) columns of c stay in registers (16 AVX-512 registers for float) while k
// streams past, so each step of k loads one row of b for kRows rows of c. Sums run over k in the
// same order as plain_gemm. 1.3-3.8x plain_gemm's rate (single thread) at the sizes of issue 6's
// benchmark (16x32x128 ... 16x64x256), on par with MKL up to ~2^18.
constexpr int kRows = 4;
template <typename T>
constexpr int kCols = 256 / int(sizeof(T));

template <typename T>
void small_gemm(int64_t m, int64_t n, int64_t k, const T* __restrict__ a, int64_t lda,
                const T* __restrict__ b, int64_t ldb, T* __restrict__ c, int64_t ldc,
                bool acc) noexcept {
  constexpr int C = kCols<T>;
  int64_t r0 = 0;
  for (; r0 + kRows <= m; r0 += kRows) {
    int64_t j0 = 0;
    for (; j0 + C <= n; j0 += C) {
      T s[kRows][C];
#pragma GCC unroll 4
      for (int rr = 0; rr < kRows; ++rr) {
        for (int jj = 0; jj < C; ++jj) s[rr][jj] = acc ? c[(r0 + rr) * ldc + j0 + jj] : T(0);
      }
      for (int64_t q = 0; q < k; ++q) {
        const T* __restrict__ bq = b + q * ldb + j0;
#pragma GCC unroll 4
        for (int rr = 0; rr < kRows; ++rr) {
          const T av = a[(r0 + rr) * lda + q];
          for (int jj = 0; jj < C; ++jj) s[rr][jj] += av * bq[jj];
        }
      }
#pragma GCC unroll 4
      for (int rr = 0; rr < kRows; ++rr) {
        for (int jj = 0; jj < C; ++jj) c[(r0 + rr) * ldc + j0 + jj] = s[rr][jj];
      }
    }
    if (j0 < n) {
      plain_gemm<T>(kRows, n - j0, k, a + r0 * lda, lda, b + j0, ldb, c + r0 * ldc + j0, ldc, acc);
    }
  }
  if (r0 < m) plain_gemm<T>(m - r0, n, k, a + r0 * lda, lda, b, ldb, c + r0 * ldc, ldc, acc);
}

constexpr int64_t kSmallGemm = int64_t(1) << 18;  // multiply-adds; above this BLAS wins

// c = [c +] a @ b for one block of rows of one step (shapes as small_gemm): the plain loop, BLAS
// called directly (row-major c = a b is column-major c^T = b^T a^T), or ATen on views.
template <typename T>
void gemm_rows(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
               T* c, int64_t ldc, bool acc) {
  if (m <= 0) return;
  if (m * n * k <= kSmallGemm) {
    small_gemm<T>(m, n, k, a, lda, b, ldb, c, ldc, acc);
    return;
  }
  const int im = int(m), in = int(n), ik = int(k), ia = int(lda), ib = int(ldb), ic = int(ldc);
  const T one = T(1), beta = acc ? T(1) : T(0);
  if constexpr (std::is_same_v<T, float>) {
    if (sgemm_) {
      sgemm_("N", "N", &in, &im, &ik, &one, b, &ib, a, &ia, &beta, c, &ic);
      return;
    }
  } else {
    if (dgemm_) {
      dgemm_("N", "N", &in, &im, &ik, &one, b, &ib, a, &ia, &beta, c, &ic);
      return;
    }
  }
  const auto opt = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  const Tensor ta = at::from_blob(const_cast<T*>(a), {m, k}, {lda, 1}, opt);
  const Tensor tb = at::from_blob(const_cast<T*>(b), {k, n}, {ldb, 1}, opt);
  Tensor tc = at::from_blob(c, {m, n}, {ldc, 1}, opt);
  if (acc) {
    tc.addmm_(ta, tb);
  } else {
    at::mm_out(tc, ta, tb);
  }
}

// dL/dh_t for rows [b, e) of step t of a backward loop: what arrives from outside (dhs[t]) plus,
// below the last step, what flows back through the recurrent weights from step t+1's
// pre-activation gradients (d[t+1] W, d (L, N, G), W (G, H)). Returns those rows: dhs's own at the
// last step, else the scratch dh's (N, H).
template <typename T>
const T* step_dh(int64_t t, int64_t L, int64_t N, int64_t H, int64_t G, int64_t b, int64_t e,
                 const T* dhs, const T* d, const T* W, T* dh) {
  const T* outside = dhs + t * N * H + b * H;
  if (t == L - 1) return outside;
  const int64_t m = e - b;
  std::copy(outside, outside + m * H, dh + b * H);
  gemm_rows<T>(m, H, G, d + (t + 1) * N * G + b * G, G, W, H, dh + b * H, H, true);
  return dh + b * H;
}

}  // namespace
