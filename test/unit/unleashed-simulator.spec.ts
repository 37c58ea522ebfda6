/**
 * The Unleashed simulator holds requests to what the real API refuses
 * (UPSTREAMS.md, "Unleashed", and Unleashed's API documentation), so a
 * connector that breaks a rule fails its e2e spec rather than production.
 */
import {
  startUnleashedSimulator,
  unleashedSignature,
  UnleashedSimulator,
} from '../simulators/unleashed.simulator';
import type { SimStockOnHand } from '../simulators/unleashed.seed';

const CREDS = { apiId: '6a1f0c9e-4b2d-4e8a-9c71-2d5e8f0a3b14', apiKey: 'unleashed-unit-sim-key-0001' };

describe('Unleashed simulator', () => {
  let sim: UnleashedSimulator;

  beforeAll(async () => {
    sim = await startUnleashedSimulator(CREDS);
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  /** GET `path` with `query` (no `?`), signed as a correct client signs it, with `headers` over the usual ones. */
  async function get(path: string, query = '', headers: Record<string, string | undefined> = {}) {
    const all: Record<string, string | undefined> = {
      'api-auth-id': CREDS.apiId,
      'api-auth-signature': unleashedSignature(query, CREDS.apiKey),
      accept: 'application/json',
      'content-type': 'application/json',
      'client-type': 'sentia/unittest',
      ...headers,
    };
    const sent = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >;
    const res = await fetch(`${sim.url}${path}${query ? `?${query}` : ''}`, { headers: sent });
    const text = await res.text();
    const json = res.headers.get('content-type')?.startsWith('application/json');
    return { status: res.status, text, body: (json ? JSON.parse(text) : {}) as Record<string, unknown> };
  }
  const itemsOf = (r: { body: Record<string, unknown> }) => r.body.Items as Record<string, string>[];

  it('answers a signed request that names its client-type', async () => {
    const r = await get('/Products/1', 'pageSize=2');
    expect(r.status).toBe(200);
    expect(itemsOf(r)).toHaveLength(2);
  });

  it('checks the signature over the query exactly as sent, and answers 403 when it is wrong or missing', async () => {
    // The same filters in another order, or encoded another way, are another message to sign: a
    // signature over the sorted or re-encoded query does not sign the query sent.
    const reordered = await get('/Products/1', 'productCode=BEV&pageSize=2', {
      'api-auth-signature': unleashedSignature('pageSize=2&productCode=BEV', CREDS.apiKey),
    });
    expect(reordered.status).toBe(403);
    const reencoded = await get('/Customers/1', 'customerName=Harbour%20Cafe', {
      'api-auth-signature': unleashedSignature('customerName=Harbour+Cafe', CREDS.apiKey),
    });
    expect(reencoded.status).toBe(403);
    expect((await get('/Products/1', 'pageSize=2', { 'api-auth-signature': undefined })).status).toBe(403);
    expect((await get('/Products/1', 'pageSize=2', { 'api-auth-id': undefined })).status).toBe(403);
    // No query: the signature is of the empty string.
    expect((await get('/Products')).status).toBe(200);
    expect(sim.requests.map((r) => r.status)).toEqual([403, 403, 403, 403, 200]);
  });

  it('answers XML unless Accept allows application/json (Unleashed: Accept must name XML or JSON)', async () => {
    const xml = await get('/Products/1', 'pageSize=2', { accept: undefined });
    expect(xml.status).toBe(200);
    expect(xml.text.startsWith('<?xml')).toBe(true);
    expect((await get('/Products/1', 'pageSize=2', { accept: 'text/html' })).text.startsWith('<?xml')).toBe(
      true,
    );
    const json = await get('/Products/1', 'pageSize=2', { accept: 'text/plain, application/json;q=0.9' });
    expect(json.body.Pagination).toMatchObject({ PageSize: 2, PageNumber: 1 });
    // Dates in the JSON are Microsoft JSON dates.
    expect(itemsOf(json)[0].LastModifiedOn).toMatch(/^\/Date\(\d+\)\/$/);
  });

  it('takes pageSize 1-1000 only', async () => {
    expect((await get('/Products/1', 'pageSize=1000')).status).toBe(200);
    for (const size of ['1001', '0', 'ten'])
      expect((await get('/Products/1', `pageSize=${size}`)).status).toBe(400);
  });

  it('refuses a request without client-type, which Unleashed requires', async () => {
    const missing = await get('/Products/1', 'pageSize=2', { 'client-type': undefined });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ Description: 'The client-type header is required.' });
    expect((await get('/Products/1', 'pageSize=2', { 'client-type': '  ' })).status).toBe(400);
    expect(sim.requests.map((r) => r.status)).toEqual([400, 400]);
  });

  it('filters stock by several product Guids separated by commas', async () => {
    const [a, b] = [sim.products[0].Guid, sim.products[4].Guid];
    const r = await get('/StockOnHand/1', `productId=${a},${b.toUpperCase()}`);
    expect(r.status).toBe(200);
    // One total per product.
    expect(itemsOf(r).map((s) => s.ProductGuid)).toEqual([a, b]);
    const east = await get('/StockOnHand/1', `warehouseCode=EAST&productId=${a},${b}`);
    expect(itemsOf(east).map((s) => [s.ProductGuid, s.WarehouseCode])).toEqual([
      [a, 'EAST'],
      [b, 'EAST'],
    ]);
  });

  /** The per-warehouse rows of the seed by product, in seed order: what a total is made of. */
  function rowsByProduct() {
    const by = new Map<string, SimStockOnHand[]>();
    for (const row of sim.stock) by.set(row.ProductGuid, [...(by.get(row.ProductGuid) ?? []), row]);
    return by;
  }
  const sum = (
    rows: readonly SimStockOnHand[],
    field: 'QtyOnHand' | 'AllocatedQty' | 'AvailableQty' | 'TotalCost',
  ) => rows.reduce((n, row) => n + row[field], 0);
  const msOf = (msDate: string) => Number(/-?\d+/.exec(msDate)![0]);

  it('answers StockOnHand without warehouseCode with one row per product, its warehouses totalled', async () => {
    const by = rowsByProduct();
    // The seed has two warehouses, so a total is made of more than one row.
    expect(sim.stock.length).toBe(2 * by.size);
    const first = await get('/StockOnHand/1', 'pageSize=10');
    expect(first.body.Pagination).toEqual({
      NumberOfItems: by.size,
      PageSize: 10,
      PageNumber: 1,
      NumberOfPages: Math.ceil(by.size / 10),
    });
    const items = [...itemsOf(first)] as unknown as Record<string, unknown>[];
    for (let page = 2; page <= Math.ceil(by.size / 10); page++)
      items.push(...(itemsOf(await get(`/StockOnHand/${page}`, 'pageSize=10')) as unknown as typeof items));
    expect(items.map((i) => i.ProductGuid)).toEqual([...by.keys()]);
    for (const item of items) {
      const rows = by.get(item.ProductGuid as string)!;
      expect(item).toMatchObject({
        Guid: item.ProductGuid,
        ProductCode: rows[0].ProductCode,
        WarehouseId: null,
        WarehouseCode: '',
        Warehouse: '',
        QtyOnHand: sum(rows, 'QtyOnHand'),
        AllocatedQty: sum(rows, 'AllocatedQty'),
        AvailableQty: sum(rows, 'AvailableQty'),
      });
      expect(item.TotalCost).toBeCloseTo(sum(rows, 'TotalCost'), 6);
      if (item.QtyOnHand !== 0)
        expect(item.AvgCost).toBeCloseTo((item.TotalCost as number) / (item.QtyOnHand as number), 9);
      expect(msOf(item.LastModifiedOn as string)).toBe(Math.max(...rows.map((r) => msOf(r.LastModifiedOn))));
    }
    const past = await get(`/StockOnHand/${Math.ceil(by.size / 10) + 1}`, 'pageSize=10');
    expect(itemsOf(past)).toEqual([]);
    expect(past.body.Pagination).toMatchObject({ NumberOfItems: by.size });
  });

  it('answers StockOnHand with warehouseCode with that warehouse’s row of each product', async () => {
    const r = await get('/StockOnHand/1', 'warehouseCode=east&pageSize=1000');
    const east = sim.stock.filter((s) => s.WarehouseCode === 'EAST');
    expect(east.length).toBeGreaterThan(0);
    expect(r.body.Pagination).toMatchObject({ NumberOfItems: east.length, NumberOfPages: 1 });
    expect(itemsOf(r)).toEqual(east);
    expect(itemsOf(r).every((s) => s.Guid !== s.ProductGuid && s.WarehouseCode === 'EAST')).toBe(true);
    expect(itemsOf(await get('/StockOnHand/1', 'warehouseCode=NOWHERE'))).toEqual([]);
  });

  it('takes modifiedSince on a total as a change in any of its warehouses', async () => {
    const since = Date.UTC(2024, 0, 11);
    const r = await get('/StockOnHand/1', 'modifiedSince=2024-01-11&pageSize=1000');
    const changed = [...rowsByProduct()].filter(([, rows]) =>
      rows.some((s) => msOf(s.LastModifiedOn) >= since),
    );
    // Some product changed in one warehouse only: its total is still the total of both.
    const partly = changed.find(([, rows]) => rows.some((s) => msOf(s.LastModifiedOn) < since))!;
    expect(partly).toBeDefined();
    expect(itemsOf(r).map((s) => s.ProductGuid)).toEqual(changed.map(([guid]) => guid));
    const item = itemsOf(r).find((s) => s.ProductGuid === partly[0]) as unknown as Record<string, number>;
    expect(item.QtyOnHand).toBe(sum(partly[1], 'QtyOnHand'));
  });
});
