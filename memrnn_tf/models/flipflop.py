"""The vanilla tanh RNN of 003 for the (delayed) flip-flop task.

  S(t) = tanh(W S(t-1) + W_in X(t)),    Y(t) = tanh(W_out S(t))

with N = 100 units, no biases, ``W_in`` fixed (uniform in +-1/sqrt(num_inputs)) and ``W``,
``W_out`` trained (uniform in +-1/sqrt(N) at initialisation), trained with Adam on the
mean squared error of ``Y`` by back-propagation through time truncated to 10 steps.

The recurrence is ``memrnn_tf.models.cells.SimpleRNNCell`` itself (its ``project``,
``step`` and ``one_step``); ``FlipFlopCell`` only changes how its weights are created.
Keras' layout is row-vector: ``h' = tanh(x @ kernel + h @ recurrent_kernel)``, so the
paper's ``W`` is ``recurrent_kernel.T`` and ``W_in`` is ``kernel.T``.

Truncated back-propagation through time ("we unfold the network in time, up to ten
timesteps"), two ways (``bptt``); forward values are always exactly those of the
untruncated recurrence, and the loss of the whole sequence batch is averaged into one
Adam update:

* ``'sliding'`` (default): the output at every step t is back-propagated through exactly
  ``truncation`` steps, t - k + 1 .. t, starting from the detached state S(t - k) of a
  first (gradient-free) pass: TBPTT(1, k). All T windows run as one batch of B * T
  k-step unrolls (k times the forward compute of the sequence). Every pulse -> output
  change pair closer than k steps (the paper's delay 8 < 10) lies inside the gradient.
* ``'windows'``: the sequence is cut into consecutive windows of k steps, the state is
  carried between them through ``tf.stop_gradient``: TBPTT(k, k), the cheap textbook
  variant. The gradient of the output at step t reaches back only to the start of its
  window, so a delay-8 pulse and the output change it causes share a window in only 2
  of 10 phases; measured: the delayed task plateaus at ~73% accuracy this way.
"""

import keras
import tensorflow as tf

from memrnn_tf import errors
from memrnn_tf.models import cells as cells_lib

BPTT_MODES = ('sliding', 'windows')


class FlipFlopCell(cells_lib.SimpleRNNCell):
  """``SimpleRNNCell`` with 003's weights: no bias, fixed input weights.

  ``kernel`` (``W_in.T``, ``[input_dim, units]``) is uniform in +-1/sqrt(input_dim) and
  not trainable; ``recurrent_kernel`` (``W.T``) is uniform in +-1/sqrt(units) and
  trainable; ``bias`` is zero and not trainable (kept so that the inherited ``project``
  and the checkpoint layout are those of ``SimpleRNNCell``).
  """

  def build(self, input_shape):
    input_dim = int(input_shape[-1])
    a_in, a_rec = input_dim ** -0.5, self.units ** -0.5
    self.kernel = self.add_weight(
        shape=(input_dim, self.units), name='kernel', trainable=False,
        initializer=keras.initializers.RandomUniform(-a_in, a_in, seed=self.seed))
    self.recurrent_kernel = self.add_weight(
        shape=(self.units, self.units), name='recurrent_kernel',
        initializer=keras.initializers.RandomUniform(-a_rec, a_rec, seed=self.seed + 1))
    self.bias = self.add_weight(shape=(self.units,), name='bias', trainable=False,
                                initializer='zeros')
    self.input_dim = input_dim
    self.built = True


class FlipFlopRNN(keras.Model):
  """Vanilla RNN with a tanh readout, trained by truncated BPTT (003).

  Batches are dicts from ``memrnn_tf.data.flipflop.FlipFlopTask.sample`` (``inputs``,
  ``targets``, ``weights``, all ``[B, T, num_bits]``) or tuples
  ``(inputs, targets[, weights])``.

  Args:
    units: N, the number of recurrent units.
    num_bits: input and output channels.
    truncation: BPTT window k in steps (``None``: full back-propagation).
    bptt: ``'sliding'`` or ``'windows'`` (module docstring).
    unroll_limit: static sequences up to this many steps are unrolled in Python, longer
      or dynamic ones run as a ``tf.scan`` over windows.
    seed: seed of the weight initialisers.
  """

  def __init__(self, units=100, num_bits=3, truncation=10, bptt='sliding', unroll_limit=200,
               seed=0, **kwargs):
    super().__init__(**kwargs)
    if bptt not in BPTT_MODES:
      raise errors.ConfigError(f"unknown bptt {bptt!r}: expected one of {', '.join(BPTT_MODES)}")
    self.units = int(units)
    self.num_bits = int(num_bits)
    self.truncation = None if not truncation else int(truncation)
    self.bptt = bptt
    self.unroll_limit = int(unroll_limit)
    self.cell = FlipFlopCell(self.units, seed=seed, name='cell')
    a_out = self.units ** -0.5
    self.readout = keras.layers.Dense(
        self.num_bits, use_bias=False, name='readout',
        kernel_initializer=keras.initializers.RandomUniform(-a_out, a_out, seed=seed + 7))
    self.loss_tracker = keras.metrics.Mean(name='loss')
    self.accuracy_tracker = keras.metrics.Mean(name='accuracy')
    # Build eagerly so variables exist before checkpoints are restored or traced.
    self(tf.zeros([1, 1, self.num_bits]))

  # --- forward pass -------------------------------------------------------------------
  def run_cell(self, inputs, initial_state=None):
    """Runs the recurrence (gradients truncated to ``truncation``-step windows).

    Args:
      inputs: ``[batch, time, num_bits]``.
      initial_state: ``[batch, units]``; zeros when ``None``.

    Returns:
      States after every step, ``[batch, time, units]``.
    """
    if not self.cell.built:
      self.cell.build(inputs.shape)
    projected = self.cell.project(inputs)  # W_in X(t) for all t in one matmul
    if initial_state is None:
      initial_state = self.cell.zero_state(tf.shape(inputs)[0], projected.dtype)
    k = self.truncation
    steps = inputs.shape[1]
    if steps is not None and steps <= self.unroll_limit:
      state, states = initial_state, []
      for t, projected_t in enumerate(tf.unstack(projected, axis=1)):
        if k and t % k == 0:
          state = tf.stop_gradient(state)
        state = self.cell.step(projected_t, state)
        states.append(state)
      return tf.stack(states, axis=1)
    return self._scan_windows(projected, initial_state)

  def _scan_windows(self, projected, initial_state):
    """``tf.scan`` over windows of ``truncation`` steps (any, even dynamic, length)."""
    k = self.truncation or 1
    batch, steps = tf.shape(projected)[0], tf.shape(projected)[1]
    windows = (steps + k - 1) // k
    padded = tf.pad(projected, [[0, 0], [0, windows * k - steps], [0, 0]])
    # [B, W*k, N] -> [W, k, B, N]
    elems = tf.transpose(tf.reshape(padded, [batch, windows, k, self.units]), [1, 2, 0, 3])
    truncate = self.truncation is not None

    def window(previous, projected_w):
      state = previous[-1]
      if truncate:
        state = tf.stop_gradient(state)
      states = []
      for t in range(k):
        state = self.cell.step(projected_w[t], state)
        states.append(state)
      return tf.stack(states)

    init = tf.tile(initial_state[None], [k, 1, 1])
    out = tf.scan(window, elems, initializer=init)  # [W, k, B, N]
    out = tf.reshape(tf.transpose(out, [2, 0, 1, 3]), [batch, windows * k, self.units])
    return out[:, :steps]

  def sliding_states(self, inputs, initial_state=None):
    """States whose gradient reaches back exactly ``truncation`` steps (TBPTT(1, k)).

    Values equal ``run_cell``'s. The state at step t is recomputed from the detached state
    S(t - k) of a first pass through the k inputs t - k + 1 .. t (steps before t = 0 are
    skipped, so the first windows start from ``initial_state``).

    Args:
      inputs: ``[batch, time, num_bits]`` with a static ``time``.
      initial_state: ``[batch, units]``; zeros when ``None``.

    Returns:
      ``[batch, time, units]``.
    """
    k = self.truncation
    if k is None:
      return self.run_cell(inputs, initial_state)
    batch, steps = tf.shape(inputs)[0], inputs.shape[1]
    if initial_state is None:
      initial_state = self.cell.zero_state(batch)
    detached = tf.stop_gradient(self.run_cell(inputs, initial_state))
    # full[j] = S(j - 1): the initial state, then S(0) .. S(T - 2).
    full = tf.concat([initial_state[:, None], detached[:, :-1]], axis=1)  # [B, T, N]
    times = tf.range(steps)
    start = tf.gather(full, tf.maximum(times - k + 1, 0), axis=1)  # S(t - k), [B, T, N]
    projected = tf.pad(self.cell.project(inputs), [[0, 0], [k - 1, 0], [0, 0]])
    idx = times[:, None] + tf.range(k)[None, :]  # window of t in padded time, [T, k]
    windows = tf.gather(projected, idx, axis=1)  # [B, T, k, N]
    valid = (idx - (k - 1)) >= 0  # [T, k]: steps at time >= 0
    state = tf.reshape(start, [-1, self.units])
    windows = tf.reshape(windows, [-1, k, self.units])
    valid = tf.reshape(tf.tile(valid[None], [batch, 1, 1]), [-1, k])
    for i in range(k):
      state = tf.where(valid[:, i:i + 1], self.cell.step(windows[:, i], state), state)
    return tf.reshape(state, [batch, steps, self.units])

  def output(self, states):
    """Y = tanh(W_out S): ``[..., units] -> [..., num_bits]``."""
    return tf.tanh(self.readout(states))

  def call(self, inputs, initial_state=None, return_states=False, training=False):
    """Outputs ``[B, T, num_bits]`` in (-1, 1) (and states ``[B, T, units]`` if requested)."""
    del training
    states = self.run_cell(inputs, initial_state)
    outputs = self.output(states)
    return (outputs, states) if return_states else outputs

  # --- analysis hook: the same cell the model trains ----------------------------------
  def one_step(self, state, inputs):
    """F(S, X) = tanh(W S + W_in X): ``[B, units], [B, num_bits] -> [B, units]``."""
    return self.cell.one_step(inputs, state)

  @property
  def recurrent_matrix(self):
    """The paper's W (``S(t) = tanh(W S(t-1) + ...)``), ``[units, units]``."""
    return tf.transpose(self.cell.recurrent_kernel)

  # --- training -----------------------------------------------------------------------
  @property
  def metrics(self):
    return [self.loss_tracker, self.accuracy_tracker]

  def _loss_and_metrics(self, batch, training):
    if training and self.bptt == 'sliding':
      outputs = self.output(self.sliding_states(batch['inputs']))
    else:
      outputs = self(batch['inputs'], training=training)
    loss, correct = flipflop_losses(outputs, batch['targets'], batch['weights'])
    return loss, correct

  def _update_metrics(self, batch, loss, correct):
    self.loss_tracker.update_state(loss)
    self.accuracy_tracker.update_state(correct, sample_weight=batch['weights'])
    return {m.name: m.result() for m in self.metrics}

  def train_step(self, data):
    batch = _as_batch(data)
    with tf.GradientTape() as tape:
      loss, correct = self._loss_and_metrics(batch, training=True)
    grads = tape.gradient(loss, self.trainable_variables)
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
    return self._update_metrics(batch, loss, correct)

  def test_step(self, data):
    batch = _as_batch(data)
    loss, correct = self._loss_and_metrics(batch, training=False)
    return self._update_metrics(batch, loss, correct)


def flipflop_losses(outputs, targets, weights):
  """Weighted mean squared error and per-entry sign agreement.

  Args:
    outputs: ``[B, T, C]`` network outputs in (-1, 1).
    targets: ``[B, T, C]`` in {-1, +1}.
    weights: ``[B, T, C]`` loss weights (0 where the target is undefined).

  Returns:
    ``(loss, correct)``: the scalar ``sum(w (y - target)^2) / sum(w)`` and a ``[B, T, C]``
    float tensor, 1 where ``sign(y) == target``.
  """
  weights = tf.cast(weights, outputs.dtype)
  loss = (tf.reduce_sum(weights * tf.square(outputs - targets)) /
          tf.maximum(tf.reduce_sum(weights), 1.0))
  correct = tf.cast(tf.equal(tf.sign(outputs), targets), outputs.dtype)
  return loss, correct


def _as_batch(data):
  """Normalises a dict or an ``(inputs, targets[, weights])`` tuple to a dict."""
  if isinstance(data, dict):
    return data
  inputs, targets, weights = (tuple(data) + (None,))[:3]
  if weights is None:
    weights = tf.ones_like(targets)
  return {'inputs': inputs, 'targets': targets, 'weights': weights}


def create_model(config):
  """A built ``FlipFlopRNN`` from ``config.model`` (``units``, ``truncation``, ``bptt``),
  ``config.task`` (``num_bits``), ``config.perf.unroll_limit`` and ``config.seed``."""
  m = config.model
  perf = config.get('perf') or {}
  return FlipFlopRNN(units=m.units, num_bits=config.task.num_bits, truncation=m.truncation,
                     bptt=m.get('bptt', 'sliding'),
                     unroll_limit=perf.get('unroll_limit', 200), seed=int(config.seed),
                     name='flipflop_rnn')
