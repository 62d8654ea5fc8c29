"""Helpers shared by the absl binaries in ``bin/`` (no flags are defined here)."""

import importlib.util
import os
import sys

from absl import logging

from memrnn_tf import errors

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def config_path(name, variant):
  """``configs/<name>.py:<variant>`` resolved against the repository root."""
  return f'{os.path.join(REPO_ROOT, "configs", name + ".py")}:{variant}'


def load_config(name, variant):
  """``get_config(variant)`` of ``configs/<name>.py``, imported by path (scripts run from
  any directory, with or without the repository on ``sys.path``)."""
  path = os.path.join(REPO_ROOT, 'configs', name + '.py')
  spec = importlib.util.spec_from_file_location(f'memrnn_configs_{name}', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(variant)


def apply_overrides(config, **values):
  """Sets ``config`` fields from flags that were given (``None`` means "not given").

  Keys may be dotted (``model.cell``).
  """
  for key, value in values.items():
    if value is None:
      continue
    target = config
    *parents, leaf = key.split('.')
    for p in parents:
      target = target[p]
    target[leaf] = type(target[leaf])(value) if target[leaf] is not None else value
  return config


def default_workdir(config):
  """``runs/<dataset>_<cell>_<curriculum>_s<seed>`` under the current directory."""
  return os.path.join('runs', f'{config.dataset}_{config.model.cell}_{config.curriculum}'
                              f'_s{config.seed}')


def run_or_exit(fn, *args, **kwargs):
  """Calls ``fn``; user-facing errors become one line on stderr and exit code 1."""
  try:
    return fn(*args, **kwargs)
  except errors.MemrnnError as e:  # anything else is a bug: keep its traceback
    logging.debug('error', exc_info=True)
    message = ' '.join(str(e).split())
    sys.stderr.write(f'error: {message}\n')
    sys.exit(1)
