"""What every claim's report section is made of: the ``Section`` record and its Markdown.

``section`` writes a claim's body from a ``plan.Judgement`` (rule, primary effect with its
95% interval, Holm-adjusted secondary comparisons, extra tables, stages not ready);
``missing`` is the section of a claim whose inputs are absent.
"""

import dataclasses

from memrnn_tf.analysis import stats
from memrnn_tf.reproduce import plan
from memrnn_tf.reproduce.plan import INCONCLUSIVE

VERDICTS = plan.VERDICTS
PRIMARY = dict(dataset='mnist', cell='gru', readout='sigmoid')  # the plan's default
CURRICULA = ('decu', 'vocu')


@dataclasses.dataclass
class Section:
  """One claim of the report.

  Attributes:
    key: the plan's claim number (``'1'`` ... ``'14'``).
    title: the claim in words.
    ours: our primary effect, one line.
    paper: the paper's statement or numbers, with the source.
    verdict: one of ``plan.VERDICTS``.
    detail_markdown: the section body (rule, tables, notes).
    figures: absolute paths of the figures to show (missing files are skipped).
    commands: ``(stage name, status, command)`` of the stages the claim reads.
    numbers: flat dict of the key numbers (for tests and machine reading).
    reason: why the verdict (the deciding statistic, or what is missing).
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


# --- Markdown ---------------------------------------------------------------------------------
def pct(mean, sem=None, n=None):
  return stats.format_mean_sem(mean, sem, n)


def table(header, rows):
  """A markdown table (cells stripped of '|')."""
  clean = lambda c: str(c).replace('|', '/').replace('\n', ' ')  # noqa: E731
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  lines += ['| ' + ' | '.join(clean(c) for c in row) + ' |' for row in rows]
  return '\n'.join(lines)


def _num(x, unit):
  digits = 1 if unit == 'points' else 2
  return 'n/a' if x is None else f'{(100 * x if unit == "points" else x):+.{digits}f}'


def _effect_rows(effects):
  rows = []
  for e in effects:
    interval = (f'{_num(e.estimate, e.unit)} [{_num(e.lo, e.unit)}, {_num(e.hi, e.unit)}] '
                f'{e.unit}' if e.computed else 'n/a')
    rows.append([e.label, interval, e.test, 'n/a' if e.p is None else f'{e.p:.2g}',
                 'n/a' if e.p_holm is None else f'{e.p_holm:.2g}', e.n,
                 e.outcome or ('primary' if e.enough else 'N below the minimum')])
  return rows


_EFFECT_HEADER = ['comparison (positive = the paper\'s direction)', 'effect [95% interval]',
                  'test', 'p', 'Holm p', 'N', 'outcome']


def section(key, title, paper_text, rule, judgement, repro, stages, extra=(), numbers=None,
             figures=None):
  """A section from a ``plan.Judgement``: rule, primary and secondary effects, extras."""
  detail = [f'**Rule (plan {plan.PLAN_VERSION}).** {rule}',
            '**Primary.**\n\n' + table(_EFFECT_HEADER, _effect_rows(judgement.primary))]
  if judgement.secondary:
    detail.append('**Secondary (Holm within the claim; they do not decide).**\n\n'
                  + table(_EFFECT_HEADER, _effect_rows(judgement.secondary)))
  detail += [x for x in extra if x]
  problems = repro.problems(stages)
  if problems:
    detail.append('**Stages not ready.**\n\n' + '\n'.join(f'- {p}' for p in problems))
  numbers = dict(numbers or {})
  for i, e in enumerate(judgement.primary):
    prefix = 'primary' if i == 0 else f'primary {i}'
    numbers.update({f'{prefix} estimate': e.estimate, f'{prefix} lo': e.lo,
                    f'{prefix} hi': e.hi, f'{prefix} p': e.p})
  ours = '; '.join(e.text() for e in judgement.primary)
  return Section(key, title, ours, paper_text, judgement.verdict, '\n\n'.join(detail),
                 repro.figures(stages) if figures is None else figures,
                 repro.commands(stages), numbers, judgement.reason)


def missing(key, title, paper_text, rule, repro, stages, problems):
  reason = '; '.join(problems)
  detail = (f'**Rule (plan {plan.PLAN_VERSION}).** {rule}\n\n**Missing.**\n\n'
            + '\n'.join(f'- {p}' for p in problems))
  return Section(key, title, 'n/a (missing data)', paper_text, INCONCLUSIVE, detail,
                 repro.figures(stages), repro.commands(stages), {}, reason)


def label(dataset, cell, readout, what):
  return f'{what} ({dataset} {cell} {readout})'
