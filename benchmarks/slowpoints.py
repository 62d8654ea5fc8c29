r"""First-order slow-point search speed on a GRU-200: one compiled while loop vs one call
per step.

  python benchmarks/slowpoints.py [--workdir=runs/mnist_gru_decu_s0] [--sizes=10,1024]

(The refined search against a float64 truth solver and against this per-call loop, on a
trained flip-flop GRU: ``benchmarks/flipflop_slowpoints.py``.)

For N initial states it times, to the same tolerance and iteration limit:

* ``loop``: ``find_slow_points`` (the whole search in one XLA-compiled ``tf.while_loop``,
  input projection computed once, per-point freezing, early exit; on CPU the points are
  split into ``default_groups(N)`` such loops run concurrently, ``--groups`` to change);
* ``per-call``: the structure of today's tools (FixedPointFinder): a Python loop that calls
  one XLA-compiled optimiser step per iteration with the model's generic one-step map
  ``model.one_step(state, raw inputs)`` (so the 785-wide input projection is recomputed
  every step) and fetches the convergence flags to the host after every step;
* ``per-call, hoisted``: the same Python loop but given the precomputed input projection,
  to separate the loop overhead from the hoisting.

All three run the same iteration (``slowpoints.make_search_step``): same Adam, same
per-point rate schedule and freezing, so they take the same number of iterations up to
float rounding (printed). Compilation is excluded (one warm-up call per variant); the loop
is timed --repeats times and the best kept, the baselines once.

GFLOP/s count the useful work only: per point and iteration the GRU's recurrent matmuls
forward (``6 H^2``) and their transposes for the gradient w.r.t. the state (``6 H^2``),
i.e. ``12 H^2`` FLOPs (elementwise work and the per-call variant's recomputed input
projection are not counted). Frozen points are counted (the batch keeps its shape). Peak
is a 2048^3 float32 matmul timed in the same process.

``--paper_points=10`` (default 0: skip) also times the authors' search (``method='paper'``:
``--paper_steps`` plain Adam steps, one compiled loop) on that many states: the first call
(with tracing and compilation) and the best of --repeats later ones, wall clock and CPU
time of this process, with the load average (the machine may be shared). ``--sizes=``
(empty) skips the other variants.

Initial states: the network driven by 15 noise frames (MNIST noise statistics, no
images needed) from the zero state, plus N(0, 0.05^2) jitter; input during the search:
the mean noise frame with trigger 0. Without --workdir the GRU has the paper's random
initialisation (``configs/mnist.py:cpu``, seed 0).
"""

import dataclasses
import os
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from memrnn_tf import cli
from memrnn_tf import perf
from memrnn_tf.analysis import slowpoints as sp
from memrnn_tf.training import experiment

_WORKDIR = flags.DEFINE_string('workdir', None, 'Trained GRU run (default: random GRU-200).')
_CHECKPOINT = flags.DEFINE_integer('checkpoint', None, 'Step of --workdir (default latest).')
_SIZES = flags.DEFINE_list('sizes', ['10', '1024'], 'Numbers of initial states.')
_TOL = flags.DEFINE_float('tol', 1e-10, 'Speed tolerance.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timings of the loop variant (best is kept).')
_MAX_ITERS = flags.DEFINE_integer('max_iters', 2000, 'Iteration limit.')
_BASELINE_SECONDS = flags.DEFINE_float(
    'baseline_seconds', 60.0, 'Time budget of a per-call baseline; beyond it the rate of '
    'its first iterations is extrapolated to the iterations the loop ran.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the initial states.')
_GROUPS = flags.DEFINE_integer('groups', None, 'Concurrent searches of the loop variant '
                               '(default: slowpoints.default_groups(N)).', lower_bound=1)
_PAPER_POINTS = flags.DEFINE_integer('paper_points', 0, "States for the authors' search "
                                     '(0: skip it).', lower_bound=0)
_PAPER_STEPS = flags.DEFINE_integer('paper_steps', 100_000, "Steps of the authors' search.",
                                    lower_bound=1)
_PEAK_SIZE = flags.DEFINE_integer('peak_size', 2048, 'Side of the square float32 matmuls '
                                  'that measure the peak (smaller: faster, less exact).',
                                  lower_bound=64)

MNIST_MEAN, MNIST_STD = 0.1307, 0.30816


def load_model():
  if _WORKDIR.value:
    model, path = experiment.load_trained_model(_WORKDIR.value, _CHECKPOINT.value)
    return model, path
  config = cli.load_config('mnist', 'cpu')
  return experiment.model_from_config(config), 'random GRU-200 (paper init, seed 0)'


def initial_states(model, n, seed):
  """States after 15 noise frames from zero, jittered: ``[n, S]``."""
  noise = MNIST_MEAN + MNIST_STD * tf.random.stateless_normal([n, 15, 784], [seed, 1])
  inputs = tf.concat([noise, tf.zeros([n, 15, 1])], -1)
  states = model.run_cell(inputs)[:, -1]
  jitter = 0.05 * tf.random.stateless_normal(states.shape, [seed, 2])
  return tf.clip_by_value(states + jitter, -1.0, 1.0)


def per_call_baseline(step_fn, x0, inputs, options, seconds_budget):
  """Python loop over a compiled one-iteration function; returns (iterations, seconds,
  extrapolated)."""
  body = sp.make_search_step(step_fn, clip=options.clip)
  hp = sp.hyperparameters(options)
  one = tf.function(lambda state, inputs: body(*state, inputs, hp), jit_compile=True)
  state = sp.initial_loop_state(x0, options.rate)
  one(state, inputs)  # compile
  start = time.perf_counter()
  it = 0
  while it < options.max_iters and bool(tf.reduce_any(state[10])):  # state[10]: active
    state = one(state, inputs)
    it += 1
    if time.perf_counter() - start > seconds_budget:
      return it, time.perf_counter() - start, True
  return it, time.perf_counter() - start, False


def time_paper_search(step_fn, model, mean_input):
  """Prints the time of the authors' search (``method='paper'``) on --paper_points states."""
  x0 = initial_states(model, _PAPER_POINTS.value, _SEED.value)
  times = []
  for _ in range(1 + _REPEATS.value):
    start, cpu = time.perf_counter(), time.process_time()
    result = sp.find_slow_points(step_fn, x0, mean_input,
                                 sp.SearchOptions(method='paper', num_steps=_PAPER_STEPS.value))
    times.append((time.perf_counter() - start, time.process_time() - cpu,
                  result.info['paper_seconds']))
  (first, first_cpu, _), (wall, cpu, loop) = times[0], min(times[1:])
  print(f"authors' search: {_PAPER_POINTS.value} states, {_PAPER_STEPS.value} Adam steps: "
        f'first call {first:.2f} s (CPU {first_cpu:.2f} s), later call {wall:.2f} s (CPU '
        f'{cpu:.2f} s; loop {loop:.2f} s = {1e6 * loop / _PAPER_STEPS.value:.0f} us per '
        f'step); load average {os.getloadavg()[0]:.2f}; status {result.status_counts()}')


def main(argv):
  del argv
  model, source = load_model()
  units = model.cell.units
  if model.cell.name != 'gru':
    raise app.UsageError(f'--workdir must hold a GRU run, got {model.cell.name}')
  fast = sp.step_fn_for_model(model)
  # Generic map on raw inputs (what today's tools call every step).
  generic = sp.StepFunction(model.one_step, to_xi=model.cell.to_xi, name='generic')
  hoisted = sp.StepFunction(lambda s, p: model.cell.step(p, s), to_xi=model.cell.to_xi,
                            name='hoisted')
  mean_input = tf.concat([tf.fill([784], MNIST_MEAN), [0.0]], 0)
  peak = perf.matmul_peak(_PEAK_SIZE.value)
  options = sp.SearchOptions(method='adam', dtype='float32', clip=None, tol=_TOL.value,
                             max_iters=_MAX_ITERS.value, groups=_GROUPS.value)
  print(f'model: {source}; tol {options.tol:g}, max_iters {options.max_iters}')
  if _PAPER_POINTS.value:
    time_paper_search(fast, model, mean_input)
  rows = []  # (variant, N, iterations, seconds, converged, median speed, GFLOP/s, loop seconds)
  for n in [int(s) for s in _SIZES.value]:
    x0 = initial_states(model, n, _SEED.value)
    warm_up = dataclasses.replace(options, max_iters=2)
    sp.find_slow_points(fast, x0, mean_input, warm_up)  # compile
    results = [sp.find_slow_points(fast, x0, mean_input, options)
               for _ in range(_REPEATS.value)]
    result = min(results, key=lambda r: r.info['seconds'])
    loop_its, loop_s = result.info['loop_iterations'], result.info['seconds']
    flops_per_it = 12 * units ** 2 * n
    raw = tf.broadcast_to(mean_input, [n, 785])
    projected = fast.prepare(raw)
    rows.append((f'loop (groups={result.info["groups"]})', n, loop_its, loop_s,
                 int(result.converged.sum()), float(np.median(result.speeds)),
                 flops_per_it * loop_its / loop_s / 1e9, loop_s))
    for name, fn, inp in (('per-call', generic, raw), ('per-call, hoisted', hoisted, projected)):
      its, secs, partial = per_call_baseline(fn, x0, inp, options, _BASELINE_SECONDS.value)
      if partial:  # extrapolate its measured rate to the loop's iteration count
        secs, its = secs * loop_its / its, loop_its
      rows.append((name + (' (extrap.)' if partial else ''), n, its, secs, None, None,
                   flops_per_it * its / secs / 1e9, loop_s))
  # The peak is measured before and after, and the larger one used: this VM's speed varies.
  peak = max(peak, perf.matmul_peak(_PEAK_SIZE.value))
  print(f'matmul peak ({_PEAK_SIZE.value}^3 float32, best of before/after): {peak:.0f} GFLOP/s')
  for row in rows:
    _print_row(row, peak)


def _print_row(row, peak):
  name, n, its, secs, conv, med, gflops, loop_seconds = row
  if not getattr(_print_row, 'header', False):
    print(f'{"variant":<28} {"N":>5} {"iters":>6} {"seconds":>8} {"it/s":>8} {"conv":>5} '
          f'{"med speed":>9} {"GFLOP/s":>8} {"% peak":>6} {"loop x":>6}')
    _print_row.header = True
  print(f'{name:<28} {n:>5} {its:>6} {secs:>8.3f} {its / secs:>8.0f} '
        f'{"" if conv is None else conv:>5} {"" if med is None else f"{med:.2e}":>9} '
        f'{gflops:>8.1f} {100 * gflops / peak:>6.1f} {secs / loop_seconds:>6.1f}')


if __name__ == '__main__':
  app.run(main)
