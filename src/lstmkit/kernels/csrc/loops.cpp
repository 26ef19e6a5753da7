// lstmkit's fused time loops on the CPU: per step one GEMM (ATen/BLAS) and one fused pointwise
// pass over (N, H) in plain C++ (no per-op dispatch, no temporaries). Same signatures and results
// as kernels/_loops_py.py; registered as torch.ops.lstmkit.*.
//
// Internal gate order: lstm / peephole i|f|o|g, coupled f|o|g, gru r|z|n (torch's). The lstm-family
// and layernorm forwards write the gate values over their input projection xp (the schemas mark
// it): one (L, N, G) buffer fewer, and no second read of the projection.
//
// The kernels live in headers per cell family (common.h, lstm_family.h, gru.h, layernorm.h);
// this file is the one translation unit that includes them and registers the operators.
#include "common.h"
#include "gru.h"
#include "layernorm.h"
#include "lstm_family.h"

TORCH_LIBRARY(lstmkit, m) {
  m.def("lstm_forward(Tensor(a!) xp, Tensor h0, Tensor c0, Tensor w_hh_t) -> (Tensor, Tensor, Tensor(a!))");
  m.def("coupled_forward(Tensor(a!) xp, Tensor h0, Tensor c0, Tensor w_hh_t) -> (Tensor, Tensor, Tensor(a!))");
  m.def("peephole_forward(Tensor(a!) xp, Tensor h0, Tensor c0, Tensor w_hh_t, Tensor peep) -> (Tensor, Tensor, Tensor(a!))");
  m.def("lstm_backward(Tensor dhs, Tensor? dcs, Tensor w_hh, Tensor acts, Tensor cs, Tensor c0) -> (Tensor, Tensor, Tensor)");
  m.def("coupled_backward(Tensor dhs, Tensor? dcs, Tensor w_hh, Tensor acts, Tensor cs, Tensor c0) -> (Tensor, Tensor, Tensor)");
  m.def("peephole_backward(Tensor dhs, Tensor? dcs, Tensor w_hh, Tensor acts, Tensor cs, Tensor c0, Tensor peep) -> (Tensor, Tensor, Tensor)");
  m.def("gru_forward(Tensor xp, Tensor h0, Tensor w_hh_t, Tensor? b_hh) -> (Tensor, Tensor, Tensor)");
  m.def("layernorm_forward(Tensor(a!) xp, Tensor h0, Tensor c0, Tensor w_hh_t, Tensor gw, Tensor gb, Tensor cw, Tensor cb) -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor(a!))");
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
