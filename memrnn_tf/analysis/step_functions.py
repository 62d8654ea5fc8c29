"""The one-step map F(state, I) as the slow-point searches see it.

``StepFunction`` wraps F with its analysis coordinates (``to_xi``), its reachable box
(``state_bounds``), an optional split into an input-only part and a step (``prepare``/
``step``), its float64 twin (``with_dtype``) and the cache of the functions compiled for it
(``compiled``) and, for the supported cells, the closed form of dF/dx (``state_jacobian``,
from ``cell_jacobians``). ``step_fn_for_model`` and ``step_fn_for_cell`` build one for a
``MemoryRNN`` or a recurrent cell (``memrnn_tf`` or stock Keras); ``jacobian_fns`` are F's
compiled Jacobians.
"""

import copy

import keras
import numpy as np
import tensorflow as tf

from memrnn_tf.analysis import cell_jacobians
from memrnn_tf.models import cells as cells_lib


class StepFunction:
  """The map F(state, I) of a recurrent cell, with its analysis coordinates.

  Args:
    fn: ``fn(state [B, S], inputs [B, I]) -> next state [B, S]``.
    to_xi: packed state -> analysis coordinates, elementwise (default identity).
    from_xi: inverse of ``to_xi`` (default identity).
    output: packed state -> hidden output ``h`` (default identity).
    prepare: optional ``prepare(inputs [B, I]) -> prepared [B, G]``, the part of F that
      depends on the inputs only (input projection); with it ``step`` must be given.
    step: ``step(state, prepared) -> next state``; ``step(s, prepare(I)) == fn(s, I)``;
      with ``constants``, ``step(state, prepared, constants)``.
    constants: optional ``constants()`` -> tensors ``step`` needs that depend on neither
      the state nor the input (a cell's ``recurrent_weights()``): a search computes them
      once, outside its loop, rather than at every iteration.
    state_size: packed state width, if known.
    state_bounds: ``[S]`` bounds of the reachable states (``|h| < 1``; ``inf`` for
      LSTM's ``c``), the default ``clip`` of the searches; ``None`` if unknown.
    name: for logs.
    input_size: input width ``I``, if known (checked by the searches).
    make_dtype: optional ``make_dtype(dtype) -> StepFunction``: the same map computing in
      ``dtype`` (e.g. on a float64 copy of the cell). Without it ``fn`` itself must accept
      states and inputs of any float dtype.
    state_jacobian: optional closed form of dF/dx, called like ``step`` (``(state,
      prepared)``, or ``(state, prepared, constants)`` with ``constants``) and returning
      ``[B, S, S]`` (row = output, column = input). Without it the Jacobians are computed
      by automatic differentiation of ``step``.
  """

  def __init__(self, fn, to_xi=None, from_xi=None, output=None, prepare=None, step=None,
               state_size=None, state_bounds=None, name='step_fn', constants=None,
               input_size=None, make_dtype=None, state_jacobian=None):
    if (prepare is None) != (step is None):
      raise ValueError('StepFunction: give both prepare and step, or neither')
    self.fn = fn
    self.to_xi = to_xi or (lambda s: s)
    self.from_xi = from_xi or (lambda xi: xi)
    self.output = output or (lambda s: s)
    if constants is not None and step is None:
      raise ValueError('StepFunction: constants need step')
    self._prepare, self._step, self._constants = prepare, step, constants
    self._state_jacobian = state_jacobian
    self.state_size = state_size
    self.state_bounds = None if state_bounds is None else np.asarray(state_bounds, np.float32)
    self.name = name
    self.input_size = input_size
    self._make_dtype = make_dtype
    self._variants = {}
    self._compiled = {}  # see compiled()

  def __call__(self, state, inputs):
    return self.fn(state, inputs)

  def prepare(self, inputs):
    """Input-only part of F, ``[B, I] -> [B, G]`` (identity without a fast path)."""
    return inputs if self._prepare is None else self._prepare(inputs)

  def constants(self):
    """The state- and input-independent tensors of ``step`` (``None`` if there are none)."""
    return None if self._constants is None else self._constants()

  def step(self, state, prepared, constants=None):
    """F given ``prepare(inputs)`` (and ``constants()``, computed here when ``None``)."""
    if self._step is None:
      return self.fn(state, prepared)
    if self._constants is None:
      return self._step(state, prepared)
    return self._step(state, prepared, self.constants() if constants is None else constants)

  @property
  def has_state_jacobian(self):
    """Whether dF/dx has a closed form here (``state_jacobian``)."""
    return self._state_jacobian is not None

  def state_jacobian(self, state, prepared, constants=None):
    """dF/dx in closed form, ``[B, S, S]`` (row = output, column = input).

    Args:
      state: packed states ``[B, S]``.
      prepared: ``prepare(inputs)``.
      constants: ``constants()`` (computed here when ``None``).

    Raises:
      ValueError: if this map has no closed form (``has_state_jacobian``).
    """
    if self._state_jacobian is None:
      raise ValueError(f'{self.name}: no closed-form state Jacobian')
    if self._constants is None:
      return self._state_jacobian(state, prepared)
    return self._state_jacobian(state, prepared,
                                self.constants() if constants is None else constants)

  def speed(self, state, prepared, constants=None):
    """S = ||xi(F(x)) - xi(x)||^2 per point (paper eq. 4), ``[B, S] -> [B]``.

    Args:
      state: packed states ``[B, S]``.
      prepared: ``prepare(inputs)``.
      constants: ``constants()`` (computed here when ``None``).
    """
    return tf.reduce_sum(
        tf.square(self.to_xi(self.step(state, prepared, constants)) - self.to_xi(state)),
        axis=-1)

  def compiled(self, key, build):
    """The function compiled for this map under ``key``, built by ``build()`` on first use.

    The compile cache of the searches, the refinement and the Jacobians: a ``tf.function``
    traces F, so it belongs to the map it traced and is reused by every later call with
    the same static options (``key``, hashable: a name and the options that change the
    graph; batch sizes and option values passed as tensors do not). ``replace`` and
    ``with_dtype`` start empty caches.

    Args:
      key: hashable key, e.g. ``('search', clip_key(bound), jit_compile)``.
      build: ``build() -> function``, called once per key.
    """
    if key not in self._compiled:
      self._compiled[key] = build()
    return self._compiled[key]

  def with_dtype(self, dtype):
    """This map computing in ``dtype`` (``'float32'``: itself; built once and cached)."""
    dtype = tf.as_dtype(dtype)
    if dtype == tf.float32 or self._make_dtype is None:
      return self
    if dtype.name not in self._variants:
      variant = self._make_dtype(dtype.name)
      variant.to_xi = self.to_xi  # elementwise, dtype-generic
      self._variants[dtype.name] = variant
    return self._variants[dtype.name]

  def replace(self, **attributes):
    """A copy with some attributes replaced (compiled functions are not shared; a new
    ``fn`` drops the closed-form Jacobian, which belongs to the old map)."""
    out = copy.copy(self)
    if 'fn' in attributes:
      out._state_jacobian = None
    out.__dict__.update(attributes)
    out._variants, out._compiled = {}, {}
    return out


def as_step_fn(step_fn):
  """``step_fn`` itself if it is a ``StepFunction``, else a ``StepFunction`` around the
  callable ``step_fn(state [B, S], inputs [B, I]) -> [B, S]``.

  Raises:
    ValueError: if ``step_fn`` is not callable.
  """
  if isinstance(step_fn, StepFunction):
    return step_fn
  if not callable(step_fn):
    raise ValueError(f'step_fn must be callable, got {type(step_fn).__name__}')
  return StepFunction(step_fn)


def clip_key(clip):
  """A hashable cache key of a box (``None``, a float or ``[S]`` bounds)."""
  if clip is None:
    return None
  clip = np.asarray(clip, np.float32)
  return float(clip) if clip.ndim == 0 else tuple(clip.tolist())


def state_bounds(units, lstm):
  """``[S]`` bounds of a cell's reachable states: |h| < 1; LSTM's c is unbounded."""
  return np.concatenate([np.ones(units), np.full(units if lstm else 0, np.inf)])


def _cell_in_dtype(cell, dtype):
  """A built copy of a Keras or memrnn_tf cell whose weights are cast to ``dtype``."""
  config = cell.get_config()
  config['dtype'] = dtype
  twin = type(cell).from_config(config)
  twin.build((None, int(cell.kernel.shape[0])))
  twin.set_weights([np.asarray(w, dtype) for w in cell.get_weights()])
  return twin


def step_fn_for_model(model):
  """F of a ``MemoryRNN``: raw inputs ``[B, input_dim]`` through the front-end and the cell.

  ``prepare`` runs the front-end and the input projection once per search. The float64
  variant (``with_dtype``) runs the front-end in float32 and the cell in float64.
  """
  return _model_step_fn(model, model.cell)


def _model_step_fn(model, cell):
  def prepare(inputs):
    features = model.encode(tf.cast(inputs, tf.float32)[:, None, :])[:, 0]
    return cell.project(tf.cast(features, cell.kernel.dtype))

  def one_step(state, inputs):
    return cell.step(prepare(inputs), state)

  return StepFunction(one_step, to_xi=cell.to_xi, from_xi=cell.from_xi,
                      output=cell.output, prepare=prepare,
                      step=lambda state, projected, weights: cell.step(projected, state, weights),
                      constants=cell.recurrent_weights,
                      state_size=cell.state_size,
                      state_bounds=state_bounds(cell.units, cell.state_size > cell.units),
                      state_jacobian=cell_jacobians.for_cell(cell),
                      name=f'{model.name}/{cell.name}', input_size=model.input_dim,
                      make_dtype=lambda dtype: _model_step_fn(model,
                                                              _cell_in_dtype(cell, dtype)))


def step_fn_for_cell(cell, input_dim=None):
  """F of a recurrent cell: a ``memrnn_tf`` cell or a stock Keras GRU/LSTM/SimpleRNN cell.

  For stock Keras cells F calls the cell object itself,
  ``F(state, I) = pack(cell(I, unpack(state))[1])``, with the LSTM state packed as
  ``[h, c]`` and analysis coordinates ``[h, tanh c]``. A Keras ``RNN``/``GRU``/``LSTM``/
  ``SimpleRNN`` layer may be passed for its ``.cell``. ``with_dtype('float64')`` builds
  the same map on a float64 copy of the cell.

  Args:
    cell: the cell (built, or built here from ``input_dim``).
    input_dim: input width, needed only if the cell is not built yet.

  Raises:
    ValueError: for an unsupported cell or an unbuilt cell without ``input_dim``.
  """
  if isinstance(cell, keras.layers.RNN):
    cell = cell.cell
  if not cell.built:
    if input_dim is None:
      raise ValueError(f'{type(cell).__name__} is not built: pass input_dim')
    cell.build((None, int(input_dim)))
  if not isinstance(cell, (cells_lib.RecurrentCell, keras.layers.LSTMCell,
                           keras.layers.GRUCell, keras.layers.SimpleRNNCell)):
    raise ValueError(f'unsupported cell {type(cell).__name__}: expected a memrnn_tf '
                     'RecurrentCell or keras GRUCell, LSTMCell or SimpleRNNCell')
  common = dict(input_size=int(cell.kernel.shape[0]), name=cell.name,
                make_dtype=lambda dtype: step_fn_for_cell(_cell_in_dtype(cell, dtype)))
  if not isinstance(cell, cells_lib.RecurrentCell):
    common['state_jacobian'] = cell_jacobians.for_keras_cell(cell)
  if isinstance(cell, cells_lib.RecurrentCell):
    return StepFunction(lambda state, inputs: cell.one_step(inputs, state), to_xi=cell.to_xi,
                        from_xi=cell.from_xi, output=cell.output, prepare=cell.project,
                        step=lambda state, projected, weights: cell.step(projected, state,
                                                                         weights),
                        constants=cell.recurrent_weights,
                        state_size=cell.state_size,
                        state_bounds=state_bounds(cell.units, cell.state_size > cell.units),
                        state_jacobian=cell_jacobians.for_cell(cell), **common)
  if isinstance(cell, keras.layers.LSTMCell):
    units = cell.units

    def lstm_fn(state, inputs):
      _, (h, c) = cell(inputs, [state[:, :units], state[:, units:]], training=False)
      return tf.concat([h, c], axis=-1)

    return StepFunction(lstm_fn, to_xi=lambda s: cells_lib.lstm_to_xi(s, units),
                        from_xi=lambda xi: cells_lib.lstm_from_xi(xi, units),
                        output=lambda s: s[..., :units], state_size=2 * units,
                        state_bounds=state_bounds(units, True), **common)

  def fn(state, inputs):
    _, new_states = cell(inputs, [state], training=False)
    return new_states[0]

  return StepFunction(fn, state_size=cell.units, state_bounds=state_bounds(cell.units, False),
                      **common)


def jacobian_fns(step_fn):
  """Compiled Jacobians of F w.r.t. the packed state and the inputs (cached on ``step_fn``).

  Returns:
    ``(state_jacobian, input_jacobian)``: ``state_jacobian(x [N, S], inputs [N, I], in_xi)
    -> [N, S, S]`` (row = output, column = input; the closed form where the map has one)
    and ``input_jacobian(x, inputs, in_xi) -> [N, S, I]``; with ``in_xi`` (a Python bool)
    in the xi coordinates by the chain rule (``to_xi`` is elementwise).
  """
  return step_fn.compiled('jacobians', lambda: _build_jacobian_fns(step_fn))


def _build_jacobian_fns(step_fn):
  def xi_scales(x):
    # d xi / d x for an elementwise to_xi (all cells here): the gradient of its sum.
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf.reduce_sum(step_fn.to_xi(x))
    return tape.gradient(y, x)

  def jacobian(x, inputs, in_xi, wrt_state):
    if wrt_state and step_fn.has_state_jacobian:
      y = step_fn(x, inputs)
      jac = step_fn.state_jacobian(x, step_fn.prepare(inputs))
    else:
      wrt = x if wrt_state else inputs
      with tf.GradientTape() as tape:
        tape.watch(wrt)
        y = step_fn(x, inputs)
      jac = tape.batch_jacobian(y, wrt)  # [N, S_out, S_in] or [N, S, I]
    if in_xi:
      # dxi'/dxi = diag(dxi/dx at F(x)) dF/dx diag(dx/dxi at x); dxi'/dI without the last.
      jac = xi_scales(y)[:, :, None] * jac
      if wrt_state:
        jac = jac / xi_scales(x)[:, None, :]
    return jac

  @tf.function(reduce_retracing=True)
  def state_jacobian(x, inputs, in_xi):
    return jacobian(x, inputs, in_xi, True)

  @tf.function(reduce_retracing=True)
  def input_jacobian(x, inputs, in_xi):
    return jacobian(x, inputs, in_xi, False)

  return state_jacobian, input_jacobian
