"""Cells against stock Keras cells, the model's one-step map, losses computed by hand."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import mnist
from memrnn_tf.models import cells
from memrnn_tf.models import losses
from memrnn_tf.models import memory_rnn


@pytest.mark.parametrize('kind,kwargs', [
    ('gru', dict(reset_after=False)), ('gru', dict(reset_after=True)), ('lstm', {}),
    ('simplernn', {})])
def test_cells_match_keras(kind, kwargs):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(4, 7)).astype(np.float32)
  stock = {'gru': keras.layers.GRUCell, 'lstm': keras.layers.LSTMCell,
           'simplernn': keras.layers.SimpleRNNCell}[kind](5, **kwargs)
  h = rng.normal(size=(4, 5)).astype(np.float32) * 0.5
  c = rng.normal(size=(4, 5)).astype(np.float32)
  states = [h, c] if kind == 'lstm' else [h]
  stock(x, states)  # build
  stock.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.3
                     for w in stock.get_weights()])
  out, new_states = stock(x, states)
  ours = cells.from_keras_cell(stock, 7)
  packed = np.concatenate(states, axis=1)
  new = ours.one_step(tf.constant(x), tf.constant(packed)).numpy()
  np.testing.assert_allclose(new, np.concatenate([s.numpy() for s in new_states], 1),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(ours.output(new), out.numpy(), rtol=1e-5, atol=1e-5)


def test_lstm_packing_round_trip():
  cell = cells.create_cell('lstm', 3)
  state = tf.constant([[0.1, -0.2, 0.3, 2.0, -1.5, 0.0]])
  xi = cell.to_xi(state)
  np.testing.assert_allclose(xi[0, 3:], np.tanh([2.0, -1.5, 0.0]), rtol=1e-6)
  np.testing.assert_allclose(cell.from_xi(xi), state, rtol=1e-4, atol=1e-5)
  assert cell.state_size == 6


def test_unknown_names():
  with pytest.raises(ValueError, match='unknown cell .*gru, lstm, simplernn'):
    cells.create_cell('rnn', 3)
  c = mnist.get_config('smoke')
  c.model.frontend = 'resnet'
  with pytest.raises(ValueError, match='unknown frontend'):
    memory_rnn.create_model(c, 785)
  with pytest.raises(ValueError, match='init'):
    cells.create_cell('gru', 3, init='xavier')


def _model(cell='gru', units=8, input_dim=6, **overrides):
  c = mnist.get_config('smoke')
  c.model.cell, c.model.units = cell, units
  for key, value in overrides.items():  # num_chains is a speed setting, the rest the model's
    (c.perf if key in c.perf else c.model)[key] = value
  return memory_rnn.create_model(c, input_dim)


@pytest.mark.parametrize('cell', ['gru', 'lstm', 'simplernn'])
def test_sequence_equals_one_step_map(cell):
  model = _model(cell)
  x = tf.random.stateless_normal([3, 9, 6], [1, 2])
  logits, states = model(x, return_states=True)
  assert logits.shape == (3, 9, 11) and states.shape == (3, 9, model.cell.state_size)
  state = model.cell.zero_state(3)
  for t in range(9):
    state = model.one_step(state, x[:, t])
    np.testing.assert_allclose(states[:, t], state, rtol=1e-5, atol=1e-6)
  # The while-loop path (long or dynamic sequences) agrees with the unrolled one.
  model.unroll_limit = 0
  np.testing.assert_allclose(model(x), logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('cell', ['gru', 'lstm'])
def test_chains_give_the_same_states_and_gradients(cell):
  one, three = _model(cell, num_chains=1), _model(cell, num_chains=3)
  three.set_weights(one.get_weights())
  x = tf.random.stateless_normal([7, 5, 6], [3, 4])  # 7 = 3 + 2 + 2 trials per chain
  init = tf.random.stateless_normal([7, one.cell.state_size], [5, 6]) * 0.3

  def loss_and_grads(model):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(model(x, initial_state=init) ** 2)
    return loss, tape.gradient(loss, model.trainable_variables)

  loss1, grads1 = loss_and_grads(one)
  loss3, grads3 = loss_and_grads(three)
  np.testing.assert_allclose(loss3, loss1, rtol=1e-5)
  for g3, g1 in zip(grads3, grads1):
    np.testing.assert_allclose(g3, g1, rtol=1e-4, atol=1e-5)
  # A batch unknown when traced is split at run time, also into fewer trials than chains.
  dynamic = tf.function(three.run_cell, input_signature=[tf.TensorSpec([None, 5, 6])])
  for batch in (7, 2):
    np.testing.assert_allclose(dynamic(x[:batch]), one.run_cell(x[:batch]), rtol=1e-5,
                               atol=1e-6)
  with pytest.raises(ValueError, match='num_chains'):
    _model(cell, num_chains=0)


def test_report_loss_by_hand():
  logits = tf.constant([[[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]]])  # [1, 2, 3]
  targets = tf.constant([[0, 2]])
  weights = tf.constant([[1.0, 20.0]])

  def ce(z, k):
    z = np.asarray(z, np.float64)
    return -(z[k] - np.log(np.exp(z).sum()))

  expected = 1.0 * ce([2, 1, 0], 0) + 20.0 * ce([0, 3, 1], 2)
  np.testing.assert_allclose(losses.report_loss(logits, targets, weights), expected, rtol=1e-6)
  # Masking class 1 out of the softmax.
  mask = tf.constant([1.0, 0.0, 1.0])
  expected_masked = ce([2, 0], 0) + 20.0 * ce([0, 1], 1)
  np.testing.assert_allclose(losses.report_loss(logits, targets, weights, mask),
                             expected_masked, rtol=1e-6)
  stats = losses.accuracy_stats(logits, targets, weights, mask)
  # Step 0: null target, predicted null. Step 1: class 2, masked argmax is 2.
  np.testing.assert_array_equal(stats['null_mask'], [[1, 0]])
  np.testing.assert_array_equal(stats['report_mask'], [[0, 1]])
  np.testing.assert_array_equal(stats['report_correct'], [[1, 1]])


def test_speed_penalty_by_hand():
  # SimpleRNN with W_rec = a*I, no input weights, no bias: F(h) = tanh(a h).
  model = _model('simplernn', units=2, input_dim=3)
  a = 0.5
  model.cell.set_weights([np.zeros((3, 2), np.float32), a * np.eye(2, dtype=np.float32),
                          np.zeros(2, np.float32)])
  h = np.array([[1.0, -2.0], [0.3, 0.0]], np.float32)
  expected = ((np.tanh(a * h) - h) ** 2).sum(1)
  np.testing.assert_allclose(model.speed(tf.constant(h), tf.zeros([2, 3])), expected, rtol=1e-6)
  model.speed_penalty = 0.1
  model.set_speed_targets(h, np.zeros((2, 3), np.float32))
  batch = {'inputs': tf.zeros([1, 4, 3]), 'targets': tf.zeros([1, 4], tf.int32),
           'weights': tf.ones([1, 4])}
  _, xent, penalty = model._forward_losses(batch, training=False)
  np.testing.assert_allclose(penalty, 0.1 * expected.sum(), rtol=1e-6)
  with pytest.raises(ValueError, match='speed targets'):
    model.set_speed_targets(np.zeros((2, 3)), np.zeros((2, 3)))


def test_conv_frontend_shapes():
  c = mnist.get_config('smoke')
  c.model.frontend, c.model.dense_units, c.model.conv_filters = 'conv', 32, 8
  model = memory_rnn.create_model(c, 32 * 32 * 3 + 1, image_shape=(32, 32, 3))
  x = tf.random.stateless_uniform([2, 5, 32 * 32 * 3 + 1], seed=[0, 0])
  assert model.encode(x).shape == (2, 5, 33)
  np.testing.assert_array_equal(model.encode(x)[..., -1], x[..., -1])  # trigger passes through
  assert model(x).shape == (2, 5, 11)


@pytest.mark.slow
def test_keras_fit_and_evaluate_use_custom_steps(mnist_arrays):
  from memrnn_tf.data import tasks
  task = tasks.DelayedClassification(mnist_arrays['x_test'][:300], mnist_arrays['y_test'][:300],
                                     0.1307, 0.30816, spec=tasks.TaskSpec(seq_len=8, t_max=8))
  model = _model('gru', units=8, input_dim=task.num_features)
  model.compile(optimizer=keras.optimizers.Adam(1e-2))
  before = model.cell.kernel.numpy().copy()
  history = model.fit(task.dataset(seed=0, batch_size=16), steps_per_epoch=3, epochs=1,
                      verbose=0)
  assert set(history.history) >= {'loss', 'null_accuracy', 'digit_accuracy'}
  assert int(model.optimizer.iterations) == 3
  assert not np.allclose(before, model.cell.kernel.numpy())
  logs = model.evaluate(task.dataset(seed=1, batch_size=16, num_batches=2), verbose=0,
                        return_dict=True)
  assert 0 <= logs['null_accuracy'] <= 1 and np.isfinite(logs['loss'])


def test_readout_sigmoid_option():
  model = _model('gru', readout_sigmoid=True)
  logits = model(tf.random.stateless_normal([2, 3, 6], [0, 3]) * 10).numpy()
  assert logits.min() > 0 and logits.max() < 1
  assert not _model('gru').readout_sigmoid
