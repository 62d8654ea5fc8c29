"""Accuracy against delay after speed regularisation (paper Figs. 6 and 9), from saved files.

Reads ``<workdir>/analysis/regularization.json`` (written by ``memrnn_tf.regularize``) and
``<workdir>/config.json`` of each run; never recomputes anything. Runs are grouped into
panels by (cell, curriculum) of their source network and into arms (control, slow-point
targets, centre-of-mass targets) within a panel; each arm is the mean +- SEM over its
networks, and its legend gives the median class slow-point speed after regularisation
(geometric mean over networks), as in the paper's legend brackets.
"""

import collections
import json
import os

import numpy as np

from memrnn_tf import errors
from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import stats

ARMS = ('control', 'slow_points', 'centres')
_STYLE = {'control': ('-', 'control'), 'slow_points': (':', 'slow-point targets'),
          'centres': ('--', 'centre-of-mass targets')}


def expand_workdirs(patterns):
  """Workdirs from names or glob patterns, keeping those with a regularization.json."""
  return multirun.workdirs_with(patterns, os.path.join('analysis', 'regularization.json'))


def load_runs(workdirs):
  """``{(cell, curriculum): {arm: [summary, ...]}}`` from the runs' saved files."""
  groups = collections.defaultdict(lambda: collections.defaultdict(list))
  for w in workdirs:
    with open(os.path.join(w, 'analysis', 'regularization.json')) as f:
      summary = json.load(f)
    with open(os.path.join(w, 'config.json')) as f:
      config = json.load(f)
    summary['workdir'] = w
    key = (config['model']['cell'], config['curriculum'])
    groups[key][summary['arm']].append(summary)
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


def plot_regularization(workdirs, path):
  """Draws one panel per (cell, curriculum): accuracy vs delay per arm, mean +- SEM.

  Args:
    workdirs: regularisation runs (``bin/regularize.py --out``).
    path: output ``.png``.

  Returns:
    ``path``.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  groups = load_runs(workdirs)
  if not groups:
    raise errors.ConfigError('no regularization.json in the given workdirs: run bin/regularize.py')
  keys = sorted(groups)
  fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4), squeeze=False)
  for ax, key in zip(axes[0], keys):
    arms = groups[key]
    entries = [('before', _before(arms), ('-', 'before'), 'grey')]
    entries += [(arm, aggregate(arms[arm]), _STYLE[arm], f'C{i}')
                for i, arm in enumerate(ARMS) if arms.get(arm)]
    for _, a, (style, label), color in entries:
      d, m, e = (np.asarray(a[k]) for k in ('delays', 'accuracy', 'accuracy_sem'))
      ax.plot(d, m, style, color=color, marker='o', ms=3,
              label=f'{label} (S={a["speed"]:.1e}, n={a["n"]})')
      ax.fill_between(d, m - e, m + e, color=color, alpha=0.2)
    ax.set_xscale('log')
    ax.set_ylim(0, 1.02)
    ax.set_xlabel('delay (steps)')
    ax.set_ylabel('accuracy')
    ax.set_title(f'{key[0].upper()} {key[1]}')
    ax.legend(fontsize=7, loc='lower left')
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path
