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
