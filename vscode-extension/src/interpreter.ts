/**
 * Choosing the Python that runs the server and builds the models, and reading what a probe of
 * it says. Pure: `python.ts` feeds it from VS Code and `child_process`.
 */

/** Where the interpreter came from, for the log and the status item. */
export type InterpreterSource = 'setting' | 'python-extension' | 'default';

/** A resolved interpreter command (a path, or a launcher with arguments). */
export interface InterpreterChoice {
  command: string[];
  source: InterpreterSource;
}

/** The interpreter used when neither the setting nor the Python extension names one. */
export const DEFAULT_INTERPRETER = 'python3';

/**
 * The `paramlens.interpreter` setting wins (it is the override), then the environment selected
 * in the Python extension, then `python3` on PATH.
 */
export function chooseInterpreter(
  setting: string | readonly string[] | undefined,
  fromPythonExtension: readonly string[] | undefined,
): InterpreterChoice {
  const fromSetting = (typeof setting === 'string' ? [setting] : [...(setting ?? [])])
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (fromSetting.length > 0) {
    return { command: fromSetting, source: 'setting' };
  }
  const fromExtension = (fromPythonExtension ?? []).filter((part) => part.length > 0);
  if (fromExtension.length > 0) {
    return { command: [...fromExtension], source: 'python-extension' };
  }
  return { command: [DEFAULT_INTERPRETER], source: 'default' };
}

/** The oldest Python the server runs on. */
export const MINIMUM_PYTHON: readonly [number, number] = [3, 9];

/**
 * Run with `python -c`: prints the version, the executable and whether torch can be imported
 * (found by `find_spec`, so the probe never pays for importing torch).
 */
export const PROBE_SCRIPT = [
  'import importlib.util, json, sys',
  'print(json.dumps({"version": list(sys.version_info[:3]), "executable": sys.executable,',
  ' "torch": importlib.util.find_spec("torch") is not None}))',
].join('\n');

/** What the probe found. */
export interface ProbeResult {
  version: [number, number, number];
  executable: string;
  torch: boolean;
}

/** Parse the probe's stdout (the last line that is a JSON object); undefined if unreadable. */
export function parseProbe(stdout: string): ProbeResult | undefined {
  const lines = stdout.trim().split(/\r?\n/).reverse();
  for (const line of lines) {
    try {
      const value = JSON.parse(line) as Partial<ProbeResult>;
      if (
        Array.isArray(value.version) &&
        value.version.length === 3 &&
        value.version.every((n) => typeof n === 'number') &&
        typeof value.executable === 'string' &&
        typeof value.torch === 'boolean'
      ) {
        return { version: value.version, executable: value.executable, torch: value.torch };
      }
    } catch {
      // Not JSON: a sitecustomize or a shell wrapper printed something first.
    }
  }
  return undefined;
}

/** What is wrong with an interpreter, for the one message the user sees. */
export type InterpreterProblem =
  | { kind: 'not-runnable'; detail: string }
  | { kind: 'too-old'; version: string }
  | { kind: 'no-torch'; executable: string };

/** Judge a probe: undefined when the interpreter can run the server and build models. */
export function judgeProbe(
  probe: ProbeResult | undefined,
  failure: string | undefined,
): InterpreterProblem | undefined {
  if (probe === undefined) {
    return { kind: 'not-runnable', detail: failure ?? 'it printed nothing readable' };
  }
  const [major, minor] = probe.version;
  if (major < MINIMUM_PYTHON[0] || (major === MINIMUM_PYTHON[0] && minor < MINIMUM_PYTHON[1])) {
    return { kind: 'too-old', version: probe.version.join('.') };
  }
  if (!probe.torch) {
    return { kind: 'no-torch', executable: probe.executable };
  }
  return undefined;
}

/** The sentence shown for a problem (the buttons are added by the caller). */
export function problemMessage(problem: InterpreterProblem, command: readonly string[]): string {
  const shown = command.join(' ');
  switch (problem.kind) {
    case 'not-runnable':
      return `paramlens: cannot run the Python interpreter "${shown}" (${problem.detail}). Select an interpreter with PyTorch installed.`;
    case 'too-old':
      return `paramlens: the Python interpreter "${shown}" is ${problem.version}; paramlens needs Python ${MINIMUM_PYTHON.join('.')} or newer.`;
    case 'no-torch':
      return `paramlens: PyTorch is not installed in the Python interpreter "${problem.executable}". Parameter counts, hovers and runtime checks need it; static freeze rules still run. Select an interpreter with torch, or install it there.`;
  }
}

/**
 * The command that starts the language server: the bundled launcher (which puts the bundled
 * libraries first on `sys.path`) when the extension carries one, else `-m paramlens serve` for a
 * development checkout where paramlens is installed in the interpreter.
 */
export function serverCommand(
  interpreter: readonly string[],
  launcher: string | undefined,
): { command: string; args: string[] } {
  const [command, ...prefix] = interpreter;
  return launcher !== undefined
    ? { command, args: [...prefix, launcher] }
    : { command, args: [...prefix, '-m', 'paramlens', 'serve'] };
}
