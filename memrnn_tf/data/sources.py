"""Image datasets (MNIST, CIFAR-10) from a local directory, the Keras cache, or download.

Resolution order for ``load_dataset(name, split, data_dir)`` (:func:`resolve_data_dir`,
the one place that decides it):

1. The process's ``--data_dir`` flag (:func:`set_data_dir`, which every binary's flag
   parsing calls), else ``data_dir`` (a run's ``config.data_dir``), else
   ``$MEMRNN_DATA_DIR``: MNIST ``mnist.npz``; CIFAR-10 a standard ``cifar-10-batches-py/``
   folder, else ``cifar10_subset.npz``. A directory that is given but lacks the files is an
   error (no silent download).
2. The Keras cache ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``): ``mnist.npz``,
   or a ``cifar-10-batches-py/`` folder (also where Keras 3 extracts it,
   ``cifar-10-batches-py-target/cifar-10-batches-py/``).
3. Download through ``keras.datasets`` when the network is reachable and
   ``$MEMRNN_NO_DOWNLOAD`` is not ``1``; otherwise fail fast with instructions
   (``tfds.load`` offline retries for minutes, so it is never called).

Loaded arrays are cached in-process (per dataset, split and location) and are read-only.
Importing this module imports neither TensorFlow nor Keras.
"""

import dataclasses
import functools
import os
import pickle
import socket
import threading
import zipfile
import zlib

from absl import logging
import numpy as np

from memrnn_tf import errors

DATA_DIR_ENV = 'MEMRNN_DATA_DIR'
NO_DOWNLOAD_ENV = 'MEMRNN_NO_DOWNLOAD'
DATASETS = ('mnist', 'cifar10')
SPLITS = ('train', 'test')

_NUM_CLASSES = 10
# Noise statistics of the task (001 appendix C; docs/protocol.md) and image shapes.
_INFO = {
    'mnist': dict(mean=0.1307, std=0.30816, shape=(28, 28, 1)),
    'cifar10': dict(mean=0.4734, std=0.2517, shape=(32, 32, 3)),
}
_MNIST_FILE = 'mnist.npz'
_CIFAR_FOLDER = 'cifar-10-batches-py'
_CIFAR_SUBSET = 'cifar10_subset.npz'
# Where Keras 3 extracts the CIFAR-10 archive inside its cache (tf.keras 2 used the bare folder).
_KERAS3_CIFAR_FOLDER = os.path.join('cifar-10-batches-py-target', _CIFAR_FOLDER)
_DOWNLOAD = 'keras-download'
_PROBE_HOST = ('storage.googleapis.com', 443)

# Errors that reading a damaged npz or pickle can raise.
_READ_ERRORS = (OSError, EOFError, KeyError, IndexError, TypeError, ValueError, AttributeError,
                zipfile.BadZipFile, zlib.error, pickle.UnpicklingError)


# The dataset files are not where they were looked for (and cannot be downloaded).
DataNotFoundError = errors.DataNotFoundError


@dataclasses.dataclass(frozen=True, eq=False)
class ImageData:
  """Images of one split.

  Attributes:
    images: uint8 ``[N, H, W, C]`` (read-only; shared by every load of the same files).
    labels: int64 ``[N]`` in ``[0, num_classes)`` (read-only).
    name: ``'mnist'`` or ``'cifar10'``.
    split: ``'train'`` or ``'test'``.
    source: where the arrays came from (a path, or ``'keras-download'``).
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
  num_classes: int = _NUM_CLASSES

  @property
  def image_shape(self):
    """``(H, W, C)``."""
    return tuple(int(d) for d in self.images.shape[1:])

  @property
  def num_pixels(self):
    """``H * W * C``."""
    return int(np.prod(self.image_shape))

  def float_images(self):
    """The images as a new float32 array in ``[0, 1]``."""
    return self.images.astype(np.float32) / np.float32(255.0)


def image_shape(name):
  """``(H, W, C)`` of dataset ``name`` without loading it.

  Args:
    name: ``'mnist'`` or ``'cifar10'``.

  Returns:
    The image shape as a tuple.

  Raises:
    ConfigError: unknown ``name``.
  """
  _check_name(name)
  return _INFO[name]['shape']


_flag_data_dir = None  # this process's --data_dir flag (set_data_dir)


def set_data_dir(path):
  """Makes ``path`` (a ``--data_dir`` flag) the data directory of this process.

  It wins over a run's ``config.data_dir`` and ``$MEMRNN_DATA_DIR`` in every later load,
  and ``$MEMRNN_DATA_DIR`` is set to it so that the commands this process starts (a
  reproduction's stages, a sweep's runs) read the same files.

  Args:
    path: a directory; empty or None means the flag was not given (nothing changes).
  """
  global _flag_data_dir
  if path:
    _flag_data_dir = os.path.abspath(os.path.expanduser(path))
    os.environ[DATA_DIR_ENV] = _flag_data_dir


def resolve_data_dir(data_dir=None):
  """The data directory to use: the ``--data_dir`` flag (``set_data_dir``), else ``data_dir``,
  else ``$MEMRNN_DATA_DIR``, else None.

  Args:
    data_dir: the directory the caller was given (a run's ``config.data_dir``); empty means
      not given.

  Returns:
    A directory path (``~`` expanded) or None.
  """
  folder = _flag_data_dir or data_dir or os.environ.get(DATA_DIR_ENV) or None
  return os.path.expanduser(folder) if folder else None


def keras_cache_dir():
  """``$KERAS_HOME/datasets``, as Keras resolves it (``~/.keras``, or ``/tmp/.keras``)."""
  home = os.environ.get('KERAS_HOME')
  if not home:
    base = os.path.expanduser('~')
    if not os.access(base, os.W_OK):
      base = '/tmp'
    home = os.path.join(base, '.keras')
  return os.path.join(os.path.expanduser(home), 'datasets')


def clear_cache():
  """Forgets the arrays loaded so far (e.g. after files on disk changed)."""
  _load_arrays.cache_clear()


def _check_name(name, split='train'):
  if name not in DATASETS:
    raise errors.ConfigError(f'unknown dataset {name!r}: expected one of {", ".join(DATASETS)}')
  if split not in SPLITS:
    raise errors.ConfigError(f'unknown split {split!r}: expected one of {", ".join(SPLITS)}')


def _wanted_in_dir(name):
  if name == 'mnist':
    return _MNIST_FILE
  return f'{_CIFAR_FOLDER}/ or {_CIFAR_SUBSET}'


def _wanted_in_cache(name):
  return _MNIST_FILE if name == 'mnist' else f'{_CIFAR_FOLDER}/'


def _how_to(name, looked, why=''):
  """A one-line error message: what was looked for where, and how to provide it."""
  return (f'{name} data not found: looked for {looked}{why}. Provide a directory with '
          f'{_wanted_in_dir(name)} through --data_dir or ${DATA_DIR_ENV}, or put '
          f'{_wanted_in_cache(name)} in the Keras cache {keras_cache_dir()}, or run with network '
          f'access (and ${NO_DOWNLOAD_ENV} unset) so keras.datasets downloads it')


def _find_in_dir(name, folder):
  """``(kind, path)`` of the files for ``name`` in a user data directory, or None."""
  if name == 'mnist':
    path = os.path.join(folder, _MNIST_FILE)
    return ('npz', path) if os.path.isfile(path) else None
  path = os.path.join(folder, _CIFAR_FOLDER)
  if os.path.isdir(path):
    return 'batches', path
  path = os.path.join(folder, _CIFAR_SUBSET)
  return ('subset', path) if os.path.isfile(path) else None


def _find_in_keras_cache(name, cache):
  """``(kind, path)`` of the files for ``name`` in the Keras cache, or None."""
  if name == 'mnist':
    path = os.path.join(cache, _MNIST_FILE)
    return ('npz', path) if os.path.isfile(path) else None
  for sub in (_CIFAR_FOLDER, _KERAS3_CIFAR_FOLDER):
    path = os.path.join(cache, sub)
    if os.path.isdir(path):
      return 'batches', path
  return None


def _network_reachable(host=_PROBE_HOST, timeout=3.0):
  """Whether a TCP connection to ``host`` opens within about ``timeout`` seconds.

  The probe runs in a daemon thread so that a slow DNS lookup cannot exceed the deadline.
  """
  result = []

  def probe():
    try:
      with socket.create_connection(host, timeout=timeout):
        result.append(True)
    except OSError:
      pass

  thread = threading.Thread(target=probe, name='memrnn-net-probe', daemon=True)
  thread.start()
  thread.join(timeout + 0.5)
  return bool(result)


def _read_npz(path, split):
  try:
    with np.load(path, allow_pickle=False) as d:
      return np.asarray(d[f'x_{split}']), np.asarray(d[f'y_{split}'])
  except _READ_ERRORS as e:
    raise errors.DataFormatError(f'{path} is not a valid dataset file (x_{split}/y_{split}): '
                                 f'{type(e).__name__}: {e}') from e


def _read_cifar_batches(folder, split):
  """Arrays from the pickled batches of a ``cifar-10-batches-py`` folder, NHWC uint8.

  The pickles are trusted input: only point this at a CIFAR-10 folder you obtained yourself.
  """
  names = [f'data_batch_{i}' for i in range(1, 6)] if split == 'train' else ['test_batch']
  xs, ys = [], []
  for n in names:
    path = os.path.join(folder, n)
    try:
      with open(path, 'rb') as f:
        d = pickle.load(f, encoding='bytes')
      data = np.asarray(d[b'data'])
      labels = np.asarray(d[b'labels']).reshape(-1)
      if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f'b"data" is {data.dtype} {data.shape}, expected uint8 [N, 3072]')
      if len(labels) != len(data):
        raise ValueError(f'{len(data)} images but {len(labels)} labels')
    except _READ_ERRORS as e:
      raise errors.DataFormatError(f'{path} is not a CIFAR-10 python batch: '
                                   f'{type(e).__name__}: {e}') from e
    # Each row is the red, green, then blue 32x32 plane, row-major.
    xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    ys.append(labels)
  return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


def _download(name, split):
  import keras  # pylint: disable=g-import-not-at-top
  loader = keras.datasets.mnist if name == 'mnist' else keras.datasets.cifar10
  (x_train, y_train), (x_test, y_test) = loader.load_data()
  return (x_train, y_train) if split == 'train' else (x_test, y_test)


def _validate(name, x, y, source):
  """Checked uint8 NHWC images and int64 labels, both read-only."""
  x, y = np.asarray(x), np.asarray(y)
  shape = _INFO[name]['shape']
  if x.ndim == 3 and shape[-1] == 1:
    x = x[..., None]
  elif x.ndim == 4 and x.shape[1:] == (shape[2], shape[0], shape[1]) != shape:
    x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # keras.json channels_first.
  if x.dtype != np.uint8 or x.shape[1:] != shape:
    dims = ', '.join(map(str, shape))
    raise errors.DataFormatError(f'{source}: expected uint8 {name} images of shape [N, {dims}], '
                                 f'got {x.dtype} {list(x.shape)}')
  if (not np.issubdtype(y.dtype, np.integer) or y.size != len(x) or
      (y.ndim > 1 and y.shape[0] != len(x))):
    raise errors.DataFormatError(f'{source}: expected {len(x)} integer labels, got {y.dtype} '
                                 f'{list(y.shape)}')
  y = y.reshape(-1).astype(np.int64)
  if len(y) and (y.min() < 0 or y.max() >= _NUM_CLASSES):
    raise errors.DataFormatError(f'{source}: labels must be in [0, {_NUM_CLASSES}), got '
                                 f'[{y.min()}, {y.max()}]')
  x.flags.writeable = False
  y.flags.writeable = False
  return x, y


@functools.lru_cache(maxsize=8)
def _load_arrays(name, split, kind, path):
  """Validated ``(images, labels)`` of one split from files of ``kind`` at ``path``."""
  if kind == 'batches':
    x, y = _read_cifar_batches(path, split)
  elif kind in ('npz', 'subset'):
    x, y = _read_npz(path, split)
    if kind == 'subset':
      logging.warning('Using the CIFAR-10 subset %s: %d %s images, not the full CIFAR-10 set',
                      path, len(x), split)
  elif kind == _DOWNLOAD:
    logging.info('Loading %s through keras.datasets (downloads it if not cached)', name)
    x, y = _download(name, split)
  else:
    raise AssertionError(kind)
  x, y = _validate(name, x, y, path)
  logging.info('Loaded %s %s: %d images %s from %s', name, split, len(x), x.shape[1:], path)
  return x, y


def _locate(name, data_dir):
  """``(kind, path)`` to load ``name`` from, following the module's resolution order."""
  folder = resolve_data_dir(data_dir)
  if folder is not None:
    origin = '--data_dir' if _flag_data_dir or data_dir else f'${DATA_DIR_ENV}'
    folder = os.path.abspath(folder)
    found = _find_in_dir(name, folder) if os.path.isdir(folder) else None
    if found is None:
      why = '' if os.path.isdir(folder) else ' (no such directory)'
      raise DataNotFoundError(_how_to(name, f'{_wanted_in_dir(name)} in {folder} (from {origin})',
                                      why))
    return found
  cache = os.path.abspath(keras_cache_dir())
  found = _find_in_keras_cache(name, cache)
  if found is not None:
    return found
  looked = (f'{_wanted_in_cache(name)} in the Keras cache {cache} (--data_dir and '
            f'${DATA_DIR_ENV} not set)')
  if os.environ.get(NO_DOWNLOAD_ENV) == '1':
    raise DataNotFoundError(_how_to(name, looked, f'; not downloading since ${NO_DOWNLOAD_ENV}=1'))
  if not _network_reachable():
    raise DataNotFoundError(_how_to(name, looked,
                                    f'; {_PROBE_HOST[0]} is unreachable, so no download'))
  return _DOWNLOAD, _DOWNLOAD


def load_dataset(name, split, data_dir=None):
  """Loads one split of ``name`` as uint8 images and int64 labels.

  Args:
    name: ``'mnist'`` or ``'cifar10'``.
    split: ``'train'`` or ``'test'``.
    data_dir: directory with the files (a run's ``config.data_dir``); the ``--data_dir``
      flag wins over it, ``$MEMRNN_DATA_DIR`` stands in for it, else the Keras cache, else
      a download (see ``resolve_data_dir``).

  Returns:
    ``ImageData`` whose arrays are read-only and shared with other loads of the same files.

  Raises:
    ConfigError: unknown ``name``/``split``; DataFormatError: a malformed file (the
      message names it).
    DataNotFoundError: the files are not found and cannot be downloaded.
  """
  _check_name(name, split)
  kind, path = _locate(name, data_dir)
  x, y = _load_arrays(name, split, kind, path)
  info = _INFO[name]
  return ImageData(images=x, labels=y, name=name, split=split, source=path, mean=info['mean'],
                   std=info['std'], num_classes=_NUM_CLASSES)


def load_images(name, split, data_dir=None):
  """Loads one split as float images.

  Args:
    name: ``'mnist'`` or ``'cifar10'``.
    split: ``'train'`` or ``'test'``.
    data_dir: as in ``load_dataset``.

  Returns:
    ``(images, labels)``: float32 ``[N, H, W, C]`` in ``[0, 1]`` and int64 ``[N]``.
  """
  data = load_dataset(name, split, data_dir)
  return data.float_images(), data.labels
