r"""Each claim's primary effect against training steps, over published reproductions.

  python bin/dose_response.py --results=results/cpu,results/paper_gru_35k,results/paper_gru \
      --out=results/dose_response

Reads ``report.json`` and ``runs.json`` of each result (``bin/reproduce.py --publish``) and
writes ``<out>/dose_response.json``, ``.md`` (one row per claim: effect [95% interval] and
verdict per config) and ``.png``. Seconds.
"""

from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.plots import dose_response as plots
from memrnn_tf.reproduce import dose

_RESULTS = flags.DEFINE_list('results', None, 'Published result directories, fewest steps first.',
                             required=True)
_OUT = flags.DEFINE_string('out', None, 'Output directory.', required=True)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  table = cli.run_or_exit(dose.write, _RESULTS.value, _OUT.value)
  print(dose.markdown(table))
  print('figure:', plots.plot(_OUT.value))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
