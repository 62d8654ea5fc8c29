"""Extrapolation: accuracy at delays and noise beyond training (paper Fig. 2, paper 001
Fig. 2 and tables 5-6).

The authors never released their long-delay script (docs/protocol.md), so the delay
protocol is open to two readings; both are offered:

* ``'fixed'``: every trial shows the image at ``t_s = 0`` and the trigger at ``t_a = d``
  (``delay_curve``). All delays are measured in one pass: the state is run through noise
  frames and, at every requested delay ``d``, a copy of the state receives one triggered
  frame and its readout is scored. That copy is exactly a trial of delay ``d`` (the noise
  prefix is shared across delays, which correlates neighbouring delays' estimates, not
  their expectations). Cost O(max delay) steps.
* ``'tmax'``: the paper's words, "increasing the delay T_max": trials are drawn as in
  training with ``T_max = D`` (``t_s ~ U[0, D - min_delay)``, ``t_a ~ U[t_s + min_delay,
  D)``), so the delays ``t_a - t_s`` are spread over ``[min_delay, D)`` and the network
  also waits up to ``D`` steps before the stimulus (``tmax_curve``).

Noise extrapolation (``noise_scale`` s): ``noise_at='pixels'`` multiplies the std of the
pixel noise by s. ``noise_at='recurrent'`` (paper 001, footnote 1, for CIFAR-10: "zero
mean noise was added directly to the input of the recurrent layer") keeps the pixel noise
nominal and adds zero-mean Gaussian noise to the recurrent layer's input (the front-end's
features, not the trigger channel) at every noise frame, with per-feature std
``sqrt(s^2 - 1) * sigma_f``, where ``sigma_f`` is the std that the nominal pixel noise
induces in that feature (estimated from noise frames). The feature-level noise variance
is then s^2 times the nominal one; for the identity front-end (MNIST) this is exactly
pixel noise at s times the std. ``'auto'``: recurrent for the conv front-end, pixels
otherwise.

Second retrieval (``second_retrieval``, paper 001 appendix B): the image at ``t_s = 0``,
a first trigger at ``first_delay`` and a second one ``gap`` steps later; the accuracy at
each trigger and their difference.
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import stats
from memrnn_tf.training import experiment

PROTOCOLS = ('fixed', 'tmax')
NOISE_AT = ('auto', 'pixels', 'recurrent')
DEFAULT_DELAYS = (4, 10, 15, 19, 30, 50, 100, 200, 500, 1000)


# --- noise and the step --------------------------------------------------------------------
def feature_noise_std(model, task, num_frames=1000, seed=1234):
  """Per-feature std ``[D]`` of the recurrent layer's input over nominal noise frames.

  The trigger channel (last feature) gets 0: the trigger never carries noise.
  """
  noise = task.mean + task.std * tf.random.stateless_normal([num_frames, task.num_pixels],
                                                            [seed, 0])
  frames = tf.concat([noise, tf.zeros([num_frames, 1])], -1)
  features = model.encode(frames[:, None])[:, 0].numpy()
  std = features.std(axis=0)
  std[-1] = 0.0
  return std.astype(np.float32)


def resolve_noise_at(model, noise_at):
  """``'pixels'`` or ``'recurrent'`` (``'auto'``: recurrent iff the model has a front-end)."""
  if noise_at not in NOISE_AT:
    raise errors.ConfigError(f'unknown noise_at {noise_at!r}: expected one of {", ".join(NOISE_AT)}')
  if noise_at == 'auto':
    return 'pixels' if model.frontend is None else 'recurrent'
  return noise_at


class NoisyStep:
  """One step of the network on task frames under (possibly extrapolated) noise.

  ``frame(seed, n, trigger)`` draws noise frames ``[n, P + 1]`` (pixel noise at
  ``pixel_scale`` times the task's std); ``__call__(state, frame, seed, noisy)`` is
  ``F(state, frame)`` with ``feature_std``-scaled zero-mean noise added to the recurrent
  layer's input where ``noisy [n]`` is true.

  Args:
    model: a ``MemoryRNN``.
    task: a ``DelayedClassification``.
    noise_scale: s, the noise std relative to training.
    noise_at: ``'auto'``, ``'pixels'`` or ``'recurrent'``.
    jit_compile: compile the step with XLA.
  """

  def __init__(self, model, task, noise_scale=1.0, noise_at='auto', jit_compile=True):
    self.model, self.task = model, task
    self.noise_at = resolve_noise_at(model, noise_at)
    self.noise_scale = float(noise_scale)
    if self.noise_scale < 0:
      raise errors.ConfigError(f'noise_scale must be >= 0, got {noise_scale}')
    self.pixel_scale = self.noise_scale if self.noise_at == 'pixels' else 1.0
    self.feature_std = None
    if self.noise_at == 'recurrent' and self.noise_scale > 1.0:
      extra = np.sqrt(self.noise_scale ** 2 - 1.0)
      self.feature_std = tf.constant(extra * feature_noise_std(model, task), tf.float32)
    elif self.noise_at == 'recurrent' and self.noise_scale < 1.0:
      raise errors.ConfigError('noise_at=recurrent adds noise, so noise_scale must be >= 1, got '
                       f'{noise_scale}')
    self._step = tf.function(self._plain_step, jit_compile=jit_compile)

  def _plain_step(self, state, frame, extra):
    features = self.model.encode(frame[:, None])[:, 0] + extra
    return self.model.cell.one_step(features, state)

  def frame(self, seed, n, trigger):
    """Noise frames ``[n, P + 1]``; ``trigger`` scalar or ``[n]``."""
    t = self.task
    noise = t.mean + self.pixel_scale * t.std * tf.random.stateless_normal([n, t.num_pixels],
                                                                          seed)
    trigger = tf.broadcast_to(tf.cast(trigger, tf.float32), [n])
    return tf.concat([noise, trigger[:, None]], axis=-1)

  def __call__(self, state, frame, seed, noisy=None):
    """Next packed state ``[n, S]``; ``noisy [n]`` bool selects trials that get the
    recurrent-input noise (default all)."""
    extra = tf.zeros([1, 1])
    if self.feature_std is not None:
      n = tf.shape(frame)[0]
      extra = self.feature_std * tf.random.stateless_normal(
          [n, self.feature_std.shape[0]], seed)
      if noisy is not None:
        extra = extra * tf.cast(noisy, tf.float32)[:, None]
    return self._step(state, frame, extra)


def _per_class(correct, labels, num_classes):
  """``[D, C]`` accuracy of each class's trials from ``correct [D, n]``."""
  return np.stack([correct[:, labels == k].mean(axis=1) if np.any(labels == k)
                   else np.full(correct.shape[0], np.nan) for k in range(num_classes)], 1)


def _check_delays(delays, minimum=1):
  delays = np.asarray(sorted(int(d) for d in delays))
  if delays.size == 0 or delays[0] < minimum:
    raise errors.ConfigError(f'delays must be integers >= {minimum}, got {delays.tolist()}')
  return delays


# --- the fixed-delay protocol --------------------------------------------------------------
def delay_curve(model, task, delays, num_trials=1000, batch_size=500, noise_scale=1.0,
                seed=0, jit_compile=True, noise_at='auto', return_states=False):
  """Digit accuracy as a function of the delay ``t_a - t_s`` (fixed-delay protocol).

  Args:
    model: a trained ``MemoryRNN``.
    task: a ``DelayedClassification`` (its images, noise statistics and classes are used).
    delays: increasing positive ints.
    num_trials: trials per delay (rounded up to whole batches).
    batch_size: trials per batch.
    noise_scale: the noise std relative to training (see ``noise_at``).
    seed: int seed.
    jit_compile: compile the recurrence with XLA.
    noise_at: where extra noise goes: ``'auto'``, ``'pixels'`` or ``'recurrent'``.
    return_states: also return the states that receive the trigger of each delay.

  Returns:
    Dict with ``delays [D]``, ``accuracy [D]``, ``per_class [D, num_classes]`` (accuracy of
    trials of each class), ``trials`` per delay, ``predictions [D, trials]`` (predicted
    output, 0 = null), ``labels [trials]``, ``noise_at``; with ``return_states``,
    ``states [D, trials, S]``: the packed state after the stimulus and ``d - 1`` noise
    frames, i.e. the state the trigger of delay ``d`` arrives at.
  """
  delays = _check_delays(delays)
  max_delay = int(delays[-1])
  batch_size = min(int(batch_size), int(num_trials))
  step = NoisyStep(model, task, noise_scale, noise_at, jit_compile)
  is_scored = np.zeros(max_delay + 1, bool)
  is_scored[delays] = True
  scored = tf.constant(is_scored)
  state_size = model.cell.state_size
  triggered_logits = tf.function(model.state_logits, jit_compile=jit_compile)

  @tf.function
  def run_batch(batch_seed):
    n = batch_size
    seeds = tf.random.experimental.stateless_split(batch_seed, 3)
    images, labels = task.sample_images(seeds[0], n)
    stim = tf.concat([images, tf.zeros([n, 1])], axis=-1)
    state = step(model.cell.zero_state(n), stim, seeds[2], tf.zeros([n], tf.bool))
    preds = tf.TensorArray(tf.int32, size=max_delay + 1)  # predicted outputs
    # States only at the scored delays (all steps would be max_delay x n x S floats).
    kept = tf.TensorArray(tf.float32, size=len(delays) if return_states else 1,
                          element_shape=[n, state_size])
    k = 0
    for t in tf.range(1, max_delay + 1):
      step_seed = tf.random.experimental.stateless_fold_in(seeds[1], t)
      noise_seed = tf.random.experimental.stateless_fold_in(seeds[2], t)
      if scored[t]:
        logits = triggered_logits(step(state, step.frame(step_seed, n, 1.0), noise_seed))
        preds = preds.write(t, tf.argmax(logits, axis=-1, output_type=tf.int32))
        if return_states:
          kept = kept.write(k, state)
        k += 1
      else:
        preds = preds.write(t, tf.zeros([n], tf.int32))
      state = step(state, step.frame(step_seed, n, 0.0), noise_seed)
    if not return_states:
      kept = kept.write(0, tf.zeros([n, state_size]))
    return preds.stack(), labels, kept.stack()

  num_batches = max(1, -(-num_trials // batch_size))
  predictions, labels, states = [], [], []
  for b in range(num_batches):
    p, l, s = run_batch(tf.constant([seed, b], tf.int64))
    predictions.append(p.numpy()[delays])
    labels.append(l.numpy())
    if return_states:
      states.append(s.numpy())
  predictions = np.concatenate(predictions, axis=1)  # [D, trials], 0 = null
  labels = np.concatenate(labels)
  correct = (predictions == labels[None] + 1).astype(np.float64)
  out = {'delays': delays, 'accuracy': correct.mean(axis=1),
         'per_class': _per_class(correct, labels, task.num_classes),
         'trials': int(correct.shape[1]), 'predictions': predictions, 'labels': labels,
         'noise_at': step.noise_at}
  if return_states:
    out['states'] = np.concatenate(states, axis=1)
  return out


# --- explicit trials: the T_max protocol and second retrieval ------------------------------
def make_trial_runner(model, task, num_triggers, batch_size=500, noise_scale=1.0,
                      noise_at='auto', jit_compile=True):
  """A function running trials with given stimulus and trigger times (see ``run_trials``).

  Frames are noise except the clean image at the stimulus time; the trigger channel is 1
  at every trigger time. Each batch runs from the zero state up to its latest trigger.

  Returns:
    ``fn(stim_time [n], trigger_times [n, K], seed, labels=None) -> (predictions [K, n]
    (0 = null), labels [n])``; one compiled graph serves every call.
  """
  step = NoisyStep(model, task, noise_scale, noise_at, jit_compile)
  logits_fn = tf.function(model.state_logits, jit_compile=jit_compile)

  @tf.function(reduce_retracing=True)
  def run_batch(batch_seed, stim, triggers, lab):
    n = tf.shape(stim)[0]
    seeds = tf.random.experimental.stateless_split(batch_seed, 3)
    images, lab = task.sample_images(seeds[0], n, labels=lab)
    state = model.cell.zero_state(n)
    preds = tf.zeros([n, num_triggers], tf.int32)
    for t in tf.range(tf.reduce_max(triggers) + 1):
      at_stim = tf.equal(stim, t)
      at_trigger = tf.equal(triggers, t)  # [n, K]
      frame = step.frame(tf.random.experimental.stateless_fold_in(seeds[1], t), n,
                         tf.reduce_any(at_trigger, axis=1))
      frame = tf.where(at_stim[:, None], tf.concat([images, frame[:, -1:]], -1), frame)
      state = step(state, frame, tf.random.experimental.stateless_fold_in(seeds[2], t),
                   tf.logical_not(at_stim))
      pred = tf.argmax(logits_fn(state), axis=-1, output_type=tf.int32)
      preds = tf.where(at_trigger, pred[:, None], preds)
    return tf.transpose(preds), lab

  def run(stim_time, trigger_times, seed, labels=None):
    stim_time = np.asarray(stim_time, np.int32)
    trigger_times = np.asarray(trigger_times, np.int32).reshape(len(stim_time), -1)
    if trigger_times.shape[1] != num_triggers:
      raise errors.ConfigError(f'expected {num_triggers} trigger times per trial, got '
                       f'{trigger_times.shape[1]}')
    if np.any(trigger_times <= stim_time[:, None]):
      raise errors.ConfigError('every trigger must come after the stimulus')
    if labels is None:
      rng = np.random.default_rng([seed, 7])
      labels = task.class_order[rng.integers(0, task.num_classes, len(stim_time))]
    labels = np.asarray(labels, np.int32)
    predictions, out_labels = [], []
    for b, start in enumerate(range(0, len(stim_time), batch_size)):
      sl = slice(start, start + batch_size)
      p, l = run_batch(tf.constant([seed, b], tf.int64), tf.constant(stim_time[sl]),
                       tf.constant(trigger_times[sl]), tf.constant(labels[sl]))
      predictions.append(p.numpy())
      out_labels.append(l.numpy())
    return np.concatenate(predictions, axis=1), np.concatenate(out_labels)

  run.noise_at = step.noise_at
  return run


def run_trials(model, task, stim_time, trigger_times, seed=0, batch_size=500,
               noise_scale=1.0, noise_at='auto', jit_compile=True, labels=None):
  """Runs trials with given stimulus and trigger times; predictions at every trigger.

  Args:
    model: a ``MemoryRNN``.
    task: a ``DelayedClassification``.
    stim_time: ``[n]`` ints.
    trigger_times: ``[n, K]`` ints, each ``> stim_time``.
    seed: int seed (images, noise).
    batch_size: trials per batch.
    noise_scale, noise_at: as in ``delay_curve``.
    jit_compile: compile the step with XLA.
    labels: optional ``[n]`` classes (default sampled, class-balanced).

  Returns:
    ``(predictions [K, n] int (0 = null), labels [n])``.
  """
  num_triggers = np.asarray(trigger_times).reshape(len(stim_time), -1).shape[1]
  runner = make_trial_runner(model, task, num_triggers, batch_size, noise_scale, noise_at,
                             jit_compile)
  return runner(stim_time, trigger_times, seed, labels)


def draw_training_times(rng, n, t_max, min_delay):
  """Stimulus and report times drawn as in training (``tasks.DelayedClassification``).

  ``t_s ~ U{0, ..., t_max - min_delay - 1}`` and ``t_a ~ U{t_s + min_delay, ..., t_max - 1}``.

  Args:
    rng: a ``numpy.random.Generator``.
    n: number of trials.
    t_max: exclusive bound of ``t_a``.
    min_delay: minimal ``t_a - t_s``.

  Returns:
    ``(stim_time [n], report_time [n])`` int32.
  """
  if not 1 <= min_delay < t_max:
    raise errors.ConfigError(f'need 1 <= min_delay ({min_delay}) < t_max ({t_max})')
  stim = rng.integers(0, t_max - min_delay, n)
  report = stim + min_delay + rng.integers(0, t_max - stim - min_delay)
  return stim.astype(np.int32), report.astype(np.int32)


def tmax_curve(model, task, delays, num_trials=1000, batch_size=500, noise_scale=1.0,
               seed=0, jit_compile=True, noise_at='auto'):
  """Digit accuracy of trials drawn as in training with ``T_max = D`` for each D.

  Returns:
    Dict as ``delay_curve`` (``delays`` are the T_max values) plus ``stim_time [D, n]``
    and ``report_time [D, n]``.
  """
  delays = _check_delays(delays, minimum=task.spec.min_delay + 1)
  runner = make_trial_runner(model, task, 1, batch_size, noise_scale, noise_at, jit_compile)
  preds, labels, stims, reports = [], [], [], []
  for d in delays:
    rng = np.random.default_rng([seed, int(d)])
    stim, report = draw_training_times(rng, num_trials, int(d), task.spec.min_delay)
    p, l = runner(stim, report[:, None], seed * 100_003 + int(d))  # independent of the set
    preds.append(p[0])
    labels.append(l)
    stims.append(stim)
    reports.append(report)
  predictions, labels = np.stack(preds), np.stack(labels)
  correct = (predictions == labels + 1).astype(np.float64)
  per_class = np.stack([_per_class(correct[i:i + 1], labels[i], task.num_classes)[0]
                        for i in range(len(delays))])
  return {'delays': delays, 'accuracy': correct.mean(axis=1), 'per_class': per_class,
          'trials': int(num_trials), 'predictions': predictions, 'labels': labels,
          'stim_time': np.stack(stims), 'report_time': np.stack(reports),
          'noise_at': runner.noise_at}


def second_retrieval(model, task, first_delay=12, gap=12, num_trials=1000, batch_size=500,
                     noise_scale=1.0, seed=0, jit_compile=True, noise_at='auto'):
  """Accuracy at a first trigger ``first_delay`` steps after the stimulus and at a second
  trigger ``gap`` steps after the first (paper 001 appendix B, tables 5-6).

  Returns:
    Dict: ``first``, ``second``, ``difference`` (first - second) accuracies, per-class
    ``first_per_class [C]`` / ``second_per_class [C]``, ``both`` (fraction right at both),
    ``trials``, ``predictions [2, n]``, ``labels [n]``.
  """
  if first_delay < 1 or gap < 1:
    raise errors.ConfigError(f'first_delay ({first_delay}) and gap ({gap}) must be >= 1')
  stim = np.zeros(num_trials, np.int32)
  triggers = np.tile([[first_delay, first_delay + gap]], [num_trials, 1])
  preds, labels = run_trials(model, task, stim, triggers, seed=seed, batch_size=batch_size,
                             noise_scale=noise_scale, noise_at=noise_at,
                             jit_compile=jit_compile)
  correct = (preds == labels[None] + 1).astype(np.float64)
  per_class = _per_class(correct, labels, task.num_classes)
  return {'first': float(correct[0].mean()), 'second': float(correct[1].mean()),
          'difference': float(correct[0].mean() - correct[1].mean()),
          'both': float(np.mean(correct[0] * correct[1])),
          'first_per_class': per_class[0], 'second_per_class': per_class[1],
          'trials': int(num_trials), 'predictions': preds, 'labels': labels}


# --- one run -------------------------------------------------------------------------------
def result_name(protocol='fixed', noise_scale=1.0):
  """``extrapolation[_tmax][_noise<s>]``: the file stem of one curve."""
  if protocol not in PROTOCOLS:
    raise errors.ConfigError(f'unknown protocol {protocol!r}: expected one of {", ".join(PROTOCOLS)}')
  name = 'extrapolation' + ('' if protocol == 'fixed' else f'_{protocol}')
  return name + ('' if noise_scale == 1.0 else f'_noise{noise_scale:g}')


def load_run(workdir, checkpoint=None, split='test'):
  """``(config, model, checkpoint_path, task)`` of a trained run."""
  config = workdir_lib.load_config(workdir)
  model, path = experiment.load_trained_model(workdir, checkpoint=checkpoint)
  task = experiment.make_task(config, split)
  return config, model, path, task


def _checkpoint_name(path):
  return os.path.basename(path) if path else None


def _saved_curve(workdir, name, num_trials, seed, split, noise_at, checkpoint):
  """The saved curve computed with the same trials, seed, split, noise placement and
  checkpoint (any delays), else None."""
  params = {'trials': int(num_trials), 'seed': int(seed), 'split': split}
  if noise_at != 'auto':
    params['noise_at'] = noise_at
  saved = multirun.load_if_matches(workdir, name, params,
                                   defaults={'seed': 0, 'noise_at': 'pixels'})
  want = os.path.basename(workdir_lib.checkpoint_path(workdir, checkpoint))
  if saved is None or _checkpoint_name(saved.get('checkpoint')) != want:
    return None
  return saved


def _select_delays(saved, delays):
  """``saved`` reduced to ``delays`` (all of them in ``saved['delays']``)."""
  index = [saved['delays'].index(int(d)) for d in delays]
  out = dict(saved)
  out['delays'] = [int(d) for d in delays]
  out['accuracy'] = [saved['accuracy'][i] for i in index]
  out['per_class'] = [saved['per_class'][i] for i in index]
  return out


def extrapolate_workdir(workdir, delays=DEFAULT_DELAYS, num_trials=1000, noise_scale=1.0,
                        checkpoint=None, split='test', seed=0,
                        protocol='fixed', noise_at='auto', recompute=False):
  """Delay curve of the run in ``workdir``; writes ``analysis/<result_name>.json`` (+ .npz
  with the predictions). An existing file computed with the same parameters is reused.

  A file computed with the same parameters but other delays is extended: the new file
  holds the union of the delays (each delay's trials are the same whatever the others).

  Returns:
    The result dict (JSON-ready) for the requested delays: ``delays``, ``accuracy``,
    ``per_class``, ``trials``, ``protocol``, ``noise_scale``, ``noise_at``, ``seed``,
    ``split``, ``checkpoint``.
  """
  delays = [int(d) for d in _check_delays(delays)]
  name = result_name(protocol, noise_scale)
  saved = _saved_curve(workdir, name, num_trials, seed, split, noise_at, checkpoint)
  if saved is not None and not recompute:
    if set(delays) <= set(saved['delays']):
      logging.info('%s: reusing analysis/%s.json', workdir, name)
      return _select_delays(saved, delays)
  requested = delays
  if saved is not None:
    # Keep what the file had: a delay's trials do not depend on the other delays.
    delays = sorted(set(delays) | set(saved['delays']))
  config, model, path, task = load_run(workdir, checkpoint, split)
  curve_fn = delay_curve if protocol == 'fixed' else tmax_curve
  result = curve_fn(model, task, delays, num_trials=num_trials, noise_scale=noise_scale,
                    seed=seed, jit_compile=bool(config.perf.jit_compile), noise_at=noise_at)
  out = {'checkpoint': path, 'split': split, 'protocol': protocol,
         'noise_scale': float(noise_scale), 'noise_at': result['noise_at'], 'seed': int(seed),
         'delays': result['delays'].tolist(), 'accuracy': result['accuracy'].tolist(),
         'per_class': result['per_class'].tolist(), 'trials': result['trials']}
  arrays = {k: result[k] for k in ('predictions', 'labels', 'stim_time', 'report_time')
            if k in result}
  multirun.write_result(workdir, name, out, arrays)
  return _select_delays(multirun.read_result(workdir, name), requested)


def second_retrieval_workdir(workdir, first_delay=12, gap=12, num_trials=1000,
                             noise_scale=1.0, checkpoint=None, split='test',
                             seed=0, noise_at='auto', recompute=False):
  """``second_retrieval`` of a run; writes/reuses ``analysis/second_retrieval.json``."""
  params = {'first_delay': int(first_delay), 'gap': int(gap), 'trials': int(num_trials),
            'noise_scale': float(noise_scale), 'seed': int(seed), 'split': split}
  if not recompute:
    saved = multirun.load_if_matches(workdir, 'second_retrieval', params)
    if saved is not None and _checkpoint_name(saved['checkpoint']) == os.path.basename(
        workdir_lib.checkpoint_path(workdir, checkpoint)):
      return saved
  config, model, path, task = load_run(workdir, checkpoint, split)
  res = second_retrieval(model, task, first_delay, gap, num_trials, noise_scale=noise_scale,
                         seed=seed, jit_compile=bool(config.perf.jit_compile), noise_at=noise_at)
  out = dict(params, checkpoint=path, **{k: res[k] for k in (
      'first', 'second', 'difference', 'both', 'first_per_class', 'second_per_class')})
  multirun.write_result(workdir, 'second_retrieval', out,
                        {'predictions': res['predictions'], 'labels': res['labels']})
  return multirun.read_result(workdir, 'second_retrieval')


# --- several runs --------------------------------------------------------------------------
def summarize_curves(workdirs, results):
  """Mean +- SEM over networks of each condition.

  Args:
    workdirs: runs.
    results: one ``extrapolate_workdir`` result per run (same delays).

  Returns:
    ``{condition: {'delays', 'accuracy': {mean, sem, n}, 'per_class': {mean, sem, n},
    'runs': [...]}}``.
  """
  keys = [multirun.condition_key(w) for w in workdirs]
  out = {}
  for key, items in stats.group(keys, list(zip(workdirs, results))).items():
    acc = [[np.nan if a is None else a for a in r['accuracy']] for _, r in items]
    per_class = [[[np.nan if a is None else a for a in row] for row in r['per_class']]
                 for _, r in items]
    out[key] = {'delays': items[0][1]['delays'], 'accuracy': stats.summarize(acc),
                'per_class': stats.summarize(per_class), 'runs': [w for w, _ in items]}
  return out


def summarize_second_retrieval(workdirs, results):
  """``{condition: {first|second|difference|both: {mean, sem, n}, 'runs'}}``."""
  keys = [multirun.condition_key(w) for w in workdirs]
  out = {}
  for key, items in stats.group(keys, list(zip(workdirs, results))).items():
    out[key] = {f: stats.summarize([r[f] for _, r in items])
                for f in ('first', 'second', 'difference', 'both')}
    out[key]['runs'] = [w for w, _ in items]
  return out


def extrapolate_runs(workdirs, delays=DEFAULT_DELAYS, num_trials=1000, protocols=('fixed',),
                     noise_scales=(1.0,), noise_delay=None, second=None, out_dir=None,
                     split='test', seed=0, noise_at='auto', recompute=False):
  """Extrapolation of several runs and its aggregate by condition.

  Per run: one curve per protocol (and one per noise scale, fixed protocol, at
  ``noise_delay``, default ``delays`` of up to 100) and, when ``second`` is a
  ``(first_delay, gap)`` pair, the second-retrieval test. The aggregate is written to
  ``<out_dir>/analysis/extrapolation_summary.json``.

  Returns:
    The summary dict: ``{'protocols': {protocol: {condition: ...}}, 'noise': {condition:
    {'noise_scales', 'delays', 'accuracy': {mean, sem, n} [S, D]}}, 'second_retrieval':
    {...}, 'runs': [...], 'params': {...}}``.
  """
  out_dir = out_dir or multirun.default_out_dir(workdirs)
  kw = dict(num_trials=num_trials, split=split, seed=seed,
            noise_at=noise_at, recompute=recompute)
  summary = {'runs': list(workdirs), 'protocols': {},
             'params': {'delays': list(delays), 'num_trials': num_trials, 'seed': seed,
                        'split': split, 'noise_at': noise_at}}
  for protocol in protocols:
    results = [extrapolate_workdir(w, delays, protocol=protocol, **kw) for w in workdirs]
    summary['protocols'][protocol] = summarize_curves(workdirs, results)
  scales = sorted({float(s) for s in noise_scales} | {1.0})
  if len(scales) > 1:
    nd = list(noise_delay or [d for d in delays if d <= 100] or delays[:1])
    per_scale = [[extrapolate_workdir(w, nd, noise_scale=s, **kw) for w in workdirs]
                 for s in scales]
    keys = [multirun.condition_key(w) for w in workdirs]
    noise = {}
    for key in dict.fromkeys(keys):
      idx = [i for i, k in enumerate(keys) if k == key]
      acc = np.array([[[np.nan if a is None else a for a in per_scale[j][i]['accuracy']]
                       for j in range(len(scales))] for i in idx])  # [runs, S, D]
      noise[key] = {'noise_scales': scales, 'delays': nd, 'accuracy': stats.summarize(acc),
                    'runs': [workdirs[i] for i in idx]}
    summary['noise'] = noise
    summary['params']['noise_scales'] = scales
  if second:
    first_delay, gap = second
    results = [second_retrieval_workdir(w, first_delay, gap, **kw) for w in workdirs]
    summary['second_retrieval'] = summarize_second_retrieval(workdirs, results)
    summary['params'].update(first_delay=first_delay, gap=gap)
  multirun.write_result(out_dir, 'extrapolation_summary', summary)
  return summary


def format_summary(summary):
  """Text tables of an ``extrapolate_runs`` summary (accuracy in %, mean +- SEM (N))."""
  lines = []
  for protocol, conds in summary['protocols'].items():
    lines.append(f'protocol {protocol}: digit accuracy against '
                 f'{"delay t_a - t_s" if protocol == "fixed" else "T_max"}')
    for key, c in conds.items():
      cells = [f'{d}: {stats.format_mean_sem(m, s)}' for d, m, s in
               zip(c['delays'], c['accuracy']['mean'], c['accuracy']['sem'])]
      lines.append(f'  {key} (N={max(c["accuracy"]["n"])}): ' + ', '.join(cells))
  for key, c in summary.get('noise', {}).items():
    lines.append(f'noise ({key}, N={max(np.ravel(c["accuracy"]["n"]))}), rows = noise scale, '
                 f'columns = delays {c["delays"]}')
    for s, means, sems in zip(c['noise_scales'], c['accuracy']['mean'], c['accuracy']['sem']):
      lines.append(f'  x{s:g}: ' + ', '.join(stats.format_mean_sem(m, e)
                                             for m, e in zip(means, sems)))
  if 'second_retrieval' in summary:
    p = summary['params']
    lines.append(f'second retrieval: trigger 1 at {p["first_delay"]}, trigger 2 at '
                 f'{p["first_delay"] + p["gap"]} after the stimulus')
    for key, c in summary['second_retrieval'].items():
      lines.append(f'  {key} (N={c["first"]["n"]}): ' + ', '.join(
          f'{f} {stats.format_mean_sem(c[f]["mean"], c[f]["sem"])}'
          for f in ('first', 'second', 'difference')))
  return '\n'.join(lines)
