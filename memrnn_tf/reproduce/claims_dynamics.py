"""Claims 6-13 of the analysis plan: slow points, clouds, training history, regularisation
and the flip-flop."""

import os

import numpy as np

from memrnn_tf.analysis import regularization_summary
from memrnn_tf.analysis import stats
from memrnn_tf.analysis import template_matching_summary
from memrnn_tf.reproduce import inputs
from memrnn_tf.reproduce import paper
from memrnn_tf.reproduce import plan
from memrnn_tf.reproduce import rules
from memrnn_tf.reproduce.inputs import key_of
from memrnn_tf.reproduce.inputs import MNIST_TRAIN_STAGES
from memrnn_tf.reproduce.plan import MARGIN
from memrnn_tf.reproduce.sections import CURRICULA
from memrnn_tf.reproduce.sections import label
from memrnn_tf.reproduce.sections import missing
from memrnn_tf.reproduce.sections import pct
from memrnn_tf.reproduce.sections import section
from memrnn_tf.reproduce.sections import table


# --- 6, 7, 8: slow points -------------------------------------------------------------------
def _group(values):
  """``(mean, sem, n)`` of per-network values, ``(None, None, 0)`` when there are none."""
  return stats.mean_sem(np.asarray(values, np.float64)) if values else (None, None, 0)


def _slow_points(repro, method):
  """``{condition: [(workdir, classes)]}`` of the DeCu/VoCu runs with slow points."""
  runs = [(w, k) for w, k in repro.runs(MNIST_TRAIN_STAGES)
          if inputs.split_key(k)['curriculum'] in CURRICULA]
  return inputs.by_condition(runs, lambda w: (
      (w, inputs.slow_point_classes(w, method))
      if inputs.slow_point_classes(w, method) else None))


def _panel(groups, dataset='mnist', cell='gru', readout='sigmoid'):
  """The networks of both curricula of one (dataset, cell, readout), as in 000 Fig. 4."""
  return [n for c in CURRICULA for n in groups.get(key_of(dataset, cell, c, readout), [])]


def _panels(groups):
  return sorted({(k['dataset'], k['cell'], k['readout'])
                 for k in map(inputs.split_key, groups)})


_SEARCH_MISSING = ('no run has class slow points of the paper\'s search '
                   '(analysis/slowpoints_paper.json): run `python bin/find_slowpoints.py '
                   '--workdir=RUN --method=paper` on the DeCu/VoCu networks')


def slow_points(repro):
  """Claim 6: every class has a slow point with its readout (000 section 6)."""
  title = 'Every class has a slow point that reads out its class'
  paper_text = paper.qualitative('slow_points')
  rule = ('MNIST GRU sigmoid DeCu and VoCu networks, the paper\'s search: per network the '
          'fraction of class points whose trigger readout is the class; reproduces if all '
          'match or the mean\'s interval lies above 0.9, contradicted if below, inconclusive '
          'otherwise (N >= 5).')
  stages = list(MNIST_TRAIN_STAGES)
  match = lambda classes: float(np.mean([c['readout_class'] == c['class']  # noqa: E731
                                         for c in classes]))
  found = {m: _slow_points(repro, m) for m in ('paper', 'refined')}
  if not found['paper'] and not found['refined']:
    return missing('6', title, paper_text, rule, repro, stages,
                    repro.problems(stages) + [_SEARCH_MISSING])
  secondary, rows = [], []
  for method in ('paper', 'refined'):
    for panel in _panels(found[method]):
      if method == 'paper' and panel == ('mnist', 'gru', 'sigmoid'):
        continue
      fr = [match(c) for _, c in _panel(found[method], *panel)]
      secondary.append(plan.one_sample_effect(
          label(*panel, f'{method} search: readout match - 0.9'), fr, plan.READOUT_MATCH))
  for method, groups in found.items():
    for key, nets in groups.items():
      status = [c.get('status', '?') for _, cls in nets for c in cls]
      counts = ', '.join(f'{s} {status.count(s)}' for s in sorted(set(status)))
      rows.append([method, key, len(nets),
                   pct(*stats.mean_sem(np.asarray([match(c) for _, c in nets]))), counts])
  primary_values = [match(c) for _, c in _panel(found['paper'])]
  judgement = rules.readout_match(primary_values, secondary)
  extra = [table(['search', 'condition', 'N', 'readout matches class', 'status of the points'],
                  rows)]
  if not found['paper']:
    extra.append(f'**Missing.** {_SEARCH_MISSING}.')
  return section('6', title, paper_text, rule, judgement, repro, stages, extra)


def _per_network_rho(nets, delay=1000):
  """Per network Spearman rho of log10 class speed against class accuracy at ``delay``."""
  out = []
  for w, classes in nets:
    acc = inputs.class_accuracy_at(w, delay)
    if acc is None:
      continue
    speed = np.log10([max(c['speed'], 1e-300) for c in classes])
    y = np.asarray([acc[c['class']] for c in classes])
    keep = np.isfinite(speed) & np.isfinite(y)
    if keep.sum() >= 3 and np.ptp(y[keep]) > 0 and np.ptp(speed[keep]) > 0:
      out.append(stats.spearman(speed[keep], y[keep]))
  return out


def speed_accuracy(repro):
  """Claim 7: slower slow points, better long-delay memory (000 Fig. 4; Fig. 7)."""
  title = 'Slow-point speed predicts long-delay class accuracy'
  paper_text = paper.qualitative('speed_accuracy')
  rule = ('MNIST GRU sigmoid, DeCu and VoCu networks as one panel (000 Fig. 4), the paper\'s '
          'search: per network the Spearman rho of log10 speed against class accuracy at delay '
          '1000 (fixed protocol); effect -mean rho (one-sample t); margin '
          f'{MARGIN["speed_accuracy"]:g}; N >= 5 networks with a rho.')
  stages = list(MNIST_TRAIN_STAGES) + ['extrapolate_mnist', 'speed_accuracy_mnist',
                                       'train_template_matching', 'plot_template_matching']
  found = {m: _slow_points(repro, m) for m in ('paper', 'refined')}
  rho_label = lambda panel, what: label(*panel, f'-mean rho, {what}')  # noqa: E731
  secondary = []
  for method in ('paper', 'refined'):
    for panel in _panels(found[method]):
      if method == 'paper' and panel == ('mnist', 'gru', 'sigmoid'):
        for c in CURRICULA:
          rhos = _per_network_rho(found[method].get(key_of(curriculum=c), []))
          secondary.append(plan.one_sample_effect(rho_label(panel, f'{c} only'), rhos, sign=-1,
                                                  unit='rho'))
        continue
      rhos = _per_network_rho(_panel(found[method], *panel))
      secondary.append(plan.one_sample_effect(rho_label(panel, f'{method} search'), rhos,
                                              sign=-1, unit='rho'))
  tm_rows = []
  for cell, rhos, row in _template_matching(repro):
    secondary.append(plan.one_sample_effect(f'-mean rho, template matching ({cell})', rhos,
                                            sign=-1, unit='rho'))
    tm_rows.append(row)
  primary_rhos = _per_network_rho(_panel(found['paper']))
  judgement = rules.rank_correlation(primary_rhos, rho_label(('mnist', 'gru', 'sigmoid'),
                                                        'paper search'), secondary)
  extra = []
  if not found['paper']:
    extra.append(f'**Missing.** {_SEARCH_MISSING}.')
  if tm_rows:
    extra.append('**Template matching (000 Fig. 7).** Per network Spearman rho at the '
                 'longest delay at which every network has one.\n\n' + table(
                     ['cell', 'N', 'delay', 'nominal (same/different)', 'accuracy at delay',
                      'null answers at delay'], tm_rows))
  return section('7', title, paper_text, rule, judgement, repro, stages, extra)


def _template_matching(repro):
  """``[(cell, per-network rhos, table row)]`` of the template-matching networks."""
  groups = inputs.by_condition(repro.runs(['train_template_matching']), lambda w: (
      inputs.read_json(os.path.join(w, 'analysis', 'template_matching.json')), w))
  out = []
  for key, items in groups.items():
    tables = [t for t, _ in items if t and t.get('correlations')]
    if not tables:
      continue
    delay = template_matching_summary.long_delay(tables)
    if delay is None:
      continue
    rhos = [t['correlations'][str(delay)]['spearman'] for t in tables]
    curve = template_matching_summary.aggregate(tables, delay)
    i = curve['delays'].index(delay)
    nominal = [(inputs.evaluation(w) or {}).get('test', {}).get('digit_accuracy', np.nan)
               for t, w in items if t and t.get('correlations')]
    null = 'n/a' if curve['null_answers'] is None else pct(curve['null_answers'][i])
    cell = inputs.split_key(key)['cell']
    out.append((cell, rhos, [cell, len(rhos), delay, pct(*stats.mean_sem(np.asarray(nominal))),
                             pct(curve['accuracy'][i], curve['accuracy_sem'][i]), null]))
  return out


def speed_difference(repro):
  """Claim 8: DeCu's slow points are slower than VoCu's (000 Fig. 4; 001 Fig. 4)."""
  title = 'DeCu\'s slow points are slower than VoCu\'s'
  paper_text = ('000 Fig. 4 (red and blue dots) and 001 Fig. 4: DeCu slower than VoCu, '
                'p < 0.05 in every condition but VoCu-LSTM (p = 0.07)')
  rule = ('MNIST GRU sigmoid, the paper\'s search: per network the mean over classes of log10 '
          f'speed; VoCu - DeCu (Welch); margin {MARGIN["speed_difference"]:g} decades; N >= 5 '
          'per curriculum.')
  stages = list(MNIST_TRAIN_STAGES)
  found = {m: _slow_points(repro, m) for m in ('paper', 'refined')}
  if not found['paper'] and not found['refined']:
    return missing('8', title, paper_text, rule, repro, stages,
                    repro.problems(stages) + [_SEARCH_MISSING])

  def effect(groups, panel, what):
    vals = {c: [float(np.mean(np.log10([max(x['speed'], 1e-300) for x in cls])))
                for _, cls in groups.get(key_of(panel[0], panel[1], c, panel[2]), [])]
            for c in CURRICULA}
    return plan.welch_effect(label(*panel, f'VoCu - DeCu mean log10 speed, {what}'),
                             _group(vals['vocu']), _group(vals['decu']), unit='decades')

  main = ('mnist', 'gru', 'sigmoid')
  primary = effect(found['paper'], main, 'paper search')
  secondary = [effect(found[m], p, f'{m} search') for m in ('paper', 'refined')
               for p in _panels(found[m]) if (m, p) != ('paper', main)]
  judgement = rules.difference(primary, MARGIN['speed_difference'], secondary)
  extra = [] if found['paper'] else [f'**Missing.** {_SEARCH_MISSING}.']
  return section('8', title, paper_text, rule, judgement, repro, stages, extra)


# --- 9: clouds --------------------------------------------------------------------------------
def cloud_spread(repro):
  """Claim 9: VoCu's hidden-state clouds spread more (000 Fig. 3)."""
  title = 'VoCu\'s hidden-state clouds spread more at the nominal delay'
  paper_text = ('000 Fig. 3 and section 6: at delay 20 "VoCu leads to clouds of points with a '
                'larger spread"; at 10^3 "some clouds collapse into a single point ... while '
                'others vanish"')
  rule = ('MNIST GRU sigmoid, states at delay 20 (fixed protocol): per network the spread '
          'ratio (mean within-class RMS distance to the centroid / RMS distance between '
          'centroids); log(VoCu) - log(DeCu) (Welch); margin log(1.25); N >= 5 per curriculum.')
  name = 'pca_mnist'
  problem = repro.problem(name)
  tables = inputs.by_condition(repro.runs([name]), lambda w: inputs.read_json(
      os.path.join(w, 'analysis', 'pca.json')))
  tables = {k: [t for t in v if t.get('spread_ratio')] for k, v in tables.items()}
  tables = {k: v for k, v in tables.items() if v}
  if not tables:
    return missing('9', title, paper_text, rule, repro, [name], [
        problem or 'no pca.json with spread ratios (written since plan v1): rerun '
        '`python bin/pca.py --workdirs=... --recompute`'])

  def log_spread(t, delay):
    if delay not in t['delays']:
      return None
    return float(np.log(t['spread_ratio'][0][t['delays'].index(delay)]))

  def group(key, delay):
    return _group([x for x in (log_spread(t, delay) for t in tables.get(key, []))
                   if x is not None])

  primary = plan.welch_effect(label('mnist', 'gru', 'sigmoid',
                                     'log spread ratio VoCu - DeCu at delay 20'),
                              group(key_of(curriculum='vocu'), 20),
                              group(key_of(curriculum='decu'), 20), unit='log')
  judgement = rules.difference(primary, MARGIN['spread'])
  rows = []
  for key, ts in tables.items():
    long = [t for t in ts if 1000 in t['delays'] and t.get('class_accuracy')]
    collapse = [sum(a >= 0.5 for a in t['class_accuracy'][0][t['delays'].index(1000)]
                    if a is not None) for t in long]
    vanish = [sum(a <= 0.2 for a in t['class_accuracy'][0][t['delays'].index(1000)]
                  if a is not None) for t in long]
    both = sum(c > 0 and v > 0 for c, v in zip(collapse, vanish))
    rows.append([key, len(ts), stats.format_mean_sem(*group(key, 20), scale=1.0, digits=2,
                                                     unit=''),
                 f'{np.mean(collapse):.1f}' if long else 'n/a',
                 f'{np.mean(vanish):.1f}' if long else 'n/a', f'{both} of {len(long)}'])
  extra = [table(['condition', 'N', 'log spread ratio at 20', 'classes >= 50% at 1000',
                   'classes <= 20% at 1000', 'networks with both'], rows)]
  return section('9', title, paper_text, rule, judgement, repro, [name], extra)


# --- 10, 11: training history -----------------------------------------------------------------
def speed_jumps(repro):
  """Claim 10: VoCu speeds jump at introductions, DeCu's slow gradually (000 Fig. 5A,B)."""
  title = 'VoCu\'s slow points jump at class introductions, DeCu\'s slow down gradually'
  paper_text = paper.qualitative('backtrack')
  rule = ('per network the jump ratio: median |d log10 S| over snapshot intervals holding a '
          'curriculum change / median over the others; log10 ratio VoCu - DeCu (Welch); '
          'margin log10(1.5); N >= 5 per curriculum.')
  name = 'backtrack_mnist'
  result, problem = repro.aggregate(name, 'backtrack.json',
                                    'aggregate/backtrack/analysis/backtrack.json')
  if problem:
    return missing('10', title, paper_text, rule, repro, [name], [problem])
  cur = result.get('curricula', {})

  def logs(c):
    return [float(np.log10(r)) for r in cur.get(c, {}).get('ratio_of_medians_per_run', [])
            if r is not None and r > 0]

  primary = plan.welch_effect('log10 jump ratio, VoCu - DeCu', _group(logs('vocu')),
                              _group(logs('decu')), unit='log10')
  # Absent from aggregates written before the slowing statistic existed: not computed.
  rhos = [r for r in cur.get('decu', {}).get('slowing_rho_per_run', []) if r is not None]
  secondary = [plan.one_sample_effect('VoCu log10 jump ratio (> 0: jumps at introductions)',
                                      logs('vocu'), unit='log10'),
               plan.one_sample_effect('DeCu gradual slowing: -Spearman rho of log10 S against '
                                      'step (> 0: slows down)', rhos, sign=-1, unit='rho')]
  judgement = rules.difference(primary, MARGIN['jumps'], secondary)
  rows = [[c, len(logs(c)), ', '.join(f'{10 ** x:.2f}' for x in logs(c)),
           ', '.join(f'{r:+.2f}' for r in cur[c].get('slowing_rho_per_run', []) if r is not None)
           or '-'] for c in cur]
  return section('10', title, paper_text, rule, judgement, repro, [name],
                  [table(['curriculum', 'N', 'jump ratio per network',
                          'rho(log10 S, step) per network'], rows)])


def branching(repro):
  """Claim 11: a new class branches from an existing point; the spawner suffers (Fig. 5C-E)."""
  title = 'New classes branch from existing slow points; the spawning class loses more'
  paper_text = paper.qualitative('branching')
  rule = ('GRU VoCu networks, per introduction event: the spawning class\'s accuracy drop '
          'minus the mean drop of the other existing classes, events pooled over networks '
          f'(one-sample t); margin {100 * MARGIN["branching"]:g} point; N >= 3 networks and '
          '15 events.')
  name = 'branching_mnist'
  result, problem = repro.aggregate(name, 'branching.json',
                                    'aggregate/branching/analysis/branching.json')
  if problem:
    return missing('11', title, paper_text, rule, repro, [name], [problem])
  by_cell = result.get('by_cell') or {'gru': result}
  events = {}
  for e in result.get('events', []):
    if e.get('delta_others') is not None:
      events.setdefault(e.get('cell', 'gru'), []).append(e)
  d = lambda es: [e['delta_others'] - e['delta_spawner'] for e in es]  # noqa: E731
  runs = lambda cell: int(by_cell.get(cell, {}).get('num_runs', 0))  # noqa: E731
  secondary = []
  for cell in sorted(events):
    if cell != 'gru':
      eff = plan.one_sample_effect(f'{cell.upper()}: spawner drop - others', d(events[cell]),
                                   min_n=plan.BRANCHING_MIN_EVENTS, count='events')
      eff.enough = eff.enough and runs(cell) >= plan.BRANCHING_MIN_NETWORKS
      secondary.append(eff)
  judgement = rules.branching(d(events.get('gru', [])), runs('gru'), secondary)
  rows = []
  for cell, es in sorted(events.items()):
    from_existing = sum(e.get('readout_at_end', e.get('spawner', -1)) >= 0 for e in es)
    interval = stats.wilson_interval(from_existing, len(es))
    rows.append([cell.upper(), runs(cell), len(es), f'{from_existing} of {len(es)}'
                 + (f' [{100 * interval[0]:.0f}, {100 * interval[1]:.0f}]%' if interval else '')])
  extra = [table(['cell', 'networks', 'events', 'new-class point reads out an existing class '
                   'before its introduction [Wilson 95%]'], rows),
           f'Weights: {", ".join(result.get("weights", []))}.']
  return section('11', title, paper_text, rule, judgement, repro, [name], extra)


# --- 12: regularisation -----------------------------------------------------------------------
def _paired(runs, controls, value):
  """``([value of run], [value of its control])`` over runs whose source has a control."""
  key = lambda s: os.path.realpath(s.get('source') or '')  # noqa: E731
  control = {key(s): value(s) for s in controls if s.get('source')}
  pairs = [(value(s), control[key(s)]) for s in runs if s.get('source') and key(s) in control]
  return [p[0] for p in pairs], [p[1] for p in pairs]


def _after(s, d):
  v = ((s.get('accuracy_at') or {}).get('after') or {}).get(str(d))
  return np.nan if v is None else float(v)


def regularization(repro):
  """Claim 12: speed regularisation improves long-delay memory (000 Figs. 6, 9)."""
  title = 'Speed regularisation improves long-delay memory'
  paper_text = paper.qualitative('regularization')
  rule = ('MNIST GRU sigmoid DeCu (Fig. 6): accuracy at delay 1000 after 5,000 steps, '
          'slow-point targets - control and centre targets - control, paired by source '
          'network, Holm over the two; reproduces if one is significant in favour and none '
          'against; contradicted if one is against; not observed if both intervals lie below '
          f'{100 * MARGIN["regularization"]:.0f} points; N >= 5 pairs.')
  names = repro.names('regularize_')
  stages = names + ['plot_regularization']
  workdirs = [w for w in repro.workdirs(names)
              if os.path.exists(os.path.join(w, 'analysis', 'regularization.json'))]
  if not workdirs:
    return missing('12', title, paper_text, rule, repro, stages, repro.problems(names) or [
        'no regularisation stage in this variant'])
  groups = regularization_summary.load_runs(workdirs)
  arms = groups.get(('gru', 'decu'), {})
  control = arms.get('control', [])
  primary = {kind: _paired(arms.get(kind, []), control, lambda s: _after(s, 1000))
             for kind in ('slow_points', 'centres')}
  secondary = []
  for (cell, curriculum), panel in sorted(groups.items()):
    for kind in ('slow_points', 'centres'):
      if not panel.get(kind):
        continue
      for d in (500, 1000):
        if (cell, curriculum, d) == ('gru', 'decu', 1000):
          continue
        secondary.append(plan.paired_effect(
            f'{cell} {curriculum} {kind} - control, delay {d}',
            *_paired(panel[kind], panel.get('control', []), lambda s, d=d: _after(s, d))))
      speed = lambda s: np.log10(((s.get('slow_point_speeds') or {}).get('after') or {})  # noqa
                                 .get('median') or np.nan)
      secondary.append(plan.paired_effect(
          f'{cell} {curriculum} {kind}: control - arm, log10 slow-point speed',
          *_paired(panel[kind], panel.get('control', []), speed)[::-1], unit='decades'))
  judgement = rules.regularization(primary, secondary)
  intact = []  # nominal accuracy "virtually intact": arm - control within +-1 point
  nominal = lambda s: ((s.get('nominal') or {}).get('after') or {}).get('test', np.nan)  # noqa
  for (cell, curriculum), panel in sorted(groups.items()):
    for kind in ('slow_points', 'centres'):
      ci = stats.paired_interval(*_paired(panel.get(kind, []), panel.get('control', []),
                                          nominal)) if panel.get(kind) else None
      if ci:
        ok = -plan.INTACT <= ci['lo'] and ci['hi'] <= plan.INTACT
        intact.append([f'{cell} {curriculum} {kind}', f'{100 * ci["estimate"]:+.2f} '
                       f'[{100 * ci["lo"]:+.2f}, {100 * ci["hi"]:+.2f}]', ci['n'],
                       'intact' if ok else 'not shown intact'])
  rows = []
  for (cell, curriculum), arm, a in regularization_summary.table(groups):
    acc = dict(zip(a['delays'], zip(a['accuracy'], a['accuracy_sem'])))
    rows.append([f'{cell} {curriculum}', arm, a['n'], pct(a['nominal'], a['nominal_sem'])]
                + [pct(*acc[d]) if d in acc else 'n/a' for d in (100, 500, 1000)]
                + [f'{a["speed"]:.2g}'])
  runs = [s for arms in groups.values() for group in arms.values() for s in group]
  steps = sorted({s['steps'] for s in runs if s.get('steps') is not None})
  extra = [f'Extra training steps per run: {", ".join(map(str, steps)) or "n/a"}.',
           ('**Nominal test accuracy, arm - control (points, paired 95% interval; intact = '
            'within +-1 point).**\n\n' + table(['arm', 'difference', 'pairs', ''], intact))
           if intact else '',
           table(['panel', 'arm', 'N', 'nominal test', 'delay 100', 'delay 500', 'delay 1000',
                   'slow-point speed (geo. mean of medians)'], rows)]
  return section('12', title, paper_text, rule, judgement, repro, stages, extra)


# --- 13: flip-flop ----------------------------------------------------------------------------
def flipflop(repro):
  """Claim 13: the 3-bit flip-flop's structure with and without delay (003)."""
  title = 'Flip-flop: a cube of attractors; with a delay, rotations and high-index saddles'
  paper_text = paper.qualitative('flipflop')
  rule = ('per network: delay 0 has 8 stable points at the 8 corners, saddles 12/6/1 with '
          '1/2/3 unstable dimensions and no complex pair of W with |Im| > 0.5 and modulus '
          '> 0.9; a delayed network has the 8 corners, a point with > 3 unstable dimensions '
          'and such a complex pair. Reproduces if every network passes, contradicted if a '
          'majority of either delay fails, inconclusive otherwise (N >= 2 per delay).')
  names = repro.names('flipflop_')
  networks, rows = [], []
  for name in names:
    for w in (repro.stages[name].get('workdirs') or [])[:1] if repro.ready(name) else []:
      s = inputs.read_json(os.path.join(w, 'analysis', 'summary.json'))
      if not s:
        continue
      pairs = (s.get('spectrum') or {}).get('leading_complex_pairs') or []
      rotating = sum(1 for p in pairs if abs(p['imag']) > 0.5 and p['modulus'] > 0.9)
      fp = s['fixed_points']
      net = {'delay': s.get('delay', 0), 'stable_corners': fp['stable_distinct_corners'],
             'by_unstable': fp['by_unstable_dims'], 'complex_pairs': rotating}
      networks.append(net)
      rows.append([name, f'{s["evaluation"]["bit_accuracy"]:.3f}',
                   rules.flipflop_passes(net)[1]])
  if not networks:
    return missing('13', title, paper_text, rule, repro, names, repro.problems(names) or [
        'no flip-flop stage in this variant'])
  judgement = rules.flipflop(networks)
  return section('13', title, paper_text, rule, judgement, repro, names,
                  [table(['network', 'bit accuracy', 'structure'], rows)])
