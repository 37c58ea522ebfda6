import { Injectable, Logger } from '@nestjs/common';

/**
 * Terminus's logger: a failed readiness check is a warning with the
 * `Health` context (its details name the failing store), not an error line
 * without one, for what is a probe's answer rather than a fault of the
 * server: a load balancer probing during an outage would otherwise flood
 * the error log.
 */
@Injectable()
export class HealthCheckLogger extends Logger {
  constructor() {
    super('Health');
  }

  override error(message: unknown): void {
    super.warn(message);
  }
}
