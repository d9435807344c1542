/** Headless Chromium from Debian, driven by playwright-core (no browser download). */
import { accessSync, constants } from 'node:fs';
import { chromium as playwrightChromium, type Browser } from 'playwright-core';
import type { SystemTool } from './system-tools.js';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `.ci/run` checks the same path (CHROMIUM_PATH, else /usr/bin/chromium) before installing the package. */
export const chromium: SystemTool = { name: 'Chromium', where: chromiumPath, present: executable(chromiumPath), install: 'apt-get install chromium' };

export function launchChromium(): Promise<Browser> {
  return playwrightChromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
