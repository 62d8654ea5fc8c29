r"""Trains a 3-bit flip-flop GRU-64 (stock Keras) for the slow-point benchmark.

  python benchmarks/train_flipflop_gru.py --out=/tmp/slowpoints/flipflop_gru64.keras

A ``keras.layers.GRU(64)`` (Keras defaults: ``reset_after=True``) with a linear ``Dense(3)``
readout, trained with Adam on the mean squared error of the package's flip-flop task
(``memrnn_tf.data.flipflop.FlipFlopTask``: 3 bits, 100 steps, a pulse every ~50 steps per
channel, a pulse on every channel at t = 0) until the sign accuracy on a fresh batch of
256 trials reaches --target_accuracy (checked every 100 steps) or --steps run out. Its
attractors are slow (stable points with |lambda| just below 1), the hard case for a
slow-point search; ``benchmarks/slowpoints.py --flipflop_model=...`` uses the saved model.
About 2-4 minutes on 2 cores to 100% sign accuracy.
"""

import os
import time

from absl import app
from absl import flags
from absl import logging
import keras
import tensorflow as tf

from memrnn_tf.data import flipflop as flipflop_data

_OUT = flags.DEFINE_string('out', '/tmp/slowpoints/flipflop_gru64.keras', 'Saved model.')
_UNITS = flags.DEFINE_integer('units', 64, 'GRU units.', lower_bound=1)
_STEPS = flags.DEFINE_integer('steps', 5000, 'Training steps at most.', lower_bound=1)
_BATCH = flags.DEFINE_integer('batch_size', 128, 'Trials per step.', lower_bound=1)
_LR = flags.DEFINE_float('learning_rate', 3e-3, 'Adam learning rate.')
_TARGET = flags.DEFINE_float('target_accuracy', 1.0, 'Stop at this sign accuracy.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the weights and the trials.')


def build_model(units, num_bits, seed):
  """``[B, T, C] -> [B, T, C]``: Keras GRU (returning sequences) and a linear readout."""
  keras.utils.set_random_seed(seed)
  inputs = keras.Input((None, num_bits))
  states = keras.layers.GRU(units, return_sequences=True, name='gru')(inputs)
  outputs = keras.layers.Dense(num_bits, name='readout')(states)
  return keras.Model(inputs, outputs)


def sign_accuracy(model, task, seed):
  batch = task.sample(tf.constant([seed, 1]), 256)
  out = model(batch['inputs'], training=False)
  return float(tf.reduce_mean(tf.cast(tf.sign(out) == batch['targets'], tf.float32)))


def main(argv):
  del argv
  task = flipflop_data.FlipFlopTask(num_bits=3, seq_len=100)
  model = build_model(_UNITS.value, task.num_bits, _SEED.value)
  optimizer = keras.optimizers.Adam(_LR.value, clipnorm=1.0)

  @tf.function(jit_compile=True)
  def train_step(inputs, targets, weights):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(weights * tf.square(model(inputs, training=True) - targets))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply(grads, model.trainable_variables)
    return loss

  start = time.perf_counter()
  accuracy = 0.0
  for step in range(1, _STEPS.value + 1):
    batch = task.sample(tf.constant([_SEED.value, 1000 + step]), _BATCH.value)
    loss = train_step(batch['inputs'], batch['targets'], batch['weights'])
    if step % 100 == 0:
      accuracy = sign_accuracy(model, task, _SEED.value)
      logging.info('step %d: loss %.4g, sign accuracy %.5f (%.0f s)', step, float(loss),
                   accuracy, time.perf_counter() - start)
      if accuracy >= _TARGET.value:
        break
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  model.save(_OUT.value)
  print(f'saved {_OUT.value}: {step} steps, sign accuracy {accuracy:.5f}, '
        f'{time.perf_counter() - start:.0f} s')


if __name__ == '__main__':
  app.run(main)
