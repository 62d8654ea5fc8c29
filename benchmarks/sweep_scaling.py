r"""Scaling of the local sweep backend: trials/s of 1 vs 2 (or more) concurrent runs.

  python benchmarks/sweep_scaling.py [--batch_sizes=1,128] [--num_steps=3000,300] \
      [--concurrency=1,2]

For every batch size and concurrency c it runs a sweep of c identical GRU-200 runs (the
mnist ``cpu`` config, seeds 0..c-1, a fixed step count, no post-steps) with the local
backend at concurrency c, each in a fresh temporary root, exactly as ``bin/sweep.py``
would (c > 1: one thread per op per run on 2 cores). It prints per row

* ``steady``: the summed trials/s of the runs between their first and last log step
  (compilation and start-up excluded; from each run's ``metrics.jsonl``);
* ``wall``: all trials of the sweep divided by its wall time (start-up included);
* ``ratio``: each of these over the same batch size's c = 1 row.

Needs an otherwise idle machine: other load is shared out across the runs and skews the
ratios.
"""

import os
import shutil
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import ml_collections

from memrnn_tf.sweep import driver
from memrnn_tf.sweep import grid
from memrnn_tf.sweep import local

_BATCHES = flags.DEFINE_list('batch_sizes', ['1', '128'], 'Batch sizes.')
_STEPS = flags.DEFINE_list('num_steps', ['3000', '300'],
                           'Training steps of every run, one per batch size.')
_CONCURRENCY = flags.DEFINE_list('concurrency', ['1', '2'], 'Concurrent runs to compare.')
_LOGS = flags.DEFINE_integer('log_points', 6, 'Log steps per run (steady-rate samples).',
                             lower_bound=2)
_KEEP = flags.DEFINE_string('keep_root', None, 'Keep the runs under this directory.')


def sweep_config(batch_size, num_steps, concurrency, log_points):
  """c identical runs of the cpu config (seeds differ), logging ``log_points`` times."""
  config = ml_collections.ConfigDict()
  config.base = 'configs/mnist.py:cpu'
  config.run = grid.load_config_file(config.base)
  run = config.run
  run.batch_size = batch_size
  run.num_steps = num_steps
  run.perf.steps_per_execution = max(1, min(run.perf.steps_per_execution,
                                            num_steps // log_points))
  run.log_every = max(run.perf.steps_per_execution, num_steps // log_points)
  run.checkpoint_every = run.snapshot_every = num_steps
  run.eval_trials = run.eval_batch_size = 100
  config.axes = ml_collections.ConfigDict(dict(seed=tuple(range(concurrency))))
  config.post_steps = ''
  return config


def steady_trials_per_sec(workdir, batch_size):
  """Trials/s between the first and the last train log step of a run.

  ``steps_per_sec`` in ``metrics.jsonl`` counts from the start of training, so the time
  at each log step is ``step / steps_per_sec``.
  """
  import json  # pylint: disable=g-import-not-at-top
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    logs = [r for r in map(json.loads, f) if r.get('split') == 'train']
  (s0, r0), (s1, r1) = [(r['step'], r['steps_per_sec']) for r in (logs[0], logs[-1])]
  return batch_size * (s1 - s0) / (s1 / r1 - s0 / r0)


def measure(batch_size, num_steps, concurrency, root):
  """``(steady trials/s summed over runs, wall trials/s, threads per op)``."""
  config = sweep_config(batch_size, num_steps, concurrency, _LOGS.value)
  backend = local.LocalBackend(concurrency)
  start = time.time()
  records = driver.run_sweep(config, root, backend)
  wall = time.time() - start
  failed = [r['name'] for r in records if r['status'] != 'done']
  if failed:
    raise RuntimeError(f'runs failed: {failed}; logs in {root}')
  steady = sum(steady_trials_per_sec(r['workdir'], batch_size) for r in records)
  return steady, batch_size * num_steps * concurrency / wall, backend.plan(concurrency)[1]


def main(argv):
  del argv
  if len(_STEPS.value) != len(_BATCHES.value):
    raise app.UsageError('--num_steps needs one value per --batch_sizes value')
  logging.set_verbosity(logging.WARNING)
  print(f'cores {local.available_cores()}, load average {os.getloadavg()[0]:.2f}')
  print(f'{"batch":>5} {"runs":>4} {"threads":>7} {"steps":>6} {"steady tr/s":>11} '
        f'{"wall tr/s":>9} {"ratio steady":>12} {"ratio wall":>10}')
  keep = _KEEP.value
  for batch, steps in zip(map(int, _BATCHES.value), map(int, _STEPS.value)):
    first = None
    for c in map(int, _CONCURRENCY.value):
      root = (os.path.join(keep, f'b{batch}_c{c}') if keep else
              tempfile.mkdtemp(prefix=f'sweep_scaling_b{batch}_c{c}_'))
      try:
        steady, wall, threads = measure(batch, steps, c, root)
      finally:
        if not keep:
          shutil.rmtree(root, ignore_errors=True)
      first = first or (steady, wall)
      print(f'{batch:5d} {c:4d} {threads or "all":>7} {steps:6d} {steady:11.1f} {wall:9.1f} '
            f'{steady / first[0]:12.2f} {wall / first[1]:10.2f}', flush=True)
  print(f'load average at the end {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
  app.run(main)
