"""Helpers shared by the stage scripts: reading params.yaml by section, running a stage."""

from __future__ import annotations

import copy
import functools
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _stop_during_imports(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM while a stage script imports its libraries, before :func:`run_stage`
    handles them: one line, not a traceback through pandas' or torch's imports."""
    how = "interrupted" if signum == signal.SIGINT else "terminated"
    print(f"{Path(sys.argv[0]).stem}: {how}", file=sys.stderr, flush=True)
    os._exit(128 + signum)


def _a_stage_starting() -> bool:
    """Whether this process runs a stage script, not a test importing this module nor a worker
    process importing the stage script as its ``__mp_main__`` (multiprocessing's spawn)."""
    process = sys.modules.get("multiprocessing.process")
    if process is not None and getattr(process.current_process(), "_inheriting", False):
        return False
    return bool(sys.argv) and Path(sys.argv[0]).resolve().parent == Path(__file__).resolve().parent


# Each stage script imports this module first. A SIGINT that was ignored (a stage started in
# the background) stays ignored.
if _a_stage_starting():
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _stop_during_imports)
    signal.signal(signal.SIGTERM, _stop_during_imports)

PARAMS_FILE = Path("params.yaml")
# A stage runs the library of the checkout it belongs to. A queued `dvc exp run` runs in a copy
# of the repository (.dvc/tmp/exps/...), from which an editable install would import the
# workspace's src/ as it is by then, not the experiment's code that dvc.lock records.
SRC = Path(__file__).resolve().parents[1] / "src"
if (SRC / "molprop").is_dir():
    if str(SRC) not in sys.path:
        sys.path.insert(1, str(SRC))
    # The stage's worker processes too: a forkserver imports its preload modules (molprop's
    # training and prediction code) before it applies this process's sys.path, so without the
    # variable they imported the library the environment's install points at.
    if os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] != str(SRC):
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))


def read_params(*sections: str) -> dict[str, Any]:
    """The named top-level sections of params.yaml, read as DVC reads them (YAML 1.2, by
    ruamel.yaml): ``lr: 3e-4`` is the number 0.0003 that `dvc params diff` shows, where
    PyYAML (YAML 1.1) reads the text '3e-4'; ``yes`` and ``on`` are text, not booleans.
    Sections that do not conform to molprop's params schema, and top-level keys named like one
    of its sections but none (``trian``), raise a UserInputError with one line per problem
    (:mod:`molprop.params_check`)."""
    from molprop.errors import UserInputError
    from molprop.params_check import params_problems, unknown_sections

    params = _parsed(PARAMS_FILE.read_text())
    missing = [s for s in sections if s not in params]
    if missing:
        raise UserInputError(f"params.yaml has no section(s) {', '.join(missing)}; restore them from the "
                             "project's params.yaml (git show HEAD:params.yaml)"
                             + "".join(f"\n  {line}" for line in unknown_sections(params)))
    chosen = copy.deepcopy({s: params[s] for s in sections})
    # every stage checks the top level: a section no stage reads changes nothing, without a word
    problems = unknown_sections(params) + params_problems(chosen)
    if problems:  # before any work: a typo is not ignored, a wrong type does not fail deep inside
        lines = "\n".join(f"  {line}" for line in problems)
        raise UserInputError(f"params.yaml: {len(problems)} problem(s):\n{lines}")
    return chosen


@functools.lru_cache(maxsize=2)
def _parsed(text: str) -> dict[str, Any]:
    """params.yaml's text parsed, once per text (a stage that saves a model reads it twice);
    UserInputError naming the line of a YAML mistake (a duplicate key, a wrong indent)."""
    from ruamel.yaml import YAML, YAMLError

    from molprop.errors import UserInputError

    try:
        return YAML(typ="safe").load(text) or {}
    except YAMLError as error:
        # a token left open (a quote, a bracket): the line where it began, not the end of the
        # file where reading failed; else where it failed (a duplicate key, a wrong indent)
        context = getattr(error, "context", None) or ""
        opened = (context.startswith(("while scanning", "while parsing a flow"))
                  and getattr(error, "context_mark", None) is not None)
        mark = error.context_mark if opened else getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        quote = _open_quote_line(text, line) if line and not opened else None
        where = (f" line {quote} (a quote opened there runs on to line {line})" if quote
                 else f" line {line} (or the line above it)" if line and "expected <block end>" in str(error)
                 else f" line {line}" if line else "")
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        problem = f"{context}: {problem}" if opened else problem
        raise UserInputError(f"params.yaml{where}: not valid YAML ({problem}); fix that line "
                             "(git diff params.yaml shows what changed)") from None


# The validate and featurize params a model is saved with (dvc.yaml lists them for the model
# stages): `molprop predict` treats new molecules as the training molecules were treated.
MODEL_CONTEXT = {"validate": ("standardize", "identity_key", "rules"), "featurize": ("morgan", "descriptors", "graph")}


def _open_quote_line(text: str, until: int) -> int | None:
    """The first line, up to ``until``, whose quotes do not close on it (outside a comment):
    where a quoted value left open began, which YAML reads on over the lines after it."""
    for number, line in enumerate(text.splitlines()[:until], 1):
        quote = None
        for char in line:
            if quote is None and char == "#":
                break
            if char in "\"'" and quote in (None, char):
                quote = None if quote == char else char
        if quote is not None:
            return number
    return None


def _model_context() -> dict[str, dict[str, Any]]:
    """The :data:`MODEL_CONTEXT` settings as data/validated.parquet and data/features.parquet
    record them: what the training data was made with, also after params.yaml changed without
    a re-run of validate or featurize (`dvc repro -s train`); params.yaml's for a file
    written before they were recorded."""
    from molprop.data.tables import recorded_settings
    from molprop.schema import FEATURIZE_SETTINGS_KEY, VALIDATE_SETTINGS_KEY

    params = read_params(*MODEL_CONTEXT)
    recorded = {"validate": recorded_settings(require_input("data/validated.parquet"), VALIDATE_SETTINGS_KEY),
                "featurize": recorded_settings(require_input("data/features.parquet"), FEATURIZE_SETTINGS_KEY)}
    context = {section: recorded[section] or {k: params[section][k] for k in keys}
               for section, keys in MODEL_CONTEXT.items()}
    if recorded["featurize"] is None:
        _check_older_features(context["featurize"], "data/features.parquet")
    return context


def _check_older_features(featurize: dict[str, Any], path: str) -> None:
    """UserInputError when ``path``, written before molprop recorded the featurize settings,
    was made with other fingerprints or descriptors than ``featurize`` (params.yaml's) says: a
    model saved with them would featurize new molecules otherwise than its training data."""
    from molprop.data.tables import recorded_settings
    from molprop.errors import UserInputError

    made = recorded_settings(path, b"molprop.features") or {}  # what it recorded then
    morgan, descriptors = featurize["morgan"], featurize["descriptors"]
    wanted = {"fingerprint": {"type": "morgan", "radius": morgan["radius"], "n_bits": morgan["n_bits"],
                              "counts": morgan["counts"]} if morgan.get("enabled") else None,
              "descriptor_set": descriptors["set"] if descriptors.get("enabled") else None}
    differ = [k for k in wanted if k in made and made[k] != wanted[k]]
    if differ:
        raise UserInputError(f"{path} was made with other featurize settings than params.yaml's ("
                             + "; ".join(f"{k}: {made[k]} there, {wanted[k]} in params.yaml" for k in differ)
                             + "): run `dvc repro` (featurize first), or restore those params")


def _is_pipeline_file(name: object) -> bool:
    """Whether ``name`` (a missing file's) is a pipeline output a stage reads: under data/ or
    models/ of the repository, as the stages name them."""
    return isinstance(name, str) and Path(name).parts[:1] in (("data",), ("models",))


def require_input(path: str) -> str:
    """``path``, or UserInputError when it is missing (a stage run by hand before the ones
    that make it)."""
    from molprop.errors import UserInputError

    if not Path(path).is_file():
        raise UserInputError(_missing(path))
    return path


def _missing(path: str) -> str:
    return f"{path} is missing: make it with `dvc repro` (or fetch it with `dvc pull`)"


def upstream_params() -> dict[str, Any]:
    """The settings that shaped a model stage's inputs, for its MLflow run: the
    :data:`MODEL_CONTEXT` settings (:func:`_model_context`) and the split's as
    data/split.parquet records them (runs that differ only upstream are then told apart)."""
    from molprop.data.tables import split_settings

    return _model_context() | {"split": split_settings(require_input("data/split.parquet")) or {}}


def save_model_context(model_dir: Path, validated: Any, train_rows: Any, metrics: dict | None) -> None:
    """Store in ``model_dir`` what `molprop predict` needs: the validate/featurize params the
    training data went through, the training molecules (applicability domain), the data hash."""
    import numpy as np

    from molprop.predict.context import file_md5, save_predict_context
    from molprop.schema import SMILES

    context = _model_context()
    rows = np.unique(np.asarray(train_rows, dtype=np.int64))
    save_predict_context(
        model_dir,
        context["validate"],
        context["featurize"],
        validated[SMILES].iloc[rows].tolist(),
        data_hash=file_md5("data/validated.parquet"),
        metrics=metrics,
    )


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def matplotlib_config_dir() -> None:
    """Where matplotlib cannot write its config or cache folder (a read-only or missing HOME, as
    in containers), point MPLCONFIGDIR, for this process and the ones it starts, at one folder
    of this user's in the temporary directory. matplotlib would make a new one per process, and
    remove it at an exit that ``os._exit`` skips: one left behind per stage run, and its font
    cache built again each time."""
    own = os.environ.get("MPLCONFIGDIR")
    if (own and _writable(Path(own))) or not hasattr(os, "getuid"):
        return
    try:  # where matplotlib looks without MPLCONFIGDIR: XDG folders on Linux, ~/.matplotlib elsewhere
        home = Path.home()
        folders = ([Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "matplotlib",
                    Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "matplotlib"]
                   if sys.platform.startswith(("linux", "freebsd")) else [home / ".matplotlib"])
    except RuntimeError:  # no home directory at all
        folders = []
    if not own and folders and all(_writable(folder) for folder in folders):
        return
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"molprop-matplotlib-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.is_symlink() or folder.stat().st_uid != os.getuid() or not os.access(folder, os.W_OK):
            return  # not ours: matplotlib's own way
    except OSError:
        return
    os.environ["MPLCONFIGDIR"] = str(folder)


def run_stage(main: Callable[[], int | None]) -> None:
    """Run a stage's ``main`` and end the process with its exit code (None: 0).

    After a stage has written and closed its outputs, tearing down an interpreter that has
    imported torch, MLflow or Great Expectations takes another 0.5-2.5 s per stage. The
    process therefore ends with ``os._exit`` once stdout and stderr are flushed. Every
    output is a closed file by then, and the worker pools, the MLflow run and dvclive were
    shut down by their ``with`` blocks. A :class:`~molprop.errors.UserInputError` (a setting
    or the data to fix) ends the stage with its one-line message and exit code 1, Ctrl-C with
    a one-line message and exit code 130, SIGTERM (``kill``, ``timeout``, a CI cancellation or
    a batch scheduler signalling the process group) the same way, its workers stopped and its
    temporary folders removed, with exit code 143; any other exception propagates as usual
    (traceback, exit code 1).

    Run by ``dvc`` (which sets DVC_STAGE), the stage also ends when dvc has ended, as on
    SIGTERM (and at once if it has not stopped 10 s later): a ``kill`` of ``dvc repro`` or a
    ``timeout`` reaches dvc alone, and the orphaned stage went on writing checkpoints and
    outputs while the next ``dvc repro`` ran the same stage.
    """
    from molprop.errors import UserInputError
    from molprop.lifetime import (TERMINATED, Terminated, raise_on_sigterm, release_semaphores,
                                  remove_multiprocessing_tempdir)

    def say(message: str) -> None:  # to a reader that may have gone (`dvc repro | tee log`, Ctrl-C)
        try:
            print(f"{Path(sys.argv[0]).stem}: {message}", file=sys.stderr)
        except (OSError, ValueError):
            pass

    raise_on_sigterm()  # ends the stage as Ctrl-C does: the MLflow run marked KILLED, workers stopped
    if signal.getsignal(signal.SIGINT) is _stop_during_imports:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if os.environ.get("DVC_STAGE"):  # a killed dvc: the stage gets a SIGTERM, as from `kill`
        from molprop.lifetime import exit_with_runner

        exit_with_runner()
    try:
        code = main() or 0
        if TERMINATED.is_set():  # its exception was lost (raised in a weakref callback): stopped all the same
            raise Terminated
    except Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # more (to the whole group) must not break the clean-up
        say("terminated")
        code = 128 + signal.SIGTERM
    except KeyboardInterrupt:
        say("interrupted")
        code = 130
    except UserInputError as error:  # a setting or the data to fix: its message says what
        say(str(error))
        code = 1
    except FileNotFoundError as error:
        # pyarrow names the file in its message alone ("Failed to open local file 'data/x.parquet'")
        named = re.search(r"local file '([^']+)'", str(error))
        missing = error.filename or (named.group(1) if named else error.args[0] if len(error.args) == 1 else None)
        if not _is_pipeline_file(missing):  # not an input of a stage run by hand: a bug
            raise
        say(_missing(missing))
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    release_semaphores()
    remove_multiprocessing_tempdir()
    os._exit(code)


# On import, before a stage's own imports: RDKit's drawing code imports matplotlib, which fixes
# its folder then
matplotlib_config_dir()
