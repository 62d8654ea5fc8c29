r"""Reproduces the paper in one command: trains, analyses, and writes <root>/report.md.

  python bin/reproduce.py --config=configs/reproduce.py:cpu --root=runs/reproduce_cpu
  python bin/reproduce.py --config=configs/reproduce.py:smoke --root=/tmp/reproduce_smoke
  python bin/reproduce.py --config=configs/reproduce.py:paper --root=/shared/reproduce \
      --ray_address=auto
  python bin/reproduce.py --config=configs/reproduce.py:cpu --root=runs/reproduce_cpu \
      --stages='train_mnist_gru,extrapolate_mnist'      # a part; the report is redrawn
  python bin/reproduce.py --config=configs/reproduce.py:cpu --root=runs/reproduce_cpu \
      --dry_run --publish=results/cpu      # redraw the report and publish it with its files

Runs every stage of configs/reproduce.py (training grids through bin/sweep.py, the
flip-flop networks, the analysis binaries, speed regularisation), each a subprocess logged
in <root>/logs/, recorded with its command in <root>/reproduce.json. Finished stages are
reused: run the command again after an interruption, or to redraw the report. --publish
copies the report, its figures and the small summary files behind it (no weights) to a
directory such as results/<variant> (memrnn_tf/reproduce/publish.py). Exits with code 1 if
a stage failed (the report still says what is missing).
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
import sys

from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.reproduce import pipeline
from memrnn_tf.reproduce import publish
from memrnn_tf.sweep import runs

_CONFIG = cli.define_config_file('config', None, 'configs/reproduce.py:<smoke|cpu|paper>')
_ROOT = cli.define_dir('root', None, 'Directory of every run, analysis and the report.',
                      required=True)
_STAGES = flags.DEFINE_list('stages', [], 'Globs of stage names to run (default all).')
_RAY_ADDRESS = flags.DEFINE_string('ray_address', None,
                                   'Train on Ray: auto | host:port | local (bin/sweep.py).')
_CONCURRENCY = flags.DEFINE_integer('concurrency', None,
                                    'Local training runs at a time (bin/sweep.py).', lower_bound=1)
cli.define_data_dir()
flags.mark_flag_as_required('config')
_DRY_RUN = flags.DEFINE_bool('dry_run', False, 'Record the stages and redraw the report only.')
_PUBLISH = flags.DEFINE_string('publish', None,
                               'Copy the report and its summary files here (e.g. results/cpu).')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  backend = []
  if _RAY_ADDRESS.value:
    backend.append(f'--ray_address={_RAY_ADDRESS.value}')
  if _CONCURRENCY.value:
    backend.append(f'--concurrency={_CONCURRENCY.value}')
  with runs.forward_stop_signals():  # training runs save their checkpoints before exiting
    record, report = cli.run_or_exit(
        pipeline.run_pipeline, _CONFIG.value, _ROOT.value, _STAGES.value, backend,
        dry_run=_DRY_RUN.value)
  for s in record['stages']:
    seconds = f'{s["seconds"]:.0f} s' if s.get('seconds') else ''
    print(f'{s["name"]:<40} {s["status"]:<8} {seconds:>8}  {s.get("error") or ""}')
  print('report:', report)
  if _PUBLISH.value:
    print('published:', cli.run_or_exit(publish.publish, _ROOT.value, _PUBLISH.value))
  if runs.stop_signal():
    sys.exit(128 + runs.stop_signal())
  if any(s['status'] == 'failed' for s in record['stages']):
    sys.exit(1)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
