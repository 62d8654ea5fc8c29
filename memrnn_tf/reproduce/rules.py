"""Each claim's rule of ``docs/analysis_plan.md`` as a small function of plain numbers.

The functions take per-network values (or a group's ``(mean, sem, n)``) and return a
``plan.Judgement``; they read no file and write no Markdown (``claims`` gathers the numbers
and writes the sections). Secondary comparisons come in as ready ``plan.Effect``s and are
Holm-adjusted here, as one family per claim.
"""

import numpy as np

from memrnn_tf.analysis import stats
from memrnn_tf.reproduce import plan
from memrnn_tf.reproduce.plan import CONTRADICTED
from memrnn_tf.reproduce.plan import INCONCLUSIVE
from memrnn_tf.reproduce.plan import Judgement
from memrnn_tf.reproduce.plan import NOT_OBSERVED
from memrnn_tf.reproduce.plan import REPRODUCES


def _finite(values):
  return [float(v) for v in values if v is not None and np.isfinite(v)]


def difference(effect, margin, secondary=()):
  """Claims 3, 4, 5, 8, 9, 10, 14: one primary effect (already signed), the plan's margin."""
  verdict, reason = plan.judge(effect, margin)
  return Judgement(verdict, reason, [effect], plan.judge_secondary(list(secondary)))


def nominal(values, paper_means, secondary=()):
  """Claim 1: each curriculum's mean test accuracy against the paper's less the tolerance.

  Args:
    values: ``{curriculum: [per-network test digit accuracy]}`` (DeCu and VoCu).
    paper_means: ``{curriculum: the paper's mean}``.

  Returns:
    reproduces if every curriculum's interval lies above the paper's mean less
    ``NOMINAL_TOLERANCE``, contradicted if any lies below it, inconclusive otherwise (and with
    fewer than ``MIN_NETWORKS`` in a curriculum). A bound, not an effect: no "not observed".
  """
  effects = []
  for curriculum in sorted(paper_means):
    floor = paper_means[curriculum] - plan.NOMINAL_TOLERANCE
    effects.append(plan.one_sample_effect(
        f'{curriculum} test accuracy - ({100 * paper_means[curriculum]:.1f}% - '
        f'{100 * plan.NOMINAL_TOLERANCE:.0f} points)',
        _finite(values.get(curriculum, [])), floor))
  secondary = plan.judge_secondary(list(secondary))
  few = [e for e in effects if not e.enough or not e.computed]
  text = '; '.join(e.text() for e in effects)
  if any(e.computed and e.hi < 0 for e in effects if e.enough):
    return Judgement(CONTRADICTED, text, effects, secondary)
  if few:
    return Judgement(INCONCLUSIVE, text + ': fewer networks than the plan\'s minimum', effects,
                     secondary)
  if all(e.lo > 0 for e in effects):
    return Judgement(REPRODUCES, text, effects, secondary)
  return Judgement(INCONCLUSIVE, text, effects, secondary)


def naive(values, secondary=()):
  """Claim 2: naive networks stay below ``NAIVE_CEILING`` digits.

  reproduces if every network is at 0% or the interval of ``ceiling - mean`` is above 0;
  contradicted if the mean is significantly above chance; inconclusive otherwise.
  """
  values = _finite(values)
  below = plan.one_sample_effect(f'{100 * plan.NAIVE_CEILING:.0f}% - naive test accuracy',
                                 values, plan.NAIVE_CEILING, sign=-1,
                                 min_n=plan.NAIVE_MIN_NETWORKS)
  secondary = plan.judge_secondary(list(secondary))
  if len(values) < plan.NAIVE_MIN_NETWORKS:
    return Judgement(INCONCLUSIVE, f'{len(values)} naive networks: fewer than the plan\'s '
                     f'{plan.NAIVE_MIN_NETWORKS}', [below], secondary)
  if all(v == 0 for v in values):
    return Judgement(REPRODUCES, f'all {len(values)} naive networks at 0% digits', [below],
                     secondary)
  above_chance = plan.one_sample_effect('naive test accuracy - chance', values, plan.CHANCE)
  if below.computed and below.lo > 0:
    return Judgement(REPRODUCES, below.text(), [below], secondary)
  if above_chance.computed and above_chance.lo > 0:
    return Judgement(CONTRADICTED, above_chance.text(), [below, above_chance], secondary)
  return Judgement(INCONCLUSIVE, below.text(), [below], secondary)


def readout_match(fractions, secondary=()):
  """Claim 6: per network, the fraction of class slow points that read out their class.

  reproduces if every point matches or the mean's interval is above ``READOUT_MATCH``;
  contradicted if it is below; inconclusive otherwise. No "not observed" (a bound).
  """
  fractions = _finite(fractions)
  effect = plan.one_sample_effect(
      f'mean fraction of class points reading out their class - {plan.READOUT_MATCH:g}',
      fractions, plan.READOUT_MATCH)
  secondary = plan.judge_secondary(list(secondary))
  if not effect.enough:
    return Judgement(INCONCLUSIVE, effect.text() + ': fewer networks than the plan\'s minimum',
                     [effect], secondary)
  if all(f == 1.0 for f in fractions):
    return Judgement(REPRODUCES, f'every class point of all {len(fractions)} networks reads '
                     'out its class', [effect], secondary)
  if effect.computed and effect.lo > 0:
    return Judgement(REPRODUCES, effect.text(), [effect], secondary)
  if effect.computed and effect.hi < 0:
    return Judgement(CONTRADICTED, effect.text(), [effect], secondary)
  return Judgement(INCONCLUSIVE, effect.text(), [effect], secondary)


def rank_correlation(rhos, label, secondary=()):
  """Claims 7 (and template matching): per-network Spearman rho of log speed against class
  accuracy; the effect is ``-mean rho`` (the paper's direction is negative)."""
  effect = plan.one_sample_effect(label, _finite(rhos), 0.0, sign=-1, unit='rho')
  return difference(effect, plan.MARGIN['speed_accuracy'], secondary)


def branching(differences, num_networks, secondary=()):
  """Claim 11: per introduction event, the spawning class's accuracy drop minus the mean
  drop of the other classes (fractions; positive = the spawning class lost more)."""
  values = _finite(differences)
  effect = plan.one_sample_effect('spawning class drop - mean drop of the others', values,
                                  min_n=plan.BRANCHING_MIN_EVENTS, count='events')
  effect.n += f' in {num_networks} networks'
  effect.enough = (effect.enough and num_networks >= plan.BRANCHING_MIN_NETWORKS)
  return difference(effect, plan.MARGIN['branching'], secondary)


def regularization(arms, secondary=()):
  """Claim 12: co-primary paired comparisons of each target kind against the control.

  Args:
    arms: ``{kind: (accuracy of the arm [n], accuracy of its control [n])}``, paired by
      source network.

  Returns:
    reproduces if a Holm-adjusted comparison is significant in favour and none against;
    contradicted if one is significant against; not observed if neither is significant and
    both intervals lie below the margin; inconclusive otherwise.
  """
  effects = [plan.paired_effect(f'{kind} - control, accuracy at delay 1000', *pair)
             for kind, pair in sorted(arms.items())]
  secondary = plan.judge_secondary(list(secondary))
  judged = [e for e in effects if e.enough and e.computed]
  for e, p in zip(judged, stats.holm([e.p for e in judged])):
    e.p_holm = p
  text = '; '.join(e.text() + (f' (Holm p = {e.p_holm:.2g})' if e.p_holm is not None else '')
                   for e in effects)
  if len(judged) < len(effects) or not effects:
    return Judgement(INCONCLUSIVE, text + ': fewer pairs than the plan\'s minimum', effects,
                     secondary)
  if any(e.p_holm < plan.ALPHA and e.estimate < 0 for e in judged):
    return Judgement(CONTRADICTED, text, effects, secondary)
  if any(e.p_holm < plan.ALPHA and e.estimate > 0 for e in judged):
    return Judgement(REPRODUCES, text, effects, secondary)
  if all(e.hi < plan.MARGIN['regularization'] for e in judged):
    return Judgement(NOT_OBSERVED, text, effects, secondary)
  return Judgement(INCONCLUSIVE, text, effects, secondary)


def flipflop_passes(network):
  """Whether one flip-flop network has the paper's structure (``docs/analysis_plan.md``).

  Args:
    network: dict with ``delay``, ``stable_corners`` (distinct output corners with a stable
      point), ``by_unstable`` ({unstable dimensions: count}), ``complex_pairs`` (eigenvalue
      pairs of W with |Im| > 0.5 and modulus > 0.9).

  Returns:
    ``(passes, why)``.
  """
  by = {int(k): int(v) for k, v in network['by_unstable'].items()}
  corners = network['stable_corners'] == 8
  if network['delay'] == 0:
    saddles = (by.get(1, 0), by.get(2, 0), by.get(3, 0)) == (12, 6, 1)
    no_rotation = network.get('complex_pairs', 0) == 0
    why = (f'delay 0: {network["stable_corners"]} stable corners, saddles 1/2/3 = '
           f'{by.get(1, 0)}/{by.get(2, 0)}/{by.get(3, 0)}, '
           f'{network.get("complex_pairs", 0)} complex pairs')
    return corners and saddles and no_rotation, why
  high = sum(v for k, v in by.items() if k > 3)
  rotation = network.get('complex_pairs', 0) > 0
  why = (f'delay {network["delay"]}: {network["stable_corners"]} stable corners, {high} '
         f'points with > 3 unstable dimensions, {network.get("complex_pairs", 0)} complex pairs')
  return corners and high > 0 and rotation, why


def flipflop(networks):
  """Claim 13: structural, per network; every network of both delays must pass."""
  by_delay = {}
  for n in networks:
    by_delay.setdefault(0 if n['delay'] == 0 else 1, []).append(flipflop_passes(n))
  text = '; '.join(why for group in by_delay.values() for _, why in group)
  passed = sum(ok for group in by_delay.values() for ok, _ in group)
  effect = plan.Effect('networks with the paper\'s structure',
                       n=f'{passed} of {len(networks)} pass', test='structural')
  if any(sum(not ok for ok, _ in g) * 2 > len(g) for g in by_delay.values()):
    return Judgement(CONTRADICTED, text, [effect])
  if (len(by_delay) < 2 or
      any(len(g) < plan.FLIPFLOP_MIN_NETWORKS for g in by_delay.values())):
    return Judgement(INCONCLUSIVE, (text or 'no network') + ': fewer than '
                     f'{plan.FLIPFLOP_MIN_NETWORKS} networks per delay', [effect])
  if all(ok for g in by_delay.values() for ok, _ in g):
    return Judgement(REPRODUCES, text, [effect])
  return Judgement(INCONCLUSIVE, text, [effect])
