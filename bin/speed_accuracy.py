r"""Slow-point speed against class accuracy at the long delay (paper Fig. 4).

  for r in runs/sweep_gru_sigmoid/*/; do python bin/find_slowpoints.py --workdir=$r; done
  python bin/speed_accuracy.py --workdirs='runs/sweep_gru_sigmoid/*'

Needs ``<run>/analysis/slowpoints.json`` of every run (from ``bin/find_slowpoints.py``;
a run without it is an error naming that command). The per-class accuracy at the long
delay (default 1,000 for MNIST, 500 for CIFAR-10) is read from the run's
``analysis/extrapolation.json`` (``extrapolation_tmax.json`` with --protocol=tmax) when
it covers that delay, computed otherwise. Prints per-network and pooled Spearman and
Pearson correlations of log10 speed and accuracy with permutation p-values, and per
condition mean +- SEM over networks. Writes ``<run>/analysis/speed_accuracy.json``,
``<run>/figures/speed_accuracy.png``, ``<out>/analysis/speed_accuracy_summary.json`` and
``<out>/figures/speed_accuracy_summary.png`` (``speed_accuracy_tmax*`` with
--protocol=tmax).
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.analysis import extrapolation
from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import speed_accuracy
from memrnn_tf.plots import speed_accuracy as plots

_RUNS = multirun.SelectionFlags()
_DELAY = flags.DEFINE_integer('delay', None, 'Long delay (default 1000 MNIST, 500 CIFAR-10).',
                              lower_bound=1)
_PROTOCOL = flags.DEFINE_enum('protocol', 'fixed', extrapolation.PROTOCOLS,
                              'Delay protocol of the accuracy.')
_TRIALS = flags.DEFINE_integer('num_trials', 1000, 'Trials when the accuracy is computed.',
                               lower_bound=1)
_PERMUTATIONS = flags.DEFINE_integer('num_permutations', 10_000,
                                     'Permutations of each p-value.', lower_bound=1)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the trials and permutations.', lower_bound=0)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  workdirs = cli.run_or_exit(_RUNS.workdirs)
  summary = cli.run_or_exit(
      speed_accuracy.speed_accuracy_runs, workdirs, _DELAY.value, _PROTOCOL.value,
      _TRIALS.value, _SEED.value, _RUNS.out, _PERMUTATIONS.value, _RUNS.recompute)
  print(speed_accuracy.format_summary(summary))
  out = _RUNS.out or multirun.default_out_dir(workdirs)
  name = speed_accuracy.result_name(_PROTOCOL.value)
  paths = [plots.plot_run(w, name=name) for w in workdirs] + [plots.plot_summary(out, name=name)]
  print('figures:', *paths, sep='\n  ')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
