"""The paper's claims, each judged from the saved outputs of a reproduction's stages.

Each claim is one function ``f(repro) -> Section`` of a ``Reproduction`` (the parsed
``<root>/reproduce.json``). It reads only files that stages wrote (``eval.json``,
``analysis/*.json`` of runs, aggregates under ``<root>/aggregate/``), never trains and
never recomputes an analysis, and gives one verdict by a rule written into its section:

* ``reproduces``;
* ``does not reproduce`` (the reason quotes the statistic that decided it);
* ``inconclusive`` (the reason says what would settle it: a missing or failed stage with
  the command that produces it, or more networks).

Comparisons between groups of networks need at least ``MIN_NETWORKS`` per group; with
fewer, the comparison is not made and cannot decide the verdict.
"""

import dataclasses
import json
import os

import numpy as np

from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import stats
from memrnn_tf.analysis import regularization_summary
from memrnn_tf.analysis import template_matching_summary
from memrnn_tf.reproduce import paper

REPRODUCES = 'reproduces'
DOES_NOT_REPRODUCE = 'does not reproduce'
INCONCLUSIVE = 'inconclusive'
VERDICTS = (REPRODUCES, DOES_NOT_REPRODUCE, INCONCLUSIVE)

MIN_NETWORKS = 3
ALPHA = 0.05
READY = ('done', 'reused')
MNIST_TRAIN_STAGES = ('train_mnist_gru', 'train_mnist_lstm')
# Tolerances of the rules (fractions): nominal accuracy may fall this far below the
# paper's; regularisation may cost this much nominal accuracy and stay "intact".
NOMINAL_TOLERANCE = 0.02
NOMINAL_INTACT = 0.01
NAIVE_CEILING = 0.05  # chance is 0.10
PAPER_NETWORKS = 10  # networks per MNIST condition in the paper's tables
SETTLED = 0.9  # fraction of class points that must be fixed or slow points (claim 5)


@dataclasses.dataclass
class Section:
  """One claim of the report.

  Attributes:
    key: short id (``'1'``, ..., ``'cifar10'``).
    title: the claim in words.
    ours: our headline number(s), one line.
    paper: the paper's number(s) or qualitative statement, with the source.
    verdict: one of ``VERDICTS``.
    detail_markdown: the section body (rule, tables, notes).
    figures: absolute paths of the figures to show (missing files are skipped).
    commands: ``(stage name, status, command)`` of the stages the claim reads.
    numbers: flat dict of the key numbers used (for tests and machine reading).
    reason: why the verdict (the deciding statistic, or what would settle it).
  """
  key: str
  title: str
  ours: str
  paper: str
  verdict: str
  detail_markdown: str
  figures: list
  commands: list
  numbers: dict
  reason: str = ''


# --- the reproduction's files ------------------------------------------------------------
def read_json(path):
  """A JSON file as a dict, or None when absent or unreadable."""
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


class Reproduction:
  """``<root>/reproduce.json`` and the stages' saved files."""

  def __init__(self, root, manifest):
    self.root = os.path.abspath(root)
    self.manifest = manifest
    self.variant = manifest.get('variant', '?')
    self.stages = {s['name']: s for s in manifest.get('stages', [])}

  @classmethod
  def load(cls, root):
    """Reads ``<root>/reproduce.json``; FileNotFoundError when absent."""
    path = os.path.join(root, 'reproduce.json')
    with open(path) as f:
      return cls(root, json.load(f))

  def ready(self, name):
    """Whether stage ``name`` exists and finished (done or reused)."""
    return self.stages.get(name, {}).get('status') in READY

  def problem(self, name):
    """Why stage ``name`` gives nothing (markdown), or None when it is ready."""
    stage = self.stages.get(name)
    if stage is None:
      return (f'stage `{name}` is not part of the `{self.variant}` variant (absent from '
              'reproduce.json): run a variant that includes it')
    status = stage.get('status')
    if status in READY:
      return None
    command = stage.get('command', '?')
    if status == 'skipped':
      return f'stage `{name}` was skipped ({stage.get("error") or "nothing to run"})'
    if status == 'failed':
      error = ' '.join(str(stage.get('error', 'no error recorded')).split())[:300]
      return f'stage `{name}` failed ({error}); rerun: `{command}`'
    return f'stage `{name}` is {status}: run `{command}`'

  def names(self, prefix):
    """Names of the stages that start with ``prefix``, in manifest order."""
    return [n for n in self.stages if n.startswith(prefix)]

  def workdirs(self, names):
    """Workdirs of the ready stages among ``names``."""
    out = []
    for n in names:
      if self.ready(n):
        out.extend(w for w in self.stages[n].get('workdirs', []) if w not in out)
    return out

  def output(self, name, filename, default):
    """The output of stage ``name`` ending in ``filename`` (else ``<root>/<default>``)."""
    for path in self.stages.get(name, {}).get('outputs', []):
      if path.endswith(filename):
        return path
    return os.path.join(self.root, default)

  def figures(self, names):
    """Figure paths recorded by the stages ``names`` that exist on disk."""
    return [f for n in names for f in self.stages.get(n, {}).get('figures', [])
            if os.path.exists(f)]

  def commands(self, names):
    """``(name, status, command)`` of the stages ``names`` (absent ones included)."""
    out = []
    for n in names:
      stage = self.stages.get(n)
      out.append((n, 'absent', None) if stage is None else
                 (n, stage.get('status', '?'), stage.get('command')))
    return out


# --- helpers ---------------------------------------------------------------------------------
def _pct(mean, sem=None, n=None):
  return stats.format_mean_sem(mean, sem, n)


def _p(p):
  return 'n/a' if p is None else f'{p:.2g}'


def _value(x):
  """JSON number or None -> float (NaN for None)."""
  return float('nan') if x is None else float(x)


def _none(x):
  return None if x is None or not np.isfinite(x) else float(x)


def _summary_at(summary, index):
  """``(mean, sem, n)`` at ``index`` of a ``stats.summarize`` dict of lists."""
  pick = lambda v: v[index] if isinstance(v, list) else v  # noqa: E731
  return (_none(_value(pick(summary['mean']))), _none(_value(pick(summary['sem']))),
          int(pick(summary['n']) or 0))


def _mean_sem_n(values):
  mean, sem, n = stats.mean_sem(np.asarray(values, np.float64))
  return _none(mean), _none(sem), n


def _table(header, rows):
  """A markdown table (cells stripped of '|')."""
  clean = lambda c: str(c).replace('|', '/').replace('\n', ' ')  # noqa: E731
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  lines += ['| ' + ' | '.join(clean(c) for c in row) + ' |' for row in rows]
  return '\n'.join(lines)


def _split_key(key):
  """``'mnist gru decu sigmoid'`` -> dict of dataset, cell, curriculum, readout."""
  parts = key.split()
  return dict(zip(('dataset', 'cell', 'curriculum', 'readout'), parts + ['?'] * 4))


def _inconclusive(key, title, paper_text, problems, repro, stages, rule='', numbers=None):
  reason = '; '.join(problems)
  detail = (f'**Rule.** {rule}\n\n' if rule else '') + '**Missing.**\n\n' + '\n'.join(
      f'- {p}' for p in problems)
  return Section(key, title, 'n/a (missing data)', paper_text, INCONCLUSIVE, detail,
                 repro.figures(stages), repro.commands(stages), numbers or {}, reason)


def _paper(name):
  source, text = paper.QUALITATIVE[name]
  return f'{source} ({text})'


def _every_group(num_checked, failures, success, unit):
  """Verdict of a test that every group with enough networks must pass.

  Returns:
    ``(verdict, reason)``: inconclusive when no group was checked (``unit`` names what
    needs more networks), does not reproduce with the ``failures`` when there are any,
    else reproduces with ``success``.
  """
  if not num_checked:
    return INCONCLUSIVE, f'fewer than {MIN_NETWORKS} networks per {unit}'
  if failures:
    return DOES_NOT_REPRODUCE, '; '.join(failures)
  return REPRODUCES, success


def _runs(repro, names):
  """``[(workdir, condition_key)]`` of the ready stages' workdirs that have a config."""
  out = []
  for w in repro.workdirs(names):
    if os.path.exists(os.path.join(w, 'config.json')):
      out.append((w, multirun.condition_key(w)))
  return out


# --- DeCu against VoCu -------------------------------------------------------------------
def compare(label, x, y, names=('DeCu', 'VoCu'), larger_is_better=True, verb='ahead',
            test=None):
  """Welch test of group ``x`` against ``y``, each ``(mean, sem, n)``, or a given test.

  Args:
    test: a test result of the same keys (``stats.paired_t_test``) to judge by instead of
      Welch's; ``x`` and ``y`` are then only shown.

  Returns:
    Dict: ``label``, ``x``, ``y``, ``test`` (``stats.welch_from_stats``) and ``outcome``:
    ``'+'`` (x better, p < ALPHA), ``'-'`` (y better, p < ALPHA), ``'0'`` (neither) or
    ``'few'`` (a group with fewer than MIN_NETWORKS networks); ``verb`` words the better
    group in ``statistic`` (``'ahead'``, ``'loses less'``).
  """
  test = test or stats.welch_from_stats(*x, *y)
  outcome = 'few'
  if min(x[2], y[2], test['n_x'], test['n_y']) >= MIN_NETWORKS:
    outcome = '0'
    if test['p'] is not None and test['p'] < ALPHA and test['difference']:
      better_x = (test['difference'] > 0) == larger_is_better
      outcome = '+' if better_x else '-'
  return {'label': label, 'x': x, 'y': y, 'names': names, 'test': test, 'outcome': outcome,
          'larger_is_better': larger_is_better, 'verb': verb}


def statistic(c, scale=100.0, unit='points'):
  """``'VoCu ahead by 26.0 points at delay 500, Welch p = 0.007, N = 5 vs 5'``."""
  t = c['test']
  diff = t['difference'] or 0.0
  ahead = c['names'][0] if (diff > 0) == c['larger_is_better'] else c['names'][1]
  name = t.get('name', 'Welch')
  count = (f'{t["n_x"]} pairs' if name.startswith('paired')
           else f'N = {t["n_x"]} vs {t["n_y"]}')
  return (f'{ahead} {c["verb"]} by {abs(diff) * scale:.1f} {unit} at {c["label"]}, {name} p = '
          f'{_p(t["p"])}, {count}')


def verdict_of(comparisons, settle='more networks per group'):
  """Mechanical verdict of several comparisons.

  Reproduces if every comparison that could be made came out ``'+'``; does not reproduce
  if any came out ``'-'`` (the strongest is quoted); otherwise inconclusive.

  Returns:
    ``(verdict, reason)``.
  """
  made = [c for c in comparisons if c['outcome'] != 'few']
  if not made:
    return INCONCLUSIVE, (f'fewer than {MIN_NETWORKS} networks per group in every comparison: '
                          f'{settle} would settle it')
  against = [c for c in made if c['outcome'] == '-']
  if against:
    worst = min(against, key=lambda c: c['test']['p'])
    return DOES_NOT_REPRODUCE, c_text(worst) + (
        f' ({len(against)} of {len(made)} comparisons against)' if len(made) > 1 else '')
  wins = [c for c in made if c['outcome'] == '+']
  if len(wins) == len(made):
    weakest = max(wins, key=lambda c: c['test']['p'])
    return REPRODUCES, f'{len(wins)} of {len(made)} comparisons in favour; weakest: ' + (
        c_text(weakest))
  return INCONCLUSIVE, (f'{len(wins)} of {len(made)} comparisons in favour at p < {ALPHA}, '
                        f'none against: {settle} would settle it')


def c_text(c):
  return c.get('text') or statistic(c)


def _comparison_rows(comparisons, fmt=_pct):
  return [[c['label'], fmt(*c['x']), fmt(*c['y']), _p(c['test']['p']),
           {'+': 'in favour', '-': 'against', '0': 'not significant',
            'few': f'N < {MIN_NETWORKS}'}[c['outcome']]] for c in comparisons]


_DECU_RULE = (f'each comparison is a Welch two-sided t-test of DeCu against VoCu over '
              f'networks; it is in favour if DeCu is ahead with p < {ALPHA}, against if VoCu '
              f'is ahead with p < {ALPHA}, and is not made with fewer than {MIN_NETWORKS} '
              'networks per curriculum. The claim reproduces if every comparison made is in '
              'favour, does not reproduce if any is against, and is inconclusive otherwise.')


def _pairs(conditions):
  """``{(cell, readout): (decu_key, vocu_key)}`` of the condition keys present."""
  out = {}
  for key in conditions:
    k = _split_key(key)
    if k['curriculum'] == 'decu':
      other = ' '.join([k['dataset'], k['cell'], 'vocu', k['readout']])
      if other in conditions:
        out[(k['cell'], k['readout'])] = (key, other)
  return dict(sorted(out.items()))


def _delay_comparisons(summary, delays, protocols=('fixed', 'tmax')):
  """DeCu-vs-VoCu comparisons at ``delays`` from an ``extrapolation_summary.json``."""
  comps, numbers = [], {}
  for protocol in protocols:
    conditions = summary.get('protocols', {}).get(protocol, {})
    for (cell, readout), (dk, vk) in _pairs(conditions).items():
      for d in delays:
        if d not in conditions[dk]['delays'] or d not in conditions[vk]['delays']:
          continue
        x = _summary_at(conditions[dk]['accuracy'], conditions[dk]['delays'].index(d))
        y = _summary_at(conditions[vk]['accuracy'], conditions[vk]['delays'].index(d))
        label = f'delay {d} ({protocol}, {cell} {readout})'
        comps.append(compare(label, x, y))
        for name, v in (('decu', x), ('vocu', y)):
          numbers.update({f'{protocol} {cell} {readout} d={d} {name} {s}': val
                          for s, val in zip(('mean', 'sem', 'n'), v)})
  return comps, numbers


def _noise_comparisons(summary):
  """DeCu-vs-VoCu at the largest noise scale and the longest noise delay."""
  noise = summary.get('noise', {})
  comps, numbers, rows = [], {}, []
  for (cell, readout), (dk, vk) in _pairs(noise).items():
    cd, cv = noise[dk], noise[vk]
    s, d = len(cd['noise_scales']) - 1, len(cd['delays']) - 1
    if cv['noise_scales'] != cd['noise_scales'] or cv['delays'] != cd['delays']:
      continue
    pick = lambda c: _summary_at(  # noqa: E731
        {k: c['accuracy'][k][s] for k in ('mean', 'sem', 'n')}, d)
    x, y = pick(cd), pick(cv)
    label = f'noise x{cd["noise_scales"][s]:g}, delay {cd["delays"][d]} ({cell} {readout})'
    comps.append(compare(label, x, y))
    numbers[f'noise {cell} {readout} decu mean'] = x[0]
    numbers[f'noise {cell} {readout} vocu mean'] = y[0]
    for key, c in ((dk, cd), (vk, cv)):
      rows.append([key] + [_pct(*_summary_at(
          {k: c['accuracy'][k][i] for k in ('mean', 'sem', 'n')}, d))
          for i in range(len(c['noise_scales']))])
  return comps, numbers, rows


# --- 1, 2: nominal accuracy --------------------------------------------------------------
def _nominal_groups(repro, names):
  """``{condition_key: [(workdir, eval dict)]}`` of runs with an eval.json."""
  groups = {}
  for w, key in _runs(repro, names):
    table = read_json(os.path.join(w, 'eval.json'))
    if table and 'test' in table:
      groups.setdefault(key, []).append((w, table))
  return dict(sorted(groups.items()))


def _nominal_rows(groups, numbers, curricula=None):
  rows = []
  for key, runs in groups.items():
    cond = _split_key(key)
    if curricula and cond['curriculum'] not in curricula:
      continue
    test = _mean_sem_n([r['test']['digit_accuracy'] for _, r in runs])
    train = _mean_sem_n([r.get('train', {}).get('digit_accuracy', np.nan) for _, r in runs])
    null = _mean_sem_n([r['test'].get('null_accuracy', np.nan) for _, r in runs])
    ref = paper.NOMINAL.get(' '.join([cond['dataset'], cond['cell'], cond['curriculum']]))
    ref_text = (f'{_pct(ref["test"][0], ref["test"][1])} ({ref["source"]})' if ref else 'n/a')
    rows.append([key, _pct(*test), _pct(*train), _pct(*null), ref_text])
    numbers.update({f'{key} test {s}': v for s, v in zip(('mean', 'sem', 'n'), test)})
    numbers[f'{key} null mean'] = null[0]
  return rows


_NOMINAL_HEADER = ['condition', 'test digits (ours)', 'train digits (ours)', 'test null (ours)',
                   'paper test digits']


def nominal_accuracy(repro):
  """Claim 1: nominal test digit accuracy per cell x curriculum x readout (001 tables 1-4)."""
  title = 'Nominal accuracy (T_max = 20)'
  paper_text = ('001 tables 1-2, test digits: GRU DeCu 96.5 +- 0.3%, VoCu 93.8 +- 0.7%; '
                'LSTM DeCu 97.3 +- 0.1%, VoCu 95.2 +- 0.2%')
  rule = (f'every DeCu/VoCu condition (cell x curriculum x readout) with at least '
          f'{MIN_NETWORKS} networks must reach the paper\'s mean test digit accuracy less '
          f'{100 * NOMINAL_TOLERANCE:.0f} points (being above it is fine). Reproduces if all '
          'such conditions do, does not reproduce if any falls short, inconclusive if no '
          'condition has enough networks.')
  problems = [p for p in map(repro.problem, MNIST_TRAIN_STAGES) if p]
  groups = _nominal_groups(repro, MNIST_TRAIN_STAGES)
  if not groups:
    return _inconclusive('1', title, paper_text, problems or ['no eval.json in the runs'],
                         repro, MNIST_TRAIN_STAGES, rule)
  numbers = {}
  rows = _nominal_rows(groups, numbers, curricula=('decu', 'vocu'))
  short, checked = [], []
  for key, runs in groups.items():
    cond = _split_key(key)
    ref = paper.NOMINAL.get(' '.join([cond['dataset'], cond['cell'], cond['curriculum']]))
    if cond['curriculum'] not in ('decu', 'vocu') or not ref or len(runs) < MIN_NETWORKS:
      continue
    mean = numbers[f'{key} test mean']
    checked.append(key)
    if mean < ref['test'][0] - NOMINAL_TOLERANCE:
      short.append(f'{key}: {_pct(mean)} against {_pct(ref["test"][0])} ({ref["source"]}), '
                   f'{100 * (ref["test"][0] - mean):.1f} points short, N = {len(runs)}')
  verdict, reason = _every_group(
      len(checked), short, f'all {len(checked)} conditions with N >= {MIN_NETWORKS} within '
      f'{100 * NOMINAL_TOLERANCE:.0f} points or above', 'condition: train more seeds')
  ours = '; '.join(f'{r[0]} {r[1]}' for r in rows)
  detail = (f'**Rule.** {rule}\n\nTest and train accuracy are on the full nominal task '
            '(`eval.json`), mean +- SEM over networks (N).\n\n'
            + _table(_NOMINAL_HEADER, rows))
  if problems:
    detail += '\n\n' + '\n'.join(f'- {p}' for p in problems)
  return Section('1', title, ours, paper_text, verdict, detail, [],
                 repro.commands(MNIST_TRAIN_STAGES), numbers, reason)


def naive_training(repro):
  """Claim 2: naive training stays at 0% digits with the authors' sigmoid readout."""
  title = 'Naive training stays at 0% digits (sigmoid readout)'
  paper_text = _paper('naive')
  rule = (f'reproduces if the naive networks with the sigmoid readout (the authors\') have a '
          f'mean test digit accuracy below {100 * NAIVE_CEILING:.0f}% (chance is 10%) in every '
          f'cell with at least {MIN_NETWORKS} networks; does not reproduce if any such cell '
          'is at or above it; inconclusive otherwise. The logits readout is our extra arm '
          'and does not enter the verdict.')
  groups = {k: v for k, v in _nominal_groups(repro, MNIST_TRAIN_STAGES).items()
            if _split_key(k)['curriculum'] == 'naive'}
  problems = [p for p in map(repro.problem, MNIST_TRAIN_STAGES) if p]
  if not groups:
    return _inconclusive('2', title, paper_text, problems + [
        'no naive-curriculum run with an eval.json: add naive seeds to the MNIST sweeps'],
                         repro, MNIST_TRAIN_STAGES, rule)
  numbers = {}
  rows = _nominal_rows(groups, numbers)
  sigmoid = {k: v for k, v in groups.items() if _split_key(k)['readout'] == 'sigmoid'}
  enough = {k: numbers[f'{k} test mean'] for k, v in sigmoid.items() if len(v) >= MIN_NETWORKS}
  above = [f'{k}: {_pct(m)} digits, N = {len(sigmoid[k])}' for k, m in enough.items()
           if m >= NAIVE_CEILING]
  verdict, reason = _every_group(
      len(enough), above, '; '.join(f'{k}: {_pct(m)} digits, N = {len(sigmoid[k])}'
                                    for k, m in enough.items()),
      'naive sigmoid-readout cell: train more naive seeds')
  logits = [r for r in rows if _split_key(r[0])['readout'] == 'logits']
  extra = ('\n\n**Extra finding (logits readout).** ' + '; '.join(
      f'{r[0]}: {r[1]} test digits' for r in logits) + '. The paper trained only with the '
      'sigmoid readout, so this arm has no paper number.') if logits else ''
  ours = '; '.join(f'{r[0]} {r[1]}' for r in rows)
  detail = f'**Rule.** {rule}\n\n' + _table(_NOMINAL_HEADER, rows) + extra
  return Section('2', title, ours, paper_text, verdict, detail, [],
                 repro.commands(MNIST_TRAIN_STAGES), numbers, reason)


# --- 3, 4: extrapolation -------------------------------------------------------------------
def _extrapolation_summary(repro, dataset):
  name = f'extrapolate_{dataset}'
  path = repro.output(name, 'extrapolation_summary.json',
                      f'aggregate/{dataset}/analysis/extrapolation_summary.json')
  problem = repro.problem(name)
  summary = None if problem else read_json(path)
  if summary is None and not problem:
    problem = f'`{path}` is missing: rerun `{repro.stages[name].get("command")}`'
  return name, summary, problem


def extrapolation(repro):
  """Claim 3: DeCu extrapolates further than VoCu (000 Fig. 2), plus noise (001 Fig. 2)."""
  title = 'DeCu extrapolates further than VoCu (delays 500 and 1000)'
  paper_text = _paper('extrapolation')
  rule = _DECU_RULE + ' Comparisons: delays 500 and 1000, both protocols (fixed: trigger d ' \
      'steps after the image; tmax: trials drawn as in training with T_max = d), every cell ' \
      'and readout with both curricula.'
  name, summary, problem = _extrapolation_summary(repro, 'mnist')
  if problem:
    return _inconclusive('3', title, paper_text, [problem], repro, [name], rule)
  comps, numbers = _delay_comparisons(summary, (500, 1000))
  verdict, reason = verdict_of(comps)
  detail = [f'**Rule.** {rule}', _table(['comparison', 'DeCu', 'VoCu', 'Welch p', 'outcome'],
                                         _comparison_rows(comps))]
  noise_comps, noise_numbers, noise_rows = _noise_comparisons(summary)
  numbers.update(noise_numbers)
  if noise_comps:
    nv, nr = verdict_of(noise_comps)
    scales = next(iter(summary['noise'].values()))['noise_scales']
    detail += [f'**Noise extrapolation (sub-part; {_paper("noise")}).** Accuracy at the '
               'longest noise delay against the noise std in units of the training std; '
               f'the same rule at the largest scale gives: **{nv}** ({nr}).',
               _table(['condition'] + [f'x{s:g}' for s in scales], noise_rows)]
    numbers['noise verdict'] = nv
  else:
    detail.append('**Noise extrapolation (sub-part).** Not in the summary: the stage ran '
                  'without `noise_scales` (inconclusive).')
  lead = next((c for c in comps if c['outcome'] != 'few'), comps[0] if comps else None)
  ours = statistic(lead) if lead else 'no DeCu/VoCu pair in the summary'
  return Section('3', title, ours, paper_text, verdict, '\n\n'.join(detail),
                 repro.figures([name]), repro.commands([name]), numbers, reason)


def second_retrieval(repro):
  """Claim 4: DeCu loses less than VoCu at a second trigger (001 tables 5-6)."""
  title = 'Second retrieval: DeCu keeps its answer, VoCu loses more'
  paper_text = ('001 table 5 (MNIST, first - second trigger): GRU DeCu 0.4 +- 0.2%, VoCu '
                '13.9 +- 5.3%; LSTM DeCu 0.2 +- 0.3%, VoCu 8.7 +- 5.1%')
  rule = _DECU_RULE.replace('DeCu is ahead', 'DeCu loses less (first - second accuracy)') \
      .replace('VoCu is ahead', 'VoCu loses less') + (
          ' It also does not reproduce if our VoCu networks lose significantly less than the '
          "paper's (Welch p < 0.05 against the paper's mean +- SEM over its "
          f'{PAPER_NETWORKS} networks).')
  name, summary, problem = _extrapolation_summary(repro, 'mnist')
  if not problem and 'second_retrieval' not in summary:
    problem = (f'the summary has no second retrieval: rerun `{repro.stages[name]["command"]}` '
               'with second retrieval on')
  if problem:
    return _inconclusive('4', title, paper_text, [problem], repro, [name], rule)
  conditions = summary['second_retrieval']
  params = summary.get('params', {})
  comps, rows, numbers = [], [], {}
  for (cell, readout), (dk, vk) in _pairs(conditions).items():
    x = _summary_at(conditions[dk]['difference'], 0)
    y = _summary_at(conditions[vk]['difference'], 0)
    comps.append(compare(f'the second trigger ({cell} {readout})', x, y,
                         larger_is_better=False, verb='loses less'))
    numbers[f'{cell} {readout} decu difference mean'] = x[0]
    numbers[f'{cell} {readout} vocu difference mean'] = y[0]
  # VoCu's loss is also compared with the paper's own (its +- read as the SEM over its 10
  # networks): a loss significantly below it is the effect failing to appear, whatever
  # DeCu does.
  against_paper = []
  for key, c in conditions.items():
    if key == 'runs':
      continue
    ref = paper.SECOND_RETRIEVAL.get(' '.join(key.split()[:3]))
    rows.append([key] + [_pct(*_summary_at(c[f], 0)) for f in ('first', 'second', 'difference')]
                + [f'{_pct(*ref["difference"])} ({ref["source"]})' if ref else 'n/a'])
    if ref is None or 'vocu' not in key.split():
      continue
    cmp = compare(f'the second trigger ({key})', _summary_at(c['difference'], 0),
                  (*ref['difference'], PAPER_NETWORKS), names=('ours', 'the paper'),
                  larger_is_better=True, verb='loses more')
    if cmp['outcome'] == '-':
      against_paper.append((cmp, ref['source']))
    numbers[f'{key} vs paper p'] = cmp['test']['p']
  verdict, reason = verdict_of(comps)
  if against_paper:
    worst, source = min(against_paper, key=lambda c: c[0]['test']['p'])
    verdict = DOES_NOT_REPRODUCE
    reason = (f'{statistic(worst)} (VoCu against the paper\'s VoCu, {source}, its +- '
              f'read as the SEM of {PAPER_NETWORKS} networks)')
  times = (f'first trigger {params.get("first_delay", "?")} steps after the image, second '
           f'{params.get("gap", "?")} steps later (paper: 12 and 12)')
  detail = '\n\n'.join([
      f'**Rule.** {rule}', times,
      _table(['condition', 'first', 'second', 'difference', 'paper difference'], rows),
      _table(['comparison (difference)', 'DeCu', 'VoCu', 'Welch p', 'outcome'],
             _comparison_rows(comps))])
  ours = '; '.join(f'{r[0]} difference {r[3]}' for r in rows)
  return Section('4', title, ours, paper_text, verdict, detail, [], repro.commands([name]),
                 numbers, reason)


# --- 5, 6: slow points ----------------------------------------------------------------------
def slow_points(repro):
  """Claim 5: class slow points read out their class and are far slower than class means."""
  title = 'Slow points read out their class and are far slower than the class means'
  paper_text = _paper('slow_points')
  rule = (f'per DeCu or VoCu network: the fraction of class slow points whose trigger readout '
          f'is their class, and the median over classes of log10(class-mean speed / slow-point '
          f'speed). '
          f'Reproduces if every condition with at least {MIN_NETWORKS} networks has a mean '
          'readout fraction >= 0.9, a mean log10 ratio >= 1 (ten times slower) and at least '
          f'{SETTLED:.0%} of its points settled (status `fixed_point` or `slow_point`: the '
          'paper\'s "local minimum of speed"); does not reproduce if any such condition misses '
          'the readout or the ratio; inconclusive otherwise (in particular when the search '
          'did not settle the points: then they are slow, but not shown to be minima).')
  stages = list(MNIST_TRAIN_STAGES) + ['pca_mnist']
  groups = {}
  for w, key in _runs(repro, MNIST_TRAIN_STAGES):
    if _split_key(key)['curriculum'] not in ('decu', 'vocu'):
      continue  # naive networks hold no memory whose slow points could be judged
    table = read_json(os.path.join(w, 'analysis', 'slowpoints.json'))
    if table and table.get('classes'):
      cls = table['classes']
      ratio = [np.log10(c['class_mean_speed'] / c['speed']) for c in cls
               if c.get('speed') and c.get('class_mean_speed')]
      settled = np.mean([c.get('status') in ('fixed_point', 'slow_point') for c in cls])
      groups.setdefault(key, []).append(
          (np.mean([c['readout_class'] == c['class'] for c in cls]),
           float(np.median(ratio)) if ratio else np.nan, settled))
  if not groups:
    problems = [p for p in map(repro.problem, MNIST_TRAIN_STAGES) if p] or [
        'no run has analysis/slowpoints.json: run `python bin/find_slowpoints.py '
        '--workdirs=...` on the sweeps']
    return _inconclusive('5', title, paper_text, problems, repro, stages, rule)
  rows, numbers, failed, unsettled, checked = [], {}, [], [], 0
  for key, nets in sorted(groups.items()):
    frac = _mean_sem_n([n[0] for n in nets])
    ratio = _mean_sem_n([n[1] for n in nets])
    settled = _mean_sem_n([n[2] for n in nets])
    rows.append([key, _pct(*frac), stats.format_mean_sem(*ratio, scale=1.0, digits=2, unit=''),
                 _pct(*settled)])
    numbers[f'{key} readout fraction mean'] = frac[0]
    numbers[f'{key} log10 speed ratio mean'] = ratio[0]
    numbers[f'{key} settled fraction mean'] = settled[0]
    if len(nets) >= MIN_NETWORKS:
      checked += 1
      if frac[0] < 0.9 or ratio[0] is None or ratio[0] < 1:
        failed.append(f'{key}: readout {_pct(frac[0])}, log10 ratio {ratio[0]}, N = {len(nets)}')
      elif settled[0] < SETTLED:
        unsettled.append(f'{key} {_pct(settled[0])}')
  verdict, reason = _every_group(
      checked, failed, f'all {checked} conditions with N >= {MIN_NETWORKS} pass',
      'condition: run the slow-point search on more networks')
  if verdict == REPRODUCES and unsettled:
    verdict = INCONCLUSIVE
    reason = ('the points read out their class and are far slower than the class means, but '
              f'the search settled too few of them ({", ".join(unsettled)} fixed or slow '
              'points): they are not shown to be minima of the speed; a search that settles '
              'them (or shows they are transients, BUILD_NOTES #10) would decide it')
  detail = '\n\n'.join([
      f'**Rule.** {rule}',
      _table(['condition', 'readout matches class', 'log10(class-mean / slow-point speed)',
              'settled (fixed or slow point)'], rows),
      'PCA of the hidden states (000 Fig. 3) is shown below when the `pca_mnist` stage ran.'])
  ours = '; '.join(f'{r[0]}: readout {r[1]}, log10 ratio {r[2]}' for r in rows)
  return Section('5', title, ours, paper_text, verdict, detail, repro.figures(stages),
                 repro.commands(stages), numbers, reason)


def _template_matching(repro):
  """Per-network Spearman rho of speed vs accuracy at the longest common delay (000 Fig. 7)."""
  tables, nominal = {}, {}
  for w, key in _runs(repro, ['train_template_matching']):
    table = read_json(os.path.join(w, 'analysis', 'template_matching.json'))
    evaluation = read_json(os.path.join(w, 'eval.json'))
    if table and table.get('correlations'):
      tables.setdefault(key, []).append(table)
      nominal.setdefault(key, []).append(evaluation['test']['digit_accuracy']
                                         if evaluation else np.nan)
  if not tables:
    return None, {}
  rows, numbers = [], {}
  for key, group in sorted(tables.items()):
    delay = template_matching_summary.long_delay(group)  # the figure's delay too
    if delay is None:
      continue
    values = [t['correlations'][str(delay)]['spearman'] for t in group]
    curve = template_matching_summary.aggregate(group, delay)
    i = curve['delays'].index(delay)
    at_delay, at_delay_sem = curve['accuracy'][i], curve['accuracy_sem'][i]
    null = 'n/a' if curve['null_answers'] is None else _pct(curve['null_answers'][i])
    mean, sem, n = _mean_sem_n(values)
    p_less = stats.sign_flip_test(values, 'less')
    p_more = stats.sign_flip_test(values, 'greater')
    if n < MIN_NETWORKS:
      v = INCONCLUSIVE
    elif p_less < ALPHA:
      v = REPRODUCES
    elif p_more < ALPHA:
      v = DOES_NOT_REPRODUCE
    else:
      v = INCONCLUSIVE
    nominal_mean_sem_n = _mean_sem_n(nominal[key])
    rows.append([key, _pct(*nominal_mean_sem_n), delay, _pct(at_delay, at_delay_sem),
                 null, stats.format_mean_sem(mean, sem, n, 1.0, 2, ''), _p(p_less), v])
    numbers[f'template {key} spearman mean'] = mean
    numbers[f'template {key} nominal'] = nominal_mean_sem_n[0]
  text = ('**Template matching (sub-part; ' + _paper('template_matching') + ').** Nominal: '
          'same / different test accuracy (chance 50%), no curriculum. A network that answers '
          'null at the second stimulus scores 0 on that trial. Per network Spearman '
          'rho of slow-point speed against class accuracy at the longest delay at which '
          'every network has one (a network whose classes are all equally accurate there, '
          'e.g. all at 0%, has none); sign-flip test over networks (exact; needs N >= 5 to '
          'reach p < 0.05). Reproduces if the mean rho is negative with p < 0.05.\n\n'
          + _table(['condition', 'nominal (test)', 'delay', 'accuracy at delay',
                    'null answers at delay', 'rho (mean +- SEM)', 'p (rho < 0)',
                    'sub-verdict'], rows))
  return text, numbers


def speed_accuracy(repro):
  """Claim 6: slow-point speed predicts long-delay accuracy (000 Fig. 4; Fig. 7)."""
  title = 'Slow-point speed predicts long-delay accuracy'
  paper_text = _paper('speed_accuracy')
  rule = (f'the pooled Spearman rho of log10 slow-point speed against class accuracy at the '
          f'long delay over all networks and classes (two-sided permutation p). Reproduces if '
          f'rho < 0 with p < {ALPHA} and at least {MIN_NETWORKS} networks; does not reproduce '
          f'if rho > 0 with p < {ALPHA}; inconclusive otherwise.')
  name = 'speed_accuracy_mnist'
  stages = [name, 'train_template_matching', 'plot_template_matching']
  path = repro.output(name, 'speed_accuracy_summary.json',
                      'aggregate/mnist/analysis/speed_accuracy_summary.json')
  problem = repro.problem(name)
  summary = None if problem else read_json(path)
  tm_text, numbers = _template_matching(repro)
  if summary is None:
    problems = [problem or f'`{path}` is missing: rerun `{repro.stages[name].get("command")}`']
    section = _inconclusive('6', title, paper_text, problems, repro, stages, rule, numbers)
    if tm_text:
      section.detail_markdown += '\n\n' + tm_text
    return section
  pooled = summary['pooled']
  num_networks = len(summary.get('networks', []))
  rho, p = pooled['spearman']['r'], pooled['spearman']['p']
  numbers.update({'pooled spearman r': rho, 'pooled spearman p': p,
                  'num networks': num_networks, 'delay': summary.get('delay')})
  stat = (f'pooled rho = {rho:+.2f}, permutation p = {_p(p)}, {num_networks} networks, '
          f'{pooled["n"]} classes' if rho is not None else 'rho undefined')
  if num_networks < MIN_NETWORKS or rho is None or p is None:
    verdict, reason = INCONCLUSIVE, stat + ': more networks would settle it'
  elif rho < 0 and p < ALPHA:
    verdict, reason = REPRODUCES, stat
  elif rho > 0 and p < ALPHA:
    verdict, reason = DOES_NOT_REPRODUCE, stat
  else:
    verdict, reason = INCONCLUSIVE, stat + ': more networks or classes would settle it'
  rows = []
  for key, c in summary.get('conditions', {}).items():
    rows.append([key, c['num_networks'], stats.format_correlation(c['pooled']),
                 stats.format_mean_sem(c['spearman']['mean'], c['spearman']['sem'], None, 1.0,
                                       2, ''),
                 stats.format_mean_sem(c['mean_log10_speed']['mean'],
                                       c['mean_log10_speed']['sem'], None, 1.0, 2, ''),
                 _pct(c['mean_accuracy']['mean'], c['mean_accuracy']['sem'])])
  detail = [f'**Rule.** {rule}',
            f'Delay {summary.get("delay")} ({summary.get("protocol", "fixed")} protocol). '
            f'All networks pooled: {stats.format_correlation(pooled)}.',
            _table(['condition', 'N', 'pooled correlation', 'per-network rho', 'log10 speed',
                    'accuracy'], rows)]
  if tm_text:
    detail.append(tm_text)
  return Section('6', title, stat, paper_text, verdict, '\n\n'.join(detail),
                 repro.figures(stages), repro.commands(stages), numbers, reason)


# --- 7, 8: training history ----------------------------------------------------------------
def speed_jumps(repro):
  """Claim 7: VoCu speeds jump at class introductions; DeCu's fall gradually (000 Fig. 5A,B)."""
  title = 'VoCu slow-point speeds jump at class introductions, DeCu\'s fall gradually'
  paper_text = _paper('backtrack')
  rule = (f'|d log10 speed| between snapshots whose interval holds a curriculum change, '
          f'against the other intervals (pooled over classes and networks, one-sided '
          f'Mann-Whitney). Reproduces if VoCu ({MIN_NETWORKS}+ networks) has larger jumps at '
          f'introductions with p < {ALPHA} and DeCu\'s per-run ratio of medians (at T_max '
          'changes against elsewhere) is below VoCu\'s; does not reproduce if VoCu\'s ratio '
          'of medians is at most 1 (no excess at introductions); inconclusive otherwise.')
  name = 'backtrack_mnist'
  path = repro.output(name, 'backtrack.json', 'aggregate/backtrack/analysis/backtrack.json')
  problem = repro.problem(name)
  result = None if problem else read_json(path)
  if result is None:
    return _inconclusive('7', title, paper_text, [problem or f'`{path}` is missing'], repro,
                         [name], rule)
  cur = result.get('curricula', {})
  rows, numbers = [], {}
  for c, r in cur.items():
    j = r['jump_statistic_pooled']
    ratio = r.get('ratio_of_medians_mean_sem_n') or [None, None, 0]
    rows.append([c, r['n'], f'{j["median_x"]:.3g}' if j['median_x'] is not None else 'n/a',
                 f'{j["median_y"]:.3g}' if j['median_y'] is not None else 'n/a',
                 stats.format_mean_sem(ratio[0], ratio[1], None, 1.0, 2, ''),
                 _p(j['mannwhitney_p'])])
    numbers[f'{c} ratio of medians mean'] = ratio[0]
    numbers[f'{c} mannwhitney p'] = j['mannwhitney_p']
    numbers[f'{c} n'] = r['n']
  vocu, decu = cur.get('vocu'), cur.get('decu')
  if not vocu or vocu['n'] < MIN_NETWORKS:
    verdict, reason = INCONCLUSIVE, f'fewer than {MIN_NETWORKS} backtracked VoCu networks'
  else:
    j = vocu['jump_statistic_pooled']
    v_ratio = numbers['vocu ratio of medians mean']
    stat = (f'VoCu jumps at introductions {j["ratio_of_medians"] or float("nan"):.2f}x '
            f'the others (median), Mann-Whitney p = {_p(j["mannwhitney_p"])}, N = {vocu["n"]}')
    d_ratio = numbers.get('decu ratio of medians mean')
    if (j['mannwhitney_p'] is not None and j['mannwhitney_p'] < ALPHA and decu and
        d_ratio is not None and v_ratio is not None and d_ratio < v_ratio):
      verdict, reason = REPRODUCES, f'{stat}; DeCu ratio {d_ratio:.2f} < VoCu {v_ratio:.2f}'
    elif j['ratio_of_medians'] is not None and j['ratio_of_medians'] <= 1:
      verdict, reason = DOES_NOT_REPRODUCE, stat
    else:
      verdict, reason = INCONCLUSIVE, stat + (
          '; DeCu not backtracked' if not decu else '') + ': more networks would settle it'
  detail = '\n\n'.join([f'**Rule.** {rule}', _table(
      ['curriculum', 'N', 'median jump at changes', 'median jump elsewhere',
       'ratio of medians (per run)', 'Mann-Whitney p (pooled)'], rows)])
  return Section('7', title, reason.split(';')[0], paper_text, verdict, detail,
                 repro.figures([name]), repro.commands([name]), numbers, reason)


def branching(repro):
  """Claim 8: classes that spawn a new class lose more accuracy (000 Fig. 5E)."""
  title = 'Spawning classes lose more accuracy at class introductions'
  paper_text = _paper('branching')
  rule = (f'paired over introduction events, pooled over the VoCu networks of each recurrent '
          f'cell (000 Fig. 5E for GRUs, Fig. 8 for LSTMs): the accuracy change of the '
          f'spawning class minus the mean change of the other existing classes. A cell is in '
          f'favour if it is negative with the one-sided sign-flip permutation p < {ALPHA}, '
          f'against if positive with the opposite one-sided p < {ALPHA}, and is not judged '
          f'with fewer than {MIN_NETWORKS} networks. Reproduces if every judged cell is in '
          f'favour, does not reproduce if any is against, inconclusive otherwise.')
  name = 'branching_mnist'
  path = repro.output(name, 'branching.json', 'aggregate/branching/analysis/branching.json')
  problem = repro.problem(name)
  result = None if problem else read_json(path)
  if result is None:
    return _inconclusive('8', title, paper_text, [problem or f'`{path}` is missing'], repro,
                         [name], rule)
  # Aggregates written before the per-cell split pooled one cell (the GRUs).
  groups = result.get('by_cell') or {'gru': result}
  numbers, rows, comparisons = {}, [], []
  for cell, g in sorted(groups.items()):
    events = [e for e in result['events'] if e.get('cell', cell) == cell
              and e.get('delta_others') is not None]
    a = [e['delta_spawner'] for e in events]
    b = [e['delta_others'] for e in events]
    test = g['test']
    reverse = stats.paired_tests(a, b, alternative='greater') if a else {'permutation_p': None}
    runs, diff, p = g.get('num_runs', 0), test.get('mean_difference'), test['permutation_p']
    spawner, others = g['delta_spawner_mean_sem_n'], g['delta_others_mean_sem_n']
    prefix = '' if cell == 'gru' else f'{cell} '  # GRU keys as before the split
    numbers.update({f'{prefix}num runs': runs, f'{prefix}num events': test['n'],
                    f'{prefix}mean difference': diff, f'{prefix}permutation p': p,
                    f'{prefix}spawner mean': spawner[0], f'{prefix}others mean': others[0]})
    stat = (f'{cell.upper()}: spawner minus others {100 * (diff or 0):+.1f} points, sign-flip '
            f'p = {_p(p)}, Wilcoxon p = {_p(test.get("wilcoxon_p"))}, {test["n"]} events in '
            f'{runs} networks')
    judged_p = p  # the p of the outcome's own direction, for verdict_of's ranking
    if runs < MIN_NETWORKS or diff is None:
      outcome = 'few'
    elif p is not None and p < ALPHA and diff < 0:
      outcome = '+'
    elif reverse['permutation_p'] is not None and reverse['permutation_p'] < ALPHA and diff > 0:
      outcome, judged_p = '-', reverse['permutation_p']
      stat += f' (opposite one-sided p = {_p(judged_p)})'
    else:
      outcome = '0'
    comparisons.append({'outcome': outcome, 'text': stat, 'test': {'p': judged_p}})
    rows.append([cell.upper(), runs, test['n'], _pct(*spawner), _pct(*others), _p(p),
                 {'+': 'in favour', '-': 'against', '0': 'not significant',
                  'few': f'N < {MIN_NETWORKS}'}[outcome]])
  stat = '; '.join(c['text'] for c in comparisons)
  verdict, reason = verdict_of(comparisons, settle='more VoCu networks or introduction events')
  detail = '\n\n'.join([f'**Rule.** {rule}', _table(
      ['cell', 'networks', 'events', 'spawning class change', 'other classes change',
       'sign-flip p (one-sided)', 'outcome'], rows),
      f'Weights: {", ".join(result.get("weights", []))}.'])
  return Section('8', title, stat, paper_text, verdict, detail, repro.figures([name]),
                 repro.commands([name]), numbers, reason)


# --- 9: regularisation ------------------------------------------------------------------------
def regularization(repro):
  """Claim 9: speed regularisation improves long delays, nominal intact (000 Figs. 6, 9)."""
  title = 'Speed regularisation improves long delays with nominal accuracy intact'
  paper_text = _paper('regularization')
  rule = (f'per panel (cell, curriculum) and target kind (slow points, centres) against the '
          f'lambda = 0 control of the same networks (each arm continues the same trained '
          f'networks, so the arms are paired by network): two-sided paired t-test of accuracy '
          f'at delay 1000 after the extra steps, and the mean drop of nominal test accuracy '
          f'from before. A comparison is in favour if the arm is ahead with p < {ALPHA} and '
          f'its drop is at most {100 * NOMINAL_INTACT:.0f} point; against if it is behind '
          f'with p < {ALPHA} or its drop exceeds {100 * NOMINAL_INTACT:.0f} point; not made '
          f'with fewer than {MIN_NETWORKS} pairs. Reproduces if all comparisons made are in '
          'favour, does not reproduce if any is against, inconclusive otherwise. (Until '
          '2026-12-02 the test was an unpaired Welch test; the paired test was adopted before '
          'the VoCu panel was run.)')
  names = repro.names('regularize_')
  stages = names + ['plot_regularization']
  workdirs = [w for w in repro.workdirs(names)
              if os.path.exists(os.path.join(w, 'analysis', 'regularization.json'))]
  if not workdirs:
    problems = [p for p in map(repro.problem, names) if p] or [
        'no regularisation stage in this variant (absent from reproduce.json)']
    return _inconclusive('9', title, paper_text, problems, repro, stages, rule)
  groups = regularization_summary.load_runs(workdirs)
  comps, numbers = [], {}
  at = lambda s, d: _value(((s.get('accuracy_at') or {}).get('after') or {}).get(str(d)))  # noqa
  for (cell, curriculum), arms in sorted(groups.items()):
    control = [at(s, 1000) for s in arms.get('control', [])]
    for arm in ('slow_points', 'centres'):
      runs = arms.get(arm, [])
      if not runs:
        continue
      acc = [at(s, 1000) for s in runs]
      pairs = _paired_by_source(runs, arms.get('control', []), lambda s: at(s, 1000))
      drop = _mean_sem_n([s['nominal']['before']['test'] - s['nominal']['after']['test']
                          for s in runs if s.get('nominal', {}).get('before')
                          and s['nominal'].get('after')])
      label = f'delay 1000 ({cell} {curriculum}, {arm} vs control)'
      c = compare(label, _mean_sem_n(acc), _mean_sem_n(control), (arm, 'control'),
                  test=stats.paired_t_test(*pairs))
      if c['outcome'] != 'few' and drop[0] is not None and drop[0] > NOMINAL_INTACT:
        c['outcome'] = '-'
        c['text'] = f'{arm} costs {100 * drop[0]:.1f} points of nominal accuracy ({label})'
      elif c['outcome'] == '+' and drop[0] is None:
        c['outcome'] = '0'
      comps.append(c)
      prefix = f'{cell} {curriculum} {arm}'
      numbers.update({f'{prefix} d=1000 mean': c['x'][0], f'{prefix} nominal drop': drop[0],
                      f'{prefix} d=1000 paired difference': c['test']['difference'],
                      f'{prefix} d=1000 paired p': c['test']['p']})
      numbers[f'{cell} {curriculum} control d=1000 mean'] = c['y'][0]
  verdict, reason = verdict_of(comps, settle='more networks per arm')
  rows = []
  for (cell, curriculum), arm, a in regularization_summary.table(groups):
    acc = dict(zip(a['delays'], zip(a['accuracy'], a['accuracy_sem'])))
    rows.append([f'{cell} {curriculum}', arm, a['n'], _pct(a['nominal'], a['nominal_sem'])]
                + [_pct(*acc[d]) if d in acc else 'n/a' for d in (100, 500, 1000)]
                + [f'{a["speed"]:.2g}', _cost(groups[(cell, curriculum)].get(arm, []))])
  runs = [s for arms in groups.values() for group in arms.values() for s in group]
  steps = sorted({s['steps'] for s in runs if s.get('steps') is not None})
  penalties = sorted({s['penalty'] for s in runs if s.get('penalty')})
  detail = '\n\n'.join([
      f'**Rule.** {rule}',
      f'Extra training steps per run: {", ".join(map(str, steps)) or "n/a"}; lambda (the '
      f'authors\' units): {", ".join(f"{p:g}" for p in penalties) or "n/a"}.',
      _table(['panel', 'arm', 'N', 'nominal test', 'delay 100', 'delay 500', 'delay 1000',
              'slow-point speed (geo. mean of medians)',
              'seconds per network: training + target refreshes + final analysis'], rows),
      _table(['comparison', 'arm', 'control', 'pairs', 'paired t p', 'outcome'],
             [row[:3] + [c['test']['n_x']] + row[3:]
              for c, row in zip(comps, _comparison_rows(comps))])])
  made = [c for c in comps if c['outcome'] != 'few' and c['test']['p'] is not None]
  if made:  # the strongest comparison, and the count in favour
    best = min(made, key=lambda c: c['test']['p'])
    wins = sum(c['outcome'] == '+' for c in made)
    ours = f'{statistic(best)}; {wins} of {len(made)} comparisons in favour'
  else:
    ours = statistic(comps[0]) if comps else 'no regularised arm'
  return Section('9', title, ours, paper_text, verdict, detail, repro.figures(stages),
                 repro.commands(stages), numbers, reason)


def _cost(runs):
  """Mean seconds per network of an arm's extra training, its target refreshes and its
  final analysis, from the runs' recorded timing."""
  timing = [s['timing'] for s in runs if s.get('timing')]
  if not timing:
    return 'n/a'
  mean = lambda k: float(np.mean([t.get(k) or 0.0 for t in timing]))  # noqa: E731
  return (f'{mean("train_seconds"):.0f} + {mean("refresh_seconds"):.1f} '
          f'({mean("refreshes"):.0f} refreshes) + {mean("final_analysis_seconds"):.0f}')


def _paired_by_source(runs, controls, value):
  """``([value of run], [value of its control])`` over the runs whose source network has
  a control run (the arms of speed regularisation continue the same trained networks)."""
  key = lambda s: os.path.realpath(s.get('source') or '')  # noqa: E731
  control = {key(s): value(s) for s in controls if s.get('source')}
  pairs = [(value(s), control[key(s)]) for s in runs if s.get('source') and key(s) in control]
  return [p[0] for p in pairs], [p[1] for p in pairs]


# --- 10: flip-flop ---------------------------------------------------------------------------
def flipflop(repro):
  """Claim 10: flip-flop attractors at the 8 corners and saddles between them (paper 003)."""
  title = 'Flip-flop: 8 corner attractors and saddles (3-bit flip-flop)'
  paper_text = _paper('flipflop')
  rule = ('one network per delay, as in paper 003 (a structural claim about one network, '
          'not a comparison of groups). Reproduces if the delay-0 network learned the task '
          '(bit accuracy >= 0.9) and has stable fixed points at all 8 output corners and at '
          'least one saddle with 1 unstable dimension; does not reproduce if it learned the '
          'task but misses either; inconclusive if it did not learn the task or did not run. '
          'The delay-8 network is reported alongside (paper: corners kept, saddles with more '
          'than 3 unstable dimensions appear).')
  names = ['flipflop_delay0', 'flipflop_delay8']
  rows, numbers, found = [], {}, {}
  for name in names:
    workdir = (repro.stages.get(name, {}).get('workdirs') or [None])[0]
    summary = (read_json(os.path.join(workdir, 'analysis', 'summary.json'))
               if workdir and repro.ready(name) else None)
    if summary is None:
      continue
    found[name] = summary
    fp, ev = summary['fixed_points'], summary['evaluation']
    by = {int(k): v for k, v in fp['by_unstable_dims'].items()}
    rows.append([name, f'{ev["bit_accuracy"]:.3f}', fp['num_fixed_points'],
                 fp['stable_distinct_corners'],
                 ', '.join(f'{k}: {v}' for k, v in sorted(by.items())),
                 sum(v for k, v in by.items() if k > 3)])
    numbers.update({f'{name} bit accuracy': ev['bit_accuracy'],
                    f'{name} stable corners': fp['stable_distinct_corners'],
                    f'{name} saddles 1': by.get(1, 0),
                    f'{name} more than 3 unstable': sum(v for k, v in by.items() if k > 3)})
  if 'flipflop_delay0' not in found:
    problem = repro.problem('flipflop_delay0') or 'flipflop_delay0 has no analysis/summary.json'
    section = _inconclusive('10', title, paper_text, [problem], repro, names, rule, numbers)
    return section
  d0 = 'flipflop_delay0'
  acc, corners, saddles = (numbers[f'{d0} bit accuracy'], numbers[f'{d0} stable corners'],
                           numbers[f'{d0} saddles 1'])
  stat = (f'delay 0: {corners} stable corners, {saddles} saddles with 1 unstable dimension, '
          f'bit accuracy {acc:.3f}')
  if acc < 0.9:
    verdict, reason = INCONCLUSIVE, stat + ': the network did not learn the task; train longer'
  elif corners == 8 and saddles > 0:
    verdict, reason = REPRODUCES, stat
  else:
    verdict, reason = DOES_NOT_REPRODUCE, stat
  detail = '\n\n'.join([f'**Rule.** {rule}', _table(
      ['network', 'bit accuracy', 'fixed points', 'stable corners',
       'by unstable dimensions', '> 3 unstable'], rows)] + [
          f'- {p}' for p in map(repro.problem, names) if p])
  return Section('10', title, stat, paper_text, verdict, detail, repro.figures(names),
                 repro.commands(names), numbers, reason)


# --- CIFAR-10 ---------------------------------------------------------------------------------
def cifar10(repro):
  """CIFAR-10 on the offline subset: nominal accuracy and DeCu vs VoCu at delay 500."""
  title = 'CIFAR-10 (OFFLINE SUBSET: 5,085 train / 1,017 test images)'
  paper_text = (f'{_paper("cifar10")}; 001 tables 3-4 test: GRU DeCu 72.4 +- 1.0%, VoCu '
                '65.7 +- 1.2%; LSTM DeCu 66.5 +- 0.4%, VoCu 67.7 +- 1.2% (full dataset)')
  rule = ('the paper\'s CIFAR-10 numbers are on the full dataset (50,000 training images); '
          'ours on a subset of about a tenth, so nominal accuracies are shown but not judged, '
          'and the verdict is about the direction of DeCu against VoCu at delay 500 (the '
          'paper\'s CIFAR-10 long delay) only. ' + _DECU_RULE)
  stages = ['train_cifar10', 'extrapolate_cifar10']
  groups = _nominal_groups(repro, ['train_cifar10'])
  numbers = {}
  rows = _nominal_rows(groups, numbers)
  name, summary, problem = _extrapolation_summary(repro, 'cifar10')
  detail = [f'**Rule.** {rule}',
            '**This is not the paper\'s CIFAR-10 experiment:** the offline subset has 5,085 '
            'training and 1,017 test images, so absolute accuracies are far below the '
            'paper\'s and only directions are compared.']
  if rows:
    detail.append(_table(_NOMINAL_HEADER, rows))
  if problem:
    problems = [p for p in (repro.problem('train_cifar10'), problem) if p]
    detail.append('**Missing.**\n\n' + '\n'.join(f'- {p}' for p in problems))
    return Section('cifar10', title, '; '.join(f'{r[0]} {r[1]}' for r in rows) or 'n/a',
                   paper_text, INCONCLUSIVE, '\n\n'.join(detail), repro.figures(stages),
                   repro.commands(stages), numbers, '; '.join(problems))
  comps, more = _delay_comparisons(summary, (500,))
  numbers.update(more)
  verdict, reason = verdict_of(comps)
  detail.append(_table(['comparison', 'DeCu', 'VoCu', 'Welch p', 'outcome'],
                       _comparison_rows(comps)))
  lead = next((c for c in comps if c['outcome'] != 'few'), comps[0] if comps else None)
  ours = statistic(lead) if lead else 'no DeCu/VoCu pair'
  return Section('cifar10', title, ours, paper_text, verdict, '\n\n'.join(detail),
                 repro.figures(stages), repro.commands(stages), numbers, reason)


# ``(key, function)`` in report order; the key names the section even when it fails.
CLAIMS = (('1', nominal_accuracy), ('2', naive_training), ('3', extrapolation),
          ('4', second_retrieval), ('5', slow_points), ('6', speed_accuracy),
          ('7', speed_jumps), ('8', branching), ('9', regularization), ('10', flipflop),
          ('cifar10', cifar10))
