import { MCP_PROMPT, type PromptOptions } from '../../mcp/mcp.decorators';
import { nextDay } from '../prompt-steps';
import { ordersBetween, ShopifyPrompts } from './shopify.prompts';

const options = Reflect.getMetadata(MCP_PROMPT, ShopifyPrompts.prototype.salesSummary) as PromptOptions;
const today = () => new Date().toISOString().slice(0, 10);

/** The issues of the prompt's arguments: path and message, none when they are taken. */
const issues = (args: Record<string, unknown>) =>
  options.args!.safeParse(args).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

describe('shopify_sales_summary arguments', () => {
  it('takes one day, and a range up to 366 days long', () => {
    expect(issues({ from: '2025-03-01', to: '2025-03-01' })).toEqual([]);
    expect(issues({ from: '2025-01-01', to: '2025-12-31' })).toEqual([]);
    // A leap year: its last day is 365 days after its first.
    expect(issues({ from: '2024-01-01', to: '2024-12-31' })).toEqual([]);
  });

  it('refuses an end before the start, and a range of more than 366 days', () => {
    expect(issues({ from: '2025-03-02', to: '2025-03-01' })).toEqual(['to: must not be before from']);
    expect(issues({ from: '2024-01-01', to: '2025-01-01' })).toEqual(['to: must be within 366 days of from']);
  });

  it('takes a start of today or tomorrow (a shop ahead of UTC), not later', () => {
    expect(issues({ from: today(), to: today() })).toEqual([]);
    const tomorrow = nextDay(today());
    expect(issues({ from: tomorrow, to: tomorrow })).toEqual([]);
    const later = nextDay(tomorrow);
    expect(issues({ from: later, to: later })).toEqual(['from: must not be after today']);
  });

  it('refuses an argument it does not know', () => {
    expect(issues({ from: '2025-03-01', to: '2025-03-01', shop: 'other.myshopify.com' })).not.toEqual([]);
  });

  it('is for shopify:read', () => {
    expect(options.permission).toBe('shopify:read');
  });
});

describe('ordersBetween', () => {
  it('asks for the orders from the first moment of `from` to before the day after `to`, oldest first', () => {
    expect(ordersBetween('2025-01-01', '2025-01-31')).toEqual({
      query: 'created_at:>=2025-01-01 created_at:<2025-02-01',
      first: 100,
      newestFirst: false,
    });
    expect(ordersBetween('2024-12-31', '2024-12-31').query).toBe(
      'created_at:>=2024-12-31 created_at:<2025-01-01',
    );
  });

  it('is the call the prompt names', () => {
    const { messages } = new ShopifyPrompts().salesSummary(undefined, {
      from: '2025-02-01',
      to: '2025-02-28',
    });
    const text = (messages[0].content as { text: string }).text;
    const call = /`shopify_list_orders` with arguments `(\{[^`]*\})`/.exec(text)?.[1];
    expect(JSON.parse(call ?? 'null')).toEqual(ordersBetween('2025-02-01', '2025-02-28'));
  });
});
