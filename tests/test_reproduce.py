"""The reproduction pipeline (memrnn_tf.reproduce, bin/reproduce.py): stages, reuse, report."""

import json
import os
import re
import subprocess
import sys

import pytest

from memrnn_tf.reproduce import pipeline
from memrnn_tf.reproduce import stages
from memrnn_tf.sweep import grid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(variant):
  return grid.load_config_file(f'configs/reproduce.py:{variant}')


@pytest.mark.parametrize('variant', ['smoke', 'cpu', 'paper'])
def test_every_variant_names_its_stages_and_grids(variant):
  config = _config(variant)
  names = stages.stage_names(config)
  assert names[:4] == ['train_mnist_gru', 'train_mnist_lstm', 'train_template_matching',
                       'train_cifar10']
  for required in ('extrapolate_mnist', 'slowpoints_paper_mnist', 'speed_accuracy_mnist',
                   'backtrack_mnist',
                   'branching_mnist', 'plot_template_matching', 'regularize_control_*',
                   'plot_regularization'):
    assert required in names
  for study in stages.studies(config):  # every grid exists and expands
    _, points = grid.expand(grid.load_config_file(stages.sweep_spec(config, study)))
    assert points


@pytest.mark.parametrize('variant, steps', [('paper_gru', 140_000), ('paper_gru_35k', 35_000)])
def test_paper_gru_variants_train_ten_networks_of_the_papers_protocol(variant, steps):
  config = _config(variant)
  names = stages.stage_names(config)
  assert [n for n in names if n.startswith('train_')] == ['train_mnist_gru']
  assert 'slowpoints_paper_mnist' in names and 'flipflop_delay0' not in names
  _, points = grid.expand(grid.load_config_file(stages.sweep_spec(config, 'mnist_gru')))
  assert sorted(p.name for p in points) == sorted(
      f'gru_{c}_sigmoid_s{s}' for c in ('decu', 'vocu') for s in range(5))
  for p in points:
    c = p.config
    assert (c.num_steps, c.batch_size, c.learning_rate, c.model.units) == (steps, 128, 1e-4, 200)
    assert c.model.readout_sigmoid and c.snapshot_every == 1000
    assert (c.perf.jit_compile, c.perf.num_chains, c.perf.intra_op_threads) == (False, 2, 1)
  assert config.slowpoints_paper.paper_steps == 100_000
  assert config.regularize.steps == 5000


def test_cpu_grid_has_five_networks_per_curriculum_and_readout():
  _, points = grid.expand(grid.load_config_file('configs/sweep.py:cpu_mnist_gru'))
  conditions = {}
  for p in points:
    key = (p.config.curriculum, p.config.model.readout_sigmoid)
    conditions[key] = conditions.get(key, 0) + 1
    assert p.config.model.cell == 'gru' and p.config.num_steps == 6000
  assert conditions == {(c, r): 5 for c in ('naive', 'decu', 'vocu') for r in (True, False)}
  # The earlier sweeps' networks are the same runs (names and configs), so they are reused.
  _, old = grid.expand(grid.load_config_file('configs/sweep.py:gru_logits'))
  by_name = {p.name: p for p in points}
  for p in old:
    assert grid.flatten(by_name[p.name].config) == grid.flatten(p.config)


def test_finished_runs_need_eval_json(tmp_path):
  for name in ('gru_decu_sigmoid_s0', 'gru_decu_sigmoid_s1', 'gru_vocu_sigmoid_s0'):
    os.makedirs(tmp_path / 'mnist_gru' / name)
  (tmp_path / 'mnist_gru' / 'gru_decu_sigmoid_s0.log').write_text('')
  for name in ('gru_decu_sigmoid_s0', 'gru_vocu_sigmoid_s0'):
    (tmp_path / 'mnist_gru' / name / 'eval.json').write_text('{}')
  found = stages.finished_runs(str(tmp_path), 'mnist_*/*_decu_*, mnist_gru/gru_vocu_*')
  assert [os.path.basename(p) for p in found] == ['gru_decu_sigmoid_s0', 'gru_vocu_sigmoid_s0']
  config = _config('smoke')
  config.extrapolate.runs = 'mnist_gru/*'
  by_name = {s.name: s for s in stages.analysis_stages(config, str(tmp_path))}
  extrapolate = by_name['extrapolate_mnist']
  assert extrapolate.workdirs == found and extrapolate.skip_reason is None
  assert f'--workdirs={",".join(found)}' in extrapolate.argv
  assert '--protocols=fixed,tmax' in extrapolate.argv and '--second_retrieval=4,4' in extrapolate.argv
  assert extrapolate.outputs == [str(tmp_path / 'aggregate' / 'mnist' / 'analysis' /
                                     'extrapolation_summary.json')]
  # Analyses sharing aggregate/mnist each claim their own figure only.
  figures = tmp_path / 'aggregate' / 'mnist' / 'figures'
  os.makedirs(figures)
  for name in ('extrapolation_summary.png', 'speed_accuracy_summary.png'):
    (figures / name).write_text('png')
  assert extrapolate.figures() == [str(figures / 'extrapolation_summary.png')]
  assert by_name['speed_accuracy_mnist'].figures() == [str(figures /
                                                          'speed_accuracy_summary.png')]
  assert by_name['extrapolate_cifar10'].skip_reason.startswith('no finished run matches')
  assert by_name['extrapolate_cifar10'].argv == []


def test_regularize_workdirs_name_a_set_length(tmp_path):
  """Runs of another length are never reused: the length is in the workdir's name."""
  os.makedirs(tmp_path / 'mnist_gru' / 'gru_decu_sigmoid_s0')
  (tmp_path / 'mnist_gru' / 'gru_decu_sigmoid_s0' / 'eval.json').write_text('{}')
  config = _config('cpu')
  by_name = {s.name: s for s in stages.regularize_stages(config, str(tmp_path))}
  stage = by_name['regularize_centres_gru_decu_sigmoid_s0']
  name = 'centres_gru_decu_sigmoid_s0_steps5000'
  assert stage.workdirs == [str(tmp_path / 'regularize' / name)]
  assert '--steps=5000' in stage.argv and '--targets=centres' in stage.argv
  assert '--penalty=0' in by_name['regularize_control_gru_decu_sigmoid_s0'].argv
  del config.regularize['steps']
  stage = stages.regularize_stages(config, str(tmp_path))[0]
  assert stage.workdirs == [str(tmp_path / 'regularize' / 'control_gru_decu_sigmoid_s0')]


def test_stage_runs_once_then_is_reused_until_its_command_changes(tmp_path):
  root = str(tmp_path)
  out = str(tmp_path / 'out.txt')

  def stage(text):
    code = f'open({out!r}, "a").write({text!r})'
    return stages.Stage('fake', 'analysis', [sys.executable, '-c', code], [], [out])

  record = pipeline._Record(root, _config('smoke'), {'stages': []})
  assert pipeline._run_stage(stage('a'), record, root, dry_run=False) == 'done'
  record = pipeline._Record(root, _config('smoke'), pipeline.load_record(root))
  assert pipeline._run_stage(stage('a'), record, root, dry_run=False) == 'reused'
  # A dry run keeps the last results of a stage whose command changed.
  assert pipeline._run_stage(stage('b'), record, root, dry_run=True) == 'stale'
  assert pipeline.load_record(root)['stages'][0]['command'] == stage('a').command
  failing_dry = stages.Stage('fake', 'analysis', stage('c').argv, [], [out])
  record.previous['fake'] = {**pipeline.load_record(root)['stages'][0], 'status': 'pending',
                             'command': failing_dry.command}
  # A pending record with the same command is not a result: the stage runs.
  assert pipeline._run_stage(failing_dry, record, root, dry_run=False) == 'done'
  assert pipeline._run_stage(stage('b'), record, root, dry_run=False) == 'done'
  with open(out) as f:
    assert f.read() == 'acb'
  failing = stages.Stage('bad', 'run', [sys.executable, '-c', 'raise SystemExit(3)'], [],
                         [str(tmp_path / 'never')])
  assert pipeline._run_stage(failing, record, root, dry_run=False) == 'failed'
  saved = {s['name']: s for s in pipeline.load_record(root)['stages']}
  assert saved['fake']['status'] == 'done' and saved['fake']['command'].startswith('python -c')
  assert 'exited with code 3' in saved['bad']['error']
  assert os.path.exists(os.path.join(root, 'logs', 'bad.log'))
  # A run stage is reused from its outputs; its time is the last call's only for the same
  # command.
  record = pipeline._Record(root, _config('smoke'), pipeline.load_record(root))
  run = lambda text: stages.Stage('fake', 'run', stage(text).argv, [], [out])  # noqa: E731
  assert pipeline._run_stage(run('b'), record, root, dry_run=False) == 'reused'
  assert pipeline.load_record(root)['stages'][0]['seconds'] > 0
  assert pipeline._run_stage(run('z'), record, root, dry_run=False) == 'reused'
  assert pipeline.load_record(root)['stages'][0]['seconds'] is None


def test_unknown_stage_pattern_is_an_error(tmp_path):
  with pytest.raises(pipeline.ReproduceError, match='matches no stage'):
    pipeline.run_pipeline(_config('smoke'), str(tmp_path), ['train_nothing'], report=False)


def _flags(root, *flags):
  """bin/reproduce.py's flags: the smoke variant's MNIST GRU study, no flip-flop."""
  return ['--config=configs/reproduce.py:smoke', f'--root={root}', '--config.studies=mnist_gru',
          '--config.flipflop=', *flags]


def test_binary_rejects_an_unknown_stage_in_one_line(tmp_path, forked_binary):
  code, _, err = forked_binary('reproduce.py', *_flags(tmp_path / 'r', '--stages=train_nothing'))
  assert code == 1 and 'Traceback' not in err
  errors = [line for line in err.splitlines() if line.startswith('error:')]
  assert len(errors) == 1 and 'train_nothing matches no stage' in errors[0], err[-1000:]


def _reproduce(root, data_dir, *flags):
  argv = [sys.executable, os.path.join(REPO, 'bin', 'reproduce.py'), *_flags(root, *flags)]
  env = {**os.environ, 'MEMRNN_DATA_DIR': data_dir, 'PYTHONPATH': REPO}
  return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)


@pytest.mark.slow
def test_smoke_reproduction_writes_the_report_from_its_files_and_reuses_on_rerun(
    tmp_path, data_dir, binary_main):
  root = str(tmp_path / 'repro')
  stages_flag = '--stages=train_mnist_gru,extrapolate_mnist'
  proc = _reproduce(root, data_dir, stages_flag, '--concurrency=2')
  assert proc.returncode == 0, proc.stderr[-3000:]
  # The training grid ran through bin/sweep.py, two runs at a time, with its post-steps.
  with open(os.path.join(root, 'mnist_gru', 'sweep.json')) as f:
    sweep = json.load(f)
  names = ['gru_naive_sigmoid_s0', 'gru_decu_sigmoid_s0', 'gru_vocu_sigmoid_s0']
  assert [r['name'] for r in sweep['runs']] == names and sweep['counts'] == {'done': 3}
  assert sweep['backend'] == 'local, 2 at a time, 1 threads per op'
  for r in sweep['runs']:
    assert r['status'] == 'done' and r['seconds'] > 0 and r['error'] is None
    with open(os.path.join(r['workdir'], 'eval.json')) as f:
      assert r['eval'] == json.load(f) and r['eval']['step'] == 8
    with open(os.path.join(r['workdir'], 'config.json')) as f:
      saved = json.load(f)
    assert (saved['curriculum'], saved['seed']) == (r['overrides']['curriculum'], 0)
    assert saved['perf']['intra_op_threads'] == 1 and saved['model']['readout_sigmoid']
    with open(os.path.join(r['workdir'], 'analysis', 'extrapolation.json')) as f:
      out = json.load(f)
    saved = dict(zip(out['delays'], out['accuracy']))  # extrapolate_mnist added delay 50
    assert r['post']['extrapolate'] == {'delays': [4, 19], 'accuracy': [saved[4], saved[19]],
                                        'trials': 32}
    assert r['post']['find_slowpoints']['num_points'] == 10
  record = pipeline.load_record(root)
  status = {s['name']: s['status'] for s in record['stages'] if s['status'] != 'pending'}
  assert status == {'train_mnist_gru': 'done', 'extrapolate_mnist': 'done',
                    'extrapolate_cifar10': 'skipped', 'plot_regularization': 'skipped',
                    'plot_template_matching': 'skipped'}
  with open(os.path.join(root, 'report.md')) as f:
    report = f.read()
  # Every claim has its section, whatever ran.
  for title in ('Nominal accuracy', 'Naive training', 'DeCu extrapolates further',
                'resists stronger noise', 'second retrieval', 'reads out its class',
                'Slow-point speed predicts', 'slow points are slower', 'clouds spread',
                'jump at class introductions', 'branch from existing', 'Speed regularisation',
                'Flip-flop', 'CIFAR-10'):
    assert re.search(rf'^## .*{title}', report, re.M), title
  # Numbers come from the files: nominal accuracy of each (single-network) condition.
  for name in ('gru_decu_sigmoid_s0', 'gru_vocu_sigmoid_s0', 'gru_naive_sigmoid_s0'):
    with open(os.path.join(root, 'mnist_gru', name, 'eval.json')) as f:
      evaluation = json.load(f)
    condition = 'mnist gru ' + name.split('_')[1] + ' sigmoid'
    digits = 100 * evaluation['test']['digit_accuracy']
    assert f'| {condition} | {digits:.1f}% (N=1)' in report
  # Claims whose stages did not run say so, with the command, instead of showing numbers.
  assert 'stage `speed_accuracy_mnist` is pending: run `python bin/speed_accuracy.py' in report
  with open(os.path.join(root, 'aggregate', 'mnist', 'analysis',
                         'extrapolation_summary.json')) as f:
    summary = json.load(f)
  assert set(summary['protocols']) == {'fixed', 'tmax'}
  assert 'second_retrieval' in summary and 'noise' in summary

  ran = ('train_mnist_gru', 'extrapolate_mnist')
  logs = {n: os.path.getsize(os.path.join(root, 'logs', f'{n}.log')) for n in ran}
  logs.update({n: os.path.getsize(os.path.join(root, 'mnist_gru', n + '.log')) for n in names})
  code, _, err = binary_main('reproduce.py', *_flags(root, stages_flag))  # the rerun, in-process
  assert code == 0, err[-3000:]
  again = {s['name']: s['status'] for s in pipeline.load_record(root)['stages']}
  assert [again[n] for n in ran] == ['reused', 'reused']
  assert logs == {**{n: os.path.getsize(os.path.join(root, 'logs', f'{n}.log')) for n in ran},
                  **{n: os.path.getsize(os.path.join(root, 'mnist_gru', n + '.log'))
                     for n in names}}


def test_flipflop_seeds_each_get_a_workdir_and_compare_with_their_own_undelayed_network():
  config = _config('cpu')
  config.flipflop_seeds = '0,3'
  by_name = {s.name: s for s in stages.flipflop_stages(config, '/r')}
  assert list(by_name) == ['flipflop_delay0', 'flipflop_delay8', 'flipflop_delay0_s3',
                           'flipflop_delay8_s3']
  argv = by_name['flipflop_delay8_s3'].argv
  assert '--workdir=/r/flipflop/delay8_s3' in argv and '--config.seed=3' in argv
  assert '--config.compare_with=/r/flipflop/delay0_s3' in argv
  assert '--config.seed=0' not in by_name['flipflop_delay8'].argv
