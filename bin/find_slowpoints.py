r"""Finds the class slow points of trained runs (paper section 6) and prints a table each.

  python bin/find_slowpoints.py --workdir=runs/mnist_gru_decu_s0 [--checkpoint=STEP]
  python bin/find_slowpoints.py --workdirs='runs/sweep/*' --method=paper

Writes ``<workdir>/analysis/slowpoints.npz`` and ``.json`` (``slowpoints_step<STEP>`` with
--checkpoint); ``--method=paper`` writes ``slowpoints_paper.*`` beside them. A run whose
result was computed with the same parameters is reused (``--recompute`` forces). The
default search is the float64 Levenberg-Marquardt refinement from the class means (a few
seconds for a GRU-200, most of it tracing); ``--method=adam`` is the package's first-order
search; ``--method=paper`` is the authors' procedure (their class means: one frozen noise
sequence at a third of the noise std; their search: ``--paper_steps`` Adam steps at lr
1e-3, divided by 10 at 40% of them, states clipped to the box; ``docs/analysis_plan.md``
makes it the primary reading). Columns: class, status of the point found (``fixed_point``: residual at
the float floor and the Newton step negligible; ``slow_point``: a local minimum of the speed
above zero, over the reachable box |h| <= 1: the gradient vanishes in the free units and
points outward in those on the bound; ``not_converged``), its speed, the speed of the class
mean it started from, iterations, the smallest singular value of the residual's Jacobian
(dF/dx - I), the number of units on the bound |h| = 1 (``at_bound``), class read
out when the trigger arrives at the point, its probability, distance from the class mean
(xi coordinates), number of unstable modes (|lambda| > 1), the largest |lambda| and the
slowest time constant in steps (inf when |lambda| >= 1).
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import procedures
from memrnn_tf.analysis import slowpoints

_RUNS = multirun.SelectionFlags()
_CHECKPOINT = flags.DEFINE_integer('checkpoint', None, 'Training step (default latest).',
                                   lower_bound=0)
_METHOD = flags.DEFINE_enum('method', 'newton', ['newton', 'adam', 'adam+newton', 'paper'],
                            'Search: Levenberg-Marquardt, first-order, both in turn, or the '
                            "authors' procedure.")
_PAPER_STEPS = flags.DEFINE_integer('paper_steps', 100_000,
                                    "Adam steps of --method=paper (the authors': 100,000).",
                                    lower_bound=1)
_NEWTON_ITERS = flags.DEFINE_integer('newton_iters', 200, 'Levenberg-Marquardt iteration limit.',
                                     lower_bound=1)
_DTYPE = flags.DEFINE_enum('dtype', 'float64', ['float32', 'float64'],
                           'Precision of the refinement and of the status.')
_MAX_ITERS = flags.DEFINE_integer('max_iters', 200_000,
                                  'First-order iteration limit (--method=adam...).',
                                  lower_bound=1)
_TOL = flags.DEFINE_float('tol', 1e-8, 'Speed at which the first-order search stops.',
                          lower_bound=0)
_TRIALS = flags.DEFINE_integer('trials_per_class', 100, 'Trials per class for the means.',
                               lower_bound=1)
_DELAY = flags.DEFINE_integer('delay', 15, 'Steps after the stimulus for the class means.',
                              lower_bound=1)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the trials.', lower_bound=0)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  workdirs = cli.run_or_exit(_RUNS.workdirs)
  method = _METHOD.value
  search = ({'num_steps': _PAPER_STEPS.value} if method == 'paper' else
            {'newton_iters': _NEWTON_ITERS.value, 'dtype': _DTYPE.value, 'tol': _TOL.value,
             'max_iters': _MAX_ITERS.value})
  options = slowpoints.SearchOptions(method=method, **search)
  for workdir in workdirs:
    table = None
    if not _RUNS.recompute and _CHECKPOINT.value is None:
      saved = multirun.load_if_matches(workdir, procedures.result_name(method),
                                       procedures.reuse_params(
                                           options, _DELAY.value, _TRIALS.value, 'test',
                                           _SEED.value))
      table = saved and saved.get('classes')
    if table is None:
      _, table = cli.run_or_exit(
          procedures.find_class_slow_points, workdir, _CHECKPOINT.value,
          delay=_DELAY.value, trials_per_class=_TRIALS.value, seed=_SEED.value,
          options=options)
    if len(workdirs) > 1:
      print(f'{workdir}:')
    print(procedures.format_class_table(table))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
