"""The reproduction report: a fake root with real-schema files, judged from saved files only."""

import glob
import json
import os
import re
import shutil

import numpy as np
import pytest
from scipy import stats as sps

from memrnn_tf.analysis import stats
from memrnn_tf.reproduce import claims
from memrnn_tf.reproduce import paper
from memrnn_tf.reproduce import report

DELAYS = [4, 19, 100, 500, 1000]
SEEDS = range(4)
# Test digit accuracy and accuracy at DELAYS per (curriculum, seed): DeCu clearly ahead.
NOMINAL = {'decu': [0.975, 0.972, 0.978, 0.970], 'vocu': [0.962, 0.960, 0.965, 0.958],
           'naive': [0.0, 0.0, 0.0, 0.0]}
LONG = {'decu': [[0.98, 0.97, 0.95, 0.80, 0.60], [0.98, 0.98, 0.94, 0.78, 0.55],
                 [0.97, 0.97, 0.96, 0.82, 0.62], [0.98, 0.97, 0.95, 0.79, 0.58]],
        'vocu': [[0.97, 0.96, 0.90, 0.50, 0.30], [0.96, 0.96, 0.88, 0.52, 0.28],
                 [0.97, 0.96, 0.91, 0.48, 0.31], [0.96, 0.95, 0.89, 0.51, 0.27]]}
# Template matching, 5 GRUs: same / different test accuracy and accuracy at delay 1000.
TM_NOMINAL = [0.96, 0.97, 0.965, 0.968, 0.962]
TM_LONG = [0.6, 0.7, 0.65, 0.55, 0.8]


def _write(path, obj):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w') as f:
    json.dump(obj, f)
  return path


def _config(cell, curriculum, readout, seed, dataset='mnist', **extra):
  return {'dataset': dataset, 'curriculum': curriculum, 'seed': seed,
          'model': {'cell': cell, 'readout_sigmoid': readout == 'sigmoid'}, **extra}


def _slowpoints(seed):
  classes = [{'class': k, 'speed': 10.0 ** (-6 - 0.1 * k - seed), 'class_mean_speed': 0.4,
              'status': 'slow_point', 'readout_class': k} for k in range(10)]
  return {'classes': classes, 'num_readout_correct': 10}


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
             {'delays': DELAYS, 'accuracy': long, 'per_class': [[a] * 10 for a in long],
              'protocol': protocol})
  _write(os.path.join(w, 'analysis', 'slowpoints.json'), _slowpoints(seed))
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
  return stats.group([claims.multirun.condition_key(w) for w in workdirs], values)


def _extrapolation_summary(root, workdirs, curves, dataset='mnist', noise=True):
  """A summary shaped as ``analysis.extrapolation.extrapolate_runs`` writes it."""
  conditions = {k: {'delays': DELAYS, 'accuracy': stats.summarize(v)}
                for k, v in _by_condition(workdirs, curves).items()}
  summary = {'runs': workdirs, 'params': {'delays': DELAYS, 'first_delay': 12, 'gap': 12},
             'protocols': {p: conditions for p in ('fixed', 'tmax')}}
  keys = [claims.multirun.condition_key(w) for w in workdirs]
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
    nets.append({'workdir': w, 'condition': claims.multirun.condition_key(w),
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

  # Backtracking: VoCu jumps at introductions, DeCu does not.
  def curriculum_result(ratio, p, n):
    return {'n': n, 'runs': [], 'jump_statistic_pooled': {
        'median_x': 0.1 * ratio, 'median_y': 0.1, 'ratio_of_medians': ratio,
        'mannwhitney_p': p}, 'ratio_of_medians_mean_sem_n': [ratio, 0.1, n]}
  stages.append(_stage('backtrack_mnist', root, runs, [_write(
      os.path.join(root, 'aggregate', 'backtrack', 'analysis', 'backtrack.json'),
      {'curricula': {'decu': curriculum_result(1.1, 0.3, 3),
                     'vocu': curriculum_result(8.0, 1e-4, 3)}})]))

  # Branching: spawners lose 10 points more over 12 events in 3 networks.
  events = [{'delta_spawner': -0.15 - 0.01 * i, 'delta_others': -0.05, 'spawner': 1,
             'spawner_nearest': 1} for i in range(12)]
  a = [e['delta_spawner'] for e in events]
  b = [e['delta_others'] for e in events]
  stages.append(_stage('branching_mnist', root, runs, [_write(
      os.path.join(root, 'aggregate', 'branching', 'analysis', 'branching.json'),
      {'num_runs': 3, 'weights': ['snapshots'], 'events': events,
       'test': stats.paired_tests(a, b, 'less'),
       'delta_spawner_mean_sem_n': list(stats.mean_sem(a)),
       'delta_others_mean_sem_n': list(stats.mean_sem(b))})]))

  # Regularisation: both arms far ahead at delay 1000, nominal intact.
  for arm, acc in (('control', 0.3), ('slow_points', 0.8), ('centres', 0.75)):
    for seed in range(3):
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
          'slow_point_speeds': {'before': {'median': 1e-5}, 'after': {'median': 1e-7}},
          'timing': {'train_seconds': 200.0 + seed, 'refresh_seconds': 0.0 if arm == 'control'
                     else 3.0, 'refreshes': 0 if arm == 'control' else 5,
                     'final_analysis_seconds': 30.0}})
      stages.append(_stage(f'regularize_{arm}_{source}', root, [w], kind='run'))

  for delay, corners in ((0, 8), (8, 8)):
    w = os.path.join(root, 'flipflop', f'delay{delay}')
    _write(os.path.join(w, 'analysis', 'summary.json'), {
        'delay': delay, 'evaluation': {'bit_accuracy': 0.99},
        'fixed_points': {'num_fixed_points': 27, 'stable_distinct_corners': corners,
                         'by_unstable_dims': {'0': 8, '1': 12, '2': 6, '3': 1}}})
    stages.append(_stage(f'flipflop_delay{delay}', root, [w], kind='run'))

  for s in stages:
    if s['name'] in failed:
      s.update(status='failed', error='Traceback: boom')
  stages = [s for s in stages if s['name'] not in absent]
  _write(os.path.join(root, 'reproduce.json'),
         {'variant': 'test', 'root': root, 'config': {}, 'stages': stages})
  return root


def _report(root):
  with open(report.write_report(root)) as f:
    return f.read()


def _row(text, key):
  """The verdict-table row of claim ``key``."""
  rows = [line for line in text.splitlines() if line.startswith(f'| [{key}](#claim-{key})')]
  assert len(rows) == 1, rows
  return rows[0]


def _verdict(row):
  return re.search(r'\*\*(reproduces|does not reproduce|inconclusive)\*\*', row).group(1)


KEYS = ('1', '2', '3', '4', '5', '6', '7', '8', '9', '10', 'cifar10')


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
  with open(os.path.join(full[0], 'report.json')) as f:
    assert [s['key'] for s in json.load(f)] == list(KEYS)


def test_verdicts_of_a_clear_decu_advantage(full):
  _, text = full
  verdicts = {k: _verdict(_row(text, k)) for k in KEYS}
  assert verdicts == {'1': 'reproduces', '2': 'reproduces', '3': 'reproduces',
                      '4': 'reproduces', '5': 'reproduces', '6': 'reproduces',
                      '7': 'reproduces', '8': 'reproduces', '9': 'reproduces',
                      '10': 'reproduces', 'cifar10': 'inconclusive'}


def test_numbers_equal_the_fixture_means(full):
  root, text = full
  # DeCu GRU sigmoid at delay 1000 (fixed), mean +- SEM over the 4 seeds, as printed.
  values = [c[DELAYS.index(1000)] for c in LONG['decu']]
  mean, sem, n = stats.mean_sem(values)
  assert f'| delay 1000 (fixed, gru sigmoid) | {stats.format_mean_sem(mean, sem, n)} |' in text
  repro = claims.Reproduction.load(root)
  section = claims.extrapolation(repro)
  assert section.numbers['fixed gru sigmoid d=1000 decu mean'] == pytest.approx(mean)
  test = sps.ttest_ind(values, [c[-1] for c in LONG['vocu']], equal_var=False)
  assert section.verdict == claims.REPRODUCES
  # Nominal: the mean of the eval.json files.
  nominal = claims.nominal_accuracy(repro)
  mean, sem, n = stats.mean_sem(NOMINAL['vocu'])
  assert nominal.numbers['mnist lstm vocu sigmoid test mean'] == pytest.approx(mean)
  assert f'| mnist lstm vocu sigmoid | {stats.format_mean_sem(mean, sem, n)} |' in text
  assert paper.NOMINAL['mnist lstm vocu']['test'] == (0.952, 0.002)
  assert test.pvalue < 0.05
  # Regularisation: the slow-point arm's mean at delay 1000 over its 3 networks.
  reg = claims.regularization(repro)
  assert reg.numbers['gru decu slow_points d=1000 mean'] == pytest.approx(0.86)
  assert '| 201 + 3.0 (5 refreshes) + 30 |' in reg.detail_markdown  # cost of an arm
  # Paired by network: the differences are 0.50, 0.51, 0.52.
  want = sps.ttest_rel([0.8, 0.86, 0.92], [0.3, 0.35, 0.4])
  assert reg.numbers['gru decu slow_points d=1000 paired difference'] == pytest.approx(0.51)
  assert reg.numbers['gru decu slow_points d=1000 paired p'] == pytest.approx(want.pvalue)
  assert reg.verdict == claims.REPRODUCES


def test_template_matching_numbers_equal_the_fixture(full):
  root, text = full
  section = claims.speed_accuracy(claims.Reproduction.load(root))
  key = 'mnist gru naive logits'
  assert section.numbers[f'template {key} nominal'] == pytest.approx(np.mean(TM_NOMINAL))
  assert section.numbers[f'template {key} spearman mean'] == pytest.approx(-0.7)
  mean, sem, n = stats.mean_sem(TM_LONG)
  row = (f'| {key} | {stats.format_mean_sem(*stats.mean_sem(TM_NOMINAL))} | 1000 | '
         f'{stats.format_mean_sem(mean, sem)} | 20.0% | -0.70 +- 0.04 (N=5) |')  # null: 0.2
  assert row in section.detail_markdown and row in text


def test_figures_are_copied_and_linked(full):
  root, text = full
  link = 'figures/aggregate__mnist__figures__extrapolation.png'
  assert f']({link})' in text
  assert os.path.exists(os.path.join(root, link))


def test_reversed_fixture_does_not_reproduce(tmp_path):
  text = _report(_build(tmp_path, reverse=True))
  row = _row(text, '3')
  assert _verdict(row) == 'does not reproduce'
  assert re.search(r'VoCu ahead by \d+\.\d points at delay \d+ \(\w+, \w+ sigmoid\), '
                   r'Welch p = [\d.e-]+, N = 4 vs 4', row)


def _branching_by_cell(root, diffs):
  """Rewrites the branching aggregate: ``diffs[cell] = (networks, [spawner - others])``."""
  events, by_cell = [], {}
  for cell, (runs, d) in diffs.items():
    mine = [{'delta_spawner': x - 0.05, 'delta_others': -0.05, 'spawner': 1,
             'spawner_nearest': 1, 'cell': cell} for x in d]
    events += mine
    a, b = [e['delta_spawner'] for e in mine], [e['delta_others'] for e in mine]
    by_cell[cell] = {'num_runs': runs, 'test': stats.paired_tests(a, b, 'less'),
                     'delta_spawner_mean_sem_n': list(stats.mean_sem(a)),
                     'delta_others_mean_sem_n': list(stats.mean_sem(b))}
  _write(os.path.join(root, 'aggregate', 'branching', 'analysis', 'branching.json'),
         {'num_runs': sum(r for r, _ in diffs.values()), 'weights': ['replay'],
          'events': events, 'test': by_cell['gru']['test'], 'by_cell': by_cell,
          'delta_spawner_mean_sem_n': [0, 0, 0], 'delta_others_mean_sem_n': [0, 0, 0]})


def test_branching_is_judged_per_cell(tmp_path):
  root = _build(tmp_path)
  losses = [-0.1 - 0.01 * i for i in range(10)]
  gains = [0.1 + 0.01 * i for i in range(10)]
  # LSTMs on 2 networks are shown but not judged.
  _branching_by_cell(root, {'gru': (3, losses), 'lstm': (2, gains)})
  section = claims.branching(claims.Reproduction.load(root))
  assert section.verdict == claims.REPRODUCES
  assert section.numbers['mean difference'] == pytest.approx(np.mean(losses))
  assert section.numbers['lstm mean difference'] == pytest.approx(np.mean(gains))
  assert section.reason.startswith('1 of 1 comparisons in favour; weakest: GRU: spawner minus '
                                   'others -14.5 points')
  assert '| LSTM | 2 | 10 |' in section.detail_markdown
  # With 3 networks the LSTMs are judged, and against.
  _branching_by_cell(root, {'gru': (3, losses), 'lstm': (3, gains)})
  section = claims.branching(claims.Reproduction.load(root))
  assert section.verdict == claims.DOES_NOT_REPRODUCE
  assert section.reason.startswith('LSTM: spawner minus others +14.5 points')


def test_failed_and_absent_stages_are_inconclusive_with_the_command(tmp_path):
  root = _build(tmp_path, failed=('extrapolate_mnist',),
                absent=('backtrack_mnist', 'flipflop_delay0'))
  # A corrupt aggregate costs its claim only.
  _write(os.path.join(root, 'aggregate', 'branching', 'analysis', 'branching.json'),
         {'events': 'nonsense'})
  text = _report(root)
  row = _row(text, '3')
  assert _verdict(row) == 'inconclusive'
  assert f'python bin/extrapolate_mnist.py --root={root}' in row
  assert 'failed' in row
  assert _verdict(_row(text, '4')) == 'inconclusive'
  assert _verdict(_row(text, '7')) == 'inconclusive'
  assert 'absent from reproduce.json' in _row(text, '7')
  assert _verdict(_row(text, '8')) == 'inconclusive'
  assert _verdict(_row(text, '10')) == 'inconclusive'
  assert _verdict(_row(text, '1')) == 'reproduces'


def test_fewer_than_three_networks_is_inconclusive(tmp_path):
  text = _report(_build(tmp_path, seeds=range(2)))
  for key in ('1', '2', '3', '4', '5'):
    assert _verdict(_row(text, key)) == 'inconclusive', key
  assert 'fewer than 3 networks' in _row(text, '3')


def test_welch_from_stats_equals_the_test_on_samples():
  x, y = [0.38, 0.41, 0.66, 0.78, 0.73], [0.74, 0.81, 0.69, 0.69, 0.71, 0.7]
  want = sps.ttest_ind(x, y, equal_var=False)
  got = stats.welch_test(x, y)
  assert got['p'] == pytest.approx(want.pvalue)
  assert got['t'] == pytest.approx(want.statistic)
  assert stats.welch_test([0.5], y)['p'] is None


def test_verdict_of_mixed_comparisons():
  win = claims.compare('a', (0.8, 0.01, 5), (0.5, 0.01, 5))
  tie = claims.compare('b', (0.6, 0.1, 5), (0.5, 0.1, 5))
  loss = claims.compare('c', (0.3, 0.01, 5), (0.5, 0.01, 5))
  few = claims.compare('d', (0.9, 0.01, 2), (0.1, 0.01, 5))
  assert [c['outcome'] for c in (win, tie, loss, few)] == ['+', '0', '-', 'few']
  assert claims.verdict_of([win, few])[0] == claims.REPRODUCES
  assert claims.verdict_of([win, tie])[0] == claims.INCONCLUSIVE
  verdict, reason = claims.verdict_of([win, loss])
  assert verdict == claims.DOES_NOT_REPRODUCE
  assert reason.startswith('VoCu ahead by 20.0 points at c, Welch p = ')
  assert claims.verdict_of([few])[0] == claims.INCONCLUSIVE


def test_regularization_is_judged_paired_by_network(tmp_path):
  """Small consistent gains over controls that vary across networks: a paired test finds
  them where an unpaired one would not; an arm whose network has no control is unpaired."""
  root = _build(tmp_path)
  controls = [0.1, 0.5, 0.9]
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
  repro = claims.Reproduction.load(root)
  reg = claims.regularization(repro)
  want = sps.ttest_rel(arm, controls).pvalue
  assert want < 0.05
  assert reg.numbers['gru decu centres d=1000 paired p'] == pytest.approx(want)
  assert reg.verdict == claims.REPRODUCES
  assert 'paired t p = ' in reg.reason and '3 pairs' in reg.reason
  # Without the control of network 2, 2 pairs remain: too few to compare.
  shutil.rmtree(os.path.join(root, 'regularize', 'control_gru_decu_sigmoid_s2'))
  reg = claims.regularization(claims.Reproduction.load(root))
  want = sps.ttest_rel(arm[:2], controls[:2]).pvalue
  assert reg.numbers['gru decu centres d=1000 paired p'] == pytest.approx(want)
  assert reg.verdict == claims.INCONCLUSIVE
  assert 'fewer than 3 networks' in reg.reason


def test_paired_t_test_matches_scipy():
  x, y = [0.5, 0.62, 0.7, float('nan'), 0.4], [0.45, 0.5, 0.69, 0.3, 0.41]
  got = stats.paired_t_test(x, y)
  want = sps.ttest_rel([0.5, 0.62, 0.7, 0.4], [0.45, 0.5, 0.69, 0.41])
  assert got['p'] == pytest.approx(want.pvalue)
  assert got['n_x'] == got['n_y'] == 4
  assert got['difference'] == pytest.approx(np.mean([0.05, 0.12, 0.01, -0.01]))
  assert stats.paired_t_test([0.5], [0.4])['p'] is None
  with pytest.raises(ValueError, match='differ in length'):
    stats.paired_t_test([0.5, 0.6], [0.4])


def test_unsettled_slow_points_are_inconclusive(tmp_path):
  """Points that read out their class and are slow, but that the search did not settle
  (status not_converged), are not the paper's "local minimum of speed"."""
  root = _build(tmp_path)
  for path in glob.glob(os.path.join(root, 'mnist_*', '*', 'analysis', 'slowpoints.json')):
    with open(path) as f:
      table = json.load(f)
    for c in table['classes']:
      c['status'] = 'not_converged'
    _write(path, table)
  row = _row(_report(root), '5')
  assert _verdict(row) == 'inconclusive'
  assert 'settled too few of them' in row and '0.0%' in row


def test_second_retrieval_far_below_the_papers_vocu_loss_does_not_reproduce(tmp_path):
  root = _build(tmp_path)
  path = os.path.join(root, 'aggregate', 'mnist', 'analysis', 'extrapolation_summary.json')
  with open(path) as f:
    summary = json.load(f)
  for key, c in summary['second_retrieval'].items():
    if 'vocu' in key.split():  # VoCu loses nothing at the second trigger
      c['difference'] = {'mean': 0.0, 'sem': 0.001, 'n': 5}
  _write(path, summary)
  row = _row(_report(root), '4')
  assert _verdict(row) == 'does not reproduce'
  assert "the paper loses more by 13.9 points" in row and "001 table 5" in row


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
