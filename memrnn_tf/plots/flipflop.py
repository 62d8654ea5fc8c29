"""Figures of the flip-flop study (003), drawn from ``workdir/analysis`` only.

Nothing here recomputes the analysis: every array comes from the files written by
``memrnn_tf.analysis.flipflop.analyse`` (the projections on principal components included).

* ``plot_fixed_points``: test trajectory in the first three PCs, coloured by the target
  output, with the fixed points marked by their number of unstable dimensions (Figs. 2, 6).
* ``plot_eigenvalues``: eigenvalues of W in the complex plane with the unit circle, one
  panel per network (Fig. 4).
* ``plot_triggered_average``: the averaged (-1,-1,-1) -> (-1,-1,+1) switch in the first
  three trajectory PCs, and its own leading PCs against time (Fig. 3).
"""

import itertools
import os

import matplotlib.pyplot as plt
import numpy as np

from memrnn_tf import errors
from memrnn_tf import files
from memrnn_tf.plots import common

# Markers for 0, 1, 2, 3 unstable dimensions; more are red triangles labelled with the count.
_FP_STYLE = {0: dict(marker='o', color='black', label='Fixed point (stable)'),
             1: dict(marker='x', color='tab:blue', label='Saddle (1 unst dim)'),
             2: dict(marker='D', color='tab:green', label='Saddle (2 unst dims)'),
             3: dict(marker='*', color='tab:orange', label='Saddle (3 unst dims)')}
_MANY = dict(marker='^', color='red', label='Saddle (>3 unst dims)')


def _load(workdir, name):
  path = os.path.join(workdir, 'analysis', name)
  arrays = files.read_npz(path)
  if arrays is None:
    raise errors.RunNotFoundError(f'{path} not found: run the analysis first (bin/flipflop.py '
                                  f'--workdir={workdir})')
  return arrays


def _delay(workdir):
  summary = files.read_json(os.path.join(workdir, 'analysis', 'summary.json'))
  return None if summary is None else summary.get('delay')


def _corner_colours(targets):
  """Index 0..7 of the output corner of every row of ``targets [T, C]`` (C <= 3)."""
  bits = (np.asarray(targets) > 0).astype(int)
  return bits @ (2 ** np.arange(bits.shape[1])[::-1])


def plot_fixed_points(workdir, path=None):
  """Test trajectory and fixed points in the first three PCs (003 Figs. 2, 6).

  Returns:
    The PNG path (default ``workdir/figures/fixed_points_pca.png``).
  """
  path = path or os.path.join(workdir, 'figures', 'fixed_points_pca.png')
  traj = _load(workdir, 'trajectories.npz')
  fps = _load(workdir, 'fixed_point_classes.npz')
  proj = traj['projected'][:, :3]
  fig = plt.figure(figsize=(7, 6))
  ax = fig.add_subplot(projection='3d')
  defined = np.all(traj['targets'] != 0, axis=1)
  colours = _corner_colours(traj['targets'][defined])
  ax.plot(*proj.T, color='0.85', lw=0.4, zorder=1)
  ax.scatter(*proj[defined].T, c=colours, cmap='tab10', vmin=0, vmax=9, s=2, alpha=0.5,
             label='Test trajectory (colour: target)')
  fp_proj, n_unstable = fps['projected'][:, :3], fps['n_unstable']
  for k, style in _FP_STYLE.items():
    sel = n_unstable == k
    if np.any(sel):
      ax.scatter(*fp_proj[sel].T, s=60 if k else 40, depthshade=False, **style)
  many = n_unstable > 3
  if np.any(many):
    ax.scatter(*fp_proj[many].T, s=50, depthshade=False, **_MANY)
    for p, k in zip(fp_proj[many], n_unstable[many]):
      ax.text(*p, str(int(k)), color='red', fontsize=7)
  ax.set_xlabel('PC1')
  ax.set_ylabel('PC2')
  ax.set_zlabel('PC3')
  delay = _delay(workdir)
  ax.set_title(f'Fixed points, delay {delay}' if delay is not None else 'Fixed points')
  ax.legend(loc='upper left', fontsize=7)
  return common.save(fig, path)


def plot_eigenvalues(workdirs, path, labels=None):
  """Eigenvalues of W with the unit circle, one panel per workdir (003 Fig. 4).

  Args:
    workdirs: flip-flop run directories (e.g. the delay-0 and the delay-8 network).
    path: output PNG.
    labels: panel titles (default "delay d").

  Returns:
    ``path``.
  """
  workdirs = list(workdirs)
  fig, axes = plt.subplots(1, len(workdirs), figsize=(4.5 * len(workdirs), 4.5),
                           squeeze=False)
  circle = np.exp(1j * np.linspace(0, 2 * np.pi, 361))
  for i, (ax, wd) in enumerate(zip(axes[0], workdirs)):
    spec = _load(wd, 'spectrum.npz')
    ev, ev0 = spec['eigvals'], spec['initial_eigvals']
    ax.plot(circle.real, circle.imag, color='0.5', lw=0.8)
    ax.scatter(ev0.real, ev0.imag, s=8, color='0.75', label='initial W')
    ax.scatter(ev.real, ev.imag, s=12, color='tab:blue', label='trained W')
    ax.axhline(0, color='0.85', lw=0.5, zorder=0)
    ax.axvline(0, color='0.85', lw=0.5, zorder=0)
    ax.set_aspect('equal')
    ax.set_xlabel('Re $\\lambda$')
    ax.set_ylabel('Im $\\lambda$')
    title = labels[i] if labels else f'delay {int(spec["delay"])}'
    ax.set_title(title)
    ax.legend(loc='lower left', fontsize=7)
  return common.save(fig, path)


def _cube(ax, traj):
  """Grey outline of the trajectory: the mean projection of every target corner, with the
  edges between corners that differ in one bit."""
  proj, targets = traj['projected'][:, :3], traj['targets']
  defined = np.all(targets != 0, axis=1)
  idx = _corner_colours(targets[defined])
  centres = {int(c): proj[defined][idx == c].mean(axis=0) for c in np.unique(idx)}
  for a, b in itertools.combinations(sorted(centres), 2):
    if bin(a ^ b).count('1') == 1:
      ax.plot(*np.stack([centres[a], centres[b]]).T, color='0.7', lw=1)


def plot_triggered_average(workdir, path=None):
  """The averaged switch in the trajectory PCs and its own PCs against time (Fig. 3).

  Returns:
    The PNG path (default ``workdir/figures/triggered_average.png``).
  """
  path = path or os.path.join(workdir, 'figures', 'triggered_average.png')
  avg = _load(workdir, 'triggered_average.npz')
  traj = _load(workdir, 'trajectories.npz')
  times, delay = avg['times'], int(avg['delay'])
  proj = avg['projected']
  k = proj.shape[1]
  fig = plt.figure(figsize=(11, max(4.5, 0.9 * k + 1)))
  ax = fig.add_subplot(1, 2, 1, projection='3d')
  _cube(ax, traj)
  on = avg['on_trajectory_pcs'][:, :3]
  ax.plot(*on.T, color='tab:red', lw=1.5)
  ax.scatter(*on[times == 0].T, color='tab:red', marker='o', s=30, label='pulse')
  ax.scatter(*on[times == delay].T, color='black', marker='s', s=30, label='output switch')
  ax.set_xlabel('PC1')
  ax.set_ylabel('PC2')
  ax.set_zlabel('PC3')
  frm = tuple(int(v) for v in avg['switch_from'])
  to = tuple(int(v) for v in avg['switch_to'])
  ax.set_title(f'{frm} -> {to}, {int(avg["num_instances"])} instances, delay {delay}',
               fontsize=9)
  ax.legend(fontsize=7)
  for i in range(k):
    sub = fig.add_subplot(k, 2, 2 * i + 2)
    sub.plot(times, proj[:, i], color='tab:blue', lw=1)
    sub.axvline(0, color='tab:red', lw=0.7)
    sub.axvline(delay, color='black', lw=0.7)
    sub.set_ylabel(f'PC{i + 1}', fontsize=7)
    sub.tick_params(labelsize=6)
    if i < k - 1:
      sub.set_xticklabels([])
  sub.set_xlabel('steps after the pulse')
  return common.save(fig, path)


def plot_all(workdir, compare_with=None):
  """All figures of one run into ``workdir/figures``.

  Args:
    workdir: the run.
    compare_with: another flip-flop run whose spectrum is drawn next to this one (the
      two-panel Fig. 4); the undelayed network is put on the left.

  Returns:
    The PNG paths.
  """
  fig_dir = os.path.join(workdir, 'figures')
  paths = [plot_fixed_points(workdir), plot_triggered_average(workdir)]
  runs = [workdir] if not compare_with else [compare_with, workdir]
  delays = [_delay(wd) for wd in runs]
  if len(runs) == 2 and None not in delays and delays[0] > delays[1]:
    runs = runs[::-1]
  paths.append(plot_eigenvalues(runs, os.path.join(fig_dir, 'eigenvalues.png')))
  return paths
