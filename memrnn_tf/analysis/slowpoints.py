"""Slow points of a recurrent map: compiled, batched search and stability analysis.

Slow points (paper section 6, eq. 4-5) are local minima of the speed

  S(x, I) = ||xi(F(x, I)) - xi(x)||^2

of the one-step map ``F`` with the input ``I`` held fixed. ``x`` is the packed state the
cell carries (LSTM ``[h, c]``) and ``xi`` the paper's analysis coordinates (LSTM
``[h, tanh c]``; ``h`` otherwise). Fixed points are slow points with S = 0.

``find_slow_points`` has two phases, chosen by ``method``:

* ``'newton'`` (default): batched Levenberg-Marquardt (damped Gauss-Newton) on the residual
  ``xi(F(x)) - xi(x)`` with the batch Jacobian, in float64 by default (``newton.py``). It
  reaches fixed points to the float floor in tens of iterations, also near marginal
  attractors, where the smallest singular value of ``dF/dx - I`` is 1e-4 or less and a
  first-order search crawls.
* ``'adam'``: the first-order search: Adam, written by hand on tensors so that the whole
  search is one ``tf.while_loop`` inside one ``tf.function`` (XLA-compiled by default).
  Every point has its own learning rate, which grows slowly while its speed falls and
  shrinks when it rises, and keeps the slowest state it has visited. A point is frozen as
  soon as its speed reaches ``tol`` or stops improving for ``patience`` iterations; the
  loop exits when every point is frozen or after ``max_iters`` iterations. The batch keeps
  its shape (XLA needs static shapes), so frozen points still cost arithmetic.
* ``'adam+newton'``: the first, then the second from its results.
* ``'paper'``: the authors' search (``make_paper_search``): plain Adam at a fixed rate
  schedule for a fixed number of steps (100,000), states clipped to the box after each step,
  one compiled loop.

Whatever the method, every returned point is then judged by the same rules
(``newton.STATUS``): ``fixed_point`` (residual at the float floor and the Gauss-Newton step
negligible), ``slow_point`` (the gradient of S vanishes but S does not: a ghost) or
``not_converged``, with S, the residual, the Gauss-Newton step, the last step taken and the
smallest singular value of ``dF/dx - I`` (packed state).
``SlowPoints.from_points`` judges points found elsewhere the same way.

By default (``clip='auto'``) the initial states and every step stay inside the cell's
reachable region (``StepFunction.state_bounds``: ``|h| <= 1``; LSTM's ``c`` is free):
outside it saturated gates make spurious slow points. The Newton phase is then a projected,
active-set Levenberg-Marquardt on that box, and the status follows the KKT conditions of the
box: a minimum of S on its boundary (units of a trained GRU pinned at ``|h| = 1``, where the
unconstrained root lies outside) is a ``slow_point`` when the gradient vanishes in the free
coordinates and points outward in those on the bound; ``num_at_bound`` says how many
coordinates are on the bound.

The map is given as a ``StepFunction`` (``step_fn_for_model``, ``step_fn_for_cell``) or
any callable ``step_fn(state [B, S], inputs [B, I]) -> state [B, S]`` (which must accept
float64 tensors for the default float64 refinement). A ``StepFunction`` may split F into
``prepare(inputs)`` (the input projection, computed once per search) and
``step(state, prepared)``, and knows how to build its own float64 copy
(``with_dtype``).
"""

import copy
import dataclasses
import json
import os
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from memrnn_tf import files
from memrnn_tf import splits
from memrnn_tf.analysis import newton
from memrnn_tf.models import cells as cells_lib

METHODS = ('newton', 'adam', 'adam+newton', 'paper')
DTYPES = ('float32', 'float64')


# --- the one-step map -----------------------------------------------------------------------
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
      LSTM's ``c``), the default ``clip`` of ``find_slow_points``; ``None`` if unknown.
    name: for logs.
    input_size: input width ``I``, if known (checked by ``find_slow_points``).
    make_dtype: optional ``make_dtype(dtype) -> StepFunction``: the same map computing in
      ``dtype`` (e.g. on a float64 copy of the cell). Without it ``fn`` itself must accept
      states and inputs of any float dtype.
  """

  def __init__(self, fn, to_xi=None, from_xi=None, output=None, prepare=None, step=None,
               state_size=None, state_bounds=None, name='step_fn', constants=None,
               input_size=None, make_dtype=None):
    if (prepare is None) != (step is None):
      raise ValueError('StepFunction: give both prepare and step, or neither')
    self.fn = fn
    self.to_xi = to_xi or (lambda s: s)
    self.from_xi = from_xi or (lambda xi: xi)
    self.output = output or (lambda s: s)
    if constants is not None and step is None:
      raise ValueError('StepFunction: constants need step')
    self._prepare, self._step, self._constants = prepare, step, constants
    self.state_size = state_size
    self.state_bounds = None if state_bounds is None else np.asarray(state_bounds, np.float32)
    self.name = name
    self.input_size = input_size
    self._make_dtype = make_dtype
    self._variants = {}
    self._compiled = {}  # compiled searches, keyed by static options

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
    """A copy with some attributes replaced (compiled functions are not shared)."""
    out = copy.copy(self)
    out.__dict__.update(attributes)
    out._variants, out._compiled = {}, {}
    return out


def _as_step_fn(step_fn, to_xi=None):
  if isinstance(step_fn, StepFunction):
    return step_fn if to_xi is None else step_fn.replace(to_xi=to_xi)
  if not callable(step_fn):
    raise ValueError(f'step_fn must be callable, got {type(step_fn).__name__}')
  return StepFunction(step_fn, to_xi=to_xi)


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
                      state_bounds=_bounds(cell.units, cell.state_size > cell.units),
                      name=f'{model.name}/{cell.name}', input_size=model.input_dim,
                      make_dtype=lambda dtype: _model_step_fn(model,
                                                              _cell_in_dtype(cell, dtype)))


def _bounds(units, lstm):
  """|h| < 1; LSTM's c is unbounded."""
  return np.concatenate([np.ones(units), np.full(units if lstm else 0, np.inf)])


def _lstm_to_xi(units):
  return lambda s: tf.concat([s[..., :units], tf.tanh(s[..., units:])], axis=-1)


def _lstm_from_xi(units, eps=1e-6):
  return lambda xi: tf.concat(
      [xi[..., :units], tf.atanh(tf.clip_by_value(xi[..., units:], -1 + eps, 1 - eps))], -1)


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
  if isinstance(cell, cells_lib.RecurrentCell):
    return StepFunction(lambda state, inputs: cell.one_step(inputs, state), to_xi=cell.to_xi,
                        from_xi=cell.from_xi, output=cell.output, prepare=cell.project,
                        step=lambda state, projected, weights: cell.step(projected, state,
                                                                         weights),
                        constants=cell.recurrent_weights,
                        state_size=cell.state_size,
                        state_bounds=_bounds(cell.units, cell.state_size > cell.units),
                        **common)
  if isinstance(cell, keras.layers.LSTMCell):
    units = cell.units

    def lstm_fn(state, inputs):
      _, (h, c) = cell(inputs, [state[:, :units], state[:, units:]], training=False)
      return tf.concat([h, c], axis=-1)

    return StepFunction(lstm_fn, to_xi=_lstm_to_xi(units), from_xi=_lstm_from_xi(units),
                        output=lambda s: s[..., :units], state_size=2 * units,
                        state_bounds=_bounds(units, True), **common)

  def fn(state, inputs):
    _, new_states = cell(inputs, [state], training=False)
    return new_states[0]

  return StepFunction(fn, state_size=cell.units, state_bounds=_bounds(cell.units, False),
                      **common)


# --- the first-order search (Adam) ---------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SearchOptions:
  """Hyper-parameters of ``find_slow_points`` (see there)."""
  tol: float = 1e-8
  max_iters: int = 20_000
  learning_rate: float = 1e-2
  lr_grow: float = 1.002
  lr_backoff: float = 0.98
  max_learning_rate: float = 0.1
  min_learning_rate: float = 1e-7
  beta1: float = 0.9
  beta2: float = 0.99
  epsilon: float = 1e-12
  patience: int = 1000
  min_rel_improvement: float = 1e-3
  clip: float | str | None = 'auto'


def _speed(step_fn, to_xi, x, prepared, constants=None):
  return tf.reduce_sum(tf.square(to_xi(step_fn.step(x, prepared, constants)) - to_xi(x)),
                       axis=-1)


def make_search_step(step_fn, clip=None):
  """One iteration of the search as a function of its loop state (shared by the compiled
  while loop and by the one-step-per-call baseline in ``benchmarks/slowpoints.py``).

  Args:
    step_fn: a ``StepFunction``.
    clip: ``None``, a float, or a ``[S]`` array of per-coordinate bounds.

  Returns:
    ``body(i, x, x_best, q_best, q_prev, q_ref, m, v, lr, stall, active, iterations,
    prepared, hp, constants=None) -> the same tuple minus prepared, hp and constants``,
    where ``hp`` is a dict of scalar hyper-parameter tensors (``hyperparameters``) and
    ``constants`` is ``step_fn.constants()`` (computed inside every iteration when
    ``None``).
  """
  to_xi = step_fn.to_xi
  bound = None if clip is None else tf.constant(clip, tf.float32)

  def body(i, x, x_best, q_best, q_prev, q_ref, m, v, lr, stall, active, iterations,
           prepared, hp, constants=None):
    with tf.GradientTape() as tape:
      tape.watch(x)
      q = _speed(step_fn, to_xi, x, prepared, constants)
    # Points are independent, so the gradient of the sum is every point's own gradient.
    g = tape.gradient(q, x)
    better = active & (q <= q_best)  # NaN compares False
    x_best = tf.where(better[:, None], x, x_best)
    q_best = tf.where(better, q, q_best)
    # Per-point rate: grows slowly while the speed falls, shrinks when it rises.
    rose = q > q_prev
    lr = tf.where(active, tf.where(rose, tf.maximum(lr * hp['lr_backoff'], hp['min_lr']),
                                   tf.minimum(lr * hp['lr_grow'], hp['max_lr'])), lr)
    # Stalled: no relative improvement of min_rel_improvement for `patience` iterations.
    improved = q_best < q_ref * (1.0 - hp['min_rel'])
    q_ref = tf.where(improved, q_best, q_ref)
    stall = tf.where(improved, tf.zeros_like(stall), stall + tf.cast(active, stall.dtype))
    done = active & ((q_best <= hp['tol']) | (stall >= hp['patience']))
    iterations = tf.where(done, i, iterations)
    active = active & ~done
    # Adam; all points share the step count (frozen points are never read again).
    m = hp['beta1'] * m + (1.0 - hp['beta1']) * g
    v = hp['beta2'] * v + (1.0 - hp['beta2']) * tf.square(g)
    t = tf.cast(i + 1, tf.float32)
    m_hat = m / (1.0 - tf.pow(hp['beta1'], t))
    v_hat = v / (1.0 - tf.pow(hp['beta2'], t))
    x_new = x - lr[:, None] * m_hat / (tf.sqrt(v_hat) + hp['epsilon'])
    if bound is not None:
      x_new = tf.clip_by_value(x_new, -bound, bound)
    x = tf.where(active[:, None], x_new, x_best)
    return i + 1, x, x_best, q_best, q, q_ref, m, v, lr, stall, active, iterations

  return body


def initial_loop_state(x0, learning_rate):
  """Loop state of the search before its first iteration (see ``make_search_step``)."""
  n = tf.shape(x0)[0]
  inf = tf.fill([n], np.float32(np.inf))
  zeros = tf.zeros_like(x0)
  return (tf.constant(0, tf.int32), x0, x0, inf, inf, inf, zeros, zeros,
          tf.fill([n], tf.cast(learning_rate, tf.float32)), tf.zeros([n], tf.int32),
          tf.ones([n], tf.bool), tf.fill([n], tf.constant(-1, tf.int32)))


def hyperparameters(options):
  """Scalar tensors of the options that can change without retracing."""
  o = options
  f = lambda v: tf.constant(v, tf.float32)  # noqa: E731
  return {'tol': f(o.tol), 'lr_grow': f(o.lr_grow), 'lr_backoff': f(o.lr_backoff),
          'max_lr': f(o.max_learning_rate), 'min_lr': f(o.min_learning_rate),
          'beta1': f(o.beta1), 'beta2': f(o.beta2), 'epsilon': f(o.epsilon),
          'min_rel': f(o.min_rel_improvement),
          'patience': tf.constant(o.patience, tf.int32)}


def _clip_key(clip):
  if clip is None:
    return None
  clip = np.asarray(clip, np.float32)
  return float(clip) if clip.ndim == 0 else tuple(clip.tolist())


def _compiled_search(step_fn, clip, jit_compile):
  key = ('search', clip, bool(jit_compile))
  if key in step_fn._compiled:
    return step_fn._compiled[key]
  body = make_search_step(step_fn, None if clip is None else np.asarray(clip, np.float32))

  def search(x0, prepared, max_iters, learning_rate, hp):
    def cond(i, *loop):
      return (i < max_iters) & tf.reduce_any(loop[9])  # loop[9]: active

    constants = step_fn.constants()  # once, outside the loop

    def loop_body(*loop):
      return body(*loop, prepared, hp, constants)

    out = tf.while_loop(cond, loop_body, initial_loop_state(x0, learning_rate),
                        parallel_iterations=1)
    i, x_best, q_best, active, iterations = out[0], out[2], out[3], out[10], out[11]
    # Points still active when the loop ended ran all i iterations.
    iterations = tf.where(active, i, iterations)
    return x_best, q_best, iterations, i

  compiled = tf.function(search, jit_compile=bool(jit_compile), reduce_retracing=True)
  step_fn._compiled[key] = compiled
  return compiled


def default_groups(n):
  """Concurrent searches for ``n`` points: ``min(4, n // 256)`` (at least 1) on CPU, 1 on GPU."""
  if tf.config.list_logical_devices('GPU'):
    return 1
  return int(min(4, max(1, n // 256)))


def _grouped_search(step_fn, clip, jit_compile, groups, n):
  """``groups`` compiled searches over consecutive slices of the points, one graph.

  The TF executor runs the independent searches (one XLA launch each) concurrently.
  Returns a function with the signature and outputs of ``_compiled_search``'s; the loop
  count is the largest of the groups'.
  """
  key = ('grouped', clip, bool(jit_compile), groups, n)
  if key in step_fn._compiled:
    return step_fn._compiled[key]
  search = _compiled_search(step_fn, clip, jit_compile)
  sizes = splits.near_equal_sizes(n, groups)

  @tf.function
  def grouped(x0, prepared, max_iters, learning_rate, hp):
    outs = [search(x, p, max_iters, learning_rate, hp)
            for x, p in zip(tf.split(x0, sizes), tf.split(prepared, sizes))]
    x, q, iterations = (tf.concat([o[j] for o in outs], 0) for j in range(3))
    return x, q, iterations, tf.reduce_max(tf.stack([o[3] for o in outs]))

  step_fn._compiled[key] = grouped
  return grouped


# --- checks ---------------------------------------------------------------------------------
def _check_options(method, dtype, tol, max_iters, newton_iters, learning_rate, patience):
  if method not in METHODS:
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
  if str(dtype) not in DTYPES:
    raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
  for name, value in (('max_iters', max_iters), ('newton_iters', newton_iters),
                      ('patience', patience)):
    if int(value) != value or value < 1:
      raise ValueError(f'{name} must be an integer >= 1, got {value!r}')
  if not 0 <= tol < np.inf:  # also NaN
    raise ValueError(f'tol must be >= 0 and finite, got {tol!r}')
  if not 0 < learning_rate < np.inf:
    raise ValueError(f'learning_rate must be > 0 and finite, got {learning_rate!r}')


def _check_paper_options(num_steps, decay_step, decay_factor):
  if int(num_steps) != num_steps or num_steps < 1:
    raise ValueError(f'num_steps must be an integer >= 1, got {num_steps!r}')
  if int(decay_step) != decay_step or decay_step < 0:
    raise ValueError(f'decay_step must be an integer >= 0, got {decay_step!r}')
  if not decay_factor > 0:
    raise ValueError(f'decay_factor must be > 0, got {decay_factor!r}')


def _check_batch(step_fn, initial_states, inputs):
  """``[N, S]`` float32 states and ``[N, I]`` inputs, or one clear ``ValueError``."""
  x0 = np.asarray(initial_states, np.float32)
  if x0.ndim != 2:
    raise ValueError(f'initial_states must be [N, S], got shape {x0.shape}')
  if x0.shape[0] == 0:
    raise ValueError('initial_states is an empty batch (0 points)')
  size = step_fn.state_size
  if size is not None and x0.shape[1] != size:
    raise ValueError(f'initial_states have width {x0.shape[1]}, but {step_fn.name} has '
                     f'packed states of width {size}')
  inputs = np.asarray(inputs, np.float32)
  if inputs.ndim == 1:
    inputs = inputs[None, :]
  n = x0.shape[0]
  if inputs.ndim != 2 or inputs.shape[0] not in (1, n):
    raise ValueError(f'inputs must be [I] or [{n}, I], got shape {inputs.shape}')
  for name, values in (('initial_states', x0), ('inputs', inputs)):
    bad = int(np.sum(~np.isfinite(values)))
    if bad:  # the search would clip them into range and report a point computed from inf
      raise ValueError(f'{name} hold {bad} non-finite values (inf or nan)')
  if step_fn.input_size is not None and inputs.shape[1] != step_fn.input_size:
    raise ValueError(f'inputs have width {inputs.shape[1]}, but {step_fn.name} takes '
                     f'inputs of width {step_fn.input_size}')
  inputs = np.broadcast_to(inputs, (n, inputs.shape[1])).copy()
  # One evaluation on the first point: a wrong width or a step function that fails shows
  # here, as one line, rather than as an error from inside the compiled search.
  try:
    out = step_fn(tf.constant(x0[:1]), tf.constant(inputs[:1]))
    out_shape = tuple(np.shape(out))
  except (ValueError, TypeError, tf.errors.OpError) as e:
    first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ''
    raise ValueError(f'{step_fn.name} failed on a state [1, {x0.shape[1]}] and an input '
                     f'[1, {inputs.shape[1]}]: {type(e).__name__}: {first}') from None
  if out_shape != (1, x0.shape[1]):
    raise ValueError(f'{step_fn.name} maps a state [1, {x0.shape[1]}] to shape '
                     f'{list(out_shape)}, not to a state of the same width')
  return x0, inputs


def _resolve_clip(step_fn, clip, width):
  """``None`` or ``[S]`` float32 bounds from ``clip`` (``'auto'``: the cell's bounds)."""
  if isinstance(clip, str):
    if clip != 'auto':
      raise ValueError(f"clip must be 'auto', a number, [S] bounds or None, got {clip!r}")
    clip = step_fn.state_bounds
  if clip is None:
    return None
  bound = np.broadcast_to(np.asarray(clip, np.float32), (width,)).copy()
  if not np.all(bound > 0):
    raise ValueError(f'clip bounds must be > 0, got {clip!r}')
  return bound


# --- the search -----------------------------------------------------------------------------
def find_slow_points(step_fn, initial_states, inputs, *, method='newton', to_xi=None,
                     tol=1e-8, max_iters=20_000, learning_rate=None, lr_grow=1.002,
                     lr_backoff=0.98, max_learning_rate=0.1, min_learning_rate=1e-7,
                     beta1=0.9, beta2=0.99, epsilon=1e-12, patience=1000,
                     min_rel_improvement=1e-3, clip='auto', jit_compile=True, groups=None,
                     newton_iters=200, dtype='float64', floor_factor=64.0, xtol=None,
                     gtol=None, num_steps=100_000, decay_step=40_000, decay_factor=0.1):
  """Slow and fixed points of ``F(., I)`` from a batch of initial states.

  ``method='newton'`` (default) runs the compiled batched Levenberg-Marquardt refinement
  (``newton.make_refine``) in ``dtype`` for at most ``newton_iters`` iterations (each one
  batch Jacobian and one extra evaluation of F; points leave the batch when they stop).
  ``method='adam'`` runs the first-order search: Adam on the packed state ``x`` (LSTM:
  ``h`` and ``c``), with a per-point adaptive learning rate, multiplied by ``lr_grow``
  (up to ``max_learning_rate``) after a step that did not increase the speed, by
  ``lr_backoff`` (down to ``min_learning_rate``) after one that did; each point returns
  the slowest state it visited and is frozen when that speed is ``<= tol`` or has not
  fallen by a factor ``1 - min_rel_improvement`` in ``patience`` iterations, the rest
  continue up to ``max_iters``. ``'adam+newton'`` refines the first-order results.
  ``method='paper'`` is the authors' search (``make_paper_search``): plain Adam (TensorFlow 1's
  defaults ``beta1 = 0.9``, ``beta2 = 0.999``, ``epsilon = 1e-8``; the ``beta``/``epsilon``
  arguments here are the ``'adam'`` method's) on S for exactly ``num_steps`` steps, at
  ``learning_rate`` (default 1e-3) times ``decay_factor`` from step ``decay_step`` on, every
  state clipped to the box ``clip`` after each step (the default ``'auto'`` is the authors'
  ``[-1, 1]`` on ``h``; LSTM's ``c`` stays free), all points in one batch, in float32. It
  has no stopping test: ``iterations`` is ``num_steps`` for every point, and the status
  comes from the judgement below, like every method's. The
  compiled functions are cached on the ``StepFunction`` (batch size and option values may
  change without recompiling).

  Every returned point is then judged in ``dtype`` with the same bounds
  (``newton.make_diagnose``): status ``fixed_point``, ``slow_point`` or ``not_converged``,
  with S, the residual, the projected gradient and Gauss-Newton step, the last step, the
  number of coordinates on the bound and the smallest singular value of the residual's
  Jacobian (see ``SlowPoints``).

  Args:
    step_fn: a ``StepFunction`` or ``step_fn(state [B, S], inputs [B, I]) -> [B, S]``.
    initial_states: packed states ``[N, S]``, N >= 1.
    inputs: one input ``[I]`` for all points, or one per point ``[N, I]``; constant
      during the search.
    method: ``'newton'``, ``'adam'``, ``'adam+newton'`` or ``'paper'``.
    to_xi: analysis coordinates (default: the ``StepFunction``'s, else identity).
    tol: speed at which the first-order search stops a point (``'adam'`` methods).
    max_iters: first-order iteration limit (each iteration is one gradient evaluation).
    learning_rate: initial per-point Adam rate (``'adam'`` methods, default 1e-2), or the
      authors' rate before the decay (``'paper'``, default 1e-3).
    lr_grow, lr_backoff, max_learning_rate, min_learning_rate: the rate schedule above.
    beta1, beta2, epsilon: Adam.
    patience, min_rel_improvement: stall criterion above.
    clip: ``'auto'`` (default: ``StepFunction.state_bounds``, i.e. ``|h| <= 1`` and LSTM's
      ``c`` free; nothing for a plain callable), a float, ``[S]`` per-coordinate bounds or
      ``None``. The initial states are clipped to ``[-clip, clip]``, and so is every step.
      GRU and SimpleRNN states never leave (-1, 1); outside it saturated gates create
      spurious slow points. The Newton phase and the status then treat the box as a
      constraint (projected Levenberg-Marquardt, KKT status; module docstring).
    jit_compile: compile the first-order search with XLA (much faster on CPU for small
      batches; the Newton phase never uses XLA, see ``newton.py``).
    groups: the first-order search's points are split into this many independent searches
      run concurrently (same results). ``None``: ``default_groups(N)``, i.e.
      ``min(4, N // 256)`` on CPU and 1 on GPU.
    newton_iters: Levenberg-Marquardt iteration limit.
    num_steps, decay_step, decay_factor: the ``'paper'`` search's step count and rate
      schedule (``PaperOptions``).
    dtype: ``'float64'`` (default) or ``'float32'``: of the refinement and the judgement.
      A ``StepFunction`` from ``step_fn_for_cell``/``step_fn_for_model`` builds a copy of
      the cell in that dtype; a plain callable must accept tensors of it.
    floor_factor, xtol, gtol: the status thresholds (``newton.Tolerances.for_dtype``):
      residual floor ``floor_factor * eps * sqrt(S) * max(1, |x|_inf)``, negligible
      Gauss-Newton step ``xtol * max(1, |x|_inf)`` (default ``sqrt(eps)``), vanishing
      relative gradient ``|J^T r| / |r| <= gtol`` (default ``sqrt(eps)``; with ``clip``,
      of the gradient in the coordinates not held on the bound).

  Returns:
    ``SlowPoints`` (points in ``dtype``).

  Raises:
    ValueError: one line, for a bad argument: a state or input of the wrong width, an
      empty batch, ``max_iters``, ``newton_iters`` or ``num_steps`` < 1, a negative
      ``decay_step``, a non-positive ``decay_factor``, a negative ``tol``, an unknown
      ``method`` or ``dtype``, or a step function that fails on the first point.
  """
  begin = time.perf_counter()
  step_fn = _as_step_fn(step_fn, to_xi)
  if learning_rate is None:
    learning_rate = PaperOptions.learning_rate if method == 'paper' else 1e-2
  _check_options(method, dtype, tol, max_iters, newton_iters, learning_rate, patience)
  paper = None
  if method == 'paper':
    _check_paper_options(num_steps, decay_step, decay_factor)
    paper = PaperOptions(num_steps=int(num_steps), learning_rate=float(learning_rate),
                         decay_step=int(decay_step), decay_factor=float(decay_factor))
  x0, inputs = _check_batch(step_fn, initial_states, inputs)
  n, width = x0.shape
  bound = _resolve_clip(step_fn, clip, width)
  if bound is not None:
    x0 = np.clip(x0, -bound, bound)
  options = SearchOptions(tol=tol, max_iters=max_iters, learning_rate=learning_rate,
                          lr_grow=lr_grow, lr_backoff=lr_backoff,
                          max_learning_rate=max_learning_rate,
                          min_learning_rate=min_learning_rate, beta1=beta1, beta2=beta2,
                          epsilon=epsilon, patience=patience,
                          min_rel_improvement=min_rel_improvement, clip=clip)
  tolerances = newton.Tolerances.for_dtype(dtype, floor_factor, xtol, gtol)
  # The 'paper' search records its own options (info['paper']), not the 'adam' method's.
  info = {**({} if paper else dataclasses.asdict(options)),
          'clip': None if bound is None else bound.tolist(),
          'method': method, 'dtype': str(dtype), 'newton_iters': int(newton_iters),
          'tolerances': dataclasses.asdict(tolerances), 'step_fn': step_fn.name}
  x, iterations, last = x0, np.zeros(n, np.int64), np.full(n, np.nan)
  if method in ('adam', 'adam+newton'):
    x, its, adam_info = _adam_phase(step_fn, x0, inputs, options, bound, jit_compile, groups)
    iterations += its
    info.update(adam_info)
  if method == 'paper':
    x, iterations, paper_info = _paper_phase(step_fn, x0, inputs, paper, bound, jit_compile)
    info.update(paper_info)
  if method in ('newton', 'adam+newton'):
    x, its, last, newton_info = refine(step_fn, x, inputs, dtype, bound, newton_iters,
                                       tolerances)
    iterations += its
    info.update(newton_info)
  result = SlowPoints.from_points(step_fn, x, inputs, dtype=dtype, tolerances=tolerances,
                                  initial_states=x0, clip=bound)
  result.iterations, result.last_steps = iterations, last
  info['seconds'] = time.perf_counter() - begin  # with tracing, the judgement and transfers
  result.info.update(info)
  counts = result.status_counts()
  logging.info('Slow-point search (%s, %s): %d points, %d fixed points, %d slow points, '
               '%d not converged, %.2f s', method, dtype, n, counts['fixed_point'],
               counts['slow_point'], counts['not_converged'], info['seconds'])
  return result


def _adam_phase(step_fn, x0, inputs, options, bound, jit_compile, groups):
  """The first-order search in float32: ``(points, iterations, info)``."""
  n = x0.shape[0]
  prepared = step_fn.prepare(tf.constant(inputs))  # once, outside the loop
  groups = default_groups(n) if groups is None else int(groups)
  if groups < 1:
    raise ValueError(f'groups must be >= 1, got {groups}')
  groups = min(groups, n)
  key = _clip_key(bound)
  search = (_grouped_search(step_fn, key, jit_compile, groups, n) if groups > 1
            else _compiled_search(step_fn, key, jit_compile))
  start = time.perf_counter()
  x, q, iterations, total = search(tf.constant(x0), prepared,
                                   tf.constant(int(options.max_iters), tf.int32),
                                   tf.constant(options.learning_rate, tf.float32),
                                   hyperparameters(options))
  q = q.numpy()
  info = {'jit_compile': bool(jit_compile), 'groups': groups, 'loop_iterations': int(total),
          'adam_seconds': time.perf_counter() - start,
          'adam_num_below_tol': int(np.sum(q <= options.tol))}
  return x.numpy(), iterations.numpy().astype(np.int64), info


# --- the authors' first-order search (method='paper') ---------------------------------------
@dataclasses.dataclass(frozen=True)
class PaperOptions:
  """The authors' slow-point search (``method='paper'``; see ``make_paper_search``).

  Attributes:
    num_steps: Adam steps, a fixed count (no stopping test).
    learning_rate: Adam's rate before ``decay_step``.
    decay_step: the first step (0-based) at ``learning_rate * decay_factor``.
    decay_factor: the rate's factor from ``decay_step`` on.
    beta1, beta2, epsilon: Adam's defaults in TensorFlow 1 (Keras differs only in
      ``epsilon = 1e-7``).
  """
  num_steps: int = 100_000
  learning_rate: float = 1e-3
  decay_step: int = 40_000
  decay_factor: float = 0.1
  beta1: float = 0.9
  beta2: float = 0.999
  epsilon: float = 1e-8


def make_paper_search(step_fn, clip=None, jit_compile=True):
  """The authors' search as one compiled loop: plain Adam on the sum of the speeds.

  Every step: ``g = dS/dx`` (S in xi coordinates, the gradient taken w.r.t. the packed
  state; points are independent, so each gets its own gradient), Adam's update in
  TensorFlow 1's form (``alpha_t = lr_t * sqrt(1 - beta2^t) / (1 - beta1^t)``,
  ``x -= alpha_t * m / (sqrt(v) + epsilon)``) with ``lr_t = learning_rate`` for
  ``t <= decay_step`` and ``learning_rate * decay_factor`` after (``t`` counts from 1), then
  ``x`` clipped to ``[-clip, clip]``. Float32, like the authors' code.

  Args:
    step_fn: a ``StepFunction``.
    clip: ``None`` or ``[S]`` bounds (``inf``: free).
    jit_compile: compile with XLA.

  Returns:
    ``search(x0 [N, S], prepared, num_steps, learning_rate, decay_step, decay_factor,
    beta1, beta2, epsilon) -> (x [N, S], S at x [N])``; the scalars are tensors, so that
    they change without retracing.
  """
  to_xi = step_fn.to_xi
  bound = None if clip is None else tf.constant(np.asarray(clip, np.float32))

  def search(x0, prepared, num_steps, learning_rate, decay_step, decay_factor, beta1, beta2,
             epsilon):
    constants = step_fn.constants()  # once, outside the loop

    def body(t, x, m, v):
      with tf.GradientTape() as tape:
        tape.watch(x)
        q = _speed(step_fn, to_xi, x, prepared, constants)
      g = tape.gradient(q, x)
      lr = tf.where(t < decay_step, learning_rate, learning_rate * decay_factor)
      m = beta1 * m + (1.0 - beta1) * g
      v = beta2 * v + (1.0 - beta2) * tf.square(g)
      step = tf.cast(t + 1, tf.float32)
      alpha = lr * tf.sqrt(1.0 - tf.pow(beta2, step)) / (1.0 - tf.pow(beta1, step))
      x = x - alpha * m / (tf.sqrt(v) + epsilon)
      if bound is not None:
        x = tf.clip_by_value(x, -bound, bound)
      return t + 1, x, m, v

    zeros = tf.zeros_like(x0)
    _, x, _, _ = tf.while_loop(lambda t, *_: t < num_steps, body,
                               (tf.constant(0, tf.int32), x0, zeros, zeros),
                               parallel_iterations=1)
    return x, _speed(step_fn, to_xi, x, prepared, constants)

  return tf.function(search, jit_compile=bool(jit_compile), reduce_retracing=True)


def _paper_phase(step_fn, x0, inputs, options, bound, jit_compile):
  """The authors' search in float32: ``(points, iterations, info)``."""
  key = ('paper', _clip_key(bound), bool(jit_compile))
  if key not in step_fn._compiled:
    step_fn._compiled[key] = make_paper_search(step_fn, bound, jit_compile)
  search = step_fn._compiled[key]
  f = lambda v: tf.constant(v, tf.float32)  # noqa: E731
  o = options
  start = time.perf_counter()
  x, q = search(tf.constant(x0), step_fn.prepare(tf.constant(inputs)),
                tf.constant(int(o.num_steps), tf.int32), f(o.learning_rate),
                tf.constant(int(o.decay_step), tf.int32), f(o.decay_factor), f(o.beta1),
                f(o.beta2), f(o.epsilon))
  x = x.numpy()
  info = {'paper': dataclasses.asdict(o), 'jit_compile': bool(jit_compile),
          'paper_seconds': time.perf_counter() - start,
          'paper_final_speeds_float32': q.numpy().tolist()}
  return x, np.full(len(x), int(o.num_steps), np.int64), info


def refine(step_fn, initial_states, inputs, dtype='float64', clip=None, max_iters=200,
           tolerances=None):
  """Levenberg-Marquardt refinement (``newton.make_refine``) in memory-bounded chunks.

  Args:
    step_fn: a ``StepFunction``.
    initial_states: ``[N, S]`` (checked by the caller).
    inputs: ``[N, I]``.
    dtype: of the iteration.
    clip: ``None`` or ``[S]`` bounds (``inf``: free): projected, active-set iteration on
      the box (``newton.py``).
    max_iters: iteration limit.
    tolerances: ``newton.Tolerances`` (default for ``dtype``).

  Returns:
    ``(points [N, S] in dtype, iterations [N], last accepted step max-abs [N], info)``.
  """
  variant = step_fn.with_dtype(dtype)
  tolerances = tolerances or newton.Tolerances.for_dtype(dtype)
  key = ('newton', str(dtype), _clip_key(clip))
  if key not in variant._compiled:
    variant._compiled[key] = newton.make_refine(
        variant, None if clip is None else np.asarray(clip, np.float64))
  run = variant._compiled[key]
  tol = newton.tolerance_tensors(tolerances, dtype)
  n, width = np.shape(initial_states)
  size = newton.chunk_size(width, np.dtype(dtype).itemsize)
  start = time.perf_counter()
  outs, loops, linearised = [], 0, 0
  for s in range(0, n, size):
    chunk = slice(s, min(n, s + size))
    x0 = tf.constant(np.asarray(initial_states[chunk], dtype))
    prepared = variant.prepare(tf.constant(np.asarray(inputs[chunk], dtype)))
    x, its, last, stop, total, count = run(x0, prepared, tf.constant(int(max_iters)), tol)
    outs.append((x.numpy(), its.numpy(), last.numpy(), stop.numpy()))
    loops = max(loops, int(total))
    linearised += int(count)
  x, its, last, stop = (np.concatenate([o[j] for o in outs]) for j in range(4))
  reasons = {name: int(np.sum(stop == code)) for code, name in enumerate(newton.STOP_REASONS)}
  info = {'newton_seconds': time.perf_counter() - start, 'newton_loop_iterations': loops,
          'newton_chunk': size, 'newton_stopped': reasons,
          'newton_linearisations': linearised}
  return x, its.astype(np.int64), last, info


# --- results --------------------------------------------------------------------------------
def _jacobian_fns(step_fn):
  """Compiled Jacobians of F w.r.t. the packed state and the inputs (cached)."""
  if 'jacobians' in step_fn._compiled:
    return step_fn._compiled['jacobians']

  def xi_scales(x):
    # d xi / d x for an elementwise to_xi (all cells here): the gradient of its sum.
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf.reduce_sum(step_fn.to_xi(x))
    return tape.gradient(y, x)

  @tf.function(reduce_retracing=True)
  def state_jacobian(x, inputs, in_xi):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = step_fn(x, inputs)
    jac = tape.batch_jacobian(y, x)  # [N, S_out, S_in]
    if in_xi:
      # dxi'/dxi = diag(dxi/dx at F(x)) dF/dx diag(dx/dxi at x)
      jac = xi_scales(y)[:, :, None] * jac / xi_scales(x)[:, None, :]
    return jac

  @tf.function(reduce_retracing=True)
  def input_jacobian(x, inputs, in_xi):
    with tf.GradientTape() as tape:
      tape.watch(inputs)
      y = step_fn(x, inputs)
    jac = tape.batch_jacobian(y, inputs)  # [N, S, I]
    if in_xi:
      jac = xi_scales(y)[:, :, None] * jac
    return jac

  step_fn._compiled['jacobians'] = (state_jacobian, input_jacobian)
  return state_jacobian, input_jacobian


def _batched(fn, n, batch_size):
  return np.concatenate([fn(slice(s, min(n, s + batch_size))) for s in range(0, n, batch_size)])


@dataclasses.dataclass
class SlowPoints:
  """Result of ``find_slow_points`` (numpy arrays, N points of packed size S).

  The per-point judgement (``status`` and the numbers it rests on) is made in the
  refinement dtype at ``points`` (``newton.diagnose``); see the module docstring.

  Attributes:
    points: packed states ``[N, S]`` (LSTM ``[h, c]``), in the refinement dtype.
    xi: analysis coordinates ``[N, S]`` (LSTM ``[h, tanh c]``).
    speeds: S at the points ``[N]``.
    initial_states: packed initial states ``[N, S]`` (after clipping).
    inputs: the constant inputs ``[N, I]``.
    iterations: iterations each point ran before it stopped ``[N]`` (first-order plus
      Newton; 0 for ``from_points``).
    converged: ``status == 'fixed_point'`` ``[N]``.
    initial_speeds: S at the initial states ``[N]``.
    initial_xi: the initial states in xi coordinates ``[N, S]``.
    eigvals: eigenvalues of dF/dx ``[N, S]`` by decreasing modulus, once computed.
    status: ``'fixed_point'``, ``'slow_point'`` or ``'not_converged'`` ``[N]``.
    residuals: ``||F(x) - x||_2`` in the packed state ``[N]`` (``sqrt(S)`` except for LSTM).
    gradients: ``||J^T r||_2`` with ``r = F(x) - x``, ``J = dF/dx - I`` ``[N]``; with bounds,
      of the projected gradient (coordinates on the bound whose gradient points outward
      left out).
    newton_steps: max-abs Gauss-Newton step at the point ``[N]``: how far the linearised
      residual's root is (with bounds: the step in the free coordinates).
    last_steps: max-abs last step the Levenberg-Marquardt iteration accepted ``[N]`` (NaN
      if none ran, inf if none was accepted).
    sigma_min: smallest singular value of ``J`` ``[N]``.
    num_at_bound: coordinates on the bound ``|x| = clip`` ``[N]`` (0 without bounds).
    multiplicity: how many points ``unique`` merged into each ``[N]`` (else ``None``).
    info: search options and timings (JSON-serialisable).
  """
  points: np.ndarray
  xi: np.ndarray
  speeds: np.ndarray
  initial_states: np.ndarray
  inputs: np.ndarray
  iterations: np.ndarray
  converged: np.ndarray
  initial_speeds: np.ndarray | None = None
  initial_xi: np.ndarray | None = None
  eigvals: np.ndarray | None = None
  status: np.ndarray | None = None
  residuals: np.ndarray | None = None
  gradients: np.ndarray | None = None
  newton_steps: np.ndarray | None = None
  last_steps: np.ndarray | None = None
  sigma_min: np.ndarray | None = None
  num_at_bound: np.ndarray | None = None
  multiplicity: np.ndarray | None = None
  info: dict = dataclasses.field(default_factory=dict)

  _ARRAYS = ('points', 'xi', 'speeds', 'initial_states', 'inputs', 'iterations',
             'converged', 'initial_speeds', 'initial_xi', 'eigvals', 'status', 'residuals',
             'gradients', 'newton_steps', 'last_steps', 'sigma_min', 'num_at_bound',
             'multiplicity')

  @classmethod
  def from_points(cls, step_fn, points, inputs, *, dtype='float64', tolerances=None,
                  initial_states=None, batch_size=None, clip='auto'):
    """Judges given points (status, S, residual, steps, smallest singular value).

    Args:
      step_fn: a ``StepFunction`` or callable, as for ``find_slow_points``.
      points: packed states ``[N, S]``.
      inputs: ``[I]`` or ``[N, I]``.
      dtype: of the evaluation (``'float64'`` default).
      tolerances: ``newton.Tolerances`` (default ``Tolerances.for_dtype(dtype)``).
      initial_states: ``[N, S]`` the points started from (default ``points``).
      batch_size: points per Jacobian evaluation (default ``newton.chunk_size``).
      clip: the box the points are judged in, as for ``find_slow_points`` (default
        ``'auto'``: the cell's reachable region; ``None``: unconstrained rules). On its
        boundary a minimum of S over the box is a ``slow_point`` (KKT); a point outside it
        is never one.

    Raises:
      ValueError: as ``find_slow_points`` for wrong widths, an empty batch or bad ``clip``.
    """
    step_fn = _as_step_fn(step_fn)
    if str(dtype) not in DTYPES:
      raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    _, inputs = _check_batch(step_fn, np.asarray(points, np.float32), inputs)
    points = np.asarray(points, dtype)
    bound = _resolve_clip(step_fn, clip, points.shape[1])
    x0 = points if initial_states is None else np.asarray(initial_states)
    tolerances = tolerances or newton.Tolerances.for_dtype(dtype)
    variant = step_fn.with_dtype(dtype)
    key = ('diagnose', _clip_key(bound))
    if key not in variant._compiled:
      variant._compiled[key] = newton.make_diagnose(
          variant, None if bound is None else np.asarray(bound, np.float64))
    diagnose = variant._compiled[key]
    tol = newton.tolerance_tensors(tolerances, dtype)
    size = batch_size or newton.chunk_size(points.shape[1], np.dtype(dtype).itemsize)
    parts = []
    for s in range(0, len(points), size):
      chunk = slice(s, s + size)
      prepared = variant.prepare(tf.constant(np.asarray(inputs[chunk], dtype)))
      out = diagnose(tf.constant(points[chunk]), prepared, tol)
      out = {k: v.numpy() for k, v in out.items()}
      out['sigma_min'] = newton.smallest_singular_values(out.pop('jacobian'))
      parts.append(out)
    d = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    speeds = np.where(np.isfinite(d['speed']), d['speed'], np.nan)
    x0_t = tf.constant(np.asarray(x0, dtype))
    initial_speeds = np.concatenate([_speed(
        variant, variant.to_xi, x0_t[s:s + size],
        variant.prepare(tf.constant(np.asarray(inputs[s:s + size], dtype)))).numpy()
                                     for s in range(0, len(points), size)])
    status = np.asarray(newton.STATUS)[d['status']]
    return cls(points=points, xi=variant.to_xi(tf.constant(points)).numpy(), speeds=speeds,
               initial_states=np.asarray(x0), inputs=inputs,
               iterations=np.zeros(len(points), np.int64), converged=status == 'fixed_point',
               initial_speeds=initial_speeds, initial_xi=variant.to_xi(x0_t).numpy(),
               status=status, residuals=d['residual'], gradients=d['gradient'],
               newton_steps=d['newton_step'], last_steps=np.full(len(points), np.nan),
               sigma_min=d['sigma_min'], num_at_bound=d['num_at_bound'].astype(np.int64),
               info={'dtype': str(dtype), 'tolerances': dataclasses.asdict(tolerances),
                     'step_fn': step_fn.name,
                     'clip': None if bound is None else bound.tolist()})

  def status_counts(self):
    """``{'fixed_point': n, 'slow_point': n, 'not_converged': n}`` (weighted by
    ``multiplicity`` when set)."""
    weights = np.ones(len(self)) if self.multiplicity is None else self.multiplicity
    status = self.status if self.status is not None else np.full(len(self), '')
    return {name: int(np.sum(weights[status == name])) for name in newton.STATUS}

  def __len__(self):
    return int(self.points.shape[0])

  def subset(self, index):
    """The points selected by an index array or boolean mask."""
    index = np.asarray(index)
    kw = {k: (None if getattr(self, k) is None else getattr(self, k)[index])
          for k in self._ARRAYS}
    return SlowPoints(**kw, info=dict(self.info))

  # --- linearisation ----------------------------------------------------------------------
  def _in_dtype(self, step_fn):
    """The map computing in the points' dtype (float64 points: on a float64 cell copy)."""
    return _as_step_fn(step_fn).with_dtype(self.points.dtype.name)

  def _tensors(self):
    dtype = self.points.dtype
    return tf.constant(self.points), tf.constant(np.asarray(self.inputs, dtype))

  def jacobians(self, step_fn, coords='xi', batch_size=256):
    """Jacobians of F at the points, ``[N, S, S]`` (row = output, column = input).

    ``coords='xi'`` (default): d xi(F) / d xi, the paper's coordinates, by the chain rule
    from the Jacobian w.r.t. the packed state (``to_xi`` is elementwise). Identical to
    ``coords='state'`` (dF/dx) for GRU and SimpleRNN; for LSTM the two are similar
    matrices at a fixed point, so their eigenvalues agree there.

    Args:
      step_fn: the ``StepFunction`` (or callable) the points were found with.
      coords: ``'xi'`` or ``'state'``.
      batch_size: points per compiled ``batch_jacobian`` call.
    """
    if coords not in ('xi', 'state'):
      raise ValueError(f"coords must be 'xi' or 'state', got {coords!r}")
    state_jacobian, _ = _jacobian_fns(self._in_dtype(step_fn))
    x, inputs = self._tensors()
    return _batched(lambda s: state_jacobian(x[s], inputs[s], coords == 'xi').numpy(),
                    len(self), batch_size)

  def input_jacobians(self, step_fn, coords='xi', batch_size=64):
    """Jacobians w.r.t. the input, ``[N, S, I]`` (``d xi(F) / dI`` or ``dF/dI``)."""
    if coords not in ('xi', 'state'):
      raise ValueError(f"coords must be 'xi' or 'state', got {coords!r}")
    _, input_jacobian = _jacobian_fns(self._in_dtype(step_fn))
    x, inputs = self._tensors()
    return _batched(lambda s: input_jacobian(x[s], inputs[s], coords == 'xi').numpy(),
                    len(self), batch_size)

  def eigenvalues(self, step_fn=None):
    """Eigenvalues of the Jacobian of F at the points, ``[N, S]`` complex, by decreasing
    modulus.

    Computed from dF/dx in the packed state (``jacobians(coords='state')``), stored in
    ``eigvals``, on the first call, which needs ``step_fn``. At a fixed point dF/dx and the
    paper's d xi(F) / d xi are similar matrices (``to_xi`` is elementwise), so their
    eigenvalues agree; dF/dx stays finite where LSTM's tanh(c) saturates (|c| > ~9 in
    float32), where the xi chart is degenerate and d xi(F) / d xi is not. Points whose
    Jacobian is not finite get NaN eigenvalues.
    """
    if self.eigvals is None:
      if step_fn is None:
        raise ValueError('eigenvalues not computed yet: pass step_fn')
      jac = self.jacobians(step_fn, coords='state').astype(np.float64)
      finite = np.all(np.isfinite(jac), axis=(1, 2))
      ev = np.full(jac.shape[:2], np.nan, np.complex128)
      if finite.any():
        ev[finite] = np.linalg.eigvals(jac[finite])
      order = np.argsort(-np.abs(ev), axis=1, kind='stable')
      self.eigvals = np.take_along_axis(ev, order, axis=1).astype(np.complex128)
    return self.eigvals

  def n_unstable(self, step_fn=None, threshold=1.0):
    """Number of unstable modes (``|lambda| > threshold``, default 1) per point, ``[N]``;
    -1 where the eigenvalues are not finite (unknown, never silently 0).

    Near-marginal modes (|lambda| = 1 + 1e-4, e.g. saturated GRU units) count as
    unstable at the default threshold; raise it to ignore them.
    """
    ev = self.eigenvalues(step_fn)
    count = np.sum(np.abs(ev) > threshold, axis=1)
    return np.where(np.all(np.isfinite(ev), axis=1), count, -1)

  def time_constants(self, step_fn=None, k=1):
    """Slowest time constants ``-1 / log|lambda|`` (in steps), ``[N, k]`` (``[N]`` if k=1).

    Taken over the ``k`` largest moduli; ``inf`` for ``|lambda| >= 1`` (no decay).
    """
    mod = np.abs(self.eigenvalues(step_fn)[:, :k])
    with np.errstate(divide='ignore'):
      tau = np.where(mod < 1.0, -1.0 / np.log(np.maximum(mod, 1e-300)), np.inf)
    return tau[:, 0] if k == 1 else tau

  def readout(self, fn, batch_size=1024):
    """``fn(points [n, S]) -> [n, K]`` applied to the packed points (e.g. probabilities
    read out when the trigger arrives; see ``procedures.trigger_readout_fn``)."""
    x = tf.constant(self.points, tf.float32)
    return _batched(lambda s: np.asarray(fn(x[s])), len(self), batch_size)

  # --- selection --------------------------------------------------------------------------
  def unique(self, tol=1e-3, return_index=False):
    """Deduplicated points: every point joins the slowest kept point within ``tol``
    (max-abs distance in xi coordinates), else is kept itself; points are visited in
    order of speed, so each group keeps its lowest-S point. Non-finite points are dropped.

    Returns:
      ``SlowPoints`` in order of speed with ``multiplicity`` set (how many points each
      kept one stands for; multiplicities already set add up), and the kept indices if
      ``return_index``.
    """
    if not 0 <= tol < np.inf:  # also NaN
      raise ValueError(f'unique(tol) needs a finite tol >= 0, got {tol!r}')
    finite = np.all(np.isfinite(self.xi), axis=1)
    order = np.argsort(np.where(np.isfinite(self.speeds), self.speeds, np.inf),
                       kind='stable')
    weights = (np.ones(len(self), np.int64) if self.multiplicity is None
               else np.asarray(self.multiplicity, np.int64))
    kept, counts = [], []
    for i in order[finite[order]]:
      if kept:
        dist = np.max(np.abs(self.xi[kept] - self.xi[i]), axis=1)
        j = int(np.argmin(dist))
        if dist[j] <= tol:
          counts[j] += weights[i]
          continue
      kept.append(i)
      counts.append(weights[i])
    kept = np.asarray(kept, np.int64)
    out = self.subset(kept)
    out.multiplicity = np.asarray(counts, np.int64)
    return (out, kept) if return_index else out

  def exclude_outliers(self, distance_scale=10.0, max_speed=None, return_index=False):
    """Drops runaway points and (optionally) points faster than ``max_speed``.

    A point is an outlier when its distance to the centroid of the initial states (in xi
    coordinates) exceeds ``distance_scale`` times the mean distance of the initial states
    to that centroid (FixedPointFinder's criterion). Non-finite points are dropped too.
    """
    xi0 = self.initial_xi if self.initial_xi is not None else self.initial_states
    centroid = xi0.mean(axis=0)
    spread = np.mean(np.linalg.norm(xi0 - centroid, axis=1))
    dist = np.linalg.norm(self.xi - centroid, axis=1)
    keep = np.isfinite(dist) & np.isfinite(self.speeds)
    if distance_scale is not None and spread > 0:
      keep &= dist <= distance_scale * spread
    if max_speed is not None:
      keep &= self.speeds <= max_speed
    index = np.flatnonzero(keep)
    out = self.subset(index)
    return (out, index) if return_index else out

  # --- files ------------------------------------------------------------------------------
  def summary(self):
    """JSON-serialisable summary (counts, speed statistics, options)."""
    speeds = self.speeds[np.isfinite(self.speeds)]
    out = {'num_points': len(self), 'state_size': int(self.points.shape[1]),
           'num_converged': int(np.sum(self.converged)), 'status': self.status_counts(),
           'iterations_max': int(self.iterations.max()) if len(self) else 0,
           'iterations_median': float(np.median(self.iterations)) if len(self) else 0.0,
           'speed_min': float(speeds.min()) if speeds.size else None,
           'speed_median': float(np.median(speeds)) if speeds.size else None,
           'speed_max': float(speeds.max()) if speeds.size else None,
           'info': self.info}
    if self.eigvals is not None:
      out['n_unstable'] = self.n_unstable().tolist()
    return out

  def save(self, path_prefix, extra=None):
    """Writes ``path_prefix.npz`` (arrays) and ``path_prefix.json`` (summary + ``extra``).

    Returns:
      The ``.npz`` path.
    """
    prefix = path_prefix[:-4] if path_prefix.endswith('.npz') else path_prefix
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    arrays = {k: getattr(self, k) for k in self._ARRAYS if getattr(self, k) is not None}
    arrays['info_json'] = np.asarray(json.dumps(self.info, default=files.json_default))
    with open(prefix + '.npz.tmp', 'wb') as f:  # atomic: readers never see half a file
      np.savez(f, **arrays)
    os.replace(prefix + '.npz.tmp', prefix + '.npz')
    summary = self.summary()
    if extra:
      summary.update(extra)
    with open(prefix + '.json.tmp', 'w') as f:
      json.dump(summary, f, indent=2, default=files.json_default)
    os.replace(prefix + '.json.tmp', prefix + '.json')
    return prefix + '.npz'

  @classmethod
  def load(cls, path):
    """Reads what ``save`` wrote (``prefix`` or ``prefix.npz``)."""
    path = path if path.endswith('.npz') else path + '.npz'
    with np.load(path) as d:
      kw = {k: (d[k] if k in d.files else None) for k in cls._ARRAYS}
      info = json.loads(str(d['info_json'])) if 'info_json' in d.files else {}
    return cls(**kw, info=info)
