r"""Trains a grid of networks (configs/sweep.py), skipping finished runs, resuming the rest.

  python bin/sweep.py --config=configs/sweep.py:gru_sigmoid --root=runs/sweep_gru_sigmoid
  python bin/sweep.py --config=configs/sweep.py:smoke --root=/tmp/smoke --config.run.num_steps=4
  python bin/sweep.py --config=configs/sweep.py:paper --root=/shared/paper --ray_address=auto \
      --config.resources.num_gpus=0.25

Each run is an ordinary workdir ``<root>/<name>`` trained by ``bin/train.py`` (log in
``<root>/<name>.log``), then the config's post-steps (``extrapolate``, ``find_slowpoints``).
``<root>/sweep.json`` holds every run's status, time, ``eval.json`` numbers and post-step
summaries. Run the command again after an interruption and it completes the sweep. Prints a
summary table; exits with code 1 if a run failed. SIGINT or SIGTERM is passed on to the
running runs, which save a checkpoint; the sweep then exits with 128 + the signal number.

Backends: local (default): ``--concurrency`` runs at a time (default one per core, each
with one thread per op). ``--ray_address=auto|host:port|local``: one Ray task per run with
``config.resources`` (the root must be visible to every node at the same path).
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from memrnn_tf import cli
from memrnn_tf.sweep import driver
from memrnn_tf.sweep import runs

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Sweep config (configs/sweep.py:<grid>).',
                                          lock_config=True)
_ROOT = cli.define_dir('root', None, 'Directory of the runs and sweep.json.', required=True)
_CONCURRENCY = flags.DEFINE_integer('concurrency', None,
                                    'Local backend: runs at a time (default one per core).',
                                    lower_bound=1)
_RAY_ADDRESS = flags.DEFINE_string('ray_address', None,
                                   'Use Ray: auto | host:port | local (in-process cluster).')
_DRY_RUN = flags.DEFINE_boolean('dry_run', False,
                                'Print the runs and their commands; write and train nothing.')
flags.mark_flag_as_required('config')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  config = _CONFIG.value
  backend = driver.make_backend(_RAY_ADDRESS.value, _CONCURRENCY.value, config.resources)
  with runs.forward_stop_signals():  # runs save their checkpoints before the sweep exits
    records = cli.run_or_exit(driver.run_sweep, config, _ROOT.value, backend,
                              dry_run=_DRY_RUN.value)
  if _DRY_RUN.value:
    for r in records:
      print(f'{r["name"]}  {r["status"]}  {" ".join(r["command"])}')
  print(driver.summary_table(records))
  if runs.stop_signal():
    sys.exit(128 + runs.stop_signal())
  if any(r['status'] == 'failed' for r in records):
    sys.exit(1)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
