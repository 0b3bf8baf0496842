"""VAAL: a learned filter for what is not labeled yet (Sinha, Ebrahimi & Darrell, ICCV 2019).

A variational autoencoder learns a latent space of the whole pool (labeled and unlabeled
samples alike) while a discriminator learns to tell, from the latent code, whether a
sample is labeled. The two play an adversarial game: the VAE also tries to make every
code look labeled, so the discriminator ends up separating only what the VAE cannot hide:
the parts of the pool the labeled set does not represent. The picks are the unlabeled
samples the discriminator is most sure are unlabeled (lowest ``D(mu)``).

Here the VAE and the discriminator are small MLPs on the pool's embeddings (unit rows),
not on the images: the embedding model already did the representation work, and the
game trains on a CPU in seconds to minutes (``steps`` batches of ``batch_size`` labeled
and as many unlabeled samples). Task-agnostic: no predictions are needed, only which
samples are labeled (``exclude``, or the samples with a label when not all have one).
"""
from __future__ import annotations

import numbers
import time
from typing import Any

import numpy as np

from .._validation import Interval, Options
from ..errors import InputError
from ..models.logistic_head import unit_rows
from ._base import BUDGET_CONSTRAINT, BaseSelector, ComponentScores
from ._predictive import _has_label, top_n

__all__ = ["VaalSelector", "train_vaal"]


def _nets(d: int, hidden: int, latent: int):
    import torch.nn as nn

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
            self.mu = nn.Linear(hidden, latent)
            self.logvar = nn.Linear(hidden, latent)
            self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, d))

        def forward(self, x):
            import torch

            h = self.enc(x)
            mu, logvar = self.mu(h), self.logvar(h).clamp(-10, 10)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return self.dec(z), mu, logvar

    disc = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    return VAE(), disc


def train_vaal(X: np.ndarray, labeled: np.ndarray, *, steps: int = 500, batch_size: int = 128, latent: int = 32,
               hidden: int = 256, lr: float = 5e-4, beta: float = 1.0, adversary: float = 1.0, seed: int = 0,
               device: str = "cpu", threads: int | None = 1) -> tuple[np.ndarray, dict[str, Any]]:
    """Train the VAE and discriminator; return (``D(mu)`` of every row, in [0, 1]: how labeled
    it looks, training info). ``X``: (n_samples, n_features) float32; ``labeled``: bool mask
    with at least one True and one False. ``threads``: torch CPU threads while training
    (1 by default: these small MLPs gain nothing from more, and lose a lot on a shared CPU)."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _train(X, labeled, steps, batch_size, latent, hidden, lr, beta, adversary, seed, device)
    finally:
        torch.set_num_threads(previous)


def _train(X, labeled, steps, batch_size, latent, hidden, lr, beta, adversary, seed, device):
    import torch
    import torch.nn.functional as F

    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    dev = torch.device(device)
    Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=dev)
    lab = torch.as_tensor(np.flatnonzero(labeled), device=dev)
    unl = torch.as_tensor(np.flatnonzero(~labeled), device=dev)
    vae, disc = _nets(X.shape[1], hidden, latent)
    vae, disc = vae.to(dev), disc.to(dev)
    opt_v = torch.optim.Adam(vae.parameters(), lr=lr)
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr)
    scale = float(X.shape[1])  # reconstruction summed over dimensions, as in VAAL's MSE on pixels
    last = {}
    for _ in range(steps):
        bl = lab[torch.randint(lab.numel(), (batch_size,), generator=gen).to(dev)]
        bu = unl[torch.randint(unl.numel(), (batch_size,), generator=gen).to(dev)]
        xl, xu = Xt[bl], Xt[bu]
        # VAE step: reconstruct both, regularise, and make both look labeled to the discriminator
        rec_l, mu_l, lv_l = vae(xl)
        rec_u, mu_u, lv_u = vae(xu)
        recon = (F.mse_loss(rec_l, xl) + F.mse_loss(rec_u, xu)) * scale
        kld = -0.5 * torch.mean(torch.sum(1 + lv_l - mu_l ** 2 - lv_l.exp(), 1)) \
              - 0.5 * torch.mean(torch.sum(1 + lv_u - mu_u ** 2 - lv_u.exp(), 1))
        ones = torch.ones(batch_size, 1, device=dev)
        fool = F.binary_cross_entropy_with_logits(disc(mu_l), ones) + F.binary_cross_entropy_with_logits(disc(mu_u), ones)
        loss_v = recon + beta * kld + adversary * fool
        opt_v.zero_grad()
        loss_v.backward()
        opt_v.step()
        # discriminator step: labeled -> 1, unlabeled -> 0, on the (detached) codes
        with torch.no_grad():
            _, mu_l, _ = vae(xl)
            _, mu_u, _ = vae(xu)
        loss_d = F.binary_cross_entropy_with_logits(disc(mu_l), ones) + \
            F.binary_cross_entropy_with_logits(disc(mu_u), torch.zeros(batch_size, 1, device=dev))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        last = {"recon": float(recon.detach()), "kld": float(kld.detach()), "disc": float(loss_d.detach())}
    vae.eval()
    disc.eval()
    out = np.empty(X.shape[0], dtype=np.float64)
    with torch.no_grad():
        for s in range(0, X.shape[0], 8192):
            mu = vae.mu(vae.enc(Xt[s:s + 8192]))
            out[s:s + 8192] = torch.sigmoid(disc(mu)).squeeze(1).double().cpu().numpy()
    return out, {"steps": steps, "seconds": round(time.perf_counter() - t0, 3), **{k: round(v, 5) for k, v in last.items()}}


class VaalSelector(BaseSelector):
    """Pick the unlabeled samples a VAE-discriminator game finds least like the labeled set.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    steps : training batches (each: ``batch_size`` labeled + ``batch_size`` unlabeled).
    batch_size, latent, hidden, lr : sizes of the MLPs and Adam's learning rate.
    beta : weight of the VAE's KL term; adversary : weight of its fool-the-discriminator term.
    device : "cpu" or a torch device ("cuda").
    seed : weights, batches and the VAE's noise.

    Attributes
    ----------
    scores_ : ``1 - D(mu)`` of each pick (how surely unlabeled it looks).
    labeled_probability_ : ``D(mu)`` of every pool row.
    train_info_ : last losses and seconds.
    """

    name = "vaal"
    score_description = "1 - discriminator p(labeled)"
    prefix_consistent = True  # training does not depend on n; the picks are a fixed ranking
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "steps": [Interval(numbers.Integral, 1, None)],
        "batch_size": [Interval(numbers.Integral, 1, None)],
        "latent": [Interval(numbers.Integral, 1, None)],
        "hidden": [Interval(numbers.Integral, 1, None)],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "beta": [Interval(numbers.Real, 0, None)],
        "adversary": [Interval(numbers.Real, 0, None)],
        "device": [Options({"cpu", "cuda", "auto"})],
        "seed": [Interval(numbers.Integral, 0, None)],
    }

    def __init__(self, n: int | float | str = 1000, *, steps: int = 500, batch_size: int = 128, latent: int = 32,
                 hidden: int = 256, lr: float = 5e-4, beta: float = 1.0, adversary: float = 1.0, device: str = "cpu",
                 seed: int = 0):
        self.n = n
        self.steps = steps
        self.batch_size = batch_size
        self.latent = latent
        self.hidden = hidden
        self.lr = lr
        self.beta = beta
        self.adversary = adversary
        self.device = device
        self.seed = seed

    def labeled_mask(self, pool, excluded) -> np.ndarray:
        """Labeled rows: ``exclude`` and, when not every sample has a label, those with one."""
        labeled = np.zeros(len(pool), dtype=bool)
        labeled[excluded] = True
        has = _has_label(pool.labels, len(pool))
        if has.any() and not has.all():
            labeled |= has
        return labeled

    def _scores(self, X, labeled):
        if not labeled.any() or labeled.all():
            raise InputError(f"VAAL needs labeled and unlabeled samples; got {int(labeled.sum())} labeled of {X.shape[0]}.",
                             hint="Give the already-labeled ids with --exclude (or --labels FILE.csv for the labeled ones).")
        device = self.device
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        d, info = train_vaal(unit_rows(X), labeled, steps=self.steps, batch_size=self.batch_size, latent=self.latent,
                             hidden=self.hidden, lr=self.lr, beta=self.beta, adversary=self.adversary, seed=self.seed,
                             device=device)
        self.labeled_probability_ = d
        self.train_info_ = info
        return d

    def component_scores(self, pool, excluded):
        """Static component scores for ``combine``: ``1 - D(mu)``; labeled rows blocked."""
        labeled = self.labeled_mask(pool, excluded)
        return ComponentScores(1.0 - self._scores(np.asarray(pool.vectors), labeled), blocked=np.flatnonzero(labeled))

    def _select(self, pool, n, excluded):
        X = np.asarray(pool.vectors)
        labeled = self.labeled_mask(pool, excluded)
        available = int((~labeled).sum())
        if n > available:
            raise InputError(f"Cannot select {n} samples: {int(labeled.sum())} of the {X.shape[0]} are labeled or excluded, "
                             f"so at most {available} can be selected.", hint=f"Use -n {available} or less.")
        u = 1.0 - self._scores(X, labeled)
        order = top_n(u, ~labeled, n)
        return order, u[order], [f"looks unlabeled: discriminator p(labeled)={1 - u[i]:.3f}" for i in order]
