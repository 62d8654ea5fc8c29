"""Backtracking the class slow points through training (paper section 7, Fig. 5A,B).

Start from the final class slow points of a run (``procedures.find_class_slow_points``),
then step back through the run's snapshots: each snapshot's search starts from the points
found at the snapshot after it (warm start), so every class keeps following one point.
Per snapshot and class we record the speed, the position (xi), the class read out when the
trigger arrives there, and the displacement from the point at the later snapshot.

Validity (the paper's supplement D): a step back is trusted when a point moved less than
the distance to the nearest other tracked point (``nearest_other``). Where it moved more
than ``refine_threshold`` times that distance, the interval between the two snapshots is
replayed at a finer spacing (``memrnn_tf.training.replay``: exact, deterministic training
from the latest saved state with optimizer) and tracked through the intermediate steps.
How often this was needed and whether it removed the jumps is reported.

Jump statistic: ``|d log10 S|`` between consecutive snapshots, for the transitions whose
interval contains a curriculum change (a class introduction for VoCu, a T_max increase for
DeCu) against all others, per curriculum (median ratio and a one-sided Mann-Whitney test).

Results: ``<workdir>/analysis/backtrack.json`` (+ ``.npz``); several runs are aggregated
by ``aggregate`` into ``<out>/analysis/backtrack.json`` (mean +- SEM per curriculum).
"""

import dataclasses
import os

from absl import logging
import numpy as np

from memrnn_tf import errors
from memrnn_tf import files
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.analysis import procedures
from memrnn_tf.analysis import slowpoints
from memrnn_tf.analysis import stats
from memrnn_tf.training import curricula
from memrnn_tf.training import experiment
from memrnn_tf.training import replay

NAME = 'backtrack'


# --- curriculum marks ---------------------------------------------------------------------
def scaled_step(config, paper_steps):
  """Paper training steps in this run's steps (``num_steps / reference_steps``)."""
  return int(round(float(paper_steps) * config.num_steps / config.reference_steps))


def curriculum_marks(config):
  """The stage changes of the run's curriculum, for plots and the jump statistic.

  Returns:
    list of dicts ``step`` (run steps), ``paper_step``, ``kind`` (``'class'`` or
    ``'t_max'``), ``value`` (class introduced, or the new T_max) and ``label``
    (``tau_i : c_i`` for VoCu, ``tau_i : T_max,i`` for DeCu; tau in paper k-steps).
  """
  cur = curricula.create_curriculum(config)
  ratio = config.reference_steps / config.num_steps
  order = list(config.get('class_order') or range(config.num_classes))
  marks = []
  for step, value in zip(cur.class_boundaries, cur.class_values[1:]):
    marks.append({'step': int(step), 'kind': 'class', 'value': int(order[value - 1])})
  for step, value in zip(cur.t_max_boundaries, cur.t_max_values[1:]):
    marks.append({'step': int(step), 'kind': 't_max', 'value': int(value)})
  # The paper's boundaries as configured, where the curriculum used them unchanged.
  for kind, section in (('class', 'vocu'), ('t_max', 'decu')):
    of_kind = [m for m in marks if m['kind'] == kind]
    paper = list(config[section].boundaries) if section in config else []
    if len(paper) == len(of_kind) and [scaled_step(config, b) for b in paper] == [
        m['step'] for m in of_kind]:
      for m, b in zip(of_kind, paper):
        m['paper_step'] = int(b)
  for m in marks:
    m.setdefault('paper_step', int(round(m['step'] * ratio)))
    m['label'] = f'{m["paper_step"] / 1000:g}:{m["value"]}'
  return sorted(marks, key=lambda m: m['step'])


# --- one model whose weights move through training ----------------------------------------
class RunModel:
  """The model of a run, its slow-point map and trigger readout, at any stored step.

  One model object is reused: weights are assigned in place, so the compiled searches and
  readouts are traced once.
  """

  def __init__(self, workdir, split='test', tol=1e-8, max_iters=20_000):
    self.workdir = workdir
    self.config = workdir_lib.load_config(workdir)
    self.model = experiment.model_from_config(self.config)
    self.task = experiment.make_task(self.config, split)
    self.step_fn = slowpoints.step_fn_for_model(self.model)
    self.readout_fn = procedures.trigger_readout_fn(self.model, self.task)
    # The paper's first-order search, warm-started snapshot to snapshot. Not the Newton
    # refinement: at the class points of trained MNIST networks it settles nothing (they
    # are points on slow transients, not minima of S; BUILD_NOTES, #10), and a batch
    # Jacobian per iteration at every snapshot would dominate the cost.
    self.search_options = slowpoints.SearchOptions(
        method='adam', dtype='float32', tol=tol, max_iters=max_iters,
        clip=self.step_fn.state_bounds)
    self.step = None

  def load(self, step):
    if step != self.step:
      replay.load_weights(self.model, self.workdir, step)
      self.step = step
    return self

  def search(self, initial_states):
    return slowpoints.find_slow_points(self.step_fn, initial_states, self.task.mean_input(),
                                       self.search_options)

  def readout(self, points):
    """``(class [n], probability [n])`` read out at ``points``; class -1 is "null"."""
    probs = np.asarray(self.readout_fn(np.asarray(points, np.float32)))
    report = np.argmax(probs, axis=-1)
    return report - 1, probs[np.arange(len(report)), report]

  def class_means(self, trials_per_class=100, seed=0):
    return procedures.class_mean_states(self.model, self.task, trials_per_class=trials_per_class,
                                        seed=seed)


@dataclasses.dataclass
class Track:
  """Points followed back through training; entry 0 is the latest step.

  Attributes:
    steps: training steps, decreasing ``[T]``.
    points: packed states ``[T, C, S]``; xi: analysis coordinates ``[T, C, S]``.
    speeds, readout, readout_probability, iterations: ``[T, C]``.
    displacement: ``|xi_t - xi_{t-1}|`` from the entry before (a later step) ``[T, C]``.
    nearest_other: distance from that earlier entry's point to the nearest other tracked
      point there (points closer than ``merge_tol`` count as merged) ``[T, C]``.
  """
  steps: np.ndarray
  points: np.ndarray
  xi: np.ndarray
  speeds: np.ndarray
  readout: np.ndarray
  readout_probability: np.ndarray
  iterations: np.ndarray
  displacement: np.ndarray
  nearest_other: np.ndarray

  def ratio(self):
    """displacement / nearest_other ``[T, C]`` (NaN at entry 0)."""
    with np.errstate(invalid='ignore', divide='ignore'):
      return self.displacement / self.nearest_other

  def concat(self, other):
    """This track followed by ``other`` (whose entry 0 repeats this one's last)."""
    return Track(*[np.concatenate([getattr(self, f.name), getattr(other, f.name)[1:]])
                   for f in dataclasses.fields(Track)])

  def head(self, n):
    return Track(*[getattr(self, f.name)[:n] for f in dataclasses.fields(Track)])


def nearest_other_distance(xi, merge_tol=1e-3):
  """``[C]``: distance from each point to the nearest other point farther than ``merge_tol``
  (inf if none)."""
  d = np.linalg.norm(xi[:, None, :] - xi[None, :, :], axis=-1)
  d = np.where(d > merge_tol, d, np.inf)
  return d.min(axis=1) if len(xi) > 1 else np.full(len(xi), np.inf)


def track(run, steps, points, speeds=None, iterations=None, merge_tol=1e-3):
  """Follows ``points`` (found at ``steps[0]``) back through ``steps`` (decreasing).

  Args:
    run: a ``RunModel``.
    steps: training steps, the first the one ``points`` belong to.
    points: packed states ``[C, S]``.
    speeds, iterations: of ``points`` (recomputed by a search when ``None``).
    merge_tol: see ``nearest_other_distance``.

  Returns:
    ``Track``.
  """
  steps = [int(s) for s in steps]
  if any(a <= b for a, b in zip(steps, steps[1:])):
    raise errors.ConfigError(f'steps must decrease, got {steps}')
  run.load(steps[0])
  points = np.asarray(points, np.float32)
  xi = np.asarray(run.step_fn.to_xi(points))
  if speeds is None:
    found = run.search(points)
    points, xi, speeds, iterations = found.points, found.xi, found.speeds, found.iterations
  rows = []

  def add(points, xi, speeds, iterations, previous_xi):
    readout, prob = run.readout(points)
    if previous_xi is None:
      disp = near = np.full(len(points), np.nan)
    else:
      disp = np.linalg.norm(xi - previous_xi, axis=1)
      near = nearest_other_distance(previous_xi, merge_tol)
    rows.append((points, xi, np.asarray(speeds), readout, prob,
                 np.asarray(iterations if iterations is not None else np.zeros(len(points))),
                 disp, near))

  add(points, xi, speeds, iterations, None)
  for step in steps[1:]:
    run.load(step)
    found = run.search(rows[-1][0])
    add(found.points, found.xi, found.speeds, found.iterations, rows[-1][1])
  cols = list(zip(*rows))
  return Track(np.asarray(steps), *[np.stack(c) for c in cols])


# --- statistics ---------------------------------------------------------------------------
def log_speed(speeds, floor):
  """log10 of the speeds floored at ``floor`` (below the search tolerance a speed is 0 up
  to where the search happened to stop)."""
  return np.log10(np.maximum(np.asarray(speeds, np.float64), floor))


def jump_values(steps, speeds, event_steps, floor):
  """``|d log10 S|`` per transition and class, split by whether the transition's interval
  ``(s_k, s_k+1]`` contains a curriculum change.

  Args:
    steps: increasing snapshot steps ``[T]``.
    speeds: ``[T, C]``.
    event_steps: steps of the curriculum changes.
    floor: speed floor (the search tolerance).

  Returns:
    ``(near [n1], elsewhere [n2], near_transition [T-1] bool)``.
  """
  steps = np.asarray(steps)
  jumps = np.abs(np.diff(log_speed(speeds, floor), axis=0))  # [T-1, C]
  ev = np.asarray(event_steps)
  near = np.array([np.any((ev > a) & (ev <= b)) for a, b in zip(steps[:-1], steps[1:])],
                  bool)
  return jumps[near].ravel(), jumps[~near].ravel(), near


def slowing_rho(steps, speeds, floor):
  """Spearman's rho of the class-mean ``log10 S`` against the training step (< 0: the
  points slow down as training goes on; DeCu's "gradual slowing down").

  Args:
    steps: snapshot steps ``[T]``.
    speeds: ``[T, C]``.
    floor: speed floor (the search tolerance).
  """
  return stats.spearman(steps, log_speed(speeds, floor).mean(axis=1))


def jump_statistic(steps, speeds, event_steps, floor):
  """Median ``|d log10 S|`` at curriculum changes against elsewhere, with a one-sided
  Mann-Whitney test (changes larger at the events)."""
  near, elsewhere, _ = jump_values(steps, speeds, event_steps, floor)
  return stats.two_sample_tests(near, elsewhere, alternative='greater')


# --- the analysis of one run --------------------------------------------------------------
def final_slow_points(workdir, step=None):
  """The class slow points at the last snapshot: ``analysis/slowpoints.npz`` when it was
  computed for that step, else a fresh ``find_class_slow_points`` (written there)."""
  path = os.path.join(workdir, 'analysis', 'slowpoints.npz')
  if os.path.exists(path):
    sp = slowpoints.SlowPoints.load(path)
    if step is None or sp.info.get('step') == step:
      logging.info('Using the final slow points of %s', path)
      return sp
  sp, _ = procedures.find_class_slow_points(workdir, write=True)
  return sp


def refinement_steps(low, high, points):
  """``points`` evenly spaced integer steps strictly between ``low`` and ``high``."""
  inner = np.linspace(low, high, points + 2)[1:-1]
  return sorted({int(round(s)) for s in inner} - {low, high})


def backtrack(workdir, tol=1e-8, max_iters=20_000, refine=True,
              refine_threshold=0.5, refine_points=4, max_replay_steps=None, merge_tol=1e-3,
              write=True):
  """Backtracks the final class slow points of ``workdir`` through its snapshots.

  Args:
    workdir: a trained run with ``snapshots/``.
    tol, max_iters: of each warm-started search.
    refine: replay and re-track intervals where a point jumped.
    refine_threshold: a step back jumped when ``displacement > refine_threshold *
      nearest_other`` for some class (supplement D's criterion is 1).
    refine_points: intermediate steps replayed in a jumped interval.
    max_replay_steps: skip the refinement when replaying would train more steps than this
      (``None``: no limit).
    merge_tol: points closer than this (xi) count as one.
    write: write ``analysis/backtrack.json`` and ``.npz``.

  Returns:
    The summary dict (also ``backtrack.json``).
  """
  config = workdir_lib.load_config(workdir)
  steps = workdir_lib.snapshot_steps(workdir)[::-1]
  if len(steps) < 2:
    raise errors.RunNotFoundError(f'{workdir} has {len(steps)} snapshots; backtracking needs two')
  final = final_slow_points(workdir, step=steps[0])
  run = RunModel(workdir, tol=tol, max_iters=max_iters)
  coarse = track(run, steps, final.points, final.speeds, final.iterations, merge_tol)
  ratio = coarse.ratio()
  jumped = np.nanmax(np.nan_to_num(ratio, nan=0.0), axis=1) > refine_threshold  # [T]
  jumped[0] = False  # entry 0 is where tracking starts: no step back to judge
  intervals = [(int(coarse.steps[i]), int(coarse.steps[i - 1])) for i in np.flatnonzero(jumped)]
  refinement = {'threshold': refine_threshold, 'points_per_interval': refine_points,
                'transitions': len(steps) - 1, 'jumped_intervals': intervals,
                'num_jumped': len(intervals), 'status': 'not needed'}
  result = coarse
  if intervals and not refine:
    refinement['status'] = 'off'
  elif intervals:
    extra = sorted({s for lo, hi in intervals for s in refinement_steps(lo, hi, refine_points)})
    cost = replay.replay_cost(workdir, extra)
    refinement.update(replay_steps=extra, replay_training_steps=cost)
    if max_replay_steps is not None and cost > max_replay_steps:
      refinement['status'] = f'skipped: replay needs {cost} training steps > {max_replay_steps}'
    else:
      info = replay.replay_weights(workdir, extra)
      refinement.update(replay_checks=info['checks'], bit_exact=info['bit_exact'])
      # The chain above the highest jumped interval is unchanged: re-track from there.
      top = max(hi for _, hi in intervals)
      keep = int(np.flatnonzero(coarse.steps == top)[0])
      below = sorted({s for s in steps if s <= top} | set(extra), reverse=True)
      fine = track(run, below, coarse.points[keep], coarse.speeds[keep],
                   coarse.iterations[keep], merge_tol)
      result = coarse.head(keep + 1).concat(fine)
      fine_ratio = fine.ratio()
      left = np.nanmax(np.nan_to_num(fine_ratio, nan=0.0), axis=1) > refine_threshold
      left[0] = False
      refinement['status'] = 'done'
      refinement['jumped_after_refinement'] = [
          (int(fine.steps[i]), int(fine.steps[i - 1])) for i in np.flatnonzero(left)]
  return _summarise(workdir, config, result, coarse, refinement, tol, merge_tol, write)


def _validity(t):
  """Supplement D: fraction of (step back, class) with displacement < nearest other."""
  r = t.ratio()[1:]
  finite = np.isfinite(r)
  return {'fraction_valid': float(np.mean(r[finite] < 1.0)) if finite.any() else None,
          'median_ratio': float(np.median(r[finite])) if finite.any() else None,
          'max_ratio': float(np.max(r[finite])) if finite.any() else None,
          'num': int(finite.sum())}


def _summarise(workdir, config, result, coarse, refinement, tol, merge_tol, write):
  marks = curriculum_marks(config)
  curriculum = str(config.curriculum).lower()
  kind = {'vocu': 'class', 'decu': 't_max'}.get(curriculum)
  event_steps = [m['step'] for m in marks if m['kind'] == kind]
  snap = np.isin(result.steps, coarse.steps)
  inc = np.argsort(result.steps[snap])
  snap_steps, snap_speeds = result.steps[snap][inc], result.speeds[snap][inc]
  num_classes = result.speeds.shape[1]
  summary = {
      'workdir': os.path.abspath(workdir), 'curriculum': curriculum,
      'num_steps': int(config.num_steps), 'snapshot_every': int(config.snapshot_every),
      'tol': tol, 'merge_tol': merge_tol, 'marks': marks, 'event_steps': event_steps,
      'steps': result.steps.tolist(), 'snapshot_steps': snap_steps.tolist(),
      'refinement': refinement,
      'validity': {'coarse': _validity(coarse), 'final': _validity(result)},
      'jump_statistic': jump_statistic(snap_steps, snap_speeds, event_steps, tol),
      'final_speeds': result.speeds[0].tolist(),
      'initial_readout': result.readout[-1].tolist(),
      'final_readout': result.readout[0].tolist(),
      'classes': list(range(num_classes)),
  }
  if write:
    out = os.path.join(workdir, 'analysis', NAME)
    arrays = {f.name: getattr(result, f.name) for f in dataclasses.fields(Track)}
    arrays.update({f'coarse_{f.name}': getattr(coarse, f.name)
                   for f in dataclasses.fields(Track) if f.name not in ('points', 'xi')})
    arrays['is_snapshot'] = snap
    files.write_npz(out + '.npz', compressed=True, **arrays)
    files.write_json(out + '.json', summary, sort_keys=True)
    logging.info('Wrote %s.json', out)
  return summary


# --- several runs -------------------------------------------------------------------------
def load(workdir):
  """``(summary, arrays)`` of a run's saved backtrack."""
  path = os.path.join(workdir, 'analysis', NAME)
  return (files.require_json(path + '.json', 'bin/backtrack.py'),
          files.require_npz(path + '.npz', 'bin/backtrack.py'))


def aggregate(workdirs, out, write=True):
  """Mean +- SEM of the backtracked log speeds, the jump statistic and the slowing (Spearman
  rho of log speed against step, ``slowing_rho``) per curriculum.

  Reads every workdir's ``analysis/backtrack.*``; writes ``<out>/analysis/backtrack.json``
  (+ ``.npz``: per curriculum the snapshot steps and the per-run mean log10 speed over
  classes ``[runs, T]``).
  """
  groups = {}
  for w in workdirs:
    summary, arrays = load(w)
    groups.setdefault(summary['curriculum'], []).append((w, summary, arrays))
  result, npz = {'workdirs': [os.path.abspath(w) for w in workdirs], 'curricula': {}}, {}
  for cur, runs in sorted(groups.items()):
    near, elsewhere, ratios, rhos, logs, refined, valid = [], [], [], [], [], [], []
    steps = None
    for w, summary, a in runs:
      snap = a['is_snapshot']
      inc = np.argsort(a['steps'][snap])
      s, sp = a['steps'][snap][inc], a['speeds'][snap][inc]
      n, e, _ = jump_values(s, sp, summary['event_steps'], summary['tol'])
      near.append(n)
      elsewhere.append(e)
      ratios.append(summary['jump_statistic']['ratio_of_medians'])
      rhos.append(slowing_rho(s, sp, summary['tol']))
      steps = s if steps is None else steps
      if len(s) == len(steps) and np.all(s == steps):
        logs.append(log_speed(sp, summary['tol']).mean(axis=1))
      refined.append(summary['refinement']['num_jumped'] / max(
          summary['refinement']['transitions'], 1))
      valid.append(summary['validity']['coarse']['fraction_valid'])
    logs = np.asarray(logs)
    mean, sem, count = stats.mean_sem(logs, axis=0)
    ratio_mean = stats.mean_sem([r for r in ratios if r is not None])
    result['curricula'][cur] = {
        'runs': [w for w, _, _ in runs], 'n': len(runs),
        'marks': runs[0][1]['marks'],
        'jump_statistic_pooled': stats.two_sample_tests(np.concatenate(near),
                                                        np.concatenate(elsewhere)),
        'ratio_of_medians_per_run': ratios,
        'ratio_of_medians_mean_sem_n': list(ratio_mean),
        'slowing_rho_per_run': rhos,
        'fraction_of_transitions_refined_per_run': refined,
        'fraction_valid_coarse_per_run': valid,
        'final_log10_speed_mean_sem_n': list(stats.mean_sem(logs[:, -1])) if len(logs) else None,
    }
    npz[f'{cur}_steps'] = steps
    npz[f'{cur}_log10_speed'] = logs
    npz[f'{cur}_mean'] = mean
    npz[f'{cur}_sem'] = sem
  if write:
    path = os.path.join(out, 'analysis', NAME)
    files.write_npz(path + '.npz', **npz)
    files.write_json(path + '.json', result, sort_keys=True)
  return result
