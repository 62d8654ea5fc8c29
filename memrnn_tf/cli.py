"""Helpers shared by the absl binaries in ``bin/`` (no flags are defined here).

Every binary ends with ``app.run(main, flags_parser=cli.parse_flags)`` and calls the
library through ``cli.run_or_exit``, so that a user's mistake, whether in a flag or found
by the library, is one ``error: ...`` line and exit code 1, while a bug keeps its traceback.
"""

import importlib.util
import os
import re
import sys

from absl import flags
from absl import logging
from ml_collections import config_flags

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
    _exit_with(e)


def _exit_with(message):
  sys.stderr.write(f'error: {" ".join(str(message).split())}\n')
  sys.exit(1)


def _unknown_override(argv, error):
  """``--<flag>.<path>=...`` argument of ``argv`` that names a field ``error`` is about."""
  text = error  # ml_collections wraps the KeyError in an AttributeError
  while isinstance(text, BaseException) and text.args:
    text = text.args[0]
  text = str(text)
  key = re.search(r"'([^'\\]+)'", text)
  if key is None:
    return None
  for arg in argv[1:]:
    match = re.match(r'^--?([A-Za-z_]\w*)\.([\w.]+)(=|$)', arg)
    if match and key.group(1) in match.group(2).split('.'):
      path = match.group(2)
      message = f'{arg}: the {match.group(1)} has no field {path}'
      suggestion = re.search(r"""Did you mean ["']([^"']+)["']""", text)
      if suggestion:
        parts = path.split('.')
        parts[parts.index(key.group(1))] = suggestion.group(1)
        message += f' (did you mean {".".join(parts)}?)'
      return message
  return None


def define_config_file(name, default, help_string):
  """``config_flags.DEFINE_config_file(name, default, help_string, lock_config=True)``.

  Without ``--<name>=...`` on the command line, ml_collections loads the default config
  and looks up the ``--<name>.<field>`` overrides while the flag is defined, before
  ``parse_flags`` runs; an unknown field there is reported here, as one line.

  Returns:
    The flag holder (``.value`` is the ``ConfigDict``).
  """
  try:
    return config_flags.DEFINE_config_file(name, default, help_string, lock_config=True)
  except (AttributeError, KeyError) as e:
    message = _unknown_override(sys.argv, e)
    if message is None:
      raise
    _exit_with(message)


def parse_flags(argv):
  """absl's flag parsing for ``app.run(main, flags_parser=cli.parse_flags)``.

  Flag errors become one ``error: ...`` line with exit code 1: a bad value, a config file
  that fails to load (the last line of its traceback, e.g. an unknown variant), and an
  unknown field in ``--config.<field>=...``, which ml_collections reports as a traceback.

  Args:
    argv: the command line, program name first.

  Returns:
    The arguments left after parsing, program name first.
  """
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    lines = [l.strip() for l in str(e).splitlines() if l.strip()]
    first = lines[0].replace('Error whilst parsing config file:', '').strip()
    _exit_with(first if len(lines) == 1 else f'{first} {lines[-1]}')
  except (AttributeError, KeyError) as e:
    message = _unknown_override(argv, e)
    if message is None:
      raise
    _exit_with(message)
