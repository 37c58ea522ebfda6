/**
 * Seeded, deterministic shop data for the Shopify simulator: plain records the
 * simulator pages over and shapes as the GraphQL Admin API does (GIDs,
 * camelCase, money as strings).
 */

export interface SimOrder {
  id: string;
  name: string;
  createdAt: string;
  displayFinancialStatus: string | null;
  totalPriceSet: { shopMoney: { amount: string; currencyCode: string } };
  customer: { defaultEmailAddress: { emailAddress: string } | null } | null;
}

export interface SimProduct {
  id: string;
  title: string;
  status: 'ACTIVE' | 'ARCHIVED' | 'DRAFT';
  totalInventory: number;
  variants: { sku: string | null; price: string }[];
}

export interface SimCustomer {
  id: string;
  displayName: string;
  defaultEmailAddress: { emailAddress: string } | null;
  state: 'ENABLED' | 'DISABLED' | 'INVITED' | 'DECLINED';
  /** UnsignedInt64, which Shopify sends as a string. */
  numberOfOrders: string;
  amountSpent: { amount: string; currencyCode: string };
  tags: string[];
  createdAt: string;
  updatedAt: string;
}

const FINANCIAL = ['PAID', 'PENDING', 'PARTIALLY_PAID', 'REFUNDED', 'AUTHORIZED', null] as const;
const PRODUCT_STATUS = ['ACTIVE', 'ACTIVE', 'DRAFT', 'ARCHIVED'] as const;
const DAY_MS = 86_400_000;
const BASE = Date.UTC(2025, 0, 1, 9, 30, 0);

/** Order i (1-based): GID 5000000001..., name #1001..., one a day from 2025-01-01, AUD totals. */
export function seedOrders(count: number): SimOrder[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    const customer =
      i % 7 === 0
        ? null
        : { defaultEmailAddress: i % 11 === 0 ? null : { emailAddress: `customer${i % 10}@example.com` } };
    return {
      id: `gid://shopify/Order/${5_000_000_000 + i}`,
      name: `#${1000 + i}`,
      // Shopify's DateTime: ISO 8601 in UTC, seconds precision.
      createdAt: new Date(BASE + k * DAY_MS + i * 61_000).toISOString().replace('.000Z', 'Z'),
      displayFinancialStatus: FINANCIAL[k % FINANCIAL.length],
      totalPriceSet: {
        shopMoney: { amount: (((i * 1337) % 50_000) / 100 + 10).toFixed(2), currencyCode: 'AUD' },
      },
      customer,
    };
  });
}

/** Product i (1-based): GID 8000000001..., 1-3 variants with SKUs (one without), prices as strings. */
export function seedProducts(count: number): SimProduct[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    const variantCount = (i % 3) + 1;
    return {
      id: `gid://shopify/Product/${8_000_000_000 + i}`,
      title: `${i % 2 === 0 ? 'Organic' : 'Classic'} Blend ${i}`,
      status: PRODUCT_STATUS[k % PRODUCT_STATUS.length],
      totalInventory: (i * 17) % 120,
      variants: Array.from({ length: variantCount }, (_, v) => ({
        sku: i % 5 === 0 && v === 0 ? null : `SKU-${i}-${v + 1}`,
        price: (19.95 + i + v * 5).toFixed(2),
      })),
    };
  });
}

const CUSTOMER_STATE = ['ENABLED', 'ENABLED', 'DISABLED', 'INVITED', 'ENABLED', 'DECLINED'] as const;
const FIRST_NAMES = ['Jo', 'Sam', 'Alex', 'Priya', 'Wiremu', 'Mei', 'Luca'] as const;
const TAGS = [[], ['wholesale'], ['vip', 'newsletter'], ['newsletter']] as const;

/** Customer i (1-based): GID 7000000001..., one every third day from 2024-06-01, every 9th without an email. */
export function seedCustomers(count: number): SimCustomer[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    const first = FIRST_NAMES[k % FIRST_NAMES.length];
    const orders = (i * 7) % 23;
    const created = Date.UTC(2024, 5, 1, 8, 0, 0) + k * 3 * DAY_MS;
    return {
      id: `gid://shopify/Customer/${7_000_000_000 + i}`,
      displayName: `${first} Customer${i}`,
      defaultEmailAddress:
        i % 9 === 0 ? null : { emailAddress: `${first.toLowerCase()}.customer${i}@example.com` },
      state: CUSTOMER_STATE[k % CUSTOMER_STATE.length],
      numberOfOrders: String(orders),
      amountSpent: { amount: (orders * 23.45).toFixed(2), currencyCode: 'AUD' },
      tags: [...TAGS[k % TAGS.length]],
      createdAt: new Date(created).toISOString().replace('.000Z', 'Z'),
      updatedAt: new Date(created + (i % 5) * DAY_MS + 3_600_000).toISOString().replace('.000Z', 'Z'),
    };
  });
}

/**
 * A subset of Shopify's search syntax: `field:value` terms (`financial_status`
 * for orders, `status` for products, case-insensitive) and free words matched
 * against the name / title; all terms must hold.
 */
export function matchesSearch(
  query: string | undefined,
  text: string,
  fields: Record<string, string | null>,
): boolean {
  if (!query) return true;
  for (const term of query.trim().split(/\s+/)) {
    const colon = term.indexOf(':');
    if (colon > 0) {
      const value = fields[term.slice(0, colon).toLowerCase()];
      if (value === undefined) continue; // Shopify ignores filters it does not know
      if ((value ?? '').toLowerCase() !== term.slice(colon + 1).toLowerCase()) return false;
    } else if (!text.toLowerCase().includes(term.toLowerCase())) {
      return false;
    }
  }
  return true;
}
