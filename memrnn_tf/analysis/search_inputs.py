"""Checks of the states and inputs a slow-point search is given, against its map.

Every problem is one ``ValueError`` line raised before anything is compiled: a wrong width,
an empty batch, non-finite values, a step function that fails on the first point, or a bad
box (``resolve_clip``).
"""

import numpy as np
import tensorflow as tf


def check_batch(step_fn, initial_states, inputs):
  """``[N, S]`` float32 states and ``[N, I]`` float32 inputs, or one clear ``ValueError``.

  Args:
    step_fn: the ``StepFunction`` the batch is for (evaluated once, on the first point).
    initial_states: packed states ``[N, S]``, N >= 1.
    inputs: one input ``[I]`` for all points, or one per point ``[N, I]``.

  Returns:
    ``(states [N, S], inputs [N, I])`` (the inputs broadcast to one per point).
  """
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


def resolve_clip(step_fn, clip, width):
  """``None`` or ``[S]`` float32 bounds from ``clip`` (``'auto'``: the map's own bounds).

  Args:
    step_fn: a ``StepFunction`` (its ``state_bounds`` for ``'auto'``).
    clip: ``'auto'``, ``None``, a float or ``[S]`` bounds.
    width: the packed state width ``S``.
  """
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
