"""Delay extrapolation: the one-pass delay curve equals explicit trials of each delay."""

import numpy as np
import tensorflow as tf

from configs import mnist
from memrnn_tf.analysis import extrapolation
from memrnn_tf.data import tasks
from memrnn_tf.models import memory_rnn


def test_delay_curve_matches_explicit_sequences(mnist_arrays):
  task = tasks.DelayedClassification(mnist_arrays['x_test'][:500], mnist_arrays['y_test'][:500],
                                     0.1307, 0.30816)
  config = mnist.get_config('smoke')
  model = memory_rnn.create_model(config, task.num_features)
  # A readout that reports classes often, so predictions are informative.
  w, b = model.readout.get_weights()
  model.readout.set_weights([w * 30, b])
  delays = [1, 3, 7, 12]
  # Without noise every trial is determined by its image: compare with explicit sequences.
  out = extrapolation.delay_curve(model, task, delays, num_trials=16, batch_size=16,
                                  noise_scale=0.0, seed=5)
  images, labels = task.sample_images(
      tf.random.experimental.stateless_split(tf.constant([5, 0], tf.int64), 3)[0], 16)
  np.testing.assert_array_equal(out['labels'], labels.numpy())
  for i, d in enumerate(delays):
    frames = np.full((16, d + 1, task.num_features), task.mean, np.float32)
    frames[:, :, -1] = 0.0
    frames[:, 0, :-1] = images.numpy()
    frames[:, d, -1] = 1.0
    expected = np.argmax(model(tf.constant(frames))[:, d].numpy(), axis=-1)
    np.testing.assert_array_equal(out['predictions'][i], expected)
    np.testing.assert_allclose(out['accuracy'][i], np.mean(expected == labels.numpy() + 1))
  assert len(np.unique(out['predictions'])) > 1
