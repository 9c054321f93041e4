"""The worker protocol: the one module shared by the server and the worker.

Messages are JSON-RPC 2.0 objects, one per line (newline-delimited JSON), on the worker's own
stdin/stdout pipes — never the editor's channel. Standard library only; Python >= 3.9.

Requests (server -> worker):

* ``inspect`` with :class:`InspectParams` -> :class:`InspectResult`
* ``ping`` -> ``{"torch_version": str, "python": str, "pid": int}``
* ``shutdown`` -> ``null``; the worker also exits when its stdin closes.
* ``cancel`` (notification, ``{"id": <inspect request id>}``): kill that inspection's child; the
  request is answered with ``ERROR_CANCELLED``.

Errors use JSON-RPC error objects; ``data`` is an :class:`ErrorInfo` when the failure is in
user code (then ``file``/``line`` point at the user's frame), plus ``kind`` (``error`` |
``timeout`` | ``memory`` | ``crashed``) and ``output`` (what the code printed before failing).
A failure of one model (its ``__init__`` raised, ``sys.exit``) is not an error response but a
report with status ``error``; a failure of the whole file (syntax error, missing import, a crash,
``os._exit``, a timeout) is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, Optional, TypedDict

if TYPE_CHECKING:
    # Annotations stay strings at run time (postponed evaluation), so Python 3.9 never needs it.
    from typing import NotRequired

PROTOCOL_VERSION = 1
# The folder the client gives the worker for the inspections' output files (and removes).
TMPDIR_VARIABLE = "PARAMLENS_WORKER_TMPDIR"

LOAD_MODES = ("definitions", "module")
DEVICES = ("meta", "cpu")
STATUSES = ("ok", "needs_arguments", "error")
# What a report's model is (its ``kind``): a Module class of the file, a factory function of the
# file, or the value of a variable of the file bound once to a call of a Module class (or of a
# workspace function) defined elsewhere: ``model = nn.Sequential(...)``, ``net = Net(3)`` with
# ``Net`` imported. A variable's report has the ``object`` :func:`variable_key` gives.
KIND_CLASS = "class"
KIND_FACTORY = "factory"
KIND_VARIABLE = "variable"

# Calls that return the same module object: a later `model = model.to(...)` keeps the binding.
SAME_MODULE_METHODS = frozenset(
    {
        "to",
        "cuda",
        "cpu",
        "double",
        "float",
        "half",
        "bfloat16",
        "type",
        "train",
        "eval",
        "requires_grad_",
        "to_empty",
        "share_memory",
        "apply",
        "xpu",
        "ipu",
        "mtia",
    }
)

# JSON-RPC error codes of the worker (the -32000 range is reserved for implementations).
ERROR_INSPECTION_FAILED = -32001  # the child raised, crashed, timed out or ran out of memory
ERROR_TIMEOUT = -32002
ERROR_MEMORY = -32003
ERROR_CRASHED = -32004
ERROR_NO_TORCH = -32005  # torch cannot be imported in the worker's interpreter
ERROR_CANCELLED = -32800  # the LSP code of a cancelled request
ERROR_PARSE = -32700
ERROR_INVALID_REQUEST = -32600
ERROR_METHOD_NOT_FOUND = -32601

# Starts the worker package from its own folder without putting that folder's parent (where the
# server and its dependencies may live) on the user's sys.path.
_BOOTSTRAP = (
    "import importlib.util,sys;"
    "d=sys.argv[1];"
    "s=importlib.util.spec_from_file_location("
    "'paramlens_worker',d+'/__init__.py',submodule_search_locations=[d]);"
    "m=importlib.util.module_from_spec(s);sys.modules['paramlens_worker']=m;"
    "s.loader.exec_module(m);"
    "from paramlens_worker.__main__ import main;"
    "sys.exit(main(sys.argv[2:]))"
)


class ErrorInfo(TypedDict):
    """A failure, with the user's frame when the failing frame is in user code."""

    type: str
    message: str
    file: Optional[str]
    line: Optional[int]


class ParameterInfo(TypedDict):
    name: str
    shape: Optional[list[int]]  # None for lazy (uninitialized) parameters
    dtype: str  # "float32", ...
    requires_grad: bool
    numel: Optional[int]  # None for lazy parameters: unknown, never 0
    aliases: list[str]  # other names of the same tensor (tied weights)


class BufferInfo(TypedDict):
    name: str
    shape: Optional[list[int]]
    dtype: str
    numel: Optional[int]
    persistent: bool


class ModuleInfo(TypedDict):
    name: str  # "" for the root, "layer1.residual_0" for a submodule
    class_: NotRequired[str]  # serialized as "class"; see module_class()
    parameters: int  # unique elements in this subtree
    trainable: int
    class_file: Optional[str]
    class_line: Optional[int]
    assigned_line: Optional[int]  # the `self.<name> = ...` line in the parent's __init__
    extra_repr: NotRequired[str]  # "in_features=12, out_features=4, bias=True"
    parameter_tensors: NotRequired[int]  # unique parameter tensors in this subtree
    buffers: NotRequired[int]  # buffer elements in this subtree
    buffer_tensors: NotRequired[int]


class Totals(TypedDict):
    parameters: int
    trainable: int
    frozen: int
    parameter_tensors: int
    buffers: int
    buffer_tensors: int
    bytes: int
    bytes_by_dtype: dict[str, int]
    lazy_parameters: int  # count of lazy parameter tensors; their elements are unknown


class ModelReport(TypedDict):
    """One model as built by the worker. Keys are stable: add freely, never rename."""

    object: str
    file: str
    line: Optional[int]
    built_as: Optional[str]
    device: Optional[str]
    status: str
    error: Optional[ErrorInfo]
    parameters: list[ParameterInfo]
    buffers: list[BufferInfo]
    state_dict_keys: list[str]
    modules: list[dict[str, Any]]  # ModuleInfo with the key "class"
    totals: Optional[Totals]
    fallback_reason: NotRequired[Optional[str]]  # why meta failed when device is "cpu"
    kind: NotRequired[str]  # KIND_CLASS, KIND_FACTORY or KIND_VARIABLE


class InspectParams(TypedDict):
    path: str  # absolute path of the file to inspect
    roots: list[str]  # project roots (workspace folder, src/), first match wins
    load_mode: str  # one of LOAD_MODES
    device: str  # one of DEVICES: the first device tried
    timeout_seconds: float
    memory_limit_mb: int
    objects: NotRequired[Optional[list[str]]]  # only these classes/factories; None: all
    models: NotRequired[dict[str, str]]  # "pkg.module:Class" -> "Class(3, num_classes=10)"
    cpu_fallback_limit_mb: NotRequired[int]


class InspectResult(TypedDict):
    reports: list[ModelReport]
    imported_files: list[str]  # workspace files the target imported (cache keys)
    missing_modules: list[str]  # imported at top level but not installed (what needs them fails)
    output: str  # what user code wrote to stdout/stderr, captured
    device: str
    duration_ms: float


def variable_key(scope: str, name: str) -> str:
    """The ``object`` of the report of variable ``name`` in ``scope`` (``""`` for module level,
    ``"main"`` for ``def main()``, ``"Trainer.fit"`` for a method): ``model``, ``main.model``."""
    return f"{scope}.{name}" if scope else name


def is_variable_report(report: ModelReport) -> bool:
    """True when the report is a variable's model, not a class or factory of the file."""
    return report.get("kind") == KIND_VARIABLE


def worker_command(python: Sequence[str], *arguments: str) -> list[str]:
    """The command that runs the worker (``arguments`` passed to its ``main``) in ``python``."""
    package = os.path.dirname(os.path.abspath(__file__))
    return [*python, "-c", _BOOTSTRAP, package, *arguments]


def module_class(module: dict[str, Any]) -> str:
    """The class name of a ``modules`` entry (``class`` is a Python keyword)."""
    return str(module.get("class", ""))


def encode(message: dict[str, Any]) -> bytes:
    """One protocol message as a line of bytes."""
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")


def write_message(stream: IO[bytes], message: dict[str, Any]) -> None:
    """Write one message and flush."""
    stream.write(encode(message))
    stream.flush()


def decode(line: bytes) -> dict[str, Any]:
    """Parse one protocol line; raises ValueError on anything but a JSON object."""
    value = json.loads(line.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("protocol message is not a JSON object")
    return value


def read_message(stream: IO[bytes]) -> Optional[dict[str, Any]]:
    """Read one message; None at end of stream."""
    line = stream.readline()
    if not line:
        return None
    return decode(line)
