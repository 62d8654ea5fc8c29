"""Fig. 3: PCA clouds, drawn from ``<workdir>/analysis/pca.npz`` only
(``pca_clouds.pca_workdir``).

One 3-D panel per (noise scale, delay): trial states on the first three principal
components fitted at the short delay, coloured by the class reported at the trigger
(grey: "null"), with the class slow points as black stars labelled by their class.
"""

import matplotlib.pyplot as plt
import numpy as np

from memrnn_tf.plots import common

_COMMAND = 'python bin/pca.py --workdir=...'


def plot_pca(workdir, path=None, max_points=1000):
  """Returns the PNG path (default ``<workdir>/figures/pca.png``)."""
  d = common.read_npz(workdir, 'pca', _COMMAND)
  delays, scales = d['delays'], d['noise_scales']
  panels = [(i, j) for i in range(len(scales)) for j in range(len(delays))]
  fig = plt.figure(figsize=(4.2 * len(panels), 4.2))
  colours = plt.get_cmap('tab10')
  lim = np.abs(d['projections'][0]).max()
  for p, (i, j) in enumerate(panels):
    ax = fig.add_subplot(1, len(panels), p + 1, projection='3d')
    proj = d['projections'][i, j, :max_points]
    pred = d['predicted'][i, j, :max_points]
    c = [colours(k) if k >= 0 else (0.6, 0.6, 0.6, 1.0) for k in pred]
    ax.scatter(proj[:, 0], proj[:, 1], proj[:, 2], c=c, s=3, alpha=0.6, depthshade=False)
    if 'slow_points' in d:
      sp = d['slow_points']
      ax.scatter(sp[:, 0], sp[:, 1], sp[:, 2], marker='*', s=90, c='black')
      names = d.get('slow_point_readout', np.arange(len(sp)))
      for k, point in enumerate(sp):
        ax.text(point[0], point[1], point[2], f' {names[k]}', fontsize=7)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), zlim=(-lim, lim))
    ax.set_xlabel('PC1', fontsize=7)
    ax.set_ylabel('PC2', fontsize=7)
    ax.set_zlabel('PC3', fontsize=7)
    ax.tick_params(labelsize=6)
    ax.set_title(f'delay {delays[j]}, noise x{scales[i]:g}\naccuracy {d["accuracy"][i, j]:.2f}',
                 fontsize=8)
  fig.suptitle(f'{workdir} (PCs of delay {delays[0]}: '
               f'{100 * d["explained"].sum():.0f}% of the variance)', fontsize=8)
  return common.save(fig, path or common.figure_path(workdir, 'pca'))
