"""Training metrics: the ``metrics.jsonl`` + TensorBoard writer and the model's tracker values.

Reading ``metrics.jsonl`` back (and truncating it on resume) is ``memrnn_tf.workdir``'s job.
"""

import math
import os

import numpy as np
import tensorflow as tf

from memrnn_tf import files
from memrnn_tf import workdir as workdir_lib


class MetricsWriter:
  """Writes scalars to TensorBoard and a JSON-lines file (``workdir/metrics.jsonl``)."""

  def __init__(self, workdir):
    self.path = workdir_lib.metrics_path(workdir)
    self.tb = tf.summary.create_file_writer(os.path.join(workdir, 'tensorboard'))

  def write(self, step, record):
    record = {'step': int(step), **record}
    with open(self.path, 'a') as f:
      f.write(files.dumps(record, indent=None) + '\n')
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
