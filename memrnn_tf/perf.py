"""Timing helpers shared by the benchmarks."""

import time

import tensorflow as tf


def matmul_peak(n=2048, reps=10, rounds=3):
  """float32 GFLOP/s of an ``n x n`` by ``n x n`` matmul, the best of ``rounds`` timings.

  The benchmarks report their throughput as a fraction of this number, measured in the
  same process (this VM's speed varies by 10-50% from one minute to the next, so they
  measure it before and after and keep the larger).
  """
  a = tf.random.stateless_normal([n, n], [1, 2])
  f = tf.function(lambda: tf.reduce_sum(tf.matmul(a, a)))
  f().numpy()  # trace and warm up
  best = float('inf')
  for _ in range(rounds):
    t = time.perf_counter()
    for _ in range(reps):
      f().numpy()
    best = min(best, time.perf_counter() - t)
  return reps * 2 * n ** 3 / best / 1e9
