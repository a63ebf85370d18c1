// The page's pure formatting: links (only http/https ever become links), times, counts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dayLabel, linkify, listTime, memberCount, newDay, safeHref } from '../src/format.ts';

test('http(s) URLs become links; trailing punctuation stays text', () => {
  assert.deepEqual(linkify('see https://example.com/a?b=1, then'), [
    { text: 'see ' },
    { text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
    { text: ', then' },
  ]);
  assert.deepEqual(linkify('(http://x.org).'), [{ text: '(' }, { text: 'http://x.org', href: 'http://x.org/' }, { text: ').' }]);
});

test('javascript:, data: and other schemes are never links', () => {
  for (const s of ['javascript:alert(1)', '[x](javascript:alert(1))', 'data:text/html,<script>alert(1)</script>', 'vbscript:msgbox']) {
    assert.ok(
      linkify(s).every((p) => !('href' in p)),
      s,
    );
  }
  assert.equal(safeHref('javascript:alert(1)'), null);
  assert.equal(safeHref('JaVaScRiPt:alert(1)'), null);
  assert.equal(safeHref('https://ok.example/'), 'https://ok.example/');
  // A URL that starts fine but smuggles a quote stops there.
  assert.deepEqual(linkify('https://a.example/"onmouseover="x'), [
    { text: 'https://a.example/', href: 'https://a.example/' },
    { text: '"onmouseover="x' },
  ]);
});

test('markup in text stays text (it is never parsed)', () => {
  assert.deepEqual(linkify('<img src=x onerror=alert(1)>'), [{ text: '<img src=x onerror=alert(1)>' }]);
});

test('list times: clock today, Yesterday, weekday within a week, else a date', () => {
  const now = new Date(2025, 5, 18, 15, 0); // Wednesday 18 June 2025, local time
  assert.match(listTime(new Date(2025, 5, 18, 9, 5).toISOString(), now, 'en-GB'), /^09:05$/);
  assert.equal(listTime(new Date(2025, 5, 17, 23, 0).toISOString(), now, 'en-GB'), 'Yesterday');
  assert.equal(listTime(new Date(2025, 5, 14, 12, 0).toISOString(), now, 'en-GB'), 'Sat');
  assert.equal(listTime(new Date(2025, 2, 3, 12, 0).toISOString(), now, 'en-GB'), '3 Mar');
  assert.equal(listTime(new Date(2023, 2, 3, 12, 0).toISOString(), now, 'en-GB'), '3 Mar 2023');
});

test('day separators', () => {
  const now = new Date(2025, 5, 18, 15, 0);
  assert.equal(dayLabel(new Date(2025, 5, 18, 1, 0).toISOString(), now), 'Today');
  assert.equal(dayLabel(new Date(2025, 5, 17, 1, 0).toISOString(), now), 'Yesterday');
  assert.equal(dayLabel(new Date(2025, 5, 2, 1, 0).toISOString(), now, 'en-GB'), 'Monday 2 June');
  assert.equal(newDay(undefined, now.toISOString()), true);
  assert.equal(newDay(new Date(2025, 5, 18, 1).toISOString(), new Date(2025, 5, 18, 23).toISOString()), false);
});

test('member counts say exactly "1 member" / "N members"', () => {
  assert.equal(memberCount(1), '1 member');
  assert.equal(memberCount(0), '0 members');
  assert.equal(memberCount(12), '12 members');
});
