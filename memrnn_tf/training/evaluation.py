"""The paper's table: null and digit accuracy of a model on a task, a run, or a workdir."""

import math

import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.training import experiment as experiment_lib
from memrnn_tf.training import metrics as metrics_lib

# Evaluation seeds are disjoint from training seeds (which use (seed, step)).
_EVAL_SEED = 10_000_019


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
    values = metrics_lib.metric_values(self.model)
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
  return {split: Evaluator(exp.model, task, c.eval_trials, c.eval_batch_size,
                           seed=_EVAL_SEED + int(c.seed), jit_compile=c.perf.jit_compile)
          for split, task in (('train', exp.train_task), ('test', exp.test_task))}


def evaluate_experiment(exp, evaluators=None):
  """The paper's table: null and digit accuracy on train and test images, full task."""
  evaluators = evaluators or make_evaluators(exp)
  return {split: evaluate() for split, evaluate in evaluators.items()}


def evaluate_workdir(workdir, checkpoint=None, num_trials=None):
  """The paper's table for a trained run (restored from ``workdir``)."""
  config = workdir_lib.load_config(workdir)
  if num_trials is not None:
    if int(num_trials) < 1:
      raise errors.ConfigError(f'num_trials={num_trials} must be >= 1')
    config.eval_trials = int(num_trials)
  exp = experiment_lib.build_experiment(config)
  path = workdir_lib.checkpoint_path(workdir, checkpoint)
  workdir_lib.restore_model(exp.model, path)
  table = evaluate_experiment(exp)
  table['checkpoint'] = path
  return table
