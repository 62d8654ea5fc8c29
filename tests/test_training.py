"""End-to-end training on the smoke config: binaries, resume after SIGKILL, errors, export.

Each binary runs as a process once here; its other cases run in this process (conftest's
``binary_main``) or, when they end before any TensorFlow op, in a forked child
(``forked_binary``).
"""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.training import experiment

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = f'--config={os.path.join(REPO, "configs", "mnist.py")}:smoke'


def _env(data_dir):
  env = dict(os.environ, MEMRNN_DATA_DIR=data_dir, MEMRNN_NO_DOWNLOAD='1',
             TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=REPO)
  return env


def _run(args, data_dir, check=True, **kwargs):
  proc = subprocess.run([sys.executable] + args, cwd=REPO, env=_env(data_dir),
                        capture_output=True, text=True, timeout=300, **kwargs)
  if check and proc.returncode != 0:
    raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}')
  return proc


def _train(workdir, data_dir, *extra, check=True):
  return _run(['bin/train.py', SMOKE, f'--workdir={workdir}', *extra], data_dir, check=check)


def _records(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(l) for l in f]


def _last_line(stderr):
  return stderr.strip().splitlines()[-1]


@pytest.fixture(scope='module')
def trained(tmp_path_factory, data_dir):
  workdir = str(tmp_path_factory.mktemp('runs') / 'smoke')
  _train(workdir, data_dir, '--config.learning_rate=0.003', '--seed=3')
  return workdir


@pytest.mark.slow  # trains a network or runs a binary
def test_train_binary_writes_run(trained):
  names = set(os.listdir(trained))
  assert {'config.json', 'checkpoints', 'snapshots', 'metrics.jsonl', 'eval.json',
          'tensorboard'} <= names
  with open(os.path.join(trained, 'config.json')) as f:
    config = json.load(f)
  assert config['learning_rate'] == 0.003 and config['seed'] == 3  # flag overrides applied
  records = _records(trained)
  train = [r for r in records if r['split'] == 'train']
  assert [r['step'] for r in train] == [8, 16, 24]
  assert [r['t_max'] for r in train] == [10, 10, 10]  # DeCu reaches the full task
  assert all(np.isfinite(r['loss']) and 0 <= r['null_accuracy'] <= 1 for r in train)
  assert workdir_lib.snapshot_steps(trained) == [0, 8, 16, 24]
  assert [r['split'] for r in records if r['split'] != 'train'] == ['eval_train', 'eval_test']
  with open(os.path.join(trained, 'eval.json')) as f:
    table = json.load(f)
  assert table['step'] == 24 and table['test']['trials'] == 64
  assert 0.0 <= table['test']['digit_accuracy'] <= 1.0


@pytest.mark.slow  # trains a network or runs a binary
def test_xla_with_chains_trains_like_the_graph(trained, tmp_path, data_dir):
  """XLA (the paper and cpu configs' default; smoke runs go without it), the batch split
  into two recurrences, one thread per op: the same run as the plain graph up to rounding."""
  workdir = str(tmp_path / 'chains')
  _train(workdir, data_dir, '--config.learning_rate=0.003', '--seed=3',
         '--config.perf.jit_compile=True', '--config.perf.num_chains=2',
         '--config.perf.intra_op_threads=1')
  ours = [r['loss'] for r in _records(workdir) if r['split'] == 'train']
  ref = [r['loss'] for r in _records(trained) if r['split'] == 'train']
  assert len(ours) == len(ref) == 3
  np.testing.assert_allclose(ours, ref, rtol=1e-3)


@pytest.mark.slow  # trains a network or runs a binary
def test_checkpoint_round_trip_and_mismatch(trained):
  model, path = experiment.load_trained_model(trained)
  assert path.endswith('ckpt-24')
  again, _ = experiment.load_trained_model(trained, checkpoint=24)
  x = tf.random.stateless_uniform([2, 10, 785], [0, 1])
  np.testing.assert_allclose(model(x), again(x), rtol=1e-6)
  early, _ = experiment.load_trained_model(trained, checkpoint=8)  # a snapshot
  assert not np.allclose(model.cell.kernel.numpy(), early.cell.kernel.numpy())
  config = workdir_lib.load_config(trained)
  config.model.cell = 'lstm'
  with pytest.raises(errors.CheckpointMismatchError, match='does not match'):
    workdir_lib.restore_model(experiment.model_from_config(config), path)
  with pytest.raises(FileNotFoundError, match='snapshot steps: \\[0, 8, 16, 24\\]'):
    workdir_lib.checkpoint_path(trained, 5)


@pytest.mark.slow  # trains a network or runs a binary
def test_resume_after_sigkill_matches_uninterrupted(tmp_path, data_dir, binary_main):
  """The killed run is a process; the reference run and the resume run in this one."""
  extra = ['--config.num_steps=240', '--config.checkpoint_every=40',
           '--config.log_every=40', '--config.snapshot_every=120',
           '--config.perf.steps_per_execution=20', '--config.eval_trials=32']
  ref = str(tmp_path / 'ref')
  code, _, err = binary_main('train.py', SMOKE, f'--workdir={ref}', *extra)
  assert code == 0, err[-2000:]
  killed = str(tmp_path / 'killed')
  cmd = [sys.executable, 'bin/train.py', SMOKE, f'--workdir={killed}', *extra]
  proc = subprocess.Popen(cmd, cwd=REPO, env=_env(data_dir), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  ckpt_dir = os.path.join(killed, 'checkpoints')
  deadline = time.time() + 240
  while time.time() < deadline and proc.poll() is None:
    if tf.train.latest_checkpoint(ckpt_dir):
      break
    time.sleep(0.005)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  interrupted_at = int(tf.train.latest_checkpoint(ckpt_dir).rsplit('-', 1)[1])
  assert 0 < interrupted_at < 240, 'the run was not interrupted mid-way'
  code, _, err = binary_main('train.py', SMOKE, f'--workdir={killed}', *extra)  # resumes
  assert code == 0, err[-2000:]
  with open(os.path.join(ref, 'eval.json')) as f:
    ref_eval = json.load(f)
  with open(os.path.join(killed, 'eval.json')) as f:
    resumed_eval = json.load(f)
  assert resumed_eval['step'] == ref_eval['step'] == 240
  for split in ('train', 'test'):
    assert resumed_eval[split] == ref_eval[split]
  ref_losses = [(r['step'], r['loss']) for r in _records(ref) if r['split'] == 'train']
  resumed = [(r['step'], r['loss']) for r in _records(killed) if r['split'] == 'train']
  assert resumed == ref_losses  # identical history, no duplicated steps
  a, _ = experiment.load_trained_model(ref)
  b, _ = experiment.load_trained_model(killed)
  for va, vb in zip(a.weights, b.weights):
    np.testing.assert_array_equal(va.numpy(), vb.numpy())


@pytest.mark.slow  # trains a network or runs a binary
def test_nan_loss_stops_and_keeps_last_checkpoint(trained, tmp_path, binary_main):
  workdir = str(tmp_path / 'nan')
  shutil.copytree(trained, workdir)  # a finished 24-step run, trained once per module
  before = experiment.load_trained_model(workdir)[0].cell.kernel.numpy()
  # A run whose inputs go bad after step 24: its stored config asks for 48 steps of NaN
  # noise (a resume with other settings than the stored ones would be refused).
  path = os.path.join(workdir, 'config.json')
  with open(path) as f:
    stored = json.load(f)
  stored['num_steps'], stored['task']['noise_scale'] = 48, float('nan')
  with open(path, 'w') as f:
    json.dump(stored, f)
  code, _, err = binary_main('train.py', SMOKE, f'--workdir={workdir}', '--config.num_steps=48',
                              '--config.task.noise_scale=nan', '--config.learning_rate=0.003',
                              '--seed=3')
  assert code != 0
  last = _last_line(err)
  assert last.startswith('error: loss became nan') and 'ckpt-24' in last
  model, path = experiment.load_trained_model(workdir)
  assert path.endswith('ckpt-24')
  np.testing.assert_array_equal(model.cell.kernel.numpy(), before)


@pytest.mark.parametrize('args,message', [
    (['--curriculum=nope'], 'unknown curriculum'),
    (['--cell=transformer'], 'unknown cell'),
    (['--config.task.min_delay=30'], 'min_delay=30 does not fit'),
    (['--data_dir=EMPTY'], 'mnist data not found'),
    (['--config.perf.num_chains=0'], 'num_chains must be >= 1'),
    (['--config.perf.intra_op_threads=-1'], 'intra_op_threads=-1 must be >= 0'),
])
def test_bad_input_one_line_error_and_nothing_written(args, message, tmp_path, forked_binary):
  empty = tmp_path / 'empty'
  empty.mkdir()
  args = [a.replace('EMPTY', str(empty)) for a in args]
  workdir = tmp_path / 'run'
  code, _, err = forked_binary('train.py', SMOKE, f'--workdir={workdir}', *args)
  assert code != 0
  assert _last_line(err).startswith('error: ') and message in _last_line(err), err[-2000:]
  assert 'Traceback' not in err
  assert not workdir.exists()


@pytest.mark.slow  # trains a network or runs a binary
def test_malformed_override_and_other_architecture(trained, tmp_path, forked_binary,
                                                   binary_main):
  code, _, err = forked_binary('train.py', SMOKE, f'--workdir={tmp_path / "x"}',
                               '--config.learning_rate=fast')
  assert code != 0 and 'learning_rate' in err
  assert not (tmp_path / 'x').exists()
  before = open(os.path.join(trained, 'config.json')).read()
  code, _, err = binary_main('train.py', SMOKE, f'--workdir={trained}', '--cell=lstm')
  assert code != 0
  assert _last_line(err).startswith('error: --workdir=')
  assert 'model.cell=gru' in err and 'model.cell=lstm' in err
  assert open(os.path.join(trained, 'config.json')).read() == before


@pytest.mark.slow  # trains a network or runs a binary
def test_resume_of_another_run_refused_in_one_line(trained, binary_main):
  before = {name: open(os.path.join(trained, name)).read()
            for name in ('config.json', 'metrics.jsonl', 'eval.json')}
  code, _, err = binary_main('train.py', SMOKE, f'--workdir={trained}', '--curriculum=vocu',
                             '--seed=5', '--config.num_steps=40')
  assert code == 1 and 'Traceback' not in err
  # The fixture was trained with --config.learning_rate=0.003 --seed=3, 24 steps of DeCu.
  assert _last_line(err) == (
      f'error: --workdir={trained} holds a run with curriculum=decu, learning_rate=0.003, '
      'num_steps=24, seed=3; this command asks for curriculum=vocu, learning_rate=0.001, '
      'num_steps=40, seed=5; use another --workdir')
  assert before == {name: open(os.path.join(trained, name)).read() for name in before}


@pytest.mark.slow  # trains a network or runs a binary
def test_resume_with_other_speed_and_logging_settings(trained, tmp_path, binary_main, caplog):
  workdir = str(tmp_path / 'copy')
  shutil.copytree(trained, workdir)
  caplog.set_level(logging.INFO, logger='absl')
  code, _, err = binary_main('train.py', SMOKE, f'--workdir={workdir}',
                             '--config.learning_rate=0.003', '--seed=3',
                             '--config.perf.jit_compile=False',
                             '--config.perf.steps_per_execution=2', '--config.eval_trials=32',
                             '--config.log_every=4')
  assert code == 0, err[-2000:]
  resumed = [m for m in caplog.messages if m.startswith('Resumed from')]
  assert len(resumed) == 1 and 'ckpt-24' in resumed[0]
  with open(os.path.join(workdir, 'eval.json')) as f:
    assert json.load(f)['test']['trials'] == 32  # evaluated again with the new setting
  config = workdir_lib.load_config(workdir)
  assert config.perf.jit_compile is False and config.eval_trials == 32
  assert config.seed == 3 and config.num_steps == 24


@pytest.mark.slow  # trains a network or runs a binary
def test_evaluate_binary(trained, data_dir):
  proc = _run(['bin/evaluate.py', f'--workdir={trained}', '--num_trials=64'], data_dir)
  table = json.loads(proc.stdout)
  with open(os.path.join(trained, 'eval.json')) as f:
    saved = json.load(f)
  assert table['test']['digit_accuracy'] == saved['test']['digit_accuracy']
  assert table['checkpoint'].endswith('ckpt-24')


# Reloads the export and runs it on each of the inputs x<i>.npy, saving p<i>.npy.
_RELOAD = r'''
import sys, numpy as np, tensorflow as tf
assert 'memrnn_tf' not in sys.modules
m = tf.saved_model.load(sys.argv[1])
for name in sys.argv[2:]:
  x = np.load(f'x{name}.npy')
  out = m.signatures['serving_default'](inputs=tf.constant(x))
  np.save(f'p{name}.npy', out['probabilities'].numpy())
print('memrnn_tf' in sys.modules)
'''


@pytest.mark.slow  # trains a network or runs a binary
def test_export_reloads_without_package(trained, tmp_path, data_dir):
  out = str(tmp_path / 'saved')
  _run(['bin/export.py', f'--workdir={trained}', f'--output={out}'], data_dir)
  model, _ = experiment.load_trained_model(trained)
  lengths = (10, 37)  # any sequence length, not only the trained one
  for steps in lengths:
    x = np.random.default_rng(steps).uniform(size=(3, steps, 785)).astype(np.float32)
    np.save(tmp_path / f'x{steps}.npy', x)
  script = tmp_path / 'reload.py'
  script.write_text(_RELOAD)
  env = {k: v for k, v in _env(data_dir).items() if k != 'PYTHONPATH'}
  proc = subprocess.run([sys.executable, str(script), out, *map(str, lengths)],
                        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.strip().splitlines()[-1] == 'False'
  for steps in lengths:
    expected = tf.nn.softmax(model(np.load(tmp_path / f'x{steps}.npy'))).numpy()
    np.testing.assert_allclose(np.load(tmp_path / f'p{steps}.npy'), expected, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.slow  # trains a network or runs a binary
def test_cifar_smoke_trains_with_conv_frontend(tmp_path, binary_main):
  workdir = str(tmp_path / 'cifar')
  cfg = f'--config={os.path.join(REPO, "configs", "cifar10.py")}:smoke'
  code, _, err = binary_main('train.py', cfg, f'--workdir={workdir}', '--curriculum=vocu')
  assert code == 0, err[-2000:]
  with open(os.path.join(workdir, 'eval.json')) as f:
    table = json.load(f)
  assert table['step'] == 8 and table['test']['trials'] == 16
  with open(os.path.join(workdir, 'config.json')) as f:
    config = json.load(f)
  assert config['dataset'] == 'cifar10' and config['model']['frontend'] == 'conv'


@pytest.mark.slow  # trains a network or runs a binary
def test_extrapolate_binary(trained, binary_main, forked_binary):
  code, out, err = binary_main('extrapolate.py', f'--workdir={trained}', '--delays=4,30',
                               '--num_trials=40')
  assert code == 0, err[-2000:]
  assert 'delay' in out and 'accuracy' in out
  with open(os.path.join(trained, 'analysis', 'extrapolation.json')) as f:
    out = json.load(f)
  assert out['delays'] == [4, 30] and out['trials'] == 40
  assert all(0 <= a <= 1 for a in out['accuracy'])
  code, _, err = forked_binary('extrapolate.py', f'--workdir={trained}', '--delays=0')
  assert code == 2 and _last_line(err) == 'error: flag --delays=0: 0 is not >= 1'
