import { MAX_SUBSCRIBED_URI_LENGTH, MAX_SUBSCRIPTIONS_PER_SESSION } from './session-subscriptions';

/** What a `subscriptions/listen` request asks for, after this server's own rules. */
export type ListenNarrowing = { ok: true; body: unknown } | { ok: false; message: string };

/**
 * A 2026-07-28 `subscriptions/listen` request with its `resourceSubscriptions`
 * narrowed to the URIs the key may read (`mayRead`), before the SDK's listen
 * router takes it. The router honours any URI it is given and acknowledges it
 * as honoured; a URI the key could not read (unknown, or behind a permission
 * the key lacks) is left out instead, so the acknowledgement
 * (`notifications/subscriptions/acknowledged`) says what this key will be
 * told of, as the spec means it to, and a typo shows there rather than as a
 * stream that never speaks. The list is bounded as a 2025-era session's is
 * (at most 16 URIs of at most 1,024 characters): past that the request is
 * refused, naming the limit. A body that is not a listen with a list of
 * strings is handed on unchanged (the SDK answers a malformed filter with
 * its own -32602). The caller's body is never changed: a copy is.
 */
export function narrowListen(body: unknown, mayRead: (uri: string) => boolean): ListenNarrowing {
  const params = (body as { params?: unknown } | undefined)?.params;
  const notifications = (params as { notifications?: unknown } | undefined)?.notifications;
  const requested = (notifications as { resourceSubscriptions?: unknown } | undefined)?.resourceSubscriptions;
  if (!Array.isArray(requested) || !requested.every((u) => typeof u === 'string')) {
    return { ok: true, body };
  }
  const uris = [...new Set(requested as string[])];
  if (uris.length > MAX_SUBSCRIPTIONS_PER_SESSION) {
    return {
      ok: false,
      message:
        `Invalid params: resourceSubscriptions names ${uris.length} URIs; ` +
        `a listen stream takes at most ${MAX_SUBSCRIPTIONS_PER_SESSION}`,
    };
  }
  if (uris.some((u) => u.length > MAX_SUBSCRIBED_URI_LENGTH)) {
    return {
      ok: false,
      message: `Invalid params: a subscribed URI is at most ${MAX_SUBSCRIBED_URI_LENGTH} characters`,
    };
  }
  const readable = uris.filter((u) => mayRead(u));
  const narrowed: Record<string, unknown> = { ...(notifications as Record<string, unknown>) };
  if (readable.length > 0) narrowed.resourceSubscriptions = readable;
  else delete narrowed.resourceSubscriptions;
  return {
    ok: true,
    body: {
      ...(body as Record<string, unknown>),
      params: { ...(params as Record<string, unknown>), notifications: narrowed },
    },
  };
}
