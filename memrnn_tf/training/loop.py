"""The resumable training loop shared by every experiment: workdir set-up, compiled chunks.

Trials are generated inside the compiled loop from ``seed = (config.seed, step)`` and the
curriculum is a function of the step, so a run killed at any point and restarted with the
same command continues from its last checkpoint and ends with the same weights as an
uninterrupted run.
"""

import contextlib
import math
import os
import signal
import sys
import threading
import time

from absl import logging
import keras
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.training import metrics as metrics_lib


def open_workdir(config, workdir, model):
  """Checks, creates and resumes a run directory (shared by every experiment).

  Everything is checked before anything is written: a workdir of another run
  (``workdir.check_workdir``), a damaged config.json, and the checkpoints. A run resumes
  from its newest checkpoint that reads back whole (a warning names the damaged newer
  ones, whose steps are trained again); when none does, nothing is written. Then the
  resolved config is written, model and optimizer restored, and metrics logged after the
  checkpoint dropped.

  Args:
    config: the run's config (reads ``keep_checkpoints``).
    workdir: the run directory.
    model: a compiled model with a built optimizer.

  Returns:
    ``(manager, writer)``: the ``CheckpointManager`` of model and optimizer under
    ``workdir/checkpoints`` and the ``MetricsWriter``.

  Raises:
    CheckpointMismatchError, RunDamagedError, CheckpointDamagedError: nothing written.
  """
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise errors.ConfigError(f'--workdir={workdir} is a file, not a directory')
  workdir_lib.check_workdir(config, workdir)
  ckpt_dir = os.path.join(workdir, 'checkpoints')
  path, scan = workdir_lib.usable_checkpoint(ckpt_dir, what=f'--workdir={workdir}')
  snapshot_scan = workdir_lib.scan_snapshots(workdir)
  os.makedirs(workdir, exist_ok=True)
  workdir_lib.write_json_atomic(os.path.join(workdir, 'config.json'),
                                workdir_lib.config_dict(config))
  workdir_lib.repair_state_file(scan)
  workdir_lib.repair_state_file(snapshot_scan)
  ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
  manager = tf.train.CheckpointManager(ckpt, ckpt_dir,
                                       max_to_keep=int(config.keep_checkpoints))
  if path:
    workdir_lib.restore_model(model, path, model.optimizer)
    logging.info('Resumed from %s', path)
  writer = metrics_lib.MetricsWriter(workdir)
  workdir_lib.truncate_metrics(writer.path, int(model.optimizer.iterations.numpy()))
  return manager, writer


def snapshot_manager(model, workdir):
  """``CheckpointManager`` of the weight snapshots (all kept, for slow-point tracking)."""
  return tf.train.CheckpointManager(tf.train.Checkpoint(model=model),
                                    os.path.join(workdir, 'snapshots'), max_to_keep=None,
                                    checkpoint_name='snapshot')


def make_train_chunk(exp):
  """Compiled ``chunk(n)`` of an ``Experiment``: n training steps (see ``train_chunk``).

  The batch of step ``s`` is ``train_task.sample((config.seed, s), batch_size)``, at the
  curriculum's ``t_max`` and number of classes of step ``s`` when there is a curriculum.
  """
  model, task, curriculum = exp.model, exp.train_task, exp.curriculum
  seed = tf.constant(int(exp.config.seed), tf.int64)
  batch_size = int(exp.config.batch_size)

  def sample(step):
    stage = {} if curriculum is None else dict(t_max=curriculum.t_max(step),
                                               num_active=curriculum.num_classes(step))
    return task.sample(tf.stack([seed, step]), batch_size, **stage)

  return train_chunk(model, sample, bool(exp.config.perf.jit_compile))


def train_chunk(model, sample, jit_compile):
  """Compiled ``chunk(n)``: n calls of ``model.train_step`` on ``sample(step)`` batches.

  The batch of step ``s`` is always ``sample(s)`` (``s`` = optimizer iterations), so a
  resumed run sees the batches of an uninterrupted one. The batch of the next step is
  generated while the current one trains (one batch per chunk is generated and dropped):
  the two are independent ops, and the TF executor runs them on different cores.
  Trial generation stays outside XLA on purpose: XLA:CPU's RNG is much slower than TF's
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
    config: reads ``num_steps``, ``perf.steps_per_execution``, ``log_every``,
      ``checkpoint_every``, ``snapshot_every`` and ``progress_bar``.
    manager: ``tf.train.CheckpointManager`` of model and optimizer.
    writer: ``MetricsWriter``.
    snapshots: optional ``CheckpointManager`` of weight snapshots.
    stage_fn: optional ``stage_fn(step) -> dict`` (curriculum stage), logged when it
      changes and added to every metrics record.

  SIGINT (Ctrl-C) and SIGTERM stop the loop after the current chunk, which is saved as
  a checkpoint (a second signal acts at once).

  Returns:
    ``(step, seconds)``: the final step and the seconds this call trained.

  Raises:
    TrainingDivergedError: non-finite loss (nothing is saved after it: the last good
      checkpoint is kept).
    TrainingInterruptedError: SIGINT or SIGTERM; the step reached is saved.
  """
  c = config
  step = int(model.optimizer.iterations.numpy())
  every = [c.log_every, c.checkpoint_every] + ([c.snapshot_every] if snapshots else [])
  progbar = _ProgressBar(c.num_steps) if c.get('progress_bar', False) else None
  stage = stage_fn(step) if stage_fn else {}
  if snapshots is not None and step == 0:
    snapshots.save(checkpoint_number=0)
  start_time, start_step = time.time(), step
  model.reset_metrics()
  with _stop_on_signals() as interrupt, progbar or contextlib.nullcontext():
    while step < c.num_steps:
      until = min([c.num_steps, step + c.perf.steps_per_execution] +
                  [_next_boundary(step, e) for e in every])
      loss = float(chunk(tf.constant(until - step)))
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
        record = metrics_lib.metric_values(model)
        record.update(stage, split='train', learning_rate=float(
            model.optimizer.learning_rate), steps_per_sec=(step - start_step) / max(
                time.time() - start_time, 1e-9), session_start_step=start_step)
        writer.write(step, record)
        if progbar is None:
          logging.info('Step %d: %s', step, ', '.join(
              f'{k} {v:.4g}' for k, v in record.items() if isinstance(v, float)))
        model.reset_metrics()
      if snapshots is not None and (step % c.snapshot_every == 0 or last):
        snapshots.save(checkpoint_number=step)
      if step % c.checkpoint_every == 0 or last or interrupt.signum is not None:
        manager.save(checkpoint_number=step)
      if interrupt.signum is not None and not last:
        raise errors.TrainingInterruptedError(
            f'{signal.Signals(interrupt.signum).name} at step {step}: saved '
            f'{manager.latest_checkpoint}; run the same command again to resume from it',
            interrupt.signum)
  elapsed = time.time() - start_time
  if step > start_step:
    logging.info('Trained %d steps in %.1f s (%.1f steps/s)', step - start_step, elapsed,
                 (step - start_step) / elapsed)
  return step, elapsed


@contextlib.contextmanager
def _stop_on_signals():
  """Within: SIGINT and SIGTERM set ``.signum`` of the yielded object instead of stopping
  the process, once (the previous handlers are back after the first signal). Only the
  main thread can handle signals; elsewhere nothing changes."""
  stop = _Stop()
  if threading.current_thread() is not threading.main_thread():
    yield stop
    return
  previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

  def handle(signum, frame):
    del frame
    stop.signum = signum
    for s, h in previous.items():
      signal.signal(s, h)

  for s in previous:
    signal.signal(s, handle)
  try:
    yield stop
  finally:
    for s, h in previous.items():
      signal.signal(s, h)


class _Stop:
  signum = None


class _ProgressBar:
  """``keras.utils.Progbar`` of the steps; within it, a log record first ends the bar's
  line (its next update starts a new one), so no log line is written into the bar."""

  def __init__(self, num_steps):
    self._bar = keras.utils.Progbar(num_steps, unit_name='step')
    self._num_steps = num_steps
    self._line_open = False

  def update(self, step, values):
    self._bar.update(step, values)
    self._line_open = step < self._num_steps  # the last update ends its line

  def _end_line(self, record):
    del record
    if self._line_open:
      sys.stdout.write('\n')
      sys.stdout.flush()
      self._line_open = False
    return True

  def __enter__(self):
    logging.get_absl_handler().addFilter(self._end_line)
    return self

  def __exit__(self, *exc_info):
    logging.get_absl_handler().removeFilter(self._end_line)
