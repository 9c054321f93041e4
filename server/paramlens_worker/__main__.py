"""The worker: a fork-server speaking newline-delimited JSON-RPC on its stdin/stdout.

The parent imports torch and warms the meta-device paths once, then forks one child per
``inspect`` request. Each child sends its answer back to the parent over a pipe of its own; only
the parent writes to stdout, so several inspections can be in flight and a child that hangs,
crashes, exits or runs out of memory is reported while the others carry on. The worker exits when
its stdin closes. Where ``fork`` does not exist (or ``PARAMLENS_WORKER_SPAWN=1``) each inspection
is a fresh ``--child`` process instead.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import json
import os
import queue
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Any, Optional

from paramlens_worker import limits, protocol, sites

FILE_SIZE_LIMIT = 64 << 20  # bytes any file written by an inspection child may reach
OUTPUT_LIMIT = 64 * 1024  # characters of captured user output sent back per inspection
DUMP_GRACE_SECONDS = 0.3  # between the traceback-dump signal and SIGKILL on a timeout
_real_exit = os._exit
_SIGKILL = getattr(signal, "SIGKILL", 9)
_ERROR_CODES = {
    "memory": protocol.ERROR_MEMORY,
    "crashed": protocol.ERROR_CRASHED,
    "timeout": protocol.ERROR_TIMEOUT,
}


def _read_text(path: str, limit: int = OUTPUT_LIMIT) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        return ""
    text = data[:limit].decode("utf-8", errors="replace")
    if len(data) > limit:
        text += f"\n[paramlens: output truncated after {limit} bytes]\n"
    return text


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def run_child(params: dict[str, Any], result_fd: int, capture_path: str, fault_path: str) -> None:
    """The inspection child: redirect stdio, set limits, inspect, send one answer, exit."""
    started = time.perf_counter()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    capture = os.open(capture_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(capture, 1)
    os.dup2(capture, 2)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - lives as long as the child
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.argv = [str(params.get("path", ""))]  # as `python file.py` would see it, not our flags
    fault = open(fault_path, "w", encoding="utf-8")  # noqa: SIM115
    faulthandler.enable(fault, all_threads=True)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, fault, all_threads=True)
    from paramlens_worker import introspect  # imports torch; already loaded in a forked child

    roots = list(params.get("roots") or [os.path.dirname(str(params.get("path", "")))])
    is_user_file = introspect.UserCode(roots, str(params.get("path", "")))
    limits.limit_file_size(FILE_SIZE_LIMIT)
    lift_limit = limits.limit_address_space(int(params.get("memory_limit_mb", 4096)) << 20)

    def finish(message: dict[str, Any], code: int) -> None:
        lift_limit()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        message["output"] = _read_text(capture_path)
        _write_all(result_fd, protocol.encode(message))
        _real_exit(code)

    def exit_now(code: int) -> None:
        frames = []
        frame = sys._getframe(1)
        while frame is not None:
            frames.append((frame.f_code.co_filename, frame.f_lineno))
            frame = frame.f_back  # type: ignore[assignment]
        file, line = sites.first_user_frame(frames, is_user_file)
        error = {
            "type": "SystemExit",
            "message": f"the code called os._exit({code})",
            "file": file,
            "line": line,
        }
        finish({"error": error, "kind": "crashed"}, code)

    os._exit = exit_now  # type: ignore[assignment]
    try:
        result = introspect.inspect_file(params, started)  # type: ignore[arg-type]
        message: dict[str, Any] = {"result": result}
    except BaseException as error:
        lift_limit()
        message = {
            "error": introspect.error_info(
                error, is_user_file, str(params.get("load_mode", "definitions"))
            ),
            "kind": "memory" if introspect.is_memory_error(error) else "error",
        }
    finish(message, 0)


class Child:
    """One inspection in flight."""

    def __init__(
        self,
        request_id: Any,
        pid: int,
        fd: int,
        deadline: float,
        files: tuple[str, str],
        roots: Sequence[str],
        process: Optional[subprocess.Popen[bytes]] = None,
    ) -> None:
        self.request_id = request_id
        self.pid = pid
        self.fd = fd
        self.deadline = deadline
        self.capture_path, self.fault_path = files
        self.roots = list(roots)
        self.process = process
        self.buffer = bytearray()
        self.timed_out = False
        self.cancelled = False
        self.kill_at: Optional[float] = None

    def wait(self) -> int:
        """Reap the child; its wait status as ``os.waitpid`` gives it (spawn: negated signal)."""
        if self.process is not None:
            code = self.process.wait()
            return code
        _, status = os.waitpid(self.pid, 0)
        if os.WIFSIGNALED(status):
            return -os.WTERMSIG(status)
        return os.WEXITSTATUS(status)

    def kill(self) -> None:
        """Stop the child now, if it is still there."""
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            if self.process is not None:
                self.process.kill()
            else:
                os.kill(self.pid, _SIGKILL)

    def dump_traceback(self) -> bool:
        """Ask the child to dump its stack to its fault file (POSIX); False where impossible."""
        number = getattr(signal, "SIGUSR1", None)
        if number is None:
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, number)
        return True


class ForkServer:
    """Reads requests, runs one child per inspection, writes every response itself.

    With ``fork`` the loop is single-threaded (``selectors`` over stdin and the children's
    pipes), so forking is safe. In spawn mode (no ``fork``: Windows) reader threads feed a queue,
    since pipes cannot be selected there."""

    def __init__(self, out_fd: int, torch_version: Optional[str], no_torch: Optional[str]):
        self.out_fd = out_fd
        self.torch_version = torch_version
        self.no_torch = no_torch
        self.selector: Optional[selectors.BaseSelector] = None
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.children: dict[int, Child] = {}
        self.pending = bytearray()
        self.running = True
        self.sequence = 0
        # The client's folder when it gives one (it removes it once the worker is gone).
        self.tmpdir = os.environ.get(protocol.TMPDIR_VARIABLE) or tempfile.mkdtemp(
            prefix="paramlens-worker-"
        )
        self.spawn = not hasattr(os, "fork") or os.environ.get("PARAMLENS_WORKER_SPAWN") == "1"

    def respond(self, request_id: Any, result: Any) -> None:
        """Write a result response."""
        self._send({"jsonrpc": "2.0", "id": request_id, "result": result})

    def _send(self, message: dict[str, Any]) -> None:
        try:
            _write_all(self.out_fd, protocol.encode(message))
        except OSError:  # the server is gone: nobody is left to answer
            self.running = False

    def respond_error(self, request_id: Any, code: int, message: str, data: Any = None) -> None:
        """Write an error response."""
        error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        self._send({"jsonrpc": "2.0", "id": request_id, "error": error})

    def serve(self) -> int:
        """The main loop; returns when stdin closes or on ``shutdown``."""
        try:
            if self.spawn:
                self._serve_threads()
            else:
                self._serve_selector()
        finally:
            for child in list(self.children.values()):
                child.kill()
                self._finish(child)
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        return 0

    def _serve_selector(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.selector.register(0, selectors.EVENT_READ, None)
        while self.running or self.children:
            for key, _ in self.selector.select(self._timeout()):
                if key.data is None:
                    self._feed(os.read(0, 1 << 16))
                else:
                    self._read_child(key.data)
            self._enforce_deadlines()

    def _serve_threads(self) -> None:
        def read_requests() -> None:
            stdin = sys.stdin.buffer
            for line in iter(stdin.readline, b""):
                self.events.put(("data", line))
            self.events.put(("data", b""))

        threading.Thread(target=read_requests, name="requests", daemon=True).start()
        while self.running or self.children:
            try:
                kind, value = self.events.get(timeout=self._timeout())
            except queue.Empty:
                kind, value = "", None
            if kind == "data" and self.running:
                self._feed(value)
            elif kind == "child":
                self._finish(value)
            self._enforce_deadlines()

    def _timeout(self) -> Optional[float]:
        moments = [
            c.kill_at if c.kill_at is not None else c.deadline for c in self.children.values()
        ]
        if not moments:
            return None
        return max(0.0, min(moments) - time.monotonic())

    def _feed(self, data: bytes) -> None:
        if not data:
            self.running = False
            if self.selector is not None:
                self.selector.unregister(0)
            for child in self.children.values():  # nobody is left to read their answers
                child.kill()
            return
        self.pending.extend(data)
        while b"\n" in self.pending:
            line, _, rest = self.pending.partition(b"\n")
            self.pending = bytearray(rest)
            if line.strip():
                self._handle(bytes(line))

    def _handle(self, line: bytes) -> None:
        try:
            message = protocol.decode(line)
        except ValueError as error:
            self.respond_error(None, protocol.ERROR_PARSE, f"parse error: {error}")
            return
        request_id = message.get("id")
        method = message.get("method")
        if method == "ping":
            if self.no_torch is not None:
                self._no_torch(request_id)
            else:
                self.respond(
                    request_id,
                    {
                        "torch_version": self.torch_version,
                        "python": sys.version.split()[0],
                        "pid": os.getpid(),
                        "protocol": protocol.PROTOCOL_VERSION,
                        "executable": sys.executable,
                    },
                )
        elif method == "shutdown":
            self.respond(request_id, None)
            self.running = False
            for child in self.children.values():
                child.kill()
        elif method == "inspect":
            params = message.get("params")
            if not isinstance(params, dict) or not isinstance(params.get("path"), str):
                self.respond_error(
                    request_id, protocol.ERROR_INVALID_REQUEST, "inspect needs params.path"
                )
            elif self.no_torch is not None:
                self._no_torch(request_id)
            else:
                self._start_child(request_id, params)
        elif method == "cancel":
            params = message.get("params")
            target = params.get("id") if isinstance(params, dict) else None
            for child in self.children.values():
                if child.request_id == target and target is not None:
                    child.cancelled = True
                    child.kill()
        elif request_id is not None:
            self.respond_error(
                request_id, protocol.ERROR_METHOD_NOT_FOUND, f"unknown method {method!r}"
            )

    def _no_torch(self, request_id: Any) -> None:
        message = str(self.no_torch)
        self.respond_error(
            request_id,
            protocol.ERROR_NO_TORCH,
            message,
            {"type": "ModuleNotFoundError", "message": message, "file": None, "line": None},
        )

    def _start_child(self, request_id: Any, params: dict[str, Any]) -> None:
        self.sequence += 1
        files = (
            os.path.join(self.tmpdir, f"{self.sequence}.out"),
            os.path.join(self.tmpdir, f"{self.sequence}.fault"),
        )
        timeout = float(params.get("timeout_seconds") or 30.0)
        deadline = time.monotonic() + timeout
        roots = list(params.get("roots") or [os.path.dirname(str(params["path"]))])
        if self.spawn:
            child = self._spawn_child(request_id, params, files, deadline, roots)
        else:
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    os.close(read_fd)
                    os.close(self.out_fd)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    run_child(params, write_fd, *files)
                finally:
                    _real_exit(70)
            os.close(write_fd)
            child = Child(request_id, pid, read_fd, deadline, files, roots)
        self.children[child.fd] = child
        if self.selector is not None:
            self.selector.register(child.fd, selectors.EVENT_READ, child)

    def _spawn_child(
        self,
        request_id: Any,
        params: dict[str, Any],
        files: tuple[str, str],
        deadline: float,
        roots: Sequence[str],
    ) -> Child:
        command = protocol.worker_command([sys.executable], "--child")
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(protocol.encode({"params": params, "files": list(files)}))
        process.stdin.close()
        child = Child(
            request_id, process.pid, process.stdout.fileno(), deadline, files, roots, process
        )

        def read_answer() -> None:
            assert process.stdout is not None
            child.buffer.extend(process.stdout.read())
            self.events.put(("child", child))

        threading.Thread(target=read_answer, name=f"child-{process.pid}", daemon=True).start()
        return child

    def _read_child(self, child: Child) -> None:
        try:
            data = os.read(child.fd, 1 << 16)
        except OSError:
            data = b""
        if data:
            child.buffer.extend(data)
            return
        self._finish(child)

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for child in list(self.children.values()):
            if child.kill_at is not None and now >= child.kill_at:
                child.kill()
                child.kill_at = now + 3600  # reaped on EOF
            elif not child.timed_out and now >= child.deadline:
                child.timed_out = True
                if child.dump_traceback():
                    child.kill_at = now + DUMP_GRACE_SECONDS
                else:
                    child.kill()
                    child.kill_at = now + 3600

    def _finish(self, child: Child) -> None:
        if self.children.pop(child.fd, None) is None:
            return
        if self.selector is not None:
            self.selector.unregister(child.fd)
        if child.process is not None:
            assert child.process.stdout is not None
            child.process.stdout.close()
        else:
            os.close(child.fd)
        status = child.wait()
        try:
            self._answer(child, status)
        finally:
            for path in (child.capture_path, child.fault_path):
                with contextlib.suppress(OSError):
                    os.unlink(path)

    def _answer(self, child: Child, status: int) -> None:
        message: Optional[dict[str, Any]] = None
        line = bytes(child.buffer).split(b"\n", 1)[0]
        if line.strip():
            try:
                message = protocol.decode(line)
            except ValueError:
                message = None
        if child.timed_out and (message is None or "result" not in message):
            message = None
        if message is not None and "result" in message:
            result = message["result"]
            result["output"] = message.get("output", "")
            self.respond(child.request_id, result)
            return
        if message is not None and isinstance(message.get("error"), dict):
            info = dict(message["error"])
            kind = str(message.get("kind", "error"))
            info["kind"] = kind
            info["output"] = message.get("output", "")
            code = _ERROR_CODES.get(kind, protocol.ERROR_INSPECTION_FAILED)
            self.respond_error(child.request_id, code, f"{info['type']}: {info['message']}", info)
            return
        self._answer_dead(child, status)

    def _answer_dead(self, child: Child, status: int) -> None:
        from paramlens_worker import loader

        frames = sites.fault_frames(_read_text(child.fault_path))
        file, line = sites.first_user_frame(
            frames, lambda path: loader.is_workspace_file(path, child.roots)
        )
        if child.cancelled:
            code, kind = protocol.ERROR_CANCELLED, "cancelled"
            text = "the inspection was cancelled"
            error_type = "Cancelled"
        elif child.timed_out:
            code, kind = protocol.ERROR_TIMEOUT, "timeout"
            text = "the inspection did not finish within the timeout (timeoutSeconds); stopped"
            error_type = "Timeout"
        elif status == -_SIGKILL:
            code, kind = protocol.ERROR_MEMORY, "memory"
            text = "the inspection process was killed (out of memory?)"
            error_type = "Killed"
        elif status < 0:
            code, kind = protocol.ERROR_CRASHED, "crashed"
            name = (
                signal.Signals(-status).name if -status in signal.valid_signals() else str(-status)
            )
            text = f"the inspection process crashed with {name}"
            error_type = name
        else:
            code, kind = protocol.ERROR_CRASHED, "crashed"
            text = f"the inspection process exited with code {status} before answering"
            error_type = "Exit"
        data = {
            "type": error_type,
            "message": text,
            "file": file,
            "line": line,
            "kind": kind,
            "output": _read_text(child.capture_path),
        }
        self.respond_error(child.request_id, code, text, data)


def _child_main() -> int:
    """``--child`` (spawn mode): one inspection described on stdin, the answer on stdout."""
    request = json.loads(sys.stdin.buffer.readline())
    result_fd = os.dup(1)
    capture_path, fault_path = request["files"]
    run_child(request["params"], result_fd, capture_path, fault_path)
    return 0


def supported_torch(version: str) -> bool:
    """True for torch 2.0 and later (``"2.13.0+cpu"``, ``"2.1.0a0+git"``)."""
    head = version.split(".", 1)[0]
    return head.isdigit() and int(head) >= 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the worker (``--child``: one spawned inspection)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return _child_main()
    out_fd = os.dup(1)
    # Anything torch or user code writes to fd 1 in this process lands in the log, not the protocol.
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    torch_version: Optional[str] = None
    no_torch: Optional[str] = None
    started = time.perf_counter()
    try:
        import torch

        torch_version = str(torch.__version__)
    except ImportError as error:
        no_torch = f"torch cannot be imported in {sys.executable}: {error}"
    if torch_version is not None and not supported_torch(torch_version):
        # torch.device as a context manager (building on meta) arrived in torch 2.0.
        no_torch = f"paramlens needs torch >= 2.0; {sys.executable} has torch {torch_version}"
        torch_version = None
    if torch_version is not None:
        from paramlens_worker import introspect

        try:
            introspect.warm_up()
        except Exception as error:
            sys.stderr.write(f"paramlens worker: warm-up failed: {error!r}\n")
        sys.stderr.write(
            f"paramlens worker {os.getpid()}: torch {torch_version} ready in "
            f"{time.perf_counter() - started:.2f}s\n"
        )
        sys.stderr.flush()
    gc.collect()
    gc.freeze()  # objects of the warm parent are never scanned (nor copied) in the children
    return ForkServer(out_fd, torch_version, no_torch).serve()


if __name__ == "__main__":
    sys.exit(main())
