"""Shared test set-up: no network, temporary Keras/matplotlib homes, the data directory, and
two ways to run a binary of ``bin/`` without starting a Python process.

The tests read MNIST and the CIFAR-10 files from ``MEMRNN_DATA_DIR``, the variable README names
for the package itself (read once here, before any test can change the environment).

A new process costs seconds of CPU (it imports TensorFlow), so each binary is started as a
process by one end-to-end test; its other cases run it here: ``forked_binary`` for what ends
before any TensorFlow op (flag and input errors), ``binary_main`` for the rest.
"""

import io
import os
import runpy
import signal
import sys
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Before TensorFlow/Keras are imported by any test module.
_HOME = tempfile.mkdtemp(prefix='memrnn_test_home_')
os.environ.setdefault('KERAS_HOME', os.path.join(_HOME, 'keras'))
os.environ.setdefault('MPLCONFIGDIR', os.path.join(_HOME, 'mpl'))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ['MEMRNN_NO_DOWNLOAD'] = '1'
sys.path.insert(0, REPO)


# Made absolute now: tests run binaries with other working directories.
DATA_DIR = (os.path.abspath(os.environ['MEMRNN_DATA_DIR']) if os.environ.get('MEMRNN_DATA_DIR')
            else None)


@pytest.fixture(scope='session')
def data_dir():
  if DATA_DIR is None or not os.path.exists(os.path.join(DATA_DIR, 'mnist.npz')):
    pytest.fail(f'mnist.npz not found in {DATA_DIR}: set MEMRNN_DATA_DIR to the data directory')
  return DATA_DIR


@pytest.fixture(scope='session')
def mnist_arrays(data_dir):
  import numpy as np
  with np.load(os.path.join(data_dir, 'mnist.npz')) as d:
    return {k: d[k] for k in ('x_train', 'y_train', 'x_test', 'y_test')}


def _exit_code(error):
  """The exit code of a ``SystemExit`` as the process would report it."""
  return error.code if isinstance(error.code, int) else (0 if error.code is None else 1)


def _script(name):
  """A script of ``bin/`` (``train.py``) or a path from the repository root."""
  return os.path.join(REPO, name if '/' in name else os.path.join('bin', name))


def _run_forked(name, *args):
  """Runs ``bin/<name> <args>`` (or ``<name>``, a path with a ``/`` such as
  ``benchmarks/slowpoints.py``) in a forked child, from the repository root.

  The child imports only what this process has not (TensorFlow, if loaded here, is not loaded
  again), so a call costs milliseconds to a second. Only what ends before the binary runs a
  TensorFlow op may run there: the thread pools of this process do not exist in the child,
  and an op would wait for them forever (the call fails after 120 s instead).

  Returns:
    ``(exit code, stdout, stderr)``.
  """
  path = _script(name)
  with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    pid = os.fork()
    if pid == 0:  # the child: never returns
      code = 70
      try:
        os.chdir(REPO)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, 'w', closefd=False), write_through=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, 'w', closefd=False), write_through=True)
        sys.argv = [path, *args]
        try:
          runpy.run_path(path, run_name='__main__')
          code = 0
        except SystemExit as e:
          code = _exit_code(e)
      except BaseException:  # pylint: disable=broad-except
        import traceback  # pylint: disable=g-import-not-at-top
        traceback.print_exc()
      finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # pylint: disable=protected-access
    deadline = time.time() + 120
    while True:
      done, status = os.waitpid(pid, os.WNOHANG)
      if done:
        break
      if time.time() > deadline:  # a child stuck on a lock held at fork: fail, not hang
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f'{path} {" ".join(args)} did not finish in 120 s')
      time.sleep(0.01)
    out.seek(0)
    err.seek(0)
    return (os.waitstatus_to_exitcode(status), out.read().decode(), err.read().decode())


@pytest.fixture(scope='session')
def forked_binary():
  """``forked_binary(name, *args) -> (exit code, stdout, stderr)``: see ``_run_forked``."""
  return _run_forked


@pytest.fixture
def binary_main(capsys, monkeypatch):
  """``binary_main(name, *args) -> (exit code, stdout, stderr)``: ``bin/<name>`` in this process.

  Defines the binary's flags, parses ``args`` with ``cli.parse_flags`` (as ``app.run`` does),
  calls its ``main``, then removes the flags again. What a flag sets for the whole process
  (``--data_dir``) is undone after the test. Log lines are not in the returned stderr (read
  them with ``caplog``).
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  from memrnn_tf import cli  # pylint: disable=g-import-not-at-top
  from memrnn_tf.data import sources  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(sources, '_flag_data_dir', sources._flag_data_dir)  # pylint: disable=protected-access
  value = os.environ.get(sources.DATA_DIR_ENV)
  monkeypatch.setenv(sources.DATA_DIR_ENV, value or '')  # restored (or unset) after the test
  if value is None:
    del os.environ[sources.DATA_DIR_ENV]
  monkeypatch.chdir(REPO)

  def run(name, *args):
    path = _script(name)
    defined = set(flags.FLAGS)
    capsys.readouterr()
    monkeypatch.setattr(sys, 'argv', [path, *args])  # config overrides are read at definition
    try:
      module = runpy.run_path(path, run_name='memrnn_tested_binary')
      code = module['main'](cli.parse_flags(sys.argv)) or 0
    except SystemExit as e:
      code = _exit_code(e)
    finally:
      flags.FLAGS.unparse_flags()
      for flag in set(flags.FLAGS) - defined:
        delattr(flags.FLAGS, flag)
    out, err = capsys.readouterr()
    return code, out, err

  return run
