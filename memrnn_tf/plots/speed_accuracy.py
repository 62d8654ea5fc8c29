"""Fig. 4: class slow-point speed (log) against the class's accuracy at the long delay,
drawn from saved results only (``speed_accuracy.speed_accuracy_runs``).

``plot_summary(out_dir)`` draws every network of ``speed_accuracy_summary.json``, one
colour per condition, with the pooled correlations in the legend; ``plot_run(workdir)``
one network from ``speed_accuracy.json``.
"""

import matplotlib.pyplot as plt

from memrnn_tf.analysis import stats
from memrnn_tf.plots import common

_COMMAND = 'python bin/speed_accuracy.py --workdirs=...'


def _label(name, corr):
  return f'{name}: {stats.format_correlation(corr)}'


def _axes(ax, where):
  ax.set_xlabel('log10 slow-point speed')
  ax.set_ylabel(f'class accuracy ({where})')
  ax.axhline(common.CHANCE, color='gray', ls=':', lw=1)
  ax.set_ylim(-0.02, 1.02)


def plot_summary(out_dir, path=None, name='speed_accuracy'):
  """Returns the PNG path (default ``<out_dir>/figures/<name>_summary.png``; ``name`` is
  ``speed_accuracy`` or ``speed_accuracy_tmax``)."""
  s = common.read_json(out_dir, f'{name}_summary', _COMMAND)
  fig, ax = plt.subplots(figsize=(6.5, 4.5))
  for key, cond in s['conditions'].items():
    nets = [n for n in s['networks'] if n['condition'] == key]
    x = [v for n in nets for v in n['log10_speed']]
    y = [v for n in nets for v in common.as_float(n['accuracy'])]
    ax.scatter(x, y, s=14, alpha=0.8, label=_label(f'{key} (N={len(nets)})', cond['pooled']))
  _axes(ax, f'{s["protocol"]} {s["delay"]}')
  ax.set_title(_label('all pooled', s['pooled']), fontsize=8)
  ax.legend(fontsize=6, loc='upper center', bbox_to_anchor=(0.5, -0.14))
  return common.save(fig, path or common.figure_path(out_dir, f'{name}_summary'))


def plot_run(workdir, path=None, name='speed_accuracy'):
  """One network's classes; returns the PNG path (``<workdir>/figures/<name>.png``)."""
  n = common.read_json(workdir, name, _COMMAND)
  fig, ax = plt.subplots(figsize=(5, 4))
  acc = common.as_float(n['accuracy'])
  ax.scatter(n['log10_speed'], acc, s=20)
  for k, (x, y) in enumerate(zip(n['log10_speed'], acc)):
    ax.annotate(str(k), (x, y), fontsize=7)
  _axes(ax, f'{n["protocol"]} {n["delay"]}')
  ax.set_title(_label(n['condition'], n['correlations']), fontsize=7)
  return common.save(fig, path or common.figure_path(workdir, name))
