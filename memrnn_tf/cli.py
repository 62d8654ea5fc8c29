"""Helpers shared by the absl binaries in ``bin/`` (no flags are defined here).

Every binary ends with ``app.run(main, flags_parser=cli.parse_flags)`` and calls the
library through ``cli.run_or_exit``, so that a user's mistake is one ``error: ...`` line
while a bug keeps its traceback. Exit codes: 2 for a flag of the wrong kind (found by
``parse_flags`` before any work), 1 for a failure the library reports, 128 + the signal's
number for an interrupted run.

Flags are checked where they are defined: ``lower_bound`` of absl's ``DEFINE_integer`` /
``DEFINE_float`` for counts and delays, ``define_ints`` / ``define_floats`` for comma
lists of numbers, ``define_dir`` for a directory that may not exist yet; ``parse_flags``
refuses a non-finite number in any flag and a config file that does not load.
"""

import importlib.util
import math
import os
import re
import sys

from absl import flags
from absl import logging
from ml_collections import config_flags

from memrnn_tf import errors
from memrnn_tf.data import sources

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR_FLAG = 'data_dir'  # see define_data_dir


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
  """Calls ``fn``; user-facing errors become one line on stderr and exit code 1 (or the
  error's ``exit_code``), Ctrl-C one line and exit code 130."""
  try:
    return fn(*args, **kwargs)
  except errors.MemrnnError as e:  # anything else is a bug: keep its traceback
    logging.debug('error', exc_info=True)
    _exit_with(e, getattr(e, 'exit_code', 1))
  except KeyboardInterrupt:
    _exit_with('interrupted (Ctrl-C)', 130)


def _exit_with(message, code=1):
  sys.stderr.write(f'error: {" ".join(str(message).split())}\n')
  sys.exit(code)


class _NumberListParser(flags.ArgumentParser):
  """Comma list of numbers of one type, each finite and >= ``lower_bound``."""

  syntactic_help = 'a comma-separated list'

  def __init__(self, kind, lower_bound, length):
    self.kind, self.lower_bound, self.length = kind, lower_bound, length

  def parse(self, argument):
    items = argument if isinstance(argument, (list, tuple)) else [
        a for a in str(argument).split(',') if a.strip()]
    values = []
    for item in items:
      try:
        value = self.kind(str(item).strip())
      except ValueError:
        raise ValueError(f'{item!r} is not {"an integer" if self.kind is int else "a number"}'
                         ) from None
      if not math.isfinite(value):
        raise ValueError(f'{item} is not a finite number')
      if self.lower_bound is not None and value < self.lower_bound:
        raise ValueError(f'{item} is not >= {self.lower_bound}')
      values.append(value)
    if self.length is not None and len(values) != self.length:
      raise ValueError(f'takes {self.length} values, not {len(values)}')
    return values

  def flag_type(self):
    return f'{self.kind.__name__} list'


def define_ints(name, default, help_string, lower_bound=None, length=None, **kwargs):
  """A comma list of integers (``--delays=4,19,100``), checked while flags are parsed.

  Args:
    name: flag name.
    default: list of integers, or None.
    help_string: help text.
    lower_bound: smallest allowed value.
    length: number of values required (None: any).
    **kwargs: more ``flags.DEFINE`` arguments (``required``).

  Returns:
    The flag holder (``.value`` is a list of ``int``).
  """
  return flags.DEFINE(_NumberListParser(int, lower_bound, length), name, default,
                      help_string, serializer=flags.CsvListSerializer(','), **kwargs)


def define_floats(name, default, help_string, lower_bound=None, **kwargs):
  """A comma list of finite numbers (``--noise_scales=1,1.5``); see ``define_ints``."""
  return flags.DEFINE(_NumberListParser(float, lower_bound, None), name, default,
                      help_string, serializer=flags.CsvListSerializer(','), **kwargs)


class _DirParser(flags.ArgumentParser):
  """A path that is a directory or does not exist yet (written into, so not a file)."""

  syntactic_help = 'a directory (created if missing)'

  def parse(self, argument):
    if os.path.exists(argument) and not os.path.isdir(argument):
      raise ValueError(f'{argument} is an existing file, not a directory')
    return argument

  def flag_type(self):
    return 'directory'


def define_dir(name, default, help_string, **kwargs):
  """A directory flag, refused while flags are parsed when it names an existing file.

  Returns:
    The flag holder (``.value`` is the path as given).
  """
  return flags.DEFINE(_DirParser(), name, default, help_string, **kwargs)


def define_data_dir():
  """The ``--data_dir`` flag: :func:`parse_flags` hands it to ``sources.set_data_dir``, so
  that every dataset load of the process (and of the commands it starts) reads from it.

  Returns:
    The flag holder.
  """
  return flags.DEFINE_string(DATA_DIR_FLAG, None, 'Dataset directory (else $MEMRNN_DATA_DIR).')


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
    _exit_with(message, _USAGE)


_USAGE = 2  # exit code of a flag of the wrong kind
_HELP_FLAGS = ('-h', '-?', '--help', '--helpshort', '--helpfull', '--helpxml')


def parse_flags(argv):
  """absl's flag parsing for ``app.run(main, flags_parser=cli.parse_flags)``.

  Flag errors become one ``error: ...`` line with exit code 2: a bad value (including a
  non-finite number and the checks of ``define_ints``, ``define_dir`` and absl's bounds),
  a config file that fails to load (the last line of its traceback, e.g. an unknown
  variant or a missing file), and an unknown field in ``--config.<field>=...``, which
  ml_collections reports as a traceback. ``--help`` exits with code 0.

  Args:
    argv: the command line, program name first.

  Returns:
    The arguments left after parsing, program name first.
  """
  # Flags defined through the package (``define_ints``, ``SelectionFlags``, ...) are filed
  # under the binary too, so that its --help lists them.
  for module, module_flags in list(flags.FLAGS.flags_by_module_dict().items()):
    if module.startswith('memrnn_tf.'):
      for flag in module_flags:
        flags.FLAGS.register_flag_by_module(argv[0], flag)
  try:
    rest = flags.FLAGS(argv)
  except flags.Error as e:
    _exit_with(_one_line(e), _USAGE)
  except (AttributeError, KeyError) as e:
    message = _unknown_override(argv, e)
    if message is None:
      raise
    _exit_with(message, _USAGE)
  except SystemExit as e:  # absl's --help prints the usage, then exits with code 1
    if any(a.split('=')[0] in _HELP_FLAGS for a in argv[1:]):
      sys.exit(0)
    raise
  for name in flags.FLAGS:
    _check_loaded(name, flags.FLAGS[name].value)
  if DATA_DIR_FLAG in flags.FLAGS:  # the dataset directory, resolved once for the process
    sources.set_data_dir(flags.FLAGS[DATA_DIR_FLAG].value)
  return rest


def _one_line(error):
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  first = lines[0].replace('Error whilst parsing config file:', '').strip()
  return first if len(lines) == 1 else f'{first} {lines[-1]}'


def _check_loaded(name, value):
  """Exits on a non-finite number flag, or a config file flag whose file did not load
  (ml_collections defers that error to the first use of the config)."""
  # Config fields (``--config.a.b``) are left to the experiment's own checks, which
  # decide what a non-finite value means there.
  if isinstance(value, float) and not math.isfinite(value) and '.' not in name:
    _exit_with(f'flag --{name}={value}: not a finite number', _USAGE)
  if type(value).__name__ == '_ErrorConfig':
    error = str(object.__getattribute__(value, '_error')).strip().splitlines()
    _exit_with(f'flag --{name}: {error[-1].strip() if error else "does not load"}', _USAGE)
