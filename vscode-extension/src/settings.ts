/**
 * The `paramlens.*` settings as the server receives them (`initializationOptions` and
 * `workspace/configuration`, camelCase). Pure: the caller hands in a getter over VS Code's
 * configuration, so this module runs under the unit tests without VS Code.
 */

/** Settings the server understands, with the defaults of the manifest. */
export interface ServerSettings {
  interpreter: string[];
  inspect: 'onOpen' | 'onSave' | 'onCommand';
  loadMode: 'definitions' | 'module';
  device: 'meta' | 'cpu';
  timeoutSeconds: number;
  memoryLimitMb: number;
  cpuFallbackLimitMb: number;
  select: string[];
  ignore: string[];
  untrusted: boolean;
}

/** The keys forwarded from `paramlens.<key>` to the server as they are. */
export const FORWARDED_KEYS = [
  'inspect',
  'loadMode',
  'device',
  'timeoutSeconds',
  'memoryLimitMb',
  'cpuFallbackLimitMb',
  'select',
  'ignore',
] as const;

/** Reads one `paramlens.<key>` value (undefined when unset). */
export type SettingGetter = (key: string) => unknown;

/** The setting changes that need a fresh server, not just a `didChangeConfiguration`. */
export const RESTART_KEYS = ['paramlens.interpreter'] as const;

/**
 * Expand `${workspaceFolder}`, `${userHome}`, a leading `~` and `${env:NAME}` in a path setting,
 * the way ms-python's tool extensions do.
 */
export function expandPath(
  value: string,
  workspaceFolder: string | undefined,
  home: string,
  env: Record<string, string | undefined> = {},
): string {
  let out = value.trim();
  if (out === '~' || out.startsWith('~/')) {
    out = home + out.slice(1);
  }
  out = out.replace(/\$\{userHome\}/g, home);
  if (workspaceFolder !== undefined) {
    out = out.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  }
  return out.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? '');
}

/**
 * The settings object sent to the server: the forwarded `paramlens.*` values that are set,
 * the resolved interpreter command, and whether the workspace is untrusted (static rules only).
 */
export function serverSettings(
  get: SettingGetter,
  interpreter: readonly string[],
  trusted: boolean,
): Partial<ServerSettings> & Pick<ServerSettings, 'interpreter' | 'untrusted'> {
  const out: Record<string, unknown> = {};
  for (const key of FORWARDED_KEYS) {
    const value = get(key);
    if (value !== undefined && value !== null) {
      out[key] = value;
    }
  }
  return {
    ...(out as Partial<ServerSettings>),
    // An untrusted workspace gets no interpreter: the server must not start a worker there.
    interpreter: trusted ? [...interpreter] : [],
    untrusted: !trusted,
  };
}
