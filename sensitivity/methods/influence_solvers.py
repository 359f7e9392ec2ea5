r"""Linear solves with the curvature matrix of an influence computation.

Two ways to apply :math:`(C + \lambda I)^{-1}` for a symmetric curvature matrix :math:`C`
(the Hessian of the training objective or its Gauss-Newton approximation):

* :func:`eigen_pseudo_inverse`: the eigendecomposition of the formed matrix (float64). Zero
  eigenvalues whose eigenvectors no training row's gradient touches (for example the
  unpenalised bias of a hidden unit the penalty switched off) carry no influence and are left
  out (a pseudo-inverse); any other non-positive eigenvalue means the weights are not at a
  strict minimum and is reported.
* :func:`cg_solve`: conjugate gradients (Hestenes & Stiefel 1952) on matrix-vector products,
  for matrices too large to form.

References
----------
Hestenes, M. R. & Stiefel, E. (1952). Methods of conjugate gradients for solving linear systems.
Journal of Research of the National Bureau of Standards 49(6), 409-436.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["CGResult", "EigenSolve", "cg_solve", "eigen_pseudo_inverse", "smallest_eigenvalues"]


@dataclass
class EigenSolve:
    r"""Eigendecomposition of a damped curvature matrix, kept for repeated solves.

    ``solve(B)`` is :math:`V \Lambda^{-1} V^\top B` over the kept eigenpairs.
    """

    evecs: torch.Tensor  # (P, r) kept eigenvectors
    inv_evals: torch.Tensor  # (r,) their inverse eigenvalues
    smallest: float
    largest: float
    n_flat: int  # zero eigenvalues left out (no row's gradient along them)
    positive_definite: bool  # False: a non-positive eigenvalue that rows' gradients touch

    def solve(self, B: torch.Tensor) -> torch.Tensor:
        """:math:`(C + \\lambda I)^{+} B` for ``B (P, m)``."""
        return self.evecs @ (self.inv_evals.unsqueeze(1) * (self.evecs.T @ B))

    def quadratic_forms(self, G: torch.Tensor) -> torch.Tensor:
        """:math:`g_i^\\top (C + \\lambda I)^{+} g_i` for the rows ``g_i`` of ``G (n, P)``."""
        L = self.evecs.T @ G.T
        return (self.inv_evals.unsqueeze(1) * L * L).sum(dim=0)


def eigen_pseudo_inverse(
    C: torch.Tensor, damping: float, G: torch.Tensor, *, semi_definite: bool = False
) -> EigenSolve:
    r"""Eigendecomposition of :math:`C + \lambda I` and which eigenvalues can be inverted.

    An eigenvalue at most :math:`10^{-10}\max(|\mu_{\max}|, 1)` is *flat*. Flat directions
    that are non-negative and that the training rows' gradients ``G (n, P)`` do not touch
    (:math:`\lVert G N\rVert \le 10^{-8}\lVert G\rVert`) are left out; otherwise
    ``positive_definite`` is False and the caller should refuse the solve.
    ``semi_definite=True`` (a matrix positive semi-definite by construction, such as the
    Gauss-Newton matrix, whose flat directions say nothing about the fit) leaves every flat
    direction out: the pseudo-inverse, the limit of vanishing damping on them.
    """
    P = C.shape[0]
    evals, evecs = torch.linalg.eigh(C + float(damping) * torch.eye(P, dtype=C.dtype))
    lo, hi = float(evals[0]), float(evals[-1])
    tiny = 1e-10 * max(abs(hi), 1.0)
    flat = evals <= tiny
    ok = True
    if bool(flat.any()):
        along = float(torch.linalg.matrix_norm(G @ evecs[:, flat]))
        total = float(torch.linalg.matrix_norm(G))
        ok = semi_definite or (
            bool((evals[flat] >= -tiny).all()) and along <= 1e-8 * max(total, 1e-300)
        )
    keep = ~flat
    return EigenSolve(evecs[:, keep], 1.0 / evals[keep], lo, hi, int(flat.sum()), ok)


@dataclass
class CGResult:
    """Solution of :func:`cg_solve` with its convergence record."""

    x: torch.Tensor
    n_iter: int
    residual: torch.Tensor  # relative residual per right-hand side
    converged: bool


def cg_solve(
    matvec,
    B: torch.Tensor,
    *,
    tol: float = 1e-8,
    max_iter: int | None = None,
) -> CGResult:
    """Solve :math:`A X = B` for a symmetric positive definite :math:`A` by conjugate gradients.

    The columns of ``B (P, m)`` are independent systems solved together (one batched
    ``matvec`` per iteration). Stops when every column's residual satisfies
    :math:`\\lVert r\\rVert \\le \\mathrm{tol}\\,\\lVert b\\rVert`, or after ``max_iter``
    iterations (default ``2 P``).

    Raises
    ------
    ValueError
        If a search direction has non-positive curvature :math:`p^\\top A p \\le 0`: ``A`` is
        not positive definite (add damping).
    """
    squeeze = B.ndim == 1
    Bm = B.reshape(B.shape[0], -1)
    P = Bm.shape[0]
    max_iter = 2 * P if max_iter is None else int(max_iter)
    X = torch.zeros_like(Bm)
    R = Bm.clone()
    Pd = R.clone()
    rr = (R * R).sum(dim=0)
    bnorm = torch.sqrt(rr).clamp_min(torch.finfo(Bm.dtype).tiny)
    active = torch.sqrt(rr) > tol * bnorm
    it = 0
    while bool(active.any()) and it < max_iter:
        AP = matvec(Pd)
        pAp = (Pd * AP).sum(dim=0)
        bad = active & (pAp <= 0)
        if bool(bad.any()):
            raise ValueError(
                "Conjugate gradients met a direction of non-positive curvature "
                f"(p^T H p = {float(pAp[bad].min()):.3g}): the damped Hessian is not positive "
                "definite. Increase damping, or polish the fit to a minimum (polish=True)."
            )
        a = torch.where(active, rr / torch.where(active, pAp, 1.0), 0.0)
        X += a * Pd
        R -= a * AP
        rr_new = (R * R).sum(dim=0)
        beta = torch.where(active, rr_new / torch.where(active, rr, 1.0), 0.0)
        Pd = R + beta * Pd
        rr = rr_new
        active = torch.sqrt(rr) > tol * bnorm
        it += 1
    res = torch.sqrt(rr) / bnorm
    x = X.reshape(B.shape) if squeeze else X
    return CGResult(x, it, res, not bool(active.any()))


def smallest_eigenvalues(H: torch.Tensor) -> tuple[float, float]:
    """Smallest and largest eigenvalue of a symmetric matrix (``eigvalsh``, float64)."""
    ev = torch.linalg.eigvalsh(H)
    return float(ev[0]), float(ev[-1])
