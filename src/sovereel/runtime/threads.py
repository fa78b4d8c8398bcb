"""The numeric libraries' own worker threads in a serving or learning process: none beyond the caller's.

OpenBLAS (numpy's, scipy's) starts a worker per core and, after each product it splits across them, keeps them
spinning for the next one. A page's products are small (hundreds of candidates), so the split bought nothing,
while the spinning worker held a second core: in process, a For You page with its event batch took 116 ms of
CPU with the worker and 61 ms without (`bench.foryou_events_profile`, 10,000 videos, ten pages deep), and on a
2-core machine serving from two processes that core is the other process's. Processes scale a region, not
BLAS threads. OpenBLAS splits a product by rows and columns, never along the summed dimension, so each value
is computed by the same kernel either way: scores and replays are unchanged (the serving golden holds).
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

_limited: list[threadpool_limits] = []  # held for the process's life: dropping it would restore the pools


def one_blas_thread() -> None:
    """Limit BLAS to the calling threads (idempotent); torch's training threads are left as they are."""
    if not _limited:
        _limited.append(threadpool_limits(limits=1, user_api="blas"))
