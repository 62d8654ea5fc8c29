"""Delayed template matching (paper supplement A, Fig. 7), drawn from the aggregates that
``memrnn_tf.analysis.template_matching_summary.write_summary`` saved.

Left: same/different accuracy against delay, mean +- SEM over networks, and (dashed) the
fraction of trials answered null. Right: each class's slow-point speed (log) against its
accuracy at the cell's long delay, every network of a cell in one colour; the legend gives
that delay and the per-network Spearman rho as mean +- SEM over networks.
"""

from memrnn_tf import files
from memrnn_tf.analysis import stats
from memrnn_tf.plots import common

plt = common.plt


def plot_template_matching(summary_path, path):
  """Draws accuracy vs delay and speed vs long-delay accuracy, one colour per cell.

  Args:
    summary_path: the JSON file ``template_matching_summary.write_summary`` wrote.
    path: output ``.png``.

  Returns:
    ``path``.
  """
  summary = files.require_json(summary_path, 'bin/plot_template_matching.py')
  fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
  for i, (cell, a) in enumerate(sorted(summary['cells'].items())):
    d, m, e = (common.as_float(a[k]) for k in ('delays', 'accuracy', 'accuracy_sem'))
    left.plot(d, m, marker='o', ms=3, color=f'C{i}', label=f'{cell.upper()} (N={a["n"]})')
    left.fill_between(d, m - e, m + e, color=f'C{i}', alpha=0.2)
    if a['null_answers'] is not None:
      left.plot(d, a['null_answers'], ls='--', color=f'C{i}', lw=1,
                label=f'{cell.upper()}: null answers (fraction of trials)')
    rho = stats.format_mean_sem(*common.as_float([a['spearman_mean'], a['spearman_sem']]), None,
                                1.0, 2, '')
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
