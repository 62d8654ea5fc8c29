"""Levenberg-Marquardt refinement and judgement of slow points, in memory-bounded chunks.

The glue between the searches and the solver (``newton.py``): the compiled refinement
(``newton.make_refine``) and judgement (``newton.make_diagnose``) of a map in a dtype and a
box are built once and cached on its ``StepFunction``, and the points are passed through
them in chunks of ``newton.chunk_size`` (one batch Jacobian per chunk must fit in memory).
"""

import time

import numpy as np
import tensorflow as tf

from memrnn_tf.analysis import newton
from memrnn_tf.analysis import step_functions


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
  run = variant.compiled(
      ('newton', str(dtype), step_functions.clip_key(clip)),
      lambda: newton.make_refine(variant,
                                 None if clip is None else np.asarray(clip, np.float64)))
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


def judge(variant, points, inputs, clip=None, tolerances=None, batch_size=None):
  """``newton.make_diagnose``'s judgement of points, in chunks.

  Args:
    variant: the ``StepFunction`` computing in the points' dtype (``with_dtype``).
    points: packed states ``[N, S]`` in that dtype.
    inputs: ``[N, I]``.
    clip: ``None`` or ``[S]`` bounds (the KKT rules of the box).
    tolerances: ``newton.Tolerances`` (default for the dtype).
    batch_size: points per chunk (default ``newton.chunk_size``).

  Returns:
    Dict of ``[N]`` arrays: ``speed``, ``residual``, ``gradient``, ``newton_step``,
    ``status`` (codes of ``newton.STATUS``), ``num_at_bound`` and ``sigma_min``.
  """
  dtype = points.dtype.name
  tolerances = tolerances or newton.Tolerances.for_dtype(dtype)
  diagnose = variant.compiled(
      ('diagnose', step_functions.clip_key(clip)),
      lambda: newton.make_diagnose(variant,
                                   None if clip is None else np.asarray(clip, np.float64)))
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
  return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
