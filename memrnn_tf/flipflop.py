"""``train_and_analyse(config, workdir)``: the (delayed) 3-bit flip-flop study (003).

Layout of a workdir::

  config.json                  the resolved config (checked on resume)
  checkpoints/                 tf.train.CheckpointManager (model + optimizer)
  metrics.jsonl, tensorboard/  training scalars (loss, sign accuracy)
  eval.json                    accuracy on the long test trajectories
  analysis/
    trajectories.npz           PCA of the test trajectories (mean, components, explained
                               variance), the first ``plot_steps`` steps of trajectory 0
                               (states, outputs, targets, projections)
    fixed_points.npz|json      the toolkit's ``SlowPoints`` (converged, deduplicated)
    fixed_point_classes.npz    per fixed point: eigenvalue moduli, number of unstable
                               dimensions, outputs tanh(W_out S), output corner, PCA
                               projection
    spectrum.npz               eigenvalues of W, trained and at initialisation
    triggered_average.npz      the averaged (-1,-1,-1) -> (-1,-1,+1) switch, its PCA and
                               its projection on the trajectory PCs
    summary.json               all the numbers (counts by unstable dimensions, stable
                               corners, leading complex eigenvalue pairs, timings)
  figures/*.png                drawn from analysis/ only (``memrnn_tf.plots.flipflop``)

Training batches are generated inside the compiled loop from the stateless seed
``(config.seed, step)``, so a run killed at any point and restarted with the same command
continues from its last checkpoint and ends with the same weights. The analysis is a
deterministic function of the final checkpoint and the config, and is redone (not resumed)
on every call.
"""

import os
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf import files
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.analysis import dynamics
from memrnn_tf.analysis import slowpoints
from memrnn_tf.data import flipflop as flipflop_data
from memrnn_tf.models import flipflop as flipflop_models
from memrnn_tf.training import loop

# Seed offsets: test trajectories and initial states never reuse training seeds.
_TEST_SEED = 10_000_019
_SAMPLE_SEED = 20_000_003


# --- building --------------------------------------------------------------------------------
def make_task(config, **overrides):
  """``FlipFlopTask`` from ``config.task`` (with optional overrides)."""
  values = dict(config.task.to_dict())
  values.update(overrides)
  return flipflop_data.FlipFlopTask(
      num_bits=int(values['num_bits']), seq_len=int(values['seq_len']),
      pulse_prob=float(values['pulse_prob']), delay=int(values['delay']),
      initial_pulse=bool(values.get('initial_pulse', True)))


def validate_config(config):
  """Raises ConfigError (one line, naming the field) on a bad config."""
  make_task(config)
  make_optimizer(config)
  for key in ('num_steps', 'batch_size', 'log_every', 'checkpoint_every',
              'perf.steps_per_execution', 'keep_checkpoints'):
    if int(config[key]) < 1:
      raise errors.ConfigError(f'config.{key}={config[key]} must be >= 1')
  if not config.learning_rate > 0:
    raise errors.ConfigError(f'config.learning_rate={config.learning_rate} must be > 0')
  if config.model.bptt not in flipflop_models.BPTT_MODES:
    raise errors.ConfigError(f'unknown config.model.bptt={config.model.bptt!r}: expected one of '
                             f'{", ".join(flipflop_models.BPTT_MODES)}')
  a = config.analysis
  if len(a.switch_from) != config.task.num_bits or len(a.switch_to) != config.task.num_bits:
    raise errors.ConfigError(f'config.analysis.switch_from/switch_to must have task.num_bits='
                             f'{config.task.num_bits} entries')
  if not 0.0 <= a.transient_fraction <= 1.0:
    raise errors.ConfigError(f'config.analysis.transient_fraction={a.transient_fraction} must '
                             'be in [0, 1]')
  if config.compare_with and not os.path.exists(
      os.path.join(config.compare_with, 'analysis', 'spectrum.npz')):
    raise errors.RunNotFoundError(f'--config.compare_with={config.compare_with}: no '
                                  'analysis/spectrum.npz there (run that config first)')


def make_optimizer(config):
  """Adam with a step-down learning rate and optional global-norm clipping.

  The rate is ``learning_rate`` times ``lr_decay_factor ** i`` after the i-th boundary of
  ``lr_decay_at`` (fractions of ``num_steps``). Without the decay the delayed network's
  accuracy wanders by several percent between checkpoints at lr 1e-3 (measured: 99.8%,
  99.3%, 94.2% on long trials at steps 6000, 7000, 8000).
  """
  clip = config.get('grad_clip_norm', 0.0) or None
  fractions = sorted(float(f) for f in config.get('lr_decay_at', ()))
  if any(not 0.0 < f < 1.0 for f in fractions):
    raise errors.ConfigError(f'config.lr_decay_at={tuple(fractions)} must be fractions in (0, 1)')
  lr = float(config.learning_rate)
  if fractions:
    boundaries = [int(round(f * int(config.num_steps))) for f in fractions]
    values = [lr * float(config.lr_decay_factor) ** i for i in range(len(boundaries) + 1)]
    lr = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
  return keras.optimizers.Adam(learning_rate=lr, global_clipnorm=clip)


def build_model(config):
  """A compiled ``FlipFlopRNN`` with a built optimizer (writes nothing)."""
  model = flipflop_models.create_model(config)
  model.compile(optimizer=make_optimizer(config), jit_compile=False)
  model.optimizer.build(model.trainable_variables)
  return model


# --- training --------------------------------------------------------------------------------
def make_train_chunk(model, task, config):
  """Compiled ``chunk(n)``: n training steps, batches generated in-graph from (seed, step)."""
  seed = tf.constant(int(config.seed), tf.int64)
  batch_size = int(config.batch_size)
  return loop.train_chunk(model, lambda step: task.sample(tf.stack([seed, step]), batch_size),
                          bool(config.perf.jit_compile))


def train(config, workdir):
  """Trains (resuming from ``workdir`` if possible).

  Returns:
    ``(model, info)`` with ``info`` = dict(step, train_seconds_this_session, resumed_from).

  Raises:
    CheckpointMismatchError: workdir of another model/task;
    TrainingDivergedError: non-finite loss (the last good checkpoint is kept).
  """
  if config.get('deterministic', False):
    tf.config.experimental.enable_op_determinism()
  task = make_task(config)
  model = build_model(config)
  manager, writer = loop.open_workdir(config, workdir, model)
  resumed_from = manager.latest_checkpoint  # None for a new run
  step = int(model.optimizer.iterations.numpy())
  c = config
  logging.info('Training flip-flop RNN-%d (delay %d, bptt %s %d) from step %d to %d',
               c.model.units, c.task.delay, c.model.bptt, c.model.truncation, step,
               c.num_steps)
  step, elapsed = loop.training_loop(model, make_train_chunk(model, task, config), config,
                                     manager, writer)
  return model, {'step': step, 'train_seconds_this_session': elapsed,
                 'resumed_from': resumed_from}


def load_trained_model(workdir):
  """Rebuilds the model of ``workdir`` from its config.json and restores its latest weights.

  Returns:
    ``(model, config, checkpoint_path)``.
  """
  config = workdir_lib.load_config(workdir)
  path, _ = workdir_lib.usable_checkpoint(os.path.join(workdir, 'checkpoints'),
                                         what=f'--workdir={workdir}')
  if path is None:
    raise errors.RunNotFoundError(f'no checkpoint in {workdir}/checkpoints: train first '
                                  f'(bin/flipflop.py --workdir={workdir})')
  model = flipflop_models.create_model(config)
  workdir_lib.restore_model(model, path)
  return model, config, path


# --- test trajectories -----------------------------------------------------------------------
def run_trajectories(model, task, num_trajectories, length, seed, jit_compile=True):
  """Runs the network on long test trials.

  Args:
    model: ``FlipFlopRNN``.
    task: ``FlipFlopTask``.
    num_trajectories: ``B``.
    length: ``T`` steps per trajectory.
    seed: ``[2]`` seed of the trials.
    jit_compile: compile the forward pass with XLA.

  Returns:
    Dict of numpy arrays: ``inputs``, ``targets``, ``weights``, ``undelayed_targets``,
    ``outputs`` (all ``[B, T, C]``) and ``states`` ``[B, T, N]``.
  """
  batch = task.sample(tf.constant(seed, tf.int64), num_trajectories, seq_len=length)
  forward = tf.function(lambda x: model(x, return_states=True), jit_compile=jit_compile)
  outputs, states = forward(batch['inputs'])
  out = {k: v.numpy() for k, v in batch.items()}
  out.update(outputs=outputs.numpy(), states=states.numpy())
  return out


def accuracy_stats(outputs, targets, weights):
  """Mean squared error, per-bit sign accuracy and all-bits accuracy (numpy).

  Args:
    outputs, targets, weights: ``[..., T, C]``.

  Returns:
    Dict: ``mse``, ``bit_accuracy`` (over entries with weight 1), ``step_accuracy`` (over
    steps whose C targets are all defined: all C signs right), ``num_steps``.
  """
  w = weights > 0
  correct = np.sign(outputs) == targets
  full = np.all(w, axis=-1)
  return {'mse': float(np.sum(w * (outputs - targets) ** 2) / max(w.sum(), 1)),
          'bit_accuracy': float(correct[w].mean()),
          'step_accuracy': float(np.all(correct, axis=-1)[full].mean()),
          'num_steps': int(full.sum())}


# --- fixed points ----------------------------------------------------------------------------
def sample_initial_states(trajectories, num, noise_std, seed, transient_fraction=0.0,
                          transient_steps=20, delay=0):
  """Initial states for the fixed-point search: trajectory states plus Gaussian noise.

  A share ``transient_fraction`` is drawn from the ``delay + transient_steps`` steps that
  follow a pulse (where the switches, and the saddles that route them, are), the rest
  uniformly from all steps.

  Args:
    trajectories: dict from ``run_trajectories`` (``states [B, T, N]``, ``inputs``).
    num: number of initial states.
    noise_std: standard deviation of the added noise.
    seed: integer seed (numpy).
    transient_fraction, transient_steps, delay: see above.

  Returns:
    ``[num, N]`` float32.
  """
  rng = np.random.default_rng(seed)
  states = trajectories['states']
  b, t, n = states.shape
  flat = states.reshape(b * t, n)
  pulse = np.any(trajectories['inputs'] != 0, axis=-1)  # [B, T]
  after = np.zeros_like(pulse)
  for lag in range(delay + transient_steps):
    after[:, lag:] |= pulse[:, :t - lag]
  after[:, 0] = False
  transient = np.flatnonzero(after.reshape(-1))
  num_transient = int(round(num * transient_fraction)) if transient.size else 0
  idx = np.concatenate([rng.choice(transient, num_transient),
                        rng.choice(b * t, num - num_transient)])
  x0 = flat[idx] + noise_std * rng.standard_normal((num, n))
  return x0.astype(np.float32)


def find_fixed_points(model, initial_states, tol=1e-12, max_iters=20_000, learning_rate=1e-2,
                      patience=2_000, unique_tol=1e-2):
  """Fixed points of the input-free map F(S) = tanh(W S) with the slow-point toolkit.

  Args:
    model: ``FlipFlopRNN`` (its cell is the map searched).
    initial_states: ``[M, N]``.
    tol, max_iters, learning_rate, patience: of ``slowpoints.find_slow_points``'s
      first-order phase, unused by its default Levenberg-Marquardt search; a point counts
      as a fixed point when that search's status says so (residual at the float64 floor).
    unique_tol: points closer than this are merged (the slowest kept).

  Returns:
    ``(fixed_points, search)``: the converged, deduplicated ``SlowPoints`` (eigenvalues
    computed) and the raw search result.
  """
  step_fn = slowpoints.step_fn_for_cell(model.cell)
  inputs = np.zeros([model.num_bits], np.float32)
  search = slowpoints.find_slow_points(
      step_fn, initial_states, inputs,
      slowpoints.SearchOptions(tol=tol, max_iters=max_iters, learning_rate=learning_rate,
                               patience=patience))
  fixed = search.subset(search.converged).unique(unique_tol)
  if len(fixed):
    fixed.eigenvalues(step_fn)
  return fixed, search


def classify_fixed_points(model, fixed, undecided_output=0.5):
  """Stability and output corner of every fixed point.

  Args:
    model: ``FlipFlopRNN``.
    fixed: ``SlowPoints`` with eigenvalues (from ``find_fixed_points``).
    undecided_output: ``|y_c|`` below this counts as channel c "between" two corners.

  Returns:
    Dict of numpy arrays over the K points: ``n_unstable [K]`` (eigenvalues of the
    Jacobian with ``|lambda| > 1``), ``eig_modulus [K, N]`` (decreasing), ``outputs
    [K, C]`` = tanh(W_out S), ``corners [K, C]`` = sign(outputs), ``num_undecided [K]``.
  """
  k, c = len(fixed), model.num_bits
  if k == 0:
    return {'n_unstable': np.zeros([0], np.int64), 'eig_modulus': np.zeros([0, model.units]),
            'outputs': np.zeros([0, c], np.float32), 'corners': np.zeros([0, c], np.float32),
            'num_undecided': np.zeros([0], np.int64)}
  outputs = model.output(tf.constant(fixed.points)).numpy()
  return {'n_unstable': fixed.n_unstable().astype(np.int64),
          'eig_modulus': np.abs(fixed.eigenvalues()),
          'outputs': outputs, 'corners': np.sign(outputs),
          'num_undecided': np.sum(np.abs(outputs) < undecided_output, axis=1).astype(np.int64)}


def count_fixed_points(classes):
  """Counts for the summary: by unstable dimensions, stable points at distinct corners.

  Args:
    classes: dict from ``classify_fixed_points``.

  Returns:
    Dict: ``num_fixed_points``, ``by_unstable_dims`` ({"0": n, ...}),
    ``stable_points``, ``stable_distinct_corners``, ``stable_corners`` (sorted list),
    ``undecided_by_unstable_dims`` ({"k": {"u": n}}: how many output channels sit between
    corners (|y| < undecided_output) for the points with k unstable dimensions).
  """
  n_unstable = classes['n_unstable']
  stable = n_unstable == 0
  corners = sorted({tuple(int(v) for v in row) for row in classes['corners'][stable]})
  cross = {}
  for k, u in zip(n_unstable.tolist(), classes['num_undecided'].tolist()):
    cross.setdefault(str(k), {}).setdefault(str(u), 0)
    cross[str(k)][str(u)] += 1
  values, counts = np.unique(n_unstable, return_counts=True)
  return {'num_fixed_points': int(len(n_unstable)),
          'by_unstable_dims': {str(int(v)): int(n) for v, n in zip(values, counts)},
          'stable_points': int(stable.sum()),
          'stable_distinct_corners': len(corners),
          'stable_corners': [list(c) for c in corners],
          'undecided_by_unstable_dims': cross}


# --- spectrum and triggered average ----------------------------------------------------------
def sorted_eigenvalues(matrix):
  """Eigenvalues of a square matrix by decreasing modulus (complex128)."""
  ev = np.linalg.eigvals(np.asarray(matrix, np.float64))
  return ev[np.argsort(-np.abs(ev), kind='stable')]


def leading_complex_pairs(eigvals, imag_min=0.05, num=5):
  """The ``num`` complex-conjugate pairs of largest modulus (one member, Im > 0, each).

  Returns:
    List of dicts ``real``, ``imag``, ``modulus``, ``angle`` (radians) and ``period``
    (steps per turn, 2 pi / angle).
  """
  pairs = [z for z in eigvals if z.imag > imag_min][:num]
  return [{'real': float(z.real), 'imag': float(z.imag), 'modulus': float(abs(z)),
           'angle': float(np.angle(z)), 'period': float(2 * np.pi / np.angle(z))}
          for z in pairs]


# --- the whole analysis ----------------------------------------------------------------------
def analyse(model, config, workdir):
  """Evaluation and analysis of a trained network; writes ``workdir/analysis``, eval.json.

  Returns:
    The summary dict (also ``analysis/summary.json``).
  """
  a = config.analysis
  out_dir = os.path.join(workdir, 'analysis')
  os.makedirs(out_dir, exist_ok=True)
  timings = {}
  delay = int(config.task.delay)

  start = time.time()
  task = make_task(config)
  traj = run_trajectories(model, task, int(a.num_trajectories), int(a.trajectory_len),
                          seed=[int(config.seed) + _TEST_SEED, 0],
                          jit_compile=bool(config.perf.jit_compile))
  evaluation = accuracy_stats(traj['outputs'], traj['targets'], traj['weights'])
  evaluation['num_pulses'] = int(np.sum(traj['inputs'] != 0))
  files.write_json(os.path.join(workdir, 'eval.json'), evaluation, sort_keys=True)
  logging.info('Test trajectories (%d x %d steps): bit accuracy %.4f, all-bits accuracy '
               '%.4f, mse %.4g', a.num_trajectories, a.trajectory_len,
               evaluation['bit_accuracy'], evaluation['step_accuracy'], evaluation['mse'])
  states = traj['states']
  n = states.shape[-1]
  mean, comps, ratio = dynamics.pca(states.reshape(-1, n), min(int(a.num_pcs), n))
  shown = states[0, :int(a.plot_steps)]
  files.write_npz(os.path.join(out_dir, 'trajectories.npz'), pca_mean=mean, pca_components=comps,
                pca_explained=ratio, states=shown, projected=(shown - mean) @ comps.T,
                outputs=traj['outputs'][0, :int(a.plot_steps)],
                targets=traj['targets'][0, :int(a.plot_steps)],
                inputs=traj['inputs'][0, :int(a.plot_steps)])
  timings['trajectories_seconds'] = time.time() - start

  start = time.time()
  x0 = sample_initial_states(traj, int(a.num_initial_states), float(a.noise_std),
                             seed=int(config.seed) + _SAMPLE_SEED,
                             transient_fraction=float(a.transient_fraction),
                             transient_steps=int(a.transient_steps), delay=delay)
  fixed, search = find_fixed_points(model, x0, tol=float(a.fp_tol), max_iters=int(a.fp_max_iters),
                                    learning_rate=float(a.fp_learning_rate),
                                    patience=int(a.fp_patience), unique_tol=float(a.unique_tol))
  classes = classify_fixed_points(model, fixed, float(a.undecided_output))
  counts = count_fixed_points(classes)
  search_info = {'num_initial_states': len(search), 'num_converged': int(search.converged.sum()),
                 'speed_median': float(np.nanmedian(search.speeds)),
                 'search_seconds': float(search.info.get('seconds', np.nan))}
  fixed.save(os.path.join(out_dir, 'fixed_points'), extra={'search': search_info})
  files.write_npz(os.path.join(out_dir, 'fixed_point_classes.npz'),
                projected=(fixed.points - mean) @ comps.T if len(fixed) else
                np.zeros([0, len(comps)]), **classes)
  timings['fixed_points_seconds'] = time.time() - start
  logging.info('Fixed points: %d (by unstable dimensions %s); stable at %d distinct corners',
               counts['num_fixed_points'], counts['by_unstable_dims'],
               counts['stable_distinct_corners'])

  start = time.time()
  w = model.recurrent_matrix.numpy()
  eig = sorted_eigenvalues(w)
  init_model = flipflop_models.create_model(config)  # same seed: the initial W
  eig0 = sorted_eigenvalues(init_model.recurrent_matrix.numpy())
  files.write_npz(os.path.join(out_dir, 'spectrum.npz'), eigvals=eig, initial_eigvals=eig0,
                delay=np.asarray(delay))
  radius0 = float(np.abs(eig0).max())
  spectrum = {'leading_eigenvalues': [[float(z.real), float(z.imag)] for z in eig[:10]],
              'leading_complex_pairs': leading_complex_pairs(eig, float(a.complex_imag_min)),
              'num_real_above_1': int(np.sum((np.abs(eig.imag) <= a.complex_imag_min) &
                                             (eig.real > 1.0))),
              'num_outside_unit_circle': int(np.sum(np.abs(eig) > 1.0)),
              'initial_spectral_radius': radius0,
              'num_outside_initial_radius': int(np.sum(np.abs(eig) > radius0))}

  avg = dynamics.triggered_average(traj, a.switch_from, a.switch_to, delay,
                                   int(a.switch_pre), int(a.switch_post))
  k = min(int(a.num_switch_pcs), n)
  if avg['num_instances']:
    s_mean, s_comps, s_ratio = dynamics.pca(avg['mean_states'], k)
    s_proj = (avg['mean_states'] - s_mean) @ s_comps.T
    on_traj = (avg['mean_states'] - mean) @ comps.T
  else:
    s_mean, s_comps, s_ratio = np.zeros(n), np.zeros([k, n]), np.zeros(k)
    s_proj = on_traj = np.full((len(avg['times']), k), np.nan)
  files.write_npz(os.path.join(out_dir, 'triggered_average.npz'), times=avg['times'],
                mean_states=avg['mean_states'], mean_outputs=avg['mean_outputs'],
                starts=avg['starts'], num_instances=np.asarray(avg['num_instances']),
                pca_mean=s_mean, pca_components=s_comps, pca_explained=s_ratio,
                projected=s_proj, on_trajectory_pcs=on_traj, delay=np.asarray(delay),
                switch_from=np.asarray(a.switch_from), switch_to=np.asarray(a.switch_to))
  timings['spectrum_and_average_seconds'] = time.time() - start

  summary = {'delay': delay, 'evaluation': evaluation, 'fixed_points': counts,
             'fixed_point_search': search_info, 'spectrum': spectrum,
             'triggered_average': {'num_instances': avg['num_instances'],
                                   'pca_explained': s_ratio.tolist()},
             'trajectory_pca_explained': ratio.tolist(), 'timings': timings}
  files.write_json(os.path.join(out_dir, 'summary.json'), summary, sort_keys=True)
  return summary


def train_and_analyse(config, workdir):
  """Trains (resuming if possible), evaluates, analyses and plots.

  Args:
    config: ``ConfigDict`` from ``configs/flipflop.py``.
    workdir: run directory (layout in the module docstring).

  Returns:
    The analysis summary (``analysis/summary.json``) with the training info added.

  Raises:
    ConfigError: bad config; CheckpointMismatchError: workdir of another model/task;
    TrainingDivergedError: non-finite loss.
  """
  validate_config(config)
  start = time.time()
  model, info = train(config, workdir)
  train_seconds = time.time() - start
  start = time.time()
  summary = analyse(model, config, workdir)
  summary['training'] = {**info, 'train_call_seconds': train_seconds}
  summary['timings']['analysis_seconds'] = time.time() - start
  files.write_json(os.path.join(workdir, 'analysis', 'summary.json'), summary, sort_keys=True)
  if config.plots:
    from memrnn_tf.plots import flipflop as flipflop_plots  # matplotlib only when plotting
    start = time.time()
    paths = flipflop_plots.plot_all(workdir, compare_with=config.compare_with or None)
    logging.info('Figures: %s (%.1f s)', ', '.join(paths), time.time() - start)
  return summary
