import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { NextFunction, Request, Response } from 'express';
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

/**
 * Middleware: an HTTP/1.1 request without a `Host` header (RFC 9112 §3.2: the server must answer
 * 400) gets the JSON `bad_request` and its connection closes, as any other request that is not valid
 * HTTP/1.1. Node's own check (`requireHostHeader`, turned off on the server for this) answered a bare
 * `400` with no body, before any middleware, so it was neither logged nor counted. HTTP/1.0 needs none.
 */
export function requireHostHeader(req: Request, res: Response, next: NextFunction): void {
  if (req.httpVersion !== '1.1' || req.headers.host !== undefined) {
    next();
    return;
  }
  res.setHeader('Connection', 'close');
  res.status(400).json({
    statusCode: 400,
    error: STATUS_CODES[400],
    code: statusErrorCode(400),
    message: 'The request is not valid HTTP/1.1: it has no Host header',
  });
}
