"""The local backend: runs in parallel processes on this machine (nothing beyond the stdlib).

``default_concurrency`` is the one place that chooses how many runs share the machine.
"""

import concurrent.futures
import os

from memrnn_tf import errors
from memrnn_tf.sweep import runs

# Memory one training process may take (a GRU-200 at batch 128 peaks near 1.2 GB).
_BYTES_PER_RUN = 2 << 30
# Cores per concurrent run: two runs sharing two cores trained no faster than one alone at
# batch 128 and only modestly faster at batch 1 (benchmarks/sweep_scaling.py, BUILD_NOTES).
_CORES_PER_RUN = 2


def available_cores():
  """Cores this process may use (its CPU affinity where the OS tells, else all)."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


def default_concurrency(num_runs, cores=None, memory_bytes=None):
  """Concurrent runs when ``--concurrency`` is not given: one run per two cores.

  With more than one run, each gets its share of the cores as threads per op
  (``runs.THREADS_FIELD``). On two cores one run at a time keeps TensorFlow's own threads:
  ``benchmarks/sweep_scaling.py`` found no gain from two concurrent runs at batch 128 (the
  ``cpu`` and ``paper`` configs). Never more runs than are left to do, nor more than memory
  holds at ~2 GiB each.
  """
  cores = cores or available_cores()
  if memory_bytes is None:
    try:
      memory_bytes = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    except (AttributeError, ValueError, OSError):
      memory_bytes = cores * _BYTES_PER_RUN
  return max(1, min(cores // _CORES_PER_RUN, num_runs, memory_bytes // _BYTES_PER_RUN))


def threads_per_run(concurrency, cores=None):
  """Threads per op of each run: the cores shared out, or None (TF's default) when alone."""
  if concurrency <= 1:
    return None
  return max(1, (cores or available_cores()) // concurrency)


class LocalBackend:
  """Runs each grid point's commands in subprocesses, ``concurrency`` runs at a time."""

  def __init__(self, concurrency=None):
    if concurrency is not None and concurrency < 1:
      raise errors.ConfigError(f'concurrency must be >= 1, got {concurrency}')
    self.concurrency = concurrency

  def plan(self, num_runs):
    """``(concurrency, threads per op)`` for ``num_runs`` runs to do."""
    concurrency = self.concurrency or default_concurrency(num_runs)
    return concurrency, threads_per_run(concurrency)

  def describe(self, num_runs):
    concurrency, threads = self.plan(num_runs)
    return f'local, {concurrency} at a time, {threads or "default"} threads per op'

  def run(self, specs, on_start, on_finish):
    """Executes ``specs``; calls ``on_start(spec)`` and ``on_finish(record)`` as they go."""
    concurrency, _ = self.plan(len(specs))

    def one(spec):
      on_start(spec)
      on_finish(runs.execute(spec))

    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
      for future in [pool.submit(one, spec) for spec in specs]:
        future.result()
