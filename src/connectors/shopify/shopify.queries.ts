import { z } from 'zod';

/**
 * The connector's GraphQL operations, the zod schemas of their `data`, and the
 * mapping to what the tools return. Each page size is bounded so that the
 * query's requested cost stays within Shopify's 1000-point single-query limit
 * (an object costs 1, a connection 2 plus its `first`, nested connections
 * multiply): orders 3 + 5 per order, products 3 + (4 + VARIANTS_PER_PRODUCT)
 * per product, customers 3 + 3 per customer; inventory items in
 * shopify-inventory.queries.ts.
 */

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;
export const VARIANTS_PER_PRODUCT = 5;
export const MAX_SEARCH_LENGTH = 500;

export const LIST_ORDERS = `query ListOrders($first: Int!, $after: String, $query: String, $reverse: Boolean) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT, reverse: $reverse) {
    nodes {
      id
      name
      createdAt
      displayFinancialStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      customer { defaultEmailAddress { emailAddress } }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const LIST_PRODUCTS = `query ListProducts($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query) {
    nodes {
      id
      title
      status
      totalInventory
      variantsCount { count }
      variants(first: ${VARIANTS_PER_PRODUCT}) { nodes { sku price } }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const LIST_CUSTOMERS = `query ListCustomers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query) {
    nodes {
      id
      displayName
      defaultEmailAddress { emailAddress }
      state
      numberOfOrders
      amountSpent { amount currencyCode }
      tags
      createdAt
      updatedAt
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const GID = (type: string) =>
  z
    .string()
    .max(200)
    .regex(new RegExp(`^gid://shopify/${type}/\\d+$`));
const AMOUNT = z
  .string()
  .max(40)
  .regex(/^-?\d+(\.\d+)?$/);
export const DATE_TIME = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)));
const MONEY = z.object({ amount: AMOUNT, currencyCode: z.string().max(8) });
export const PAGE_INFO = z.object({ hasNextPage: z.boolean(), endCursor: z.string().max(2000).nullable() });

const ORDER = z.object({
  id: GID('Order'),
  name: z.string().max(200),
  createdAt: DATE_TIME,
  displayFinancialStatus: z.string().max(40).nullable(),
  totalPriceSet: z.object({ shopMoney: MONEY }),
  customer: z
    .object({ defaultEmailAddress: z.object({ emailAddress: z.string().max(320).nullable() }).nullable() })
    .nullable(),
});
export const ORDERS_DATA = z.object({
  orders: z.object({ nodes: z.array(ORDER).max(MAX_PAGE_SIZE), pageInfo: PAGE_INFO }),
});

const PRODUCT = z.object({
  id: GID('Product'),
  title: z.string().max(1000),
  status: z.string().max(40),
  totalInventory: z.number().int().nullable(),
  variantsCount: z.object({ count: z.number().int().nonnegative() }).nullable(),
  variants: z.object({
    nodes: z
      .array(z.object({ sku: z.string().max(255).nullable(), price: AMOUNT }))
      .max(VARIANTS_PER_PRODUCT),
  }),
});
export const PRODUCTS_DATA = z.object({
  products: z.object({ nodes: z.array(PRODUCT).max(MAX_PAGE_SIZE), pageInfo: PAGE_INFO }),
});

const CUSTOMER = z.object({
  id: GID('Customer'),
  displayName: z.string().max(1000),
  defaultEmailAddress: z.object({ emailAddress: z.string().max(320).nullable() }).nullable(),
  state: z.string().max(40),
  // UnsignedInt64: Shopify sends it as a string of digits; a number is taken too.
  numberOfOrders: z.union([z.string().regex(/^\d{1,15}$/), z.number().int().nonnegative()]),
  amountSpent: MONEY,
  tags: z.array(z.string().max(255)).max(250),
  createdAt: DATE_TIME,
  updatedAt: DATE_TIME,
});
export const CUSTOMERS_DATA = z.object({
  customers: z.object({ nodes: z.array(CUSTOMER).max(MAX_PAGE_SIZE), pageInfo: PAGE_INFO }),
});

export interface PageInfo {
  hasNextPage: boolean;
  /** Pass as `after` for the next page; null when the page is empty. */
  endCursor: string | null;
}

export interface OrderSummary {
  id: string;
  name: string;
  /** ISO 8601, UTC. */
  createdAt: string;
  displayFinancialStatus: string | null;
  totalPrice: { amount: string; currencyCode: string };
  customerEmail: string | null;
}

export interface ProductSummary {
  id: string;
  title: string;
  status: string;
  totalInventory: number | null;
  variantsCount: number | null;
  variants: { sku: string | null; price: string }[];
}

export interface CustomerSummary {
  id: string;
  displayName: string;
  email: string | null;
  /** ENABLED, DISABLED, INVITED or DECLINED (the customer account's state). */
  state: string;
  numberOfOrders: number;
  amountSpent: { amount: string; currencyCode: string };
  tags: string[];
  /** ISO 8601, UTC. */
  createdAt: string;
  updatedAt: string;
}

export const isoUtc = (s: string) => new Date(s).toISOString();

export function toOrders(data: z.infer<typeof ORDERS_DATA>): { orders: OrderSummary[]; pageInfo: PageInfo } {
  return {
    orders: data.orders.nodes.map((o) => ({
      id: o.id,
      name: o.name,
      createdAt: isoUtc(o.createdAt),
      displayFinancialStatus: o.displayFinancialStatus,
      totalPrice: {
        amount: o.totalPriceSet.shopMoney.amount,
        currencyCode: o.totalPriceSet.shopMoney.currencyCode,
      },
      customerEmail: o.customer?.defaultEmailAddress?.emailAddress ?? null,
    })),
    pageInfo: { ...data.orders.pageInfo },
  };
}

export function toProducts(data: z.infer<typeof PRODUCTS_DATA>): {
  products: ProductSummary[];
  pageInfo: PageInfo;
} {
  return {
    products: data.products.nodes.map((p) => ({
      id: p.id,
      title: p.title,
      status: p.status,
      totalInventory: p.totalInventory,
      variantsCount: p.variantsCount?.count ?? null,
      variants: p.variants.nodes.map((v) => ({ sku: v.sku, price: v.price })),
    })),
    pageInfo: { ...data.products.pageInfo },
  };
}

export function toCustomers(data: z.infer<typeof CUSTOMERS_DATA>): {
  customers: CustomerSummary[];
  pageInfo: PageInfo;
} {
  return {
    customers: data.customers.nodes.map((c) => ({
      id: c.id,
      displayName: c.displayName,
      email: c.defaultEmailAddress?.emailAddress ?? null,
      state: c.state,
      numberOfOrders: Number(c.numberOfOrders),
      amountSpent: { amount: c.amountSpent.amount, currencyCode: c.amountSpent.currencyCode },
      tags: [...c.tags],
      createdAt: isoUtc(c.createdAt),
      updatedAt: isoUtc(c.updatedAt),
    })),
    pageInfo: { ...data.customers.pageInfo },
  };
}
