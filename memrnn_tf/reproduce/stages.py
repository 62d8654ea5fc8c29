"""The stages of the reproduction: each one command of a ``bin/`` binary and its outputs.

A stage is built from the reproduce config and what is on disk when it is about to run:
an analysis takes the finished runs that its ``runs`` globs select at that moment. Every
stage is a plain command that a user could type; ``reproduce.json`` records it, and the
report quotes it as the command that regenerates a result.
"""

import dataclasses
import fnmatch
import glob
import os
import sys

from memrnn_tf import cli
from memrnn_tf.sweep import grid
from memrnn_tf.sweep import runs as runs_lib

# Analysis stages in the order they run: (stage name, config group, binary, output file
# relative to the aggregate directory, aggregate directory relative to the root).
_ANALYSES = (
    # The authors' slow-point search on every DeCu/VoCu network (per run).
    ('slowpoints_paper_mnist', 'slowpoints_paper', 'find_slowpoints', 'slowpoints_paper', None),
    ('extrapolate_mnist', 'extrapolate', 'extrapolate', 'analysis/extrapolation_summary.json',
     'aggregate/mnist'),
    ('extrapolate_cifar10', 'extrapolate_cifar10', 'extrapolate',
     'analysis/extrapolation_summary.json', 'aggregate/cifar10'),
    ('speed_accuracy_mnist', 'speed_accuracy', 'speed_accuracy',
     'analysis/speed_accuracy_summary.json', 'aggregate/mnist'),
    ('pca_mnist', 'pca', 'pca', None, None),
    ('backtrack_mnist', 'backtrack', 'backtrack', 'analysis/backtrack.json',
     'aggregate/backtrack'),
    ('branching_mnist', 'branching', 'branching', 'analysis/branching.json',
     'aggregate/branching'),
)
REGULARIZATION_FIGURE = 'aggregate/regularization/figures/regularization.png'
TEMPLATE_MATCHING_FIGURE = 'aggregate/template_matching/figures/template_matching.png'


@dataclasses.dataclass
class Stage:
  """One step of the pipeline.

  Attributes:
    name: e.g. ``train_mnist_gru``, ``extrapolate_mnist``, ``regularize_control_<run>``.
    kind: ``sweep`` (a training grid), ``run`` (one training run) or ``analysis``.
    argv: the command, ``[python, bin/<name>.py, flags...]``; empty when nothing selects
      runs for it (``skip_reason`` says why).
    workdirs: the runs it trains or reads.
    outputs: files whose presence marks it done.
    figure_globs: where its figures land (globs).
    done: callable -> whether the outputs are complete (sweeps check every run).
    skip_reason: why it cannot run now (no finished runs match), else None.
  """
  name: str
  kind: str
  argv: list
  workdirs: list
  outputs: list
  figure_globs: list = dataclasses.field(default_factory=list)
  done: object = None
  skip_reason: str = None

  @property
  def command(self):
    """The command as a user would type it from the repository root."""
    return ' '.join(_display(a) for a in self.argv)

  def is_done(self):
    if self.done is not None:
      return bool(self.done())
    return bool(self.outputs) and all(os.path.exists(p) for p in self.outputs)

  def figures(self):
    return sorted({p for g in self.figure_globs for p in glob.glob(g)})


def _display(arg):
  """``arg`` with the interpreter as ``python`` and paths relative to the repository."""
  if arg == sys.executable:
    return 'python'
  if arg.startswith(cli.REPO_ROOT + os.sep):
    return os.path.relpath(arg, cli.REPO_ROOT)
  if '=' in arg and cli.REPO_ROOT in arg:
    return arg.replace(cli.REPO_ROOT + os.sep, '')
  return arg


def _binary(name):
  return [sys.executable, os.path.join(cli.REPO_ROOT, 'bin', f'{name}.py')]


def _flags(group, skip=('runs',)):
  return [f'--{k}={grid.flag_value(v)}' for k, v in grid.flatten(group).items() if k not in skip]


def sweep_spec(config, study):
  """``configs/sweep.py:<variant>_<study>``."""
  return f'configs/sweep.py:{config.variant}_{study}'


def studies(config):
  return [s.strip() for s in config.studies.split(',') if s.strip()]


def sweep_stage(config, root, study, backend_flags=()):
  """The training grid of ``study`` under ``<root>/<study>`` (``bin/sweep.py``)."""
  spec = sweep_spec(config, study)
  sweep_config = grid.load_config_file(spec)
  sweep_root = os.path.join(root, study)
  _, points = grid.expand(sweep_config)
  specs = [runs_lib.make_spec(p, sweep_root, sweep_config) for p in points]
  argv = _binary('sweep') + [f'--config={spec}', f'--root={sweep_root}', *backend_flags]
  return Stage(f'train_{study}', 'sweep', argv, [s.workdir for s in specs],
               [os.path.join(sweep_root, 'sweep.json')],
               done=lambda: all(runs_lib.read_state(s)['done'] for s in specs))


def finished_runs(root, patterns):
  """Run directories ``<root>/<study>/<name>`` matching the comma-separated globs whose
  training finished (``eval.json`` present), sorted."""
  found = []
  for pattern in (p.strip() for p in patterns.split(',') if p.strip()):
    for path in sorted(glob.glob(os.path.join(root, pattern))):
      if os.path.isfile(os.path.join(path, 'eval.json')) and path not in found:
        found.append(path)
  return found


def analysis_stages(config, root):
  """The aggregate analyses, each over the finished runs its ``runs`` globs select."""
  out = []
  for name, group_name, binary, output, aggregate in _ANALYSES:
    group = config[group_name]
    workdirs = finished_runs(root, group.runs)
    argv, outputs, figures = [], [], []
    if workdirs:
      argv = _binary(binary) + [f'--workdirs={",".join(workdirs)}'] + _flags(group)
      if aggregate:
        out_dir = os.path.join(root, aggregate)
        argv.append(f'--out={out_dir}')
        outputs = [os.path.join(out_dir, output)]
        # Its own figure only: aggregates of several analyses share a directory.
        stem = os.path.splitext(os.path.basename(output))[0]
        figures = [os.path.join(out_dir, 'figures', f'{stem}*.png')]
      else:  # per-run results only
        outputs = [os.path.join(w, 'analysis', f'{output or binary}.json') for w in workdirs]
        figures = [os.path.join(w, 'figures', f'{binary}*.png') for w in workdirs]
    out.append(Stage(name, 'analysis', argv, workdirs, outputs, figures,
                     skip_reason=None if workdirs else f'no finished run matches {group.runs}'))
  return out


def regularize_stages(config, root):
  """One stage per (selected run, arm) of speed regularisation."""
  group = config.regularize
  arms = [a.strip() for a in group.arms.split(',') if a.strip()]
  flags = _flags(group, skip=('runs', 'arms'))
  # Runs of another length must not be reused as these: the length is in the name.
  suffix = f'_steps{group.steps}' if group.get('steps') else ''
  out = []
  for source in finished_runs(root, group.runs):
    for arm in arms:
      workdir = os.path.join(root, 'regularize', f'{arm}_{os.path.basename(source)}{suffix}')
      arm_flags = ['--penalty=0'] if arm == 'control' else [f'--targets={arm}']
      argv = _binary('regularize') + [f'--workdir={source}', f'--out={workdir}', *arm_flags,
                                      *flags]
      out.append(Stage(f'regularize_{arm}_{os.path.basename(source)}', 'run', argv, [workdir],
                       [os.path.join(workdir, 'analysis', 'regularization.json')]))
  return out


def _figure_stage(binary, done, figure, what):
  """``bin/<binary>.py --workdirs=<done> --out=<figure>``, skipped while ``done`` is empty
  (``what`` names the runs it waits for)."""
  argv = (_binary(binary) + [f'--workdirs={",".join(done)}', f'--out={figure}']
          if done else [])
  return Stage(binary, 'analysis', argv, done, [figure] if done else [], [figure],
               skip_reason=None if done else f'no finished {what} run')


def regularization_figure_stage(config, root):
  """The figure over every finished regularisation run (build it after they ran)."""
  done = [s.workdirs[0] for s in regularize_stages(config, root) if s.is_done()]
  return _figure_stage('plot_regularization', done, os.path.join(root, REGULARIZATION_FIGURE),
                       'regularisation')


def template_matching_figure_stage(config, root):
  """Fig. 7 over every template-matching run whose analysis finished."""
  del config  # the runs are whatever the template-matching grid left under the root
  done = [w for w in finished_runs(root, 'template_matching/*')
          if os.path.exists(os.path.join(w, 'analysis', 'template_matching.json'))]
  return _figure_stage('plot_template_matching', done,
                       os.path.join(root, TEMPLATE_MATCHING_FIGURE), 'template-matching')


def flipflop_stages(config, root):
  """The flip-flop networks of 003 (the flip-flop paper), ``delay8`` compared with ``delay0``."""
  variants = [v.strip() for v in config.flipflop.split(',') if v.strip()]
  seeds = [int(x) for x in str(config.get('flipflop_seeds', '0')).split(',') if x.strip()]
  out = []
  for seed in seeds:
    suffix = '' if seed == 0 else f'_s{seed}'  # seed 0 keeps the names of single-seed roots
    for v in variants:
      workdir = os.path.join(root, 'flipflop', v + suffix)
      argv = _binary('flipflop') + [f'--config=configs/flipflop.py:{v}', f'--workdir={workdir}']
      if seed:
        argv += [f'--config.seed={seed}', '--config.plots=False']
      if v != 'delay0' and 'delay0' in variants:
        argv.append('--config.compare_with='
                    f'{os.path.join(root, "flipflop", "delay0" + suffix)}')
      out.append(Stage(f'flipflop_{v}{suffix}', 'run', argv, [workdir],
                       [os.path.join(workdir, 'analysis', 'summary.json')],
                       [os.path.join(workdir, 'figures', '*.png')]))
  return out


def stage_names(config):
  """Every stage name the config can produce, in order (regularisation names use the
  selected runs, so they appear as the pattern ``regularize_<arm>_*``)."""
  arms = [a.strip() for a in config.regularize.arms.split(',') if a.strip()]
  return ([f'train_{s}' for s in studies(config)]
          + [s.name for s in flipflop_stages(config, '')]
          + [a[0] for a in _ANALYSES] + ['plot_template_matching']
          + [f'regularize_{a}_*' for a in arms] + ['plot_regularization'])


def selected(name, patterns):
  """Whether stage ``name`` matches one of the ``--stages`` globs (all when none)."""
  return not patterns or any(fnmatch.fnmatch(name, p) for p in patterns)
