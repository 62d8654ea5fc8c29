"""What the claims read: ``<root>/reproduce.json`` and the saved files of its stages.

``Reproduction`` knows the stages (status, command, workdirs, outputs, figures); the
readers below turn the runs' saved analysis files into per-network numbers, grouped by
condition (``'mnist gru decu sigmoid'``). Nothing here trains or recomputes an analysis.
"""

import json
import os

import numpy as np

from memrnn_tf import files
from memrnn_tf.analysis import multirun

READY = ('done', 'reused')
MNIST_TRAIN_STAGES = ('train_mnist_gru', 'train_mnist_lstm')
# Slow points of each search method: analysis/<name>.json of a run.
SLOWPOINT_FILES = {'paper': 'slowpoints_paper', 'refined': 'slowpoints'}


read_json = files.read_json  # None when absent or unreadable


class Reproduction:
  """``<root>/reproduce.json`` and the stages' saved files."""

  def __init__(self, root, manifest):
    self.root = os.path.abspath(root)
    self.manifest = manifest
    self.variant = manifest.get('variant', '?')
    self.stages = {s['name']: s for s in manifest.get('stages', [])}

  @classmethod
  def load(cls, root):
    """Reads ``<root>/reproduce.json``; FileNotFoundError when absent."""
    path = os.path.join(root, 'reproduce.json')
    with open(path) as f:
      return cls(root, json.load(f))

  def ready(self, name):
    """Whether stage ``name`` exists and finished (done or reused)."""
    return self.stages.get(name, {}).get('status') in READY

  def problem(self, name):
    """Why stage ``name`` gives nothing (markdown), or None when it is ready."""
    stage = self.stages.get(name)
    if stage is None:
      return (f'stage `{name}` is not part of the `{self.variant}` variant (absent from '
              'reproduce.json): run a variant that includes it')
    status = stage.get('status')
    if status in READY:
      return None
    command = stage.get('command', '?')
    if status == 'skipped':
      return f'stage `{name}` was skipped ({stage.get("error") or "nothing to run"})'
    if status == 'failed':
      error = ' '.join(str(stage.get('error', 'no error recorded')).split())[:300]
      return f'stage `{name}` failed ({error}); rerun: `{command}`'
    return f'stage `{name}` is {status}: run `{command}`'

  def problems(self, names):
    return [p for p in map(self.problem, names) if p]

  def names(self, prefix):
    """Names of the stages that start with ``prefix``, in manifest order."""
    return [n for n in self.stages if n.startswith(prefix)]

  def workdirs(self, names):
    """Workdirs of the ready stages among ``names``."""
    out = []
    for n in names:
      if self.ready(n):
        out.extend(w for w in self.stages[n].get('workdirs', []) if w not in out)
    return out

  def output(self, name, filename, default):
    """The output of stage ``name`` ending in ``filename`` (else ``<root>/<default>``)."""
    for path in self.stages.get(name, {}).get('outputs', []):
      if path.endswith(filename):
        return path
    return os.path.join(self.root, default)

  def figures(self, names):
    """Figure paths recorded by the stages ``names`` that exist on disk."""
    return [f for n in names for f in self.stages.get(n, {}).get('figures', [])
            if os.path.exists(f)]

  def commands(self, names):
    """``(name, status, command)`` of the stages ``names`` (absent ones included)."""
    out = []
    for n in names:
      stage = self.stages.get(n)
      out.append((n, 'absent', None) if stage is None else
                 (n, stage.get('status', '?'), stage.get('command')))
    return out

  def runs(self, names):
    """``[(workdir, condition_key)]`` of the ready stages' workdirs that have a config."""
    return [(w, multirun.condition_key(w)) for w in self.workdirs(names)
            if os.path.exists(os.path.join(w, 'config.json'))]

  def aggregate(self, name, filename, default):
    """``(summary dict or None, problem or None)`` of an aggregate stage's output."""
    problem = self.problem(name)
    if problem:
      return None, problem
    path = self.output(name, filename, default)
    summary = read_json(path)
    if summary is None:
      return None, f'`{path}` is missing: rerun `{self.stages[name].get("command")}`'
    return summary, None


def split_key(key):
  """``'mnist gru decu sigmoid'`` -> dict of dataset, cell, curriculum, readout."""
  parts = key.split()
  return dict(zip(('dataset', 'cell', 'curriculum', 'readout'), parts + ['?'] * 4))


def key_of(dataset='mnist', cell='gru', curriculum='decu', readout='sigmoid'):
  return f'{dataset} {cell} {curriculum} {readout}'


def by_condition(runs, read):
  """``{condition_key: [read(workdir) ...]}`` over ``runs`` where ``read`` is not None."""
  out = {}
  for w, key in runs:
    value = read(w)
    if value is not None:
      out.setdefault(key, []).append(value)
  return dict(sorted(out.items()))


def evaluation(workdir):
  """The run's ``eval.json`` (None without a test entry)."""
  table = read_json(os.path.join(workdir, 'eval.json'))
  return table if table and 'test' in table else None


def training_seconds(records):
  """Seconds spent in training steps, over every session of a run, from its train records.

  Each record's ``steps_per_sec`` is the rate since its session began training at
  ``session_start_step``, so ``(step - session_start_step) / steps_per_sec`` is that
  session's time so far and a session's last record gives its total. Records written
  before ``session_start_step`` was logged count ``(step - previous step) / steps_per_sec``
  (exact at a steady rate). Start-up, evaluation and checkpoint writes are not included.

  Args:
    records: the ``split == 'train'`` records of ``metrics.jsonl``, in order.

  Returns:
    The seconds (float), or None without any record that has a rate.
  """
  total, seen, previous, session, elapsed = 0.0, False, 0, None, 0.0
  for r in records:
    rate, step = r.get('steps_per_sec'), r.get('step', 0)
    if not rate:
      continue
    seen = True
    start = r.get('session_start_step')
    if start is None:
      total += (step - previous) / rate
    else:
      if session != start or step <= previous:  # a new session began
        total, session = total + elapsed, start
      elapsed = (step - start) / rate
    previous = step
  return total + elapsed if seen else None


def slow_point_classes(workdir, method):
  """The per-class table of the run's class slow points of ``method`` ('paper' or
  'refined'), or None."""
  table = read_json(os.path.join(workdir, 'analysis', SLOWPOINT_FILES[method] + '.json'))
  return table.get('classes') if table and table.get('classes') else None


def class_accuracy_at(workdir, delay, name='extrapolation'):
  """``[C]`` class accuracies at ``delay`` from the run's ``analysis/<name>.json`` (fixed
  protocol), or None when that delay was not measured."""
  table = read_json(os.path.join(workdir, 'analysis', name + '.json'))
  if not table or delay not in table.get('delays', []):
    return None
  row = table['per_class'][table['delays'].index(delay)]
  return np.asarray([np.nan if a is None else a for a in row], np.float64)


def pairs(conditions):
  """``{(dataset, cell, readout): (decu_key, vocu_key)}`` of the condition keys present."""
  out = {}
  for key in conditions:
    k = split_key(key)
    if k['curriculum'] == 'decu':
      other = key_of(k['dataset'], k['cell'], 'vocu', k['readout'])
      if other in conditions:
        out[(k['dataset'], k['cell'], k['readout'])] = (key, other)
  return dict(sorted(out.items()))


def summary_at(summary, index):
  """``(mean, sem, n)`` at ``index`` of a ``stats.summarize`` dict of lists (None for
  missing or non-finite values)."""
  pick = lambda v: v[index] if isinstance(v, list) else v  # noqa: E731
  finite = lambda x: None if x is None or not np.isfinite(x) else float(x)  # noqa: E731
  return (finite(pick(summary['mean'])), finite(pick(summary['sem'])),
          int(pick(summary['n']) or 0))
