"""Where new classes' slow points come from under VoCu (paper section 7, Figs. 5C-E, 8).

For every class introduction at training step tau_i (class c_i, existing classes
c_j, j < i):

* Short backtrack: the class slow points of all active classes are found at
  ``tau_{i+1} - 2000`` (paper steps, scaled by ``num_steps / reference_steps`` like the
  curriculum; the end of training after the last introduction) and followed back to
  ``tau_i - 2000``. The point of the new class is read out there (trigger readout): the
  existing class it reads out as is the class that *spawned* it. The nearest tracked
  point of an existing class there is recorded as a second opinion.
* Accuracy change: per-class accuracy at ``tau_i - 1000`` and ``tau_i + 4000`` on test
  images under doubled noise variance (noise scale sqrt(2)), with the classes active at
  each step; ``delta_k = acc_post - acc_pre`` of the spawning class against the mean of
  the other existing classes.

Weights at these steps come from the replay (``weights='replay'``: exact steps, replayed
from the latest saved state with optimizer, or from step 0) or from the nearest snapshots
(``weights='snapshots'``: no replay, coarser: the pre step becomes the last snapshot before
tau_i and the post step the snapshot nearest tau_i + 4000 after it).

Results: ``<workdir>/analysis/branching.json`` (+ ``.npz``); ``aggregate`` pools the events
of several runs: the paired test of delta_spawner against delta_others (Wilcoxon
signed-rank, sign test, sign-flip permutation test; one-sided, spawner declines more).
"""

import math
import os

from absl import logging
import numpy as np

from memrnn_tf import errors
from memrnn_tf import files
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.analysis import backtrack as bt
from memrnn_tf.analysis import stats
from memrnn_tf.training import curricula
from memrnn_tf.training import evaluation
from memrnn_tf.training import experiment
from memrnn_tf.training import replay

NAME = 'branching'
# The paper's offsets, in paper steps.
BACK_OFFSET = 2000
PRE_OFFSET = 1000
POST_OFFSET = 4000


def introductions(config):
  """The class introductions of a VoCu run.

  Returns:
    list of dicts: ``index``, ``tau`` (run steps), ``tau_next`` (next introduction or
    ``num_steps``), ``new_class``, ``existing`` (classes active before), ``n_before``,
    ``n_after``.

  Raises:
    ValueError: when the curriculum introduces no classes.
  """
  cur = curricula.create_curriculum(config)
  if not cur.class_boundaries:
    raise errors.ConfigError(f'branching needs a curriculum that introduces classes (VoCu); '
                     f'{config.curriculum!r} introduces none')
  order = [int(c) for c in (config.get('class_order') or range(config.num_classes))]
  bounds = list(cur.class_boundaries) + [int(config.num_steps)]
  out = []
  for i, tau in enumerate(cur.class_boundaries):
    n_before, n_after = cur.class_values[i], cur.class_values[i + 1]
    out.append({'index': i, 'tau': int(tau), 'tau_next': int(bounds[i + 1]),
                'new_class': order[n_after - 1], 'existing': order[:n_before],
                'n_before': int(n_before), 'n_after': int(n_after)})
  return out


def event_steps(config, event, weights='replay', snapshot_steps=(), spacing=None):
  """Steps of one event's analysis.

  Args:
    config: the run's config.
    event: from ``introductions``.
    weights: ``'replay'`` (the paper's steps, scaled) or ``'snapshots'`` (nearest snapshots).
    snapshot_steps: the run's snapshot steps (``'snapshots'`` mode).
    spacing: steps between the short backtrack's points (``'replay'`` mode; default
      ``snapshot_every // 5``).

  Returns:
    dict ``track`` (decreasing steps from ``start`` to ``end``), ``pre``, ``post``; or
    ``None`` when the snapshots do not bracket the event.
  """
  n = int(config.num_steps)
  tau, tau_next = event['tau'], event['tau_next']
  back, pre_off, post_off = (bt.scaled_step(config, o) for o in
                             (BACK_OFFSET, PRE_OFFSET, POST_OFFSET))
  start = min(tau_next - back, n) if tau_next < n else n
  start = max(start, tau)
  end = max(tau - back, 0)
  pre, post = max(tau - pre_off, 0), min(tau + post_off, n)
  if weights == 'replay':
    spacing = int(spacing or max(1, int(config.snapshot_every) // 5))
    inner = set(range(end + spacing, start, spacing))
    return {'track': sorted(inner | {start, end}, reverse=True), 'pre': pre, 'post': post}
  if weights != 'snapshots':
    raise errors.ConfigError(f"weights must be 'replay' or 'snapshots', got {weights!r}")
  snaps = np.asarray(sorted(snapshot_steps))
  before, after = snaps[snaps < tau], snaps[(snaps >= tau) & (snaps <= n)]
  if not before.size or not after.size:
    return None
  s_start = after[after <= start].max() if np.any(after <= start) else after.min()
  s_end = before[before <= end].max() if np.any(before <= end) else before.min()
  s_post = after[np.argmin(np.abs(after - post))]
  track = [int(s) for s in snaps[(snaps >= s_end) & (snaps <= s_start)]][::-1]
  return {'track': track, 'pre': int(before.max()), 'post': int(s_post)}


class AccuracyProbe:
  """Per-class accuracy of a ``RunModel`` under stronger noise, one compiled evaluator per
  number of active classes."""

  def __init__(self, run, noise_scale=math.sqrt(2.0), num_trials=4000,
               batch_size=500, seed=0):
    self.run = run
    self.task = experiment.make_task(run.config, 'test', noise_scale=float(noise_scale))
    self.kwargs = {'num_trials': num_trials, 'batch_size': batch_size,
                   # Not XLA: one compile per number of active classes costs more than
                   # it saves on a few thousand trials.
                   'seed': 20_000_003 + int(seed), 'jit_compile': False}
    self._evaluators = {}

  def __call__(self, step, num_active):
    """Per-class accuracy ``[num_classes]`` (NaN for classes without trials) at ``step``."""
    if num_active not in self._evaluators:
      self._evaluators[num_active] = evaluation.Evaluator(self.run.model, self.task,
                                                       num_active=num_active, **self.kwargs)
    self.run.load(step)
    per_class = self._evaluators[num_active]()['per_class']
    return np.asarray([np.nan if v is None else v for v in per_class], np.float64)


def spawning_class(probabilities, existing, existing_xi, new_xi):
  """The existing class a new class's point came from.

  Args:
    probabilities: readout of the new class's point before its introduction ``[K]``
      (index 0 "null", class c at c + 1).
    existing: the classes active then, in the order of ``existing_xi``.
    existing_xi: their tracked points ``[len(existing), S]``.
    new_xi: the new class's tracked point ``[S]``.

  Returns:
    ``(by_readout, by_nearest_point, distances [len(existing)])``: the existing class the
    point reads out as (the paper's criterion; null is ignored), and the class whose point
    is nearest.
  """
  existing = [int(c) for c in existing]
  by_readout = existing[int(np.argmax(np.asarray(probabilities)[np.asarray(existing) + 1]))]
  dist = np.linalg.norm(np.asarray(existing_xi) - np.asarray(new_xi)[None, :], axis=1)
  return by_readout, existing[int(np.argmin(dist))], dist


def analyse_event(run, probe, event, steps):
  """Short backtrack and accuracy change of one introduction (see module docstring)."""
  new, existing = event['new_class'], event['existing']
  active = existing + [new]
  run.load(steps['track'][0])
  means = run.class_means()
  # Padded to all classes with copies of the first point (merged points count as one):
  # every search has the same shape, so XLA compiles it once per run.
  rows = active + [active[0]] * (run.config.num_classes - len(active))
  found = run.search(means.states[rows])
  t = bt.track(run, steps['track'], found.points, found.speeds, found.iterations)
  k = len(existing)  # the new class's row in the tracked points
  probs = np.asarray(run.readout_fn(t.points[-1][k:k + 1]))[0]  # at the earliest step
  spawner, nearest, dist = spawning_class(probs, existing, t.xi[-1][:k], t.xi[-1][k])
  acc_pre = probe(steps['pre'], event['n_before'])
  acc_post = probe(steps['post'], event['n_after'])
  delta = acc_post - acc_pre
  others = [c for c in existing if c != spawner]
  ratio = t.ratio()[1:, :len(active)]
  return {
      **event, 'steps': steps,
      'spawner': int(spawner), 'spawner_probability': float(probs[spawner + 1]),
      'readout_at_end': int(np.argmax(probs)) - 1,
      'spawner_nearest': int(nearest), 'distance_to_nearest': float(dist.min()),
      'distance_to_spawner': float(dist[existing.index(spawner)]),
      'new_readout_trajectory': t.readout[:, k].tolist(),
      'new_speed_trajectory': t.speeds[:, k].tolist(),
      'max_step_ratio': float(np.nanmax(ratio)) if np.isfinite(ratio).any() else None,
      'acc_pre': acc_pre.tolist(), 'acc_post': acc_post.tolist(),
      'delta_spawner': float(delta[spawner]),
      'delta_others': float(np.nanmean(delta[others])) if others else None,
      'delta_per_class': {int(c): float(delta[c]) for c in existing},
  }


def branching(workdir, weights='replay', spacing=None,
              noise_scale=math.sqrt(2.0), num_trials=4000, tol=1e-8, max_iters=20_000,
              write=True):
  """The branching analysis of one VoCu run; writes ``analysis/branching.json`` (+ .npz).

  Args:
    workdir: a VoCu run with snapshots.
    weights: ``'replay'`` or ``'snapshots'`` (see the module docstring).
    spacing: steps between the short backtrack's points (replay mode).
    noise_scale: noise std multiplier of the accuracy probe (sqrt(2): doubled variance).
    num_trials: trials per accuracy evaluation.
    tol, max_iters: of each slow-point search.
    write: write the results.

  Returns:
    The summary dict.
  """
  config = workdir_lib.load_config(workdir)
  events = introductions(config)
  snaps = workdir_lib.snapshot_steps(workdir)
  plan = [(e, event_steps(config, e, weights, snaps, spacing)) for e in events]
  skipped = [e['index'] for e, s in plan if s is None]
  plan = [(e, s) for e, s in plan if s is not None]
  needed = sorted({x for _, s in plan for x in s['track'] + [s['pre'], s['post']]})
  replay_info = None
  if weights == 'replay':
    replay_info = replay.replay_weights(workdir, needed)
  run = bt.RunModel(workdir, tol=tol, max_iters=max_iters)
  probe = AccuracyProbe(run, noise_scale, num_trials)
  results = []
  for event, steps in plan:
    results.append(analyse_event(run, probe, event, steps))
    r = results[-1]
    logging.info('tau=%d: class %d from %d (nearest %d), delta spawner %.3f others %s',
                 r['tau'], r['new_class'], r['spawner'], r['spawner_nearest'],
                 r['delta_spawner'], r['delta_others'])
  summary = {'workdir': os.path.abspath(workdir), 'weights': weights,
             'noise_scale': noise_scale, 'num_trials': num_trials,
             'offsets_paper_steps': {'back': BACK_OFFSET, 'pre': PRE_OFFSET,
                                     'post': POST_OFFSET},
             'offsets_run_steps': {k: bt.scaled_step(config, v) for k, v in
                                   (('back', BACK_OFFSET), ('pre', PRE_OFFSET),
                                    ('post', POST_OFFSET))},
             'num_steps': int(config.num_steps), 'num_classes': int(config.num_classes),
             'marks': bt.curriculum_marks(config), 'skipped_events': skipped,
             'replay': replay_info, 'events': results,
             'test': _paired(results)}
  if write:
    path = os.path.join(workdir, 'analysis', NAME)
    _write(path, summary)
  return summary


def _paired(events):
  a = [e['delta_spawner'] for e in events if e['delta_others'] is not None]
  b = [e['delta_others'] for e in events if e['delta_others'] is not None]
  out = stats.paired_tests(a, b, alternative='less')
  agree = [e['spawner'] == e['spawner_nearest'] for e in events]
  out['readout_agrees_with_nearest'] = (float(np.mean(agree)) if agree else None)
  return out


def _pool(events):
  """The paired tests and mean +- SEM of the accuracy changes over pooled ``events``."""
  return {'test': _paired(events),
          'delta_spawner_mean_sem_n': list(stats.mean_sem(
              [e['delta_spawner'] for e in events])),
          'delta_others_mean_sem_n': list(stats.mean_sem(
              [e['delta_others'] for e in events if e['delta_others'] is not None]))}


def _write(path, summary):
  events = summary['events']
  arrays = {'delta_spawner': np.asarray([e['delta_spawner'] for e in events], np.float64),
            'delta_others': np.asarray([np.nan if e['delta_others'] is None else
                                        e['delta_others'] for e in events], np.float64),
            'tau': np.asarray([e['tau'] for e in events], np.int64),
            'new_class': np.asarray([e['new_class'] for e in events], np.int64),
            'spawner': np.asarray([e['spawner'] for e in events], np.int64)}
  files.write_npz(path + '.npz', **arrays)
  files.write_json(path + '.json', summary, sort_keys=True)
  logging.info('Wrote %s.json', path)


def load(workdir):
  """The run's saved ``analysis/branching.json``."""
  return files.require_json(os.path.join(workdir, 'analysis', NAME + '.json'),
                            'bin/branching.py')


def aggregate(workdirs, out, write=True):
  """Pools the events of several runs' ``analysis/branching.json`` into
  ``<out>/analysis/branching.json`` (+ ``.npz``) with the paired tests, over all runs
  (``test``) and per recurrent cell (``by_cell[cell]['test']``)."""
  events, per_run = [], []
  for w in workdirs:
    s = load(w)
    cell = workdir_lib.load_config(w).model.cell
    for e in s['events']:
      events.append({**e, 'workdir': os.path.abspath(w), 'cell': cell})
    per_run.append({'workdir': os.path.abspath(w), 'cell': cell, 'weights': s['weights'],
                    'num_events': len(s['events']), 'test': s['test']})
  weights = sorted({r['weights'] for r in per_run})
  summary = {'workdirs': [os.path.abspath(w) for w in workdirs], 'weights': weights,
             'num_runs': len(workdirs), 'per_run': per_run, 'events': events,
             **_pool(events)}
  # The paper pools GRUs (000 Fig. 5E) and shows LSTMs apart (Fig. 8): each cell's own test.
  summary['by_cell'] = {
      cell: {'num_runs': sum(r['cell'] == cell for r in per_run),
             **_pool([e for e in events if e['cell'] == cell])}
      for cell in sorted({r['cell'] for r in per_run})}
  if write:
    _write(os.path.join(out, 'analysis', NAME), summary)
  return summary
