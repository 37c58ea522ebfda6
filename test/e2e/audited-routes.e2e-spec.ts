/**
 * The AuditInterceptor is applied per controller (`@Audited()`), not globally
 * (see its doc comment). This walks every controller the application
 * registers and fails when one under an audited prefix (/admin, /credentials)
 * lacks it, so a new admin controller cannot go unaudited by omission.
 */
import { INTERCEPTORS_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { AuditInterceptor, isAuditedPath } from '../../src/audit/audit.interceptor';
import { startApp, StartedApp } from '../support/start-app';

describe('audited routes', () => {
  let started: StartedApp;
  beforeAll(async () => {
    started = await startApp();
  });
  afterAll(async () => started?.close());

  it('puts the AuditInterceptor on every controller under an audited prefix, and only there', () => {
    const controllers = [...started.app.get(ModulesContainer).values()].flatMap((m) =>
      [...m.controllers.values()].map((w) => w.metatype as object),
    );
    const rows = controllers.map((controller) => {
      const paths = [Reflect.getMetadata(PATH_METADATA, controller) as string | string[]].flat();
      const interceptors = (Reflect.getMetadata(INTERCEPTORS_METADATA, controller) ?? []) as unknown[];
      return {
        controller: (controller as { name: string }).name,
        audited: paths.some((p) => isAuditedPath(`/${p.replace(/^\/+/, '')}`)),
        intercepted: interceptors.includes(AuditInterceptor),
      };
    });
    expect(rows.length).toBeGreaterThanOrEqual(6);
    expect(
      rows
        .filter((r) => r.audited)
        .map((r) => r.controller)
        .sort(),
    ).toEqual(['ApiKeysController', 'AuditController', 'ConnectorsAdminController', 'CredentialsController']);
    expect(rows.filter((r) => r.audited !== r.intercepted)).toEqual([]);
  });
});
