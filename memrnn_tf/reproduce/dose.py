"""Dose-response: each claim's primary effect against the number of training steps.

Reads published reproductions (``results/<variant>/``: ``report.json`` and ``runs.json``),
one per training config (e.g. ``cpu`` at 6,000 steps, ``paper_gru_35k``, ``paper_gru`` at
140,000), and tabulates every claim's primary effect with its 95% interval and verdict per
config, so that a verdict is seen as a trend over training, not one anecdote.
"""

import os

from memrnn_tf import files
from memrnn_tf.reproduce import inputs

def _steps(result_dir):
  """Training steps of the result's primary networks (MNIST GRU sigmoid DeCu/VoCu)."""
  runs = inputs.read_json(os.path.join(result_dir, 'runs.json')) or []
  steps = sorted({r['num_steps'] for r in runs if (r.get('dataset'), r.get('cell'),
                                                    r.get('readout')) ==
                  ('mnist', 'gru', 'sigmoid') and r.get('curriculum') in ('decu', 'vocu')})
  return steps[0] if len(steps) == 1 else None


def collect(result_dirs):
  """``{'results': [{name, steps}], 'claims': [{key, title, points: [...]}]}``.

  Each point: ``estimate``, ``lo``, ``hi``, ``p`` of the claim's primary effect (None when
  not computed) and the ``verdict``, in the order of ``result_dirs``.

  Raises:
    RunNotFoundError: a directory without ``report.json`` (one line from the binary).
  """
  results, claims = [], {}
  for d in result_dirs:
    report = files.require_json(os.path.join(d, 'report.json'), 'bin/reproduce.py --publish')
    results.append({'name': os.path.basename(os.path.normpath(d)), 'steps': _steps(d)})
    for section in report:
      n = section.get('numbers', {})
      entry = claims.setdefault(section['key'], {'key': section['key'],
                                                 'title': section['title'], 'points': []})
      entry['points'].append({k: n.get(f'primary {k}') for k in ('estimate', 'lo', 'hi', 'p')}
                             | {'verdict': section['verdict']})
  ordered = sorted(claims.values(), key=lambda c: (not c['key'].isdigit(), int(c['key'])
                                                  if c['key'].isdigit() else 0))
  return {'results': results, 'claims': ordered}


def _cell(point):
  if point['estimate'] is None or point['lo'] is None:
    return f'n/a ({point["verdict"]})'
  return (f'{point["estimate"]:+.3g} [{point["lo"]:+.3g}, {point["hi"]:+.3g}] '
          f'({point["verdict"]})')


def markdown(table):
  """The dose-response table (effects in the units of each claim's primary effect)."""
  header = ['claim'] + [f'{r["name"]} ({r["steps"] or "?"} steps)' for r in table['results']]
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for c in table['claims']:
    lines.append('| ' + ' | '.join([f'{c["key"]}. {c["title"]}']
                                   + [_cell(p) for p in c['points']]) + ' |')
  return '\n'.join(lines) + '\n'


def write(result_dirs, out):
  """Writes ``<out>/dose_response.json`` and ``.md``; returns the table."""
  table = collect(result_dirs)
  files.write_json(os.path.join(out, 'dose_response.json'), table, indent=1)
  files.write_text(os.path.join(out, 'dose_response.md'), markdown(table))
  return table
