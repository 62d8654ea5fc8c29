r"""Backtracks the class slow points through training (paper section 7, Fig. 5A,B).

  python bin/backtrack.py --workdir=runs/mnist_gru_vocu_s0
  python bin/backtrack.py --workdirs='runs/sweep/gru_*_s*' [--out=runs/sweep] [--recompute]

For each run: the final class slow points (``analysis/slowpoints.npz``, found if missing)
are followed back through ``snapshots/``, each search warm-started from the points of the
snapshot after it; intervals where a point jumped more than --refine_threshold times the
distance to the nearest other tracked point are replayed at --refine_points intermediate
steps (exact replay of training: from a saved state with optimizer, else from step 0) and
tracked again. Writes ``<workdir>/analysis/backtrack.{json,npz}`` and draws
``<workdir>/figures/backtrack.png`` from them. With several runs, the aggregate (mean +-
SEM of log speed and the jump statistic per curriculum) goes to
``<out>/analysis/backtrack.{json,npz}`` and ``<out>/figures/backtrack.png`` (default
--out: the runs' common parent). About 3 minutes per cpu-config GRU-200 run without
refinement on 2 busy cores, plus the replay (~20 training steps/s).

Printed per run: curriculum, refined intervals / transitions, fraction of steps back that
moved less than the distance to the nearest other point (supplement D), median |d log10 S|
between snapshots at curriculum changes and elsewhere, their ratio and a one-sided
Mann-Whitney p.
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
import os

from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.analysis import backtrack
from memrnn_tf.analysis import multirun
from memrnn_tf.plots import backtrack as plots

_RUNS = multirun.SelectionFlags()  # --workdir(s), --out, --recompute, --data_dir
_REUSE = flags.DEFINE_bool('reuse', False, 'Keep an existing analysis/backtrack.json, '
                           'whatever it was computed with.')
_REFINE = flags.DEFINE_bool('refine', True, 'Replay and re-track intervals with jumps.')
_THRESHOLD = flags.DEFINE_float('refine_threshold', 0.5,
                                'Jump: displacement > this x distance to the nearest other point '
                                '(negative: refine every interval).')
_POINTS = flags.DEFINE_integer('refine_points', 4, 'Replayed steps inside a jumped interval.',
                               lower_bound=1)
_MAX_REPLAY = flags.DEFINE_integer('max_replay_steps', -1,
                                   'Skip refinement costing more training steps (-1: no limit).',
                                   lower_bound=-1)
_TOL = flags.DEFINE_float('tol', 1e-8, 'Speed at which a point counts as converged.',
                          lower_bound=0)
_MAX_ITERS = flags.DEFINE_integer('max_iters', 20_000, 'Iterations of each warm-started search.',
                                  lower_bound=1)


def _fmt(x, spec='.3f'):
  return 'n/a' if x is None else format(x, spec)


def _row(w, s):
  ref, val, jump = s['refinement'], s['validity']['final'], s['jump_statistic']
  return (f'{os.path.basename(os.path.normpath(w)):<28} {s["curriculum"]:<6} '
          f'{ref["num_jumped"]:>3}/{ref["transitions"]:<3} {ref["status"][:8]:<8} '
          f'{_fmt(val["fraction_valid"]):>6} {_fmt(jump["median_x"]):>7} '
          f'{_fmt(jump["median_y"]):>7} {_fmt(jump["ratio_of_medians"], ".2f"):>6} '
          f'{_fmt(jump["mannwhitney_p"], ".2g"):>7}')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  workdirs = cli.run_or_exit(_RUNS.workdirs)
  print(f'{"run":<28} {"curr":<6} {"refined":<7} {"status":<8} {"valid":>6} '
        f'{"|dlogS| ev":>7} {"else":>7} {"ratio":>6} {"p":>7}')
  params = {'tol': _TOL.value, 'max_iters': _MAX_ITERS.value, 'refine': _REFINE.value,
            'refine_threshold': _THRESHOLD.value, 'refine_points': _POINTS.value,
            'max_replay_steps': None if _MAX_REPLAY.value < 0 else _MAX_REPLAY.value}
  for w in workdirs:
    summary = multirun.cached(w, backtrack.NAME, lambda w=w: cli.run_or_exit(
        backtrack.backtrack, w, **params), _REUSE.value,
                               None if _RUNS.recompute else params)
    plots.plot_run(w)
    print(_row(w, summary))
  if len(workdirs) > 1 or _RUNS.out:  # --out asks for the aggregate, even of one run
    out = _RUNS.out or multirun.default_out_dir(workdirs)
    agg = cli.run_or_exit(backtrack.aggregate, workdirs, out)
    print(f'figure: {plots.plot_summary(out)}')
    for cur, info in agg['curricula'].items():
      pooled = info['jump_statistic_pooled']
      ratio = info['ratio_of_medians_mean_sem_n']
      print(f'{cur}: N={info["n"]}, pooled median |dlog10 S| at changes '
            f'{_fmt(pooled["median_x"])} vs elsewhere {_fmt(pooled["median_y"])} (ratio '
            f'{_fmt(pooled["ratio_of_medians"], ".2f")}, Mann-Whitney p='
            f'{_fmt(pooled["mannwhitney_p"], ".2g")}); per-run ratio mean +- SEM '
            f'{_fmt(ratio[0], ".2f")} +- {_fmt(ratio[1], ".2f")}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
