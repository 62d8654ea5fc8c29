"""Recurrent cells with an explicit one-step map over a packed state.

Every cell here is a Keras layer that owns its weights and exposes the same equations
in three forms, all computed by the same two methods (``project`` and ``step``):

* ``project(inputs)``: the input part of the pre-activations, ``inputs @ kernel + bias``.
  It does not depend on the state, so a sequence model computes it for all time steps
  in one large matmul ("hoisting" the input projection out of the recurrence).
* ``step(projected, state)``: one step of the recurrence given the projected input.
* ``one_step(inputs, state) = step(project(inputs), state)``: the map F(state, I) used by
  the analysis code (slow points, Jacobians, speed penalty).

States are packed into one tensor ``[batch, state_size]``: GRU and SimpleRNN ``h``; LSTM
``[h, c]``. The paper's analysis coordinates ``xi`` (``to_xi``) are ``h`` for GRU and
SimpleRNN, and ``[h, tanh(c)]`` for LSTM.

Weight layouts follow Keras (``keras.layers.GRUCell`` gate order z, r, h;
``LSTMCell`` gate order i, f, c, o), so weights can be copied from or to stock Keras cells
with ``set_weights``/``get_weights`` (see ``from_keras_cell``).
"""

import keras
import tensorflow as tf

from memrnn_tf import errors

CELLS = ('gru', 'lstm', 'simplernn')


def _initializers(init, units, seed):
  """Kernel, recurrent and bias initialisers for an ``init`` scheme.

  ``'paper'`` follows the authors' code: input and recurrent matrices N(0, 1/fan_in),
  biases N(0, 0.01^2). ``'keras'`` is Keras' default (Glorot uniform, orthogonal, zeros).
  """
  if init == 'paper':
    # RandomNormal with stddev 1/sqrt(fan_in) per matrix; fan_in differs between the
    # input and recurrent matrices, so the kernel's stddev is fixed in ``build``.
    return None
  if init == 'keras':
    return (keras.initializers.GlorotUniform(seed=seed),
            keras.initializers.Orthogonal(seed=seed + 1),
            keras.initializers.Zeros())
  raise errors.ConfigError(f"unknown init {init!r}: expected 'paper' or 'keras'")


class RecurrentCell(keras.layers.Layer):
  """Base class: a recurrent cell with a packed state and an explicit one-step map.

  Subclasses set ``num_gates`` and implement ``step``; ``state_size`` defaults to
  ``units``.

  Args:
    units: number of hidden units.
    init: ``'paper'`` or ``'keras'`` weight initialisation.
    seed: integer seed for the initialisers.
  """

  num_gates = 1
  state_multiplier = 1  # LSTM packs [h, c]

  def __init__(self, units, init='paper', seed=0, **kwargs):
    super().__init__(**kwargs)
    self.units = int(units)
    self.init = init
    self.seed = int(seed)
    _initializers(init, self.units, self.seed)  # validates ``init`` early

  @property
  def state_size(self):
    """Size of the packed state ``[batch, state_size]``."""
    return self.units * self.state_multiplier

  @property
  def output_size(self):
    return self.units

  def _bias_shape(self):
    return (self.num_gates * self.units,)

  def build(self, input_shape):
    input_dim = int(input_shape[-1])
    width = self.num_gates * self.units
    inits = _initializers(self.init, self.units, self.seed)
    if inits is None:
      kernel_init = keras.initializers.RandomNormal(stddev=input_dim ** -0.5, seed=self.seed)
      recurrent_init = keras.initializers.RandomNormal(stddev=self.units ** -0.5,
                                                       seed=self.seed + 1)
      bias_init = keras.initializers.RandomNormal(stddev=0.01, seed=self.seed + 2)
    else:
      kernel_init, recurrent_init, bias_init = inits
      bias_init = self._keras_bias_initializer(bias_init)
    self.kernel = self.add_weight(shape=(input_dim, width), initializer=kernel_init,
                                  name='kernel')
    self.recurrent_kernel = self.add_weight(shape=(self.units, width),
                                            initializer=recurrent_init,
                                            name='recurrent_kernel')
    self.bias = self.add_weight(shape=self._bias_shape(), initializer=bias_init, name='bias')
    self.input_dim = input_dim
    self.built = True

  def _keras_bias_initializer(self, default):
    return default

  def _input_bias(self):
    return self.bias

  # --- the one-step map ---------------------------------------------------------------
  def project(self, inputs):
    """Input part of the pre-activations.

    Args:
      inputs: ``[..., input_dim]``.

    Returns:
      ``[..., num_gates * units]``.
    """
    return tf.tensordot(inputs, self.kernel, axes=1) + self._input_bias()

  def recurrent_weights(self):
    """The recurrent weights in the form ``step`` uses them.

    A sequence loop computes this once and passes it to every ``step``: slicing a weight
    inside the step would copy it at every time step, and its gradient would be padded
    and summed at every step (GRU training at batch 1 ran 1.3-1.5x slower that way, measured).
    """
    return self.recurrent_kernel

  def step(self, projected, state, weights=None):
    """One recurrence step given projected inputs.

    Args:
      projected: ``[batch, num_gates * units]`` from ``project``.
      state: packed state ``[batch, state_size]``.
      weights: ``recurrent_weights()``, computed here when ``None``.

    Returns:
      The next packed state ``[batch, state_size]``.
    """
    raise NotImplementedError

  def one_step(self, inputs, state):
    """The map F(state, I): ``[batch, input_dim], [batch, state_size] -> [batch, state_size]``."""
    return self.step(self.project(inputs), state)

  # --- state packing ------------------------------------------------------------------
  def output(self, state):
    """Hidden output ``h`` from a packed state ``[..., state_size] -> [..., units]``."""
    return state[..., :self.units]

  def to_xi(self, state):
    """Analysis coordinates xi from a packed state (identity except for LSTM)."""
    return state

  def from_xi(self, xi):
    """Packed state from analysis coordinates (inverse of ``to_xi``)."""
    return xi

  def zero_state(self, batch_size, dtype=tf.float32):
    return tf.zeros([batch_size, self.state_size], dtype)

  # --- Keras RNN-cell protocol, so ``keras.layers.RNN(cell)`` also works ---------------
  def call(self, inputs, states):
    state = states[0] if isinstance(states, (list, tuple)) else states
    new_state = self.one_step(inputs, state)
    return self.output(new_state), [new_state]

  def get_config(self):
    config = super().get_config()
    config.update(units=self.units, init=self.init, seed=self.seed)
    return config


class GRUCell(RecurrentCell):
  """GRU, paper eq. 2 (``reset_after=False``) or the cuDNN variant (``reset_after=True``).

  ``reset_after=False``: ``h~ = tanh(W_h I + U_h (r * h) + b_h)`` as in the paper.
  ``reset_after=True``: ``h~ = tanh(W_h I + b_h + r * (U_h h + b'_h))`` (Keras' default).
  """

  num_gates = 3

  def __init__(self, units, reset_after=False, **kwargs):
    self.reset_after = bool(reset_after)
    super().__init__(units, **kwargs)

  def _bias_shape(self):
    return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

  def _input_bias(self):
    return self.bias[0] if self.reset_after else self.bias

  def recurrent_weights(self):
    """``recurrent_kernel`` (``reset_after``), else its ``(U_zr, U_h)`` column blocks."""
    if self.reset_after:
      return self.recurrent_kernel
    return tf.split(self.recurrent_kernel, [2 * self.units, self.units], axis=-1)

  def step(self, projected, state, weights=None):
    # tf.split rather than slicing: the gradient is one concat, not several padded adds.
    h = state
    weights = self.recurrent_weights() if weights is None else weights
    x_z, x_r, x_h = tf.split(projected, 3, axis=-1)
    if self.reset_after:
      rec = tf.matmul(h, weights) + self.bias[1]
      r_z, r_r, r_h = tf.split(rec, 3, axis=-1)
      z = tf.sigmoid(x_z + r_z)
      r = tf.sigmoid(x_r + r_r)
      candidate = tf.tanh(x_h + r * r_h)
    else:
      u_zr, u_h = weights
      r_z, r_r = tf.split(tf.matmul(h, u_zr), 2, axis=-1)
      z = tf.sigmoid(x_z + r_z)
      r = tf.sigmoid(x_r + r_r)
      candidate = tf.tanh(x_h + tf.matmul(r * h, u_h))
    return z * h + (1.0 - z) * candidate

  def get_config(self):
    config = super().get_config()
    config['reset_after'] = self.reset_after
    return config


class LSTMCell(RecurrentCell):
  """LSTM, paper eq. 3; packed state ``[h, c]``, analysis coordinates ``[h, tanh(c)]``."""

  num_gates = 4
  state_multiplier = 2

  def _keras_bias_initializer(self, default):
    units = self.units

    def unit_forget_bias(shape, dtype=None):
      bias = tf.concat([tf.zeros([units]), tf.ones([units]), tf.zeros([2 * units])], 0)
      return tf.cast(bias, dtype or tf.float32)  # float64 copies (slow-point refinement)

    return unit_forget_bias

  def step(self, projected, state, weights=None):
    h, c = tf.split(state, 2, axis=-1)
    weights = self.recurrent_weights() if weights is None else weights
    pre = projected + tf.matmul(h, weights)
    i, f, g, o = tf.split(pre, 4, axis=-1)
    i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
    c_new = f * c + i * g
    h_new = o * tf.tanh(c_new)
    return tf.concat([h_new, c_new], axis=-1)

  def to_xi(self, state):
    return lstm_to_xi(state, self.units)

  def from_xi(self, xi, eps=1e-6):
    return lstm_from_xi(xi, self.units, eps)


def lstm_to_xi(state, units):
  """LSTM analysis coordinates ``[h, tanh c]`` from a packed ``[..., 2 * units]`` ``[h, c]``.

  A function of ``units`` alone, so that stock Keras LSTM cells share it.
  """
  return tf.concat([state[..., :units], tf.tanh(state[..., units:])], axis=-1)


def lstm_from_xi(xi, units, eps=1e-6):
  """Packed ``[h, c]`` from ``[h, tanh c]`` (inverse of ``lstm_to_xi``; ``tanh c`` is
  clipped to ``1 - eps`` in modulus so that ``c`` stays finite)."""
  tanh_c = tf.clip_by_value(xi[..., units:], -1.0 + eps, 1.0 - eps)
  return tf.concat([xi[..., :units], tf.atanh(tanh_c)], axis=-1)


class SimpleRNNCell(RecurrentCell):
  """Vanilla tanh RNN: ``h' = tanh(W I + U h + b)``."""

  num_gates = 1

  def step(self, projected, state, weights=None):
    weights = self.recurrent_weights() if weights is None else weights
    return tf.tanh(projected + tf.matmul(state, weights))


_CELL_CLASSES = {'gru': GRUCell, 'lstm': LSTMCell, 'simplernn': SimpleRNNCell}


def speed(cell, next_state, state):
  """Speed S = ||xi(next_state) - xi(state)||^2 per point (paper eq. 4).

  Args:
    cell: the ``RecurrentCell`` whose ``to_xi`` defines the analysis coordinates.
    next_state: ``F(state, I)``, packed ``[B, S]``.
    state: packed ``[B, S]``.

  Returns:
    ``[B]`` speeds.
  """
  return tf.reduce_sum(tf.square(cell.to_xi(next_state) - cell.to_xi(state)), axis=-1)


def create_cell(name, units, init='paper', seed=0, reset_after=False, **kwargs):
  """Builds a cell by name (``'gru'``, ``'lstm'`` or ``'simplernn'``).

  Raises:
    ConfigError: on an unknown name.
  """
  key = str(name).lower()
  if key not in _CELL_CLASSES:
    raise errors.ConfigError(f'unknown cell {name!r}: expected one of {", ".join(CELLS)}')
  if key == 'gru':
    kwargs['reset_after'] = reset_after
  return _CELL_CLASSES[key](units, init=init, seed=seed, name=key, **kwargs)


def from_keras_cell(keras_cell, input_dim):
  """A memrnn_tf cell with the weights of a stock ``keras.layers`` GRU/LSTM/SimpleRNN cell.

  Args:
    keras_cell: a built ``keras.layers.GRUCell``, ``LSTMCell`` or ``SimpleRNNCell``
      (e.g. ``keras.layers.GRU(...).cell``).
    input_dim: its input width.

  Returns:
    The equivalent ``RecurrentCell``, built, sharing no variables with ``keras_cell``.
  """
  if isinstance(keras_cell, keras.layers.GRUCell):
    cell = GRUCell(keras_cell.units, reset_after=keras_cell.reset_after, init='keras')
  elif isinstance(keras_cell, keras.layers.LSTMCell):
    cell = LSTMCell(keras_cell.units, init='keras')
  elif isinstance(keras_cell, keras.layers.SimpleRNNCell):
    cell = SimpleRNNCell(keras_cell.units, init='keras')
  else:
    raise ValueError(f'unsupported Keras cell {type(keras_cell).__name__}: expected '
                     'GRUCell, LSTMCell or SimpleRNNCell')
  for name in ('activation', 'recurrent_activation'):
    act = getattr(keras_cell, name, None)
    expected = 'tanh' if name == 'activation' else 'sigmoid'
    if act is not None and getattr(act, '__name__', expected) != expected:
      raise ValueError(f'{type(keras_cell).__name__} uses {name}={act.__name__}; only '
                       f'{expected} is supported')
  cell.build((None, input_dim))
  weights = keras_cell.get_weights()
  if len(weights) == 2:  # use_bias=False
    weights.append(tf.zeros(cell.bias.shape).numpy())
  cell.set_weights(weights)
  return cell
