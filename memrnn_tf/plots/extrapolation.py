"""Fig. 2: accuracy against delay (and noise), drawn from saved results only.

* ``plot_summary(out_dir)``: from ``<out_dir>/analysis/extrapolation_summary.json``
  (``extrapolation.extrapolate_runs``): one panel per delay protocol with one curve per
  condition (mean +- SEM over networks, shaded), a noise panel when noise scales were
  measured, and the second-retrieval accuracies as bars.
* ``plot_per_class(out_dir)``: one panel per condition and protocol, one curve per class
  (mean over networks).
* ``plot_run(workdir)``: the curves saved in one run's ``analysis/extrapolation*.json``.
"""

import glob
import os

import matplotlib.pyplot as plt
import numpy as np

from memrnn_tf import files
from memrnn_tf.plots import common

_COMMAND = 'python bin/extrapolate.py --workdirs=...'
_XLABEL = {'fixed': 'delay t_a - t_s', 'tmax': 'T_max (trials drawn as in training)'}


def _curve(ax, x, mean, sem, label):
  mean = common.as_float(mean)
  line, = ax.plot(x, mean, marker='o', ms=3, label=label)
  if sem is not None:
    sem = np.nan_to_num(common.as_float(sem))
    ax.fill_between(x, mean - sem, mean + sem, color=line.get_color(), alpha=0.25, lw=0)


def _delay_axes(ax, protocol, trained=19):
  ax.set_xscale('log')
  ax.axhline(common.CHANCE, color='gray', ls=':', lw=1)
  ax.axvline(trained, color='gray', ls='--', lw=1)
  ax.set_ylim(0, 1.02)
  ax.set_xlabel(_XLABEL.get(protocol, protocol))
  ax.set_ylabel('digit accuracy')
  ax.set_title(f'{protocol} protocol')


def plot_summary(out_dir, path=None):
  """Fig. 2 of an ``extrapolate_runs`` summary; returns the PNG path
  (default ``<out_dir>/figures/extrapolation_summary.png``)."""
  summary = common.read_json(out_dir, 'extrapolation_summary', _COMMAND)
  protocols = summary['protocols']
  extra = ('noise' in summary) + ('second_retrieval' in summary)
  ncols = len(protocols) + extra
  fig, axes = plt.subplots(1, ncols, figsize=(4.5 * ncols, 3.6), squeeze=False)
  axes = list(axes[0])
  for ax, (protocol, conds) in zip(axes, protocols.items()):
    for key, c in conds.items():
      _curve(ax, c['delays'], c['accuracy']['mean'], c['accuracy']['sem'],
             f'{key} (N={max(c["accuracy"]["n"])})')
    _delay_axes(ax, protocol)
    ax.legend(fontsize=7)
  axes = axes[len(protocols):]
  if 'noise' in summary:
    ax = axes.pop(0)
    for key, c in summary['noise'].items():
      mean = common.as_float(c['accuracy']['mean'])  # [S, D]
      sem = common.as_float(c['accuracy']['sem'])
      j = len(c['delays']) - 1  # the longest delay measured under noise
      _curve(ax, c['noise_scales'], mean[:, j], sem[:, j], key)
    ax.axhline(common.CHANCE, color='gray', ls=':', lw=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel('noise std / training noise std')
    ax.set_ylabel(f'digit accuracy at delay {c["delays"][j]}')
    ax.set_title('noise extrapolation')
    ax.legend(fontsize=7)
  if 'second_retrieval' in summary:
    ax = axes.pop(0)
    conds = summary['second_retrieval']
    x = np.arange(len(conds))
    for k, field in enumerate(('first', 'second')):
      ax.bar(x + 0.4 * k - 0.2, [c[field]['mean'] for c in conds.values()], 0.4,
             yerr=[c[field]['sem'] or 0 for c in conds.values()], label=f'{field} trigger')
    ax.set_xticks(x, list(conds), rotation=20, fontsize=7)
    ax.set_ylim(0, 1.02)
    p = summary['params']
    ax.set_title(f'second retrieval (triggers at {p["first_delay"]}, '
                 f'{p["first_delay"] + p["gap"]})')
    ax.legend(fontsize=7)
  fig.tight_layout()
  return common.save(fig, path or common.figure_path(out_dir, 'extrapolation_summary'))


def plot_per_class(out_dir, path=None):
  """Per-class curves (mean over networks), one panel per condition and protocol."""
  summary = common.read_json(out_dir, 'extrapolation_summary', _COMMAND)
  panels = [(p, k, c) for p, conds in summary['protocols'].items() for k, c in conds.items()]
  fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
  for ax, (protocol, key, c) in zip(axes[0], panels):
    mean = common.as_float(c['per_class']['mean'])  # [D, C]
    colours = plt.get_cmap('tab10')
    for k in range(mean.shape[1]):
      ax.plot(c['delays'], mean[:, k], marker='o', ms=2, color=colours(k), label=str(k))
    _delay_axes(ax, protocol)
    ax.set_title(f'{key}, {protocol}', fontsize=8)
    ax.legend(fontsize=6, ncol=2, title='class', title_fontsize=6)
  fig.tight_layout()
  return common.save(fig, path or common.figure_path(out_dir, 'extrapolation_per_class'))


def plot_run(workdir, path=None):
  """The delay curves of one run (every ``analysis/extrapolation*.json`` except the
  summary), overall and per class."""
  paths = sorted(f for f in glob.glob(os.path.join(workdir, 'analysis', 'extrapolation*.json'))
                 if not f.endswith('_summary.json'))
  if not paths:
    raise FileNotFoundError(f'no analysis/extrapolation*.json in {workdir}: run python '
                            f'bin/extrapolate.py --workdir={workdir} first')
  fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
  for f in paths:
    r = files.read_json(f)
    name = os.path.basename(f)[:-5]
    _curve(axes[0], r['delays'], r['accuracy'], None, name)
    if name == 'extrapolation':
      per_class = common.as_float(r['per_class'])
      for k in range(per_class.shape[1]):
        axes[1].plot(r['delays'], per_class[:, k], color=plt.get_cmap('tab10')(k),
                     label=str(k))
  _delay_axes(axes[0], 'fixed')
  axes[0].set_xlabel('delay d (fixed) or T_max (tmax)')
  axes[0].set_title('all classes')
  axes[0].legend(fontsize=7)
  _delay_axes(axes[1], 'fixed')
  axes[1].set_title('per class (fixed protocol)')
  axes[1].legend(fontsize=6, ncol=2)
  fig.suptitle(workdir, fontsize=8)
  fig.tight_layout()
  return common.save(fig, path or common.figure_path(workdir, 'extrapolation'))
