import { z } from 'zod';

/**
 * Unleashed's response shapes (UPSTREAMS.md), validated before anything is
 * handed on, and their mapping to what the tools return: camelCase fields,
 * ISO 8601 dates, nulls for what Unleashed leaves out. Unknown fields are
 * dropped; a missing required field or a malformed date fails validation
 * (the client turns that into `upstream_bad_response`).
 */

const MS_DATE = /^\/Date\((-?\d{1,15})([+-]\d{4})?\)\/$/;

/**
 * `/Date(1471582359667)/` (or with an offset, `/Date(1539993600000+0000)/`)
 * to ISO 8601 UTC. The number is milliseconds since the epoch in UTC; the
 * offset, when present, only says where the value was written, so it does
 * not change the instant. Undefined for anything else.
 */
export function msDateToIso(value: string): string | undefined {
  const m = MS_DATE.exec(value);
  if (!m) return undefined;
  const date = new Date(Number(m[1]));
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** A `/Date(ms)/` field as ISO; null when absent or null. */
const msDate = z
  .string()
  .transform((value, ctx) => {
    const iso = msDateToIso(value);
    if (iso === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a /Date(ms)/ date' });
      return z.NEVER;
    }
    return iso;
  })
  .nullish()
  .transform((v) => v ?? null);

const nullableString = z
  .string()
  .nullish()
  .transform((v) => v ?? null);
/**
 * A text field where Unleashed may write "none" as an empty string: a product's
 * stock total across warehouses has empty warehouse fields in Unleashed's
 * GET /StockOnHand example (their JSON form, "" or null, is unconfirmed).
 * Blank is null, so a row with a code is always one warehouse's.
 */
const blankAsNull = z
  .string()
  .nullish()
  .transform((v) => (v === undefined || v === null || v.trim() === '' ? null : v));
const nullableNumber = z
  .number()
  .nullish()
  .transform((v) => v ?? null);
const nullableBoolean = z
  .boolean()
  .nullish()
  .transform((v) => v ?? null);

export const MAX_PAGE_SIZE = 1000;

const PAGINATION = z.object({
  NumberOfItems: z.number().int().min(0),
  PageSize: z.number().int().min(1),
  PageNumber: z.number().int().min(1),
  NumberOfPages: z.number().int().min(0),
});

/** The envelope around every list: `{"Pagination": {...}, "Items": [...]}`. */
function envelope<T extends z.ZodType>(item: T) {
  return z
    .object({ Pagination: PAGINATION, Items: z.array(item).max(MAX_PAGE_SIZE) })
    .transform(({ Pagination, Items }) => ({
      items: Items as z.output<T>[],
      pagination: {
        page: Pagination.PageNumber,
        pageSize: Pagination.PageSize,
        numberOfPages: Pagination.NumberOfPages,
        numberOfItems: Pagination.NumberOfItems,
      },
    }));
}

const PRODUCT = z
  .object({
    Guid: z.string(),
    ProductCode: z.string(),
    ProductDescription: nullableString,
    Barcode: nullableString,
    UnitOfMeasure: z.object({ Name: nullableString }).nullish(),
    ProductGroup: z.object({ GroupName: nullableString }).nullish(),
    DefaultSellPrice: nullableNumber,
    DefaultPurchasePrice: nullableNumber,
    IsSellable: nullableBoolean,
    Obsolete: nullableBoolean,
    CreatedOn: msDate,
    LastModifiedOn: msDate,
  })
  .transform((p) => ({
    guid: p.Guid,
    productCode: p.ProductCode,
    productDescription: p.ProductDescription,
    barcode: p.Barcode,
    unitOfMeasure: p.UnitOfMeasure?.Name ?? null,
    productGroup: p.ProductGroup?.GroupName ?? null,
    defaultSellPrice: p.DefaultSellPrice,
    defaultPurchasePrice: p.DefaultPurchasePrice,
    isSellable: p.IsSellable,
    obsolete: p.Obsolete,
    createdOn: p.CreatedOn,
    lastModifiedOn: p.LastModifiedOn,
  }));

const STOCK_ON_HAND = z
  .object({
    ProductGuid: nullableString,
    ProductCode: z.string(),
    ProductDescription: nullableString,
    WarehouseCode: blankAsNull,
    Warehouse: blankAsNull,
    QtyOnHand: z.number(),
    AllocatedQty: nullableNumber,
    AvailableQty: nullableNumber,
    AvgCost: nullableNumber,
    TotalCost: nullableNumber,
    LastModifiedOn: msDate,
  })
  .transform((s) => ({
    productGuid: s.ProductGuid,
    productCode: s.ProductCode,
    productDescription: s.ProductDescription,
    warehouseCode: s.WarehouseCode,
    warehouseName: s.Warehouse,
    qtyOnHand: s.QtyOnHand,
    allocatedQty: s.AllocatedQty,
    availableQty: s.AvailableQty,
    avgCost: s.AvgCost,
    totalCost: s.TotalCost,
    lastModifiedOn: s.LastModifiedOn,
  }));

/** The code of a nested `{ CurrencyCode }` / `{ WarehouseCode }` object; null when absent. */
const currency = z.object({ CurrencyCode: nullableString }).nullish();
const warehouse = z.object({ WarehouseCode: nullableString }).nullish();
/** An order's lines are only counted here; their contents are not handed on. */
const lines = z.array(z.unknown()).nullish();

/** What sales and purchase orders share, before the party (customer or supplier) is added. */
const ORDER_FIELDS = {
  Guid: z.string(),
  OrderNumber: z.string(),
  OrderDate: msDate,
  RequiredDate: msDate,
  CompletedDate: msDate,
  OrderStatus: z.string(),
  Warehouse: warehouse,
  Currency: currency,
  SubTotal: nullableNumber,
  TaxTotal: nullableNumber,
  Total: nullableNumber,
  LastModifiedOn: msDate,
};

type OrderFields = z.output<z.ZodObject<typeof ORDER_FIELDS>>;

/** The shared part of an order as the tools return it; the party's fields go after `orderStatus`. */
function orderHead(o: OrderFields) {
  return { guid: o.Guid, orderNumber: o.OrderNumber, orderStatus: o.OrderStatus };
}
function orderTail(o: OrderFields, lineItems: unknown[] | null | undefined) {
  return {
    orderDate: o.OrderDate,
    requiredDate: o.RequiredDate,
    completedDate: o.CompletedDate,
    warehouseCode: o.Warehouse?.WarehouseCode ?? null,
    currencyCode: o.Currency?.CurrencyCode ?? null,
    subTotal: o.SubTotal,
    taxTotal: o.TaxTotal,
    total: o.Total,
    lineCount: lineItems?.length ?? null,
    lastModifiedOn: o.LastModifiedOn,
  };
}

const SALES_ORDER = z
  .object({
    ...ORDER_FIELDS,
    Customer: z.object({ CustomerCode: nullableString, CustomerName: nullableString }).nullish(),
    SalesOrderLines: lines,
  })
  .transform((o) => ({
    ...orderHead(o),
    customerCode: o.Customer?.CustomerCode ?? null,
    customerName: o.Customer?.CustomerName ?? null,
    ...orderTail(o, o.SalesOrderLines),
  }));

const PURCHASE_ORDER = z
  .object({
    ...ORDER_FIELDS,
    Supplier: z.object({ SupplierCode: nullableString, SupplierName: nullableString }).nullish(),
    PurchaseOrderLines: lines,
  })
  .transform((o) => ({
    ...orderHead(o),
    supplierCode: o.Supplier?.SupplierCode ?? null,
    supplierName: o.Supplier?.SupplierName ?? null,
    ...orderTail(o, o.PurchaseOrderLines),
  }));

const CUSTOMER = z
  .object({
    Guid: z.string(),
    CustomerCode: z.string(),
    CustomerName: nullableString,
    CustomerType: nullableString,
    Email: nullableString,
    PhoneNumber: nullableString,
    Currency: currency,
    Obsolete: nullableBoolean,
    CreatedOn: msDate,
    LastModifiedOn: msDate,
  })
  .transform((c) => ({
    guid: c.Guid,
    customerCode: c.CustomerCode,
    customerName: c.CustomerName,
    customerType: c.CustomerType,
    email: c.Email,
    phoneNumber: c.PhoneNumber,
    currencyCode: c.Currency?.CurrencyCode ?? null,
    obsolete: c.Obsolete,
    createdOn: c.CreatedOn,
    lastModifiedOn: c.LastModifiedOn,
  }));

export const PRODUCTS_PAGE = envelope(PRODUCT);
export const STOCK_ON_HAND_PAGE = envelope(STOCK_ON_HAND);
export const SALES_ORDERS_PAGE = envelope(SALES_ORDER);
export const PURCHASE_ORDERS_PAGE = envelope(PURCHASE_ORDER);
export const CUSTOMERS_PAGE = envelope(CUSTOMER);

export type ProductsPage = z.output<typeof PRODUCTS_PAGE>;
export type StockOnHandPage = z.output<typeof STOCK_ON_HAND_PAGE>;
export type SalesOrdersPage = z.output<typeof SALES_ORDERS_PAGE>;
export type PurchaseOrdersPage = z.output<typeof PURCHASE_ORDERS_PAGE>;
export type CustomersPage = z.output<typeof CUSTOMERS_PAGE>;
export type UnleashedProduct = ProductsPage['items'][number];
export type UnleashedStockOnHand = StockOnHandPage['items'][number];

const MAX_DETAIL = 300;

/**
 * A short, printable validation message from a 400 body's known fields
 * (`Description`, `description`, `Message`, `message`; Unleashed's error
 * shape is unconfirmed), cut to 300 characters; undefined when none is there.
 * Never the raw body.
 */
export function errorDetail(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const record = body as Record<string, unknown>;
  for (const key of ['Description', 'description', 'Message', 'message']) {
    const value = record[key];
    if (typeof value !== 'string') continue;
    const clean = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    if (clean === '') continue;
    return clean.length > MAX_DETAIL ? `${clean.slice(0, MAX_DETAIL - 1)}…` : clean;
  }
  return undefined;
}
