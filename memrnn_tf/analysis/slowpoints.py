"""Slow points of a recurrent map: compiled, batched search and stability analysis.

Slow points (paper section 6, eq. 4-5) are local minima of the speed

  S(x, I) = ||xi(F(x, I)) - xi(x)||^2

of the one-step map ``F`` with the input ``I`` held fixed. ``x`` is the packed state the
cell carries (LSTM ``[h, c]``) and ``xi`` the paper's analysis coordinates (LSTM
``[h, tanh c]``; ``h`` otherwise). Fixed points are slow points with S = 0.

``find_slow_points`` has two phases, chosen by ``SearchOptions.method``:

* ``'newton'`` (default): batched Levenberg-Marquardt (damped Gauss-Newton) on the residual
  ``xi(F(x)) - xi(x)`` with the batch Jacobian, in float64 by default (``newton.py``). It
  reaches fixed points to the float floor in tens of iterations, also near marginal
  attractors, where the smallest singular value of ``dF/dx - I`` is 1e-4 or less and a
  first-order search crawls.
* ``'adam'``: the first-order search (``first_order``): Adam in one compiled
  ``tf.while_loop``, a learning rate per point, each point frozen when its speed reaches
  ``tol`` or stops improving.
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

By default (``SearchOptions.clip='auto'``) the initial states and every step stay inside
the cell's reachable region (``StepFunction.state_bounds``: ``|h| <= 1``; LSTM's ``c`` is free):
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

The pieces, one job each (their public names are re-exported here):

* ``step_functions``: ``StepFunction`` and its adapters (``step_fn_for_model``,
  ``step_fn_for_cell``), F's Jacobians and the compile cache (``StepFunction.compiled``).
* ``search_options``: ``SearchOptions`` (every option and its default, checked when made)
  and ``PaperOptions``.
* ``search_inputs``: checks of the states, inputs and box a search is given.
* ``first_order``: the ``'adam'`` and ``'paper'`` searches.
* ``refinement``: the Levenberg-Marquardt refinement and the judgement in chunks (the
  solver itself: ``newton``).
* ``slowpoint_result``: ``SlowPoints``, the result, and its files.
"""

import dataclasses
import time

from absl import logging
import numpy as np

from memrnn_tf.analysis import first_order
from memrnn_tf.analysis import newton
from memrnn_tf.analysis import refinement
from memrnn_tf.analysis import search_inputs
from memrnn_tf.analysis import search_options
from memrnn_tf.analysis import slowpoint_result
from memrnn_tf.analysis import step_functions

# The public names of the pieces, so that ``slowpoints.X`` is the one place to import from.
StepFunction = step_functions.StepFunction
step_fn_for_model = step_functions.step_fn_for_model
step_fn_for_cell = step_functions.step_fn_for_cell
METHODS = search_options.METHODS
DTYPES = search_options.DTYPES
SearchOptions = search_options.SearchOptions
PaperOptions = search_options.PaperOptions
make_search_step = first_order.make_search_step
initial_loop_state = first_order.initial_loop_state
hyperparameters = first_order.hyperparameters
default_groups = first_order.default_groups
make_paper_search = first_order.make_paper_search
refine = refinement.refine
SlowPoints = slowpoint_result.SlowPoints


def find_slow_points(step_fn, initial_states, inputs, options=SearchOptions()):
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
  options are the ``'adam'`` method's) on S for exactly ``num_steps`` steps, at
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
    step_fn: a ``StepFunction`` or ``step_fn(state [B, S], inputs [B, I]) -> [B, S]``
      (other analysis coordinates: ``StepFunction(fn, to_xi=...)`` or
      ``step_fn.replace(to_xi=...)``).
    initial_states: packed states ``[N, S]``, N >= 1.
    inputs: one input ``[I]`` for all points, or one per point ``[N, I]``; constant
      during the search.
    options: ``SearchOptions`` (the method, dtype, box and every hyper-parameter, with
      their defaults), e.g. ``SearchOptions(method='adam', tol=1e-12)``.

  Returns:
    ``SlowPoints`` (points in ``options.dtype``).

  Raises:
    ValueError: one line, for a bad argument: a state or input of the wrong width, an
      empty batch, a bad ``clip`` or a step function that fails on the first point (bad
      option values already fail when the ``SearchOptions`` is made).
  """
  begin = time.perf_counter()
  o = options
  step_fn = step_functions.as_step_fn(step_fn)
  x0, inputs = search_inputs.check_batch(step_fn, initial_states, inputs)
  n, width = x0.shape
  bound = search_inputs.resolve_clip(step_fn, o.clip, width)
  if bound is not None:
    x0 = np.clip(x0, -bound, bound)
  tolerances = newton.Tolerances.for_dtype(o.dtype, o.floor_factor, o.xtol, o.gtol)
  # The 'paper' search records its own options (info['paper']), not the 'adam' method's.
  info = {**({} if o.method == 'paper' else o.adam_info()),
          'clip': None if bound is None else bound.tolist(),
          'method': o.method, 'dtype': str(o.dtype), 'newton_iters': int(o.newton_iters),
          'tolerances': dataclasses.asdict(tolerances), 'step_fn': step_fn.name}
  x, iterations, last = x0, np.zeros(n, np.int64), np.full(n, np.nan)
  if o.method in ('adam', 'adam+newton'):
    x, its, adam_info = first_order.adam_search(step_fn, x0, inputs, o, bound)
    iterations += its
    info.update(adam_info)
  if o.method == 'paper':
    x, iterations, paper_info = first_order.paper_search(step_fn, x0, inputs, o.paper(),
                                                         bound, o.jit_compile)
    info.update(paper_info)
  if o.method in ('newton', 'adam+newton'):
    x, its, last, newton_info = refinement.refine(step_fn, x, inputs, o.dtype, bound,
                                                  o.newton_iters, tolerances)
    iterations += its
    info.update(newton_info)
  result = SlowPoints.from_points(step_fn, x, inputs, dtype=o.dtype, tolerances=tolerances,
                                  initial_states=x0, clip=bound)
  result.iterations, result.last_steps = iterations, last
  info['seconds'] = time.perf_counter() - begin  # with tracing, the judgement and transfers
  result.info.update(info)
  counts = result.status_counts()
  logging.info('Slow-point search (%s, %s): %d points, %d fixed points, %d slow points, '
               '%d not converged, %.2f s', o.method, o.dtype, n, counts['fixed_point'],
               counts['slow_point'], counts['not_converged'], info['seconds'])
  return result
