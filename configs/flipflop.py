r"""The (delayed) 3-bit flip-flop study of 003: vanilla tanh RNN of 100 units.

Command (from the repository root):

  python bin/flipflop.py --config=configs/flipflop.py:delay0 --workdir=runs/flipflop_delay0
  python bin/flipflop.py --config=configs/flipflop.py:delay8 --workdir=runs/flipflop_delay8 \
      --config.compare_with=runs/flipflop_delay0

Trains (resuming from --workdir), evaluates on 20 test trajectories of 5,000 steps
(100,000 steps, ~6,000 pulses), finds the fixed points, the spectrum of W and the
triggered average of the (-1,-1,-1) -> (-1,-1,+1) switch, and draws the figures
(``workdir/analysis/``, ``workdir/figures/``; ``compare_with`` adds the other network's
spectrum to the Fig. 4 panel).

Variants (``--config=configs/flipflop.py:<variant>``):

* ``delay0``: the undelayed task; paper sizes (N = 100, no biases, W_in fixed, BPTT
  truncated to 10 steps, Adam). The paper gives no step count or batch size: 3,000 steps
  of 32 sequences of 100 steps, lr 1e-3 (x0.3 at 60% and 80%). About 1.5 minutes on 2
  idle cores. Expected: ~99.9% sign accuracy; 8 stable fixed points at the 8 output
  corners plus saddles with 1, 2 and 3 unstable dimensions (edges, faces, centre); a few
  real eigenvalues of W slightly above 1.
* ``delay8``: the output changes 8 steps after the pulse; 8,000 steps, otherwise the
  same. About 5 minutes on 2 idle cores. Expected: ~99.7% sign accuracy, the same 8
  corner attractors, saddles with many more unstable dimensions, and complex eigenvalue
  pairs of W with large imaginary parts.
* ``smoke``: a tiny network, a few steps and a small analysis; seconds, for tests only.

Measured numbers are in BUILD_NOTES.md ("Flip-flop (#4)"). Override anything with
``--config.<field>=value``; settings under ``config.perf`` change speed only, and a run
may be resumed with other values of them (and of ``analysis``, ``plots``,
``compare_with`` and the logging fields: ``memrnn_tf.workdir.RESUMABLE_FIELDS``).
"""

import ml_collections


def get_config(arg='delay8'):
  """Returns the config for variant ``arg`` in {'delay0', 'delay8', 'smoke'}."""
  config = ml_collections.ConfigDict()
  config.seed = 0

  # Task: pulses of +-1 with probability pulse_prob per channel and step (one every ~50
  # steps, 003's "lambda = 50"); output = sign of the channel's last pulse,
  # `delay` steps later. Training sequences of seq_len steps start from a zero state with
  # a random pulse on every channel at t = 0.
  config.task = ml_collections.ConfigDict(dict(
      num_bits=3, seq_len=100, pulse_prob=0.02, delay=8, initial_pulse=True))

  # Model: S(t) = tanh(W S(t-1) + W_in X(t)), Y = tanh(W_out S); BPTT truncated to
  # `truncation` steps, 'sliding' (every output sees exactly k steps) or 'windows'.
  config.model = ml_collections.ConfigDict(dict(
      units=100, truncation=10, bptt='sliding'))

  # Optimisation: Adam on the mean squared error of the tanh outputs; the learning rate
  # is multiplied by lr_decay_factor at each of lr_decay_at (fractions of num_steps).
  config.num_steps = 8_000
  config.batch_size = 32
  config.learning_rate = 1e-3
  config.lr_decay_at = (0.6, 0.8)
  config.lr_decay_factor = 0.3
  config.grad_clip_norm = 0.0  # 0 disables clipping

  # Speed only (a resumed run may change these): XLA for the train step and the analysis,
  # training steps per compiled call, sequences up to unroll_limit steps unrolled in Python.
  config.perf = ml_collections.ConfigDict(dict(
      jit_compile=True, steps_per_execution=100, unroll_limit=200))

  # Loop, logging and checkpoints.
  config.log_every = 500
  config.checkpoint_every = 1000
  config.keep_checkpoints = 3
  config.deterministic = True
  config.progress_bar = True

  # Analysis: test trajectories (evaluation and PCA), fixed points from trajectory states
  # plus Gaussian noise, triggered average of one switch.
  config.analysis = ml_collections.ConfigDict(dict(
      num_trajectories=20,
      trajectory_len=5_000,
      plot_steps=3_000,  # steps of trajectory 0 drawn in the PCA figures (paper Fig. 2)
      num_pcs=10,
      num_initial_states=4096,
      noise_std=0.3,
      transient_fraction=0.5,  # share of initial states taken just after a pulse
      transient_steps=20,
      fp_tol=1e-12,  # speed ||F(S) - S||^2 below which a point is a fixed point
      fp_max_iters=20_000,
      fp_learning_rate=1e-2,
      fp_patience=2_000,
      unique_tol=1e-2,  # fixed points closer than this (Euclidean) are one point
      undecided_output=0.5,  # |y_c| below this: output channel c sits "between" corners
      switch_from=(-1.0, -1.0, -1.0),
      switch_to=(-1.0, -1.0, 1.0),
      switch_pre=5,  # steps before the pulse in the triggered average
      switch_post=15,  # steps after the output switch
      num_switch_pcs=9,
      complex_imag_min=0.05,  # |Im lambda| above which an eigenvalue of W counts as complex
  ))

  # Figures (workdir/figures/*.png); compare_with: another flip-flop workdir whose
  # spectrum is drawn next to this one (paper Fig. 4).
  config.plots = True
  config.compare_with = ''

  if arg == 'delay8':
    pass
  elif arg == 'delay0':
    config.task.delay = 0
    config.num_steps = 3_000
  elif arg == 'smoke':
    config.task.seq_len = 20
    config.model.units = 16
    config.model.truncation = 5
    config.num_steps = 20
    config.batch_size = 8
    config.learning_rate = 3e-3
    config.perf.steps_per_execution = 5
    config.perf.jit_compile = False  # XLA's compile would take most of a smoke run's time
    config.log_every = 10
    config.checkpoint_every = 10
    config.progress_bar = False
    config.task.delay = 2
    config.analysis.num_trajectories = 4
    config.analysis.trajectory_len = 500
    config.analysis.plot_steps = 300
    config.analysis.num_initial_states = 64
    config.analysis.fp_max_iters = 500
    config.analysis.fp_patience = 200
    config.analysis.switch_post = 5
    config.analysis.num_switch_pcs = 3
  else:
    raise ValueError(f'unknown variant {arg!r} of configs/flipflop.py: expected delay0, '
                     'delay8 or smoke')
  return config
