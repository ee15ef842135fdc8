import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import { parseDuration, resolveSetting, validators } from '../src/settings.js';

describe('parseDuration', () => {
  it('reads units and compound durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('45')).toBe(45_000);
  });
  it('rejects garbage with a user error that says what to type', () => {
    for (const bad of ['', 'abc', '10x', '-5s', '5s junk']) {
      expect(() => parseDuration(bad)).toThrow(UserError);
    }
    try {
      parseDuration('tomorrow');
    } catch (err) {
      expect((err as UserError).tryThis.join(' ')).toMatch(/30s/);
    }
  });
});

describe('resolveSetting', () => {
  it('prefers the flag, then the env var, then the default', () => {
    process.env.SAGEWAI_OBS_TEST_URL = 'http://127.0.0.1:9999/';
    expect(resolveSetting('vm-url', 'SAGEWAI_OBS_TEST_URL', 'http://127.0.0.1:1/', 'd', validators.url)).toBe('http://127.0.0.1:1');
    expect(resolveSetting('vm-url', 'SAGEWAI_OBS_TEST_URL', undefined, 'd', validators.url)).toBe('http://127.0.0.1:9999');
    delete process.env.SAGEWAI_OBS_TEST_URL;
    expect(resolveSetting('vm-url', 'SAGEWAI_OBS_TEST_URL', undefined, 'd', validators.url)).toBe('d');
  });
  it('names the setting and the bad value', () => {
    expect(() => resolveSetting('vm-url', 'X', 'ftp://x', 'd', validators.url)).toThrow(/vm-url.*ftp:\/\/x/);
    expect(() => resolveSetting('port', 'X', '70000', 0, validators.port)).toThrow(/port.*70000/);
  });
});
