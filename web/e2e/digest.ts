// After a failed `make e2e`: each failed test's title and the first lines of its error, printed
// last. Playwright's own summary ends with the attachments' paths, which push the error itself
// out of the part of a log CI shows. Reads the JSON report that playwright.config.ts writes.

import { readFileSync } from 'node:fs';

interface Result {
  status: string;
  errors?: Array<{ message?: string }>;
}
interface Spec {
  title: string;
  file: string;
  line: number;
  tests: Array<{ results: Result[] }>;
}
interface Suite {
  specs?: Spec[];
  suites?: Suite[];
}

const file = process.argv[2];
if (!file) throw new Error('usage: node e2e/digest.ts <report.json>');
let report: { suites?: Suite[] };
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  console.log(`e2e digest: no report at ${file} (${(e as Error).message})`);
  process.exit(0);
}

const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const lines: string[] = [];
const walk = (suite: Suite) => {
  for (const spec of suite.specs ?? []) {
    for (const test of spec.tests) {
      for (const result of test.results) {
        if (result.status === 'passed' || result.status === 'skipped') continue;
        lines.push(`✘ ${spec.file}:${spec.line} › ${spec.title} (${result.status})`);
        for (const error of result.errors ?? []) {
          const text = (error.message ?? '').replace(ansi, '').split('\n').slice(0, 25);
          lines.push(...text.map((l) => `    ${l}`));
        }
      }
    }
  }
  for (const inner of suite.suites ?? []) walk(inner);
};
for (const suite of report.suites ?? []) walk(suite);
console.log(lines.length ? `e2e digest: what failed\n${lines.join('\n')}` : 'e2e digest: no failed test in the report');
