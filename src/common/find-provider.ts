import type { Type } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';

/**
 * The application's instance of `type`, wherever it is provided, or
 * undefined when the application has none (a feature registering itself with
 * another that may be absent, as the CLI has no MCP surface).
 */
export function findProvider<T>(moduleRef: ModuleRef, type: Type<T>): T | undefined {
  try {
    return moduleRef.get(type, { strict: false });
  } catch {
    return undefined;
  }
}
