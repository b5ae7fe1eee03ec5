/**
 * The habits docs/architecture.md states that a test can hold: a source file over 600 lines
 * says why at its top ("Over 600 lines: …").
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
const SOURCES = ['runtime', 'protocol', 'actors', 'supervisors', 'sandbox', 'bench'];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('the layout', () => {
  it('every source file over 600 lines says why at its top', () => {
    const long = SOURCES.flatMap((d) => tsFiles(join(ROOT, d)))
      .map((p) => ({ p, text: readFileSync(p, 'utf8') }))
      .filter(({ text }) => text.split('\n').length > 600);
    const silent = long
      .filter(({ text }) => !/^\/\*\*[\s\S]*?Over 600 lines: [\s\S]*?\*\//.test(text))
      .map(({ p }) => p.slice(ROOT.length));
    expect(silent).toEqual([]);
    // the check looks at something
    expect(long.length).toBeGreaterThan(0);
  });
});
