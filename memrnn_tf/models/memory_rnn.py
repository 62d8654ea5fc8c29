"""The delayed-classification network: front-end -> recurrent cell -> per-step readout.

``MemoryRNN`` is a ``keras.Model`` subclass with a custom ``train_step``/``test_step``
(report-weighted cross-entropy, classes not yet introduced masked out of the softmax, and
an optional hidden-state speed penalty). ``create_model(config)`` is the one factory.
"""

import keras
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf import splits
from memrnn_tf.models import cells as cells_lib
from memrnn_tf.models import losses

FRONTENDS = ('identity', 'conv')


@keras.saving.register_keras_serializable(package='memrnn_tf')
class ConvFrontEnd(keras.layers.Layer):
  """Per-step conv front-end for image streams (CIFAR-10), trigger concatenated after it.

  Splits ``[batch, time, pixels + 1]`` into the image and the trigger channel, applies
  ``num_conv`` 3x3 conv layers (``filters`` each, ReLU, stride 2) and ``num_dense``
  dense layers (``dense_units``, ReLU) to every frame, then appends the trigger, so the
  trigger reaches the recurrent layer directly (paper Fig. 1B). The paper does not say how
  the convolutions downsample; strided convolutions are used because max-pool gradients
  have no deterministic XLA kernel (and determinism is what makes resumed runs exact).

  Args:
    image_shape: ``(height, width, channels)`` of one frame.
  """

  def __init__(self, image_shape, filters=64, num_conv=3, dense_units=1024, num_dense=2,
               seed=0, **kwargs):
    super().__init__(**kwargs)
    self.image_shape = tuple(int(d) for d in image_shape)
    self.filters, self.num_conv = int(filters), int(num_conv)
    self.dense_units, self.num_dense = int(dense_units), int(num_dense)
    self.seed = int(seed)
    init = lambda k: keras.initializers.HeNormal(seed=self.seed + k)  # noqa: E731
    self.convs = [keras.layers.Conv2D(self.filters, 3, strides=2, padding='same',
                                      activation='relu', kernel_initializer=init(i),
                                      name=f'conv{i}')
                  for i in range(self.num_conv)]
    self.flatten = keras.layers.Flatten()
    self.denses = [keras.layers.Dense(self.dense_units, activation='relu',
                                      kernel_initializer=init(10 + i), name=f'dense{i}')
                   for i in range(self.num_dense)]

  @property
  def output_dim(self):
    return self.dense_units + 1

  def call(self, inputs):
    batch, time = tf.shape(inputs)[0], tf.shape(inputs)[1]
    pixels, trigger = inputs[..., :-1], inputs[..., -1:]
    x = tf.reshape(pixels, (-1,) + self.image_shape)
    for conv in self.convs:
      x = conv(x)
    x = self.flatten(x)
    for dense in self.denses:
      x = dense(x)
    x = tf.reshape(x, [batch, time, self.dense_units])
    return tf.concat([x, trigger], axis=-1)

  def get_config(self):
    config = super().get_config()
    config.update(image_shape=self.image_shape, filters=self.filters, num_conv=self.num_conv,
                  dense_units=self.dense_units, num_dense=self.num_dense, seed=self.seed)
    return config


class MemoryRNN(keras.Model):
  """Front-end, one recurrent layer and a readout applied at every step.

  Inputs are ``[batch, time, input_dim]`` (flattened image + trigger channel); outputs
  are logits ``[batch, time, num_outputs]`` (index 0 = "null").

  Batches for ``train_step``/``test_step`` are dicts from ``memrnn_tf.data.tasks``
  (``inputs``, ``targets``, ``weights`` and optionally ``class_mask``) or Keras-style
  tuples ``(inputs, targets, weights)``.

  Args:
    cell: a ``memrnn_tf.models.cells.RecurrentCell``.
    input_dim: width of the raw per-step input.
    num_outputs: readout size (classes + 1).
    frontend: ``None`` (identity) or a layer mapping ``[B, T, input_dim] -> [B, T, D]``.
    speed_penalty: lambda of the speed regulariser ``lambda * sum_i S(xi_i, I_i)`` over
      the targets of ``set_speed_targets`` (0 disables it). Read when the train step is
      traced; a positive value without targets makes ``train_step`` raise
      ``SpeedTargetsError`` instead of silently training without the term.
    unroll_limit: sequences up to this many (static) steps are unrolled in Python, longer
      or dynamic ones run in a ``tf.while_loop``.
    num_chains: the batch is split into this many independent recurrences, each with its
      own input projection (same result). Outside XLA the TF executor runs them
      concurrently, one per core, where a single chain of small ``[batch, units]`` matmuls
      leaves cores idle; with ``config.perf.intra_op_threads=1`` they are fully independent
      single-core streams (BUILD_NOTES.md).
    seed: seed of the readout initialiser.
    readout_sigmoid: squash the readout with a sigmoid before the softmax (a quirk of the
      authors' code; off by default).
  """

  def __init__(self, cell, input_dim, num_outputs=11, frontend=None, speed_penalty=0.0,
               unroll_limit=64, seed=0, readout_sigmoid=False, num_chains=1, **kwargs):
    super().__init__(**kwargs)
    self.cell = cell
    self.input_dim = int(input_dim)
    self.num_outputs = int(num_outputs)
    self.frontend = frontend
    self.speed_penalty = float(speed_penalty)
    self.unroll_limit = int(unroll_limit)
    self.num_chains = int(num_chains)
    if self.num_chains < 1:
      raise errors.ConfigError(f'num_chains must be >= 1, got {num_chains}')
    self.readout_sigmoid = bool(readout_sigmoid)
    self.readout = keras.layers.Dense(
        self.num_outputs, name='readout',
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 7))
    self.loss_tracker = keras.metrics.Mean(name='loss')
    self.xent_tracker = keras.metrics.Mean(name='xent')
    self.penalty_tracker = keras.metrics.Mean(name='speed_penalty')
    self.null_acc_tracker = keras.metrics.Mean(name='null_accuracy')
    self.digit_acc_tracker = keras.metrics.Mean(name='digit_accuracy')
    self.per_class_tracker = losses.PerClassAccuracy(num_outputs - 1, name='per_class')
    # Targets live in variables that the compiled step reads, so refreshing them after
    # tracing takes effect. They sit in a plain holder, out of the model's checkpoint
    # (runs trained before they existed restore unchanged; bin/regularize.py saves them).
    self._targets = _SpeedTargets(self.cell.state_size, self.input_dim)
    # Build eagerly so variables exist before checkpoints are restored or traced.
    self(tf.zeros([1, 1, self.input_dim]))

  # --- forward pass -------------------------------------------------------------------
  def encode(self, inputs):
    """Front-end features ``[B, T, D]`` (the cell's input) from raw inputs."""
    return inputs if self.frontend is None else self.frontend(inputs)

  def run_cell(self, inputs, initial_state=None):
    """Runs the recurrence on raw inputs.

    Args:
      inputs: ``[batch, time, input_dim]``.
      initial_state: packed state ``[batch, state_size]``; zeros when ``None``.

    Returns:
      Packed states after every step, ``[batch, time, state_size]``.
    """
    features = self.encode(inputs)
    if not self.cell.built:
      self.cell.build(features.shape)
    if initial_state is None:
      initial_state = self.cell.zero_state(tf.shape(features)[0], features.dtype)
    weights = self.cell.recurrent_weights()  # once per sequence, not per step
    batch = features.shape[0]
    chains = self.num_chains if batch is None or batch >= 2 * self.num_chains else 1
    if chains == 1:
      return self._recurrence(self.cell.project(features), initial_state, weights)
    # Any batch size, static or dynamic, splits. Each chain projects its own inputs, so
    # chains share nothing but the weights.
    sizes = splits.near_equal_sizes(tf.shape(features)[0] if batch is None else batch, chains)
    return tf.concat([self._recurrence(self.cell.project(f), s, weights) for f, s in
                      zip(tf.split(features, sizes, num=chains),
                          tf.split(initial_state, sizes, num=chains))], axis=0)

  def _recurrence(self, projected, initial_state, weights):
    """States ``[batch, time, state_size]`` from projected inputs ``[batch, time, G * units]``."""
    steps = projected.shape[1]
    if steps is not None and steps <= self.unroll_limit:
      # unstack (not projected[:, t]): its gradient is one stack instead of T padded adds.
      state, states = initial_state, []
      for projected_t in tf.unstack(projected, axis=1):
        state = self.cell.step(projected_t, state, weights)
        states.append(state)
      return tf.stack(states, axis=1)
    states = tf.scan(lambda s, p: self.cell.step(p, s, weights),
                     tf.transpose(projected, [1, 0, 2]), initializer=initial_state)
    return tf.transpose(states, [1, 0, 2])

  def call(self, inputs, initial_state=None, return_states=False, training=False):
    """Logits ``[B, T, num_outputs]`` (and packed states ``[B, T, S]`` if requested)."""
    states = self.run_cell(inputs, initial_state)
    logits = self.state_logits(states)
    return (logits, states) if return_states else logits

  def state_logits(self, states):
    """Readout logits ``[..., num_outputs]`` from packed states ``[..., S]``."""
    logits = self.readout(self.cell.output(states))
    # The authors' code squashed the readout with a sigmoid before the softmax; kept as an
    # option (``model.readout_sigmoid``) to study its effect, off by default.
    return tf.sigmoid(logits) if self.readout_sigmoid else logits

  # --- analysis hooks: the same cell the model trains ---------------------------------
  def one_step(self, state, inputs):
    """F(state, I): next packed state from ``[B, S]`` states and raw inputs ``[B, input_dim]``."""
    features = self.encode(inputs[:, None, :])[:, 0]
    return self.cell.one_step(features, state)

  def speed(self, state, inputs):
    """Speed S = ||xi(F(state, I)) - xi(state)||^2 per point, ``[B]``."""
    return cells_lib.speed(self.cell, self.one_step(state, inputs), state)

  def readout_probabilities(self, state):
    """Class probabilities ``[B, num_outputs]`` read out from packed states ``[B, S]``."""
    return tf.nn.softmax(self.state_logits(state))

  def set_speed_targets(self, states, inputs):
    """Sets (or refreshes) the speed-penalty targets; works before or after tracing.

    Args:
      states: packed states ``[K, state_size]`` (slow points or class centres of mass).
      inputs: raw inputs ``[K, input_dim]`` at which their speed is evaluated.
    """
    states = tf.convert_to_tensor(states, tf.float32)
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    if (states.shape.rank != 2 or inputs.shape.rank != 2 or
        states.shape[-1] != self.cell.state_size or inputs.shape[-1] != self.input_dim or
        states.shape[0] != inputs.shape[0]):
      raise ValueError(f'speed targets must be [K, {self.cell.state_size}] states and '
                       f'[K, {self.input_dim}] inputs, got {states.shape} and {inputs.shape}')
    self._targets.states.assign(states)
    self._targets.inputs.assign(inputs)
    self._targets.is_set = True

  @property
  def speed_targets(self):
    """``(states [K, S], inputs [K, input_dim])`` numpy arrays of the current targets."""
    return self._targets.states.numpy(), self._targets.inputs.numpy()

  @property
  def has_speed_targets(self):
    return self._targets.is_set

  def speed_penalty_loss(self):
    """``speed_penalty * sum_i S(target_i, input_i)``, a scalar (0 when the penalty is off)."""
    if self.speed_penalty <= 0:
      return tf.constant(0.0)
    return self.speed_penalty * tf.reduce_sum(
        self.speed(self._targets.states, self._targets.inputs))

  # --- training -----------------------------------------------------------------------
  @property
  def metrics(self):
    return [self.loss_tracker, self.xent_tracker, self.penalty_tracker,
            self.null_acc_tracker, self.digit_acc_tracker, self.per_class_tracker]

  def _forward_losses(self, batch, training):
    logits = self(batch['inputs'], training=training)
    xent = losses.report_loss(logits, batch['targets'], batch['weights'],
                              batch.get('class_mask'))
    return logits, xent, self.speed_penalty_loss()

  def _update_metrics(self, batch, logits, xent, penalty):
    stats = losses.accuracy_stats(logits, batch['targets'], batch['weights'],
                                  batch.get('class_mask'))
    self.loss_tracker.update_state(xent + penalty)
    self.xent_tracker.update_state(xent)
    self.penalty_tracker.update_state(penalty)
    self.null_acc_tracker.update_state(stats['null_correct'], sample_weight=stats['null_mask'])
    self.digit_acc_tracker.update_state(stats['report_correct'],
                                        sample_weight=stats['report_mask'])
    self.per_class_tracker.update_state(stats['report_labels'], stats['report_correct'],
                                        stats['report_mask'])
    return {m.name: m.result() for m in self.metrics if m is not self.per_class_tracker}

  # Not converted by autograph, so the check below raises its own one-line error when
  # the step is traced (autograph would wrap it in a StagingError with a traceback).
  @tf.autograph.experimental.do_not_convert
  def train_step(self, data):
    if self.speed_penalty > 0 and not self._targets.is_set:
      raise errors.SpeedTargetsError(
          f'speed_penalty={self.speed_penalty:g} needs speed targets (set_speed_targets): '
          'plain training has none; continue a trained run with bin/regularize.py')
    batch = _as_batch(data)
    with tf.GradientTape() as tape:
      logits, xent, penalty = self._forward_losses(batch, training=True)
      loss = xent + penalty
    grads = tape.gradient(loss, self.trainable_variables)
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
    return self._update_metrics(batch, logits, xent, penalty)

  def test_step(self, data):
    batch = _as_batch(data)
    logits, xent, penalty = self._forward_losses(batch, training=False)
    return self._update_metrics(batch, logits, xent, penalty)


class _SpeedTargets:
  """The penalty's targets: ``states [K, S]`` and ``inputs [K, input_dim]`` variables
  (K may change between assignments). A plain object, so not part of the checkpoint."""

  def __init__(self, state_size, input_dim):
    self.states = tf.Variable(tf.zeros([0, state_size]), trainable=False,
                              shape=[None, state_size], name='speed_targets')
    self.inputs = tf.Variable(tf.zeros([0, input_dim]), trainable=False,
                              shape=[None, input_dim], name='speed_inputs')
    self.is_set = False


def _as_batch(data):
  """Normalises a dict or an ``(inputs, targets, weights)`` tuple to a dict."""
  if isinstance(data, dict):
    return data
  inputs, targets, weights = (tuple(data) + (None,))[:3]
  if weights is None:
    weights = tf.ones(tf.shape(targets), tf.float32)
  return {'inputs': inputs, 'targets': targets, 'weights': weights}


def create_model(config, input_dim, num_outputs=11, image_shape=None):
  """The one model factory.

  Args:
    config: the experiment ``ConfigDict``; reads ``config.model`` (``cell``, ``units``,
      ``frontend``, ``init``, ``reset_after``, ``readout_sigmoid``, conv sizes),
      ``config.perf`` (``unroll_limit``, ``num_chains``: speed only), ``config.seed`` and
      ``config.speed_penalty``.
    input_dim: width of the per-step input (pixels + trigger).
    num_outputs: classes + 1.
    image_shape: ``(H, W, C)``, needed by the conv front-end.

  Returns:
    A built ``MemoryRNN``.

  Raises:
    ConfigError: on an unknown cell or front-end name.
  """
  m = config.model
  perf = config.get('perf') or {}  # absent in hand-made configs: the defaults
  seed = int(config.seed)
  frontend_name = str(m.get('frontend', 'identity')).lower()
  if frontend_name not in FRONTENDS:
    raise errors.ConfigError(f'unknown frontend {m.frontend!r}: expected one of '
                             f'{", ".join(FRONTENDS)}')
  cell = cells_lib.create_cell(m.cell, m.units, init=m.get('init', 'paper'), seed=seed,
                               reset_after=m.get('reset_after', False))
  frontend = None
  if frontend_name == 'conv':
    if image_shape is None:
      raise ValueError('the conv front-end needs image_shape')
    frontend = ConvFrontEnd(image_shape, filters=m.get('conv_filters', 64),
                            num_conv=m.get('num_conv', 3), dense_units=m.get('dense_units', 1024),
                            num_dense=m.get('num_dense', 2), seed=seed + 100, name='frontend')
  return MemoryRNN(cell, input_dim, num_outputs=num_outputs, frontend=frontend,
                   speed_penalty=config.get('speed_penalty', 0.0),
                   unroll_limit=perf.get('unroll_limit', 64), seed=seed,
                   readout_sigmoid=m.get('readout_sigmoid', False),
                   num_chains=perf.get('num_chains', 1), name='memory_rnn')
