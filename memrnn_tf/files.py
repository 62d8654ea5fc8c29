"""Files: atomic writes, JSON with numpy values, ``.npz`` arrays, config modules, saved results.

One piece of plumbing for every module that writes or reads a file:

* :func:`atomic_write` (and :func:`write_text`, :func:`write_json`, :func:`write_npz`): the
  file is written to ``<path>.tmp`` and moved into place with ``os.replace``, so a reader
  (or a resumed run after a kill) sees the old file or the new one, never half of one.
* :func:`to_jsonable` / :func:`json_default`: the one encoder for numpy scalars and arrays
  and tuples.
* :func:`read_json` / :func:`read_npz`: ``None`` when the file is absent (or, for JSON,
  unreadable), the convention of optional results; :func:`require_json` /
  :func:`require_npz` for files that must be there (one ``RunNotFoundError`` line naming
  the command that writes them).
* :func:`load_module`: a Python file imported by path (config files are not on
  ``sys.path`` when a binary runs from elsewhere).
* :func:`load_if_matches`: the result cache. A saved result records the parameters it was
  computed with as top-level keys; it is reused when they equal the requested ones.
"""

import contextlib
import importlib.util
import json
import math
import os

import numpy as np

from memrnn_tf import errors


@contextlib.contextmanager
def atomic_write(path, mode='w'):
  """Opens ``<path>.tmp`` for writing and moves it to ``path`` when the block succeeds.

  Parent directories are created. On an exception the temporary file is removed and
  ``path`` is left as it was.

  Args:
    path: destination file.
    mode: ``'w'`` (text) or ``'wb'`` (bytes).

  Yields:
    The open temporary file.
  """
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f'{path}.tmp'
  try:
    with open(tmp, mode) as f:
      yield f
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def write_text(path, text):
  """Writes ``text`` to ``path`` atomically; returns ``path``."""
  with atomic_write(path) as f:
    f.write(text)
  return path


def json_default(x):
  """``json.dump(default=...)`` for numpy scalars and arrays and tuples."""
  if isinstance(x, (np.floating, np.integer, np.bool_)):
    return x.item()
  if isinstance(x, np.ndarray):
    return x.tolist()
  if isinstance(x, tuple):
    return list(x)
  raise TypeError(f'not JSON serialisable: {type(x).__name__}')


def to_jsonable(x, nan_as_null=False):
  """Plain Python containers and scalars of ``x`` (numpy values converted).

  Args:
    x: nested dicts, lists, tuples, numpy arrays and scalars.
    nan_as_null: write NaN and +-inf floats as ``None`` (JSON ``null``).
  """
  if isinstance(x, dict):
    return {k: to_jsonable(v, nan_as_null) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [to_jsonable(v, nan_as_null) for v in x]
  if isinstance(x, np.ndarray):
    return to_jsonable(x.tolist(), nan_as_null)
  if isinstance(x, np.generic):
    x = x.item()
  if nan_as_null and isinstance(x, float) and not math.isfinite(x):
    return None
  return x


def dumps(obj, indent=2, sort_keys=False, nan_as_null=False):
  """``obj`` as JSON text (numpy values converted; NaN as ``null`` if ``nan_as_null``)."""
  if nan_as_null:
    return json.dumps(to_jsonable(obj, True), indent=indent, sort_keys=sort_keys,
                      allow_nan=False)
  return json.dumps(obj, indent=indent, sort_keys=sort_keys, default=json_default)


def write_json(path, obj, indent=2, sort_keys=False, nan_as_null=False):
  """Writes ``obj`` as JSON to ``path`` atomically (see :func:`dumps`); returns ``path``."""
  return write_text(path, dumps(obj, indent, sort_keys, nan_as_null))


def read_json(path):
  """The JSON value in ``path``, or None when the file is absent or not valid JSON."""
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):  # absent, a directory, unreadable, not JSON, not UTF-8
    return None


def require_json(path, command):
  """The JSON value in ``path``; ``RunNotFoundError`` naming ``command`` if absent/unreadable."""
  value = read_json(path)
  if value is None:
    raise errors.RunNotFoundError(f'{path} not found or not valid JSON: run {command} first')
  return value


def write_npz(path, compressed=False, **arrays):
  """Writes ``arrays`` to the ``.npz`` file ``path`` atomically; returns ``path``."""
  with atomic_write(path, 'wb') as f:
    (np.savez_compressed if compressed else np.savez)(f, **arrays)
  return path


def read_npz(path):
  """The arrays of the ``.npz`` file ``path`` as a dict, or None when it is absent."""
  if not os.path.exists(path):
    return None
  with np.load(path) as d:
    return {k: d[k] for k in d.files}


def require_npz(path, command):
  """The arrays of ``path``; ``RunNotFoundError`` naming ``command`` if absent."""
  arrays = read_npz(path)
  if arrays is None:
    raise errors.RunNotFoundError(f'{path} not found: run {command} first')
  return arrays


def load_module(path, name):
  """Imports the Python file ``path`` as a module called ``name`` and returns it."""
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def load_if_matches(path, params, defaults=None):
  """The saved JSON result in ``path`` if it was computed with ``params``, else None.

  Args:
    path: the result file.
    params: dict of parameters the result must have been computed with, each a top-level
      key of the file; a value that is a callable ``f(saved_value) -> bool`` accepts any
      saved value it approves (e.g. a superset of the requested delays).
    defaults: values assumed for keys missing from older files.
  """
  saved = read_json(path)
  if saved is None:
    return None
  for key, want in params.items():
    have = saved.get(key, (defaults or {}).get(key))
    ok = want(have) if callable(want) else _same(have, want)
    if not ok:
      return None
  return saved


def _same(a, b):
  if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
    return a is not None and b is not None and list(a) == list(b)
  if isinstance(a, float) or isinstance(b, float):
    return a is not None and b is not None and np.isclose(float(a), float(b))
  return a == b


# --- a run's JSON object, with one clear line when damaged ----------------------------------
_KINDS = {list: 'an array', str: 'a string', bool: 'a boolean', int: 'a number',
          float: 'a number'}
_EMPTY = object()


def read_object(path, fix):
  """The JSON object in ``path`` as a dict.

  Args:
    path: a JSON file that exists.
    fix: what the user can do about a damaged file, appended to the error.

  Raises:
    RunDamagedError: one line naming the file and what is wrong with it (a directory,
      unreadable, empty, not JSON, or JSON but not an object).
  """
  if os.path.isdir(path):
    problem = 'is a directory'
  else:
    try:
      with open(path, encoding='utf-8') as f:
        text = f.read()
      values = json.loads(text) if text.strip() else _EMPTY
    except (OSError, UnicodeDecodeError) as e:
      problem = f'cannot be read ({type(e).__name__}: {e})'
    except json.JSONDecodeError as e:
      problem = f'is not valid JSON ({e})'
    else:
      if isinstance(values, dict):
        return values
      problem = ('is empty' if values is _EMPTY else
                 f'holds {_KINDS.get(type(values), "null")}, not a JSON object')
  raise errors.RunDamagedError(f'{path} {problem}: {fix}')
