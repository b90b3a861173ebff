"""Timing a call: the bench's rows, the FP32 ceiling's SGEMM and the tiles' and TTA's rows use it."""
import statistics
import time


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def latency(fn, argument, runs, warmup=2):
    """{"min_s", "median_s"} of ``fn(argument)`` (``fn()`` when ``argument`` is None) after
    ``warmup`` calls."""
    call = fn if argument is None else (lambda: fn(argument))
    for _ in range(warmup):
        call()
    times = [_timed(call) for _ in range(runs)]
    return {"min_s": min(times), "median_s": statistics.median(times)}
