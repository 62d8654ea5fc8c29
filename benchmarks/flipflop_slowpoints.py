r"""Slow-point search on a trained 3-bit flip-flop GRU-64 against a float64 truth solver.

  python benchmarks/train_flipflop_gru.py --out=/tmp/slowpoints/flipflop_gru64.keras
  python benchmarks/flipflop_slowpoints.py --model=/tmp/slowpoints/flipflop_gru64.keras

Initial states: 1,024 states visited by the network on 32 task trials of 100 steps, plus
N(0, --noise^2) noise; input during the search: zero. Compared, on the same states:

* ``truth``: an independent float64 solver, MINPACK's Levenberg-Marquardt
  (``scipy.optimize.root(method='lm')``) on a numpy copy of the Keras GRU map with its
  analytic Jacobian, from every state; roots with ``|F(x) - x|_inf < 1e-12``,
  deduplicated at 1e-6, unstable modes from the numpy Jacobian's eigenvalues;
* ``refined``: ``find_slow_points`` with its defaults (float64 Levenberg-Marquardt), timed
  from a fresh ``StepFunction`` (tracing included);
* ``first-order, per call``: the structure of today's tools (FixedPointFinder): a Python
  loop calling one compiled Adam iteration (``slowpoints.make_search_step``, the package's
  own schedule, clipped to |h| <= 1) until every point stopped or --baseline_seconds ran
  out; its points are then judged like the others (``SlowPoints.from_points``).

For every variant: fixed points (status ``fixed_point``, deduplicated), how many of the
truth's fixed points lie within 1e-4 (max-abs) of one of them with the same number of
unstable modes, and the time (wall clock and this process's CPU time; the load average is
printed, the machine may be shared).

``--truth_cache=PATH.npz`` keeps the truth (it takes minutes) for later runs from the same
states. ``--profile`` adds the refined search's profile: iterations per status, the batch
size over the iterations, time per iteration, and the share of its parts, from the
Jacobians computed (``info['newton_linearisations']``), the point-iterations run and each
part timed on its own at batch sizes 1,024 and 64 (best of 3).
"""

import os

import time

from absl import app
from absl import flags
import keras
import numpy as np
from scipy import optimize
import tensorflow as tf

from memrnn_tf.analysis import newton
from memrnn_tf.analysis import slowpoints as sp
from memrnn_tf.data import flipflop as flipflop_data

_MODEL = flags.DEFINE_string('model', '/tmp/slowpoints/flipflop_gru64.keras',
                             'Model saved by benchmarks/train_flipflop_gru.py.')
_N = flags.DEFINE_integer('num_states', 1024, 'Initial states.', lower_bound=1)
_NOISE = flags.DEFINE_float('noise', 0.05, 'Std of the noise added to the states.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the trials and the noise.')
_BASELINE_SECONDS = flags.DEFINE_float('baseline_seconds', 60.0,
                                       'Time budget of the per-call first-order loop.')
_TRUTH_CACHE = flags.DEFINE_string('truth_cache', None,
                                   'npz file keeping the truth between runs (same states).')
_PROFILE = flags.DEFINE_bool('profile', False, "Print the refined search's profile.")
_MATCH = 1e-4


def initial_states(model, n, noise, seed):
  """``[n, units]`` float32: trajectory states plus noise."""
  task = flipflop_data.FlipFlopTask(num_bits=3, seq_len=100)
  batch = task.sample(tf.constant([seed, 0]), 32)
  gru = model.get_layer('gru')
  states = keras.Model(model.input, gru.output)(batch['inputs']).numpy()
  states = states.reshape(-1, states.shape[-1])
  rng = np.random.default_rng(seed)
  picked = states[rng.choice(len(states), n, replace=len(states) < n)]
  return (picked + noise * rng.standard_normal(picked.shape)).astype(np.float32)


def numpy_gru(cell):
  """Zero-input map of a Keras GRU cell (reset_after) and its Jacobian, float64."""
  _, rec, bias = (np.asarray(w, np.float64) for w in cell.get_weights())
  units = rec.shape[0]
  u_z, u_r, u_h = rec[:, :units], rec[:, units:2 * units], rec[:, 2 * units:]
  x_z, x_r, x_h = np.split(bias[0], 3)
  sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731

  def parts(h):
    r_z, r_r, r_h = np.split(h @ rec + bias[1], 3)
    z, r = sig(x_z + r_z), sig(x_r + r_r)
    return z, r, r_h, np.tanh(x_h + r * r_h)

  def f(h):
    z, _, _, cand = parts(h)
    return z * h + (1 - z) * cand

  def jacobian(h):  # d f_j / d h_i at [j, i]
    z, r, r_h, cand = parts(h)
    d_cand = (1 - cand ** 2)[:, None] * (u_r.T * (r * (1 - r) * r_h)[:, None]
                                         + u_h.T * r[:, None])
    return (np.diag(z) + u_z.T * (z * (1 - z) * (h - cand))[:, None]
            + (1 - z)[:, None] * d_cand)

  return f, jacobian


def truth_fixed_points(cell, x0):
  """Deduplicated float64 roots of F(x) - x from every start, and their unstable counts."""
  f, jacobian = numpy_gru(cell)
  eye = np.eye(x0.shape[1])
  roots = []
  for start in np.asarray(x0, np.float64):
    sol = optimize.root(lambda x: (f(x) - x, jacobian(x) - eye), start, jac=True,
                        method='lm', options={'xtol': 1e-15, 'ftol': 1e-15})
    if (np.max(np.abs(f(sol.x) - sol.x)) < 1e-12
        and not any(np.max(np.abs(sol.x - r)) < 1e-6 for r in roots)):
      roots.append(sol.x)
  roots = np.array(roots)
  unstable = np.array([np.sum(np.abs(np.linalg.eigvals(jacobian(r))) > 1) for r in roots])
  return roots, unstable


def matched(truth, truth_unstable, points, unstable):
  """How many truth points have a point within ``_MATCH`` with the same unstable count."""
  count = 0
  for root, k in zip(truth, truth_unstable):
    if len(points):
      dist = np.max(np.abs(points - root), axis=1)
      count += int(np.any((dist < _MATCH) & (unstable == k)))
  return count


def cached_truth(cell, x0, path):
  """``truth_fixed_points``, read from / written to ``path`` when given (same states)."""
  if path and os.path.exists(path):
    with np.load(path) as f:
      if np.array_equal(f['x0'], x0):
        return f['roots'], f['unstable']
  roots, unstable = truth_fixed_points(cell, x0)
  if path:
    np.savez(path, x0=x0, roots=roots, unstable=unstable)
  return roots, unstable


def _best_seconds(fn, *args, repeats=3):
  fn(*args)  # trace
  best = np.inf
  for _ in range(repeats):
    start = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), fn(*args))
    best = min(best, time.perf_counter() - start)
  return best


def profile(step_fn, x0, result, seconds):
  """Prints the refined search's profile (module docstring)."""
  its = result.iterations
  print(f'refined search profile: {seconds:.2f} s for {result.info["newton_loop_iterations"]} '
        f'loop iterations ({1e3 * seconds / result.info["newton_loop_iterations"]:.1f} ms '
        'per iteration on average)')
  for name in newton.STATUS:
    mask = result.status == name
    if mask.any():
      print(f'  {name:<14} {mask.sum():>5} points, iterations median {np.median(its[mask]):.0f}, '
            f'90th percentile {np.percentile(its[mask], 90):.0f}, max {its[mask].max()}, '
            f'{its[mask].sum()} point-iterations')
  marks = [0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 100, 150, 199]
  print('  batch size at iteration ' + ', '.join(f'{i}: {np.sum(its >= i)}' for i in marks))
  point_iterations = int(its.sum() + np.sum(its < result.info['newton_iters']))
  jacobians = result.info['newton_linearisations']
  print(f'  {point_iterations} point-iterations, {jacobians} Jacobians (a rejected step '
        'keeps its Jacobian; ' + ('closed form' if step_fn.has_state_jacobian else 'autodiff')
        + ')')
  variant = step_fn.with_dtype('float64')
  # pylint: disable=protected-access
  constants = variant.constants()
  residual = newton._residual_fn(variant, constants)
  closed = newton._closed_jacobian_fn(variant, constants)  # None: autodiff
  linearise = tf.function(lambda x, p: newton._linearise(residual, x, p, closed))
  solve = tf.function(lambda a, b, mu, m, f, s: newton._damped_step(a, b, mu, m, f, None, s))
  # pylint: enable=protected-access
  trial = tf.function(lambda x, p: tf.reduce_sum(tf.square(residual(x, p)), -1))
  for m in (1024, 64):
    x = tf.constant(np.asarray(x0[:m], np.float64))
    p = variant.prepare(tf.zeros([m, 3], tf.float64))
    _, _, a, b, diag_max = linearise(x, p)
    parts = {'Jacobian (+ J^T J, J^T r)': _best_seconds(linearise, x, p) / m,
             'damped solve (Cholesky)': _best_seconds(
                 solve, a, b, 1e-6 * diag_max, diag_max, tf.ones([m], tf.bool),
                 tf.ones_like(b)) / m,
             'trial step (one F)': _best_seconds(trial, x, p) / m}
    per_point = ', '.join(f'{k} {1e6 * v:.0f} us' for k, v in parts.items())
    # Per iteration: Jacobians of the moved points; a damped solve per point and an
    # undamped one (for the status) per moved point, at most (it is skipped where a bound
    # shows the step is not negligible); one trial step per point.
    est = {'Jacobian': jacobians * parts['Jacobian (+ J^T J, J^T r)'],
           'solves': (jacobians + point_iterations) * parts['damped solve (Cholesky)'],
           'trial steps': point_iterations * parts['trial step (one F)']}
    est['bookkeeping and the rest'] = max(0.0, seconds - sum(est.values()))
    print(f'  per point at batch {m}: {per_point}; shares of the {seconds:.2f} s at these '
          'costs: ' + ', '.join(f'{k} {100 * v / seconds:.0f}%' for k, v in est.items()))


def per_call_first_order(step_fn, x0, seconds_budget):
  """Python loop over one compiled Adam iteration: ``(best points, iterations, seconds)``."""
  options = sp.SearchOptions()
  body = sp.make_search_step(step_fn, clip=step_fn.state_bounds)
  hp = sp.hyperparameters(options)
  inputs = tf.zeros([len(x0), 3])
  one = tf.function(lambda state: body(*state, inputs, hp), jit_compile=True)
  state = sp.initial_loop_state(tf.constant(x0), options.rate)
  start = time.perf_counter()
  it = 0
  while it < options.max_iters and bool(tf.reduce_any(state[10])):  # state[10]: active
    state = one(state)
    it += 1
    if time.perf_counter() - start > seconds_budget:
      break
  return state[2].numpy(), it, time.perf_counter() - start


def _fixed(result, step_fn):
  fixed = result.subset(result.status == 'fixed_point').unique(1e-6)
  unstable = fixed.n_unstable(step_fn) if len(fixed) else np.zeros(0, int)
  return fixed, unstable


def main(argv):
  del argv
  model = keras.models.load_model(_MODEL.value)
  cell = model.get_layer('gru').cell
  x0 = initial_states(model, _N.value, _NOISE.value, _SEED.value)
  zero = np.zeros(3, np.float32)
  rows = []

  print(f'load average at start: {os.getloadavg()[0]:.2f} (2 cores)')
  start = time.perf_counter()
  truth, truth_unstable = cached_truth(cell, x0, _TRUTH_CACHE.value)
  truth_seconds = time.perf_counter() - start
  by_unstable = np.bincount(truth_unstable)
  print(f'truth: {len(truth)} fixed points (by unstable modes {by_unstable.tolist()}), '
        f'{truth_seconds:.1f} s')

  step_fn = sp.step_fn_for_cell(cell)
  start, cpu = time.perf_counter(), time.process_time()
  refined = sp.find_slow_points(step_fn, x0, zero)
  seconds, cpu_first = time.perf_counter() - start, time.process_time() - cpu
  fixed, unstable = _fixed(refined, step_fn)
  rows.append(('refined (LM, float64)', len(fixed), matched(truth, truth_unstable,
                                                             fixed.points, unstable),
               seconds, refined.status_counts()))
  again, cpu = time.perf_counter(), time.process_time()
  warm_result = sp.find_slow_points(step_fn, x0, zero)
  warm, cpu_warm = time.perf_counter() - again, time.process_time() - cpu

  baseline_fn = sp.step_fn_for_cell(cell)
  start = time.perf_counter()
  points, its, loop_seconds = per_call_first_order(baseline_fn, x0, _BASELINE_SECONDS.value)
  seconds = time.perf_counter() - start
  judged = sp.SlowPoints.from_points(baseline_fn, points, zero)
  fixed_b, unstable_b = _fixed(judged, baseline_fn)
  rows.append((f'first-order, per call ({its} it)', len(fixed_b),
               matched(truth, truth_unstable, fixed_b.points, unstable_b), seconds,
               judged.status_counts()))

  print(f'{len(x0)} states; truth {len(truth)} fixed points; match = within {_MATCH:g} '
        'max-abs with equal unstable count')
  print(f'{"variant":<34} {"fixed pts":>9} {"truth found":>11} {"seconds":>8} '
        f'{"x refined":>9}  status counts')
  for name, n_fixed, n_match, secs, counts in rows:
    print(f'{name:<34} {n_fixed:>9} {n_match:>8}/{len(truth):<2} {secs:>8.2f} '
          f'{secs / rows[0][3]:>9.1f}  {counts}')
  print(f'refined, first call: {rows[0][3]:.2f} s (CPU {cpu_first:.2f} s); second call '
        f'(traced): {warm:.2f} s (CPU {cpu_warm:.2f} s); Newton iterations: median '
        f'{np.median(refined.iterations):.0f}, max {refined.iterations.max()}; '
        f'stopped: {refined.info["newton_stopped"]}; per-call loop / refined (second call): '
        f'{rows[1][3] / warm:.1f}x')
  slow = refined.subset(refined.status == 'slow_point').unique(1e-4)
  if len(slow):
    print(f'slow points (S > 0 minima): {len(slow)}, S = '
          f'{", ".join(f"{v:.2e}" for v in slow.speeds)}, multiplicity '
          f'{slow.multiplicity.tolist()}')
  print(f'max |lambda| of the stable fixed points: '
        f'{np.round(np.abs(fixed.eigenvalues()[unstable == 0, 0]), 5).tolist()}')
  if _PROFILE.value:
    profile(step_fn, x0, warm_result, warm_result.info['newton_seconds'])
  print(f'load average at end: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
  app.run(main)
