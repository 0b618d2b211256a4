import { describe, expect, test } from 'vitest';
import { issueLines } from './respond';

describe('playbook issues in the editor', () => {
  test('each issue reads as line, key and message', () => {
    expect(
      issueLines([
        { key: 'steps[0].colour', line: 6, message: 'unknown key' },
        { key: '(file)', line: null, message: 'not YAML' },
      ]),
    ).toEqual(['line 6 · steps[0].colour: unknown key', '(file): not YAML']);
  });
});
