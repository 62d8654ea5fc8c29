"""Sweeps (memrnn_tf.sweep, bin/sweep.py): names, grids, skipping, both backends, kills."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from memrnn_tf.sweep import driver
from memrnn_tf.sweep import grid
from memrnn_tf.sweep import local
from memrnn_tf.sweep import record
from memrnn_tf.sweep import runs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _sweep_config(variant, **axes):
  config = grid.load_config_file(f'configs/sweep.py:{variant}')
  for path, values in axes.items():
    config.axes[path] = values
  return config


# --- names and grids (no training) ---------------------------------------------------------
def test_gru_sigmoid_names_match_the_interim_sweep():
  """The lead's runs (bin/train.py, readout_sigmoid=True) are named exactly like these."""
  _, points = grid.expand(_sweep_config('gru_sigmoid'))
  assert [p.name for p in points] == [f'gru_{c}_sigmoid_s{s}' for s in range(5)
                                      for c in ('decu', 'vocu')]
  assert points[3].overrides == {'model.readout_sigmoid': True, 'seed': 1,
                                 'curriculum': 'vocu'}
  _, points = grid.expand(_sweep_config('gru_logits'))
  assert points[0].name == 'gru_decu_logits_s0'
  assert 'model.readout_sigmoid' not in points[0].overrides  # the cpu config's own value


def test_paper_grid_is_two_cells_three_curricula_ten_seeds():
  base, points = grid.expand(_sweep_config('paper'))
  assert base.num_steps == 140_000 and len(points) == 60
  assert [p.name for p in points[:3]] == ['gru_naive_logits_s0', 'lstm_naive_logits_s0',
                                          'gru_decu_logits_s0']
  assert points[-1].name == 'lstm_vocu_logits_s9'
  assert {p.name.split('_')[1] for p in points} == {'naive', 'decu', 'vocu'}


def test_run_name_fixed_tokens_then_other_axes():
  config = grid.load_config_file('configs/mnist.py:smoke')
  config.model.units = 64
  config.learning_rate = 3e-4
  assert grid.run_name(config) == 'gru_decu_logits_s0'
  assert grid.run_name(config, ['seed', 'model.units', 'learning_rate']) == (
      'gru_decu_logits_s0_units-64_learning_rate-0.0003')
  config.vocu.boundaries = (1, 2)
  # Two axes with one leaf: the dotted paths tell them apart.
  assert grid.run_name(config, ['decu.boundaries', 'vocu.boundaries']).endswith(
      '_decu.boundaries-20000-30000-40000-50000-60000-70000-80000_vocu.boundaries-1-2')


def test_grid_overrides_rebuild_each_run_config():
  """base + a run's overrides == its config; --config.run.* reaches every run."""
  sweep_config = _sweep_config('smoke')
  sweep_config.run.num_steps = 3
  base, points = grid.expand(sweep_config)
  assert [p.name for p in points] == ['gru_decu_logits_s0', 'gru_vocu_logits_s0',
                                      'gru_decu_logits_s1', 'gru_vocu_logits_s1']
  for p in points:
    rebuilt = grid.load_config_file('configs/mnist.py:smoke')
    for path, value in p.overrides.items():
      grid.set_field(rebuilt, path, value)
    assert rebuilt.to_dict() == p.config.to_dict()
  # Only what differs from the base (the smoke config already trains without XLA).
  assert points[1].overrides == {'num_steps': 3, 'eval_trials': 32, 'seed': 0,
                                 'curriculum': 'vocu'}
  assert base.num_steps == 24


def test_commands_carry_the_thread_budget_and_post_step_flags(tmp_path):
  sweep_config = _sweep_config('smoke')
  sweep_config.post_steps = 'extrapolate'
  _, points = grid.expand(sweep_config)
  spec = runs.make_spec(points[0], str(tmp_path), sweep_config, threads=1)
  assert spec.train_argv[2:] == (
      f'--config={REPO}/configs/mnist.py:smoke', '--config.eval_trials=32',
      '--config.num_steps=8', '--config.seed=0',
      '--config.curriculum=decu', f'--config.{runs.THREADS_FIELD}=1',
      '--config.progress_bar=False', f'--workdir={tmp_path}/gru_decu_logits_s0')
  assert spec.env[runs.THREADS_ENV] == '1'
  (name, argv, _), = spec.post_steps
  assert name == 'extrapolate' and argv[2:] == (
      f'--workdir={tmp_path}/gru_decu_logits_s0', '--delays=4,19', '--num_trials=32')
  # Alone on the machine: TensorFlow's own thread count.
  spec = runs.make_spec(points[0], str(tmp_path), sweep_config, threads=None)
  assert not any(runs.THREADS_FIELD in a for a in spec.train_argv)


def test_commands_carry_the_users_environment_only_when_set(tmp_path, monkeypatch):
  """The data directory and TensorFlow's log level reach runs on other nodes as given;
  unset, nothing is imposed (each binary's start-up default applies)."""
  sweep_config = _sweep_config('smoke')
  _, points = grid.expand(sweep_config)
  monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', '0')
  monkeypatch.setenv('MEMRNN_DATA_DIR', str(tmp_path))
  spec = runs.make_spec(points[0], str(tmp_path), sweep_config, threads=None)
  assert spec.env == {'TF_CPP_MIN_LOG_LEVEL': '0', 'MEMRNN_DATA_DIR': str(tmp_path)}
  monkeypatch.delenv('TF_CPP_MIN_LOG_LEVEL')
  monkeypatch.delenv('MEMRNN_DATA_DIR')
  assert runs.make_spec(points[0], str(tmp_path), sweep_config, threads=None).env == {}


def test_bad_grids_are_one_line_errors():
  sweep_config = _sweep_config('smoke')
  sweep_config.axes['nope'] = (1, 2)
  with pytest.raises(grid.SweepError, match="unknown config field 'nope'"):
    grid.expand(sweep_config)
  sweep_config = _sweep_config('smoke')
  sweep_config.axes['seed'] = ('a',)
  with pytest.raises(grid.SweepError, match='seed='):
    grid.expand(sweep_config)
  sweep_config = _sweep_config('smoke')
  sweep_config.axes['num_steps'] = (8, 8)
  with pytest.raises(grid.SweepError, match='share the names'):
    grid.expand(sweep_config)
  sweep_config = _sweep_config('smoke')
  sweep_config.post_steps = 'extrapolate, pca'
  with pytest.raises(grid.SweepError, match="unknown post-step 'pca'"):
    driver.plan_sweep(sweep_config, '/nonexistent', local.LocalBackend())


def test_default_concurrency_one_run_per_two_cores():
  gib = 1 << 30
  assert local.default_concurrency(10, cores=2, memory_bytes=64 * gib) == 1
  assert local.default_concurrency(10, cores=16, memory_bytes=64 * gib) == 8
  assert local.default_concurrency(1, cores=16, memory_bytes=64 * gib) == 1
  assert local.default_concurrency(40, cores=16, memory_bytes=8 * gib) == 4  # 2 GiB a run
  assert local.threads_per_run(2, cores=2) == 1
  assert local.threads_per_run(3, cores=16) == 5
  assert local.threads_per_run(1, cores=16) is None


def _write_json(path, obj):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w') as f:
    json.dump(obj, f)


def test_finished_runs_are_recognised_from_their_files(tmp_path):
  """A run trained outside the sweep counts as done once eval.json and the post-step
  outputs (with every requested delay) exist; a partial post-step output does not."""
  sweep_config = _sweep_config('gru_sigmoid')
  root = str(tmp_path)
  done = os.path.join(root, 'gru_decu_sigmoid_s0')
  _write_json(os.path.join(done, 'eval.json'), {'step': 6000, 'test': {'digit_accuracy': .97}})
  _write_json(os.path.join(done, 'analysis', 'extrapolation.json'),
              {'delays': [4, 19, 50, 100, 200, 500, 1000], 'accuracy': [1.0] * 7,
               'trials': 1000})
  _write_json(os.path.join(done, 'analysis', 'slowpoints.json'),
              {'num_points': 10, 'num_readout_correct': 9})
  short = os.path.join(root, 'gru_vocu_sigmoid_s0')
  _write_json(os.path.join(short, 'eval.json'), {'step': 6000})
  _write_json(os.path.join(short, 'analysis', 'extrapolation.json'),
              {'delays': [4, 19, 100], 'accuracy': [1.0] * 3, 'trials': 1000})
  _write_json(os.path.join(short, 'analysis', 'slowpoints.json'), {})
  specs, states, _ = driver.plan_sweep(sweep_config, root, local.LocalBackend(2))
  assert [s['done'] for s in states] == [True] + [False] * 9
  assert states[0]['post']['find_slowpoints']['num_readout_correct'] == 9
  assert states[1]['eval'] == {'step': 6000} and states[1]['post']['extrapolate'] is None
  assert specs[0].workdir == done


# --- real sweeps (subprocesses) ------------------------------------------------------------
def _env(data_dir):
  return {**os.environ, 'PYTHONPATH': REPO, 'MEMRNN_DATA_DIR': data_dir,
          'TF_CPP_MIN_LOG_LEVEL': '2'}


def _sweep_argv(root, *flags):
  return [sys.executable, os.path.join(REPO, 'bin', 'sweep.py'),
          '--config=' + os.path.join(REPO, 'configs', 'sweep.py') + ':smoke',
          f'--root={root}', *flags]


def _load(root):
  with open(os.path.join(root, 'sweep.json')) as f:
    return json.load(f)


def _eval_json(workdir):
  with open(os.path.join(workdir, 'eval.json')) as f:
    return json.load(f)


# The local backend's end-to-end run (two at a time, sweep.json, skipping on rerun) is
# tested through bin/reproduce.py: tests/test_reproduce.py.


@pytest.mark.slow
def test_ray_smoke_sweep_and_a_failing_run(tmp_path, data_dir, monkeypatch):
  """Two runs as Ray tasks on an in-process cluster (2 CPUs); a run with an unknown
  curriculum fails without stopping the other."""
  pytest.importorskip('ray')
  from memrnn_tf.sweep import ray_backend  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv('MEMRNN_DATA_DIR', data_dir)
  monkeypatch.setenv('PYTHONPATH', REPO)
  # Ray starts its workers at nice 15: beside any other busy process (a second test worker,
  # a training job) the runs would barely get the CPU.
  monkeypatch.setenv('RAY_worker_niceness', '0')
  sweep_config = _sweep_config('smoke', seed=(0,), curriculum=('decu', 'nocu'))
  root = str(tmp_path / 'ray')
  records = driver.run_sweep(sweep_config, root,
                             ray_backend.RayBackend('local', num_cpus=1, local_num_cpus=2))
  good, bad = records
  assert (good['name'], good['status']) == ('gru_decu_logits_s0', 'done')
  assert good['eval'] == _eval_json(good['workdir']) and good['eval']['step'] == 8
  assert (bad['name'], bad['status']) == ('gru_nocu_logits_s0', 'failed')
  assert 'train.py exited with code 1' in bad['error'] and bad['eval'] is None
  with open(bad['log']) as f:
    assert "unknown curriculum 'nocu'" in f.read().lower()
  assert _load(root)['counts'] == {'done': 1, 'failed': 1}


def _processes_mentioning(text):
  found = []
  for pid in os.listdir('/proc'):
    try:
      with open(f'/proc/{pid}/cmdline', 'rb') as f:
        if text.encode() in f.read():
          found.append(int(pid))
    except OSError:
      pass
  return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc')
def test_killed_sweep_completes_on_rerun(tmp_path, data_dir):
  """SIGKILL to the sweep after its first run finished: its children die with it, and
  the rerun finishes the second run without touching the first."""
  root = str(tmp_path / 'killed')
  flags = ('--concurrency=1', '--config.axes.seed=(0,)')
  proc = subprocess.Popen(_sweep_argv(root, *flags), env=_env(data_dir),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 1800
  while time.time() < deadline and proc.poll() is None:
    try:
      if _load(root)['counts'].get('done') == 1:
        break
    except (OSError, ValueError, KeyError):
      pass
    time.sleep(0.2)
  assert proc.poll() is None, 'the sweep ended before it could be killed'
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  first, second = (os.path.join(root, n) for n in ('gru_decu_logits_s0', 'gru_vocu_logits_s0'))
  for _ in range(50):  # the orphaned commands get SIGKILL from the kernel
    if not _processes_mentioning(root):
      break
    time.sleep(0.1)
  assert not _processes_mentioning(root)
  assert [r['status'] for r in _load(root)['runs']][0] == 'done'
  assert not os.path.exists(os.path.join(second, 'eval.json'))
  mtime = os.path.getmtime(os.path.join(first, 'eval.json'))

  proc = subprocess.run(_sweep_argv(root, *flags), env=_env(data_dir), capture_output=True,
                        text=True, timeout=1800)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert '1 finished, 1 to run' in proc.stderr
  sweep = _load(root)
  assert sweep['counts'] == {'done': 2}
  for r in sweep['runs']:
    assert r['eval'] == _eval_json(r['workdir']) and r['eval']['step'] == 8
  assert os.path.getmtime(os.path.join(first, 'eval.json')) == mtime
  with open(os.path.join(root, 'gru_decu_logits_s0.log')) as f:
    assert f.read().count('bin/train.py') == 1  # trained once, by the killed sweep


def test_summary_table_lists_failures():
  rec = {'name': 'gru_decu_logits_s0', 'status': 'failed', 'seconds': 90.0, 'eval': None,
         'post': {}, 'error': 'train.py exited with code 1; see x.log'}
  ok = {'name': 'gru_vocu_logits_s0', 'status': 'done', 'seconds': 30.0,
        'eval': {'test': {'digit_accuracy': 0.5, 'null_accuracy': 0.25}},
        'post': {'extrapolate': {'delays': [19, 100], 'accuracy': [0.9, 0.5]}}}
  lines = driver.summary_table([rec, ok]).splitlines()
  assert lines[1].split() == ['gru_decu_logits_s0', 'failed', '1.5', '-', '-']
  assert lines[2].split() == ['gru_vocu_logits_s0', 'done', '0.5', '0.5000', '0.2500',
                              'd100:0.50']
  assert lines[3] == 'FAILED gru_decu_logits_s0: train.py exited with code 1; see x.log'
  assert record.FILENAME == 'sweep.json'
