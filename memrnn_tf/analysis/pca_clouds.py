"""PCA clouds (paper Fig. 3): hidden states at a short and a long delay on the first
principal components fitted at the short delay, coloured by the predicted class, with
the class slow points marked.

Trials show an image at ``t = 0`` followed by noise (the fixed-delay protocol of
``extrapolation.delay_curve``); the state of a trial "at delay d" is the state the trigger
of delay ``d`` arrives at, and its predicted class is the network's report at that trigger.
States are in the slow-point coordinates ``xi`` (``cell.to_xi``: ``h`` for GRU,
``[h, tanh c]`` for LSTM). Paper 001 also shows the long delay under weaker noise (its
right panels): pass several ``noise_scales``; the components are always those of the
first scale at ``fit_delay``.
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf

from memrnn_tf.analysis import dynamics
from memrnn_tf.analysis import extrapolation
from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import slowpoints

NAME = 'pca'


def pca_clouds(model, task, delays=(20, 1000), fit_delay=20, num_trials=1000,
               noise_scales=(1.0,), num_components=3, slow_points=None, seed=0,
               jit_compile=True, noise_at='auto'):
  """States at ``delays`` projected on the principal components of the states at
  ``fit_delay``.

  Args:
    model: a trained ``MemoryRNN``.
    task: a ``DelayedClassification``.
    delays: delays whose states are shown.
    fit_delay: delay whose states define the components (added to ``delays``).
    num_trials: trials (one cloud point each) per delay.
    noise_scales: noise std relative to training, one set of clouds each.
    num_components: principal components kept.
    slow_points: optional packed states ``[C, S]`` to project.
    seed: int seed.
    jit_compile: compile the recurrence with XLA.
    noise_at: see ``extrapolation.delay_curve``.

  Returns:
    Dict of arrays: ``delays [D]``, ``noise_scales [N]``, ``projections [N, D, n, K]``,
    ``predicted [N, D, n]`` (class reported at the trigger, -1 = null), ``labels [N, n]``,
    ``accuracy [N, D]``, ``spread_ratio [N, D]`` (``spread_ratio`` of the xi states),
    ``mean [S]``, ``components [K, S]``, ``explained [K]`` and, with
    slow points, ``slow_points [C, K]``.
  """
  delays = sorted({int(d) for d in delays} | {int(fit_delay)})
  fit_index = delays.index(int(fit_delay))
  to_xi = lambda s: np.asarray(model.cell.to_xi(tf.constant(s, tf.float32)))  # noqa: E731
  curves = [extrapolation.delay_curve(model, task, delays, num_trials=num_trials,
                                      noise_scale=s, seed=seed, jit_compile=jit_compile,
                                      noise_at=noise_at, return_states=True)
            for s in noise_scales]
  states = np.stack([to_xi(c['states']) for c in curves])  # [N, D, n, S]
  mean, components, explained = dynamics.pca(states[0, fit_index], num_components)
  labels = np.stack([c['labels'] for c in curves])
  spread = np.asarray([[spread_ratio(states[i, j], labels[i]) for j in range(len(delays))]
                       for i in range(len(curves))])
  out = {'delays': np.asarray(delays), 'noise_scales': np.asarray(noise_scales, np.float64),
         'spread_ratio': spread,
         'projections': dynamics.project(states, mean, components).astype(np.float32),
         'predicted': np.stack([c['predictions'] for c in curves]) - 1,
         'labels': np.stack([c['labels'] for c in curves]),
         'accuracy': np.stack([c['accuracy'] for c in curves]),
         'mean': mean, 'components': components, 'explained': explained}
  if slow_points is not None:
    out['slow_points'] = dynamics.project(to_xi(slow_points), mean, components)
  return out


def spread_ratio(states, labels):
  """How spread out the class clouds are relative to how far apart they lie (000 Fig. 3).

  Args:
    states: ``[n, S]`` states of ``n`` trials.
    labels: ``[n]`` class of each trial.

  Returns:
    The mean over classes of the RMS distance of a class's states to their centroid,
    divided by the RMS distance between class centroids (pairs of distinct classes); NaN
    with fewer than two classes. Scale-free, so networks can be compared.
  """
  states, labels = np.asarray(states, np.float64), np.asarray(labels)
  classes = np.unique(labels)
  if len(classes) < 2:
    return float('nan')
  centroids = np.stack([states[labels == c].mean(axis=0) for c in classes])
  within = np.mean([np.sqrt(np.mean(np.sum((states[labels == c] - centroids[i]) ** 2, -1)))
                    for i, c in enumerate(classes)])
  gaps = centroids[:, None, :] - centroids[None, :, :]
  pairs = ~np.eye(len(classes), dtype=bool)
  between = np.sqrt(np.mean(np.sum(gaps ** 2, -1)[pairs]))
  return float(within / between)


def class_accuracy(predicted, labels, num_classes):
  """``[num_classes]`` fraction of each class's trials reported as the class (NaN if none)."""
  predicted, labels = np.asarray(predicted), np.asarray(labels)
  return np.asarray([np.mean(predicted[labels == c] == c) if np.any(labels == c) else np.nan
                     for c in range(num_classes)])


def load_slow_points(workdir):
  """``(points [C, S], readout_class [C])`` from ``analysis/slowpoints.{npz,json}``, or
  ``(None, None)`` when the run has none."""
  path = multirun.result_path(workdir, 'slowpoints', 'npz')
  if not os.path.exists(path):
    return None, None
  points = slowpoints.SlowPoints.load(path).points
  table = multirun.read_result(workdir, 'slowpoints') or {}
  readout = np.asarray([c['readout_class'] for c in table.get('classes', [])], np.int64)
  return points, (readout if len(readout) == len(points) else None)


def pca_workdir(workdir, delays=(20, 1000), fit_delay=20, num_trials=1000,
                noise_scales=(1.0,), num_components=3, checkpoint=None,
                split='test', seed=0, noise_at='auto', recompute=False):
  """``pca_clouds`` of a run, with its class slow points when ``analysis/slowpoints.npz``
  exists (``bin/find_slowpoints.py``); writes/reuses ``analysis/pca.json`` + ``.npz``.

  Returns:
    The JSON summary (accuracies, class accuracies ``[N, D, C]``, spread ratios ``[N, D]``,
    explained variance, parameters).
  """
  params = {'delays': sorted({int(d) for d in delays} | {int(fit_delay)}),
            'fit_delay': int(fit_delay), 'trials': int(num_trials),
            'noise_scales': [float(s) for s in noise_scales],
            'num_components': int(num_components), 'seed': int(seed), 'split': split,
            'with_spread': True}  # results written before spread_ratio existed are redone
  points, readout = load_slow_points(workdir)
  if not recompute:
    saved = multirun.load_if_matches(workdir, NAME, dict(params,
                                                         with_slow_points=points is not None))
    if saved is not None:
      return saved
  if points is None:
    logging.warning('%s has no analysis/slowpoints.npz: the clouds are drawn without slow '
                    'points (run python bin/find_slowpoints.py --workdir=%s)', workdir, workdir)
  config, model, path, task = extrapolation.load_run(workdir, checkpoint, split)
  res = pca_clouds(model, task, delays, fit_delay, num_trials, noise_scales, num_components,
                   points, seed, bool(config.perf.jit_compile), noise_at)
  if readout is not None:
    res['slow_point_readout'] = readout
  num_classes = int(task.num_classes)
  class_acc = [[class_accuracy(res['predicted'][i, j], res['labels'][i], num_classes).tolist()
                for j in range(len(res['delays']))] for i in range(len(noise_scales))]
  summary = dict(params, checkpoint=path, with_slow_points=points is not None,
                 accuracy=res['accuracy'].tolist(), explained=res['explained'].tolist(),
                 spread_ratio=res['spread_ratio'].tolist(), class_accuracy=class_acc,
                 condition=multirun.condition(workdir))
  multirun.write_result(workdir, NAME, summary, res)
  return multirun.read_result(workdir, NAME)
