/**
 * A background loop that runs one pass, then sleeps until `intervalMs` has
 * passed or someone calls wake(). A wake during a pass makes the next pass
 * start at once, so no wake-up is lost. Used by the relay and the webhook
 * dispatcher; stop() waits for the pass in progress to finish.
 */
import type { Logger } from '../logger.js';

export function createWakeLoop(pass: () => Promise<unknown>, options: { intervalMs: number; logger: Logger; name: string }) {
  let running = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  let woken = false;

  async function run() {
    while (running) {
      woken = false;
      try {
        await pass();
      } catch (error) {
        options.logger.error({ err: error }, `${options.name} pass failed; retrying`);
      }
      if (!running || woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.intervalMs);
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeUp = undefined;
    }
  }

  return {
    get running() {
      return running;
    },
    wake() {
      woken = true;
      wakeUp?.();
    },
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    async stop() {
      running = false;
      wakeUp?.();
      await loop;
    },
  };
}
