"""Slow-point speeds through training (paper Fig. 5A,B), drawn from saved files only.

* ``plot_run(workdir)``: ``analysis/backtrack.{json,npz}`` -> ``figures/backtrack.png``:
  the speed of every class's tracked point against the training step (log scale), replayed
  intermediate steps as small dots, the curriculum's stages marked (``tau_i : c_i`` for
  VoCu, ``tau_i : T_max,i`` for DeCu, tau in paper k-steps).
* ``plot_summary(out)``: ``<out>/analysis/backtrack.{json,npz}`` (``backtrack.aggregate``)
  -> ``<out>/figures/backtrack.png``: per curriculum, the class-mean log10 speed of every
  run and their mean +- SEM.
"""

import os

from matplotlib.figure import Figure
import numpy as np

from memrnn_tf import files


def _read(directory, name):
  path = os.path.join(directory, 'analysis', name)
  command = f'bin/{name}.py'
  return files.require_json(path + '.json', command), files.require_npz(path + '.npz', command)


def _save(fig, directory, name):
  path = os.path.join(directory, 'figures', f'{name}.png')
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fig.savefig(path, dpi=120, bbox_inches='tight')
  return path


def mark_stages(ax, marks, kinds=('class', 't_max')):
  """Vertical lines at the curriculum's changes, labelled ``tau:value`` on top."""
  for m in marks:
    if m['kind'] not in kinds:
      continue
    ax.axvline(m['step'], color='0.6', lw=0.8, ls='--', zorder=0)
    ax.text(m['step'], 1.01, m['label'], transform=ax.get_xaxis_transform(), rotation=90,
            fontsize=7, ha='center', va='bottom', color='0.3')


def plot_run(workdir, floor=None):
  """Speeds of the tracked class slow points of one run; returns the PNG path."""
  summary, a = _read(workdir, 'backtrack')
  floor = summary['tol'] if floor is None else floor
  order = np.argsort(a['steps'])
  steps, speeds, snap = a['steps'][order], a['speeds'][order], a['is_snapshot'][order]
  fig = Figure(figsize=(7.5, 4.2))
  ax = fig.add_subplot(1, 1, 1)
  colors = [f'C{i}' for i in range(10)]
  for c in range(speeds.shape[1]):
    color = colors[c % len(colors)]
    ax.plot(steps, np.maximum(speeds[:, c], floor), '-', color=color, lw=1.1, label=str(c))
    ax.plot(steps[snap], np.maximum(speeds[snap, c], floor), 'o', color=color, ms=2.5)
  ax.set_yscale('log')
  ax.set_xlabel('training step')
  ax.set_ylabel('slow-point speed S (floored at the search tol)')
  mark_stages(ax, summary['marks'])
  ref = summary['refinement']
  jump = summary['jump_statistic']
  ratio = jump.get('ratio_of_medians')
  ax.set_title(f'{summary["curriculum"]}: {ref["num_jumped"]}/{ref["transitions"]} snapshot '
               f'intervals jumped (refinement: {ref["status"][:20]}); median |dlog S| at '
               f'changes / elsewhere = '
               f'{"n/a" if ratio is None else f"{ratio:.2f}"}', fontsize=9, pad=28)
  ax.legend(title='class', fontsize=7, ncol=2, loc='best')
  return _save(fig, workdir, 'backtrack')


def plot_summary(out):
  """Per-curriculum mean +- SEM of the class-mean log10 speed; returns the PNG path."""
  summary, a = _read(out, 'backtrack')
  curs = sorted(summary['curricula'])
  fig = Figure(figsize=(6.5 * len(curs), 4.2))
  for i, cur in enumerate(curs):
    info = summary['curricula'][cur]
    ax = fig.add_subplot(1, len(curs), i + 1)
    steps, logs = a[f'{cur}_steps'], a[f'{cur}_log10_speed']
    for row in logs:
      ax.plot(steps, row, color='0.75', lw=0.8)
    mean, sem = a[f'{cur}_mean'], a[f'{cur}_sem']
    ax.plot(steps, mean, color='C3' if cur == 'vocu' else 'C0', lw=2, label='mean')
    ax.fill_between(steps, mean - np.nan_to_num(sem), mean + np.nan_to_num(sem),
                    color='C3' if cur == 'vocu' else 'C0', alpha=0.3, label='+- SEM')
    mark_stages(ax, info['marks'], kinds=('class',) if cur == 'vocu' else ('t_max',))
    pooled = info['jump_statistic_pooled']
    ratio, p = pooled['ratio_of_medians'], pooled['mannwhitney_p']
    ax.set_title(f'{cur} (N={info["n"]}): median |dlog10 S| at changes / elsewhere = '
                 f'{"n/a" if ratio is None else f"{ratio:.2f}"} '
                 f'(p={"n/a" if p is None else f"{p:.2g}"})', fontsize=8, pad=28)
    ax.set_xlabel('training step')
    ax.set_ylabel('log10 speed (mean over classes)')
    ax.legend(fontsize=7)
  return _save(fig, out, 'backtrack')
