// The layer-normalised LSTM: row kernels and time loops, forward and backward.
#pragma once

#include "common.h"

namespace {

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

// Forward of one row: a (4H) holds x W_ih^T + b + h W_hh^T on entry and the gate values i|f|o|g
// on exit.
template <typename T>
void ln_row_forward(int64_t H, T* __restrict__ a, const T* __restrict__ gw,
                    const T* __restrict__ gb, const T* __restrict__ cw, const T* __restrict__ cb,
                    const T* __restrict__ cp, T* __restrict__ c, T* __restrict__ tu,
                    T* __restrict__ h, T* __restrict__ xhat, T* __restrict__ rstd,
                    T* __restrict__ chat, T* __restrict__ crstd, T eps) noexcept {
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
  if (dcs) {  // in its own pass: a test inside the loop below would keep it from vectorising
    for (int64_t j = 0; j < H; ++j) dc[j] += dcs[j];
  }
  T* __restrict__ d0 = dah;
  T* __restrict__ d1 = dah + H;
  T* __restrict__ d2 = dah + 2 * H;
  T* __restrict__ d3 = dah + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T dct = dc[j] + dcn[j];
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
  // the gate values are written over xp (the schema says so): it must be the caller's own buffer
  TORCH_CHECK(xp_.is_contiguous(), "xp must be contiguous: the gate values are written over it");
  const Tensor& xp = xp_;
  const Tensor h0 = h0_.contiguous(), c0 = c0_.contiguous();
  const Tensor gw = gw_.contiguous(), gb = gb_.contiguous(), cw = cw_.contiguous(),
               cb = cb_.contiguous();
  const int64_t L = xp.size(0), N = xp.size(1), G = xp.size(2), H = h0.size(1);
  Tensor hs = at::empty({L, N, H}, xp.options()), cs = at::empty_like(hs), tus = at::empty_like(hs);
  Tensor chat = at::empty_like(hs), crstd = at::empty({L, N, 1}, xp.options());
  Tensor xhat = at::empty({L, N, 4, H}, xp.options()), rstd = at::empty({L, N, 4, 1}, xp.options());
  Tensor acts = xp;  // the input projection becomes the gate values in place
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "layernorm_forward", [&] {
    using T = scalar_t;
    const Tensor w = w_hh_t.contiguous();  // (H, G)
    // base pointers, fetched once: data_ptr() is too costly to call per row
    T *A = ptr<T>(acts), *CS = ptr<T>(cs), *TU = ptr<T>(tus), *HS = ptr<T>(hs);
    T *XH = ptr<T>(xhat), *RS = ptr<T>(rstd), *CH = ptr<T>(chat), *CRS = ptr<T>(crstd);
    const T *C0 = ptr<T>(c0), *H0 = ptr<T>(h0), *GW = ptr<T>(gw);
    const T *GB = ptr<T>(gb), *CW = ptr<T>(cw), *CB = ptr<T>(cb), *W = ptr<T>(w);
    row_blocks(N, G * H, [&](int64_t b, int64_t e) {
      for (int64_t t = 0; t < L; ++t) {
        const int64_t o1 = t * N * H, o4 = t * N * G;
        const T* HP = t == 0 ? H0 : HS + o1 - N * H;
        const T* CP = t == 0 ? C0 : CS + o1 - N * H;
        gemm_rows<T>(e - b, G, H, HP + b * H, H, W, G, A + o4 + b * G, G, true);
        for (int64_t n = b; n < e; ++n) {
          ln_row_forward<T>(H, A + o4 + n * G, GW, GB, CW, CB, CP + n * H,
                            CS + o1 + n * H, TU + o1 + n * H, HS + o1 + n * H, XH + o4 + n * G,
                            RS + (t * N + n) * 4, CH + o1 + n * H, CRS + t * N + n, T(kLnEps));
        }
      }
    });
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
  Tensor dc = at::zeros_like(c0);
  // per-thread scratch (7H, reused row after row so that it stays in L1) and gain/shift sums
  Tensor scratch = at::empty({at::get_num_threads(), 7 * H}, dhs.options());
  Tensor dh0 = at::empty_like(c0);
  Tensor acc = at::zeros({at::get_num_threads(), 10 * H}, dhs.options());  // per-thread sums
  AT_DISPATCH_FLOATING_TYPES(dhs.scalar_type(), "layernorm_backward", [&] {
    using T = scalar_t;
    const Tensor w = w_hh.contiguous();  // (G, H)
    const T *A = ptr<T>(acts), *CS = ptr<T>(cs), *TU = ptr<T>(tus), *XH = ptr<T>(xhat);
    const T *RS = ptr<T>(rstd), *CH = ptr<T>(chat), *CRS = ptr<T>(crstd), *C0 = ptr<T>(c0);
    const T *GW = ptr<T>(gw), *CW = ptr<T>(cw), *W = ptr<T>(w), *DHS = ptr<T>(dhs);
    const T* DCS0 = dcs.defined() ? ptr<T>(dcs) : nullptr;
    T *DC = ptr<T>(dc), *DA = ptr<T>(dA), *SC = ptr<T>(scratch), *ACC = ptr<T>(acc);
    T *DH = ptr<T>(dh), *DH0 = ptr<T>(dh0);
    row_blocks(N, G * H, [&](int64_t b, int64_t e) {
      const int64_t m = e - b;
      T* acc_t = ACC + at::get_thread_num() * 10 * H;  // this thread's gain/shift sums
      T* sc_t = SC + at::get_thread_num() * 7 * H;
      for (int64_t t = L - 1; t >= 0; --t) {
        const int64_t o1 = t * N * H, o4 = t * N * G;
        const T* dht = step_dh<T>(t, L, N, H, G, b, e, DHS, DA, W, DH);
        const T* CP = t == 0 ? C0 : CS + o1 - N * H;
        const T* DCS = DCS0 ? DCS0 + o1 : nullptr;
        for (int64_t n = b; n < e; ++n) {
          ln_row_bwd<T>(H, A + o4 + n * G, CP + n * H, TU + o1 + n * H, XH + o4 + n * G,
                        RS + (t * N + n) * 4, CH + o1 + n * H, CRS[t * N + n], GW, CW,
                        dht + (n - b) * H, DCS ? DCS + n * H : nullptr, DC + n * H,
                        DA + o4 + n * G, sc_t, acc_t);
        }
      }
      gemm_rows<T>(m, H, G, DA + b * G, G, W, H, DH0 + b * H, H, false);
    });
  });
  return {dA, acc.sum(0), dh0, dc};
}

}  // namespace
