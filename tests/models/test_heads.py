"""lstmkit.models.heads: every head's loss against scipy's likelihoods and its behaviour as the
forecast nears the truth, non-crossing quantiles, quantiles against scipy.stats, draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from lstmkit.models.heads import HEADS, make_head

N, H = 3, 4
SCALE = torch.tensor([1.0, 10.0, 250.0])  # (N,) the windows' levels


def _inv_softplus(x: torch.Tensor) -> torch.Tensor:
    return x + torch.log(-torch.expm1(-x))


def _truth() -> torch.Tensor:
    """(N, H) positive counts-like values at each window's level."""
    base = torch.tensor([[1.0, 2.0, 3.0, 2.0]])  # (1, H)
    return torch.round(base * SCALE[:, None])  # (N, H)


def _outputs(head, location: torch.Tensor) -> torch.Tensor:
    """(N, H, params) raw outputs whose location (in the window's units) is ``location (N, H)``
    and whose spread parameters are fixed."""
    out = torch.zeros(N, H, head.params)
    if head.name == "negative-binomial":
        out[..., 0] = _inv_softplus(location.clamp_min(1e-3))  # mean = softplus(.) * scale
        out[..., 1] = -2.0
    elif head.name == "pinball":
        out[..., 0] = location  # the lowest level; the increments are ~0
        out[..., 1:] = -30.0
    else:
        out[..., 0] = location
        if head.params > 1:
            out[..., 1] = 0.0  # sigma = softplus(0) ~ 0.69
    return out


@pytest.mark.parametrize("name", list(HEADS))
def test_loss_is_finite_and_falls_as_the_forecast_nears_the_truth(name: str) -> None:
    head = make_head(name, (0.1, 0.9))
    y = _truth()
    target = y / SCALE[:, None]  # (N, H) the truth in the windows' units
    losses = []
    for miss in (3.0, 1.5, 0.5, 0.0):  # how far (in units of the level) the forecast is off
        out = _outputs(head, target + miss)
        loss = head.loss(out, y, SCALE)
        assert loss.ndim == 0 and torch.isfinite(loss), (name, miss, loss)
        losses.append(float(loss))
    assert losses == sorted(losses, reverse=True) and losses[0] > losses[-1], (name, losses)
    # the point forecast of the closest outputs is the truth (up to the head's rounding)
    point = head.point(_outputs(head, target), SCALE)
    assert point.shape == (N, H)
    torch.testing.assert_close(point, y, atol=1.0, rtol=0.05)


@pytest.mark.parametrize("name", list(HEADS))
def test_loss_ignores_masked_steps(name: str) -> None:
    head = make_head(name, (0.1, 0.9))
    y = _truth()
    out = _outputs(head, y / SCALE[:, None])
    mask = torch.ones(N, H)
    mask[:, -1] = 0.0
    far = out.clone()
    far[:, -1, 0] += 50.0  # a terrible forecast where the mask is 0
    assert float(head.loss(far, y, SCALE, mask)) == pytest.approx(
        float(head.loss(out, y, SCALE, mask))
    )
    assert float(head.loss(far, y, SCALE)) > float(head.loss(out, y, SCALE))
    # an all-zero mask divides by one, not zero
    assert float(head.loss(out, y, SCALE, torch.zeros(N, H))) == 0.0


def test_likelihood_losses_match_scipy() -> None:
    g = torch.Generator().manual_seed(0)
    out = torch.randn(N, H, 3, generator=g)
    y = _truth()
    ys = (y / SCALE[:, None]).numpy()
    sp = torch.nn.functional.softplus
    mu, sigma = out[..., 0].numpy(), (sp(out[..., 1]) + 1e-6).numpy()
    nu = (2.0 + sp(out[..., 2])).numpy()

    normal = make_head("normal")._loss(out[..., :2], y, SCALE).numpy()
    np.testing.assert_allclose(normal, -stats.norm.logpdf(ys, mu, sigma), rtol=1e-4, atol=1e-5)
    student = make_head("student-t")._loss(out, y, SCALE).numpy()
    ref = -stats.t.logpdf(ys, nu, mu, sigma)
    np.testing.assert_allclose(student, ref, rtol=1e-4, atol=1e-5)

    nb = make_head("negative-binomial")
    got = nb._loss(out[..., :2], y, SCALE).numpy()
    s = SCALE[:, None].numpy()
    m = sp(out[..., 0]).numpy() * s + 1e-6
    a = sp(out[..., 1]).numpy() / np.sqrt(s) + 1e-6
    r = 1 / a
    ref = -stats.nbinom.logpmf(y.numpy(), r, r / (r + m)) / s  # per unit of level
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4)


def test_mse_loss_is_the_squared_error_in_the_windows_units() -> None:
    head = make_head("mse")
    y = _truth()
    out = torch.zeros(N, H, 1)
    out[..., 0] = y / SCALE[:, None] + 0.5
    assert float(head.loss(out, y, SCALE)) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="loss='pinball'"):
        head.quantiles(out, SCALE, (0.1,))


def test_pinball_quantiles_never_cross_even_with_adversarial_outputs() -> None:
    head = make_head("pinball", (0.9, 0.05, 0.3, 0.7))  # unsorted; the median is added
    assert head.levels == (0.05, 0.3, 0.5, 0.7, 0.9) and head.params == 5
    g = torch.Generator().manual_seed(1)
    raw = torch.randn(64, 6, 5, generator=g) * 50  # huge, of both signs
    raw[::2, :, 1:] = torch.linspace(40, -40, 4)  # increments that would fall if taken as levels
    raw[1::4] = -1e4
    q = head.quantiles(raw, torch.full((64,), 3.0), head.levels)  # (N, H, Q)
    assert q.shape == (64, 6, 5) and torch.isfinite(q).all()
    assert (q.diff(dim=-1) >= 0).all()
    torch.testing.assert_close(head.point(raw, torch.full((64,), 3.0)), q[..., 2])  # the median
    # a subset in any order comes back at those levels
    sub = head.quantiles(raw, torch.full((64,), 3.0), (0.9, 0.05))
    torch.testing.assert_close(sub, q[..., [4, 0]])
    with pytest.raises(ValueError, match=r"trained for quantiles .*not \[0\.2\]"):
        head.quantiles(raw, torch.ones(64), (0.2,))


def test_pinball_loss_of_a_known_case() -> None:
    head = make_head("pinball", (0.1, 0.9))  # levels 0.1, 0.5, 0.9
    out = torch.tensor([[[0.0, -40.0, -40.0]]])  # all three quantiles ~ 0
    y = torch.tensor([[2.0]])
    # diff 2 at every level: pinball = q * 2 -> mean(0.2, 1.0, 1.8) = 1.0
    assert float(head.loss(out, y, torch.ones(1))) == pytest.approx(1.0, abs=1e-5)
    assert float(head.loss(out, -y, torch.ones(1))) == pytest.approx(1.0, abs=1e-5)


LEVELS = (0.025, 0.1, 0.5, 0.9, 0.975)


def _params_out(mu: float, sigma: float, nu: float | None = None) -> torch.Tensor:
    """(1, 1, params) raw outputs giving location ``mu``, scale ``sigma`` (and dof ``nu``)."""
    parts = [mu, float(_inv_softplus(torch.tensor(sigma - 1e-6)))]
    if nu is not None:
        parts.append(float(_inv_softplus(torch.tensor(nu - 2.0))))
    return torch.tensor(parts, dtype=torch.float64).view(1, 1, -1)


@pytest.mark.parametrize(("mu", "sigma", "scale"), [(0.0, 1.0, 1.0), (1.3, 0.2, 40.0)])
def test_normal_quantiles_match_scipy(mu: float, sigma: float, scale: float) -> None:
    head = make_head("normal")
    q = head.quantiles(_params_out(mu, sigma), torch.tensor([scale], dtype=torch.float64), LEVELS)
    ref = stats.norm.ppf(LEVELS, loc=mu * scale, scale=sigma * scale)
    np.testing.assert_allclose(q[0, 0].numpy(), ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("mu", "sigma", "nu", "scale"), [(0.0, 1.0, 3.0, 1.0), (2.0, 0.5, 9.0, 7.0)]
)
def test_student_t_quantiles_match_scipy(mu: float, sigma: float, nu: float, scale: float) -> None:
    head = make_head("student-t")
    out = _params_out(mu, sigma, nu)
    q = head.quantiles(out, torch.tensor([scale], dtype=torch.float64), LEVELS)
    ref = stats.t.ppf(LEVELS, nu, loc=mu * scale, scale=sigma * scale)
    np.testing.assert_allclose(q[0, 0].numpy(), ref, rtol=1e-6, atol=1e-6)
    # heavier tails than the normal of the same scale
    normal = stats.norm.ppf(0.975, loc=mu * scale, scale=sigma * scale)
    assert float(q[0, 0, -1]) > normal


def test_distribution_draws_match_their_moments() -> None:
    g = torch.Generator().manual_seed(3)
    n = 40_000
    scale = torch.full((n,), 20.0)
    # negative binomial: mean m = softplus(o0) * scale, dispersion a = softplus(o1) / sqrt(scale)
    nb = make_head("negative-binomial")
    out = torch.zeros(n, 1, 2)
    out[..., 0] = _inv_softplus(torch.tensor(2.5))  # m = 50
    out[..., 1] = _inv_softplus(torch.tensor(0.1 * math.sqrt(20.0)))  # a = 0.1
    draws = nb.sample(out, scale, g)[:, 0].double()
    assert (draws >= 0).all() and torch.equal(draws, draws.round())  # counts
    assert float(draws.mean()) == pytest.approx(50.0, rel=0.03)
    assert float(draws.var()) == pytest.approx(50 + 0.1 * 50**2, rel=0.1)  # m + a m^2
    median = nb.point(out[:1], scale[:1])
    assert float(median) == stats.nbinom.median(10.0, 10.0 / 60.0)

    normal = make_head("normal")
    out = torch.zeros(n, 1, 2)
    out[..., 0] = 1.5
    draws = normal.sample(out, scale, g)[:, 0]
    assert float(draws.mean()) == pytest.approx(30.0, abs=0.3)
    assert float(draws.std()) == pytest.approx(20 * math.log(2), rel=0.03)

    t = make_head("student-t")
    out = torch.zeros(n, 1, 3)
    draws = t.sample(out, torch.ones(n), g)[:, 0].double()
    assert float(draws.median()) == pytest.approx(0.0, abs=0.03)
    inside = float(((draws > -1) & (draws < 1)).double().mean())
    nu, sigma = 2 + math.log(2), math.log(2)
    assert inside == pytest.approx(
        stats.t.cdf(1, nu, 0, sigma) - stats.t.cdf(-1, nu, 0, sigma), abs=0.01
    )


def test_draws_are_reproducible_from_the_generator() -> None:
    for name in ("normal", "student-t", "negative-binomial"):
        head = make_head(name)
        out = torch.zeros(5, 3, head.params)
        a = head.sample(out, torch.full((5,), 4.0), torch.Generator().manual_seed(7))
        b = head.sample(out, torch.full((5,), 4.0), torch.Generator().manual_seed(7))
        c = head.sample(out, torch.full((5,), 4.0), torch.Generator().manual_seed(8))
        assert torch.equal(a, b) and not torch.equal(a, c), name


def test_shift_moves_the_location_and_not_for_counts() -> None:
    for name in ("mse", "pinball", "normal", "student-t"):
        head = make_head(name, (0.1, 0.9))
        out = torch.zeros(2, 3, head.params)
        shifted = head.shift(out, torch.full((2, 3), 2.0))
        diff = head.point(shifted, torch.ones(2)) - head.point(out, torch.ones(2))
        torch.testing.assert_close(diff, torch.full((2, 3), 2.0))
        assert torch.count_nonzero(out) == 0  # not modified in place
    with pytest.raises(ValueError, match="negative-binomial"):
        make_head("negative-binomial").shift(torch.zeros(1, 1, 2), torch.zeros(1, 1))


def test_make_head_refuses_an_unknown_loss() -> None:
    with pytest.raises(ValueError, match=r"loss must be one of mse, pinball, .*got 'bogus'"):
        make_head("bogus")
    assert sorted(HEADS) == ["mse", "negative-binomial", "normal", "pinball", "student-t"]
