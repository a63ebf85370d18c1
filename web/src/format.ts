//! Pure formatting for the messages page: times, day separators, link detection. No DOM.

/** Parts of a message's text: plain text, or an http(s) link. Any other scheme (javascript:,
 * data:, vbscript:) stays text, so a link can never run script. */
export type TextPart = { text: string } | { text: string; href: string };

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

export function linkify(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0];
    // Trailing punctuation belongs to the sentence, not the link.
    while (/[.,;:!?)\]}]$/.test(url)) url = url.slice(0, -1);
    const start = m.index ?? 0;
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ text: url, href: safeHref(url) ?? '' });
    last = start + url.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts.map((p) => ('href' in p && !p.href ? { text: p.text } : p));
}

/** `url` if it is an absolute http(s) URL, else null. */
export function safeHref(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "14:05" */
export function clock(iso: string, locale?: string): string {
  return new Date(iso).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
}

/** The chat list's time: the clock today, "Yesterday", the weekday within a week, else a date. */
export function listTime(iso: string, now: Date, locale?: string): string {
  const d = new Date(iso);
  if (sameDay(d, now)) return clock(iso, locale);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(d, yesterday)) return 'Yesterday';
  const days = (now.getTime() - d.getTime()) / 86_400_000;
  if (days < 7 && days > 0) return d.toLocaleDateString(locale, { weekday: 'short' });
  if (d.getFullYear() === now.getFullYear()) return d.toLocaleDateString(locale, { day: 'numeric', month: 'short' });
  return d.toLocaleDateString(locale, { day: 'numeric', month: 'short', year: 'numeric' });
}

/** The separator above the first message of a day: "Today", "Yesterday", "Monday, 3 March". */
export function dayLabel(iso: string, now: Date, locale?: string): string {
  const d = new Date(iso);
  if (sameDay(d, now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(d, yesterday)) return 'Yesterday';
  const opts: Intl.DateTimeFormatOptions = { weekday: 'long', day: 'numeric', month: 'long' };
  if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(locale, opts);
}

/** Whether two timestamps fall on different local days. */
export function newDay(prevIso: string | undefined, iso: string): boolean {
  return !prevIso || !sameDay(new Date(prevIso), new Date(iso));
}

/** A message's full time, for the timestamp shown on click. */
export function fullTime(iso: string, now: Date, locale?: string): string {
  const d = new Date(iso);
  const time = clock(iso, locale);
  if (sameDay(d, now)) return time;
  return `${dayLabel(iso, now, locale)}, ${time}`;
}

/** "1 member" / "N members" (SPEC §11's exact wording). */
export function memberCount(n: number): string {
  return n === 1 ? '1 member' : `${n} members`;
}
