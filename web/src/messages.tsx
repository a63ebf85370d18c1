//! Entry of the messages page (`GET /messages/`, served by src/pages.rs): one Messenger for
//! the signed-in user, rendered by Preact into #app.

import { render } from 'preact';
import { createRest, Messenger } from '../../client/src/index.ts';
import { App } from './app.tsx';

const messenger = new Messenger({ rest: createRest() });
render(<App messenger={messenger} />, document.getElementById('app')!);
