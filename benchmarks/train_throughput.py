r"""Training throughput of the MNIST GRU-200 / LSTM-200 train step, against matmul peak.

  python benchmarks/train_throughput.py [--batch_sizes=1,32,128,512] [--cells=gru,lstm]

For every cell and batch size it prints trials/s and steps/s for

* ``step``: the compiled ``train_step`` alone, on one pre-generated batch (the FLOP
  efficiency of the model), looped ``steps_per_execution`` times per call;
* ``e2e``: the training loop exactly as ``train_and_evaluate`` runs it, trials generated
  in-graph every step (noise generation included).

FLOPs are counted honestly (the useful matmul work only): forward ``T * 2 * (I + H) * G * H`` per trial
(G = 3 gates GRU, 4 LSTM), backward the weight gradients (same again) plus the gradient
through the recurrence ``T * 2 * H * G * H``; no gradient w.r.t. the 785-wide input.
Readout and elementwise work are not counted. Peak is the best rate of one 2048^3 float32
matmul, or of two at once, timed in the same process before and after.

``--jit_compile``, ``--num_chains`` and ``--intra_op_threads`` override the ``cpu`` config's
settings (``config.perf.jit_compile``, ``num_chains``, ``intra_op_threads``).
"""

import copy
import time

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from memrnn_tf import cli
from memrnn_tf import perf
from memrnn_tf.data import sources
from memrnn_tf.data import tasks
from memrnn_tf.models import memory_rnn
from memrnn_tf.training import curricula
from memrnn_tf.training import experiment as experiment_lib
from memrnn_tf.training import loop

_BATCHES = flags.DEFINE_list('batch_sizes', ['1', '32', '128', '512'], 'Batch sizes.')
_CELLS = flags.DEFINE_list('cells', ['gru', 'lstm'], 'Cells.')
_SECONDS = flags.DEFINE_float('seconds', 4.0, 'Approximate timing per measurement.')
_STEPS = flags.DEFINE_integer('steps', None, 'Training steps per timed call (default '
                               'max(10, 2048 // batch size)).', lower_bound=1)
_RESET_AFTER = flags.DEFINE_boolean('reset_after', False, 'GRU variant.')
_JIT = flags.DEFINE_enum('jit_compile', 'config', ['config', 'true', 'false'],
                         'XLA for the train step; config: what the cpu config uses.')
_CHAINS = flags.DEFINE_string('num_chains', 'config',
                              "Independent recurrences per batch (>= 1), or 'config'.")
_THREADS = flags.DEFINE_integer('intra_op_threads', None,
                                'Threads per TF op (process-wide); default: the config\'s.',
                                lower_bound=0)
_PEAK_SIZE = flags.DEFINE_integer('peak_size', 2048, 'Side of the square float32 matmuls '
                                  'that measure the peak (smaller: faster, less exact).',
                                  lower_bound=64)
flags.register_validator('num_chains', lambda v: v == 'config' or (v.isdigit() and int(v) >= 1),
                         "--num_chains must be 'config' or an integer >= 1")


def train_flops(cell, units=200, inputs=785, steps=20):
  gates = {'gru': 3, 'lstm': 4, 'simplernn': 1}[cell]
  forward = steps * 2 * (inputs + units) * gates * units
  return 2 * forward + steps * 2 * units * gates * units


def _time(fn, n_steps, seconds, rounds=3):
  """Seconds per step: the best of ``rounds`` timings (this VM's speed varies from run to run)."""
  fn(tf.constant(1))  # compile
  t = time.perf_counter()
  fn(tf.constant(n_steps))
  dt = time.perf_counter() - t
  reps = max(1, int(seconds / rounds / max(dt, 1e-3)))
  best = float('inf')
  for _ in range(rounds):
    t = time.perf_counter()
    for _ in range(reps):
      fn(tf.constant(n_steps))
    best = min(best, (time.perf_counter() - t) / (reps * n_steps))
  return best


def main(argv):
  del argv
  base = cli.load_config('mnist', 'cpu')
  base.model.reset_after = _RESET_AFTER.value
  if _JIT.value != 'config':
    base.perf.jit_compile = _JIT.value == 'true'
  if _CHAINS.value != 'config':
    base.perf.num_chains = int(_CHAINS.value)
  if _THREADS.value is not None:
    base.perf.intra_op_threads = _THREADS.value
  perf.configure_threads(base)  # before the first TF op
  threads = tf.config.threading.get_intra_op_parallelism_threads()
  images = sources.load_dataset('mnist', 'train')
  task = tasks.DelayedClassification(images.images, images.labels, images.mean, images.std)
  peak = perf.matmul_peak(_PEAK_SIZE.value)
  rows = []
  for cell in _CELLS.value:
    for batch_size in (int(b) for b in _BATCHES.value):
      config = copy.deepcopy(base)
      config.model.cell, config.batch_size = cell, batch_size
      model = memory_rnn.create_model(config, task.num_features)
      model.compile(optimizer=experiment_lib.make_optimizer(config), jit_compile=False)
      model.optimizer.build(model.trainable_variables)
      exp = experiment_lib.Experiment(config, task, task, model,
                                      curricula.create_curriculum(config))
      batch = task.sample(tf.constant([0, 0]), batch_size)
      step = tf.function(model.train_step, jit_compile=bool(config.perf.jit_compile))

      @tf.function
      def step_only(n, step=step, batch=batch):
        for _ in tf.range(n):
          step(batch)

      n_steps = _STEPS.value or max(10, 2048 // batch_size)
      for mode, fn in (('step', step_only), ('e2e', loop.make_train_chunk(exp))):
        sec = _time(fn, n_steps, _SECONDS.value)
        rows.append((cell, batch_size, bool(config.perf.jit_compile), model.num_chains, mode, sec))
        logging.info('%s batch %d %s: %.1f steps/s', cell, batch_size, mode, 1 / sec)
  # The peak is measured before and after, and the larger one used: this VM's speed varies.
  peak = max(peak, perf.matmul_peak(_PEAK_SIZE.value))
  print(f'matmul peak ({_PEAK_SIZE.value}^3 float32, 1 or 2 at once, best of before/after): '
        f'{peak:.1f} GFLOP/s')
  print(f'{"cell":5s} {"batch":>5s} {"xla":>5s} {"chains":>6s} {"intra":>5s} {"mode":4s} '
        f'{"trials/s":>10s} {"steps/s":>9s} {"GFLOP/s":>8s} {"of peak":>7s}')
  for cell, batch_size, xla, chains, mode, sec in rows:
    gflops = batch_size * train_flops(cell) / sec / 1e9
    print(f'{cell:5s} {batch_size:5d} {str(xla):>5s} {chains:6d} {threads or "all":>5} '
          f'{mode:4s} {batch_size / sec:10.0f} {1 / sec:9.1f} {gflops:8.1f} {gflops / peak:7.2f}')


if __name__ == '__main__':
  app.run(main)
