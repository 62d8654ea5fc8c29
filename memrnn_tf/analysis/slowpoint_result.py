"""``SlowPoints``: the result of a slow-point search, its linearisation and its files.

A ``SlowPoints`` holds N points of packed size S with their speeds, their status
(``newton.STATUS``, judged by ``from_points``) and what it rests on; it computes the
Jacobians and eigenvalues of F at the points, selects (``unique``, ``exclude_outliers``,
``subset``) and is saved as ``<prefix>.npz`` (every array, and ``info`` as the JSON string
``info_json``) beside ``<prefix>.json`` (``summary()`` plus the caller's ``extra``).
"""

import dataclasses
import json

import numpy as np
import tensorflow as tf

from memrnn_tf import files
from memrnn_tf.analysis import newton
from memrnn_tf.analysis import refinement
from memrnn_tf.analysis import search_inputs
from memrnn_tf.analysis import search_options
from memrnn_tf.analysis import step_functions


def _batched(fn, n, batch_size):
  return np.concatenate([fn(slice(s, min(n, s + batch_size))) for s in range(0, n, batch_size)])


@dataclasses.dataclass
class SlowPoints:
  """Result of ``find_slow_points`` (numpy arrays, N points of packed size S).

  The per-point judgement (``status`` and the numbers it rests on) is made in the
  refinement dtype at ``points`` (``newton.diagnose``); see the docstring of ``slowpoints``.

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
    step_fn = step_functions.as_step_fn(step_fn)
    if str(dtype) not in search_options.DTYPES:
      raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    _, inputs = search_inputs.check_batch(step_fn, np.asarray(points, np.float32), inputs)
    points = np.asarray(points, dtype)
    bound = search_inputs.resolve_clip(step_fn, clip, points.shape[1])
    x0 = points if initial_states is None else np.asarray(initial_states)
    tolerances = tolerances or newton.Tolerances.for_dtype(dtype)
    variant = step_fn.with_dtype(dtype)
    size = batch_size or newton.chunk_size(points.shape[1], np.dtype(dtype).itemsize)
    d = refinement.judge(variant, points, inputs, bound, tolerances, size)
    speeds = np.where(np.isfinite(d['speed']), d['speed'], np.nan)
    x0_t = tf.constant(np.asarray(x0, dtype))
    initial_speeds = np.concatenate([variant.speed(
        x0_t[s:s + size],
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
    return step_functions.as_step_fn(step_fn).with_dtype(self.points.dtype.name)

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
    return self._jacobians(step_fn, 0, coords, batch_size)

  def input_jacobians(self, step_fn, coords='xi', batch_size=64):
    """Jacobians w.r.t. the input, ``[N, S, I]`` (``d xi(F) / dI`` or ``dF/dI``)."""
    return self._jacobians(step_fn, 1, coords, batch_size)

  def _jacobians(self, step_fn, which, coords, batch_size):
    """``jacobian_fns(...)[which]`` at the points, in batches."""
    if coords not in ('xi', 'state'):
      raise ValueError(f"coords must be 'xi' or 'state', got {coords!r}")
    jacobian = step_functions.jacobian_fns(self._in_dtype(step_fn))[which]
    x, inputs = self._tensors()
    return _batched(lambda s: jacobian(x[s], inputs[s], coords == 'xi').numpy(),
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
    arrays = {k: getattr(self, k) for k in self._ARRAYS if getattr(self, k) is not None}
    arrays['info_json'] = np.asarray(files.dumps(self.info, indent=None))
    files.write_npz(prefix + '.npz', **arrays)
    summary = self.summary()
    if extra:
      summary.update(extra)
    files.write_json(prefix + '.json', summary)
    return prefix + '.npz'

  @classmethod
  def load(cls, path):
    """Reads what ``save`` wrote (``prefix`` or ``prefix.npz``)."""
    path = path if path.endswith('.npz') else path + '.npz'
    with np.load(path) as d:
      kw = {k: (d[k] if k in d.files else None) for k in cls._ARRAYS}
      info = json.loads(str(d['info_json'])) if 'info_json' in d.files else {}
    return cls(**kw, info=info)
