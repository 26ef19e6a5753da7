// lstmkit's fused time loops on the CPU: per step one GEMM (ATen/BLAS) and one fused pointwise
// pass over (N, H) in plain C++ (no per-op dispatch, no temporaries). Same signatures and results
// as kernels/_loops_py.py; registered as torch.ops.lstmkit.*.
//
// Internal gate order: lstm / peephole i|f|o|g, coupled f|o|g, gru r|z|n (torch's).
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

// ---------------------------------------------------------------- row kernels
// One row (one sequence) of one step; plain loops over the H units that the compiler vectorises
// (noexcept, restrict pointers per gate block, tanh from glibc's vector math library).
enum class Kind { kLSTM, kPeephole, kCoupled };

template <typename T, Kind K>
void family_row_forward(int64_t H, T* __restrict__ a, const T* __restrict__ x,
                        const T* __restrict__ cp, T* __restrict__ c, T* __restrict__ tc,
                        T* __restrict__ h, const T* __restrict__ p) noexcept {
  T* __restrict__ a0 = a;
  T* __restrict__ a1 = a + H;
  T* __restrict__ a2 = a + 2 * H;
  if constexpr (K == Kind::kCoupled) {  // blocks f|o|g
    for (int64_t j = 0; j < H; ++j) {
      const T f = sigm(a0[j] + x[j]);
      const T o = sigm(a1[j] + x[H + j]);
      const T g = tanh_(a2[j] + x[2 * H + j]);
      const T cj = g + f * (cp[j] - g);
      const T tj = tanh_(cj);
      a0[j] = f;
      a1[j] = o;
      a2[j] = g;
      c[j] = cj;
      tc[j] = tj;
      h[j] = o * tj;
    }
  } else {  // blocks i|f|o|g
    T* __restrict__ a3 = a + 3 * H;
    for (int64_t j = 0; j < H; ++j) {
      T ai = a0[j] + x[j], af = a1[j] + x[H + j], ao = a2[j] + x[2 * H + j];
      const T ag = a3[j] + x[3 * H + j];
      if constexpr (K == Kind::kPeephole) {
        ai += p[j] * cp[j];
        af += p[H + j] * cp[j];
      }
      const T i = sigm(ai), f = sigm(af), g = tanh_(ag);
      const T cj = f * cp[j] + i * g;
      if constexpr (K == Kind::kPeephole) ao += p[2 * H + j] * cj;
      const T o = sigm(ao);
      const T tj = tanh_(cj);
      a0[j] = i;
      a1[j] = f;
      a2[j] = o;
      a3[j] = g;
      c[j] = cj;
      tc[j] = tj;
      h[j] = o * tj;
    }
  }
}

template <typename T, Kind K>
void family_row_backward(int64_t H, const T* __restrict__ a, const T* __restrict__ cp,
                         const T* __restrict__ tc, const T* __restrict__ dh,
                         const T* __restrict__ dcs, T* __restrict__ dc, T* __restrict__ d,
                         const T* __restrict__ p) noexcept {
  // dc holds dL/dc_t from step t+1 on entry and dL/dc_{t-1} on exit; d is dL/d(pre-activations)
  T* __restrict__ d0 = d;
  T* __restrict__ d1 = d + H;
  T* __restrict__ d2 = d + 2 * H;
  if constexpr (K == Kind::kCoupled) {
    for (int64_t j = 0; j < H; ++j) {
      const T f = a[j], o = a[H + j], g = a[2 * H + j], tj = tc[j], dhj = dh[j];
      const T dct = dc[j] + (dcs ? dcs[j] : T(0)) + dhj * o * (T(1) - tj * tj);
      d0[j] = dct * (cp[j] - g) * f * (T(1) - f);
      d1[j] = dhj * tj * o * (T(1) - o);
      d2[j] = dct * (T(1) - f) * (T(1) - g * g);
      dc[j] = dct * f;
    }
  } else {
    T* __restrict__ d3 = d + 3 * H;
    for (int64_t j = 0; j < H; ++j) {
      const T i = a[j], f = a[H + j], o = a[2 * H + j], g = a[3 * H + j];
      const T tj = tc[j], dhj = dh[j];
      const T dao = dhj * tj * o * (T(1) - o);
      T dct = dc[j] + (dcs ? dcs[j] : T(0)) + dhj * o * (T(1) - tj * tj);
      if constexpr (K == Kind::kPeephole) dct += dao * p[2 * H + j];
      const T dai = dct * g * i * (T(1) - i);
      const T daf = dct * cp[j] * f * (T(1) - f);
      d0[j] = dai;
      d1[j] = daf;
      d2[j] = dao;
      d3[j] = dct * i * (T(1) - g * g);
      T carry = dct * f;
      if constexpr (K == Kind::kPeephole) carry += dai * p[j] + daf * p[H + j];
      dc[j] = carry;
    }
  }
}

template <typename T>
void gru_row_forward(int64_t H, const T* __restrict__ gh, const T* __restrict__ x,
                     const T* __restrict__ b, const T* __restrict__ hp, T* __restrict__ a,
                     T* __restrict__ hn, T* __restrict__ h) noexcept {
  T* __restrict__ a0 = a;
  T* __restrict__ a1 = a + H;
  T* __restrict__ a2 = a + 2 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T r = sigm(x[j] + gh[j] + b[j]);
    const T z = sigm(x[H + j] + gh[H + j] + b[H + j]);
    const T hnj = gh[2 * H + j] + b[2 * H + j];
    const T nn = tanh_(x[2 * H + j] + r * hnj);
    a0[j] = r;
    a1[j] = z;
    a2[j] = nn;
    hn[j] = hnj;
    h[j] = nn + z * (hp[j] - nn);
  }
}

template <typename T>
void gru_row_backward(int64_t H, const T* __restrict__ a, const T* __restrict__ hp,
                      const T* __restrict__ hn, const T* __restrict__ dh, T* __restrict__ carry,
                      T* __restrict__ d, T* __restrict__ dx) noexcept {
  // carry holds dh_{t+1}⊙z_{t+1} on entry (the direct path h_t -> h_{t+1}) and dh_t⊙z_t on exit
  T* __restrict__ d0 = d;
  T* __restrict__ d1 = d + H;
  T* __restrict__ d2 = d + 2 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T r = a[j], z = a[H + j], nn = a[2 * H + j];
    const T dhj = dh[j] + carry[j];
    const T dn = dhj * (T(1) - z) * (T(1) - nn * nn);
    d0[j] = dn * hn[j] * r * (T(1) - r);
    d1[j] = dhj * (hp[j] - nn) * z * (T(1) - z);
    d2[j] = dn * r;
    dx[j] = dn;
    carry[j] = dhj * z;
  }
}

// ---------------------------------------------------------------- lstm family: time loops
template <typename T, Kind K>
void family_forward_impl(const Tensor& xp, const Tensor& h0, const Tensor& c0,
                         const Tensor& w_hh_t, const Tensor& peep, Tensor& hs, Tensor& cs,
                         Tensor& tcs, Tensor& acts) {
  const int64_t L = xp.size(0), N = xp.size(1), G = xp.size(2), H = h0.size(1);
  const T* p = K == Kind::kPeephole ? ptr<T>(peep) : nullptr;
  Tensor h = h0;
  const Tensor w = w_hh_t.contiguous();  // a contiguous (H, G) operand is faster for small GEMMs
  for (int64_t t = 0; t < L; ++t) {
    Tensor a = acts.select(0, t);  // (N, G)
    step_gemm<T>(a, h, w);
    T* A = ptr<T>(a);
    const T* X = ptr<T>(xp) + t * N * G;
    const T* CP = t == 0 ? ptr<T>(c0) : ptr<T>(cs) + (t - 1) * N * H;
    T* C = ptr<T>(cs) + t * N * H;
    T* TC = ptr<T>(tcs) + t * N * H;
    T* HS = ptr<T>(hs) + t * N * H;
    rows(N, H, [&](int64_t n) {
      family_row_forward<T, K>(H, A + n * G, X + n * G, CP + n * H, C + n * H, TC + n * H,
                               HS + n * H, p);
    });
    h = hs.select(0, t);
  }
}

template <Kind K>
std::tuple<Tensor, Tensor, Tensor, Tensor> family_forward(const Tensor& xp_, const Tensor& h0_,
                                                          const Tensor& c0_, const Tensor& w_hh_t,
                                                          const Tensor& peep_) {
  const Tensor xp = xp_.contiguous(), h0 = h0_.contiguous(), c0 = c0_.contiguous();
  const Tensor peep = peep_.defined() ? peep_.contiguous() : peep_;
  const int64_t L = xp.size(0), N = xp.size(1), H = h0.size(1);
  Tensor hs = at::empty({L, N, H}, xp.options()), cs = at::empty_like(hs), tcs = at::empty_like(hs);
  Tensor acts = at::empty_like(xp);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "family_forward", [&] {
    family_forward_impl<scalar_t, K>(xp, h0, c0, w_hh_t, peep, hs, cs, tcs, acts);
  });
  return {hs, cs, tcs, acts};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> lstm_forward(const Tensor& xp, const Tensor& h0,
                                                        const Tensor& c0, const Tensor& w_hh_t) {
  return family_forward<Kind::kLSTM>(xp, h0, c0, w_hh_t, Tensor());
}
std::tuple<Tensor, Tensor, Tensor, Tensor> coupled_forward(const Tensor& xp, const Tensor& h0,
                                                           const Tensor& c0, const Tensor& w_hh_t) {
  return family_forward<Kind::kCoupled>(xp, h0, c0, w_hh_t, Tensor());
}
std::tuple<Tensor, Tensor, Tensor, Tensor> peephole_forward(const Tensor& xp, const Tensor& h0,
                                                            const Tensor& c0, const Tensor& w_hh_t,
                                                            const Tensor& peep) {
  return family_forward<Kind::kPeephole>(xp, h0, c0, w_hh_t, peep);
}

template <typename T, Kind K>
void family_backward_impl(const Tensor& dhs, const Tensor& dcs, const Tensor& w_hh,
                          const Tensor& acts, const Tensor& cs, const Tensor& tcs,
                          const Tensor& c0, const Tensor& peep, Tensor& dA, Tensor& dc) {
  const int64_t L = dhs.size(0), N = dhs.size(1), H = dhs.size(2), G = acts.size(2);
  Tensor dh = at::empty({N, H}, dhs.options());
  const Tensor w = w_hh.contiguous();
  const T* p = K == Kind::kPeephole ? ptr<T>(peep) : nullptr;
  T* DC = ptr<T>(dc);
  for (int64_t t = L - 1; t >= 0; --t) {
    recurrent_grad<T>(dh, dhs, dA, w, t);
    const T* DH = ptr<T>(dh);
    const T* Ac = ptr<T>(acts) + t * N * G;
    const T* CP = t == 0 ? ptr<T>(c0) : ptr<T>(cs) + (t - 1) * N * H;
    const T* TC = ptr<T>(tcs) + t * N * H;
    const T* DCS = dcs.defined() ? ptr<T>(dcs) + t * N * H : nullptr;
    T* D = ptr<T>(dA) + t * N * G;
    rows(N, H, [&](int64_t n) {
      family_row_backward<T, K>(H, Ac + n * G, CP + n * H, TC + n * H, DH + n * H,
                                DCS ? DCS + n * H : nullptr, DC + n * H, D + n * G, p);
    });
  }
}

template <Kind K>
std::tuple<Tensor, Tensor, Tensor> family_backward(const Tensor& dhs_,
                                                   const c10::optional<Tensor>& dcs_,
                                                   const Tensor& w_hh, const Tensor& acts_,
                                                   const Tensor& cs_, const Tensor& tcs_,
                                                   const Tensor& c0_, const Tensor& peep_) {
  const Tensor dhs = dhs_.contiguous(), acts = acts_.contiguous(), cs = cs_.contiguous();
  const Tensor tcs = tcs_.contiguous(), c0 = c0_.contiguous();
  const Tensor dcs = dcs_.has_value() && dcs_->defined() ? dcs_->contiguous() : Tensor();
  const Tensor peep = peep_.defined() ? peep_.contiguous() : peep_;
  Tensor dA = at::empty_like(acts);
  Tensor dc = at::zeros_like(c0);
  AT_DISPATCH_FLOATING_TYPES(dhs.scalar_type(), "family_backward", [&] {
    family_backward_impl<scalar_t, K>(dhs, dcs, w_hh, acts, cs, tcs, c0, peep, dA, dc);
  });
  Tensor dh0 = at::mm(dA.select(0, 0), w_hh);
  return {dA, dh0, dc};
}

using Bwd = std::tuple<Tensor, Tensor, Tensor>;
Bwd lstm_backward(const Tensor& dhs, const c10::optional<Tensor>& dcs, const Tensor& w_hh,
                  const Tensor& acts, const Tensor& cs, const Tensor& tcs, const Tensor& c0) {
  return family_backward<Kind::kLSTM>(dhs, dcs, w_hh, acts, cs, tcs, c0, Tensor());
}
Bwd coupled_backward(const Tensor& dhs, const c10::optional<Tensor>& dcs, const Tensor& w_hh,
                     const Tensor& acts, const Tensor& cs, const Tensor& tcs, const Tensor& c0) {
  return family_backward<Kind::kCoupled>(dhs, dcs, w_hh, acts, cs, tcs, c0, Tensor());
}
Bwd peephole_backward(const Tensor& dhs, const c10::optional<Tensor>& dcs, const Tensor& w_hh,
                      const Tensor& acts, const Tensor& cs, const Tensor& tcs, const Tensor& c0,
                      const Tensor& peep) {
  return family_backward<Kind::kPeephole>(dhs, dcs, w_hh, acts, cs, tcs, c0, peep);
}

// ---------------------------------------------------------------- gru: time loops
template <typename T>
void gru_forward_impl(const Tensor& xp, const Tensor& h0, const Tensor& w_hh_t, const Tensor& b_hh,
                      Tensor& hs, Tensor& acts, Tensor& hn) {
  const int64_t L = xp.size(0), N = xp.size(1), H = h0.size(1), G = 3 * H;
  Tensor gh = at::empty({N, G}, xp.options());
  const T* B = ptr<T>(b_hh);
  Tensor h = h0;
  const Tensor w = w_hh_t.contiguous();  // a contiguous (H, G) operand is faster for small GEMMs
  for (int64_t t = 0; t < L; ++t) {
    step_gemm<T>(gh, h, w);
    const T* GH = ptr<T>(gh);
    const T* X = ptr<T>(xp) + t * N * G;
    const T* HP = ptr<T>(h);
    T* A = ptr<T>(acts) + t * N * G;
    T* HN = ptr<T>(hn) + t * N * H;
    T* HS = ptr<T>(hs) + t * N * H;
    rows(N, H, [&](int64_t n) {
      gru_row_forward<T>(H, GH + n * G, X + n * G, B, HP + n * H, A + n * G, HN + n * H,
                         HS + n * H);
    });
    h = hs.select(0, t);
  }
}

std::tuple<Tensor, Tensor, Tensor> gru_forward(const Tensor& xp_, const Tensor& h0_,
                                               const Tensor& w_hh_t,
                                               const c10::optional<Tensor>& b_hh_) {
  const Tensor xp = xp_.contiguous(), h0 = h0_.contiguous();
  const int64_t L = xp.size(0), N = xp.size(1), H = h0.size(1);
  const Tensor b_hh = b_hh_.has_value() && b_hh_->defined() ? b_hh_->contiguous()
                                                            : at::zeros({3 * H}, xp.options());
  Tensor hs = at::empty({L, N, H}, xp.options()), hn = at::empty_like(hs);
  Tensor acts = at::empty_like(xp);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "gru_forward", [&] {
    gru_forward_impl<scalar_t>(xp, h0, w_hh_t, b_hh, hs, acts, hn);
  });
  return {hs, acts, hn};
}

template <typename T>
void gru_backward_impl(const Tensor& dhs, const Tensor& w_hh, const Tensor& acts, const Tensor& hs,
                       const Tensor& h0, const Tensor& hn, Tensor& dGH, Tensor& dXn, Tensor& carry) {
  const int64_t L = dhs.size(0), N = dhs.size(1), H = dhs.size(2), G = 3 * H;
  Tensor dh = at::empty({N, H}, dhs.options());
  const Tensor w = w_hh.contiguous();
  T* CA = ptr<T>(carry);
  for (int64_t t = L - 1; t >= 0; --t) {
    recurrent_grad<T>(dh, dhs, dGH, w, t);
    const T* DH = ptr<T>(dh);
    const T* A = ptr<T>(acts) + t * N * G;
    const T* HP = t == 0 ? ptr<T>(h0) : ptr<T>(hs) + (t - 1) * N * H;
    const T* HN = ptr<T>(hn) + t * N * H;
    T* D = ptr<T>(dGH) + t * N * G;
    T* DX = ptr<T>(dXn) + t * N * H;
    rows(N, H, [&](int64_t n) {
      gru_row_backward<T>(H, A + n * G, HP + n * H, HN + n * H, DH + n * H, CA + n * H,
                          D + n * G, DX + n * H);
    });
  }
}

std::tuple<Tensor, Tensor, Tensor> gru_backward(const Tensor& dhs_, const Tensor& w_hh,
                                                const Tensor& acts_, const Tensor& hs_,
                                                const Tensor& h0_, const Tensor& hn_) {
  const Tensor dhs = dhs_.contiguous(), acts = acts_.contiguous(), hs = hs_.contiguous();
  const Tensor h0 = h0_.contiguous(), hn = hn_.contiguous();
  Tensor dGH = at::empty_like(acts), dXn = at::empty_like(hs), carry = at::zeros_like(h0);
  AT_DISPATCH_FLOATING_TYPES(dhs.scalar_type(), "gru_backward", [&] {
    gru_backward_impl<scalar_t>(dhs, w_hh, acts, hs, h0, hn, dGH, dXn, carry);
  });
  Tensor dh0 = at::addmm(carry, dGH.select(0, 0), w_hh);
  return {dGH, dXn, dh0};
}


// ---------------------------------------------------------------- layernorm rows
// Layer norm of v over n units: xhat = (v - mean) * rstd; returns rstd.
template <typename T>
T ln_row(int64_t n, const T* __restrict__ v, T* __restrict__ xhat, T eps) noexcept {
  T mean = 0, var = 0;
  for (int64_t j = 0; j < n; ++j) mean += v[j];
  mean /= T(n);
  for (int64_t j = 0; j < n; ++j) var += (v[j] - mean) * (v[j] - mean);
  const T rstd = T(1) / std::sqrt(var / T(n) + eps);
  for (int64_t j = 0; j < n; ++j) xhat[j] = (v[j] - mean) * rstd;
  return rstd;
}

// Gradient through xhat = (v - mean) * rstd: dv = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)).
template <typename T>
void ln_row_backward(int64_t n, const T* __restrict__ dy, const T* __restrict__ xhat, T rstd,
                     T* __restrict__ dv) noexcept {
  T m1 = 0, m2 = 0;
  for (int64_t j = 0; j < n; ++j) {
    m1 += dy[j];
    m2 += dy[j] * xhat[j];
  }
  m1 /= T(n);
  m2 /= T(n);
  for (int64_t j = 0; j < n; ++j) dv[j] = rstd * (dy[j] - m1 - xhat[j] * m2);
}

// Forward of one row: a (4H) holds h W_hh^T on entry and the gate values i|f|o|g on exit.
template <typename T>
void ln_row_forward(int64_t H, T* __restrict__ a, const T* __restrict__ x, const T* __restrict__ gw,
                    const T* __restrict__ gb, const T* __restrict__ cw, const T* __restrict__ cb,
                    const T* __restrict__ cp, T* __restrict__ c, T* __restrict__ tu,
                    T* __restrict__ h, T* __restrict__ xhat, T* __restrict__ rstd,
                    T* __restrict__ chat, T* __restrict__ crstd, T eps) noexcept {
  for (int64_t j = 0; j < 4 * H; ++j) a[j] += x[j];
  for (int64_t k = 0; k < 4; ++k) rstd[k] = ln_row(H, a + k * H, xhat + k * H, eps);
  for (int64_t j = 0; j < 3 * H; ++j) a[j] = sigm(xhat[j] * gw[j] + gb[j]);
  for (int64_t j = 3 * H; j < 4 * H; ++j) a[j] = tanh_(xhat[j] * gw[j] + gb[j]);
  const T* __restrict__ i = a;
  const T* __restrict__ f = a + H;
  const T* __restrict__ o = a + 2 * H;
  const T* __restrict__ g = a + 3 * H;
  for (int64_t j = 0; j < H; ++j) c[j] = f[j] * cp[j] + i[j] * g[j];
  crstd[0] = ln_row(H, c, chat, eps);
  for (int64_t j = 0; j < H; ++j) {
    tu[j] = tanh_(chat[j] * cw[j] + cb[j]);
    h[j] = o[j] * tu[j];
  }
}

// Backward of one row. scratch: 7H values. dc: carry dL/dc_t in, dL/dc_{t-1} out. acc (10H): this
// thread's running sums for the gain/shift gradients: Σ dâ⊙xhat | Σ dâ (4H each), then
// Σ du⊙chat | Σ du (H each), where u = LN(c)⊙γ_c + β_c.
template <typename T>
void ln_row_bwd(int64_t H, const T* __restrict__ a, const T* __restrict__ cp,
                const T* __restrict__ tu, const T* __restrict__ xhat, const T* __restrict__ rstd,
                const T* __restrict__ chat, T crstd, const T* __restrict__ gw,
                const T* __restrict__ cw, const T* __restrict__ dh, const T* __restrict__ dcs,
                T* __restrict__ dc, T* __restrict__ dA, T* __restrict__ scratch,
                T* __restrict__ acc) noexcept {
  const T* __restrict__ i = a;
  const T* __restrict__ f = a + H;
  const T* __restrict__ o = a + 2 * H;
  const T* __restrict__ g = a + 3 * H;
  T* __restrict__ dchat = scratch;
  T* __restrict__ dcn = scratch + H;
  T* __restrict__ dy = scratch + 2 * H;
  T* __restrict__ dah = scratch + 3 * H;  // 4H: gradient at the scaled, shifted gates
  T* __restrict__ acc_cw = acc + 8 * H;
  T* __restrict__ acc_cb = acc + 9 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T du = dh[j] * o[j] * (T(1) - tu[j] * tu[j]);
    dchat[j] = du * cw[j];
    acc_cw[j] += du * chat[j];
    acc_cb[j] += du;
  }
  ln_row_backward(H, dchat, chat, crstd, dcn);
  T* __restrict__ d0 = dah;
  T* __restrict__ d1 = dah + H;
  T* __restrict__ d2 = dah + 2 * H;
  T* __restrict__ d3 = dah + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T dct = dc[j] + (dcs ? dcs[j] : T(0)) + dcn[j];
    d0[j] = dct * g[j] * i[j] * (T(1) - i[j]);
    d1[j] = dct * cp[j] * f[j] * (T(1) - f[j]);
    d2[j] = dh[j] * tu[j] * o[j] * (T(1) - o[j]);
    d3[j] = dct * i[j] * (T(1) - g[j] * g[j]);
    dc[j] = dct * f[j];
  }
  T* __restrict__ acc_gw = acc;
  T* __restrict__ acc_gb = acc + 4 * H;
  for (int64_t j = 0; j < 4 * H; ++j) {
    acc_gw[j] += dah[j] * xhat[j];
    acc_gb[j] += dah[j];
  }
  for (int64_t k = 0; k < 4; ++k) {
    for (int64_t j = 0; j < H; ++j) dy[j] = dah[k * H + j] * gw[k * H + j];
    ln_row_backward(H, dy, xhat + k * H, rstd[k], dA + k * H);
  }
}

constexpr double kLnEps = 1e-5;

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> layernorm_forward(
    const Tensor& xp_, const Tensor& h0_, const Tensor& c0_, const Tensor& w_hh_t,
    const Tensor& gw_, const Tensor& gb_, const Tensor& cw_, const Tensor& cb_) {
  const Tensor xp = xp_.contiguous(), h0 = h0_.contiguous(), c0 = c0_.contiguous();
  const Tensor gw = gw_.contiguous(), gb = gb_.contiguous(), cw = cw_.contiguous(),
               cb = cb_.contiguous();
  const int64_t L = xp.size(0), N = xp.size(1), G = xp.size(2), H = h0.size(1);
  Tensor hs = at::empty({L, N, H}, xp.options()), cs = at::empty_like(hs), tus = at::empty_like(hs);
  Tensor chat = at::empty_like(hs), crstd = at::empty({L, N, 1}, xp.options());
  Tensor xhat = at::empty({L, N, 4, H}, xp.options()), rstd = at::empty({L, N, 4, 1}, xp.options());
  Tensor acts = at::empty_like(xp);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "layernorm_forward", [&] {
    using T = scalar_t;
    Tensor h = h0;
    const Tensor w = w_hh_t.contiguous();
    // base pointers, fetched once: data_ptr() is too costly to call per row
    T *A = ptr<T>(acts), *CS = ptr<T>(cs), *TU = ptr<T>(tus), *HS = ptr<T>(hs);
    T *XH = ptr<T>(xhat), *RS = ptr<T>(rstd), *CH = ptr<T>(chat), *CRS = ptr<T>(crstd);
    const T *XP = ptr<T>(xp), *C0 = ptr<T>(c0), *GW = ptr<T>(gw), *GB = ptr<T>(gb);
    const T *CW = ptr<T>(cw), *CB = ptr<T>(cb);
    for (int64_t t = 0; t < L; ++t) {
      Tensor a = acts.select(0, t);
      step_gemm<T>(a, h, w);
      const int64_t o1 = t * N * H, o4 = t * N * G;
      const T* CP = t == 0 ? C0 : CS + (t - 1) * N * H;
      rows(N, H, [&](int64_t n) {
        ln_row_forward<T>(H, A + o4 + n * G, XP + o4 + n * G, GW, GB, CW, CB, CP + n * H,
                          CS + o1 + n * H, TU + o1 + n * H, HS + o1 + n * H, XH + o4 + n * G,
                          RS + (t * N + n) * 4, CH + o1 + n * H, CRS + t * N + n, T(kLnEps));
      });
      h = hs.select(0, t);
    }
  });
  return {hs, cs, tus, xhat, rstd, chat, crstd, acts};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> layernorm_backward(
    const Tensor& dhs_, const c10::optional<Tensor>& dcs_, const Tensor& w_hh, const Tensor& acts_,
    const Tensor& cs_, const Tensor& tus_, const Tensor& xhat_, const Tensor& rstd_,
    const Tensor& chat_, const Tensor& crstd_, const Tensor& c0_, const Tensor& gw_,
    const Tensor& cw_) {
  const Tensor dhs = dhs_.contiguous(), acts = acts_.contiguous(), cs = cs_.contiguous();
  const Tensor tus = tus_.contiguous(), xhat = xhat_.contiguous(), rstd = rstd_.contiguous();
  const Tensor chat = chat_.contiguous(), crstd = crstd_.contiguous(), c0 = c0_.contiguous();
  const Tensor gw = gw_.contiguous(), cw = cw_.contiguous();
  const Tensor dcs = dcs_.has_value() && dcs_->defined() ? dcs_->contiguous() : Tensor();
  const int64_t L = dhs.size(0), N = dhs.size(1), H = dhs.size(2), G = 4 * H;
  Tensor dA = at::empty_like(acts), dh = at::empty({N, H}, dhs.options());
  Tensor dc = at::zeros_like(c0), scratch = at::empty({N, 7 * H}, dhs.options());
  Tensor acc = at::zeros({at::get_num_threads(), 10 * H}, dhs.options());  // per-thread sums
  AT_DISPATCH_FLOATING_TYPES(dhs.scalar_type(), "layernorm_backward", [&] {
    using T = scalar_t;
    const Tensor w = w_hh.contiguous();
    const T *A = ptr<T>(acts), *CS = ptr<T>(cs), *TU = ptr<T>(tus), *XH = ptr<T>(xhat);
    const T *RS = ptr<T>(rstd), *CH = ptr<T>(chat), *CRS = ptr<T>(crstd), *C0 = ptr<T>(c0);
    const T *GW = ptr<T>(gw), *CW = ptr<T>(cw);
    const T* DCS0 = dcs.defined() ? ptr<T>(dcs) : nullptr;
    T *DC = ptr<T>(dc), *DA = ptr<T>(dA), *SC = ptr<T>(scratch), *ACC = ptr<T>(acc);
    for (int64_t t = L - 1; t >= 0; --t) {
      recurrent_grad<T>(dh, dhs, dA, w, t);
      const int64_t o1 = t * N * H, o4 = t * N * G;
      const T* CP = t == 0 ? C0 : CS + (t - 1) * N * H;
      const T* DCS = DCS0 ? DCS0 + o1 : nullptr;
      const T* DH = ptr<T>(dh);
      rows(N, H, [&](int64_t n) {
        ln_row_bwd<T>(H, A + o4 + n * G, CP + n * H, TU + o1 + n * H, XH + o4 + n * G,
                      RS + (t * N + n) * 4, CH + o1 + n * H, CRS[t * N + n], GW, CW, DH + n * H,
                      DCS ? DCS + n * H : nullptr, DC + n * H, DA + o4 + n * G, SC + n * 7 * H,
                      ACC + at::get_thread_num() * 10 * H);
      });
    }
  });
  Tensor dh0 = at::mm(dA.select(0, 0), w_hh);
  return {dA, acc.sum(0), dh0, dc};
}

}  // namespace

TORCH_LIBRARY(lstmkit, m) {
  m.def("lstm_forward(Tensor xp, Tensor h0, Tensor c0, Tensor w_hh_t) -> (Tensor, Tensor, Tensor, Tensor)");
  m.def("coupled_forward(Tensor xp, Tensor h0, Tensor c0, Tensor w_hh_t) -> (Tensor, Tensor, Tensor, Tensor)");
  m.def("peephole_forward(Tensor xp, Tensor h0, Tensor c0, Tensor w_hh_t, Tensor peep) -> (Tensor, Tensor, Tensor, Tensor)");
  m.def("lstm_backward(Tensor dhs, Tensor? dcs, Tensor w_hh, Tensor acts, Tensor cs, Tensor tcs, Tensor c0) -> (Tensor, Tensor, Tensor)");
  m.def("coupled_backward(Tensor dhs, Tensor? dcs, Tensor w_hh, Tensor acts, Tensor cs, Tensor tcs, Tensor c0) -> (Tensor, Tensor, Tensor)");
  m.def("peephole_backward(Tensor dhs, Tensor? dcs, Tensor w_hh, Tensor acts, Tensor cs, Tensor tcs, Tensor c0, Tensor peep) -> (Tensor, Tensor, Tensor)");
  m.def("gru_forward(Tensor xp, Tensor h0, Tensor w_hh_t, Tensor? b_hh) -> (Tensor, Tensor, Tensor)");
  m.def("layernorm_forward(Tensor xp, Tensor h0, Tensor c0, Tensor w_hh_t, Tensor gw, Tensor gb, Tensor cw, Tensor cb) -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("layernorm_backward(Tensor dhs, Tensor? dcs, Tensor w_hh, Tensor acts, Tensor cs, Tensor tus, Tensor xhat, Tensor rstd, Tensor chat, Tensor crstd, Tensor c0, Tensor gw, Tensor cw) -> (Tensor, Tensor, Tensor, Tensor)");
  m.def("gru_backward(Tensor dhs, Tensor w_hh, Tensor acts, Tensor hs, Tensor h0, Tensor hn) -> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(lstmkit, CPU, m) {
  m.impl("lstm_forward", &lstm_forward);
  m.impl("coupled_forward", &coupled_forward);
  m.impl("peephole_forward", &peephole_forward);
  m.impl("lstm_backward", &lstm_backward);
  m.impl("coupled_backward", &coupled_backward);
  m.impl("peephole_backward", &peephole_backward);
  m.impl("gru_forward", &gru_forward);
  m.impl("gru_backward", &gru_backward);
  m.impl("layernorm_forward", &layernorm_forward);
  m.impl("layernorm_backward", &layernorm_backward);
}
