"""Slow-point speed against accuracy at a long delay (paper Fig. 4), across classes and
networks.

For every run and class: the speed of the class's slow point (``classes[k].speed`` of
``analysis/slowpoints.json``, written by ``bin/find_slowpoints.py``) and the accuracy of
that class's trials at the long delay (``per_class`` of the extrapolation curve, reused
from ``analysis/extrapolation[_tmax].json`` when it covers the delay, computed otherwise).

Slow-point searches are not started here: a run without ``analysis/slowpoints.json``
is an error naming the command to run (``python bin/find_slowpoints.py --workdir=RUN``),
because the search has its own options and output that deserve a look.

Correlations are between log10 speed and accuracy: per network (n = classes), pooled
over the networks of each condition and over all networks; Spearman's rho (rank-based,
so the log does not matter) and Pearson's r, each with a two-sided permutation p-value
(``stats.permutation_test``). Speeds are floored at ``SPEED_FLOOR`` before the log.
"""

import numpy as np

from memrnn_tf import errors
from memrnn_tf.analysis import extrapolation
from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import stats

NAME = 'speed_accuracy'
SPEED_FLOOR = 1e-30
# The paper's long delays: 1,000 steps for MNIST, 500 for CIFAR-10.
LONG_DELAY = {'mnist': 1000, 'cifar10': 500}


def result_name(protocol='fixed'):
  """``speed_accuracy`` (fixed-delay accuracy) or ``speed_accuracy_tmax``."""
  return NAME if protocol == 'fixed' else f'{NAME}_{protocol}'


def long_delay(workdir):
  """The paper's long delay for the run's dataset."""
  return LONG_DELAY.get(multirun.condition(workdir)['dataset'], 1000)


def class_speeds(workdir):
  """``(speed [C], readout_matches [C])`` of the run's class slow points.

  Raises:
    MemrnnError: when the run has no ``analysis/slowpoints.json`` (naming the command).
  """
  table = multirun.read_result(workdir, 'slowpoints')
  if table is None or 'classes' not in table:
    raise errors.MemrnnError(f'{workdir} has no analysis/slowpoints.json: run python '
                             f'bin/find_slowpoints.py --workdir={workdir} first')
  classes = sorted(table['classes'], key=lambda c: c['class'])
  return (np.array([c['speed'] for c in classes], np.float64),
          np.array([c['readout_class'] == c['class'] for c in classes]))


def network_points(workdir, delay=None, protocol='fixed', num_trials=1000, seed=0,
                   recompute=False):
  """Per-class speed and long-delay accuracy of one run.

  Returns:
    Dict: ``delay``, ``protocol``, ``speed [C]``, ``log10_speed [C]``, ``accuracy [C]``,
    ``readout_matches [C]`` and the per-network ``correlations``.
  """
  delay = int(delay or long_delay(workdir))
  speed, matches = class_speeds(workdir)
  curve = extrapolation.extrapolate_workdir(workdir, [delay], num_trials=num_trials,
                                           seed=seed, protocol=protocol,
                                           recompute=recompute)
  accuracy = np.array([np.nan if a is None else a for a in curve['per_class'][0]])
  log_speed = np.log10(np.maximum(speed, SPEED_FLOOR))
  return {'workdir': workdir, 'condition': multirun.condition_key(workdir), 'delay': delay,
          'protocol': protocol, 'speed': speed.tolist(), 'log10_speed': log_speed.tolist(),
          'accuracy': accuracy.tolist(), 'readout_matches': matches.tolist(),
          'correlations': stats.correlations(log_speed, accuracy)}


def speed_accuracy_runs(workdirs, delay=None, protocol='fixed', num_trials=1000, seed=0,
                        out_dir=None, num_permutations=10_000, recompute=False):
  """Speed against accuracy over several runs, written per run
  (``<run>/analysis/speed_accuracy.json``) and as an aggregate
  (``<out_dir>/analysis/speed_accuracy_summary.json``); ``speed_accuracy_tmax*`` with
  ``protocol='tmax'``.

  Returns:
    The summary: ``networks`` (each ``network_points``), ``conditions`` (per condition:
    pooled correlations; mean +- SEM over networks of the per-network mean log10 speed,
    mean accuracy, Spearman rho and Pearson r), ``pooled`` (all networks together).
  """
  out_dir = out_dir or multirun.default_out_dir(workdirs)
  networks = []
  for w in workdirs:
    net = network_points(w, delay, protocol, num_trials, seed, recompute)
    multirun.write_result(w, result_name(protocol), net)
    networks.append(net)

  def pooled(nets):
    x = np.concatenate([n['log10_speed'] for n in nets])
    y = np.concatenate([n['accuracy'] for n in nets])
    return stats.correlations(x, y, num_permutations, seed)

  conditions = {}
  for key, nets in stats.group([n['condition'] for n in networks], networks).items():
    conditions[key] = {
        'pooled': pooled(nets), 'num_networks': len(nets),
        'mean_log10_speed': stats.summarize([np.mean(n['log10_speed']) for n in nets]),
        'mean_accuracy': stats.summarize([np.nanmean(n['accuracy']) for n in nets]),
        'spearman': stats.summarize([n['correlations']['spearman']['r'] for n in nets]),
        'pearson': stats.summarize([n['correlations']['pearson']['r'] for n in nets]),
        'runs': [n['workdir'] for n in nets]}
  summary = {'delay': networks[0]['delay'], 'protocol': protocol,
             'num_permutations': num_permutations, 'networks': networks,
             'conditions': conditions, 'pooled': pooled(networks)}
  multirun.write_result(out_dir, f'{result_name(protocol)}_summary', summary)
  return summary


def format_summary(summary):
  """Text table of a ``speed_accuracy_runs`` summary."""
  fmt = stats.format_correlation
  lines = [f'log10 slow-point speed vs class accuracy at delay {summary["delay"]} '
           f'({summary["protocol"]} protocol)', 'per network:']
  for n in summary['networks']:
    lines.append(f'  {n["workdir"]}: {fmt(n["correlations"])}, mean acc '
                 f'{np.nanmean(n["accuracy"]):.3f}, mean log10 speed '
                 f'{np.mean(n["log10_speed"]):.2f}')
  def pm(s):
    return stats.format_mean_sem(s['mean'], s['sem'], scale=1.0, digits=3, unit='')

  for key, c in summary['conditions'].items():
    lines.append(f'{key} (N={c["num_networks"]}): pooled {fmt(c["pooled"])}; per-network '
                 f'rho {pm(c["spearman"])}, r {pm(c["pearson"])}; mean log10 speed '
                 f'{pm(c["mean_log10_speed"])}, mean accuracy {pm(c["mean_accuracy"])}')
  lines.append(f'all networks pooled: {fmt(summary["pooled"])}')
  return '\n'.join(lines)
