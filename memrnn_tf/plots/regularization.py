"""Accuracy against delay after speed regularisation (paper Figs. 6 and 9), drawn from the
aggregates that ``memrnn_tf.analysis.regularization_summary.write_summary`` saved.

One panel per (cell, curriculum), one curve per arm (the networks before regularisation,
control, slow-point targets, centre-of-mass targets), mean +- SEM over networks; the legend
gives each arm's median slow-point speed (geometric mean over networks) and N.
"""

from memrnn_tf import files

_STYLE = {'before': ('-', 'before', 'grey'), 'control': ('-', 'control', 'C0'),
          'slow_points': (':', 'slow-point targets', 'C1'),
          'centres': ('--', 'centre-of-mass targets', 'C2')}


def plot_regularization(summary_path, path):
  """Draws the saved aggregates.

  Args:
    summary_path: the JSON file ``write_summary`` wrote.
    path: output ``.png``.

  Returns:
    ``path``.
  """
  from memrnn_tf.plots import common  # pylint: disable=g-import-not-at-top
  plt = common.plt

  summary = files.require_json(summary_path, 'bin/plot_regularization.py')
  panels = summary['panels']
  fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
  for ax, panel in zip(axes[0], panels):
    for a in panel['arms']:
      style, label, color = _STYLE[a['arm']]
      d, m, e = (common.as_float(a[k]) for k in ('delays', 'accuracy', 'accuracy_sem'))
      ax.plot(d, m, style, color=color, marker='o', ms=3,
              label=f'{label} (S={a["speed"]:.1e}, n={a["n"]})')
      ax.fill_between(d, m - e, m + e, color=color, alpha=0.2)
    ax.set_xscale('log')
    ax.set_ylim(0, 1.02)
    ax.set_xlabel('delay (steps)')
    ax.set_ylabel('accuracy')
    ax.set_title(f'{panel["cell"].upper()} {panel["curriculum"]}')
    ax.legend(fontsize=7, loc='lower left')
  fig.tight_layout()
  return common.save(fig, path)
