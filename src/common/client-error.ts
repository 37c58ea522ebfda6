import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { statusErrorCode } from './error-envelope';

/**
 * The HTTP server's answer to a request it could not parse or that came too
 * slowly (`clientError`): the JSON error every other answer has, where
 * Node's default is a bare status line (a URL over the header limit got
 * `431` with no body at all). Named by status: 431 headers (the URL
 * included) over the limit, 408 too slow, 400 anything else.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  const response = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const message =
    status === 431
      ? `Request headers, the URL included, exceed the limit of ${maxHeaderSize} bytes`
      : status === 408
        ? 'The request did not arrive in time (HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS)'
        : 'The request is not valid HTTP/1.1';
  const body = JSON.stringify({
    statusCode: status,
    error: STATUS_CODES[status],
    code: statusErrorCode(status),
    message,
  });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
