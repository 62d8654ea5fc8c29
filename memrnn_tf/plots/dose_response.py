"""The dose-response figure: each claim's primary effect (95% interval) against training
steps, from ``dose_response.json`` (``memrnn_tf.reproduce.dose``); never recomputes it."""

import json
import math
import os


def plot(directory):
  """Draws ``<directory>/dose_response.png`` from ``<directory>/dose_response.json``."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  with open(os.path.join(directory, 'dose_response.json')) as f:
    table = json.load(f)
  steps = [r['steps'] for r in table['results']]
  claims = [c for c in table['claims'] if any(p['estimate'] is not None for p in c['points'])]
  cols = 4
  rows = max(1, math.ceil(len(claims) / cols))
  fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
  for ax, c in zip(axes.flat, claims):
    xs = [(s, p) for s, p in zip(steps, c['points']) if s and p['estimate'] is not None]
    if xs:
      x = [s for s, _ in xs]
      y = [p['estimate'] for _, p in xs]
      err = [[p['estimate'] - p['lo'] for _, p in xs], [p['hi'] - p['estimate'] for _, p in xs]]
      ax.errorbar(x, y, yerr=err, marker='o', capsize=3)
      ax.set_xscale('log')
    ax.axhline(0.0, color='grey', lw=0.8)
    ax.set_title(f'{c["key"]}. {c["title"]}'[:48], fontsize=8)
    ax.set_xlabel('training steps', fontsize=8)
  for ax in list(axes.flat)[len(claims):]:
    ax.axis('off')
  fig.suptitle('Primary effect (positive = the paper\'s direction), 95% interval')
  fig.tight_layout()
  path = os.path.join(directory, 'dose_response.png')
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path
