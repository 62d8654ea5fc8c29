"""``memrnn_tf.cli``: which errors become one line, and which keep their traceback."""

import pytest

from memrnn_tf import cli
from memrnn_tf import errors
from memrnn_tf.data import sources


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
