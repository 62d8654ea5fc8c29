"""The experiment protocol: a config's validated fields, tasks, model, optimizer and curriculum.

Every study builds, trains and reloads its networks through this module: the delayed
classification of ``bin/train.py`` (and the regularisation that continues it) and the
flip-flop study (``memrnn_tf.training.flipflop`` says what differs for it: task, model,
checks, learning-rate steps). ``build_experiment(config)`` makes everything a run trains
with; ``load_trained_model`` and ``make_task`` rebuild a stored run's model and tasks
from its config.json (the way in for the analyses; ``memrnn_tf.workdir`` only stores
and opens runs).
"""

import dataclasses
from typing import Any, Callable, Optional, Tuple

import keras
import ml_collections
import numpy as np

from memrnn_tf import errors
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.data import sources
from memrnn_tf.data import tasks
from memrnn_tf.models import flipflop as flipflop_models
from memrnn_tf.models import memory_rnn
from memrnn_tf.training import curricula
from memrnn_tf.training import flipflop

# Fields of every experiment that must be >= 1 (each kind adds its own).
_POSITIVE_FIELDS = ('num_steps', 'batch_size', 'log_every', 'checkpoint_every',
                    'perf.steps_per_execution')


@dataclasses.dataclass
class Experiment:
  """Everything a run needs, built from a config (no files written).

  Attributes:
    config: the run's config.
    train_task: the task training batches are drawn from (``sample(seed, batch_size,
      ...)``).
    test_task: the task of the evaluation (the flip-flop's is its training task).
    model: the compiled model, optimizer built.
    curriculum: the stage of every step (``None``: the task as configured throughout).
  """
  config: ml_collections.ConfigDict
  train_task: Any
  test_task: Any
  model: keras.Model
  curriculum: Optional[curricula.Curriculum] = None

  def stage(self, step):
    """The curriculum's stage at ``step`` (a dict; empty without a curriculum)."""
    return {} if self.curriculum is None else self.curriculum.at(step)

  def describe(self):
    """The network, as the training log names it."""
    return _kind(self.config).describe(self.config)


@dataclasses.dataclass(frozen=True)
class _Kind:
  """What one kind of experiment builds from its config (the rest is shared)."""
  check: Callable[[Any], None]  # its own fields; raises ConfigError
  positive_fields: Tuple[str, ...]  # its fields that must be >= 1
  lr_boundaries: Callable[[Any], list]  # steps where the learning rate steps down
  tasks: Callable[[Any], tuple]  # (train task, test task)
  model: Callable[[Any], keras.Model]  # untrained, no data needed
  curriculum: Callable[[Any], Optional[curricula.Curriculum]]
  describe: Callable[[Any], str]


def _kind(config):
  return _FLIPFLOP if flipflop.is_flipflop(config) else _CLASSIFICATION


def validate_config(config):
  """Checks everything that can be checked without data; raises one-line ``ConfigError``s."""
  kind = _kind(config)
  kind.check(config)
  for key in _POSITIVE_FIELDS + kind.positive_fields:
    if int(config[key]) < 1:
      raise errors.ConfigError(f'config.{key}={config[key]} must be >= 1')
  if not config.learning_rate > 0:
    raise errors.ConfigError(f'config.learning_rate={config.learning_rate} must be > 0')


def build_experiment(config):
  """Validates the config, loads data and creates the model (writes nothing)."""
  validate_config(config)
  kind = _kind(config)
  curriculum = kind.curriculum(config)
  train_task, test_task = kind.tasks(config)
  model = kind.model(config)
  # Our own loops compile train_step with XLA; model.compile's flag only affects fit().
  model.compile(optimizer=make_optimizer(config), jit_compile=False)
  model.optimizer.build(model.trainable_variables)
  return Experiment(config, train_task, test_task, model, curriculum)


def make_optimizer(config):
  """Adam with a step-down learning rate and optional global-norm clipping.

  The rate is ``learning_rate`` times ``lr_decay_factor ** i`` after the i-th of the
  kind's boundaries (the delayed classification: ``lr_decay_start``, in paper units; the
  flip-flop: ``lr_decay_at``, fractions of ``num_steps``); constant without boundaries.
  """
  boundaries = _kind(config).lr_boundaries(config)
  lr = float(config.learning_rate)
  if boundaries:
    factor = float(config.lr_decay_factor)
    lr = keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries, [lr * factor ** i for i in range(len(boundaries) + 1)])
  clip = config.get('grad_clip_norm', 0.0) or None
  return keras.optimizers.Adam(learning_rate=lr, global_clipnorm=clip)


# --- a run's model and tasks, rebuilt from its config ------------------------------------------
def model_from_config(config):
  """An untrained model of the architecture in ``config`` (no data needed)."""
  return _kind(config).model(config)


def load_trained_model(workdir, checkpoint=None):
  """Rebuilds the model of ``workdir`` from its config.json and restores its weights.

  Args:
    workdir: a run of any experiment.
    checkpoint: training step of a checkpoint or snapshot (default the latest checkpoint).

  Returns:
    ``(model, checkpoint_path)``.
  """
  config = workdir_lib.load_config(workdir)
  path = workdir_lib.checkpoint_path(workdir, checkpoint)
  model = model_from_config(config)
  workdir_lib.restore_model(model, path)
  return model, path


def task_spec(config, **overrides):
  """``TaskSpec`` from ``config.task`` with optional overrides."""
  fields = {f.name for f in dataclasses.fields(tasks.TaskSpec)}
  values = {k: v for k, v in config.task.items() if k in fields}
  values.update(overrides)
  return tasks.TaskSpec(**values)


def make_task(config, split, **spec_overrides):
  """The delayed-classification task on the ``split`` images of ``config.dataset``.

  Args:
    config: a run's config (e.g. ``workdir.load_config(workdir)``).
    split: ``'train'`` or ``'test'``.
    **spec_overrides: ``TaskSpec`` fields to change (e.g. ``t_max``, ``noise_scale``).
  """
  data = sources.load_dataset(config.dataset, split, config.get('data_dir') or None)
  return tasks.task_class(config.get('task_kind', 'classification'))(
      data.images, data.labels, data.mean, data.std,
      spec=task_spec(config, **spec_overrides), num_classes=config.num_classes,
      class_order=config.get('class_order'))


# --- the delayed classification ------------------------------------------------------------------
def _check_classification(config):
  curricula.create_curriculum(config)
  task_spec(config).validate()
  tasks.task_class(config.get('task_kind', 'classification'))
  if config.get('speed_penalty', 0.0) > 0 and not config.get('regularize'):
    raise errors.SpeedTargetsError(
        f'config.speed_penalty={config.speed_penalty:g} needs speed targets, which plain '
        'training does not have: continue a trained run with bin/regularize.py --penalty')


def _classification_model(config):
  shape = sources.image_shape(config.dataset)
  return memory_rnn.create_model(
      config, int(np.prod(shape)) + 1,
      tasks.num_outputs(config.get('task_kind', 'classification'), config.num_classes),
      image_shape=shape)


def _describe_classification(config):
  c = config
  return f'{c.model.cell}-{c.model.units} on {c.dataset}, curriculum {c.curriculum}'


_CLASSIFICATION = _Kind(
    check=_check_classification,
    positive_fields=('snapshot_every', 'eval_batch_size'),
    lr_boundaries=lambda c: [int(round(c.lr_decay_start * c.num_steps / c.reference_steps))],
    tasks=lambda c: (make_task(c, 'train'), make_task(c, 'test')),
    model=_classification_model,
    curriculum=curricula.create_curriculum,
    describe=_describe_classification)


def _flipflop_tasks(config):
  task = flipflop.make_task(config)
  return task, task


_FLIPFLOP = _Kind(
    check=flipflop.check_config,
    positive_fields=flipflop.POSITIVE_FIELDS,
    lr_boundaries=flipflop.lr_boundaries,
    tasks=_flipflop_tasks,
    model=flipflop_models.create_model,
    curriculum=lambda c: None,
    describe=flipflop.describe)
