"""Output files and folders of the command line, checked before any work starts.

A command that runs for minutes and then fails to write ``--json`` loses the run. These helpers
turn an unusable output path (a folder where a file is expected, a file where a folder is, a
folder that cannot be created or written) into a :class:`~mccc_theory.errors.PathError` naming
the option, which ``mccc`` prints as one line with exit status 2.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import PathError

__all__ = ["output_file", "output_dir"]


def _check_ancestors(path: Path, value: str, option: str) -> None:
    """A file standing where a folder of ``path`` must be makes ``mkdir`` fail obscurely."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise PathError(f"{option}: cannot write {value!r}: {str(parent)!r} is a file, "
                                "not a folder")
            return


def output_file(value: str, option: str, *, suffixes: tuple[str, ...] | None = None) -> Path:
    """``value`` as a path a file can be written to (its folder is created if needed).

    Parameters
    ----------
    value : str
        The path the user gave.
    option : str
        The option's name as the user typed it (``"--json"``), used in the message.
    suffixes : tuple of str, optional
        Accepted file-name endings (``(".png", ".svg")``); ``None`` accepts any.

    Raises
    ------
    PathError
        ``value`` is a folder, its folder cannot be created, the file cannot be opened for
        writing, or its ending is not in ``suffixes``.
    """
    path = Path(value)
    if path.is_dir():
        raise PathError(f"{option}: expected a file name, found the folder {value!r}; name a file "
                        f"inside it, e.g. {str(path / ('out' + (suffixes or ('.json',))[0]))!r}")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise PathError(f"{option}: expected a file name ending in {', '.join(suffixes)}, found "
                        f"{value!r}")
    _check_ancestors(path, value, option)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        with path.open("a"):  # append mode: probes writability without truncating a file
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        raise PathError(f"{option}: cannot write {value!r} ({exc.strerror or exc}); choose a "
                        "writable path") from None
    return path


def output_dir(value: str, option: str) -> Path:
    """``value`` as a folder files can be written into (created if needed).

    Raises
    ------
    PathError
        ``value`` is an existing file, or the folder cannot be created or written to.
    """
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise PathError(f"{option}: expected a folder, found the file {value!r}; choose a folder "
                        "name")
    _check_ancestors(path, value, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # the real test of writability (also for root)
            pass
    except OSError as exc:
        raise PathError(f"{option}: cannot write into {value!r} ({exc.strerror or exc}); choose a "
                        "writable folder") from None
    return path

