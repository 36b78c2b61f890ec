// Builds the Custom UI resource that manifest.yml points at (build/panel):
// esbuild bundles src/panel/main.js, with @forge/bridge from node_modules
// (the versions package-lock.json pins), into one script, and the page,
// its stylesheet and the panel's icon are copied beside it. `forge deploy`
// uploads that directory as it is, so build before deploying.
//
//   npm ci && npm run build
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src', 'panel');
const out = join(root, 'build', 'panel');

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
for (const name of ['index.html', 'panel.css', 'icon.svg']) {
  await copyFile(join(src, name), join(out, name));
}
await build({
  entryPoints: [join(src, 'main.js')],
  outfile: join(out, 'main.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  // The browsers Jira Cloud supports.
  target: ['es2020'],
  minify: true,
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
console.log('built build/panel');
