r"""Accuracy at delays and noise beyond training (paper Fig. 2, paper 001 tables 5-6).

  python bin/extrapolate.py --workdir=runs/mnist_gru_decu_s0 --delays=4,19,100,1000
  python bin/extrapolate.py --workdirs='runs/sweep_gru_sigmoid/*' --protocols=fixed,tmax \
      --delays=19,100,200,500,1000 --noise_scales=1,1.5,2,3 --second_retrieval=12,12

Per run: ``<run>/analysis/extrapolation.json`` (fixed delay d: image at t = 0, trigger at
d), ``extrapolation_tmax.json`` (trials drawn as in training with T_max = D),
``extrapolation_noise<s>.json`` (noise std x s; CIFAR-10: at the recurrent layer's
input), ``second_retrieval.json`` (a second trigger ``gap`` steps after the first), each
with an ``.npz`` of the predictions, and ``<run>/figures/extrapolation.png``. Existing
results computed with the same parameters are reused (``--recompute`` forces).
Aggregate (mean +- SEM over the networks of each condition):
``<out>/analysis/extrapolation_summary.json`` and
``<out>/figures/extrapolation_summary.png`` (+ ``extrapolation_per_class.png`` with
``--per_class``). About 1-2 minutes per protocol for a GRU-200 at 1,000 trials and delays
up to 1,000 on 2 cores.
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.analysis import extrapolation
from memrnn_tf.analysis import multirun
from memrnn_tf.plots import extrapolation as plots

_RUNS = multirun.SelectionFlags()
_DELAYS = cli.define_ints('delays', list(extrapolation.DEFAULT_DELAYS),
                          'Delays t_a - t_s (fixed) or T_max values (tmax).', lower_bound=1)
_PROTOCOLS = flags.DEFINE_list('protocols', ['fixed'], 'Delay protocols: fixed, tmax.')
_TRIALS = flags.DEFINE_integer('num_trials', 1000, 'Trials per delay.', lower_bound=1)
_NOISE = cli.define_floats('noise_scales', [1.0], 'Noise std multipliers (fixed protocol).',
                           lower_bound=0)
_NOISE_SCALE = flags.DEFINE_float(
    'noise_scale', None, 'One noise scale measured at every --delays (the earlier interface, '
    'kept for scripts): the same as --noise_scales=1,X --noise_delays=<delays>.',
    lower_bound=0)
_NOISE_DELAYS = cli.define_ints('noise_delays', None,
                                'Delays measured under noise (default those <= 100).',
                                lower_bound=1)
_NOISE_AT = flags.DEFINE_enum('noise_at', 'auto', extrapolation.NOISE_AT,
                              'Where extra noise goes (auto: recurrent input for the conv '
                              'front-end, pixels otherwise).')
_SECOND = cli.define_ints('second_retrieval', None,
                          'FIRST_DELAY,GAP: also run the two-trigger test.', lower_bound=1,
                          length=2)
_PER_CLASS = flags.DEFINE_bool('per_class', False, 'Also draw per-class curves.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the trials.', lower_bound=0)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  workdirs = cli.run_or_exit(_RUNS.workdirs)
  second = _SECOND.value or None
  delays, scales, noise_delays = _DELAYS.value, _NOISE.value, _NOISE_DELAYS.value or None
  if _NOISE_SCALE.value is not None:
    scales, noise_delays = scales + [_NOISE_SCALE.value], noise_delays or delays
  summary = cli.run_or_exit(
      extrapolation.extrapolate_runs, workdirs, delays, _TRIALS.value, _PROTOCOLS.value,
      scales, noise_delays, second,
      _RUNS.out, seed=_SEED.value, noise_at=_NOISE_AT.value,
      recompute=_RUNS.recompute)
  print(extrapolation.format_summary(summary))
  out = _RUNS.out or multirun.default_out_dir(workdirs)
  paths = [plots.plot_run(w) for w in workdirs] + [plots.plot_summary(out)]
  if _PER_CLASS.value:
    paths.append(plots.plot_per_class(out))
  print('figures:', *paths, sep='\n  ')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
