"""``write_report(root)``: the reproduction report, ``<root>/report.md``, from saved files.

Reads ``<root>/reproduce.json`` (written by the pipeline) and the stage outputs it names;
judges every claim with ``memrnn_tf.reproduce.claims`` (which never trains or recomputes
an analysis) and copies the stages' figures to ``<root>/figures/``, linked relatively from
the report. A missing or failed stage makes its claim inconclusive; it never stops the
report.
"""

import datetime
import os
import shutil

from absl import logging

from memrnn_tf import files
from memrnn_tf.reproduce import claims as claims_lib
from memrnn_tf.reproduce import paper
from memrnn_tf.reproduce import plan

MAX_COMMANDS = 8  # a claim's longer list of commands is shortened (_regenerate)
TITLE = ('Reproduction report: "Understanding and Controlling Memory in Recurrent Neural '
         'Networks" (Haviv, Rivkind, Barak, ICML 2019)')


def _duration(seconds):
  if seconds >= 3600:
    return f'{seconds / 3600:.2f} h'
  if seconds >= 60:
    return f'{seconds / 60:.1f} min'
  return f'{seconds:.1f} s'


def judge(repro, claims=claims_lib.CLAIMS):
  """Every claim's ``Section``; a claim whose files cannot be read becomes inconclusive."""
  sections = []
  for key, fn in claims:
    try:
      sections.append(fn(repro))
    except Exception as e:  # pylint: disable=broad-except
      # A malformed file must cost one claim, not the whole report.
      logging.exception('Claim %s failed', fn.__name__)
      title = (fn.__doc__ or fn.__name__).split(':', 1)[-1].strip().split('\n')[0]
      reason = f'the saved files could not be read ({type(e).__name__}: {e})'
      sections.append(claims_lib.Section(
          key, title, 'n/a', 'see the paper', claims_lib.INCONCLUSIVE,
          f'**Error.** {reason}; rerun the stages below and report a bug if it persists.',
          [], [], {}, reason))
  return sections


def copy_figures(root, sections):
  """Copies the sections' figures to ``<root>/figures/``.

  Returns:
    ``{source path: path relative to root}``; a figure is named by its path relative to
    ``root`` (its last three path parts when outside it) with slashes turned to ``__``, so
    the runs' same-named figures (``figures/pca.png``) do not collide.
  """
  out_dir = os.path.join(root, 'figures')
  copied = {}
  for section in sections:
    for src in section.figures:
      if src in copied or not os.path.exists(src):
        continue
      rel = os.path.relpath(os.path.abspath(src), root)
      if rel.startswith('..'):
        rel = os.path.join(*os.path.abspath(src).split(os.sep)[-3:])
      name = rel.replace(os.sep, '__')
      dst = os.path.join(out_dir, name)
      if os.path.abspath(src) != os.path.abspath(dst):
        os.makedirs(out_dir, exist_ok=True)
        shutil.copyfile(src, dst)
      copied[src] = os.path.join('figures', name)
  return copied


def _cell(text, limit=220):
  text = ' '.join(str(text).replace('|', '/').split())
  return text if len(text) <= limit else text[:limit - 3] + '...'


def _anchor(section):
  return f'claim-{section.key}'


def render(repro, sections, figures, date=None):
  """The markdown of the report."""
  stages = list(repro.stages.values())
  seconds = sum(float(s.get('seconds') or 0.0) for s in stages)
  untimed = sum(1 for s in stages if s.get('status') in ('done', 'reused')
                and s.get('seconds') is None)
  counts = {}
  for s in stages:
    counts[s.get('status', '?')] = counts.get(s.get('status', '?'), 0) + 1
  date = date or datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
  lines = [f'# {TITLE}', '',
           f'- Variant: `{repro.variant}`',
           f'- Root: `{repro.root}`',
           f'- Date: {date}',
           f'- Total compute time: {_duration(seconds)} ({seconds:.0f} s summed over '
           f'{len(stages)} stages: ' + ', '.join(f'{n} {k}' for k, n in sorted(counts.items()))
           + (f'; {untimed} finished stages without a recorded time' if untimed else '')
           + ')',
           f'- Judged by the analysis plan {plan.PLAN_VERSION} (`{plan.PLAN_DOC}`): each '
           'claim\'s primary effect, signed so that positive is the paper\'s direction, with '
           'its 95% interval; verdicts: reproduces / contradicted / not observed / '
           'inconclusive. Secondary comparisons are Holm-adjusted within a claim and never '
           'decide.',
           '- Papers: 000 = ICML 2019 paper, 001 = its earlier version (appendix tables 1-6), '
           '003 = flip-flop study. Accuracies are mean +- SEM over networks (N).',
           '', '## Verdicts', '',
           '| # | claim | ours | paper | verdict |', '|---|---|---|---|---|']
  for s in sections:
    verdict = f'**{s.verdict}**' + (f': {s.reason}' if s.reason else '')
    lines.append(f'| [{s.key}](#{_anchor(s)}) | {_cell(s.title)} | {_cell(s.ours)} | '
                 f'{_cell(s.paper)} | {_cell(verdict, 400)} |')
  lines += ['', '## Deviations from the paper', '',
            '| what | the paper / the authors\' code | here | why |', '|---|---|---|---|']
  lines += [f'| {" | ".join(_cell(x, 300) for x in row)} |' for row in paper.DEVIATIONS]
  for s in sections:
    lines += ['', f'<a id="{_anchor(s)}"></a>', f'## {s.key}. {s.title}', '',
              f'**Verdict: {s.verdict}.** {s.reason}', '',
              f'**Ours.** {s.ours}', '', f'**Paper.** {s.paper}', '', s.detail_markdown, '']
    for src in s.figures:
      if src in figures:
        lines += [f'![{os.path.basename(src)}]({figures[src]})', '']
    if s.commands:
      lines += ['**Regenerate.**', ''] + _regenerate(s.commands)
  lines += ['', '## Stages', '', '| stage | kind | status | seconds | command |',
            '|---|---|---|---|---|']
  for s in stages:
    lines.append(f'| {s["name"]} | {s.get("kind", "?")} | {s.get("status", "?")} | '
                 f'{float(s.get("seconds") or 0):.0f} | `{_cell(s.get("command", ""), 400)}` |')
  return '\n'.join(lines) + '\n'


def _regenerate(commands, head=3):
  """Markdown lines, one per ``(name, status, command)``; a long list (one stage per
  network, as regularisation has) keeps its first ``head`` and its last entry, and names
  the ones between: the Stages table at the end has every command."""
  def line(name, status, command):
    return f'- `{name}` ({status}): ' + (f'`{command}`' if command else 'not in this variant')

  if len(commands) <= MAX_COMMANDS:
    return [line(*c) for c in commands]
  hidden = commands[head:-1]
  return ([line(*c) for c in commands[:head]]
          + [f'- ... {len(hidden)} more stages, `{hidden[0][0]}` to `{hidden[-1][0]}`, the same '
             'binaries on the other networks: the Stages table below has each command']
          + [line(*commands[-1])])


def write_report(root):
  """Writes ``<root>/report.md`` (and ``<root>/figures/``) from ``<root>/reproduce.json``.

  Also writes ``<root>/report.json``: per claim its key, title, verdict, reason and numbers.

  Args:
    root: the reproduction's root directory.

  Returns:
    The path of ``report.md``.

  Raises:
    FileNotFoundError: when ``<root>/reproduce.json`` is absent.
  """
  root = os.path.abspath(root)
  repro = claims_lib.Reproduction.load(root)
  sections = judge(repro)
  figures = copy_figures(root, sections)
  path = os.path.join(root, 'report.md')
  files.write_text(path, render(repro, sections, figures))
  verdicts = [{'key': s.key, 'title': s.title, 'verdict': s.verdict, 'reason': s.reason,
               'numbers': s.numbers} for s in sections]
  files.write_json(os.path.join(root, 'report.json'), verdicts, indent=1, nan_as_null=True)
  logging.info('Wrote %s (%s)', path, ', '.join(f'{s.key}: {s.verdict}' for s in sections))
  return path
