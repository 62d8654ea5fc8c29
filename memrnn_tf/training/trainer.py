"""Training an experiment in its workdir (every study), and ``train_and_evaluate`` (bin/train.py).

``prepare(config)`` builds the experiment with the process-wide settings it asks for,
``open_run`` checks, creates or resumes its workdir and ``train`` runs the resumable loop;
the flip-flop study and the regularisation share them. The workdir layout is described in
``memrnn_tf.workdir``; the loop in ``memrnn_tf.training.loop``; the evaluation in
``memrnn_tf.training.evaluation``.
"""

import dataclasses
import os
from typing import Any, Optional

from absl import logging
import tensorflow as tf

from memrnn_tf import perf
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.training import evaluation
from memrnn_tf.training import experiment as experiment_lib
from memrnn_tf.training import loop


@dataclasses.dataclass
class Run:
  """An experiment opened in its workdir, ready to train.

  Attributes:
    exp: the ``Experiment`` (its model restored from the newest checkpoint, if any).
    workdir: the run directory.
    manager: ``CheckpointManager`` of model and optimizer.
    writer: the ``MetricsWriter``.
    snapshots: ``CheckpointManager`` of the weight snapshots (None: the config keeps none).
    chunk: the compiled training chunk (traced).
    resumed_from: the checkpoint the run resumed from (None: a new run).
  """
  exp: experiment_lib.Experiment
  workdir: str
  manager: tf.train.CheckpointManager
  writer: Any
  snapshots: Optional[tf.train.CheckpointManager]
  chunk: Any
  resumed_from: Optional[str]


def prepare(config):
  """The experiment of ``config``, after the process-wide settings it asks for (threads,
  op determinism); validates everything before anything is written."""
  perf.configure_threads(config)
  if config.get('deterministic', False):
    tf.config.experimental.enable_op_determinism()
  return experiment_lib.build_experiment(config)


def open_run(exp, workdir):
  """Checks, creates or resumes ``workdir`` for ``exp`` (``loop.open_workdir``) and traces
  the training chunk (see ``evaluation.Evaluator``: nothing is traced after training
  starts). Snapshots are kept when the config has ``snapshot_every``."""
  manager, writer = loop.open_workdir(exp.config, workdir, exp.model)
  snapshots = (loop.snapshot_manager(exp.model, workdir)
               if exp.config.get('snapshot_every') else None)
  chunk = loop.make_train_chunk(exp)
  chunk.get_concrete_function(tf.TensorSpec([], tf.int32))
  return Run(exp, workdir, manager, writer, snapshots, chunk, manager.latest_checkpoint)


def train(run):
  """Trains ``run`` to ``config.num_steps`` from its step.

  Returns:
    Dict: ``step`` (the final one) and ``train_seconds_this_session``.

  Raises:
    TrainingDivergedError: non-finite loss (the last good checkpoint is kept);
    TrainingInterruptedError: SIGINT/SIGTERM (the step reached is saved).
  """
  exp, c = run.exp, run.exp.config
  step = int(exp.model.optimizer.iterations.numpy())
  logging.info('Training %s from step %d to %d%s', exp.describe(), step, c.num_steps,
               f' (stage {exp.stage(step)})' if exp.curriculum else '')
  step, elapsed = loop.training_loop(exp.model, run.chunk, c, run.manager, run.writer,
                                     snapshots=run.snapshots,
                                     stage_fn=exp.stage if exp.curriculum else None)
  return {'step': step, 'train_seconds_this_session': elapsed}


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
  exp = prepare(config)
  run = open_run(exp, workdir)
  evaluators = evaluation.make_evaluators(exp) if evaluate else None  # traced now
  result = train(run)
  if not evaluate:
    return result
  table = evaluation.evaluate_experiment(exp, evaluators)
  for split, values in table.items():
    run.writer.write(result['step'], {'split': f'eval_{split}', **values})
    logging.info('%s: null accuracy %.4f, digit accuracy %.4f (%d trials)', split,
                 values['null_accuracy'], values['digit_accuracy'], values['trials'])
  result.update(table)
  workdir_lib.write_json_atomic(os.path.join(workdir, 'eval.json'), result)
  return result
