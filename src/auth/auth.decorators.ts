import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Request } from 'express';
import { Principal, PRINCIPAL_REQUEST_KEY, RequestWithPrincipal } from './principal';
import type { Permission } from './tokens/permissions';

export const REQUIRED_PERMISSION = 'sentia:requiredPermission';

/**
 * Declares the permission a route needs. The global guard checks it after
 * authentication; a key without it gets 403 `insufficient_scope`.
 */
export const RequirePermission = (permission: Permission): ClassDecorator & MethodDecorator =>
  SetMetadata(REQUIRED_PERMISSION, permission);

/** The authenticated caller of the request (set by the global guard). */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const req = ctx.switchToHttp().getRequest<Request & RequestWithPrincipal>();
  const principal = req[PRINCIPAL_REQUEST_KEY];
  if (!principal) throw new Error('CurrentPrincipal used on a route without authentication');
  return principal;
});
