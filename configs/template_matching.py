r"""Delayed template matching of MNIST digits (paper supplement A, Fig. 7).

Command (from the repository root):

  python bin/train.py --config=configs/template_matching.py:cpu --cell=gru \
      --workdir=runs/tm_gru_s0

The first digit is shown at ``t_s``, a second one replaces the trigger at ``t_a``; the
network reports there "same" (output 1) or "different" (output 2) class, each with
probability 1/2, and "null" (0) elsewhere (``memrnn_tf.data.tasks.DelayedTemplateMatching``).
Same delays, noise and loss weights as ``configs/mnist.py``; no curriculum (``naive``), as in
the paper ("learnable without any curricula"); ``--curriculum=decu`` also works.

Variants (``--config=configs/template_matching.py:<variant>``):

* ``paper``: the schedule of ``configs/mnist.py:paper`` (140,000 steps).
* ``cpu``: 6,000 steps of batch 128 (lr 1e-3), as ``configs/mnist.py:cpu``; 5-8 minutes
  on 2 idle cores for a GRU-200. Expected: well above the 50% chance level of same /
  different at nominal delays (the paper reports good nominal performance without
  curricula); ``digit_accuracy`` in eval.json is the same/different accuracy.
* ``smoke``: a few steps of a tiny network, seconds; for tests only.
"""

import os

from memrnn_tf import files


def _mnist_config(arg):
  # configs/ is not a package on every path: load the sibling file directly.
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'mnist.py')
  return files.load_module(path, 'memrnn_configs_mnist').get_config(arg)


def get_config(arg='cpu'):
  """Returns the config for variant ``arg`` in {'paper', 'cpu', 'smoke'}."""
  if arg not in ('paper', 'cpu', 'smoke'):
    raise ValueError(f'unknown variant {arg!r} of configs/template_matching.py: expected '
                     'paper, cpu or smoke')
  config = _mnist_config(arg)
  # Task: the second stimulus replaces the trigger; 3 outputs (null, same, different).
  config.task_kind = 'template_matching'
  # Training: no curriculum.
  config.curriculum = 'naive'
  return config
