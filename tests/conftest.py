"""Shared test set-up: no network, temporary Keras/matplotlib homes, the data directory.

The tests read MNIST and the CIFAR-10 files from ``MEMRNN_DATA_DIR``, the variable README names
for the package itself (read once here, before any test can change the environment).
"""

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


# Made absolute now: tests run binaries with other working directories.
DATA_DIR = (os.path.abspath(os.environ['MEMRNN_DATA_DIR']) if os.environ.get('MEMRNN_DATA_DIR')
            else None)


@pytest.fixture(scope='session')
def data_dir():
  if DATA_DIR is None or not os.path.exists(os.path.join(DATA_DIR, 'mnist.npz')):
    pytest.fail(f'mnist.npz not found in {DATA_DIR}: set MEMRNN_DATA_DIR to the data directory')
  return DATA_DIR


@pytest.fixture(scope='session')
def mnist_arrays(data_dir):
  import numpy as np
  with np.load(os.path.join(data_dir, 'mnist.npz')) as d:
    return {k: d[k] for k in ('x_train', 'y_train', 'x_test', 'y_test')}
