"""Run directories: how a run is stored, checked on resume, and opened again for analysis.

Layout of a workdir (``bin/train.py``; the flip-flop study keeps the same top level)::

  config.json            the resolved config (checked on resume, see ``check_workdir``)
  checkpoints/           tf.train.CheckpointManager (model + optimizer), latest few
  snapshots/             model weights every ``snapshot_every`` steps (slow-point tracking)
  metrics.jsonl          one JSON object per log step (train) and per evaluation
  tensorboard/           the same scalars for TensorBoard
  eval.json              the end-of-run table (null / digit accuracy, train and test)
  analysis/, figures/    results of the analyses and the figures drawn from them

This module only stores and opens runs: ``load_config``, ``checkpoint_path``,
``restore_model``, ``snapshot_steps`` and ``read_metrics``. It imports neither data nor
models: rebuilding a run's model and tasks from its config is the experiment's job
(``memrnn_tf.training.experiment.load_trained_model`` and ``make_task``).

Damaged files: a checkpoint is used only if every tensor reads back (``checkpoint_problem``);
``usable_checkpoint`` takes the newest such one, from the files on disk rather than the
state file, and says in one warning line what it passed over; when none reads back, and
for a damaged config.json, the error is one line naming the files and what to do.

Configs group the settings that change only speed under ``config.perf`` (``jit_compile``,
``intra_op_threads``, ``steps_per_execution``, ``num_chains``, ``unroll_limit``). Runs made
before that group existed kept them at the top level and in ``config.model``;
``migrate_config`` moves them, so old workdirs still load and resume.
"""

import dataclasses
import json
import os
import re
from typing import List, Optional, Tuple

from absl import logging

import ml_collections
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf import files

# Old locations of the speed-only settings, moved into ``config.perf``.
_LEGACY_PERF_FIELDS = {
    (): ('jit_compile', 'intra_op_threads', 'steps_per_execution'),
    ('model',): ('num_chains', 'unroll_limit'),
}
# Top-level fields a resumed run may change: they change speed (``perf``), what is logged
# or kept, where the data files are, or what is evaluated and analysed after training,
# never the trained weights. Everything else (seed, curriculum, schedule, step count,
# task, dataset, model, optimiser, snapshot spacing) must match the stored run. An accepted
# resume rewrites config.json with the new values (eval.json and metrics then match it); a
# refused one writes nothing.
RESUMABLE_FIELDS = ('perf', 'progress_bar', 'log_every', 'checkpoint_every',
                    'keep_checkpoints', 'eval_trials', 'eval_batch_size', 'data_dir',
                    'analysis', 'plots', 'compare_with')


# --- config.json ---------------------------------------------------------------------------
def write_json_atomic(path, obj):
  """Writes ``obj`` as JSON to ``path`` through a temporary file (never half-written)."""
  files.write_json(path, obj, indent=2, sort_keys=True)


def config_dict(config):
  """The JSON-ready dict of a ``ConfigDict`` (tuples become lists), as config.json holds it."""
  return json.loads(json.dumps(config.to_dict(), default=files.json_default))


def migrate_config(values):
  """Moves speed-only settings of old runs into the ``perf`` group (in place).

  Args:
    values: a config as a dict (config.json).

  Returns:
    ``values``, with ``perf`` holding every legacy speed field it had.
  """
  perf = values.setdefault('perf', {})
  for parents, names in _LEGACY_PERF_FIELDS.items():
    group = values
    for p in parents:
      group = group.get(p) if isinstance(group, dict) else None
    if not isinstance(group, dict):
      continue
    for name in names:
      if name in group:
        perf.setdefault(name, group.pop(name))
  return values


def read_config_json(workdir):
  """The run's config.json as a dict (legacy fields migrated), None when there is none.

  Raises:
    RunDamagedError: one line naming the file and what is wrong with it (empty, not
      JSON, not a JSON object).
  """
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return None
  return migrate_config(files.read_object(
      path, 'restore it from a copy (its run cannot be resumed or analysed without it), '
      'or use another --workdir'))


def load_config(workdir):
  """The resolved config saved in ``workdir`` (a ``ConfigDict``, legacy fields migrated).

  Raises:
    RunNotFoundError: if the workdir has no config.json.
  """
  values = read_config_json(workdir)
  if values is None:
    raise errors.RunNotFoundError(f'{os.path.join(workdir, "config.json")} not found: is '
                                  f'--workdir={workdir} a memrnn_tf run?')
  return ml_collections.ConfigDict(values)


def _flatten(values, prefix=''):
  out = {}
  for key, value in values.items():
    if isinstance(value, dict):
      out.update(_flatten(value, f'{prefix}{key}.'))
    else:
      out[f'{prefix}{key}'] = value
  return out


def config_differences(stored, new, resumable=RESUMABLE_FIELDS):
  """Fields whose values differ between two configs, other than ``resumable`` ones.

  Args:
    stored: the run's config as a dict (config.json, migrated).
    new: the config asked for, as a dict.
    resumable: top-level fields that may differ.

  Returns:
    Sorted ``[(dotted field, stored value, new value)]``. Fields present in only one of
    the two (added to the configs after the run was made) are not differences.
  """
  old_flat, new_flat = _flatten(stored), _flatten(new)
  return [(key, old_flat[key], new_flat[key]) for key in sorted(set(old_flat) & set(new_flat))
          if key.split('.')[0] not in resumable and not _same(old_flat[key], new_flat[key])]


def _same(a, b):
  # NaN == NaN here: a config that asks for NaN asks for what the stored one holds.
  if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
    return True
  return a == b


def check_workdir(config, workdir):
  """Refuses a workdir that holds another run (see ``RESUMABLE_FIELDS``).

  Args:
    config: the new run's config.
    workdir: the run directory (nothing is checked when it has no config.json).

  Raises:
    CheckpointMismatchError: one line naming every differing field with both values.
  """
  stored = read_config_json(workdir)
  if stored is None:
    return
  diffs = config_differences(stored, migrate_config(config_dict(config)))
  if diffs:
    held = ', '.join(f'{k}={a}' for k, a, _ in diffs)
    asked = ', '.join(f'{k}={b}' for k, _, b in diffs)
    raise errors.CheckpointMismatchError(
        f'--workdir={workdir} holds a run with {held}; this command asks for {asked}; '
        'use another --workdir')


# --- checkpoints and snapshots -------------------------------------------------------------
# Files of the checkpoint ``<name>-<step>``: its .index and its .data shards.
_CHECKPOINT_FILE = re.compile(r'^(?P<name>.+)-(?P<step>\d+)\.(index|data-\d+-of-\d+)$')
_STATE_FILE = 'checkpoint'  # tf.train.CheckpointManager's list of checkpoints


@dataclasses.dataclass
class CheckpointScan:
  """What ``scan_checkpoints`` found in a directory of checkpoints.

  Attributes:
    directory: the directory scanned.
    name: the checkpoints' prefix (``ckpt``, ``snapshot``).
    path: the newest checkpoint that reads back whole (None: none does).
    damaged: ``[(path, problem)]`` of the checkpoints newer than ``path``, newest first.
    state_problem: what is wrong with the state file, or None.
    older: paths of the checkpoints before ``path`` (not read back), oldest first.
  """
  directory: str
  name: str
  path: Optional[str] = None
  damaged: List[Tuple[str, str]] = dataclasses.field(default_factory=list)
  state_problem: Optional[str] = None
  older: List[str] = dataclasses.field(default_factory=list)

  @property
  def empty(self):
    """Nothing was ever saved here (a new run)."""
    return self.path is None and not self.damaged and self.state_problem is None

  def describe_damage(self):
    """``'<name>: <problem>; ...'`` of everything damaged (names in ``directory``)."""
    parts = [f'{os.path.basename(p)}: {problem}' for p, problem in self.damaged]
    if self.state_problem:
      parts.append(f'{_STATE_FILE} (the list of checkpoints): {self.state_problem}')
    return '; '.join(parts)


def checkpoint_problem(path):
  """Why the checkpoint ``path`` (a prefix, e.g. ``.../ckpt-24``) cannot be restored.

  Every tensor is read back, so a missing, truncated or altered file is found (TF checks
  each tensor's checksum).

  Returns:
    None when it reads back whole, else a short description.
  """
  if not tf.io.gfile.exists(path + '.index'):
    return 'its .index file is missing'
  try:
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_dtype_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, IndexError, ValueError) as e:
    text = getattr(e, 'message', None) or str(e) or type(e).__name__
    return ' '.join(text.split()).replace(path, os.path.basename(path))
  return None


def _state_checkpoint(directory):
  """``(step named by the state file or None, problem or None)``; TF's own reader would
  log a warning and ignore a damaged state file."""
  path = os.path.join(directory, _STATE_FILE)
  if not os.path.exists(path):
    return None, None
  try:
    with open(path, encoding='utf-8') as f:
      text = f.read()
  except (OSError, UnicodeDecodeError) as e:
    return None, f'unreadable ({type(e).__name__})'
  if not text.strip():
    return None, 'empty'
  match = re.search(r'^model_checkpoint_path: "(?:.*/)?[^"/]*-(\d+)"\s*$', text, re.M)
  lines_ok = all(re.match(r'^[a-z_]+: \S', l) for l in text.splitlines() if l.strip())
  if match is None or not lines_ok:
    return None, 'not a checkpoint state file (garbage)'
  return int(match.group(1)), None


def scan_checkpoints(directory, name='ckpt', read=True):
  """Finds the newest checkpoint of ``directory`` that reads back whole.

  The steps are those of the files on disk and of the state file, so a damaged state file
  hides nothing. Checkpoints are read newest first until one is intact (the older ones
  are listed, not read).

  Args:
    directory: a ``tf.train.CheckpointManager`` directory.
    name: the checkpoints' prefix.
    read: read the checkpoints back; else only check that their .index and a .data file
      exist (cheap, for the many snapshots of a run).

  Returns:
    ``CheckpointScan``.
  """
  scan = CheckpointScan(directory, name)
  state_step, scan.state_problem = _state_checkpoint(directory)
  steps = set() if state_step is None else {state_step}
  if os.path.isdir(directory):
    for f in os.listdir(directory):
      match = _CHECKPOINT_FILE.match(f)
      if match and match.group('name') == name:
        steps.add(int(match.group('step')))
  for step in sorted(steps, reverse=True):
    path = os.path.join(directory, f'{name}-{step}')
    if scan.path is not None:
      if tf.io.gfile.exists(path + '.index'):
        scan.older.insert(0, path)
      continue
    problem = checkpoint_problem(path) if read else _missing_files(path)
    if problem is None:
      scan.path = path
    else:
      scan.damaged.append((path, problem))
  return scan


def _missing_files(path):
  if not tf.io.gfile.exists(path + '.index'):
    return 'its .index file is missing'
  if not tf.io.gfile.glob(path + '.data-*'):
    return 'its .data file is missing'
  return None


def usable_checkpoint(directory, name='ckpt', what='this run'):
  """The newest intact checkpoint of ``directory``; one warning line when it is not the
  newest or the state file is damaged.

  Args:
    directory: a ``tf.train.CheckpointManager`` directory.
    name: the checkpoints' prefix.
    what: the run, as the one-line error names it (``'--workdir=...'``).

  Returns:
    ``(path or None, scan)``: None when nothing was ever saved there.

  Raises:
    CheckpointDamagedError: something was saved but nothing reads back whole.
  """
  scan = scan_checkpoints(directory, name)
  if scan.path is None and not scan.empty:
    raise errors.CheckpointDamagedError(
        f'no intact checkpoint in {directory} ({scan.describe_damage()}); restore these '
        f'files from a copy, or move {directory} away to start {what} again from step 0')
  if scan.damaged or scan.state_problem:
    _warn_once('Damaged in %s: %s; using %s, the newest intact checkpoint', directory,
               scan.describe_damage(), os.path.basename(scan.path))
  return scan.path, scan


_WARNED = set()


def _warn_once(message, *args):
  """``logging.warning`` of a message not logged before in this process (an analysis
  looks up a run's checkpoint several times)."""
  if (message, args) not in _WARNED:
    _WARNED.add((message, args))
    logging.warning(message, *args)


def scan_snapshots(workdir):
  """``scan_checkpoints`` of the weight snapshots, without reading them back (one warning
  line when the state file is damaged; ``snapshot_steps`` does not depend on it)."""
  scan = scan_checkpoints(os.path.join(workdir, 'snapshots'), 'snapshot', read=False)
  if scan.state_problem:
    logging.warning('Damaged in %s: %s; rewritten from the snapshots on disk',
                    scan.directory, scan.describe_damage())
  return scan


def repair_state_file(scan):
  """Rewrites the state file of a scan with problems to list its intact checkpoints, so
  that a ``tf.train.CheckpointManager`` continues from ``scan.path`` (the damaged newer
  ones are written over when training reaches their steps again)."""
  if scan.path is None or not (scan.damaged or scan.state_problem):
    return
  kept = [os.path.basename(p) for p in scan.older + [scan.path]]
  lines = [f'model_checkpoint_path: "{kept[-1]}"'] + [
      f'all_model_checkpoint_paths: "{k}"' for k in kept]
  files.write_text(os.path.join(scan.directory, _STATE_FILE), '\n'.join(lines) + '\n')


def checkpoint_path(workdir, checkpoint=None):
  """Path of the latest checkpoint, or of the checkpoint/snapshot saved at step ``checkpoint``.

  Without ``checkpoint``: the newest checkpoint that reads back whole (a warning names
  the damaged newer ones).

  Raises:
    RunNotFoundError: naming what is available.
    CheckpointDamagedError: no intact checkpoint, or the one asked for is damaged.
  """
  ckpt_dir = os.path.join(workdir, 'checkpoints')
  if checkpoint is None:
    path, _ = usable_checkpoint(ckpt_dir, what=f'--workdir={workdir}')
    if path is None:
      raise errors.RunNotFoundError(f'no checkpoint in {ckpt_dir}: train this run first '
                                    f'(--workdir={workdir})')
    return path
  damaged = None
  for path in (os.path.join(ckpt_dir, f'ckpt-{int(checkpoint)}'),
               os.path.join(workdir, 'snapshots', f'snapshot-{int(checkpoint)}')):
    if tf.io.gfile.exists(path + '.index'):
      problem = checkpoint_problem(path)
      if problem is None:
        return path
      damaged = damaged or _damaged(path, problem)
  if damaged is not None:
    raise damaged
  raise errors.RunNotFoundError(f'no checkpoint or snapshot of step {checkpoint} in '
                                f'{workdir}; available snapshot steps: '
                                f'{snapshot_steps(workdir)}')


def snapshot_steps(workdir):
  """Sorted training steps of the weight snapshots saved in ``workdir`` (those with an
  .index file on disk: a damaged state file hides none)."""
  directory = os.path.join(workdir, 'snapshots')
  if not os.path.isdir(directory):
    return []
  matches = map(_CHECKPOINT_FILE.match, os.listdir(directory))
  return sorted(int(m.group('step')) for m in matches
                if m and m.group('name') == 'snapshot' and m.group(0).endswith('.index'))


def restore_model(model, path, optimizer=None):
  """Restores ``model`` (and optionally ``optimizer``) from a checkpoint path.

  Raises:
    CheckpointMismatchError: when the checkpoint belongs to another architecture.
    CheckpointDamagedError: when its files are missing, truncated or altered.
  """
  ckpt = (tf.train.Checkpoint(model=model, optimizer=optimizer) if optimizer is not None
          else tf.train.Checkpoint(model=model))
  try:
    status = ckpt.restore(path)
    status.assert_existing_objects_matched()
    if optimizer is None:
      status.expect_partial()
  except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
    problem = checkpoint_problem(path)
    if problem is not None:
      raise _damaged(path, problem) from e
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise errors.CheckpointMismatchError(
        f'checkpoint {path} does not match the model built from the config: {first}') from e
  except (tf.errors.OpError, IndexError) as e:
    raise _damaged(path, checkpoint_problem(path) or type(e).__name__) from e


def _damaged(path, problem):
  return errors.CheckpointDamagedError(
      f'checkpoint {path} is damaged ({problem}); restore its files from a copy, or delete '
      f'{path}.* to use another step')


# --- metrics.jsonl --------------------------------------------------------------------------
def metrics_path(workdir):
  return os.path.join(workdir, 'metrics.jsonl')


def read_metrics(workdir, split=None):
  """The records of ``metrics.jsonl`` (dicts with ``step`` and ``split``), in order.

  Args:
    workdir: the run directory.
    split: keep only records of this split (``'train'``, ``'eval_test'``, ...).
  """
  path = metrics_path(workdir)
  if not os.path.exists(path):
    return []
  return [r for r, _ in _metric_lines(path) if split is None or r.get('split') == split]


def _metric_lines(path):
  """``[(record, line)]`` of a metrics.jsonl; a line that is not a JSON object (half
  written when the process was killed) is left out, with a warning."""
  out, damaged = [], 0
  with open(path, encoding='utf-8', errors='replace') as f:
    for line in f:
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except json.JSONDecodeError:
        record = None
      if isinstance(record, dict) and line.endswith('\n'):
        out.append((record, line))
      else:
        damaged += 1
  if damaged:
    _warn_once('%s: %d damaged lines left out (written when the run was killed?)', path,
               damaged)
  return out


def truncate_metrics(path, step):
  """Drops metrics logged after ``step`` (written before a crash, then replayed), the
  evaluations of ``step`` itself (the run evaluates again when it ends) and damaged lines."""
  if not os.path.exists(path):
    return

  def keep(record):
    is_eval = str(record.get('split', '')).startswith('eval')
    return record.get('step', 0) < step or (record.get('step', 0) == step and not is_eval)

  files.write_text(path, ''.join(l for r, l in _metric_lines(path) if keep(r)))
