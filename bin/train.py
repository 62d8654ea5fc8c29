r"""Trains a delayed-classification network (resumes automatically from --workdir).

  python bin/train.py --curriculum=vocu
  python bin/train.py --config=configs/mnist.py:cpu --cell=lstm --curriculum=decu \
      --workdir=runs/mnist_lstm_decu --config.learning_rate=5e-4
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.training import trainer

_CONFIG = cli.define_config_file('config', cli.config_path('mnist', 'cpu'),
                                 'Experiment config (file.py:variant).')
_WORKDIR = cli.define_dir('workdir', None, 'Run directory (default runs/<name>).')
_DATA_DIR = cli.define_data_dir()
_CURRICULUM = flags.DEFINE_string('curriculum', None, 'naive | vocu | decu (overrides config).')
_CELL = flags.DEFINE_string('cell', None, 'gru | lstm | simplernn (overrides config).')
_SEED = flags.DEFINE_integer('seed', None, 'Random seed (overrides config).', lower_bound=0)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  config = cli.apply_overrides(_CONFIG.value, curriculum=_CURRICULUM.value,
                               **{'model.cell': _CELL.value}, seed=_SEED.value,
                               data_dir=_DATA_DIR.value)
  workdir = _WORKDIR.value or cli.default_workdir(config)
  cli.run_or_exit(trainer.train_and_evaluate, config, workdir)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
