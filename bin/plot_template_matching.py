r"""Delayed template matching over networks: accuracy vs delay and speed vs accuracy (Fig. 7).

  python bin/plot_template_matching.py --workdirs='runs/tm_*' --out=runs/figures/tm.png

Reads each --workdirs run's analysis/template_matching.json (bin/template_matching.py) and
config.json; one colour per cell. Prints the numbers as a table.
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
import os

from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.analysis import template_matching_summary as summary_lib
from memrnn_tf.plots import template_matching

_WORKDIRS = flags.DEFINE_list('workdirs', None, 'Template-matching runs (globs allowed).',
                              required=True)
_OUT = flags.DEFINE_string('out', None, 'Output .png.', required=True)


def _main():
  workdirs = summary_lib.expand_workdirs(_WORKDIRS.value)
  numbers = summary_lib.write_summary(workdirs, os.path.splitext(_OUT.value)[0] + '.json')
  path = template_matching.plot_template_matching(numbers, _OUT.value)
  print(summary_lib.format_table(summary_lib.load_runs(workdirs)))
  print(f'wrote {path}')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  cli.run_or_exit(_main)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
