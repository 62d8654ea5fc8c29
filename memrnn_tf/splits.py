"""Splitting a batch into near-equal independent parts (model chains, slow-point groups)."""

import tensorflow as tf


def near_equal_sizes(n, parts):
  """Sizes ``[n // parts + 1, ..., n // parts]`` of ``parts`` slices that add up to ``n``.

  Args:
    n: a Python int (sizes come back as a list, static shapes stay known) or a scalar
      int32 tensor (a dynamic batch; sizes come back as a ``[parts]`` tensor).
    parts: number of slices (Python int >= 1).

  Returns:
    Sizes for ``tf.split(x, sizes, num=parts)``; the first ``n % parts`` are one larger.
  """
  if isinstance(n, int):
    return [n // parts + int(i < n % parts) for i in range(parts)]
  return n // parts + tf.cast(tf.range(parts) < n % parts, tf.int32)
