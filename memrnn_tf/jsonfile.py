"""Reading the JSON files of a run (config.json, results) with one clear line when damaged.

TensorFlow-free, so that the plotting modules can use it too.
"""

import json
import os

from memrnn_tf import errors

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
