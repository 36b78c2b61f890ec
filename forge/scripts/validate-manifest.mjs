// Validates manifest.yml with Atlassian's own manifest validation
// (@forge/manifest: its JSON schema and the validators `forge lint` runs
// locally), which works without an Atlassian account, then checks what
// only a deployed URL can tell: the Create branch URL template must stay
// within Jira's 255 characters.
//
//   npm ci && node scripts/validate-manifest.mjs [https://gitrelay.example.com]
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { validate } = require('@forge/manifest');

const here = dirname(fileURLToPath(import.meta.url));
const manifest = join(here, '..', 'manifest.yml');
process.env.GITRELAY_URL = process.argv[2] || process.env.GITRELAY_URL || 'https://gitrelay.example.com';

const result = await validate(false, manifest);
const problems = (result.errors || []).map((e) => `manifest.yml:${e.line}:${e.column}: ${e.level}: ${e.message} (${e.reference})`);

const template = `${process.env.GITRELAY_URL}/issues/{issue.key}?summary={issue.summary}`;
if (template.length > 255) {
  problems.push(`createBranch.urlTemplate would be ${template.length} characters; Jira allows 255. Use a shorter GITRELAY_URL.`);
}

if (!result.success || problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log('manifest.yml is valid');
