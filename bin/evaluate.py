r"""Evaluates a trained run: null and digit accuracy on train and test images.

  python bin/evaluate.py --workdir=runs/mnist_gru_decu_s0 [--checkpoint=STEP]
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
import json

from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.training import evaluation

_WORKDIR = flags.DEFINE_string('workdir', None, 'Run directory.', required=True)
_CHECKPOINT = flags.DEFINE_integer('checkpoint', None, 'Step to evaluate (default latest).',
                                   lower_bound=0)
cli.define_data_dir()
_TRIALS = flags.DEFINE_integer('num_trials', None, 'Trials per split (default from config).',
                               lower_bound=1)


def main(argv):
  del argv
  table = cli.run_or_exit(evaluation.evaluate_workdir, _WORKDIR.value, _CHECKPOINT.value,
                          _TRIALS.value)
  print(json.dumps(table, indent=2))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
