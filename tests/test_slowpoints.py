"""Slow-point search against known answers, Jacobians against finite differences, files."""

import dataclasses
import inspect
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import mnist
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.analysis import slowpoints as sp
from memrnn_tf.models import cells

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _diagonal_tanh_cell(a, units, stock=False):
  """SimpleRNN with W_rec = a * I, no input weights, no bias: h' = tanh(a h)."""
  cell = keras.layers.SimpleRNNCell(units) if stock else cells.SimpleRNNCell(units)
  cell.build((None, 1))
  cell.set_weights([np.zeros((1, units), np.float32), a * np.eye(units, dtype=np.float32),
                    np.zeros(units, np.float32)])
  return cell


def _tanh_fixed_point(a):
  """Positive root of x = tanh(a x), a > 1 (fixed-point iteration converges there)."""
  x = 1.0
  for _ in range(500):
    x = np.tanh(a * x)
  return x


@pytest.mark.parametrize('stock', [False, True])
def test_contracting_linear_rnn_has_one_stable_point(stock):
  a, units = 0.5, 3
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(a, units, stock))
  x0 = np.random.default_rng(0).uniform(-1, 1, (6, units)).astype(np.float32)
  result = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32), tol=1e-14)
  assert result.converged.all()
  np.testing.assert_allclose(result.points, 0.0, atol=1e-6)
  # dF/dh at 0 = a * (1 - tanh^2(0)) * I = a * I.
  np.testing.assert_allclose(result.eigenvalues(step_fn), a, atol=1e-5)
  np.testing.assert_array_equal(result.n_unstable(), 0)
  np.testing.assert_allclose(result.time_constants(), -1 / np.log(a), rtol=1e-4)
  assert len(result.unique(1e-3)) == 1


def test_two_unit_tanh_network_attractors_and_saddles():
  """h' = tanh(2h) per unit: stable corners (+-x*, +-x*), saddles (+-x*, 0) and
  (0, +-x*) with one unstable mode, and the origin with two."""
  a = 2.0
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(a, 2))
  grid = np.linspace(-1.0, 1.0, 9, dtype=np.float32)  # contains 0: the axes are invariant
  x0 = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
  result = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32), tol=1e-13)
  assert result.converged.all()
  unique = result.unique(1e-3)
  assert len(unique) == 9
  x_star = _tanh_fixed_point(a)
  expected = {(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)}
  found = {tuple(np.round(p / x_star).astype(int)) for p in unique.points}
  assert found == expected
  np.testing.assert_allclose(np.abs(unique.points), np.abs(np.round(unique.points / x_star))
                             * x_star, atol=1e-5)
  n_unstable = unique.n_unstable(step_fn)
  n_zero = np.sum(np.abs(unique.points) < 1e-3, axis=1)  # coordinates at the origin
  np.testing.assert_array_equal(n_unstable, n_zero)
  assert sorted(n_unstable.tolist()) == [0] * 4 + [1] * 4 + [2]
  # Eigenvalues: a at a zero coordinate, a (1 - x*^2) at +-x*.
  ev = np.sort(np.abs(unique.eigenvalues()), axis=1)
  stable = a * (1 - x_star ** 2)
  for point, values in zip(unique.points, ev):
    want = np.sort([a if abs(c) < 1e-3 else stable for c in point])
    np.testing.assert_allclose(values, want, atol=1e-4)
  # The grid point (0, 0) starts on a fixed point: frozen at iteration 0, others went on.
  origin = np.flatnonzero(np.all(x0 == 0, axis=1))[0]
  assert result.iterations[origin] == 0
  assert result.iterations.max() > 10
  assert result.info['loop_iterations'] == result.iterations.max() + 1  # + the check


def test_groups_run_the_same_search():
  """Points split into concurrent groups (uneven sizes) follow the same trajectories."""
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(2.0, 2))
  x0 = np.random.default_rng(1).uniform(-1, 1, (11, 2)).astype(np.float32)
  x0[4] = 0.0  # frozen at iteration 0 in its group
  one = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32), tol=1e-13, groups=1)
  four = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32), tol=1e-13, groups=4)
  assert (one.info['groups'], four.info['groups']) == (1, 4)
  np.testing.assert_allclose(four.points, one.points, atol=1e-6)
  np.testing.assert_array_equal(four.iterations, one.iterations)
  assert four.iterations[4] == 0
  assert four.info['loop_iterations'] == one.info['loop_iterations']
  assert sp.default_groups(10) == 1 and sp.default_groups(1024) in (1, 4)
  with pytest.raises(ValueError, match='groups'):
    sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32), groups=0)


def test_stalled_points_are_frozen_and_not_converged():
  # F(x) = x + 0.1 has no fixed point: the speed stays 0.01 * S, the point stalls.
  result = sp.find_slow_points(lambda s, i: s + 0.1 + 0.0 * i, np.zeros((2, 3), np.float32),
                               np.zeros(1, np.float32), patience=40, max_iters=1000)
  assert not result.converged.any()
  np.testing.assert_array_equal(result.iterations, 40)
  np.testing.assert_allclose(result.speeds, 0.03, rtol=1e-4)


def _random_cell(kind, units, input_dim, stock, seed=0, scale=0.4):
  rng = np.random.default_rng(seed)
  if stock:
    cell = {'gru': keras.layers.GRUCell, 'lstm': keras.layers.LSTMCell,
            'simplernn': keras.layers.SimpleRNNCell}[kind](units)
  else:
    cell = cells.create_cell(kind, units, seed=seed)
  cell.build((None, input_dim))
  cell.set_weights([scale * rng.normal(size=w.shape).astype(np.float32)
                    for w in cell.get_weights()])
  return cell


@pytest.mark.parametrize('kind', ['gru', 'lstm', 'simplernn'])
def test_all_cells_stock_and_ours_agree(kind):
  units, input_dim = 4, 3
  stock = _random_cell(kind, units, input_dim, stock=True)
  ours = cells.from_keras_cell(stock, input_dim)
  rng = np.random.default_rng(1)
  x0 = rng.uniform(-0.8, 0.8, (5, ours.state_size)).astype(np.float32)
  inputs = rng.normal(size=(5, input_dim)).astype(np.float32)  # one input per point
  results = []
  for cell in (stock, ours):
    step_fn = sp.step_fn_for_cell(cell)
    r = sp.find_slow_points(step_fn, x0, inputs, tol=1e-12, clip=step_fn.state_bounds)
    assert r.converged.all(), r.speeds
    # The points are fixed points of the cell object itself.
    nxt = step_fn(tf.constant(r.points), tf.constant(inputs)).numpy()
    np.testing.assert_allclose(step_fn.to_xi(nxt), r.xi, atol=2e-5)
    results.append(r)
  np.testing.assert_allclose(results[0].points, results[1].points, atol=1e-4)
  np.testing.assert_allclose(results[0].eigenvalues(sp.step_fn_for_cell(stock)),
                             results[1].eigenvalues(sp.step_fn_for_cell(ours)), atol=1e-4)


def test_lstm_packing_round_trip():
  stock = _random_cell('lstm', 3, 2, stock=True)
  step_fn = sp.step_fn_for_cell(stock)
  assert step_fn.state_size == 6
  np.testing.assert_array_equal(step_fn.state_bounds, [1, 1, 1, np.inf, np.inf, np.inf])
  state = tf.constant([[0.1, -0.2, 0.3, 2.0, -1.5, 0.0]])
  xi = step_fn.to_xi(state)
  np.testing.assert_allclose(xi[0, 3:], np.tanh([2.0, -1.5, 0.0]), rtol=1e-6)
  np.testing.assert_allclose(step_fn.from_xi(xi), state, rtol=1e-4, atol=1e-5)
  # Packing is [h, c], as the stock cell returns them.
  inputs = tf.constant([[0.5, -0.5]])
  _, (h, c) = stock(inputs, [state[:, :3], state[:, 3:]])
  np.testing.assert_allclose(step_fn(state, inputs), tf.concat([h, c], -1), atol=1e-6)


def _fd_jacobian(fn, x, eps=1e-2):
  """Central differences in float64 around float32 evaluations, ``[N, out, in]``."""
  cols = []
  for k in range(x.shape[1]):
    dx = np.zeros_like(x)
    dx[:, k] = eps
    cols.append((fn(x + dx).astype(np.float64) - fn(x - dx)) / (2 * eps))
  return np.stack(cols, -1)


@pytest.mark.parametrize('kind', ['gru', 'lstm'])
def test_jacobians_match_finite_differences(kind):
  cell = _random_cell(kind, 4, 3, stock=False, scale=0.6)
  step_fn = sp.step_fn_for_cell(cell)
  rng = np.random.default_rng(2)
  n, s = 3, cell.state_size
  points = rng.uniform(-0.7, 0.7, (n, s)).astype(np.float32)
  inputs = rng.normal(size=(n, 3)).astype(np.float32)
  to_xi = lambda x: np.asarray(step_fn.to_xi(tf.constant(x, tf.float32)))  # noqa: E731
  result = sp.SlowPoints(points=points, xi=to_xi(points),
                         speeds=np.zeros(n), initial_states=points, inputs=inputs,
                         iterations=np.zeros(n, int), converged=np.ones(n, bool))
  F = lambda x, i=inputs: step_fn(tf.constant(x, tf.float32), tf.constant(i)).numpy()  # noqa
  tol = dict(atol=2e-3, rtol=2e-3)
  np.testing.assert_allclose(result.jacobians(step_fn, coords='state'),
                             _fd_jacobian(F, points), **tol)
  # xi coordinates: G(xi) = to_xi(F(from_xi(xi))).
  G = lambda xi: to_xi(F(np.asarray(step_fn.from_xi(tf.constant(xi)))))  # noqa: E731
  np.testing.assert_allclose(result.jacobians(step_fn), _fd_jacobian(G, result.xi, 1e-3),
                             **tol)
  np.testing.assert_allclose(
      result.input_jacobians(step_fn),
      _fd_jacobian(lambda i: to_xi(F(points, i)), inputs), **tol)


def test_save_load_unique_outliers(tmp_path):
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(2.0, 2))
  x0 = np.array([[0.5, 0.5], [0.9, 0.9], [-0.5, 0.0], [0.0, 0.0]], np.float32)
  result = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32), tol=1e-12)
  result.eigenvalues(step_fn)
  path = result.save(str(tmp_path / 'sp' / 'points'), extra={'note': 'x'})
  assert path.endswith('points.npz')
  loaded = sp.SlowPoints.load(path)
  for f in dataclasses.fields(sp.SlowPoints):
    a, b = getattr(result, f.name), getattr(loaded, f.name)
    if isinstance(a, np.ndarray):
      np.testing.assert_array_equal(a, b)
  assert loaded.info['tol'] == 1e-12
  # Unstable modes = coordinates at 0 (test above); the same after loading.
  np.testing.assert_array_equal(loaded.n_unstable(),
                                np.sum(np.abs(result.points) < 1e-3, axis=1))
  assert loaded.n_unstable()[1] == 0 and loaded.n_unstable()[3] == 2
  summary = json.loads((tmp_path / 'sp' / 'points.json').read_text())
  assert summary['num_points'] == 4 and summary['note'] == 'x'
  unique, index = result.unique(1e-3, return_index=True)
  assert len(unique) == 3 and sorted(index.tolist())[0] in (0, 1)
  far = dataclasses.replace(result, xi=result.xi + np.array([[100.0, 0]] + [[0, 0]] * 3))
  assert len(far.exclude_outliers(distance_scale=10.0)) == 3
  assert len(result.exclude_outliers(max_speed=1e-12)) == 4


def test_search_options_defaults_match_signature():
  params = inspect.signature(sp.find_slow_points).parameters
  for f in dataclasses.fields(sp.SearchOptions):
    assert params[f.name].default == f.default, f.name


def _untrained_workdir(path):
  """A workdir with config.json and one checkpoint of an untrained smoke model."""
  config = mnist.get_config('smoke')
  os.makedirs(path)
  with open(os.path.join(path, 'config.json'), 'w') as f:
    json.dump(json.loads(json.dumps(config.to_dict(), default=list)), f)
  model = workdir_lib.model_from_config(config)
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model),
                                       os.path.join(path, 'checkpoints'), max_to_keep=1)
  manager.save(checkpoint_number=24)


def test_find_slowpoints_binary(tmp_path, data_dir):
  workdir = str(tmp_path / 'run')
  _untrained_workdir(workdir)
  env = dict(os.environ, MEMRNN_DATA_DIR=data_dir, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2')
  proc = subprocess.run(
      [sys.executable, os.path.join(REPO, 'bin', 'find_slowpoints.py'), f'--workdir={workdir}',
       '--max_iters=3000', '--trials_per_class=4'],
      env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  lines = proc.stdout.strip().splitlines()
  assert lines[0].split()[:3] == ['class', 'speed', 'mean']
  assert len(lines) == 12 and 'slow points' in lines[-1]
  loaded = sp.SlowPoints.load(os.path.join(workdir, 'analysis', 'slowpoints'))
  assert len(loaded) == 10 and loaded.eigvals is not None
  assert np.all(loaded.speeds <= loaded.initial_speeds)
  summary = json.loads(open(os.path.join(workdir, 'analysis', 'slowpoints.json')).read())
  assert [r['class'] for r in summary['classes']] == list(range(10))
  for r in summary['classes']:  # how each search ended, consistent with its iterations
    assert r['stopped'] == ('converged' if r['converged'] else
                            'stalled' if r['iterations'] < 3000 else 'max_iters')
  assert summary['info']['step'] == 24


def test_find_slowpoints_binary_bad_input(tmp_path, data_dir):
  """A missing run or checkpoint: one-line error, exit 1, nothing written."""
  workdir = str(tmp_path / 'run')
  _untrained_workdir(workdir)
  env = dict(os.environ, MEMRNN_DATA_DIR=data_dir, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2')
  binary = os.path.join(REPO, 'bin', 'find_slowpoints.py')
  for args, message in (([f'--workdir={tmp_path / "nothing"}'], 'config.json not found'),
                        ([f'--workdir={workdir}', '--checkpoint=7'],
                         'no checkpoint or snapshot of step 7')):
    proc = subprocess.run([sys.executable, binary] + args, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ') and message in last, last
  assert not os.path.exists(os.path.join(workdir, 'analysis'))


def test_lstm_eigenvalues_finite_where_tanh_c_saturates():
  """|c| = 30 saturates tanh(c) in float32 (the xi chart is degenerate there); the
  eigenvalues come from dF/dx, which stays finite, and agree with d xi / d xi elsewhere."""
  cell = _random_cell('lstm', 3, 2, stock=False, scale=0.6)
  step_fn = sp.step_fn_for_cell(cell)
  points = np.array([[0.1, -0.2, 0.3, 30.0, -30.0, 0.5],
                     [0.1, -0.2, 0.3, 0.4, -0.3, 0.5]], np.float32)
  to_xi = lambda x: np.asarray(step_fn.to_xi(tf.constant(x)))  # noqa: E731
  result = sp.SlowPoints(points=points, xi=to_xi(points), speeds=np.zeros(2),
                         initial_states=points, inputs=np.zeros((2, 2), np.float32),
                         iterations=np.zeros(2, int), converged=np.ones(2, bool))
  assert not np.all(np.isfinite(result.jacobians(step_fn)[0]))  # xi chart degenerate
  ev = result.eigenvalues(step_fn)
  assert np.all(np.isfinite(ev))
  expected = np.linalg.eigvals(result.jacobians(step_fn, coords='state').astype(np.float64))
  np.testing.assert_allclose(np.sort(np.abs(ev), axis=1), np.sort(np.abs(expected), axis=1),
                             atol=1e-6)
  assert np.all(result.n_unstable() >= 0)
  # Non-finite eigenvalues count as unknown (-1), never as "stable".
  result.eigvals = np.array([[np.nan] * 6, [0.5] * 6], np.complex128)
  np.testing.assert_array_equal(result.n_unstable(), [-1, 0])
