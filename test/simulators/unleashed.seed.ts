/**
 * Deterministic data for the Unleashed simulator: the same products and stock
 * rows on every run, enough of them that paging is real (several pages at
 * small page sizes). Shapes follow Unleashed's JSON (PascalCase, `/Date(ms)/`
 * dates, nullable fields as null).
 */

export interface SimProduct {
  Guid: string;
  ProductCode: string;
  ProductDescription: string;
  Barcode: string | null;
  UnitOfMeasure: { Guid: string; Name: string } | null;
  ProductGroup: { Guid: string; GroupName: string } | null;
  DefaultSellPrice: number | null;
  DefaultPurchasePrice: number | null;
  IsSellable: boolean;
  Obsolete: boolean;
  CreatedOn: string;
  LastModifiedOn: string;
}

/**
 * A StockOnHand row. A warehouse's row carries the warehouse; a product's
 * total across warehouses carries none: Guid is the ProductGuid, WarehouseId
 * null and WarehouseCode and Warehouse empty (Unleashed's GET /StockOnHand
 * example shows the three fields empty; their JSON form is unconfirmed).
 */
export interface SimStockOnHand {
  Guid: string;
  ProductGuid: string;
  ProductCode: string;
  ProductDescription: string;
  WarehouseId: string | null;
  WarehouseCode: string;
  Warehouse: string;
  QtyOnHand: number;
  AllocatedQty: number;
  AvailableQty: number;
  AvgCost: number;
  TotalCost: number;
  LastModifiedOn: string;
}

export const PRODUCT_COUNT = 37;
export const GROUPS = ['Beverages', 'Snacks', 'Packaging'] as const;
export const WAREHOUSES = [
  { code: 'MAIN', name: 'Main Warehouse' },
  { code: 'EAST', name: 'East Depot' },
] as const;
/** The first product is modified on this day; each next one a day later. */
export const FIRST_MODIFIED_MS = Date.UTC(2024, 0, 1, 9, 30, 0);
const DAY_MS = 86_400_000;

/** A GUID made from a kind digit and a number, so ids are stable and readable in failures. */
export function simGuid(kind: number, n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `0000000${kind}-0000-4000-8000-${hex}`;
}

export const msDate = (ms: number): string => `/Date(${ms})/`;
/** The milliseconds of a `/Date(ms)/` date. */
export const dateMs = (value: string): number => Number(/\/Date\((-?\d+)/.exec(value)?.[1]);

/** Product i (0-based): every 7th is obsolete, every 5th has no barcode, groups rotate. */
export function seedProducts(): SimProduct[] {
  const products: SimProduct[] = [];
  for (let i = 0; i < PRODUCT_COUNT; i++) {
    const group = GROUPS[i % GROUPS.length];
    const modified = FIRST_MODIFIED_MS + i * DAY_MS;
    products.push({
      Guid: simGuid(1, i + 1),
      ProductCode: `${group.slice(0, 3).toUpperCase()}-${String(i + 1).padStart(3, '0')}`,
      ProductDescription: `${group} item ${i + 1}`,
      Barcode: i % 5 === 4 ? null : `9300000${String(i + 1).padStart(6, '0')}`,
      UnitOfMeasure: { Guid: simGuid(3, 1), Name: 'EA' },
      ProductGroup: { Guid: simGuid(4, (i % GROUPS.length) + 1), GroupName: group },
      DefaultSellPrice: Math.round((5 + i * 1.25) * 100) / 100,
      DefaultPurchasePrice: i % 6 === 5 ? null : Math.round((2 + i * 0.5) * 100) / 100,
      IsSellable: i % 9 !== 8,
      Obsolete: i % 7 === 6,
      CreatedOn: msDate(FIRST_MODIFIED_MS - 30 * DAY_MS + i * 1000),
      LastModifiedOn: msDate(modified),
    });
  }
  return products;
}

/** One row per live (not obsolete) product and warehouse. */
export function seedStock(products: SimProduct[]): SimStockOnHand[] {
  const rows: SimStockOnHand[] = [];
  let n = 0;
  for (const [p, product] of products.entries()) {
    if (product.Obsolete) continue;
    for (const [w, warehouse] of WAREHOUSES.entries()) {
      n += 1;
      const qty = (p * 3 + w * 11) % 50;
      const allocated = Math.min(qty, (p + w) % 4);
      // Each warehouse has its own average cost, so a total's AvgCost is a weighted one.
      const avgCost = Math.round((product.DefaultPurchasePrice ?? 1) * (1 + w / 10) * 100) / 100;
      rows.push({
        Guid: simGuid(5, n),
        ProductGuid: product.Guid,
        ProductCode: product.ProductCode,
        ProductDescription: product.ProductDescription,
        WarehouseId: simGuid(6, w + 1),
        WarehouseCode: warehouse.code,
        Warehouse: warehouse.name,
        QtyOnHand: qty,
        AllocatedQty: allocated,
        AvailableQty: qty - allocated,
        AvgCost: avgCost,
        TotalCost: Math.round(qty * avgCost * 100) / 100,
        LastModifiedOn: msDate(FIRST_MODIFIED_MS + (p + w) * DAY_MS + 3_600_000),
      });
    }
  }
  return rows;
}

/**
 * One row per product with stock: its warehouses' rows totalled (quantities
 * and TotalCost added up, AvgCost = TotalCost / QtyOnHand as in Unleashed's
 * example, the latest LastModifiedOn), in the order of `rows`.
 */
export function stockTotals(rows: readonly SimStockOnHand[]): SimStockOnHand[] {
  const totals = new Map<string, SimStockOnHand>();
  for (const row of rows) {
    const total = totals.get(row.ProductGuid);
    if (!total) {
      totals.set(row.ProductGuid, {
        ...row,
        Guid: row.ProductGuid,
        WarehouseId: null,
        WarehouseCode: '',
        Warehouse: '',
      });
      continue;
    }
    total.QtyOnHand += row.QtyOnHand;
    total.AllocatedQty += row.AllocatedQty;
    total.AvailableQty += row.AvailableQty;
    total.TotalCost = Math.round((total.TotalCost + row.TotalCost) * 100) / 100;
    if (dateMs(row.LastModifiedOn) > dateMs(total.LastModifiedOn)) total.LastModifiedOn = row.LastModifiedOn;
  }
  return [...totals.values()].map((t) => ({
    ...t,
    // With nothing on hand there is no average to take: the first warehouse row's is kept.
    AvgCost: t.QtyOnHand === 0 ? t.AvgCost : t.TotalCost / t.QtyOnHand,
  }));
}
