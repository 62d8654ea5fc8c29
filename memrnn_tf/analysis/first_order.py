"""The first-order slow-point searches: the package's Adam search and the authors'.

* ``method='adam'`` (``adam_search``): Adam, written by hand on tensors so that the whole
  search is one ``tf.while_loop`` inside one ``tf.function`` (XLA-compiled by default).
  Every point has its own learning rate, which grows slowly while its speed falls and
  shrinks when it rises, and keeps the slowest state it has visited. A point is frozen as
  soon as its speed reaches ``tol`` or stops improving for ``patience`` iterations; the
  loop exits when every point is frozen or after ``max_iters`` iterations. The batch keeps
  its shape (XLA needs static shapes), so frozen points still cost arithmetic. The points
  may be split into groups searched concurrently (``default_groups``).
* ``method='paper'`` (``paper_search``, ``make_paper_search``): the authors' search: plain
  Adam at a fixed rate schedule for a fixed number of steps, states clipped to the box after
  each step, one compiled loop.

Both run in float32 on the packed state; the compiled loops are cached on the
``StepFunction`` (``StepFunction.compiled``).
"""

import dataclasses
import time

import numpy as np
import tensorflow as tf

from memrnn_tf import splits
from memrnn_tf.analysis import step_functions


# --- the package's search (method='adam') ---------------------------------------------------
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
  bound = None if clip is None else tf.constant(clip, tf.float32)

  def body(i, x, x_best, q_best, q_prev, q_ref, m, v, lr, stall, active, iterations,
           prepared, hp, constants=None):
    with tf.GradientTape() as tape:
      tape.watch(x)
      q = step_fn.speed(x, prepared, constants)
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


def _compiled_search(step_fn, clip, jit_compile):
  """The compiled search (cached): ``search(x0, prepared, max_iters, learning_rate, hp) ->
  (x_best, q_best, iterations, loop count)``; ``clip`` is a ``clip_key``."""
  return step_fn.compiled(('search', clip, bool(jit_compile)),
                          lambda: _build_search(step_fn, clip, jit_compile))


def _build_search(step_fn, clip, jit_compile):
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

  return tf.function(search, jit_compile=bool(jit_compile), reduce_retracing=True)


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
  return step_fn.compiled(('grouped', clip, bool(jit_compile), groups, n),
                          lambda: _build_grouped(step_fn, clip, jit_compile, groups, n))


def _build_grouped(step_fn, clip, jit_compile, groups, n):
  search = _compiled_search(step_fn, clip, jit_compile)
  sizes = splits.near_equal_sizes(n, groups)

  @tf.function
  def grouped(x0, prepared, max_iters, learning_rate, hp):
    outs = [search(x, p, max_iters, learning_rate, hp)
            for x, p in zip(tf.split(x0, sizes), tf.split(prepared, sizes))]
    x, q, iterations = (tf.concat([o[j] for o in outs], 0) for j in range(3))
    return x, q, iterations, tf.reduce_max(tf.stack([o[3] for o in outs]))

  return grouped


def adam_search(step_fn, x0, inputs, options, bound):
  """The first-order search (``method='adam'``) in float32.

  Args:
    step_fn: a ``StepFunction``.
    x0: checked initial states ``[N, S]`` float32, inside ``bound``.
    inputs: ``[N, I]`` float32.
    options: ``SearchOptions`` (the first-order fields, ``jit_compile`` and ``groups``).
    bound: ``None`` or ``[S]`` bounds (``search_inputs.resolve_clip``).

  Returns:
    ``(points [N, S], iterations [N], info)``.
  """
  n = x0.shape[0]
  jit_compile = options.jit_compile
  prepared = step_fn.prepare(tf.constant(inputs))  # once, outside the loop
  groups = default_groups(n) if options.groups is None else int(options.groups)
  groups = min(groups, n)
  key = step_functions.clip_key(bound)
  search = (_grouped_search(step_fn, key, jit_compile, groups, n) if groups > 1
            else _compiled_search(step_fn, key, jit_compile))
  start = time.perf_counter()
  x, q, iterations, total = search(tf.constant(x0), prepared,
                                   tf.constant(int(options.max_iters), tf.int32),
                                   tf.constant(options.rate, tf.float32),
                                   hyperparameters(options))
  q = q.numpy()
  info = {'jit_compile': bool(jit_compile), 'groups': groups, 'loop_iterations': int(total),
          'adam_seconds': time.perf_counter() - start,
          'adam_num_below_tol': int(np.sum(q <= options.tol))}
  return x.numpy(), iterations.numpy().astype(np.int64), info


# --- the authors' search (method='paper') ---------------------------------------------------
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
  bound = None if clip is None else tf.constant(np.asarray(clip, np.float32))

  def search(x0, prepared, num_steps, learning_rate, decay_step, decay_factor, beta1, beta2,
             epsilon):
    constants = step_fn.constants()  # once, outside the loop

    def body(t, x, m, v):
      with tf.GradientTape() as tape:
        tape.watch(x)
        q = step_fn.speed(x, prepared, constants)
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
    return x, step_fn.speed(x, prepared, constants)

  return tf.function(search, jit_compile=bool(jit_compile), reduce_retracing=True)


def paper_search(step_fn, x0, inputs, options, bound, jit_compile=True):
  """The authors' search (``method='paper'``) in float32.

  Args:
    step_fn: a ``StepFunction``.
    x0: checked initial states ``[N, S]`` float32, inside ``bound``.
    inputs: ``[N, I]`` float32.
    options: ``PaperOptions``.
    bound: ``None`` or ``[S]`` bounds (``search_inputs.resolve_clip``).
    jit_compile: compile with XLA.

  Returns:
    ``(points [N, S], iterations [N] (all num_steps), info)``.
  """
  search = step_fn.compiled(('paper', step_functions.clip_key(bound), bool(jit_compile)),
                            lambda: make_paper_search(step_fn, bound, jit_compile))
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


