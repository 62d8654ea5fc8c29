"""``run_sweep``: expand the grid, skip finished runs, run the rest on a backend."""

import contextlib
import os
import threading

from absl import logging

from memrnn_tf.sweep import grid
from memrnn_tf.sweep import local
from memrnn_tf.sweep import record
from memrnn_tf.sweep import runs
from memrnn_tf.sweep import steps


def make_backend(ray_address=None, concurrency=None, resources=None):
  """The local backend, or with ``ray_address`` the Ray backend.

  Args:
    ray_address: None (local), or ``'auto'`` | ``'host:port'`` | ``'local'`` for Ray.
    concurrency: local runs at a time (None: ``local.default_concurrency``).
    resources: ``num_cpus`` and ``num_gpus`` per Ray task (the sweep config's group).
  """
  if ray_address:
    from memrnn_tf.sweep import ray_backend  # pylint: disable=g-import-not-at-top
    return ray_backend.RayBackend(ray_address, resources.num_cpus, resources.num_gpus)
  return local.LocalBackend(concurrency)


@contextlib.contextmanager
def _exclusive(root):
  """Holds ``<root>/.sweep.lock`` so two sweeps never train the same workdirs at once."""
  try:
    import fcntl  # pylint: disable=g-import-not-at-top
  except ImportError:  # not POSIX: no lock
    yield
    return
  with open(os.path.join(root, '.sweep.lock'), 'w') as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      raise grid.SweepError(f'another sweep is running on --root={root}') from e
    yield


def plan_sweep(sweep_config, root, backend):
  """The specs of every run and their state on disk, without running anything.

  Returns:
    ``(specs, states, description)``: ``runs.RunSpec`` per grid point, ``runs.read_state``
    of each, and the backend's description of how the remaining runs would execute.
  """
  _, points = grid.expand(sweep_config)
  probes = [runs.make_spec(p, root, sweep_config) for p in points]
  states = [runs.read_state(s) for s in probes]
  num_todo = sum(not s['done'] for s in states)
  _, threads = backend.plan(num_todo)
  specs = [runs.make_spec(p, root, sweep_config, threads) for p in points]
  return specs, states, backend.describe(num_todo)


def run_sweep(sweep_config, root, backend, dry_run=False):
  """Runs every unfinished point of the grid under ``root``; writes ``root/sweep.json``.

  Finished runs (``eval.json`` and every post-step output present) are skipped; the others
  start, or resume from their last checkpoint. A failed run does not stop the others.

  Args:
    sweep_config: a ``configs/sweep.py`` config.
    root: directory of the runs (created, unless the grid is refused or ``dry_run``).
    backend: ``local.LocalBackend`` or ``ray_backend.RayBackend``.
    dry_run: only return every run's state and command (nothing is written).

  Returns:
    The run records in grid order (``runs.make_record``), ``status`` ``done`` or ``failed``
    for every run (``pending`` for those not run when ``dry_run``).

  Raises:
    SweepError: bad grid, or another sweep holds ``root``.
  """
  root = os.path.abspath(root)
  if dry_run:
    return list(_records(root, *plan_sweep(sweep_config, root, backend)[:2]).values())
  grid.expand(sweep_config)  # a refused grid leaves nothing behind
  os.makedirs(root, exist_ok=True)
  with _exclusive(root):
    specs, states, description = plan_sweep(sweep_config, root, backend)
    previous = record.load(root)
    records = _records(root, specs, states, previous)
    todo = [s for s, state in zip(specs, states) if not state['done']]
    header = {'root': root, 'base': sweep_config.base, 'backend': description}
    lock = threading.Lock()

    def write():
      record.write(root, header, [records[s.name] for s in specs])

    def on_start(spec):
      with lock:
        records[spec.name]['status'] = 'running'
        write()

    def on_finish(result):
      with lock:
        before = previous.get(result['name'], {}).get('seconds') or 0.0
        result['seconds'] = before + (result['seconds'] or 0.0)
        records[result['name']] = result
        write()
      logging.info('%s: %s in %.0f s', result['name'], result['status'], result['seconds'])

    write()
    logging.info('%d runs under %s: %d finished, %d to run (%s)', len(specs), root,
                 len(specs) - len(todo), len(todo), description)
    if todo:
      backend.run(todo, on_start, on_finish)
    return [records[s.name] for s in specs]


def _records(root, specs, states, previous=None):
  """``{name: run record}`` of the planned runs, in grid order (time from ``previous``)."""
  previous = record.load(root) if previous is None else previous
  return {spec.name: runs.make_record(spec, state, 'done' if state['done'] else 'pending',
                                      previous.get(spec.name, {}).get('seconds'))
          for spec, state in zip(specs, states)}


def summary_table(records):
  """``record.summary_table`` with the registered post-steps' short forms."""
  return record.summary_table(records, {k: v.short for k, v in steps.POST_STEPS.items()})
