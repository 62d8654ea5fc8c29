"""Delay extrapolation: both delay protocols, second retrieval and noise placement, checked
against hand-built sequences and exact distributions."""

import numpy as np
import pytest
import tensorflow as tf

from configs import mnist
from memrnn_tf.analysis import extrapolation
from memrnn_tf.data import tasks
from memrnn_tf.models import memory_rnn


@pytest.mark.slow
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


def _smoke_model_and_task(mnist_arrays, n_images=500):
  task = tasks.DelayedClassification(mnist_arrays['x_test'][:n_images],
                                     mnist_arrays['y_test'][:n_images], 0.1307, 0.30816)
  model = memory_rnn.create_model(mnist.get_config('smoke'), task.num_features)
  w, b = model.readout.get_weights()
  # A random, strong readout: reports vary with the state, so predictions are informative.
  w = 10 * np.random.default_rng(0).normal(size=w.shape)
  model.readout.set_weights([w.astype(np.float32), np.zeros_like(b)])
  return model, task


def _explicit_predictions(model, task, images, stim, triggers, centre=False):
  """Argmax of the network on hand-built noise-free sequences at every trigger ``[K, n]``.

  With ``centre``, the readout bias is first set so that the mean triggered state reads
  out zero logits (the reports then vary between trials).
  """
  n, length = len(stim), int(triggers.max()) + 1
  frames = np.full((n, length, task.num_features), task.mean, np.float32)
  frames[:, :, -1] = 0.0
  for i in range(n):
    frames[i, stim[i], :-1] = images[i]
    frames[i, triggers[i], -1] = 1.0
  if centre:
    states = model.run_cell(tf.constant(frames)).numpy()
    h = np.concatenate([states[np.arange(n), triggers[:, k]] for k in range(triggers.shape[1])])
    w, _ = model.readout.get_weights()
    model.readout.set_weights([w, (-h[:, :w.shape[0]].mean(0) @ w).astype(np.float32)])
  logits = model(tf.constant(frames)).numpy()
  return np.stack([np.argmax(logits[np.arange(n), triggers[:, k]], -1)
                   for k in range(triggers.shape[1])])


def test_run_trials_places_stimulus_and_both_triggers(mnist_arrays):
  model, task = _smoke_model_and_task(mnist_arrays)
  stim = np.array([0, 2, 1, 3, 0, 5])
  triggers = np.array([[3, 9], [6, 7], [5, 12], [8, 10], [1, 2], [9, 11]])
  labels = np.array([3, 1, 4, 1, 5, 9])
  seeds = tf.random.experimental.stateless_split(tf.constant([4, 0], tf.int64), 3)
  images, _ = task.sample_images(seeds[0], 6, labels=tf.constant(labels, tf.int32))
  expected = _explicit_predictions(model, task, images.numpy(), stim, triggers, centre=True)
  assert len(np.unique(expected)) > 1
  preds, out_labels = extrapolation.run_trials(model, task, stim, triggers, seed=4,
                                               noise_scale=0.0, jit_compile=False,
                                               labels=labels)
  np.testing.assert_array_equal(out_labels, labels)
  np.testing.assert_array_equal(preds, expected)
  with pytest.raises(ValueError, match='after the stimulus'):
    extrapolation.run_trials(model, task, [3], [[3, 5]], noise_scale=0.0)


def test_second_retrieval_triggers_at_first_delay_and_after_the_gap(mnist_arrays):
  model, task = _smoke_model_and_task(mnist_arrays)
  res = extrapolation.second_retrieval(model, task, first_delay=3, gap=4, num_trials=12,
                                       noise_scale=0.0, seed=2, jit_compile=False)
  labels = res['labels']
  seeds = tf.random.experimental.stateless_split(tf.constant([2, 0], tf.int64), 3)
  images, _ = task.sample_images(seeds[0], 12, labels=tf.constant(labels, tf.int32))
  expected = _explicit_predictions(model, task, images.numpy(), np.zeros(12, int),
                                   np.tile([[3, 7]], [12, 1]))
  np.testing.assert_array_equal(res['predictions'], expected)
  first, second = np.mean(expected == labels + 1, axis=1)
  assert res['first'] == pytest.approx(first) and res['second'] == pytest.approx(second)
  assert res['difference'] == pytest.approx(first - second)


def test_tmax_protocol_draws_times_as_in_training():
  # T_max = D = 10, min_delay 4: t_s uniform on 0..5, t_a uniform on t_s + 4 .. 9.
  stim, report = extrapolation.draw_training_times(np.random.default_rng(0), 120_000, 10, 4)
  assert stim.min() == 0 and stim.max() == 5
  assert np.all(report - stim >= 4) and np.all(report < 10)
  joint = np.zeros((10, 10))
  np.add.at(joint, (stim, report), 1.0 / len(stim))
  exact = np.zeros((10, 10))
  for s in range(6):
    exact[s, s + 4:10] = 1 / 6 / (10 - s - 4)
  np.testing.assert_allclose(joint, exact, atol=0.004)
  # The delays t_a - t_s then spread over [4, D): P(delay = 4) = sum_s 1/6 / (6 - s).
  p4 = np.mean(report - stim == 4)
  assert p4 == pytest.approx(sum(1 / 6 / (6 - s) for s in range(6)), abs=0.005)


def test_tmax_curve_records_times_and_reuses_one_graph(mnist_arrays):
  model, task = _smoke_model_and_task(mnist_arrays)
  out = extrapolation.tmax_curve(model, task, [6, 12], num_trials=20, batch_size=20,
                                 noise_scale=0.0, jit_compile=False)
  assert out['stim_time'].shape == (2, 20) and out['predictions'].shape == (2, 20)
  assert out['report_time'][0].max() < 6 and out['report_time'][1].max() < 12
  assert np.all(out['report_time'] - out['stim_time'] >= task.spec.min_delay)
  correct = out['predictions'] == out['labels'] + 1
  np.testing.assert_allclose(out['accuracy'], correct.mean(axis=1))


def test_noise_goes_to_the_recurrent_input_of_the_conv_front_end():
  from configs import cifar10  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
  task = tasks.DelayedClassification(images, np.arange(20) % 10, 0.4734, 0.2517)
  config = cifar10.get_config('smoke')
  model = memory_rnn.create_model(config, task.num_features, image_shape=(32, 32, 3))
  step = extrapolation.NoisyStep(model, task, noise_scale=2.0, jit_compile=False)
  assert step.noise_at == 'recurrent' and step.pixel_scale == 1.0
  sigma_f = extrapolation.feature_noise_std(model, task)
  assert sigma_f.shape == (config.model.dense_units + 1,)  # features + trigger
  assert sigma_f[-1] == 0.0 and np.all(sigma_f[:-1] >= 0) and sigma_f.max() > 0
  np.testing.assert_allclose(step.feature_std.numpy(), np.sqrt(3.0) * sigma_f, rtol=1e-6)
  n = 5
  state = tf.random.stateless_normal([n, model.cell.state_size], [1, 2])
  frame = step.frame(tf.constant([3, 4]), n, 0.0)
  noise_seed = tf.constant([5, 6])
  out = step(state, frame, noise_seed).numpy()
  extra = step.feature_std * tf.random.stateless_normal([n, sigma_f.shape[0]], noise_seed)
  features = model.encode(frame[:, None])[:, 0] + extra
  np.testing.assert_allclose(out, model.cell.one_step(features, state).numpy(), atol=1e-5)
  clean = model.one_step(state, frame).numpy()
  assert np.abs(out - clean).max() > 1e-3
  # Trials marked not noisy (the stimulus frame) get no extra noise.
  quiet = step(state, frame, noise_seed, tf.constant([False] * n)).numpy()
  np.testing.assert_allclose(quiet, clean, atol=1e-5)
  with pytest.raises(ValueError, match='noise_scale must be >= 1'):
    extrapolation.NoisyStep(model, task, noise_scale=0.5, jit_compile=False)


def test_identity_front_end_scales_pixel_noise(mnist_arrays):
  model, task = _smoke_model_and_task(mnist_arrays)
  step = extrapolation.NoisyStep(model, task, noise_scale=2.0, jit_compile=False)
  assert step.noise_at == 'pixels' and step.pixel_scale == 2.0 and step.feature_std is None
  frame = step.frame(tf.constant([0, 1]), 4000, 0.0).numpy()
  assert frame[:, :-1].std() == pytest.approx(2 * task.std, rel=0.01)
  # For the identity front-end, the recurrent-input noise is the pixel noise itself.
  sigma_f = extrapolation.feature_noise_std(model, task)
  assert np.mean(sigma_f[:-1]) == pytest.approx(task.std, rel=0.01)
