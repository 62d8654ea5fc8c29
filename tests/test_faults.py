"""Fault injection: damaged runs, bad flags, non-finite numbers and interrupted training.

One smoke run is trained once per module (in-process); each case damages a copy of it and
asserts the outcome: either one ``error: ...`` line (or one-line exception) with nothing of
the run changed (checksums of every file before and after), or a recovery that ends where
an undamaged run ends. Library calls run in-process; binaries run in a forked child of
this process (TensorFlow already imported: conftest.forked_binary), where their exit code and
stderr are tested.
"""

import hashlib
import io
import json
import logging as py_logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

from absl import logging as absl_logging
import numpy as np
import pytest
import tensorflow as tf

from memrnn_tf import cli
from memrnn_tf import errors
from memrnn_tf import files
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import slowpoints
from memrnn_tf.data import sources
from memrnn_tf.models import cells
from memrnn_tf.sweep import driver
from memrnn_tf.sweep import grid
from memrnn_tf.sweep import local
from memrnn_tf.sweep import runs
from memrnn_tf.training import experiment as experiment_lib
from memrnn_tf.training import loop
from memrnn_tf.training import trainer
# What the tested binaries import, loaded here so that their forked children load nothing.
from memrnn_tf import export as _export  # pylint: disable=unused-import
from memrnn_tf.analysis import procedures as _procedures  # pylint: disable=unused-import
from memrnn_tf.analysis import extrapolation as _extrapolation  # pylint: disable=unused-import
from memrnn_tf.plots import extrapolation as _plots  # pylint: disable=unused-import
from memrnn_tf.training import evaluation as _evaluation  # pylint: disable=unused-import

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = 'data-00000-of-00001'


def _smoke_config(data_dir):
  config = cli.load_config('mnist', 'smoke')
  config.data_dir = data_dir
  config.perf.jit_compile = False  # traces faster; the same steps
  return config


@pytest.fixture(scope='module')
def smoke(tmp_path_factory, data_dir):
  """A finished 24-step smoke run (checkpoints 8, 16, 24; snapshots 0, 8, 16, 24)."""
  workdir = str(tmp_path_factory.mktemp('faults') / 'smoke')
  trainer.train_and_evaluate(_smoke_config(data_dir), workdir, evaluate=False)
  return workdir


@pytest.fixture(scope='module')
def experiment(data_dir):
  """One built model, restored again by each case that only opens a run."""
  return experiment_lib.build_experiment(_smoke_config(data_dir))


@pytest.fixture
def run(smoke, tmp_path):
  """A copy of the smoke run, free to damage."""
  workdir = str(tmp_path / 'run')
  shutil.copytree(smoke, workdir)
  return workdir


def _records(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(l) for l in f]


def _digests(workdir):
  """``{relative path: sha256}`` of every file of a run."""
  out = {}
  for parent, _, names in os.walk(workdir):
    for name in names:
      path = os.path.join(parent, name)
      with open(path, 'rb') as f:
        out[os.path.relpath(path, workdir)] = hashlib.sha256(f.read()).hexdigest()
  return out


def _truncate(path, size=100):
  with open(path, 'rb') as f:
    head = f.read(size)
  with open(path, 'wb') as f:
    f.write(head)


def _scribble(path):
  """Changes bytes in the middle of a file (same size)."""
  with open(path, 'r+b') as f:
    f.seek(os.path.getsize(path) // 2)
    f.write(b'garbage!' * 4)


def _prefix(workdir, step):
  return os.path.join(workdir, 'checkpoints', f'ckpt-{step}')


def _ckpt(workdir, step, suffix='index'):
  return f'{_prefix(workdir, step)}.{suffix}'


def _tensors(path):
  reader = tf.train.load_checkpoint(path)
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_dtype_map()
          if k.startswith(('model/', 'optimizer/'))}


def _assert_same_tensors(path, reference):
  ours, ref = _tensors(path), _tensors(reference)
  assert sorted(ours) == sorted(ref) and len(ours) > 5
  for key in ref:
    np.testing.assert_array_equal(ours[key], ref[key], err_msg=key)


def _assert_kept(before, workdir, *changed):
  """Every file of ``before`` is still there with the same bytes, except ``changed``
  (which must differ); new files may be there only under tensorboard/."""
  after = _digests(workdir)
  for name in changed:
    assert after.pop(name) != before.pop(name), name
  assert {k: v for k, v in after.items() if k in before} == before
  assert all(k.startswith('tensorboard/') for k in set(after) - set(before))


def _one_line(error):
  text = str(error)
  assert '\n' not in text.strip(), text
  return text


def _open(experiment, workdir):
  """``loop.open_workdir`` on the shared model; returns the step it resumed at."""
  config = _smoke_config(experiment.config.data_dir)
  model = experiment.model
  model.optimizer.iterations.assign(0)
  loop.open_workdir(config, workdir, model)
  return int(model.optimizer.iterations.numpy())


class _Warnings(py_logging.Handler):
  """absl warnings (and worse) logged while it is attached."""

  def __init__(self):
    super().__init__(py_logging.WARNING)
    self.lines = []

  def emit(self, record):
    self.lines.append(record.getMessage())


@pytest.fixture
def warnings():
  handler = _Warnings()
  logger = py_logging.getLogger('absl')
  logger.addHandler(handler)
  yield handler.lines
  logger.removeHandler(handler)


# --- damaged checkpoints --------------------------------------------------------------------
@pytest.mark.parametrize('damage,problem', [
    (lambda w: _truncate(_ckpt(w, 24)), 'not an sstable'),
    (lambda w: os.remove(_ckpt(w, 24, DATA)), 'No such file'),
    (lambda w: _truncate(_ckpt(w, 24, DATA), 4000), 'Read less bytes'),
    (lambda w: _scribble(_ckpt(w, 24, DATA)), 'Checksum does not match'),
])
def test_damaged_newest_checkpoint_falls_back_to_the_previous(run, experiment, warnings,
                                                              damage, problem):
  damage(run)
  before = _digests(run)
  assert _open(experiment, run) == 16
  assert len(warnings) == 1 and 'ckpt-24' in warnings[0] and problem in warnings[0]
  assert warnings[0].endswith('ckpt-16, the newest intact checkpoint'), warnings[0]
  # Nothing of the run was written over but the state file, which now lists the intact
  # checkpoints, and the metrics, which drop the records after step 16 (trained again).
  _assert_kept(before, run, 'checkpoints/checkpoint', 'metrics.jsonl')
  state = tf.train.get_checkpoint_state(os.path.join(run, 'checkpoints'))
  assert list(state.all_model_checkpoint_paths) == [
      os.path.join(run, 'checkpoints', f'ckpt-{s}') for s in (8, 16)]
  assert [r['step'] for r in _records(run)] == [8, 16]
  # Analysis falls back the same way; step 24 asked for by number is read from its
  # snapshot (a damaged snapshot is one line: test_damaged_snapshot_is_one_line).
  assert workdir_lib.checkpoint_path(run).endswith('ckpt-16')
  assert workdir_lib.checkpoint_path(run, 24) == os.path.join(run, 'snapshots', 'snapshot-24')


def test_damaged_newest_checkpoint_resumes_to_the_same_weights(run, smoke, data_dir):
  _truncate(_ckpt(run, 24, DATA), 4000)
  kept = {k: v for k, v in _digests(run).items() if 'ckpt-24' not in k and
          not k.startswith(('checkpoints/checkpoint', 'snapshots/snapshot-24', 'metrics',
                            'snapshots/checkpoint', 'tensorboard'))}
  result = trainer.train_and_evaluate(_smoke_config(data_dir), run, evaluate=False)
  assert result['step'] == 24
  _assert_same_tensors(_prefix(run, 24), _prefix(smoke, 24))
  after = _digests(run)
  assert {k: after[k] for k in kept} == kept  # every other file as it was


def test_garbage_state_file_resumes_from_the_newest_checkpoint(run, experiment, warnings):
  for directory in ('checkpoints', 'snapshots'):
    with open(os.path.join(run, directory, 'checkpoint'), 'w') as f:
      f.write('\x00garbage{{{\n')
  before = _digests(run)
  assert _open(experiment, run) == 24  # not step 0
  assert len(warnings) == 2 and all('not a checkpoint state file' in w for w in warnings)
  _assert_kept(before, run, 'checkpoints/checkpoint', 'snapshots/checkpoint')
  assert workdir_lib.snapshot_steps(run) == [0, 8, 16, 24]
  assert tf.train.latest_checkpoint(os.path.join(run, 'checkpoints')).endswith('ckpt-24')


@pytest.mark.parametrize('damage', ['data', 'state_and_data'])
def test_no_intact_checkpoint_is_one_line_and_nothing_written(run, experiment, damage):
  for step in (8, 16, 24):
    os.remove(_ckpt(run, step, DATA))
  if damage == 'state_and_data':
    with open(os.path.join(run, 'checkpoints', 'checkpoint'), 'w') as f:
      f.write('garbage')
  before = _digests(run)
  with pytest.raises(errors.CheckpointDamagedError) as e:
    _open(experiment, run)
  line = _one_line(e.value)
  assert line.startswith(f'no intact checkpoint in {run}/checkpoints (')
  for s in (24, 16, 8):
    assert f'ckpt-{s}: ckpt-{s}.{DATA}; No such file or directory' in line, line
  assert (damage == 'state_and_data') == (
      'checkpoint (the list of checkpoints): not a checkpoint state file' in line)
  assert line.endswith(f'move {run}/checkpoints away to start --workdir={run} again from '
                       'step 0')
  with pytest.raises(errors.CheckpointDamagedError):
    experiment_lib.load_trained_model(run)
  assert _digests(run) == before


def test_damaged_snapshot_is_one_line(run):
  _truncate(os.path.join(run, 'snapshots', f'snapshot-0.{DATA}'), 4000)
  with pytest.raises(errors.CheckpointDamagedError) as e:
    experiment_lib.load_trained_model(run, checkpoint=0)
  assert 'snapshot-0 is damaged (Read less bytes' in _one_line(e.value)
  assert 'delete' in str(e.value)


# --- damaged config.json --------------------------------------------------------------------
@pytest.mark.parametrize('text,problem', [
    ('', 'is empty'),
    ('{"seed": 0, "model": ', 'is not valid JSON (Expecting value: line 1 column 22'),
    ('[1, 2]', 'holds an array, not a JSON object'),
])
def test_damaged_config_json_is_one_line(run, experiment, text, problem):
  path = os.path.join(run, 'config.json')
  with open(path, 'w') as f:
    f.write(text)
  before = _digests(run)
  for call in (lambda: workdir_lib.load_config(run), lambda: _open(experiment, run)):
    with pytest.raises(errors.RunDamagedError) as e:
      call()
    assert _one_line(e.value).startswith(f'{path} {problem}')
  assert _digests(run) == before


# --- the cases that already passed ----------------------------------------------------------
def test_mismatched_resume_is_one_line_and_nothing_written(run, experiment):
  before = _digests(run)
  config = _smoke_config(None)
  config.seed = 5
  with pytest.raises(errors.CheckpointMismatchError) as e:
    loop.open_workdir(config, run, experiment.model)
  assert _one_line(e.value) == (f'--workdir={run} holds a run with seed=0; this command asks '
                                'for seed=5; use another --workdir')
  assert _digests(run) == before


def test_corrupt_data_file_is_one_line(tmp_path):
  (tmp_path / 'mnist.npz').write_bytes(b'not a zip file')
  with pytest.raises(errors.DataFormatError) as e:
    sources.load_dataset('mnist', 'train', str(tmp_path))
  assert str(tmp_path / 'mnist.npz') in _one_line(e.value)


# --- interrupted training -------------------------------------------------------------------
@pytest.mark.parametrize('signum', [signal.SIGINT,
                                    pytest.param(signal.SIGTERM, marks=pytest.mark.slow)])
def test_signal_saves_the_step_and_the_run_resumes_exactly(signum, smoke, tmp_path,
                                                           monkeypatch, data_dir):
  workdir = str(tmp_path / 'run')
  make_chunk = loop.make_train_chunk

  def interrupted_chunk(exp):
    chunk = make_chunk(exp)

    def call(n):
      os.kill(os.getpid(), signum)  # as the first chunk (steps 0-4) starts: it is finished
      return chunk(n)

    call.get_concrete_function = chunk.get_concrete_function
    return call

  monkeypatch.setattr(loop, 'make_train_chunk', interrupted_chunk)
  handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
  with pytest.raises(errors.TrainingInterruptedError) as e:
    trainer.train_and_evaluate(_smoke_config(data_dir), workdir, evaluate=False)
  assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
  name = signal.Signals(signum).name
  assert _one_line(e.value) == (f'{name} at step 4: saved {workdir}/checkpoints/ckpt-4; run '
                                'the same command again to resume from it')
  assert e.value.exit_code == 128 + signum
  monkeypatch.setattr(loop, 'make_train_chunk', make_chunk)
  assert trainer.train_and_evaluate(_smoke_config(data_dir), workdir,
                                    evaluate=False)['step'] == 24
  _assert_same_tensors(_prefix(workdir, 24), _prefix(smoke, 24))


# --- non-finite numbers ---------------------------------------------------------------------
def test_non_finite_numbers_are_refused_where_they_enter():
  cell = cells.SimpleRNNCell(3)
  cell.build((None, 1))
  step_fn = slowpoints.step_fn_for_cell(cell)
  x0, inputs = np.full((2, 3), 0.1, np.float32), np.zeros(1, np.float32)
  x0_inf = x0.copy()
  x0_inf[1, 2] = np.inf
  for kwargs, message in (
      (dict(initial_states=x0_inf, inputs=inputs), 'initial_states hold 1 non-finite values'),
      (dict(initial_states=x0, inputs=[np.nan]), 'inputs hold 1 non-finite values'),
      (dict(initial_states=x0, inputs=inputs, tol=np.inf), 'tol must be >= 0 and finite'),
      (dict(initial_states=x0, inputs=inputs, tol=np.nan), 'tol must be >= 0 and finite')):
    with pytest.raises(ValueError, match=message) as e:  # bad options: when made
      slowpoints.find_slow_points(step_fn, kwargs.pop('initial_states'), kwargs.pop('inputs'),
                                  slowpoints.SearchOptions(**kwargs))
    _one_line(e.value)
  xi = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 5e-4]])
  points = slowpoints.SlowPoints(
      points=xi, xi=xi, speeds=np.array([1e-9, 1e-8]), initial_states=xi,
      inputs=np.zeros((2, 1)), iterations=np.zeros(2, int), converged=np.ones(2, bool))
  assert len(points.unique(1e-3)) == 1 and len(points.unique(1e-4)) == 2
  for tol in (-1, np.nan, np.inf):
    with pytest.raises(ValueError, match='unique.tol. needs a finite tol >= 0'):
      points.unique(tol)


# --- sweeps ---------------------------------------------------------------------------------
def _sweep_config(**axes):
  config = cli.load_config('sweep', 'smoke')
  config.base = os.path.join(REPO, 'configs', 'mnist.py') + ':smoke'
  for key, value in axes.items():
    config.axes[key] = value
  return config


def test_sweep_dry_run_writes_nothing(tmp_path):
  root = tmp_path / 'sweep'
  records = driver.run_sweep(_sweep_config(), str(root), local.LocalBackend(1), dry_run=True)
  assert len(records) == 4 and {r['status'] for r in records} == {'pending'}
  assert not root.exists()


def test_refused_sweep_leaves_nothing_behind(tmp_path):
  root = tmp_path / 'sweep'
  with pytest.raises(grid.SweepError):
    driver.run_sweep(_sweep_config(seed=('abc',)), str(root), local.LocalBackend(1))
  assert not root.exists()


def test_lock_of_an_interrupted_sweep_does_not_block(tmp_path):
  root = tmp_path / 'sweep'
  root.mkdir()
  (root / '.sweep.lock').write_text('')  # left by a killed sweep: no process holds it
  with driver._exclusive(str(root)):  # pylint: disable=protected-access
    pass


# --- binaries -------------------------------------------------------------------------------
def _error_lines(stderr):
  return [l for l in stderr.splitlines() if l.startswith('error:') or 'Traceback' in l]


@pytest.mark.parametrize('binary,args,line', [
    ('train.py', ['--config=configs/nonexistent.py'],
     "error: flag --config: [Errno 2] No such file or directory: 'configs/nonexistent.py'"),
    ('train.py', ['--workdir=FILE'],
     'error: flag --workdir=FILE: FILE is an existing file, not a directory'),
    ('export.py', ['--workdir=RUN', '--output=FILE'],
     'error: flag --output=FILE: FILE is an existing file, not a directory'),
    ('extrapolate.py', ['--workdir=RUN', '--delays=4,abc'],
     "error: flag --delays=4,abc: 'abc' is not an integer"),
    ('extrapolate.py', ['--workdir=RUN', '--delays=0'], 'error: flag --delays=0: 0 is not >= 1'),
    ('extrapolate.py', ['--workdir=RUN', '--num_trials=0'],
     'error: flag --num_trials=0: 0 is not a positive integer'),
    ('extrapolate.py', ['--workdir=RUN', '--noise_scales=1,inf'],
     'error: flag --noise_scales=1,inf: inf is not a finite number'),
    ('evaluate.py', ['--workdir=RUN', '--num_trials=0'],
     'error: flag --num_trials=0: 0 is not a positive integer'),
    ('evaluate.py', ['--workdir=RUN', '--num_trials=-5'],
     'error: flag --num_trials=-5: -5 is not a positive integer'),
    ('find_slowpoints.py', ['--workdir=RUN', '--delay=-1'],
     'error: flag --delay=-1: -1 is not a positive integer'),
    ('find_slowpoints.py', ['--workdir=RUN', '--trials_per_class=-3'],
     'error: flag --trials_per_class=-3: -3 is not a positive integer'),
    ('find_slowpoints.py', ['--workdir=RUN', '--tol=nan'],
     'error: flag --tol=nan: not a finite number'),
])
def test_bad_flags_are_one_line_with_exit_code_2(binary, args, line, run, tmp_path,
                                                  forked_binary):
  file = str(tmp_path / 'a_file')
  with open(file, 'w') as f:
    f.write('x')
  args = [a.replace('FILE', file).replace('RUN', run) for a in args]
  line = line.replace('FILE', file).replace('RUN', run)
  before = _digests(run)
  code, out, err = forked_binary(binary, *args)
  assert (code, _error_lines(err)) == (2, [line]), err[-3000:]
  assert out == '' and _digests(run) == before


def test_data_dir_flag_wins_over_the_runs_recorded_directory(run, tmp_path, data_dir,
                                                             forked_binary):
  """The run's config.json names the real data directory; --data_dir (applied once while
  the flags are parsed) wins over it: an empty directory is one error line, exit code 1."""
  assert json.load(open(os.path.join(run, 'config.json')))['data_dir'] == data_dir
  empty = str(tmp_path / 'empty')
  os.mkdir(empty)
  code, out, err = forked_binary('evaluate.py', f'--workdir={run}', f'--data_dir={empty}')
  assert code == 1 and out == '', err[-3000:]
  line, = _error_lines(err)
  assert line.startswith(f'error: mnist data not found: looked for mnist.npz in {empty} '
                         '(from --data_dir). Provide a directory with mnist.npz through '
                         '--data_dir or $MEMRNN_DATA_DIR'), line


def test_help_exits_0_and_lists_the_flags_defined_through_the_package(forked_binary):
  code, out, _ = forked_binary('train.py', '--help')
  assert code == 0
  assert '  --config: Experiment config (file.py:variant).' in out.splitlines()
  assert '  --workdir: Run directory (default runs/<name>).' in out.splitlines()
  code, out, _ = forked_binary('extrapolate.py', '--help')
  assert code == 0
  assert {'--workdir', '--workdirs', '--delays', '--noise_scales', '--num_trials'} <= {
      l.split(':')[0].strip() for l in out.splitlines()}


def test_interruptions_exit_with_the_signal_code_in_one_line(capsys):
  def interrupted(error):
    raise error

  for error, code, line in (
      (errors.TrainingInterruptedError('SIGTERM at step 4: saved x', signal.SIGTERM), 143,
       'error: SIGTERM at step 4: saved x\n'),
      (KeyboardInterrupt(), 130, 'error: interrupted (Ctrl-C)\n')):
    with pytest.raises(SystemExit) as e:
      cli.run_or_exit(interrupted, error)
    assert e.value.code == code and capsys.readouterr().err == line


# --- the progress bar -----------------------------------------------------------------------
def test_log_lines_never_land_in_the_progress_bar_line(monkeypatch):
  out = io.StringIO()
  monkeypatch.setattr(sys, 'stdout', out)
  monkeypatch.setattr(sys, 'stderr', out)  # where absl logs before flags are parsed
  monkeypatch.setattr(absl_logging, '_warn_preinit_stderr', False)
  handler = absl_logging.get_absl_handler()
  monkeypatch.setattr(handler.python_handler, 'stream', out)
  record = py_logging.makeLogRecord(dict(msg='Step 3: curriculum stage 2', levelno=20,
                                         levelname='INFO', name='absl'))
  with loop._ProgressBar(10) as bar:  # pylint: disable=protected-access
    bar.update(3, [('loss', 1.0)])
    handler.handle(record)
    handler.handle(record)  # the line is ended once
    bar.update(10, [('loss', 1.0)])
  handler.handle(record)  # after the bar: no blank line
  lines = out.getvalue().split('\n')
  logged = [l for l in lines if 'curriculum stage 2' in l]
  assert len(logged) == 3 and all(l.startswith('I') for l in logged), lines
  assert '' not in lines[:-1], lines


def test_damaged_config_json_in_an_analysis_of_several_runs_is_one_line(run):
  with open(os.path.join(run, 'config.json'), 'w') as f:
    f.write('null')
  with pytest.raises(errors.RunDamagedError) as e:
    multirun.condition(run)
  assert _one_line(e.value) == (f'{run}/config.json holds null, not a JSON object: restore '
                                'it from a copy, or leave this run out')


def _start_training(args, checkpoint_index, data_dir, stdout=subprocess.PIPE):
  """Starts ``python <args>`` in the repository; returns it once ``checkpoint_index``
  exists (training has started and saved)."""
  env = dict(os.environ, MEMRNN_DATA_DIR=data_dir, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='3')
  proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=stdout,
                          stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 600
  while not checkpoint_index.exists():
    assert proc.poll() is None and time.time() < deadline, proc.communicate()[1][-3000:]
    time.sleep(0.1)
  return proc


@pytest.mark.slow
def test_ctrl_c_of_the_train_binary_saves_and_says_how_to_resume(tmp_path, data_dir):
  workdir = tmp_path / 'run'
  proc = _start_training(
      ['bin/train.py', f'--config={REPO}/configs/mnist.py:smoke', f'--workdir={workdir}',
       '--config.num_steps=100000', '--config.perf.jit_compile=False'],
      workdir / 'checkpoints' / 'checkpoint', data_dir, stdout=None)
  proc.send_signal(signal.SIGINT)
  _, err = proc.communicate(timeout=300)
  assert proc.returncode == 130, err[-3000:]
  [line] = _error_lines(err)
  match = re.fullmatch(rf'error: SIGINT at step (\d+): saved {workdir}/checkpoints/ckpt-(\d+); '
                       'run the same command again to resume from it', line)
  assert match and match.group(1) == match.group(2), line
  assert os.path.exists(f'{workdir}/checkpoints/ckpt-{match.group(1)}.index')


def test_sweep_binary_dry_run_and_refused_grid_leave_nothing(tmp_path, forked_binary):
  root = tmp_path / 'sweep'
  config = f'--config={REPO}/configs/sweep.py:smoke'
  code, out, err = forked_binary('sweep.py', config, f'--root={root}', '--dry_run')
  assert code == 0 and out.count('pending') >= 4, err[-3000:]
  code, _, err = forked_binary('sweep.py', config, f'--root={root}', '--config.axes.seed=abc')
  [line] = _error_lines(err)
  assert code == 1 and line.startswith(
      "error: seed='abc': Could not override field 'seed'"), err[-3000:]
  assert not root.exists()


def test_half_written_metrics_line_is_dropped_on_resume(run, experiment, warnings):
  path = os.path.join(run, 'metrics.jsonl')
  with open(path, 'a') as f:
    f.write('{"step": 32, "split": "tr')  # the process was killed while writing
  assert [r['step'] for r in workdir_lib.read_metrics(run)] == [8, 16, 24]
  assert _open(experiment, run) == 24
  assert [r['step'] for r in _records(run)] == [8, 16, 24]
  assert len(warnings) == 1 and '1 damaged lines left out' in warnings[0]


def test_a_stop_signal_reaches_the_running_command_and_no_new_one_starts(tmp_path):
  # The child saves on SIGTERM as bin/train.py does: writes a file, exits 143.
  saved = tmp_path / 'saved'
  child = ('import signal, sys, time\n'
           'def stop(*_):\n'
           f'  open({str(saved)!r}, "w").write("saved"); sys.exit(143)\n'
           'signal.signal(signal.SIGTERM, stop)\n'
           f'open({str(tmp_path / "started")!r}, "w").close()\n'
           'time.sleep(60)\n')
  errors_seen = []

  def worker():
    with open(tmp_path / 'log', 'a') as log:
      for _ in range(2):
        try:
          runs.call([sys.executable, '-c', child], log, {})
        except runs.RunFailed as e:
          errors_seen.append(e)

  assert runs.stop_signal() is None
  try:
    with runs.forward_stop_signals():
      thread = threading.Thread(target=worker)
      thread.start()
      deadline = time.time() + 60
      while not (tmp_path / 'started').exists():
        assert time.time() < deadline
        time.sleep(0.01)
      os.kill(os.getpid(), signal.SIGTERM)
      thread.join(60)
    assert runs.stop_signal() == signal.SIGTERM
  finally:
    runs._CHILDREN.signum = None  # pylint: disable=protected-access
  assert saved.read_text() == 'saved'
  assert [type(e) for e in errors_seen] == [runs.Stopped, runs.Stopped]
  assert str(errors_seen[0]).startswith('-c stopped by SIGTERM (exit code 143)')
  assert str(errors_seen[1]) == '-c not started: SIGTERM received'


@pytest.mark.slow
def test_sigterm_to_a_sweep_lets_its_run_save_then_the_rerun_resumes(tmp_path, data_dir):
  root = tmp_path / 'sweep'
  proc = _start_training(
      ['bin/sweep.py', f'--config={REPO}/configs/sweep.py:smoke', f'--root={root}',
       "--config.axes.curriculum=('decu',)", '--config.axes.seed=(0,)',
       '--config.run.num_steps=100000', '--concurrency=1'],
      root / 'gru_decu_logits_s0' / 'checkpoints' / 'checkpoint', data_dir)
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=300)
  assert proc.returncode == 143, err[-3000:]
  [run] = files.read_json(root / 'sweep.json')['runs']
  assert run['status'] == 'stopped', run
  step = int(re.search(r'SIGTERM at step (\d+): saved', open(run['log']).read()).group(1))
  assert step > 0 and os.path.exists(root / 'gru_decu_logits_s0' / 'checkpoints' / f'ckpt-{step}.index')
