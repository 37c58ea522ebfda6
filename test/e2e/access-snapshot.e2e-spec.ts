/**
 * Who may reach what: every HTTP route and every MCP tool with the access it
 * requires, pinned as a snapshot. A diff in this snapshot is a permission
 * change and must be reviewed as one (update with `npx jest -u <this file>`).
 *
 * The route list comes from the running application's own metadata (Nest
 * route decorators, @Public, @RequirePermission); the access of a route is
 * then checked over HTTP without a key, so the snapshot cannot drift from
 * what the guard really does.
 */
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { IS_PUBLIC } from '../../src/common/public.decorator';
import { REQUIRED_PERMISSION } from '../../src/auth/auth.decorators';
import { McpRegistry } from '../../src/mcp/mcp-registry.service';
import { startApp, StartedApp } from '../support/start-app';

const join = (...parts: string[]) =>
  '/' +
  parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/');

describe('access snapshot: every route and tool with the permission it needs', () => {
  let started: StartedApp;
  beforeAll(async () => (started = await startApp({ METRICS_PUBLIC: 'false' })));
  afterAll(async () => started?.close());

  it('routes', async () => {
    const discovery = started.app.get(DiscoveryService);
    const scanner = started.app.get(MetadataScanner);
    const reflector = started.app.get(Reflector);
    const rows: string[] = [];
    for (const wrapper of discovery.getControllers()) {
      const instance = wrapper.instance as object;
      const ctrl = wrapper.metatype as new () => unknown;
      const base = (Reflect.getMetadata(PATH_METADATA, ctrl) as string | undefined) ?? '';
      for (const name of scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
        const handler = (instance as Record<string, unknown>)[name] as object;
        const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
        if (path === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
        const isPublic = reflector.getAllAndOverride<boolean>(IS_PUBLIC, [handler as never, ctrl]);
        const permission = reflector.getAllAndOverride<string>(REQUIRED_PERMISSION, [handler as never, ctrl]);
        const route = join(base, path);
        // What the guard does without a key (a path parameter gets a dummy value).
        const url = started.url + route.replace(/:[A-Za-z]+/g, 'x');
        const anonymous = await fetch(url, { method: method === 'ALL' ? 'POST' : method });
        await anonymous.arrayBuffer();
        const access = isPublic ? 'public' : permission ? `permission ${permission}` : 'any valid key';
        rows.push(
          `${method.padEnd(6)} ${route.padEnd(44)} ${access.padEnd(28)} no key → ${anonymous.status === 401 ? 401 : 'served'}`,
        );
      }
    }
    rows.sort();
    expect(rows.join('\n')).toMatchSnapshot();
  });

  it('MCP tools (fixtures off)', () => {
    const registry = started.app.get(McpRegistry);
    const rows = [...registry.tools.values()]
      .map(
        (t) =>
          `${t.options.name.padEnd(32)} ${t.options.permission ? `permission ${t.options.permission}` : 'any valid key'}`,
      )
      .sort();
    expect(rows.join('\n')).toMatchSnapshot();
  });
});
