"""Slow-point search against known answers, Jacobians against finite differences, files."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import mnist
from memrnn_tf import files
from memrnn_tf.analysis import procedures
from memrnn_tf.analysis import slowpoints as sp
from memrnn_tf.analysis import step_functions
from memrnn_tf.models import cells
from memrnn_tf.training import experiment

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


@pytest.mark.slow
@pytest.mark.parametrize('stock', [False, True])
def test_contracting_linear_rnn_has_one_stable_point(stock):
  a, units = 0.5, 3
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(a, units, stock))
  x0 = np.random.default_rng(0).uniform(-1, 1, (6, units)).astype(np.float32)
  result = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32), sp.SearchOptions(tol=1e-14))
  assert result.converged.all()
  np.testing.assert_allclose(result.points, 0.0, atol=1e-6)
  # dF/dh at 0 = a * (1 - tanh^2(0)) * I = a * I.
  np.testing.assert_allclose(result.eigenvalues(step_fn), a, atol=1e-5)
  np.testing.assert_array_equal(result.n_unstable(), 0)
  np.testing.assert_allclose(result.time_constants(), -1 / np.log(a), rtol=1e-4)
  assert len(result.unique(1e-3)) == 1


@pytest.mark.parametrize('method', ['newton', 'adam'])
def test_two_unit_tanh_network_attractors_and_saddles(method):
  """h' = tanh(2h) per unit: stable corners (+-x*, +-x*), saddles (+-x*, 0) and
  (0, +-x*) with one unstable mode, and the origin with two."""
  a = 2.0
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(a, 2))
  grid = np.linspace(-1.0, 1.0, 9, dtype=np.float32)  # contains 0: the axes are invariant
  x0 = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
  # Adam works in float32, so its points are judged at the float32 floor.
  options = sp.SearchOptions(method=method, tol=1e-13,
                             dtype='float64' if method == 'newton' else 'float32')
  result = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32), options)
  assert result.converged.all()
  assert (result.status == 'fixed_point').all()
  unique = result.unique(1e-3)
  assert len(unique) == 9 and unique.multiplicity.sum() == 81
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
  # |J - I| = |a (1 - x^2) - 1| per coordinate: its smallest singular value.
  np.testing.assert_allclose(
      unique.sigma_min, np.min(np.abs(a * (1 - unique.points ** 2) - 1), axis=1), rtol=1e-5)
  # The grid point (0, 0) starts on a fixed point: frozen at iteration 0, others went on.
  origin = np.flatnonzero(np.all(x0 == 0, axis=1))[0]
  assert result.iterations[origin] == 0
  if method == 'newton':  # quadratic convergence, judged in float64
    assert 0 < result.iterations.max() <= 10
    assert np.all(result.residuals < 1e-13) and unique.points.dtype == np.float64
  else:
    assert result.iterations.max() > 10
    assert result.info['loop_iterations'] == result.iterations.max() + 1  # + the check


@pytest.mark.slow
def test_groups_run_the_same_search():
  """Points split into concurrent groups (uneven sizes) follow the same trajectories."""
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(2.0, 2))
  x0 = np.random.default_rng(1).uniform(-1, 1, (11, 2)).astype(np.float32)
  x0[4] = 0.0  # frozen at iteration 0 in its group
  one = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32),
                            sp.SearchOptions(method='adam', tol=1e-13, groups=1))
  four = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32),
                             sp.SearchOptions(method='adam', tol=1e-13, groups=4))
  assert (one.info['groups'], four.info['groups']) == (1, 4)
  np.testing.assert_allclose(four.points, one.points, atol=1e-6)
  np.testing.assert_array_equal(four.iterations, one.iterations)
  assert four.iterations[4] == 0
  assert four.info['loop_iterations'] == one.info['loop_iterations']
  assert sp.default_groups(10) == 1 and sp.default_groups(1024) in (1, 4)
  with pytest.raises(ValueError, match='groups'):
    sp.SearchOptions(method='adam', groups=0)


@pytest.mark.parametrize('method', ['adam', 'newton'])
def test_stalled_points_are_frozen_and_not_converged(method):
  # F(x) = x + 0.1 has no fixed point: the speed stays 0.01 * S everywhere, so every
  # point is a (degenerate) minimum of S with a zero gradient: a slow point.
  result = sp.find_slow_points(lambda s, i: s + 0.1 + 0.0 * i[:, :1],
                               np.zeros((2, 3), np.float32), np.zeros(1, np.float32),
                               sp.SearchOptions(method=method, patience=40, max_iters=1000))
  assert not result.converged.any()
  np.testing.assert_array_equal(result.iterations, 40 if method == 'adam' else 0)
  np.testing.assert_allclose(result.speeds, 0.03, rtol=1e-6)
  assert (result.status == 'slow_point').all()


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


@pytest.mark.slow
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
    r = sp.find_slow_points(step_fn, x0, inputs,
                            sp.SearchOptions(tol=1e-12, clip=step_fn.state_bounds))
    assert r.converged.all(), r.speeds
    # The points are fixed points of the cell object itself.
    nxt = step_fn(tf.constant(r.points, tf.float32), tf.constant(inputs)).numpy()
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


_CLOSED_FORM_CELLS = {
    'ours_gru': lambda n: cells.GRUCell(n),
    'ours_gru_reset_after': lambda n: cells.GRUCell(n, reset_after=True),
    'ours_lstm': lambda n: cells.LSTMCell(n),
    'ours_simplernn': lambda n: cells.SimpleRNNCell(n),
    'keras_gru': lambda n: keras.layers.GRUCell(n),
    'keras_gru_reset_before': lambda n: keras.layers.GRUCell(n, reset_after=False),
    'keras_gru_no_bias': lambda n: keras.layers.GRUCell(n, use_bias=False),
    'keras_lstm': lambda n: keras.layers.LSTMCell(n),
    'keras_simplernn': lambda n: keras.layers.SimpleRNNCell(n),
}


@pytest.mark.parametrize('kind', sorted(_CLOSED_FORM_CELLS))
def test_closed_form_state_jacobian_equals_autodiff(kind):
  """The closed-form dF/dx (``cell_jacobians``) against reverse-mode autodiff of the cell's
  own step in float64, on random weights (scale 0.8, gates far from saturation), states
  and inputs: equal to rounding."""
  units, input_dim, n = 5, 3, 7
  cell = _CLOSED_FORM_CELLS[kind](units)
  cell.build((None, input_dim))
  rng = np.random.default_rng(4)
  cell.set_weights([0.8 * rng.normal(size=w.shape).astype(np.float32)
                    for w in cell.get_weights()])
  step_fn = sp.step_fn_for_cell(cell).with_dtype('float64')
  assert step_fn.has_state_jacobian
  width = 2 * units if 'lstm' in kind else units
  x = tf.constant(rng.uniform(-1, 1, (n, width)))
  inputs = tf.constant(rng.normal(size=(n, input_dim)))
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = step_fn(x, inputs)
  autodiff = tape.batch_jacobian(y, x).numpy()
  closed = step_fn.state_jacobian(x, step_fn.prepare(inputs)).numpy()
  assert closed.shape == (n, width, width) and np.abs(autodiff).max() > 0.3
  np.testing.assert_allclose(closed, autodiff, rtol=0, atol=1e-12)
  # And the compiled Jacobian of the results (jacobian_fns) is the closed form.
  state_jacobian = step_functions.jacobian_fns(step_fn)[0]
  np.testing.assert_allclose(state_jacobian(x, inputs, False), autodiff, rtol=0, atol=1e-12)


def test_closed_form_state_jacobian_by_hand():
  """h' = tanh(a h) per unit: dF/dh = a (1 - tanh^2(a h)) I, for our cell and Keras'."""
  a, h = 2.0, np.array([[0.3, -0.7], [0.0, 1.0]])
  expected = np.stack([np.diag(a * (1 - np.tanh(a * row) ** 2)) for row in h])
  for stock in (False, True):
    step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(a, 2, stock)).with_dtype('float64')
    np.testing.assert_allclose(
        step_fn.state_jacobian(tf.constant(h), step_fn.prepare(tf.zeros([2, 1], tf.float64))),
        expected, rtol=1e-14, atol=0)


def test_without_closed_form_the_jacobian_is_autodiff():
  """Other activations, plain callables and a replaced ``fn`` have no closed form; their
  Jacobians come from autodiff, and a search on them still works."""
  relu = keras.layers.SimpleRNNCell(2, activation='relu')
  relu.build((None, 1))
  relu.set_weights([np.zeros((1, 2), np.float32), 0.5 * np.eye(2, dtype=np.float32),
                    np.zeros(2, np.float32)])
  step_fn = sp.step_fn_for_cell(relu)
  assert not step_fn.has_state_jacobian
  tanh_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(0.5, 2))
  assert tanh_fn.has_state_jacobian
  assert not tanh_fn.replace(fn=tanh_fn.fn).has_state_jacobian
  assert tanh_fn.replace(to_xi=tanh_fn.to_xi).has_state_jacobian
  with pytest.raises(ValueError, match='no closed-form state Jacobian'):
    step_fn.state_jacobian(tf.zeros([1, 2]), tf.zeros([1, 1]))
  result = sp.find_slow_points(step_fn, np.array([[0.5, -0.25]], np.float32),
                               np.zeros(1, np.float32))
  assert result.status.tolist() == ['fixed_point']
  # h' = relu(h / 2): the root 0, dF/dh = 0.5 I where h > 0 (relu' at 0 is 0 in TF).
  np.testing.assert_allclose(result.points, 0.0, atol=1e-12)


@pytest.mark.slow
def test_closed_form_and_autodiff_refinements_agree():
  """The refinement of the near-marginal GRU with the closed-form Jacobian and with
  autodiff (the same float64 map without the closed form): the same statuses and
  iterations, and points equal to rounding."""
  cell = _marginal_gru()
  step_fn = sp.step_fn_for_cell(cell)
  variant = step_fn.with_dtype('float64')
  plain = sp.StepFunction(variant.fn, state_bounds=variant.state_bounds)
  assert variant.has_state_jacobian and not plain.has_state_jacobian
  x0 = np.random.default_rng(1).uniform(-1, 1, (48, 6)).astype(np.float32)
  closed = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32))
  autodiff = sp.find_slow_points(plain, x0, np.zeros(1, np.float32))
  np.testing.assert_array_equal(closed.status, autodiff.status)
  np.testing.assert_array_equal(closed.iterations, autodiff.iterations)
  np.testing.assert_allclose(closed.points, autodiff.points, rtol=0, atol=1e-10)
  assert (closed.status == 'fixed_point').sum() >= 40


def test_file_format_is_plain_npz_and_json(tmp_path):
  """``save`` writes one ``.npz`` of the non-empty arrays plus ``info_json`` and a ``.json``
  summary, readable without the package, and nothing else; ``load`` reads a file written
  by hand in that format with fewer arrays (as older versions wrote), the rest ``None``."""
  a = 2.0
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(a, 2))
  x_star = _tanh_fixed_point(a)
  result = sp.SlowPoints.from_points(step_fn, [[x_star, 0.0], [0.5, 0.5]], np.zeros(1))
  path = result.save(str(tmp_path / 'deep' / 'points.npz'))
  assert sorted(os.listdir(tmp_path / 'deep')) == ['points.json', 'points.npz']
  with np.load(path) as d:
    stored = {k: d[k] for k in d.files}
  present = [k for k in result._ARRAYS if getattr(result, k) is not None]
  assert sorted(stored) == sorted(present + ['info_json'])
  assert json.loads(str(stored['info_json'])) == result.info
  assert stored['status'].tolist() == ['fixed_point', 'not_converged']
  summary = json.loads((tmp_path / 'deep' / 'points.json').read_text())
  assert summary['status'] == {'fixed_point': 1, 'slow_point': 0, 'not_converged': 1}
  np.savez(tmp_path / 'older.npz', points=stored['points'], xi=stored['xi'],
           speeds=stored['speeds'], initial_states=stored['points'], inputs=stored['inputs'],
           iterations=stored['iterations'], converged=stored['converged'])
  older = sp.SlowPoints.load(str(tmp_path / 'older'))
  np.testing.assert_array_equal(older.points, result.points)
  assert older.status is None and older.eigvals is None and older.info == {}
  assert older.status_counts() == {'fixed_point': 0, 'slow_point': 0, 'not_converged': 0}


def test_save_load_unique_outliers(tmp_path):
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(2.0, 2))
  x0 = np.array([[0.5, 0.5], [0.9, 0.9], [-0.5, 0.0], [0.0, 0.0]], np.float32)
  result = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32),
                               sp.SearchOptions(tol=1e-12))
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


def test_search_options_defaults_and_records():
  # The authors' schedule and TensorFlow 1's Adam defaults.
  assert dataclasses.astuple(sp.PaperOptions()) == (100_000, 1e-3, 40_000, 0.1, 0.9, 0.999,
                                                    1e-8)
  # The learning rate defaults to the method's own.
  assert (sp.SearchOptions().rate, sp.SearchOptions(method='paper').rate) == (1e-2, 1e-3)
  paper = sp.SearchOptions(method='paper', num_steps=300)
  assert paper.paper() == sp.PaperOptions(num_steps=300)
  assert paper.overrides() == {'num_steps': 300}  # what a saved result records
  bounds = sp.SearchOptions(clip=np.array([1.0, np.inf], np.float32))
  assert bounds.clip == (1.0, np.inf) and bounds.overrides() == {'clip': [1.0, np.inf]}
  assert sp.SearchOptions.from_overrides('newton', bounds.overrides()) == bounds
  assert sp.SearchOptions.from_overrides('newton', {'no_such_option': 1}) is None


def test_saved_class_points_are_reused_for_the_same_options(tmp_path):
  """A saved result's ``search`` (older files: every option a binary passed, defaults
  included; newer: the non-default ones) is reused exactly when it means the same options."""
  requested = sp.SearchOptions(max_iters=200_000)
  params = procedures.search_params(requested, 15, 100, 'test', 0)
  assert params['search'] == {'max_iters': 200_000}
  older = dict(params, search={'dtype': 'float64', 'max_iters': 200_000, 'newton_iters': 200,
                               'tol': 1e-8})
  for saved, reused in ((params, True), (older, True),
                        (dict(older, search={'max_iters': 20_000}), False),
                        (dict(params, method='adam'), False), (dict(params, seed=1), False)):
    path = str(tmp_path / 'slowpoints.json')
    files.write_json(path, saved)
    got = files.load_if_matches(path, procedures.reuse_params(requested, 15, 100, 'test', 0))
    assert (got is not None) == reused, saved


def _untrained_workdir(path):
  """A workdir with config.json and one checkpoint of an untrained smoke model."""
  config = mnist.get_config('smoke')
  os.makedirs(path)
  with open(os.path.join(path, 'config.json'), 'w') as f:
    json.dump(json.loads(json.dumps(config.to_dict(), default=list)), f)
  model = experiment.model_from_config(config)
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model),
                                       os.path.join(path, 'checkpoints'), max_to_keep=1)
  manager.save(checkpoint_number=24)


@pytest.mark.slow
def test_find_slowpoints_binary(tmp_path, binary_main, method='newton'):
  # (--method=paper: test_find_slowpoints_binary_paper_method_beside_the_refined_one.) In
  # this process: the smoke reproduction (test_reproduce) runs the binary as a process.
  workdir = str(tmp_path / 'run')
  _untrained_workdir(workdir)
  code, out, err = binary_main('find_slowpoints.py', f'--workdir={workdir}', '--newton_iters=50',
                               '--trials_per_class=4', f'--method={method}')
  assert code == 0, err[-2000:]
  lines = out.strip().splitlines()
  assert lines[0].split()[:4] == ['class', 'status', 'speed', 'mean']
  assert len(lines) == 12 and 'fixed points' in lines[-1]
  loaded = sp.SlowPoints.load(os.path.join(workdir, 'analysis', 'slowpoints'))
  assert len(loaded) == 10 and loaded.eigvals is not None
  assert np.all(loaded.speeds <= loaded.initial_speeds)
  summary = json.loads(open(os.path.join(workdir, 'analysis', 'slowpoints.json')).read())
  assert [r['class'] for r in summary['classes']] == list(range(10))
  for r, line in zip(summary['classes'], lines[1:]):  # the status, printed
    assert r['status'] in ('fixed_point', 'slow_point', 'not_converged')
    assert line.split()[1] == r['status']
    assert r['status'] != 'fixed_point' or r['residual'] < 1e-12
  assert summary['status'] == {k: sum(r['status'] == k for r in summary['classes'])
                               for k in ('fixed_point', 'slow_point', 'not_converged')}
  assert summary['info']['step'] == 24
  assert summary['info']['method'] == method


@pytest.mark.slow
def test_find_slowpoints_binary_paper_method_beside_the_refined_one(tmp_path, binary_main):
  """--method=paper writes slowpoints_paper.* (the authors' class means and search) and
  leaves the refined result alone; a second call with the same parameters reuses it. (In
  this process: test_find_slowpoints_binary starts the binary as a process.)"""
  workdir = str(tmp_path / 'run')
  _untrained_workdir(workdir)
  argv = [f'--workdirs={workdir}', '--method=paper', '--paper_steps=300', '--trials_per_class=4']
  code, _, err = binary_main('find_slowpoints.py', *argv)
  assert code == 0, err[-2000:]
  path = os.path.join(workdir, 'analysis', 'slowpoints_paper.json')
  summary = json.loads(open(path).read())
  assert not os.path.exists(os.path.join(workdir, 'analysis', 'slowpoints.json'))
  assert summary['method'] == 'paper' and summary['search'] == {'num_steps': 300}
  assert summary['info']['class_means'].startswith('one frozen noise sequence')
  loaded = sp.SlowPoints.load(os.path.join(workdir, 'analysis', 'slowpoints_paper'))
  assert len(loaded) == 10 and np.all(loaded.iterations == 300)
  assert np.all(np.abs(loaded.points) <= 1.0)  # the authors' clip to the box
  stamp = os.path.getmtime(path)
  code, out, _ = binary_main('find_slowpoints.py', *argv)
  assert code == 0 and os.path.getmtime(path) == stamp  # reused
  assert out.strip().splitlines()[0].split()[:2] == ['class', 'status']


def test_find_slowpoints_binary_bad_input(tmp_path, forked_binary):
  """A missing run or checkpoint: one-line error, exit 1, nothing written."""
  workdir = str(tmp_path / 'run')
  _untrained_workdir(workdir)
  for args, message in (([f'--workdir={tmp_path / "nothing"}'], 'no config.json'),
                        ([f'--workdir={workdir}', '--checkpoint=7'],
                         'no checkpoint or snapshot of step 7')):
    code, _, err = forked_binary('find_slowpoints.py', *args)
    assert code == 1, err[-2000:]
    last = err.strip().splitlines()[-1]
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


# --- status, known answers, arguments --------------------------------------------------------
def _ghost_map(a):
  """x0' = x0 + a + x0^2, x1' = 0.5 x1: for a > 0 a saddle-node ghost at the origin
  (S = a^2 there, its minimum; no fixed point), for a < 0 fixed points (+-sqrt(-a), 0)."""
  return lambda s, i: tf.concat([s[:, :1] + a + s[:, :1] ** 2, 0.5 * s[:, 1:]], 1) + 0 * i


@pytest.mark.slow
def test_ghost_is_a_slow_point_and_its_fixed_points_are_not():
  x0 = np.random.default_rng(0).uniform(-0.5, 0.5, (6, 2)).astype(np.float32)
  ghost = sp.find_slow_points(_ghost_map(1e-3), x0, np.zeros(1, np.float32))
  assert (ghost.status == 'slow_point').all(), ghost.status
  np.testing.assert_allclose(ghost.points, 0.0, atol=1e-6)
  np.testing.assert_allclose(ghost.speeds, 1e-6, rtol=1e-6)  # S = a^2, not 0
  assert np.all(ghost.sigma_min < 1e-5)  # J = diag(2 x0, -0.5) is singular there
  unique = ghost.unique(1e-4)
  assert len(unique) == 1 and unique.multiplicity.tolist() == [6]
  fixed = sp.find_slow_points(_ghost_map(-1e-3), x0, np.zeros(1, np.float32))
  assert (fixed.status == 'fixed_point').all(), fixed.status
  np.testing.assert_allclose(np.abs(fixed.points[:, 0]), np.sqrt(1e-3), rtol=1e-12)
  np.testing.assert_allclose(fixed.sigma_min, 2 * np.sqrt(1e-3), rtol=1e-9)


def _marginal_gru(units=6, seed=3):
  """Keras GRU cell (reset_after) whose update gate is pinned at z = sigmoid(7) = 0.99909
  and reset gate at r ~ 1: the fixed points are those of h = tanh(W h + b) with W
  symmetric (three expanding directions), but every eigenvalue of dF/dh is
  z + (1 - z) lambda_c, within 2e-3 of 1: a near-marginal multi-attractor network."""
  rng = np.random.default_rng(seed)
  q, _ = np.linalg.qr(rng.normal(size=(units, units)))
  w = q @ np.diag([2.0, 1.8, 1.6, 0.5, 0.4, 0.3][:units]) @ q.T
  cell = keras.layers.GRUCell(units)
  cell.build((None, 1))
  recurrent = np.concatenate([np.zeros((units, 2 * units)), w], 1)
  bias = np.zeros((2, 3 * units))
  bias[0, :units], bias[0, units:2 * units] = 7.0, 10.0
  bias[0, 2 * units:] = 0.05 * rng.normal(size=units)
  cell.set_weights([np.zeros((1, 3 * units), np.float32), recurrent.astype(np.float32),
                    bias.astype(np.float32)])
  return cell


def _numpy_gru(cell):
  """Independent float64 copy of the zero-input map of a Keras GRU cell (reset_after)."""
  _, rec, bias = (np.asarray(w, np.float64) for w in cell.get_weights())
  sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731

  def f(h):
    x_z, x_r, x_h = np.split(bias[0], 3)
    r_z, r_r, r_h = np.split(h @ rec + bias[1], 3)
    z, r = sig(x_z + r_z), sig(x_r + r_r)
    return z * h + (1 - z) * np.tanh(x_h + r * r_h)

  return f


def _truth_fixed_points(f, x0, tol=1e-6):
  """scipy's MINPACK Levenberg-Marquardt on f(x) - x in float64 from every start;
  deduplicated roots and their unstable counts (finite-difference Jacobian)."""
  from scipy import optimize  # pylint: disable=g-import-not-at-top
  roots = []
  for start in np.asarray(x0, np.float64):
    sol = optimize.root(lambda x: f(x) - x, start, method='lm',
                        options={'xtol': 1e-15, 'ftol': 1e-15})
    if np.max(np.abs(f(sol.x) - sol.x)) < 1e-12 and not any(
        np.max(np.abs(sol.x - r)) < tol for r in roots):
      roots.append(sol.x)
  roots = np.array(roots)
  eye = np.eye(roots.shape[1])
  unstable = [np.sum(np.abs(np.linalg.eigvals(np.stack(
      [(f(r + 1e-6 * e) - f(r - 1e-6 * e)) / 2e-6 for e in eye], 1))) > 1) for r in roots]
  return roots, np.array(unstable)


@pytest.mark.slow
def test_marginal_gru_known_answer():
  """Fixed points of a near-marginal GRU against an independent float64 scipy solver run
  from the same starting states: every point the finder calls a fixed point is a root of
  the numpy map (residual < 1e-12), and the truth's roots are found within 1e-4 (max-abs)
  with the same number of unstable modes, every one of them. The two Levenberg-Marquardt
  variants do not always reach the same root from the same start (their basins differ near
  saddles); from 256 starts both reach every root (from 48, scipy found 14 and the finder
  11 of those plus 5 others)."""
  cell = _marginal_gru()
  step_fn = sp.step_fn_for_cell(cell)
  f = _numpy_gru(cell)
  x0 = np.random.default_rng(1).uniform(-1, 1, (256, 6)).astype(np.float32)
  truth, truth_unstable = _truth_fixed_points(f, x0)
  assert len(truth) >= 20 and set(truth_unstable) >= {0, 1, 2}  # attractors and saddles
  result = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32))
  assert (result.status != 'not_converged').all()
  found = result.subset(result.status == 'fixed_point').unique(1e-6)
  for point in found.points:
    assert np.max(np.abs(f(point) - point)) < 1e-12
  n_unstable = found.n_unstable(step_fn)
  assert np.max(np.abs(found.eigenvalues())[:, 0]) > 0.998  # near-marginal modes ...
  assert np.min(found.sigma_min) < 2e-3  # ... and a nearly singular J - I
  matched = 0
  for root, unstable in zip(truth, truth_unstable):
    dist = np.max(np.abs(found.points - root), axis=1)
    j = int(np.argmin(dist))
    matched += int(dist[j] < 1e-4 and n_unstable[j] == unstable)
  assert matched == len(truth), (matched, len(truth))


_BOX_W = np.array([[3.0, 0.3, 0.0], [0.2, 3.0, 0.4], [0.5, -0.4, 1.0]])
_BOX_B = np.array([0.1, -0.1, 0.2])
_BOX_S = np.array([1.5, 1.5, 0.8])


def _box_map(x, inputs):
  """x' = s * tanh(W x + b): with s = 1.5 on units 0 and 1 their fixed points lie near
  +-1.5, outside the box |x| <= 1, where S has minima on the boundary instead."""
  w, b, s = (tf.constant(v, x.dtype) for v in (_BOX_W.T, _BOX_B, _BOX_S))
  return s * tf.tanh(x @ w + b) + 0 * inputs[:, :1]


def _box_minimum(corner):
  """The minimum of S over the box with units 0, 1 held at ``corner`` (by hand: unit 2
  solves dS/dx2 = 0 by bisection in float64), and the gradient of S there."""
  from scipy import optimize  # pylint: disable=g-import-not-at-top

  def gradient(x):
    u = _BOX_W @ x + _BOX_B
    jac = (_BOX_S * (1 - np.tanh(u) ** 2))[:, None] * _BOX_W - np.eye(3)
    return 2 * jac.T @ (_BOX_S * np.tanh(u) - x)

  x2 = optimize.brentq(lambda t: gradient(np.array([*corner, t]))[2], -1, 1, xtol=1e-15)
  x = np.array([*corner, x2])
  return x, gradient(x)


@pytest.mark.slow
@pytest.mark.parametrize('dtype, atol', [('float64', 1e-8), ('float32', 1e-4)])
def test_minimum_on_the_bound_is_a_slow_point(dtype, atol):
  """Projected Levenberg-Marquardt reaches S's minimum over the box |x| <= 1 when the
  unconstrained roots lie outside it; the KKT rules call it a slow point with the two
  bound units counted. Without the bound the same starts reach the roots outside."""
  x0 = np.array([[0.9, 0.9, 0.0], [0.5, 0.7, -0.3], [-0.9, -0.8, 0.1], [0.99, -0.6, 0.8]],
                np.float32)
  corners = [(1.0, 1.0), (1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)]
  result = sp.find_slow_points(_box_map, x0, np.zeros(1, np.float32),
                               sp.SearchOptions(clip=1.0, dtype=dtype))
  assert result.status.tolist() == ['slow_point'] * 4, result.status
  np.testing.assert_array_equal(result.num_at_bound, 2)
  assert result.iterations.max() <= 20, result.iterations
  for point, speed, corner in zip(result.points, result.speeds, corners):
    truth, gradient = _box_minimum(corner)
    # KKT of the truth: descent -dS/dx points out of the box on the bound units.
    assert np.all(-gradient[:2] * np.asarray(corner) > 0.1) and abs(gradient[2]) < 1e-12
    np.testing.assert_allclose(point, truth, atol=atol, rtol=0)
    want = np.sum((_BOX_S * np.tanh(_BOX_W @ truth + _BOX_B) - truth) ** 2)
    np.testing.assert_allclose(speed, want, rtol=10 * atol)
  # The same points judged without the box are not minima of S; a point on the bound
  # whose gradient points inward is not one over the box either.
  unconstrained = sp.SlowPoints.from_points(_box_map, result.points, np.zeros(1), clip=None)
  assert (unconstrained.status == 'not_converged').all()
  np.testing.assert_array_equal(unconstrained.num_at_bound, 0)
  inward = sp.SlowPoints.from_points(_box_map, [[1.0, 1.0, -1.0]], np.zeros(1), clip=1.0)
  assert inward.status.tolist() == ['not_converged'] and inward.num_at_bound.tolist() == [3]
  free = sp.find_slow_points(_box_map, x0, np.zeros(1, np.float32),
                             sp.SearchOptions(clip=None, dtype=dtype))
  assert (free.status == 'fixed_point').all() and np.all(np.abs(free.points[:, :2]) > 1.4)


@pytest.mark.slow
def test_bounded_refinement_runs_on_every_cell_with_its_box():
  """``clip='auto'`` on GRU, LSTM (packed state: c unbounded) and SimpleRNN: the points
  stay in the box, and whatever the refinement calls a slow point satisfies the KKT rules
  when judged again. The GRU and the SimpleRNN each have a minimum of S on the bound."""
  for kind in ('gru', 'lstm', 'simplernn'):
    cell = _random_cell(kind, 4, 2, stock=False, scale=1.5)
    step_fn = sp.step_fn_for_cell(cell)
    x0 = np.random.default_rng(2).uniform(-1, 1, (8, cell.state_size)).astype(np.float32)
    result = sp.find_slow_points(step_fn, x0, np.ones(2, np.float32))
    assert np.all(np.abs(result.points) <= step_fn.state_bounds), kind
    assert (result.status != 'not_converged').all(), (kind, result.status)
    again = sp.SlowPoints.from_points(step_fn, result.points, np.ones(2, np.float32))
    np.testing.assert_array_equal(again.status, result.status)
    np.testing.assert_array_equal(again.num_at_bound, result.num_at_bound)
    on_bound = (result.status == 'slow_point') & (result.num_at_bound > 0)
    assert on_bound.any() == (kind != 'lstm'), (kind, result.num_at_bound)


def test_from_points_judges_given_points():
  a = 2.0
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(a, 2))
  x_star = _tanh_fixed_point(a)
  points = np.array([[x_star, 0.0], [x_star, x_star], [0.5, 0.5]])
  result = sp.SlowPoints.from_points(step_fn, points, np.zeros(1, np.float32))
  assert result.status.tolist() == ['fixed_point', 'fixed_point', 'not_converged']
  assert result.converged.tolist() == [True, True, False]
  np.testing.assert_allclose(result.residuals[2], np.sqrt(2) * (np.tanh(1.0) - 0.5),
                             rtol=1e-12)
  np.testing.assert_allclose(result.sigma_min[:2], 1 - a * (1 - x_star ** 2), rtol=1e-6)
  np.testing.assert_allclose(result.n_unstable(step_fn), [1, 0, 0])
  np.testing.assert_array_equal(result.iterations, 0)


def test_unique_merges_by_max_abs_keeps_slowest_and_counts():
  xi = np.array([[0.0, 0.0], [0.0009, -0.0009], [0.0, 0.0011], [1.0, 1.0], [np.nan, 0]])
  speeds = np.array([3.0, 1.0, 2.0, 5.0, 0.0])
  points = sp.SlowPoints(points=xi, xi=xi, speeds=speeds, initial_states=xi,
                         inputs=np.zeros((5, 1)), iterations=np.zeros(5, int),
                         converged=np.zeros(5, bool))
  unique, index = points.unique(1e-3, return_index=True)
  # Slowest first: 1 keeps 0 (max-abs 9e-4; Euclidean would be 1.3e-3); 2 is 2e-3 from 1.
  assert index.tolist() == [1, 2, 3] and unique.multiplicity.tolist() == [2, 1, 1]
  again = unique.unique(2.0)
  assert again.multiplicity.tolist() == [4] and len(again) == 1


@pytest.mark.parametrize('kwargs, message', [
    (dict(initial_states=np.zeros((4, 3))), 'initial_states have width 3'),
    (dict(inputs=np.zeros(2)), 'inputs have width 2'),
    (dict(initial_states=np.zeros((0, 2))), 'empty batch'),
    (dict(max_iters=0, method='adam'), 'max_iters must be an integer >= 1'),
    (dict(newton_iters=0), 'newton_iters must be an integer >= 1'),
    (dict(tol=-1e-8), 'tol must be >= 0'),
    (dict(method='sgd'), 'method must be one of'),
    (dict(dtype='float16'), 'dtype must be'),
    (dict(clip='reachable'), "clip must be 'auto'"),
    (dict(method='paper', num_steps=0), 'num_steps must be an integer >= 1'),
    (dict(method='paper', decay_step=-1), 'decay_step must be an integer >= 0'),
    (dict(method='paper', decay_factor=0.0), 'decay_factor must be > 0'),
    (dict(method='paper', learning_rate=0.0), 'learning_rate must be > 0'),
])
def test_bad_arguments_fail_with_one_line(kwargs, message):
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(2.0, 2))
  batch = dict(initial_states=np.zeros((4, 2)), inputs=np.zeros(1))
  options = {k: v for k, v in kwargs.items() if k not in batch}
  batch.update((k, v) for k, v in kwargs.items() if k in batch)
  with pytest.raises(ValueError, match=message) as error:  # bad options: when made
    sp.find_slow_points(step_fn, batch['initial_states'], batch['inputs'],
                        sp.SearchOptions(**options))
  assert '\n' not in str(error.value) and len(str(error.value)) < 300


def test_plain_callable_of_wrong_width_fails_with_one_line():
  w = tf.constant(np.eye(3, dtype=np.float32))
  with pytest.raises(ValueError, match=r'failed on a state \[1, 2\]') as error:
    sp.find_slow_points(lambda s, i: tf.tanh(s @ w) + 0 * i, np.zeros((4, 2), np.float32),
                        np.zeros(1, np.float32), sp.SearchOptions(dtype='float32'))
  assert '\n' not in str(error.value) and len(str(error.value)) < 400


def test_default_keeps_states_inside_the_reachable_region():
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(2.0, 2))
  x0 = np.array([[3.0, -5.0], [0.2, 0.1]], np.float32)
  result = sp.find_slow_points(step_fn, x0, np.zeros(1, np.float32),
                               sp.SearchOptions(method='adam', max_iters=50))
  np.testing.assert_array_equal(result.initial_states[0], [1.0, -1.0])
  assert np.all(np.abs(result.points) <= 1.0)
  assert result.info['clip'] == [1.0, 1.0]


# --- the authors' search (method='paper') ----------------------------------------------------
def _zero_input():
  return np.zeros(1, np.float32)


def test_paper_search_known_answers():
  """Minima of S known by hand: F(x) = x/2 + 0.2 has its fixed point at 0.4 (S = 0 there);
  F(x) = x + 0.1 (x^2 + 0.01) has none, and S = 0.01 (x^2 + 0.01)^2 has its minimum 1e-6 at
  x = 0 (a ghost). Adam's float32 points are judged in float32."""
  x0 = np.array([[-0.9], [0.0], [0.9]], np.float32)
  options = sp.SearchOptions(method='paper', num_steps=20_000, decay_step=8_000,
                             dtype='float32')
  linear = sp.find_slow_points(lambda s, i: 0.5 * s + 0.2 + 0.0 * i[:, :1], x0,
                               _zero_input(), options)
  np.testing.assert_allclose(linear.points, 0.4, atol=1e-6)
  assert (linear.status == 'fixed_point').all()
  ghost = sp.find_slow_points(lambda s, i: s + 0.1 * (s * s + 0.01) + 0.0 * i[:, :1], x0,
                              _zero_input(), options)
  np.testing.assert_allclose(ghost.points, 0.0, atol=1e-6)
  np.testing.assert_allclose(ghost.speeds, 1e-6, rtol=1e-4)
  assert (ghost.status == 'slow_point').all()
  np.testing.assert_array_equal(ghost.iterations, 20_000)  # a fixed step count


def test_paper_search_finds_the_two_unit_network_points_with_defaults():
  """h' = tanh(2h) per unit, 100,000 steps from a grid: the 9 fixed points (4 attractors,
  4 saddles, the origin), as the refined search finds them."""
  step_fn = sp.step_fn_for_cell(_diagonal_tanh_cell(2.0, 2))
  grid = np.linspace(-1.0, 1.0, 9, dtype=np.float32)
  x0 = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
  result = sp.find_slow_points(step_fn, x0, _zero_input(),
                               sp.SearchOptions(method='paper', dtype='float32'))
  assert (result.status == 'fixed_point').all()
  unique = result.unique(1e-3)
  x_star = _tanh_fixed_point(2.0)
  np.testing.assert_allclose(np.abs(unique.points), np.abs(np.round(unique.points / x_star))
                             * x_star, atol=1e-6)
  assert sorted(unique.n_unstable(step_fn).tolist()) == [0] * 4 + [1] * 4 + [2]
  assert result.info['method'] == 'paper' and result.info['paper']['num_steps'] == 100_000


def _constant_gradient_map(s, i):
  """F(x) = x + sqrt(x + 10): S = x + 10, so dS/dx = 1 everywhere, and Adam's every step
  is the learning rate itself (m_hat / sqrt(v_hat) = 1, up to epsilon)."""
  return s + tf.sqrt(s + 10.0) + 0.0 * i[:, :1]


@pytest.mark.parametrize('decay_step, moved', [(4, 4 * 1e-2 + 6 * 1e-3), (0, 10 * 1e-3),
                                               (10, 10 * 1e-2), (7, 7 * 1e-2 + 3 * 1e-3)])
def test_paper_search_decays_the_rate_at_decay_step(decay_step, moved):
  """10 steps at 1e-2, the rate divided by 10 from step ``decay_step`` (0-based) on."""
  x0 = np.array([[0.5], [0.0]], np.float32)
  options = sp.SearchOptions(method='paper', num_steps=10, learning_rate=1e-2,
                             decay_step=decay_step, decay_factor=0.1, clip=None)
  result = sp.find_slow_points(_constant_gradient_map, x0, _zero_input(), options)
  np.testing.assert_allclose(result.points, x0 - moved, atol=1e-6)
  np.testing.assert_array_equal(result.iterations, 10)


def test_paper_search_clips_after_every_step():
  """From -0.95, 10 steps of 0.01 would end at -1.05: the coordinate bounded at 1 stops at
  -1 (the minimum of S over the box, a slow point on the bound: S = 9 per coordinate), the
  free one (LSTM's c under clip='auto') does not; clip=0.9 also bounds the initial state."""
  step_fn = sp.StepFunction(_constant_gradient_map, state_size=2, state_bounds=[1.0, np.inf])
  x0 = np.full((1, 2), -0.95, np.float32)
  options = sp.SearchOptions(method='paper', num_steps=10, learning_rate=1e-2, decay_step=10)
  result = sp.find_slow_points(step_fn, x0, _zero_input(), options)
  np.testing.assert_allclose(result.points, [[-1.0, -1.05]], atol=1e-6)
  assert result.info['clip'] == [1.0, np.inf]
  bounded = sp.find_slow_points(step_fn, x0, _zero_input(),
                                dataclasses.replace(options, clip=1.0))
  np.testing.assert_allclose(bounded.points, [[-1.0, -1.0]], atol=1e-6)
  assert bounded.status.tolist() == ['slow_point'] and bounded.num_at_bound.tolist() == [2]
  np.testing.assert_allclose(bounded.speeds, 2 * 9.0, rtol=1e-6)  # S = sum of (x + 10)
  inside = sp.find_slow_points(step_fn, x0, _zero_input(),
                               dataclasses.replace(options, clip=0.9))
  np.testing.assert_allclose(inside.initial_states, [[-0.9, -0.9]], atol=1e-7)
  np.testing.assert_allclose(inside.points, [[-0.9, -0.9]], atol=1e-6)


def test_paper_result_has_the_format_of_the_other_methods(tmp_path):
  step_fn = sp.step_fn_for_cell(_random_cell('lstm', 4, 3, stock=False))
  x0 = np.random.default_rng(0).uniform(-0.5, 0.5, (3, 8)).astype(np.float32)
  inputs = np.zeros(3, np.float32)
  results = {method: sp.find_slow_points(step_fn, x0, inputs,
                                         sp.SearchOptions(method=method, max_iters=50,
                                                          num_steps=50))
             for method in ('paper', 'adam', 'newton')}
  def layout(result):
    return {k: (None if getattr(result, k) is None else
                (getattr(result, k).dtype, getattr(result, k).shape)) for k in result._ARRAYS}
  assert layout(results['paper']) == layout(results['newton']) == layout(results['adam'])
  paper = results['paper']
  assert set(paper.status) <= set(sp.newton.STATUS)
  # S in xi = [h, tanh c], as for the other methods.
  xi = paper.xi
  np.testing.assert_allclose(xi[:, 4:], np.tanh(paper.points[:, 4:]), rtol=1e-6)
  loaded = sp.SlowPoints.load(paper.save(str(tmp_path / 'paper')))
  np.testing.assert_array_equal(loaded.points, paper.points)
  assert loaded.info['method'] == 'paper' and loaded.info['paper']['decay_step'] == 40_000
