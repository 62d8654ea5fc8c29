"""Regenerates the weights of any training step of a run by replaying its training.

Training is deterministic and its batches depend only on ``(config.seed, step)``, so the
weights of step ``s`` follow exactly from any saved state of an earlier step that holds
both the weights and the optimizer (Adam moments, step count). Such states, in order of
preference (the latest one at or before ``s``):

* ``snapshots/snapshot-N`` (every ``snapshot_every`` steps): the trainer saves
  ``Checkpoint(model=model)``, and a compiled Keras model tracks its optimizer, so the
  snapshots hold Adam's moments and step count (under ``model/optimizer/``);
* ``checkpoints/ckpt-N`` (model + optimizer; the last ``keep_checkpoints`` are kept);
* step 0: ``snapshot-0``'s weights with a fresh optimizer (Adam starts from zeros), for a
  snapshot without optimizer state (``has_optimizer_state``), at the cost of replaying
  from the start.

Whenever a replay passes a step with a stored snapshot, the replayed weights are compared
with it (``Replayer.checks``): they must be identical, bit for bit, on the machine and
software that trained the run.

Replayed weights are cached as ``<workdir>/replay/weights-<step>.npz``; ``load_weights``
reads a step's weights from a snapshot, a checkpoint or that cache.
"""

import glob
import os
import re
import tempfile

from absl import logging
import numpy as np
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf import files
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.training import experiment
from memrnn_tf.training import loop


def _steps_in(directory, prefix):
  """``{step: path}`` of the ``<prefix>-<step>`` checkpoints present in ``directory``."""
  out = {}
  for index in glob.glob(os.path.join(directory, f'{prefix}-*.index')):
    match = re.search(rf'{prefix}-(\d+)\.index$', index)
    if match:
      out[int(match.group(1))] = index[:-len('.index')]
  return out


def has_optimizer_state(path):
  """Whether the checkpoint at ``path`` holds the optimizer's state, not only weights.

  A Keras model tracks its optimizer, so ``tf.train.Checkpoint(model=model)`` (the
  trainer's snapshots) saves it under ``model/optimizer/``; checkpoints made with
  ``Checkpoint(model=..., optimizer=...)`` have it under ``optimizer/``.
  """
  return any(re.match(r'(model/)?optimizer/_iterations/', name)
             for name, _ in tf.train.list_variables(path))


def exact_states(workdir):
  """``{step: path}`` of the saved states that replay can start from (model + optimizer).

  Step 0 maps to ``snapshot-0`` (weights only; the optimizer starts fresh there).
  """
  states = {}
  snapshots = _steps_in(os.path.join(workdir, 'snapshots'), 'snapshot')
  for step, path in snapshots.items():
    if step == 0 or has_optimizer_state(path):
      states[step] = path
  states.update(_steps_in(os.path.join(workdir, 'checkpoints'), 'ckpt'))
  return dict(sorted(states.items()))


def cache_path(workdir, step):
  return os.path.join(workdir, 'replay', f'weights-{int(step)}.npz')


def stored_steps(workdir):
  """Sorted steps whose weights are on disk: snapshots, checkpoints and replay cache."""
  steps = set(_steps_in(os.path.join(workdir, 'snapshots'), 'snapshot'))
  steps |= set(_steps_in(os.path.join(workdir, 'checkpoints'), 'ckpt'))
  for path in glob.glob(os.path.join(workdir, 'replay', 'weights-*.npz')):
    steps.add(int(re.search(r'weights-(\d+)\.npz$', path).group(1)))
  return sorted(steps)


def load_weights(model, workdir, step):
  """Sets ``model``'s weights to those of training step ``step`` of ``workdir``.

  Reads the snapshot or checkpoint of that step, else the replay cache.

  Raises:
    FileNotFoundError: when the step is stored nowhere (``replay_weights`` makes it).
  """
  step = int(step)
  for path in (os.path.join(workdir, 'snapshots', f'snapshot-{step}'),
               os.path.join(workdir, 'checkpoints', f'ckpt-{step}')):
    if tf.io.gfile.exists(path + '.index'):
      workdir_lib.restore_model(model, path)
      return path
  path = cache_path(workdir, step)
  if not os.path.exists(path):
    raise errors.RunNotFoundError(f'weights of step {step} of {workdir} are neither a snapshot nor '
                            'replayed yet (memrnn_tf.training.replay.replay_weights)')
  with np.load(path) as d:
    model.set_weights([d[f'w{i}'] for i in range(len(d.files))])
  return path


class Replayer:
  """Replays the training of ``workdir`` to chosen steps.

  Args:
    workdir: a run made by ``trainer.train_and_evaluate``.
    check: compare replayed weights with every stored snapshot passed on the way.

  Attributes:
    model: the model being trained (its weights are those of ``step``).
    step: current training step (``None`` before the first ``advance_to``).
    checks: ``[(step, max |replayed - stored|)]`` for every snapshot passed.
    steps_trained: training steps replayed so far.
  """

  def __init__(self, workdir, check=True):
    self.workdir = workdir
    config = workdir_lib.load_config(workdir)
    if config.get('deterministic', False):
      tf.config.experimental.enable_op_determinism()
    self.config = config
    self.exp = experiment.build_experiment(config)
    self.model = self.exp.model
    self.chunk = loop.make_train_chunk(self.exp)
    self.states = exact_states(workdir)
    if 0 not in self.states:
      raise errors.RunNotFoundError(f'{workdir}/snapshots has no snapshot-0: cannot replay')
    self.snapshots = _steps_in(os.path.join(workdir, 'snapshots'), 'snapshot')
    self.check = check
    self._reference = experiment.model_from_config(config) if check else None
    self.step = None
    self.checks = []
    self.steps_trained = 0
    # The state of step 0: snapshot-0's weights and the fresh optimizer, saved once so that
    # every start is a plain checkpoint restore.
    self._tmp = tempfile.mkdtemp(prefix='memrnn_replay_')
    workdir_lib.restore_model(self.model, self.states[0])
    ckpt = tf.train.Checkpoint(model=self.model, optimizer=self.model.optimizer)
    self.states[0] = ckpt.save(os.path.join(self._tmp, 'step0'))

  def start_for(self, step):
    """The latest exact state at or before ``step``."""
    return max(s for s in self.states if s <= step)

  def _restore(self, start):
    workdir_lib.restore_model(self.model, self.states[start], self.model.optimizer)
    self.step = int(self.model.optimizer.iterations.numpy())
    if self.step != start:
      raise errors.CheckpointMismatchError(
          f'{self.states[start]} holds step {self.step}, expected {start}')

  def advance_to(self, step):
    """Trains (restoring first if needed) until the model holds the weights of ``step``."""
    step = int(step)
    if step > int(self.config.num_steps):
      raise errors.ConfigError(f'step {step} is beyond the run\'s num_steps={self.config.num_steps}')
    start = self.start_for(step)
    if self.step is None or self.step > step or self.step < start:
      self._restore(start)
    while self.step < step:
      # Stop at stored snapshots to check them.
      later = [s for s in self.snapshots if self.step < s < step] if self.check else []
      stop = min([step, self.step + int(self.config.perf.steps_per_execution)] + later)
      self.chunk(tf.constant(stop - self.step, tf.int32))
      self.steps_trained += stop - self.step
      self.step = int(self.model.optimizer.iterations.numpy())
      if self.check and self.step in self.snapshots:
        self._check(self.step)
    if self.check and self.step in self.snapshots and (
        not self.checks or self.checks[-1][0] != self.step):
      self._check(self.step)
    return self.model

  def _check(self, step):
    workdir_lib.restore_model(self._reference, self.snapshots[step])
    diff = max(float(np.max(np.abs(a - b))) for a, b in
               zip(self.model.get_weights(), self._reference.get_weights()))
    self.checks.append((step, diff))
    if diff != 0.0:
      logging.warning('replayed weights of step %d differ from its snapshot by up to %.3g',
                      step, diff)

  def bit_exact(self):
    """``True`` when every snapshot checked so far was reproduced exactly (``None``: none)."""
    return None if not self.checks else all(d == 0.0 for _, d in self.checks)


def replay_weights(workdir, steps, check=True, replayer=None):
  """Makes the weights of ``steps`` loadable with ``load_weights`` (replay cache on disk).

  Steps already stored (snapshot, checkpoint, cache) are skipped; the rest are replayed in
  increasing order, restarting from the latest exact state before each when that is later
  than the current replay position.

  Args:
    workdir: the run.
    steps: training steps.
    check: compare with stored snapshots on the way (see ``Replayer``).
    replayer: an existing ``Replayer`` of this workdir to reuse.

  Returns:
    ``dict``: ``replayed`` (steps written), ``steps_trained``, ``checks`` and
    ``bit_exact`` (``None`` when nothing was replayed or no snapshot was passed).
  """
  stored = set(stored_steps(workdir))
  todo = sorted({int(s) for s in steps} - stored)
  if not todo:
    return {'replayed': [], 'steps_trained': 0, 'checks': [], 'bit_exact': None}
  replayer = replayer or Replayer(workdir, check=check)
  os.makedirs(os.path.join(workdir, 'replay'), exist_ok=True)
  trained_before = replayer.steps_trained
  checks_before = len(replayer.checks)
  for step in todo:
    replayer.advance_to(step)
    files.write_npz(cache_path(workdir, step),
                    **{f'w{i}': w for i, w in enumerate(replayer.model.get_weights())})
  checks = replayer.checks[checks_before:]
  logging.info('Replayed %d steps of %s (%d training steps), snapshot checks: %s',
               len(todo), workdir, replayer.steps_trained - trained_before, checks)
  return {'replayed': todo, 'steps_trained': replayer.steps_trained - trained_before,
          'checks': [list(c) for c in checks],
          'bit_exact': None if not checks else all(d == 0.0 for _, d in checks)}


def replay_cost(workdir, steps):
  """Training steps a replay of ``steps`` would run (from the exact states on disk)."""
  stored = set(stored_steps(workdir))
  todo = sorted({int(s) for s in steps} - stored)
  states = sorted(exact_states(workdir))
  cost, position = 0, None
  for step in todo:
    start = max(s for s in states if s <= step)
    if position is None or position > step or position < start:
      position = start
    cost += step - position
    position = step
  return cost
