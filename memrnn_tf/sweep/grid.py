"""A sweep config expanded into runs: their names and ``--config.*`` overrides.

A sweep config (``configs/sweep.py``) has

* ``base``: the config every run starts from, ``path:variant`` with the path relative to
  the repository root (``configs/mnist.py:cpu``);
* ``run``: that config with the overrides common to all runs (a ``ConfigDict``, so
  ``--config.run.num_steps=50`` changes a field for every run). A run's command is the
  base plus every field where ``run`` differs from it;
* ``axes``: nested like the run config, each leaf a tuple of values
  (``axes.curriculum = ('decu', 'vocu')``, ``axes.model.cell = ('gru', 'lstm')``); the
  grid is their product, ordered seed-major (all conditions of seed 0 first, so a
  partial sweep is balanced).

Run names: ``<cell>_<curriculum>_<sigmoid|logits>_s<seed>`` always (whether varied or
not, so runs of different grids sharing a root never collide), then ``_<leaf>-<value>``
for every other varied axis (``gru_decu_logits_s3_units-64``).
"""

import copy
import dataclasses
import importlib.util
import itertools
import os
import re

import ml_collections

from memrnn_tf import cli
from memrnn_tf import errors


class SweepError(errors.MemrnnError, ValueError):
  """A sweep config or root that cannot be run (reported as one line)."""


@dataclasses.dataclass(frozen=True)
class Point:
  """One run of the grid.

  Attributes:
    name: directory name under the sweep root.
    overrides: dotted config path -> value: the common overrides, then the axis values.
    config: the run's resolved config.
  """
  name: str
  overrides: dict
  config: ml_collections.ConfigDict


def resolve_path(path):
  """``path`` as given if it exists or is absolute, else relative to the repository root."""
  if os.path.isabs(path) or os.path.exists(path):
    return os.path.abspath(path)
  return os.path.join(cli.REPO_ROOT, path)


def load_config_file(spec):
  """``get_config(variant)`` of the config file in ``spec`` = ``'path.py:variant'``."""
  path, _, variant = spec.partition(':')
  path = resolve_path(path)
  if not os.path.exists(path):
    raise SweepError(f'config file {path} not found (base={spec!r})')
  module_spec = importlib.util.spec_from_file_location(
      'memrnn_sweep_base_' + re.sub(r'\W', '_', path), path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(variant) if variant else module.get_config()


def flatten(config, prefix=''):
  """Dotted path -> leaf value of a nested ``ConfigDict`` / dict, in key order."""
  out = {}
  for key, value in config.items():
    path = f'{prefix}{key}'
    if isinstance(value, (ml_collections.ConfigDict, dict)):
      out.update(flatten(value, path + '.'))
    else:
      out[path] = value
  return out


def config_diff(base, run):
  """Fields of ``run`` that differ from ``base`` (dotted path -> ``run``'s value).

  Raises:
    SweepError: if the two configs do not have the same fields (``run`` was not made
      from ``base``).
  """
  flat_base, flat_run = flatten(base), flatten(run)
  if set(flat_base) != set(flat_run):
    extra = sorted(set(flat_run) ^ set(flat_base))
    raise SweepError(f'the sweep config\'s run config is not made from its base: fields '
                     f'{extra[:5]} differ; define the grid in configs/sweep.py')
  return {k: v for k, v in flat_run.items() if _normal(v) != _normal(flat_base[k])}


def _normal(value):
  return list(value) if isinstance(value, (tuple, list)) else value


def set_field(config, path, value):
  """``config.<path> = value`` for an existing field (the type is checked).

  Raises:
    SweepError: unknown field or a value of the wrong type.
  """
  *parents, leaf = path.split('.')
  target = config
  for p in parents:
    if p not in target or not isinstance(target[p], ml_collections.ConfigDict):
      raise SweepError(f'unknown config field {path!r}')
    target = target[p]
  if leaf not in target:
    raise SweepError(f'unknown config field {path!r}')
  try:
    target[leaf] = value
  except (TypeError, ValueError) as e:
    raise SweepError(f'{path}={value!r}: {e}') from e


def axes_of(sweep_config):
  """``[(dotted path, values)]`` of the grid: ``seed`` first (outermost), others sorted."""
  axes = [(path, tuple(values) if isinstance(values, (tuple, list)) else (values,))
          for path, values in flatten(sweep_config.axes).items()]
  for path, values in axes:
    if not values:
      raise SweepError(f'axis {path} has no values')
  return sorted(axes, key=lambda a: (a[0] != 'seed', a[0]))


# Fields named in every run name, in this order (seed last, as s<seed>).
_NAME_FIELDS = ('model.cell', 'curriculum', 'model.readout_sigmoid', 'seed')


def get_field(config, path):
  """``config.<path>`` for a dotted path, or None if a part is missing."""
  for p in path.split('.'):
    if not isinstance(config, (ml_collections.ConfigDict, dict)) or p not in config:
      return None
    config = config[p]
  return config


def _token(value):
  if isinstance(value, bool):
    text = str(value).lower()
  elif isinstance(value, float):
    text = f'{value:g}'
  elif isinstance(value, (tuple, list)):
    text = '-'.join(_token(v) for v in value)
  else:
    text = str(value)
  return re.sub(r'[^A-Za-z0-9.+-]', '', text)


def run_name(config, varied=()):
  """``<cell>_<curriculum>_<sigmoid|logits>_s<seed>[_<leaf>-<value>...]``.

  Args:
    config: the run's resolved config (fields it lacks are left out of the name).
    varied: dotted paths of the grid's axes; those outside the fixed four add
      ``<leaf>-<value>`` (the full dotted path when two axes share a leaf).
  """
  cell, curriculum, sigmoid, seed = (get_field(config, p) for p in _NAME_FIELDS)
  tokens = [t for t in (cell, curriculum) if t is not None]
  if sigmoid is not None:
    tokens.append('sigmoid' if sigmoid else 'logits')
  if seed is not None:
    tokens.append(f's{seed}')
  others = [p for p in varied if p not in _NAME_FIELDS]
  leaves = [p.rsplit('.', 1)[-1] for p in others]
  for path, leaf in zip(others, leaves):
    label = leaf if leaves.count(leaf) == 1 else path
    tokens.append(f'{label}-{_token(get_field(config, path))}')
  return '_'.join(str(t) for t in tokens)


def expand(sweep_config):
  """The runs of a sweep config, seed-major.

  Returns:
    ``(base_config, points)``: the freshly loaded base config and a list of ``Point``.

  Raises:
    SweepError: unknown axis field, wrong value type, or two runs with one name.
  """
  base = load_config_file(sweep_config.base)
  common = config_diff(base, sweep_config.run)
  axes = axes_of(sweep_config)
  paths = [path for path, _ in axes]
  points = []
  for values in itertools.product(*(v for _, v in axes)):
    config = copy.deepcopy(sweep_config.run)
    for path, value in zip(paths, values):
      set_field(config, path, value)
    overrides = {**common, **dict(zip(paths, values))}
    points.append(Point(run_name(config, paths), overrides, config))
  names = [p.name for p in points]
  duplicates = sorted({n for n in names if names.count(n) > 1})
  if duplicates:
    raise SweepError(f'runs share the names {duplicates[:3]}: two axes give the same name '
                     f'(paths {paths})')
  return base, points


def flag_value(value):
  """``value`` as ``config_flags`` parses it back on a command line."""
  if isinstance(value, (tuple, list)):
    return repr(tuple(value))
  return str(value) if isinstance(value, (bool, str)) else repr(value)


def config_flags_of(overrides):
  """``['--config.<path>=<value>', ...]`` for a dict of overrides."""
  return [f'--config.{path}={flag_value(value)}' for path, value in overrides.items()]
