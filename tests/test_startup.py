"""The binaries' start-up: TensorFlow's C++ start-up lines off by default, the user's level wins."""

import os
import subprocess
import sys

import pytest

from memrnn_tf import startup

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What TensorFlow 2.21 writes while it loads on a CPU machine with TF_CPP_MIN_LOG_LEVEL unset.
_CPU_STARTUP = (
    'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n'
    'I0000 00:00:1796303904.238375    5855 cudart_stub.cc:31] Could not find cuda drivers on '
    'your machine, GPU will not be used.\n'
    'I0000 00:00:1796303904.326869    5855 cpu_feature_guard.cc:227] This TensorFlow binary is '
    'optimized to use available CPU instructions in performance-critical operations.\n'
    'To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow '
    'with the appropriate compiler flags.\n'
    'W0000 00:00:1796303904.5 1 some.cc:1] a warning\n'
    'E0000 00:00:1796303914.965519    5855 cuda_platform.cc:52] failed call to cuInit: INTERNAL: '
    'CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n'
    '/x/y.py:3: UserWarning: a Python warning\n'
    'To enable the following instructions: kept, its line above was kept')


def test_filter_keeps_what_the_level_allows():
  lines = _CPU_STARTUP.splitlines(keepends=True)
  python_lines = lines[-2:]
  python_lines[-1] += '\n'
  assert startup.filter_startup_lines(_CPU_STARTUP, 0) == ''.join(lines[:-1]) + python_lines[-1]
  assert startup.filter_startup_lines(_CPU_STARTUP, 1) == ''.join(lines[4:6] + python_lines)
  assert startup.filter_startup_lines(_CPU_STARTUP, 2) == ''.join(lines[5:6] + python_lines)
  assert startup.filter_startup_lines(_CPU_STARTUP, 3) == ''.join(python_lines)


def _python(code, **env):
  environ = {k: v for k, v in os.environ.items() if k != startup.LEVEL_ENV}
  environ.update(env, PYTHONPATH=REPO)
  return subprocess.run([sys.executable, '-c', code], env=environ, capture_output=True,
                        text=True, timeout=300, cwd=REPO)


def test_the_users_level_wins_and_tensorflow_is_not_imported_early():
  code = ('import os, sys; from memrnn_tf import startup; '
          'print(os.environ.get("TF_CPP_MIN_LOG_LEVEL")); startup.quiet_tensorflow(); '
          'print(os.environ["TF_CPP_MIN_LOG_LEVEL"], "tensorflow" in sys.modules)')
  # Importing the module sets nothing; the user's 0 stays 0.
  proc = _python(code, TF_CPP_MIN_LOG_LEVEL='0')
  assert proc.stdout.split() == ['0', '0', 'False'], proc.stderr
  # Unset: the default level, and TensorFlow still not imported (a binary that only reads
  # files never pays for it).
  proc = _python(code)
  assert proc.stdout.split() == ['None', str(startup.default_level()), 'False'], proc.stderr


@pytest.mark.slow
def test_a_binary_prints_only_its_error_line():
  """A binary with no level set: TensorFlow loads (the binary imports it) and says nothing."""
  proc = subprocess.run(
      [sys.executable, os.path.join(REPO, 'bin', 'evaluate.py'), '--workdir=/nonexistent/run'],
      env={**{k: v for k, v in os.environ.items() if k != startup.LEVEL_ENV}, 'PYTHONPATH': REPO},
      capture_output=True, text=True, timeout=300, cwd=REPO)
  assert proc.returncode == 1
  assert proc.stderr.splitlines() == [
      'error: /nonexistent/run/config.json not found: is --workdir=/nonexistent/run a memrnn_tf '
      'run?'], proc.stderr[-2000:]
