"""Closed-form state Jacobians dF/dx of the supported cells, batched.

The Levenberg-Marquardt refinement needs ``J = dF/dx`` (``[B, d, d]``, row = output,
column = input) at every point at every accepted step. Autodiff gives it by back-propagating
``d`` copies of every point; for the cells the package supports the derivative is a few
elementwise products of per-row coefficients ``[B, d]`` with the transposed recurrent
weight blocks, which costs a few passes over ``[B, d, d]``. The formulas follow the cells'
equations (``models.cells``; Keras' ``GRUCell``, ``LSTMCell`` and ``SimpleRNNCell`` with
their default ``tanh``/``sigmoid`` activations), with ``x`` the packed state the cell carries
(GRU and SimpleRNN ``h``, LSTM ``[h, c]``):

* SimpleRNN, ``h' = tanh(p + h U)``: ``dh'_j/dh_i = (1 - h'_j^2) U_ij``.
* GRU, ``h' = z h + (1 - z) c`` with ``z = sigmoid(p_z + h U_z)``, ``r = sigmoid(p_r + h U_r)``
  and ``c = tanh(p_h + r (h U_h + b_h))`` (``reset_after``) or ``c = tanh(p_h + (r h) U_h)``
  (the paper's eq. 2)::

    dh'_j/dh_i = z_j delta_ij + z_j (1 - z_j) (h_j - c_j) U_z,ij + (1 - z_j) dc_j/dh_i
    reset_after:  dc_j/dh_i = (1 - c_j^2) (r_j (1 - r_j) (h U_h + b_h)_j U_r,ij + r_j U_h,ij)
    otherwise:    dc_j/dh_i = (1 - c_j^2) (r_i U_h,ij + sum_k U_r,ik h_k r_k (1 - r_k) U_h,kj)

* LSTM, ``c' = f c + i g``, ``h' = o tanh(c')`` with gates ``i, f, o = sigmoid``,
  ``g = tanh`` of ``p + h U``::

    dc'/dh = c f (1 - f) U_f^T + g i (1 - i) U_i^T + i (1 - g^2) U_g^T,  dc'/dc = diag(f)
    dh'/dh = tanh(c') o (1 - o) U_o^T + o (1 - tanh^2 c') dc'/dh,  dh'/dc = diag(o (1 -
    tanh^2 c') f)

(per-row coefficients times the transposed blocks, ``U^T`` with rows = outputs).
``for_cell`` returns the function for a ``memrnn_tf`` cell with ``step``'s signature,
``for_keras_cell`` the one for a stock Keras cell with ``F(state, inputs)``'s; both return
``None`` for a cell without a closed form here (the searches then use autodiff).
"""

import keras
import tensorflow as tf

from memrnn_tf.models import cells as cells_lib


def _rows(coefficient, weights_t):
  """``coefficient [B, n] (row j) * weights_t [n, m] (row j)``: ``[B, n, m]``."""
  return coefficient[:, :, None] * weights_t[None]


def simple_rnn(h, projected, kernel):
  """dF/dh ``[B, n, n]`` of ``F(h) = tanh(projected + h kernel)``.

  Args:
    h: ``[B, n]`` states.
    projected: ``[B, n]`` input part of the pre-activation (with the bias).
    kernel: ``[n, n]`` recurrent kernel.
  """
  out = tf.tanh(projected + tf.matmul(h, kernel))
  return _rows(1.0 - tf.square(out), tf.transpose(kernel))


def gru(h, projected, kernel, reset_after, recurrent_bias=None):
  """dF/dh ``[B, n, n]`` of a GRU step (module docstring), Keras' gate order z, r, h.

  Args:
    h: ``[B, n]`` states.
    projected: ``[B, 3n]`` input part of the pre-activations (with the input bias).
    kernel: ``[n, 3n]`` recurrent kernel.
    reset_after: the reset gate multiplies ``h U_h + b_h`` (Keras' default) rather than
      ``h`` (the paper's eq. 2).
    recurrent_bias: ``[3n]`` bias added to ``h kernel`` (``reset_after`` only) or ``None``.
  """
  p_z, p_r, p_h = tf.split(projected, 3, axis=-1)
  u_z, u_r, u_h = (tf.transpose(u) for u in tf.split(kernel, 3, axis=-1))  # rows = outputs
  if reset_after:
    rec = tf.matmul(h, kernel)
    if recurrent_bias is not None:
      rec += recurrent_bias
    r_z, r_r, r_h = tf.split(rec, 3, axis=-1)
  else:
    r_z, r_r = tf.split(tf.matmul(h, kernel[:, :2 * h.shape[-1]]), 2, axis=-1)
  z, r = tf.sigmoid(p_z + r_z), tf.sigmoid(p_r + r_r)
  if reset_after:
    c = tf.tanh(p_h + r * r_h)
  else:
    c = tf.tanh(p_h + tf.matmul(r * h, tf.transpose(u_h)))
  dc = (1.0 - z) * (1.0 - tf.square(c))  # (1 - z_j) dc_j / d(pre-activation)
  jac = _rows(z * (1.0 - z) * (h - c), u_z)
  if reset_after:
    jac += _rows(dc * r_h * r * (1.0 - r), u_r) + _rows(dc * r, u_h)
  else:
    # sum_k U_h^T[j, k] (h r (1 - r))_k U_r^T[k, i]: one [B n, n] x [n, n] product.
    n = h.shape[-1]
    through_r = tf.reshape(
        tf.matmul(tf.reshape(u_h[None] * (h * r * (1.0 - r))[:, None, :], [-1, n]), u_r),
        [-1, n, n])
    jac += dc[:, :, None] * (u_h[None] * r[:, None, :] + through_r)
  return tf.linalg.set_diag(jac, tf.linalg.diag_part(jac) + z)


def lstm(state, projected, kernel):
  """dF/dx ``[B, 2n, 2n]`` of an LSTM step on the packed state ``[h, c]`` (module
  docstring), Keras' gate order i, f, g (cell), o.

  Args:
    state: ``[B, 2n]`` packed ``[h, c]``.
    projected: ``[B, 4n]`` input part of the pre-activations (with the bias).
    kernel: ``[n, 4n]`` recurrent kernel.
  """
  h, c = tf.split(state, 2, axis=-1)
  pre = projected + tf.matmul(h, kernel)
  i, f, g, o = tf.split(pre, 4, axis=-1)
  i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
  u_i, u_f, u_g, u_o = (tf.transpose(u) for u in tf.split(kernel, 4, axis=-1))
  t = tf.tanh(f * c + i * g)
  dt = o * (1.0 - tf.square(t))  # dh'/dc'
  dc_dh = (_rows(c * f * (1.0 - f), u_f) + _rows(g * i * (1.0 - i), u_i)
           + _rows(i * (1.0 - tf.square(g)), u_g))
  dh_dh = _rows(t * o * (1.0 - o), u_o) + dt[:, :, None] * dc_dh
  top = tf.concat([dh_dh, tf.linalg.diag(dt * f)], axis=-1)
  bottom = tf.concat([dc_dh, tf.linalg.diag(f)], axis=-1)
  return tf.concat([top, bottom], axis=-2)


def for_cell(cell):
  """``jacobian(state, projected, weights) -> [B, S, S]`` for a ``memrnn_tf`` cell, with the
  arguments of its ``step`` (``weights``: ``recurrent_weights()``), or ``None``."""
  if isinstance(cell, cells_lib.GRUCell):
    if cell.reset_after:
      return lambda s, p, w: gru(s, p, w, True, cell.bias[1])
    return lambda s, p, w: gru(s, p, tf.concat(w, axis=-1), False)
  if isinstance(cell, cells_lib.LSTMCell):
    return lstm
  if isinstance(cell, cells_lib.SimpleRNNCell):
    return simple_rnn
  return None


def _name(activation):
  return getattr(activation, '__name__', None)


def for_keras_cell(cell):
  """``jacobian(state, inputs) -> [B, S, S]`` for a built stock Keras ``GRUCell``,
  ``LSTMCell`` or ``SimpleRNNCell`` (LSTM state packed ``[h, c]``), or ``None`` for other
  activations than ``tanh``/``sigmoid`` (or another cell)."""
  if _name(cell.activation) != 'tanh':
    return None
  if (isinstance(cell, (keras.layers.GRUCell, keras.layers.LSTMCell))
      and _name(cell.recurrent_activation) != 'sigmoid'):
    return None
  bias = cell.bias if cell.use_bias else None
  input_bias = bias
  if isinstance(cell, keras.layers.GRUCell) and cell.reset_after and bias is not None:
    input_bias = bias[0]

  def project(inputs):
    out = tf.matmul(inputs, cell.kernel)
    return out if input_bias is None else out + input_bias

  if isinstance(cell, keras.layers.GRUCell):
    recurrent_bias = bias[1] if cell.reset_after and bias is not None else None
    return lambda s, i: gru(s, project(i), cell.recurrent_kernel, cell.reset_after,
                            recurrent_bias)
  if isinstance(cell, keras.layers.LSTMCell):
    return lambda s, i: lstm(s, project(i), cell.recurrent_kernel)
  if isinstance(cell, keras.layers.SimpleRNNCell):
    return lambda s, i: simple_rnn(s, project(i), cell.recurrent_kernel)
  return None
