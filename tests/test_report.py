"""The reproduction report: a fake root with real-schema files, judged from saved files only."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps

from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import stats
from memrnn_tf.reproduce import claims
from memrnn_tf.reproduce import plan
from memrnn_tf.reproduce import report

DELAYS = [4, 19, 100, 500, 1000]
SEEDS = range(5)
# Test digit accuracy and accuracy at DELAYS per (curriculum, seed): DeCu clearly ahead.
NOMINAL = {'decu': [0.975, 0.972, 0.978, 0.970, 0.974],
           'vocu': [0.962, 0.960, 0.965, 0.958, 0.961], 'naive': [0.0] * 5}
LONG = {'decu': [[0.98, 0.97, 0.95, 0.80, 0.60], [0.98, 0.98, 0.94, 0.78, 0.55],
                 [0.97, 0.97, 0.96, 0.82, 0.62], [0.98, 0.97, 0.95, 0.79, 0.58],
                 [0.98, 0.97, 0.95, 0.81, 0.59]],
        'vocu': [[0.97, 0.96, 0.90, 0.50, 0.30], [0.96, 0.96, 0.88, 0.52, 0.28],
                 [0.97, 0.96, 0.91, 0.48, 0.31], [0.96, 0.95, 0.89, 0.51, 0.27],
                 [0.97, 0.96, 0.90, 0.49, 0.29]]}
# Template matching, 5 GRUs: same / different test accuracy and accuracy at delay 1000.
TM_NOMINAL = [0.96, 0.97, 0.965, 0.968, 0.962]
TM_LONG = [0.6, 0.7, 0.65, 0.55, 0.8]
# Per-run jump ratios (backtracking) and cloud spread ratios at delay 20 (PCA).
JUMPS = {'decu': [1.1, 1.0, 1.2, 0.9, 1.05], 'vocu': [8.0, 7.0, 9.0, 8.5, 7.5]}
# Per-run Spearman rho of log10 speed against step: DeCu slows down steadily.
SLOWING = {'decu': [-0.9, -0.8, -0.7, -0.85, -0.75], 'vocu': [-0.3, -0.1, -0.2, -0.4, 0.0]}
SPREAD = {'decu': [0.30, 0.31, 0.29, 0.32, 0.30], 'vocu': [0.50, 0.52, 0.49, 0.51, 0.50]}


def _write(path, obj):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w') as f:
    json.dump(obj, f)
  return path


def _config(cell, curriculum, readout, seed, dataset='mnist', **extra):
  return {'dataset': dataset, 'curriculum': curriculum, 'seed': seed,
          'model': {'cell': cell, 'readout_sigmoid': readout == 'sigmoid'}, **extra}


def _slowpoints(seed, curriculum):
  """Class points: slower for higher classes (which are more accurate, see _per_class), and
  two decades slower for DeCu than for VoCu."""
  shift = 2.0 if curriculum == 'decu' else 0.0
  classes = [{'class': k, 'speed': 10.0 ** (-5 - 0.1 * k - 0.01 * seed - shift),
              'class_mean_speed': 0.4, 'status': 'not_converged', 'readout_class': k}
             for k in range(10)]
  return {'classes': classes, 'num_readout_correct': 10}


def _per_class(a):
  """Class accuracies around ``a``, rising with the class index."""
  return [min(1.0, max(0.0, a + 0.02 * (k - 4.5))) for k in range(10)]


def _make_run(root, cell, curriculum, readout, seed, long=None, dataset='mnist'):
  w = os.path.join(root, f'{dataset}_{cell}', f'{cell}_{curriculum}_{readout}_s{seed}')
  _write(os.path.join(w, 'config.json'), _config(cell, curriculum, readout, seed, dataset))
  acc = NOMINAL[curriculum][seed]
  _write(os.path.join(w, 'eval.json'), {
      'step': 100, 'test': {'digit_accuracy': acc, 'null_accuracy': 1.0},
      'train': {'digit_accuracy': min(1.0, acc + 0.01), 'null_accuracy': 1.0}})
  if long is not None:
    for protocol, name in (('fixed', 'extrapolation'), ('tmax', 'extrapolation_tmax')):
      _write(os.path.join(w, 'analysis', name + '.json'),
             {'delays': DELAYS, 'accuracy': long, 'per_class': [_per_class(a) for a in long],
              'protocol': protocol})
  if curriculum != 'naive':
    for name in ('slowpoints', 'slowpoints_paper'):
      _write(os.path.join(w, 'analysis', name + '.json'), _slowpoints(seed, curriculum))
    spread = SPREAD[curriculum][seed]
    _write(os.path.join(w, 'analysis', 'pca.json'), {
        'delays': [20, 1000], 'spread_ratio': [[spread, spread / 2]],
        'class_accuracy': [[_per_class(0.9), _per_class(long[-1])]]})
  return w


def _stage(name, root, workdirs=(), outputs=(), figures=(), status='done', seconds=10.0,
           kind='analysis'):
  out = {'name': name, 'kind': kind, 'command': f'python bin/{name}.py --root={root}',
         'workdirs': list(workdirs), 'outputs': list(outputs), 'figures': list(figures),
         'status': status, 'seconds': seconds}
  if status == 'failed':
    out['error'] = 'Traceback: boom'
  return out


def _by_condition(workdirs, values):
  """``{condition_key: [values]}`` as ``analysis.extrapolation`` groups runs (importing it
  would import TensorFlow, too slow for this test)."""
  return stats.group([multirun.condition_key(w) for w in workdirs], values)


def _extrapolation_summary(root, workdirs, curves, dataset='mnist', noise=True):
  """A summary shaped as ``analysis.extrapolation.extrapolate_runs`` writes it."""
  conditions = {k: {'delays': DELAYS, 'accuracy': stats.summarize(v)}
                for k, v in _by_condition(workdirs, curves).items()}
  summary = {'runs': workdirs, 'params': {'delays': DELAYS, 'first_delay': 12, 'gap': 12},
             'protocols': {p: conditions for p in ('fixed', 'tmax')}}
  keys = [multirun.condition_key(w) for w in workdirs]
  if noise:
    summary['noise'] = {}
    for key in dict.fromkeys(keys):
      acc = [[c[:3], [a - 0.1 for a in c[:3]]] for c, k in zip(curves, keys) if k == key]
      summary['noise'][key] = {'noise_scales': [1.0, 2.0], 'delays': DELAYS[:3],
                               'accuracy': stats.summarize(acc)}
  second = [{'first': c[1], 'second': c[1] - (0.01 if 'decu' in w else 0.1 + 0.01 * i),
             'both': c[1] - 0.1} for i, (w, c) in enumerate(zip(workdirs, curves))]
  for r in second:
    r['difference'] = r['first'] - r['second']
  summary['second_retrieval'] = {
      k: {f: stats.summarize([r[f] for r in v]) for f in ('first', 'second', 'difference')}
      for k, v in _by_condition(workdirs, second).items()}
  path = os.path.join(root, 'aggregate', dataset, 'analysis', 'extrapolation_summary.json')
  return _write(path, summary)


def _build(root, reverse=False, failed=(), absent=(), seeds=SEEDS):
  """A reproduction root: every stage with small real-schema files."""
  root = str(root)
  long = {'decu': LONG['vocu'], 'vocu': LONG['decu']} if reverse else LONG
  stages, curves, runs = [], [], []
  for cell in ('gru', 'lstm'):
    workdirs = []
    for curriculum in ('decu', 'vocu', 'naive'):
      for seed in seeds:
        c = long[curriculum][seed] if curriculum != 'naive' else None
        w = _make_run(root, cell, curriculum, 'sigmoid', seed, c)
        workdirs.append(w)
        if c is not None:
          runs.append(w)
          curves.append(c)
    workdirs.append(_make_run(root, cell, 'naive', 'logits', 0))
    stages.append(_stage(f'train_mnist_{cell}', root, workdirs, kind='sweep'))
  figure = os.path.join(root, 'aggregate', 'mnist', 'figures', 'extrapolation.png')
  os.makedirs(os.path.dirname(figure), exist_ok=True)
  with open(figure, 'wb') as f:
    f.write(b'\x89PNG fake')
  stages.append(_stage('extrapolate_mnist', root, runs,
                       [_extrapolation_summary(root, runs, curves)], [figure]))

  # Speed against accuracy: slower classes more accurate.
  nets = []
  for i, w in enumerate(runs):
    log_speed = np.linspace(-8, -4, 10) + 0.1 * i
    acc = 1.0 - 0.1 * (log_speed + 8)
    nets.append({'workdir': w, 'condition': multirun.condition_key(w),
                 'log10_speed': log_speed.tolist(), 'accuracy': acc.tolist(),
                 'correlations': stats.correlations(log_speed, acc, 200)})
  pooled = stats.correlations(np.concatenate([n['log10_speed'] for n in nets]),
                              np.concatenate([n['accuracy'] for n in nets]), 200)
  conditions = {}
  for key, group in stats.group([n['condition'] for n in nets], nets).items():
    conditions[key] = {'pooled': pooled, 'num_networks': len(group),
                       'mean_log10_speed': stats.summarize([-6.0] * len(group)),
                       'mean_accuracy': stats.summarize([0.5] * len(group)),
                       'spearman': stats.summarize([-1.0] * len(group)),
                       'pearson': stats.summarize([-1.0] * len(group))}
  stages.append(_stage('speed_accuracy_mnist', root, runs, [_write(
      os.path.join(root, 'aggregate', 'mnist', 'analysis', 'speed_accuracy_summary.json'),
      {'delay': 1000, 'protocol': 'fixed', 'networks': nets, 'conditions': conditions,
       'pooled': pooled})]))

  # Template matching: per-network rho negative.
  tm = []
  for seed in range(5):
    w = os.path.join(root, 'tm', f'gru_s{seed}')
    _write(os.path.join(w, 'config.json'),
           _config('gru', 'naive', 'logits', seed, task_kind='template_matching'))
    _write(os.path.join(w, 'eval.json'), {'step': 10, 'test': {'digit_accuracy': TM_NOMINAL[seed]}})
    _write(os.path.join(w, 'analysis', 'template_matching.json'), {
        'delays': [100, 1000], 'accuracy': [0.9, TM_LONG[seed]],
        'answer_fractions': [[0.0, 0.5, 0.5], [0.1 * seed, 0.5, 0.5 - 0.1 * seed]],
        'classes': [{'class': c, 'speed': 10.0 ** -c, 'accuracy': [0.9, 0.5]} for c in range(2)],
        'correlations': {
            '100': {'spearman': -0.5, 'pearson_log_speed': -0.5},
            '1000': {'spearman': -0.6 - 0.05 * seed, 'pearson_log_speed': -0.6}}})
    tm.append(w)
  stages.append(_stage('train_template_matching', root, tm, kind='sweep'))

  stages.append(_stage('pca_mnist', root, runs))

  # Backtracking: VoCu jumps at introductions, DeCu does not.
  def curriculum_result(c):
    return {'n': len(JUMPS[c]), 'runs': [], 'ratio_of_medians_per_run': JUMPS[c],
            'slowing_rho_per_run': SLOWING[c]}
  stages.append(_stage('backtrack_mnist', root, runs, [_write(
      os.path.join(root, 'aggregate', 'backtrack', 'analysis', 'backtrack.json'),
      {'curricula': {c: curriculum_result(c) for c in ('decu', 'vocu')}})]))

  # Branching: spawners lose 10 points more over 20 events in 3 networks.
  stages.append(_stage('branching_mnist', root, runs, [_branching_by_cell(root, {
      'gru': (3, [-0.1 - 0.005 * i for i in range(20)])})]))

  # Regularisation: both arms far ahead at delay 1000, nominal intact.
  for arm, acc in (('control', 0.3), ('slow_points', 0.8), ('centres', 0.75)):
    for seed in SEEDS:
      source = f'gru_decu_sigmoid_s{seed}'
      w = os.path.join(root, 'regularize', f'{arm}_{source}')
      _write(os.path.join(w, 'config.json'), _config('gru', 'decu', 'sigmoid', seed))
      # Controls vary more across networks than the arms' gains do (paired design).
      acc_1000 = acc + (0.05 if arm == 'control' else 0.06) * seed
      curve = {'delays': [100, 500, 1000], 'accuracy': [0.95, 0.9, acc_1000]}
      _write(os.path.join(w, 'analysis', 'regularization.json'), {
          'source': source, 'arm': arm, 'penalty': 1e-3, 'steps': 50,
          'nominal': {'before': {'test': 0.97}, 'after': {'test': 0.968}},
          'accuracy_at': {'before': {'100': 0.9, '500': 0.5, '1000': 0.3},
                          'after': {'100': 0.95, '500': 0.9, '1000': acc_1000}},
          'extrapolation': {'before': {'delays': [100, 500, 1000],
                                       'accuracy': [0.9, 0.5, 0.3]}, 'after': curve},
          'slow_point_speeds': {'before': {'median': 1e-5},
                                'after': {'median': 1e-5 if arm == 'control' else 1e-7}}})
      stages.append(_stage(f'regularize_{arm}_{source}', root, [w], kind='run'))

  for delay in (0, 8):
    for seed in (0, 1):
      w = os.path.join(root, 'flipflop', f'delay{delay}_s{seed}')
      by = {'0': 8, '1': 12, '2': 6, '3': 1} if delay == 0 else {'0': 8, '1': 2, '5': 4}
      pair = lambda re_, im: {'real': re_, 'imag': im, 'modulus': float(np.hypot(re_, im))}  # noqa
      pairs = [pair(0.3, 0.2)] if delay == 0 else [pair(-0.109, 1.237), pair(0.3, 0.2)]
      _write(os.path.join(w, 'analysis', 'summary.json'), {
          'delay': delay, 'evaluation': {'bit_accuracy': 0.99},
          'spectrum': {'leading_complex_pairs': pairs},
          'fixed_points': {'num_fixed_points': 27, 'stable_distinct_corners': 8,
                           'by_unstable_dims': by}})
      stages.append(_stage(f'flipflop_delay{delay}_s{seed}', root, [w], kind='run'))

  for s in stages:
    if s['name'] in failed:
      s.update(status='failed', error='Traceback: boom')
  stages = [s for s in stages if s['name'] not in absent]
  _write(os.path.join(root, 'reproduce.json'),
         {'variant': 'test', 'root': root, 'config': {}, 'stages': stages})
  return root


def _branching_by_cell(root, diffs):
  """Rewrites the branching aggregate: ``diffs[cell] = (networks, [spawner - others])``."""
  events, by_cell = [], {}
  for cell, (runs, d) in diffs.items():
    mine = [{'delta_spawner': x - 0.05, 'delta_others': -0.05, 'spawner': 1,
             'spawner_nearest': 1, 'readout_at_end': 1, 'cell': cell} for x in d]
    events += mine
    a, b = [e['delta_spawner'] for e in mine], [e['delta_others'] for e in mine]
    by_cell[cell] = {'num_runs': runs, 'test': stats.paired_tests(a, b, 'less'),
                     'delta_spawner_mean_sem_n': list(stats.mean_sem(a)),
                     'delta_others_mean_sem_n': list(stats.mean_sem(b))}
  return _write(os.path.join(root, 'aggregate', 'branching', 'analysis', 'branching.json'),
                {'num_runs': sum(r for r, _ in diffs.values()), 'weights': ['replay'],
                 'events': events, 'test': by_cell['gru']['test'], 'by_cell': by_cell,
                 'delta_spawner_mean_sem_n': [0, 0, 0], 'delta_others_mean_sem_n': [0, 0, 0]})


def _report(root):
  with open(report.write_report(root)) as f:
    return f.read()


def _row(text, key):
  """The verdict-table row of claim ``key``."""
  rows = [line for line in text.splitlines() if line.startswith(f'| [{key}](#claim-{key})')]
  assert len(rows) == 1, rows
  return rows[0]


def _verdict(row):
  return re.search(r'\*\*(reproduces|contradicted|not observed|inconclusive)\*\*', row).group(1)


KEYS = tuple(str(k) for k in range(1, 15))


@pytest.fixture(scope='module')
def full(tmp_path_factory):
  root = _build(tmp_path_factory.mktemp('full'), absent=('train_cifar10',))
  return root, _report(root)


def test_every_claim_has_a_heading_and_a_row(full):
  _, text = full
  sections = re.findall(r'^## (\S+)\. ', text, re.M)
  assert tuple(sections) == KEYS
  for key in KEYS:
    _row(text, key)
  assert 'Total compute time' in text and 'Variant: `test`' in text
  assert f'analysis plan {plan.PLAN_VERSION}' in text
  with open(os.path.join(full[0], 'report.json')) as f:
    assert [s['key'] for s in json.load(f)] == list(KEYS)


def test_verdicts_of_effects_in_the_papers_direction(full):
  _, text = full
  verdicts = {k: _verdict(_row(text, k)) for k in KEYS}
  assert verdicts == {**{k: 'reproduces' for k in KEYS[:13]}, '14': 'inconclusive'}


def test_primary_effect_equals_the_welch_interval_of_the_fixture(full):
  root, text = full
  repro = claims.Reproduction.load(root)
  section = claims.extrapolation(repro)
  decu = [c[DELAYS.index(1000)] for c in LONG['decu']]
  vocu = [c[DELAYS.index(1000)] for c in LONG['vocu']]
  want = sps.ttest_ind(decu, vocu, equal_var=False)
  ci = want.confidence_interval(0.95)
  assert section.numbers['primary estimate'] == pytest.approx(np.mean(decu) - np.mean(vocu))
  assert section.numbers['primary p'] == pytest.approx(want.pvalue)
  assert section.numbers['primary lo'] == pytest.approx(ci.low)
  assert section.numbers['primary hi'] == pytest.approx(ci.high)
  assert section.verdict == plan.REPRODUCES
  # The row gives the effect with its interval, in points.
  assert (f'+{100 * (np.mean(decu) - np.mean(vocu)):.1f} points [+{100 * ci.low:.1f}, '
          f'+{100 * ci.high:.1f}]') in _row(text, '3')
  # Claim 8: VoCu - DeCu mean log10 speed is 2 decades by construction.
  speed = claims.speed_difference(repro)
  assert speed.numbers['primary estimate'] == pytest.approx(2.0)
  # Claim 12: paired by network, both arms ahead of the control by a growing margin.
  reg = claims.regularization(repro)
  arm = [0.8 + 0.06 * s for s in SEEDS]
  control = [0.3 + 0.05 * s for s in SEEDS]
  assert reg.numbers['primary 1 estimate'] == pytest.approx(np.mean(np.subtract(arm, control)))
  assert reg.numbers['primary 1 p'] == pytest.approx(sps.ttest_rel(arm, control).pvalue)


def test_per_network_rank_correlation_is_the_primary_of_claim_7(full):
  root, _ = full
  section = claims.speed_accuracy(claims.Reproduction.load(root))
  # Every network: speed falls and accuracy rises with the class index -> rho = -1.
  assert section.numbers['primary estimate'] == pytest.approx(1.0)
  assert section.verdict == plan.REPRODUCES
  # Template matching: a secondary comparison (mean rho -0.7 over 5 GRUs).
  assert 'template matching (gru)' in section.detail_markdown
  mean, sem, _ = stats.mean_sem(TM_LONG)
  assert stats.format_mean_sem(mean, sem) in section.detail_markdown


def test_decu_gradual_slowing_is_claim_10s_secondary(full):
  root, _ = full
  section = claims.speed_jumps(claims.Reproduction.load(root))
  rhos = SLOWING['decu']
  want = sps.ttest_1samp(rhos, 0.0)
  ci = want.confidence_interval(0.95)
  # Signed so that slowing is positive: -mean rho, interval [-hi, -lo].
  row = [l for l in section.detail_markdown.splitlines() if 'DeCu gradual slowing' in l]
  assert len(row) == 1
  assert f'+{-np.mean(rhos):.2f}' in row[0] and f'[+{-ci.high:.2f}, +{-ci.low:.2f}]' in row[0]
  assert '-0.90, -0.80, -0.70, -0.85, -0.75' in section.detail_markdown


def test_reversed_fixture_is_contradicted(tmp_path):
  text = _report(_build(tmp_path, reverse=True))
  row = _row(text, '3')
  assert _verdict(row) == 'contradicted'
  assert re.search(r'DeCu - VoCu at delay 1000, fixed \(mnist gru sigmoid\): -\d+\.\d points', row)
  assert 'N = 5 vs 5' in row


def test_no_difference_with_a_tight_interval_is_not_observed(tmp_path):
  root = _build(tmp_path)
  path = os.path.join(root, 'aggregate', 'mnist', 'analysis', 'extrapolation_summary.json')
  with open(path) as f:
    summary = json.load(f)
  i = summary['params']['delays'].index(1000)
  for c in summary['protocols']['fixed'].values():
    c['accuracy']['mean'][i], c['accuracy']['sem'][i] = 0.5, 0.005
  _write(path, summary)
  row = _row(_report(root), '3')
  assert _verdict(row) == 'not observed'
  assert "excludes an effect of 10 points" in row


def test_failed_and_absent_stages_are_inconclusive_with_the_command(tmp_path):
  root = _build(tmp_path, failed=('extrapolate_mnist',),
                absent=('backtrack_mnist', 'flipflop_delay0_s0', 'flipflop_delay0_s1'))
  # A corrupt aggregate costs its claim only.
  _write(os.path.join(root, 'aggregate', 'branching', 'analysis', 'branching.json'),
         {'events': 'nonsense'})
  text = _report(root)
  row = _row(text, '3')
  assert _verdict(row) == 'inconclusive'
  assert f'python bin/extrapolate_mnist.py --root={root}' in row and 'failed' in row
  for key in ('4', '5', '10', '11', '13'):
    assert _verdict(_row(text, key)) == 'inconclusive', key
  assert 'absent from reproduce.json' in _row(text, '10')
  assert _verdict(_row(text, '1')) == 'reproduces'


def test_fewer_networks_than_the_plans_minimum_are_inconclusive(tmp_path):
  text = _report(_build(tmp_path, seeds=range(3)))
  for key in ('1', '3', '4', '5', '8', '9'):  # 3 networks per curriculum
    assert _verdict(_row(text, key)) == 'inconclusive', key
  for key in ('6', '7'):  # one group of both curricula, as the paper pools them: 6 networks
    assert _verdict(_row(text, key)) == 'reproduces', key
  assert "fewer networks than the plan's minimum" in _row(text, '3')


def test_claims_6_to_8_need_the_papers_search(tmp_path):
  root = _build(tmp_path)
  for path in glob.glob(os.path.join(root, 'mnist_*', '*', 'analysis', 'slowpoints_paper.json')):
    os.remove(path)
  text = _report(root)
  for key in ('6', '7', '8'):
    assert _verdict(_row(text, key)) == 'inconclusive', key
  section = claims.slow_points(claims.Reproduction.load(root))
  assert '--method=paper' in section.detail_markdown
  # The refined search is still shown as a secondary reading.
  assert 'refined search: readout match' in section.detail_markdown


def test_branching_lstm_is_secondary(tmp_path):
  root = _build(tmp_path)
  losses = [-0.1 - 0.005 * i for i in range(20)]
  gains = [0.1 + 0.005 * i for i in range(20)]
  _branching_by_cell(root, {'gru': (3, losses), 'lstm': (3, gains)})
  section = claims.branching(claims.Reproduction.load(root))
  assert section.verdict == plan.REPRODUCES
  assert section.numbers['primary estimate'] == pytest.approx(-np.mean(losses))
  assert 'LSTM: spawner drop - others' in section.detail_markdown
  assert '| against |' in section.detail_markdown or '| against' in section.detail_markdown
  # Too few GRU networks: inconclusive, whatever the LSTMs show.
  _branching_by_cell(root, {'gru': (2, losses), 'lstm': (3, gains)})
  assert claims.branching(claims.Reproduction.load(root)).verdict == plan.INCONCLUSIVE


def test_regularization_is_judged_paired_by_network(tmp_path):
  """Small consistent gains over controls that vary across networks: a paired test finds
  them where an unpaired one would not; a network without its control is left out."""
  root = _build(tmp_path)
  controls = [0.1, 0.5, 0.9, 0.3, 0.7]
  for path in glob.glob(os.path.join(root, 'regularize', '*', 'analysis',
                                     'regularization.json')):
    with open(path) as f:
      summary = json.load(f)
    seed = int(summary['source'][-1])
    value = controls[seed] + (0.0 if summary['arm'] == 'control' else 0.04 + 0.01 * seed)
    summary['accuracy_at']['after']['1000'] = value
    _write(path, summary)
  arm = [c + 0.04 + 0.01 * s for s, c in enumerate(controls)]
  assert stats.welch_test(arm, controls)['p'] > 0.5
  reg = claims.regularization(claims.Reproduction.load(root))
  want = sps.ttest_rel(arm, controls).pvalue
  assert want < 0.05
  assert reg.numbers['primary p'] == pytest.approx(want)  # centres, first in order
  assert reg.verdict == plan.REPRODUCES
  assert 'Holm p = ' in reg.reason and '5 pairs' in reg.reason
  assert '| gru decu centres | +0.00 [+0.00, +0.00] | 5 | intact |' in reg.detail_markdown
  shutil.rmtree(os.path.join(root, 'regularize', 'control_gru_decu_sigmoid_s4'))
  reg = claims.regularization(claims.Reproduction.load(root))
  assert reg.numbers['primary p'] == pytest.approx(sps.ttest_rel(arm[:4], controls[:4]).pvalue)
  assert reg.verdict == plan.INCONCLUSIVE


def test_welch_from_stats_equals_the_test_on_samples():
  x, y = [0.38, 0.41, 0.66, 0.78, 0.73], [0.74, 0.81, 0.69, 0.69, 0.71, 0.7]
  want = sps.ttest_ind(x, y, equal_var=False)
  got = stats.welch_test(x, y)
  assert got['p'] == pytest.approx(want.pvalue)
  assert got['t'] == pytest.approx(want.statistic)
  assert stats.welch_test([0.5], y)['p'] is None


def test_paired_t_test_matches_scipy():
  x, y = [0.5, 0.62, 0.7, float('nan'), 0.4], [0.45, 0.5, 0.69, 0.3, 0.41]
  got = stats.paired_t_test(x, y)
  want = sps.ttest_rel([0.5, 0.62, 0.7, 0.4], [0.45, 0.5, 0.69, 0.41])
  assert got['p'] == pytest.approx(want.pvalue)
  assert got['n_x'] == got['n_y'] == 4
  assert stats.paired_t_test([0.5], [0.4])['p'] is None
  with pytest.raises(ValueError, match='differ in length'):
    stats.paired_t_test([0.5, 0.6], [0.4])


def test_long_command_lists_keep_the_first_and_last_and_name_the_rest():
  from memrnn_tf.reproduce import report as report_lib
  commands = [(f'regularize_control_s{i}', 'done', f'python bin/regularize.py --i={i}')
              for i in range(10)] + [('plot_regularization', 'done', 'python bin/plot.py')]
  lines = report_lib._regenerate(commands)
  assert lines[:3] == [f'- `regularize_control_s{i}` (done): `python bin/regularize.py --i={i}`'
                       for i in range(3)]
  assert lines[3].startswith('- ... 7 more stages, `regularize_control_s3` to '
                             '`regularize_control_s9`')
  assert lines[4] == '- `plot_regularization` (done): `python bin/plot.py`' and len(lines) == 5
  short = commands[:2] + [('x', 'absent', None)]
  assert report_lib._regenerate(short)[-1] == '- `x` (absent): not in this variant'
  assert len(report_lib._regenerate(short)) == 3


def test_publish_copies_the_report_and_small_files_without_machine_paths(full, tmp_path):
  from memrnn_tf.reproduce import publish
  root, _ = full
  out = str(tmp_path / 'results' / 'test')
  path = publish.publish(root, out)
  text = open(path).read()
  assert str(root) not in text and '--root=<root>' in text
  assert '## Deviations from the paper' in text
  for name in ('report.json', 'reproduce.json', 'runs.json',
               'aggregate/mnist/analysis/extrapolation_summary.json',
               'runs/mnist_gru/gru_decu_sigmoid_s0/eval.json',
               'runs/mnist_gru/gru_decu_sigmoid_s0/analysis/slowpoints_paper.json',
               'figures/aggregate__mnist__figures__extrapolation.png'):
    assert os.path.exists(os.path.join(out, name)), name
  assert not glob.glob(os.path.join(out, '**', '*.npz'), recursive=True)
  runs = json.load(open(os.path.join(out, 'runs.json')))
  decu = [r for r in runs if (r['cell'], r['curriculum'], r['readout']) ==
          ('gru', 'decu', 'sigmoid')]
  assert sorted(r['seed'] for r in decu) == list(SEEDS)
  assert [r['eval']['test']['digit_accuracy'] for r in sorted(decu, key=lambda r: r['seed'])] \
      == NOMINAL['decu']
  assert str(root) not in open(os.path.join(out, 'reproduce.json')).read()


def _published(root, tmp_path, configs=(('cpu', 6000), ('paper_gru', 140000))):
  """The fixture published once per ``(name, training steps)``; returns the directories."""
  from memrnn_tf.reproduce import publish
  dirs = []
  for name, steps in configs:
    out = str(tmp_path / name)
    publish.publish(root, out)
    runs = json.load(open(os.path.join(out, 'runs.json')))
    for r in runs:
      r['num_steps'] = steps
    _write(os.path.join(out, 'runs.json'), runs)
    dirs.append(out)
  return dirs


def test_dose_response_tabulates_primary_effects_per_config(full, tmp_path):
  from memrnn_tf.plots import dose_response as dose_plots
  from memrnn_tf.reproduce import dose
  root, _ = full
  dirs = _published(root, tmp_path)
  table = dose.write(dirs, str(tmp_path / 'dose'))
  assert [r['steps'] for r in table['results']] == [6000, 140000]
  claim3 = next(c for c in table['claims'] if c['key'] == '3')
  report = {s['key']: s for s in json.load(open(os.path.join(root, 'report.json')))}
  assert [p['estimate'] for p in claim3['points']] == [
      report['3']['numbers']['primary estimate']] * 2
  assert [p['verdict'] for p in claim3['points']] == ['reproduces'] * 2
  text = open(str(tmp_path / 'dose' / 'dose_response.md')).read()
  assert '| 3. DeCu extrapolates further than VoCu |' in text and '(6000 steps)' in text
  assert os.path.exists(dose_plots.plot(str(tmp_path / 'dose')))


def test_dose_response_binary_end_to_end(full, tmp_path):
  """bin/dose_response.py over two published copies of the fixture: claim 3's row is the
  Welch estimate and 95% interval of DeCu - VoCu at delay 1000 (0.588 - 0.290 = +0.298)
  for both configs, in the printed table, the JSON and the Markdown file; plus the figure."""
  root, _ = full
  dirs = _published(root, tmp_path)
  out = str(tmp_path / 'dose')
  proc = _dose_response(f'--results={",".join(dirs)}', f'--out={out}')
  assert proc.returncode == 0, proc.stderr[-2000:]
  decu = [c[DELAYS.index(1000)] for c in LONG['decu']]
  vocu = [c[DELAYS.index(1000)] for c in LONG['vocu']]
  ci = sps.ttest_ind(decu, vocu, equal_var=False).confidence_interval(0.95)
  table = json.load(open(os.path.join(out, 'dose_response.json')))
  assert table['results'] == [{'name': 'cpu', 'steps': 6000},
                              {'name': 'paper_gru', 'steps': 140000}]
  claim3 = next(c for c in table['claims'] if c['key'] == '3')
  for point in claim3['points']:
    assert point['estimate'] == pytest.approx(0.298)
    assert (point['lo'], point['hi']) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert point['verdict'] == 'reproduces'
  cell = f'+0.298 [{ci.low:+.3g}, {ci.high:+.3g}] (reproduces)'
  row = f'| 3. DeCu extrapolates further than VoCu | {cell} | {cell} |'
  assert row in proc.stdout.splitlines()
  assert row in open(os.path.join(out, 'dose_response.md')).read().splitlines()
  assert '| claim | cpu (6000 steps) | paper_gru (140000 steps) |' in proc.stdout
  figure = os.path.join(out, 'dose_response.png')
  assert f'figure: {figure}' in proc.stdout.splitlines()
  with open(figure, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  # A directory that was never published: one error line naming its report.json, exit 1.
  proc = _dose_response(f'--results={dirs[0]},{tmp_path}', f'--out={tmp_path / "x"}')
  assert proc.returncode == 1 and proc.stdout == ''
  assert proc.stderr.splitlines()[-1] == (
      f'error: {tmp_path / "report.json"} not found or not valid JSON: run '
      'bin/reproduce.py --publish first')


def _dose_response(*flags):
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  return subprocess.run([sys.executable, os.path.join(repo, 'bin', 'dose_response.py'), *flags],
                        env=dict(os.environ, PYTHONPATH=repo), capture_output=True, text=True,
                        timeout=300, check=False)


def test_training_seconds_add_up_every_session_of_a_run():
  from memrnn_tf.reproduce.inputs import training_seconds
  # Session 1 from step 0: 2,000 steps at 2.5 steps/s = 800 s (its earlier record says
  # 500 s at step 1,000, which the later one includes); session 2 resumed at 2,000:
  # 1,000 steps at 1 step/s = 1,000 s; an evaluation record has no rate.
  records = [{'step': 1000, 'steps_per_sec': 2.0, 'session_start_step': 0},
             {'step': 2000, 'steps_per_sec': 2.5, 'session_start_step': 0},
             {'step': 3000, 'steps_per_sec': 1.0, 'session_start_step': 2000},
             {'step': 3000}]
  assert training_seconds(records) == pytest.approx(1800.0)
  # A session that resumed at the same step as the one before it (no record in between).
  again = records[:2] + [{'step': 1000, 'steps_per_sec': 4.0, 'session_start_step': 0}]
  assert training_seconds(again) == pytest.approx(800.0 + 250.0)
  # Records without the session start: each interval at its own rate.
  old = [{'step': 1000, 'steps_per_sec': 2.0}, {'step': 2000, 'steps_per_sec': 4.0}]
  assert training_seconds(old) == pytest.approx(500.0 + 250.0)
  assert training_seconds(old + [{'step': 3000, 'steps_per_sec': 1.0,
                                  'session_start_step': 2000}]) == pytest.approx(1750.0)
  assert training_seconds([{'step': 10}]) is None and training_seconds([]) is None


def test_published_runs_give_the_training_seconds_of_their_metrics(full, tmp_path):
  from memrnn_tf.reproduce import publish
  root, _ = full
  run = os.path.join('mnist_gru', 'gru_decu_sigmoid_s0')
  metrics = os.path.join(root, run, 'metrics.jsonl')
  assert not os.path.exists(metrics)
  try:  # 2,000 steps at 4 steps/s, then 1,000 more at 2 steps/s after a resume
    _write_lines(metrics, [
        {'step': 1000, 'split': 'train', 'steps_per_sec': 5.0, 'session_start_step': 0},
        {'step': 2000, 'split': 'train', 'steps_per_sec': 4.0, 'session_start_step': 0},
        {'step': 2000, 'split': 'eval_test', 'digit_accuracy': 0.5},
        {'step': 3000, 'split': 'train', 'steps_per_sec': 2.0, 'session_start_step': 2000}])
    publish.publish(root, str(tmp_path / 'published'))
  finally:
    os.remove(metrics)
  runs = {r['run']: r for r in json.load(open(tmp_path / 'published' / 'runs.json'))}
  assert runs[run]['training_seconds'] == pytest.approx(500.0 + 500.0)
  assert runs[os.path.join('mnist_gru', 'gru_decu_sigmoid_s1')]['training_seconds'] is None


def _write_lines(path, records):
  with open(path, 'w') as f:
    f.writelines(json.dumps(r) + '\n' for r in records)
