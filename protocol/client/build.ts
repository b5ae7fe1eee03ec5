/**
 * Builds the browser bundle of the client SDK with esbuild: one ES module, minified, with
 * msgpackr's no-eval build and fast-json-patch inside. `npm run build:client` writes
 * dist/troupe-client.js (the gateway serves it at `<path>/client.js`); tests call
 * buildClientBundle.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const CLIENT_ENTRY = fileURLToPath(new URL('./browser.ts', import.meta.url));
export const CLIENT_BUNDLE = fileURLToPath(new URL('../../dist/troupe-client.js', import.meta.url));

export async function buildClientBundle(outfile: string = CLIENT_BUNDLE): Promise<string> {
  await build({
    entryPoints: [CLIENT_ENTRY],
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await buildClientBundle(process.argv[2]);
  console.log(`troupe: the client bundle is at ${out}`);
}
