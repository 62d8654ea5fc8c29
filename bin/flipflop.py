r"""Trains, analyses and plots the (delayed) 3-bit flip-flop network of 003.

  python bin/flipflop.py --config=configs/flipflop.py:delay0 --workdir=runs/flipflop_delay0
  python bin/flipflop.py --config=configs/flipflop.py:delay8 --workdir=runs/flipflop_delay8 \
      --config.compare_with=runs/flipflop_delay0

Resumes from the last checkpoint in --workdir; results in <workdir>/analysis and
<workdir>/figures.
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app

from memrnn_tf import cli
from memrnn_tf import flipflop

_CONFIG = cli.define_config_file('config', cli.config_path('flipflop', 'delay8'),
                                 'Experiment config (file.py:variant).')
_WORKDIR = cli.define_dir('workdir', None, 'Run directory.', required=True)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  cli.run_or_exit(flipflop.train_and_analyse, _CONFIG.value, _WORKDIR.value)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
