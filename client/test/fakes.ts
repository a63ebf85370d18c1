// Fakes for the unit tests: a clock with timers, WebSockets the test drives, and builders for
// the API's shapes.

import type { SocketLike, Timers } from '../src/live.ts';
import type { Chat, Message, User } from '../src/types.ts';

export class FakeTimers implements Timers {
  private t = 0;
  private seq = 0;
  private due: Array<{ id: number; at: number; fn: () => void }> = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.due.push({ id, at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.due = this.due.filter((d) => d.id !== handle);
  }

  /** Delays of the timers now pending, soonest first. */
  pending(): number[] {
    return this.due.map((d) => d.at - this.t).sort((a, b) => a - b);
  }

  /** Runs every timer due within `ms`, in time order, letting promises settle in between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      this.due.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.due[0];
      if (!next || next.at > end) break;
      this.due.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
    await flush();
  }
}

/** Lets pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

export class FakeSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  closedWith: number | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }

  // What the server does:
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(msg: unknown): void {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) });
  }

  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

export class SocketServer {
  sockets: FakeSocket[] = [];
  factory = (url: string): SocketLike => {
    const s = new FakeSocket(url);
    this.sockets.push(s);
    return s;
  };

  get last(): FakeSocket {
    const s = this.sockets[this.sockets.length - 1];
    if (!s) throw new Error('no socket was opened');
    return s;
  }
}

export function user(id: number, name = `user${id}`): User {
  return { id, username: name, display_name: name, avatar_url: 'data:image/svg+xml,x' };
}

let clock = Date.parse('2025-01-02T10:00:00.000Z');
export function at(offsetSeconds: number): string {
  return new Date(clock + offsetSeconds * 1000).toISOString();
}

export function message(id: number, over: Partial<Message> = {}): Message {
  return {
    id,
    chat: 1,
    seq: id,
    content: `message ${id}`,
    created_at: at(id),
    updated_at: at(id),
    is_edited: false,
    is_deleted: false,
    sender: user(2),
    client_id: null,
    reactions: [],
    read_by: [],
    ...over,
  };
}

export function chat(id: number, over: Partial<Chat> = {}): Chat {
  return {
    id,
    title: `chat ${id}`,
    chat_type: 'group',
    created_at: at(0),
    updated_at: at(0),
    last_message: null,
    unread_count: 0,
    members: [user(1), user(2)],
    admins: [1],
    key: null,
    member_count: 2,
    ...over,
  };
}

export function resetClock(): void {
  clock = Date.parse('2025-01-02T10:00:00.000Z');
}
