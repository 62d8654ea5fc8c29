"""``train_and_analyse(config, workdir)``: the (delayed) 3-bit flip-flop study (003).

A study driver above the plots: the network is trained by the shared experiment
(``memrnn_tf.training``: the workdir's config.json, checkpoints, metrics.jsonl and
tensorboard/ are those of every run), analysed by ``memrnn_tf.analysis.flipflop``
(eval.json and analysis/, layout there) and drawn by ``memrnn_tf.plots.flipflop``
(figures/*.png, from analysis/ only).

Training batches are generated inside the compiled loop from the stateless seed
``(config.seed, step)``, so a run killed at any point and restarted with the same command
continues from its last checkpoint and ends with the same weights. The analysis is
redone (not resumed) on every call.
"""

import os
import time

from absl import logging

from memrnn_tf import files
from memrnn_tf.analysis import flipflop as flipflop_analysis
from memrnn_tf.training import trainer


def train_and_analyse(config, workdir):
  """Trains (resuming if possible), evaluates, analyses and plots.

  Args:
    config: ``ConfigDict`` from ``configs/flipflop.py``.
    workdir: run directory.

  Returns:
    The analysis summary (``analysis/summary.json``) with the training info added.

  Raises:
    ConfigError: bad config; CheckpointMismatchError: workdir of another model/task;
    TrainingDivergedError: non-finite loss.
  """
  flipflop_analysis.validate_config(config)
  start = time.time()
  exp = trainer.prepare(config)
  run = trainer.open_run(exp, workdir)
  info = dict(trainer.train(run), resumed_from=run.resumed_from)
  train_seconds = time.time() - start
  start = time.time()
  summary = flipflop_analysis.analyse(exp.model, config, workdir)
  summary['training'] = {**info, 'train_call_seconds': train_seconds}
  summary['timings']['analysis_seconds'] = time.time() - start
  files.write_json(os.path.join(workdir, 'analysis', 'summary.json'), summary, sort_keys=True)
  if config.plots:
    from memrnn_tf.plots import flipflop as flipflop_plots  # matplotlib only when plotting
    start = time.time()
    paths = flipflop_plots.plot_all(workdir, compare_with=config.compare_with or None)
    logging.info('Figures: %s (%.1f s)', ', '.join(paths), time.time() - start)
  return summary
