"""The options of the slow-point search, their defaults (once) and their checks.

``SearchOptions`` is everything ``slowpoints.find_slow_points`` can be told: the method,
the precision and box, and the hyper-parameters of each phase. ``PaperOptions`` is the
authors' search (``method='paper'``) as the first-order module runs it; its defaults are
the authors' and those of ``SearchOptions``' paper fields.
"""

import dataclasses

import numpy as np

METHODS = ('newton', 'adam', 'adam+newton', 'paper')
DTYPES = ('float32', 'float64')
ADAM_LEARNING_RATE = 1e-2  # initial per-point rate of method='adam'


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


# The fields of the first-order ('adam') search, recorded in a result's info.
ADAM_FIELDS = ('tol', 'max_iters', 'learning_rate', 'lr_grow', 'lr_backoff',
               'max_learning_rate', 'min_learning_rate', 'beta1', 'beta2', 'epsilon',
               'patience', 'min_rel_improvement', 'clip')


@dataclasses.dataclass(frozen=True)
class SearchOptions:
  """How ``find_slow_points`` searches (the defaults live here and nowhere else).

  Checked when made: a bad value is one ``ValueError`` line.

  Attributes:
    method: ``'newton'`` (batched Levenberg-Marquardt), ``'adam'`` (the first-order
      search), ``'adam+newton'`` (the first, then the second from its results) or
      ``'paper'`` (the authors' search).
    dtype: ``'float64'`` or ``'float32'``: of the refinement and of the judgement.
      A ``StepFunction`` from ``step_fn_for_cell``/``step_fn_for_model`` builds a copy of
      the cell in that dtype; a plain callable must accept tensors of it.
    clip: ``'auto'`` (``StepFunction.state_bounds``, i.e. ``|h| <= 1`` and LSTM's ``c``
      free; nothing for a plain callable), a float, ``[S]`` per-coordinate bounds (kept as
      a tuple) or ``None``. The initial states are clipped to ``[-clip, clip]``, and so is
      every step. GRU and SimpleRNN states never leave (-1, 1); outside it saturated gates
      create spurious slow points. The Newton phase and the status then treat the box as
      a constraint (projected Levenberg-Marquardt, KKT status).
    tol: speed at which the first-order search stops a point (``'adam'`` methods).
    max_iters: first-order iteration limit (each iteration is one gradient evaluation).
    learning_rate: initial per-point Adam rate (``'adam'`` methods), or the authors' rate
      before the decay (``'paper'``); ``None``: the method's own (``ADAM_LEARNING_RATE``,
      ``PaperOptions.learning_rate``), see ``rate``.
    lr_grow, lr_backoff, max_learning_rate, min_learning_rate: the per-point rate is
      multiplied by ``lr_grow`` (up to ``max_learning_rate``) after a step that did not
      increase the speed, by ``lr_backoff`` (down to ``min_learning_rate``) after one that
      did.
    beta1, beta2, epsilon: Adam of the ``'adam'`` method (the ``'paper'`` method uses
      TensorFlow 1's, ``PaperOptions``).
    patience, min_rel_improvement: a point is frozen when its best speed has not fallen by
      a factor ``1 - min_rel_improvement`` in ``patience`` iterations.
    jit_compile: compile the first-order searches with XLA (much faster on CPU for small
      batches; the Newton phase never uses XLA, see ``newton.py``).
    groups: the first-order search's points are split into this many independent searches
      run concurrently (same results). ``None``: ``default_groups(N)``.
    newton_iters: Levenberg-Marquardt iteration limit.
    floor_factor, xtol, gtol: the status thresholds (``newton.Tolerances.for_dtype``):
      residual floor ``floor_factor * eps * sqrt(S) * max(1, |x|_inf)``, negligible
      Gauss-Newton step ``xtol * max(1, |x|_inf)`` (default ``sqrt(eps)``), vanishing
      relative gradient ``|J^T r| / |r| <= gtol`` (default ``sqrt(eps)``; with ``clip``,
      of the gradient in the coordinates not held on the bound).
    num_steps, decay_step, decay_factor: the ``'paper'`` search's step count and rate
      schedule (``PaperOptions``).
  """
  method: str = 'newton'
  dtype: str = 'float64'
  clip: float | str | tuple | None = 'auto'
  # first-order search ('adam', 'adam+newton')
  tol: float = 1e-8
  max_iters: int = 20_000
  learning_rate: float | None = None
  lr_grow: float = 1.002
  lr_backoff: float = 0.98
  max_learning_rate: float = 0.1
  min_learning_rate: float = 1e-7
  beta1: float = 0.9
  beta2: float = 0.99
  epsilon: float = 1e-12
  patience: int = 1000
  min_rel_improvement: float = 1e-3
  jit_compile: bool = True
  groups: int | None = None
  # Levenberg-Marquardt refinement and status ('newton', 'adam+newton', every judgement)
  newton_iters: int = 200
  floor_factor: float = 64.0
  xtol: float | None = None
  gtol: float | None = None
  # the authors' search ('paper')
  num_steps: int = PaperOptions.num_steps
  decay_step: int = PaperOptions.decay_step
  decay_factor: float = PaperOptions.decay_factor

  def __post_init__(self):
    if not isinstance(self.clip, (str, type(None))):
      clip = np.asarray(self.clip, np.float64)  # hashable, comparable, JSON-ready
      object.__setattr__(self, 'clip',
                         float(clip) if clip.ndim == 0 else tuple(clip.ravel().tolist()))
    _check(self)

  @property
  def rate(self):
    """The initial learning rate of the method (``learning_rate`` or its default)."""
    if self.learning_rate is not None:
      return self.learning_rate
    return PaperOptions.learning_rate if self.method == 'paper' else ADAM_LEARNING_RATE

  def paper(self):
    """The ``'paper'`` search's ``PaperOptions``."""
    return PaperOptions(num_steps=int(self.num_steps), learning_rate=float(self.rate),
                        decay_step=int(self.decay_step),
                        decay_factor=float(self.decay_factor))

  def adam_info(self):
    """The first-order options a result records (``ADAM_FIELDS``, the rate resolved)."""
    return {**{name: getattr(self, name) for name in ADAM_FIELDS}, 'learning_rate': self.rate}

  def overrides(self):
    """The options that differ from the defaults, but ``method`` (JSON types)."""
    return {f.name: list(value) if isinstance(value, tuple) else value
            for f in dataclasses.fields(self) if f.name != 'method'
            for value in [getattr(self, f.name)] if value != f.default}

  @classmethod
  def from_overrides(cls, method, overrides):
    """The options of a recorded ``overrides()`` (or any dict of fields); ``None`` if it
    names an unknown field or a bad value."""
    try:
      return cls(method=method, **overrides)
    except (TypeError, ValueError):
      return None


def _check(o):
  """One ``ValueError`` line for the first bad option."""
  if o.method not in METHODS:
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {o.method!r}")
  if str(o.dtype) not in DTYPES:
    raise ValueError(f"dtype must be 'float32' or 'float64', got {o.dtype!r}")
  for name in ('max_iters', 'newton_iters', 'patience', 'num_steps'):
    _check_int(name, getattr(o, name), 1)
  _check_int('decay_step', o.decay_step, 0)
  if o.groups is not None:
    _check_int('groups', o.groups, 1)
  if not 0 <= o.tol < np.inf:  # also NaN
    raise ValueError(f'tol must be >= 0 and finite, got {o.tol!r}')
  if not 0 < o.rate < np.inf:
    raise ValueError(f'learning_rate must be > 0 and finite, got {o.learning_rate!r}')
  if not o.decay_factor > 0:
    raise ValueError(f'decay_factor must be > 0, got {o.decay_factor!r}')
  # clip is checked against the state width by search_inputs.resolve_clip.


def _check_int(name, value, least):
  if int(value) != value or value < least:
    raise ValueError(f'{name} must be an integer >= {least}, got {value!r}')
