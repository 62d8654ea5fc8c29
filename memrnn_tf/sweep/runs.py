"""One run of a sweep: train with ``bin/train.py``, then the post-steps, as subprocesses.

Every backend calls ``execute(spec)`` for each run (in a thread of the local backend, in a
Ray task). Each command is a fresh process: TensorFlow starts with the run's own thread
budget, and a crash or a kill of one run leaves the others alone. Output goes to
``<root>/<name>.log``. A run is finished when ``eval.json`` exists and every post-step's
output does; otherwise ``execute`` (re)starts what is missing, and ``bin/train.py``
resumes from the run's last checkpoint.
"""

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time

from memrnn_tf import cli
from memrnn_tf import files
from memrnn_tf import startup
from memrnn_tf.sweep import grid
from memrnn_tf.sweep import steps

# The one place that says how a run gets its thread budget: the config field
# (--config.<THREADS_FIELD>=N for bin/train.py) and, for the post-step binaries that
# have no such flag, TensorFlow's environment variable.
THREADS_FIELD = 'perf.intra_op_threads'
THREADS_ENV = 'TF_NUM_INTRAOP_THREADS'
# Passed on to every run's commands when set: the dataset directory and TensorFlow's C++
# log level (``memrnn_tf.startup``), so that the user's choice holds on other nodes too.
FORWARDED_ENV = ('MEMRNN_DATA_DIR', startup.LEVEL_ENV)

# Run as a prefix of every command: the child dies with the process that started it
# (Linux prctl PR_SET_PDEATHSIG), so a killed sweep leaves no training behind that would
# race the rerun for the same workdir.
_DIE_WITH_PARENT = (
    'import ctypes, os, signal, sys\n'
    'if sys.platform.startswith("linux"):\n'
    '  ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)\n'
    '  if os.getppid() != int(sys.argv[1]): sys.exit(137)\n'
    'os.execv(sys.argv[2], sys.argv[2:])\n')


@dataclasses.dataclass(frozen=True)
class RunSpec:
  """Everything a worker needs to run one point of the grid (picklable, no config objects).

  Attributes:
    name: run name; the workdir is ``<root>/<name>``.
    workdir: absolute run directory.
    log: absolute path of the run's log file.
    overrides: dotted config path -> value (common overrides and axis values).
    train_argv: the ``bin/train.py`` command.
    post_steps: ``(name, argv, flags)`` per post-step, in order.
    env: environment variables set for the commands.
  """
  name: str
  workdir: str
  log: str
  overrides: dict
  train_argv: tuple
  post_steps: tuple
  env: dict


def process_overrides(run_config, threads):
  """Overrides that change how a run executes, not what it computes (not in its name)."""
  out = {}
  if threads and grid.get_field(run_config, THREADS_FIELD) is not None:
    out[THREADS_FIELD] = int(threads)
  if grid.get_field(run_config, 'progress_bar') is not None:
    out['progress_bar'] = False  # logs are files
  return out


def make_spec(point, root, sweep_config, threads=None):
  """The ``RunSpec`` of ``point`` under ``root``.

  Args:
    point: a ``grid.Point``.
    root: absolute sweep root.
    sweep_config: the sweep config (``base``, ``post_steps`` and each step's flags).
    threads: threads per op for this run's processes (None: TensorFlow's default).
  """
  workdir = os.path.join(root, point.name)
  base_path, _, variant = sweep_config.base.partition(':')
  base = grid.resolve_path(base_path) + (f':{variant}' if variant else '')
  overrides = {**point.overrides, **process_overrides(point.config, threads)}
  train_argv = (sys.executable, os.path.join(cli.REPO_ROOT, 'bin', 'train.py'),
                f'--config={base}', *grid.config_flags_of(overrides), f'--workdir={workdir}')
  post = []
  for name in post_step_names(sweep_config):
    flags = dict(grid.flatten(sweep_config.get(name, {})))
    steps.get_post_step(name)  # unknown names fail before anything runs
    argv = (sys.executable, os.path.join(cli.REPO_ROOT, 'bin', f'{name}.py'),
            f'--workdir={workdir}', *(f'--{k}={grid.flag_value(v)}' for k, v in flags.items()))
    post.append((name, argv, flags))
  # Ray workers on other nodes do not inherit this environment: the settings in force here
  # go with the commands. (A local run inherits them anyway; unset, each binary's own
  # start-up default applies.)
  env = {k: os.environ[k] for k in FORWARDED_ENV if os.environ.get(k)}
  if threads:
    env[THREADS_ENV] = str(int(threads))
    env['TF_FORCE_GPU_ALLOW_GROWTH'] = 'true'  # runs sharing a GPU take what they use
  return RunSpec(point.name, workdir, os.path.join(root, point.name + '.log'),
                 dict(point.overrides), train_argv, tuple(post), env)


def post_step_names(sweep_config):
  return [n.strip() for n in str(sweep_config.get('post_steps', '')).split(',') if n.strip()]


def read_state(spec):
  """What of ``spec`` is on disk.

  Returns:
    Dict with ``eval`` (the ``eval.json`` contents or None), ``post`` (name -> summary or
    None) and ``done`` (trained and every post-step's output present).
  """
  evaluation = files.read_json(os.path.join(spec.workdir, 'eval.json'))
  post = {name: steps.read_output(spec.workdir, name, flags)
          for name, _, flags in spec.post_steps}
  done = evaluation is not None and all(v is not None for v in post.values())
  return {'eval': evaluation, 'post': post, 'done': done}


class RunFailed(Exception):
  pass


class Stopped(RunFailed):
  """A command ended (or was not started) because this process was asked to stop."""


class _Children:
  """The commands running now, and the stop signal once one arrived (None before)."""

  def __init__(self):
    self.lock = threading.Lock()
    self.procs = set()
    self.signum = None

  def send(self, signum):
    with self.lock:
      self.signum = signum
      procs = list(self.procs)
    for p in procs:
      with contextlib.suppress(OSError):
        p.send_signal(signum)


_CHILDREN = _Children()


def stop_signal():
  """The SIGINT/SIGTERM received under ``forward_stop_signals``, or None."""
  return _CHILDREN.signum


@contextlib.contextmanager
def forward_stop_signals():
  """Within: SIGINT and SIGTERM go to every command ``call`` runs, and no new one starts.

  Training runs save a checkpoint when signalled (``training.loop``), so a sweep or a
  reproduction stopped this way resumes where each run stopped; a second signal is passed
  on too and stops them at once. After the block the caller checks ``stop_signal()``. Only
  the main thread can install handlers; elsewhere nothing changes.
  """
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

  def handle(signum, frame):
    del frame
    _CHILDREN.send(signum)

  for s in previous:
    signal.signal(s, handle)
  try:
    yield
  finally:
    for s, h in previous.items():
      signal.signal(s, h)


def call(argv, log, env):
  """Runs ``argv`` with output to the open file ``log``; dies with this process.

  Under ``forward_stop_signals`` the command receives this process's SIGINT/SIGTERM.

  Raises:
    Stopped: a stop signal arrived before or while it ran.
    RunFailed: non-zero exit code.
  """
  name = os.path.basename(argv[1])
  if _CHILDREN.signum is not None:
    raise Stopped(f'{name} not started: {signal.Signals(_CHILDREN.signum).name} received')
  log.write(f'\n$ {" ".join(argv)}\n')
  log.flush()
  wrapped = [sys.executable, '-c', _DIE_WITH_PARENT, str(os.getpid()), *argv]
  proc = subprocess.Popen(wrapped, stdout=log, stderr=subprocess.STDOUT,
                          env={**os.environ, **env})
  with _CHILDREN.lock:
    _CHILDREN.procs.add(proc)
    signum = _CHILDREN.signum
  if signum is not None:  # the signal came between the check and the start
    proc.send_signal(signum)
  try:
    code = proc.wait()
  finally:
    with _CHILDREN.lock:
      _CHILDREN.procs.discard(proc)
  if code != 0 and _CHILDREN.signum is not None:
    raise Stopped(f'{name} stopped by {signal.Signals(_CHILDREN.signum).name} '
                  f'(exit code {code}); rerun to resume')
  if code != 0:
    raise RunFailed(f'{name} exited with code {code}')


def make_record(spec, state, status, seconds=None, error=None):
  """The run's entry in ``sweep.json``."""
  return {'name': spec.name, 'workdir': spec.workdir, 'log': spec.log, 'status': status,
          'seconds': seconds, 'overrides': spec.overrides, 'command': list(spec.train_argv),
          'eval': state['eval'], 'post': state['post'], 'error': error}


def execute(spec):
  """Trains ``spec`` (resuming) unless ``eval.json`` exists, then runs missing post-steps.

  Never raises: a failure is a record with status ``failed`` and the reason (``stopped``
  when a stop signal ended it: see ``forward_stop_signals``).

  Returns:
    The run's record (see ``make_record``) with ``seconds`` spent in this call.
  """
  start = time.time()
  error = None
  stopped = False
  try:
    with open(spec.log, 'a') as log:
      if read_state(spec)['eval'] is None:
        call(spec.train_argv, log, spec.env)
        if read_state(spec)['eval'] is None:
          raise RunFailed('training ended without eval.json')
      for name, argv, flags in spec.post_steps:
        if steps.read_output(spec.workdir, name, flags) is None:
          call(argv, log, spec.env)
          if steps.read_output(spec.workdir, name, flags) is None:
            raise RunFailed(f'{name} ended without its output')
  except Stopped as e:
    error, stopped = f'{e}; see {spec.log}', True
  except Exception as e:  # pylint: disable=broad-except
    error = f'{e}; see {spec.log}'
  state = read_state(spec)
  if error is None and state['done']:
    status = 'done'
  else:
    status = 'stopped' if stopped else 'failed'
  return make_record(spec, state, status, time.time() - start, error)
