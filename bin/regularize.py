r"""Speed regularisation of a trained run (paper section 8): continues it into a new workdir.

  python bin/regularize.py --workdir=runs/mnist_gru_decu_s0 --targets=slow_points \
      --out=runs/mnist_gru_decu_s0_reg_sp
  python bin/regularize.py --workdir=runs/mnist_gru_decu_s0 --targets=centres \
      --out=runs/mnist_gru_decu_s0_reg_com
  python bin/regularize.py --workdir=runs/mnist_gru_decu_s0 --penalty=0 \
      --out=runs/mnist_gru_decu_s0_reg_control          # the control: no penalty

Defaults follow the authors (memrnn_tf.regularize): lambda 1e-3 (MNIST) or 1e-2 (CIFAR-10)
in their loss units, learning rate 1e-5 (MNIST) or 1e-4 (CIFAR-10), fixed targets, 10 per
class each under its own noise image, slow-point targets from their search; 5,000 steps
scaled by the run's num_steps / reference_steps unless --steps is given. Writes eval.json, analysis/extrapolation.json,
analysis/slowpoints.json and analysis/regularization.json under --out; rerun the same
command to resume. Never writes into --workdir.
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf import regularize

_WORKDIR = flags.DEFINE_string('workdir', None, 'Trained run (read only).', required=True)
_OUT = cli.define_dir('out', None, 'New run directory.', required=True)
_TARGETS = flags.DEFINE_enum('targets', 'slow_points', list(regularize.TARGETS),
                             'Penalised points: class slow points or class centres of mass.')
_PENALTY = flags.DEFINE_float('penalty', None,
                              "The paper's lambda (default 1e-3 MNIST, 1e-2 CIFAR-10); 0: "
                              'control.', lower_bound=0)
_STEPS = flags.DEFINE_integer('steps', None, 'Extra steps (default 5,000 scaled to the run).',
                              lower_bound=1)
_REFRESH = flags.DEFINE_integer('refresh_every', 0,
                                'Steps between target refreshes (0: fixed targets, the '
                                "authors').", lower_bound=0)
_LR = flags.DEFINE_float('learning_rate', None,
                         "Constant rate (default the authors': 1e-5 MNIST, 1e-4 CIFAR-10).")
_COPIES = flags.DEFINE_integer('copies', regularize.TARGET_COPIES,
                               'Targets per class, each under its own noise image.',
                               lower_bound=1)
_SEARCH = flags.DEFINE_enum('search', 'paper', ['paper', 'adam'],
                            "Slow-point search of the targets: the authors' or the package's.")
_PAPER_STEPS = flags.DEFINE_integer('paper_steps', 100_000, "Steps of the authors' search.",
                                    lower_bound=1)
_DELAYS = cli.define_ints('delays', list(regularize.DELAYS),
                          'Delays of the final extrapolation curve (before and after).',
                          lower_bound=1)
_TRIALS = flags.DEFINE_integer('num_trials', 1000, 'Trials per delay of that curve.',
                               lower_bound=1)
cli.define_data_dir()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  summary = cli.run_or_exit(regularize.regularize, _WORKDIR.value, _OUT.value,
                            targets=_TARGETS.value, penalty=_PENALTY.value, steps=_STEPS.value,
                            refresh_every=_REFRESH.value, learning_rate=_LR.value,
                            delays=tuple(_DELAYS.value),
                            extrapolation_trials=_TRIALS.value, copies=_COPIES.value,
                            search=_SEARCH.value, paper_steps=_PAPER_STEPS.value)
  print(regularize.format_summary(summary))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
