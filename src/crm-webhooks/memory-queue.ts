/**
 * The delivery queue without Redis: timers and a FIFO of due jobs run with bounded concurrency, through the
 * same DeliveryEngine as the BullMQ queue. Nothing here survives a restart.
 */
import type { Logger } from '../logger.js';
import type { DeliveryEngine } from './engine.js';
import type { DeliveryJob, DeliveryQueue } from './types.js';

export class MemoryDeliveryQueue implements DeliveryQueue {
  /** Jobs waiting or running, by jobId: a second enqueue of one of them is a no-op. */
  private readonly known = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly due: DeliveryJob[] = [];
  private running = 0;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly engine: DeliveryEngine,
    private readonly logger: Logger,
    private readonly concurrency: number = 50,
  ) {}

  async enqueue(jobs: DeliveryJob[]): Promise<void> {
    for (const job of jobs) {
      if (this.closed || this.known.has(job.jobId)) continue;
      this.known.add(job.jobId);
      this.due.push(job);
    }
    this.pump();
  }

  private schedule(job: DeliveryJob, at: number): void {
    if (this.closed) {
      this.known.delete(job.jobId);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.due.push(job);
      this.pump();
    }, Math.max(0, at - Date.now()));
    this.timers.add(timer);
  }

  private pump(): void {
    while (!this.closed && this.running < this.concurrency && this.due.length > 0) {
      const job = this.due.shift() as DeliveryJob;
      this.running++;
      void this.run(job);
    }
  }

  private async run(job: DeliveryJob): Promise<void> {
    try {
      const out = await this.engine.process(job);
      if (out.kind === 'done') this.known.delete(job.jobId);
      else if (out.kind === 'retry') this.schedule({ ...job, attempt: out.attempt }, out.at);
      else this.schedule(job, out.at);
    } catch (err) {
      // A store failure, not an HTTP one: try again shortly rather than lose the delivery.
      this.logger.warn({ err, jobId: job.jobId }, 'webhook job failed unexpectedly; retrying in 1 s');
      this.schedule(job, Date.now() + 1000);
    } finally {
      this.running--;
      if (this.running === 0) for (const w of this.idleWaiters.splice(0)) w();
      this.pump();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.due.length = 0;
    if (this.running > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}
