"""NT-Xent, Sinkhorn-Knopp and the SwAV loss against slow, obviously-correct references
and closed-form values."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from labelscout.errors import ConfigError
from labelscout.ssl.simclr import nt_xent_loss
from labelscout.ssl.swav import sinkhorn_knopp, swav_loss


# -- slow references ------------------------------------------------------------------------
def nt_xent_reference(z_a: torch.Tensor, z_b: torch.Tensor, t: float) -> float:
    """Loop over anchors: -log(exp(s_ij / t) / sum_{k != i} exp(s_ik / t)), in float64."""
    z = [F.normalize(v.double(), dim=0) for v in torch.cat([z_a, z_b])]
    n = len(z)
    b = n // 2
    total = 0.0
    for i in range(n):
        j = i + b if i < b else i - b
        denom = sum(math.exp(float(z[i] @ z[k]) / t) for k in range(n) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[j]) / t) / denom)
    return total / n


def sinkhorn_reference(scores: torch.Tensor, eps: float, iters: int) -> torch.Tensor:
    """The algorithm as written in the SwAV paper's appendix, element by element, float64."""
    q = torch.exp(scores.double() / eps).T.clone()  # (K, B)
    k, b = q.shape
    q /= q.sum()
    for _ in range(iters):
        for r in range(k):
            q[r] /= q[r].sum() * k
        for c in range(b):
            q[:, c] /= q[:, c].sum() * b
    return (q * b).T  # (B, K)


def swav_reference(scores: list[torch.Tensor], n_assigned: int, t: float, eps: float, iters: int) -> float:
    total, terms = 0.0, 0
    for i in range(n_assigned):
        q = sinkhorn_reference(scores[i], eps, iters)
        for v in range(len(scores)):
            if v == i:
                continue
            p = torch.softmax(scores[v].double() / t, dim=1)
            total += float(-(q * torch.log(p)).sum(dim=1).mean())
            terms += 1
    return total / terms


# -- NT-Xent --------------------------------------------------------------------------------
@pytest.mark.parametrize("b, d", [(2, 3), (5, 8), (16, 4), (33, 64)])
@pytest.mark.parametrize("t", [0.1, 0.2, 0.5, 1.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_nt_xent_matches_reference(b, d, t, dtype):
    g = torch.Generator().manual_seed(b * 100 + d)
    z_a = torch.randn(b, d, generator=g).to(dtype)
    z_b = torch.randn(b, d, generator=g).to(dtype)
    # the loss is computed in float32 from the (possibly rounded) inputs
    expected = nt_xent_reference(z_a.float(), z_b.float(), t)
    assert nt_xent_loss(z_a, z_b, t).item() == pytest.approx(expected, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("b", [2, 4, 32])
@pytest.mark.parametrize("t", [0.1, 0.5])
def test_nt_xent_identical_projections_give_log_2b_minus_1(b, t):
    z = torch.ones(b, 7)
    assert nt_xent_loss(z, z.clone(), t).item() == pytest.approx(math.log(2 * b - 1), rel=1e-5)


@pytest.mark.parametrize("b", [2, 3, 8])
@pytest.mark.parametrize("t", [0.1, 0.2, 1.0])
def test_nt_xent_orthogonal_pairs_closed_form(b, t):
    # positives identical, all other projections orthogonal: logits 1/t for the partner, 0 else
    z = torch.eye(b) * 3.0
    expected = math.log(1 + (2 * b - 2) * math.exp(-1 / t))
    # float32 cross-entropy: absolute error ~1e-7 on losses near 0
    assert nt_xent_loss(z, z.clone(), t).item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_nt_xent_is_invariant_to_scale_and_order_of_pairs():
    g = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    perm = torch.randperm(6, generator=g)
    base = nt_xent_loss(z_a, z_b, 0.2)
    torch.testing.assert_close(nt_xent_loss(z_a * 4.0, z_b * 0.5, 0.2), base)
    torch.testing.assert_close(nt_xent_loss(z_a[perm], z_b[perm], 0.2), base)
    torch.testing.assert_close(nt_xent_loss(z_b, z_a, 0.2), base)


def test_nt_xent_gradient_matches_reference_autograd():
    g = torch.Generator().manual_seed(1)
    z_a = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    z_b = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    nt_xent_loss(z_a, z_b, 0.3).backward()
    ga = z_a.grad.clone()
    z_a.grad = None

    def ref(za):  # differentiable version of the reference
        z = F.normalize(torch.cat([za, z_b.detach()]), dim=1)
        sim = z @ z.T / 0.3
        total = 0
        for i in range(8):
            j = (i + 4) % 8
            others = torch.cat([sim[i, :i], sim[i, i + 1 :]])
            total = total - (sim[i, j] - torch.logsumexp(others, 0))
        return total / 8

    ref(z_a).backward()
    torch.testing.assert_close(ga.float(), z_a.grad.float(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("t", [0.0, -1.0])
def test_nt_xent_rejects_non_positive_temperature(t):
    with pytest.raises(ConfigError, match=rf"'temperature' parameter of nt_xent_loss must be > 0. Got {t}"):
        nt_xent_loss(torch.ones(2, 2), torch.ones(2, 2), t)


# -- Sinkhorn-Knopp ------------------------------------------------------------------------------
@pytest.mark.parametrize("b, k", [(4, 3), (16, 10), (64, 100), (7, 7)])
@pytest.mark.parametrize("eps", [0.05, 0.5])
@pytest.mark.parametrize("iters", [1, 3, 10])
def test_sinkhorn_matches_reference(b, k, eps, iters):
    g = torch.Generator().manual_seed(b + k)
    scores = F.normalize(torch.randn(b, k, generator=g), dim=1)  # cosine-like scores in [-1, 1]
    ours = sinkhorn_knopp(scores, eps, iters)
    torch.testing.assert_close(ours.double(), sinkhorn_reference(scores, eps, iters), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("b, k", [(8, 4), (32, 16), (100, 10)])
def test_sinkhorn_rows_are_distributions_and_columns_equipartition(b, k):
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(b, k, generator=g)
    q = sinkhorn_knopp(scores, epsilon=0.5, iterations=200)
    torch.testing.assert_close(q.sum(dim=1), torch.ones(b))
    torch.testing.assert_close(q.sum(dim=0), torch.full((k,), b / k), atol=1e-4, rtol=1e-4)
    assert (q >= 0).all()


def test_sinkhorn_uniform_scores_give_uniform_codes():
    q = sinkhorn_knopp(torch.full((6, 4), 0.3), 0.05, 3)
    torch.testing.assert_close(q, torch.full((6, 4), 0.25))


def test_sinkhorn_spreads_a_collapsed_batch():
    # every sample prefers prototype 0; the equipartition constraint still spreads the batch
    scores = torch.zeros(8, 4)
    scores[:, 0] = 1.0
    scores += torch.linspace(0, 0.5, 8)[:, None] * torch.tensor([0.0, 1.0, -1.0, 0.5])
    q = sinkhorn_knopp(scores, 0.05, 50)
    torch.testing.assert_close(q.sum(dim=0), torch.full((4,), 2.0), atol=1e-3, rtol=1e-3)


def test_sinkhorn_is_stable_for_tiny_epsilon():
    q = sinkhorn_knopp(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]), epsilon=1e-3, iterations=3)
    assert torch.isfinite(q).all()
    torch.testing.assert_close(q, torch.eye(2), atol=1e-6, rtol=0)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"epsilon": 0.0}, "'epsilon' parameter of sinkhorn_knopp must be > 0. Got 0.0"),
    ({"iterations": 0}, "'iterations' parameter of sinkhorn_knopp must be an int >= 1. Got 0"),
])
def test_sinkhorn_parameter_errors(kwargs, fragment):
    with pytest.raises(ConfigError) as exc:
        sinkhorn_knopp(torch.zeros(2, 2), **kwargs)
    assert fragment in str(exc.value)


# -- SwAV loss ------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_views, n_assigned", [(2, 2), (4, 2), (3, 1)])
@pytest.mark.parametrize("t", [0.1, 0.5])
def test_swav_loss_matches_reference(n_views, n_assigned, t):
    g = torch.Generator().manual_seed(n_views)
    scores = [F.normalize(torch.randn(12, 5, generator=g), dim=1) for _ in range(n_views)]
    expected = swav_reference(scores, n_assigned, t, 0.05, 3)
    assert swav_loss(scores, n_assigned, t, 0.05, 3).item() == pytest.approx(expected, rel=1e-4)


def test_swav_loss_of_uniform_scores_is_log_k():
    scores = [torch.zeros(8, 20), torch.zeros(8, 20)]
    assert swav_loss(scores).item() == pytest.approx(math.log(20), rel=1e-6)


def test_swav_loss_gradient_flows_to_predictions_not_codes():
    a = torch.randn(6, 4, requires_grad=True)
    b = torch.randn(6, 4, requires_grad=True)
    swav_loss([a, b], n_assigned=1).backward()
    # with one assigned view, view a is only a target (its codes are detached)
    assert a.grad is None or torch.count_nonzero(a.grad) == 0
    assert torch.count_nonzero(b.grad) > 0


def test_swav_loss_needs_two_views():
    with pytest.raises(ConfigError, match="at least 2 views"):
        swav_loss([torch.zeros(2, 3)], n_assigned=1)
