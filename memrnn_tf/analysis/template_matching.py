"""Slow points and long-delay accuracy of delayed template matching (supplement A, Fig. 7).

The memory of a trial is the class of its first stimulus, so classes here are the first
stimulus' classes:

* class means: trials show an image of the class at ``t = 0`` and ``delay`` (15) noise
  frames; states of trials that answer "same" when another image of the class arrives next
  are averaged (all trials if none does);
* class slow points: ``find_slow_points`` from those means with the mean noise frame as
  input (as ``analysis.procedures`` does for classification);
* a state's answer: the readout after one step with a second image as input, scored as
  same/different;
* accuracy per class at each delay: trials whose second stimulus arrives ``d`` steps after
  the first (1/2 same class, 1/2 another class), scored per first class.

``analyze_workdir`` writes ``analysis/template_matching.json``: per class the slow-point
speed, its readout check and the accuracy at every delay, and the Pearson and Spearman
correlations of log10 speed with accuracy at each delay (paper: negative).
"""

import os

from absl import logging
import numpy as np
from scipy import stats
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf import files
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.analysis import slowpoints
from memrnn_tf.data import tasks
from memrnn_tf.training import experiment

DELAYS = (19, 50, 100, 200, 500, 1000)


def _second_stimulus(task, labels, seed):
  """Second images ``[n, P + 1]`` (trigger 0) and whether each has the first's class."""
  n = int(labels.shape[0])
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), 3)
  same = tf.random.stateless_uniform([n], seeds[0]) < 0.5
  offset = 1 + tf.random.stateless_uniform([n], seeds[1], 0, task.num_classes - 1,
                                           dtype=tf.int32)
  second = tf.where(same, labels, (labels + offset) % task.num_classes)
  images, _ = task.sample_images(seeds[2], n, labels=second)
  return tf.concat([images, tf.zeros([n, 1])], -1), same


def answers(model, states, frames):
  """Predicted output (0 null, 1 same, 2 different) after one step on ``frames``."""
  return tf.argmax(model.state_logits(model.one_step(states, frames)), -1,
                   output_type=tf.int32)


def delay_curve(model, task, delays=DELAYS, num_trials=1000, batch_size=500, seed=0):
  """Same/different accuracy as a function of the delay, overall and per first class.

  Args:
    model: a trained ``MemoryRNN`` of the template-matching task.
    task: a ``DelayedTemplateMatching`` (images, noise, classes).
    delays: increasing positive ints.
    num_trials: trials per delay (rounded up to whole batches; the same trials are
      probed at every delay).
    batch_size: trials per batch.
    seed: int seed.

  Returns:
    Dict: ``delays [D]``, ``accuracy [D]``, ``per_class [D, C]`` (by first class) and
    ``answers [D, 3]``: the fraction of trials answered null / same / different (a network
    that stops answering at long delays scores below the 50% of a guess).
  """
  delays = np.asarray(sorted(int(d) for d in delays))
  if delays.size == 0 or delays[0] < 1:
    raise errors.ConfigError(f'delays must be positive integers, got {delays.tolist()}')
  max_delay = int(delays[-1])
  scored = tf.constant(np.isin(np.arange(max_delay + 1), delays))
  n = min(int(batch_size), int(num_trials))

  @tf.function(jit_compile=False)
  def run_batch(batch_seed):
    seeds = tf.random.experimental.stateless_split(batch_seed, 3)
    images, labels = task.sample_images(seeds[0], n)
    probe, same = _second_stimulus(task, labels, seeds[1])
    target = tf.where(same, tasks.DelayedTemplateMatching.SAME,
                      tasks.DelayedTemplateMatching.DIFFERENT)
    state = model.one_step(model.cell.zero_state(n), tf.concat([images, tf.zeros([n, 1])], -1))
    given = tf.TensorArray(tf.int32, size=max_delay + 1)
    for t in tf.range(1, max_delay + 1):
      if scored[t]:
        given = given.write(t, answers(model, state, probe))
      else:
        given = given.write(t, tf.zeros([n], tf.int32))
      noise = task.mean + task.std * task.spec.noise_scale * tf.random.stateless_normal(
          [n, task.num_pixels], tf.random.experimental.stateless_fold_in(seeds[2], t))
      state = model.one_step(state, tf.concat([noise, tf.zeros([n, 1])], -1))
    return given.stack(), target, labels

  given, targets, labels = [], [], []
  for b in range(max(1, -(-int(num_trials) // n))):
    g, target, l = run_batch(tf.constant([seed, b], tf.int64))
    given.append(g.numpy()[delays])
    targets.append(target.numpy())
    labels.append(l.numpy())
  given = np.concatenate(given, 1)  # [D, trials]
  correct = (given == np.concatenate(targets)[None]).astype(np.float64)
  labels = np.concatenate(labels)
  answer_fractions = np.stack([(given == k).mean(1) for k in range(3)], 1)
  per_class = np.stack([correct[:, labels == k].mean(1) if np.any(labels == k)
                        else np.full(len(delays), np.nan) for k in range(task.num_classes)], 1)
  return {'delays': delays, 'accuracy': correct.mean(1), 'per_class': per_class,
          'answers': answer_fractions}


def class_means(model, task, delay=15, trials_per_class=100, seed=0):
  """Per-class mean states ``[C, S]`` ``delay`` noise steps after the first stimulus, from
  trials that answer "same" to another image of their class; also the kept counts ``[C]``."""
  labels = tf.constant(np.repeat(np.arange(task.num_classes, dtype=np.int32),
                                 trials_per_class))
  n = int(labels.shape[0])
  seeds = tf.random.experimental.stateless_split(tf.constant([seed, 1], tf.int32), 3)
  images, _ = task.sample_images(seeds[0], n, labels=labels)
  noise = task.mean + task.std * task.spec.noise_scale * tf.random.stateless_normal(
      [n, delay, task.num_pixels], seeds[1])
  inputs = tf.concat([tf.concat([images[:, None], noise], 1), tf.zeros([n, delay + 1, 1])], -1)
  final = tf.function(model.run_cell)(inputs)[:, -1]
  same_images, _ = task.sample_images(seeds[2], n, labels=labels)
  ok = (answers(model, final, tf.concat([same_images, tf.zeros([n, 1])], -1)) ==
        tasks.DelayedTemplateMatching.SAME).numpy()
  final, labels = final.numpy(), labels.numpy()
  means, kept = [], []
  for c in range(task.num_classes):
    use = (labels == c) & ok
    kept.append(int(use.sum()))
    means.append(final[use if use.any() else labels == c].mean(0))
  return np.stack(means).astype(np.float32), np.asarray(kept)


def slow_point_check(model, task, points, trials=200, seed=0):
  """Same/different accuracy ``[C]`` of second stimuli arriving at each class slow point."""
  out = []
  for c in range(task.num_classes):
    labels = tf.fill([trials], c)
    probe, same = _second_stimulus(task, labels, [seed, c])
    state = tf.broadcast_to(tf.constant(points[c:c + 1]), [trials, points.shape[1]])
    target = tf.where(same, tasks.DelayedTemplateMatching.SAME,
                      tasks.DelayedTemplateMatching.DIFFERENT)
    out.append(float(tf.reduce_mean(tf.cast(tf.equal(answers(model, state, probe), target),
                                            tf.float32))))
  return np.asarray(out)


def analyze_workdir(workdir, delays=DELAYS, num_trials=1000, seed=0,
                    options=slowpoints.SearchOptions()):
  """Class slow points, per-class accuracy vs delay and their correlation for a run.

  Writes ``<workdir>/analysis/template_matching.json`` and returns its contents.
  """
  config = workdir_lib.load_config(workdir)
  if config.get('task_kind', 'classification') != 'template_matching':
    raise errors.ConfigError(f'{workdir} is not a template-matching run (config.task_kind)')
  model, path = experiment.load_trained_model(workdir)
  task = experiment.make_task(config, 'test')
  means, kept = class_means(model, task, seed=seed)
  step_fn = slowpoints.step_fn_for_model(model)
  # The same search as the classification study's class slow points (Fig. 4 and Fig. 7
  # compare alike): find_slow_points' defaults, as procedures.find_class_slow_points.
  sp = slowpoints.find_slow_points(step_fn, means, task.mean_input(), options)
  check = slow_point_check(model, task, np.asarray(sp.points, np.float32), seed=seed)
  curve = delay_curve(model, task, delays, num_trials=num_trials, seed=seed)
  log_speed = np.log10(np.maximum(sp.speeds, 1e-30))
  correlations = {}
  for i, d in enumerate(curve['delays']):
    acc = curve['per_class'][i]
    if np.ptp(acc) > 0 and np.ptp(log_speed) > 0:
      correlations[str(int(d))] = {'pearson_log_speed': float(stats.pearsonr(log_speed, acc)[0]),
                                   'spearman': float(stats.spearmanr(sp.speeds, acc)[0])}
  out = {'checkpoint': path, 'delays': curve['delays'].tolist(),
         'accuracy': curve['accuracy'].tolist(),
         'answer_fractions': curve['answers'].tolist(),  # [D, (null, same, different)]
         'classes': [{'class': c, 'speed': float(sp.speeds[c]), 'status': str(sp.status[c]),
                      'class_mean_speed': float(sp.initial_speeds[c]),
                      'trials_kept': int(kept[c]), 'slow_point_match_accuracy': float(check[c]),
                      'accuracy': curve['per_class'][:, c].tolist()}
                     for c in range(task.num_classes)],
         'correlations': correlations}
  path = files.write_json(os.path.join(workdir, 'analysis', 'template_matching.json'), out,
                          sort_keys=True)
  logging.info('Wrote %s', path)
  return out
