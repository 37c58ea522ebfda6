/**
 * What the connectors' MCP prompts share: a prompt is one user message that
 * names the exact tool calls to make, each as "`tool` with arguments `{json}`"
 * so a client shows it and a test can check every call against the tool's
 * own schema (test/e2e/mcp-prompts-resources.e2e-spec.ts), and says what to
 * make of the answers.
 */
import type { GetPromptResult } from '@modelcontextprotocol/server';
import { z } from 'zod';

/** One tool call a prompt asks for: its arguments exactly as the tool takes them. */
export interface ToolStep {
  tool: string;
  args: Record<string, unknown>;
  /** What the call is for, and how to go on (paging). */
  why: string;
}

/** The line of a step: the call in a form a reader and a test can both take literally. */
export function stepLine(step: ToolStep): string {
  return `- \`${step.tool}\` with arguments \`${JSON.stringify(step.args)}\`: ${step.why}`;
}

/** A prompt's answer: one user message, its paragraphs and the calls' lines. */
export function userPrompt(description: string, parts: (string | ToolStep[])[]): GetPromptResult {
  const text = parts.map((p) => (typeof p === 'string' ? p : p.map(stepLine).join('\n'))).join('\n\n');
  return { description, messages: [{ role: 'user', content: { type: 'text', text } }] };
}

/** Arguments only when given: a step's JSON leaves out the optional ones the caller did not pass. */
export function given(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined));
}

/** A calendar day YYYY-MM-DD that exists (UTC), as a prompt argument (prompt arguments are strings). */
export const promptDay = (what: string) =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a date YYYY-MM-DD', abort: true })
    .refine((d) => {
      const ms = Date.parse(`${d}T00:00:00Z`);
      return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === d;
    }, 'must be a real date')
    .describe(what);

/** The day after `day` (YYYY-MM-DD, UTC). */
export function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}
