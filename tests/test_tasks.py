"""The delayed-classification task: shapes, timing constraints, noise, targets, weights."""

import numpy as np
import pytest
import tensorflow as tf

from memrnn_tf.data import tasks

MEAN, STD = 0.1307, 0.30816


@pytest.fixture(scope='module')
def task(mnist_arrays):
  return tasks.DelayedClassification(mnist_arrays['x_train'][:2000], mnist_arrays['y_train'][:2000],
                                     MEAN, STD)


def _sample(task, n=256, seed=(1, 2), **kw):
  return {k: v.numpy() for k, v in task.sample(tf.constant(seed), n, **kw).items()}


def test_shapes_and_dtypes(task):
  b = _sample(task, 32)
  assert b['inputs'].shape == (32, 20, 785) and b['inputs'].dtype == np.float32
  assert b['targets'].shape == (32, 20) and b['weights'].shape == (32, 20)
  assert b['class_mask'].shape == (11,)
  assert task.num_features == 785 and task.num_outputs == 11


def test_times_targets_weights_trigger(task):
  b = _sample(task, 512)
  ts, ta, labels = b['stim_time'], b['report_time'], b['labels']
  assert ts.min() >= 0 and ts.max() < 20 - 4
  assert np.all(ta - ts >= 4) and ta.max() < 20
  assert len(np.unique(ts)) == 16  # every allowed stimulus time occurs
  rows = np.arange(512)
  # Trigger channel: 1 exactly at t_a.
  expected_trigger = np.zeros((512, 20), np.float32)
  expected_trigger[rows, ta] = 1
  np.testing.assert_array_equal(b['inputs'][..., -1], expected_trigger)
  # Targets: null everywhere except 1 + label at t_a.
  expected_targets = np.zeros((512, 20), np.int32)
  expected_targets[rows, ta] = labels + 1
  np.testing.assert_array_equal(b['targets'], expected_targets)
  expected_w = np.ones((512, 20), np.float32)
  expected_w[rows, ta] = 20.0
  np.testing.assert_array_equal(b['weights'], expected_w)


def test_clean_image_at_stimulus_and_noise_statistics(task, mnist_arrays):
  b = _sample(task, 256)
  frames = b['inputs'][..., :-1]
  rows = np.arange(256)
  stim = frames[rows, b['stim_time']]
  # The stimulus frame is a real training image of the sampled class, in [0, 1].
  pool = mnist_arrays['x_train'][:2000].reshape(2000, -1) / 255.0
  labels = mnist_arrays['y_train'][:2000]
  for i in range(0, 256, 37):
    match = np.flatnonzero(np.all(np.abs(pool - stim[i]) < 1e-6, axis=1))
    assert match.size >= 1 and labels[match[0]] == b['labels'][i]
  mask = np.ones((256, 20), bool)
  mask[rows, b['stim_time']] = False
  noise = frames[mask]
  assert abs(noise.mean() - MEAN) < 2e-3
  assert abs(noise.std() - STD) < 2e-3
  # Independent across steps: correlation of consecutive noise frames ~ 0.
  a = frames[:, 0].ravel() - MEAN
  c = frames[:, 1].ravel() - MEAN
  assert abs(np.corrcoef(a, c)[0, 1]) < 0.02


def test_seeded_and_balanced(task):
  a, b, c = _sample(task, 64, (0, 5)), _sample(task, 64, (0, 5)), _sample(task, 64, (0, 6))
  np.testing.assert_array_equal(a['inputs'], b['inputs'])
  assert not np.array_equal(a['inputs'], c['inputs'])
  # sample() draws its labels through sample_images(); 20,000 whole trials would be 1.2 GB.
  _, labels = task.sample_images(tf.constant((1, 2)), 20000)
  counts = np.bincount(labels.numpy(), minlength=10)
  assert counts.min() > 1800 and counts.max() < 2200  # uniform over classes


def test_curriculum_arguments(task):
  b = _sample(task, 512, t_max=6, num_active=3)
  assert b['report_time'].max() < 6 and np.all(b['report_time'] - b['stim_time'] >= 4)
  assert set(np.unique(b['labels'])) == {0, 1, 2}
  np.testing.assert_array_equal(b['class_mask'], [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
  # No target (weight 0) beyond t_max.
  assert np.all(b['weights'][:, 6:] == 0) and np.all(b['weights'][:, :6] >= 1)


def test_fixed_times_noise_scale_and_validation(mnist_arrays):
  spec = tasks.TaskSpec(seq_len=40, t_max=40, stim_time=2, report_time=35, noise_scale=2.0)
  t = tasks.DelayedClassification(mnist_arrays['x_test'][:500], mnist_arrays['y_test'][:500],
                                  MEAN, STD, spec=spec)
  b = _sample(t, 128)
  assert np.all(b['stim_time'] == 2) and np.all(b['report_time'] == 35)
  noise = b['inputs'][:, 10, :-1]
  assert abs(noise.std() - 2 * STD) < 0.01
  with pytest.raises(ValueError, match='min_delay'):
    tasks.TaskSpec(t_max=4, seq_len=20, min_delay=4).validate()
  with pytest.raises(ValueError, match='report_time'):
    tasks.TaskSpec(stim_time=5, report_time=3).validate()


def test_class_order_mask(mnist_arrays):
  order = [3, 7, 0, 1, 2, 4, 5, 6, 8, 9]
  t = tasks.DelayedClassification(mnist_arrays['x_test'][:1000], mnist_arrays['y_test'][:1000],
                                  MEAN, STD, class_order=order)
  b = _sample(t, 300, num_active=2)
  assert set(np.unique(b['labels'])) == {3, 7}
  assert b['class_mask'].tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]
