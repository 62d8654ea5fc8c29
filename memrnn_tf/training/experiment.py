"""The experiment of a config: validated config, tasks, model, optimizer and curriculum.

``build_experiment(config)`` makes everything a run trains with; ``load_trained_model``
and ``make_task`` rebuild a stored run's model and tasks from its config.json (the way in
for the analyses; ``memrnn_tf.workdir`` only stores and opens runs).
"""

import dataclasses

import keras
import ml_collections
import numpy as np

from memrnn_tf import errors
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.data import sources
from memrnn_tf.data import tasks
from memrnn_tf.models import memory_rnn
from memrnn_tf.training import curricula


@dataclasses.dataclass
class Experiment:
  """Everything a run needs, built from a config (no files written)."""
  config: ml_collections.ConfigDict
  train_task: tasks.DelayedClassification
  test_task: tasks.DelayedClassification
  model: memory_rnn.MemoryRNN
  curriculum: curricula.Curriculum


def validate_config(config):
  """Checks everything that can be checked without data; raises one-line ``ConfigError``s."""
  curricula.create_curriculum(config)
  task_spec(config).validate()
  tasks.task_class(config.get('task_kind', 'classification'))
  for key in ('num_steps', 'batch_size', 'log_every', 'checkpoint_every', 'snapshot_every',
              'perf.steps_per_execution', 'eval_batch_size'):
    if int(config[key]) < 1:
      raise errors.ConfigError(f'config.{key}={config[key]} must be >= 1')
  if config.learning_rate <= 0:
    raise errors.ConfigError(f'config.learning_rate={config.learning_rate} must be > 0')
  if config.get('speed_penalty', 0.0) > 0 and not config.get('regularize'):
    raise errors.SpeedTargetsError(
        f'config.speed_penalty={config.speed_penalty:g} needs speed targets, which plain '
        'training does not have: continue a trained run with bin/regularize.py --penalty')


def build_experiment(config):
  """Validates the config, loads data and creates the model (writes nothing)."""
  validate_config(config)
  curriculum = curricula.create_curriculum(config)
  train_task = make_task(config, 'train')
  test_task = make_task(config, 'test')
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


# --- a run's model and tasks, rebuilt from its config ------------------------------------------
def model_from_config(config):
  """An untrained model of the architecture in ``config`` (no data needed)."""
  shape = sources.image_shape(config.dataset)
  return memory_rnn.create_model(
      config, int(np.prod(shape)) + 1,
      tasks.num_outputs(config.get('task_kind', 'classification'), config.num_classes),
      image_shape=shape)


def load_trained_model(workdir, checkpoint=None):
  """Rebuilds the model of ``workdir`` from its config.json and restores its weights.

  Args:
    workdir: a delayed-classification run.
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
