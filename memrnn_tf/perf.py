"""Timing helpers shared by the benchmarks."""

import time

import tensorflow as tf


def matmul_peak(n=2048, reps=10, rounds=3, concurrent=(1, 2)):
  """float32 GFLOP/s of ``n x n`` by ``n x n`` matmuls: the best of ``rounds`` timings.

  For each entry ``k`` of ``concurrent`` it times ``k`` independent matmuls launched
  together (the TF executor runs them on different cores) and returns the largest rate:
  with one intra-op thread per op (``config.intra_op_threads=1``) a single matmul uses one
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
