"""The Ray backend: each run is a Ray task with declared resources (``pip install -e '.[ray]'``).

``address``: ``'auto'`` (the cluster this node belongs to, e.g. after ``ray start``),
``'host:port'`` (join that cluster) or ``'local'`` (start a one-machine cluster in this
process: no dashboard, all cores unless ``local_num_cpus``).

A task runs ``runs.execute`` on whichever node Ray picks, so the sweep root must be a
directory that every node sees at the same path (a shared filesystem), and the
repository and Python environment must sit at the same paths on every node (the commands
are ``<python> <repo>/bin/train.py ...``). ``num_gpus`` may be fractional: with 0.25, four
runs share one GPU (Ray sets ``CUDA_VISIBLE_DEVICES`` for the task; the runs grow their
GPU memory as needed instead of taking all of it).
"""

import os

from memrnn_tf import cli
from memrnn_tf import errors
from memrnn_tf.sweep import grid
from memrnn_tf.sweep import local
from memrnn_tf.sweep import runs


def _import_ray():
  try:
    import ray  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise grid.SweepError("the Ray backend needs Ray: pip install -e '.[ray]'") from e
  return ray


class RayBackend:
  """Runs each grid point as a Ray task with ``num_cpus`` CPUs and ``num_gpus`` GPUs."""

  def __init__(self, address, num_cpus=1.0, num_gpus=0.0, local_num_cpus=None):
    if num_cpus <= 0 or num_gpus < 0:
      raise errors.ConfigError(f'need num_cpus > 0 and num_gpus >= 0, got {num_cpus}, {num_gpus}')
    self.address = address
    self.num_cpus = float(num_cpus)
    self.num_gpus = float(num_gpus)
    self.local_num_cpus = local_num_cpus

  def plan(self, num_runs):
    """``(None, threads per op)``: Ray decides how many tasks run at once; each run gets
    as many threads as the CPUs it declares."""
    del num_runs
    return None, max(1, int(self.num_cpus))

  def describe(self, num_runs):
    return (f'ray ({self.address}), {self.num_cpus:g} CPUs and {self.num_gpus:g} GPUs per '
            f'run, {self.plan(num_runs)[1]} threads per op')

  def _connect(self):
    """Connects (or starts a local cluster); returns whether this call started Ray."""
    ray = _import_ray()
    if ray.is_initialized():
      return False
    # Workers import this package from the repository the commands run from.
    path = os.pathsep.join(p for p in (cli.REPO_ROOT, os.environ.get('PYTHONPATH')) if p)
    options = dict(log_to_driver=False, runtime_env={'env_vars': {'PYTHONPATH': path}})
    if self.address == 'local':
      os.environ.setdefault('RAY_USAGE_STATS_ENABLED', '0')  # no reports over the network
      ray.init(num_cpus=self.local_num_cpus or local.available_cores(),
               include_dashboard=False, **options)
    else:
      ray.init(address=self.address, **options)
    return True

  def run(self, specs, on_start, on_finish):
    """Submits every spec as a task; calls ``on_finish(record)`` as tasks end.

    ``on_start`` is not called: Ray does not tell the driver when a queued task starts,
    so runs stay ``pending`` in ``sweep.json`` until they end.
    """
    del on_start
    ray = _import_ray()
    started = self._connect()
    try:
      # A task lost with its node is retried (Ray's default); the run resumes from its
      # last checkpoint.
      task = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus)(runs.execute)
      pending = {}
      for spec in specs:
        pending[task.remote(spec)] = spec
      while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        spec = pending.pop(done[0])
        try:
          result = ray.get(done[0])
        except Exception as e:  # pylint: disable=broad-except
          # The task itself died (node lost, worker killed): record it as failed.
          result = runs.make_record(spec, runs.read_state(spec), 'failed',
                                    error=f'ray task failed: {type(e).__name__}: {e}')
        on_finish(result)
    finally:
      if started:
        ray.shutdown()
