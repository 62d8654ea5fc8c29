"""``build_experiment(config)``: validated config, tasks, model, optimizer and curriculum."""

import dataclasses

import keras
import ml_collections

from memrnn_tf import errors
from memrnn_tf import workdir as workdir_lib
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
  workdir_lib.task_spec(config).validate()
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
  train_task = workdir_lib.make_task(config, 'train')
  test_task = workdir_lib.make_task(config, 'test')
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
