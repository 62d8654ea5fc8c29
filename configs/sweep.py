r"""Grids of training runs for bin/sweep.py (many networks per condition).

Commands (from the repository root):

  python bin/sweep.py --config=configs/sweep.py:gru_sigmoid --root=runs/sweep_gru_sigmoid
  python bin/sweep.py --config=configs/sweep.py:smoke --root=/tmp/sweep_smoke
  python bin/sweep.py --config=configs/sweep.py:paper --root=/shared/runs/paper \
      --ray_address=auto --config.resources.num_gpus=0.25

Variants (``--config=configs/sweep.py:<variant>``):

* ``smoke``: 4 tiny runs (mnist ``smoke``, 8 steps, DeCu/VoCu x seeds 0-1), seconds each;
  for tests. Accuracy ~0 (the networks are untrained).
* ``gru_sigmoid``: 10 GRU-200 networks on the mnist ``cpu`` config with the authors'
  sigmoid readout, DeCu and VoCu x seeds 0-4, then ``extrapolate`` (delays
  4-1000) and ``find_slowpoints`` on each, one run at a time on 2 cores (the default
  ``--concurrency``: one run per two cores); expected >= 95% test digit accuracy for each.
* ``gru_logits``: the same with plain logits (``model.readout_sigmoid=False``).
* ``paper``: the paper's protocol, GRU and LSTM x naive / DeCu / VoCu x seeds 0-9
  (60 networks) on the mnist ``paper`` config, with the same post-steps: hours per
  network on a CPU, meant for a Ray cluster or GPUs. Naive stays near chance.
* ``paper_gru_mnist_gru``: the decisive arm of the paper's protocol: GRU-200 with the authors'
  sigmoid readout, DeCu and VoCu x seeds 0-4 on the mnist ``paper`` config (140,000 steps
  of batch 128, lr 1e-4 then 1e-5, the appendix's boundaries), with the fastest measured
  ``config.perf`` settings on 2 CPU cores (no XLA, 2 chains, one thread per op; they change
  speed only). About 2-2.8 hours per network on 2 cores, ~1 day for the 10; resumable.
  The training grid of ``configs/reproduce.py:paper_gru`` (which analyses and judges it by
  ``docs/analysis_plan.md``).
* ``paper_gru_35k_mnist_gru``: the same 10 networks at 35,000 steps (boundaries and the learning-rate
  decay scaled by 35,000 / 140,000, learning rate as ``paper``): the middle point of the
  dose-response between the ``cpu`` config (6,000 steps) and ``paper``. ~40 min each.
* ``<size>_<study>`` with size ``smoke`` | ``cpu`` | ``paper`` and study ``mnist_gru`` |
  ``mnist_lstm`` | ``template_matching`` | ``cifar10``: the training grids of
  ``bin/reproduce.py`` (``configs/reproduce.py`` says which it runs and why these sizes).
  ``cpu_mnist_gru`` holds the ``gru_sigmoid`` and ``gru_logits`` runs (same names and
  configs) plus naive training with both readouts.

Fields: ``base`` (config file and variant every run starts from), ``run`` (that config
with the overrides common to all runs: ``--config.run.num_steps=50`` shortens every run),
``axes`` (tuples of values; ``--config.axes.seed='(0, 1)'``), ``post_steps``
(comma-separated binaries run on each trained network; empty for none) with one group of
flags per post-step (``--config.extrapolate.num_trials=500``), and ``resources`` (CPUs
and GPUs per run for the Ray backend; ``num_gpus`` may be fractional). Run names are
``<cell>_<curriculum>_<sigmoid|logits>_s<seed>`` (memrnn_tf/sweep/grid.py).
"""

import ml_collections

from memrnn_tf.sweep import grid

_DELAYS = '4,19,50,100,200,500,1000'
_CURRICULA = ('decu', 'vocu')


def _grid(base, axes, post_steps='', **overrides):
  config = ml_collections.ConfigDict()
  # What every run is.
  config.base = base
  config.run = grid.load_config_file(base)
  for path, value in overrides.items():
    grid.set_field(config.run, path.replace('__', '.'), value)
  # What varies: the grid is the product of these tuples.
  config.axes = ml_collections.ConfigDict(axes)
  # Analysis of each trained network (bin/<name>.py with these flags).
  config.post_steps = post_steps
  config.extrapolate = ml_collections.ConfigDict(dict(delays=_DELAYS, num_trials=1000))
  config.find_slowpoints = ml_collections.ConfigDict(dict(max_iters=200_000))
  # Per run, for the Ray backend (the local backend shares out this machine's cores).
  config.resources = ml_collections.ConfigDict(dict(num_cpus=1.0, num_gpus=0.0))
  return config


def get_config(arg='smoke'):
  """Returns the sweep config of variant ``arg``."""
  curricula = _CURRICULA
  if arg == 'smoke':
    config = _grid('configs/mnist.py:smoke', dict(curriculum=curricula, seed=(0, 1)),
                   num_steps=8, eval_trials=32, eval_batch_size=32)
    config.extrapolate.delays = '4,19'
    config.extrapolate.num_trials = 32
    config.find_slowpoints.max_iters = 100
  elif arg in ('gru_sigmoid', 'gru_logits'):
    config = _grid('configs/mnist.py:cpu', dict(curriculum=curricula, seed=tuple(range(5))),
                   post_steps='extrapolate,find_slowpoints', model__cell='gru',
                   model__readout_sigmoid=arg == 'gru_sigmoid')
  elif arg == 'paper':
    config = _grid('configs/mnist.py:paper',
                   dict(model=dict(cell=('gru', 'lstm')), curriculum=('naive',) + curricula,
                        seed=tuple(range(10))),
                   post_steps='extrapolate,find_slowpoints')
  elif arg in PAPER_GRU_GRIDS:
    config = _grid('configs/mnist.py:paper', dict(curriculum=curricula, seed=tuple(range(5))),
                   model__cell='gru', model__readout_sigmoid=True, perf__jit_compile=False,
                   perf__num_chains=2, perf__intra_op_threads=1)
    if arg == 'paper_gru_35k_mnist_gru':
      config.run.num_steps = 35_000
  elif arg in REPRODUCE_GRIDS:
    config = _reproduce_grid(*arg.split('_', 1))
  else:
    raise ValueError(f'unknown variant {arg!r} of configs/sweep.py: expected smoke, '
                     f'gru_sigmoid, gru_logits, paper, {", ".join(PAPER_GRU_GRIDS)} or one '
                     f'of {", ".join(REPRODUCE_GRIDS)}')
  return config


# The grids of bin/reproduce.py: <size>_<study>.
PAPER_GRU_GRIDS = ('paper_gru_mnist_gru', 'paper_gru_35k_mnist_gru')
STUDIES = ('mnist_gru', 'mnist_lstm', 'template_matching', 'cifar10')
REPRODUCE_GRIDS = tuple(f'{size}_{study}' for size in ('smoke', 'cpu', 'paper')
                        for study in STUDIES)
_BASE = {'mnist_gru': 'mnist', 'mnist_lstm': 'mnist', 'template_matching': 'template_matching',
         'cifar10': 'cifar10'}
_SMOKE_RUN = dict(num_steps=8, eval_trials=32, eval_batch_size=32)


def _reproduce_grid(size, study):
  """One training grid of ``configs/reproduce.py:<size>``."""
  base = f'configs/{_BASE[study]}.py:{size}'
  readouts = (True, False)
  both = ('naive',) + _CURRICULA
  post = 'template_matching' if study == 'template_matching' else 'extrapolate,find_slowpoints'
  overrides = dict(_SMOKE_RUN) if size == 'smoke' else {}
  if study == 'cifar10' and size == 'smoke':
    overrides.pop('eval_batch_size')
  if size == 'smoke':
    axes = {'mnist_gru': dict(curriculum=both, seed=(0,)),
            'mnist_lstm': dict(curriculum=('decu',), seed=(0,)),
            'template_matching': dict(seed=(0,)),
            'cifar10': dict(curriculum=('decu',), seed=(0,))}[study]
  elif size == 'cpu':
    # N = 5 where the paper's claims about curricula and naive training are tested, fewer
    # elsewhere (configs/reproduce.py:cpu gives the run time; BUILD_NOTES how it was chosen).
    axes = {'mnist_gru': dict(model=dict(readout_sigmoid=readouts), curriculum=both,
                              seed=tuple(range(5))),
            'mnist_lstm': dict(curriculum=_CURRICULA, seed=(0, 1, 2)),
            'template_matching': dict(model=dict(cell=('gru', 'lstm')),
                                      seed=tuple(range(5))),
            'cifar10': dict(curriculum=_CURRICULA, seed=(0,))}[study]
  else:  # the paper's sizes: 10 networks per MNIST condition, 5 for CIFAR-10
    seeds = tuple(range(5 if study == 'cifar10' else 10))
    axes = {'mnist_gru': dict(model=dict(readout_sigmoid=readouts), curriculum=both,
                              seed=seeds),
            'mnist_lstm': dict(model=dict(readout_sigmoid=readouts), curriculum=both,
                               seed=seeds),
            'template_matching': dict(model=dict(cell=('gru', 'lstm')), seed=seeds),
            'cifar10': dict(model=dict(cell=('gru', 'lstm')), curriculum=both,
                            seed=seeds)}[study]
  if study == 'mnist_gru':
    overrides['model__cell'] = 'gru'
  elif study == 'mnist_lstm':
    overrides['model__cell'] = 'lstm'
  if study in ('mnist_gru', 'mnist_lstm') and size != 'paper':
    overrides['model__readout_sigmoid'] = True  # the authors' readout, unless an axis
  config = _grid(base, axes, post_steps=post, **overrides)
  if study == 'cifar10':
    config.extrapolate.delays = '4,19,50,100,200,500'
  if size == 'smoke':
    config.extrapolate.delays = '4,19'
    config.extrapolate.num_trials = 32
    config.find_slowpoints.max_iters = 100
    config.template_matching = ml_collections.ConfigDict(dict(delays='19,50', num_trials=32))
  elif study == 'template_matching':
    config.template_matching = ml_collections.ConfigDict(dict(num_trials=1000))
  return config
