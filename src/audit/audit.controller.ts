import { applyDecorators, Controller, Get, Logger, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, RequirePermission } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { writeOrGiveUp } from '../common/write-or-give-up';
import { EXPORT_FORMATS, parseAuditQuery } from './audit-query';
import { AUDIT_KINDS, AUDIT_OUTCOMES } from './audit-record';
import { Audited } from './audit.interceptor';
import { AuditPageDto } from './audit.dto';
import { AuditEntryDto, AuditPage, AuditService } from './audit.service';

const CSV_COLUMNS: Array<keyof AuditEntryDto> = [
  'id',
  'occurredAt',
  'organizationId',
  'userId',
  'keyId',
  'kind',
  'action',
  'outcome',
  'status',
  'errorCode',
  'durationMs',
  'ip',
  'userAgent',
  'requestId',
  'argsDigest',
  'args',
  'writerId',
  'seq',
  'prevHash',
  'hash',
];

/**
 * RFC 4180 field. A leading = + - @ tab or CR is prefixed with ' so
 * spreadsheets do not run it as a formula; a field holding a semicolon or a
 * tab is quoted as well as one holding a comma, quote or line break, so a
 * spreadsheet that splits on those (as many locales do) still sees one cell,
 * and a formula after the separator stays text.
 */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  let s = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",;\t\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The filters both routes take, in the OpenAPI document (parseAuditQuery checks them). */
const FilterQueries = () =>
  applyDecorators(
    ApiQuery({
      name: 'from',
      required: false,
      description: 'ISO 8601 time, inclusive (years 1-9999 in UTC)',
    }),
    ApiQuery({ name: 'to', required: false, description: 'ISO 8601 time, exclusive' }),
    ApiQuery({ name: 'userId', required: false }),
    ApiQuery({ name: 'keyId', required: false }),
    ApiQuery({ name: 'kind', required: false, enum: [...AUDIT_KINDS] }),
    ApiQuery({ name: 'action', required: false, description: 'A tool name or `METHOD /route`, exactly' }),
    ApiQuery({ name: 'outcome', required: false, enum: [...AUDIT_OUTCOMES] }),
    ApiBadRequestResponse({
      description: 'A parameter is invalid or unknown (code invalid_query; errors names each)',
    }),
  );

/** The organisation's audit trail: query and streaming export. */
@ApiTags('audit')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No valid API key (see WWW-Authenticate)' })
@ApiForbiddenResponse({ description: 'The key lacks audit:read' })
@RequirePermission('audit:read')
@Audited()
@Controller('admin/audit')
export class AuditController {
  private readonly logger = new Logger(AuditController.name);

  constructor(
    private readonly audit: AuditService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Audit records of your organisation, newest first',
    description:
      `Filters: from, to (ISO 8601; from inclusive, to exclusive), userId, keyId, kind (${AUDIT_KINDS.join('|')}), ` +
      'action, outcome; limit (1-500, default 100); cursor (nextCursor of the previous page).',
  })
  @ApiOkResponse({ type: AuditPageDto })
  @FilterQueries()
  @ApiQuery({ name: 'limit', required: false, description: 'Records per page, 1-500 (default 100)' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  list(
    @CurrentPrincipal() principal: Principal,
    @Query() query: Record<string, unknown>,
  ): Promise<AuditPage> {
    return this.audit.list(principal, parseAuditQuery(query));
  }

  @Get('export')
  @ApiOperation({
    summary: 'Streams every matching audit record, newest first (format=ndjson|csv; same filters)',
  })
  @ApiProduces('application/x-ndjson', 'text/csv')
  @ApiOkResponse({
    description:
      'Every matching record, newest first: one JSON object a line (ndjson, the fields of GET /admin/audit), ' +
      'or CSV with a header row; sent as an attachment',
  })
  @FilterQueries()
  @ApiQuery({ name: 'format', required: false, enum: [...EXPORT_FORMATS], description: 'Default ndjson' })
  async export(
    @CurrentPrincipal() principal: Principal,
    @Query() query: Record<string, unknown>,
    @Res() res: Response,
  ): Promise<void> {
    const { format, limit: _limit, cursor: _cursor, ...filter } = parseAuditQuery(query, true);
    const csv = format === 'csv';
    // The first page before any byte goes out: a failure now still gets a proper answer (503
    // database_unavailable when the database cannot be read), not a stream cut after a 200.
    const rows = this.audit.exportRows(principal, filter);
    let next = await rows.next();
    res.status(200);
    res.setHeader('Content-Type', csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="audit.${csv ? 'csv' : 'ndjson'}"`);
    res.setHeader('Cache-Control', 'no-store');
    let closed = false;
    res.once('close', () => (closed = true));
    // A client that stops reading is cut off after AUDIT_EXPORT_STALL_MS: it would otherwise hold its
    // page of rows and its socket for as long as it keeps the connection open.
    const write = (chunk: string) => writeOrGiveUp(res, chunk, this.config.audit.exportStallMs);
    try {
      if (csv) await write(CSV_COLUMNS.join(',') + '\r\n');
      for (; !next.done; next = await rows.next()) {
        if (closed || res.destroyed) {
          await rows.return(undefined);
          return;
        }
        const entry = next.value;
        await write(
          csv ? CSV_COLUMNS.map((c) => csvField(entry[c])).join(',') + '\r\n' : JSON.stringify(entry) + '\n',
        );
      }
      res.end();
    } catch (err) {
      this.logger.error({ message: 'Audit export failed mid-stream', error: err });
      // Headers are gone: cut the stream so the client sees an incomplete export, not a clean end.
      res.destroy();
    }
  }
}
