import type { UpstreamRequest, UpstreamResponse } from '../../src/connectors/http/upstream-http.service';
import { UpstreamError } from '../../src/connectors/http/upstream.errors';

/**
 * An UpstreamResponse for unit specs that stand in for UpstreamHttp: `status`
 * with `body` (a string as is, anything else as JSON). As UpstreamHttp's own
 * answer does, `json()` of a body that is not JSON throws the upstream
 * client's bad response (a tool error).
 */
export function cannedUpstreamResponse(
  req: UpstreamRequest,
  status: number,
  body: unknown,
): UpstreamResponse {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    status,
    headers: new Headers(),
    text,
    json: () => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw UpstreamError.badResponse(req.service, `HTTP ${status} with a body that is not JSON`);
      }
    },
  } as UpstreamResponse;
}
