"""Statistics over networks: mean +- SEM, correlations, permutation p-values, grouping."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from memrnn_tf.analysis import stats


def test_mean_sem_hand_computed_and_nan_aware():
  mean, sem, n = stats.mean_sem([1.0, 2.0, 3.0, 6.0])
  # mean 3, sample std sqrt(14/3), SEM sqrt(14/3)/2.
  assert (mean, n) == (3.0, 4)
  assert sem == pytest.approx(np.sqrt(14 / 3) / 2)
  mean, sem, n = stats.mean_sem([[1.0, np.nan], [3.0, 5.0], [np.nan, 7.0]])
  np.testing.assert_allclose(mean, [2.0, 6.0])
  np.testing.assert_allclose(sem, [1.0, 1.0])  # std sqrt(2), n 2 -> 1
  np.testing.assert_array_equal(n, [2, 2])
  mean, sem, n = stats.mean_sem([0.5])
  assert mean == 0.5 and np.isnan(sem) and n == 1


def test_spearman_and_pearson_match_scipy_with_ties():
  rng = np.random.default_rng(0)
  x = rng.integers(0, 5, 30).astype(float)  # many ties
  y = x + rng.normal(0, 2, 30)
  assert stats.spearman(x, y) == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
  assert stats.pearson(x, y) == pytest.approx(scipy_stats.pearsonr(x, y).statistic)


def test_permutation_p_value_of_a_perfect_rank_order_is_2_over_n_factorial():
  # n = 5 strictly increasing: |rho| = 1 only for the identity and the reversal, so the
  # exact two-sided p is 2 / 5! = 1/60.
  x = np.arange(5.0)
  y = np.exp(x)
  res = stats.permutation_test(x, y, 'spearman', num_permutations=20_000, seed=1)
  assert res['r'] == pytest.approx(1.0) and res['n'] == 5
  assert res['p'] == pytest.approx(1 / 60, abs=0.003)
  # Pearson of a non-linear monotone relation is < 1; its p is still small but larger.
  both = stats.correlations(x, y, num_permutations=20_000, seed=1)
  assert both['spearman']['r'] == pytest.approx(1.0)
  assert 0.85 < both['pearson']['r'] < 1.0
  assert both['pearson']['p'] >= both['spearman']['p'] - 0.003


def test_permutation_p_value_of_unrelated_data_is_large_and_nan_safe():
  rng = np.random.default_rng(3)
  res = stats.permutation_test(rng.normal(size=40), rng.normal(size=40), 'pearson',
                               num_permutations=2000)
  assert res['p'] > 0.05
  const = stats.permutation_test([1, 2, 3, np.nan], [0.5, 0.5, 0.5, 1.0])
  assert np.isnan(const['r']) and np.isnan(const['p']) and const['n'] == 3
  with pytest.raises(ValueError, match='kendall'):
    stats.permutation_test([1, 2, 3], [1, 2, 3], 'kendall')


def test_group_and_summarize_groups():
  keys = ['decu', 'vocu', 'decu']
  out = stats.summarize_groups(keys, [[1.0, 0.5], [0.2, 0.1], [3.0, np.nan]])
  assert list(out) == ['decu', 'vocu']
  assert out['decu']['mean'] == [2.0, 0.5]
  assert out['decu']['sem'][0] == pytest.approx(1.0) and out['decu']['sem'][1] is None
  assert out['decu']['n'] == [2, 1] and out['vocu']['n'] == [1, 1]
  assert stats.format_mean_sem(0.976, 0.001, 10) == '97.6 +- 0.1% (N=10)'
