"""Claims 1-5 and 14 of the analysis plan: accuracy, curricula and extrapolation."""

import numpy as np

from memrnn_tf.analysis import stats
from memrnn_tf.reproduce import inputs
from memrnn_tf.reproduce import paper
from memrnn_tf.reproduce import plan
from memrnn_tf.reproduce import rules
from memrnn_tf.reproduce.inputs import key_of
from memrnn_tf.reproduce.inputs import MNIST_TRAIN_STAGES
from memrnn_tf.reproduce.plan import INCONCLUSIVE
from memrnn_tf.reproduce.plan import MARGIN
from memrnn_tf.reproduce.sections import CURRICULA
from memrnn_tf.reproduce.sections import label
from memrnn_tf.reproduce.sections import missing
from memrnn_tf.reproduce.sections import pct
from memrnn_tf.reproduce.sections import section
from memrnn_tf.reproduce.sections import table


# --- 1, 2: nominal accuracy and naive training --------------------------------------------------
def _test_accuracy(repro):
  return inputs.by_condition(repro.runs(MNIST_TRAIN_STAGES),
                             lambda w: (inputs.evaluation(w) or {}).get('test', {})
                             .get('digit_accuracy'))


def nominal_accuracy(repro):
  """Claim 1: nominal test digit accuracy (001 tables 1-2)."""
  title = 'Nominal accuracy (T_max = 20)'
  paper_text = ('001 tables 1-2, test digits: GRU DeCu 96.5 +- 0.3%, VoCu 93.8 +- 0.7%; '
                'LSTM DeCu 97.3 +- 0.1%, VoCu 95.2 +- 0.2%')
  rule = ('MNIST GRU sigmoid: for DeCu and VoCu, the 95% interval of the mean test digit '
          'accuracy against the paper\'s mean less 2 points; reproduces if both lie above, '
          'contradicted if either lies below, inconclusive otherwise (N >= 5 each).')
  acc = _test_accuracy(repro)
  if not acc:
    return missing('1', title, paper_text, rule, repro, MNIST_TRAIN_STAGES,
                    repro.problems(MNIST_TRAIN_STAGES) or ['no eval.json in the runs'])
  ref = lambda cell, c: paper.NOMINAL[f'mnist {cell} {c}']['test'][0]  # noqa: E731
  values = {c: acc.get(key_of(curriculum=c), []) for c in CURRICULA}
  secondary = []
  for key, v in acc.items():
    k = inputs.split_key(key)
    if (k['curriculum'] in CURRICULA and k['dataset'] == 'mnist' and
        (k['cell'], k['readout']) != ('gru', 'sigmoid')):
      floor = ref(k['cell'], k['curriculum']) - plan.NOMINAL_TOLERANCE
      secondary.append(plan.one_sample_effect(f'{key}: test accuracy - {100 * floor:.1f}%',
                                              v, floor))
  judgement = rules.nominal(values, {c: ref('gru', c) for c in CURRICULA}, secondary)
  rows = [[key, pct(*stats.mean_sem(np.asarray(v, np.float64)))] for key, v in acc.items()]
  return section('1', title, paper_text, rule, judgement, repro, MNIST_TRAIN_STAGES,
                  [table(['condition', 'test digits, mean +- SEM (N)'], rows)])


def naive_training(repro):
  """Claim 2: naive training stays at 0% digits (001 tables 1-4)."""
  title = 'Naive training stays at 0% digits (sigmoid readout)'
  paper_text = 'Earlier version, tables 1-4: naive training gives 100% null, 0% digits'
  rule = ('MNIST GRU sigmoid naive networks: reproduces if every one is at 0% digits or the '
          'mean\'s interval lies below 5%; contradicted if it lies above chance (10%); '
          'inconclusive otherwise (N >= 2).')
  acc = _test_accuracy(repro)
  naive = {k: v for k, v in acc.items() if inputs.split_key(k)['curriculum'] == 'naive'}
  if not naive:
    return missing('2', title, paper_text, rule, repro, MNIST_TRAIN_STAGES,
                    repro.problems(MNIST_TRAIN_STAGES) + ['no naive-curriculum run with an '
                                                          'eval.json'])
  secondary = [plan.one_sample_effect(f'{key}: 5% - test accuracy', v, plan.NAIVE_CEILING,
                                      sign=-1, min_n=plan.NAIVE_MIN_NETWORKS)
               for key, v in naive.items() if key != key_of(curriculum='naive')]
  judgement = rules.naive(naive.get(key_of(curriculum='naive'), []), secondary)
  rows = [[key, pct(*stats.mean_sem(np.asarray(v, np.float64)))] for key, v in naive.items()]
  return section('2', title, paper_text, rule, judgement, repro, MNIST_TRAIN_STAGES,
                  [table(['condition', 'test digits, mean +- SEM (N)'], rows)])


# --- 3, 4, 5: DeCu against VoCu ---------------------------------------------------------------
def _at(summary, delays, delay):
  return inputs.summary_at(summary, delays.index(delay)) if delay in delays else (None, None, 0)


def _extrapolation_summary(repro, dataset='mnist'):
  """``(extrapolation_summary dict or None, problem or None)`` of ``extrapolate_<dataset>``."""
  return repro.aggregate(f'extrapolate_{dataset}', 'extrapolation_summary.json',
                         f'aggregate/{dataset}/analysis/extrapolation_summary.json')


def _curve_effects(conditions, delays_of, protocol_label, delay, only=None):
  """DeCu - VoCu at ``delay`` for every (dataset, cell, readout) pair in ``conditions``."""
  out = {}
  for triple, (dk, vk) in inputs.pairs(conditions).items():
    if only and triple != only:
      continue
    x = _at(conditions[dk]['accuracy'], delays_of(conditions[dk]), delay)
    y = _at(conditions[vk]['accuracy'], delays_of(conditions[vk]), delay)
    out[triple] = plan.welch_effect(
        label(*triple, f'DeCu - VoCu at delay {delay}, {protocol_label}'), x, y)
  return out


def extrapolation(repro):
  """Claim 3: DeCu extrapolates further than VoCu (000 Fig. 2)."""
  title = 'DeCu extrapolates further than VoCu'
  paper_text = paper.qualitative('extrapolation')
  rule = ('MNIST GRU sigmoid, fixed-delay protocol, accuracy at delay 1000, DeCu - VoCu '
          f'(Welch); margin {100 * MARGIN["extrapolation"]:.0f} points; N >= 5 per curriculum.')
  name = 'extrapolate_mnist'
  summary, problem = _extrapolation_summary(repro)
  if problem:
    return missing('3', title, paper_text, rule, repro, [name], [problem])
  protocols = summary.get('protocols', {})
  delays_of = lambda c: c['delays']  # noqa: E731
  primary_triple = ('mnist', 'gru', 'sigmoid')
  fixed = protocols.get('fixed', {})
  main = _curve_effects(fixed, delays_of, 'fixed', 1000, primary_triple)
  primary = main.get(primary_triple) or plan.Effect(
      label(*primary_triple, 'DeCu - VoCu at delay 1000, fixed'), n='no DeCu/VoCu pair')
  secondary = list(_curve_effects(fixed, delays_of, 'fixed', 500, primary_triple).values())
  tmax = protocols.get('tmax', {})
  for d in (500, 1000):
    secondary += _curve_effects(tmax, delays_of, 'tmax', d, primary_triple).values()
  secondary += [e for t, e in _curve_effects(fixed, delays_of, 'fixed', 1000).items()
                if t != primary_triple]
  judgement = rules.difference(primary, MARGIN['extrapolation'], secondary)
  chance = []
  for key in (key_of(curriculum=c) for c in CURRICULA):
    c = fixed.get(key)
    if c:
      m, s, n = _at(c['accuracy'], c['delays'], 1000)
      chance.append([key, pct(m, s, n)])
  extra = [('**Also reported: accuracy at delay 1000 (chance 10%).**\n\n'
            + table(['condition', 'accuracy (fixed)'], chance)) if chance else '']
  return section('3', title, paper_text, rule, judgement, repro, [name], extra)


def noise(repro):
  """Claim 4: DeCu resists stronger noise better than VoCu (001 Fig. 2 right)."""
  title = 'DeCu resists stronger noise better than VoCu'
  paper_text = paper.qualitative('noise')
  rule = ('MNIST GRU sigmoid, pixel noise std x2 at delay 19, DeCu - VoCu (Welch); margin '
          f'{100 * MARGIN["noise"]:.0f} points; N >= 5 per curriculum.')
  name = 'extrapolate_mnist'
  summary, problem = _extrapolation_summary(repro)
  if not problem and not summary.get('noise'):
    problem = 'the extrapolation summary has no noise curves: rerun it with --noise_scales'
  if problem:
    return missing('4', title, paper_text, rule, repro, [name], [problem])
  conditions = summary['noise']

  def effect(triple, scale, delay):
    dk, vk = inputs.pairs(conditions)[triple]
    groups = []
    for c in (conditions[dk], conditions[vk]):
      if scale in c['noise_scales'] and delay in c['delays']:
        s = c['noise_scales'].index(scale)
        groups.append(inputs.summary_at({k: c['accuracy'][k][s] for k in ('mean', 'sem', 'n')},
                                        c['delays'].index(delay)))
      else:
        groups.append((None, None, 0))
    return plan.welch_effect(label(*triple, f'DeCu - VoCu, noise x{scale:g}, delay {delay}'),
                             *groups)

  triples = list(inputs.pairs(conditions))
  main = ('mnist', 'gru', 'sigmoid')
  primary = effect(main, 2.0, 19) if main in triples else plan.Effect(
      label(*main, 'DeCu - VoCu, noise x2, delay 19'), n='no DeCu/VoCu pair')
  secondary = []
  if main in triples:
    secondary += [effect(main, 1.5, 19), effect(main, 2.0, 50), effect(main, 2.0, 100)]
  secondary += [effect(t, 2.0, 19) for t in triples if t != main]
  judgement = rules.difference(primary, MARGIN['noise'], secondary)
  return section('4', title, paper_text, rule, judgement, repro, [name])


def second_retrieval(repro):
  """Claim 5: VoCu loses more at a second trigger (001 table 5)."""
  title = 'VoCu loses more at a second retrieval'
  paper_text = ('001 table 5 (MNIST, first - second trigger): GRU DeCu 0.4 +- 0.2, VoCu '
                '13.9 +- 5.3 points; LSTM DeCu 0.2 +- 0.3, VoCu 8.7 +- 5.1 points')
  rule = ('MNIST GRU sigmoid, triggers 12 and 24 steps after the image; per network the loss '
          '(first - second accuracy); VoCu - DeCu (Welch); margin '
          f'{100 * MARGIN["second_retrieval"]:.0f} points; N >= 5 per curriculum.')
  name = 'extrapolate_mnist'
  summary, problem = _extrapolation_summary(repro)
  if not problem and not summary.get('second_retrieval'):
    problem = 'the extrapolation summary has no second retrieval: rerun it with it on'
  if problem:
    return missing('5', title, paper_text, rule, repro, [name], [problem])
  conditions = summary['second_retrieval']
  effects = {t: plan.welch_effect(label(*t, 'VoCu loss - DeCu loss at the second trigger'),
                                  inputs.summary_at(conditions[vk]['difference'], 0),
                                  inputs.summary_at(conditions[dk]['difference'], 0))
             for t, (dk, vk) in inputs.pairs(conditions).items()}
  main = ('mnist', 'gru', 'sigmoid')
  primary = effects.pop(main, None) or plan.Effect(
      label(*main, 'VoCu loss - DeCu loss'), n='no DeCu/VoCu pair')
  judgement = rules.difference(primary, MARGIN['second_retrieval'], list(effects.values()))
  params = summary.get('params', {})
  rows = [[k] + [pct(*inputs.summary_at(c[f], 0)) for f in ('first', 'second', 'difference')]
          for k, c in conditions.items() if k != 'runs']
  extra = [f'First trigger {params.get("first_delay", "?")} steps after the image, second '
           f'{params.get("gap", "?")} steps later (paper: 12 and 12).',
           table(['condition', 'first', 'second', 'loss'], rows)]
  return section('5', title, paper_text, rule, judgement, repro, [name], extra)


# --- 14: CIFAR-10 -----------------------------------------------------------------------------
def cifar10(repro):
  """Claim 14: CIFAR-10, DeCu ahead of VoCu for the LSTM at delay 500 (000 Fig. 2 inset)."""
  title = 'CIFAR-10: DeCu ahead of VoCu (LSTM) at delay 500'
  paper_text = (f'{paper.qualitative("cifar10")}; 001 tables 3-4 test: GRU DeCu 72.4 +- 1.0%, '
                'VoCu 65.7 +- 1.2%; LSTM DeCu 66.5 +- 0.4%, VoCu 67.7 +- 1.2% (full dataset)')
  rule = ('CIFAR-10 LSTM sigmoid, fixed protocol, delay 500, DeCu - VoCu (Welch); margin 10 '
          'points; N >= 5 per curriculum; judged only on networks trained on the full '
          'training set (the offline subset is not the paper\'s experiment).')
  stages = ['train_cifar10', 'extrapolate_cifar10']
  summary, problem = _extrapolation_summary(repro, 'cifar10')
  if problem:
    return missing('14', title, paper_text, rule, repro, stages,
                    repro.problems(['train_cifar10']) + [problem])
  fixed = summary.get('protocols', {}).get('fixed', {})
  effects = _curve_effects(fixed, lambda c: c['delays'], 'fixed', 500)
  main = ('cifar10', 'lstm', 'sigmoid')
  primary = effects.pop(main, None) or plan.Effect(
      label(*main, 'DeCu - VoCu at delay 500, fixed'), n='no DeCu/VoCu pair')
  subset = any((inputs.evaluation(w) or {}).get('train_images', 0) < 50_000
               for w in repro.workdirs(['train_cifar10']))
  judgement = rules.difference(primary, MARGIN['extrapolation'], list(effects.values()))
  if subset:
    judgement.verdict = INCONCLUSIVE
    judgement.reason = ('trained on the offline subset (fewer than 50,000 training images), '
                        'not the paper\'s experiment: shown, not judged; ' + judgement.reason)
  return section('14', title, paper_text, rule, judgement, repro, stages)


# ``(key, function)`` in report order; the key names the section even when it fails.
