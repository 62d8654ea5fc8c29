r"""Delayed classification of MNIST digits with a GRU or LSTM of 200 units.

Command (from the repository root):

  python bin/train.py --config=configs/mnist.py:cpu --curriculum=decu --cell=gru \
      --workdir=runs/mnist_gru_decu

Variants (``--config=configs/mnist.py:<variant>``):

* ``paper``: the protocol as the authors ran it: 140,000 Adam steps of batch 128 (their
  training script; the paper gives no batch size), lr 1e-4 divided by 10 at step 120,000
  (appendix C.1 of 001), DeCu/VoCu boundaries of appendix C.1. Hours per GRU-200 on 2 CPU
  cores (benchmarks/NOTES.md): a job for a GPU or a cluster. Paper: 96.5-97.3% test digit accuracy for DeCu, 93.8-95.2% for VoCu, 0% for
  naive training.
* ``paper_batch1``: ``paper`` at batch 1. Earlier sessions ran this schedule when the
  batch size was believed to be 1; kept to regenerate those networks (BUILD_NOTES.md) and
  to compare batch sizes at the paper's step count.
* ``cpu``: the same schedule shape compressed into 6,000 steps of batch 128 (lr 1e-3);
  minutes on 2 cores (benchmarks/NOTES.md). Expected: >= 97% test digit accuracy for DeCu and VoCu
  with GRU or LSTM. Naive training stays at 0% digits only with the authors'
  sigmoid-squashed readout (``--config.model.readout_sigmoid=True``); with plain logits
  (the default) it learns the task too.
* ``smoke``: a few steps of a tiny network, seconds; for tests only.

Override anything with ``--config.<field>=value``, e.g. ``--config.learning_rate=3e-4``.
Settings under ``config.perf`` change speed only: a run may be resumed with other values.
"""

import ml_collections

_PAPER_STEPS = 140_000


def get_config(arg='cpu'):
  """Returns the config for variant ``arg`` in {'paper', 'paper_batch1', 'cpu', 'smoke'}."""
  config = ml_collections.ConfigDict()
  config.seed = 0

  # Data: --data_dir or $MEMRNN_DATA_DIR, else the Keras cache, else download.
  config.dataset = 'mnist'
  config.data_dir = ''
  config.num_classes = 10
  config.class_order = tuple(range(10))  # order in which VoCu introduces classes

  # Task (docs/protocol.md): 20 frames, report >= 4 steps after the stimulus,
  # report weight 1 + (T_max - 1) = 20.
  config.task = ml_collections.ConfigDict(dict(
      seq_len=20, t_max=20, min_delay=4, report_weight=20.0, noise_scale=1.0))

  # Model.
  config.model = ml_collections.ConfigDict(dict(
      cell='gru', units=200, frontend='identity', init='paper', reset_after=False,
      readout_sigmoid=False))

  # Curriculum: boundaries in paper steps, scaled to num_steps / reference_steps.
  config.curriculum = 'decu'
  config.reference_steps = _PAPER_STEPS
  config.decu = ml_collections.ConfigDict(dict(
      t_max_start=6, t_max_step=2,
      boundaries=(20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000)))
  config.vocu = ml_collections.ConfigDict(dict(
      classes_start=2,
      boundaries=(8_000, 16_000, 26_000, 36_000, 48_000, 62_000, 78_000, 98_000)))

  # Optimisation: Adam, lr divided by lr_decay_factor from lr_decay_start (paper units).
  config.num_steps = _PAPER_STEPS
  config.batch_size = 128
  config.learning_rate = 1e-4
  config.lr_decay_start = 120_000
  config.lr_decay_factor = 0.1
  config.grad_clip_norm = 0.0  # 0 disables clipping
  config.speed_penalty = 0.0  # lambda of the speed regulariser

  # Speed only (a resumed run may change these; results agree up to rounding):
  # XLA for the train step; threads per TF op (0: TF's default, all cores); training steps
  # per compiled call; independent recurrences the batch is split into; sequences up to
  # unroll_limit steps are unrolled in Python, longer ones run in a loop.
  config.perf = ml_collections.ConfigDict(dict(
      jit_compile=True, intra_op_threads=0, steps_per_execution=100, num_chains=1,
      unroll_limit=64))

  # Loop, logging and checkpoints.
  config.log_every = 1000
  config.checkpoint_every = 5000
  config.snapshot_every = 1000  # weights kept for tracking slow points through training
  config.keep_checkpoints = 3
  config.eval_trials = 10_000
  config.eval_batch_size = 500
  config.deterministic = True
  config.progress_bar = True

  if arg == 'paper':
    pass
  elif arg == 'paper_batch1':
    config.batch_size = 1
  elif arg == 'cpu':
    config.num_steps = 6_000
    config.learning_rate = 1e-3
    config.perf.steps_per_execution = 50
    config.log_every = 250
    config.checkpoint_every = 1000
    config.snapshot_every = 250
    config.eval_trials = 10_000
  elif arg == 'smoke':
    config.num_steps = 24
    config.batch_size = 8
    config.learning_rate = 1e-3
    config.model.units = 16
    config.task.seq_len = 10
    config.task.t_max = 10
    config.decu.t_max_start = 6
    config.perf.steps_per_execution = 4
    config.perf.jit_compile = False  # XLA's compile would take most of a smoke run's time
    config.log_every = 8
    config.checkpoint_every = 8
    config.snapshot_every = 8
    config.eval_trials = 64
    config.eval_batch_size = 32
    config.progress_bar = False
  else:
    raise ValueError(f'unknown variant {arg!r} of configs/mnist.py: expected paper, '
                     'paper_batch1, cpu or smoke')
  return config
