// Integration test of the built VSIX in a real VS Code: code-server 4.100.3 (VS Code 1.100.3)
// installed by scripts/install-code-server.sh, the VSIX installed with --install-extension, and
// Debian's Chromium driven by playwright-core. It opens the fixtures in test/workspace and checks
// what a user sees: the class lens's parameter count, a submodule's hover, the summary webview,
// the freeze warning's squiggle and its quick fix.
//
// Usage: node test/integration/run.mjs   (after `npm run package`; `make test-extension` does both)
// Env:   PARAMLENS_INTERPRETER  the Python with torch the models are built in (default: .venv)
//        PARAMLENS_VSIX         the VSIX to test (default: dist/paramlens-<version>.vsix)
//        CHROMIUM               the browser (default: /usr/bin/chromium)
// Output: test-output/vscode/ (screenshots, code-server and extension logs, result.json).
import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const extensionDir = resolve(here, '..', '..');
const repo = resolve(extensionDir, '..');
const { name, version } = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8'));
const vsix = process.env.PARAMLENS_VSIX || join(repo, 'dist', `${name}-${version}.vsix`);
const interpreter = process.env.PARAMLENS_INTERPRETER || join(repo, '.venv', 'bin', 'python');
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const out = join(repo, 'test-output', 'vscode');
const codeServer = join(repo, '.tools', 'code-server', 'node_modules', '.bin', 'code-server');

const t0 = Date.now();
const result = { steps: [], vsix, interpreter };
const log = (message) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}`);

class Failure extends Error {}

/** Fail with what was expected and what was seen. */
function check(condition, message) {
  if (!condition) {
    throw new Failure(message);
  }
}

async function step(title, action) {
  const start = Date.now();
  log(`… ${title}`);
  try {
    const value = await action();
    result.steps.push({ title, ok: true, ms: Date.now() - start, value });
    log(`ok ${title} (${Date.now() - start} ms)`);
    return value;
  } catch (error) {
    result.steps.push({ title, ok: false, ms: Date.now() - start, error: String(error?.message ?? error) });
    throw new Failure(`step "${title}" failed: ${error?.message ?? error}`);
  }
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

async function waitFor(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last) {
        return last;
      }
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Failure(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last: ${String(last)})` : ''}`);
}

function findFiles(dir, pattern, found = []) {
  if (!existsSync(dir)) {
    return found;
  }
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      findFiles(path, pattern, found);
    } else if (pattern.test(entry)) {
      found.push(path);
    }
  }
  return found;
}

/** Every process of this machine we may read: pid, command line, environment. */
function listProcesses() {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const env = Object.fromEntries(
        readFileSync(`/proc/${entry}/environ`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      );
      found.push({ pid: Number(entry), cmdline, env });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

const fakePythonDir = join(extensionDir, 'test', 'fake-python-extension');
const fakePythonVsix = join(out, 'fake-python.vsix');

function checkPrerequisites() {
  check(existsSync(vsix), `no VSIX at ${vsix}: run \`npm run package\` first`);
  check(existsSync(interpreter), `no interpreter at ${interpreter}: set PARAMLENS_INTERPRETER`);
  check(existsSync(browserPath), `no Chromium at ${browserPath}: run scripts/install-system-deps.sh`);
  execFileSync('bash', [join(repo, 'scripts', 'install-code-server.sh')], { stdio: 'inherit' });
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const vsce = join(repo, 'node_modules', '@vscode', 'vsce', 'vsce');
  execFileSync(process.execPath, [vsce, 'package', '--no-dependencies', '--skip-license', '--out', fakePythonVsix], {
    cwd: fakePythonDir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** A scratch VS Code (home, user data, extensions) and a copy of the fixtures under `root`. */
function prepare(root, { trusted, workspaceSettings }) {
  const dirs = {
    root,
    home: join(root, 'home'),
    data: join(root, 'data'),
    extensions: join(root, 'extensions'),
    tmp: join(root, 'tmp'),
    workspace: join(root, 'workspace'),
  };
  Object.values(dirs).forEach((dir) => mkdirSync(dir, { recursive: true }));
  cpSync(join(extensionDir, 'test', 'workspace'), dirs.workspace, { recursive: true });
  mkdirSync(join(dirs.workspace, '.vscode'), { recursive: true });
  writeFileSync(join(dirs.workspace, '.vscode', 'settings.json'), JSON.stringify(workspaceSettings, null, 2));
  mkdirSync(join(dirs.data, 'User'), { recursive: true });
  writeFileSync(
    join(dirs.data, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.colorTheme': 'Default Dark Modern',
        'workbench.tips.enabled': false,
        'security.workspace.trust.enabled': !trusted,
        // Untrusted: open in Restricted Mode without asking.
        'security.workspace.trust.startupPrompt': 'never',
        'security.workspace.trust.emptyWindow': false,
        'editor.codeLens': true,
        'editor.hover.delay': 200,
        'editor.minimap.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.ignoreRecommendations': true,
        'window.commandCenter': false,
        'git.enabled': false,
        'git.openRepositoryInParentFolders': 'never',
      },
      null,
      2,
    ),
  );
  const env = {
    ...process.env,
    HOME: dirs.home,
    XDG_CONFIG_HOME: join(dirs.home, '.config'),
    XDG_DATA_HOME: join(dirs.home, '.local', 'share'),
    XDG_CACHE_HOME: join(dirs.home, '.cache'),
    XDG_RUNTIME_DIR: dirs.tmp,
    TMPDIR: dirs.tmp,
  };
  delete env.PYTHONPATH;
  delete env.VSCODE_IPC_HOOK_CLI;
  return { dirs, env };
}

function startCodeServer(dirs, env, port, trusted, extraExtensions = []) {
  const installs = [vsix, ...extraExtensions].flatMap((file) => ['--install-extension', file]);
  execFileSync(codeServer, ['--user-data-dir', dirs.data, '--extensions-dir', dirs.extensions, ...installs, '--force'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logFile = join(dirs.root, 'code-server.log');
  const fd = openSync(logFile, 'w');
  // detached: a new session and process group (setsid), so the whole tree is killed at the end:
  // code-server, the extension host, the paramlens server and its worker.
  const child = spawn(
    codeServer,
    [
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      ...(trusted ? ['--disable-workspace-trust'] : []),
      '--disable-getting-started-override',
      '--user-data-dir', dirs.data,
      '--extensions-dir', dirs.extensions,
      dirs.workspace,
    ],
    { env, detached: true, stdio: ['ignore', fd, fd] },
  );
  return child;
}

/**
 * Kill what this run started outside code-server's process group (the worker starts its own
 * session): every process whose HOME is this run's scratch home.
 */
function killLeftovers(home) {
  for (const leftover of listProcesses().filter((p) => p.env.HOME === home)) {
    try {
      process.kill(leftover.pid, 'SIGKILL');
    } catch {
      // Exited meanwhile.
    }
  }
}

function killGroup(child) {
  if (child && child.pid) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      try {
        process.kill(-child.pid, 0);
      } catch {
        return;
      }
      execFileSync('sleep', ['0.1']);
    }
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

async function openFile(page, fileName) {
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible', timeout: 10000 });
  await page.keyboard.type(fileName);
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${fileName}"]`, { timeout: 10000 });
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.tab.active[aria-label*="${fileName}"]`, { timeout: 10000 });
  await page.waitForSelector('.monaco-editor .view-lines', { timeout: 10000 });
}

/** Run a command by its title from the Command Palette (F1). */
async function runPaletteCommand(page, title) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible', timeout: 10000 });
  await page.keyboard.type(title);
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: title.replace(/^[^:]*: /, '') })
    .first()
    .waitFor({ timeout: 10000 });
  await page.keyboard.press('Enter');
}

async function editorText(page) {
  const lines = await page.locator('.editor-group-container.active .monaco-editor .view-lines .view-line').evaluateAll(
    (nodes) =>
      nodes
        .map((node) => ({ top: parseFloat(node.style.top || '0'), text: node.textContent.replace(/\u00a0/g, ' ') }))
        .sort((a, b) => a.top - b.top)
        .map((line) => line.text),
  );
  return lines.join('\n');
}

/**
 * Screen coordinates of the middle of `token` (its first occurrence after `prefix`) on the editor
 * line containing `lineText`: tokens are split across spans by the grammar, so use a DOM Range.
 */
async function tokenPoint(page, lineText, prefix, token) {
  const point = await page.evaluate(
    ({ lineText, prefix, token }) => {
      const lines = [...document.querySelectorAll('.editor-group-container.active .monaco-editor .view-line')];
      const line = lines.find((node) => node.textContent.replace(/\u00a0/g, ' ').includes(lineText));
      if (!line) {
        return undefined;
      }
      const text = line.textContent.replace(/\u00a0/g, ' ');
      const offset = text.indexOf(prefix + token) + prefix.length + Math.floor(token.length / 2);
      const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
      let seen = 0;
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (seen + node.length > offset) {
          const range = document.createRange();
          range.setStart(node, offset - seen);
          range.setEnd(node, offset - seen + 1);
          const rect = range.getBoundingClientRect();
          return { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 };
        }
        seen += node.length;
      }
      return undefined;
    },
    { lineText, prefix, token },
  );
  check(point !== undefined, `no "${prefix}${token}" on a visible line containing "${lineText}"`);
  return point;
}

/**
 * Hover `prefix + token` on the line containing `lineText` and read the hover widget. Retried:
 * a lens that lands meanwhile shifts the lines under the mouse.
 */
async function hoverText(page, lineText, prefix, token) {
  let lastError;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const point = await tokenPoint(page, lineText, prefix, token);
    await page.mouse.move(5, 5);
    await page.waitForTimeout(300);
    await page.mouse.move(point.x, point.y, { steps: 3 });
    const hover = page.locator('.monaco-hover-content:visible', { hasText: /\S/ }).first();
    try {
      await hover.waitFor({ state: 'visible', timeout: 6000 });
      return (await hover.innerText()).trim();
    } catch (error) {
      lastError = error;
    }
  }
  throw new Failure(`no hover over "${prefix}${token}" after 3 attempts: ${lastError?.message ?? lastError}`);
}

/**
 * A second VS Code on a fresh copy of the fixtures, in Restricted Mode. Its workspace settings
 * name an "interpreter" that is a script leaving a mark when run: it must never run, no worker
 * may start, and the static freeze rules must still work.
 */
async function untrustedSession(browser, step, shot) {
  const root = join(out, 'untrusted');
  mkdirSync(root, { recursive: true });
  const mark = join(root, 'workspace-code-ran');
  const trap = join(root, 'trap-python');
  writeFileSync(trap, `#!/bin/sh\ntouch '${mark}'\nexec '${interpreter}' "$@"\n`, { mode: 0o755 });
  const { dirs, env } = prepare(root, { trusted: false, workspaceSettings: { 'paramlens.interpreter': trap } });
  const port = await freePort();
  let codeServerProcess;
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  try {
    await step('untrusted: start code-server in Restricted Mode', async () => {
      codeServerProcess = startCodeServer(dirs, env, port, false);
      await waitFor('code-server /healthz', 20000, async () => {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        return response?.ok;
      });
      await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.workspace)}`, {
        waitUntil: 'domcontentloaded',
        timeout: 30000,
      });
      await page.waitForSelector('.monaco-workbench', { timeout: 30000 });
    });
    const seen = await step('untrusted: the static FRZ01 squiggle, a static-only lens', async () => {
      await openFile(page, 'freeze.py');
      await waitFor('a squiggle in freeze.py', 30000, async () =>
        (await page.locator('.editor-group-container.active .monaco-editor [class*="squiggly-"]').count()) > 0,
      );
      const lenses = await waitFor('the class lens', 20000, async () => {
        const all = await page.locator('.monaco-editor .codelens-decoration').allInnerTexts();
        return all.some((text) => text.trim() !== '') ? all : undefined;
      });
      await shot(page, 'untrusted');
      return { lenses, restricted: await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).count() };
    });
    check(seen.restricted > 0, 'the window is in Restricted Mode');
    check(seen.lenses.some((text) => /untrusted|static/.test(text)) && !seen.lenses.some((text) => /\bparams\b/.test(text)),
      `the lens says static checks only, no counts: ${JSON.stringify(seen.lenses)}`);
    const processes = await step('untrusted: no worker started, the workspace interpreter never ran', async () => {
      const mine = listProcesses().filter((p) => p.env.HOME === dirs.home);
      return {
        server: mine.find((p) => p.cmdline.some((part) => part.endsWith('launch.py')))?.cmdline ?? null,
        workers: mine.filter((p) => p.cmdline.join(' ').includes('paramlens_worker')).map((p) => p.cmdline),
      };
    });
    check(processes.server !== null, 'the server runs (for the static rules)');
    check(!processes.server.includes(trap), `the server does not run the workspace's interpreter: ${processes.server.join(' ')}`);
    check(processes.workers.length === 0, `no worker in an untrusted workspace: ${JSON.stringify(processes.workers)}`);
    check(!existsSync(mark), `the workspace's interpreter setting never ran (${mark} exists)`);
  } finally {
    await page.close().catch(() => undefined);
    killGroup(codeServerProcess);
    killLeftovers(dirs.home);
  }
}

async function main() {
  checkPrerequisites();
  // The interpreter comes from the Python extension (its stand-in), not from a setting.
  const { dirs, env } = prepare(out, { trusted: true, workspaceSettings: {} });
  env.PARAMLENS_TEST_PYTHON = interpreter;
  const port = await freePort();
  let codeServerProcess;
  let browser;
  const shot = async (page, label) => {
    const path = join(out, `${String(result.steps.length).padStart(2, '0')}-${label}.png`);
    await page.screenshot({ path }).catch(() => undefined);
    return path;
  };
  let page;
  result.failures = [];
  // Independent groups: one failing still lets the others run and report.
  const group = async (title, body) => {
    try {
      await body();
    } catch (error) {
      if (!(error instanceof Failure)) {
        throw error;
      }
      result.failures.push(error.message);
      log(`FAILED ${title}: ${error.message}`);
      await shot(page, 'failure');
      await page.keyboard.press('Escape').catch(() => undefined);
    }
  };
  try {
    await step('install the VSIX and start code-server', async () => {
      codeServerProcess = startCodeServer(dirs, env, port, true, [fakePythonVsix]);
      await waitFor('code-server /healthz', 20000, async () => {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        return response?.ok;
      });
      return { port, pid: codeServerProcess.pid };
    });
    browser = await chromium.launch({
      executablePath: browserPath,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    page.on('pageerror', (error) => (result.pageErrors ??= []).push(String(error)));

    await step('open the workbench', async () => {
      await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.workspace)}`, {
        waitUntil: 'domcontentloaded',
        timeout: 30000,
      });
      await page.waitForSelector('.monaco-workbench', { timeout: 30000 });
      await page.waitForSelector('.explorer-folders-view, .explorer-viewlet', { timeout: 20000 }).catch(() => undefined);
    });

    await group('net.py: lens and hover', async () => {
      const lenses = await step('net.py: the class lens shows the parameter count', async () => {
        await openFile(page, 'net.py');
        const texts = await waitFor('a code lens with "58 params" (the worker builds the model)', 60000, async () => {
          const all = await page.locator('.monaco-editor .codelens-decoration').allInnerTexts();
          return all.some((text) => /\b58 params\b/.test(text)) ? all : undefined;
        });
        await shot(page, 'lens');
        return texts;
      });
      check(lenses.some((text) => /trainable/.test(text)), `the class lens names the trainable count: ${JSON.stringify(lenses)}`);

      const status = await step('the language status item says paramlens is idle, with the interpreter', async () => {
        await page.locator('.statusbar-item#status\\.languageStatus').hover();
        const hover = page.locator('.monaco-hover:visible', { hasText: 'paramlens' }).first();
        await hover.waitFor({ state: 'visible', timeout: 10000 });
        const text = (await hover.innerText()).trim();
        await page.mouse.move(700, 600);
        return text;
      });
      check(status.includes(interpreter), `the status item names the interpreter: ${status}`);

      const hover = await step('net.py: hovering self.fc shows the Linear and its parameters', async () => {
        const text = await hoverText(page, 'self.fc = nn.Linear', 'self.', 'fc');
        await shot(page, 'hover');
        return text;
      });
      check(/Linear/.test(hover), `the hover names the class: ${hover}`);
      check(/weight/.test(hover) && /bias/.test(hover), `the hover lists weight and bias: ${hover}`);
      check(/52\b/.test(hover) || /4\s*[×x,]\s*12/.test(hover), `the hover gives the size (52 params or 4 × 12): ${hover}`);

    });
    await group('net.py: the Inspect command from the palette', async () => {
      const message = await step('paramlens: Inspect Models in This File rebuilds the models', async () => {
        await runPaletteCommand(page, 'paramlens: Inspect Models in This File');
        const item = page.locator('.statusbar-item', { hasText: /paramlens: net\.py: \d+ model/ }).first();
        await item.waitFor({ state: 'visible', timeout: 30000 });
        return (await item.innerText()).trim();
      });
      check(/net\.py: 1 model/.test(message), `the status bar reports the inspection: ${message}`);
    });

    await group('net.py: summary webview', async () => {
      const summary = await step('net.py: the class lens opens the summary webview', async () => {
        await page.keyboard.press('Escape');
        const lens = page.locator('.monaco-editor .codelens-decoration a', { hasText: /58 params/ }).first();
        await lens.click();
        const frame = await waitFor('the summary table in a webview', 30000, async () => {
          for (const candidate of page.frames()) {
            if ((await candidate.locator('.summary-table').count().catch(() => 0)) > 0) {
              return candidate;
            }
          }
          return undefined;
        });
        const totals = await frame.locator('.totals').first().innerText();
        const names = await frame.locator('.summary-table td.name').allInnerTexts();
        const elements = frame.locator('.summary-table th', { hasText: 'Elements' });
        await elements.click();
        const ascending = await frame.locator('.summary-table td.name').allInnerTexts();
        await elements.click();
        const sorted = await frame.locator('.summary-table td.name').allInnerTexts();
        await frame.locator('#filter').fill('is:buffer');
        const buffers = await frame.locator('.summary-table td.name').allInnerTexts();
        await frame.locator('#filter').fill('');
        await shot(page, 'summary');
        // A submodule's lens opens the same table, filtered to that submodule.
        await page.locator('.monaco-editor .codelens-decoration a', { hasText: /^Linear/ }).first().click();
        const focused = await waitFor('the table filtered to fc', 15000, async () => {
          const query = await frame.locator('#filter').inputValue().catch(() => '');
          return query === 'fc.' ? await frame.locator('.summary-table td.name').allInnerTexts() : undefined;
        });
        // Close the panel so the next file gets the whole width.
        const tab = page.locator('.tab', { hasText: 'paramlens: net' });
        await tab.hover();
        await tab.locator('.codicon-close').click();
        await tab.waitFor({ state: 'detached', timeout: 5000 });
        return { totals, names, ascending, sorted, buffers, focused };
      });
      check(/58 params/.test(summary.totals), `the summary totals say 58 params: ${summary.totals}`);
      check(summary.names.includes('fc.weight') && summary.names.includes('bn.running_mean'),
        `the summary lists parameters and buffers: ${JSON.stringify(summary.names)}`);
      check(summary.ascending[0] === 'bn.num_batches_tracked' && summary.ascending.at(-1) === 'fc.weight',
        `one click sorts by elements, ascending: ${JSON.stringify(summary.ascending)}`);
      check(summary.sorted[0] === 'fc.weight', `a second click sorts descending, fc.weight (48) first: ${JSON.stringify(summary.sorted)}`);
      check(JSON.stringify(summary.focused) === JSON.stringify(['fc.weight', 'fc.bias']),
        `the Linear lens shows fc's tensors: ${JSON.stringify(summary.focused)}`);
      check(summary.buffers.length > 0 && summary.buffers.every((n) => n.startsWith('bn.')),
        `the is:buffer filter keeps only BatchNorm's buffers: ${JSON.stringify(summary.buffers)}`);

    });
    await group('tied.py: the summary marks the tied tensor', async () => {
      const tied = await step('tied.py: one tensor under two names, counted once, marked tied', async () => {
        await page.keyboard.press('Escape');
        await openFile(page, 'tied.py');
        const lens = page.locator('.editor-group-container.active .codelens-decoration a', { hasText: /40 params/ }).first();
        await lens.waitFor({ state: 'visible', timeout: 60000 });
        await lens.click();
        const frame = await waitFor('the TiedLM summary', 30000, async () => {
          for (const candidate of page.frames()) {
            const title = await candidate.locator('.model h2').first().innerText({ timeout: 500 }).catch(() => '');
            if (title.startsWith('TiedLM')) {
              return candidate;
            }
          }
          return undefined;
        });
        const row = frame.locator('.summary-table tbody tr', { hasText: 'embed.weight' });
        const result = {
          rows: (await frame.locator('.summary-table td.name').allInnerTexts()).map((text) => text.replace(/\s+/g, ' ')),
          marks: await row.locator('.badge').allInnerTexts(),
          totals: await frame.locator('.totals').first().innerText(),
        };
        await frame.locator('#filter').fill('is:tied');
        result.filtered = await frame.locator('.summary-table td.name').allInnerTexts();
        await shot(page, 'tied');
        const tab = page.locator('.tab', { hasText: 'paramlens: TiedLM' });
        await tab.hover();
        await tab.locator('.codicon-close').click();
        return result;
      });
      check(tied.rows.length === 1 && /embed\.weight\s*=\s*head\.weight/.test(tied.rows[0]),
        `one row, with its alias: ${JSON.stringify(tied.rows)}`);
      check(tied.marks.includes('tied') && tied.marks.includes('trainable'), `marked tied and trainable: ${JSON.stringify(tied.marks)}`);
      check(/^40 params/.test(tied.totals), `counted once: ${tied.totals}`);
      check(tied.filtered.length === 1, `is:tied keeps it: ${JSON.stringify(tied.filtered)}`);
    });

    await group('freeze.py: warning and quick fix', async () => {
      const diagnostic = await step('freeze.py: the state_dict() loop is squiggled', async () => {
        await page.keyboard.press('Escape');
        await openFile(page, 'freeze.py');
        await waitFor('a squiggle in freeze.py', 30000, async () =>
          (await page.locator('.editor-group-container.active .monaco-editor [class*="squiggly-"]').count()) > 0,
        );
        // The runtime lenses land after the static squiggle and shift the lines: wait for them.
        await waitFor('the class lens of freeze.py', 60000, async () =>
          (await page.locator('.editor-group-container.active .codelens-decoration', { hasText: /52 params/ }).count()) > 0,
        );
        const text = await hoverText(page, 'param.requires_grad = False', 'param.', 'requires_grad');
        await shot(page, 'diagnostic');
        return text;
      });
      check(/state_dict|detached/.test(diagnostic), `the diagnostic explains the detached copies: ${diagnostic}`);
      check(/FRZ01/.test(diagnostic), `the diagnostic carries its code FRZ01: ${diagnostic}`);

      const fixed = await step('freeze.py: the quick fix rewrites the loop', async () => {
        await page.keyboard.press('Escape');
        const point = await tokenPoint(page, 'param.requires_grad = False', 'param.', 'requires_grad');
        await page.mouse.click(point.x, point.y);
        await page.keyboard.press('Control+.');
        // The action widget: move the keyboard focus to the fix and apply it with Enter (a mouse
        // click lands on the widget's pointer block while it animates in).
        const rows = page.locator('.action-widget .monaco-list-row.action');
        await rows.first().waitFor({ state: 'visible', timeout: 15000 });
        const titles = (await rows.allInnerTexts()).map((t) => t.trim());
        const title = titles.find((t) => /named_parameters/.test(t));
        check(title !== undefined, `a quick fix that iterates named_parameters() is offered: ${JSON.stringify(titles)}`);
        await waitFor(`the keyboard focus on "${title}"`, 5000, async () => {
          const focused = (await page.locator('.action-widget .monaco-list-row.focused').innerText().catch(() => '')).trim();
          if (focused === title) {
            return true;
          }
          await page.keyboard.press('ArrowDown');
          return false;
        });
        await shot(page, 'quickfix-menu');
        await page.keyboard.press('Enter');
        const text = await waitFor('the edited loop', 10000, async () => {
          const current = await editorText(page);
          return /model\.named_parameters\(\)/.test(current) ? current : undefined;
        });
        await shot(page, 'quickfix');
        return { title, text };
      });
      check(!/state_dict\(\)\.items\(\)/.test(fixed.text), `the state_dict() loop is gone: ${fixed.text}`);
      check(/for _name, param in model\.named_parameters\(\):/.test(fixed.text), `the loop iterates named_parameters(): ${fixed.text}`);

      await step('freeze.py: the warning clears after the fix', async () =>
        waitFor('no FRZ01 squiggle after the fix', 15000, async () =>
          (await page.locator('.editor-group-container.active .monaco-editor [class*="squiggly-"]').count()) === 0,
        ),
      );
      await shot(page, 'after-fix');
    });

    await group('processes: the bundled server, a clean worker environment', async () => {
      const processes = await step('the server runs from the VSIX; the worker never sees bundled/libs', async () => {
        const seen = listProcesses();
        const server = seen.find((p) => p.cmdline.some((part) => part.endsWith(join('bundled', 'tool', 'launch.py'))));
        const workers = seen.filter((p) => p.cmdline.includes('paramlens_worker') || p.cmdline.join(' ').includes('paramlens_worker'));
        // Only the command lines and PYTHONPATH are kept: the rest of an environment stays private.
        return {
          server: server && { pid: server.pid, cmdline: server.cmdline },
          workers: workers.map((w) => ({ pid: w.pid, cmdline: w.cmdline, PYTHONPATH: w.env.PYTHONPATH ?? null })),
        };
      });
      check(processes.server !== undefined, 'a server process runs bundled/tool/launch.py');
      const launcher = processes.server.cmdline.find((part) => part.endsWith('launch.py'));
      check(launcher.startsWith(dirs.extensions), `the launcher is the installed VSIX's: ${launcher}`);
      check(processes.workers.length > 0, 'a worker process is running');
      for (const worker of processes.workers) {
        check(!String(worker.PYTHONPATH ?? '').includes(join('bundled', 'libs')),
          `the worker's PYTHONPATH leaves out bundled/libs: ${worker.PYTHONPATH}`);
      }
    });

    await group('interpreters: the Python extension, no torch, the override setting', async () => {
      const noTorch = join(out, 'no-torch-venv');
      execFileSync(interpreter, ['-m', 'venv', '--without-pip', noTorch]);
      const python = join(noTorch, 'bin', 'python');
      const toast = await step('the Python extension switches to a Python without torch: a restart, one message', async () => {
        await runPaletteCommand(page, 'Python: Use Interpreter (test stand-in)');
        await page.waitForSelector('.quick-input-widget input', { state: 'visible', timeout: 10000 });
        await page.keyboard.type(python);
        await page.keyboard.press('Enter');
        const notification = page.locator('.notification-toast', { hasText: 'PyTorch is not installed' });
        await notification.first().waitFor({ state: 'visible', timeout: 30000 });
        // Let the new server start its worker and fail: its own torch messages must not pile up.
        await page.waitForTimeout(4000);
        const aboutTorch = await page.locator('.notification-toast', { hasText: /torch/ }).allInnerTexts();
        const buttons = await notification.first().locator('.monaco-button').allInnerTexts();
        const text = (await notification.first().locator('.notification-list-item-message').innerText()).trim();
        await shot(page, 'no-torch');
        return { text, buttons: buttons.map((b) => b.trim()), aboutTorch };
      });
      check(toast.aboutTorch.length === 1, `exactly one message about torch: ${JSON.stringify(toast.aboutTorch)}`);
      check(toast.text.includes(noTorch), `the message names the interpreter: ${toast.text}`);
      check(toast.buttons.includes('Select Interpreter') && toast.buttons.includes('Show Logs'),
        `the message offers Select Interpreter and Show Logs: ${JSON.stringify(toast.buttons)}`);
      await step('Select Interpreter opens the Python extension\'s picker', async () => {
        await page.locator('.notification-toast .monaco-button', { hasText: 'Select Interpreter' }).first().click();
        await page
          .locator('.notification-toast', { hasText: 'interpreter picker opened' })
          .first()
          .waitFor({ state: 'visible', timeout: 10000 });
      });
      const logs = await step('paramlens: Show Logs opens the output channel', async () => {
        await runPaletteCommand(page, 'paramlens: Show Logs');
        const channel = await waitFor('the Output panel showing the paramlens channel', 15000, async () => {
          const select = page.locator('.part.panel select.monaco-select-box').first();
          const value = await select.evaluate((node) => node.options[node.selectedIndex]?.text).catch(() => undefined);
          return value === 'paramlens' ? value : undefined;
        });
        // Long lines wrap in the panel: join the rendered rows before searching.
        const text = await waitFor('the interpreter in the log', 10000, async () => {
          const rows = await page.locator('.part.panel .monaco-editor .view-lines').first().innerText();
          const joined = rows.replace(/\n/g, '');
          return joined.includes(noTorch) ? joined : undefined;
        });
        await shot(page, 'logs');
        return { channel, text: text.slice(-1500) };
      });
      check(logs.text.includes(noTorch), `the log names the interpreter: ${logs.text}`);

      await step('without torch the static rules still run (undo brings the FRZ01 squiggle back)', async () => {
        const point = await tokenPoint(page, 'param.requires_grad = False', 'param.', 'requires_grad');
        await page.mouse.click(point.x, point.y);
        await page.keyboard.press('Control+Z');
        await waitFor('the state_dict() loop back in the editor', 10000, async () =>
          /model\.state_dict\(\)\.items\(\)/.test(await editorText(page)),
        );
        await waitFor('the FRZ01 squiggle from the torch-less server', 20000, async () =>
          (await page.locator('.editor-group-container.active .monaco-editor [class*="squiggly-"]').count()) > 0,
        );
      });
      await step('paramlens.ignore reaches the running server (no restart)', async () => {
        writeFileSync(
          join(dirs.workspace, '.vscode', 'settings.json'),
          JSON.stringify({ 'paramlens.ignore': ['FRZ01'] }, null, 2),
        );
        // The server pulls the settings at once; it re-checks a document when its text changes.
        await page.waitForTimeout(2000);
        await page.keyboard.press('End');
        await page.keyboard.type(' ');
        await page.keyboard.press('Backspace');
        await waitFor('the FRZ01 squiggle to go', 20000, async () =>
          (await page.locator('.editor-group-container.active .monaco-editor [class*="squiggly-"]').count()) === 0,
        );
        await shot(page, 'ignored');
      });
      await step('paramlens.interpreter overrides the Python extension: counts are back', async () => {
        writeFileSync(
          join(dirs.workspace, '.vscode', 'settings.json'),
          JSON.stringify({ 'paramlens.ignore': ['FRZ01'], 'paramlens.interpreter': interpreter }, null, 2),
        );
        await waitFor('the class lens of freeze.py with its count', 60000, async () =>
          (await page.locator('.editor-group-container.active .codelens-decoration', { hasText: /52 params/ }).count()) > 0,
        );
      });
      const broken = await step('an interpreter that cannot run: one message, the status item in error', async () => {
        const missing = join(out, 'no-such-python');
        writeFileSync(
          join(dirs.workspace, '.vscode', 'settings.json'),
          JSON.stringify({ 'paramlens.interpreter': missing }, null, 2),
        );
        const notification = page.locator('.notification-toast', { hasText: 'cannot run the Python interpreter' }).first();
        await notification.waitFor({ state: 'visible', timeout: 30000 });
        const message = (await notification.locator('.notification-list-item-message').innerText()).trim();
        await page.locator('.statusbar-item#status\\.languageStatus').hover();
        const hover = page.locator('.monaco-hover:visible', { hasText: 'paramlens' }).first();
        await hover.waitFor({ state: 'visible', timeout: 10000 });
        const status = (await hover.innerText()).trim();
        await shot(page, 'cannot-run');
        await page.mouse.move(700, 600);
        return { message, status, missing };
      });
      check(broken.message.includes(broken.missing) && /not found/.test(broken.message),
        `the message names the interpreter and why: ${broken.message}`);
      check(/cannot run/.test(broken.status), `the status item shows the error: ${broken.status}`);
    });
    await group('an untrusted workspace: static rules only, nothing of the workspace runs', async () => {
      await untrustedSession(browser, step, shot);
    });
    result.ok = result.failures.length === 0;
  } catch (error) {
    result.ok = false;
    result.error = String(error?.message ?? error);
    if (page) {
      result.failureScreenshot = await shot(page, 'failure');
    }
  } finally {
    await browser?.close().catch(() => undefined);
    killGroup(codeServerProcess);
    killLeftovers(dirs.home);
    for (const file of findFiles(dirs.data, /paramlens\.log$/)) {
      cpSync(file, join(out, 'paramlens-extension.log'));
    }
    // The server's $/progress reached the status item (the extension logs each begin).
    const extensionLog = existsSync(join(out, 'paramlens-extension.log'))
      ? readFileSync(join(out, 'paramlens-extension.log'), 'utf8')
      : '';
    if (result.ok && !/progress: paramlens: (inspecting|starting the worker)/.test(extensionLog)) {
      result.ok = false;
      result.failures.push('no $/progress from the server reached the status item (paramlens-extension.log)');
    }
    if (result.ok && !extensionLog.includes(`interpreter (python-extension): ${interpreter}`)) {
      result.ok = false;
      result.failures.push('the first interpreter did not come from the Python extension (paramlens-extension.log)');
    }
    result.seconds = (Date.now() - t0) / 1000;
    writeFileSync(join(out, 'result.json'), JSON.stringify(result, null, 2));
  }
  if (!result.ok) {
    console.error(`\nFAIL: ${result.error ?? result.failures.join('\n      ')}`);
    console.error(`see ${out}: screenshots, code-server.log, paramlens-extension.log, result.json`);
    process.exit(1);
  }
  log(`PASS: ${result.steps.length} steps in ${result.seconds.toFixed(1)} s; screenshots in ${out}`);
}

await main();
