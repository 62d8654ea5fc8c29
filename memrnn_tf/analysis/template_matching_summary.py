"""Delayed template matching over networks (paper supplement A, Fig. 7): saved runs, aggregated.

Reads ``<workdir>/analysis/template_matching.json`` (``bin/template_matching.py``) and
``<workdir>/config.json`` of each run, grouped by cell. Per cell: same/different accuracy
against delay (mean +- SEM over networks), the fraction of trials answered null, each
class's slow-point speed and its accuracy at the cell's long delay (``long_delay``), and
the per-network Spearman rho as mean +- SEM over networks, the statistic that
``memrnn_tf.reproduce.claims`` tests. ``write_summary`` saves the aggregates that
``memrnn_tf.plots.template_matching`` draws.
"""

import collections
import os

import numpy as np

from memrnn_tf import errors
from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import stats

_NAME = os.path.join('analysis', 'template_matching.json')


def expand_workdirs(patterns):
  """Workdirs from names or glob patterns, keeping those with a template_matching.json."""
  return multirun.workdirs_with(patterns, _NAME)


def load_runs(workdirs):
  """``{cell: [analysis dict with 'workdir' added, ...]}`` from the runs' saved files."""
  groups = collections.defaultdict(list)
  for summary, config in multirun.read_runs(workdirs, _NAME, 'bin/template_matching.py'):
    groups[config['model']['cell']].append(summary)
  return dict(groups)


def long_delay(summaries):
  """The longest delay at which every network has a speed-accuracy correlation, or None.

  (A network whose class accuracies are all equal at a delay, e.g. all 0, has none there.)
  """
  shared = set.intersection(*[set(map(int, s.get('correlations', {}))) for s in summaries])
  return max(shared) if shared else None


def aggregate(summaries, delay=None):
  """Mean +- SEM over the networks of one cell.

  Args:
    summaries: ``template_matching.json`` dicts of one cell.
    delay: the delay of the speed-accuracy correlation (default: ``long_delay``, else the
      longest common delay).

  Returns:
    Dict: ``n``, ``delays`` (common to all networks), ``accuracy``/``accuracy_sem``
    ``[D]``, ``null_answers`` ``[D]`` (mean fraction of trials answered null; None unless
    every network's file has ``answer_fractions``), ``delay``, ``spearman`` (per
    network), ``spearman_mean``/``spearman_sem``, and per class of every network
    ``log10_speed``/``class_accuracy`` ``[N * classes]``.
  """
  delays = sorted(set.intersection(*[set(s['delays']) for s in summaries]))
  if not delays:
    raise errors.ConfigError('the template-matching runs share no delay: rerun '
                             'bin/template_matching.py with the same --delays')
  delay = delay or long_delay(summaries) or delays[-1]
  curves = [dict(zip(s['delays'], s['accuracy'])) for s in summaries]
  mean, sem, _ = stats.mean_sem([[c[d] for d in delays] for c in curves], axis=0)
  rhos = [s['correlations'][str(delay)]['spearman'] for s in summaries
          if str(delay) in s['correlations']]
  rho_mean, rho_sem, _ = stats.mean_sem(rhos) if rhos else (np.nan, np.nan, 0)  # SEM: N >= 2
  speeds, accs = [], []
  for s in summaries:
    i = s['delays'].index(delay)
    for c in s['classes']:
      speeds.append(np.log10(max(c['speed'], 1e-30)))
      accs.append(c['accuracy'][i])
  # What the networks answer (older analysis files lack it): the fraction of null answers.
  null = [[dict(zip(s['delays'], s['answer_fractions']))[d][0] for d in delays]
          for s in summaries if s.get('answer_fractions')]
  null_mean = (np.asarray(stats.mean_sem(null, axis=0)[0]).tolist()
               if len(null) == len(summaries) else None)
  return {'n': len(summaries), 'delays': delays, 'accuracy': np.asarray(mean).tolist(),
          'null_answers': null_mean,
          'accuracy_sem': np.nan_to_num(np.asarray(sem)).tolist(), 'delay': delay,
          'spearman': rhos, 'spearman_mean': float(rho_mean), 'spearman_sem': float(rho_sem),
          'log10_speed': speeds, 'class_accuracy': accs}


def format_table(groups):
  """Text table: per cell, N, accuracy at each common delay and the mean Spearman rho."""
  lines = []
  for cell in sorted(groups):
    a = aggregate(groups[cell])
    curve = ' '.join(f'd={d}: {m:.3f}+-{e:.3f}' for d, m, e in
                     zip(a['delays'], a['accuracy'], a['accuracy_sem']))
    lines.append(f'{cell} (N={a["n"]}) {curve}; Spearman rho at d={a["delay"]}: '
                 f'{a["spearman_mean"]:+.2f}+-{a["spearman_sem"]:.2f}')
  return '\n'.join(lines)


def write_summary(workdirs, path):
  """Aggregates the runs per cell and writes the figure's numbers to ``path`` (JSON).

  The file holds ``workdirs`` and ``cells``: ``{cell: aggregate(...)}`` at each cell's
  ``long_delay``.

  Returns:
    ``path``.

  Raises:
    ConfigError: if no run has a ``template_matching.json``.
  """
  return multirun.write_summary(
      path, workdirs, load_runs(workdirs),
      lambda groups: {'cells': {cell: aggregate(groups[cell]) for cell in sorted(groups)}},
      'no analysis/template_matching.json in the given workdirs: run bin/template_matching.py')
