"""Statistics over networks: mean +- SEM, rank and linear correlations with permutation
p-values, and grouping of per-run values by condition.

Every claim of the paper is about several networks per condition (curriculum, cell,
readout), so every multi-run binary reduces per-run numbers with these helpers. They use
numpy and scipy (no TensorFlow) and NaN-aware: a missing value (e.g. a class without trials)
is left out of its mean and counted out of ``n``.
"""

import itertools
import math

import numpy as np
from scipy import stats as sps


def mean_sem(values, axis=0):
  """NaN-aware mean, standard error of the mean and count along ``axis``.

  SEM is ``std(ddof=1) / sqrt(n)``; it is NaN where fewer than 2 values are finite.

  Args:
    values: array-like, e.g. ``[networks, delays]``.
    axis: the axis of the repetitions (networks).

  Returns:
    ``(mean, sem, n)`` arrays with ``axis`` removed (floats for 1-D input).
  """
  x = np.asarray(values, np.float64)
  finite = np.isfinite(x)
  n = finite.sum(axis=axis)
  total = np.where(finite, x, 0.0).sum(axis=axis)
  with np.errstate(invalid='ignore', divide='ignore'):
    mean = total / n
    dev = np.where(finite, x - np.expand_dims(mean, axis), 0.0)
    var = (dev ** 2).sum(axis=axis) / (n - 1)
    sem = np.where(n >= 2, np.sqrt(var / n), np.nan)
  mean = np.where(n > 0, mean, np.nan)
  if np.ndim(mean) == 0:
    return float(mean), float(sem), int(n)
  return mean, sem, n


def _ranks(x):
  """Average ranks (ties share their mean rank), ``[n]`` float."""
  x = np.asarray(x)
  order = np.argsort(x, kind='stable')
  ranks = np.empty(len(x), np.float64)
  ranks[order] = np.arange(len(x), dtype=np.float64)
  _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
  sums = np.bincount(inverse, weights=ranks)
  return sums[inverse] / counts[inverse]


def pearson(x, y):
  """Pearson's r of two ``[n]`` arrays (NaN if either is constant)."""
  x = np.asarray(x, np.float64) - np.mean(x)
  y = np.asarray(y, np.float64) - np.mean(y)
  denom = np.sqrt((x ** 2).sum() * (y ** 2).sum())
  return float((x * y).sum() / denom) if denom > 0 else float('nan')


def spearman(x, y):
  """Spearman's rho (Pearson's r of the average ranks)."""
  return pearson(_ranks(x), _ranks(y))


_STATISTICS = {'pearson': pearson, 'spearman': spearman}


def permutation_test(x, y, statistic='spearman', num_permutations=10_000, seed=0):
  """Correlation and its two-sided permutation p-value.

  ``p = (1 + #{perm : |r_perm| >= |r|}) / (1 + num_permutations)`` with ``y`` shuffled
  against ``x`` (exact under exchangeability, never 0; honest at n = 10, where the
  t-approximation is not).

  Args:
    x, y: ``[n]`` paired values (pairs with a non-finite member are dropped).
    statistic: ``'spearman'`` or ``'pearson'``.
    num_permutations: random permutations.
    seed: seed of the permutations.

  Returns:
    Dict ``{'r', 'p', 'n'}`` (``r`` and ``p`` NaN when fewer than 3 pairs or a constant).
  """
  if statistic not in _STATISTICS:
    raise ValueError(f'unknown statistic {statistic!r}: expected one of '
                     f'{", ".join(_STATISTICS)}')
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  keep = np.isfinite(x) & np.isfinite(y)
  x, y = x[keep], y[keep]
  n = int(len(x))
  if statistic == 'spearman':  # rank once; the permuted statistic is then a Pearson r
    x, y = _ranks(x), _ranks(y)
  r = pearson(x, y) if n >= 3 else float('nan')
  if not np.isfinite(r):
    return {'r': float('nan'), 'p': float('nan'), 'n': n}
  rng = np.random.default_rng(seed)
  xc = x - x.mean()
  yc = y - y.mean()
  norm = np.sqrt((xc ** 2).sum() * (yc ** 2).sum())
  perms = np.argsort(rng.random((int(num_permutations), n)), axis=1)
  r_perm = (yc[perms] * xc).sum(axis=1) / norm
  # A small tolerance so permutations that tie the observed |r| count as "as extreme".
  extreme = np.sum(np.abs(r_perm) >= abs(r) - 1e-12)
  return {'r': float(r), 'p': float((1 + extreme) / (1 + num_permutations)), 'n': n}


def correlations(x, y, num_permutations=10_000, seed=0):
  """Spearman and Pearson correlations with permutation p-values.

  Returns:
    ``{'n': n, 'spearman': {'r', 'p'}, 'pearson': {'r', 'p'}}``.
  """
  out = {}
  for name in ('spearman', 'pearson'):
    res = permutation_test(x, y, name, num_permutations, seed)
    out['n'] = res.pop('n')
    out[name] = res
  return out


def summarize(values):
  """``{'mean', 'sem', 'n'}`` of ``values`` (any shape; the first axis is the networks),
  as JSON-ready lists."""
  mean, sem, n = mean_sem(values, axis=0)
  to_list = lambda a: _nan_to_none(np.asarray(a).tolist())  # noqa: E731
  return {'mean': to_list(mean), 'sem': to_list(sem), 'n': to_list(n)}


def group(keys, values):
  """Groups ``values`` by ``keys`` preserving first-seen order: ``{key: [values]}``."""
  out = {}
  for k, v in zip(keys, values):
    out.setdefault(k, []).append(v)
  return out


def summarize_groups(keys, values):
  """``{key: summarize(stacked values of key)}`` for per-run arrays of equal shape."""
  return {k: summarize(np.stack([np.asarray(v, np.float64) for v in vs]))
          for k, vs in group(keys, values).items()}


def _nan_to_none(x):
  """Replaces NaN (not JSON) by None in nested lists."""
  if isinstance(x, list):
    return [_nan_to_none(v) for v in x]
  if isinstance(x, float) and not np.isfinite(x):
    return None
  return x


def format_mean_sem(mean, sem, n=None, scale=100.0, digits=1, unit='%'):
  """``'97.6 +- 0.1% (N=10)'``; ``scale`` converts fractions to percent."""
  if mean is None or not np.isfinite(mean):
    return 'n/a'
  text = f'{scale * mean:.{digits}f}'
  if sem is not None and np.isfinite(sem):
    text += f' +- {scale * sem:.{digits}f}'
  text += unit
  return text if n is None else f'{text} (N={n})'


def _num(x, spec):
  return 'nan' if x is None or not np.isfinite(x) else format(x, spec)


def format_correlation(corr):
  """``'rho +0.71 (p=0.02), r +0.65 (p=0.04), n=10'`` from ``correlations`` output
  (missing values, e.g. of a constant variable, print as nan)."""
  return (f'rho {_num(corr["spearman"]["r"], "+.2f")} (p={_num(corr["spearman"]["p"], ".2g")}), '
          f'r {_num(corr["pearson"]["r"], "+.2f")} (p={_num(corr["pearson"]["p"], ".2g")}), '
          f'n={corr["n"]}')


# --- paired and two-sample tests (backtracking, branching) -----------------------------
def sign_flip_test(differences, alternative='less', num_permutations=100_000, seed=0):
  """Paired permutation test of the mean difference (random sign flips).

  Exact (all 2^n sign patterns) for n <= 16, else ``num_permutations`` random flips.

  Args:
    differences: paired differences ``[n]``.
    alternative: ``'less'`` (mean < 0), ``'greater'`` or ``'two-sided'``.

  Returns:
    p-value (NaN for n = 0).
  """
  d = np.asarray(differences, np.float64)
  d = d[np.isfinite(d)]
  n = d.size
  if n == 0:
    return float('nan')
  observed = d.mean()
  if n <= 16:
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
  else:
    signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(num_permutations, n))
  means = signs @ np.abs(d) / n
  eps = 1e-12 * max(1.0, abs(observed))
  if alternative == 'less':
    return float(np.mean(means <= observed + eps))
  if alternative == 'greater':
    return float(np.mean(means >= observed - eps))
  if alternative == 'two-sided':
    return float(np.mean(np.abs(means) >= abs(observed) - eps))
  raise ValueError(f'unknown alternative {alternative!r}')


def paired_tests(a, b, alternative='less'):
  """Tests of ``a - b`` (paired): Wilcoxon signed-rank, sign test and sign-flip test.

  Returns:
    dict with ``n``, ``mean_difference``, ``median_difference``, ``n_negative``,
    ``n_positive``, ``wilcoxon_p``, ``sign_test_p``, ``permutation_p`` (one-sided as
    ``alternative`` says).
  """
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  keep = np.isfinite(a) & np.isfinite(b)
  d = a[keep] - b[keep]
  n = int(d.size)
  out = {'n': n, 'alternative': alternative,
         'mean_difference': float(d.mean()) if n else None,
         'median_difference': float(np.median(d)) if n else None,
         'n_negative': int(np.sum(d < 0)), 'n_positive': int(np.sum(d > 0))}
  nonzero = d[d != 0]
  out['wilcoxon_p'] = (float(sps.wilcoxon(nonzero, alternative=alternative).pvalue)
                       if nonzero.size else None)
  k, m = int(np.sum(nonzero < 0)), int(nonzero.size)
  if m:
    sign_alt = {'less': 'greater', 'greater': 'less', 'two-sided': 'two-sided'}[alternative]
    # Under H0 negatives ~ Binomial(m, 1/2); 'less' means more negatives than chance.
    out['sign_test_p'] = float(sps.binomtest(k, m, 0.5, alternative=sign_alt).pvalue)
  else:
    out['sign_test_p'] = None
  out['permutation_p'] = sign_flip_test(d, alternative) if n else None
  return out


def two_sample_tests(x, y, alternative='greater'):
  """Medians of two samples and the one-sided Mann-Whitney U test of x against y."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  x, y = x[np.isfinite(x)], y[np.isfinite(y)]
  out = {'n_x': int(x.size), 'n_y': int(y.size),
         'median_x': float(np.median(x)) if x.size else None,
         'median_y': float(np.median(y)) if y.size else None}
  out['ratio_of_medians'] = (out['median_x'] / out['median_y']
                             if x.size and y.size and out['median_y'] > 0 else None)
  out['mannwhitney_p'] = (float(sps.mannwhitneyu(x, y, alternative=alternative).pvalue)
                          if x.size and y.size else None)
  return out


def finite_or_none(x):
  x = float(x)
  return x if math.isfinite(x) else None


def welch_from_stats(mean_x, sem_x, n_x, mean_y, sem_y, n_y):
  """Welch's two-sided t-test of two samples given as mean, SEM and count.

  The SEMs are those of ``mean_sem`` (``std(ddof=1) / sqrt(n)``), so the result equals
  the test on the samples themselves; aggregates that keep only ``summarize`` output can
  still be compared.

  Returns:
    Dict ``{'name': 'Welch', 'difference' (x - y), 't', 'p', 'n_x', 'n_y'}``; ``t`` and
    ``p`` are None when either sample has fewer than 2 values or both have zero variance.
  """
  out = {'name': 'Welch', 'difference': finite_or_none(mean_x - mean_y)
         if None not in (mean_x, mean_y) else None,
         't': None, 'p': None, 'n_x': int(n_x or 0), 'n_y': int(n_y or 0)}
  if out['n_x'] < 2 or out['n_y'] < 2 or None in (mean_x, mean_y, sem_x, sem_y):
    return out
  std_x, std_y = sem_x * math.sqrt(n_x), sem_y * math.sqrt(n_y)
  if std_x == 0 and std_y == 0:
    return out
  res = sps.ttest_ind_from_stats(mean_x, std_x, n_x, mean_y, std_y, n_y, equal_var=False)
  out['t'], out['p'] = finite_or_none(res.statistic), finite_or_none(res.pvalue)
  return out


def paired_t_test(x, y):
  """Two-sided paired t-test of ``x - y`` over pairs (pairs with a non-finite value dropped).

  Args:
    x, y: ``[n]`` values of the same n units (networks) under two treatments.

  Returns:
    Dict ``{'name': 'paired t', 'difference' (mean of x - y), 't', 'p', 'n_x', 'n_y'}``
    (``n_x = n_y`` = the number of pairs); ``t`` and ``p`` are None with fewer than 2 pairs
    or when every difference is equal.
  """
  x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
  if x.shape != y.shape:
    raise ValueError(f'paired samples differ in length: {x.size} and {y.size}')
  keep = np.isfinite(x) & np.isfinite(y)
  d = x[keep] - y[keep]
  n = int(d.size)
  out = {'name': 'paired t', 'difference': float(d.mean()) if n else None, 't': None,
         'p': None, 'n_x': n, 'n_y': n}
  if n < 2 or np.ptp(d) == 0:
    return out
  res = sps.ttest_rel(x[keep], y[keep])
  out['t'], out['p'] = finite_or_none(res.statistic), finite_or_none(res.pvalue)
  return out


def welch_test(x, y):
  """Welch's two-sided t-test of two samples (non-finite values dropped); see
  ``welch_from_stats``."""
  mx, sx, nx = mean_sem(np.ravel(x))
  my, sy, ny = mean_sem(np.ravel(y))
  return welch_from_stats(finite_or_none(mx), finite_or_none(sx), nx, finite_or_none(my),
                          finite_or_none(sy), ny)


# --- effects with 95% intervals (docs/analysis_plan.md) ----------------------------------------
def _t_interval(estimate, se, df, level):
  """``{estimate, lo, hi, p, se, df}`` of a t statistic ``estimate / se`` with ``df``.

  A zero ``se`` (every value equal) gives a point interval and p = 0 (a non-zero estimate:
  no value disagrees with it) or 1 (zero estimate).
  """
  out = {'estimate': float(estimate), 'se': float(se), 'df': float(df)}
  if se == 0:
    out.update(lo=float(estimate), hi=float(estimate), p=0.0 if estimate != 0 else 1.0)
    return out
  q = float(sps.t.ppf(0.5 + level / 2, df))
  t = estimate / se
  out.update(lo=float(estimate - q * se), hi=float(estimate + q * se),
             p=float(2 * sps.t.sf(abs(t), df)), t=float(t))
  return out


def welch_interval(mean_x, sem_x, n_x, mean_y, sem_y, n_y, level=0.95):
  """Difference ``x - y`` of two group means with its Welch t interval and two-sided p.

  Args:
    mean_x, sem_x, n_x: mean, SEM (``std(ddof=1) / sqrt(n)``) and count of group x; the
      same for y. Aggregates that keep only ``summarize`` output can be compared exactly.
    level: confidence level of the interval.

  Returns:
    ``{estimate, lo, hi, p, se, df, n_x, n_y}``, or None when a group has fewer than 2
    values or a statistic is missing. Degrees of freedom: Welch-Satterthwaite.
  """
  if None in (mean_x, sem_x, mean_y, sem_y) or min(int(n_x or 0), int(n_y or 0)) < 2:
    return None
  if not all(map(math.isfinite, (mean_x, sem_x, mean_y, sem_y))):
    return None
  vx, vy = sem_x ** 2, sem_y ** 2
  se = math.sqrt(vx + vy)
  df = ((vx + vy) ** 2 / (vx ** 2 / (n_x - 1) + vy ** 2 / (n_y - 1))
        if se > 0 else float(n_x + n_y - 2))
  out = _t_interval(mean_x - mean_y, se, df, level)
  out.update(n_x=int(n_x), n_y=int(n_y))
  return out


def one_sample_interval(values, mu=0.0, level=0.95):
  """Mean of ``values`` minus ``mu`` with its one-sample t interval and two-sided p.

  Args:
    values: ``[n]`` (non-finite values dropped), or a ``(mean, sem, n)`` tuple.
    mu: the value tested against.

  Returns:
    ``{estimate, lo, hi, p, se, df, n}``, or None with fewer than 2 values.
  """
  if isinstance(values, tuple) and len(values) == 3:
    mean, sem, n = values
  else:
    mean, sem, n = mean_sem(np.ravel(np.asarray(values, np.float64)))
  if mean is None or sem is None or int(n or 0) < 2 or not math.isfinite(mean):
    return None
  out = _t_interval(mean - mu, sem, int(n) - 1, level)
  out['n'] = int(n)
  return out


def paired_interval(x, y, level=0.95):
  """Mean of ``x - y`` over pairs with its paired t interval (pairs with a non-finite value
  dropped); see ``one_sample_interval``."""
  x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
  if x.shape != y.shape:
    raise ValueError(f'paired samples differ in length: {x.size} and {y.size}')
  keep = np.isfinite(x) & np.isfinite(y)
  return one_sample_interval(x[keep] - y[keep], 0.0, level)


def holm(pvalues):
  """Holm-adjusted p-values (step-down, family-wise), None entries left out and kept None.

  Args:
    pvalues: sequence of floats or None.

  Returns:
    list of the same length.
  """
  index = [i for i, p in enumerate(pvalues) if p is not None and math.isfinite(p)]
  order = sorted(index, key=lambda i: pvalues[i])
  m = len(order)
  out = [None] * len(pvalues)
  running = 0.0
  for rank, i in enumerate(order):
    running = max(running, min(1.0, (m - rank) * pvalues[i]))
    out[i] = running
  return out


def wilson_interval(successes, n, level=0.95):
  """Wilson score interval ``(lo, hi)`` of a proportion, or None for n = 0."""
  if not n:
    return None
  z = float(sps.norm.ppf(0.5 + level / 2))
  phat = successes / n
  centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
  half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
  return max(0.0, centre - half), min(1.0, centre + half)
