"""Analyses over several runs: selecting workdirs, naming their condition, reusing saved
per-run results and writing results and aggregates.

Conventions shared by every analysis binary (``bin/extrapolate.py``, ``bin/pca.py``,
``bin/speed_accuracy.py``, ...):

* ``--workdir=RUN`` (one run) or ``--workdirs=a,b`` where each item may be a glob
  (``'runs/sweep_gru_sigmoid/*'``); only directories with a ``config.json`` count.
* Per-run results go to ``<run>/analysis/<name>.json`` (+ ``.npz``), figures to
  ``<run>/figures/<name>.png``.
* Aggregates over runs go to ``<out>/analysis/<name>.json`` and ``<out>/figures/``, where
  ``<out>`` defaults to the common parent directory of the runs.
* A per-run result is reused when its file exists and its recorded parameters match the
  request (``load_if_matches``); ``recompute=True`` forces a new computation.
* A run's condition is read from its ``config.json``: dataset, cell, curriculum and
  readout (``sigmoid`` for the authors' squashed readout, else ``logits``).
"""

import glob
import os

from absl import logging

from memrnn_tf import errors
from memrnn_tf import files


def expand_workdirs(workdir=None, workdirs=None):
  """Run directories from ``--workdir`` and/or ``--workdirs`` (comma list of paths/globs).

  Returns:
    Sorted, de-duplicated list of directories holding a ``config.json``.

  Raises:
    MemrnnError: if nothing matches.
  """
  patterns = []
  if workdir:
    patterns.append(workdir)
  if isinstance(workdirs, str):  # one comma list, as a string flag gives it
    workdirs = [workdirs]
  for item in workdirs or []:
    patterns.extend(p.strip() for p in str(item).split(',') if p.strip())
  found = []
  for pattern in patterns:
    matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    for path in matches:
      path = os.path.normpath(path)
      if os.path.exists(os.path.join(path, 'config.json')) and path not in found:
        found.append(path)
      elif not glob.has_magic(pattern):
        raise errors.MemrnnError(f'{path} is not a run directory (no config.json)')
  if not found:
    raise errors.MemrnnError(f'no run directory (with config.json) matches '
                             f'{",".join(patterns) or "nothing: give --workdir or --workdirs"}')
  return found


def workdirs_with(patterns, relpath):
  """Workdirs from names or glob patterns that hold ``relpath`` (e.g.
  ``analysis/regularization.json``), in pattern order, each once; the others are left out."""
  out = []
  for p in patterns:
    for w in sorted(glob.glob(p)) or [p]:
      if os.path.exists(os.path.join(w, relpath)) and w not in out:
        out.append(w)
  return out


def read_config(workdir):
  """The run's ``config.json`` as a plain dict (one-line ``RunDamagedError`` if damaged)."""
  return files.read_object(os.path.join(workdir, 'config.json'),
                              'restore it from a copy, or leave this run out')


def read_runs(workdirs, relpath, command):
  """Each run's saved result ``<workdir>/<relpath>`` (with ``'workdir'`` added) and config.

  Args:
    workdirs: run directories.
    relpath: the result file inside a run, e.g. ``analysis/regularization.json``.
    command: the binary that writes it (named when a run lacks it).

  Returns:
    List of ``(result dict, config dict)`` in the order of ``workdirs``.

  Raises:
    RunNotFoundError: a run without the file.
  """
  out = []
  for w in workdirs:
    result = files.require_json(os.path.join(w, relpath), command)
    result['workdir'] = w
    out.append((result, read_config(w)))
  return out


def write_summary(path, workdirs, groups, body, missing):
  """Writes the numbers a figure over runs draws: ``{'workdirs': [...], **body(groups)}``.

  Args:
    path: the JSON file (written atomically, NaN as ``null``).
    workdirs: the runs (recorded as absolute paths).
    groups: their results as the figure groups them (e.g. per cell).
    body: ``groups -> dict`` of the file's other keys.
    missing: the error when ``groups`` is empty (no run has the result).

  Returns:
    ``path``.

  Raises:
    ConfigError: ``missing``, when ``groups`` is empty.
  """
  if not groups:
    raise errors.ConfigError(missing)
  summary = {'workdirs': [os.path.abspath(w) for w in workdirs], **body(groups)}
  return files.write_json(path, summary, indent=1, nan_as_null=True)


def condition(workdir):
  """``{'dataset', 'cell', 'curriculum', 'readout'}`` of a run, from its config.json."""
  config = read_config(workdir)
  model = config.get('model', {})
  return {'dataset': config.get('dataset', '?'), 'cell': model.get('cell', '?'),
          'curriculum': config.get('curriculum', '?'),
          'readout': 'sigmoid' if model.get('readout_sigmoid') else 'logits'}


def condition_key(workdir, fields=('dataset', 'cell', 'curriculum', 'readout')):
  """Short label of a run's condition, e.g. ``'mnist gru decu sigmoid'``."""
  cond = condition(workdir)
  return ' '.join(str(cond[f]) for f in fields)


def default_out_dir(workdirs):
  """Common parent directory of the runs (the run itself when there is one)."""
  paths = [os.path.abspath(w) for w in workdirs]
  if len(paths) == 1:
    return paths[0]
  return os.path.commonpath([os.path.dirname(p) for p in paths])


def result_path(directory, name, ext='json'):
  """``<directory>/analysis/<name>.<ext>`` (``figures/<name>.png`` for ``ext='png'``)."""
  sub = 'figures' if ext == 'png' else 'analysis'
  return os.path.join(directory, sub, f'{name}.{ext}')


def write_result(directory, name, result, arrays=None):
  """Writes ``analysis/<name>.json`` (and ``.npz`` from ``arrays``) atomically.

  NaN floats are written as ``null``.

  Returns:
    The JSON path.
  """
  path = result_path(directory, name)
  if arrays:
    files.write_npz(result_path(directory, name, 'npz'), **arrays)
  return files.write_json(path, result, indent=1, nan_as_null=True)


def read_result(directory, name):
  """``analysis/<name>.json`` as a dict, or None when absent."""
  return files.read_json(result_path(directory, name))


def read_arrays(directory, name):
  """``analysis/<name>.npz`` as a dict of arrays, or None when absent."""
  return files.read_npz(result_path(directory, name, 'npz'))


def load_if_matches(directory, name, params, defaults=None):
  """``files.load_if_matches`` on the run's ``analysis/<name>.json``."""
  return files.load_if_matches(result_path(directory, name), params, defaults)


def cached(workdir, name, compute, reuse=False, params=None):
  """``compute()``, or the saved ``<workdir>/analysis/<name>.json``.

  Args:
    workdir, name: the run and the result's name.
    compute: ``() -> summary dict``; it writes the result file itself.
    reuse: keep an existing file whatever it was computed with.
    params: ``None``, or the dict of parameters of this request: an existing file computed
      with the same ones (its ``params`` entry) is kept, and a new result records them.
  """
  if reuse:
    saved = read_result(workdir, name)
    if saved is not None:
      return saved
  path = result_path(workdir, name)
  if params is not None:
    saved = load_if_matches(workdir, name, {'params': params})
    if saved is not None:
      logging.info('%s: reusing %s (same parameters)', workdir, path)
      return saved
  summary = compute()
  if params is not None:
    summary['params'] = params
    files.write_json(path, summary, sort_keys=True)
  return summary


class SelectionFlags:
  """The run-selection flags every analysis binary shares; define them once per binary.

  ``--workdir`` (one run), ``--workdirs`` (comma list of runs or globs), ``--out``
  (aggregate directory, default the runs' common parent), ``--recompute``,
  ``--data_dir`` (``cli.define_data_dir``: applied while the flags are parsed).
  """

  def __init__(self):
    from absl import flags  # pylint: disable=g-import-not-at-top
    from memrnn_tf import cli  # pylint: disable=g-import-not-at-top
    self._workdir = flags.DEFINE_string('workdir', None, 'One run directory.')
    self._workdirs = flags.DEFINE_list(
        'workdirs', [], "Run directories or globs, e.g. 'runs/sweep_gru_sigmoid/*'.")
    self._out = flags.DEFINE_string(
        'out', None, 'Directory for the aggregate over runs (analysis/, figures/); default '
        'the common parent of the runs (the run itself for one run).')
    self._recompute = flags.DEFINE_bool(
        'recompute', False, 'Recompute per-run results even when a matching file exists.')
    cli.define_data_dir()

  def workdirs(self):
    return expand_workdirs(self._workdir.value, self._workdirs.value)

  @property
  def out(self):
    return self._out.value

  @property
  def recompute(self):
    return self._recompute.value
