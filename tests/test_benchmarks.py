"""The benchmark scripts run as README says (``python benchmarks/<name>.py``), tiny sizes."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # every test here runs a binary or trains a network

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _call(script, args, data_dir):
  # No PYTHONPATH: the scripts must find their configs from the repository themselves.
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  env.update(MEMRNN_DATA_DIR=data_dir, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run([sys.executable, os.path.join('benchmarks', script)] + args, cwd=REPO,
                        env=env, capture_output=True, text=True, timeout=300)


def _run(script, args, data_dir):
  proc = _call(script, args, data_dir)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc.stdout.strip().splitlines()


def test_train_throughput_prints_rows(data_dir):
  # No XLA: compiling the training step would be most of the test's time.
  lines = _run('train_throughput.py', ['--cells=gru', '--batch_sizes=4', '--seconds=0.1',
                                        '--intra_op_threads=1', '--peak_size=256',
                                        '--jit_compile=false', '--steps=10'], data_dir)
  assert lines[0].startswith('matmul peak') and float(lines[0].split()[-2]) > 0
  rows = [line.split() for line in lines[2:]]
  # cell, batch, xla, chains, threads per op, mode: the flags' settings (the cpu config's
  # chains); the thread count as TF reports it after the override.
  assert [r[:6] for r in rows] == [['gru', '4', 'False', '1', '1', 'step'],
                                   ['gru', '4', 'False', '1', '1', 'e2e']]
  for r in rows:
    trials, steps = float(r[6]), float(r[7])
    assert trials > 0 and abs(trials / steps - 4) < 0.1  # trials/s = batch * steps/s


def test_slowpoints_benchmark_variants_agree(data_dir):
  lines = _run('slowpoints.py', ['--sizes=8', '--max_iters=30', '--repeats=1',
                                 '--baseline_seconds=60', '--tol=1e-30',
                                 '--peak_size=256'], data_dir)
  assert 'matmul peak' in lines[1]
  rows = {line[:28].strip(): line[28:].split() for line in lines[3:]}
  assert set(rows) == {'loop (groups=1)', 'per-call', 'per-call, hoisted'}
  # Same iteration, same count: tol 1e-30 is never reached, so all run max_iters.
  assert [int(r[1]) for r in rows.values()] == [30, 30, 30]


def test_benchmark_flags_reject_bad_values(forked_binary):
  """Bad flags stop at flag parsing with one error line naming the flag."""
  # One per script, each in a forked child of this process (conftest.forked_binary).
  for script, arg in (('train_throughput.py', '--num_chains=0'),
                      ('slowpoints.py', '--groups=0'),
                      ('cifar_baseline.py', '--epochs=0')):
    code, _, err = forked_binary(f'benchmarks/{script}', arg)
    assert code != 0
    assert 'Traceback' not in err
    errors = [line for line in err.splitlines() if line.startswith('FATAL Flags parsing error')]
    assert len(errors) == 1 and arg.split('=')[0] in errors[0], err[-1000:]


def test_cifar_baseline_fits_a_small_training_set(data_dir):
  """The feed-forward reference learns: 64 images are memorised in 15 epochs."""
  lines = _run('cifar_baseline.py', ['--epochs=15', '--seeds=0', '--limit=64'], data_dir)
  seed, train_acc, test_acc, best_test = lines[-1].split()[:4]
  assert seed == '0' and float(train_acc) >= 0.9
  assert 0.0 <= float(test_acc) <= float(best_test) <= 1.0
