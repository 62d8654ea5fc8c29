"""Delayed template matching (paper supplement A, Fig. 7), from saved files only.

Reads ``<workdir>/analysis/template_matching.json`` (``bin/template_matching.py``) and
``<workdir>/config.json`` of each run, grouped by cell. Left: same/different accuracy
against delay, mean +- SEM over networks, and (dashed) the fraction of trials answered
null. Right: each class's slow-point speed (log)
against its accuracy at the cell's long delay (``long_delay``), every network of a cell in
one colour; the legend gives that delay and the per-network Spearman rho as mean +- SEM
over networks, the statistic that ``memrnn_tf.reproduce.claims`` tests.
"""

import collections
import json
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
  for w in workdirs:
    with open(os.path.join(w, _NAME)) as f:
      summary = json.load(f)
    with open(os.path.join(w, 'config.json')) as f:
      config = json.load(f)
    summary['workdir'] = w
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


def plot_template_matching(workdirs, path):
  """Draws accuracy vs delay and speed vs long-delay accuracy, one colour per cell.

  Args:
    workdirs: template-matching runs with ``analysis/template_matching.json``.
    path: output ``.png``.

  Returns:
    ``path``.
  """
  # Imported here: the report (reproduce.claims) reads this module's numbers, not figures.
  from memrnn_tf.plots import common  # pylint: disable=g-import-not-at-top
  plt = common.plt

  groups = load_runs(workdirs)
  if not groups:
    raise errors.ConfigError('no analysis/template_matching.json in the given workdirs: run '
                             'bin/template_matching.py')
  fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
  for i, cell in enumerate(sorted(groups)):
    a = aggregate(groups[cell])
    d, m, e = (np.asarray(a[k]) for k in ('delays', 'accuracy', 'accuracy_sem'))
    left.plot(d, m, marker='o', ms=3, color=f'C{i}', label=f'{cell.upper()} (N={a["n"]})')
    left.fill_between(d, m - e, m + e, color=f'C{i}', alpha=0.2)
    if a['null_answers'] is not None:
      left.plot(d, a['null_answers'], ls='--', color=f'C{i}', lw=1,
                label=f'{cell.upper()}: null answers (fraction of trials)')
    rho = stats.format_mean_sem(a['spearman_mean'], a['spearman_sem'], None, 1.0, 2, '')
    right.scatter(a['log10_speed'], a['class_accuracy'], s=14, alpha=0.8, color=f'C{i}',
                  label=(f'{cell.upper()} (N={a["n"]}), delay {a["delay"]}: Spearman rho per '
                         f'network {rho}'))
  left.set_xscale('log')
  left.set_xlabel('delay between the two stimuli (steps)')
  left.set_ylabel('same / different accuracy; dashed: null answers')
  left.axhline(0.5, color='gray', ls=':', lw=1)
  left.legend(fontsize=7)
  right.set_xlabel('log10 slow-point speed of the first stimulus class')
  right.set_ylabel('class accuracy at the delay in the legend')
  right.axhline(0.5, color='gray', ls=':', lw=1)
  right.legend(fontsize=7, loc='upper center', bbox_to_anchor=(0.5, -0.14))
  fig.suptitle('Delayed template matching (000 Fig. 7)', fontsize=9)
  return common.save(fig, path)
