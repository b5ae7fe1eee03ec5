/**
 * The habits docs/architecture.md states that a test can hold: a source file over 600 lines
 * says why at its top ("Over 600 lines: …"), and no two folders import each other, however
 * far round (eslint holds which layer may import which; this holds that there is no cycle).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
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

  it('has no import cycle between folders', () => {
    const graph = folderGraph(['runtime', 'protocol', 'actors', 'supervisors', 'sandbox']);
    expect(findCycle(graph), 'a cycle of folders importing each other').toEqual([]);
    // the check looks at something: the kernel is imported by its parts
    expect(graph.get('runtime/shards')?.has('runtime/core')).toBe(true);
    // and it finds a cycle when there is one
    expect(
      findCycle(
        new Map([
          ['a', new Set(['b'])],
          ['b', new Set(['a'])],
        ]),
      ),
    ).toEqual(['a', 'b', 'a']);
  });
});

/** Folder → the folders its files import (relative imports of TypeScript files). */
function folderGraph(roots: readonly string[]): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const spec =
    /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*'(\.[^']+)'|(?:^|\n)\s*import\s*'(\.[^']+)'/g;
  for (const file of roots.flatMap((d) => tsFiles(join(ROOT, d)))) {
    const from = relative(ROOT, dirname(file));
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(spec)) {
      const target = relative(ROOT, dirname(resolve(dirname(file), m[1] ?? m[2]!)));
      if (target === from || target.startsWith('..') || target.startsWith('node_modules')) continue;
      let edges = graph.get(from);
      if (edges === undefined) graph.set(from, (edges = new Set()));
      edges.add(target);
    }
  }
  return graph;
}

/** A cycle in `graph` as the folders along it (first repeated at the end), or [] for none. */
function findCycle(graph: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'done') return null;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const next of graph.get(n) ?? []) {
      const cycle = visit(next);
      if (cycle !== null) return cycle;
    }
    path.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of graph.keys()) {
    const cycle = visit(n);
    if (cycle !== null) return cycle;
  }
  return [];
}
