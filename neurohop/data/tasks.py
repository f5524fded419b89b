"""Task sequences for continual learning: permuted and split scenarios.

A :class:`Task` is a view of a :class:`~neurohop.data.datasets.Dataset`: which samples, an
optional pixel permutation, and how labels map to the output units. Arrays are produced on
demand (:meth:`Task.arrays`, :meth:`Task.batch`), so ten permuted copies of a large data set
are never held in memory at once.

Randomness (the permutations) comes only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurohop.data.datasets import Dataset
from neurohop.errors import InputError

__all__ = ["Task", "TaskSequence", "permuted_tasks", "split_tasks", "make_tasks", "SCENARIOS"]

#: Scenario names accepted by :func:`make_tasks`.
SCENARIOS: tuple[str, ...] = ("permuted", "split")


@dataclass(frozen=True, eq=False)
class Task:
    """One task of a sequence.

    Attributes
    ----------
    index : int
        Position in the sequence (0-based).
    dataset : Dataset
        The underlying data.
    classes : tuple of int
        Original labels that belong to this task, in output-unit order.
    train_index, test_index : numpy.ndarray
        Rows of ``dataset.x_train`` / ``dataset.x_test`` in this task.
    permutation : numpy.ndarray or None
        Feature permutation applied to every sample (``x[:, permutation]``), or None.
    label_offset : int
        Output unit of ``classes[0]`` in a shared head (0 for task-incremental heads).
    """

    index: int
    dataset: Dataset
    classes: tuple[int, ...]
    train_index: np.ndarray
    test_index: np.ndarray
    permutation: np.ndarray | None = None
    label_offset: int = 0

    def __post_init__(self) -> None:
        if len(self.train_index) == 0 or len(self.test_index) == 0:
            raise InputError(
                f"task {self.index}: expected training and test samples for classes {list(self.classes)} "
                f"(got {len(self.train_index)} and {len(self.test_index)})"
            )
        if self.permutation is not None and sorted(self.permutation.tolist()) != list(range(self.dataset.n_features)):
            raise InputError(f"task {self.index}: permutation: expected a permutation of {self.dataset.n_features} features")

    @property
    def n_classes(self) -> int:
        """Number of classes (output units of a task head)."""
        return len(self.classes)

    def size(self, split: str) -> int:
        """Number of samples in ``split`` ('train' or 'test')."""
        return len(self._index(split))

    def _index(self, split: str) -> np.ndarray:
        if split == "train":
            return self.train_index
        if split == "test":
            return self.test_index
        raise InputError(f"task {self.index}: split: expected 'train' or 'test' (got {split!r})")

    def batch(self, split: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features and task-local labels of the given rows (0 .. size-1) of ``split``.

        Returns
        -------
        x : numpy.ndarray
            float32 (len(rows), features), permuted if the task permutes.
        y : numpy.ndarray
            int64 labels 0 .. n_classes-1 (add :attr:`label_offset` for a shared head).
        """
        idx = self._index(split)[rows]
        src = self.dataset.x_train if split == "train" else self.dataset.x_test
        lab = self.dataset.y_train if split == "train" else self.dataset.y_test
        x = src[idx]
        if self.permutation is not None:
            x = x[:, self.permutation]
        lookup = np.full(max(self.dataset.classes) + 1, -1, dtype=np.int64)
        lookup[list(self.classes)] = np.arange(len(self.classes))
        return np.ascontiguousarray(x, dtype=np.float32), lookup[lab[idx]]

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """All features and task-local labels of ``split``."""
        return self.batch(split, np.arange(self.size(split)))


@dataclass(frozen=True, eq=False)
class TaskSequence:
    """An ordered list of tasks plus how their outputs are organised.

    Attributes
    ----------
    scenario : str
        'permuted' or 'split'.
    tasks : tuple of Task
    head : str
        'shared' (one output layer for all tasks, labels offset by :attr:`Task.label_offset`)
        or 'multi' (one head per task, task identity given at test time).
    """

    scenario: str
    tasks: tuple[Task, ...]
    head: str

    def __post_init__(self) -> None:
        if self.head not in ("shared", "multi"):
            raise InputError(f"task sequence: head: expected 'shared' or 'multi' (got {self.head!r})")
        if not self.tasks:
            raise InputError("task sequence: expected at least one task (got 0)")

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, i: int) -> Task:
        return self.tasks[i]

    @property
    def n_features(self) -> int:
        """Input width."""
        return self.tasks[0].dataset.n_features

    @property
    def head_sizes(self) -> tuple[int, ...]:
        """Output units per head: one entry for a shared head, one per task otherwise."""
        if self.head == "shared":
            return (max(t.label_offset + t.n_classes for t in self.tasks),)
        return tuple(t.n_classes for t in self.tasks)

    def describe(self) -> dict[str, object]:
        """A JSON-friendly description."""
        return {
            "scenario": self.scenario,
            "head": self.head,
            "n_tasks": len(self.tasks),
            "classes": [list(t.classes) for t in self.tasks],
            "train_sizes": [t.size("train") for t in self.tasks],
            "test_sizes": [t.size("test") for t in self.tasks],
        }


def permuted_tasks(dataset: Dataset, n_tasks: int, rng: np.random.Generator) -> TaskSequence:
    """``n_tasks`` copies of ``dataset``, each with its own random feature permutation.

    Task 0 is permuted too. All tasks share one head over all classes.
    """
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, (int, np.integer)) or n_tasks < 1:
        raise InputError(f"permuted tasks: n_tasks: expected an integer >= 1 (got {n_tasks!r})")
    classes = dataset.classes
    if classes != tuple(range(len(classes))):
        raise InputError(f"{dataset.name}: labels: expected 0 .. C-1 for the permuted scenario (got {list(classes)})")
    tr = np.arange(len(dataset.x_train))
    te = np.arange(len(dataset.x_test))
    tasks = tuple(
        Task(i, dataset, classes, tr, te, permutation=rng.permutation(dataset.n_features), label_offset=0)
        for i in range(int(n_tasks))
    )
    return TaskSequence("permuted", tasks, head="shared")


def split_tasks(dataset: Dataset, n_tasks: int, head: str = "multi") -> TaskSequence:
    """Divide the classes of ``dataset`` into ``n_tasks`` tasks of equally many classes.

    Classes are taken in increasing label order: with 10 classes and 5 tasks, task 0 holds
    {0, 1}, task 1 {2, 3}, ... With ``head='multi'`` (task-incremental, the default) each task
    has its own head with local labels 0 .. k-1; with ``head='shared'`` one head covers all
    classes (labels keep their global value).

    Raises
    ------
    InputError
        If the classes cannot be divided evenly into ``n_tasks`` tasks of at least 2 classes, or a
        class has no training or no test sample.
    """
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, (int, np.integer)) or n_tasks < 1:
        raise InputError(f"split tasks: n_tasks: expected an integer >= 1 (got {n_tasks!r})")
    classes = dataset.classes
    n = len(classes)
    if n % n_tasks != 0 or n // n_tasks < 2:
        options = [k for k in range(1, n + 1) if n % k == 0 and n // k >= 2]
        raise InputError(
            f"n_tasks: {n_tasks}: expected the {n} classes of {dataset.name} to split evenly into tasks of at least "
            f"2 classes; possible task counts: {options} (got {n_tasks})"
        )
    for c in classes:
        if not np.any(dataset.y_train == c) or not np.any(dataset.y_test == c):
            raise InputError(f"{dataset.name}: class {c}: expected training and test samples to split it into a task (got none on one side)")
    k = n // n_tasks
    tasks = []
    for i in range(int(n_tasks)):
        group = classes[i * k : (i + 1) * k]
        tr = np.flatnonzero(np.isin(dataset.y_train, group))
        te = np.flatnonzero(np.isin(dataset.y_test, group))
        offset = i * k if head == "shared" else 0
        tasks.append(Task(i, dataset, tuple(group), tr, te, None, offset))
    return TaskSequence("split", tuple(tasks), head=head)


def make_tasks(dataset: Dataset, scenario: str, n_tasks: int, rng: np.random.Generator, head: str | None = None) -> TaskSequence:
    """Build a task sequence by scenario name ('permuted' or 'split').

    ``head`` defaults to 'shared' for permuted and 'multi' (task-incremental) for split.
    """
    if scenario == "permuted":
        if head not in (None, "shared"):
            raise InputError(f"head: expected 'shared' for the permuted scenario (got {head!r})")
        return permuted_tasks(dataset, n_tasks, rng)
    if scenario == "split":
        return split_tasks(dataset, n_tasks, head=head or "multi")
    raise InputError(f"scenario: expected one of {list(SCENARIOS)} (got {scenario!r})")
