"""The paper's slow-point procedure (section 6) on a trained delayed-classification run.

* Initial states: for every class, trials that show an image of the class at t = 0 and
  then ``delay`` (= 15) noise frames; the packed states after the last noise frame are
  averaged per class, keeping only trials the network reports correctly.
* Input during the search: the mean noise frame with trigger 0 (``task.mean_input()``),
  which makes the dynamics time-invariant so slow points and their stability are defined.
* Readout check ("a readout that matches the class label"): before the trigger the
  network reports "null" by design, so a state's class is the network's report *when
  the trigger arrives*: ``model.readout_probabilities(F(x, I_trigger))`` with
  ``I_trigger`` the mean noise frame with trigger 1 (noise-free, so the check is
  deterministic). The same check selects the trials that enter the class means.

``sample_states_from_trajectories`` gives the general procedure (states visited by the
network, plus noise), which finds saddles as well as attractors.
"""

import dataclasses
import os
import re

from absl import logging
import numpy as np
import tensorflow as tf

from memrnn_tf import workdir as workdir_lib
from memrnn_tf.analysis import slowpoints
from memrnn_tf.training import experiment


def trigger_input(task):
  """The mean noise frame with trigger 1, ``[num_features]``."""
  frame = task.mean_input()
  return tf.concat([frame[:-1], [1.0]], 0)


def trigger_readout_fn(model, task):
  """``fn(states [n, S]) -> [n, K]``: class probabilities reported if the trigger arrives
  at the next step (``readout(F(state, trigger frame))``); index 0 is "null"."""
  trig = trigger_input(task)

  @tf.function(reduce_retracing=True)
  def fn(states):
    states = tf.convert_to_tensor(states, tf.float32)
    inputs = tf.broadcast_to(trig, [tf.shape(states)[0], trig.shape[0]])
    return model.readout_probabilities(model.one_step(states, inputs))

  return fn


def _stimulus_then_noise(task, labels, delay, seed, noise_scale, frozen_noise=None):
  """Inputs ``[n, delay + 1, P + 1]``: an image of each label, then ``delay`` noise frames
  with trigger 0 (``frozen_noise [delay, P]``, the same for every trial, when given)."""
  n = int(labels.shape[0])
  seeds = tf.random.experimental.stateless_split(tf.constant(seed, tf.int32), 2)
  images, _ = task.sample_images(seeds[0], n, labels=labels)
  if frozen_noise is not None:
    noise = tf.broadcast_to(tf.constant(frozen_noise, tf.float32)[None],
                            [n, delay, task.num_pixels])
  else:
    noise = task.mean + noise_scale * task.std * tf.random.stateless_normal(
        [n, delay, task.num_pixels], seeds[1])
  frames = tf.concat([images[:, None, :], noise], axis=1)
  return tf.concat([frames, tf.zeros([n, delay + 1, 1])], axis=-1)


@dataclasses.dataclass
class ClassMeans:
  """Per-class mean states ``delay`` steps after the stimulus.

  Attributes:
    states: packed mean states ``[C, S]``.
    kept: trials per class whose triggered readout was their class ``[C]``.
    trials: trials per class ``[C]``.
    fallback: classes without a correct trial, averaged over all their trials ``[C]``.
  """
  states: np.ndarray
  kept: np.ndarray
  trials: np.ndarray
  fallback: np.ndarray

  @property
  def accuracy(self):
    return self.kept / np.maximum(self.trials, 1)


# The class means of the authors' search (their released code): one frozen noise sequence,
# shared by every trial, at a third of the training noise std.
PAPER_MEANS = {'noise_scale': 1.0 / 3.0, 'frozen_noise': True}


def class_mean_states(model, task, delay=15, trials_per_class=100, seed=0, noise_scale=None,
                      batch_size=500, frozen_noise=False):
  """Per-class mean packed states ``delay`` steps after the stimulus (paper section 6).

  Each trial shows an image of its class at t = 0 (images drawn from ``task``) followed by
  ``delay`` frames of noise; the state after the last one is kept if the network's report
  when triggered there (``trigger_readout_fn``) is the trial's class. By default every
  trial has its own noise at the task's level; ``PAPER_MEANS`` gives the authors' means
  (one frozen noise sequence for all trials, at std/3).

  Args:
    model: a trained ``MemoryRNN``.
    task: a ``DelayedClassification`` (its images, noise level and class count).
    delay: noise frames after the stimulus.
    trials_per_class: trials per class.
    seed: integer seed.
    noise_scale: multiplies the noise std (default the task's).
    batch_size: trials per forward pass.
    frozen_noise: one noise sequence (drawn from ``seed``) shared by every trial.

  Returns:
    ``ClassMeans``.
  """
  noise_scale = task.spec.noise_scale if noise_scale is None else float(noise_scale)
  num_classes = task.num_classes
  labels = np.repeat(np.arange(num_classes, dtype=np.int32), trials_per_class)
  readout = trigger_readout_fn(model, task)
  run = tf.function(model.run_cell, reduce_retracing=True)
  frozen = None
  if frozen_noise:
    frozen = (task.mean + noise_scale * task.std * tf.random.stateless_normal(
        [delay, task.num_pixels], [int(seed), -1])).numpy()
  states, correct = [], []
  for b, start in enumerate(range(0, len(labels), batch_size)):
    lab = tf.constant(labels[start:start + batch_size])
    inputs = _stimulus_then_noise(task, lab, delay, [int(seed), b], noise_scale, frozen)
    final = run(inputs)[:, -1]
    report = np.argmax(readout(final).numpy(), axis=-1)
    states.append(final.numpy())
    correct.append(report == lab.numpy() + 1)
  states, correct = np.concatenate(states), np.concatenate(correct)
  means = np.zeros((num_classes, states.shape[1]), np.float32)
  kept = np.zeros(num_classes, np.int64)
  fallback = np.zeros(num_classes, bool)
  for c in range(num_classes):
    of_class = labels == c
    use = of_class & correct
    kept[c] = use.sum()
    if kept[c] == 0:
      # No correct trial (e.g. an untrained class): the mean of all its trials.
      use, fallback[c] = of_class, True
      logging.warning('class %d: no trial reported correctly after %d steps; using the '
                      'mean of all its %d trials', c, delay, of_class.sum())
    means[c] = states[use].mean(axis=0)
  return ClassMeans(means, kept, np.full(num_classes, trials_per_class), fallback)


def sample_states_from_trajectories(model, task, n, noise_std=0.0, seed=0, num_trials=None):
  """``n`` packed states visited by the network before the trigger, plus Gaussian noise.

  Initial states for the general search (saddles as well as attractors): full task
  trials are run, ``n`` (trial, time) pairs with ``time < report_time`` are drawn
  uniformly, and ``N(0, noise_std^2)`` noise is added to the packed state.

  Args:
    model: a ``MemoryRNN``.
    task: a ``DelayedClassification``.
    n: number of states.
    noise_std: std of the added noise.
    seed: integer seed.
    num_trials: trials to run (default ``max(n, 64)``, at most 1,000).

  Returns:
    ``[n, state_size]`` float32.
  """
  num_trials = int(num_trials or min(max(n, 64), 1000))
  batch = task.sample(tf.constant([int(seed), 0]), num_trials)
  states = tf.function(model.run_cell)(batch['inputs']).numpy()
  report = batch['report_time'].numpy()
  trial, time = np.nonzero(np.arange(states.shape[1])[None, :] < report[:, None])
  rng = np.random.default_rng(seed)
  pick = rng.choice(len(trial), size=n, replace=len(trial) < n)
  out = states[trial[pick], time[pick]]
  return (out + noise_std * rng.standard_normal(out.shape)).astype(np.float32)


def _step_of(path):
  match = re.search(r'-(\d+)$', path)
  return int(match.group(1)) if match else None


def result_name(method):
  """``analysis/<name>.json`` of a run's class slow points: the authors' search
  (``'paper'``) is kept beside the refined one, never in its place."""
  return 'slowpoints_paper' if method == 'paper' else 'slowpoints'


def search_params(options, delay, trials_per_class, split, seed):
  """The parameters a saved class slow-point result is reused for (JSON types); ``search``
  holds the options that differ from the defaults (``SearchOptions.overrides``)."""
  return {'method': options.method, 'delay': int(delay),
          'trials_per_class': int(trials_per_class), 'split': split, 'seed': int(seed),
          'search': dict(sorted(options.overrides().items()))}


def reuse_params(options, delay, trials_per_class, split, seed):
  """``search_params`` for ``files.load_if_matches``: a saved ``search`` matches when it
  describes the same options, whichever of them it lists (older results list the options
  a binary passed, defaults included)."""
  params = search_params(options, delay, trials_per_class, split, seed)
  params['search'] = lambda saved: (
      isinstance(saved, dict) and
      slowpoints.SearchOptions.from_overrides(options.method, saved) == options)
  return params


def find_class_slow_points(workdir, checkpoint=None, delay=15, trials_per_class=100,
                           split='test', seed=0, options=slowpoints.SearchOptions(),
                           write=True):
  """The paper's class slow points of a trained run, written under ``workdir/analysis``.

  Args:
    workdir: a trained run (``bin/train.py --workdir``).
    checkpoint: training step of a checkpoint or snapshot (default the latest).
    delay: steps after the stimulus at which class means are taken.
    trials_per_class: trials per class for the means.
    split: images for the trials (``'test'``: held out).
    seed: integer seed of the trials.
    options: ``slowpoints.SearchOptions`` of the search (default: the
      Levenberg-Marquardt refinement in float64 from the class means, inside the cell's
      reachable region). ``method='paper'`` is the authors' procedure: their class means
      (``PAPER_MEANS``) and their first-order search.
    write: write ``analysis/<result_name(method)>.npz`` and ``.json`` (with ``_step<N>``
      when ``checkpoint`` is given).

  Returns:
    ``(SlowPoints, table)``: table is one dict per class (see ``format_class_table``).
  """
  config = workdir_lib.load_config(workdir)
  model, path = experiment.load_trained_model(workdir, checkpoint)
  task = experiment.make_task(config, split)
  method = options.method
  step_fn = slowpoints.step_fn_for_model(model)
  means = class_mean_states(model, task, delay=delay, trials_per_class=trials_per_class,
                            seed=seed, **(PAPER_MEANS if method == 'paper' else {}))
  result = slowpoints.find_slow_points(step_fn, means.states, task.mean_input(), options)
  probs = result.readout(trigger_readout_fn(model, task))
  n_unstable = result.n_unstable(step_fn)
  tau = result.time_constants()
  distance = np.linalg.norm(result.xi - result.initial_xi, axis=1)
  table = []
  for c in range(task.num_classes):
    report = int(np.argmax(probs[c]))
    table.append({
        'class': c, 'speed': float(result.speeds[c]),
        'class_mean_speed': float(result.initial_speeds[c]),
        'iterations': int(result.iterations[c]), 'status': str(result.status[c]),
        'residual': float(result.residuals[c]), 'newton_step': float(result.newton_steps[c]),
        'sigma_min': float(result.sigma_min[c]), 'num_at_bound': int(result.num_at_bound[c]),
        'readout_class': report - 1,  # -1: "null"
        'readout_probability': float(probs[c, report]),
        'distance_from_mean': float(distance[c]), 'n_unstable': int(n_unstable[c]),
        'slowest_time_constant': float(tau[c]),
        'max_abs_eigenvalue': float(np.abs(result.eigvals[c, 0])),
        'trials_kept': int(means.kept[c]), 'trials': int(means.trials[c]),
    })
  step = _step_of(path)
  params = search_params(options, delay, trials_per_class, split, seed)
  result.info.update(workdir=os.path.abspath(workdir), checkpoint=path, step=step,
                     input='mean noise frame, trigger 0',
                     readout='readout(F(point, mean noise frame with trigger 1))',
                     class_means=('one frozen noise sequence at std/3 (the authors\')'
                                  if method == 'paper' else 'independent noise per trial'),
                     **params)
  if write:
    name = result_name(method) + ('' if checkpoint is None else f'_step{int(checkpoint)}')
    out = result.save(os.path.join(workdir, 'analysis', name),
                      extra={'classes': table, **params,
                             'num_readout_correct': sum(r['readout_class'] == r['class']
                                                        for r in table)})
    logging.info('Wrote %s', out)
  return result, table


def format_class_table(table):
  """The per-class table as text."""
  header = (f'{"class":>5} {"status":>13} {"speed":>10} {"mean speed":>10} {"iters":>6} '
            f'{"sigma_min":>9} {"at_bound":>8} {"readout":>7} {"p":>5} {"dist":>7} '
            f'{"unstable":>8} {"max|ev|":>8} {"tau":>8}')
  lines = [header]
  for r in table:
    readout = 'null' if r['readout_class'] < 0 else str(r['readout_class'])
    tau = r['slowest_time_constant']
    lines.append(f'{r["class"]:>5} {r["status"]:>13} {r["speed"]:>10.3e} '
                 f'{r["class_mean_speed"]:>10.3e} {r["iterations"]:>6} '
                 f'{r["sigma_min"]:>9.2e} {r["num_at_bound"]:>8} {readout:>7} '
                 f'{r["readout_probability"]:>5.2f} {r["distance_from_mean"]:>7.3f} '
                 f'{r["n_unstable"]:>8} '
                 f'{r["max_abs_eigenvalue"]:>8.4f} '
                 f'{"inf" if not np.isfinite(tau) else f"{tau:.1f}":>8}')
  correct = sum(r['readout_class'] == r['class'] for r in table)
  counts = {k: sum(r['status'] == k for r in table)
            for k in ('fixed_point', 'slow_point', 'not_converged')}
  lines.append(f'readout matches class for {correct}/{len(table)} slow points; '
               f'{counts["fixed_point"]} fixed points, {counts["slow_point"]} slow points '
               f'(S > 0 at a minimum), {counts["not_converged"]} not converged')
  return '\n'.join(lines)
