// Validates manifest.yml with Atlassian's own manifest validation
// (@forge/manifest: its JSON schema and the validators `forge lint` runs
// locally, among them that every resource's directory exists), which works
// without an Atlassian account, then checks what Atlassian's cannot: the
// built panel is complete (its page and its bundle), and the Create branch
// URL template stays within Jira's 255 characters for the deployed URL.
//
//   npm ci && npm run build && node scripts/validate-manifest.mjs [https://gitrelay.example.com]
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { validate } = require('@forge/manifest');

const here = dirname(fileURLToPath(import.meta.url));
const manifest = join(here, '..', 'manifest.yml');
process.env.GITRELAY_URL = process.argv[2] || process.env.GITRELAY_URL || 'https://gitrelay.example.com';

const result = await validate(false, manifest);
const problems = (result.errors || []).map((e) => `manifest.yml:${e.line}:${e.column}: ${e.level}: ${e.message} (${e.reference})`);

// The panel's resource is esbuild's output (scripts/build.mjs), not in git.
const built = join(here, '..', 'build', 'panel');
for (const name of ['index.html', 'main.js']) {
  if (!existsSync(join(built, name))) {
    problems.push(`build/panel/${name} is missing: the panel is not built (run npm run build, or scripts/ensure-forge).`);
  }
}

const template = `${process.env.GITRELAY_URL}/issues/{issue.key}?summary={issue.summary}`;
if (template.length > 255) {
  problems.push(`createBranch.urlTemplate would be ${template.length} characters; Jira allows 255. Use a shorter GITRELAY_URL.`);
}

if (!result.success || problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log('manifest.yml is valid');
