"""Branching of VoCu slow points (paper Figs. 5C-E and 8), drawn from saved files only.

* ``plot_run(workdir)``: ``analysis/branching.json`` -> ``figures/branching.png``. Left,
  the branching diagram (Fig. 5C): one line per class from its introduction, the readout of
  the new class's tracked point along each short backtrack (dots at the class it reads out
  as; null below 0), and an arrow from the spawning class to the new one at tau_i. Right,
  each event's accuracy change under doubled noise variance for the spawning class and the
  mean of the other existing classes (Fig. 5D, one pair per event).
* ``plot_summary(out)``: ``<out>/analysis/branching.json`` (``branching.aggregate``) ->
  ``<out>/figures/branching.png``: histogram over all events of delta_spawner -
  delta_others with the paired tests (Fig. 5E / 8).
"""

import os

from matplotlib.figure import Figure
import numpy as np

from memrnn_tf import files
from memrnn_tf.plots import backtrack as bt_plots


def _read(directory):
  return files.require_json(os.path.join(directory, 'analysis', 'branching.json'),
                            'bin/branching.py')


def plot_run(workdir):
  """Branching diagram and per-event accuracy changes of one run; returns the PNG path."""
  s = _read(workdir)
  fig = Figure(figsize=(12, 4.6))
  ax = fig.add_subplot(1, 2, 1)
  n = s['num_steps']
  events = s['events']
  start_of = {}
  for e in events:
    for c in e['existing']:
      start_of.setdefault(c, 0)
    start_of[e['new_class']] = e['tau']
  for c, start in start_of.items():
    ax.plot([start, n], [c, c], color=f'C{c % 10}', lw=2, alpha=0.6)
  for e in events:
    steps = e['steps']['track']
    ax.scatter(steps, e['new_readout_trajectory'], s=10, color=f'C{e["new_class"] % 10}',
               zorder=3)
    ax.annotate('', xy=(e['tau'], e['new_class']), xytext=(e['tau'], e['spawner']),
                arrowprops=dict(arrowstyle='->', color='k', lw=1.2))
  ax.set_yticks(range(-1, s['num_classes']))
  ax.set_yticklabels(['null'] + [str(c) for c in range(s['num_classes'])])
  ax.set_xlabel('training step')
  ax.set_ylabel('class (read out)')
  bt_plots.mark_stages(ax, s['marks'], kinds=('class',))
  ax.set_title('branching: arrow = spawning class -> new class', fontsize=9, pad=28)

  ax = fig.add_subplot(1, 2, 2)
  x = np.arange(len(events))
  spawn = [e['delta_spawner'] for e in events]
  others = [np.nan if e['delta_others'] is None else e['delta_others'] for e in events]
  ax.bar(x - 0.2, spawn, 0.4, label='spawning class', color='C3')
  ax.bar(x + 0.2, others, 0.4, label='other existing (mean)', color='0.6')
  ax.axhline(0, color='k', lw=0.6)
  ax.set_xticks(x)
  ax.set_xticklabels([f'{e["new_class"]}<-{e["spawner"]}' for e in events], fontsize=8)
  ax.set_xlabel('event (new <- spawner)')
  ax.set_ylabel('accuracy change (pre -> post), noise x sqrt(2)')
  t = s['test']
  ax.set_title(f'{s["weights"]} weights; Wilcoxon p={_p(t["wilcoxon_p"])}', fontsize=9)
  ax.legend(fontsize=8)
  return bt_plots._save(fig, workdir, 'branching')  # pylint: disable=protected-access


def _p(p):
  return 'n/a' if p is None else f'{p:.2g}'


def plot_summary(out):
  """Histogram over all events of delta_spawner - delta_others, one panel per recurrent
  cell (000 Fig. 5E for GRUs, Fig. 8 for LSTMs); returns the PNG path."""
  s = _read(out)
  # Aggregates written before the per-cell split have one pooled group.
  groups = s.get('by_cell') or {'all': {'num_runs': s['num_runs'], 'test': s['test']}}
  fig = Figure(figsize=(6 * len(groups), 4.2))
  for i, (cell, g) in enumerate(sorted(groups.items())):
    ax = fig.add_subplot(1, len(groups), i + 1)
    d = np.asarray([e['delta_spawner'] - e['delta_others'] for e in s['events']
                    if e['delta_others'] is not None and e.get('cell', 'all') == cell])
    if d.size:
      lim = max(np.max(np.abs(d)), 1e-3)
      ax.hist(d, bins=np.linspace(-lim, lim, 17), color='C3', edgecolor='k')
    ax.axvline(0, color='k', lw=0.8)
    t = g['test']
    ax.set_xlabel('accuracy change: spawning class - mean of the other classes')
    ax.set_ylabel('events')
    ax.set_title(f'{cell.upper()}: {g["num_runs"]} VoCu runs, {t["n"]} events '
                 f'({", ".join(s["weights"])}): {t["n_negative"]} < 0, {t["n_positive"]} > 0\n'
                 f'Wilcoxon p={_p(t["wilcoxon_p"])}, sign p={_p(t["sign_test_p"])}, '
                 f'permutation p={_p(t["permutation_p"])} (one-sided)', fontsize=8)
  fig.tight_layout()
  return bt_plots._save(fig, out, 'branching')  # pylint: disable=protected-access
