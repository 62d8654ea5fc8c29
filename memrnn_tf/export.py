"""SavedModel export: a serving signature over whole sequences of any length.

The exported model needs only TensorFlow to reload::

  m = tf.saved_model.load(path)
  out = m.signatures['serving_default'](inputs=x)   # x: float32 [batch, time, features]
  out['probabilities']   # [batch, time, classes + 1], index 0 = "null"
  out['hidden_states']   # [batch, time, xi_size]   (LSTM: [h, tanh c])
"""

import os

from absl import logging
import tensorflow as tf

from memrnn_tf.training import experiment


class _Serving(tf.Module):
  """Wraps a ``MemoryRNN`` with a shape-polymorphic serving function."""

  def __init__(self, model):
    super().__init__()
    self.model = model
    spec = tf.TensorSpec([None, None, model.input_dim], tf.float32, name='inputs')
    self.serve = tf.function(self._serve, input_signature=[spec])

  def _serve(self, inputs):
    logits, states = self.model(inputs, return_states=True)
    return {'probabilities': tf.nn.softmax(logits), 'logits': logits,
            'hidden_states': self.model.cell.to_xi(states)}


def export_model(model, path):
  """Writes ``model`` as a SavedModel with a ``serving_default`` signature.

  Sequences of any (dynamic) length run through the model's ``tf.while_loop`` path.
  """
  module = _Serving(model)
  tf.saved_model.save(module, path, signatures={'serving_default': module.serve})
  logging.info('Exported SavedModel to %s', path)
  return path


def export_workdir(workdir, output=None, checkpoint=None):
  """Restores the run in ``workdir`` (latest or ``checkpoint`` step) and exports it.

  Args:
    workdir: a training run directory.
    output: destination (default ``workdir/export``).
    checkpoint: training step of a checkpoint or snapshot to export (default: latest).

  Returns:
    The export path.
  """
  model, path = experiment.load_trained_model(workdir, checkpoint=checkpoint)
  output = output or os.path.join(workdir, 'export')
  logging.info('Exporting %s', path)
  return export_model(model, output)
