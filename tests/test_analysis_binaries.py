"""End to end: bin/extrapolate.py, bin/pca.py and bin/speed_accuracy.py on a :smoke run
and its copies (two networks of one condition, one of another), aggregation and reuse."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from memrnn_tf import cli
from memrnn_tf import errors
from memrnn_tf.analysis import extrapolation
from memrnn_tf.analysis import multirun
from memrnn_tf.analysis import stats
from memrnn_tf.training import trainer

pytestmark = pytest.mark.slow  # every test here runs a binary or trains a network

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, data_dir):
  env = dict(os.environ, MEMRNN_DATA_DIR=data_dir, MEMRNN_NO_DOWNLOAD='1',
             TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=REPO)
  proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env, capture_output=True,
                        text=True, timeout=1800)
  if proc.returncode != 0:
    raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}')
  return proc


@pytest.fixture(scope='module')
def runs(tmp_path_factory, data_dir):
  """A smoke run trained here (test_training runs bin/train.py) and two copies of it."""
  root = tmp_path_factory.mktemp('sweep')
  a = str(root / 'decu_a')
  config = cli.load_config('mnist', 'smoke')
  config.data_dir = data_dir  # as bin/train.py records it
  trainer.train_and_evaluate(config, a)
  shutil.copytree(a, root / 'decu_b')
  shutil.copytree(a, root / 'vocu_c')
  with open(root / 'vocu_c' / 'config.json') as f:
    config = json.load(f)
  config['curriculum'] = 'vocu'
  with open(root / 'vocu_c' / 'config.json', 'w') as f:
    json.dump(config, f)
  return str(root)


def _read(path):
  with open(path) as f:
    return json.load(f)


def test_workdir_selection(runs):
  found = multirun.expand_workdirs(workdirs=[os.path.join(runs, '*')])
  assert [os.path.basename(w) for w in found] == ['decu_a', 'decu_b', 'vocu_c']
  assert multirun.default_out_dir(found) == runs
  assert multirun.condition_key(found[2]) == 'mnist gru vocu logits'
  with pytest.raises(errors.MemrnnError, match='no config.json'):
    multirun.expand_workdirs(os.path.join(runs, 'missing'))


def test_extrapolate_aggregates_and_reuses(runs, binary_main):
  # In this process: the smoke reproduction (test_reproduce) runs the binary as a process.
  code, out, err = binary_main('extrapolate.py', f'--workdirs={runs}/*', '--delays=5,8',
                               '--num_trials=20', '--protocols=fixed,tmax',
                               '--second_retrieval=2,3', '--noise_scales=1,2', '--per_class')
  assert code == 0, err[-2000:]
  assert 'protocol tmax' in out and 'second retrieval: trigger 1 at 2, trigger 2 at 5' in out
  for name in ('extrapolation', 'extrapolation_tmax', 'extrapolation_noise2',
               'second_retrieval'):
    r = _read(os.path.join(runs, 'decu_a', 'analysis', f'{name}.json'))
    assert r['trials'] == 20
  assert os.path.exists(os.path.join(runs, 'decu_a', 'analysis', 'extrapolation_tmax.npz'))
  for fig in ('decu_a/figures/extrapolation.png', 'figures/extrapolation_summary.png',
              'figures/extrapolation_per_class.png'):
    assert os.path.exists(os.path.join(runs, fig)), fig
  summary = _read(os.path.join(runs, 'analysis', 'extrapolation_summary.json'))
  run_a = _read(os.path.join(runs, 'decu_a', 'analysis', 'extrapolation_tmax.json'))
  decu = summary['protocols']['tmax']['mnist gru decu logits']
  # Two identical networks: the mean is each one's value, SEM 0, N 2.
  assert decu['accuracy']['n'] == [2, 2]
  np.testing.assert_allclose(decu['accuracy']['mean'], run_a['accuracy'])
  np.testing.assert_allclose(decu['accuracy']['sem'], [0.0, 0.0])
  assert summary['protocols']['fixed']['mnist gru vocu logits']['accuracy']['n'] == [1, 1]
  second = summary['second_retrieval']['mnist gru decu logits']
  assert second['first']['n'] == 2
  assert second['difference']['mean'] == pytest.approx(
      second['first']['mean'] - second['second']['mean'])
  # Same request again: the per-run files are reused, not rewritten.
  path = os.path.join(runs, 'decu_a', 'analysis', 'extrapolation_tmax.json')
  before = os.stat(path).st_mtime_ns
  extrapolation.extrapolate_runs(multirun.expand_workdirs(workdirs=[f'{runs}/*']), [8],
                                 num_trials=20, protocols=('tmax',))
  assert os.stat(path).st_mtime_ns == before
  # A new delay extends the file; the old delays' trials (hence accuracies) are unchanged.
  for protocol in ('fixed', 'tmax'):
    name = extrapolation.result_name(protocol)
    old = _read(os.path.join(runs, 'decu_a', 'analysis', f'{name}.json'))
    new = extrapolation.extrapolate_workdir(os.path.join(runs, 'decu_a'), [12],
                                            num_trials=20, protocol=protocol)
    assert new['delays'] == [12]
    full = _read(os.path.join(runs, 'decu_a', 'analysis', f'{name}.json'))
    assert full['delays'] == [5, 8, 12]
    np.testing.assert_allclose(full['accuracy'][:2], old['accuracy'])
    np.testing.assert_allclose(np.array(full['per_class'][:2], float),
                               np.array(old['per_class'], float))


def test_pca_clouds_binary(runs, data_dir):
  workdir = os.path.join(runs, 'decu_a')
  out = _run(['bin/pca.py', f'--workdir={workdir}', '--delays=3,8', '--fit_delay=3',
              '--num_trials=40'], data_dir).stdout
  assert 'slow points: False' in out
  assert os.path.exists(os.path.join(workdir, 'figures', 'pca.png'))
  with np.load(os.path.join(workdir, 'analysis', 'pca.npz')) as d:
    proj, explained = d['projections'], d['explained']
    assert proj.shape == (1, 2, 40, 3) and d['predicted'].shape == (1, 2, 40)
  # Coordinates on the components fitted at delay 3: centred, uncorrelated, variances
  # in decreasing order and equal to the explained share of the total.
  fit = proj[0, 0].astype(np.float64)
  np.testing.assert_allclose(fit.mean(axis=0), 0.0, atol=1e-4)
  cov = np.cov(fit, rowvar=False)
  assert np.all(np.diff(np.diag(cov)) <= 1e-9)
  np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0.0, atol=1e-5)
  assert 0 < explained.sum() <= 1.0 + 1e-9


def test_speed_accuracy_binary_on_known_values(runs, data_dir, forked_binary):
  rng = np.random.default_rng(0)
  speeds, accs = {}, {}
  for name in ('decu_a', 'decu_b', 'vocu_c'):
    workdir = os.path.join(runs, name)
    speeds[name] = 10.0 ** rng.uniform(-8, -2, 10)
    accs[name] = np.clip(0.9 - 0.1 * np.log10(speeds[name]) / 8 + rng.normal(0, 0.1, 10),
                         0, 1)
    multirun.write_result(workdir, 'slowpoints', {'classes': [
        {'class': k, 'speed': float(s), 'readout_class': k}
        for k, s in enumerate(speeds[name])]})
    # A saved curve that covers the long delay (delay 8, 20 trials): reused, not computed.
    saved = _read(os.path.join(workdir, 'analysis', 'extrapolation.json'))
    saved['per_class'][saved['delays'].index(8)] = accs[name].tolist()
    multirun.write_result(workdir, 'extrapolation', saved)
  out = _run(['bin/speed_accuracy.py', f'--workdirs={runs}/*', '--delay=8',
              '--num_trials=20', '--num_permutations=2000'], data_dir).stdout
  assert 'all networks pooled' in out
  summary = _read(os.path.join(runs, 'analysis', 'speed_accuracy_summary.json'))
  decu = summary['conditions']['mnist gru decu logits']
  x = np.log10(np.concatenate([speeds['decu_a'], speeds['decu_b']]))
  y = np.concatenate([accs['decu_a'], accs['decu_b']])
  assert decu['pooled']['n'] == 20
  assert decu['pooled']['spearman']['r'] == pytest.approx(stats.spearman(x, y))
  assert decu['pooled']['pearson']['r'] == pytest.approx(stats.pearson(x, y))
  net = _read(os.path.join(runs, 'vocu_c', 'analysis', 'speed_accuracy.json'))
  assert net['correlations']['spearman']['r'] == pytest.approx(
      stats.spearman(speeds['vocu_c'], accs['vocu_c']))
  assert 0 < net['correlations']['spearman']['p'] <= 1
  assert decu['mean_accuracy']['mean'] == pytest.approx(np.mean(y))
  assert os.path.exists(os.path.join(runs, 'figures', 'speed_accuracy_summary.png'))
  # Without slow points: a one-line error naming the command.
  os.remove(os.path.join(runs, 'vocu_c', 'analysis', 'slowpoints.json'))
  code, _, err = forked_binary('speed_accuracy.py', f'--workdirs={runs}/*', '--delay=8',
                               '--num_trials=20')
  assert code == 1
  assert 'bin/find_slowpoints.py --workdir=' in err.strip().splitlines()[-1]
