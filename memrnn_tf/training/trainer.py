"""``train_and_evaluate(config, workdir)``: resumable training with curricula, then the table.

The workdir layout is described in ``memrnn_tf.workdir``; the loop in
``memrnn_tf.training.loop``; the evaluation in ``memrnn_tf.training.evaluation``.
"""

import os

from absl import logging
import tensorflow as tf

from memrnn_tf import perf
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.training import evaluation
from memrnn_tf.training import experiment as experiment_lib
from memrnn_tf.training import loop


def train_and_evaluate(config, workdir, evaluate=True):
  """Trains (resuming if possible) and evaluates; returns the final evaluation table.

  Args:
    config: experiment ``ConfigDict`` (e.g. ``configs/mnist.py:cpu``).
    workdir: directory for config, checkpoints, snapshots, metrics and results.
    evaluate: evaluate and write eval.json (else only train: the result has no table).

  Raises:
    ConfigError: bad config; DataNotFoundError: missing data;
    CheckpointMismatchError: workdir of another run;
    RunDamagedError: config.json or every checkpoint damaged (nothing written);
    TrainingDivergedError: non-finite loss (the last good checkpoint is kept);
    TrainingInterruptedError: SIGINT/SIGTERM (the step reached is saved).
  """
  perf.configure_threads(config)
  if config.get('deterministic', False):
    tf.config.experimental.enable_op_determinism()
  exp = experiment_lib.build_experiment(config)  # all validation before the workdir
  model = exp.model
  manager, writer = loop.open_workdir(config, workdir, model)
  snapshots = loop.snapshot_manager(model, workdir)
  step = int(model.optimizer.iterations.numpy())

  c = config
  chunk = loop.make_train_chunk(exp)
  chunk.get_concrete_function(tf.TensorSpec([], tf.int32))  # trace now (see Evaluator)
  evaluators = evaluation.make_evaluators(exp) if evaluate else None
  logging.info('Training %s-%d on %s, curriculum %s, from step %d to %d (stage %s)',
               c.model.cell, c.model.units, c.dataset, exp.curriculum.name, step, c.num_steps,
               exp.curriculum.at(step))
  step, elapsed = loop.training_loop(model, chunk, config, manager, writer,
                                     snapshots=snapshots, stage_fn=exp.curriculum.at)
  if not evaluate:
    return {'step': step, 'train_seconds_this_session': elapsed}

  table = evaluation.evaluate_experiment(exp, evaluators)
  for split, values in table.items():
    writer.write(step, {'split': f'eval_{split}', **values})
    logging.info('%s: null accuracy %.4f, digit accuracy %.4f (%d trials)', split,
                 values['null_accuracy'], values['digit_accuracy'], values['trials'])
  result = {'step': step, 'train_seconds_this_session': elapsed, **table}
  workdir_lib.write_json_atomic(os.path.join(workdir, 'eval.json'), result)
  return result
