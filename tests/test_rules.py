"""The analysis plan's rules (docs/analysis_plan.md): each reaches each of its verdicts on
synthetic numbers, and the intervals equal textbook formulas computed by hand / scipy."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from memrnn_tf.analysis import stats
from memrnn_tf.reproduce import plan
from memrnn_tf.reproduce import rules

R, C, N, I = plan.REPRODUCES, plan.CONTRADICTED, plan.NOT_OBSERVED, plan.INCONCLUSIVE


def _group(values):
  return stats.mean_sem(np.asarray(values, np.float64))


# --- intervals ------------------------------------------------------------------------------
def test_welch_interval_by_hand():
  x, y = [0.8, 0.7, 0.75, 0.9, 0.85], [0.5, 0.6, 0.4, 0.55]
  out = stats.welch_interval(*_group(x), *_group(y))
  vx, vy = np.var(x, ddof=1) / 5, np.var(y, ddof=1) / 4
  df = (vx + vy) ** 2 / (vx ** 2 / 4 + vy ** 2 / 3)
  half = sps.t.ppf(0.975, df) * math.sqrt(vx + vy)
  diff = np.mean(x) - np.mean(y)
  assert out['estimate'] == pytest.approx(diff)
  assert out['lo'] == pytest.approx(diff - half) and out['hi'] == pytest.approx(diff + half)
  assert out['p'] == pytest.approx(sps.ttest_ind(x, y, equal_var=False).pvalue)
  assert out['df'] == pytest.approx(df)


def test_one_sample_and_paired_intervals_match_scipy():
  x = np.array([0.2, -0.1, 0.4, 0.3, 0.25, 0.05])
  out = stats.one_sample_interval(x, 0.1)
  ref = sps.ttest_1samp(x, 0.1)
  ci = ref.confidence_interval(0.95)
  assert out['p'] == pytest.approx(ref.pvalue)
  assert out['lo'] + 0.1 == pytest.approx(ci.low) and out['hi'] + 0.1 == pytest.approx(ci.high)
  y = x[::-1] * 0.5
  paired = stats.paired_interval(x, y)
  assert paired['p'] == pytest.approx(sps.ttest_rel(x, y).pvalue)
  assert paired['estimate'] == pytest.approx(np.mean(x - y))


def test_holm_by_hand():
  # sorted 0.01, 0.02, 0.04 -> 0.03, 0.04, 0.04 (monotone); None kept.
  assert stats.holm([0.04, None, 0.01, 0.02]) == pytest.approx([0.04, None, 0.03, 0.04])
  assert stats.holm([0.5, 0.9]) == [1.0, 1.0]


def test_wilson_interval_by_hand():
  lo, hi = stats.wilson_interval(8, 10)
  # z = 1.96: centre (0.8 + 0.19208) / 1.38416, half 1.96 * sqrt(0.016 + 0.0096040) / 1.38416
  assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)


# --- the generic difference rule (claims 3, 4, 5, 8, 9, 10, 14) -----------------------------
@pytest.mark.parametrize('decu, vocu, expected', [
    ([0.60, 0.62, 0.58, 0.61, 0.59], [0.30, 0.32, 0.28, 0.31, 0.29], R),  # paper's direction
    ([0.30, 0.32, 0.28, 0.31, 0.29], [0.60, 0.62, 0.58, 0.61, 0.59], C),  # opposite
    ([0.50, 0.51, 0.49, 0.50, 0.50], [0.50, 0.49, 0.51, 0.50, 0.50], N),  # tight, no effect
    ([0.9, 0.1, 0.5, 0.7, 0.3], [0.2, 0.8, 0.5, 0.4, 0.6], I),            # noisy, no effect
    ([0.60, 0.62, 0.58], [0.30, 0.32, 0.28], I),                          # N below minimum
])
def test_difference_reaches_every_verdict(decu, vocu, expected):
  effect = plan.welch_effect('delay 1000, DeCu - VoCu', _group(decu), _group(vocu))
  assert rules.difference(effect, plan.MARGIN['extrapolation']).verdict == expected


def test_secondary_comparisons_are_holm_adjusted_and_do_not_decide():
  primary = plan.welch_effect('p', _group([0.5, 0.51, 0.49, 0.5, 0.5]),
                              _group([0.5, 0.49, 0.51, 0.5, 0.5]))
  strong = plan.welch_effect('s1', _group([0.9, 0.91, 0.89, 0.9, 0.92]),
                             _group([0.1, 0.11, 0.09, 0.1, 0.12]))
  weak = plan.welch_effect('s2', _group([0.52, 0.6, 0.45, 0.55, 0.58]),
                           _group([0.5, 0.48, 0.47, 0.52, 0.5]))
  judgement = rules.difference(primary, 0.1, [strong, weak])
  assert judgement.verdict == N
  # Two in the family: the smaller p is doubled, the larger kept (and never below the first).
  assert strong.outcome == 'consistent'
  assert strong.p_holm == pytest.approx(2 * strong.p)
  assert weak.p_holm == pytest.approx(max(weak.p, 2 * strong.p))


# --- bounds ---------------------------------------------------------------------------------
@pytest.mark.parametrize('decu, vocu, expected', [
    ([0.97, 0.975, 0.972, 0.978, 0.974], [0.95, 0.952, 0.948, 0.951, 0.95], R),
    ([0.90, 0.91, 0.905, 0.90, 0.902], [0.95, 0.952, 0.948, 0.951, 0.95], C),
    ([0.97, 0.92, 0.99, 0.93, 0.95], [0.95, 0.952, 0.948, 0.951, 0.95], I),
    ([0.97, 0.975], [0.95, 0.952], I),
])
def test_nominal_reaches_each_verdict(decu, vocu, expected):
  got = rules.nominal({'decu': decu, 'vocu': vocu}, {'decu': 0.965, 'vocu': 0.938})
  assert got.verdict == expected


@pytest.mark.parametrize('values, expected', [
    ([0.0, 0.0], R), ([0.01, 0.012, 0.011], R), ([0.4, 0.5, 0.45], C), ([0.0, 0.2], I),
    ([0.0], I)])
def test_naive_reaches_each_verdict(values, expected):
  assert rules.naive(values).verdict == expected


@pytest.mark.parametrize('fractions, expected', [
    ([1.0] * 5, R), ([0.98, 0.97, 0.99, 0.98, 0.97], R), ([0.5, 0.6, 0.55, 0.5, 0.6], C),
    ([1.0, 0.6, 1.0, 0.7, 0.9], I), ([1.0] * 3, I)])
def test_readout_match_reaches_each_verdict(fractions, expected):
  assert rules.readout_match(fractions).verdict == expected


@pytest.mark.parametrize('rhos, expected', [
    ([-0.6, -0.7, -0.5, -0.65, -0.55], R), ([0.6, 0.7, 0.5, 0.65, 0.55], C),
    ([0.05, -0.05, 0.0, 0.02, -0.02], N), ([0.8, -0.8, 0.5, -0.6, 0.1], I)])
def test_rank_correlation_reaches_each_verdict(rhos, expected):
  assert rules.rank_correlation(rhos, '-mean rho').verdict == expected


@pytest.mark.parametrize('diffs, networks, expected', [
    ([0.05 + 0.001 * i for i in range(20)], 3, R),
    ([-0.05 - 0.001 * i for i in range(20)], 3, C),
    ([0.001 * (-1) ** i for i in range(20)], 3, N),
    ([0.05 * (-1) ** i + 0.01 for i in range(20)], 3, I),
    ([0.05 + 0.001 * i for i in range(20)], 2, I)])
def test_branching_reaches_each_verdict(diffs, networks, expected):
  assert rules.branching(diffs, networks).verdict == expected


def _arm(gain, noise):
  control = np.array([0.3, 0.4, 0.35, 0.2, 0.5])
  return control + gain + noise, control


@pytest.mark.parametrize('gains, noise, expected', [
    ((0.3, 0.0), [0.01, -0.01, 0.02, 0.0, -0.02], R),
    ((-0.3, 0.0), [0.01, -0.01, 0.02, 0.0, -0.02], C),
    ((0.0, 0.0), [0.01, -0.01, 0.005, 0.0, -0.005], N),
    ((0.0, 0.0), [0.3, -0.2, 0.25, 0.1, -0.3], I)])
def test_regularization_reaches_each_verdict(gains, noise, expected):
  noise = np.array(noise)
  arms = {'slow_points': _arm(gains[0], noise), 'centres': _arm(gains[1], noise[::-1])}
  assert rules.regularization(arms).verdict == expected


def test_regularization_co_primary_comparisons_are_holm_adjusted():
  noise = np.array([0.01, -0.01, 0.02, 0.0, -0.02])
  got = rules.regularization({'slow_points': _arm(0.3, noise), 'centres': _arm(0.0, noise)})
  ps = [e.p for e in got.primary]
  assert [e.p_holm for e in got.primary] == pytest.approx(stats.holm(ps))


_CUBE = {'stable_corners': 8, 'by_unstable': {'0': 8, '1': 12, '2': 6, '3': 1}, 'complex_pairs': 0}
_DELAYED = {'stable_corners': 8, 'by_unstable': {'0': 8, '1': 2, '5': 4}, 'complex_pairs': 3}


@pytest.mark.parametrize('networks, expected', [
    ([dict(_CUBE, delay=0)] * 2 + [dict(_DELAYED, delay=8)] * 2, R),
    ([dict(_CUBE, delay=0, stable_corners=6)] * 2 + [dict(_DELAYED, delay=8)] * 2, C),
    ([dict(_CUBE, delay=0)] * 2 + [dict(_DELAYED, delay=8), dict(_DELAYED, delay=8,
                                                                 complex_pairs=0)], I),
    ([dict(_CUBE, delay=0)] + [dict(_DELAYED, delay=8)], I)])
def test_flipflop_reaches_each_verdict(networks, expected):
  assert rules.flipflop(networks).verdict == expected


def test_judge_names_the_margin_when_not_observed():
  effect = plan.welch_effect('x', _group([0.5, 0.51, 0.49, 0.5, 0.5]),
                             _group([0.5, 0.49, 0.51, 0.5, 0.5]))
  verdict, reason = plan.judge(effect, 0.1)
  assert verdict == N and '10 points' in reason


def test_spread_ratio_by_hand():
  from memrnn_tf.analysis import pca_clouds  # imports TensorFlow
  states = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [12.0, 0.0]])
  labels = np.array([0, 0, 1, 1])
  # Within: RMS distance 1 in each class; between: centroids (1, 0) and (11, 0), 10 apart.
  assert pca_clouds.spread_ratio(states, labels) == pytest.approx(0.1)
  assert math.isnan(pca_clouds.spread_ratio(states[:2], labels[:2]))
  acc = pca_clouds.class_accuracy([0, 1, 1, 1], labels, 3)
  assert acc[:2].tolist() == [0.5, 1.0] and math.isnan(acc[2])


def test_flipflop_effect_counts_the_networks_that_pass():
  networks = [dict(_CUBE, delay=0), dict(_CUBE, delay=0, stable_corners=7),
              dict(_DELAYED, delay=8), dict(_DELAYED, delay=8)]
  effect = rules.flipflop(networks).primary[0]
  assert effect.text() == "networks with the paper's structure: 3 of 4 pass"
