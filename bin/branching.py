r"""Branching of slow points at VoCu class introductions (paper Figs. 5C-E and 8).

  python bin/branching.py --workdir=runs/mnist_gru_vocu_s0 [--weights=snapshots]
  python bin/branching.py --workdirs='runs/sweep/gru_vocu_*' [--out=runs/sweep] [--recompute]

For every class introduction tau_i: the class slow points at tau_{i+1} - 2000 (paper
steps, scaled like the curriculum) are tracked back to tau_i - 2000; the existing class the
new class's point reads out as there is the one that spawned it. Per-class accuracy on
test images under doubled noise variance at tau_i - 1000 and tau_i + 4000 gives the
accuracy change of the spawning class and the mean of the other existing classes.
--weights=replay (default) uses the exact steps, replaying training where no snapshot
holds them (a full pass over the run's first ~2/3 for runs whose snapshots hold no
optimizer state); --weights=snapshots uses the nearest snapshots instead (no replay).
Writes ``<workdir>/analysis/branching.{json,npz}`` and ``figures/branching.png``; with
several runs the pooled events, the histogram of the differences and one-sided paired
tests (Wilcoxon signed-rank, sign, sign-flip permutation) go to ``<out>/analysis`` and
``<out>/figures`` (default --out: the runs' common parent).
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
import math
import os

from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.analysis import branching
from memrnn_tf.analysis import multirun
from memrnn_tf.plots import branching as plots

_RUNS = multirun.SelectionFlags()  # --workdir(s), --out, --recompute, --data_dir
_REUSE = flags.DEFINE_bool('reuse', False, 'Keep an existing analysis/branching.json, '
                           'whatever it was computed with.')
_WEIGHTS = flags.DEFINE_enum('weights', 'replay', ['replay', 'snapshots'],
                             'Exact steps by replay, or the nearest snapshots.')
_SPACING = flags.DEFINE_integer('spacing', None,
                                'Steps between short-backtrack points (replay; default '
                                'snapshot_every / 5).', lower_bound=1)
_NOISE = flags.DEFINE_float('noise_scale', math.sqrt(2.0),
                            'Noise std multiplier of the accuracy probe (sqrt 2: twice the '
                            'variance).', lower_bound=0)
_TRIALS = flags.DEFINE_integer('num_trials', 4000, 'Trials per accuracy evaluation.',
                               lower_bound=1)
_MAX_ITERS = flags.DEFINE_integer('max_iters', 20_000, 'Iterations of each search.',
                                  lower_bound=1)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  workdirs = cli.run_or_exit(_RUNS.workdirs)
  print(f'{"run":<28} {"tau":>5} {"new":>3} {"from":>4} {"nearest":>7} {"d_spawn":>8} '
        f'{"d_others":>8}')
  params = {'weights': _WEIGHTS.value, 'spacing': _SPACING.value,
            'noise_scale': _NOISE.value, 'num_trials': _TRIALS.value,
            'max_iters': _MAX_ITERS.value}
  for w in workdirs:
    summary = multirun.cached(w, branching.NAME, lambda w=w: cli.run_or_exit(
        branching.branching, w, **params), _REUSE.value,
                               None if _RUNS.recompute else params)
    plots.plot_run(w)
    for e in summary['events']:
      others = 'n/a' if e['delta_others'] is None else f'{e["delta_others"]:+.3f}'
      print(f'{os.path.basename(os.path.normpath(w)):<28} {e["tau"]:>5} {e["new_class"]:>3} '
            f'{e["spawner"]:>4} {e["spawner_nearest"]:>7} {e["delta_spawner"]:>+8.3f} '
            f'{others:>8}')
  if len(workdirs) > 1 or _RUNS.out:  # --out asks for the aggregate, even of one run
    out = _RUNS.out or multirun.default_out_dir(workdirs)
    agg = cli.run_or_exit(branching.aggregate, workdirs, out)
    t = agg['test']
    print(f'figure: {plots.plot_summary(out)}')
    print(f'{agg["num_runs"]} runs, {t["n"]} events: delta spawner '
          f'{agg["delta_spawner_mean_sem_n"][0]:+.4f} +- {agg["delta_spawner_mean_sem_n"][1]:.4f}'
          f', others {agg["delta_others_mean_sem_n"][0]:+.4f} +- '
          f'{agg["delta_others_mean_sem_n"][1]:.4f}; spawner lower in {t["n_negative"]}/'
          f'{t["n"]}; one-sided p: Wilcoxon {t["wilcoxon_p"]}, sign {t["sign_test_p"]}, '
          f'permutation {t["permutation_p"]}; readout spawner = nearest point in '
          f'{t["readout_agrees_with_nearest"]:.0%}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
