"""The analysis plan (``docs/analysis_plan.md``) as code: verdicts, effects and margins.

Every claim's primary effect is an ``Effect`` signed so that a positive estimate is the
paper's direction, with a two-sided 95% t interval and p-value. ``judge`` turns it into one
of four symmetric verdicts; ``judge_secondary`` Holm-adjusts a claim's secondary comparisons
(reported, never deciding). The numbers here (margins, minimum N) are the plan's; changing
one is a new dated version of the plan, and ``PLAN_VERSION`` names the one in force.
"""

import dataclasses

from memrnn_tf.analysis import stats

PLAN_VERSION = 'v1 (2026-12-03)'
PLAN_DOC = 'docs/analysis_plan.md'

REPRODUCES = 'reproduces'
CONTRADICTED = 'contradicted'
NOT_OBSERVED = 'not observed'
INCONCLUSIVE = 'inconclusive'
VERDICTS = (REPRODUCES, CONTRADICTED, NOT_OBSERVED, INCONCLUSIVE)

ALPHA = 0.05
MIN_NETWORKS = 5  # per group, unless a claim says otherwise

# Margins ``delta`` (the smallest effect of the paper's size), in the effect's own units:
# accuracies are fractions, speeds decades, correlations rho.
MARGIN = {
    'extrapolation': 0.10,
    'noise': 0.10,
    'second_retrieval': 0.05,
    'speed_accuracy': 0.3,
    'speed_difference': 0.5,
    'spread': 0.22314355131420976,  # log(1.25)
    'jumps': 0.17609125905568124,  # log10(1.5)
    'branching': 0.01,
    'regularization': 0.10,
}
NOMINAL_TOLERANCE = 0.02  # claim 1: mean test accuracy above the paper's less 2 points
NAIVE_CEILING = 0.05  # claim 2
CHANCE = 0.10
READOUT_MATCH = 0.9  # claim 6
BRANCHING_MIN_NETWORKS = 3
BRANCHING_MIN_EVENTS = 15
NAIVE_MIN_NETWORKS = 2
FLIPFLOP_MIN_NETWORKS = 2
INTACT = 0.01  # claim 12: nominal accuracy "intact" within +- 1 point


@dataclasses.dataclass
class Effect:
  """One comparison: an estimate signed toward the paper's direction, its interval and p.

  Attributes:
    label: what is compared, in words.
    estimate, lo, hi: the effect and its 95% interval (None when it cannot be computed).
    p: two-sided p-value.
    n: sample size in words (``'N = 5 vs 5'``, ``'12 events'``).
    test: the test's name.
    enough: whether the claim's minimum N is met.
    unit: ``'points'`` (fractions shown x100), ``'decades'``, ``'rho'``, ...
    p_holm: Holm-adjusted p (secondary comparisons).
    outcome: for secondary comparisons, ``'consistent'``, ``'against'``,
      ``'not significant'`` or ``'not judged'``.
  """
  label: str
  estimate: float = None
  lo: float = None
  hi: float = None
  p: float = None
  n: str = ''
  test: str = ''
  enough: bool = True
  unit: str = 'points'
  p_holm: float = None
  outcome: str = ''

  @property
  def computed(self):
    return None not in (self.estimate, self.lo, self.hi, self.p)

  def scaled(self, x):
    return x * 100.0 if self.unit == 'points' else x

  def text(self):
    """``'+12.3 points [4.1, 20.5], Welch p = 0.004, N = 5 vs 5'``."""
    if self.test == 'structural':
      return f'{self.label}: {self.n}'
    if not self.computed:
      return f'{self.label}: not computed ({self.n or "no data"})'
    digits = 1 if self.unit == 'points' else 2
    return (f'{self.label}: {self.scaled(self.estimate):+.{digits}f} {self.unit} '
            f'[{self.scaled(self.lo):+.{digits}f}, {self.scaled(self.hi):+.{digits}f}], '
            f'{self.test} p = {self.p:.2g}, {self.n}')


def _signed(interval, sign):
  """``(estimate, lo, hi)`` of an interval dict, flipped when ``sign`` is -1."""
  e, lo, hi = interval['estimate'], interval['lo'], interval['hi']
  return (e, lo, hi) if sign > 0 else (-e, -hi, -lo)


def welch_effect(label, x, y, sign=1, min_n=MIN_NETWORKS, unit='points', names=('x', 'y')):
  """``sign * (x - y)`` of two groups given as ``(mean, sem, n)``, Welch interval."""
  n_x, n_y = int(x[2] or 0), int(y[2] or 0)
  n = f'N = {n_x} vs {n_y}' if names == ('x', 'y') else f'N = {n_x} {names[0]} vs {n_y} {names[1]}'
  interval = stats.welch_interval(*x, *y)
  enough = min(n_x, n_y) >= min_n
  if interval is None:
    return Effect(label, n=n, test='Welch t', enough=enough, unit=unit)
  e, lo, hi = _signed(interval, sign)
  return Effect(label, e, lo, hi, interval['p'], n, 'Welch t', enough, unit)


def one_sample_effect(label, values, mu=0.0, sign=1, min_n=MIN_NETWORKS, unit='points',
                      count='networks'):
  """``sign * (mean(values) - mu)``, one-sample t interval; ``values`` may be (mean, sem, n)."""
  interval = stats.one_sample_interval(values, mu)
  n = (int(values[2] or 0) if isinstance(values, tuple) and len(values) == 3
       else int(sum(1 for v in values if v is not None and v == v)))
  text = f'{n} {count}'
  if interval is None:
    return Effect(label, n=text, test='one-sample t', enough=n >= min_n, unit=unit)
  e, lo, hi = _signed(interval, sign)
  return Effect(label, e, lo, hi, interval['p'], text, 'one-sample t', n >= min_n, unit)


def paired_effect(label, x, y, sign=1, min_n=MIN_NETWORKS, unit='points'):
  """``sign * mean(x - y)`` over pairs, paired t interval."""
  interval = stats.paired_interval(x, y)
  n = interval['n'] if interval else 0
  if interval is None:
    return Effect(label, n=f'{n} pairs', test='paired t', enough=False, unit=unit)
  e, lo, hi = _signed(interval, sign)
  return Effect(label, e, lo, hi, interval['p'], f'{n} pairs', 'paired t', n >= min_n, unit)


def judge(effect, delta):
  """The plan's verdict of a primary effect with margin ``delta``.

  Returns:
    ``(verdict, reason)``: reproduces (p < alpha, estimate > 0), contradicted (p < alpha,
    estimate < 0), not observed (not significant and the interval's upper end below
    ``delta``), inconclusive otherwise or with too few networks.
  """
  if not effect.enough:
    return INCONCLUSIVE, f'{effect.text()}: fewer networks than the plan\'s minimum'
  if not effect.computed:
    return INCONCLUSIVE, effect.text()
  if effect.p < ALPHA and effect.estimate > 0:
    return REPRODUCES, effect.text()
  if effect.p < ALPHA and effect.estimate < 0:
    return CONTRADICTED, effect.text()
  if delta is not None and effect.hi < delta:
    return NOT_OBSERVED, (f'{effect.text()}: the interval excludes an effect of '
                          f'{effect.scaled(delta):g} {effect.unit} (the plan\'s margin)')
  return INCONCLUSIVE, f'{effect.text()}: neither significant nor excluded by the interval'


def judge_secondary(effects):
  """Holm-adjusts ``effects`` as one family and sets each one's ``outcome`` (in place).

  Returns:
    ``effects``.
  """
  judged = [e for e in effects if e.enough and e.computed]
  for e, p in zip(judged, stats.holm([e.p for e in judged])):
    e.p_holm = p
    if p < ALPHA:
      e.outcome = 'consistent' if e.estimate > 0 else 'against'
    else:
      e.outcome = 'not significant'
  for e in effects:
    if not (e.enough and e.computed):
      e.outcome = 'not judged'
  return effects


@dataclasses.dataclass
class Judgement:
  """A claim's verdict under the plan.

  Attributes:
    verdict: one of ``VERDICTS``.
    reason: the deciding statistic in words.
    primary: the primary ``Effect``s (usually one).
    secondary: the Holm-adjusted secondary ``Effect``s.
  """
  verdict: str
  reason: str
  primary: list
  secondary: list = dataclasses.field(default_factory=list)
