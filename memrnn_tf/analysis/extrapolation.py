"""Extrapolation: accuracy when the delay between stimulus and trigger grows (paper Fig. 2).

All delays are measured in one pass: trials start with the clean image at ``t = 0``, the
state is run through noise frames, and at every requested delay ``d`` a copy of the state
receives one triggered frame (noise + trigger channel 1) and its readout is scored. A
trial whose trigger arrives at ``t_a = d`` is exactly this copy, so each delay's accuracy
is that of independent trials of delay ``d`` (the noise prefix is shared across delays,
which correlates the estimates of neighbouring delays, not their expectations). Cost is
O(max delay) steps instead of O(sum of delays).
"""

import numpy as np
import tensorflow as tf

from memrnn_tf import errors


def delay_curve(model, task, delays, num_trials=1000, batch_size=500, noise_scale=1.0,
                seed=0, jit_compile=True):
  """Digit accuracy as a function of the delay ``t_a - t_s``.

  Args:
    model: a trained ``MemoryRNN``.
    task: a ``DelayedClassification`` (its images, noise statistics and classes are used).
    delays: increasing positive ints.
    num_trials: trials per delay (rounded up to whole batches).
    batch_size: trials per batch.
    noise_scale: multiplies the noise std (noise extrapolation; paper 001 Fig. 3).
    seed: int seed.
    jit_compile: compile the recurrence with XLA.

  Returns:
    Dict with ``delays [D]``, ``accuracy [D]``, ``per_class [D, num_classes]`` (accuracy of
    trials of each class), ``trials`` per delay, ``predictions [D, trials]`` (predicted
    output, 0 = null) and ``labels [trials]``.
  """
  delays = np.asarray(sorted(int(d) for d in delays))
  if delays.size == 0 or delays[0] < 1:
    raise errors.ConfigError(f'delays must be positive integers, got {delays.tolist()}')
  max_delay = int(delays[-1])
  batch_size = min(int(batch_size), int(num_trials))
  cell = model.cell
  pixels = task.num_pixels
  mean = task.mean
  std = noise_scale * task.std
  is_scored = np.zeros(max_delay + 1, bool)
  is_scored[delays] = True
  scored = tf.constant(is_scored)

  def frames(seed_t, n, trigger):
    noise = mean + std * tf.random.stateless_normal([n, pixels], seed_t)
    return tf.concat([noise, tf.fill([n, 1], float(trigger))], axis=-1)

  triggered_step = tf.function(
      lambda state, x: model.state_logits(model.one_step(state, x)),
      jit_compile=jit_compile)
  plain_step = tf.function(model.one_step, jit_compile=jit_compile)

  @tf.function
  def run_batch(batch_seed):
    n = batch_size
    seeds = tf.random.experimental.stateless_split(batch_seed, 3)
    images, labels = task.sample_images(seeds[0], n)
    stim = tf.concat([images, tf.zeros([n, 1])], axis=-1)
    state = plain_step(cell.zero_state(n), stim)
    correct = tf.TensorArray(tf.int32, size=max_delay + 1)  # predicted outputs
    for t in tf.range(1, max_delay + 1):
      step_seed = tf.random.experimental.stateless_fold_in(seeds[1], t)
      if scored[t]:
        logits = triggered_step(state, frames(step_seed, n, 1.0))
        pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
        correct = correct.write(t, pred)
      else:
        correct = correct.write(t, tf.zeros([n], tf.int32))
      state = plain_step(state, frames(step_seed, n, 0.0))
    return correct.stack(), labels

  num_batches = max(1, -(-num_trials // batch_size))
  predictions, labels = [], []
  for b in range(num_batches):
    p, l = run_batch(tf.constant([seed, b], tf.int64))
    predictions.append(p.numpy()[delays])
    labels.append(l.numpy())
  predictions = np.concatenate(predictions, axis=1)  # [D, trials], 0 = null
  labels = np.concatenate(labels)
  correct = (predictions == labels[None] + 1).astype(np.float64)
  per_class = np.stack([correct[:, labels == k].mean(axis=1) if np.any(labels == k)
                        else np.full(len(delays), np.nan) for k in range(task.num_classes)], 1)
  return {'delays': delays, 'accuracy': correct.mean(axis=1), 'per_class': per_class,
          'trials': int(correct.shape[1]), 'predictions': predictions, 'labels': labels}


DEFAULT_DELAYS = (4, 10, 15, 19, 30, 50, 100, 200, 500, 1000)


def extrapolate_workdir(workdir, delays=DEFAULT_DELAYS, num_trials=1000, noise_scale=1.0,
                        checkpoint=None, data_dir=None, split='test', seed=0):
  """Delay curve of the run in ``workdir``; writes ``analysis/extrapolation[_noiseX].json``.

  Returns:
    The result dict (lists, JSON-ready) with the checkpoint path.
  """
  import json  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top

  from memrnn_tf import workdir as workdir_lib  # pylint: disable=g-import-not-at-top

  config = workdir_lib.load_config(workdir)
  model, path = workdir_lib.load_trained_model(workdir, checkpoint=checkpoint)
  task = workdir_lib.make_task(config, split, data_dir)
  result = delay_curve(model, task, delays, num_trials=num_trials, noise_scale=noise_scale,
                       seed=seed, jit_compile=bool(config.perf.jit_compile))
  out = {'checkpoint': path, 'split': split, 'noise_scale': noise_scale,
         'delays': result['delays'].tolist(), 'accuracy': result['accuracy'].tolist(),
         'per_class': [[None if np.isnan(v) else float(v) for v in row]
                       for row in result['per_class']],
         'trials': result['trials']}
  os.makedirs(os.path.join(workdir, 'analysis'), exist_ok=True)
  suffix = '' if noise_scale == 1.0 else f'_noise{noise_scale:g}'
  with open(os.path.join(workdir, 'analysis', f'extrapolation{suffix}.json'), 'w') as f:
    json.dump(out, f, indent=1)
  return out
