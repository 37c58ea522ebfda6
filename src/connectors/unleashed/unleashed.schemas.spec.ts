import {
  isCalendarDay,
  LIST_CUSTOMERS,
  LIST_PRODUCTS,
  LIST_PURCHASE_ORDERS,
  LIST_SALES_ORDERS,
  STOCK_ON_HAND,
} from './unleashed.schemas';

const badPaths = (result: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }) =>
  result.success ? [] : result.error!.issues.map((i) => i.path.join('.'));

describe('isCalendarDay', () => {
  it('takes real days as YYYY-MM-DD only', () => {
    for (const ok of ['2024-01-31', '2024-02-29', '1999-12-31']) expect(isCalendarDay(ok)).toBe(true);
    for (const bad of [
      '2023-02-29',
      '2024-13-01',
      '2024-04-31',
      '2024-1-5',
      '2024-01-01T00:00:00Z',
      '20240101',
      'x2024-01-31',
      '',
    ])
      expect(isCalendarDay(bad)).toBe(false);
  });
});

describe('tool arguments', () => {
  it('default to page 1 of 200, obsolete products left out', () => {
    expect(LIST_PRODUCTS.parse({})).toEqual({ page: 1, pageSize: 200, includeObsolete: false });
    expect(STOCK_ON_HAND.parse({})).toEqual({ page: 1, pageSize: 200 });
  });

  it('bound paging', () => {
    expect(badPaths(LIST_PRODUCTS.safeParse({ page: 0 }))).toEqual(['page']);
    expect(badPaths(LIST_PRODUCTS.safeParse({ pageSize: 1001 }))).toEqual(['pageSize']);
    expect(badPaths(STOCK_ON_HAND.safeParse({ pageSize: 0 }))).toEqual(['pageSize']);
    expect(badPaths(STOCK_ON_HAND.safeParse({ page: 1.5 }))).toEqual(['page']);
    expect(LIST_PRODUCTS.safeParse({ page: 7, pageSize: 1000 }).success).toBe(true);
    expect(LIST_PRODUCTS.safeParse({ page: 100_000, pageSize: 1 }).success).toBe(true);
    expect(badPaths(LIST_PRODUCTS.safeParse({ page: 100_001 }))).toEqual(['page']);
  });

  it('check filter formats', () => {
    expect(badPaths(LIST_PRODUCTS.safeParse({ modifiedSince: '2024-02-30' }))).toEqual(['modifiedSince']);
    expect(badPaths(LIST_PRODUCTS.safeParse({ productCode: 'A\nB' }))).toEqual(['productCode']);
    expect(badPaths(LIST_PRODUCTS.safeParse({ productCode: 'A\u007fB' }))).toEqual(['productCode']);
    expect(badPaths(LIST_PRODUCTS.safeParse({ productGroup: '' }))).toEqual(['productGroup']);
    expect(badPaths(STOCK_ON_HAND.safeParse({ productId: 'BEV-001' }))).toEqual(['productId']);
    expect(badPaths(STOCK_ON_HAND.safeParse({ warehouseCode: 'x'.repeat(51) }))).toEqual(['warehouseCode']);
    expect(
      STOCK_ON_HAND.safeParse({
        productId: '00000001-0000-4000-8000-000000000001',
        warehouseCode: 'MAIN',
        modifiedSince: '2024-01-15',
      }).success,
    ).toBe(true);
  });

  it('take a product Guid in either case, in lower case, so it is one question (one answer-cache entry)', () => {
    const id = '0f6b1c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b';
    expect(STOCK_ON_HAND.parse({ productId: id.toUpperCase() }).productId).toBe(id);
    expect(STOCK_ON_HAND.parse({ productId: id }).productId).toBe(id);
  });
});

describe('order and customer arguments', () => {
  const messages = (result: { success: boolean; error?: { issues: { message: string }[] } }) =>
    result.success ? [] : result.error!.issues.map((i) => i.message);

  it('default to page 1 of 200, obsolete customers left out', () => {
    expect(LIST_SALES_ORDERS.parse({})).toEqual({ page: 1, pageSize: 200 });
    expect(LIST_PURCHASE_ORDERS.parse({})).toEqual({ page: 1, pageSize: 200 });
    expect(LIST_CUSTOMERS.parse({})).toEqual({ page: 1, pageSize: 200, includeObsolete: false });
  });

  it("take statuses from each resource's own list, once each", () => {
    expect(LIST_SALES_ORDERS.parse({ orderStatus: ['Placed', 'Backordered'] }).orderStatus).toEqual([
      'Placed',
      'Backordered',
    ]);
    expect(badPaths(LIST_SALES_ORDERS.safeParse({ orderStatus: ['Receipted'] }))).toEqual(['orderStatus.0']);
    expect(badPaths(LIST_SALES_ORDERS.safeParse({ orderStatus: [] }))).toEqual(['orderStatus']);
    expect(messages(LIST_SALES_ORDERS.safeParse({ orderStatus: ['Placed', 'Placed'] }))).toEqual([
      'must not name a status twice',
    ]);
    expect(LIST_PURCHASE_ORDERS.safeParse({ orderStatus: ['Receipted', 'Costed'] }).success).toBe(true);
    expect(badPaths(LIST_PURCHASE_ORDERS.safeParse({ orderStatus: ['Backordered'] }))).toEqual([
      'orderStatus.0',
    ]);
    expect(badPaths(LIST_PURCHASE_ORDERS.safeParse({ orderStatus: 'Placed' }))).toEqual(['orderStatus']);
    // Unleashed names a received purchase order Complete, a sales order Completed.
    expect(LIST_PURCHASE_ORDERS.safeParse({ orderStatus: ['Complete'] }).success).toBe(true);
    expect(badPaths(LIST_PURCHASE_ORDERS.safeParse({ orderStatus: ['Completed'] }))).toEqual([
      'orderStatus.0',
    ]);
    expect(LIST_SALES_ORDERS.safeParse({ orderStatus: ['Completed', 'Deleted'] }).success).toBe(true);
  });

  it('check the order-date range: real days, the end not before the start', () => {
    expect(
      LIST_SALES_ORDERS.safeParse({ startDate: '2024-01-01', endDate: '2024-01-01', customerCode: 'AC' })
        .success,
    ).toBe(true);
    expect(badPaths(LIST_SALES_ORDERS.safeParse({ startDate: '2024-02-30' }))).toEqual(['startDate']);
    expect(badPaths(LIST_PURCHASE_ORDERS.safeParse({ endDate: '31/01/2024' }))).toEqual(['endDate']);
    const reversed = LIST_PURCHASE_ORDERS.safeParse({ startDate: '2024-02-01', endDate: '2024-01-31' });
    expect(badPaths(reversed)).toEqual(['endDate']);
    expect(messages(reversed)).toEqual(['must not be before startDate']);
    expect(badPaths(LIST_SALES_ORDERS.safeParse({ startDate: '2024-02-01', endDate: '2024-01-31' }))).toEqual(
      ['endDate'],
    );
    expect(badPaths(LIST_SALES_ORDERS.safeParse({ modifiedSince: '2024-1-1' }))).toEqual(['modifiedSince']);
  });

  it('check the text filters', () => {
    expect(badPaths(LIST_SALES_ORDERS.safeParse({ customerCode: '' }))).toEqual(['customerCode']);
    expect(badPaths(LIST_CUSTOMERS.safeParse({ customerName: 'A\u0007' }))).toEqual(['customerName']);
    expect(badPaths(LIST_CUSTOMERS.safeParse({ customerCode: 'x'.repeat(51) }))).toEqual(['customerCode']);
    expect(badPaths(LIST_CUSTOMERS.safeParse({ pageSize: 1001 }))).toEqual(['pageSize']);
  });
});
