// embed.js: the one script a site adds (SPEC §11):
//
//   <script src="/messages/static/embed.js" defer></script>
//   <div data-messaging-dm="42"></div>
//   <div data-messaging-room="video:42" data-title="Launch video"></div>
//
// A few lines under a fixed name (revalidated on every load): it adds the widgets' stylesheet
// and imports their code (app.tsx), both under hashed names cached for a year, and shows the
// widgets once both have arrived. `window.EdgeMessaging`:
//   - `mount()`: mount widgets on host elements added since;
//   - `signIn(token)`: a host site's sign-in token (SPEC §3), also `data-token` on the script
//     element: exchanged at `POST /messages/api/auth/sso/` for this origin's session cookie,
//     then every widget is mounted again as that visitor.

declare const __EMBED_APP_URL__: string;
declare const __EMBED_CSS_URL__: string;

interface App {
  boot(options: { base: string; token: string | null }): Promise<void>;
  mount(): void;
}

interface Api {
  version: 1;
  mount(): void;
  signIn(token: string): void;
}

(() => {
  const w = window as unknown as { EdgeMessaging?: Api };
  if (w.EdgeMessaging) return; // included twice
  const script = document.currentScript as HTMLScriptElement | null;
  const base = new URL(script?.src || location.href).origin;
  let token: string | null = script?.dataset.token || null;
  let app: App | null = null;

  w.EdgeMessaging = {
    version: 1,
    mount: () => app?.mount(),
    signIn: (t: string) => {
      token = t;
      void app?.boot({ base, token });
    },
  };

  const css = new Promise<void>((resolve) => {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = base + __EMBED_CSS_URL__;
    link.onload = link.onerror = () => resolve();
    document.head.appendChild(link);
  });
  Promise.all([import(/* @vite-ignore */ base + __EMBED_APP_URL__) as Promise<App>, css]).then(
    ([mod]) => {
      app = mod;
      void mod.boot({ base, token });
    },
    (e) => console.warn('Edge Messaging: the widgets did not load', e),
  );
})();
