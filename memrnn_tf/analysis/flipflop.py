"""The analysis of a trained flip-flop network (003): fixed points, spectrum, switches.

``analyse(model, config, workdir)`` evaluates the network on long test trajectories and
writes, under ``workdir``::

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

The analysis is a deterministic function of the network and the config, and is redone
(not resumed) on every call. The network is trained by the shared experiment
(``memrnn_tf.training``); ``memrnn_tf.flipflop`` runs the whole study.
"""

import os
import time

from absl import logging
import numpy as np
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf import files
from memrnn_tf.analysis import dynamics
from memrnn_tf.analysis import slowpoints
from memrnn_tf.training import experiment
from memrnn_tf.training import flipflop as flipflop_training

# Seed offsets: test trajectories and initial states never reuse training seeds.
_TEST_SEED = 10_000_019
_SAMPLE_SEED = 20_000_003


def validate_config(config):
  """Checks the training fields (``experiment.validate_config``) and the analysis ones.

  Raises:
    ConfigError: one line, naming the field.
    RunNotFoundError: ``compare_with`` names a run without an analysed spectrum.
  """
  experiment.validate_config(config)
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

  Args:
    model: the trained ``FlipFlopRNN``.
    config: its config (``configs/flipflop.py``).
    workdir: the run directory (layout in the module docstring).

  Returns:
    The summary dict (also ``analysis/summary.json``).
  """
  out_dir = os.path.join(workdir, 'analysis')
  os.makedirs(out_dir, exist_ok=True)
  timings = {}

  start = time.time()
  traj, evaluation = _evaluate(model, config, workdir)
  pca = _trajectory_pca(traj, config, out_dir)
  timings['trajectories_seconds'] = time.time() - start

  start = time.time()
  counts, search_info = _fixed_points(model, config, traj, pca, out_dir)
  timings['fixed_points_seconds'] = time.time() - start

  start = time.time()
  spectrum = _spectrum(model, config, out_dir)
  switch = _switch_average(traj, config, pca, out_dir)
  timings['spectrum_and_average_seconds'] = time.time() - start

  summary = {'delay': int(config.task.delay), 'evaluation': evaluation, 'fixed_points': counts,
             'fixed_point_search': search_info, 'spectrum': spectrum,
             'triggered_average': switch, 'trajectory_pca_explained': pca[2].tolist(),
             'timings': timings}
  files.write_json(os.path.join(out_dir, 'summary.json'), summary, sort_keys=True)
  return summary


def _evaluate(model, config, workdir):
  """Runs the long test trajectories; writes eval.json. Returns ``(trajectories, evaluation)``."""
  a = config.analysis
  traj = run_trajectories(model, flipflop_training.make_task(config), int(a.num_trajectories),
                          int(a.trajectory_len), seed=[int(config.seed) + _TEST_SEED, 0],
                          jit_compile=bool(config.perf.jit_compile))
  evaluation = accuracy_stats(traj['outputs'], traj['targets'], traj['weights'])
  evaluation['num_pulses'] = int(np.sum(traj['inputs'] != 0))
  files.write_json(os.path.join(workdir, 'eval.json'), evaluation, sort_keys=True)
  logging.info('Test trajectories (%d x %d steps): bit accuracy %.4f, all-bits accuracy '
               '%.4f, mse %.4g', a.num_trajectories, a.trajectory_len,
               evaluation['bit_accuracy'], evaluation['step_accuracy'], evaluation['mse'])
  return traj, evaluation


def _trajectory_pca(traj, config, out_dir):
  """PCA of the test states; writes trajectories.npz. Returns ``(mean, components, explained)``."""
  a = config.analysis
  states = traj['states']
  n = states.shape[-1]
  mean, comps, ratio = dynamics.pca(states.reshape(-1, n), min(int(a.num_pcs), n))
  shown = states[0, :int(a.plot_steps)]
  files.write_npz(os.path.join(out_dir, 'trajectories.npz'), pca_mean=mean,
                  pca_components=comps, pca_explained=ratio, states=shown,
                  projected=(shown - mean) @ comps.T,
                  outputs=traj['outputs'][0, :int(a.plot_steps)],
                  targets=traj['targets'][0, :int(a.plot_steps)],
                  inputs=traj['inputs'][0, :int(a.plot_steps)])
  return mean, comps, ratio


def _fixed_points(model, config, traj, pca, out_dir):
  """Finds and classifies the fixed points; writes fixed_points.* and
  fixed_point_classes.npz. Returns ``(counts, search_info)`` for the summary."""
  a = config.analysis
  mean, comps, _ = pca
  x0 = sample_initial_states(traj, int(a.num_initial_states), float(a.noise_std),
                             seed=int(config.seed) + _SAMPLE_SEED,
                             transient_fraction=float(a.transient_fraction),
                             transient_steps=int(a.transient_steps),
                             delay=int(config.task.delay))
  fixed, search = find_fixed_points(model, x0, tol=float(a.fp_tol),
                                    max_iters=int(a.fp_max_iters),
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
  logging.info('Fixed points: %d (by unstable dimensions %s); stable at %d distinct corners',
               counts['num_fixed_points'], counts['by_unstable_dims'],
               counts['stable_distinct_corners'])
  return counts, search_info


def _spectrum(model, config, out_dir):
  """Eigenvalues of W, trained and at initialisation; writes spectrum.npz. Returns the
  summary's numbers."""
  a = config.analysis
  eig = sorted_eigenvalues(model.recurrent_matrix.numpy())
  init_model = experiment.model_from_config(config)  # same seed: the initial W
  eig0 = sorted_eigenvalues(init_model.recurrent_matrix.numpy())
  files.write_npz(os.path.join(out_dir, 'spectrum.npz'), eigvals=eig, initial_eigvals=eig0,
                  delay=np.asarray(int(config.task.delay)))
  radius0 = float(np.abs(eig0).max())
  return {'leading_eigenvalues': [[float(z.real), float(z.imag)] for z in eig[:10]],
          'leading_complex_pairs': leading_complex_pairs(eig, float(a.complex_imag_min)),
          'num_real_above_1': int(np.sum((np.abs(eig.imag) <= a.complex_imag_min) &
                                         (eig.real > 1.0))),
          'num_outside_unit_circle': int(np.sum(np.abs(eig) > 1.0)),
          'initial_spectral_radius': radius0,
          'num_outside_initial_radius': int(np.sum(np.abs(eig) > radius0))}


def _switch_average(traj, config, pca, out_dir):
  """The triggered average of the ``switch_from -> switch_to`` switch and its PCA; writes
  triggered_average.npz. Returns the summary's numbers."""
  a = config.analysis
  delay = int(config.task.delay)
  mean, comps, _ = pca
  n = traj['states'].shape[-1]
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
  return {'num_instances': avg['num_instances'], 'pca_explained': s_ratio.tolist()}
