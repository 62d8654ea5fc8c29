r"""PCA clouds (paper Fig. 3): states at a short and a long delay on the first principal
components of the short delay, coloured by the reported class, slow points marked.

  python bin/find_slowpoints.py --workdir=runs/mnist_gru_decu_s0   # optional: the stars
  python bin/pca.py --workdir=runs/mnist_gru_decu_s0 --delays=20,1000
  python bin/pca.py --workdirs='runs/sweep_gru_sigmoid/*' --noise_scales=1,0.5

Per run: ``<run>/analysis/pca.json`` (+ ``.npz`` with the projections) and
``<run>/figures/pca.png``; reused when the parameters match (``--recompute`` forces).
Runs without ``analysis/slowpoints.npz`` are drawn without slow points. About a minute
per GRU-200 run at 1,000 trials and delay 1,000 on 2 cores.
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import pca_clouds
from memrnn_tf.plots import pca as plots

_RUNS = multirun.SelectionFlags()
_DELAYS = cli.define_ints('delays', [20, 1000], 'Delays whose states are shown.', lower_bound=1)
_FIT = flags.DEFINE_integer('fit_delay', 20, 'Delay whose states define the components.',
                            lower_bound=1)
_TRIALS = flags.DEFINE_integer('num_trials', 1000, 'Trials (cloud points) per delay.',
                               lower_bound=1)
_NOISE = cli.define_floats('noise_scales', [1.0], 'Noise std multipliers, one row each.',
                           lower_bound=0)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the trials.', lower_bound=0)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  for w in cli.run_or_exit(_RUNS.workdirs):
    res = cli.run_or_exit(pca_clouds.pca_workdir, w, _DELAYS.value,
                          _FIT.value, _TRIALS.value, _NOISE.value,
                          seed=_SEED.value,
                          recompute=_RUNS.recompute)
    acc = ', '.join(f'{d}: {a:.3f}' for d, a in zip(res['delays'], res['accuracy'][0]))
    print(f'{w}: accuracy {acc}; variance explained by 3 PCs '
          f'{sum(res["explained"]):.3f}; slow points: {res["with_slow_points"]}')
    print('  ', plots.plot_pca(w))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
