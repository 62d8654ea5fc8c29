r"""Accuracy vs delay after speed regularisation, mean +- SEM over networks (Figs. 6, 9).

  python bin/plot_regularization.py --workdirs='runs/*_reg_*' --out=runs/figures/regularization.png

Reads each --workdirs run's analysis/regularization.json (bin/regularize.py --out) and
config.json; one panel per (cell, curriculum), one curve per arm (control, slow-point
targets, centre-of-mass targets) plus the networks before regularisation, the median
slow-point speed of each arm in the legend. The aggregates drawn are saved next to the
figure (--out with .json for .png); prints the numbers as a table.
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
import os

from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.analysis import regularization_summary as summary_lib
from memrnn_tf.plots import regularization

_WORKDIRS = flags.DEFINE_list('workdirs', None, 'Regularisation runs (globs allowed).',
                              required=True)
_OUT = flags.DEFINE_string('out', None, 'Output .png.', required=True)


def _main():
  workdirs = summary_lib.expand_workdirs(_WORKDIRS.value)
  numbers = summary_lib.write_summary(workdirs, os.path.splitext(_OUT.value)[0] + '.json')
  path = regularization.plot_regularization(numbers, _OUT.value)
  print(summary_lib.format_table(summary_lib.table(summary_lib.load_runs(workdirs))))
  print(f'wrote {path}')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  cli.run_or_exit(_main)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
