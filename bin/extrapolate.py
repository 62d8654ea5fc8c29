r"""Accuracy vs. delay beyond training (paper Fig. 2) for a trained run.

  python bin/extrapolate.py --workdir=runs/mnist_gru_decu_s0 --delays=4,19,100,1000

Writes <workdir>/analysis/extrapolation.json (…_noise<X>.json with --noise_scale).
"""

from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.analysis import extrapolation

_WORKDIR = flags.DEFINE_string('workdir', None, 'Run directory.', required=True)
_DELAYS = flags.DEFINE_list('delays', [str(d) for d in extrapolation.DEFAULT_DELAYS],
                            'Delays t_a - t_s to evaluate.')
_TRIALS = flags.DEFINE_integer('num_trials', 1000, 'Trials per delay.')
_NOISE = flags.DEFINE_float('noise_scale', 1.0, 'Noise std multiplier.')
_CHECKPOINT = flags.DEFINE_integer('checkpoint', None, 'Step (default latest).')
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'Dataset directory (else $MEMRNN_DATA_DIR).')


def main(argv):
  del argv
  out = cli.run_or_exit(extrapolation.extrapolate_workdir, _WORKDIR.value,
                        [int(d) for d in _DELAYS.value], _TRIALS.value, _NOISE.value,
                        _CHECKPOINT.value, _DATA_DIR.value)
  print('delay  accuracy')
  for d, a in zip(out['delays'], out['accuracy']):
    print(f'{d:5d}  {a:.4f}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
