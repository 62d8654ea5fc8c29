"""Speed: the ``config.perf`` settings that act process-wide, and timing helpers for the
benchmarks."""

import time

from absl import logging
import tensorflow as tf

from memrnn_tf import errors


def matmul_peak(n=2048, reps=10, rounds=3, concurrent=(1, 2)):
  """float32 GFLOP/s of ``n x n`` by ``n x n`` matmuls: the best of ``rounds`` timings.

  For each entry ``k`` of ``concurrent`` it times ``k`` independent matmuls launched
  together (the TF executor runs them on different cores) and returns the largest rate:
  with one intra-op thread per op (``config.perf.intra_op_threads=1``) a single matmul uses one
  core, and the machine's peak is only reached by several at once. The benchmarks report
  throughput as a fraction of this number, measured in the same process (this VM's speed
  varies by 10-50% from one minute to the next, so they measure it before and after and
  keep the larger).
  """
  best_rate = 0.0
  for k in concurrent:
    mats = [tf.random.stateless_normal([n, n], [1, i]) for i in range(k)]
    f = tf.function(lambda mats=mats: tf.add_n([tf.reduce_sum(tf.matmul(a, a)) for a in mats]))
    f().numpy()  # trace and warm up
    best = float('inf')
    for _ in range(rounds):
      t = time.perf_counter()
      for _ in range(reps):
        f().numpy()
      best = min(best, time.perf_counter() - t)
    best_rate = max(best_rate, k * reps * 2 * n ** 3 / best / 1e9)
  return best_rate


def configure_threads(config):
  """Sets TensorFlow's intra-op threads to ``config.perf.intra_op_threads`` (0: TF's default).

  A process-wide setting that TensorFlow accepts only before it runs its first op; a later
  call that would change it logs a warning and changes nothing (it affects speed only).

  Raises:
    ConfigError: a negative thread count.
  """
  threads = int(config.perf.get('intra_op_threads', 0))
  if threads < 0:
    raise errors.ConfigError(f'config.perf.intra_op_threads={threads} must be >= 0')
  if threads == 0 or tf.config.threading.get_intra_op_parallelism_threads() == threads:
    return
  try:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
  except RuntimeError:
    logging.warning('config.perf.intra_op_threads=%d ignored: TensorFlow is already running '
                    'in this process (set it before the first TensorFlow op)', threads)
