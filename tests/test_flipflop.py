"""The flip-flop study (003): task, model, fixed-point analysis, binary end to end."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from configs import flipflop as flipflop_configs
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.analysis import dynamics
from memrnn_tf.analysis import flipflop
from memrnn_tf.data import flipflop as flipflop_data
from memrnn_tf.models import flipflop as flipflop_models
from memrnn_tf.training import experiment

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = f'--config={os.path.join(REPO, "configs", "flipflop.py")}:smoke'


# --- task ------------------------------------------------------------------------------------
def test_targets_hand_checked_with_delay():
  # Channel 0 starts with a pulse; channel 1 has none until t = 2 (undefined before).
  inputs = np.array([[[1, 0], [0, 0], [0, 1], [-1, 0], [0, 1], [0, -1], [0, 0]]],
                    np.float32)
  out = {k: v.numpy()[0].T for k, v in flipflop_data.flipflop_targets(inputs, 2).items()}
  np.testing.assert_array_equal(out['undelayed_targets'], [[1, 1, 1, -1, -1, -1, -1],
                                                           [0, 0, 1, 1, 1, -1, -1]])
  np.testing.assert_array_equal(out['targets'], [[0, 0, 1, 1, 1, -1, -1],
                                                 [0, 0, 0, 0, 1, 1, 1]])
  np.testing.assert_array_equal(out['weights'], [[0, 0, 1, 1, 1, 1, 1],
                                                 [0, 0, 0, 0, 1, 1, 1]])
  undelayed = flipflop_data.flipflop_targets(inputs, 0)
  np.testing.assert_array_equal(undelayed['targets'], undelayed['undelayed_targets'])


def _reference_targets(inputs, delay):
  """Per-trial Python loop: the sign of the last pulse at or before t - delay."""
  b, t, c = inputs.shape
  out = np.zeros_like(inputs)
  for i in range(b):
    for k in range(c):
      last = 0.0
      for s in range(t):
        if inputs[i, s, k] != 0:
          last = inputs[i, s, k]
        if s + delay < t:
          out[i, s + delay, k] = last
  return out


@pytest.mark.parametrize('delay', [0, 3])
def test_sample_shapes_seeding_and_semantics(delay):
  task = flipflop_data.FlipFlopTask(num_bits=3, seq_len=60, pulse_prob=0.1, delay=delay)
  batch = {k: v.numpy() for k, v in task.sample([3, 4], 16).items()}
  again = task.sample(tf.constant([3, 4], tf.int64), 16)
  other = task.sample([3, 5], 16)
  for key in ('inputs', 'targets', 'weights', 'undelayed_targets'):
    assert batch[key].shape == (16, 60, 3) and batch[key].dtype == np.float32
    np.testing.assert_array_equal(batch[key], again[key].numpy())
  assert not np.array_equal(batch['inputs'], other['inputs'].numpy())
  assert set(np.unique(batch['inputs'])) == {-1.0, 0.0, 1.0}
  assert np.all(batch['inputs'][:, 0] != 0)  # the initial pulse on every channel
  rate = np.mean(batch['inputs'][:, 1:] != 0)
  assert 0.07 < rate < 0.13
  np.testing.assert_array_equal(batch['targets'], _reference_targets(batch['inputs'], delay))
  assert set(np.unique(batch['targets'][:, delay:])) == {-1.0, 1.0}
  np.testing.assert_array_equal(batch['weights'][:, :delay], 0.0)
  np.testing.assert_array_equal(batch['weights'][:, delay:], 1.0)
  longer = task.sample([3, 4], 2, seq_len=500)['inputs']
  assert longer.shape == (2, 500, 3)


def test_task_rejects_bad_parameters():
  with pytest.raises(ValueError, match='task.delay=10'):
    flipflop_data.FlipFlopTask(seq_len=10, delay=10)
  with pytest.raises(ValueError, match='task.pulse_prob'):
    flipflop_data.FlipFlopTask(pulse_prob=1.5)


# --- model -----------------------------------------------------------------------------------
def test_model_weights_loss_and_truncation():
  model = flipflop_models.FlipFlopRNN(units=20, num_bits=3, truncation=4, seed=1)
  names = sorted(v.path.split('/')[-1] for v in model.trainable_variables)
  assert names == ['kernel', 'recurrent_kernel']  # W_out and W; W_in and bias fixed
  assert model.readout.kernel.trainable and not model.cell.kernel.trainable
  assert np.abs(model.cell.kernel.numpy()).max() <= 3 ** -0.5
  assert np.abs(model.cell.recurrent_kernel.numpy()).max() <= 20 ** -0.5
  np.testing.assert_array_equal(model.cell.bias.numpy(), 0.0)

  task = flipflop_data.FlipFlopTask(seq_len=13, pulse_prob=0.2, delay=2)
  batch = task.sample([0, 1], 4)
  outputs, states = model(batch['inputs'], return_states=True)
  # The same cell, one step at a time, and the MSE by hand.
  state = tf.zeros([4, 20])
  for t in range(13):
    state = model.one_step(state, batch['inputs'][:, t])
    np.testing.assert_allclose(states[:, t], state, atol=1e-6)
  y = np.tanh(states.numpy() @ model.readout.kernel.numpy())
  np.testing.assert_allclose(outputs, y, atol=1e-6)
  w, target = batch['weights'].numpy(), batch['targets'].numpy()
  mse = np.sum(w * (y - target) ** 2) / np.sum(w)
  acc = np.sum(w * (np.sign(y) == target)) / np.sum(w)
  model.compile(optimizer='adam')
  metrics = model.test_step(batch)
  np.testing.assert_allclose(float(metrics['loss']), mse, rtol=1e-5)
  np.testing.assert_allclose(float(metrics['accuracy']), acc, rtol=1e-6)

  # TBPTT: same values; the gradient of step t reaches exactly t-3..t (sliding) or back to
  # the start of t's window (windows).
  x = batch['inputs']
  np.testing.assert_allclose(model.sliding_states(x), states, atol=1e-6)
  for mode, t, expected in (('sliding', 9, [6, 7, 8, 9]), ('sliding', 2, [0, 1, 2]),
                            ('windows', 9, [8, 9]), ('windows', 7, [4, 5, 6, 7])):
    model.bptt = mode
    with tf.GradientTape() as tape:
      tape.watch(x)
      s = (model.sliding_states(x) if mode == 'sliding' else model.run_cell(x))[:, t]
    grad = tape.gradient(s, x).numpy()
    assert np.flatnonzero(np.abs(grad).sum(axis=(0, 2))).tolist() == expected, mode
  # Long sequences run as a scan over windows, with the same values.
  scan = flipflop_models.FlipFlopRNN(units=20, truncation=4, unroll_limit=0, seed=1)
  np.testing.assert_allclose(scan.run_cell(x), states, atol=1e-6)


# --- fixed points of a hand-built flip-flop ---------------------------------------------------
def test_hand_built_network_has_eight_stable_corners():
  """3 units, W = 1.5 I, W_out = I: h = tanh(1.5 h) has roots 0, +-0.858 per unit, so 27
  fixed points: 8 stable corners, 12 edge saddles (1 unstable dim), 6 face saddles (2)
  and the centre (3)."""
  model = flipflop_models.FlipFlopRNN(units=3, num_bits=3, seed=0)
  model.cell.kernel.assign(np.eye(3, dtype=np.float32))
  model.cell.recurrent_kernel.assign(1.5 * np.eye(3, dtype=np.float32))
  model.readout.kernel.assign(np.eye(3, dtype=np.float32))
  x0 = np.random.default_rng(0).uniform(-1, 1, (400, 3)).astype(np.float32)
  fixed, search = flipflop.find_fixed_points(model, x0, tol=1e-12, max_iters=5000)
  assert search.converged.mean() > 0.9
  classes = flipflop.classify_fixed_points(model, fixed)
  counts = flipflop.count_fixed_points(classes)
  assert counts['by_unstable_dims'] == {'0': 8, '1': 12, '2': 6, '3': 1}
  assert counts['stable_points'] == 8 and counts['stable_distinct_corners'] == 8
  # Edges, faces, centre: as many undecided outputs as unstable dimensions.
  np.testing.assert_array_equal(classes['num_undecided'], classes['n_unstable'])
  stable = fixed.points[classes['n_unstable'] == 0]
  np.testing.assert_allclose(np.abs(stable), 0.8581, atol=1e-3)


def test_triggered_average_selects_clean_switches():
  inputs = np.zeros([2, 40, 3], np.float32)
  inputs[:, 0] = -1.0
  inputs[0, 10, 2] = 1.0  # clean (-1,-1,-1) -> (-1,-1,+1)
  inputs[0, 30, 2] = -1.0
  inputs[1, 10, 2] = 1.0  # spoiled: channel 0 flips inside the window
  inputs[1, 15, 0] = 1.0
  traj = {k: v.numpy() for k, v in flipflop_data.flipflop_targets(inputs, 2).items()}
  traj['inputs'] = inputs
  traj['states'] = np.arange(2 * 40 * 2, dtype=np.float32).reshape(2, 40, 2)
  traj['outputs'] = traj['targets']
  avg = dynamics.triggered_average(traj, (-1, -1, -1), (-1, -1, 1), delay=2, pre=3, post=4)
  assert avg['num_instances'] == 1 and avg['starts'].tolist() == [[0, 10]]
  np.testing.assert_array_equal(avg['times'], np.arange(-3, 7))
  np.testing.assert_array_equal(avg['mean_states'], traj['states'][0, 7:17])


# --- the binary --------------------------------------------------------------------------------
def _run(args, tmp_path, check=True):
  env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2',
             KERAS_HOME=str(tmp_path / 'keras'), MPLCONFIGDIR=str(tmp_path / 'mpl'))
  proc = subprocess.run([sys.executable, 'bin/flipflop.py', SMOKE] + args, cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300)
  if check and proc.returncode != 0:
    raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}')
  return proc


@pytest.mark.slow
def test_binary_trains_resumes_analyses_and_plots(tmp_path):
  workdir = tmp_path / 'run'
  _run([f'--workdir={workdir}', '--config.plots=False'], tmp_path)
  assert not (workdir / 'figures').exists()
  proc = _run([f'--workdir={workdir}'], tmp_path)  # plots may change: resumes at 20
  assert 'Resumed from' in proc.stderr and 'ckpt-20' in proc.stderr
  with open(workdir / 'metrics.jsonl') as f:
    assert [json.loads(line)['step'] for line in f] == [10, 20]
  assert os.path.exists(workdir / 'checkpoints' / 'ckpt-20.index')
  names = set(os.listdir(workdir / 'analysis'))
  assert {'trajectories.npz', 'fixed_points.npz', 'fixed_points.json',
          'fixed_point_classes.npz', 'spectrum.npz', 'triggered_average.npz',
          'summary.json'} <= names
  assert sorted(os.listdir(workdir / 'figures')) == [
      'eigenvalues.png', 'fixed_points_pca.png', 'triggered_average.png']
  with open(workdir / 'analysis' / 'summary.json') as f:
    summary = json.load(f)
  config = flipflop_configs.get_config('smoke')
  assert summary['delay'] == config.task.delay
  assert summary['evaluation']['num_steps'] == (config.analysis.num_trajectories *
                                                (config.analysis.trajectory_len -
                                                 config.task.delay))
  assert 0.0 <= summary['evaluation']['bit_accuracy'] <= 1.0
  counts = summary['fixed_points']
  assert sum(counts['by_unstable_dims'].values()) == counts['num_fixed_points'] >= 1
  with np.load(workdir / 'analysis' / 'spectrum.npz') as d:
    eigvals = d['eigvals']
  assert eigvals.shape == (config.model.units,)
  # The model in the workdir is the one analysed.
  model, path = experiment.load_trained_model(str(workdir))
  saved = workdir_lib.load_config(str(workdir))
  assert path.endswith('ckpt-20') and saved.task.delay == config.task.delay
  np.testing.assert_allclose(
      np.sort(np.abs(flipflop.sorted_eigenvalues(model.recurrent_matrix.numpy()))),
      np.sort(np.abs(eigvals)), rtol=1e-6)
  # Another task in the same workdir: one-line error, nothing overwritten.
  proc = _run([f'--workdir={workdir}', '--config.task.delay=3', '--config.num_steps=40'],
              tmp_path, check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1] == (
      f'error: --workdir={workdir} holds a run with num_steps=20, task.delay=2; this command '
      'asks for num_steps=40, task.delay=3; use another --workdir')
