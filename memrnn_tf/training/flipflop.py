"""The flip-flop experiment (003): its task, model, checks and learning-rate steps.

What ``memrnn_tf.training.experiment`` needs to build, train and reload a flip-flop run;
everything else (validation of the shared fields, the optimiser, the loop, checkpoints)
is the shared experiment's. A config is a flip-flop config when its task has
``num_bits`` (``configs/flipflop.py``; the delayed-classification task has none).
"""

from memrnn_tf import errors
from memrnn_tf.data import flipflop as flipflop_data
from memrnn_tf.models import flipflop as flipflop_models

# Fields that must be >= 1 beside the shared ones (``experiment.validate_config``).
POSITIVE_FIELDS = ('keep_checkpoints',)


def is_flipflop(config):
  """Whether ``config`` is a flip-flop config (its task has ``num_bits``)."""
  return 'num_bits' in config.task


def make_task(config, **overrides):
  """``FlipFlopTask`` from ``config.task`` (with optional overrides)."""
  values = dict(config.task.to_dict())
  values.update(overrides)
  return flipflop_data.FlipFlopTask(
      num_bits=int(values['num_bits']), seq_len=int(values['seq_len']),
      pulse_prob=float(values['pulse_prob']), delay=int(values['delay']),
      initial_pulse=bool(values.get('initial_pulse', True)))


def check_config(config):
  """Checks the task, the model and the decay steps; raises one-line ``ConfigError``s."""
  make_task(config)
  if config.model.bptt not in flipflop_models.BPTT_MODES:
    raise errors.ConfigError(f'unknown config.model.bptt={config.model.bptt!r}: expected one of '
                             f'{", ".join(flipflop_models.BPTT_MODES)}')
  lr_boundaries(config)


def lr_boundaries(config):
  """Steps after which the learning rate is multiplied by ``lr_decay_factor`` once more.

  ``lr_decay_at`` holds fractions of ``num_steps``. Without the decay the delayed
  network's accuracy wanders by several percent between checkpoints at lr 1e-3 (measured:
  99.8%, 99.3%, 94.2% on long trials at steps 6000, 7000, 8000).

  Raises:
    ConfigError: a fraction outside (0, 1).
  """
  fractions = sorted(float(f) for f in config.get('lr_decay_at', ()))
  if any(not 0.0 < f < 1.0 for f in fractions):
    raise errors.ConfigError(f'config.lr_decay_at={tuple(fractions)} must be fractions in (0, 1)')
  return [int(round(f * int(config.num_steps))) for f in fractions]


def describe(config):
  """The network, as the training log names it."""
  c = config
  return (f'flip-flop RNN-{c.model.units} (delay {c.task.delay}, bptt {c.model.bptt} '
          f'{c.model.truncation})')
