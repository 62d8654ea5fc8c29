"""Backtracking, replay and branching (issue 12 items 4-5) on a smoke VoCu run."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from configs import mnist
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.analysis import stats
from memrnn_tf.analysis import backtrack
from memrnn_tf.analysis import branching
from memrnn_tf.analysis import multirun
from memrnn_tf.training import experiment
from memrnn_tf.training import replay
from memrnn_tf.training import trainer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def vocu_run(tmp_path_factory, data_dir):
  """A trained smoke VoCu run: 24 steps, snapshots and checkpoints at 0/8/16/24."""
  workdir = str(tmp_path_factory.mktemp('bt') / 'vocu')
  config = mnist.get_config('smoke')
  config.curriculum = 'vocu'
  config.eval_trials = 32
  config.data_dir = data_dir  # as bin/train.py --data_dir records it
  trainer.train_and_evaluate(config, workdir)
  return workdir


# --- pure parts: known numbers --------------------------------------------------------------
def test_curriculum_marks_are_the_scaled_paper_boundaries():
  config = mnist.get_config('cpu')
  config.curriculum = 'vocu'
  marks = backtrack.curriculum_marks(config)
  # 8000 * 6000 / 140000 = 342.9 -> 343, ..., 98000 -> 4200; class c_i = i + 2.
  assert [m['step'] for m in marks] == [343, 686, 1114, 1543, 2057, 2657, 3343, 4200]
  assert [m['label'] for m in marks][:3] == ['8:2', '16:3', '26:4']
  assert backtrack.scaled_step(config, 2000) == 86
  config.curriculum = 'decu'
  marks = backtrack.curriculum_marks(config)
  assert [(m['step'], m['label']) for m in marks][:2] == [(857, '20:8'), (1286, '30:10')]


def test_branching_event_steps_scaled_and_from_snapshots():
  config = mnist.get_config('cpu')
  config.curriculum = 'vocu'
  events = branching.introductions(config)
  assert [e['new_class'] for e in events] == list(range(2, 10))
  assert events[0]['existing'] == [0, 1] and events[0]['tau_next'] == 686
  assert events[-1]['tau_next'] == 6000
  # tau = 343, tau_next = 686: start 686 - 86, end 343 - 86, pre 343 - 43, post 343 + 171.
  s = branching.event_steps(config, events[0], spacing=50)
  assert s['pre'] == 300 and s['post'] == 514
  assert s['track'] == [600, 557, 507, 457, 407, 357, 307, 257]
  last = branching.event_steps(config, events[-1], spacing=1000)
  assert last['track'][0] == 6000 and last['track'][-1] == 4114
  snaps = range(0, 6001, 250)
  s = branching.event_steps(config, events[0], 'snapshots', snaps)
  assert s == {'track': [500, 250], 'pre': 250, 'post': 500}
  config.curriculum = 'decu'
  with pytest.raises(ValueError, match='introduces none'):
    branching.introductions(config)


class _FakeRun:
  """A map whose slow-point search halves the initial states; readout = sign of x[0]."""

  class _StepFn:
    @staticmethod
    def to_xi(x):
      return np.asarray(x)

  step_fn = _StepFn()

  def __init__(self):
    self.loaded, self.searched_from = [], []

  def load(self, step):
    self.loaded.append(step)

  def search(self, x):
    x = np.asarray(x, np.float32)
    self.searched_from.append(x.copy())

    class Found:
      points = xi = x * 0.5
      speeds = np.full(len(x), 1e-3)
      iterations = np.ones(len(x), np.int64)

    return Found

  def readout(self, points):
    return (np.asarray(points)[:, 0] > 0).astype(int) - 1, np.ones(len(points))


def test_track_warm_starts_from_the_later_snapshot():
  run = _FakeRun()
  start = np.array([[4.0, 0.0], [0.0, 8.0]], np.float32)
  t = backtrack.track(run, [30, 20, 10], start, speeds=np.zeros(2), iterations=np.zeros(2))
  assert run.loaded == [30, 20, 10]
  np.testing.assert_array_equal(run.searched_from[0], start)       # step 20 from step 30's
  np.testing.assert_array_equal(run.searched_from[1], start * 0.5)  # step 10 from step 20's
  np.testing.assert_allclose(t.points[2], start * 0.25)
  # Displacements: |(2, 0) - (4, 0)| = 2 and |(0, 4) - (0, 8)| = 4; distance between the
  # two points at the later step: |(4, -8)| = sqrt(80).
  np.testing.assert_allclose(t.displacement[1], [2.0, 4.0])
  np.testing.assert_allclose(t.nearest_other[1], [np.sqrt(80.0)] * 2)
  np.testing.assert_allclose(t.ratio()[2], [1.0, 2.0] / np.sqrt(20.0), rtol=1e-6)
  assert t.readout[:, 0].tolist() == [0, 0, 0] and t.readout[:, 1].tolist() == [-1, -1, -1]
  with pytest.raises(ValueError, match='decrease'):
    backtrack.track(run, [10, 20], start, speeds=np.zeros(2))


def test_nearest_other_ignores_merged_points():
  xi = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
  np.testing.assert_allclose(backtrack.nearest_other_distance(xi), [5.0, 5.0, 5.0])


def test_jump_statistic_known_numbers():
  steps = [0, 10, 20, 30]
  # log10 speeds per class: class 0: -2, -2, -5, -5 ; class 1: -3, -4, -7, -7
  speeds = 10.0 ** np.array([[-2, -3], [-2, -4], [-5, -7], [-5, -7]])
  near, elsewhere, flags = backtrack.jump_values(steps, speeds, [15], floor=1e-8)
  assert flags.tolist() == [False, True, False]
  np.testing.assert_allclose(sorted(near), [3.0, 3.0])
  np.testing.assert_allclose(sorted(elsewhere), [0, 0, 0, 1.0])
  # Floor: speeds below it count as the floor.
  near, _, _ = backtrack.jump_values(steps, speeds, [15], floor=1e-4)
  np.testing.assert_allclose(sorted(near), [0.0, 2.0])


def test_slowing_rho_known_numbers():
  # Class-mean log10 speeds -2, -4, -3, -5: ranks 4, 2, 3, 1 against 1, 2, 3, 4, so
  # rho = 1 - 6 * (9 + 0 + 0 + 9) / (4 * 15) = -0.8.
  speeds = 10.0 ** np.array([[-1, -3], [-3, -5], [-2, -4], [-4, -6]])
  assert backtrack.slowing_rho([0, 10, 20, 30], speeds, floor=1e-8) == pytest.approx(-0.8)
  # Floored at 1e-3 the means are -2, -3, -2.5, -3: ranks 4, 1.5, 3, 1.5 (a tie).
  assert backtrack.slowing_rho([0, 10, 20, 30], speeds, floor=1e-3) == pytest.approx(
      stats.pearson([1, 2, 3, 4], [4, 1.5, 3, 1.5]))


def test_spawning_class_by_readout_and_nearest_point():
  probs = np.array([0.5, 0.0, 0.1, 0.3, 0.0, 0.1])  # null wins overall; class 2 among 0..3
  xi = np.array([[0.0, 0.0], [5.0, 5.0], [1.0, 1.0], [9.0, 9.0]])
  by_readout, nearest, dist = branching.spawning_class(probs, [0, 1, 2, 3], xi, [1.2, 1.0])
  assert by_readout == 2 and nearest == 2
  np.testing.assert_allclose(dist[2], 0.2, rtol=1e-6)
  by_readout, nearest, _ = branching.spawning_class(probs, [0, 1, 3], xi[[0, 1, 3]], [4, 4])
  assert by_readout == 1 and nearest == 1


def test_stats_known_numbers():
  mean, sem, n = stats.mean_sem([1.0, 2.0, 3.0, 4.0, np.nan])
  assert (mean, n) == (2.5, 4)
  np.testing.assert_allclose(sem, np.std([1, 2, 3, 4], ddof=1) / 2)
  # Four negative differences: every test's one-sided p is 1/16.
  t = stats.paired_tests([0, 0, 0, 0], [1, 2, 3, 4], alternative='less')
  assert t['n_negative'] == 4 and t['mean_difference'] == -2.5
  for key in ('wilcoxon_p', 'sign_test_p', 'permutation_p'):
    assert t[key] == pytest.approx(1 / 16), key
  # Mixed signs: flipped means of |d| = (3, 1) are 2, 1, -1, -2; the observed is -1.
  assert stats.sign_flip_test([-3.0, 1.0], 'less') == pytest.approx(0.5)
  assert stats.sign_flip_test([-3.0, 1.0], 'greater') == pytest.approx(0.75)
  assert stats.sign_flip_test([-3.0, 1.0], 'two-sided') == pytest.approx(1.0)
  s = stats.two_sample_tests([3.0, 4.0, 5.0], [1.0, 2.0])
  assert s['ratio_of_medians'] == pytest.approx(4 / 1.5)
  assert s['mannwhitney_p'] == pytest.approx(0.1)  # 1 of the C(5, 2) = 10 orderings


# --- on a trained smoke run -----------------------------------------------------------------
@pytest.mark.slow
def test_snapshots_hold_the_optimizer_and_replay_is_bit_exact(vocu_run):
  assert workdir_lib.snapshot_steps(vocu_run) == [0, 8, 16, 24]
  # The trainer saves Checkpoint(model=model); Keras models track their optimizer.
  assert replay.has_optimizer_state(os.path.join(vocu_run, 'snapshots', 'snapshot-8'))
  assert sorted(replay.exact_states(vocu_run)) == [0, 8, 16, 24]
  r = replay.Replayer(vocu_run)
  r.states = {0: r.states[0]}  # from step 0 only: passes the snapshots of 8 and 16
  r.advance_to(16)
  assert r.checks == [(8, 0.0), (16, 0.0)] and r.steps_trained == 16
  r.states[8] = os.path.join(vocu_run, 'snapshots', 'snapshot-8')  # weights + optimizer
  r.advance_to(3)   # restarts from step 0
  r.advance_to(12)  # restarts from the snapshot of step 8
  assert r.steps_trained == 16 + 3 + 4
  twelve = r.model.get_weights()
  assert replay.replay_cost(vocu_run, [12, 16, 20]) == 4 + 4
  info = replay.replay_weights(vocu_run, [12, 16, 20], replayer=r)
  assert info['replayed'] == [12, 20] and info['steps_trained'] == 4 + 4
  model = experiment.model_from_config(r.config)
  replay.load_weights(model, vocu_run, 12)
  for a, b in zip(model.get_weights(), twelve):
    np.testing.assert_array_equal(a, b)
  with pytest.raises(FileNotFoundError, match='replay'):
    replay.load_weights(model, vocu_run, 13)


def _run_bin(*args):
  env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='3')
  return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                        text=True, timeout=1500)


def _ok(result):
  code, _, err = result
  assert code == 0, err[-2000:]


@pytest.mark.slow
def test_backtrack_and_branching_binaries(vocu_run, tmp_path, binary_main):
  """Each binary runs once as a process, then in this process (conftest.binary_main)."""
  first = str(tmp_path / 'runs' / 'vocu_a')
  other = str(tmp_path / 'runs' / 'vocu_b')
  shutil.copytree(vocu_run, first)
  params = ('--max_iters=500', '--refine_threshold=-1', '--refine_points=1')
  out = _run_bin('bin/backtrack.py', f'--workdir={first}', *params)
  assert out.returncode == 0, out.stderr[-2000:]
  out = _run_bin('bin/branching.py', f'--workdir={first}', '--weights=snapshots',
                 '--max_iters=500', '--num_trials=100')
  assert out.returncode == 0, out.stderr[-2000:]
  # A copy of the analysed run makes two workdirs to aggregate; with the same parameters
  # both results are reused, not recomputed.
  shutil.copytree(first, other)
  result = os.path.join(first, 'analysis', 'backtrack.json')
  stamp = os.stat(result).st_mtime_ns
  _ok(binary_main('backtrack.py', f'--workdirs={tmp_path}/runs/vocu_*', *params))
  assert os.stat(result).st_mtime_ns == stamp
  s = json.load(open(os.path.join(first, 'analysis', 'backtrack.json')))
  # Threshold -1 refines every interval at its midpoint (replayed from the checkpoints).
  assert s['steps'] == [24, 20, 16, 12, 8, 4, 0]
  assert s['refinement']['status'] == 'done' and s['refinement']['num_jumped'] == 3
  assert s['refinement']['replay_steps'] == [4, 12, 20]
  assert s['snapshot_steps'] == [0, 8, 16, 24]
  a = np.load(os.path.join(first, 'analysis', 'backtrack.npz'))
  assert a['speeds'].shape == (7, 10) and a['is_snapshot'].tolist() == [1, 0, 1, 0, 1, 0, 1]
  agg = json.load(open(tmp_path / 'runs' / 'analysis' / 'backtrack.json'))
  assert agg['curricula']['vocu']['n'] == 2
  assert os.path.exists(os.path.join(first, 'figures', 'backtrack.png'))
  assert os.path.exists(tmp_path / 'runs' / 'figures' / 'backtrack.png')

  # --recompute forces a new result with the same parameters.
  _ok(binary_main('backtrack.py', f'--workdir={first}', *params, '--recompute'))
  assert os.stat(result).st_mtime_ns > stamp
  assert json.load(open(result))['steps'] == [24, 20, 16, 12, 8, 4, 0]

  _ok(binary_main('branching.py', f'--workdirs={first},{other}', '--reuse'))
  s = json.load(open(os.path.join(first, 'analysis', 'branching.json')))
  assert [e['new_class'] for e in s['events']] == list(range(2, 10))
  for e in s['events']:
    assert e['spawner'] in e['existing'] and e['steps']['pre'] < e['tau'] <= e['steps']['post']
  agg = json.load(open(tmp_path / 'runs' / 'analysis' / 'branching.json'))
  assert agg['test']['n'] == 16 and agg['num_runs'] == 2
  (cell, by_cell), = agg['by_cell'].items()  # one cell: its test is the pooled one
  assert cell == workdir_lib.load_config(first).model.cell
  assert by_cell['num_runs'] == 2 and by_cell['test'] == agg['test']
  assert os.path.exists(tmp_path / 'runs' / 'figures' / 'branching.png')


def test_binaries_reject_bad_input(tmp_path, forked_binary):
  code, _, err = forked_binary('backtrack.py', f'--workdir={tmp_path}/missing')
  assert code == 1 and err.strip().splitlines()[-1].startswith('error: ')
  os.makedirs(tmp_path / 'd')
  config = mnist.get_config('smoke')
  config.curriculum = 'decu'
  workdir_lib.write_json_atomic(str(tmp_path / 'd' / 'config.json'), workdir_lib.config_dict(config))
  code, _, err = forked_binary('branching.py', f'--workdir={tmp_path}/d')
  assert code == 1 and 'introduces none' in err


def test_cached_reuses_a_result_only_with_the_same_parameters(tmp_path):
  workdir = str(tmp_path)
  os.makedirs(os.path.join(workdir, 'analysis'))
  calls = []

  def compute(value):
    def run():
      calls.append(value)
      summary = {'value': value}
      with open(os.path.join(workdir, 'analysis', 'x.json'), 'w') as f:
        json.dump(summary, f)
      return summary
    return run

  params = {'max_iters': 100, 'refine': True}
  assert multirun.cached(workdir, 'x', compute(1), params=params)['params'] == params
  assert multirun.cached(workdir, 'x', compute(2), params=dict(params))['value'] == 1
  other = {'max_iters': 200, 'refine': True}
  assert multirun.cached(workdir, 'x', compute(3), params=other)['value'] == 3
  assert multirun.cached(workdir, 'x', compute(4), params=None)['value'] == 4  # --recompute
  assert multirun.cached(workdir, 'x', compute(5), reuse=True)['value'] == 4  # --reuse
  assert calls == [1, 3, 4]
