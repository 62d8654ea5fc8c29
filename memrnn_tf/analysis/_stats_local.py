"""Minimal statistics for the backtracking and branching analyses.

Private stand-ins until ``memrnn_tf.analysis.stats`` (mean/SEM, permutation tests) is
merged; keep the signatures small so that they can be swapped for it.
"""

import itertools
import math

import numpy as np
from scipy import stats as sps


def mean_sem(values, axis=None):
  """``(mean, sem, n)`` ignoring NaNs; sem = std(ddof=1) / sqrt(n) (NaN for n < 2)."""
  x = np.asarray(values, np.float64)
  n = np.sum(np.isfinite(x), axis=axis)
  mean = np.nanmean(x, axis=axis) if x.size else np.nan
  with np.errstate(invalid='ignore', divide='ignore'):
    sd = np.nanstd(x, axis=axis, ddof=1) if np.max(n, initial=0) > 1 else np.full_like(
        np.asarray(mean, np.float64), np.nan)
    sem = np.where(n > 1, sd / np.sqrt(np.maximum(n, 1)), np.nan)
  if np.ndim(sem) == 0:
    return float(mean), float(sem), int(n)
  return mean, sem, n


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
