"""Shared test set-up: no network, temporary Keras/matplotlib homes, the shared data dir."""

import os
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Before TensorFlow/Keras are imported by any test module.
_HOME = tempfile.mkdtemp(prefix='memrnn_test_home_')
os.environ.setdefault('KERAS_HOME', os.path.join(_HOME, 'keras'))
os.environ.setdefault('MPLCONFIGDIR', os.path.join(_HOME, 'mpl'))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ['MEMRNN_NO_DOWNLOAD'] = '1'
sys.path.insert(0, REPO)


def shared_data_dir():
  return (os.environ.get('MEMRNN_TEST_DATA_DIR') or os.environ.get('MEMRNN_DATA_DIR') or
          os.path.join(REPO, '..', 'shared', 'data'))


@pytest.fixture(scope='session')
def data_dir():
  path = os.path.abspath(shared_data_dir())
  if not os.path.exists(os.path.join(path, 'mnist.npz')):
    pytest.fail(f'mnist.npz not found in {path}: set MEMRNN_DATA_DIR')
  return path


@pytest.fixture(scope='session')
def mnist_arrays(data_dir):
  import numpy as np
  with np.load(os.path.join(data_dir, 'mnist.npz')) as d:
    return {k: d[k] for k in ('x_train', 'y_train', 'x_test', 'y_test')}
