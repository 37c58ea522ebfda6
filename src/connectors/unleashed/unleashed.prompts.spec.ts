import { MCP_PROMPT, type PromptOptions } from '../../mcp/mcp.decorators';
import { UnleashedPrompts } from './unleashed.prompts';

const options = Reflect.getMetadata(MCP_PROMPT, UnleashedPrompts.prototype.reorderCheck) as PromptOptions;

/** The prompt for `raw` arguments, parsed as the MCP layer parses them. */
function prompt(raw: Record<string, string>) {
  const result = new UnleashedPrompts().reorderCheck(undefined, options.args!.parse(raw) as never);
  const text = (result.messages[0].content as { text: string }).text;
  const calls = [...text.matchAll(/`([a-z0-9_]+)` with arguments `(\{[^`]*\})`: ([^\n]*)/g)].map((m) => ({
    tool: m[1],
    args: JSON.parse(m[2]) as Record<string, unknown>,
    why: m[3],
  }));
  return { description: result.description, text, calls };
}

describe('unleashed_reorder_check', () => {
  it('checks all warehouses at a threshold of 0 by default', () => {
    const { description, text, calls } = prompt({});
    expect(description).toBe('Unleashed reorder check (all warehouses, available at or below 0)');
    expect(text).toContain('Check the Unleashed stock of all warehouses');
    expect(calls.map((c) => [c.tool, c.args])).toEqual([
      ['unleashed_stock_on_hand', { pageSize: 1000 }],
      ['unleashed_list_purchase_orders', { orderStatus: ['Parked', 'Placed'], pageSize: 1000 }],
    ]);
    expect(calls[0].why).toContain('availableQty (on hand less allocated) is 0 or less');
    expect(calls[1].why).not.toContain('Keep those of warehouseCode');
  });

  it('says how to read stock rows under either reading: null warehouseCode a total, a code one warehouse', () => {
    // Unleashed documents GET /StockOnHand without warehouseCode as one total per product (warehouse
    // fields empty); UPSTREAMS.md leaves it unconfirmed, so the prompt must hold for rows per warehouse too.
    const all = prompt({});
    expect(all.calls[0].why).not.toMatch(/per product and warehouse/);
    expect(all.calls[0].why).toContain(
      'a row whose warehouseCode is null is a product’s total across all warehouses',
    );
    expect(all.calls[0].why).toContain('a row with a warehouseCode that warehouse’s stock only');
    expect(all.calls[0].why).toContain('never add a total to rows of the same product');
    expect(all.text).toContain('or "all warehouses" for a row without one');
    expect(all.text).toContain('for a total across all warehouses, one of any warehouse');
    expect(all.text).toContain('If the rows are totals (warehouseCode null)');
    // One warehouse asked for: its rows, one per product, and no talk of totals.
    const main = prompt({ warehouseCode: 'MAIN' });
    expect(main.calls[0].why).toMatch(/^the stock of the warehouse MAIN, one row per product;/);
    expect(main.text).not.toContain('If the rows are totals');
  });

  it('keeps to one warehouse, its stock and its purchase orders, at the threshold given', () => {
    const { description, text, calls } = prompt({ warehouseCode: 'MAIN', threshold: '25' });
    expect(description).toBe('Unleashed reorder check (the warehouse MAIN, available at or below 25)');
    expect(text).toContain('Check the Unleashed stock of the warehouse MAIN');
    expect(calls[0].args).toEqual({ warehouseCode: 'MAIN', pageSize: 1000 });
    expect(calls[0].why).toContain('is 25 or less');
    expect(calls[1].why).toContain('Keep those of warehouseCode MAIN.');
  });

  it('takes a threshold of 0 to 9999999 whole units only, and no argument it does not know', () => {
    const ok = (raw: Record<string, string>) => options.args!.safeParse(raw).success;
    expect(ok({ threshold: '0' })).toBe(true);
    expect(ok({ threshold: '9999999' })).toBe(true);
    expect(ok({ threshold: '10000000' })).toBe(false);
    expect(ok({ threshold: '-1' })).toBe(false);
    expect(ok({ threshold: '1.5' })).toBe(false);
    expect(ok({ warehouse: 'MAIN' })).toBe(false);
  });

  it('is for unleashed:read', () => {
    expect(options.permission).toBe('unleashed:read');
  });
});
