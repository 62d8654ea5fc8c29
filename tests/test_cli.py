"""``memrnn_tf.cli``: which errors become one line, and which keep their traceback."""

import os
import subprocess
import sys

import pytest

from memrnn_tf import cli
from memrnn_tf import errors
from memrnn_tf.data import sources

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = os.path.join(REPO, 'configs', 'mnist.py') + ':smoke'


def _raise(error):
  raise error


def test_package_errors_become_one_line(capsys):
  with pytest.raises(SystemExit) as e:
    cli.run_or_exit(_raise, errors.ConfigError('unknown curriculum\n  spread over lines'))
  assert e.value.code == 1
  assert capsys.readouterr().err == 'error: unknown curriculum spread over lines\n'


def test_other_errors_keep_their_traceback():
  # A ValueError that is not the package's own is a bug, not a user error.
  with pytest.raises(ValueError, match='internal'):
    cli.run_or_exit(_raise, ValueError('internal'))
  with pytest.raises(KeyError):
    cli.run_or_exit(_raise, KeyError('x'))


def test_package_errors_are_still_builtin_errors():
  with pytest.raises(ValueError, match='unknown dataset'):
    sources.load_dataset('fashion_mnist', 'train')
  with pytest.raises(errors.MemrnnError):
    sources.load_dataset('mnist', 'validation')
  assert issubclass(sources.DataNotFoundError, FileNotFoundError)
  assert issubclass(errors.RunNotFoundError, FileNotFoundError)


_BINARY = r'''
from absl import app
from memrnn_tf import cli
_CONFIG = cli.define_config_file('config', cli.config_path('mnist', 'smoke'), 'Config.')
def main(argv):
  print(_CONFIG.value.model.cell, _CONFIG.value.learning_rate)
app.run(main, flags_parser=cli.parse_flags)
'''


def _call(args, tmp_path):
  script = tmp_path / 'binary.py'
  script.write_text(_BINARY)
  env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='3')
  return subprocess.run([sys.executable, str(script)] + args, cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('args,line', [
    # Without --config the default config is loaded while the flag is defined.
    (['--config.foo=1'], 'error: --config.foo=1: the config has no field foo'),
    ([f'--config={SMOKE}', '--config.model.cel=gru'],
     'error: --config.model.cel=gru: the config has no field model.cel '
     '(did you mean model.cell?)'),
    (['--config.modl.cell=gru'],
     'error: --config.modl.cell=gru: the config has no field modl.cell '
     '(did you mean model.cell?)'),
    ([f'--config={SMOKE}', '--config.learning_rate=fast'],
     "error: flag --config.learning_rate=fast: could not convert string to float: 'fast'"),
    ([f'--config={SMOKE[:-len("smoke")]}nope'],
     f"error: flag --config={SMOKE[:-len('smoke')]}nope: ValueError: unknown variant 'nope' "
     'of configs/mnist.py: expected paper, paper_batch1, cpu or smoke'),
])
def test_flag_errors_are_one_line(args, line, tmp_path):
  proc = _call(args, tmp_path)
  assert proc.returncode == 2  # a usage error
  assert proc.stderr.strip().splitlines() == [line], proc.stderr[-2000:]
  assert proc.stdout == ''


def test_good_overrides_still_apply(tmp_path):
  proc = _call([f'--config={SMOKE}', '--config.model.cell=lstm', '--config.learning_rate=0.5'],
               tmp_path)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.split() == ['lstm', '0.5']


def test_train_binary_unknown_field_one_line(tmp_path, forked_binary):
  code, _, err = forked_binary('train.py', '--config.model.num_chains=2',
                               f'--workdir={tmp_path / "run"}')
  assert code == 2 and 'Traceback' not in err
  assert err.strip().splitlines()[-1] == (
      'error: --config.model.num_chains=2: the config has no field model.num_chains')
  assert not (tmp_path / 'run').exists()
