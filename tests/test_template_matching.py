"""Delayed template matching (supplement A): trials, config, model and its analysis."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from configs import template_matching
from memrnn_tf.data import tasks
from memrnn_tf.training import experiment

MEAN, STD = 0.1307, 0.30816


@pytest.fixture(scope='module')
def arrays(mnist_arrays):
  return mnist_arrays['x_train'][:2000], mnist_arrays['y_train'][:2000]


@pytest.mark.slow
def test_trials(arrays):
  images, labels = arrays
  task = tasks.DelayedTemplateMatching(images, labels, MEAN, STD)
  b = {k: v.numpy() for k, v in task.sample(tf.constant([3, 4]), 2000).items()}
  n = 2000
  rows = np.arange(n)
  ts, ta = b['stim_time'], b['report_time']
  assert task.num_outputs == 3 and b['inputs'].shape == (n, 20, 785)
  assert np.all(ta - ts >= 4) and ta.max() < 20
  # Answer at t_a: 1 = same class, 2 = different; null elsewhere.
  np.testing.assert_array_equal(b['same'], b['labels'] == b['second_labels'])
  np.testing.assert_array_equal(b['targets'][rows, ta], np.where(b['same'], 1, 2))
  assert b['targets'].sum() == b['targets'][rows, ta].sum()
  assert abs(b['same'].mean() - 0.5) < 0.04  # equal probability (binomial sd 0.011)
  # "Different" draws every other class equally often (10 classes, 9 others).
  offsets = (b['second_labels'] - b['labels'])[~b['same']] % 10
  assert offsets.min() >= 1 and np.bincount(offsets, minlength=10)[1:].min() > 60
  # Clean images at both stimuli, of their classes; no trigger.
  flat = images.reshape(len(images), -1) / 255.0
  for i in range(5):
    for t, label in ((ts[i], b['labels'][i]), (ta[i], b['second_labels'][i])):
      frame = b['inputs'][i, t, :-1]
      match = np.flatnonzero(np.abs(flat - frame).max(1) < 1e-6)
      assert match.size and labels[match[0]] == label
  assert not b['inputs'][..., -1].any()
  # Same timing, noise and weights as the classification task with the same seed.
  c = {k: v.numpy() for k, v in tasks.DelayedClassification(images, labels, MEAN, STD).sample(
      tf.constant([3, 4]), n).items()}
  np.testing.assert_array_equal(c['stim_time'], ts)
  np.testing.assert_array_equal(c['weights'], b['weights'])


def test_curriculum_classes_and_factory(arrays):
  task = tasks.DelayedTemplateMatching(*arrays, MEAN, STD, class_order=[3, 1, 4, 0, 5, 9, 2,
                                                                          6, 7, 8])
  b = task.sample(tf.constant([0, 1]), 500, num_active=2)
  assert set(b['labels'].numpy()) | set(b['second_labels'].numpy()) == {1, 3}
  assert tasks.num_outputs('template_matching', 10) == 3
  assert tasks.num_outputs('classification', 10) == 11
  with pytest.raises(ValueError, match='unknown task_kind'):
    tasks.task_class('match')


def test_config_builds_three_output_model(data_dir):
  config = template_matching.get_config('smoke')
  assert config.curriculum == 'naive' and config.task_kind == 'template_matching'
  config.data_dir = data_dir
  exp = experiment.build_experiment(config)
  assert isinstance(exp.train_task, tasks.DelayedTemplateMatching)
  assert experiment.model_from_config(config).num_outputs == exp.model.num_outputs == 3
  logs = exp.model.test_step(exp.test_task.sample(tf.constant([0, 0]), 8))
  assert 0.0 <= float(logs['digit_accuracy']) <= 1.0
  with pytest.raises(ValueError, match='unknown variant'):
    template_matching.get_config('big')


def test_template_and_regularization_binaries_reject_bad_input_in_one_line(tmp_path,
                                                                          forked_binary):
  for args, message in [
      (['template_matching.py', f'--workdir={tmp_path}/missing'], 'config.json not found'),
      (['plot_regularization.py', f'--workdirs={tmp_path}/missing',
        f'--out={tmp_path}/x.png'], 'no regularization.json'),
      (['plot_template_matching.py', f'--workdirs={tmp_path}/missing',
        f'--out={tmp_path}/x.png'], 'no analysis/template_matching.json'),
  ]:
    code, _, err = forked_binary(*args)
    last = err.strip().splitlines()[-1]
    assert code == 1 and last.startswith('error: ') and message in last, last


def _fake_analysis(root, name, cell, accuracy, speeds, class_acc, rho):
  workdir = os.path.join(root, name)
  os.makedirs(os.path.join(workdir, 'analysis'))
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    json.dump({'model': {'cell': cell}}, f)
  out = {'delays': [19, 1000], 'accuracy': accuracy,
         'classes': [{'class': c, 'speed': s, 'accuracy': [0.97, a]}
                     for c, (s, a) in enumerate(zip(speeds, class_acc))],
         'correlations': {'1000': {'spearman': rho, 'pearson_log_speed': rho}}}
  with open(os.path.join(workdir, 'analysis', 'template_matching.json'), 'w') as f:
    json.dump(out, f)
  return workdir


def test_template_matching_figure_aggregates_per_cell(tmp_path):
  from memrnn_tf.analysis import template_matching_summary as tm_summary
  from memrnn_tf.plots import template_matching as tm_plots
  root = str(tmp_path)
  _fake_analysis(root, 'gru_s0', 'gru', [0.97, 0.6], [1e-6, 1e-4], [0.8, 0.4], -1.0)
  _fake_analysis(root, 'gru_s1', 'gru', [0.95, 0.8], [1e-5, 1e-3], [0.9, 0.7], 0.5)
  _fake_analysis(root, 'lstm_s0', 'lstm', [0.99, 0.9], [1e-7, 1e-6], [0.9, 0.9], 0.2)
  workdirs = tm_summary.expand_workdirs([os.path.join(root, '*'), os.path.join(root, 'none')])
  groups = tm_summary.load_runs(workdirs)
  assert sorted(groups) == ['gru', 'lstm'] and len(groups['gru']) == 2
  gru = tm_summary.aggregate(groups['gru'])
  assert gru['delay'] == 1000 and gru['n'] == 2
  np.testing.assert_allclose(gru['accuracy'], [0.96, 0.7])
  np.testing.assert_allclose(gru['accuracy_sem'], [0.01, 0.1])  # sd / sqrt(2)
  np.testing.assert_allclose([gru['spearman_mean'], gru['spearman_sem']], [-0.25, 0.75])
  np.testing.assert_allclose(gru['log10_speed'], [-6, -4, -5, -3])
  np.testing.assert_allclose(gru['class_accuracy'], [0.8, 0.4, 0.9, 0.7])
  assert np.isnan(tm_summary.aggregate(groups['lstm'])['spearman_sem'])  # one network
  assert 'Spearman rho at d=1000: -0.25+-0.75' in tm_summary.format_table(groups)
  numbers = tm_summary.write_summary(workdirs, os.path.join(root, 'fig', 'tm.json'))
  path = tm_plots.plot_template_matching(numbers, os.path.join(root, 'fig', 'tm.png'))
  assert os.path.getsize(path) > 10_000


class _CountingStub:
  """A 'network' whose state counts its steps and that answers 'same' until its third
  step, then 'null' (never 'different')."""

  class cell:  # pylint: disable=invalid-name
    @staticmethod
    def zero_state(n):
      return tf.zeros([n, 1])

  def one_step(self, state, frames):
    del frames
    return state + 1.0

  def state_logits(self, state):
    return tf.concat([state - 2.5, tf.zeros_like(state), tf.fill(tf.shape(state), -10.0)], -1)


def test_delay_curve_scores_and_counts_answers(arrays):
  from memrnn_tf.analysis import template_matching as tm_analysis
  task = tasks.DelayedTemplateMatching(*arrays, MEAN, STD)
  out = tm_analysis.delay_curve(_CountingStub(), task, delays=(1, 3), num_trials=64,
                                batch_size=32, seed=5)
  # Delay 1: every trial answered 'same', right exactly on the same-class trials (about
  # half); delay 3: every trial answered 'null', so none is right.
  np.testing.assert_array_equal(out['answers'], [[0, 1, 0], [1, 0, 0]])
  assert 0.3 < out['accuracy'][0] < 0.7 and out['accuracy'][1] == 0
  assert np.all(out['per_class'][1][np.isfinite(out['per_class'][1])] == 0)


@pytest.mark.slow
def test_template_matching_binary_and_figure_end_to_end(tmp_path, data_dir):
  from memrnn_tf.analysis import template_matching_summary as tm_summary
  from memrnn_tf.training import trainer
  workdir = str(tmp_path / 'tm_smoke')
  config = template_matching.get_config('smoke')
  config.perf.jit_compile = False
  config.data_dir = data_dir
  trainer.train_and_evaluate(config, workdir)
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, MEMRNN_DATA_DIR=data_dir, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=repo)
  proc = subprocess.run([sys.executable, 'bin/template_matching.py', f'--workdir={workdir}',
                         '--delays=2,6', '--num_trials=40'], cwd=repo, env=env,
                        capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(os.path.join(workdir, 'analysis', 'template_matching.json')) as f:
    out = json.load(f)
  assert out['delays'] == [2, 6] and len(out['classes']) == 10
  answers = np.asarray(out['answer_fractions'])
  assert answers.shape == (2, 3)
  np.testing.assert_allclose(answers.sum(1), 1.0)
  assert np.all(np.asarray(out['accuracy']) <= 1.0 - answers[:, 0] + 1e-9)  # null is wrong
  for c in out['classes']:
    assert c['speed'] > 0 and c['trials_kept'] > 0 and len(c['accuracy']) == 2
  assert 'null answers' in proc.stdout
  figure = str(tmp_path / 'fig' / 'tm.png')
  proc = subprocess.run([sys.executable, 'bin/plot_template_matching.py',
                         f'--workdirs={tmp_path}/tm_*', f'--out={figure}'], cwd=repo, env=env,
                        capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert os.path.getsize(figure) > 10_000
  assert proc.stdout.startswith(tm_summary.format_table(tm_summary.load_runs([workdir])))
