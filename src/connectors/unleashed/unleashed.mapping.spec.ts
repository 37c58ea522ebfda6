import {
  CUSTOMERS_PAGE,
  errorDetail,
  msDateToIso,
  PRODUCTS_PAGE,
  PURCHASE_ORDERS_PAGE,
  SALES_ORDERS_PAGE,
  STOCK_ON_HAND_PAGE,
} from './unleashed.mapping';

const pagination = { NumberOfItems: 41, PageSize: 20, PageNumber: 3, NumberOfPages: 3 };

describe('msDateToIso', () => {
  it('reads /Date(ms)/ as UTC milliseconds', () => {
    expect(msDateToIso('/Date(1471582359667)/')).toBe('2016-08-19T04:52:39.667Z');
    expect(msDateToIso('/Date(0)/')).toBe('1970-01-01T00:00:00.000Z');
    expect(msDateToIso('/Date(-86400000)/')).toBe('1969-12-31T00:00:00.000Z');
  });

  it('keeps the instant when an offset is written beside it', () => {
    expect(msDateToIso('/Date(1539993600000+0000)/')).toBe('2018-10-20T00:00:00.000Z');
    expect(msDateToIso('/Date(1539993600000+1300)/')).toBe('2018-10-20T00:00:00.000Z');
  });

  it('refuses anything else', () => {
    for (const bad of [
      '2018-10-20',
      '/Date()/',
      '/Date(abc)/',
      'Date(1)',
      '/Date(1)',
      '/Date(1)/ and more',
      '/Date(99999999999999999)/',
      // 16 digits: a Date could hold it (the year 33658), but no Unleashed date is that far out.
      '/Date(1000000000000000)/',
    ])
      expect(msDateToIso(bad)).toBeUndefined();
  });
});

describe('PRODUCTS_PAGE', () => {
  const product = {
    Guid: 'g-1',
    ProductCode: 'BEV-001',
    ProductDescription: 'Cola',
    Barcode: null,
    UnitOfMeasure: { Guid: 'u', Name: 'EA' },
    ProductGroup: { Guid: 'pg', GroupName: 'Beverages' },
    DefaultSellPrice: 5.5,
    DefaultPurchasePrice: 2,
    IsSellable: true,
    Obsolete: false,
    CreatedOn: '/Date(1700000000000)/',
    LastModifiedOn: '/Date(1704101400000)/',
    SomethingNew: 'dropped',
  };

  it('maps items to camelCase with ISO dates and the pagination', () => {
    const page = PRODUCTS_PAGE.parse({ Pagination: pagination, Items: [product] });
    expect(page).toEqual({
      items: [
        {
          guid: 'g-1',
          productCode: 'BEV-001',
          productDescription: 'Cola',
          barcode: null,
          unitOfMeasure: 'EA',
          productGroup: 'Beverages',
          defaultSellPrice: 5.5,
          defaultPurchasePrice: 2,
          isSellable: true,
          obsolete: false,
          createdOn: '2023-11-14T22:13:20.000Z',
          lastModifiedOn: '2024-01-01T09:30:00.000Z',
        },
      ],
      pagination: { page: 3, pageSize: 20, numberOfPages: 3, numberOfItems: 41 },
    });
  });

  it('turns fields Unleashed leaves out into nulls', () => {
    const page = PRODUCTS_PAGE.parse({ Pagination: pagination, Items: [{ Guid: 'g', ProductCode: 'X' }] });
    expect(page.items[0]).toEqual({
      guid: 'g',
      productCode: 'X',
      productDescription: null,
      barcode: null,
      unitOfMeasure: null,
      productGroup: null,
      defaultSellPrice: null,
      defaultPurchasePrice: null,
      isSellable: null,
      obsolete: null,
      createdOn: null,
      lastModifiedOn: null,
    });
  });

  it('refuses what is not the documented envelope', () => {
    for (const bad of [
      {},
      { Items: [product] },
      { Pagination: pagination },
      { Pagination: { ...pagination, PageNumber: 0 }, Items: [] },
      { Pagination: { ...pagination, PageSize: 0 }, Items: [] },
      { Pagination: { ...pagination, NumberOfItems: -1 }, Items: [] },
      { Pagination: pagination, Items: [{ ...product, ProductCode: undefined }] },
      { Pagination: pagination, Items: [{ ...product, LastModifiedOn: '2024-01-01' }] },
      { Pagination: pagination, Items: [{ ...product, DefaultSellPrice: '5.50' }] },
      { Pagination: pagination, Items: new Array(1001).fill(product) },
      '<Response/>',
    ])
      expect(PRODUCTS_PAGE.safeParse(bad).success).toBe(false);
  });
});

describe('STOCK_ON_HAND_PAGE', () => {
  it('maps the documented fields', () => {
    const row = {
      Guid: 's',
      ProductGuid: 'p',
      ProductCode: 'BEV-001',
      ProductDescription: 'Cola',
      WarehouseId: 'w',
      WarehouseCode: 'MAIN',
      Warehouse: 'Main Warehouse',
      QtyOnHand: 12,
      AllocatedQty: 2,
      AvailableQty: 10,
      AvgCost: 1.5,
      TotalCost: 18,
      LastModifiedOn: '/Date(1471582359667)/',
    };
    expect(STOCK_ON_HAND_PAGE.parse({ Pagination: pagination, Items: [row] }).items).toEqual([
      {
        productGuid: 'p',
        productCode: 'BEV-001',
        productDescription: 'Cola',
        warehouseCode: 'MAIN',
        warehouseName: 'Main Warehouse',
        qtyOnHand: 12,
        allocatedQty: 2,
        availableQty: 10,
        avgCost: 1.5,
        totalCost: 18,
        lastModifiedOn: '2016-08-19T04:52:39.667Z',
      },
    ]);
    expect(
      STOCK_ON_HAND_PAGE.safeParse({ Pagination: pagination, Items: [{ ...row, QtyOnHand: null }] }).success,
    ).toBe(false);
  });

  it('maps a total across warehouses (warehouse fields empty, null or absent) to a null warehouse', () => {
    // Unleashed's GET /StockOnHand example: Guid = ProductGuid, WarehouseId/WarehouseCode/Warehouse empty.
    const total = {
      Guid: 'p',
      ProductGuid: 'p',
      ProductCode: 'BEV-001',
      ProductDescription: 'Cola',
      QtyOnHand: 69,
      AllocatedQty: 0,
      AvailableQty: 69,
      AvgCost: 1774.93449333333333,
      TotalCost: 122470.48004,
      LastModifiedOn: '/Date(1471582359667)/',
    };
    const items = STOCK_ON_HAND_PAGE.parse({
      Pagination: pagination,
      Items: [
        { ...total, WarehouseId: '', WarehouseCode: '', Warehouse: '' },
        { ...total, WarehouseId: null, WarehouseCode: null, Warehouse: null },
        { ...total, WarehouseCode: ' ', Warehouse: ' ' },
        total,
      ],
    }).items;
    for (const item of items) {
      expect(item).toMatchObject({ productGuid: 'p', qtyOnHand: 69, totalCost: 122470.48004 });
      expect(item.warehouseCode).toBeNull();
      expect(item.warehouseName).toBeNull();
    }
  });
});

const order = {
  Guid: 'o-1',
  OrderNumber: 'SO-00000012',
  OrderDate: '/Date(1704067200000)/',
  RequiredDate: '/Date(1704672000000)/',
  CompletedDate: null,
  OrderStatus: 'Placed',
  Warehouse: { Guid: 'w', WarehouseCode: 'MAIN', WarehouseName: 'Main Warehouse' },
  Currency: { Guid: 'c', CurrencyCode: 'NZD', Description: 'New Zealand, Dollars' },
  SubTotal: 100,
  TaxTotal: 15,
  Total: 115,
  LastModifiedOn: '/Date(1704101400000)/',
  Comments: 'dropped',
};
const orderOut = {
  guid: 'o-1',
  orderNumber: 'SO-00000012',
  orderStatus: 'Placed',
  orderDate: '2024-01-01T00:00:00.000Z',
  requiredDate: '2024-01-08T00:00:00.000Z',
  completedDate: null,
  warehouseCode: 'MAIN',
  currencyCode: 'NZD',
  subTotal: 100,
  taxTotal: 15,
  total: 115,
  lineCount: 2,
  lastModifiedOn: '2024-01-01T09:30:00.000Z',
};

describe('SALES_ORDERS_PAGE', () => {
  const sale = {
    ...order,
    Customer: { Guid: 'cu', CustomerCode: 'ACME', CustomerName: 'Acme Ltd', CurrencyId: 48 },
    SalesOrderLines: [{ LineNumber: 1 }, { LineNumber: 2 }],
  };

  it('maps an order with its customer, counting its lines', () => {
    const page = SALES_ORDERS_PAGE.parse({ Pagination: pagination, Items: [sale] });
    expect(page.items).toEqual([{ ...orderOut, customerCode: 'ACME', customerName: 'Acme Ltd' }]);
    expect(Object.keys(page.items[0])).not.toContain('salesOrderLines');
    expect(page.pagination.numberOfItems).toBe(41);
  });

  it('gives nulls for the customer, warehouse, currency, totals and lines Unleashed leaves out', () => {
    const bare = { Guid: 'o', OrderNumber: 'SO-1', OrderStatus: 'Parked' };
    expect(SALES_ORDERS_PAGE.parse({ Pagination: pagination, Items: [bare] }).items[0]).toEqual({
      guid: 'o',
      orderNumber: 'SO-1',
      orderStatus: 'Parked',
      customerCode: null,
      customerName: null,
      orderDate: null,
      requiredDate: null,
      completedDate: null,
      warehouseCode: null,
      currencyCode: null,
      subTotal: null,
      taxTotal: null,
      total: null,
      lineCount: null,
      lastModifiedOn: null,
    });
  });

  it('refuses an order without its number or status, or with a malformed date or total', () => {
    for (const bad of [
      { ...sale, OrderNumber: undefined },
      { ...sale, OrderStatus: null },
      { ...sale, OrderDate: '2024-01-01' },
      { ...sale, Total: '115.00' },
      { ...sale, SalesOrderLines: 'two' },
    ])
      expect(SALES_ORDERS_PAGE.safeParse({ Pagination: pagination, Items: [bad] }).success).toBe(false);
  });
});

describe('PURCHASE_ORDERS_PAGE', () => {
  it('maps an order with its supplier in place of a customer', () => {
    const purchase = {
      ...order,
      OrderNumber: 'PO-00000007',
      CompletedDate: '/Date(1704153600000)/',
      Supplier: { Guid: 's', SupplierCode: 'BEANCO', SupplierName: 'Bean Co' },
      PurchaseOrderLines: [{}, {}],
    };
    const [item] = PURCHASE_ORDERS_PAGE.parse({ Pagination: pagination, Items: [purchase] }).items;
    expect(item).toEqual({
      ...orderOut,
      orderNumber: 'PO-00000007',
      completedDate: '2024-01-02T00:00:00.000Z',
      supplierCode: 'BEANCO',
      supplierName: 'Bean Co',
    });
    expect(item).not.toHaveProperty('customerCode');
  });
});

describe('CUSTOMERS_PAGE', () => {
  it('maps a customer with its currency code and ISO dates', () => {
    const customer = {
      Guid: 'cu-1',
      CustomerCode: 'ACME',
      CustomerName: 'Acme Ltd',
      CustomerType: 'Wholesale',
      Email: 'orders@acme.example',
      PhoneNumber: null,
      Currency: { CurrencyCode: 'AUD' },
      Obsolete: false,
      CreatedOn: '/Date(1700000000000)/',
      LastModifiedOn: '/Date(1704101400000+1300)/',
      Addresses: [{ AddressType: 'Postal' }],
    };
    expect(CUSTOMERS_PAGE.parse({ Pagination: pagination, Items: [customer] }).items).toEqual([
      {
        guid: 'cu-1',
        customerCode: 'ACME',
        customerName: 'Acme Ltd',
        customerType: 'Wholesale',
        email: 'orders@acme.example',
        phoneNumber: null,
        currencyCode: 'AUD',
        obsolete: false,
        createdOn: '2023-11-14T22:13:20.000Z',
        lastModifiedOn: '2024-01-01T09:30:00.000Z',
      },
    ]);
    expect(
      CUSTOMERS_PAGE.safeParse({ Pagination: pagination, Items: [{ ...customer, CustomerCode: 7 }] }).success,
    ).toBe(false);
  });

  it('turns what Unleashed leaves out of a customer into nulls', () => {
    expect(
      CUSTOMERS_PAGE.parse({
        Pagination: pagination,
        Items: [{ Guid: 'cu-2', CustomerCode: 'BOLT', Obsolete: null }],
      }).items,
    ).toEqual([
      {
        guid: 'cu-2',
        customerCode: 'BOLT',
        customerName: null,
        customerType: null,
        email: null,
        phoneNumber: null,
        currencyCode: null,
        obsolete: null,
        createdOn: null,
        lastModifiedOn: null,
      },
    ]);
  });
});

describe('errorDetail', () => {
  it('takes a known field, cleaned and cut to 300 characters', () => {
    expect(errorDetail({ Description: 'Bad date' })).toBe('Bad date');
    expect(errorDetail({ message: 'line one\nline two\u0000' })).toBe('line one line two');
    const long = errorDetail({ Message: 'x'.repeat(5000) });
    expect(long).toHaveLength(300);
    expect(long?.endsWith('…')).toBe(true);
    // Exactly 300 characters are kept whole.
    expect(errorDetail({ Message: 'y'.repeat(300) })).toBe('y'.repeat(300));
  });

  it('takes nothing else', () => {
    for (const body of [
      undefined,
      null,
      'Bad date',
      ['Bad'],
      { Error: 'x' },
      { Description: 7 },
      { message: '  ' },
    ])
      expect(errorDetail(body)).toBeUndefined();
  });
});
