"""Losses and accuracy statistics of the delayed-classification task.

Conventions: logits ``[batch, time, K]`` with K = classes + 1 and index 0 = "null";
integer targets ``[batch, time]``; per-step loss weights ``[batch, time]`` (1 on ordinary
steps, ``report_weight`` at the report time, 0 on steps that carry no target). A step is a
"report" step when its target is not null.
"""

import keras
import tensorflow as tf

from memrnn_tf.models.cells import speed  # noqa: F401  (moved to the models package)

_NEG = -1e9  # logit given to classes that are masked out of the softmax


def masked_logits(logits, class_mask=None):
  """Removes classes not yet introduced (VoCu) from the softmax.

  Args:
    logits: ``[..., K]``.
    class_mask: ``[K]`` (or broadcastable), 1 for active outputs, 0 for masked ones.
  """
  if class_mask is None:
    return logits
  return tf.where(tf.cast(class_mask, tf.bool), logits, tf.cast(_NEG, logits.dtype))


def report_loss(logits, targets, weights, class_mask=None):
  """Report-weighted softmax cross-entropy, summed over time, averaged over the batch.

  ``L = mean_b sum_t w[b, t] * CE(softmax(masked logits[b, t]), targets[b, t])``.

  Args:
    logits: ``[B, T, K]``.
    targets: ``[B, T]`` integer labels.
    weights: ``[B, T]`` loss weights.
    class_mask: optional ``[K]`` mask of active outputs.

  Returns:
    Scalar loss.
  """
  ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(targets, tf.int32), logits=masked_logits(logits, class_mask))
  return tf.reduce_mean(tf.reduce_sum(tf.cast(weights, ce.dtype) * ce, axis=1))


def accuracy_stats(logits, targets, weights, class_mask=None):
  """Per-step correctness with the masks that define null and report accuracy.

  Returns:
    Dict of ``[B, T]`` tensors: ``null_correct``/``null_mask`` (steps with a null target
    and nonzero weight), ``report_correct``/``report_mask`` (steps with a class target),
    and ``report_labels`` (class index 0..K-2 at report steps, 0 elsewhere).
  """
  targets = tf.cast(targets, tf.int32)
  predictions = tf.argmax(masked_logits(logits, class_mask), axis=-1, output_type=tf.int32)
  correct = tf.cast(tf.equal(predictions, targets), tf.float32)
  has_target = tf.cast(weights > 0, tf.float32)
  is_report = tf.cast(targets > 0, tf.float32) * has_target
  return {
      'null_correct': correct, 'null_mask': has_target * (1.0 - is_report),
      'report_correct': correct, 'report_mask': is_report,
      'report_labels': tf.maximum(targets - 1, 0),
  }


class PerClassAccuracy(keras.metrics.Metric):
  """Accuracy at report steps per class; ``result()`` is ``[num_classes]`` (NaN if unseen)."""

  def __init__(self, num_classes, name='per_class', **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = int(num_classes)
    self.correct = self.add_variable(shape=(self.num_classes,), initializer='zeros',
                                     name='correct')
    self.count = self.add_variable(shape=(self.num_classes,), initializer='zeros',
                                   name='count')

  def update_state(self, labels, correct, mask):
    """Args: ``[B, T]`` class labels, correctness and report mask."""
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    mask = tf.reshape(tf.cast(mask, tf.float32), [-1])
    correct = tf.reshape(tf.cast(correct, tf.float32), [-1]) * mask
    self.correct.assign_add(tf.math.unsorted_segment_sum(correct, labels, self.num_classes))
    self.count.assign_add(tf.math.unsorted_segment_sum(mask, labels, self.num_classes))

  def result(self):
    return tf.math.divide_no_nan(self.correct, self.count) + tf.where(
        self.count > 0, 0.0, float('nan'))

  def reset_state(self):
    self.correct.assign(tf.zeros_like(self.correct))
    self.count.assign(tf.zeros_like(self.count))
