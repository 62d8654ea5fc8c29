"""Low-dimensional views of hidden-state dynamics shared by every study of the package.

* ``pca``: principal components of states (the PCA clouds of paper Fig. 3, the flip-flop
  fixed-point views of 003 Figs. 2 and 6).
* ``project``: states on fitted components.
* ``triggered_average``: states averaged around every clean instance of an output switch
  (003 Fig. 3).
"""

import numpy as np

from memrnn_tf import errors


def pca(x, num_components):
  """Principal components of the rows of ``x`` ``[M, N]``.

  Returns:
    ``(mean [N], components [K, N], explained_variance_ratio [K])``; components have unit
    norm and the sign that makes their largest-magnitude entry positive.
  """
  x = np.asarray(x, np.float64)
  mean = x.mean(axis=0)
  cov = np.cov(x - mean, rowvar=False)
  values, vectors = np.linalg.eigh(np.atleast_2d(cov))
  order = np.argsort(values)[::-1][:num_components]
  comps = vectors[:, order].T
  signs = np.sign(comps[np.arange(len(comps)), np.argmax(np.abs(comps), axis=1)])
  comps = comps * signs[:, None]
  ratio = values[order] / max(values.sum(), 1e-300)
  return mean, comps, ratio


def project(x, mean, components):
  """Coordinates ``[..., K]`` of states ``x [..., N]`` on ``components [K, N]`` about
  ``mean [N]`` (from ``pca``)."""
  return (np.asarray(x, np.float64) - mean) @ np.asarray(components).T


def triggered_average(trajectories, switch_from, switch_to, delay, pre, post):
  """Average of the states around every clean instance of one output switch.

  An instance is a pulse at time p on the one channel where ``switch_from`` and
  ``switch_to`` differ, such that in the window [p - pre, p + delay + post] the delayed
  target is ``switch_from`` before p + delay and ``switch_to`` from then on, and the
  undelayed target is ``switch_from`` before p and ``switch_to`` from p on (no other
  pulse changes any output inside the window; pulses repeating the current sign may
  occur). Instances are aligned at the pulse.

  Args:
    trajectories: dict from ``run_trajectories``.
    switch_from, switch_to: output corners ``[C]`` in {-1, +1}, differing in one channel.
    delay: the task's delay d.
    pre, post: steps before the pulse and after the output switch.

  Returns:
    Dict: ``times [L]`` (relative to the pulse), ``mean_states [L, N]``,
    ``mean_outputs [L, C]``, ``num_instances``, ``starts [M, 2]`` (trajectory, pulse time).
  """
  a = np.asarray(switch_from, np.float32)
  b = np.asarray(switch_to, np.float32)
  channel = np.flatnonzero(a != b)
  if channel.size != 1:
    raise errors.ConfigError(f'switch_from {a.tolist()} and switch_to {b.tolist()} must differ in '
                     'exactly one channel')
  channel = int(channel[0])
  states, targets = trajectories['states'], trajectories['targets']
  undelayed, inputs = trajectories['undelayed_targets'], trajectories['inputs']
  num, steps = inputs.shape[:2]
  length = pre + delay + post + 1
  times = np.arange(length) - pre
  delayed_want = np.where((times < delay)[:, None], a, b)  # [L, C]
  undelayed_want = np.where((times < 0)[:, None], a, b)
  starts = []
  for i, p in zip(*np.nonzero(inputs[:, :, channel] == b[channel])):
    lo, hi = p - pre, p + delay + post + 1
    if lo < 0 or hi > steps:
      continue
    if (np.array_equal(targets[i, lo:hi], delayed_want) and
        np.array_equal(undelayed[i, lo:hi], undelayed_want)):
      starts.append((int(i), int(p)))
  if not starts:
    return {'times': times, 'mean_states': np.full((length, states.shape[-1]), np.nan),
            'mean_outputs': np.full((length, len(a)), np.nan), 'num_instances': 0,
            'starts': np.zeros([0, 2], np.int64)}
  windows = np.stack([states[i, p - pre:p + delay + post + 1] for i, p in starts])
  outs = np.stack([trajectories['outputs'][i, p - pre:p + delay + post + 1]
                   for i, p in starts])
  return {'times': times, 'mean_states': windows.mean(axis=0),
          'mean_outputs': outs.mean(axis=0), 'num_instances': len(starts),
          'starts': np.asarray(starts, np.int64)}
