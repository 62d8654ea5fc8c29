"""``train_and_evaluate(config, workdir)``: resumable training with curricula.

Layout of a workdir::

  config.json            the resolved config (checked on resume)
  checkpoints/           tf.train.CheckpointManager (model + optimizer), latest few
  snapshots/             model weights every ``snapshot_every`` steps (slow-point tracking)
  metrics.jsonl          one JSON object per log step (train) and per evaluation
  tensorboard/           the same scalars for TensorBoard
  eval.json              the end-of-run table (null / digit accuracy, train and test)

Trials are generated inside the compiled training loop from ``seed = (config.seed,
step)`` and the curriculum is a function of the step, so a run killed at any point and
restarted with the same command continues from its last checkpoint and ends with the same
weights as an uninterrupted run.
"""

import dataclasses
import json
import math
import os
import time

from absl import logging
import keras
import ml_collections
import numpy as np
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf.data import sources
from memrnn_tf.data import tasks
from memrnn_tf.models import memory_rnn
from memrnn_tf.training import curricula

# Fields that fix the architecture: a workdir's checkpoint must agree on all of them.
_ARCH_KEYS = ('dataset', 'num_classes', 'model')


@dataclasses.dataclass
class Experiment:
  """Everything a run needs, built from a config (no files written)."""
  config: ml_collections.ConfigDict
  train_task: tasks.DelayedClassification
  test_task: tasks.DelayedClassification
  model: memory_rnn.MemoryRNN
  curriculum: curricula.Curriculum


def task_spec(config, **overrides):
  """``TaskSpec`` from ``config.task`` with optional overrides."""
  fields = {f.name for f in dataclasses.fields(tasks.TaskSpec)}
  values = {k: v for k, v in config.task.items() if k in fields}
  values.update(overrides)
  return tasks.TaskSpec(**values)


def make_task(config, split, data_dir=None, **spec_overrides):
  """The delayed-classification task on the ``split`` images of ``config.dataset``."""
  data = sources.load_dataset(config.dataset, split, data_dir or config.get('data_dir') or None)
  return tasks.task_class(config.get('task_kind', 'classification'))(
      data.images, data.labels, data.mean, data.std,
      spec=task_spec(config, **spec_overrides), num_classes=config.num_classes,
      class_order=config.get('class_order'))


def validate_config(config):
  """Checks everything that can be checked without data; raises one-line ValueErrors."""
  curricula.create_curriculum(config)
  task_spec(config).validate()
  tasks.task_class(config.get('task_kind', 'classification'))
  for key in ('num_steps', 'batch_size', 'log_every', 'checkpoint_every', 'snapshot_every',
              'steps_per_execution', 'eval_batch_size'):
    if int(config[key]) < 1:
      raise ValueError(f'config.{key}={config[key]} must be >= 1')
  if config.learning_rate <= 0:
    raise ValueError(f'config.learning_rate={config.learning_rate} must be > 0')
  if config.get('speed_penalty', 0.0) > 0 and not config.get('regularize'):
    raise errors.SpeedTargetsError(
        f'config.speed_penalty={config.speed_penalty:g} needs speed targets, which plain '
        'training does not have: continue a trained run with bin/regularize.py --penalty')


def build_experiment(config, data_dir=None):
  """Validates the config, loads data and creates the model (writes nothing)."""
  validate_config(config)
  curriculum = curricula.create_curriculum(config)
  train_task = make_task(config, 'train', data_dir)
  test_task = make_task(config, 'test', data_dir)
  model = memory_rnn.create_model(config, train_task.num_features, train_task.num_outputs,
                                  image_shape=train_task.image_shape)
  # Our own loops compile train_step with XLA; model.compile's flag only affects fit().
  model.compile(optimizer=make_optimizer(config), jit_compile=False)
  model.optimizer.build(model.trainable_variables)
  return Experiment(config, train_task, test_task, model, curriculum)


def make_optimizer(config):
  """Adam with the paper's step-down learning rate (``lr_decay_start`` in paper units)."""
  decay_at = int(round(config.lr_decay_start * config.num_steps / config.reference_steps))
  schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
      [decay_at], [config.learning_rate, config.learning_rate * config.lr_decay_factor])
  clip = config.get('grad_clip_norm', 0.0) or None
  return keras.optimizers.Adam(learning_rate=schedule, global_clipnorm=clip)


# --- workdir -------------------------------------------------------------------------------
def write_json_atomic(path, obj):
  tmp = f'{path}.tmp'
  with open(tmp, 'w') as f:
    json.dump(obj, f, indent=2, sort_keys=True, default=_json_default)
  os.replace(tmp, path)


def _json_default(x):
  if isinstance(x, (np.floating, np.integer)):
    return x.item()
  if isinstance(x, np.ndarray):
    return x.tolist()
  if isinstance(x, tuple):
    return list(x)
  raise TypeError(f'not JSON serialisable: {type(x).__name__}')


def config_dict(config):
  return json.loads(json.dumps(config.to_dict(), default=_json_default))


def load_workdir_config(workdir):
  """The resolved config saved in ``workdir`` (a ``ConfigDict``).

  Raises:
    FileNotFoundError: if the workdir has no config.json.
  """
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path} not found: is --workdir={workdir} a memrnn_tf run?')
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def check_workdir(config, workdir, keys=_ARCH_KEYS):
  """Refuses a workdir that holds a run of another architecture.

  Args:
    config: the new run's config.
    workdir: the run directory.
    keys: top-level config fields that must agree with the saved ``config.json``.

  Raises:
    CheckpointMismatchError: naming the first field that differs.
  """
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return
  with open(path) as f:
    saved = json.load(f)
  new = config_dict(config)
  for key in keys:
    old_value, new_value = saved.get(key), new.get(key)
    if isinstance(old_value, dict) and isinstance(new_value, dict):
      # Fields added to the config after the run was made are not a mismatch.
      shared = set(old_value) & set(new_value)
      old_value = {k: old_value[k] for k in sorted(shared)}
      new_value = {k: new_value[k] for k in sorted(shared)}
    if old_value != new_value:
      raise errors.CheckpointMismatchError(
          f'--workdir={workdir} holds a run with {key}={old_value}, but the config asks '
          f'for {key}={new_value}; use another --workdir')


def open_workdir(config, workdir, model, keys=_ARCH_KEYS):
  """Checks, creates and resumes a run directory (shared by every experiment).

  Refuses a workdir of another run (``check_workdir``), writes the resolved config,
  restores model and optimizer from the latest checkpoint if there is one, and drops
  metrics logged after it.

  Args:
    config: the run's config (reads ``keep_checkpoints``).
    workdir: the run directory.
    model: a compiled model with a built optimizer.
    keys: top-level config fields a resumed run must agree on.

  Returns:
    ``(manager, writer)``: the ``CheckpointManager`` of model and optimizer under
    ``workdir/checkpoints`` and the ``MetricsWriter``.
  """
  check_workdir(config, workdir, keys)
  os.makedirs(workdir, exist_ok=True)
  write_json_atomic(os.path.join(workdir, 'config.json'), config_dict(config))
  ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
  manager = tf.train.CheckpointManager(ckpt, os.path.join(workdir, 'checkpoints'),
                                       max_to_keep=int(config.keep_checkpoints))
  if manager.latest_checkpoint:
    restore_model(model, manager.latest_checkpoint, model.optimizer)
    logging.info('Resumed from %s', manager.latest_checkpoint)
  writer = MetricsWriter(workdir)
  truncate_metrics(writer.path, int(model.optimizer.iterations.numpy()))
  return manager, writer


def _snapshots(model, workdir):
  """``CheckpointManager`` of the weight snapshots (all kept, for slow-point tracking)."""
  return tf.train.CheckpointManager(tf.train.Checkpoint(model=model),
                                    os.path.join(workdir, 'snapshots'), max_to_keep=None,
                                    checkpoint_name='snapshot')


def restore_model(model, path, optimizer=None):
  """Restores ``model`` (and optionally ``optimizer``) from a checkpoint path.

  Raises:
    CheckpointMismatchError: when the checkpoint belongs to another architecture.
  """
  ckpt = (tf.train.Checkpoint(model=model, optimizer=optimizer) if optimizer is not None
          else tf.train.Checkpoint(model=model))
  try:
    status = ckpt.restore(path)
    status.assert_existing_objects_matched()
    if optimizer is None:
      status.expect_partial()
  except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise errors.CheckpointMismatchError(
        f'checkpoint {path} does not match the model built from the config: {first}') from e


def truncate_metrics(path, step):
  """Drops metrics logged after ``step`` (written before a crash, then replayed) and the
  evaluations of ``step`` itself (the run evaluates again when it ends)."""
  if not os.path.exists(path):
    return

  def keep(record):
    is_eval = str(record.get('split', '')).startswith('eval')
    return record.get('step', 0) < step or (record.get('step', 0) == step and not is_eval)

  with open(path) as f:
    lines = [l for l in f if l.strip() and keep(json.loads(l))]
  with open(path, 'w') as f:
    f.writelines(lines)


class MetricsWriter:
  """Writes scalars to TensorBoard and a JSON-lines file."""

  def __init__(self, workdir):
    self.path = os.path.join(workdir, 'metrics.jsonl')
    self.tb = tf.summary.create_file_writer(os.path.join(workdir, 'tensorboard'))

  def write(self, step, record):
    record = {'step': int(step), **record}
    with open(self.path, 'a') as f:
      f.write(json.dumps(record, default=_json_default) + '\n')
    with self.tb.as_default(step=int(step)):
      for k, v in record.items():
        if k != 'step' and isinstance(v, (int, float)) and not isinstance(v, bool):
          tf.summary.scalar(k, v)
    self.tb.flush()


def _finite_or_none(x):
  return x if math.isfinite(x) else None


def metric_values(model):
  """Current tracker values; NaN entries (e.g. classes not seen yet) become None."""
  out = {}
  for m in model.metrics:
    value = np.asarray(m.result(), np.float64)
    out[m.name] = ([_finite_or_none(v) for v in value.tolist()] if value.ndim
                   else float(value))
  return out


# --- compiled loops ------------------------------------------------------------------------
def make_train_chunk(exp):
  """Compiled ``chunk(n)``: n training steps with trials generated in-graph (see ``train_chunk``)."""
  model, task, curriculum = exp.model, exp.train_task, exp.curriculum
  seed = tf.constant(int(exp.config.seed), tf.int64)
  batch_size = int(exp.config.batch_size)

  def sample(step):
    return task.sample(tf.stack([seed, step]), batch_size, t_max=curriculum.t_max(step),
                       num_active=curriculum.num_classes(step))

  return train_chunk(model, sample, bool(exp.config.jit_compile))


def train_chunk(model, sample, jit_compile):
  """Compiled ``chunk(n)``: n calls of ``model.train_step`` on ``sample(step)`` batches.

  The batch of step ``s`` is always ``sample(s)`` (``s`` = optimizer iterations), so a
  resumed run sees the batches of an uninterrupted one. The batch of the next step is
  generated while the current one trains (one batch per chunk is generated and dropped):
  the two are independent ops, and the TF executor runs them on different cores.
  Trial generation stays outside XLA on purpose: XLA:CPU's RNG is ~8x slower than TF's
  kernels here (BUILD_NOTES.md); ``jit_compile`` applies to the train step only.

  Args:
    model: a compiled Keras model with a ``train_step`` and a built optimizer.
    sample: ``sample(step: int64 scalar tensor) -> batch``, pure TF ops.
    jit_compile: XLA-compile the train step.

  Returns:
    ``chunk(n: int32 scalar tensor) -> loss tracker value``.
  """
  train_step = tf.function(model.train_step, jit_compile=jit_compile)

  @tf.function
  def chunk(n):
    step = tf.cast(model.optimizer.iterations, tf.int64)
    batch = sample(step)
    for _ in tf.range(n):
      # A carried counter, not ``start + i + 1``: grappler turned that sum into an
      # accumulator whose temporary variable clashed between loop iterations.
      step += 1
      upcoming = sample(step)
      train_step(batch)
      batch = upcoming
    return model.loss_tracker.result()

  return chunk


class Evaluator:
  """Accuracy of a model on ``num_trials`` trials of a task (the full task by default).

  The compiled function is traced when the evaluator is made: a long run traces its
  end-of-run evaluation at start-up, so editing the package's source files while it
  trains cannot break it (autograph reads source files when it traces).
  """

  def __init__(self, model, task, num_trials, batch_size, seed, jit_compile=True, t_max=None,
               num_active=None):
    self.model = model
    self.num_batches = max(1, math.ceil(num_trials / batch_size))
    self.batch_size = batch_size
    test_step = tf.function(model.test_step, jit_compile=jit_compile)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int64)])
    def run(i):
      test_step(task.sample(tf.stack([tf.constant(seed, tf.int64), i]), batch_size,
                            t_max=t_max, num_active=num_active))

    self._run = run.get_concrete_function()

  def __call__(self):
    """Returns dict: ``loss``, ``null_accuracy``, ``digit_accuracy``, ``per_class``, ``trials``."""
    self.model.reset_metrics()
    for i in range(self.num_batches):
      self._run(tf.constant(i, tf.int64))
    values = metric_values(self.model)
    self.model.reset_metrics()
    return {'loss': values['loss'], 'null_accuracy': values['null_accuracy'],
            'digit_accuracy': values['digit_accuracy'], 'per_class': values['per_class'],
            'trials': self.num_batches * self.batch_size}


def evaluate_task(model, task, num_trials, batch_size, seed, jit_compile=True, t_max=None,
                  num_active=None):
  """One-off ``Evaluator(...)()``."""
  return Evaluator(model, task, num_trials, batch_size, seed, jit_compile, t_max,
                   num_active)()


def make_evaluators(exp):
  """The paper's table, as ``{split: Evaluator}`` on train and test images, full task."""
  c = exp.config
  # Evaluation seeds are disjoint from training seeds (which use (seed, step)).
  return {split: Evaluator(exp.model, task, c.eval_trials, c.eval_batch_size,
                           seed=10_000_019 + int(c.seed), jit_compile=c.jit_compile)
          for split, task in (('train', exp.train_task), ('test', exp.test_task))}


def evaluate_experiment(exp, evaluators=None):
  """The paper's table: null and digit accuracy on train and test images, full task."""
  evaluators = evaluators or make_evaluators(exp)
  return {split: evaluate() for split, evaluate in evaluators.items()}


def _next_boundary(step, every):
  return (step // every + 1) * every


def training_loop(model, chunk, config, manager, writer, snapshots=None, stage_fn=None):
  """The resumable training loop shared by the experiments, from the optimizer's step.

  Calls ``chunk(n)`` (n compiled training steps) until ``config.num_steps``, stopping at
  every multiple of ``log_every`` (metrics to ``writer``, then reset), ``checkpoint_every``
  (``manager``) and, with ``snapshots``, ``snapshot_every`` (and step 0).

  Args:
    model: the compiled model (its ``optimizer.iterations`` is the step).
    chunk: ``chunk(n) -> loss`` (scalar tensor, the running mean loss).
    config: reads ``num_steps``, ``steps_per_execution``, ``log_every``,
      ``checkpoint_every``, ``snapshot_every`` and ``progress_bar``.
    manager: ``tf.train.CheckpointManager`` of model and optimizer.
    writer: ``MetricsWriter``.
    snapshots: optional ``CheckpointManager`` of weight snapshots.
    stage_fn: optional ``stage_fn(step) -> dict`` (curriculum stage), logged when it
      changes and added to every metrics record.

  Returns:
    ``(step, seconds)``: the final step and the seconds this call trained.

  Raises:
    TrainingDivergedError: non-finite loss (nothing is saved after it: the last good
      checkpoint is kept).
  """
  c = config
  step = int(model.optimizer.iterations.numpy())
  every = [c.log_every, c.checkpoint_every] + ([c.snapshot_every] if snapshots else [])
  progbar = (keras.utils.Progbar(c.num_steps, unit_name='step')
             if c.get('progress_bar', False) else None)
  stage = stage_fn(step) if stage_fn else {}
  if snapshots is not None and step == 0:
    snapshots.save(checkpoint_number=0)
  start_time, start_step = time.time(), step
  model.reset_metrics()
  while step < c.num_steps:
    stop = min([c.num_steps, step + c.steps_per_execution] +
               [_next_boundary(step, e) for e in every])
    loss = float(chunk(tf.constant(stop - step)))
    step = int(model.optimizer.iterations.numpy())
    if not math.isfinite(loss):
      raise errors.TrainingDivergedError(
          f'loss became {loss} before step {step}; stopped, last good checkpoint '
          f'{manager.latest_checkpoint} kept (try a lower --config.learning_rate)')
    if progbar is not None:
      progbar.update(step, [('loss', loss)])
    if stage_fn:
      new_stage = stage_fn(step)
      if new_stage != stage:
        logging.info('Step %d: curriculum stage %s', step, new_stage)
        stage = new_stage
    last = step == c.num_steps
    if step % c.log_every == 0 or last:
      record = metric_values(model)
      record.update(stage, split='train', learning_rate=float(
          model.optimizer.learning_rate), steps_per_sec=(step - start_step) / max(
              time.time() - start_time, 1e-9))
      writer.write(step, record)
      if progbar is None:
        logging.info('Step %d: %s', step, ', '.join(
            f'{k} {v:.4g}' for k, v in record.items() if isinstance(v, float)))
      model.reset_metrics()
    if snapshots is not None and (step % c.snapshot_every == 0 or last):
      snapshots.save(checkpoint_number=step)
    if step % c.checkpoint_every == 0 or last:
      manager.save(checkpoint_number=step)
  elapsed = time.time() - start_time
  if step > start_step:
    logging.info('Trained %d steps in %.1f s (%.1f steps/s)', step - start_step, elapsed,
                 (step - start_step) / elapsed)
  return step, elapsed


def configure_threads(config):
  """Sets TensorFlow's intra-op threads to ``config.intra_op_threads`` (0: TF's default).

  A process-wide setting that TensorFlow accepts only before it runs its first op; a later
  call that would change it logs a warning and changes nothing (it affects speed only).
  """
  threads = int(config.get('intra_op_threads', 0))
  if threads < 0:
    raise ValueError(f'config.intra_op_threads={threads} must be >= 0')
  if threads == 0 or tf.config.threading.get_intra_op_parallelism_threads() == threads:
    return
  try:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
  except RuntimeError:
    logging.warning('config.intra_op_threads=%d ignored: TensorFlow is already running in '
                    'this process (set it before the first TensorFlow op)', threads)


def train_and_evaluate(config, workdir, data_dir=None):
  """Trains (resuming if possible) and evaluates; returns the final evaluation table.

  Args:
    config: experiment ``ConfigDict`` (e.g. ``configs/mnist.py:cpu``).
    workdir: directory for config, checkpoints, snapshots, metrics and results.
    data_dir: directory with the dataset files (overrides ``config.data_dir``).

  Raises:
    ValueError: bad config; DataNotFoundError: missing data;
    CheckpointMismatchError: workdir of another architecture;
    TrainingDivergedError: non-finite loss (the last good checkpoint is kept).
  """
  configure_threads(config)
  if config.get('deterministic', False):
    tf.config.experimental.enable_op_determinism()
  if data_dir:
    config.data_dir = str(data_dir)
  exp = build_experiment(config, data_dir)  # all validation before touching the workdir
  model = exp.model
  manager, writer = open_workdir(config, workdir, model)
  snapshots = _snapshots(model, workdir)
  step = int(model.optimizer.iterations.numpy())

  c = config
  chunk = make_train_chunk(exp)
  chunk.get_concrete_function(tf.TensorSpec([], tf.int32))  # trace now (see Evaluator)
  evaluators = make_evaluators(exp)
  logging.info('Training %s-%d on %s, curriculum %s, from step %d to %d (stage %s)',
               c.model.cell, c.model.units, c.dataset, exp.curriculum.name, step, c.num_steps,
               exp.curriculum.at(step))
  step, elapsed = training_loop(model, chunk, config, manager, writer, snapshots=snapshots,
                                stage_fn=exp.curriculum.at)

  table = evaluate_experiment(exp, evaluators)
  for split, values in table.items():
    writer.write(step, {'split': f'eval_{split}', **values})
    logging.info('%s: null accuracy %.4f, digit accuracy %.4f (%d trials)', split,
                 values['null_accuracy'], values['digit_accuracy'], values['trials'])
  result = {'step': step, 'train_seconds_this_session': elapsed, **table}
  write_json_atomic(os.path.join(workdir, 'eval.json'), result)
  return result


# --- trained runs --------------------------------------------------------------------------
def checkpoint_path(workdir, checkpoint=None):
  """Path of the latest checkpoint, or of the checkpoint/snapshot saved at step ``checkpoint``.

  Raises:
    FileNotFoundError: naming what is available.
  """
  ckpt_dir = os.path.join(workdir, 'checkpoints')
  if checkpoint is None:
    path = tf.train.latest_checkpoint(ckpt_dir)
    if path is None:
      raise FileNotFoundError(f'no checkpoint in {ckpt_dir}: train first (bin/train.py '
                              f'--workdir={workdir})')
    return path
  for path in (os.path.join(ckpt_dir, f'ckpt-{int(checkpoint)}'),
               os.path.join(workdir, 'snapshots', f'snapshot-{int(checkpoint)}')):
    if tf.io.gfile.exists(path + '.index'):
      return path
  raise FileNotFoundError(f'no checkpoint or snapshot of step {checkpoint} in {workdir}; '
                          f'available snapshot steps: {snapshot_steps(workdir)}')


def snapshot_steps(workdir):
  """Sorted training steps of the weight snapshots saved in ``workdir``."""
  state = tf.train.get_checkpoint_state(os.path.join(workdir, 'snapshots'))
  if state is None:
    return []
  return sorted(int(p.rsplit('-', 1)[1]) for p in state.all_model_checkpoint_paths)


def model_from_config(config):
  """An untrained model of the architecture in ``config`` (no data needed)."""
  shape = sources.image_shape(config.dataset)
  return memory_rnn.create_model(
      config, int(np.prod(shape)) + 1,
      tasks.num_outputs(config.get('task_kind', 'classification'), config.num_classes),
      image_shape=shape)


def load_trained_model(workdir, checkpoint=None, data_dir=None):
  """Rebuilds the model of ``workdir`` from its config.json and restores its weights.

  Returns:
    ``(model, checkpoint_path)``.
  """
  del data_dir  # the architecture is fixed by the config alone
  config = load_workdir_config(workdir)
  path = checkpoint_path(workdir, checkpoint)
  model = model_from_config(config)
  restore_model(model, path)
  return model, path


def evaluate_workdir(workdir, checkpoint=None, data_dir=None, num_trials=None):
  """The paper's table for a trained run (restored from ``workdir``)."""
  config = load_workdir_config(workdir)
  if num_trials:
    config.eval_trials = int(num_trials)
  exp = build_experiment(config, data_dir)
  path = checkpoint_path(workdir, checkpoint)
  restore_model(exp.model, path)
  table = evaluate_experiment(exp)
  table['checkpoint'] = path
  return table
