"""The (delayed) N-bit flip-flop task (003, after Sussillo & Barak 2013), vectorised.

Every channel ``c`` of the input receives pulses of +1 or -1 at random times and is 0
otherwise: at every step a channel pulses with probability ``pulse_prob`` (a Bernoulli
approximation of the paper's Poisson process; the paper's "rate lambda = 50" and "about
2000 inputs in 100,000 steps" both read as one pulse every ~50 steps, i.e.
``pulse_prob = 0.02`` per channel, which is the config default), with a random sign.
The undelayed target of channel ``c`` at time ``t`` is the sign of its last pulse at or
before ``t``; with ``delay = d`` the target is the undelayed one shifted by ``d`` steps,
``target_d(t) = target_0(t - d)``, so the output changes exactly ``d`` steps after the
pulse (and a pulse arriving while an earlier one is still pending is played back in
order: the task needs a memory of the recent pulse sequence, not only of the last one).

Before its first pulse a channel has no defined output. The paper does not say what it
used there. Here, with ``initial_pulse=True`` (default), every channel receives a pulse
of random sign at ``t = 0``, so the undelayed target is defined from the first step; steps
whose target is still undefined (``t < d`` for the delayed task, or before the first pulse
with ``initial_pulse=False``) get target 0 and loss weight 0.

Sampling is a pure function of a ``[2]`` integer seed (stateless RNG) and has no
per-trial or per-step Python loop: the target is a gather of the signs of the pulses by
their running count (a segment sum over ``(trial, channel, pulse number)``).
"""

import dataclasses

import tensorflow as tf

from memrnn_tf import errors


@dataclasses.dataclass
class FlipFlopTask:
  """The delayed flip-flop task.

  Attributes:
    num_bits: number of independent channels (inputs = outputs = ``num_bits``).
    seq_len: steps per trial.
    pulse_prob: probability that a channel pulses at a given step.
    delay: steps between a pulse and the change of the output (003: 0 and 8).
    initial_pulse: force a random pulse on every channel at ``t = 0``.
  """
  num_bits: int = 3
  seq_len: int = 100
  pulse_prob: float = 0.02
  delay: int = 0
  initial_pulse: bool = True

  def __post_init__(self):
    self.validate()

  def validate(self):
    """Raises ConfigError (one line, naming the field) on inconsistent parameters."""
    if self.num_bits < 1:
      raise errors.ConfigError(f'task.num_bits={self.num_bits} must be >= 1')
    if self.seq_len < 1:
      raise errors.ConfigError(f'task.seq_len={self.seq_len} must be >= 1')
    if not 0.0 <= self.pulse_prob <= 1.0:
      raise errors.ConfigError(f'task.pulse_prob={self.pulse_prob} must be in [0, 1]')
    if self.delay < 0 or self.delay >= self.seq_len:
      raise errors.ConfigError(f'task.delay={self.delay} must be in [0, seq_len={self.seq_len})')
    return self

  def sample(self, seed, batch_size, seq_len=None):
    """Draws a batch of trials.

    Args:
      seed: ``[2]`` integer seed (stateless).
      batch_size: Python int ``B``.
      seq_len: Python int ``T`` overriding ``self.seq_len`` (e.g. long test trajectories).

    Returns:
      Dict of tensors:
        ``inputs``: ``[B, T, C]`` float32 in {-1, 0, +1}.
        ``targets``: ``[B, T, C]`` float32 in {-1, +1} (0 where undefined).
        ``weights``: ``[B, T, C]`` float32, 1 where the target is defined, else 0.
        ``undelayed_targets``: ``[B, T, C]`` float32, the targets for ``delay = 0``.
    """
    steps = int(self.seq_len if seq_len is None else seq_len)
    shape = [int(batch_size), steps, self.num_bits]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=2)
    pulse = tf.random.stateless_uniform(shape, seeds[0]) < self.pulse_prob
    if self.initial_pulse:
      first = tf.equal(tf.range(steps), 0)[None, :, None]
      pulse = pulse | first
    positive = tf.random.stateless_uniform(shape, seeds[1]) < 0.5
    sign = tf.where(positive, 1.0, -1.0)
    inputs = tf.where(pulse, sign, 0.0)
    return {'inputs': inputs, **flipflop_targets(inputs, self.delay)}


def flipflop_targets(inputs, delay=0):
  """Targets of the (delayed) flip-flop for given pulses.

  Args:
    inputs: ``[B, T, C]`` pulses in {-1, 0, +1}.
    delay: d >= 0.

  Returns:
    Dict: ``targets [B, T, C]`` (sign of the last pulse at or before t - d; 0 if none),
    ``weights [B, T, C]`` (1 where the target is defined) and ``undelayed_targets``.
  """
  inputs = tf.convert_to_tensor(inputs, tf.float32)
  undelayed = _last_pulse_sign(inputs)
  d = int(delay)
  if d:
    targets = tf.pad(undelayed[:, :-d], [[0, 0], [d, 0], [0, 0]])
  else:
    targets = undelayed
  weights = tf.cast(tf.not_equal(targets, 0.0), tf.float32)
  return {'targets': targets, 'weights': weights, 'undelayed_targets': undelayed}


def _last_pulse_sign(inputs):
  """Sign of the last pulse at or before every step (0 before the first pulse).

  Args:
    inputs: ``[B, T, C]`` float32, the signed pulses (0 where no pulse).

  Returns:
    ``[B, T, C]`` float32.
  """
  pulse = tf.not_equal(inputs, 0.0)
  shape = tf.shape(pulse)
  b, t, c = shape[0], shape[1], shape[2]
  count = tf.cumsum(tf.cast(pulse, tf.int32), axis=1)  # k: pulses so far (0 = none yet)
  # Segment (trial, channel, k) holds exactly one pulse, the k-th; segment k = 0 none.
  trial = tf.range(b)[:, None, None]
  channel = tf.range(c)[None, None, :]
  ids = (trial * c + channel) * (t + 1) + count  # [B, T, C]
  signs = tf.math.unsorted_segment_sum(tf.reshape(inputs, [-1]), tf.reshape(ids, [-1]),
                                       b * c * (t + 1))
  return tf.gather(signs, ids)
