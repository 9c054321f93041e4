import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLIENT_COMMANDS } from '../../src/commands';
import { FORWARDED_KEYS, RESTART_KEYS } from '../../src/settings';

interface Manifest {
  main: string;
  activationEvents: string[];
  capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] } };
  contributes: {
    commands: { command: string; title: string }[];
    configuration: { properties: Record<string, { markdownDescription?: string; default?: unknown }> };
  };
}

// Tests run from out/test/unit; the manifest is at the extension's root.
const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as Manifest;
const properties = manifest.contributes.configuration.properties;

describe('manifest', () => {
  it('activates on Python files', () => assert.ok(manifest.activationEvents.includes('onLanguage:python')));
  it('runs the bundled entry point', () => assert.equal(manifest.main, './dist/extension.js'));
  it('untrusted workspaces: limited, interpreter restricted', () => {
    assert.equal(manifest.capabilities.untrustedWorkspaces.supported, 'limited');
    assert.deepEqual(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations, ['paramlens.interpreter']);
  });
  for (const command of Object.values(CLIENT_COMMANDS)) {
    it(`contributes ${command}`, () =>
      assert.ok(manifest.contributes.commands.some((c) => c.command === command && c.title.length > 0)));
  }
  for (const key of [...FORWARDED_KEYS.map((k) => `paramlens.${k}`), ...RESTART_KEYS]) {
    it(`contributes ${key}`, () => assert.ok(key in properties, `${key} missing`));
  }
  for (const [key, property] of Object.entries(properties)) {
    it(`${key} has a markdownDescription and a default`, () => {
      assert.ok((property.markdownDescription ?? '').length > 20);
      assert.notEqual(property.default, undefined);
    });
  }
});
