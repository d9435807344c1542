/**
 * Some tests need a program from Debian rather than npm (Chromium, oathtool).
 * Such a test calls `needTool` first. Outside CI a missing program skips the
 * test and prints why, so a machine without it still runs everything else;
 * with CI set it fails the test with one line saying what to install, so CI
 * cannot pass with those tests silently dropped.
 */
import type { TestContext } from 'vitest';

export interface SystemTool {
  name: string;
  /** Where the tests look for it; `.ci/run` checks the same place. */
  where: string;
  present: boolean;
  install: string;
}

export const inCI = !!process.env.CI && !['false', '0'].includes(process.env.CI.toLowerCase());

export function needTool(ctx: TestContext, tool: SystemTool): void {
  if (tool.present) return;
  if (inCI) throw new Error(`${tool.name} is required in CI (looked for ${tool.where}): ${tool.install}`);
  const reason = `${tool.name} not found (looked for ${tool.where}); ${tool.install} to run this test`;
  console.warn(`skipped "${ctx.task.name}": ${reason}`);
  ctx.skip(reason);
}
