// GRU (torch's equations, gate order r|z|n): row kernels and time loops, forward and backward.
#pragma once

#include "common.h"

namespace {

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

// ---------------------------------------------------------------- gru: time loops
template <typename T>
void gru_forward_impl(const Tensor& xp, const Tensor& h0, const Tensor& w_hh_t, const Tensor& b_hh,
                      Tensor& hs, Tensor& acts, Tensor& hn) {
  const int64_t L = xp.size(0), N = xp.size(1), H = h0.size(1), G = 3 * H;
  Tensor gh = at::empty({N, G}, xp.options());
  const Tensor w = w_hh_t.contiguous();  // (H, G)
  const T *W = ptr<T>(w), *B = ptr<T>(b_hh), *X = ptr<T>(xp), *H0 = ptr<T>(h0);
  T *GH = ptr<T>(gh), *A = ptr<T>(acts), *HN = ptr<T>(hn), *HS = ptr<T>(hs);
  row_blocks(N, G * H, [&](int64_t b, int64_t e) {
    for (int64_t t = 0; t < L; ++t) {
      const int64_t o = t * N * H, og = t * N * G;
      const T* HP = t == 0 ? H0 : HS + o - N * H;
      gemm_rows<T>(e - b, G, H, HP + b * H, H, W, G, GH + b * G, G, false);
      for (int64_t n = b; n < e; ++n) {
        gru_row_forward<T>(H, GH + n * G, X + og + n * G, B, HP + n * H, A + og + n * G,
                           HN + o + n * H, HS + o + n * H);
      }
    }
  });
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
                       const Tensor& h0, const Tensor& hn, Tensor& dGH, Tensor& dXn, Tensor& carry,
                       Tensor& dh0) {
  const int64_t L = dhs.size(0), N = dhs.size(1), H = dhs.size(2), G = 3 * H;
  Tensor dh = at::empty({N, H}, dhs.options());
  const Tensor w = w_hh.contiguous();  // (G, H)
  const T *W = ptr<T>(w), *DHS = ptr<T>(dhs), *A = ptr<T>(acts), *HS = ptr<T>(hs);
  const T *H0 = ptr<T>(h0), *HN = ptr<T>(hn);
  T *CA = ptr<T>(carry), *D = ptr<T>(dGH), *DX = ptr<T>(dXn), *DH = ptr<T>(dh);
  T* DH0 = ptr<T>(dh0);
  row_blocks(N, G * H, [&](int64_t b, int64_t e) {
    const int64_t m = e - b;
    for (int64_t t = L - 1; t >= 0; --t) {
      const int64_t o = t * N * H, og = t * N * G;
      const T* dht = step_dh<T>(t, L, N, H, G, b, e, DHS, D, W, DH);
      const T* HP = t == 0 ? H0 : HS + o - N * H;
      for (int64_t n = b; n < e; ++n) {
        gru_row_backward<T>(H, A + og + n * G, HP + n * H, HN + o + n * H, dht + (n - b) * H,
                            CA + n * H, D + og + n * G, DX + o + n * H);
      }
    }
    std::copy(CA + b * H, CA + e * H, DH0 + b * H);  // dh0 = carry + dGH[0] W_hh
    gemm_rows<T>(m, H, G, D + b * G, G, W, H, DH0 + b * H, H, true);
  });
}

std::tuple<Tensor, Tensor, Tensor> gru_backward(const Tensor& dhs_, const Tensor& w_hh,
                                                const Tensor& acts_, const Tensor& hs_,
                                                const Tensor& h0_, const Tensor& hn_) {
  const Tensor dhs = dhs_.contiguous(), acts = acts_.contiguous(), hs = hs_.contiguous();
  const Tensor h0 = h0_.contiguous(), hn = hn_.contiguous();
  Tensor dGH = at::empty_like(acts), dXn = at::empty_like(hs), carry = at::zeros_like(h0);
  Tensor dh0 = at::empty_like(h0);
  AT_DISPATCH_FLOATING_TYPES(dhs.scalar_type(), "gru_backward", [&] {
    gru_backward_impl<scalar_t>(dhs, w_hh, acts, hs, h0, hn, dGH, dXn, carry, dh0);
  });
  return {dGH, dXn, dh0};
}

}  // namespace
