"""``publish(root, out)``: a reproduction's report and the small files behind it, for a
repository (``results/<variant>/``).

Copies ``report.md`` and ``report.json`` (paths inside the root written as ``<root>/...``,
so the published text names no machine's directories), the figures, the aggregate
summaries, every run's small JSON files (``config.json``, ``eval.json``,
``analysis/*.json``) and writes ``runs.json``: one entry per trained network with its
condition, protocol, training time and ``eval.json`` numbers. Never weights, checkpoints,
snapshots or ``.npz`` arrays: a published result can be diffed against a rerun, not
loaded as a network.
"""

import glob
import json
import os
import shutil

from memrnn_tf import files
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.reproduce import inputs

_TRAIN_PREFIX = 'train_'


def _relative(text, root):
  """``text`` with the absolute ``root`` (and the working directory) made relative."""
  text = text.replace(root + os.sep, '<root>/').replace(root, '<root>')
  cwd = os.getcwd()
  if cwd == os.sep:
    return text
  return text.replace(cwd + os.sep, '').replace(cwd, '.')


def _copy_json(src, dst, root):
  with open(src) as f:
    files.write_text(dst, _relative(f.read(), root))


def runs_table(repro):
  """One entry per network of the training stages (JSON-ready dicts)."""
  out = []
  for name in (n for n in repro.stages if n.startswith(_TRAIN_PREFIX)):
    for w in repro.workdirs([name]):
      config = inputs.read_json(os.path.join(w, 'config.json'))
      if not config:
        continue
      model = config.get('model', {})
      out.append({
          'run': os.path.relpath(w, repro.root), 'stage': name,
          'dataset': config.get('dataset'), 'cell': model.get('cell'),
          'units': model.get('units'), 'curriculum': config.get('curriculum'),
          'readout': 'sigmoid' if model.get('readout_sigmoid') else 'logits',
          'seed': config.get('seed'), 'num_steps': config.get('num_steps'),
          'batch_size': config.get('batch_size'),
          'learning_rate': config.get('learning_rate'),
          'training_seconds': inputs.training_seconds(
              workdir_lib.read_metrics(w, split='train')),
          'eval': inputs.evaluation(w)})
  return out


def publish(root, out):
  """Copies the report of ``root`` and its small inputs to ``out`` (replaced if present).

  Args:
    root: a reproduction's root (with ``report.md``: run ``write_report`` first).
    out: destination directory, e.g. ``results/cpu``.

  Returns:
    The published ``report.md`` path.

  Raises:
    FileNotFoundError: when ``root`` has no report.
  """
  root = os.path.abspath(root)
  report = os.path.join(root, 'report.md')
  if not os.path.exists(report):
    raise FileNotFoundError(f'{report} not found: write the report first (bin/reproduce.py)')
  repro = inputs.Reproduction.load(root)
  if os.path.isdir(out):
    shutil.rmtree(out)
  os.makedirs(out)
  with open(report) as f:
    files.write_text(os.path.join(out, 'report.md'), _relative(f.read(), root))
  for name in ('report.json', 'reproduce.json'):
    if os.path.exists(os.path.join(root, name)):
      _copy_json(os.path.join(root, name), os.path.join(out, name), root)
  if os.path.isdir(os.path.join(root, 'figures')):
    shutil.copytree(os.path.join(root, 'figures'), os.path.join(out, 'figures'))
  for path in glob.glob(os.path.join(root, 'aggregate', '*', 'analysis', '*.json')):
    _copy_json(path, os.path.join(out, os.path.relpath(path, root)), root)
  workdirs = {w for s in repro.stages.values() for w in s.get('workdirs', [])}
  for w in sorted(workdirs):
    if not w.startswith(root + os.sep):
      continue
    paths = [os.path.join(w, n) for n in ('config.json', 'eval.json')]
    paths += glob.glob(os.path.join(w, 'analysis', '*.json'))
    for path in paths:
      if os.path.exists(path):
        _copy_json(path, os.path.join(out, 'runs', os.path.relpath(path, root)), root)
  files.write_text(os.path.join(out, 'runs.json'),
         _relative(json.dumps(runs_table(repro), indent=1), root))
  return os.path.join(out, 'report.md')
