"""Image datasets (MNIST, CIFAR-10) from a local directory, the Keras cache, or download.

Resolution order for ``load_dataset(name, split, data_dir)``:

1. ``data_dir`` (the ``--data_dir`` flag) or ``$MEMRNN_DATA_DIR``: MNIST ``mnist.npz``;
   CIFAR-10 a standard ``cifar-10-batches-py/`` folder, else ``cifar10_subset.npz``.
   A directory that is given but lacks the files is an error (no silent download).
2. The Keras cache ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``).
3. Download through ``keras.datasets`` when the network is reachable and
   ``$MEMRNN_NO_DOWNLOAD`` is not ``1``; otherwise fail fast with instructions
   (``tfds.load`` offline retries for minutes, so it is never called blindly).
"""

import dataclasses
import functools
import os
import pickle
import socket

from absl import logging
import numpy as np

DATA_DIR_ENV = 'MEMRNN_DATA_DIR'
NO_DOWNLOAD_ENV = 'MEMRNN_NO_DOWNLOAD'
DATASETS = ('mnist', 'cifar10')
SPLITS = ('train', 'test')

# Noise statistics of the task (ORIGINAL_CODE_FACTS.md) and image shapes.
_INFO = {
    'mnist': dict(mean=0.1307, std=0.30816, shape=(28, 28, 1)),
    'cifar10': dict(mean=0.4734, std=0.2517, shape=(32, 32, 3)),
}
_FILES = {'mnist': ('mnist.npz',), 'cifar10': ('cifar-10-batches-py/', 'cifar10_subset.npz')}


class DataNotFoundError(FileNotFoundError):
  """The dataset files are not where they were looked for."""


@dataclasses.dataclass(frozen=True)
class ImageData:
  """Images of one split.

  Attributes:
    images: uint8 ``[N, H, W, C]``.
    labels: int64 ``[N]``.
    name: ``'mnist'`` or ``'cifar10'``.
    split: ``'train'`` or ``'test'``.
    source: where the arrays came from.
    mean: noise mean of the task for this dataset.
    std: noise std of the task for this dataset.
    num_classes: 10.
  """
  images: np.ndarray
  labels: np.ndarray
  name: str
  split: str
  source: str
  mean: float
  std: float
  num_classes: int = 10

  @property
  def image_shape(self):
    return tuple(self.images.shape[1:])

  @property
  def num_pixels(self):
    return int(np.prod(self.image_shape))

  def float_images(self):
    """Images as float32 in [0, 1]."""
    return self.images.astype(np.float32) / 255.0


def image_shape(name):
  """``(H, W, C)`` of dataset ``name`` without loading it."""
  _check_name(name)
  return _INFO[name]['shape']


def resolve_data_dir(data_dir=None):
  """The explicit ``data_dir``, else ``$MEMRNN_DATA_DIR``, else None."""
  return data_dir or os.environ.get(DATA_DIR_ENV) or None


def _keras_cache():
  home = os.environ.get('KERAS_HOME') or os.path.join(os.path.expanduser('~'), '.keras')
  return os.path.join(home, 'datasets')


def _check_name(name, split='train'):
  if name not in DATASETS:
    raise ValueError(f'unknown dataset {name!r}: expected one of {", ".join(DATASETS)}')
  if split not in SPLITS:
    raise ValueError(f'unknown split {split!r}: expected one of {", ".join(SPLITS)}')


def _how_to(name, looked):
  files = ' or '.join(_FILES[name])
  return (f'{name} data not found (looked in: {looked}). Provide {files} in a directory given '
          f'by --data_dir or ${DATA_DIR_ENV}, or in the Keras cache {_keras_cache()}, or run '
          f'once with network access to download it')


def _read_npz(path, split):
  try:
    with np.load(path) as d:
      x, y = d[f'x_{split}'], d[f'y_{split}']
  except (KeyError, ValueError, OSError) as e:
    raise ValueError(f'{path} is not a valid dataset file ({e})') from e
  return x, y


def _read_cifar_batches(folder, split):
  names = [f'data_batch_{i}' for i in range(1, 6)] if split == 'train' else ['test_batch']
  xs, ys = [], []
  for n in names:
    path = os.path.join(folder, n)
    try:
      with open(path, 'rb') as f:
        d = pickle.load(f, encoding='bytes')
      data = np.asarray(d[b'data'], np.uint8)
      xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
      ys.append(np.asarray(d[b'labels']))
    except (OSError, KeyError, ValueError, pickle.UnpicklingError) as e:
      raise ValueError(f'{path} is not a CIFAR-10 python batch ({e})') from e
  return np.concatenate(xs), np.concatenate(ys)


def _from_dir(name, split, folder):
  """Arrays from ``folder`` or None when its files are absent."""
  if name == 'mnist':
    path = os.path.join(folder, 'mnist.npz')
    return (_read_npz(path, split), path) if os.path.exists(path) else None
  batches = os.path.join(folder, 'cifar-10-batches-py')
  if os.path.isdir(batches):
    return _read_cifar_batches(batches, split), batches
  path = os.path.join(folder, 'cifar10_subset.npz')
  if os.path.exists(path):
    arrays = _read_npz(path, split)
    logging.warning('Using the CIFAR-10 subset %s: %d %s images (not the full set)', path,
                    len(arrays[0]), split)
    return arrays, path
  return None


def _network_reachable(host='storage.googleapis.com', port=443, timeout=3.0):
  try:
    with socket.create_connection((host, port), timeout=timeout):
      return True
  except OSError:
    return False


def _download(name, split):
  import keras  # pylint: disable=g-import-not-at-top
  loader = keras.datasets.mnist if name == 'mnist' else keras.datasets.cifar10
  (x_train, y_train), (x_test, y_test) = loader.load_data()
  return (x_train, y_train) if split == 'train' else (x_test, y_test)


@functools.lru_cache(maxsize=8)
def _load_cached(name, split, data_dir):
  if data_dir is not None:
    found = _from_dir(name, split, data_dir)
    if found is None:
      raise DataNotFoundError(_how_to(name, data_dir))
    return found
  found = _from_dir(name, split, _keras_cache())
  if found is not None:
    return found
  if os.environ.get(NO_DOWNLOAD_ENV) == '1' or not _network_reachable():
    raise DataNotFoundError(_how_to(name, f'${DATA_DIR_ENV} (unset), {_keras_cache()}; '
                                          'download impossible offline'))
  logging.info('Downloading %s through keras.datasets', name)
  return _download(name, split), 'keras-download'


def load_dataset(name, split, data_dir=None):
  """Loads one split of ``name`` as uint8 images and int64 labels.

  Args:
    name: ``'mnist'`` or ``'cifar10'``.
    split: ``'train'`` or ``'test'``.
    data_dir: directory with the files (default ``$MEMRNN_DATA_DIR``).

  Returns:
    ``ImageData``.

  Raises:
    ValueError: unknown name/split, or a malformed file.
    DataNotFoundError: the files are not found and cannot be downloaded.
  """
  _check_name(name, split)
  folder = resolve_data_dir(data_dir)
  (x, y), source = _load_cached(name, split, os.path.abspath(folder) if folder else None)
  x = np.asarray(x)
  if x.ndim == 3:
    x = x[..., None]
  shape = _INFO[name]['shape']
  if x.dtype != np.uint8 or x.shape[1:] != shape:
    raise ValueError(f'{source}: expected uint8 images of shape {shape}, got {x.dtype} '
                     f'{x.shape[1:]}')
  y = np.asarray(y).reshape(-1).astype(np.int64)
  if len(y) != len(x):
    raise ValueError(f'{source}: {len(x)} images but {len(y)} labels')
  return ImageData(x, y, name, split, source, _INFO[name]['mean'], _INFO[name]['std'])


def load_images(name, split, data_dir=None):
  """``(float32 images [N, H, W, C] in [0, 1], int64 labels [N])``."""
  data = load_dataset(name, split, data_dir)
  return data.float_images(), data.labels
