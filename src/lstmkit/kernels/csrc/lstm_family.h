// The LSTM family (lstm, peephole, coupled): row kernels and time loops, forward and backward.
#pragma once

#include "common.h"

namespace {

// ---------------------------------------------------------------- row kernels
// One row (one sequence) of one step; plain loops over the H units that the compiler vectorises
// (noexcept, restrict pointers per gate block, tanh from glibc's vector math library).
enum class Kind { kLSTM, kPeephole, kCoupled };

template <typename T, Kind K>
void family_row_forward(int64_t H, T* __restrict__ a, const T* __restrict__ cp, T* __restrict__ c,
                        T* __restrict__ h, const T* __restrict__ p) noexcept {
  T* __restrict__ a0 = a;
  T* __restrict__ a1 = a + H;
  T* __restrict__ a2 = a + 2 * H;
  if constexpr (K == Kind::kCoupled) {  // blocks f|o|g
    for (int64_t j = 0; j < H; ++j) {
      const T f = sigm(a0[j]);
      const T o = sigm(a1[j]);
      const T g = tanh_(a2[j]);
      const T cj = g + f * (cp[j] - g);
      const T tj = tanh_(cj);
      a0[j] = f;
      a1[j] = o;
      a2[j] = g;
      c[j] = cj;
      h[j] = o * tj;
    }
  } else {  // blocks i|f|o|g
    T* __restrict__ a3 = a + 3 * H;
    for (int64_t j = 0; j < H; ++j) {
      T ai = a0[j], af = a1[j], ao = a2[j];
      const T ag = a3[j];
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
      h[j] = o * tj;
    }
  }
}

template <typename T, Kind K>
void family_row_backward(int64_t H, const T* __restrict__ a, const T* __restrict__ cp,
                         const T* __restrict__ c, const T* __restrict__ dh,
                         const T* __restrict__ dcs, T* __restrict__ dc, T* __restrict__ d,
                         const T* __restrict__ p) noexcept {
  // dc holds dL/dc_t from step t+1 on entry and dL/dc_{t-1} on exit; d is dL/d(pre-activations).
  // dL/dc_t from outside (dcs) is added first, in its own pass: a test inside the loop below
  // would keep it from vectorising.
  if (dcs) {
    for (int64_t j = 0; j < H; ++j) dc[j] += dcs[j];
  }
  T* __restrict__ d0 = d;
  T* __restrict__ d1 = d + H;
  T* __restrict__ d2 = d + 2 * H;
  if constexpr (K == Kind::kCoupled) {
    for (int64_t j = 0; j < H; ++j) {
      const T f = a[j], o = a[H + j], g = a[2 * H + j], tj = tanh_(c[j]), dhj = dh[j];
      const T dct = dc[j] + dhj * o * (T(1) - tj * tj);
      d0[j] = dct * (cp[j] - g) * f * (T(1) - f);
      d1[j] = dhj * tj * o * (T(1) - o);
      d2[j] = dct * (T(1) - f) * (T(1) - g * g);
      dc[j] = dct * f;
    }
  } else {
    T* __restrict__ d3 = d + 3 * H;
    for (int64_t j = 0; j < H; ++j) {
      const T i = a[j], f = a[H + j], o = a[2 * H + j], g = a[3 * H + j];
      const T tj = tanh_(c[j]), dhj = dh[j];
      const T dao = dhj * tj * o * (T(1) - o);
      T dct = dc[j] + dhj * o * (T(1) - tj * tj);
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

// ---------------------------------------------------------------- lstm family: time loops
template <typename T, Kind K>
void family_forward_impl(const Tensor& xp, const Tensor& h0, const Tensor& c0,
                         const Tensor& w_hh_t, const Tensor& peep, Tensor& hs, Tensor& cs,
                         Tensor& acts) {
  const int64_t L = xp.size(0), N = xp.size(1), G = xp.size(2), H = h0.size(1);
  const Tensor w = w_hh_t.contiguous();  // (H, G)
  const T *W = ptr<T>(w), *H0 = ptr<T>(h0), *C0 = ptr<T>(c0);
  const T* p = K == Kind::kPeephole ? ptr<T>(peep) : nullptr;
  T *A = ptr<T>(acts), *C = ptr<T>(cs), *HS = ptr<T>(hs);
  row_blocks(N, G * H, [&](int64_t b, int64_t e) {
    for (int64_t t = 0; t < L; ++t) {
      const int64_t o = t * N * H, og = t * N * G;
      const T* HP = t == 0 ? H0 : HS + o - N * H;
      const T* CP = t == 0 ? C0 : C + o - N * H;
      gemm_rows<T>(e - b, G, H, HP + b * H, H, W, G, A + og + b * G, G, true);
      for (int64_t n = b; n < e; ++n) {
        family_row_forward<T, K>(H, A + og + n * G, CP + n * H, C + o + n * H, HS + o + n * H, p);
      }
    }
  });
}

template <Kind K>
std::tuple<Tensor, Tensor, Tensor> family_forward(const Tensor& xp_, const Tensor& h0_,
                                                          const Tensor& c0_, const Tensor& w_hh_t,
                                                          const Tensor& peep_) {
  // the gate values are written over xp (the schema says so): it must be the caller's own buffer
  TORCH_CHECK(xp_.is_contiguous(), "xp must be contiguous: the gate values are written over it");
  const Tensor& xp = xp_;
  const Tensor h0 = h0_.contiguous(), c0 = c0_.contiguous();
  const Tensor peep = peep_.defined() ? peep_.contiguous() : peep_;
  const int64_t L = xp.size(0), N = xp.size(1), H = h0.size(1);
  Tensor hs = at::empty({L, N, H}, xp.options()), cs = at::empty_like(hs);
  Tensor acts = xp;  // the input projection becomes the gate values in place
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "family_forward", [&] {
    family_forward_impl<scalar_t, K>(xp, h0, c0, w_hh_t, peep, hs, cs, acts);
  });
  return {hs, cs, acts};
}

std::tuple<Tensor, Tensor, Tensor> lstm_forward(const Tensor& xp, const Tensor& h0,
                                                        const Tensor& c0, const Tensor& w_hh_t) {
  return family_forward<Kind::kLSTM>(xp, h0, c0, w_hh_t, Tensor());
}
std::tuple<Tensor, Tensor, Tensor> coupled_forward(const Tensor& xp, const Tensor& h0,
                                                           const Tensor& c0, const Tensor& w_hh_t) {
  return family_forward<Kind::kCoupled>(xp, h0, c0, w_hh_t, Tensor());
}
std::tuple<Tensor, Tensor, Tensor> peephole_forward(const Tensor& xp, const Tensor& h0,
                                                            const Tensor& c0, const Tensor& w_hh_t,
                                                            const Tensor& peep) {
  return family_forward<Kind::kPeephole>(xp, h0, c0, w_hh_t, peep);
}

template <typename T, Kind K>
void family_backward_impl(const Tensor& dhs, const Tensor& dcs, const Tensor& w_hh,
                          const Tensor& acts, const Tensor& cs, const Tensor& c0,
                          const Tensor& peep, Tensor& dA, Tensor& dc,
                          Tensor& dh0) {
  const int64_t L = dhs.size(0), N = dhs.size(1), H = dhs.size(2), G = acts.size(2);
  Tensor dh = at::empty({N, H}, dhs.options());
  const Tensor w = w_hh.contiguous();  // (G, H)
  const T *W = ptr<T>(w), *DHS = ptr<T>(dhs), *Ac = ptr<T>(acts), *C = ptr<T>(cs);
  const T* C0 = ptr<T>(c0);
  const T* DCS = dcs.defined() ? ptr<T>(dcs) : nullptr;
  const T* p = K == Kind::kPeephole ? ptr<T>(peep) : nullptr;
  T *DC = ptr<T>(dc), *D = ptr<T>(dA), *DH = ptr<T>(dh), *DH0 = ptr<T>(dh0);
  row_blocks(N, G * H, [&](int64_t b, int64_t e) {
    const int64_t m = e - b;
    for (int64_t t = L - 1; t >= 0; --t) {
      const int64_t o = t * N * H, og = t * N * G;
      const T* dht = step_dh<T>(t, L, N, H, G, b, e, DHS, D, W, DH);
      const T* CP = t == 0 ? C0 : C + o - N * H;
      for (int64_t n = b; n < e; ++n) {
        family_row_backward<T, K>(H, Ac + og + n * G, CP + n * H, C + o + n * H,
                                  dht + (n - b) * H, DCS ? DCS + o + n * H : nullptr, DC + n * H,
                                  D + og + n * G, p);
      }
    }
    gemm_rows<T>(m, H, G, D + b * G, G, W, H, DH0 + b * H, H, false);
  });
}

template <Kind K>
std::tuple<Tensor, Tensor, Tensor> family_backward(const Tensor& dhs_,
                                                   const c10::optional<Tensor>& dcs_,
                                                   const Tensor& w_hh, const Tensor& acts_,
                                                   const Tensor& cs_, const Tensor& c0_,
                                                   const Tensor& peep_) {
  const Tensor dhs = dhs_.contiguous(), acts = acts_.contiguous(), cs = cs_.contiguous();
  const Tensor c0 = c0_.contiguous();
  const Tensor dcs = dcs_.has_value() && dcs_->defined() ? dcs_->contiguous() : Tensor();
  const Tensor peep = peep_.defined() ? peep_.contiguous() : peep_;
  Tensor dA = at::empty_like(acts);
  Tensor dc = at::zeros_like(c0), dh0 = at::empty_like(c0);
  AT_DISPATCH_FLOATING_TYPES(dhs.scalar_type(), "family_backward", [&] {
    family_backward_impl<scalar_t, K>(dhs, dcs, w_hh, acts, cs, c0, peep, dA, dc, dh0);
  });
  return {dA, dh0, dc};
}

using Bwd = std::tuple<Tensor, Tensor, Tensor>;
Bwd lstm_backward(const Tensor& dhs, const c10::optional<Tensor>& dcs, const Tensor& w_hh,
                  const Tensor& acts, const Tensor& cs, const Tensor& c0) {
  return family_backward<Kind::kLSTM>(dhs, dcs, w_hh, acts, cs, c0, Tensor());
}
Bwd coupled_backward(const Tensor& dhs, const c10::optional<Tensor>& dcs, const Tensor& w_hh,
                     const Tensor& acts, const Tensor& cs, const Tensor& c0) {
  return family_backward<Kind::kCoupled>(dhs, dcs, w_hh, acts, cs, c0, Tensor());
}
Bwd peephole_backward(const Tensor& dhs, const c10::optional<Tensor>& dcs, const Tensor& w_hh,
                      const Tensor& acts, const Tensor& cs, const Tensor& c0,
                      const Tensor& peep) {
  return family_backward<Kind::kPeephole>(dhs, dcs, w_hh, acts, cs, c0, peep);
}

}  // namespace
