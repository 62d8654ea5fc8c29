"""Helpers shared by the figure modules: the Agg backend, saving, reading results."""

import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top
import numpy as np  # noqa: E402  pylint: disable=g-import-not-at-top

from memrnn_tf import files  # noqa: E402  pylint: disable=g-import-not-at-top

CHANCE = 0.1  # ten classes


def save(fig, path):
  """Writes ``fig`` to ``path`` (parents created) and closes it; returns ``path``."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=120, bbox_inches='tight')
  plt.close(fig)
  return path


def read_json(directory, name, command):
  """``<directory>/analysis/<name>.json``; ``RunNotFoundError`` naming ``command`` if absent."""
  return files.require_json(os.path.join(directory, 'analysis', f'{name}.json'), command)


def read_npz(directory, name, command):
  """``<directory>/analysis/<name>.npz`` as a dict of arrays."""
  return files.require_npz(os.path.join(directory, 'analysis', f'{name}.npz'), command)


def figure_path(directory, name):
  return os.path.join(directory, 'figures', f'{name}.png')


def as_float(values):
  """Nested lists with None (JSON null) -> float array with NaN."""
  return np.array(values, dtype=object).astype(float) if values is not None else None
