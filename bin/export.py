r"""Exports a trained run as a SavedModel (reloadable without memrnn_tf).

  python bin/export.py --workdir=runs/mnist_gru_decu_s0 [--output=DIR] [--checkpoint=STEP]
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf import export

_WORKDIR = flags.DEFINE_string('workdir', None, 'Run directory.', required=True)
_OUTPUT = cli.define_dir('output', None, 'Destination (default <workdir>/export).')
_CHECKPOINT = flags.DEFINE_integer('checkpoint', None, 'Step to export (default latest).',
                                   lower_bound=0)


def main(argv):
  del argv
  path = cli.run_or_exit(export.export_workdir, _WORKDIR.value, _OUTPUT.value,
                         _CHECKPOINT.value)
  print(path)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
