"""Batched L-BFGS with a per-network backtracking line search (:mod:`sensitivity.training`).

Nocedal, J. & Wright, S. J. (2006). Numerical Optimization, 2nd ed., Springer: Algorithm 7.4
(two-loop recursion) and Algorithm 3.1 (backtracking line search).
"""

from __future__ import annotations

import torch


def _lbfgs(problem, theta, *, max_iter, tol, ftol, memory, max_backtrack=12):
    """Batched L-BFGS with a per-network Armijo backtracking line search.

    Every pass evaluates all working networks once, each at its own trial point: a network
    whose trial point fails the Armijo condition keeps its point and tries a shorter step
    along the same direction at the next pass. Backtracking is thus spread over passes (one
    batched evaluation per pass, never a small subset), and each network's trajectory is that
    of a serial L-BFGS: it depends only on its own data. The history holds the curvature pairs of
    the last ``memory`` passes (a pass in which a network rejected its trial point leaves an
    inert slot); a pass costs one objective-and-gradient evaluation plus the two-loop
    recursion's ``O(memory * P)`` work per network.
    """
    B, P = theta.shape
    dtype, device = theta.dtype, theta.device
    out_theta = theta.clone()
    out_f = torch.empty(B, dtype=torch.float64, device=device)
    out_iter = torch.zeros(B, dtype=torch.long, device=device)
    out_conv = torch.zeros(B, dtype=torch.bool, device=device)

    idx = torch.arange(B, device=device)  # global index of working rows
    prob = problem
    f, g = prob.loss_grad(theta)
    S = torch.zeros(B, memory, P, dtype=dtype, device=device)
    Yh = torch.zeros(B, memory, P, dtype=dtype, device=device)
    rho = torch.zeros(B, memory, dtype=dtype, device=device)  # 0: no usable pair in the slot
    pos = 0  # next slot to write, shared by all networks
    gamma = torch.ones(B, dtype=dtype, device=device)
    n_iter = torch.zeros(B, dtype=torch.long, device=device)
    n_back = torch.zeros(B, dtype=torch.long, device=device)  # rejections in this line search
    d = torch.zeros_like(theta)
    t = torch.zeros(B, dtype=dtype, device=device)  # step lengths, in the parameters' type
    gd = torch.zeros(B, dtype=dtype, device=device)
    conv = g.abs().amax(dim=1) <= tol
    done = conv.clone()
    c1 = 1e-4
    # objective values closer than a few rounding errors count as equal (float32 safety)
    slack = 16 * torch.finfo(dtype).eps
    for _ in range(max_iter * (max_backtrack + 1) + 1):
        finished = done | (n_iter >= max_iter)
        if bool(finished.any()):
            fin = finished.nonzero().squeeze(1)
            gi = idx[fin]
            out_theta[gi] = theta[fin]
            out_f[gi] = f[fin]
            out_iter[gi] = n_iter[fin]
            out_conv[gi] = conv[fin]
            keep = (~finished).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            idx, theta, f, g = idx[keep], theta[keep], f[keep], g[keep]
            S, Yh, rho, gamma = S[keep], Yh[keep], rho[keep], gamma[keep]
            n_iter, n_back, conv = n_iter[keep], n_back[keep], conv[keep]
            d, t, gd = d[keep], t[keep], gd[keep]
            prob = problem.subset(idx)
        new = n_back == 0  # networks starting a line search need a direction
        if bool(new.any()):
            # two-loop recursion over the pairs, newest first; slots without a usable pair
            # (empty, or written in a pass where the network rejected its trial point or the
            # pair failed the curvature test) have rho = 0 and no effect
            order = [(pos - 1 - j) % memory for j in range(memory)]
            q = g.clone()
            alphas = []
            for j in order:
                a_j = rho[:, j] * torch.linalg.vecdot(S[:, j], q)
                q.addcmul_(a_j.unsqueeze(1), Yh[:, j], value=-1.0)
                alphas.append(a_j)
            r = gamma.unsqueeze(1) * q
            for j, a_j in zip(reversed(order), reversed(alphas), strict=True):
                beta = rho[:, j] * torch.linalg.vecdot(Yh[:, j], r)
                r.addcmul_(S[:, j], (a_j - beta).unsqueeze(1))
            dn = -r
            gdn = (g * dn).sum(dim=1)
            bad = gdn >= 0  # not a descent direction: fall back to steepest descent
            dn = torch.where(bad.unsqueeze(1), -g, dn)
            gdn = torch.where(bad, -(g * g).sum(dim=1), gdn)
            cautious = bad | (n_iter == 0)  # no curvature information: a short first step
            tn = torch.where(
                cautious, torch.clamp(1.0 / g.abs().sum(dim=1), max=1.0), torch.ones_like(t)
            )
            nc = new.unsqueeze(1)
            d, gd, t = torch.where(nc, dn, d), torch.where(new, gdn, gd), torch.where(new, tn, t)
        trial = theta + t.unsqueeze(1) * d
        f_new, g_new = prob.loss_grad(trial)
        ok = f_new <= f + c1 * t * gd + slack * f.abs()
        # rejected: a shorter step at the next pass, the minimizer of the quadratic through
        # f(0), f'(0) and f(t), kept in [0.1 t, 0.5 t] (Nocedal & Wright, section 3.5)
        n_back = torch.where(ok, 0, n_back + 1)
        curv = f_new - f - gd * t
        t_q = -gd * t * t / (2.0 * torch.where(curv > 0, curv, 1.0))
        t_q = torch.where(curv > 0, t_q, 0.5 * t)
        t = torch.where(ok, t, torch.minimum(torch.maximum(t_q, 0.1 * t), 0.5 * t)).to(dtype)
        stuck = n_back > max_backtrack
        # accepted: the curvature pair joins the network's history (if it is usable)
        s = trial - theta
        yv = g_new - g
        sy = (s * yv).sum(dim=1)
        yy = (yv * yv).sum(dim=1)
        good = ok & (sy > 1e-10 * torch.sqrt((s * s).sum(dim=1) * yy))
        # one slot per pass for every network (a circular buffer with a shared position:
        # cheap, and a network's history still depends only on its own passes)
        S[:, pos] = s
        Yh[:, pos] = yv
        rho[:, pos] = torch.where(good, 1.0 / torch.where(good, sy, 1.0), 0.0)
        gamma = torch.where(good, sy / torch.where(good, yy, 1.0), gamma)
        pos = (pos + 1) % memory
        rel = (f - f_new) / torch.clamp(torch.maximum(f.abs(), f_new.abs()), min=1e-12)
        okc = ok.unsqueeze(1)
        theta = torch.where(okc, trial, theta)
        g = torch.where(okc, g_new, g)
        f = torch.where(ok, f_new, f)
        n_iter = n_iter + ok.long()
        conv = ok & ((g.abs().amax(dim=1) <= tol) | (rel <= ftol))
        done = conv | stuck
    return out_theta, out_f, out_iter, out_conv
