"""Speed regularisation of a trained run (paper section 8, Figs. 6 and 9).

An experiment driver above the analysis layer (it trains with targets found by the
slow-point search), like ``memrnn_tf.flipflop``.

``regularize(source, out, targets=...)`` continues a trained run from its final
checkpoint (weights and Adam state) into a new workdir, never writing into the source,
with the loss

  L = L_xent + lambda * sum_i S(xi_i, I),   S(xi, I) = ||F(xi, I) - xi||^2,

targets as the authors' released code made them (``docs/analysis_plan.md``, section 3):
the class slow points of their search (``targets='slow_points'``: ``procedures.PAPER_MEANS``
class means, then ``find_slow_points(method='paper')``) or the class centres of mass
(``'centres'``: the mean state of each class 15 steps after its stimulus), each repeated
``copies`` = 10 times, every copy with its own noise image as the input I at which S is
evaluated. Targets are fixed (computed once) unless ``refresh_every`` > 0, when they are
recomputed from the current network (warm-started first-order search). ``penalty=0`` is
the control: the same extra steps without the term (no targets).

Units and defaults (000 section 8 and the authors' released code; docs/protocol.md):

* ``penalty`` is the paper's lambda (1e-3 MNIST, 1e-2 CIFAR-10) in the authors' loss
  normalisation, a mean over batch, time steps and outputs. Our cross-entropy is summed
  over time and outputs' one-hot (``models.losses.report_loss``), i.e. ``seq_len *
  num_outputs`` times theirs, so the model's ``speed_penalty`` is ``penalty * seq_len *
  num_outputs`` (220x for MNIST): the same balance of the two terms. The penalty sums over
  the ``copies * num_classes`` targets, as the authors' did.
* ``steps``: the paper's 5,000 extra steps after 140,000, scaled like the run's own
  training, ``5000 * num_steps / reference_steps`` rounded up (``cpu`` networks: 6,000
  steps -> 215, the compression the ``cpu`` config applies to the whole schedule).
* learning rate: the authors' (1e-5 MNIST, 1e-4 CIFAR-10), kept constant; for another
  dataset the run's final one.
* ``refresh_every``: 0, fixed targets (the authors'); > 0 recomputes them that often.

The run is resumable: checkpoints are saved at every refresh, and targets are saved to
``<out>/targets/step<N>.npz`` when computed, so a resumed run uses the targets of the
uninterrupted one. At the end it writes ``eval.json`` (the nominal table),
``analysis/extrapolation.json`` (accuracy vs delay), ``analysis/slowpoints.json`` (class
slow points of the result) and ``analysis/regularization.json`` (the summary, with the
source's numbers before regularisation and the time spent refreshing targets).
"""

import copy
import math
import os
import re
import shutil
import time

from absl import logging
import ml_collections
import numpy as np
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf import files
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.analysis import extrapolation
from memrnn_tf.analysis import procedures
from memrnn_tf.analysis import slowpoints
from memrnn_tf.training import evaluation
from memrnn_tf.training import experiment
from memrnn_tf.training import loop
from memrnn_tf.training import trainer

TARGETS = ('slow_points', 'centres')
PAPER_PENALTY = {'mnist': 1e-3, 'cifar10': 1e-2}
PAPER_LEARNING_RATE = {'mnist': 1e-5, 'cifar10': 1e-4}
TARGET_COPIES = 10  # targets per class, each under its own noise image
PAPER_STEPS = 5_000
REPORT_DELAYS = (100, 500, 1000)
DELAYS = (4, 19, 50, 100, 200, 500, 1000)  # the final delay curve


def regularize_config(source_config, source_workdir, targets='slow_points', penalty=None,
                      steps=None, refresh_every=0, learning_rate=None,
                      refresh_max_iters=20_000, delays=DELAYS,
                      extrapolation_trials=1000, copies=TARGET_COPIES, search='paper',
                      paper_steps=100_000):
  """The config of a regularisation run: the source's config plus a ``regularize`` section.

  Args:
    source_config: the trained run's ``ConfigDict``.
    source_workdir: the trained run's directory.
    targets: ``'slow_points'`` or ``'centres'``.
    penalty: the paper's lambda (``None``: 1e-3 MNIST, 1e-2 CIFAR-10); 0 = control.
    steps: extra training steps (``None``: 5,000 scaled by ``num_steps / reference_steps``).
    refresh_every: steps between target refreshes (0: fixed targets, the authors';
      ``None``: ``steps / 5``).
    learning_rate: constant rate (``None``: the authors' for the dataset, else the
      source's final rate).
    refresh_max_iters: iteration limit of the warm-started slow-point searches.
    delays, extrapolation_trials: the final delay curve.
    copies: targets per class, each under its own noise image (1: one per class at the
      mean noise frame).
    search: the first slow-point search, ``'paper'`` (the authors') or ``'adam'``.
    paper_steps: steps of the ``'paper'`` search.

  Raises:
    ValueError: unknown targets, negative values.
  """
  if targets not in TARGETS:
    raise errors.ConfigError(f'unknown targets {targets!r}: expected one of {", ".join(TARGETS)}')
  c = ml_collections.ConfigDict(copy.deepcopy(source_config.to_dict()))
  path = workdir_lib.checkpoint_path(source_workdir)
  source_step = int(path.rsplit('-', 1)[1])
  scale = float(c.num_steps) / float(c.reference_steps)
  if penalty is None:
    if c.dataset not in PAPER_PENALTY:
      raise errors.ConfigError(f'no paper lambda for dataset {c.dataset!r}: pass --penalty')
    penalty = PAPER_PENALTY[c.dataset]
  steps = int(math.ceil(PAPER_STEPS * scale)) if steps is None else int(steps)
  refresh_every = int(math.ceil(steps / 5)) if refresh_every is None else int(refresh_every)
  if learning_rate is None:
    learning_rate = PAPER_LEARNING_RATE.get(
        c.dataset, float(c.learning_rate) * float(c.lr_decay_factor))
  if (penalty < 0 or steps < 1 or refresh_every < 0 or learning_rate <= 0 or copies < 1 or
      paper_steps < 1):
    raise errors.ConfigError(
        'need penalty >= 0, steps >= 1, refresh_every >= 0, learning_rate > 0, copies >= 1 '
        f'and paper_steps >= 1; got {penalty}, {steps}, {refresh_every}, {learning_rate}, '
        f'{copies}, {paper_steps}')
  if search not in ('paper', 'adam'):
    raise errors.ConfigError(f"unknown search {search!r}: expected 'paper' or 'adam'")
  num_outputs = int(c.num_classes) + 1
  c.regularize = ml_collections.ConfigDict(dict(
      source=os.path.abspath(source_workdir), source_checkpoint=path,
      source_step=source_step, targets=str(targets), penalty=float(penalty),
      loss_scale=int(c.task.seq_len) * num_outputs, steps=steps,
      refresh_every=refresh_every, refresh_max_iters=int(refresh_max_iters), delay=15,
      trials_per_class=100, delays=tuple(int(d) for d in delays),
      extrapolation_trials=int(extrapolation_trials), copies=int(copies), search=str(search),
      paper_steps=int(paper_steps)))
  c.speed_penalty = float(penalty) * c.regularize.loss_scale
  c.num_steps = source_step + steps
  c.learning_rate = float(learning_rate)
  c.lr_decay_factor = 1.0  # constant rate
  every = refresh_every or steps
  c.log_every = c.checkpoint_every = every
  c.snapshot_every = every
  c.perf.steps_per_execution = min(int(c.perf.steps_per_execution), every)
  c.progress_bar = False
  return c


# --- targets -------------------------------------------------------------------------------
def noise_inputs(task, n, seed):
  """``[n, input_dim]`` inputs of noise images (the task's noise, trigger 0), one each."""
  noise = task.mean + task.std * tf.random.stateless_normal([n, task.num_pixels],
                                                            [int(seed), 7])
  return tf.concat([noise, tf.zeros([n, 1])], axis=-1).numpy()


def compute_targets(model, task, kind, step_fn=None, previous=None, delay=15,
                    trials_per_class=100, seed=0, max_iters=20_000, tol=1e-8, copies=1,
                    search='adam', paper_steps=100_000):
  """Targets of the speed penalty from the current network: ``copies`` per class.

  Args:
    model: the ``MemoryRNN`` being trained.
    task: the task whose images and noise define the class means (training images).
    kind: ``'centres'`` (class means ``delay`` steps after the stimulus) or
      ``'slow_points'`` (slow points found from ``previous`` class points, else from the
      class means).
    step_fn: ``slowpoints.step_fn_for_model(model)`` (reused: its compiled search is cached).
    previous: packed ``[C, S]`` class points to warm-start the slow-point search (a
      refresh: the package's first-order search).
    delay, trials_per_class, seed: the class means (and the noise images).
    max_iters, tol: the warm-started first-order search.
    copies: targets per class; with more than one, each copy's input is its own noise
      image (the authors'), else the mean noise frame.
    search: ``'paper'`` (the authors' class means and search, without ``previous``) or
      ``'adam'``.
    paper_steps: steps of the ``'paper'`` search.

  Returns:
    ``(states [C * copies, S], inputs [C * copies, input_dim], speeds [C * copies])`` numpy
    arrays, class-major (the copies of class 0 first).
  """
  paper = search == 'paper' and previous is None
  num_classes = task.num_classes
  if kind == 'centres' or previous is None:
    states = procedures.class_mean_states(
        model, task, delay=delay, trials_per_class=trials_per_class, seed=seed,
        **(procedures.PAPER_MEANS if paper and kind == 'slow_points' else {})).states
  else:
    states = np.asarray(previous, np.float32)
  if kind == 'slow_points':
    step_fn = step_fn or slowpoints.step_fn_for_model(model)
    if paper:
      result = slowpoints.find_slow_points(
          step_fn, states, task.mean_input(),
          slowpoints.SearchOptions(method='paper', num_steps=paper_steps))
    else:
      # Warm-started from the previous targets: refreshes run many times per run and only
      # need points slower than the class means, not the float floor.
      result = slowpoints.find_slow_points(
          step_fn, states, task.mean_input(),
          slowpoints.SearchOptions(method='adam', dtype='float32', tol=tol,
                                   max_iters=max_iters, clip=step_fn.state_bounds))
    states = np.asarray(result.points, np.float32)
  states = np.repeat(states, copies, axis=0)
  if copies > 1:
    inputs = noise_inputs(task, num_classes * copies, seed)
  else:
    inputs = np.tile(task.mean_input().numpy()[None], [num_classes, 1])
  speeds = model.speed(tf.constant(states), tf.constant(inputs)).numpy()
  return states.astype(np.float32), inputs.astype(np.float32), speeds


def _targets_path(workdir, step):
  return os.path.join(workdir, 'targets', f'step{int(step)}.npz')


def _load_targets(workdir, step):
  path = _targets_path(workdir, step)
  if not os.path.exists(path):
    return None
  with np.load(path) as d:
    return d['states'], d['inputs'], d['speeds']


def _latest_targets_before(workdir, step):
  """The targets saved at the latest refresh <= ``step`` (warm start), else None."""
  folder = os.path.join(workdir, 'targets')
  if not os.path.isdir(folder):
    return None
  steps = sorted(int(m.group(1)) for f in os.listdir(folder)
                 if (m := re.fullmatch(r'step(\d+)\.npz', f)) and int(m.group(1)) <= step)
  return _load_targets(workdir, steps[-1]) if steps else None


def _save_targets(workdir, step, states, inputs, speeds):
  files.write_npz(_targets_path(workdir, step), states=states, inputs=inputs, speeds=speeds)


# --- the run -------------------------------------------------------------------------------
def _speeds_summary(table):
  speeds = np.array([r['speed'] for r in table], np.float64)
  return {'per_class': speeds.tolist(), 'median': float(np.median(speeds)),
          'mean': float(np.mean(speeds)),
          'geometric_mean': float(np.exp(np.mean(np.log(np.maximum(speeds, 1e-30))))),
          'readout_correct': int(sum(r['readout_class'] == r['class'] for r in table))}


def _at_delays(curve, delays):
  if curve is None:
    return None
  lookup = dict(zip(curve['delays'], curve['accuracy']))
  return {str(d): lookup.get(d) for d in delays}


def regularize(source_workdir, out_workdir, targets='slow_points', penalty=None, steps=None,
               refresh_every=None, learning_rate=None, **config_kwargs):
  """Continues ``source_workdir`` with the speed penalty into ``out_workdir`` (resumable).

  Args:
    source_workdir: a trained run (read only).
    out_workdir: the new run directory (must differ from the source).
    targets, penalty, steps, refresh_every, learning_rate, **config_kwargs: see
      ``regularize_config``.

  Returns:
    The summary dict written to ``<out>/analysis/regularization.json``.

  Raises:
    ValueError / FileNotFoundError / CheckpointMismatchError: bad arguments or workdirs.
  """
  if os.path.abspath(out_workdir) == os.path.abspath(source_workdir):
    raise errors.CheckpointMismatchError(
        f'--out={out_workdir} is the trained run itself: regularisation writes a new workdir')
  config = regularize_config(workdir_lib.load_config(source_workdir), source_workdir, targets,
                             penalty, steps, refresh_every, learning_rate, **config_kwargs)
  exp, manager, writer = _open(config, out_workdir)
  times = files.read_json(os.path.join(out_workdir, 'timing.json')) or {
      'train_seconds': 0.0, 'refresh_seconds': 0.0, 'refreshes': 0, 'before_seconds': 0.0}
  before = _before(source_workdir, out_workdir, config, times)
  step = _train(exp, manager, writer, out_workdir, times)
  summary = files.read_json(os.path.join(out_workdir, 'analysis', 'regularization.json'))
  if summary is not None:
    return summary
  return _final_analysis(exp, out_workdir, step, before, times)


def _open(config, out_workdir):
  """The experiment of ``config``, opened in ``out_workdir``: ``(exp, manager, writer)``.
  A new run starts from the source's checkpoint (weights and Adam state)."""
  r = config.regularize
  exp = trainer.prepare(config)
  manager, writer = loop.open_workdir(config, out_workdir, exp.model)
  if manager.latest_checkpoint is None:
    workdir_lib.restore_model(exp.model, r.source_checkpoint, exp.model.optimizer)
    logging.info('Continuing %s from step %d', r.source_checkpoint, r.source_step)
  return exp, manager, writer


def _before(source_workdir, out_workdir, config, times):
  """The source's numbers before regularisation (``analysis/before.json``): its table,
  class slow points and delay curve, computed once (or copied from a sibling arm)."""
  r = config.regularize
  before_path = os.path.join(out_workdir, 'analysis', 'before.json')
  os.makedirs(os.path.dirname(before_path), exist_ok=True)
  before = files.read_json(before_path) or _sibling_before(out_workdir, r.source_checkpoint)
  if before is not None:
    return before
  start = time.perf_counter()
  result, table = procedures.find_class_slow_points(source_workdir, write=False)
  files.write_npz(os.path.join(out_workdir, 'analysis', 'before_slowpoints.npz'),
                  points=result.points, speeds=result.speeds)
  source_curve = files.read_json(os.path.join(source_workdir, 'analysis', 'extrapolation.json'))
  if source_curve is None or not set(r.delays) <= set(source_curve['delays']):
    source_curve = _source_curve(source_workdir, config, r)
  before = {'eval': files.read_json(os.path.join(source_workdir, 'eval.json')),
            'slow_point_speeds': _speeds_summary(table), 'slow_points': table,
            'extrapolation': source_curve}
  workdir_lib.write_json_atomic(before_path, before)
  times['before_seconds'] = time.perf_counter() - start
  return before


def _train(exp, manager, writer, out_workdir, times):
  """Trains to ``config.num_steps`` in segments of ``refresh_every`` steps, setting the
  speed targets before each; returns the final step."""
  config, model = exp.config, exp.model
  r = config.regularize
  step = int(model.optimizer.iterations.numpy())
  penalised = config.speed_penalty > 0
  step_fn = slowpoints.step_fn_for_model(model) if penalised else None
  chunk = None
  while step < int(config.num_steps):
    if penalised and (r.refresh_every or step == r.source_step or not model.has_speed_targets):
      model.set_speed_targets(*_targets_at(exp, step_fn, out_workdir, step, times)[:2])
    if chunk is None:
      chunk = loop.make_train_chunk(exp)  # traced with the speed targets set
    segment = ml_collections.ConfigDict(config.to_dict())
    segment.num_steps = _segment_end(config, step)
    step, seconds = loop.training_loop(model, chunk, segment, manager, writer)
    times['train_seconds'] += seconds
    workdir_lib.write_json_atomic(os.path.join(out_workdir, 'timing.json'), times)
  return step


def _segment_end(config, step):
  """The step where the segment that contains ``step`` ends (the next target refresh)."""
  r = config.regularize
  every = r.refresh_every or r.steps
  return min(int(config.num_steps),
             r.source_step + (((step - r.source_step) // every) + 1) * every)


def _targets_at(exp, step_fn, out_workdir, step, times):
  """The speed targets of the segment starting at ``step``: saved ones (a resumed run
  uses the targets of the uninterrupted one), else computed and saved."""
  r = exp.config.regularize
  saved = _load_targets(out_workdir, step) if r.refresh_every else (
      _latest_targets_before(out_workdir, step))
  if saved is not None:
    return saved
  start = time.perf_counter()
  copies = int(r.get('copies', 1))
  previous = _latest_targets_before(out_workdir, step)
  if previous is not None:
    previous = previous[0][::copies]  # one point per class (targets are class-major)
  elif r.get('search', 'adam') != 'paper':
    previous = _before_points(out_workdir)
  saved = compute_targets(
      exp.model, exp.train_task, r.targets, step_fn=step_fn, previous=previous,
      delay=r.delay, trials_per_class=r.trials_per_class, seed=step,
      max_iters=r.refresh_max_iters, copies=copies, search=r.get('search', 'adam'),
      paper_steps=int(r.get('paper_steps', 100_000)))
  _save_targets(out_workdir, step, *saved)
  times['refresh_seconds'] += time.perf_counter() - start
  times['refreshes'] += 1
  logging.info('Step %d: %s targets refreshed, speeds %s', step, r.targets,
               np.array2string(saved[2], precision=3))
  return saved


def _final_analysis(exp, out_workdir, step, before, times):
  """The table, delay curve and class slow points of the result, and the summary
  (``analysis/regularization.json``) that compares them with ``before``."""
  config = exp.config
  r = config.regularize
  start = time.perf_counter()
  table = evaluation.evaluate_experiment(exp)
  workdir_lib.write_json_atomic(os.path.join(out_workdir, 'eval.json'), {'step': step, **table})
  curve = extrapolation.extrapolate_workdir(out_workdir, r.delays, r.extrapolation_trials)
  _, sp_table = procedures.find_class_slow_points(out_workdir)
  times['final_analysis_seconds'] = time.perf_counter() - start
  workdir_lib.write_json_atomic(os.path.join(out_workdir, 'timing.json'), times)
  penalised = config.speed_penalty > 0
  summary = {
      'source': r.source, 'targets': r.targets if penalised else 'none',
      'arm': r.targets if penalised else 'control', 'penalty': r.penalty,
      'speed_penalty': config.speed_penalty, 'steps': r.steps,
      'refresh_every': r.refresh_every, 'learning_rate': config.learning_rate,
      'nominal': {'before': _nominal(before['eval']), 'after': _nominal(table)},
      'slow_point_speeds': {'before': before['slow_point_speeds'],
                            'after': _speeds_summary(sp_table)},
      'accuracy_at': {'before': _at_delays(before['extrapolation'], REPORT_DELAYS),
                      'after': _at_delays(curve, REPORT_DELAYS)},
      'extrapolation': {'before': _curve(before['extrapolation']), 'after': _curve(curve)},
      'timing': times,
  }
  workdir_lib.write_json_atomic(os.path.join(out_workdir, 'analysis', 'regularization.json'),
                                summary)
  return summary


def _sibling_before(out_workdir, checkpoint):
  """The 'before' analysis of another arm of the same source checkpoint placed next to
  ``out_workdir`` (copied, so arms of one network compute it once), else None."""
  parent = os.path.dirname(os.path.abspath(out_workdir))
  for name in sorted(os.listdir(parent)):
    folder = os.path.join(parent, name, 'analysis')
    config = files.read_json(os.path.join(parent, name, 'config.json')) or {}
    before = files.read_json(os.path.join(folder, 'before.json'))
    points = os.path.join(folder, 'before_slowpoints.npz')
    if (before and os.path.exists(points) and
        config.get('regularize', {}).get('source_checkpoint') == checkpoint):
      target = os.path.join(out_workdir, 'analysis')
      shutil.copy(points, target)
      workdir_lib.write_json_atomic(os.path.join(target, 'before.json'), before)
      logging.info('Using the before-regularisation analysis of %s', folder)
      return before
  return None


def _before_points(workdir):
  """Slow points of the source network (the first warm start of the search)."""
  with np.load(os.path.join(workdir, 'analysis', 'before_slowpoints.npz')) as d:
    return d['points']


def _source_curve(source_workdir, config, r):
  """The source's delay curve, computed without writing into its workdir."""
  model, path = experiment.load_trained_model(source_workdir)
  task = experiment.make_task(config, 'test')
  curve = extrapolation.delay_curve(model, task, r.delays, num_trials=r.extrapolation_trials,
                                    jit_compile=bool(config.perf.jit_compile))
  return {'checkpoint': path, 'delays': curve['delays'].tolist(),
          'accuracy': curve['accuracy'].tolist()}


def _nominal(table):
  if not table:
    return None
  return {split: table[split]['digit_accuracy'] for split in ('train', 'test') if split in table}


def _curve(curve):
  return None if curve is None else {'delays': curve['delays'], 'accuracy': curve['accuracy']}


def format_summary(summary):
  """A few lines of text: nominal accuracy, accuracy at long delays, slow-point speeds, time."""
  n, a, s, t = (summary['nominal'], summary['accuracy_at'], summary['slow_point_speeds'],
                summary['timing'])
  lines = [f'arm {summary["arm"]} (penalty {summary["penalty"]:g}, {summary["steps"]} steps)',
           f'{"":>8} {"test":>7} ' + ' '.join(f'{"d=" + d:>7}' for d in a['after'])]
  for when in ('before', 'after'):
    test = (n[when] or {}).get('test')
    acc = ' '.join(f'{v:7.4f}' if v is not None else f'{"-":>7}'
                   for v in (a[when] or {}).values())
    lines.append(f'{when:>8} {test if test is None else f"{test:7.4f}"} {acc}   slow-point '
                 f'speed median {s[when]["median"]:.3g} (readout ok '
                 f'{s[when]["readout_correct"]}/{len(s[when]["per_class"])})')
  lines.append(f'time: train {t["train_seconds"]:.1f} s, refresh {t["refresh_seconds"]:.1f} s '
               f'({t["refreshes"]} refreshes), analysis {t.get("final_analysis_seconds", 0):.1f} s')
  return '\n'.join(lines)
