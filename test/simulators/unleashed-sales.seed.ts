/**
 * Deterministic customers, sales orders and purchase orders for the Unleashed
 * simulator, in Unleashed's JSON shapes (PascalCase, `/Date(ms)/` dates, nested
 * Customer / Supplier / Warehouse / Currency objects, order lines). Enough of
 * each that paging is real at small page sizes, with every status and the
 * nulls Unleashed leaves (no phone, no completed date).
 */
import { msDate, simGuid, WAREHOUSES } from './unleashed.seed';

export interface SimCustomer {
  Guid: string;
  CustomerCode: string;
  CustomerName: string;
  CustomerType: string | null;
  Email: string | null;
  PhoneNumber: string | null;
  Currency: { Guid: string; CurrencyCode: string; Description: string };
  Obsolete: boolean;
  CreatedOn: string;
  LastModifiedOn: string;
}

interface SimOrderBase {
  Guid: string;
  OrderNumber: string;
  OrderDate: string;
  RequiredDate: string;
  CompletedDate: string | null;
  OrderStatus: string;
  Warehouse: { Guid: string; WarehouseCode: string; WarehouseName: string };
  Currency: { Guid: string; CurrencyCode: string; Description: string };
  SubTotal: number;
  TaxTotal: number;
  Total: number;
  LastModifiedOn: string;
}

export interface SimSalesOrder extends SimOrderBase {
  Customer: { Guid: string; CustomerCode: string; CustomerName: string };
  SalesOrderLines: SimLine[];
}

export interface SimPurchaseOrder extends SimOrderBase {
  Supplier: { Guid: string; SupplierCode: string; SupplierName: string };
  PurchaseOrderLines: SimLine[];
}

interface SimLine {
  LineNumber: number;
  Product: { Guid: string; ProductCode: string };
  OrderQuantity: number;
  UnitPrice: number;
  LineTotal: number;
}

export const CUSTOMER_COUNT = 23;
export const SALES_ORDER_COUNT = 45;
export const PURCHASE_ORDER_COUNT = 18;
/** The first order is dated this day (midnight UTC); each next one a day later. */
export const FIRST_ORDER_MS = Date.UTC(2024, 2, 1);
export const SALES_STATUSES = [
  'Completed',
  'Placed',
  'Parked',
  'Backordered',
  'Completed',
  'Deleted',
] as const;
export const PURCHASE_STATUSES = ['Complete', 'Placed', 'Receipted', 'Parked', 'Costed', 'Deleted'] as const;
const DAY_MS = 86_400_000;
const TAX_RATE = 0.15;

const CURRENCIES = [
  { Guid: simGuid(7, 1), CurrencyCode: 'NZD', Description: 'New Zealand, Dollars' },
  { Guid: simGuid(7, 2), CurrencyCode: 'AUD', Description: 'Australia, Dollars' },
];
const NAMES = ['Harbour Cafe', 'Kauri Foods', 'Tui Grocers', 'Summit Deli', 'Bay Provisions'] as const;
const TYPES = ['Retail', 'Wholesale', null] as const;
const SUPPLIERS = [
  { Guid: simGuid(8, 1), SupplierCode: 'BEANCO', SupplierName: 'Bean Co Importers' },
  { Guid: simGuid(8, 2), SupplierCode: 'PACKRITE', SupplierName: 'Packrite Packaging' },
  { Guid: simGuid(8, 3), SupplierCode: 'SNACKWORKS', SupplierName: 'Snackworks Ltd' },
];
const round = (n: number) => Math.round(n * 100) / 100;

/** Customer i (0-based): every 6th obsolete, every 4th without a phone, names and types rotate. */
export function seedCustomers(): SimCustomer[] {
  return Array.from({ length: CUSTOMER_COUNT }, (_, i) => {
    const name = `${NAMES[i % NAMES.length]} ${Math.floor(i / NAMES.length) + 1}`;
    return {
      Guid: simGuid(9, i + 1),
      CustomerCode: `${NAMES[i % NAMES.length].slice(0, 4).toUpperCase()}${String(i + 1).padStart(3, '0')}`,
      CustomerName: name,
      CustomerType: TYPES[i % TYPES.length],
      Email: i % 7 === 3 ? null : `accounts${i + 1}@customer${i + 1}.example`,
      PhoneNumber: i % 4 === 3 ? null : `+64 9 555 ${String(1000 + i)}`,
      Currency: CURRENCIES[i % CURRENCIES.length],
      Obsolete: i % 6 === 5,
      CreatedOn: msDate(FIRST_ORDER_MS - 90 * DAY_MS + i * DAY_MS),
      LastModifiedOn: msDate(FIRST_ORDER_MS - 10 * DAY_MS + i * 2 * DAY_MS + 3_600_000),
    };
  });
}

/** 1-3 lines over the simulator's products, and the totals they make. */
function linesOf(n: number, products: readonly { Guid: string; ProductCode: string }[]) {
  const lines: SimLine[] = Array.from({ length: (n % 3) + 1 }, (_, l) => {
    const product = products[(n * 3 + l) % products.length];
    const qty = ((n + l) % 5) + 1;
    const price = round(4.5 + ((n * 7 + l) % 20) * 1.25);
    return {
      LineNumber: l + 1,
      Product: { Guid: product.Guid, ProductCode: product.ProductCode },
      OrderQuantity: qty,
      UnitPrice: price,
      LineTotal: round(qty * price),
    };
  });
  const sub = round(lines.reduce((s, l) => s + l.LineTotal, 0));
  const tax = round(sub * TAX_RATE);
  return { lines, SubTotal: sub, TaxTotal: tax, Total: round(sub + tax) };
}

interface OrderSeed {
  guid: string;
  number: string;
  status: string;
  done: boolean;
  currency: SimCustomer['Currency'];
}

function orderBase(n: number, { guid, number, status, done, currency }: OrderSeed) {
  const date = FIRST_ORDER_MS + n * DAY_MS;
  const warehouse = WAREHOUSES[n % WAREHOUSES.length];
  return {
    Guid: guid,
    OrderNumber: number,
    OrderDate: msDate(date),
    RequiredDate: msDate(date + 7 * DAY_MS),
    CompletedDate: done ? msDate(date + 3 * DAY_MS + 36_000_000) : null,
    OrderStatus: status,
    Warehouse: {
      Guid: simGuid(6, (n % WAREHOUSES.length) + 1),
      WarehouseCode: warehouse.code,
      WarehouseName: warehouse.name,
    },
    Currency: currency,
    LastModifiedOn: msDate(date + (done ? 3 * DAY_MS + 36_000_000 : 5_400_000)),
  };
}

/** Sales order n (0-based), one a day, for the live customers in turn; statuses rotate. */
export function seedSalesOrders(
  customers: readonly SimCustomer[],
  products: readonly { Guid: string; ProductCode: string }[],
): SimSalesOrder[] {
  const live = customers.filter((c) => !c.Obsolete);
  return Array.from({ length: SALES_ORDER_COUNT }, (_, n) => {
    const customer = live[n % live.length];
    const status = SALES_STATUSES[n % SALES_STATUSES.length];
    const { lines, ...totals } = linesOf(n, products);
    return {
      ...orderBase(n, {
        guid: simGuid(2, n + 1),
        number: `SO-${String(n + 1).padStart(8, '0')}`,
        status,
        done: status === 'Completed',
        currency: customer.Currency,
      }),
      Customer: {
        Guid: customer.Guid,
        CustomerCode: customer.CustomerCode,
        CustomerName: customer.CustomerName,
      },
      ...totals,
      SalesOrderLines: lines,
    };
  });
}

/** Purchase order n (0-based), one a day, from the suppliers in turn, in NZD; statuses rotate. */
export function seedPurchaseOrders(
  products: readonly { Guid: string; ProductCode: string }[],
): SimPurchaseOrder[] {
  return Array.from({ length: PURCHASE_ORDER_COUNT }, (_, n) => {
    const status = PURCHASE_STATUSES[n % PURCHASE_STATUSES.length];
    const { lines, ...totals } = linesOf(n + 100, products);
    return {
      ...orderBase(n, {
        guid: simGuid(2, 0x10000 + n + 1),
        number: `PO-${String(n + 1).padStart(8, '0')}`,
        status,
        done: status === 'Complete',
        currency: CURRENCIES[0],
      }),
      Supplier: SUPPLIERS[n % SUPPLIERS.length],
      ...totals,
      PurchaseOrderLines: lines,
    };
  });
}
