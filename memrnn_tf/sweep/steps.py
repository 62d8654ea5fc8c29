"""Post-steps: analysis binaries run on each trained network of a sweep.

A post-step ``<name>`` runs ``bin/<name>.py --workdir=<run> --<flag>=<value> ...`` with the
flags of the sweep config's ``<name>`` group. It is done when its output file exists and
covers what was asked (the requested delays, for ``extrapolate``); ``sweep.json`` keeps a
summary of that file. Register another with ``register_post_step``.
"""

import dataclasses
import os
from typing import Callable

from memrnn_tf import files
from memrnn_tf.sweep import grid


@dataclasses.dataclass(frozen=True)
class PostStep:
  """How the sweep runs and checks one analysis binary.

  Attributes:
    output: flags dict -> output path relative to the workdir.
    summarize: output JSON -> the summary kept in ``sweep.json``.
    complete: ``(output JSON, flags)`` -> whether the output covers the flags.
    short: summary -> a few characters for the summary table.
  """
  output: Callable[[dict], str]
  summarize: Callable[[dict], dict]
  complete: Callable[[dict, dict], bool]
  short: Callable[[dict], str]


def _extrapolation_output(flags):
  noise = float(flags.get('noise_scale', 1.0))
  suffix = '' if noise == 1.0 else f'_noise{noise:g}'
  return os.path.join('analysis', f'extrapolation{suffix}.json')


def _extrapolation_complete(out, flags):
  wanted = {int(d) for d in str(flags.get('delays', '')).split(',') if d.strip()}
  return wanted <= set(out.get('delays', ()))


def _extrapolation_short(summary):
  pairs = list(zip(summary['delays'], summary['accuracy']))
  return ' '.join(f'd{d}:{a:.2f}' for d, a in pairs if d >= 100) or ' '.join(
      f'd{d}:{a:.2f}' for d, a in pairs)


def _slowpoints_output(flags):
  step = flags.get('checkpoint')
  name = 'slowpoints' if step in (None, '') else f'slowpoints_step{int(step)}'
  return os.path.join('analysis', name + '.json')


_SLOWPOINT_KEYS = ('num_points', 'num_converged', 'num_readout_correct', 'speed_median',
                   'speed_max', 'n_unstable')

POST_STEPS = {
    'extrapolate': PostStep(
        output=_extrapolation_output,
        summarize=lambda out: {k: out[k] for k in ('delays', 'accuracy', 'trials')},
        complete=_extrapolation_complete,
        short=_extrapolation_short),
    'find_slowpoints': PostStep(
        output=_slowpoints_output,
        summarize=lambda out: {k: out.get(k) for k in _SLOWPOINT_KEYS},
        complete=lambda out, flags: True,
        short=lambda s: f'slow pts {s["num_readout_correct"]}/{s["num_points"]} read out'),
    'template_matching': PostStep(
        output=lambda flags: os.path.join('analysis', 'template_matching.json'),
        summarize=lambda out: {k: out[k] for k in ('delays', 'accuracy')},
        complete=_extrapolation_complete,
        short=_extrapolation_short),
}


def register_post_step(name, step):
  """Adds post-step ``name`` (the binary ``bin/<name>.py``) described by a ``PostStep``."""
  POST_STEPS[name] = step


def get_post_step(name):
  """The registered ``PostStep`` called ``name``.

  Raises:
    SweepError (a ValueError): unknown name (listing the known ones).
  """
  if name not in POST_STEPS:
    raise grid.SweepError(f'unknown post-step {name!r}: expected one of {sorted(POST_STEPS)}')
  return POST_STEPS[name]


def read_output(workdir, name, flags):
  """Summary of post-step ``name``'s output in ``workdir``, or None if not done."""
  step = get_post_step(name)
  out = files.read_json(os.path.join(workdir, step.output(flags)))
  if out is None:  # missing, or cut short by a kill
    return None
  return step.summarize(out) if step.complete(out, flags) else None
