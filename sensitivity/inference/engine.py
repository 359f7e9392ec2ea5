r"""The test engine: one interface for every randomization test and the bootstrap.

A test needs three things, and nothing else:

* a :class:`Statistic` — the method's statistic as a function of a model view (a batch of ``B``
  networks) and the data, returning arrays ``(B, n_outputs, n_features)``, and whether it is
  signed;
* a :class:`InferenceConfig` — which null, how many draws, level, adjustment, seed;
* a refitter — an object with ``fit(y_perm=..., col_values=..., sample_weight=...)`` returning
  the networks trained on those variants of the data (:class:`~.batched.BatchedRefitter`,
  :class:`~.clones.CloneRefitter`).

:func:`run_test` draws all randomness up front from ``numpy.random.SeedSequence`` children (the
network initialisation, the permutations or conditional draws, the bootstrap counts each get
their own stream), asks the refitter for the networks, and turns the statistics into
p-values, a global p-value, intervals. A new method plugs in by giving a statistic; a new test by
giving another design to the refitter.

Nulls
-----
``"conditional"`` (default; conditional randomization test, Candès, Fan, Janson & Lv 2018)
    ``H0_j: y`` independent of ``x_j`` given the other inputs. For each variable ``j``,
    ``n_permutations`` copies of ``x_j`` are drawn from a model of ``x_j`` given the other
    inputs (:mod:`sensitivity.conditional`), a network is retrained on each, and variable
    ``j``'s statistic is compared with those of the retrained networks. One extra draw per
    variable sets the penalty of its networks (cross-validated on the data with that draw) and
    the rows its networks are evaluated on (data-based statistics), so the real network is
    treated exactly as its null networks. Valid when other inputs matter and inputs are
    correlated, to the extent that the conditional model is right.
``"variable"``
    As above but ``x_j`` is permuted marginally: valid only for inputs independent of the
    others (a correlated input with no effect of its own is flagged).
``"response"`` (Olden & Jackson 2002)
    ``y`` is permuted; tests the *global* null that ``y`` is independent of all inputs. Reported
    as one global p-value (min-p over variables, :func:`~.pvalues.min_p_global`), never as
    per-variable significance: once some inputs matter, the permuted-y networks are weaker than
    the real one everywhere, so noise inputs look "significant".

Two stages (``early_stop``, per-variable nulls with at least :data:`TWO_STAGE_MIN` draws)
    Every variable first gets :data:`FIRST_STAGE` draws; a variable whose p-value from them,
    :math:`p_1 = (1 + g_1)/(1 + K_1)`, exceeds :data:`STOP_ABOVE` stops there and reports
    :math:`p_1`; the others get all their draws and report the full p-value :math:`p_2` (the
    first draws included). Exact whenever each stage's p-value is (both are ordinary
    randomization p-values of exchangeable networks): for :math:`u < c` (``c`` =
    :data:`STOP_ABOVE`), :math:`P(p \le u) \le P(p_2 \le u) \le u`; for :math:`u \ge c`,
    :math:`\{p \le u\} \subseteq \{p_1 \le u\}`, so :math:`P(p \le u) \le u` (a
    two-stage Monte Carlo test in the spirit of Besag & Clifford 1991, Biometrika 78,
    301-304, with one look). Variables that can matter get the full test (all their draws;
    the same draws as with ``early_stop=False``, though networks trained in other blocks of
    the trainer round differently). A stopped variable's p-value exceeds ``c``, so no star
    and no adjusted p-value of another variable at levels below ``c`` changes; its null
    distribution has :data:`FIRST_STAGE` draws (NaN after them in ``null_distribution``).
    With several outputs a variable goes on when any output's :math:`p_1 \le c`, and each
    output reports :math:`p_1` or :math:`p_2` by the rule on its own (the argument holds per
    output). The saving is the share of variables with no effect: with half the inputs pure
    noise, 45 % of the networks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .._warnings import warn
from .pvalues import (
    adjust_pvalues,
    bootstrap_interval,
    min_p_global,
    permutation_pvalues,
    warn_resolution,
)

__all__ = ["HYPOTHESES", "NULLS", "InferenceConfig", "InferenceResult", "Statistic", "run_test"]

NULLS = ("conditional", "variable", "response")

HYPOTHESES = {
    "conditional": (
        "H0_j: y independent of x_j given the other inputs (conditional randomization test, "
        "Candès et al. 2018)"
    ),
    "variable": (
        "H0_j: y and the other inputs independent of x_j (marginal permutation of x_j; not "
        "conditional: invalid for inputs correlated with influential ones)"
    ),
    "response": (
        "global H0: y independent of all inputs (response permutation, Olden & Jackson 2002); "
        "no per-variable test"
    ),
}


@dataclass(frozen=True)
class Statistic:
    """A method's statistic for the test engine.

    Attributes
    ----------
    compute : callable
        ``compute(model, X, y) -> dict`` of arrays ``(B, n_outputs, n_features)`` for a view of
        ``B`` networks; key ``"importance"`` is tested, the others are reported.
    signed : bool
        Two-sided test on ``|importance|`` (True) or upper-tailed (False).
    paths : callable or None
        ``paths(model) -> (B, n_outputs, n_features, n_hidden)`` per-path statistics tested
        two-sided too (Olden's input-hidden-output paths), or None.
    """

    compute: Callable
    signed: bool
    paths: Callable | None = None


FIRST_STAGE = 99
"""Draws of every variable in the first stage of the two-stage per-variable test."""
STOP_ABOVE = 0.2
"""A variable whose first-stage p-value exceeds this stops after the first stage."""
TWO_STAGE_MIN = 399
"""The two-stage test is used from this many draws per variable (fewer: one stage)."""


@dataclass(frozen=True)
class InferenceConfig:
    """Settings of a test (validated by the estimators' parameter constraints)."""

    null: str = "conditional"
    n_permutations: int = 0
    early_stop: bool = True
    n_bootstrap: int = 0
    alpha: float = 0.05
    p_adjust: str | None = "holm"
    random_state: object = None
    verbose: int = 0
    conditional_kinds: object = "auto"
    conditional_sampler: Callable | None = None


@dataclass
class InferenceResult:
    """What :func:`run_test` returns (arrays ``(n_outputs, n_features)`` unless said)."""

    statistics: dict[str, np.ndarray]
    network: object  # the observed model view (MLPBatch of 1 or a model function)
    observed_loss: float | None = None
    p_value: np.ndarray | None = None
    p_adjusted: np.ndarray | None = None
    ci_low: np.ndarray | None = None
    ci_high: np.ndarray | None = None
    null_distribution: np.ndarray | None = None  # (B, n_outputs, n_features)
    bootstrap_distribution: np.ndarray | None = None
    path_p_value: np.ndarray | None = None
    global_test: dict | None = None
    conditional_r2: np.ndarray | None = None  # (n_features,)
    info: dict = field(default_factory=dict)


def _seed_sequence(random_state) -> np.random.SeedSequence:
    """One SeedSequence from an int / RandomState / Generator / None (RandomState draws once)."""
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is None or isinstance(random_state, int | np.integer):
        return np.random.SeedSequence(None if random_state is None else int(random_state))
    if isinstance(random_state, np.random.RandomState):
        return np.random.SeedSequence(int(random_state.randint(2**31 - 1)))
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**31 - 1)))
    raise ValueError(f"random_state must be None, an int or a RandomState; got {random_state!r}.")


def seed_streams(random_state) -> dict[str, np.random.SeedSequence]:
    """Independent child seeds: ``networks`` (initial weights, folds), ``null``, ``bootstrap``,
    ``statistic`` (randomness inside a statistic, e.g. noise of input perturbation)."""
    names = ("networks", "null", "bootstrap", "statistic")
    return dict(zip(names, _seed_sequence(random_state).spawn(len(names)), strict=True))


def _stats(statistic: Statistic, model, X, y) -> dict[str, np.ndarray]:
    if isinstance(model, list):  # clone refitter: one view per model
        from ..network import MLPBatch

        if model and all(isinstance(v, MLPBatch) for v in model):
            model = MLPBatch.stack(model)
        else:
            parts = [_stats(statistic, v, X, y) for v in model]
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return {k: np.asarray(v, dtype=np.float64) for k, v in statistic.compute(model, X, y).items()}


def _first(model):
    return model[0] if isinstance(model, list) else model[0:1]


def _rest(model):
    return model[1:]


def _blocks(stat: np.ndarray, p: int, B: int) -> tuple[np.ndarray, np.ndarray]:
    """Statistics ``(p*(B+1), n_out, p, ...)`` of the per-variable designs (block ``j``: the
    observed network of variable ``j``, then its ``B`` null networks) -> variable ``j``'s
    observed value from its own block's first network and its null from the rest:
    ``(n_out, p, ...)`` and ``(B, n_out, p, ...)``."""
    obs = np.empty(stat.shape[1:])
    null = np.empty((B, *stat.shape[1:]))
    for j in range(p):
        block = stat[j * (B + 1) : (j + 1) * (B + 1), :, j]
        obs[:, j], null[:, :, j] = block[0], block[1:]
    return obs, null


def _block_stats(statistic, model, X, y, extra, size, variables=None):
    """Statistics of per-variable blocks of ``size`` consecutive networks, block ``g`` trained
    with column ``j = variables[g]`` replaced (default: every column in order) and evaluated
    on ``X`` with column ``j`` set to the extra draw ``extra[j]`` (the one that set the
    block's penalty).

    Every network of block ``j`` (the one trained on the real ``x_j`` and those trained on
    draws) is evaluated on the same rows, which are independent of which network saw the real
    column: under ``H0_j`` the statistics stay exchangeable. Evaluating on the real ``X``
    instead would compare the real network on its own training rows with null networks off
    theirs (data-based statistics only; weight-based ones do not use the rows).
    """
    variables = range(X.shape[1]) if variables is None else variables
    parts = []
    base = X if X.dtype.kind == "f" else X.astype(np.float64)
    for g, j in enumerate(variables):
        Xj = base.copy()
        Xj[:, j] = extra[j][0]
        parts.append(_stats(statistic, model[g * size : (g + 1) * size], Xj, y))
    return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}


def _variable_draws(config, X, rng, conditional_models, n_draws: int) -> list[np.ndarray]:
    """``n_draws`` null copies of each column: marginal permutations or conditional draws."""
    n, p = X.shape
    if config.null == "variable":
        return [np.stack([X[rng.permutation(n), j] for _ in range(n_draws)]) for j in range(p)]
    if conditional_models is None:
        raise ValueError("null='conditional' needs the conditional models.")
    return [m.sample(rng, n_draws) for m in conditional_models]


def run_test(
    statistic: Statistic,
    X: np.ndarray,
    y,
    config: InferenceConfig,
    refitter,
    *,
    streams: dict[str, np.random.SeedSequence],
    conditional_models: list | None = None,
) -> InferenceResult:
    """Run the randomization test and/or the bootstrap of ``config`` for ``statistic``.

    The observed network is network 0 of the first training call (identity design), so it is
    trained by exactly the code path, block and arithmetic of the null networks. The steps,
    in this order (the refitter's state and a statistic's record of the last single network
    it saw, such as LekProfile's profiles, may depend on it): the test's networks
    (:func:`_response_null` or :func:`_variable_nulls`), the bootstrap's
    (:func:`_bootstrap`), the analysed network (:func:`_observed_network`: trained by one of
    them or on its own), its statistics, then the p-values (:func:`_global_pvalue` or
    :func:`_per_variable_pvalues`) and the intervals.

    Parameters
    ----------
    statistic : Statistic
    X : ndarray (n, p)
    y : array-like
    config : InferenceConfig
    refitter : BatchedRefitter or CloneRefitter
    streams : dict of SeedSequence
        From :func:`seed_streams`.
    conditional_models : list of ConditionalModel, optional
        Required for ``null="conditional"`` (one per variable, in column order).

    Returns
    -------
    InferenceResult
    """
    n_perm, n_boot = int(config.n_permutations), int(config.n_bootstrap)
    response = bool(n_perm) and config.null == "response"
    info: dict = {}
    response_fit = null_stats = per_variable = boot = None
    if response:
        response_fit, null_stats = _response_null(statistic, X, y, refitter, streams, n_perm)
    elif n_perm:
        per_variable = _variable_nulls(
            statistic, X, y, config, refitter, streams, conditional_models, info
        )
    if n_boot:
        boot = _bootstrap(statistic, X, y, refitter, streams, n_boot, info)
    obs_model, obs_loss = _observed_network(refitter, response_fit, boot, info)
    obs = _stats(statistic, obs_model, X, y)
    out = InferenceResult(
        statistics={k: v[0] for k, v in obs.items()},
        network=obs_model,
        observed_loss=obs_loss,
        info=info,
    )
    if conditional_models is not None:
        out.conditional_r2 = np.array([m.r2 for m in conditional_models], dtype=np.float64)
    if per_variable is not None:
        _per_variable_pvalues(out, statistic, config, *per_variable, X.shape[1], n_perm)
    elif response:
        _global_pvalue(out, statistic, obs, null_stats, n_perm)
    if boot is not None:
        out.bootstrap_distribution = boot.statistics["importance"]
        out.ci_low, out.ci_high = bootstrap_interval(boot.statistics["importance"], config.alpha)
    return out


def _response_null(statistic, X, y, refitter, streams, n_perm):
    """Olden & Jackson's response permutation: ``n_perm`` networks trained on permuted ``y``.

    One training call: network 0 on the real ``y`` (the observed network), then one network
    per permutation of the rows (drawn from the ``null`` stream). Returns ``(observed model,
    the fit of all networks, the null networks' statistics)``; the losses go into ``info``
    in :func:`run_test`, after the bootstrap's.
    """
    n = X.shape[0]
    rng_null = np.random.default_rng(streams["null"])
    perms = np.stack([rng_null.permutation(n) for _ in range(n_perm)])
    fitted = refitter.fit(y_perm=np.vstack([np.arange(n)[None, :], perms]))
    return fitted, _stats(statistic, _rest(fitted.model), X, y)


def _variable_nulls(statistic, X, y, config, refitter, streams, conditional_models, info):
    """The per-variable nulls (``"conditional"``, ``"variable"``), with the two-stage rule.

    From the ``null`` stream: one extra draw of each column, which sets the penalty of its
    networks (:class:`~.batched.BatchedRefitter`) and the rows they are evaluated on, then
    ``n_permutations`` draws of each column. Per variable ``j`` a block: the observed network
    (``x_j`` real) and a network per draw. With the two-stage rule (``early_stop`` and at
    least :data:`TWO_STAGE_MIN` draws) the first call trains :data:`FIRST_STAGE` draws per
    variable and :func:`_second_stage` the rest for the variables that go on. Returns
    ``(fitted, stats)`` for :func:`_per_variable_pvalues` (``fitted`` None after two
    stages); the penalties, losses and draws go into ``info``.
    """
    p, n_perm = X.shape[1], int(config.n_permutations)
    rng_null = np.random.default_rng(streams["null"])
    extra = _variable_draws(config, X, rng_null, conditional_models, 1)
    if hasattr(refitter, "set_variable_penalties"):
        refitter.set_variable_penalties(np.vstack(extra))
        info["variable_alpha"] = refitter.variable_alpha
    draws = _variable_draws(config, X, rng_null, conditional_models, n_perm)
    first = FIRST_STAGE if config.early_stop and n_perm >= TWO_STAGE_MIN else n_perm
    cols = np.repeat(np.arange(p), first + 1)
    values = np.concatenate([np.vstack([X[:, j], d[:first]]) for j, d in enumerate(draws)])
    fitted = refitter.fit(col_values=(cols, values))
    per_variable = (fitted, _block_stats(statistic, fitted.model, X, y, extra, first + 1))
    if first < n_perm:
        return _second_stage(statistic, refitter, X, y, extra, draws, per_variable, first, info)
    if fitted.loss is not None:
        info["null_loss"] = fitted.loss
        info["null_n_iter"] = fitted.n_iter
        info["null_converged"] = fitted.converged
    return per_variable


@dataclass
class _Bootstrap:
    """The bootstrap's networks: their fit (network 0 the reference), the reference network,
    the resampled networks' statistics and whether its penalty differs from the analysis'."""

    fitted: object
    reference_model: object
    statistics: dict[str, np.ndarray]
    undersmoothed: bool


def _bootstrap(statistic, X, y, refitter, streams, n_boot, info) -> _Bootstrap:
    """``n_boot`` networks trained on resampled rows (multinomial counts as sample weights,
    from the ``bootstrap`` stream).

    Network 0 is trained on the full data with the bootstrap's penalty
    (``info["bootstrap_reference"]``, the centre of the "basic" and "bc" intervals); it is the
    analysed network too when that penalty is the analysis penalty and no test trained one
    (decided in :func:`_observed_network`).
    """
    n = X.shape[0]
    rng_boot = np.random.default_rng(streams["bootstrap"])
    counts = rng_boot.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    fitted = refitter.fit(sample_weight=np.vstack([np.ones((1, n)), counts]))
    ref_model, boot_model = _first(fitted.model), _rest(fitted.model)
    boot_alpha = getattr(refitter, "boot_alpha", None)
    boot_stats = _stats(statistic, boot_model, X, y)
    boot_ref = _stats(statistic, ref_model, X, y)["importance"][0]
    if fitted.loss is not None:
        info["boot_loss"] = fitted.loss[1:]
    info["bootstrap_reference"] = boot_ref
    if boot_alpha is not None:
        info["bootstrap_alpha"] = boot_alpha
    undersmoothed = boot_alpha is not None and boot_alpha != refitter.spec.alpha
    return _Bootstrap(fitted, ref_model, boot_stats, undersmoothed)


def _observed_network(refitter, response_fit, boot, info):
    """The analysed network and its training loss (None without one).

    Network 0 of the response permutation's training call (whose null networks' losses go
    into ``info``), else the bootstrap's reference network when its penalty is the analysis
    penalty, else one more training call (:meth:`observed_fit`): never a network trained
    apart from the test's when the test trained one on the real data.
    """
    if response_fit is not None:
        fitted, model = response_fit, _first(response_fit.model)
    elif boot is not None and not boot.undersmoothed:
        fitted, model = boot.fitted, boot.reference_model
    else:
        fitted = refitter.observed_fit()
        model = fitted.model
    if fitted.loss is None:
        return model, None
    if response_fit is not None:
        info.update(
            null_loss=fitted.loss[1:],
            null_n_iter=fitted.n_iter[1:],
            null_converged=fitted.converged[1:],
        )
    return model, float(fitted.loss[0])


def _second_stage(statistic, refitter, X, y, extra, draws, first_stage, first, info):
    """The rest of the draws for the variables whose first-stage p-value is at most
    :data:`STOP_ABOVE` (see the module docstring); returns ``(None, stats)`` with ``stats``
    holding ``"observed"``, ``"null"`` (NaN-padded) and ``"n_draws"`` per variable."""
    fitted1, stats1 = first_stage
    p, n_perm = X.shape[1], len(draws[0])
    paths1 = None if statistic.paths is None else statistic.paths(fitted1.model)
    obs, null1 = _blocks(stats1["importance"], p, first)
    p1 = permutation_pvalues(obs, null1, signed=statistic.signed)
    go_on = np.flatnonzero((p1 <= STOP_ABOVE).any(axis=0))
    null = np.full((n_perm, *null1.shape[1:]), np.nan)
    null[:first] = null1
    fits = [fitted1]
    rest = n_perm - first
    if go_on.size:
        cols = np.repeat(go_on, rest)
        values = np.concatenate([draws[j][first:] for j in go_on])
        fitted2 = refitter.fit(col_values=(cols, values))
        fits.append(fitted2)
        stat2 = _block_stats(statistic, fitted2.model, X, y, extra, rest, go_on)["importance"]
        for g, j in enumerate(go_on):
            null[first:, :, j] = stat2[g * rest : (g + 1) * rest, :, j]
        paths2 = None if paths1 is None else statistic.paths(fitted2.model)
    n_draws = np.full(p, first)
    n_draws[go_on] = n_perm
    info["n_draws"] = n_draws
    info["first_stage_p_value"] = p1
    if fitted1.loss is not None:
        info["null_loss"] = np.concatenate([f.loss for f in fits])
        info["null_n_iter"] = np.concatenate([f.n_iter for f in fits])
        info["null_converged"] = np.concatenate([f.converged for f in fits])
    out = {"observed": obs, "null": null, "n_draws": n_draws, "p1": p1}
    if paths1 is not None:
        # per-path p-values of the variables that went on (all their draws); NaN for the
        # stopped ones: their stopping was decided on the importance, not on the paths
        obs_paths, null_paths1 = _blocks(paths1, p, first)
        path_p = np.full(obs_paths.shape, np.nan)
        for g, j in enumerate(go_on):
            rows = paths2[g * rest : (g + 1) * rest, :, j]
            full = np.concatenate([null_paths1[:, :, j], rows])
            path_p[:, j] = permutation_pvalues(obs_paths[:, j], full, signed=True)
        out["path_p_value"] = path_p
    return None, out


def _warn_undefined(null: np.ndarray, info: dict) -> None:
    n_dead = int(np.isnan(null).any(axis=tuple(range(1, null.ndim))).sum())
    _report_undefined(n_dead, null.shape[0], info)


def _report_undefined(n_dead: int, n_networks: int, info: dict) -> None:
    info["n_undefined_null"] = n_dead
    if n_dead:
        warn(
            f"The statistic is undefined for {n_dead} of {n_networks} null networks "
            "(all their connection weights are zero); they count as less extreme than the "
            "observed value. Many such networks mean the test's weight penalty is too strong "
            "for these data: consider a smaller train_alpha.",
            RuntimeWarning,
        )


def _global_pvalue(out, statistic, obs, null_stats, n_perm) -> None:
    """Response permutation: one global p-value (min-p), per-variable values for the record."""
    imp_obs, imp_null = obs["importance"][0], null_stats["importance"]
    _warn_undefined(imp_null, out.info)
    out.null_distribution = imp_null
    out.global_test = {
        "statistic": "min-p over variables (Westfall & Young 1993)",
        "p_value": min_p_global(imp_obs, imp_null, signed=statistic.signed),
        "n_permutations": n_perm,
        "variable_p_values": permutation_pvalues(imp_obs, imp_null, signed=statistic.signed),
    }


def _per_variable_pvalues(out, statistic, config, fitted, stats, p, n_perm) -> None:
    """Per-variable p-values from the per-variable blocks, adjusted together."""
    if fitted is None:  # two stages: stopped variables keep their first-stage p-value
        tested_obs, imp_null = stats["observed"], stats["null"]
        p_var = stats["p1"].copy()
        go_on = np.flatnonzero(stats["n_draws"] == n_perm)
        if go_on.size:
            # each output by the rule on its own (its first-stage p-value when above the
            # threshold, even where another output's p-value made the variable go on): the
            # exactness argument holds per output
            p2 = permutation_pvalues(
                tested_obs[:, go_on], imp_null[:, :, go_on], signed=statistic.signed
            )
            p1 = stats["p1"][:, go_on]
            p_var[:, go_on] = np.where(p1 <= STOP_ABOVE, p2, p1)
        n_undefined = sum(
            int(np.isnan(imp_null[: stats["n_draws"][j], :, j]).any(axis=1).sum()) for j in range(p)
        )
        _report_undefined(n_undefined, int(stats["n_draws"].sum()), out.info)
    else:
        tested_obs, imp_null = _blocks(stats["importance"], p, n_perm)
        _warn_undefined(imp_null, out.info)
        p_var = permutation_pvalues(tested_obs, imp_null, signed=statistic.signed)
    out.null_distribution = imp_null
    out.info["tested_statistic"] = tested_obs
    warn_resolution(n_perm, p_var.size, config.alpha, config.p_adjust)
    out.p_value = p_var
    out.p_adjusted = adjust_pvalues(p_var, config.p_adjust)
    if fitted is None:
        out.path_p_value = stats.get("path_p_value")
    elif statistic.paths is not None:
        paths = statistic.paths(fitted.model)
        if paths is not None:
            obs_paths, null_paths = _blocks(paths, p, n_perm)
            out.path_p_value = permutation_pvalues(obs_paths, null_paths, signed=True)
