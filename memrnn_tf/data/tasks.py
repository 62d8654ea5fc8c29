"""The delayed-classification task, generated on the fly, vectorised and seeded.

A trial is a stream of ``seq_len`` frames. Every frame is a noise image with i.i.d.
N(mean, (noise_scale * std)^2) pixels, except at the stimulus time ``t_s`` where a clean
image is shown. A separate trigger channel is 1 only at the report time ``t_a``. The
target is "null" (0) at every step except ``t_a``, where it is ``1 + label``.

Following the authors' code (0-based): ``t_s ~ U[0, t_max - min_delay)`` and
``t_a ~ U[t_s + min_delay, t_max)``; loss weight 1 on steps ``< t_max``, ``report_weight``
at ``t_a``, 0 on steps ``>= t_max`` (no target there). ``t_max`` and the number of
active classes may be tensors, so a curriculum can change them inside a compiled loop.

Sampling is a pure function of a ``[2]`` integer seed (stateless RNG): the training loop
uses ``seed = (config.seed, step)``, so a resumed run sees exactly the same batches.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from memrnn_tf import errors


@dataclasses.dataclass
class TaskSpec:
  """Parameters of the delayed-classification task.

  Attributes:
    seq_len: frames per trial.
    t_max: nominal maximal report time (exclusive bound of ``t_a``).
    min_delay: minimal ``t_a - t_s``.
    report_weight: loss weight at ``t_a``.
    noise_scale: multiplies the noise std (noise extrapolation).
    stim_time: fixed ``t_s`` (None: random).
    report_time: fixed ``t_a`` (None: random).
  """
  seq_len: int = 20
  t_max: int = 20
  min_delay: int = 4
  report_weight: float = 20.0
  noise_scale: float = 1.0
  stim_time: int | None = None
  report_time: int | None = None

  def validate(self):
    """Raises ConfigError (one line, naming the field) on an inconsistent spec."""
    if self.seq_len < 1 or self.t_max < 1:
      raise errors.ConfigError(f'task.seq_len={self.seq_len} and task.t_max={self.t_max} '
                               'must be >= 1')
    if self.t_max > self.seq_len:
      raise errors.ConfigError(f'task.t_max={self.t_max} exceeds task.seq_len={self.seq_len}')
    if self.min_delay < 1 or self.min_delay >= self.t_max:
      raise errors.ConfigError(f'task.min_delay={self.min_delay} does not fit in '
                               f't_max={self.t_max}: need 1 <= min_delay < t_max')
    if self.stim_time is not None and self.report_time is not None:
      if not 0 <= self.stim_time < self.report_time < self.seq_len:
        raise errors.ConfigError(f'need 0 <= task.stim_time ({self.stim_time}) < task.report_time '
                                 f'({self.report_time}) < task.seq_len ({self.seq_len})')
    elif (self.stim_time is None) != (self.report_time is None):
      raise errors.ConfigError('task.stim_time and task.report_time must be given together')
    return self


def _uniform_int(seed, shape, upper):
  """Integers uniform in ``[0, upper)``, ``upper`` broadcastable to ``shape``."""
  u = tf.random.stateless_uniform(shape, seed)
  upper = tf.cast(upper, tf.float32)
  return tf.cast(tf.minimum(tf.floor(u * upper), upper - 1.0), tf.int32)


class DelayedClassification:
  """Delayed classification of images amid noise (paper section 2).

  Args:
    images: uint8 ``[N, H, W, C]`` (or float in [0, 1]).
    labels: int ``[N]`` in ``[0, num_classes)``.
    mean: noise mean (MNIST 0.1307, CIFAR-10 0.4734).
    std: noise std (MNIST 0.30816, CIFAR-10 0.2517).
    spec: ``TaskSpec``.
    num_classes: number of classes (outputs are ``num_classes + 1``).
    class_order: order in which a vocabulary curriculum introduces classes.
  """

  def __init__(self, images, labels, mean, std, spec=None, num_classes=10, class_order=None):
    self.spec = (spec or TaskSpec()).validate()
    images = np.asarray(images)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
      raise errors.ConfigError(f'{images.shape[0]} images but {labels.shape[0]} labels')
    self.image_shape = tuple(images.shape[1:]) if images.ndim > 2 else (images.shape[1],)
    self.num_pixels = int(np.prod(self.image_shape))
    self.num_classes = int(num_classes)
    self.mean, self.std = float(mean), float(std)
    order = np.asarray(range(self.num_classes) if class_order is None else class_order)
    if sorted(order.tolist()) != list(range(self.num_classes)):
      raise errors.ConfigError(f'class_order must be a permutation of 0..{self.num_classes - 1}')
    self.class_order = order
    # Sort images by class once, so "an image of class c" is an offset plus a uniform index.
    sort = np.argsort(labels, kind='stable')
    counts = np.bincount(labels, minlength=self.num_classes)
    if np.any(counts == 0):
      raise errors.ConfigError(f'classes without images: {np.flatnonzero(counts == 0).tolist()}')
    flat = images.reshape(images.shape[0], -1)[sort]
    self._uint8 = flat.dtype == np.uint8
    self._images = tf.constant(flat)
    self._counts = tf.constant(counts, tf.float32)
    self._offsets = tf.constant(np.concatenate([[0], np.cumsum(counts)[:-1]]), tf.int32)
    self._order = tf.constant(order, tf.int32)

  @property
  def num_features(self):
    """Per-step input width: pixels + trigger."""
    return self.num_pixels + 1

  @property
  def num_outputs(self):
    return self.num_classes + 1

  def class_mask(self, num_active=None):
    """``[num_outputs]`` float mask: null and the first ``num_active`` classes of the order."""
    if num_active is None:
      num_active = self.num_classes
    active = tf.range(self.num_classes) < num_active
    per_class = tf.scatter_nd(self._order[:, None], tf.cast(active, tf.float32),
                              [self.num_classes])
    return tf.concat([[1.0], per_class], 0)

  def mean_input(self):
    """The mean noise frame with trigger 0, ``[num_features]`` (input during slow-point search)."""
    return tf.concat([tf.fill([self.num_pixels], self.mean), [0.0]], 0)

  def sample_images(self, seed, batch_size, num_active=None, labels=None):
    """Class-balanced images: a class uniformly among the active ones, then an image of it.

    Args:
      seed: ``[2]`` int seed.
      batch_size: Python int.
      num_active: number of active classes (default all).
      labels: optional ``[batch]`` classes to use instead of sampling them.

    Returns:
      ``(images [B, num_pixels] float32 in [0, 1], labels [B] int32)``.
    """
    if num_active is None:
      num_active = self.num_classes
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=2)
    shape = [batch_size]
    if labels is None:
      labels = tf.gather(self._order, _uniform_int(seeds[0], shape, num_active))
    labels = tf.cast(labels, tf.int32)
    within = _uniform_int(seeds[1], shape, tf.gather(self._counts, labels))
    images = tf.cast(tf.gather(self._images, tf.gather(self._offsets, labels) + within),
                     tf.float32)
    if self._uint8:
      images = images / 255.0
    return images, labels

  def sample(self, seed, batch_size, t_max=None, num_active=None, labels=None):
    """Draws a batch of trials.

    Args:
      seed: ``[2]`` int seed (stateless).
      batch_size: Python int.
      t_max: current maximal report time (int or scalar tensor); default ``spec.t_max``.
      num_active: number of active classes (VoCu); default all.
      labels: optional ``[batch]`` int classes to use instead of sampling them.

    Returns:
      Dict with ``inputs [B, T, P+1]`` float32, ``targets [B, T]`` int32, ``weights [B, T]``
      float32, ``class_mask [K]``, ``labels [B]``, ``stim_time [B]``, ``report_time [B]``.
    """
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=5)
    images, labels = self.sample_images(seeds[0], batch_size, num_active, labels)
    trial = self._trial(seeds[2:], batch_size, t_max)
    frames = tf.where(trial['at_stim'][..., None], images[:, None, :], trial['noise'])
    trigger = tf.cast(trial['at_report'], tf.float32)[..., None]
    targets = tf.where(trial['at_report'], labels[:, None] + 1, 0)
    return {'inputs': tf.concat([frames, trigger], axis=-1), 'targets': targets,
            'weights': trial['weights'], 'class_mask': self.class_mask(num_active),
            'labels': labels, 'stim_time': trial['stim'], 'report_time': trial['report']}

  def _trial(self, seeds, batch_size, t_max=None):
    """Timing, noise and loss weights of a batch of trials.

    Args:
      seeds: ``[3, 2]`` seeds (stimulus time, report time, noise).
      batch_size: Python int.
      t_max: current maximal report time (default ``spec.t_max``).

    Returns:
      Dict: ``stim``/``report`` ``[B]``, ``at_stim``/``at_report`` ``[B, T]`` bool,
      ``noise`` ``[B, T, P]`` frames, ``weights`` ``[B, T]``.
    """
    spec = self.spec
    t_max = tf.cast(spec.t_max if t_max is None else t_max, tf.int32)
    shape = [batch_size]
    if spec.stim_time is None:
      stim = _uniform_int(seeds[0], shape, t_max - spec.min_delay)
      report = stim + spec.min_delay + _uniform_int(seeds[1], shape,
                                                    t_max - stim - spec.min_delay)
    else:
      stim = tf.fill(shape, spec.stim_time)
      report = tf.fill(shape, spec.report_time)
    time = tf.range(spec.seq_len)[None, :]  # [1, T]
    at_report = tf.equal(time, report[:, None])
    noise = spec.noise_scale * self.std * tf.random.stateless_normal(
        [batch_size, spec.seq_len, self.num_pixels], seeds[2]) + self.mean
    weights = (tf.cast(time < t_max, tf.float32) +
               (spec.report_weight - 1.0) * tf.cast(at_report, tf.float32))
    return {'stim': stim, 'report': report, 'at_stim': tf.equal(time, stim[:, None]),
            'at_report': at_report, 'noise': noise, 'weights': weights}

  def dataset(self, seed, batch_size, num_batches=None):
    """A ``tf.data.Dataset`` of batches for ``model.fit``/``evaluate``; batch i uses seed (seed, i)."""
    steps = tf.data.Dataset.range(num_batches) if num_batches else tf.data.Dataset.range(2**62)
    return steps.map(lambda i: self.sample(tf.stack([tf.cast(seed, tf.int64), i]), batch_size),
                     num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class DelayedTemplateMatching(DelayedClassification):
  """Delayed template matching (delayed match to sample; paper supplement A).

  As ``DelayedClassification``, but the trigger is replaced by a second stimulus: at
  ``t_a`` a clean image is shown instead of noise, of the first image's class with
  probability 1/2 and otherwise of another active class chosen uniformly. The network
  reports there whether the two classes are the same (output 1) or different (output 2);
  "null" (0) at every other step. Same timing, noise, loss weights and class balance as the
  classification task. The trigger channel is kept (always 0) so inputs keep the layout
  ``[pixels, trigger]`` of the other task and its analysis code; a constant-zero input
  receives no gradient, so the network is that of ``pixels`` inputs.

  ``class_mask`` is all ones (3 outputs); ``num_active`` (a curriculum) restricts the
  classes of both stimuli and must be >= 2.
  """

  SAME, DIFFERENT = 1, 2

  @property
  def num_outputs(self):
    return 3

  def class_mask(self, num_active=None):
    del num_active
    return tf.ones([3])

  def sample(self, seed, batch_size, t_max=None, num_active=None, labels=None, same=None):
    """Draws a batch of trials (see ``DelayedClassification.sample``).

    Args:
      labels: optional ``[batch]`` classes of the first stimulus.
      same: optional ``[batch]`` bool, whether the second stimulus has the same class.

    Returns:
      Dict as ``DelayedClassification.sample`` (``labels`` are the first stimulus'
      classes; ``targets`` are 1 = same / 2 = different at ``report_time``), plus
      ``second_labels [B]`` and ``same [B]`` bool.
    """
    num_active = self.num_classes if num_active is None else num_active
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=7)
    shape = [batch_size]
    images, labels = self.sample_images(seeds[0], batch_size, num_active, labels)
    if same is None:
      same = tf.random.stateless_uniform(shape, seeds[1]) < 0.5
    same = tf.cast(same, tf.bool)
    # Position of the first class in the curriculum's order, then another active position.
    inverse = tf.math.invert_permutation(self._order)
    position = tf.gather(inverse, labels)
    other = (position + 1 + _uniform_int(seeds[5], shape, num_active - 1)) % num_active
    second = tf.where(same, labels, tf.gather(self._order, other))
    second_images, second = self.sample_images(seeds[6], batch_size, labels=second)
    trial = self._trial(seeds[2:5], batch_size, t_max)
    frames = tf.where(trial['at_stim'][..., None], images[:, None, :], trial['noise'])
    frames = tf.where(trial['at_report'][..., None], second_images[:, None, :], frames)
    answer = tf.where(same, self.SAME, self.DIFFERENT)
    targets = tf.where(trial['at_report'], answer[:, None], 0)
    return {'inputs': tf.concat([frames, tf.zeros([batch_size, frames.shape[1], 1])], -1),
            'targets': targets, 'weights': trial['weights'],
            'class_mask': self.class_mask(), 'labels': labels, 'second_labels': second,
            'same': same, 'stim_time': trial['stim'], 'report_time': trial['report']}


TASKS = {'classification': DelayedClassification,
         'template_matching': DelayedTemplateMatching}


def task_class(kind):
  """The task class of ``config.task_kind``.

  Raises:
    ValueError: on an unknown kind.
  """
  if kind not in TASKS:
    raise ValueError(f'unknown task_kind {kind!r}: expected one of {", ".join(TASKS)}')
  return TASKS[kind]


def num_outputs(kind, num_classes):
  """Readout size of a task kind: classes + null, or same/different + null."""
  return 3 if task_class(kind) is DelayedTemplateMatching else int(num_classes) + 1
