"""``<root>/sweep.json`` (rewritten atomically as runs start and end) and the summary table.

``sweep.json``::

  {"base": "configs/mnist.py:cpu", "backend": "...", "updated": "2026-12-01T23:10:00Z",
   "counts": {"done": 9, "failed": 1},
   "runs": [{"name": "gru_decu_sigmoid_s0",
             "status": "done" | "failed" | "stopped" | "pending" | "running",
             "seconds": 512.3, "overrides": {"curriculum": "decu", "seed": 0, ...},
             "command": [...bin/train.py ...], "workdir": ..., "log": ...,
             "eval": <eval.json>, "post": {"extrapolate": {"delays": [...],
             "accuracy": [...], "trials": 1000}, "find_slowpoints": {...}},
             "error": null | "train.py exited with code 1; see <log>"}, ...]}

``seconds`` sums the invocations that ran the run to an end (a killed invocation's part is
lost); null for a run trained outside the sweep. Ray runs stay ``pending`` until they end.
"""

import collections
import json
import os
import time

from memrnn_tf import files

FILENAME = 'sweep.json'


def load(root):
  """The previous ``sweep.json`` of ``root`` as ``{name: run record}`` ({} if none)."""
  try:
    with open(os.path.join(root, FILENAME)) as f:
      return {r['name']: r for r in json.load(f).get('runs', [])}
  except (OSError, ValueError, KeyError, TypeError):
    return {}


def write(root, header, records):
  """Writes ``sweep.json`` atomically (readers never see half a file)."""
  counts = collections.Counter(r['status'] for r in records)
  obj = {**header, 'updated': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
         'counts': dict(sorted(counts.items())), 'runs': records}
  files.write_json(os.path.join(root, FILENAME), obj, indent=1)


def _test(record, key):
  test = (record.get('eval') or {}).get('test') or {}
  return f'{test[key]:.4f}' if key in test else '-'


def summary_table(records, post_short=None):
  """A text table: name, status, minutes, test digit and null accuracy, post-steps.

  Args:
    records: run records of ``sweep.json``.
    post_short: ``{post-step name: summary -> str}`` for the last column.
  """
  post_short = post_short or {}
  rows = [('run', 'status', 'min', 'test digit', 'test null', 'post-steps')]
  for r in records:
    seconds = r.get('seconds')
    post = '; '.join(post_short[k](v) for k, v in (r.get('post') or {}).items()
                     if v is not None and k in post_short)
    rows.append((r['name'], r['status'], '-' if seconds is None else f'{seconds / 60:.1f}',
                 _test(r, 'digit_accuracy'), _test(r, 'null_accuracy'), post))
  widths = [max(len(row[i]) for row in rows) for i in range(5)]
  lines = ['  '.join(c.ljust(w) for c, w in zip(row[:5], widths)) + '  ' + row[5]
           for row in rows]
  failed = [r for r in records if r['status'] == 'failed']
  lines += [f'FAILED {r["name"]}: {r.get("error")}' for r in failed]
  return '\n'.join(line.rstrip() for line in lines)
