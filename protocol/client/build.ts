/**
 * Builds the browser bundles with esbuild, each one ES module, minified:
 * - dist/troupe-client.js: the client SDK (protocol/client/browser.ts, with msgpackr's no-eval
 *   build and fast-json-patch inside); the gateway serves it at `<path>/client.js`;
 * - dist/troupe-inspector.js: the inspector page's script (runtime/inspector/ui/app.ts); the
 *   gateway serves it at `/inspect/app.js`.
 * `npm run build:client` writes both; tests call the functions.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const CLIENT_ENTRY = fileURLToPath(new URL('./browser.ts', import.meta.url));
export const CLIENT_BUNDLE = fileURLToPath(new URL('../../dist/troupe-client.js', import.meta.url));
export const INSPECTOR_ENTRY = fileURLToPath(
  new URL('../../runtime/inspector/ui/app.ts', import.meta.url),
);
export const INSPECTOR_BUNDLE = fileURLToPath(
  new URL('../../dist/troupe-inspector.js', import.meta.url),
);

async function bundle(entry: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    legalComments: 'eof',
    logLevel: 'warning',
  });
  return outfile;
}

export function buildClientBundle(outfile: string = CLIENT_BUNDLE): Promise<string> {
  return bundle(CLIENT_ENTRY, outfile);
}

export function buildInspectorBundle(outfile: string = INSPECTOR_BUNDLE): Promise<string> {
  return bundle(INSPECTOR_ENTRY, outfile);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await Promise.all([buildClientBundle(), buildInspectorBundle()]);
  console.log(`troupe: the browser bundles are at ${out.join(', ')}`);
}
