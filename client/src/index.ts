//! Edge Messaging's client library: typed REST calls (`createRest`), the live connection and its
//! transports (`connectLive`), the pure state transitions (`state`), and the `Messenger` that
//! ties them together for a page. No DOM: usable from any page, widget or Node.

export * from './types.ts';
export * from './errors.ts';
export { createRest, type Rest, type RestOptions, type EventsPage } from './rest.ts';
export * from './live.ts';
export * from './state.ts';
export * from './permissions.ts';
export * from './messenger.ts';
export * from './widgets.ts';
