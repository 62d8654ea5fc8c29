"""Speed regularisation over networks (paper Figs. 6 and 9): the saved runs, aggregated.

Reads ``<workdir>/analysis/regularization.json`` (written by ``memrnn_tf.regularize``) and
``<workdir>/config.json`` of each run. Runs are grouped into panels by (cell, curriculum)
of their source network and into arms (control, slow-point targets, centre-of-mass
targets) within a panel; each arm is the mean +- SEM over its networks with the median
class slow-point speed after regularisation (geometric mean over networks), as in the
paper's legend brackets. ``write_summary`` saves the aggregates that
``memrnn_tf.plots.regularization`` draws; the report reads ``table``.
"""

import collections
import os

import numpy as np

from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import stats

ARMS = ('control', 'slow_points', 'centres')
_NAME = os.path.join('analysis', 'regularization.json')


def expand_workdirs(patterns):
  """Workdirs from names or glob patterns, keeping those with a regularization.json."""
  return multirun.workdirs_with(patterns, _NAME)


def load_runs(workdirs):
  """``{(cell, curriculum): {arm: [summary, ...]}}`` from the runs' saved files."""
  groups = collections.defaultdict(lambda: collections.defaultdict(list))
  for summary, config in multirun.read_runs(workdirs, _NAME, 'bin/regularize.py'):
    groups[(config['model']['cell'], config['curriculum'])][summary['arm']].append(summary)
  return groups


def _mean_sem(rows):
  """Mean and SEM over networks ``[N, ...]``; the SEM of a single network is drawn as 0."""
  mean, sem, n = stats.mean_sem(rows, axis=0)
  return mean, np.where(n > 1, sem, 0.0)


def aggregate(summaries, when='after'):
  """Mean +- SEM over networks of one arm.

  Returns:
    Dict: ``n``, ``delays``, ``accuracy``/``accuracy_sem`` ``[D]``, ``nominal``/
    ``nominal_sem`` (test), ``speed`` (geometric mean of the per-network median
    slow-point speed) and ``log10_speed_sem``.
  """
  delays = summaries[0]['extrapolation'][when]['delays']
  acc = []
  for s in summaries:
    curve = dict(zip(s['extrapolation'][when]['delays'], s['extrapolation'][when]['accuracy']))
    acc.append([curve[d] for d in delays])
  acc, acc_sem = _mean_sem(acc)
  nominal, nominal_sem = _mean_sem([[s['nominal'][when]['test']] for s in summaries])
  logs = np.log10([s['slow_point_speeds'][when]['median'] for s in summaries])
  log_mean, log_sem = _mean_sem(logs[:, None])
  return {'n': len(summaries), 'delays': list(delays), 'accuracy': acc.tolist(),
          'accuracy_sem': acc_sem.tolist(), 'nominal': float(nominal[0]),
          'nominal_sem': float(nominal_sem[0]), 'speed': float(10 ** log_mean[0]),
          'log10_speed_sem': float(log_sem[0])}


def _before(arms):
  """One 'before' entry per source network (all arms start from the same ones)."""
  by_source = {}
  for summaries in arms.values():
    for s in summaries:
      by_source.setdefault(s['source'], s)
  return aggregate(list(by_source.values()), when='before')


def table(groups):
  """Rows (panel, arm, aggregate) including each panel's 'before'."""
  rows = []
  for key in sorted(groups):
    arms = groups[key]
    rows.append((key, 'before', _before(arms)))
    rows.extend((key, arm, aggregate(arms[arm])) for arm in ARMS if arms.get(arm))
  return rows


def format_table(rows, delays=(100, 500, 1000)):
  """Text table: nominal test accuracy, accuracy at ``delays`` and slow-point speed."""
  lines = [f'{"panel":>10} {"arm":>12} {"n":>2} {"nominal":>15} ' +
           ' '.join(f'{"d=" + str(d):>15}' for d in delays) + f' {"speed":>9}']
  for (cell, curriculum), arm, a in rows:
    at = dict(zip(a['delays'], zip(a['accuracy'], a['accuracy_sem'])))
    cells = ' '.join(f'{at[d][0]:7.3f}+-{at[d][1]:5.3f}' if d in at else f'{"-":>15}'
                     for d in delays)
    lines.append(f'{cell + "/" + curriculum:>10} {arm:>12} {a["n"]:>2} '
                 f'{a["nominal"]:7.4f}+-{a["nominal_sem"]:6.4f} {cells} {a["speed"]:9.2e}')
  return '\n'.join(lines)


def write_summary(workdirs, path):
  """Aggregates the runs and writes the figure's numbers to ``path`` (JSON).

  The file holds ``workdirs`` and ``panels``: per (cell, curriculum) ``cell``,
  ``curriculum`` and ``arms``, a list of ``{'arm': 'before' | one of ARMS, **aggregate}``.

  Returns:
    ``path``.

  Raises:
    ConfigError: if no run has a ``regularization.json``.
  """
  return multirun.write_summary(
      path, workdirs, load_runs(workdirs), _panels,
      'no regularization.json in the given workdirs: run bin/regularize.py')


def _panels(groups):
  panels = collections.defaultdict(list)
  for key, arm, a in table(groups):
    panels[key].append(dict(arm=arm, **a))
  return {'panels': [{'cell': cell, 'curriculum': curriculum, 'arms': arms}
                     for (cell, curriculum), arms in panels.items()]}
