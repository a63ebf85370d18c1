//! The widgets' code (SPEC §11), loaded by embed.js (loader.ts) under a hashed name. It reads
//! who is signed in and the settings once, then mounts a widget on each host element:
//!
//! - `<div data-messaging-dm="<user id>">`: the DM widget. One per page (its hooks are ids): the
//!   first such element counts. Its button and window live in a container at the end of
//!   `<body>`, so that no transform or overflow of the host's layout can clip the fixed window.
//! - `<div data-messaging-room="<key>" data-title="...">`: a room widget inside the element.
//!
//! Widgets render in the light DOM under a root element with the class `em-root` (and
//! `em-dm` / `room-widget`): the SPEC §11 hooks stay reachable by tests and by the host's CSS,
//! and embed.css styles only what is under an `em-root` (README, "The widgets").

import { render } from 'preact';
import { ApiError, createRest, DmWidget, RoomWidget, type UserWithEmail, type WidgetContext } from '../../../client/src/index.ts';
import { DmWidgetView } from './dm.tsx';
import { RoomWidgetView } from './room.tsx';

export interface BootOptions {
  /** The worker's origin (where embed.js came from). */
  base: string;
  /** A host site's sign-in token (SPEC §3, `POST /auth/sso/`): exchanged for this origin's
   * session cookie before anything else, so sockets are signed in too. Without one, the
   * cookie the visitor already has decides. */
  token: string | null;
}

interface Mounted {
  host: HTMLElement;
  container: HTMLElement;
  stop(): void;
  setVisible(visible: boolean): void;
}

const MOUNTED = 'messagingMounted';
const MAX_KEY = 200;

let mounted: Mounted[] = [];
let ctx: WidgetContext | null = null;
let generation = 0;
/** A page without widgets asks the server nothing until `mount()` finds some. */
let deferred: BootOptions | null = null;

const HOSTS = '[data-messaging-dm], [data-messaging-room]';

const visible = () => document.visibilityState === 'visible';

document.addEventListener('visibilitychange', () => {
  if (ctx) ctx.visible = visible();
  for (const w of mounted) w.setVisible(visible());
});

/** Reads the visitor and the settings, then mounts every widget of the page (again). */
export async function boot(options: BootOptions): Promise<void> {
  const mine = ++generation;
  unmountAll();
  ctx = null;
  deferred = null;
  if (!document.querySelector(HOSTS)) {
    deferred = options;
    return;
  }
  const sameOrigin = options.base === location.origin;
  const rest = createRest({ baseUrl: sameOrigin ? '' : options.base });
  let me: UserWithEmail | null;
  let config;
  if (options.token) {
    try {
      await rest.sso(options.token);
    } catch (e) {
      // A refused token (expired, wrong key) leaves the visitor as the cookie says.
      console.warn('Edge Messaging: the site token was refused', e);
    }
    if (mine !== generation) return;
  }
  try {
    [me, config] = await Promise.all([
      rest.me().catch((e) => {
        if (e instanceof ApiError && e.status === 401) return null;
        throw e;
      }),
      rest.config(),
    ]);
  } catch (e) {
    console.warn('Edge Messaging: the widgets could not reach the server', e);
    return;
  }
  if (mine !== generation) return;
  ctx = { rest, me, config, visible: visible() };
  mount();
}

/** Mounts widgets on host elements that have none yet (a page that adds some later calls
 * `EdgeMessaging.mount()`). */
export function mount(): void {
  if (!ctx) {
    if (deferred && document.querySelector(HOSTS)) void boot(deferred);
    return;
  }
  const c = ctx;
  const theme = (el: HTMLElement, container: HTMLElement) => {
    const t = el.dataset.theme;
    if (t === 'light' || t === 'dark') container.dataset.theme = t;
  };

  const dmHost = document.querySelector<HTMLElement>('[data-messaging-dm]');
  if (dmHost && !dmHost.dataset[MOUNTED] && !mounted.some((w) => w.container.classList.contains('em-dm'))) {
    const id = Number(dmHost.dataset.messagingDm);
    if (Number.isSafeInteger(id) && id > 0) {
      dmHost.dataset[MOUNTED] = '1';
      const container = document.createElement('div');
      container.className = 'em-root em-dm';
      theme(dmHost, container);
      document.body.appendChild(container);
      const store = new DmWidget(c, id);
      const off = reflect(store, container);
      render(<DmWidgetView store={store} />, container);
      void store.start();
      mounted.push({
        host: dmHost,
        container,
        stop: () => {
          off();
          store.close();
        },
        setVisible: (v) => store.setVisible(v),
      });
    }
  }

  for (const host of document.querySelectorAll<HTMLElement>('[data-messaging-room]')) {
    if (host.dataset[MOUNTED]) continue;
    const key = (host.dataset.messagingRoom ?? '').trim();
    if (!key || key.length > MAX_KEY) continue;
    host.dataset[MOUNTED] = '1';
    const title = (host.dataset.title ?? '').trim() || key;
    const container = document.createElement('section');
    container.className = 'em-root room-widget';
    container.setAttribute('aria-label', `Discussion: ${title}`);
    theme(host, container);
    host.appendChild(container);
    const store = new RoomWidget(c, key, title);
    const off = reflect(store, container);
    render(<RoomWidgetView store={store} />, container);
    void store.start();
    mounted.push({
      host,
      container,
      stop: () => {
        off();
        store.stop();
      },
      setVisible: (v) => store.setVisible(v),
    });
  }
}

/**
 * The widget's phase as `data-state` on its root (`loading`, `ready`, `hidden`, `signed_out`,
 * `failed`), and a room's membership as `data-member`: for a site's CSS (hide a label when
 * the widget is hidden) and for tests.
 */
function reflect(store: DmWidget | RoomWidget, el: HTMLElement): () => void {
  const show = (s: { phase: string; isMember?: boolean }) => {
    el.dataset.state = s.phase;
    if (s.isMember !== undefined) el.dataset.member = String(s.isMember);
  };
  show(store.state);
  return (store as { subscribe(fn: (s: { phase: string; isMember?: boolean }) => void): () => void }).subscribe(show);
}

function unmountAll(): void {
  for (const w of mounted) {
    w.stop();
    render(null, w.container);
    w.container.remove();
    delete w.host.dataset[MOUNTED];
  }
  mounted = [];
}
