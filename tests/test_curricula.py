"""Curriculum schedules: the paper's boundaries, scaling, in-graph evaluation, registry."""

import pytest
import tensorflow as tf

from configs import mnist
from memrnn_tf.training import curricula


def _config(name, num_steps=140_000):
  c = mnist.get_config('paper')
  c.curriculum = name
  c.num_steps = num_steps
  return c


def test_decu_paper_schedule():
  cur = curricula.create_curriculum(_config('decu'))
  assert cur.at(0) == {'t_max': 6, 'num_classes': 10}
  assert cur.at(19_999)['t_max'] == 6 and cur.at(20_000)['t_max'] == 8
  assert cur.at(79_999)['t_max'] == 18 and cur.at(80_000)['t_max'] == 20
  assert cur.at(139_999)['t_max'] == 20


def test_vocu_paper_schedule():
  cur = curricula.create_curriculum(_config('vocu'))
  expected = {0: 2, 7_999: 2, 8_000: 3, 16_000: 4, 26_000: 5, 36_000: 6, 48_000: 7,
              62_000: 8, 78_000: 9, 97_999: 9, 98_000: 10, 139_000: 10}
  for step, n in expected.items():
    assert cur.at(step) == {'t_max': 20, 'num_classes': n}, step


def test_naive_and_scaling():
  assert curricula.create_curriculum(_config('naive')).at(0) == {'t_max': 20, 'num_classes': 10}
  cur = curricula.create_curriculum(_config('decu', num_steps=7_000))
  assert cur.t_max_boundaries == (1000, 1500, 2000, 2500, 3000, 3500, 4000)
  # Tiny runs keep strictly increasing boundaries.
  assert curricula.scale_boundaries((1, 2, 3), 1, 100) == (0, 1, 2)


def test_in_graph_matches_python():
  cur = curricula.create_curriculum(_config('vocu', num_steps=1400))
  f = tf.function(lambda s: (cur.t_max(s), cur.num_classes(s)))
  for step in range(0, 1400, 7):
    t, n = f(tf.constant(step, tf.int64))
    assert (int(t), int(n)) == (cur.at(step)['t_max'], cur.at(step)['num_classes'])


def test_unknown_and_custom():
  with pytest.raises(ValueError, match='unknown curriculum .*decu.*naive.*vocu'):
    curricula.create_curriculum(_config('nope'))

  @curricula.register_curriculum('test_both')
  def _both(config):
    return curricula.Curriculum('test_both', (6, 20), (10,), (2, 10), (20,))

  cur = curricula.create_curriculum(_config('test_both'))
  assert cur.at(15) == {'t_max': 20, 'num_classes': 2}
  assert cur.events() == [(10, 't_max=20'), (20, 'classes=10')]
  with pytest.raises(ValueError, match='values'):
    curricula.Curriculum('bad', (6,), (10,), (10,), ())
