r"""The whole reproduction of the paper: bin/reproduce.py trains, analyses and reports.

Commands (from the repository root):

  python bin/reproduce.py --config=configs/reproduce.py:cpu --root=runs/reproduce_cpu
  python bin/reproduce.py --config=configs/reproduce.py:smoke --root=/tmp/reproduce_smoke
  python bin/reproduce.py --config=configs/reproduce.py:paper --root=/shared/reproduce \
      --ray_address=auto

It writes ``<root>/report.md`` (one section per claim of the paper, with a verdict) and
``<root>/figures/``. Run it again and it reuses every finished run and analysis, so a
second call only redraws; ``--stages=<glob,...>`` runs a part (``--stages='train_*'``).

Variants (``--config=configs/reproduce.py:<variant>``):

* ``smoke``: one tiny network per study, a few steps; a few minutes, for the tests. Every
  verdict is "inconclusive" (untrained networks, N = 1).
* ``cpu``: the ``cpu`` training configs. 30 GRU-200 MNIST networks (naive / DeCu / VoCu x
  sigmoid / logits readout x 5 seeds: N = 5 wherever the paper's claims about curricula
  and naive training are tested, with both readouts because naive training fails only
  with the authors' sigmoid readout), 6 LSTMs (DeCu / VoCu x 3 seeds), 10 template-matching
  networks (GRU / LSTM x 5 seeds), 2 CIFAR-10 networks on the offline subset, the two
  flip-flop networks, backtracking on 5 networks per curriculum, branching on the 5 VoCu
  GRUs and the 3 VoCu LSTMs (000 Fig. 8), speed regularisation (3 arms x 16 networks: the
  5 DeCu and 5 VoCu sigmoid GRUs and the 3 DeCu and 3 VoCu LSTMs, the four panels of 000
  Fig. 9; the paper's 5,000 extra steps each, about 4 minutes per GRU arm, 5 per LSTM arm).
  Regularisation and the GRU grid dominate; the whole variant takes about 10 hours on 2
  cores (BUILD_NOTES.md has the measured stage times). Expected verdicts:
  see README.md ("Reproduce the paper").
* ``paper_gru``: the decisive arm of the paper's protocol (``docs/analysis_plan.md``): 10
  GRU-200 networks with the authors' sigmoid readout, DeCu / VoCu x seeds 0-4, on the
  ``paper`` training config (140,000 steps of batch 128), every analysis of the plan on
  all 10 (PCA, backtracking with a snapshot every 1,000 steps, branching on the 5 VoCu
  networks, 3 regularisation arms of 5,000 steps each). About 2-2.8 hours per network on
  2 cores, so about a day; every stage resumes, so it may span many calls.
* ``paper_gru_35k``: the same at 35,000 steps (curriculum boundaries and the learning-rate
  decay scaled by a quarter): the middle point between ``cpu`` and ``paper_gru``.
* ``paper``: the paper's sizes (10 networks per MNIST condition, GRU and LSTM, both
  readouts; 5 per CIFAR-10 condition, on the full dataset when it is available), the
  ``paper`` training configs: weeks on 2 CPU cores, for a Ray cluster or GPUs.

Fields: ``studies`` (training grids ``configs/sweep.py:<variant>_<study>``, each under
``<root>/<study>``), ``flipflop`` (variants of configs/flipflop.py under
``<root>/flipflop/<variant>``), then one group of flags per analysis binary. ``runs`` in a
group selects finished runs by ``<study>/<run name>`` globs under the root; the other fields
are the binary's flags (``--config.backtrack.max_iters=2000``).
"""

import ml_collections

_MNIST_CURRICULA = 'mnist_*/*_decu_*,mnist_*/*_vocu_*'
VARIANTS = ('smoke', 'cpu', 'paper_gru', 'paper_gru_35k', 'paper')


def get_config(arg='smoke'):
  """Returns the reproduction config of variant ``arg`` (one of ``VARIANTS``)."""
  if arg not in VARIANTS:
    raise ValueError(f'unknown variant {arg!r} of configs/reproduce.py: expected one of '
                     f'{", ".join(VARIANTS)}')
  smoke = arg == 'smoke'
  config = ml_collections.ConfigDict()
  config.variant = arg

  # Training: configs/sweep.py:<variant>_<study>, each grid under <root>/<study>.
  config.studies = 'mnist_gru,mnist_lstm,template_matching,cifar10'
  # The flip-flop study (003): configs/flipflop.py variants.
  config.flipflop = 'smoke' if smoke else 'delay0,delay8'
  config.flipflop_seeds = '0' if smoke else '0,1'  # the plan's claim 13 needs 2 per delay

  # Extrapolation (000 Fig. 2; 001 noise and second retrieval) over the MNIST curricula.
  config.extrapolate = ml_collections.ConfigDict(dict(
      runs=_MNIST_CURRICULA, delays='19,50,100,200,500,1000', num_trials=1000,
      protocols='fixed,tmax', noise_scales='1,1.5,2', noise_delays='19,50,100',
      second_retrieval='12,12'))
  config.extrapolate_cifar10 = ml_collections.ConfigDict(dict(
      runs='cifar10/*', delays='19,50,100,200,500', num_trials=1000, protocols='fixed,tmax',
      noise_scales='1,2', noise_delays='19,50,100'))
  # The authors' slow-point search (docs/analysis_plan.md: the primary reading of claims 6-8).
  config.slowpoints_paper = ml_collections.ConfigDict(dict(
      runs=_MNIST_CURRICULA, method='paper', paper_steps=100_000))
  # Slow-point speed against long-delay accuracy (000 Fig. 4).
  config.speed_accuracy = ml_collections.ConfigDict(dict(
      runs=_MNIST_CURRICULA, num_trials=1000, num_permutations=10_000))
  # PCA clouds (000 Fig. 3) and their spread
  # (all 5 per curriculum: claim 9 compares the clouds' spread between networks).
  config.pca = ml_collections.ConfigDict(dict(
      runs='mnist_gru/gru_decu_sigmoid_s[0-4],mnist_gru/gru_vocu_sigmoid_s[0-4]',
      num_trials=1000))
  # Backtracking through training (000 Fig. 5A,B) and branching (Fig. 5C-E).
  config.backtrack = ml_collections.ConfigDict(dict(
      runs='mnist_gru/gru_decu_sigmoid_s[0-4],mnist_gru/gru_vocu_sigmoid_s[0-4]',
      max_iters=5000, refine=True))
  config.branching = ml_collections.ConfigDict(dict(
      runs='mnist_gru/gru_vocu_sigmoid_s[0-4],mnist_lstm/lstm_vocu_sigmoid_s[0-4]',
      weights='replay', max_iters=5000,
      num_trials=2000))
  # Speed regularisation (000 section 8): each arm continues each selected run (``steps``
  # unset: the paper's 5,000 scaled to the run's length; set: that many, and the workdirs
  # are named with it so that runs of another length are never reused).
  config.regularize = ml_collections.ConfigDict(dict(
      runs=('mnist_gru/gru_decu_sigmoid_s[0-4],mnist_gru/gru_vocu_sigmoid_s[0-4],'
            'mnist_lstm/lstm_decu_sigmoid_s[0-4],mnist_lstm/lstm_vocu_sigmoid_s[0-4]'),
      arms='control,slow_points,centres'))

  if smoke:
    config.extrapolate.update(delays='19,50', num_trials=32, noise_delays='19',
                              second_retrieval='4,4')
    config.extrapolate_cifar10.update(delays='19', num_trials=16, noise_delays='19')
    config.speed_accuracy.update(num_trials=32, num_permutations=100)
    config.slowpoints_paper.paper_steps = 200
    config.speed_accuracy.delay = 50
    config.pca.update(runs='mnist_gru/gru_decu_sigmoid_s0,mnist_gru/gru_vocu_sigmoid_s0',
                      num_trials=32)
    config.pca.delays = '20,50'
    config.backtrack.update(runs='mnist_gru/gru_vocu_sigmoid_s0', max_iters=100, refine=False)
    config.branching.update(runs='mnist_gru/gru_vocu_sigmoid_s0', weights='snapshots',
                            max_iters=100, num_trials=32)
    config.regularize.update(runs='mnist_gru/gru_decu_sigmoid_s0')
    config.regularize.steps = 4
    config.regularize.refresh_every = 2
    config.regularize.paper_steps = 200
  elif arg == 'cpu':
    # The paper's 5,000 extra steps, not scaled down to the 6,000-step cpu networks: scaled
    # (215 steps at the final rate) nothing moved in any arm, not even the control.
    config.regularize.steps = 5000
  elif arg in ('paper_gru', 'paper_gru_35k'):
    config.studies = 'mnist_gru'
    config.flipflop = ''
    config.branching.runs = 'mnist_gru/gru_vocu_sigmoid_s[0-4]'
    config.regularize.runs = 'mnist_gru/gru_decu_sigmoid_s[0-4],mnist_gru/gru_vocu_sigmoid_s[0-4]'
    config.regularize.steps = 5000
  elif arg == 'paper':
    config.backtrack.runs = 'mnist_*/*_decu_sigmoid_s[0-9],mnist_*/*_vocu_sigmoid_s[0-9]'
    config.branching.runs = 'mnist_*/*_vocu_sigmoid_s[0-9]'
    config.regularize.runs = 'mnist_*/*_decu_sigmoid_s[0-4],mnist_*/*_vocu_sigmoid_s[0-4]'
  return config
