"""Slow points of a recurrent map: compiled, batched search and stability analysis.

Slow points (paper section 6, eq. 4-5) are local minima of the speed

  S(x, I) = ||xi(F(x, I)) - xi(x)||^2

of the one-step map ``F`` with the input ``I`` held fixed. ``x`` is the packed state the
cell carries (LSTM ``[h, c]``) and ``xi`` the paper's analysis coordinates (LSTM
``[h, tanh c]``; ``h`` otherwise). Fixed points are slow points with S = 0.

``find_slow_points`` minimises S for a batch of initial states with Adam, written by
hand on tensors so that the whole search is one ``tf.while_loop`` inside one
``tf.function`` (XLA-compiled by default). Every point has its own learning rate, which
grows slowly while its speed falls and shrinks when it rises, and keeps the slowest state
it has visited. A point is frozen as soon as its speed reaches ``tol`` (converged) or
stops improving for ``patience`` iterations (stalled: typically a slow point that is not
a fixed point); the loop exits when every point is frozen or after ``max_iters``
iterations. The batch keeps its shape (XLA needs static shapes), so frozen points still
cost arithmetic until the last one is done.

The map is given as a ``StepFunction`` (``step_fn_for_model``, ``step_fn_for_cell``) or
any callable ``step_fn(state [B, S], inputs [B, I]) -> state [B, S]``. A
``StepFunction`` may split F into ``prepare(inputs)`` (the input projection, computed
once per search) and ``step(state, prepared)``.
"""

import dataclasses
import json
import os
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from memrnn_tf import splits
from memrnn_tf.models import cells as cells_lib


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
      LSTM's ``c``), usable as ``find_slow_points(..., clip=...)``; ``None`` if unknown.
    name: for logs.
  """

  def __init__(self, fn, to_xi=None, from_xi=None, output=None, prepare=None, step=None,
               state_size=None, state_bounds=None, name='step_fn', constants=None):
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


def _as_step_fn(step_fn, to_xi=None):
  if isinstance(step_fn, StepFunction):
    if to_xi is None:
      return step_fn
    return StepFunction(step_fn.fn, to_xi=to_xi, from_xi=step_fn.from_xi,
                        output=step_fn.output, prepare=step_fn._prepare, step=step_fn._step,
                        state_size=step_fn.state_size, state_bounds=step_fn.state_bounds,
                        name=step_fn.name, constants=step_fn._constants)
  if not callable(step_fn):
    raise ValueError(f'step_fn must be callable, got {type(step_fn).__name__}')
  return StepFunction(step_fn, to_xi=to_xi)


def step_fn_for_model(model):
  """F of a ``MemoryRNN``: raw inputs ``[B, input_dim]`` through the front-end and the cell.

  ``prepare`` runs the front-end and the input projection once per search.
  """
  cell = model.cell

  def prepare(inputs):
    return cell.project(model.encode(inputs[:, None, :])[:, 0])

  return StepFunction(model.one_step, to_xi=cell.to_xi, from_xi=cell.from_xi,
                      output=cell.output, prepare=prepare,
                      step=lambda state, projected, weights: cell.step(projected, state, weights),
                      constants=cell.recurrent_weights,
                      state_size=cell.state_size,
                      state_bounds=_bounds(cell.units, cell.state_size > cell.units),
                      name=f'{model.name}/{cell.name}')


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
  ``SimpleRNN`` layer may be passed for its ``.cell``.

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
  if isinstance(cell, cells_lib.RecurrentCell):
    return StepFunction(lambda state, inputs: cell.one_step(inputs, state), to_xi=cell.to_xi,
                        from_xi=cell.from_xi, output=cell.output, prepare=cell.project,
                        step=lambda state, projected, weights: cell.step(projected, state,
                                                                         weights),
                        constants=cell.recurrent_weights,
                        state_size=cell.state_size,
                        state_bounds=_bounds(cell.units, cell.state_size > cell.units),
                        name=cell.name)
  if isinstance(cell, keras.layers.LSTMCell):
    units = cell.units

    def lstm_fn(state, inputs):
      _, (h, c) = cell(inputs, [state[:, :units], state[:, units:]], training=False)
      return tf.concat([h, c], axis=-1)

    return StepFunction(lstm_fn, to_xi=_lstm_to_xi(units), from_xi=_lstm_from_xi(units),
                        output=lambda s: s[..., :units], state_size=2 * units,
                        state_bounds=_bounds(units, True), name=cell.name)
  if isinstance(cell, (keras.layers.GRUCell, keras.layers.SimpleRNNCell)):

    def fn(state, inputs):
      _, new_states = cell(inputs, [state], training=False)
      return new_states[0]

    return StepFunction(fn, state_size=cell.units, state_bounds=_bounds(cell.units, False),
                        name=cell.name)
  raise ValueError(f'unsupported cell {type(cell).__name__}: expected a memrnn_tf '
                   'RecurrentCell or keras GRUCell, LSTMCell or SimpleRNNCell')


# --- the search -----------------------------------------------------------------------------
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
  clip: float | None = None


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


def _broadcast_inputs(inputs, n):
  inputs = tf.convert_to_tensor(inputs, tf.float32)
  if inputs.shape.rank == 1:
    inputs = inputs[None, :]
  if inputs.shape.rank != 2 or inputs.shape[0] not in (1, n):
    raise ValueError(f'inputs must be [I] or [{n}, I], got shape {inputs.shape}')
  return inputs


def find_slow_points(step_fn, initial_states, inputs, *, to_xi=None, tol=1e-8,
                     max_iters=20_000, learning_rate=1e-2, lr_grow=1.002, lr_backoff=0.98,
                     max_learning_rate=0.1, min_learning_rate=1e-7, beta1=0.9,
                     beta2=0.99, epsilon=1e-12, patience=1000, min_rel_improvement=1e-3,
                     clip=None, jit_compile=True, groups=None):
  """Minimises the speed S(x, I) = ||xi(F(x, I)) - xi(x)||^2 from a batch of states.

  Adam on the packed state ``x`` (LSTM: ``h`` and ``c``), with a per-point adaptive
  learning rate: multiplied by ``lr_grow`` (up to ``max_learning_rate``) after a step
  that did not increase the speed, by ``lr_backoff`` (down to ``min_learning_rate``)
  after one that did. Each point returns the slowest state it visited. A point is frozen
  when that speed is ``<= tol`` (converged) or has not fallen by a factor
  ``1 - min_rel_improvement`` in ``patience`` iterations; the rest continue up to
  ``max_iters``. The whole search is one compiled ``tf.function``; its tracing and XLA
  compilation are cached on the ``StepFunction`` (batch size and hyper-parameter values
  may change without recompiling the graph).

  Args:
    step_fn: a ``StepFunction`` or ``step_fn(state [B, S], inputs [B, I]) -> [B, S]``.
    initial_states: packed states ``[N, S]``.
    inputs: one input ``[I]`` for all points, or one per point ``[N, I]``; constant
      during the search.
    to_xi: analysis coordinates (default: the ``StepFunction``'s, else identity).
    tol: speed at which a point counts as converged.
    max_iters: iteration limit (each iteration is one gradient evaluation).
    learning_rate: initial per-point Adam rate.
    lr_grow, lr_backoff, max_learning_rate, min_learning_rate: the rate schedule above.
    beta1, beta2, epsilon: Adam.
    patience, min_rel_improvement: stall criterion above.
    clip: if given (a float or per-coordinate ``[S]`` bounds), states are clipped to
      ``[-clip, clip]`` after each step. The authors' code used 1. GRU and SimpleRNN
      states never leave (-1, 1), and outside it saturated gates create spurious slow
      points; ``StepFunction.state_bounds`` gives 1 for ``h`` and ``inf`` for LSTM's ``c``.
    jit_compile: compile with XLA (much faster on CPU for small batches).
    groups: the points are split into this many independent searches run concurrently
      (same results: points never interact). ``None``: ``default_groups(N)``, i.e.
      ``min(4, N // 256)`` on CPU and 1 on GPU. On CPU one XLA loop over ``[N, units]``
      matmuls keeps about one core busy; 4 groups took a GRU-200 at N = 1024 from 50-55%
      to 75-81% of the matmul peak on 2 cores (BUILD_NOTES.md).

  Returns:
    ``SlowPoints``.
  """
  step_fn = _as_step_fn(step_fn, to_xi)
  options = SearchOptions(tol=tol, max_iters=max_iters, learning_rate=learning_rate,
                          lr_grow=lr_grow, lr_backoff=lr_backoff,
                          max_learning_rate=max_learning_rate,
                          min_learning_rate=min_learning_rate, beta1=beta1, beta2=beta2,
                          epsilon=epsilon, patience=patience,
                          min_rel_improvement=min_rel_improvement, clip=clip)
  x0 = tf.convert_to_tensor(initial_states, tf.float32)
  if x0.shape.rank != 2:
    raise ValueError(f'initial_states must be [N, S], got shape {x0.shape}')
  n = int(x0.shape[0])
  inputs = _broadcast_inputs(inputs, n)
  full_inputs = tf.broadcast_to(inputs, [n, inputs.shape[1]])
  # The input-only part of F is computed once, outside the loop.
  prepared = step_fn.prepare(inputs)
  prepared = tf.broadcast_to(prepared, [n, prepared.shape[-1]])
  groups = default_groups(n) if groups is None else int(groups)
  if groups < 1:
    raise ValueError(f'groups must be >= 1, got {groups}')
  groups = min(groups, max(n, 1))
  search = (_grouped_search(step_fn, _clip_key(clip), jit_compile, groups, n) if groups > 1
            else _compiled_search(step_fn, _clip_key(clip), jit_compile))
  start = time.perf_counter()
  x, q, iterations, total = search(x0, prepared, tf.constant(int(max_iters), tf.int32),
                                   tf.constant(learning_rate, tf.float32),
                                   hyperparameters(options))
  q = q.numpy()
  seconds = time.perf_counter() - start
  initial_speeds = _speed(step_fn, step_fn.to_xi, x0, prepared).numpy()
  q = np.where(np.isfinite(q), q, np.nan)
  points = x.numpy()
  result = SlowPoints(
      points=points, xi=step_fn.to_xi(x).numpy(), speeds=q,
      initial_states=x0.numpy(), inputs=full_inputs.numpy(),
      iterations=iterations.numpy().astype(np.int64), converged=q <= tol,
      initial_speeds=initial_speeds, initial_xi=step_fn.to_xi(x0).numpy(),
      info={**dataclasses.asdict(options), 'jit_compile': bool(jit_compile), 'groups': groups,
            'loop_iterations': int(total), 'seconds': seconds, 'step_fn': step_fn.name})
  logging.info('Slow-point search: %d points, %d/%d converged (tol %.1e), %d iterations, '
               '%.2f s, median speed %.3g', n, result.converged.sum(), n, tol, int(total),
               seconds, np.nanmedian(q) if n else np.nan)
  return result


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

  Attributes:
    points: packed states ``[N, S]`` (LSTM ``[h, c]``).
    xi: analysis coordinates ``[N, S]`` (LSTM ``[h, tanh c]``).
    speeds: S at the points ``[N]``.
    initial_states: packed initial states ``[N, S]``.
    inputs: the constant inputs ``[N, I]``.
    iterations: iterations each point ran before it was frozen ``[N]`` (0: its initial
      state already met ``tol``).
    converged: ``speeds <= tol`` ``[N]``.
    initial_speeds: S at the initial states ``[N]``.
    initial_xi: the initial states in xi coordinates ``[N, S]``.
    eigvals: eigenvalues of dF/dxi ``[N, S]`` by decreasing modulus, once computed.
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
  info: dict = dataclasses.field(default_factory=dict)

  _ARRAYS = ('points', 'xi', 'speeds', 'initial_states', 'inputs', 'iterations',
             'converged', 'initial_speeds', 'initial_xi', 'eigvals')

  def __len__(self):
    return int(self.points.shape[0])

  def subset(self, index):
    """The points selected by an index array or boolean mask."""
    index = np.asarray(index)
    kw = {k: (None if getattr(self, k) is None else getattr(self, k)[index])
          for k in self._ARRAYS}
    return SlowPoints(**kw, info=dict(self.info))

  # --- linearisation ----------------------------------------------------------------------
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
    state_jacobian, _ = _jacobian_fns(_as_step_fn(step_fn))
    x = tf.constant(self.points, tf.float32)
    inputs = tf.constant(self.inputs, tf.float32)
    return _batched(lambda s: state_jacobian(x[s], inputs[s], coords == 'xi').numpy(),
                    len(self), batch_size)

  def input_jacobians(self, step_fn, coords='xi', batch_size=64):
    """Jacobians w.r.t. the input, ``[N, S, I]`` (``d xi(F) / dI`` or ``dF/dI``)."""
    if coords not in ('xi', 'state'):
      raise ValueError(f"coords must be 'xi' or 'state', got {coords!r}")
    _, input_jacobian = _jacobian_fns(_as_step_fn(step_fn))
    x = tf.constant(self.points, tf.float32)
    inputs = tf.constant(self.inputs, tf.float32)
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
    """Deduplicated points: greedily keeps the slowest of any group closer than ``tol``
    (Euclidean, in xi coordinates).

    Returns:
      ``SlowPoints`` (and the kept indices if ``return_index``), in order of speed.
    """
    order = np.argsort(np.nan_to_num(self.speeds, nan=np.inf), kind='stable')
    kept = []
    for i in order:
      if not kept or np.min(np.linalg.norm(self.xi[kept] - self.xi[i], axis=1)) > tol:
        kept.append(i)
    kept = np.asarray(kept, np.int64)
    out = self.subset(kept)
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
           'num_converged': int(np.sum(self.converged)),
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
    arrays['info_json'] = np.asarray(json.dumps(self.info, default=_json_default))
    with open(prefix + '.npz.tmp', 'wb') as f:  # atomic: readers never see half a file
      np.savez(f, **arrays)
    os.replace(prefix + '.npz.tmp', prefix + '.npz')
    summary = self.summary()
    if extra:
      summary.update(extra)
    with open(prefix + '.json.tmp', 'w') as f:
      json.dump(summary, f, indent=2, default=_json_default)
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


def _json_default(x):
  if isinstance(x, (np.floating, np.integer, np.bool_)):
    return x.item()
  if isinstance(x, np.ndarray):
    return x.tolist()
  raise TypeError(f'not JSON serialisable: {type(x).__name__}')
