"""Second-order slow-point refinement: batched Levenberg-Marquardt and per-point status.

The residual of the one-step map ``F`` in the packed state ``x`` (``[N, d]``),

  r(x) = F(x, I) - x,

has the fixed points as roots; it equals ``xi(F(x)) - xi(x)``, whose squared norm is the
paper's speed S, except for LSTM (``xi = [h, tanh c]``), where the packed residual avoids
the degenerate chart at saturated ``tanh c`` and ``slow_point`` refers to minima of
``||F(x) - x||^2`` (the reported speeds are S in xi). ``refine`` runs a damped Gauss-Newton
(Levenberg-Marquardt) iteration on every point at once: with ``J = dr/dx`` from one
batched Jacobian (``[N, d, d]``, ``J = dF/dx - I``) it solves
``(J^T J + mu D) dx = -J^T r`` per point (batched Cholesky; ``D`` is Marquardt's scaling
as in MINPACK, the running max of ``diag(J^T J)``, relative to its largest entry), accepts
the step where the speed falls, and adapts the damping ``mu`` per point (after Nielsen:
shrink by up to 10x after a good step, grow by a doubling factor after a rejected one).
Near a fixed point this is Newton's method (quadratic convergence, however slow the
attractor: the first-order search crawls along directions where ``J`` is nearly singular,
Newton does not); where S has a positive local minimum (a ghost, a true slow point)
Gauss-Newton with damping lands on that minimum.

The whole iteration is one ``tf.while_loop`` in one ``tf.function``. Points leave the batch
as soon as they stop (the loop carries the active points only, with a dynamic leading
dimension, and scatters the finished ones into the output), so the cost of an iteration
follows the number of points still running. The Jacobian is computed only for the points
whose last step was accepted (after a rejected step the point, and so ``r``, ``J``, the
undamped step and the status, are unchanged; only the damping is new): in closed form where
the map has one (``StepFunction.state_jacobian``: the package's cells and Keras' GRU, LSTM
and SimpleRNN cells), else by autodiff in cache-sized pieces. The ``[M, d, d]`` arrays
(``J``, ``J^T J``) are the memory traffic of an iteration: the loop keeps the points that
moved first and the rejected ones after them, in two groups that are never concatenated,
and the undamped step the status is judged on is solved only where it may be negligible
(``_gauss_newton_step``). XLA is not used: it needs static shapes, and
its batched Cholesky/LU on CPU was 20-40x slower than TF's own kernels (measured,
``[1024, 64, 64]`` float64). The dtype is that of the states (float64 recommended: near a
marginal attractor the smallest singular value of ``J`` is 1e-4 or less, and float32
rounding of ``F`` alone moves the root by ``eps_32 / sigma_min ~ 1e-3``).

Bounds (``make_refine(step_fn, bound)``, the cell's reachable box ``|x| <= bound``) make it a
projected, active-set Levenberg-Marquardt: at every iteration a coordinate is *active* when it
lies on the bound and the descent direction ``-J^T r`` points out of the box there; active
coordinates are frozen (their rows and columns of ``J^T J + mu D`` replaced by the identity,
their ``J^T r`` by 0, so ``dx = 0`` there), the damped step is solved in the free
coordinates, and the trial state is clipped to the box. Without this, a minimum of S on the
boundary is never reached: every step points through the bound and the clip throws it away.
``bound=None`` is the unconstrained iteration. Gauss-Newton's model ``J^T J`` is positive
semi-definite, so where S curves downward in the free coordinates (a non-zero residual times
the curvature of ``r`` beating ``sigma_min(J)^2``: the class points of the trained MNIST
GRUs) it still only crawls; those points end ``not_converged``, honestly.

``diagnose`` evaluates, at given points, the quantities the status is decided on and
``_criteria`` applies the rules (``STATUS``), with the same bounds (KKT conditions):

* ``fixed_point``: ``||r|| <= floor`` (the float floor, ``floor_factor * eps * sqrt(d) *
  max(1, |x|_inf)``) and the (projected) Gauss-Newton step ``|dx|_inf <= xtol * max(1,
  |x|_inf)``;
* ``slow_point``: not at the floor, inside the box, and the projected gradient of S vanishes
  relative to the residual: ``||(J^T r)_free|| <= gtol * ||r||``, where the active
  coordinates (on the bound, gradient pointing outward) are left out, or the projected
  Gauss-Newton step is negligible as above while the linear model predicts no fall of the
  residual, ``||J dx|| <= 1e-3 ||r||`` (MINPACK's ``xtol`` test: the model's minimum is
  within the resolution of ``x``; where ``J`` is nearly singular along ``J^T r`` the step is
  large, so this does not hide a slow descent). Without bounds, or
  inside the box, this is ``||J^T r|| <= gtol * ||r||`` (a positive local minimum of S: ``r``
  is orthogonal to the range of ``J``, which is singular there); on the boundary it is a
  minimum of S over the box (``num_at_bound`` coordinates on the bound);
* ``not_converged``: anything else (including non-finite points).
"""

import dataclasses

import numpy as np
import tensorflow as tf

STATUS = ('fixed_point', 'slow_point', 'not_converged')
FIXED_POINT, SLOW_POINT, NOT_CONVERGED = range(3)

# Initial damping relative to max diag(J^T J): small, so that the first steps are nearly
# Newton steps (from trajectory states the median point then stops after 6 iterations on a
# flip-flop GRU-64; Nielsen's 1e-3 took 16: the slow directions, sigma^2 ~ 1e-7, stay
# damped until mu has shrunk below them).
_TAU = 1e-6
_SHRINK = 10.0  # at most this factor down after a good step (Nielsen: 3)
_MU_FLOOR = 1e2  # damping never below this * eps * (1 + max diag): keeps the Cholesky PD
_MU_CEIL = 1e16  # damping above this * (1 + max diag): no step can lower S; the point stops
# Marquardt's scaling, as MINPACK's: a column's damping is mu times the largest value its
# diag(J^T J) has had (a running max, so that a column that vanishes near a ghost keeps its
# damping), relative to the largest column, floored at this. With mu * I the flip-flop
# GRU-64's search reached 14 of the 16 roots MINPACK finds from the same 1,024 starts.
_SCALE_FLOOR = 1e-6
# A negligible Gauss-Newton step is a stationary point (slow_point) only where the linear
# model predicts the residual to fall by less than this fraction (module docstring).
_NO_GAIN = 1e-3


@dataclasses.dataclass(frozen=True)
class Tolerances:
  """Thresholds of the status rules for one dtype (see the module docstring).

  Attributes:
    floor: residual floor per unit of ``sqrt(d) * max(1, |x|_inf)``.
    xtol: negligible Gauss-Newton step per unit of ``max(1, |x|_inf)``.
    gtol: vanishing relative gradient ``||J^T r|| / ||r||``.
  """
  floor: float
  xtol: float
  gtol: float

  @classmethod
  def for_dtype(cls, dtype, floor_factor=64.0, xtol=None, gtol=None):
    """Defaults: ``floor = floor_factor * eps``, ``xtol = gtol = sqrt(eps)``."""
    eps = float(np.finfo(np.dtype(dtype)).eps)
    return cls(float(floor_factor) * eps, float(xtol or np.sqrt(eps)),
               float(gtol or np.sqrt(eps)))


def _residual_fn(step_fn, constants):
  # In the packed state: the same roots as in xi, and for LSTM no degenerate chart where
  # tanh(c) saturates (the xi residual's Jacobian vanishes along c there).
  return lambda x, p: step_fn.step(x, p, constants) - x


def _closed_jacobian_fn(step_fn, constants):
  """``dF/dx(x, p)`` in closed form (``StepFunction.state_jacobian``), or ``None``."""
  if not step_fn.has_state_jacobian:
    return None
  return lambda x, p: step_fn.state_jacobian(x, p, constants)


# Points per piece of the Jacobian: its ``d`` copies of each point and their autodiff
# intermediates (``[piece * d, gates * d]``) stay within a cache-sized budget; on the whole
# batch at once they are memory-bound (several times slower per point, measured).
_PIECE_BYTES = 2 ** 21


def piece_size(d, itemsize):
  """Points per Jacobian piece for states of width ``d`` (see ``_linearise``)."""
  return max(1, _PIECE_BYTES // max(1, d * d * itemsize))


def _linearise(residual, x, p, closed_jacobian=None):
  """``r [M, d]``, ``J = dr/dx [M, d, d]``, ``J^T J``, ``J^T r`` and the max of diag(J^T J).

  ``J`` from ``closed_jacobian(x, p)`` (dF/dx, ``_closed_jacobian_fn``) when given, else
  by reverse mode on ``d`` copies of every point (copy ``k`` back-propagates the ``k``-th
  residual): one ordinary gradient, which traces in a fraction of the time
  ``batch_jacobian``'s vectorisation takes (several seconds per cell), for about 1.5x its
  arithmetic, computed in pieces of ``piece_size`` points (one ``tf.map_fn`` over the
  batch padded to whole pieces), so that the copies stay in cache.
  """
  if closed_jacobian is not None:
    jac = closed_jacobian(x, p)
    return _normal_equations(residual(x, p),
                             tf.linalg.set_diag(jac, tf.linalg.diag_part(jac) - 1.0))
  m, d = tf.shape(x)[0], x.shape[-1]
  piece = tf.maximum(tf.minimum(piece_size(d, x.dtype.size), m), 1)
  # At least one piece (an empty map_fn cannot stack its outputs); the padding (zeros) is
  # cut off again below.
  pieces = tf.maximum((m + piece - 1) // piece, 1)
  pad = pieces * piece - m
  xp = tf.concat([x, tf.zeros([pad, d], x.dtype)], 0)
  pp = tf.concat([p, tf.zeros([pad, p.shape[-1]], p.dtype)], 0)
  xp = tf.reshape(xp, [pieces, piece, d])
  pp = tf.reshape(pp, [pieces, piece, p.shape[-1]])
  r, jac = tf.map_fn(lambda xs: _jacobian_piece(residual, xs[0], xs[1]), (xp, pp),
                     fn_output_signature=(tf.TensorSpec([None, d], x.dtype),
                                          tf.TensorSpec([None, d, d], x.dtype)),
                     parallel_iterations=1)
  return _normal_equations(tf.reshape(r, [-1, d])[:m], tf.reshape(jac, [-1, d, d])[:m])


def _normal_equations(r, jac):
  """``_linearise``'s outputs from ``r [M, d]`` and ``J [M, d, d]``."""
  a = tf.linalg.matmul(jac, jac, transpose_a=True)
  b = tf.linalg.matvec(jac, r, transpose_a=True)
  return r, jac, a, b, tf.reduce_max(tf.linalg.diag_part(a), axis=-1)


def _jacobian_piece(residual, x, p):
  """``r [m, d]`` and ``J [m, d, d]`` for a few points (``_linearise``)."""
  m, d = tf.shape(x)[0], x.shape[-1]
  copies = tf.reshape(tf.tile(x[:, None, :], [1, d, 1]), [-1, d])
  p_copies = tf.reshape(tf.tile(p[:, None, :], [1, d, 1]), [-1, p.shape[-1]])
  select = tf.reshape(tf.tile(tf.eye(d, dtype=x.dtype)[None], [m, 1, 1]), [-1, d])
  with tf.GradientTape() as tape:
    tape.watch(copies)
    r_copies = residual(copies, p_copies)
  jac = tf.reshape(tape.gradient(r_copies, copies, output_gradients=select), [m, d, d])
  return tf.reshape(r_copies, [m, d, d])[:, 0], jac


def _bounds_tensor(bound, dtype):
  """``None`` or the ``[d]`` bounds as a tensor (``inf`` where a coordinate is free)."""
  return None if bound is None else tf.constant(bound, dtype)


def _active_set(x, b, lim):
  """Per coordinate ``[M, d]``: (on the bound, active), for ``x`` in ``[-lim, lim]`` and
  ``b = J^T r``. Active: on the bound with the descent direction ``-b`` pointing outward,
  where the clip would undo any step."""
  upper, lower = x >= lim, x <= -lim
  return upper | lower, (upper & (b < 0)) | (lower & (b > 0))


def _damped_step(a, b, mu, diag_max, finite, active=None, scale=None):
  """``dx = -(A + mu D)^{-1} b`` by Cholesky; non-finite points get ``dx = 0``.

  Args:
    a: ``J^T J`` ``[M, d, d]``.
    b: ``J^T r`` ``[M, d]``.
    mu: damping ``[M]`` (floored at the rounding level of ``a``).
    diag_max: max of diag(``a``) ``[M]``.
    finite: ``[M]`` points whose linearisation is finite.
    active: ``None`` or ``[M, d]`` coordinates to freeze: their rows and columns of ``a``
      become the identity and their ``b`` 0, so that ``dx = 0`` there and the step solves
      the damped system in the free coordinates.
    scale: ``None`` (``D = I``) or Marquardt's ``D`` ``[M, d]``, in ``(0, 1]``.
  """
  eps = np.finfo(a.dtype.as_numpy_dtype).eps
  d = tf.shape(a)[-1]
  eye = tf.eye(d, dtype=a.dtype)
  # Each replacement is a pass over [M, d, d]: made only where some point needs it.
  if active is not None:
    a = tf.cond(tf.reduce_any(active),
                lambda: tf.where(active[:, :, None] | active[:, None, :], eye, a), lambda: a)
    b = tf.where(active, tf.zeros_like(b), b)
  a = tf.cond(tf.reduce_all(finite), lambda: a,
              lambda: tf.where(finite[:, None, None], a, eye))
  b = tf.where(finite[:, None], b, tf.zeros_like(b))
  # Floored at the rounding level of ``a``: the Cholesky factorisation exists where J is
  # singular.
  damping = mu[:, None] * (tf.ones_like(b) if scale is None else scale)
  damping = tf.maximum(damping, (_MU_FLOOR * eps * (1.0 + diag_max))[:, None])
  chol = tf.linalg.cholesky(tf.linalg.set_diag(a, tf.linalg.diag_part(a) + damping))
  return -tf.linalg.cholesky_solve(chol, b[..., None])[..., 0]


def _gauss_newton_step(x, a, b, diag_max, finite, active, xtol):
  """The undamped (projected) Gauss-Newton step the status is judged on, ``[M, d]``; ``inf``
  where it is certainly not negligible (``_criteria``'s ``small_step``), unsolved.

  The step solves ``M dx = -b_free``, with ``M`` the matrix of ``_damped_step`` at the
  rounding-level damping ``delta``, whose largest eigenvalue is at most its trace,
  ``trace(J^T J) + (frozen coordinates) + d delta``; so ``|dx|_inf >= ||dx||_2 / sqrt(d) >=
  ||b_free|| / (sqrt(d) trace(M))``. Where that bound exceeds twice the ``xtol`` test (the
  factor covers the solve's rounding) the Cholesky solve is skipped: far from a root (most
  points in the first iterations) that is one factorisation per point less, and the status
  is the same (``inf`` fails both tests that use the step).

  Args:
    x, a, b, diag_max, finite, active: as in ``_damped_step`` (``x`` the states).
    xtol: the negligible step per unit of ``max(1, |x|_inf)``.
  """
  eps = np.finfo(a.dtype.as_numpy_dtype).eps
  d = tf.cast(tf.shape(a)[-1], a.dtype)
  frozen = 0.0 if active is None else tf.reduce_sum(tf.cast(active, a.dtype), -1)
  b_free = b if active is None else tf.where(active, tf.zeros_like(b), b)
  trace = (tf.reduce_sum(tf.linalg.diag_part(a), -1) + frozen
           + d * _MU_FLOOR * eps * (1.0 + diag_max))
  bound = tf.norm(b_free, axis=-1) / (tf.sqrt(d) * trace)
  need = finite & ~(bound > 2.0 * xtol * tf.maximum(tf.reduce_max(tf.abs(x), -1), 1.0))
  zero = tf.zeros_like(diag_max)

  def subset():
    where = tf.where(need)
    pick = lambda t: tf.gather_nd(t, where)  # noqa: E731
    step = _damped_step(pick(a), pick(b), pick(zero), pick(diag_max),
                        tf.ones(tf.shape(where)[:1], tf.bool),
                        None if active is None else pick(active))
    return tf.tensor_scatter_nd_update(tf.fill(tf.shape(b), tf.constant(np.inf, a.dtype)),
                                       where, step)

  return tf.cond(tf.reduce_all(need | ~finite),
                 lambda: _damped_step(a, b, zero, diag_max, finite, active), subset)


def _criteria(x, r, b, dx, jac, diag_max, tol, lim=None):
  """The status rules per point (see the module docstring).

  Args:
    x, r, b, dx: states, residuals, ``J^T r`` and (projected) Gauss-Newton steps ``[M, d]``.
    jac: ``J`` ``[M, d, d]``.
    diag_max: max of diag(``J^T J``) ``[M]``.
    tol: ``tolerance_tensors``.
    lim: ``None`` or the ``[d]`` bounds tensor.

  Returns:
    ``(is_fixed, is_slow, finite, ||r||, projected gradient [M, d], num_at_bound)``, all
    ``[M]`` but the gradient; without bounds the gradient is ``b`` and no coordinate is on a
    bound.
  """
  d = tf.cast(tf.shape(x)[-1], x.dtype)
  finite = (tf.reduce_all(tf.math.is_finite(r), -1) & tf.reduce_all(tf.math.is_finite(x), -1)
            & tf.math.is_finite(diag_max))
  scale = tf.maximum(tf.reduce_max(tf.abs(x), -1), 1.0)
  rnorm = tf.norm(r, axis=-1)
  at_floor = rnorm <= tol['floor'] * tf.sqrt(d) * scale
  small_step = tf.reduce_max(tf.abs(dx), -1) <= tol['xtol'] * scale
  fixed = finite & at_floor & small_step
  if lim is None:
    grad, num_at_bound = b, tf.zeros(tf.shape(x)[:1], tf.int32)
  else:
    # KKT at the box: the gradient vanishes in the free coordinates and points outward in
    # the active ones (which is what makes them active).
    at_bound, active = _active_set(x, b, lim)
    grad = tf.where(active, tf.zeros_like(b), b)
    num_at_bound = tf.reduce_sum(tf.cast(at_bound, tf.int32), -1)
  # Stationary: the projected gradient vanishes relative to the residual, or the projected
  # Gauss-Newton step is below the resolution of x and the linear model predicts no fall of
  # the residual (MINPACK's xtol test, for minima where rounding keeps the gradient just
  # above gtol; near a root the step is small too, but the model predicts r + J dx ~ 0).
  no_gain = tf.norm(tf.linalg.matvec(jac, dx), axis=-1) <= _NO_GAIN * rnorm
  slow = finite & ~at_floor & ((tf.norm(grad, axis=-1) <= tol['gtol'] * rnorm)
                               | (small_step & no_gain))
  if lim is not None:
    slow &= tf.reduce_all(tf.abs(x) <= lim, -1)  # a point outside the box minimises nothing
  return fixed, slow, finite, rnorm, grad, num_at_bound


def tolerance_tensors(tol, dtype):
  return {k: tf.constant(v, dtype) for k, v in dataclasses.asdict(tol).items()}


# The [M, d, d] parts of a linearisation (the loop keeps them in groups, ``make_refine``).
_MATRICES = ('jac', 'a')


def make_refine(step_fn, bound):
  """The compiled Levenberg-Marquardt loop for ``step_fn`` (see ``refine``).

  Args:
    step_fn: a ``StepFunction`` whose ``step`` accepts states of the refinement dtype.
    bound: ``None`` or ``[d]`` per-coordinate bounds (``inf`` for a free coordinate): the
      initial and trial states are clipped to ``[-bound, bound]`` (the cell's reachable
      region) and the iteration is the projected, active-set one (module docstring).
  """

  @tf.function(reduce_retracing=True, autograph=False)
  def run(x0, prepared, max_iters, tol):
    dtype = x0.dtype
    constants = step_fn.constants()
    residual = _residual_fn(step_fn, constants)
    closed_jacobian = _closed_jacobian_fn(step_fn, constants)
    lim = _bounds_tensor(bound, dtype)
    clip = (lambda x: x) if lim is None else (lambda x: tf.clip_by_value(x, -lim, lim))
    n = tf.shape(x0)[0]
    x0 = clip(x0)

    def linearise(x, p):
      """What the iteration needs at ``x`` and depends on ``x`` only: ``r``, ``J``,
      ``J^T J``, ``J^T r``, max diag, finiteness and the status rules (judged on the
      undamped Gauss-Newton step, exactly as ``diagnose`` judges: a large damping makes
      any step small)."""
      r, jac, a, b, diag_max = _linearise(residual, x, p, closed_jacobian)
      finite = tf.math.is_finite(tf.reduce_sum(tf.square(r), -1)) & tf.math.is_finite(
          diag_max)
      active = None if lim is None else _active_set(x, b, lim)[1]
      gn_step = _gauss_newton_step(x, a, b, diag_max, finite, active, tol['xtol'])
      fixed, slow, judged = _criteria(x, r, b, gn_step, jac, diag_max, tol, lim)[:3]
      return {'r': r, 'jac': jac, 'a': a, 'b': b, 'diag': tf.linalg.diag_part(a),
              'diag_max': diag_max, 'finite': finite, 'fixed': fixed, 'slow': slow,
              'judged': judged}

    def body(i, idx, x, p, mu, nu, last, dmax, n_moved, still, count, out):
      # The points are ordered: the first ``n_moved`` took a step last iteration and are
      # linearised again; the others' last step was rejected, which leaves x, and so
      # everything in their linearisation (``still``), unchanged (only the damping
      # changes). The large ``[M, d, d]`` parts (``_MATRICES``) stay in these two groups
      # and are never concatenated, scattered or masked as a whole (that was a third of the
      # loop's time): only the rejected points' are carried to the next iteration.
      fresh = linearise(x[:n_moved], p[:n_moved])
      groups = (fresh, still)
      count += n_moved
      lin = {k: tf.concat([fresh[k], still[k]], 0) for k in fresh if k not in _MATRICES}

      def per_group(fn, *args):
        """``fn(group, *args of its points)`` on both groups, concatenated."""
        parts = [fn(g, *(t[:n_moved] if k == 0 else t[n_moved:] for t in args))
                 for k, g in enumerate(groups)]
        return tf.concat(parts, 0)

      r, b, diag_max, finite = (lin[k] for k in ('r', 'b', 'diag_max', 'finite'))
      s = tf.reduce_sum(tf.square(r), -1)
      mu = tf.where(mu < 0, _TAU * tf.maximum(diag_max, 1e-300), mu)
      active = None if lim is None else _active_set(x, b, lim)[1]
      dmax = tf.where(finite[:, None], tf.maximum(dmax, lin['diag']), dmax)
      scale = tf.maximum(dmax / tf.maximum(tf.reduce_max(dmax, -1, keepdims=True), 1e-300),
                         _SCALE_FLOOR)
      if active is None:
        dx = per_group(lambda g, b_, mu_, m_, f_, s_: _damped_step(
            g['a'], b_, mu_, m_, f_, None, s_), b, mu, diag_max, finite, scale)
      else:
        dx = per_group(lambda g, b_, mu_, m_, f_, s_, act: _damped_step(
            g['a'], b_, mu_, m_, f_, act, s_), b, mu, diag_max, finite, scale, active)
      fixed, slow = lin['fixed'], lin['slow']
      stuck = mu > _MU_CEIL * (1.0 + diag_max)
      stop = ~lin['judged'] | fixed | slow | stuck
      # Trial step; the gain ratio compares the fall of S with the linear model's.
      xt = clip(x + dx)
      st = tf.reduce_sum(tf.square(residual(xt, p)), -1)
      model = r + per_group(lambda g, v: tf.linalg.matvec(g['jac'], v), xt - x)
      predicted = s - tf.reduce_sum(tf.square(model), -1)
      rho = (s - st) / tf.where(predicted > 0, predicted, tf.ones_like(predicted))
      accept = tf.math.is_finite(st) & (st < s) & (predicted > 0)
      shrink = tf.maximum(1.0 - tf.pow(2.0 * rho - 1.0, 3), 1.0 / _SHRINK)
      mu = tf.where(accept, mu * shrink, mu * nu)
      nu = tf.where(accept, tf.fill(tf.shape(nu), tf.constant(2.0, dtype)), 2.0 * nu)
      last = tf.where(accept, tf.reduce_max(tf.abs(xt - x), -1), last)
      # Stopped points leave the batch at the state they were judged at.
      reason = tf.where(fixed, 0, tf.where(slow, 1, tf.where(stuck, 2, 3)))
      out = _scatter_out(out, tf.boolean_mask(idx, stop), tf.boolean_mask(x, stop),
                         i, tf.boolean_mask(last, stop), tf.boolean_mask(reason, stop))
      x = tf.where(accept[:, None], xt, x)
      # The next batch: the points that moved first, then those that did not.
      moved, kept = ~stop & accept, ~stop & ~accept
      order = tf.concat([tf.where(moved)[:, 0], tf.where(kept)[:, 0]], 0)
      take = lambda t: tf.gather(t, order)  # noqa: E731
      kept_at = tf.cast(tf.where(kept)[:, 0], tf.int32)
      from_fresh = tf.boolean_mask(kept_at, kept_at < n_moved)
      from_still = tf.boolean_mask(kept_at, kept_at >= n_moved) - n_moved
      still = {k: tf.gather(lin[k], kept_at) for k in lin}
      still.update({k: tf.concat([tf.gather(fresh[k], from_fresh),
                                  tf.gather(groups[1][k], from_still)], 0)
                    for k in _MATRICES})
      n_moved = tf.reduce_sum(tf.cast(moved, tf.int32))
      return (i + 1, take(idx), take(x), take(p), take(mu), take(nu), take(last), take(dmax),
              n_moved, still, count, out)

    inf = tf.fill([n], tf.constant(np.inf, dtype))
    d = x0.shape[-1]
    vec, no = tf.zeros([0, d], dtype), tf.zeros([0], tf.bool)
    empty = {'r': vec, 'jac': tf.zeros([0, d, d], dtype), 'a': tf.zeros([0, d, d], dtype),
             'b': vec, 'diag': vec, 'diag_max': tf.zeros([0], dtype), 'finite': no,
             'fixed': no, 'slow': no, 'judged': no}
    init = (tf.constant(0), tf.range(n), x0, prepared, -tf.ones([n], dtype),
            2.0 * tf.ones([n], dtype), inf, tf.zeros_like(x0), n, empty,
            tf.constant(0), (x0, tf.zeros([n], tf.int32), inf, tf.fill([n], 4)))
    invariants = tf.nest.map_structure(
        lambda t: tf.TensorShape([None] + t.shape[1:]) if t.shape.rank else t.shape, init)
    out = tf.while_loop(lambda i, idx, *_: (i < max_iters) & (tf.size(idx) > 0), body, init,
                        shape_invariants=invariants, parallel_iterations=1)
    i, idx, x, last, count = out[0], out[1], out[2], out[6], out[10]
    # Points still running at the iteration limit: their latest state.
    out_x, out_it, out_last, out_stop = _scatter_out(out[11], idx, x, i, last,
                                                     tf.fill(tf.shape(idx), 4))
    return out_x, out_it, out_last, out_stop, i, count

  return run


def _scatter_out(out, idx, x, i, last, reason):
  """Writes stopped points (batch indices ``idx``) into the outputs ``(x, iterations,
  last step, stop reason)``."""
  where = idx[:, None]
  out_x, out_it, out_last, out_stop = out
  return (tf.tensor_scatter_nd_update(out_x, where, x),
          tf.tensor_scatter_nd_update(out_it, where, tf.fill(tf.shape(idx), i)),
          tf.tensor_scatter_nd_update(out_last, where, last),
          tf.tensor_scatter_nd_update(out_stop, where, reason))


STOP_REASONS = ('fixed_point', 'slow_point', 'damping_limit', 'non_finite', 'max_iters')


def make_diagnose(step_fn, bound=None):
  """Compiled ``diagnose(x [M, d], prepared, tol) -> dict`` for ``step_fn``.

  Args:
    step_fn: a ``StepFunction`` in the dtype of the points.
    bound: ``None`` or ``[d]`` bounds (as for ``make_refine``): the rules are then those of
      the box (projected gradient and step, ``num_at_bound``).

  Returns:
    ``run(x, prepared, tol)`` giving, per point, S (in xi), the residual norm, the norm of
    the projected ``J^T r``, the max-abs size of the (projected) Gauss-Newton step, the
    number of coordinates on the bound, the status code (all ``[M]``) and ``J`` itself
    (``[M, d, d]``, for the singular values).
  """

  @tf.function(reduce_retracing=True, autograph=False)
  def run(x, prepared, tol):
    constants = step_fn.constants()
    residual = _residual_fn(step_fn, constants)
    lim = _bounds_tensor(bound, x.dtype)
    r, jac, a, b, diag_max = _linearise(residual, x, prepared,
                                        _closed_jacobian_fn(step_fn, constants))
    finite = tf.math.is_finite(tf.reduce_sum(r, -1)) & tf.math.is_finite(diag_max)
    # Gauss-Newton step in the free coordinates: damping only at the rounding level.
    active = None if lim is None else _active_set(x, b, lim)[1]
    dx = _damped_step(a, b, tf.zeros_like(diag_max), diag_max, finite, active)
    fixed, slow, finite, rnorm, grad, num_at_bound = _criteria(x, r, b, dx, jac, diag_max,
                                                               tol, lim)
    status = tf.where(fixed, FIXED_POINT, tf.where(slow, SLOW_POINT, NOT_CONVERGED))
    xi_step = step_fn.to_xi(x + r) - step_fn.to_xi(x)  # the paper's S, in xi
    return {'speed': tf.reduce_sum(tf.square(xi_step), -1), 'residual': rnorm,
            'gradient': tf.norm(grad, axis=-1), 'newton_step': tf.reduce_max(tf.abs(dx), -1),
            'num_at_bound': num_at_bound, 'status': status, 'jacobian': jac}

  return run


def smallest_singular_values(jac):
  """``[M, d, d] -> [M]`` in float64 (NaN where ``J`` is not finite)."""
  jac = np.asarray(jac, np.float64)
  out = np.full(jac.shape[0], np.nan)
  finite = np.all(np.isfinite(jac), axis=(1, 2))
  if finite.any():
    out[finite] = np.linalg.svd(jac[finite], compute_uv=False)[:, -1]
  return out


def chunk_size(d, itemsize, budget_bytes=2 ** 25):
  """Points per refinement call: the Jacobians ``[M, d, d]`` within ``budget_bytes``
  (their autodiff intermediates take several times that)."""
  return max(16, int(budget_bytes // max(1, d * d * itemsize)))
