"""Process start-up for the binaries: TensorFlow's C++ start-up logging off by default.

Every script in ``bin/`` and ``benchmarks/`` calls :func:`quiet_tensorflow` before anything
imports TensorFlow. Importing this module changes nothing; the library never calls it.

TensorFlow's C++ side prints lines such as "Could not find cuda drivers on your machine" and,
on every machine without a GPU driver, an error-level "failed call to cuInit", which read as
failures to a newcomer. ``TF_CPP_MIN_LOG_LEVEL`` (0 all, 1 no INFO, 2 no WARNING, 3 no ERROR)
filters most of them, but a few are written while the shared libraries load, before
TensorFlow reads the variable; those are filtered here by the same level, when (and if)
TensorFlow is imported. The user's own
value of the variable always wins: ``TF_CPP_MIN_LOG_LEVEL=0`` brings every line back.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

LEVEL_ENV = 'TF_CPP_MIN_LOG_LEVEL'

# A C++ log line: severity letter, MMDD, then the time ("I0000 00:00:1796.. 6325 file.cc:31]").
_LOG_LINE = re.compile(r'^([IWEF])\d{4} ')
_SEVERITY = {'I': 0, 'W': 1, 'E': 2, 'F': 3}
# Printed by absl before TensorFlow initialises logging; a warning about logging itself.
_PRE_INIT = 'WARNING: All log messages before absl::InitializeLog() is called'
# The second line of cpu_feature_guard's INFO message.
_CONTINUATION = 'To enable the following instructions'


def default_level():
  """The level used when the user set none: 2 (no INFO or WARNING lines), 3 without a GPU.

  Without an NVIDIA driver the only C++ error lines at start-up are the failed CUDA probe;
  errors that matter also reach Python as exceptions.
  """
  return 2 if os.path.exists('/proc/driver/nvidia') else 3


def filter_startup_lines(text, level):
  """Drops the C++ log lines below ``level`` from ``text``; keeps every other line.

  Args:
    text: what was written to stderr while TensorFlow was imported.
    level: the ``TF_CPP_MIN_LOG_LEVEL`` in force (int).

  Returns:
    The kept lines, each ending in a newline.
  """
  kept = []
  dropped_previous = False
  for line in text.splitlines(keepends=True):
    match = _LOG_LINE.match(line)
    drop = ((match is not None and _SEVERITY[match.group(1)] < level) or
            (level >= 1 and line.startswith(_PRE_INIT)) or
            (dropped_previous and line.startswith(_CONTINUATION)))
    if not drop:
      kept.append(line if line.endswith('\n') else line + '\n')
    dropped_previous = drop
  return ''.join(kept)


def quiet_tensorflow():
  """Sets ``TF_CPP_MIN_LOG_LEVEL`` unless the user did, and filters TensorFlow's import.

  When TensorFlow is first imported (if ever: binaries that only read files never do),
  what it writes to stderr while it loads is held back and written again afterwards
  without the log lines below the level. Call it first thing in a binary; it does nothing
  more if TensorFlow is already imported.
  """
  os.environ.setdefault(LEVEL_ENV, str(default_level()))
  try:
    level = int(os.environ[LEVEL_ENV])
  except ValueError:
    level = 0  # TensorFlow treats an unreadable value as 0 too
  if level > 0 and 'tensorflow' not in sys.modules and not any(
      isinstance(f, _QuietImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietImport(level))


@contextlib.contextmanager
def _held_stderr(level):
  """Holds back what is written to file descriptor 2, then writes it filtered."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile(mode='w+b') as held:
    os.dup2(held.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      held.seek(0)
      sys.stderr.write(filter_startup_lines(held.read().decode(errors='replace'), level))
      sys.stderr.flush()


class _QuietImport(importlib.abc.MetaPathFinder):
  """Finds ``tensorflow`` once and runs its import inside ``_held_stderr``."""

  def __init__(self, level):
    self.level = level

  def find_spec(self, name, path=None, target=None):
    del path, target
    if name != 'tensorflow':
      return None
    sys.meta_path.remove(self)  # once; and so that the search below finds the real spec
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
      return spec
    exec_module = spec.loader.exec_module
    level = self.level

    def quiet_exec_module(module):
      with _held_stderr(level):
        exec_module(module)

    spec.loader.exec_module = quiet_exec_module
    return spec
