"""One run of a sweep: train with ``bin/train.py``, then the post-steps, as subprocesses.

Every backend calls ``execute(spec)`` for each run (in a thread of the local backend, in a
Ray task). Each command is a fresh process: TensorFlow starts with the run's own thread
budget, and a crash or a kill of one run leaves the others alone. Output goes to
``<root>/<name>.log``. A run is finished when ``eval.json`` exists and every post-step's
output does; otherwise ``execute`` (re)starts what is missing, and ``bin/train.py``
resumes from the run's last checkpoint.
"""

import dataclasses
import json
import os
import subprocess
import sys
import time

from memrnn_tf import cli
from memrnn_tf.sweep import grid
from memrnn_tf.sweep import steps

# The one place that says how a run gets its thread budget: the config field
# (--config.<THREADS_FIELD>=N for bin/train.py) and, for the post-step binaries that
# have no such flag, TensorFlow's environment variable.
THREADS_FIELD = 'perf.intra_op_threads'
THREADS_ENV = 'TF_NUM_INTRAOP_THREADS'

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
  env = {'TF_CPP_MIN_LOG_LEVEL': os.environ.get('TF_CPP_MIN_LOG_LEVEL', '1')}
  if os.environ.get('MEMRNN_DATA_DIR'):  # Ray workers on other nodes do not inherit it
    env['MEMRNN_DATA_DIR'] = os.environ['MEMRNN_DATA_DIR']
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
  try:
    with open(os.path.join(spec.workdir, 'eval.json')) as f:
      evaluation = json.load(f)
  except (OSError, ValueError):
    evaluation = None
  post = {name: steps.read_output(spec.workdir, name, flags)
          for name, _, flags in spec.post_steps}
  done = evaluation is not None and all(v is not None for v in post.values())
  return {'eval': evaluation, 'post': post, 'done': done}


class RunFailed(Exception):
  pass


def call(argv, log, env):
  """Runs ``argv`` with output to the open file ``log``; dies with this process.

  Raises:
    RunFailed: non-zero exit code.
  """
  log.write(f'\n$ {" ".join(argv)}\n')
  log.flush()
  wrapped = [sys.executable, '-c', _DIE_WITH_PARENT, str(os.getpid()), *argv]
  code = subprocess.call(wrapped, stdout=log, stderr=subprocess.STDOUT,
                         env={**os.environ, **env})
  if code != 0:
    raise RunFailed(f'{os.path.basename(argv[1])} exited with code {code}')


def make_record(spec, state, status, seconds=None, error=None):
  """The run's entry in ``sweep.json``."""
  return {'name': spec.name, 'workdir': spec.workdir, 'log': spec.log, 'status': status,
          'seconds': seconds, 'overrides': spec.overrides, 'command': list(spec.train_argv),
          'eval': state['eval'], 'post': state['post'], 'error': error}


def execute(spec):
  """Trains ``spec`` (resuming) unless ``eval.json`` exists, then runs missing post-steps.

  Never raises: a failure is a record with status ``failed`` and the reason.

  Returns:
    The run's record (see ``make_record``) with ``seconds`` spent in this call.
  """
  start = time.time()
  error = None
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
  except Exception as e:  # pylint: disable=broad-except
    error = f'{e}; see {spec.log}'
  state = read_state(spec)
  status = 'done' if error is None and state['done'] else 'failed'
  return make_record(spec, state, status, time.time() - start, error)
