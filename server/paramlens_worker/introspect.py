"""Building the user's models on the meta device and describing them as :class:`ModelReport`.

Runs in the inspection child only (it imports torch and executes the user's definitions).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import errno
import gc
import inspect
import os
import re
import sys
import time
import traceback
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import FunctionType, ModuleType
from typing import Any, Callable, Optional

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from paramlens_worker import limits, loader, sites
from paramlens_worker.protocol import (
    KIND_CLASS,
    KIND_FACTORY,
    KIND_VARIABLE,
    BufferInfo,
    ErrorInfo,
    InspectParams,
    InspectResult,
    ModelReport,
    ParameterInfo,
    Totals,
)

EXTRA_REPR_LIMIT = 240
_ALLOCATION_FAILED = ("can't allocate memory", "not enough memory", "out of memory")


class ObjectNotFound(LookupError):
    """``objects`` named something the file does not define."""


@dataclass
class Candidate:
    """A class, a zero-argument factory or a variable's call to build (see ``KIND_*``)."""

    name: str
    obj: Any
    line: Optional[int]
    factory: Optional[Callable[[], Any]] = None
    built_as: Optional[str] = None
    missing: Sequence[str] = ()
    problem: Optional[str] = None
    kind: str = ""  # a KIND_*; "" for what obj is

    def __post_init__(self) -> None:
        if not self.kind:
            self.kind = KIND_CLASS if isinstance(self.obj, type) else KIND_FACTORY


class UserCode:
    """Decides which files are the user's (workspace, not installed packages)."""

    def __init__(self, roots: Sequence[str], target: str) -> None:
        self.roots = list(roots)
        self.target = os.path.realpath(target)
        self.library = loader.library_prefixes()
        self._cache: dict[str, bool] = {}

    def __call__(self, path: str) -> bool:
        """True for the target file and workspace files."""
        known = self._cache.get(path)
        if known is None:
            real = os.path.realpath(path)
            known = real == self.target or loader.is_workspace_file(real, self.roots, self.library)
            self._cache[path] = known
        return known


def error_info(
    error: BaseException, is_user_file: Callable[[str], bool], load_mode: str = "definitions"
) -> ErrorInfo:
    """A failure as :class:`ErrorInfo`, with the innermost frame in user code (looking through
    the chain of causes when the error itself was raised outside user code). A NameError of a
    name that definitions-only loading skipped says so."""
    file: Optional[str] = None
    line: Optional[int] = None
    if is_memory_error(error):
        # The frames of the traceback still hold what filled memory; free it before describing.
        current: Optional[BaseException] = error
        while current is not None:
            traceback.clear_frames(current.__traceback__)
            current = current.__cause__ or current.__context__
        gc.collect()
    if isinstance(error, SyntaxError) and error.filename:
        file, line = os.path.abspath(error.filename), error.lineno
    else:
        current = error
        while current is not None and file is None:
            frames = [
                (f.filename, f.lineno or 0) for f in traceback.extract_tb(current.__traceback__)
            ]
            file, line = sites.first_user_frame(list(reversed(frames)), is_user_file)
            current = current.__cause__ or current.__context__
    message = str(error) or type(error).__name__
    if isinstance(error, SyntaxError):
        message = error.msg
    elif isinstance(error, SystemExit):
        message = f"the code called sys.exit({error.code!r})"
    elif is_memory_error(error) and not str(error):
        message = "out of memory: the inspection went past its memory limit (memoryLimitMb)"
    elif isinstance(error, OSError) and error.errno == errno.EFBIG:
        message = f"{message}: the code wrote more than the inspection allows (output or files)"
    elif isinstance(error, NameError) and file is not None and load_mode != "module":
        message += _skipped_hint(error, file)
    return {"type": type(error).__name__, "message": message, "file": file, "line": line}


def _skipped_hint(error: NameError, file: str) -> str:
    name = getattr(error, "name", None)
    if not name:
        match = re.search(r"name '(\w+)' is not defined", str(error))
        name = match.group(1) if match else None
    if not name:
        return ""
    try:
        with open(file, "rb") as handle:
            line = loader.skipped_binding(ast.parse(handle.read()), name)
    except (OSError, SyntaxError, ValueError):
        return ""
    if line is None:
        return ""
    return (
        f"; {name} is set by top-level code at line {line}, which definitions-only loading "
        f'skips: set loadMode = "module" (paramlens summary --load-mode module) to run the '
        f"whole file, or make it a constant"
    )


def is_memory_error(error: BaseException) -> bool:
    """True for allocations refused by the memory limit."""
    if isinstance(error, MemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and any(p in text for p in _ALLOCATION_FAILED)


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _is_lazy(tensor: torch.Tensor) -> bool:
    return isinstance(tensor, nn.parameter.UninitializedTensorMixin)  # type: ignore[attr-defined]


def _shape(tensor: torch.Tensor) -> Optional[list[int]]:
    return None if _is_lazy(tensor) else list(tensor.shape)


def _numel(tensor: torch.Tensor) -> Optional[int]:
    return None if _is_lazy(tensor) else int(tensor.numel())


def _prefixes(names: Sequence[str]) -> set[str]:
    found = {""}
    for name in names:
        parts = name.split(".")[:-1]
        for end in range(1, len(parts) + 1):
            found.add(".".join(parts[:end]))
    return found


class SourceLines:
    """Class and assignment lines of user classes, from the ast of their files (cached)."""

    def __init__(self, is_user_file: Callable[[str], bool]) -> None:
        self.is_user_file = is_user_file
        self._files: dict[str, dict[str, sites.ClassSource]] = {}
        self._class_file: dict[type, Optional[str]] = {}

    def class_file(self, cls: type) -> Optional[str]:
        """The absolute file defining ``cls``, if known."""
        if cls not in self._class_file:
            module = sys.modules.get(cls.__module__)
            path = getattr(module, "__file__", None)
            self._class_file[cls] = os.path.abspath(path) if isinstance(path, str) else None
        return self._class_file[cls]

    def _index(self, path: str) -> dict[str, sites.ClassSource]:
        if path not in self._files:
            try:
                with open(path, "rb") as handle:
                    self._files[path] = sites.class_index(ast.parse(handle.read()))
            except (OSError, SyntaxError, ValueError):
                self._files[path] = {}
        return self._files[path]

    def source(self, cls: type) -> Optional[sites.ClassSource]:
        """Lines of a user class; None for library classes."""
        path = self.class_file(cls)
        if path is None or not self.is_user_file(path):
            return None
        return self._index(path).get(cls.__qualname__)

    def assigned_line(self, parent: type, attribute: str) -> Optional[int]:
        """The ``self.<attribute> = ...`` line in ``parent`` (or a user base class)."""
        for cls in parent.__mro__:
            source = self.source(cls)
            if source is not None and attribute in source.assigned:
                return source.assigned[attribute]
        return None


def describe(model: nn.Module, lines: SourceLines) -> dict[str, Any]:
    """Parameters, buffers, state_dict keys, the module tree and totals of ``model``."""
    names_of: dict[int, list[str]] = {}
    tensors: dict[int, torch.Tensor] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        names_of.setdefault(id(parameter), []).append(name)
        tensors[id(parameter)] = parameter
    parameters: list[ParameterInfo] = []
    module_params: dict[str, list[int]] = {}
    lazy = 0
    by_dtype: dict[str, int] = {}
    for key, names in names_of.items():
        tensor = tensors[key]
        numel = _numel(tensor)
        dtype = _dtype(tensor.dtype)
        requires_grad = bool(tensor.requires_grad)
        parameters.append(
            {
                "name": names[0],
                "shape": _shape(tensor),
                "dtype": dtype,
                "requires_grad": requires_grad,
                "numel": numel,
                "aliases": names[1:],
            }
        )
        if numel is None:
            lazy += 1
            continue
        by_dtype[dtype] = by_dtype.get(dtype, 0) + numel * tensor.element_size()
        for prefix in _prefixes(names):
            counts = module_params.setdefault(prefix, [0, 0, 0])
            counts[0] += numel
            counts[1] += numel if requires_grad else 0
            counts[2] += 1

    buffers: list[BufferInfo] = []
    module_buffers: dict[str, list[int]] = {}
    seen_buffers: set[int] = set()
    for name, buffer in model.named_buffers(remove_duplicate=False):
        owner_name, _, local = name.rpartition(".")
        owner = model.get_submodule(owner_name) if owner_name else model
        if id(buffer) in seen_buffers:
            continue
        seen_buffers.add(id(buffer))
        numel = _numel(buffer)
        buffers.append(
            {
                "name": name,
                "shape": _shape(buffer),
                "dtype": _dtype(buffer.dtype),
                "numel": numel,
                "persistent": local not in owner._non_persistent_buffers_set,
            }
        )
        if numel is not None:
            dtype = _dtype(buffer.dtype)
            by_dtype[dtype] = by_dtype.get(dtype, 0) + numel * buffer.element_size()
            for prefix in _prefixes([name]):
                counts = module_buffers.setdefault(prefix, [0, 0])
                counts[0] += numel
                counts[1] += 1

    try:
        state_dict_keys = list(model.state_dict(keep_vars=True).keys())
    except Exception:
        state_dict_keys = []

    modules = []
    named = dict(model.named_modules())
    for name, module in named.items():
        cls = type(module)
        source = lines.source(cls)
        parent_name, _, attribute = name.rpartition(".")
        parent = named.get(parent_name) if name else None
        counts = module_params.get(name, [0, 0, 0])
        buffer_counts = module_buffers.get(name, [0, 0])
        modules.append(
            {
                "name": name,
                "class": cls.__name__,
                "extra_repr": _extra_repr(module),
                "parameters": counts[0],
                "trainable": counts[1],
                "parameter_tensors": counts[2],
                "buffers": buffer_counts[0],
                "buffer_tensors": buffer_counts[1],
                "class_file": lines.class_file(cls),
                "class_line": source.line if source else None,
                "assigned_line": (
                    lines.assigned_line(type(parent), attribute) if parent is not None else None
                ),
            }
        )

    root = module_params.get("", [0, 0, 0])
    root_buffers = module_buffers.get("", [0, 0])
    totals: Totals = {
        "parameters": root[0],
        "trainable": root[1],
        "frozen": root[0] - root[1],
        "parameter_tensors": len(parameters),
        "buffers": root_buffers[0],
        "buffer_tensors": len(buffers),
        "bytes": sum(by_dtype.values()),
        "bytes_by_dtype": by_dtype,
        "lazy_parameters": lazy,
    }
    return {
        "parameters": parameters,
        "buffers": buffers,
        "state_dict_keys": state_dict_keys,
        "modules": modules,
        "totals": totals,
    }


def _extra_repr(module: nn.Module) -> str:
    """``in_features=12, out_features=4, bias=True``: the arguments part of the module's repr."""
    try:
        text = str(module.extra_repr())
    except Exception as error:
        return f"<extra_repr failed: {type(error).__name__}>"
    return text if len(text) <= EXTRA_REPR_LIMIT else text[: EXTRA_REPR_LIMIT - 1] + "…"


def _module_classes(module: ModuleType) -> list[tuple[str, type]]:
    found = []
    for name, value in vars(module).items():
        if (
            isinstance(value, type)
            and issubclass(value, nn.Module)
            and value.__module__ == module.__name__
            and value.__name__ == name
        ):
            found.append((name, value))
    return found


def _required_parameters(function: Callable[..., Any]) -> list[str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _configured(models: Mapping[str, str], module: ModuleType, name: str) -> Optional[str]:
    for key, expression in models.items():
        module_part, _, object_part = key.rpartition(":")
        if object_part != name:
            continue
        if not module_part or module_part == module.__name__:
            return expression
        if module_part.rsplit(".", 1)[-1] == module.__name__.rsplit(".", 1)[-1]:
            return expression
    return None


def find_candidates(
    module: ModuleType,
    tree: ast.Module,
    objects: Optional[Sequence[str]],
    models: Mapping[str, str],
    is_user_file: Optional[Callable[[str], bool]] = None,
) -> list[Candidate]:
    """The classes and factories of ``module`` to build, each with how to build it, and the
    variables bound to models built from elsewhere (:func:`variable_candidates`)."""
    namespace = vars(module)
    variables = {c.name: c for c in variable_candidates(module, tree, models, is_user_file)}
    definitions = {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    }
    chosen: list[tuple[str, Any]] = []
    calls = sites.call_sites(tree)
    if objects:
        for name in objects:
            value = namespace.get(name)
            if name in variables and not isinstance(value, (type, FunctionType)):
                continue
            if value is None:
                raise ObjectNotFound(f"{module.__file__} defines no class or factory named {name}")
            chosen.append((name, value))
    else:
        chosen.extend(_module_classes(module))
        for name, node in definitions.items():
            function = namespace.get(name)
            if isinstance(node, ast.ClassDef) or not inspect.isfunction(function):
                continue
            # A factory with parameters counts only when the file calls it (build_model(50)).
            if _required_parameters(function) and name not in calls:
                continue
            for callee in sites.returned_callees(node):
                value = _resolve(callee, namespace)
                if isinstance(value, type) and issubclass(value, nn.Module):
                    chosen.append((name, function))
                    break

    candidates = []
    for name, value in chosen:
        definition = definitions.get(name)
        line = definition.lineno if definition is not None else None
        candidate = Candidate(name=name, obj=value, line=line)
        _choose_arguments(candidate, module, calls.get(name, []), models)
        candidates.append(candidate)
    chosen_names = {name for name, _ in chosen}
    candidates.extend(
        candidate
        for name, candidate in variables.items()
        if name not in chosen_names and (not objects or name in objects)
    )
    candidates.sort(key=lambda c: (c.line is None, c.line or 0))
    return candidates


def variable_candidates(
    module: ModuleType,
    tree: ast.Module,
    models: Mapping[str, str],
    is_user_file: Optional[Callable[[str], bool]] = None,
) -> list[Candidate]:
    """The variables of the file bound once to a call of a Module class defined elsewhere (in
    torch, an installed package or a workspace file) or of a function of a workspace file
    (``is_user_file``), with arguments that run no code of their own: literals, module
    constants, the calls definitions-only loading keeps (``nn.Linear(4, 8)``). Library functions
    are never called (``resnet18(weights=...)`` downloads) unless ``[tool.paramlens.models]``
    (``models``) says how to build the variable (``"train:model" = "resnet18()"``)."""
    namespace = vars(module)
    aliases = loader.import_aliases(tree)
    # The locals of a Module class's own methods (``block`` in ``__init__``) are parts of the
    # class's model, with lenses of their own already.
    own_classes = {name for name, _ in _module_classes(module)}
    found = []
    for build in sites.variable_builds(tree):
        if build.key.split(".")[0] in own_classes and "." in build.key:
            continue
        expression = _configured(models, module, build.key)
        if expression is not None:
            candidate = Candidate(build.key, None, build.line, kind=KIND_VARIABLE)
            candidate.factory = _configured_factory(expression, namespace)
            candidate.built_as = expression
            found.append(candidate)
            continue
        dotted = sites.dotted_name(build.call.func)
        if dotted is None or dotted.split(".")[0] in build.local_names:
            continue
        target = _resolve(dotted, namespace)
        if not _built_elsewhere(target, module, is_user_file):
            continue
        if not _runs_no_code(build.call, aliases, namespace, build.local_names):
            continue
        candidate = Candidate(name=build.key, obj=target, line=build.line, kind=KIND_VARIABLE)
        candidate.factory = _evaluator(
            ast.Expression(body=build.call), str(module.__file__), namespace
        )
        candidate.built_as = ast.unparse(build.call)
        found.append(candidate)
    return found


def _holds_tensors(model: Any) -> bool:
    if not isinstance(model, nn.Module):
        return False
    return next(model.parameters(), None) is not None or next(model.buffers(), None) is not None


def _built_elsewhere(
    target: Any, module: ModuleType, is_user_file: Optional[Callable[[str], bool]]
) -> bool:
    if getattr(target, "__module__", None) == module.__name__:
        return False  # the file's own classes and factories are candidates of their own
    if isinstance(target, type):
        return issubclass(target, nn.Module)
    if not isinstance(target, FunctionType) or is_user_file is None:
        return False
    try:
        return is_user_file(inspect.getfile(target))
    except TypeError:
        return False


def _runs_no_code(
    call: ast.Call, aliases: Mapping[str, str], namespace: Mapping[str, Any], local: Collection[str]
) -> bool:
    """True when evaluating the arguments of ``call`` in ``namespace`` runs no user code and
    reads no name the call's own scope rebinds."""
    arguments = [*call.args, *(keyword.value for keyword in call.keywords)]
    if any(keyword.arg is None for keyword in call.keywords):
        return False
    for argument in arguments:
        if not loader.is_constant_expression(argument, aliases):
            return False
        for node in ast.walk(argument):
            if isinstance(node, ast.Name) and (
                node.id in local or (node.id not in namespace and not hasattr(builtins, node.id))
            ):
                return False
    return True


def _resolve(dotted: str, namespace: Mapping[str, Any]) -> Any:
    head, *rest = dotted.split(".")
    value = namespace.get(head)
    for part in rest:
        if not isinstance(value, (ModuleType, type)):
            return None
        value = getattr(value, part, None)
    return value


def _configured_factory(expression: str, namespace: Mapping[str, Any]) -> Callable[[], Any]:
    """Builds the model as ``[tool.paramlens.models]`` says, in the module's namespace."""
    return _evaluator(expression, "[tool.paramlens.models]", namespace)


def _evaluator(
    expression: str | ast.Expression, filename: str, namespace: Mapping[str, Any]
) -> Callable[[], Any]:
    """Evaluates ``expression`` in a copy of the module's namespace, on each call."""
    code = compile(expression, filename, "eval")
    return lambda: eval(code, dict(namespace))


def _choose_arguments(
    candidate: Candidate,
    module: ModuleType,
    calls: Sequence[ast.Call],
    models: Mapping[str, str],
) -> None:
    namespace = vars(module)
    target = candidate.obj
    if not callable(target):
        candidate.problem = f"{candidate.name} is a {type(target).__name__}, not a Module class"
        return
    expression = _configured(models, module, candidate.name)
    if expression is not None:
        candidate.factory = _configured_factory(expression, namespace)
        candidate.built_as = expression
        return
    reasons = []
    for call in calls:
        try:
            args, kwargs = sites.call_arguments(call, namespace)
        except sites.NotLiteral as error:
            reasons.append(f"line {call.lineno}: {error}")
            continue
        candidate.factory = lambda args=args, kwargs=kwargs: target(*args, **kwargs)
        candidate.built_as = ast.unparse(call)
        return
    missing = _required_parameters(target)
    if not missing:
        candidate.factory = target
        candidate.built_as = f"{candidate.name}()"
        return
    candidate.missing = missing
    module_name = module.__name__
    hint = (
        f"{candidate.name} needs constructor arguments ({', '.join(missing)}). Call it in this "
        f"file with literal or module-constant arguments (model = {candidate.name}(...)), or set "
        f'"{module_name}:{candidate.name}" = "{candidate.name}(...)" under '
        f"[tool.paramlens.models] in pyproject.toml"
    )
    if reasons:
        hint += f"; call sites skipped ({'; '.join(reasons)})"
    candidate.problem = hint


def _constructors() -> frozenset[Callable[..., Any]]:
    try:
        from torch.utils._device import _device_constructors
    except ImportError:  # a torch that moved it: explicit device= arguments are then kept
        return frozenset()
    return frozenset(_device_constructors())


class OnMeta(TorchFunctionMode):
    """Builds everything on the meta device, explicit devices included: ``torch.zeros(3,
    device="cuda")``, ``.cuda()``, ``.to("cuda", torch.float16)`` and ``.cpu()`` in a model's
    ``__init__`` keep their shapes and dtypes and stay on meta (no CUDA needed, nothing copied).
    In-place initializers (``uniform_``, ``normal_``, ...) of meta tensors return at once."""

    constructors: frozenset[Callable[..., Any]] = frozenset()

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: Sequence[Any] = (),
        kwargs: Optional[dict[str, Any]] = None,
    ) -> Any:
        kwargs = dict(kwargs or {})
        if func in _VALUES_ONLY:
            # nn.init functions dispatch with the tensor as a keyword
            subject = args[0] if args else kwargs.get("tensor")
            if isinstance(subject, torch.Tensor) and subject.is_meta:
                return subject  # initializers only write values, and a meta tensor has none
        if func in OnMeta.constructors:
            kwargs["device"] = _META
        elif func in _MOVES and args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
            if func is not torch.Tensor.to:
                return args[0]
            moves = {k: v for k, v in kwargs.items() if k != "copy"}
            with contextlib.suppress(RuntimeError, TypeError):  # unusual forms: torch decides
                _, dtype, _, _ = torch._C._nn._parse_to(*args[1:], **moves)
                return args[0] if dtype is None else args[0].to(dtype)
        return func(*args, **kwargs)


_META = torch.device("meta")
_MOVES = frozenset({torch.Tensor.to, torch.Tensor.cuda, torch.Tensor.cpu})
_VALUES_ONLY = frozenset(
    getattr(torch.Tensor, name)
    for name in (
        "uniform_",
        "normal_",
        "zero_",
        "fill_",
        "random_",
        "bernoulli_",
        "exponential_",
        "log_normal_",
        "cauchy_",
        "geometric_",
    )
    if hasattr(torch.Tensor, name)
) | frozenset(
    getattr(nn.init, name)
    for name in (
        "uniform_",
        "normal_",
        "trunc_normal_",
        "constant_",
        "ones_",
        "zeros_",
        "eye_",
        "dirac_",
        "xavier_uniform_",
        "xavier_normal_",
        "kaiming_uniform_",
        "kaiming_normal_",
        "orthogonal_",
        "sparse_",
    )
    if hasattr(nn.init, name)
)
OnMeta.constructors = _constructors()


def build(
    factory: Callable[[], Any], device: str, cpu_fallback_limit_mb: int
) -> tuple[Any, str, Optional[str]]:
    """``(model, device used, why meta failed)``: meta first, then CPU under the size limit."""
    meta_error: Optional[BaseException] = None
    if device == "meta":
        try:
            with torch.device("meta"), OnMeta():
                return factory(), "meta", None
        except Exception as error:
            if is_memory_error(error):
                raise
            meta_error = error
    restore = limits.limit_address_space(cpu_fallback_limit_mb << 20)
    try:
        with torch.device("cpu"):
            model = factory()
        reason = f"{type(meta_error).__name__}: {meta_error}" if meta_error is not None else None
        return model, "cpu", reason
    except Exception as error:
        if meta_error is not None and is_memory_error(error):
            raise MemoryError(
                f"building on meta failed ({type(meta_error).__name__}: {meta_error}) and the "
                f"CPU fallback needs more than cpuFallbackLimitMb={cpu_fallback_limit_mb}"
            ) from error
        raise error from meta_error
    finally:
        restore()


def _empty_report(candidate: Candidate, file: str, status: str) -> ModelReport:
    return {
        "object": candidate.name,
        "file": file,
        "line": candidate.line,
        "built_as": candidate.built_as,
        "device": None,
        "status": status,
        "error": None,
        "parameters": [],
        "buffers": [],
        "state_dict_keys": [],
        "modules": [],
        "totals": None,
        "fallback_reason": None,
        "kind": candidate.kind,
    }


def _missing_part(model: nn.Module) -> Optional[loader.Missing]:
    """A stand-in for something not installed that ``model`` holds where a layer would be."""
    if not loader.Missing.modules:  # no import was missing: nothing to look for
        return None
    for module in model.modules():
        for value in vars(module).values():
            if isinstance(value, loader.Missing):
                return value
    return None


def inspect_file(params: InspectParams, started: Optional[float] = None) -> InspectResult:
    """Load the file of ``params`` and report every model in it (runs user code: child only).

    Raises when the file cannot be loaded (SyntaxError, ImportError, ...); failures of single
    models are reports with status ``error``."""
    started = time.perf_counter() if started is None else started
    path = os.path.abspath(params["path"])
    roots = list(params.get("roots") or [])
    is_user_file = UserCode(roots or [os.path.dirname(path)], path)
    with open(path, "rb") as handle:
        source = handle.read()
    tree = ast.parse(source, filename=path)
    before = set(sys.modules)
    module = loader.load_target(path, roots, params.get("load_mode", "definitions"))
    candidates = find_candidates(
        module, tree, params.get("objects"), params.get("models") or {}, is_user_file
    )
    lines = SourceLines(is_user_file)
    device = params.get("device", "meta")
    limit = int(params.get("cpu_fallback_limit_mb", 512))
    objects_given = bool(params.get("objects"))
    reports: list[ModelReport] = []
    built: list[tuple[ModelReport, nn.Module]] = []
    used_devices = set()
    for candidate in candidates:
        report = _empty_report(candidate, path, "ok")
        reports.append(report)
        if candidate.factory is None:
            report["status"] = "needs_arguments" if candidate.missing else "error"
            report["error"] = {
                "type": "NeedsArguments" if candidate.missing else "TypeError",
                "message": candidate.problem or "cannot build",
                "file": path,
                "line": candidate.line,
            }
            continue
        try:
            model, used, fallback_reason = build(candidate.factory, device, limit)
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                raise
            report["status"] = "error"
            report["error"] = error_info(error, is_user_file, params.get("load_mode", ""))
            continue
        if candidate.kind == KIND_VARIABLE and not _holds_tensors(model):
            # a workspace function's value, not a model, or a layer with nothing to freeze
            # (``ACT = nn.GELU()``): no report, no lens
            reports.remove(report)
            continue
        if not isinstance(model, nn.Module):
            report["status"] = "error"
            report["error"] = {
                "type": "TypeError",
                "message": f"{candidate.built_as} returned {type(model).__name__}, not a Module",
                "file": path,
                "line": candidate.line,
            }
            continue
        stand_in = _missing_part(model)
        if stand_in is not None:  # `act=timm.layers.GELU()` as a default: a layer left out
            report["status"] = "error"
            report["error"] = {
                "type": "ModuleNotFoundError",
                "message": str(stand_in.failure()),
                "file": path,
                "line": candidate.line,
            }
            continue
        report["device"] = used
        report["fallback_reason"] = fallback_reason
        used_devices.add(used)
        try:
            report.update(describe(model, lines))  # type: ignore[typeddict-item]
        except Exception as error:  # a custom Module whose named_parameters() & co. fail
            report["status"] = "error"
            report["error"] = error_info(error, is_user_file, params.get("load_mode", ""))
            continue
        built.append((report, model))
    if objects_given and any(r["status"] == "needs_arguments" for r in reports):
        built.extend(_build_hosts(module, tree, params, device, limit, candidates))
    _describe_from_instances(reports, candidates, built, lines)
    return {
        "reports": reports,
        "missing_modules": sorted(loader.Missing.modules),
        "imported_files": loader.imported_workspace_files(
            roots or [os.path.dirname(path)], path, before
        ),
        "output": "",
        "device": "cpu" if "cpu" in used_devices else device,
        "duration_ms": (time.perf_counter() - started) * 1000.0,
    }


def _build_hosts(
    module: ModuleType,
    tree: ast.Module,
    params: InspectParams,
    device: str,
    limit: int,
    chosen: Sequence[Candidate],
) -> list[tuple[ModelReport, nn.Module]]:
    """The other buildable models of the file, to find instances of a class given by name."""
    names = {c.name for c in chosen}
    hosts = []
    for candidate in find_candidates(module, tree, None, params.get("models") or {}):
        if candidate.name in names or candidate.factory is None:
            continue
        try:
            model, used, _ = build(candidate.factory, device, limit)
        except Exception:
            continue
        if isinstance(model, nn.Module):
            report = _empty_report(candidate, str(module.__file__), "ok")
            report["device"] = used
            hosts.append((report, model))
    return hosts


def _describe_from_instances(
    reports: list[ModelReport],
    candidates: Sequence[Candidate],
    built: Sequence[tuple[ModelReport, nn.Module]],
    lines: SourceLines,
) -> None:
    """Classes nobody could build are described from an instance inside a built model."""
    for report, candidate in zip(reports, candidates):
        if report["status"] != "needs_arguments" or not isinstance(candidate.obj, type):
            continue
        for owner, model in built:
            instance = next(
                ((n, m) for n, m in model.named_modules() if type(m) is candidate.obj), None
            )
            if instance is None:
                continue
            name, submodule = instance
            assert isinstance(submodule, nn.Module)
            report.update(describe(submodule, lines))  # type: ignore[typeddict-item]
            report["status"] = "ok"
            report["error"] = None
            report["device"] = owner["device"]
            report["built_as"] = f"{owner['built_as']}.{name}"
            break


def _common_layers() -> nn.Module:
    layers = nn.Sequential(
        nn.Conv1d(2, 2, 3),
        nn.Conv2d(2, 2, 3, bias=False),
        nn.BatchNorm1d(2),
        nn.BatchNorm2d(2),
        nn.LayerNorm(4),
        nn.GroupNorm(1, 2),
        nn.Embedding(4, 4),
        nn.Linear(4, 4),
        nn.ReLU(),
        nn.LeakyReLU(0.1),
        nn.GELU(),
        nn.SiLU(),
        nn.Dropout(0.1),
        nn.AvgPool1d(2),
        nn.MultiheadAttention(4, 2),
        nn.LSTM(4, 4),
        nn.GRU(4, 4),
        nn.TransformerEncoderLayer(4, 2, 8),
    )
    if hasattr(nn, "RMSNorm"):
        layers.append(nn.RMSNorm(4))
    return layers


def warm_up_light() -> None:
    """The paths of an ordinary build through the meta mode (whose initializers are shortcuts):
    common layers, moves between devices, a report, a definitions-only compile."""
    with torch.device("meta"), OnMeta():
        layers = _common_layers()
        layers.to(torch.float16).cuda().float()
        layers.requires_grad_(False)
    describe(layers, SourceLines(lambda path: False))
    layers.state_dict()
    loader.compile_definitions("import os\nclass A:\n    x = 1\n", "<warm-up>")


def warm_up_heavy() -> None:
    """The real meta kernels of every ``nn.init`` function and common layer (~1 s: the first
    meta ``normal_`` — or a division of meta tensors — imports torch._dynamo and sympy). User
    code calls them directly; lazy imports happen per code path and a forked child never hands
    them back to its parent, so this must run in the parent before the first fork."""
    with torch.device("meta"):
        weight = torch.empty(8, 8)
        init = nn.init
        for function in (
            init.normal_,
            init.uniform_,
            init.trunc_normal_,
            init.xavier_uniform_,
            init.xavier_normal_,
            init.kaiming_uniform_,
            init.kaiming_normal_,
            init.orthogonal_,
            init.zeros_,
            init.ones_,
            init.eye_,
        ):
            with contextlib.suppress(RuntimeError, NotImplementedError, ValueError):
                function(weight)
        init.constant_(weight, 0.5)
        steps = torch.arange(0, 8, 2).float() / 8
        torch.outer(steps, 10000.0**steps).sin()
        torch.randn(2, 2)
        _common_layers()


def warm_up() -> None:
    """Both warm-ups (what a fork-server parent runs before its children need them)."""
    warm_up_light()
    warm_up_heavy()
