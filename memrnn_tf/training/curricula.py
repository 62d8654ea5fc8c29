"""Training curricula: naive, vocabulary (VoCu) and delay (DeCu).

A curriculum is a pure function of the training step: it gives the current maximal
report time ``t_max`` and the number of active classes. Because it depends on nothing
but the step, it is evaluated inside the compiled training loop (no retracing when it
changes) and a resumed run follows exactly the same schedule.

Boundaries in the config are in the paper's units (``reference_steps``, e.g. 140,000 for
MNIST) and are scaled to the run's ``num_steps``, so a short CPU run keeps the paper's
shape. New schedules: ``@register_curriculum('name')`` on a function
``(config) -> Curriculum``.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from memrnn_tf import errors

_REGISTRY = {}


@dataclasses.dataclass(frozen=True)
class Curriculum:
  """Piecewise-constant schedule of ``t_max`` and of the number of active classes.

  ``value(step) = values[number of boundaries <= step]``.
  """
  name: str
  t_max_values: tuple
  t_max_boundaries: tuple
  class_values: tuple
  class_boundaries: tuple

  def __post_init__(self):
    for values, bounds, what in ((self.t_max_values, self.t_max_boundaries, 't_max'),
                                 (self.class_values, self.class_boundaries, 'classes')):
      if len(values) != len(bounds) + 1:
        raise errors.ConfigError(f'curriculum {self.name!r}: {len(bounds)} {what} boundaries need '
                                 f'{len(bounds) + 1} values, got {len(values)}')
      if list(bounds) != sorted(bounds):
        raise errors.ConfigError(f'curriculum {self.name!r}: {what} boundaries must increase')

  @staticmethod
  def _at(values, bounds, step):
    return values[int(np.searchsorted(np.asarray(bounds), step, side='right'))]

  def at(self, step):
    """``{'t_max': int, 'num_classes': int}`` at a Python integer step."""
    return {'t_max': int(self._at(self.t_max_values, self.t_max_boundaries, step)),
            'num_classes': int(self._at(self.class_values, self.class_boundaries, step))}

  @staticmethod
  def _tf_at(values, bounds, step):
    if not bounds:
      return tf.constant(values[0], tf.int32)
    passed = tf.reduce_sum(tf.cast(tf.cast(step, tf.int64) >= tf.constant(bounds, tf.int64),
                                   tf.int32))
    return tf.gather(tf.constant(values, tf.int32), passed)

  def t_max(self, step):
    """Current ``t_max`` as an int32 tensor (``step`` may be a tensor)."""
    return self._tf_at(self.t_max_values, self.t_max_boundaries, step)

  def num_classes(self, step):
    """Current number of active classes as an int32 tensor."""
    return self._tf_at(self.class_values, self.class_boundaries, step)

  def events(self):
    """Sorted ``(step, description)`` of every change, for logs and plots."""
    out = [(b, f't_max={v}') for b, v in zip(self.t_max_boundaries, self.t_max_values[1:])]
    out += [(b, f'classes={v}') for b, v in zip(self.class_boundaries, self.class_values[1:])]
    return sorted(out)


def register_curriculum(name):
  """Decorator registering ``factory(config) -> Curriculum`` under ``name``."""
  def wrap(factory):
    _REGISTRY[name] = factory
    return factory
  return wrap


def available():
  return tuple(sorted(_REGISTRY))


def scale_boundaries(boundaries, num_steps, reference_steps):
  """Scales paper-unit boundaries to a run of ``num_steps`` (rounded, kept increasing)."""
  scaled = [int(round(b * num_steps / reference_steps)) for b in boundaries]
  for i in range(1, len(scaled)):
    scaled[i] = max(scaled[i], scaled[i - 1] + 1)
  return tuple(scaled)


def create_curriculum(config):
  """Curriculum named by ``config.curriculum``.

  Raises:
    ConfigError: on an unknown name (the message lists the known ones).
  """
  name = str(config.curriculum).lower()
  if name not in _REGISTRY:
    raise errors.ConfigError(f'unknown curriculum {config.curriculum!r}: expected one of '
                             f'{", ".join(available())}')
  return _REGISTRY[name](config)


def _scaled(config, boundaries):
  return scale_boundaries(boundaries, config.num_steps, config.reference_steps)


@register_curriculum('naive')
def _naive(config):
  return Curriculum('naive', (config.task.t_max,), (), (config.num_classes,), ())


@register_curriculum('decu')
def _decu(config):
  """Delay curriculum: t_max from ``decu.t_max_start`` up by ``decu.t_max_step`` per boundary."""
  c = config.decu
  bounds = _scaled(config, c.boundaries)
  values = [min(c.t_max_start + i * c.t_max_step, config.task.t_max)
            for i in range(len(bounds) + 1)]
  values[-1] = config.task.t_max  # the last stage is always the full task
  return Curriculum('decu', tuple(values), bounds, (config.num_classes,), ())


@register_curriculum('vocu')
def _vocu(config):
  """Vocabulary curriculum: ``vocu.classes_start`` classes, one more per boundary."""
  c = config.vocu
  bounds = _scaled(config, c.boundaries)
  values = [min(c.classes_start + i, config.num_classes) for i in range(len(bounds) + 1)]
  values[-1] = config.num_classes
  return Curriculum('vocu', (config.task.t_max,), (), tuple(values), bounds)
