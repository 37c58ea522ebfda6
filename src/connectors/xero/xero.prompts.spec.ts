import { MCP_PROMPT, type PromptOptions } from '../../mcp/mcp.decorators';
import { XeroPrompts } from './xero.prompts';

/** The "`tool` with arguments `{json}`" calls of the prompt's message. */
function calls(month: string): { tool: string; args: Record<string, unknown> }[] {
  const { messages } = new XeroPrompts().monthEndReview(undefined, { month });
  const text = (messages[0].content as { text: string }).text;
  return [...text.matchAll(/`([a-z0-9_]+)` with arguments `(\{[^`]*\})`/g)].map((m) => ({
    tool: m[1],
    args: JSON.parse(m[2]) as Record<string, unknown>,
  }));
}

describe('xero_month_end_review', () => {
  it.each([
    ['2024-02', '2024-02-29'],
    ['2023-02', '2023-02-28'],
    ['2026-12', '2026-12-31'],
    // A year below 100 (a typo of 2026-05) is still that year's month, not 1926's.
    ['0026-05', '0026-05-31'],
    ['0000-02', '0000-02-29'],
  ])('asks for %s from its first to its last day (%s)', (month, last) => {
    const [pl, bs] = calls(month);
    expect(pl).toMatchObject({
      tool: 'xero_profit_and_loss',
      args: { fromDate: `${month}-01`, toDate: last },
    });
    expect(bs).toMatchObject({ tool: 'xero_balance_sheet', args: { date: last } });
  });
});

describe('xero_month_end_review arguments and completion', () => {
  const options = Reflect.getMetadata(MCP_PROMPT, XeroPrompts.prototype.monthEndReview) as PromptOptions;
  const month = (offset: number) => {
    const now = new Date();
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)).toISOString().slice(0, 7);
  };

  it('takes the current month and earlier ones, not the next', () => {
    const ok = (m: string) => options.args!.safeParse({ month: m }).success;
    expect(ok(month(0))).toBe(true);
    expect(ok(month(-1))).toBe(true);
    expect(ok(month(1))).toBe(false);
  });

  it('says once what is wrong with a month not in the shape (not also that it is after the current one)', () => {
    const told = (m: string) => options.args!.safeParse({ month: m }).error?.issues.map((i) => i.message);
    expect(told('May 2026')).toEqual(['must be a month YYYY-MM, e.g. 2026-05']);
    expect(told('9999-13')).toEqual(['must be a month YYYY-MM, e.g. 2026-05']);
  });

  it('completes a month from the current one back through the 12 before it, newest first, by prefix', async () => {
    const complete = options.complete!.month;
    expect(await complete('')).toEqual(Array.from({ length: 13 }, (_, i) => month(-i)));
    const year = month(0).slice(0, 4);
    expect(await complete(year)).toEqual(
      Array.from({ length: 13 }, (_, i) => month(-i)).filter((m) => m.startsWith(year)),
    );
    // A prefix matches from the start only: a month number alone completes nothing.
    expect(await complete(month(0).slice(5))).toEqual([]);
  });

  it('names the tenant in its text when one is given, and not otherwise', () => {
    const T = '9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a';
    const text = (tenantId?: string) =>
      (
        new XeroPrompts().monthEndReview(undefined, { month: '2024-02', tenantId }).messages[0].content as {
          text: string;
        }
      ).text;
    expect(text(T)).toContain(
      `Review the Xero books for the month 2024-02 (2024-02-01 to 2024-02-29) of the Xero tenant ${T}.`,
    );
    expect(text()).toContain('Review the Xero books for the month 2024-02 (2024-02-01 to 2024-02-29). Make');
  });
});
