"""Thread control confined to the package's own calls.

torch's intra-op parallelism (OpenMP) splits every operation over a team of threads that
spin-wait between operations. On a machine whose cores are shared with other busy processes a
spinning or descheduled team member stalls every operation: measured 10-13x slower fits on a
2-core machine with one competing process. The package therefore runs its heavy loops as
independent tasks (blocks of networks, chunks of rows), each in its own thread with torch
limited to **one** intra-op thread, so no OpenMP team (and no spinning) is involved and a
descheduled worker delays only its own task.

:func:`one_intra_op_thread` changes the setting of the calling thread only (OpenMP's
``nthreads-var`` and MKL's thread-local setting are per thread) and restores it on exit; torch's
process-wide default for threads that start later is restored as well. Nothing is changed at
import and no environment variable is touched.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from joblib import Parallel, delayed, effective_n_jobs

__all__ = ["iter_tasks", "n_workers", "one_intra_op_thread", "run_tasks"]


@contextlib.contextmanager
def one_intra_op_thread() -> Iterator[None]:
    """Run the body with one torch intra-op thread in this thread; restore on exit."""
    old = torch.get_num_threads()
    if old == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def n_workers(n_jobs: int | None, n_tasks: int) -> int:
    """Worker threads for ``n_tasks`` tasks.

    ``n_jobs=None`` uses torch's thread count (``torch.get_num_threads()``: the cores, or what
    the user set with ``torch.set_num_threads``/``OMP_NUM_THREADS``); otherwise joblib's
    meaning (``-1`` all cores). Never more workers than tasks.
    """
    n = torch.get_num_threads() if n_jobs is None else effective_n_jobs(n_jobs)
    return max(1, min(int(n), n_tasks))


def _call_single(fn: Callable, args: Sequence) -> Any:
    with one_intra_op_thread():
        return fn(*args)


def run_tasks(
    fn: Callable, tasks: Sequence[Sequence], n_jobs: int | None, on_done=None
) -> list[Any]:
    """``[fn(*t) for t in tasks]``, in order, spread over worker threads.

    Each task runs with one torch intra-op thread. With one worker the tasks run in the
    calling thread (no pool). Otherwise joblib's thread backend runs them (torch releases the
    GIL inside its operations); a backend chosen by the user with
    ``joblib.parallel_config(backend=...)`` (processes, Dask) takes precedence. ``on_done(i)``
    is called as task ``i`` finishes, in order.
    """
    n = n_workers(n_jobs, len(tasks))
    out: list[Any] = []
    if n == 1:
        for i, t in enumerate(tasks):
            out.append(_call_single(fn, t))
            if on_done is not None:
                on_done(i)
        return out
    gen: Iterable = Parallel(n_jobs=n, prefer="threads", return_as="generator")(
        delayed(_call_single)(fn, t) for t in tasks
    )
    for i, res in enumerate(gen):
        out.append(res)
        if on_done is not None:
            on_done(i)
    return out


def iter_tasks(fn: Callable, tasks: Sequence[Sequence], workers: int, window: int) -> Iterator[Any]:
    """``fn(*t)`` for each task, yielded in order, computed by ``workers`` threads (one torch
    intra-op thread each) with at most ``window`` tasks submitted and not yet yielded.

    A sliding window, not groups of ``workers`` tasks with a barrier after each: on a machine
    shared with another busy process one worker runs slower than the other, and a barrier per
    group made every group wait for its slowest task (``dimopoulos`` on 10^5 rows: 2.2x its
    quiet time next to one competing process). ``window`` bounds the memory of the results
    in flight.
    """
    workers, window = max(1, int(workers)), max(1, int(window))
    if workers == 1 or len(tasks) <= 1:
        for t in tasks:
            yield _call_single(fn, t)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        it = iter(tasks)
        for t in it:
            pending.append(pool.submit(_call_single, fn, t))
            if len(pending) >= window:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_call_single, fn, nxt))
            yield result
