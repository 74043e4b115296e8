/**
 * An agent's page, reduced to what the resume tests need: stay connected, resume with lastEventId when the
 * socket goes, count what pops. Used by the rolling-upgrade test and by the test of the agent itself.
 */
import { letTimePass } from './wait.js';
import { openAgentSocket, type AgentSocket, type Frame } from './ws-client.js';

/** Past this, an agent that finds no instance to connect to gives up. */
const GIVE_UP_MS = 60_000;
/** How long an open socket may take to send `ready` (a resume reads the log first) before it is given up. */
const READY_WITHIN_MS = 20_000;

/** One socket the agent opened, for a failure to say where each pop went. */
export interface SocketRecord {
  instance: string;
  /** The lastEventId it resumed after (none: a fresh start). */
  after: string | undefined;
  resumed?: boolean;
  events: number;
  first?: string;
  last?: string;
  closed?: string;
}

export class ResumingAgent {
  readonly received = new Map<string, number>();
  lastEventId: string | undefined;
  reconnects = 0;
  readonly sockets: SocketRecord[] = [];
  private socket: AgentSocket | null = null;
  private stopped = false;

  constructor(
    readonly extension: string,
    private readonly token: string,
    private readonly pickInstance: () => string,
  ) {}

  async connect(): Promise<void> {
    const until = Date.now() + GIVE_UP_MS;
    for (;;) {
      if (this.stopped) return;
      if (Date.now() > until) throw new Error(`agent ${this.extension} found no instance to connect to in ${GIVE_UP_MS} ms`);
      try {
        const instance = this.pickInstance();
        const record: SocketRecord = { instance, after: this.lastEventId, events: 0 };
        const s = await openAgentSocket(instance, this.token, this.lastEventId);
        this.socket = s;
        this.sockets.push(record);
        void s.closed.then(({ code, reason }) => (record.closed = `${code} ${reason}`));
        // Frames can arrive before this line runs: when the upgrade response and the first frames reach the
        // client in one read (a busy client, a resume whose replay is ready at once), ws emits them before the
        // 'open' promise's continuation. The helper has collected them from the start: take those first, then
        // the rest as they come, in the same synchronous step so that none falls in between.
        for (const frame of s.frames) this.take(frame, record);
        s.ws.on('message', (data) => this.take(JSON.parse(String(data)) as Frame, record));
        // A socket closed before `ready` (its instance is leaving) is retried at once; one that never says ready
        // is dropped before the next try, so that two never count at once.
        const ready = await Promise.race([
          s.waitFor((f) => f.some((x) => x.type === 'ready'), READY_WITHIN_MS).then(
            () => true,
            () => false,
          ),
          s.closed.then(() => false),
        ]);
        if (!ready) {
          s.ws.terminate();
          throw new Error(`no ready frame from ${instance}`);
        }
        void s.closed.then(() => {
          if (this.stopped) return;
          this.reconnects++;
          void this.connect();
        });
        return;
      } catch {
        // That instance went away between the pick and `ready`: try another after a pause, as the page does.
        await letTimePass(50);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
  }

  private take(frame: Frame, record: SocketRecord): void {
    if (frame.type === 'ready') record.resumed = frame.resumed === true;
    if (frame.type === 'ready' || typeof frame.id !== 'string') return;
    record.events++;
    record.first ??= frame.id;
    record.last = frame.id;
    this.received.set(frame.id, (this.received.get(frame.id) ?? 0) + 1);
    this.lastEventId = frame.id;
  }
}
