r"""Delayed classification of CIFAR-10 images: conv front-end + GRU/LSTM of 400 units.

Command (from the repository root):

  python bin/train.py --config=configs/cifar10.py:cpu --curriculum=decu --cell=gru \
      --workdir=runs/cifar_gru_decu

Variants (``--config=configs/cifar10.py:<variant>``):

* ``paper``: appendix C.2 of 001: 3 conv layers of 64 filters, 2 dense layers of 1024, a
  recurrent layer of 400 units; 200,000 Adam steps of batch 64 (the authors' CIFAR code;
  the paper gives no batch size), lr 1e-4 divided by 10 for the last 20,000 steps; DeCu
  boundaries [30..120]k, VoCu [12..140]k. Not timed: each step runs the conv front-end
  on 64 x 20 frames, so on 2 CPU cores it takes days; a job for a GPU (time there not
  measured yet). Paper: 66-72% test digit accuracy (89-95% train), on the full dataset.
* ``cpu``: a reduced network (32 filters, dense 256, 128 units) for 3,000 steps of batch
  32 (timings: benchmarks/NOTES.md). On the 5,085-image offline subset
  (``cifar10_subset.npz``) expect about 42-46% test digit accuracy and 100% null
  accuracy for every curriculum: what the same front-end reaches as a feed-forward
  classifier of the clean images (``benchmarks/cifar_baseline.py``), so the subset, not
  memory, is the limit.
* ``smoke``: seconds; for tests only.

Settings under ``config.perf`` change speed only: a run may be resumed with other values.
"""

import os

import ml_collections

from memrnn_tf import files


def _mnist_module():
  # Loaded by path: config files are read by path too, and configs/ is not a package
  # on sys.path when a binary runs.
  return files.load_module(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'mnist.py'),
                           'memrnn_configs_mnist')

_PAPER_STEPS = 200_000


def get_config(arg='cpu'):
  """Returns the config for variant ``arg`` in {'paper', 'cpu', 'smoke'}."""
  config = _mnist_module().get_config('paper')
  # Data.
  config.dataset = 'cifar10'

  # Model: the trigger joins after the front-end (paper Fig. 1B).
  config.model = ml_collections.ConfigDict(dict(
      cell='gru', units=400, frontend='conv', init='paper', reset_after=False,
      readout_sigmoid=False, conv_filters=64, num_conv=3, dense_units=1024, num_dense=2))

  # Curriculum (appendix C.2), in paper steps.
  config.reference_steps = _PAPER_STEPS
  config.decu.boundaries = (30_000, 45_000, 60_000, 75_000, 90_000, 105_000, 120_000)
  config.vocu.boundaries = (12_000, 24_000, 38_000, 54_000, 72_000, 92_000, 124_000, 140_000)

  # Optimisation.
  config.num_steps = _PAPER_STEPS
  config.batch_size = 64
  config.learning_rate = 1e-4
  config.lr_decay_start = 180_000

  if arg == 'paper':
    pass
  elif arg == 'cpu':
    config.model.update(units=128, conv_filters=32, dense_units=256)
    config.num_steps = 3_000
    config.batch_size = 32
    config.learning_rate = 1e-3
    config.perf.steps_per_execution = 25
    config.log_every = 250
    config.checkpoint_every = 500
    config.snapshot_every = 250
    config.eval_trials = 2_000
    config.eval_batch_size = 250
  elif arg == 'smoke':
    config.model.update(units=16, conv_filters=4, num_conv=2, dense_units=16, num_dense=1)
    config.num_steps = 8
    config.batch_size = 4
    config.learning_rate = 1e-3
    config.task.seq_len = 10
    config.task.t_max = 10
    config.perf.steps_per_execution = 4
    config.perf.jit_compile = False  # XLA's compile would take most of a smoke run's time
    config.log_every = 4
    config.checkpoint_every = 4
    config.snapshot_every = 4
    config.eval_trials = 16
    config.eval_batch_size = 8
    config.progress_bar = False
  else:
    raise ValueError(f'unknown variant {arg!r} of configs/cifar10.py: expected paper, cpu '
                     'or smoke')
  return config
